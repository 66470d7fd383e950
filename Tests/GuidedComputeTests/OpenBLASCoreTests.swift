import Foundation
import Testing
@testable import GuidedCompute

// When `guided` tells the user that OpenBLAS could run faster kernels on this CPU, and when not.

@Suite struct OpenBLASCoreTests {
    let avx512: Set<String> = ["fma", "avx2", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
    let avx2Only: Set<String> = ["fma", "avx2"]

    @Test func advisesAVX512KernelsOnlyWhereTheCPUHasThem() {
        #expect(OpenBLASCore.advice(loaded: "Haswell", cpuFlags: avx512, environment: [:])?.contains("OPENBLAS_CORETYPE=SkylakeX") == true)
        #expect(OpenBLASCore.advice(loaded: "Haswell", cpuFlags: avx2Only, environment: [:]) == nil)
        // One flag of the set missing is enough to keep quiet: the kernels would fault.
        #expect(OpenBLASCore.advice(loaded: "Zen", cpuFlags: avx512.subtracting(["avx512vl"]), environment: [:]) == nil)
    }

    @Test func staysQuietWhenAVX512KernelsAlreadyRun() {
        for core in ["SkylakeX", "Cooperlake", "SAPPHIRERAPIDS"] {
            #expect(OpenBLASCore.advice(loaded: core, cpuFlags: avx512, environment: [:]) == nil)
        }
    }

    @Test func namesTheUsersOwnChoice() throws {
        let advice = try #require(OpenBLASCore.advice(loaded: "Haswell", cpuFlags: avx512, environment: ["OPENBLAS_CORETYPE": "Haswell"]))
        #expect(advice.contains("because OPENBLAS_CORETYPE=Haswell is set"))
        // Asked for AVX-512 kernels and did not get them: not told to ask for them again.
        let missing = try #require(OpenBLASCore.advice(loaded: "Haswell", cpuFlags: avx512, environment: ["OPENBLAS_CORETYPE": "SkylakeX"]))
        #expect(missing.contains("has no such kernels") && !missing.contains("set OPENBLAS_CORETYPE=SkylakeX"))
        // An empty value is no choice.
        #expect(OpenBLASCore.advice(loaded: "Haswell", cpuFlags: avx512, environment: ["OPENBLAS_CORETYPE": ""])
                == OpenBLASCore.advice(loaded: "Haswell", cpuFlags: avx512, environment: [:]))
    }

    @Test func readsTheFirstProcessorsFlags() {
        let cpuinfo = """
            processor\t: 0
            model name\t: AMD EPYC
            flags\t\t: fpu sse2 avx2 avx512f
            processor\t: 1
            flags\t\t: fpu
            """
        #expect(OpenBLASCore.cpuFlags(cpuinfo: cpuinfo) == ["fpu", "sse2", "avx2", "avx512f"])
        #expect(OpenBLASCore.cpuFlags(cpuinfo: "processor : 0\n").isEmpty)
        #expect(OpenBLASCore.cpuFlags(cpuinfo: nil).isEmpty)
    }

    @Test func reportsTheLoadedKernels() {
        #expect(!OpenBLASCore.current.isEmpty && OpenBLASCore.current != "unknown")
        #expect(CPUBackend().name.contains("\(OpenBLASCore.current) kernels"))
    }
}
