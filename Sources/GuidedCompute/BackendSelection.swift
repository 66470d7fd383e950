/// What `--backend` asks for.
public enum BackendChoice: String, Sendable, CaseIterable {
    /// An OpenCL GPU when there is one, otherwise the CPU backend.
    case auto
    case cpu
    case opencl
}

/// A backend made from `--backend` and `--device`, with the reason it was chosen (for the log).
public struct SelectedBackend {
    public let backend: Backend
    public let reason: String
}

extension BackendChoice {
    /// What `auto` would pick on this machine, without building anything: the first OpenCL GPU
    /// (or the one `device` names), else the CPU.
    public static func autoPick(device: String?, among devices: [OpenCLDeviceInfo]) -> OpenCLDeviceInfo? {
        if let device, let picked = try? OpenCLDevices.select(device, from: devices) { return picked }
        return devices.first(where: \.isGPU)
    }

    /// Builds the backend this choice names.
    ///
    /// `auto` prefers an OpenCL GPU: on a machine without one (PoCL's CPU device included) the CPU
    /// backend with BLAS is an order of magnitude faster than OpenCL on the same cores.
    public func make(device: String?) throws -> SelectedBackend {
        switch self {
        case .cpu:
            return SelectedBackend(backend: CPUBackend(), reason: "--backend cpu")
        case .opencl:
            let backend = try OpenCLBackend(device: device)
            return SelectedBackend(backend: backend, reason: "--backend opencl, device \(backend.device.description)")
        case .auto:
            let devices = OpenCLDevices.all()
            if let gpu = Self.autoPick(device: device, among: devices) {
                let backend = try OpenCLBackend(device: String(gpu.index))
                return SelectedBackend(backend: backend, reason: "auto: OpenCL device \(gpu.description)")
            }
            let why = devices.isEmpty ? "no OpenCL device found" : "no OpenCL GPU among \(devices.count) device(s)"
            return SelectedBackend(backend: CPUBackend(), reason: "auto: \(why), using the CPU backend")
        }
    }
}
