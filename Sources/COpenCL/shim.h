// OpenCL 1.2 is what NVIDIA, AMD, Intel and PoCL all run; asking for it also silences
// the deprecation warnings the 2.x/3.x headers attach to 1.2 entry points.
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
