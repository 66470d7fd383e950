import Foundation
import GuidedKernels
import Testing
@testable import GuidedCompute

/// The OpenCL runtime itself: devices, errors, the device's Philox. The op-by-op comparison with
/// the CPU backend is `OpenCLCrossCheckTests`. These run on PoCL where there is no GPU.
@Suite struct OpenCLBackendTests {
    @Test func listsAtLeastOneDevice() throws {
        let devices = OpenCLDevices.all()
        #expect(!devices.isEmpty, "no OpenCL device: CI installs pocl-opencl-icd")
        for (i, d) in devices.enumerated() {
            #expect(d.index == i)
            #expect(d.computeUnits > 0 && d.globalMemoryBytes > 0 && d.maxWorkGroupSize > 0)
            #expect(d.openCLCVersion.contains("OpenCL C"))
        }
    }

    @Test func selectsByIndexAndNameSubstring() throws {
        let devices = OpenCLDevices.all()
        let first = try #require(devices.first)
        #expect(try OpenCLDevices.select("0", from: devices).index == 0)
        let fragment = String(first.name.prefix(6)).uppercased()
        #expect(try OpenCLDevices.select(fragment, from: devices).name == first.name)
    }

    @Test func missingDeviceErrorsSayWhatExists() throws {
        let devices = OpenCLDevices.all()
        #expect {
            _ = try OpenCLDevices.select("99", from: devices)
        } throws: { error in
            "\(error)".contains("no OpenCL device 99") && "\(error)".contains(devices[0].name)
        }
        #expect {
            _ = try OpenCLDevices.select("no-such-accelerator", from: devices)
        } throws: { error in
            "\(error)".contains("no-such-accelerator")
        }
    }

    @Test func noPlatformErrorSaysHowToGetOne() throws {
        #expect {
            _ = try OpenCLDevices.select(nil, from: [])
        } throws: { error in
            "\(error)".contains("pocl-opencl-icd") && "\(error)".contains("--backend cpu")
        }
    }

    @Test func kernelThatDoesNotCompileReportsTheBuildLog() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("guided-broken-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "__kernel void broken(__global float* x) { x[0] = undeclared_name; }\n"
            .write(to: folder.appendingPathComponent("broken.cl"), atomically: true, encoding: .utf8)
        #expect {
            _ = try OpenCLBackend(sourcesDirectory: folder)
        } throws: { error in
            guard case let ComputeError.buildFailed(_, log) = error else { return false }
            // The log is the compiler's, and `#line` makes it name our file.
            return log.contains("undeclared_name") && log.contains("broken.cl")
        }
    }

    @Test func emptyKernelFolderIsAClearError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("guided-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect {
            _ = try OpenCLBackend(sourcesDirectory: folder)
        } throws: { error in
            "\(error)".contains("no .cl files") && "\(error)".contains(folder.lastPathComponent)
        }
    }

    @Test func shippedKernelSourcesAreFound() throws {
        let folder = try KernelSources.directory().get()
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(names.contains("philox.cl") && names.contains("common.cl"))
    }

    /// Random123's known-answer vectors for Philox4x32-10, computed by the device.
    @Test func devicePhiloxMatchesKnownAnswers() throws {
        let backend = try OpenCLBackend()
        let zero = try backend.philoxBlocks(counter: (0, 0, 0, 0), key: (0, 0), blocks: 1)
        #expect(zero == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let ones = try backend.philoxBlocks(counter: (.max, .max, .max, .max), key: (.max, .max), blocks: 1)
        #expect(ones == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
    }

    /// The device and the CPU give the same words for 1031 consecutive counters.
    @Test func devicePhiloxEqualsCPUWordForWord() throws {
        let backend = try OpenCLBackend()
        let key: (UInt32, UInt32) = (0xDEAD_BEEF, 42)
        let device = try backend.philoxBlocks(counter: (7, 3, 9, 1), key: key, blocks: 1031)
        var host: [UInt32] = []
        for i in 0..<1031 {
            let w = Philox.block(counter: (7 + UInt32(i), 3, 9, 1), key: key)
            host += [w.0, w.1, w.2, w.3]
        }
        #expect(device == host)
    }

    /// Profiling events give a positive device time for enqueued work.
    @Test func deviceTimeComesFromProfilingEvents() throws {
        let backend = try OpenCLBackend()
        let x = try backend.allocate(1 << 16)
        let nanoseconds = try backend.deviceTime { try backend.scale(x, by: 2) }
        #expect(nanoseconds > 0)
    }

    /// Auto selection never builds an OpenCL backend on a machine whose only device is a CPU.
    @Test func autoPrefersGPUElseCPU() throws {
        let devices = OpenCLDevices.all()
        let picked = BackendChoice.autoPick(device: nil, among: devices)
        #expect(picked?.isGPU ?? true)
        let selected = try BackendChoice.auto.make(device: nil)
        if devices.contains(where: \.isGPU) {
            #expect(selected.backend is OpenCLBackend)
        } else {
            #expect(selected.backend is CPUBackend)
            #expect(selected.reason.contains("CPU backend"))
        }
    }
}
