// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). Only sgemm is used.
#include <cblas.h>
