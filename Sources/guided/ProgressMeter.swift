import Foundation
import Logging

/// Progress of long work: on a terminal one line rewritten in place with the rate and ETA; when
/// stderr is not a terminal (a log file, a Slurm job), a plain log line every 30 seconds.
final class ProgressMeter {
    private let label: String
    private let unit: String
    private let log: Logger
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let startDone: Int
    private let interactive = isatty(STDERR_FILENO) == 1
    private var printedLine = false

    /// - Parameter initial: work already done when the meter starts (a resumed run), not counted in the rate.
    init(label: String, unit: String, initial: Int = 0, log: Logger) {
        self.label = label
        self.unit = unit
        self.log = log
        startDone = initial
    }

    func update(done: Int, total: Int, detail: String = "") {
        let now = Date()
        let first = startDone
        let interval = interactive ? 0.2 : 30
        guard now.timeIntervalSince(lastPrint) >= interval || done == total else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done - first) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let percent = total > 0 ? 100 * Double(done) / Double(total) : 100
        let line = String(format: "%@: %d/%d %@ (%.1f%%), %.2f %@/s, ETA %@%@", label, done, total, unit, percent, rate, unit,
                          Self.duration(eta), detail.isEmpty ? "" : ", " + detail)
        if interactive {
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
            printedLine = true
        } else {
            log.info("\(line)")
        }
    }

    func finish() {
        if printedLine { FileHandle.standardError.write(Data("\n".utf8)) }
        printedLine = false
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s / 60 % 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}

/// Becomes set on the first SIGINT or SIGTERM, so long work can checkpoint and stop cleanly; a
/// second Ctrl-C exits at once.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false
    private var sources: [DispatchSourceSignal] = []

    init() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock()
                let again = self.set
                self.set = true
                self.lock.unlock()
                if again { exit(130) }
                FileHandle.standardError.write(Data("\nguided: stopping after this batch (Ctrl-C again to quit now)\n".utf8))
            }
            source.resume()
            sources.append(source)
        }
    }

    var isSet: Bool {
        lock.lock(); defer { lock.unlock() }
        return set
    }
}
