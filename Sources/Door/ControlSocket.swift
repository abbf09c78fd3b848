#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import Support
import Synchronization

/// Who sent a control request (from `SO_PEERCRED`), for the audit log.
public struct PeerCredentials: Hashable, Sendable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
}

/// A control request with its sender.
public struct ControlRequest: Hashable, Sendable {
    public var command: ControlCommand
    public var peer: PeerCredentials?
}

/// Why the control socket could not be served or reached; names the socket.
public struct ControlError: Error, Hashable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// Nothing listens on the socket (no file, or a stale one): the daemon is not running.
        case notRunning
        /// The caller may not use the socket (not in its group).
        case permissionDenied
        /// Another daemon is already listening on this path.
        case alreadyInUse
        /// The path exists and is not a socket; it is left alone.
        case notASocket
        /// The configured group does not exist.
        case groupNotFound(String)
        /// The daemon did not answer in time.
        case timedOut
        /// The daemon's answer could not be read.
        case invalidResponse(String)
        /// A system call failed.
        case system(operation: String, code: Int32)
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
        case .notRunning: what = "no daemon is listening (is dogdoord running?)"
        case .permissionDenied: what = "permission denied (is this user in the socket's group?)"
        case .alreadyInUse: what = "another daemon is already listening on it"
        case .notASocket: what = "the path exists and is not a socket"
        case .groupNotFound(let group): what = "group \"\(group)\" does not exist"
        case .timedOut: what = "the daemon did not answer in time"
        case .invalidResponse(let message): what = "invalid response: \(message)"
        case .system(let operation, let code): what = SystemError(operation, code: code).description
        }
        return "control socket \(socket): \(what)"
    }
}

/// The daemon's side of the control socket: a Unix stream socket (mode 0660, optionally given to a group;
/// its directory is created with mode 0750 if missing) speaking one JSON object per line in each
/// direction. It runs on its own thread and hands each request to `handler`, one at a time, on that
/// thread; the handler's response is written back. A client may send several requests on one connection.
public final class ControlServer: Sendable {
    /// Answers one request. Called on the server's thread.
    public typealias Handler = @Sendable (ControlRequest) -> ControlResponse

    /// Longest request line accepted.
    public static let maximumRequestBytes = 4_096
    /// Connections served at once; more wait in the listen backlog.
    public static let maximumClients = 16
    /// A connection idle this long is closed.
    public static let idleTimeout: Duration = .seconds(30)

    public let path: String
    private let handler: Handler
    private let logger: Logger?
    private let listenFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let socketIdentity: (device: UInt64, inode: UInt64)
    private let thread = Mutex<pthread_t?>(nil)
    private let stopped = Atomic<Bool>(false)

