import Foundation
import GuidedModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `guided` subprocess with its output appended to a log file, in a process group of its own:
/// a Ctrl-C at the terminal reaches only the parent, which forwards it once to each child (so each
/// saves its state and stops, rather than seeing the signal twice and quitting at once).
final class ChildProcess {
    let pid: pid_t

    /// Starts this executable with `arguments`, stdout and stderr appended to `log`.
    init(arguments: [String], log: URL) throws {
        let executable = ChildProcess.currentExecutable
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        let flags = O_WRONLY | O_CREAT | O_APPEND
        posix_spawn_file_actions_addopen(&fileActions, 1, log.path, flags, 0o644)
        posix_spawn_file_actions_adddup2(&fileActions, 1, 2)
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        // The parent ignores SIGINT/SIGTERM to handle them itself; the child starts with defaults.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &fileActions, &attributes, argv, environ)
        guard status == 0 else {
            throw ModelError("could not start \(executable): \(String(cString: strerror(status)))")
        }
        self.pid = pid
    }

    /// The exit status once the child has ended (128 + signal if a signal ended it), nil while it runs.
    func poll() -> Int32? {
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        // WIFEXITED / WEXITSTATUS / WTERMSIG as macros are not imported into Swift.
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    func interrupt() { kill(pid, SIGINT) }

    /// The path of the running `guided`, so children run the very same build.
    static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
    }
}
