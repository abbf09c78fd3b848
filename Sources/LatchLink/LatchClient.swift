import Support

/// Why the latch owner could not be reached or understood; names the socket.
public struct LatchLinkError: Error, CustomStringConvertible {
    public enum Reason: Sendable {
        /// Nothing listens on the socket: `dogdoor-latch` is not running.
        case notRunning
        /// This process may not connect (socket permissions, or the owner's `client_user`).
        case permissionDenied
        /// The owner closed the connection (it stopped, or refused this client: see its log).
        case closed
        /// No reply within the timeout.
        case timedOut
        /// The owner refused the first message.
        case refused(String)
        /// A message that does not follow the protocol.
        case protocolError(String)
        /// A system call failed.
        case system(SystemError)
    }

    public var socket: String
    public var reason: Reason

    public init(socket: String, reason: Reason) {
        self.socket = socket
        self.reason = reason
    }

    public var description: String {
        let what: String
        switch reason {
        case .notRunning: what = "nothing listens (is dogdoor-latch running?)"
        case .permissionDenied:
            what = "permission denied (is this user the owner's latch.client_user, in its socket's group?)"
        case .closed: what = "the latch owner closed the connection"
        case .timedOut: what = "the latch owner did not answer in time"
        case .refused(let message): what = "the latch owner refused this client: \(message)"
        case .protocolError(let message): what = "protocol error: \(message)"
        case .system(let error): what = error.description
        }
        return "latch owner \(socket): \(what)"
    }
}

/// The recognition side's connection to the latch owner (`dogdoor-latch`).
///
/// Synchronous and quick: the owner answers every request at once (it never does slow work), so a request
/// costs a round trip on a local socket. Notices the owner sends on its own (it relocked, a lock failed) are
/// kept until `takeNotices()`. Not thread-safe: one thread (dogdoord's decision loop) owns a client. Closing
/// the connection, or the process dying, makes the owner lock at once.
public final class LatchClient {
    public let socket: String
    /// The owner's limits, from its answer to `hello`.
    public private(set) var limits: LatchLimits
    private var fd: Int32
    private let timeout: Duration
    private var notices: [LatchNotice] = []

    /// Connects and introduces itself as `name`.
    public init(socket: String, name: String, timeout: Duration = .seconds(2)) throws(LatchLinkError) {
        self.socket = socket
        self.timeout = timeout
        do {
            fd = try connectUnixSocket(path: socket, kind: .seqpacket, timeout: timeout)
        } catch {
            switch error.code {
            case ENOENT, ECONNREFUSED: throw LatchLinkError(socket: socket, reason: .notRunning)
            case EACCES, EPERM: throw LatchLinkError(socket: socket, reason: .permissionDenied)
            default: throw LatchLinkError(socket: socket, reason: .system(error))
            }
        }
        limits = LatchLimits(heartbeatTimeout: .zero, maximumUnlocked: .zero, minimumGap: .zero)
        let reply: LatchReply
        do {
            reply = try exchange(.hello(client: name))
        } catch {
            close()
            throw error
        }
        guard reply.ok, let limits = reply.limits else {
            close()
            throw LatchLinkError(socket: socket, reason: .refused(reply.error ?? "no limits in the answer to hello"))
        }
        self.limits = limits
    }

    deinit { close() }

    /// Closes the connection (the owner then locks). Calling it again does nothing.
    public func close() {
        if fd >= 0 { LibC.close(fd) }
        fd = -1
    }

    /// Unlock until `lease` from now at the latest (or renew a running unlock's end).
    public func unlock(for lease: Duration) throws(LatchLinkError) -> LatchReply { try exchange(.unlock(lease: lease)) }

    /// Lock now.
    public func lock() throws(LatchLinkError) -> LatchReply { try exchange(.lock) }

    /// Keeps an unlocked door unlocked for another heartbeat timeout.
    public func heartbeat() throws(LatchLinkError) -> LatchReply { try exchange(.heartbeat) }

    /// The owner's state.
    public func status() throws(LatchLinkError) -> LatchReply { try exchange(.status) }

    /// Notices received so far, oldest first; also reads any that arrived since the last request.
    public func takeNotices() throws(LatchLinkError) -> [LatchNotice] {
        while let message = try receive(wait: false) {
            if case .notice(let notice) = message { notices.append(notice) }
        }
        defer { notices.removeAll() }
        return notices
    }

    /// Sends `request` and returns the owner's reply (collecting notices that arrive before it).
    public func exchange(_ request: LatchRequest) throws(LatchLinkError) -> LatchReply {
        guard fd >= 0 else { throw LatchLinkError(socket: socket, reason: .closed) }
        let bytes = Array(request.json.serialized().utf8)
        while true {
            let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent == bytes.count { break }
            if sent < 0 && errno == EINTR { continue }
            throw failure("send")
        }
        while true {
            guard let message = try receive(wait: true) else { throw LatchLinkError(socket: socket, reason: .timedOut) }
            switch message {
            case .notice(let notice): notices.append(notice)
            case .reply(let reply): return reply
            }
        }
    }

    /// One message, or nil: when `wait` is false and none is pending, or when none came within the timeout.
    private func receive(wait: Bool) throws(LatchLinkError) -> LatchOwnerMessage? {
        guard fd >= 0 else { throw LatchLinkError(socket: socket, reason: .closed) }
        var buffer = [UInt8](repeating: 0, count: LatchProtocolError.maximumMessageBytes + 1)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, wait ? 0 : Int32(MSG_DONTWAIT)) }
            if n > 0 {
                guard n <= LatchProtocolError.maximumMessageBytes else {
                    throw LatchLinkError(
                        socket: socket,
                        reason: .protocolError("message longer than \(LatchProtocolError.maximumMessageBytes) bytes"))
                }
                do {
                    return try LatchOwnerMessage(parsing: Array(buffer[0..<n]))
                } catch {
                    throw LatchLinkError(socket: socket, reason: .protocolError(error.message))
                }
            }
            if n == 0 {
                close()
                throw LatchLinkError(socket: socket, reason: .closed)
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil  // none pending, or SO_RCVTIMEO expired
            default: throw failure("receive")
            }
        }
    }

    private func failure(_ operation: String) -> LatchLinkError {
        let code = errno
        if code == EPIPE || code == ECONNRESET {
            close()
            return LatchLinkError(socket: socket, reason: .closed)
        }
        return LatchLinkError(socket: socket, reason: .system(SystemError(operation, path: socket, code: code)))
    }
}
