#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tells systemd about the daemon's state through the notification socket (`sd_notify` protocol): one
/// datagram of `NAME=value` lines to the Unix socket named by `$NOTIFY_SOCKET` (a path, or `@name` for the
/// abstract namespace). When the daemon does not run under systemd with `Type=notify`, every call does
/// nothing.
///
/// Ping the watchdog (`watchdog()`) on pipeline progress — when frames are actually evaluated — not from a
/// timer, so that a stuck camera or inference restarts the service. `watchdogInterval` says how often:
/// systemd's `WatchdogSec`, of which half is a safe pinging period.
public struct SystemdNotifier: Sendable {
    /// The notification socket, or nil when not running under systemd.
    public let socket: String?
    /// The watchdog timeout (`$WATCHDOG_USEC`), or nil when the watchdog is off or meant for another
    /// process (`$WATCHDOG_PID`).
    public let watchdogInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`; `processID` is this
    /// process's ID (compared with `WATCHDOG_PID`).
    public init(environment: [String: String], processID: Int32 = getpid()) {
        let socket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        self.socket = socket
        var interval: Duration?
        if let text = environment["WATCHDOG_USEC"], let micros = UInt64(text), micros > 0, micros < UInt64(Int64.max) {
            if let pid = environment["WATCHDOG_PID"], Int32(pid) != processID {
                interval = nil
            } else {
                interval = .microseconds(Int64(micros))
            }
        }
        watchdogInterval = interval
    }

    /// The notifier for this process's environment.
    public static func fromProcessEnvironment() -> SystemdNotifier {
        var environment: [String: String] = [:]
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return SystemdNotifier(environment: environment)
    }

    /// Whether notifications go anywhere.
    public var isEnabled: Bool { socket != nil }

    /// `READY=1` (startup finished: model verified, first frame seen), with an optional status line.
    public func ready(status: String? = nil) throws(SystemError) {
        try send(["READY=1"] + (status.map { ["STATUS=" + Self.singleLine($0)] } ?? []))
    }

    /// `STATUS=...`: a one-line description shown by `systemctl status`.
    public func status(_ text: String) throws(SystemError) {
        try send(["STATUS=" + Self.singleLine(text)])
    }

    /// `WATCHDOG=1`: the daemon is making progress.
    public func watchdog() throws(SystemError) {
        try send(["WATCHDOG=1"])
    }

    /// `RELOADING=1` with `MONOTONIC_USEC` (configuration reload started; send `ready()` when done).
    public func reloading() throws(SystemError) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let micros = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1_000
        try send(["RELOADING=1", "MONOTONIC_USEC=\(micros)"])
    }

    /// `STOPPING=1`: shutdown has begun.
    public func stopping() throws(SystemError) {
        try send(["STOPPING=1"])
    }

    /// Sends `NAME=value` assignments in one datagram. Does nothing when not under systemd.
    public func send(_ assignments: [String]) throws(SystemError) {
        guard let socket else { return }
        let message = Array(assignments.joined(separator: "\n").utf8)
        var address = try UnixSocketAddress(notifySocket: socket)
        let fd = try retryingOnInterrupt("socket", path: socket) {
            LibC.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        defer { close(fd) }
        let sent = try retryingOnInterrupt("send notification", path: socket) {
            message.withUnsafeBytes { bytes in
                address.withSockaddr { sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, $1) }
            }
        }
        guard sent == message.count else {
            throw SystemError("send notification (truncated)", path: socket, code: EMSGSIZE)
        }
    }

    static func singleLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
