import CBLAS
import Foundation

/// Which of OpenBLAS's kernel sets runs the CPU backend's sgemm, and whether a faster one is there.
///
/// OpenBLAS picks its kernels once, when the library loads: from `OPENBLAS_CORETYPE` if it is set,
/// else from the CPU model it recognises (releases older than the CPU fall back to older kernels).
/// On a CPU with AVX-512 the AVX2 `Haswell` kernels run the whole MiniLM Fisher about 1.35× slower
/// than the AVX-512 `SkylakeX`/`Cooperlake` ones (measured on a Zen 5). `guided` does not override
/// the choice; `advice` says when a faster one is available, and the backend's name says which ran.
public enum OpenBLASCore {
    /// The kernel set OpenBLAS loaded, e.g. "Haswell" or "SkylakeX".
    public static var current: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Kernel sets built on AVX-512 (OpenBLAS's names, compared case-insensitively).
    static let avx512Cores: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]

    /// CPU flags (as /proc/cpuinfo spells them) that OpenBLAS's SkylakeX kernels use.
    static let skylakeXFlags: Set<String> = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    /// A sentence for the log when OpenBLAS loaded kernels without AVX-512 on a CPU that has every
    /// AVX-512 flag its SkylakeX kernels use (the kernel lists a flag only when it saves that state);
    /// nil otherwise.
    public static func advice(loaded: String, cpuFlags: Set<String>, environment: [String: String]) -> String? {
        guard !avx512Cores.contains(loaded.lowercased()), skylakeXFlags.isSubset(of: cpuFlags) else { return nil }
        if let chosen = environment["OPENBLAS_CORETYPE"], !chosen.isEmpty {
            if avx512Cores.contains(chosen.lowercased()) {
                return "OpenBLAS runs its \(loaded) kernels although OPENBLAS_CORETYPE=\(chosen) is set: "
                    + "this OpenBLAS has no such kernels; a newer one would multiply matrices faster on this CPU"
            }
            return "OpenBLAS runs its \(loaded) kernels because OPENBLAS_CORETYPE=\(chosen) is set, on a CPU with "
                + "AVX-512: unset it, or set OPENBLAS_CORETYPE=SkylakeX, for faster matrix products"
        }
        return "OpenBLAS runs its \(loaded) kernels on a CPU with AVX-512 (this OpenBLAS does not know the CPU): "
            + "set OPENBLAS_CORETYPE=SkylakeX for faster matrix products"
    }

    /// `advice` for this process.
    public static var adviceHere: String? {
        advice(loaded: current, cpuFlags: cpuFlags(), environment: ProcessInfo.processInfo.environment)
    }

    /// The first processor's flags in /proc/cpuinfo (empty where there is none, e.g. macOS).
    public static func cpuFlags(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> Set<String> {
        guard let cpuinfo else { return [] }
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }
}
