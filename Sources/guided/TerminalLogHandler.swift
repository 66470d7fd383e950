import Foundation
import Logging

/// Log lines for people: `guided: message` on stderr, warnings and errors marked, debug hidden
/// unless `GUIDED_LOG=debug`. Machine-readable output (`--json`) goes to stdout, never here.
struct TerminalLogHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level =
        Logger.Level(rawValue: ProcessInfo.processInfo.environment["GUIDED_LOG"] ?? "") ?? .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let prefix: String
        switch event.level {
        case .warning: prefix = "warning: "
        case .error, .critical: prefix = "error: "
        default: prefix = ""
        }
        FileHandle.standardError.write(Data("guided: \(prefix)\(event.message)\n".utf8))
    }
}
