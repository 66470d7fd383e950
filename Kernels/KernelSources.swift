import Foundation

/// Where the OpenCL C sources live at run time.
///
/// They ship as a SwiftPM resource folder (`cl/`) beside the binary. While developing kernels,
/// `GUIDED_KERNELS_DIR` points at another folder (e.g. `Kernels/cl` in a checkout) so that an edit
/// takes effect without rebuilding. A binary copied elsewhere without its `*_GuidedKernels.resources`
/// folder would trap inside `Bundle.module`, so the bundle is looked up by hand and a missing one is
/// reported as an error that says what to do.
public enum KernelSources {
    public static let environmentVariable = "GUIDED_KERNELS_DIR"

    /// The directory holding the `.cl` files, or a message explaining why none was found.
    public static func directory() -> Result<URL, KernelSourcesError> {
        let fm = FileManager.default
        if let override = ProcessInfo.processInfo.environment[environmentVariable], !override.isEmpty {
            let url = URL(fileURLWithPath: override, isDirectory: true)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue else {
                return .failure(KernelSourcesError(message:
                    "\(environmentVariable)=\(override) is not a directory of .cl files"))
            }
            return .success(url)
        }
        let bundleName = "guided_GuidedKernels.resources"
        var candidates: [URL] = []
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        candidates.append(executable.deletingLastPathComponent().appendingPathComponent(bundleName))
        candidates.append(Bundle.main.bundleURL.appendingPathComponent(bundleName))
        for candidate in candidates {
            let cl = candidate.appendingPathComponent("cl", isDirectory: true)
            if fm.fileExists(atPath: cl.path) { return .success(cl) }
        }
        // Last resort: the checkout this binary was built from (`Kernels/cl` next to this file).
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("cl")
        if fm.fileExists(atPath: checkout.path) { return .success(checkout) }
        return .failure(KernelSourcesError(message: """
            the OpenCL kernel sources were not found: a copied `guided` binary needs its \
            \(bundleName) folder beside it, or set \(environmentVariable) to a folder holding the .cl files
            """))
    }
}

public struct KernelSourcesError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
