import Testing
@testable import GuidedCompute

/// Every op of the protocol and every composite, run on the OpenCL backend (PoCL where there is
/// no GPU) and compared with the CPU reference, case by case with the tolerance each case states.
///
/// Serialized: the cases share one backend, and `clSetKernelArg` on a shared kernel is not thread-safe.
@Suite(.serialized) struct OpenCLCrossCheckTests {
    static let backend = Result { try OpenCLBackend() }
    static let reference = CPUBackend()

    @Test(arguments: OpCase.all)
    func openCLMatchesCPUReference(_ opCase: OpCase) throws {
        try crossCheck(opCase, on: Self.backend.get(), against: Self.reference)
    }
}
