import ArgumentParser
import Foundation
import GuidedCompute

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List OpenCL platforms and devices, and say which backend `auto` takes.")

    @Flag(help: "Machine-readable output on stdout.")
    var json = false

    func run() throws {
        let devices = OpenCLDevices.all()
        let auto = BackendChoice.autoPick(device: nil, among: devices)
        let autoText = auto.map { "opencl, device \($0.index) (\($0.name))" } ?? "cpu (no OpenCL GPU)"
        if json {
            struct Entry: Encodable {
                let index: Int, platform: String, name: String, type: String, computeUnits: Int
                let globalMemoryBytes: UInt64, maxWorkGroupSize: Int, openCLC: String
            }
            struct Report: Encodable { let devices: [Entry]; let auto: String; let cpu: String; let cpuAdvice: String? }
            let report = Report(devices: devices.map {
                Entry(index: $0.index, platform: $0.platformName, name: $0.name, type: $0.typeName,
                      computeUnits: $0.computeUnits, globalMemoryBytes: $0.globalMemoryBytes,
                      maxWorkGroupSize: $0.maxWorkGroupSize, openCLC: $0.openCLCVersion)
            }, auto: autoText, cpu: CPUBackend().name, cpuAdvice: OpenBLASCore.adviceHere)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        if devices.isEmpty {
            print(OpenCLDevices.noDeviceHelp)
        } else {
            let table = TextTable(columns: ["#", "device", "type", "platform", "CUs", "memory", "OpenCL C"])
            for d in devices {
                table.add([String(d.index), d.name, d.typeName, d.platformName, String(d.computeUnits),
                           String(format: "%.1f GiB", Double(d.globalMemoryBytes) / 1_073_741_824), d.openCLCVersion])
            }
            print(table.render())
        }
        print("--backend cpu: \(CPUBackend().name)")
        if let advice = OpenBLASCore.adviceHere { print("  \(advice)") }
        print("--backend auto takes: \(autoText)")
    }
}
