import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The write end of the self-pipe signal handlers use; -1 until `SignalWatcher` starts.
private nonisolated(unsafe) var signalPipeWrite: Int32 = -1

/// Turns SIGTERM, SIGINT and SIGHUP into calls on an ordinary thread.
///
/// A signal handler may run on any thread and may do almost nothing safely, so it only writes the signal's
/// number into a pipe; a watcher thread reads the pipe and calls the handler given for that signal.
/// Handlers (rather than blocked signals and sigwait) are used because libraries start threads before
/// `main` runs (OpenBLAS does), and a blocked-signal scheme would have to reach those threads too.
public final class SignalWatcher: @unchecked Sendable {
    private let readFD: Int32
    private let handlers: [Int32: @Sendable () -> Void]

    /// Installs the handlers, unblocks their signals, and starts the watcher thread. Create at most one per
    /// process, from the main thread.
    public init(handlers: [Int32: @Sendable () -> Void]) {
        precondition(signalPipeWrite == -1, "one SignalWatcher per process")
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { fatalError("pipe failed: \(String(cString: strerror(errno)))") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        readFD = fds[0]
        signalPipeWrite = fds[1]
        self.handlers = handlers
        for signal in handlers.keys {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                let saved = errno
                _ = write(signalPipeWrite, &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signal, &action, nil)
        }
        // A process inherits its signal mask from whoever started it (some launchers block everything); a
        // blocked SIGTERM would stay pending forever. Unblock the handled signals in this thread, which
        // every thread started from now on inherits.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in handlers.keys { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        // The watcher lives as long as the process (the thread keeps it): nobody joins it.
        do {
            _ = try NamedThread(name: "signals") { [self] in run() }
        } catch {
            fatalError("cannot start the signal thread: \(error)")
        }
    }

    private func run() {
        var byte: UInt8 = 0
        while true {
            let n = read(readFD, &byte, 1)
            if n == 1 {
                handlers[Int32(byte)]?()
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