    /// Creates the socket at `path` (replacing a stale socket left by a crash, refusing to touch anything
    /// else) and starts listening; call `start()` to serve. `group`, if given, gets the socket.
    public init(path: String, group: String? = nil, logger: Logger? = nil,
                handler: @escaping Handler) throws(ControlError) {
        self.path = path
        self.handler = handler
        self.logger = logger
        func fail(_ operation: String, _ code: Int32 = errno) -> ControlError {
            if code == EACCES || code == EPERM { return ControlError(socket: path, reason: .permissionDenied) }
            return ControlError(socket: path, reason: .system(operation: operation, code: code))
        }

        var gid: gid_t?
        if let group {
            var entry = group_t()
            var buffer = [CChar](repeating: 0, count: 16_384)
            var result: UnsafeMutablePointer<group_t>?
            let status = getgrnam_r(group, &entry, &buffer, buffer.count, &result)
            guard status == 0, result != nil else { throw ControlError(socket: path, reason: .groupNotFound(group)) }
            gid = entry.gr_gid
        }

        do {
            try makeDirectories(parentDirectory(of: path), permissions: 0o750)
        } catch {
            throw fail("create directory \(error.path ?? "")", error.code)
        }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw ControlError(socket: path, reason: .notASocket) }
            if Self.someoneListens(on: path) { throw ControlError(socket: path, reason: .alreadyInUse) }
            guard unlink(path) == 0 else { throw fail("remove stale socket") }
        }

        var address: UnixSocketAddress
        do {
            address = try UnixSocketAddress(path: path)
        } catch {
            throw ControlError(socket: path, reason: .system(operation: "socket address", code: error.code))
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw fail("socket") }
        var bound = false
        do throws(ControlError) {
            let bindResult = address.withSockaddr { bind(fd, $0, $1) }
            guard bindResult == 0 else { throw fail("bind") }
            bound = true
            guard chmod(path, 0o660) == 0 else { throw fail("chmod") }
            if let gid, chown(path, uid_t.max, gid) != 0 { throw fail("chown to group \(group ?? "")") }
            guard listen(fd, 16) == 0 else { throw fail("listen") }
            guard lstat(path, &st) == 0 else { throw fail("stat") }
        } catch {
            close(fd)
            if bound { unlink(path) }
            throw error
        }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            let code = errno
            close(fd)
            unlink(path)
            throw fail("pipe", code)
        }
        for end in pipeFDs {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        listenFD = fd
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
        socketIdentity = (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    deinit {
        stop()
        close(listenFD)
        close(wakeRead)
        close(wakeWrite)
    }

    /// Starts serving on a new thread. Calling it again does nothing.
    public func start() throws(ControlError) {
        let code: Int32 = thread.withLock { thread in
            guard thread == nil, !stopped.load(ordering: .acquiring) else { return 0 }
            let context = Unmanaged.passRetained(self).toOpaque()
            var id = pthread_t()
            let status = pthread_create(&id, nil, { raw in
                let server = Unmanaged<ControlServer>.fromOpaque(raw!).takeRetainedValue()
                server.run()
                return nil
            }, context)
            if status != 0 {
                Unmanaged<ControlServer>.fromOpaque(context).release()
                return status
            }
            thread = id
            return 0
        }
        if code != 0 { throw ControlError(socket: path, reason: .system(operation: "start thread", code: code)) }
    }

    /// Stops serving, waits for the thread to finish, and removes the socket file (if it is still ours).
    /// Calling it again does nothing.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        let running = thread.withLock { thread -> pthread_t? in
            defer { thread = nil }
            return thread
        }
        if let running {
            // The last reference may be dropped by the server thread itself (deinit runs there): it cannot
            // join itself, so it detaches.
            if pthread_equal(running, pthread_self()) != 0 {
                pthread_detach(running)
            } else {
                pthread_join(running, nil)
            }
        }
        var st = stat()
        if lstat(path, &st) == 0, UInt64(st.st_dev) == socketIdentity.device, UInt64(st.st_ino) == socketIdentity.inode {
            unlink(path)
        }
    }

    // MARK: - Serving

    private struct Client {
        var fd: Int32
        var peer: PeerCredentials?
        var input: [UInt8] = []
        var output: [UInt8] = []
        var lastActivity: ContinuousClock.Instant
        var closeAfterWrite = false
    }

    private func run() {
        var clients: [Client] = []
        defer { for client in clients { close(client.fd) } }
        let clock = ContinuousClock()
        while !stopped.load(ordering: .acquiring) {
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            fds.append(pollfd(fd: listenFD, events: clients.count < Self.maximumClients ? Int16(POLLIN) : 0, revents: 0))
            for client in clients {
                var events = Int16(POLLIN)
                if !client.output.isEmpty { events |= Int16(POLLOUT) }
                if client.closeAfterWrite { events = Int16(POLLOUT) }
                fds.append(pollfd(fd: client.fd, events: events, revents: 0))
            }
            let ready = poll(&fds, nfds_t(fds.count), 1_000)
            if ready < 0 {
                if errno == EINTR { continue }
                logger?.error("control socket: poll failed", metadata: ["socket": "\(path)", "errno": "\(errno)"])
                return
            }
            if fds[0].revents != 0 { return }

            var finished: [Int] = []
            for index in clients.indices {
                let revents = fds[index + 2].revents
                var keep = true
                if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0, !clients[index].closeAfterWrite {
                    keep = readRequests(&clients[index], now: clock.now)
                }
                if keep, !clients[index].output.isEmpty {
                    keep = writeResponses(&clients[index], now: clock.now)
                }
                if keep, clients[index].closeAfterWrite, clients[index].output.isEmpty { keep = false }
                if keep, clock.now - clients[index].lastActivity > Self.idleTimeout { keep = false }
                if !keep { finished.append(index) }
            }
            for index in finished.reversed() {
                close(clients[index].fd)
                clients.remove(at: index)
            }
            // New connections join the poll set on the next round.
            if fds[1].revents & Int16(POLLIN) != 0 { acceptClients(&clients, now: clock.now) }
        }
    }

    private func acceptClients(_ clients: inout [Client], now: ContinuousClock.Instant) {
        while clients.count < Self.maximumClients {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK {
                    logger?.warning("control socket: accept failed", metadata: ["errno": "\(errno)"])
                }
                return
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            clients.append(Client(fd: fd, peer: Self.peerCredentials(fd), lastActivity: now))
        }
    }

    /// Reads what is available and answers complete lines. Returns false when the connection is done.
    private func readRequests(_ client: inout Client, now: ContinuousClock.Instant) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4_096)
        var sawEnd = false
        while true {
            let n = chunk.withUnsafeMutableBytes { read(client.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                client.input += chunk[0..<n]
                client.lastActivity = now
                if client.input.count > Self.maximumRequestBytes * 4 { break }
                continue
            }
            if n == 0 { sawEnd = true; break }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { break }
            return false
        }
        while let newline = client.input.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(client.input[..<newline])
            client.input.removeSubrange(...newline)
            answer(line, &client)
        }
        if client.input.count > Self.maximumRequestBytes {
            client.output += Array((ControlResponse.failure("request longer than \(Self.maximumRequestBytes) bytes").line + "\n").utf8)
            client.input.removeAll()
            client.closeAfterWrite = true
            return true
        }
        if sawEnd {
            // A last request without a newline is still answered.
            if !client.input.isEmpty {
                let line = client.input
                client.input.removeAll()
                answer(line, &client)
            }
            client.closeAfterWrite = true
        }
        return true
    }

    private func answer(_ lineBytes: [UInt8], _ client: inout Client) {
        var bytes = lineBytes
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        if bytes.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { return }
        let response: ControlResponse
        if bytes.count > Self.maximumRequestBytes {
            response = .failure("request longer than \(Self.maximumRequestBytes) bytes")
        } else {
            do {
                guard let text = String(validating: bytes, as: UTF8.self) else { throw ControlProtocolError("request is not valid UTF-8") }
                let command = try ControlCommand(parsing: text)
                response = handler(ControlRequest(command: command, peer: client.peer))
            } catch let error as ControlProtocolError {
                response = .failure(error.message)
            } catch {
                response = .failure("\(error)")
            }
        }
        client.output += Array((response.line + "\n").utf8)
    }

    /// Writes what the socket accepts. Returns false when the connection is broken.
    private func writeResponses(_ client: inout Client, now: ContinuousClock.Instant) -> Bool {
        while !client.output.isEmpty {
            let n = client.output.withUnsafeBytes { send(client.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                client.output.removeFirst(n)
                client.lastActivity = now
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return true }
            return false
        }
        return true
    }

    static func peerCredentials(_ fd: Int32) -> PeerCredentials? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (not imported into Swift: read it as its fields).
        var raw: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &raw, &length) == 0, length == 12 else { return nil }
        return PeerCredentials(pid: raw.0, uid: raw.1, gid: raw.2)
    }

    static func someoneListens(on path: String) -> Bool {
        guard var address = try? UnixSocketAddress(path: path) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let result = address.withSockaddr { connect(fd, $0, $1) }
        return result == 0 || (errno != ECONNREFUSED && errno != ENOENT)
    }
}

