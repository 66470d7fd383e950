import COpenCL

/// One OpenCL device as `guided devices` lists it.
public struct OpenCLDeviceInfo: Sendable, CustomStringConvertible {
    /// Position in the flat list over all platforms: what `--device N` refers to.
    public let index: Int
    public let platformName: String
    public let name: String
    public let isGPU: Bool
    public let typeName: String
    public let computeUnits: Int
    public let globalMemoryBytes: UInt64
    public let maxWorkGroupSize: Int
    public let openCLCVersion: String
    let id: UncheckedSendable<cl_device_id>

    public var description: String { "[\(index)] \(name) (\(typeName), \(platformName))" }
}

/// Platform and device discovery.
public enum OpenCLDevices {
    /// Every device of every platform, in platform order. No ICD or no platform gives an empty list
    /// (`guided devices` then says how to get one) rather than an error.
    ///
    /// Discovered once per process: the ICD loader and some drivers (PoCL among them) are not safe
    /// to initialise from several threads at once, and the devices do not change during a run.
    public static func all() -> [OpenCLDeviceInfo] { discovered }

    private static let discovered: [OpenCLDeviceInfo] = discover()

    private static func discover() -> [OpenCLDeviceInfo] {
        var platformCount: cl_uint = 0
        guard clGetPlatformIDs(0, nil, &platformCount) == CL_SUCCESS, platformCount > 0 else { return [] }
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        guard clGetPlatformIDs(platformCount, &platforms, nil) == CL_SUCCESS else { return [] }
        var result: [OpenCLDeviceInfo] = []
        for case let platform? in platforms {
            let platformName = platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            var deviceCount: cl_uint = 0
            guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount) == CL_SUCCESS,
                  deviceCount > 0 else { continue }
            var devices = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &devices, nil) == CL_SUCCESS
            else { continue }
            for case let device? in devices {
                let type: cl_device_type = deviceValue(device, cl_device_info(CL_DEVICE_TYPE), 0)
                result.append(OpenCLDeviceInfo(
                    index: result.count,
                    platformName: platformName,
                    name: deviceString(device, cl_device_info(CL_DEVICE_NAME)),
                    isGPU: type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0,
                    typeName: typeName(type),
                    computeUnits: Int(deviceValue(device, cl_device_info(CL_DEVICE_MAX_COMPUTE_UNITS), cl_uint(0))),
                    globalMemoryBytes: deviceValue(device, cl_device_info(CL_DEVICE_GLOBAL_MEM_SIZE), cl_ulong(0)),
                    maxWorkGroupSize: deviceValue(device, cl_device_info(CL_DEVICE_MAX_WORK_GROUP_SIZE), Int(0)),
                    openCLCVersion: deviceString(device, cl_device_info(CL_DEVICE_OPENCL_C_VERSION)),
                    id: UncheckedSendable(device)))
            }
        }
        return result
    }

    /// Picks a device by index (`"0"`) or by a case-insensitive substring of its name (`"h100"`).
    public static func select(_ selector: String?, from devices: [OpenCLDeviceInfo]) throws -> OpenCLDeviceInfo {
        guard !devices.isEmpty else { throw ComputeError.noDevice(noDeviceHelp) }
        guard let selector, !selector.isEmpty else {
            return devices.first(where: \.isGPU) ?? devices[0]
        }
        if let index = Int(selector) {
            guard devices.indices.contains(index) else {
                throw ComputeError.noDevice("no OpenCL device \(index): there are \(devices.count) (\(list(devices)))")
            }
            return devices[index]
        }
        guard let match = devices.first(where: { $0.name.lowercased().contains(selector.lowercased()) }) else {
            throw ComputeError.noDevice("no OpenCL device matches \"\(selector)\" (\(list(devices)))")
        }
        return match
    }

    public static let noDeviceHelp = """
        no OpenCL platform or device found. For the CPU install PoCL (Debian/Ubuntu: \
        `apt-get install pocl-opencl-icd`); for a GPU install its vendor's OpenCL driver (NVIDIA: the \
        driver's libnvidia-opencl and /etc/OpenCL/vendors/nvidia.icd). Or run with --backend cpu.
        """

    private static func list(_ devices: [OpenCLDeviceInfo]) -> String {
        devices.map(\.description).joined(separator: ", ")
    }

    private static func typeName(_ type: cl_device_type) -> String {
        if type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 { return "GPU" }
        if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 { return "CPU" }
        if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 { return "accelerator" }
        return "other"
    }

    private static func platformString(_ platform: cl_platform_id, _ param: cl_platform_info) -> String {
        var size = 0
        guard clGetPlatformInfo(platform, param, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "?" }
        var bytes = [CChar](repeating: 0, count: size)
        guard clGetPlatformInfo(platform, param, size, &bytes, nil) == CL_SUCCESS else { return "?" }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func deviceString(_ device: cl_device_id, _ param: cl_device_info) -> String {
        var size = 0
        guard clGetDeviceInfo(device, param, 0, nil, &size) == CL_SUCCESS, size > 0 else { return "?" }
        var bytes = [CChar](repeating: 0, count: size)
        guard clGetDeviceInfo(device, param, size, &bytes, nil) == CL_SUCCESS else { return "?" }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespaces)
    }

    static func deviceValue<T>(_ device: cl_device_id, _ param: cl_device_info, _ fallback: T) -> T {
        var value = fallback
        let status = withUnsafeMutableBytes(of: &value) { buffer in
            clGetDeviceInfo(device, param, buffer.count, buffer.baseAddress, nil)
        }
        return status == CL_SUCCESS ? value : fallback
    }
}

import Foundation