/// The client side, used by `dogdoor status`, `dogdoor lock`, ...
public enum ControlClient {
    /// Sends one command to the daemon listening on `socket` and returns its response.
    public static func send(_ command: ControlCommand, to socket: String,
                            timeout: Duration = .seconds(5)) throws(ControlError) -> ControlResponse {
        let line = JSONValue.object(command.json).serialized()
        let reply = try exchange(line, socket: socket, timeout: timeout)
        do {
            return try ControlResponse(parsing: reply)
        } catch {
            throw ControlError(socket: socket, reason: .invalidResponse(error.message))
        }
    }

    /// Sends one raw line and returns the raw response line (without its newline).
    public static func exchange(_ request: String, socket path: String,
                                timeout: Duration = .seconds(5)) throws(ControlError) -> String {
        func fail(_ operation: String, _ code: Int32 = errno) -> ControlError {
            switch code {
            case ENOENT, ECONNREFUSED: return ControlError(socket: path, reason: .notRunning)
            case EACCES, EPERM: return ControlError(socket: path, reason: .permissionDenied)
            case EAGAIN, ETIMEDOUT: return ControlError(socket: path, reason: .timedOut)
            default: return ControlError(socket: path, reason: .system(operation: operation, code: code))
            }
        }
        var address: UnixSocketAddress
        do {
            address = try UnixSocketAddress(path: path)
        } catch {
            throw ControlError(socket: path, reason: .system(operation: "socket address", code: error.code))
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw fail("socket") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout.components.seconds),
                         tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        while address.withSockaddr({ connect(fd, $0, $1) }) != 0 {
            if errno == EINTR { continue }
            throw fail("connect")
        }
        let bytes = Array((request + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("send")
            }
            offset += n
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while !response.contains(UInt8(ascii: "\n")) {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("read")
            }
            if n == 0 { break }
            response += chunk[0..<n]
            if response.count > 1 << 20 { throw ControlError(socket: path, reason: .invalidResponse("response too long")) }
        }
        guard let newline = response.firstIndex(of: UInt8(ascii: "\n")) else {
            throw ControlError(socket: path, reason: .invalidResponse("connection closed before a complete response"))
        }
        return String(decoding: response[..<newline], as: UTF8.self)
    }
}

private typealias group_t = group
