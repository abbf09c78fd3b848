import CDoorSystem
import Logging
import Support
import Synchronization

/// A control request with its sender.
public struct ControlRequest: Hashable, Sendable {
    public var command: ControlCommand
    public var peer: PeerCredentials?
    /// Whom the client says it acts for (`ControlMessage.origin`).
    public var origin: String?

    public init(command: ControlCommand, peer: PeerCredentials?, origin: String? = nil) {
        self.command = command
        self.peer = peer
        self.origin = origin
    }
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
        case .notRunning: what = "no daemon is listening (is dogdoord running?)"
        case .permissionDenied: what = "permission denied (is this user in the socket's group?)"
        case .alreadyInUse: what = "another daemon is already listening on it"
        case .notASocket: what = "the path exists and is not a socket"
        case .groupNotFound(let group): what = "group \"\(group)\" does not exist"
        case .timedOut: what = "the daemon did not answer in time"
        case .invalidResponse(let message): what = "invalid response: \(message)"
        case .system(let error): what = error.description
        }
        return "control socket \(socket): \(what)"
    }

    init(socket: String, _ error: SystemError) {
        switch error.code {
        case EACCES, EPERM: self.init(socket: socket, reason: .permissionDenied)
        case EADDRINUSE: self.init(socket: socket, reason: .alreadyInUse)
        case EEXIST: self.init(socket: socket, reason: .notASocket)
        default: self.init(socket: socket, reason: .system(error))
        }
    }
}

/// The daemon's side of the control socket: Unix stream sockets (mode 0660, optionally given to a group;
/// the directory is created with mode 0750 if missing) speaking one JSON object per line in each direction.
///
/// One thread serves every client with `poll`, and nothing a client does can stall it or grow without
/// bound: a request line is at most `maximumRequestBytes`; a client has one request in flight at a time and
/// is not read while its answers pile up (`maximumPendingOutput`), so one that writes and never reads only
/// fills its own socket buffer; at most `maximumClients` are served, and a new connection beyond that
/// evicts the one that has made no progress for longest. Commands that the decision loop carries out are
/// answered when it has (the handler answers asynchronously), within `commandTimeout` or not at all.
///
/// A second, optional socket answers `status` only: for people who may watch the door but not steer it.
public final class ControlServer: @unchecked Sendable {
    /// Answers one request by calling `respond`, now or later and from any thread. Called on the server's
    /// thread; must not block. Returns an `abandon` function for requests answered later: the server calls
    /// it at `commandTimeout`, and it returns true if the request was dropped before being carried out.
    public typealias Handler =
        @Sendable (ControlRequest, _ respond: @escaping @Sendable (ControlResponse) -> Void)
        -> (@Sendable () -> Bool)?

    /// Longest request line accepted.
    public static let maximumRequestBytes = 4_096
    /// Answers held for a client before the server stops reading its requests.
    public static let maximumPendingOutput = 64 * 1_024
    /// Connections served at once.
    public static let maximumClients = 32
    /// A connection that makes no progress this long is closed.
    public static let idleTimeout: Duration = .seconds(30)
    /// How long a command may wait for the decision loop.
    public static let commandTimeout: Duration = .seconds(10)

    public let path: String
    public let statusPath: String?
    private let handler: Handler
    private let logger: Logger?
    private let listeners: [(fd: Int32, identity: FileIdentity, path: String, statusOnly: Bool)]
    private let wake: (read: Int32, write: Int32)
    private let answers = Mutex<[(client: UInt64, response: ControlResponse)]>([])
    private let stopped = Atomic<Bool>(false)
    private let thread = Mutex<NamedThread?>(nil)

    /// Creates the socket at `path` (and the status-only socket at `statusPath`), replacing a stale socket
    /// left by a crash and refusing to touch anything else; call `start()` to serve.
    public init(
        path: String, group: String? = nil, statusPath: String? = nil, statusGroup: String? = nil,
        logger: Logger? = nil, handler: @escaping Handler
    ) throws(ControlError) {
        self.path = path
        self.statusPath = statusPath
        self.handler = handler
        self.logger = logger
        func gid(_ name: String?, socket: String) throws(ControlError) -> gid_t? {
            guard let name else { return nil }
            guard let id = groupID(named: name) else {
                throw ControlError(socket: socket, reason: .groupNotFound(name))
            }
            return id
        }
        var bound: [(fd: Int32, identity: FileIdentity, path: String, statusOnly: Bool)] = []
        do throws(ControlError) {
            for (socketPath, group, statusOnly) in [(path, group, false), (statusPath, statusGroup, true)] {
                guard let socketPath else { continue }
                let id = try gid(group, socket: socketPath)
                do {
                    let (fd, identity) = try UnixListener.bind(path: socketPath, kind: .stream, group: id)
                    bound.append((fd, identity, socketPath, statusOnly))
                } catch {
                    throw ControlError(socket: socketPath, error)
                }
            }
        } catch {
            for listener in bound {
                close(listener.fd)
                UnixListener.remove(path: listener.path, identity: listener.identity)
            }
            throw error
        }
        var fds: [Int32] = [0, 0]
        let piped = dd_sys_pipe_nonblocking(&fds)
        guard piped == 0 else {
            let code = -piped
            for listener in bound {
                close(listener.fd)
                UnixListener.remove(path: listener.path, identity: listener.identity)
            }
            throw ControlError(socket: path, reason: .system(SystemError("pipe", code: code)))
        }
        listeners = bound
        wake = (fds[0], fds[1])
    }

    deinit {
        stop()
        close(wake.read)
        close(wake.write)
    }

    /// Starts serving on a new thread. Calling it again does nothing.
    public func start() throws(ControlError) {
        let failure: SystemError? = thread.withLock { thread -> SystemError? in
            guard thread == nil, !stopped.load(ordering: .acquiring) else { return nil }
            do throws(SystemError) {
                thread = try NamedThread(name: "control") { [self] in run() }
                return nil
            } catch {
                return error
            }
        }
        if let failure {
            throw ControlError(socket: path, reason: .system(failure))
        }
    }

    /// Stops serving, waits for the thread to finish, and removes the socket files (if they are still
    /// ours). Calling it again does nothing.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wakeUp()
        let running = thread.withLock { thread -> NamedThread? in
            defer { thread = nil }
            return thread
        }
        running?.join()
        for listener in listeners {
            close(listener.fd)
            UnixListener.remove(path: listener.path, identity: listener.identity)
        }
    }

    private func wakeUp() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    // MARK: - Serving

    private struct Client {
        var id: UInt64
        var fd: Int32
        var peer: PeerCredentials?
        var statusOnly: Bool
        var input: [UInt8] = []
        var output: [UInt8] = []
        var lastProgress: ContinuousClock.Instant
        /// A request handed to the handler and not answered yet, with its deadline and abandon function.
        var inFlight: (deadline: ContinuousClock.Instant, abandon: (@Sendable () -> Bool)?)?
        var sawEnd = false

        /// Whether to read more requests: not while one is in flight or answers pile up.
        var wantsInput: Bool { inFlight == nil && !sawEnd && output.count < ControlServer.maximumPendingOutput }
        var finished: Bool { sawEnd && inFlight == nil && output.isEmpty && input.isEmpty }
    }

    private func run() {
        var clients: [Client] = []
        var nextID: UInt64 = 1
        defer { for client in clients { close(client.fd) } }
        let clock = ContinuousClock()
        while !stopped.load(ordering: .acquiring) {
            var fds = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            for listener in listeners { fds.append(pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)) }
            for client in clients {
                var events: Int16 = 0
                if client.wantsInput { events |= Int16(POLLIN) }
                if !client.output.isEmpty { events |= Int16(POLLOUT) }
                fds.append(pollfd(fd: client.fd, events: events, revents: 0))
            }
            let ready = poll(&fds, nfds_t(fds.count), 500)
            if ready < 0 && errno != EINTR {
                logger?.error("control socket: poll failed", metadata: ["socket": "\(path)", "errno": "\(errno)"])
                return
            }
            if fds[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 256)
                _ = read(wake.read, &drain, drain.count)
            }
            let now = clock.now

            // Answers that arrived from other threads.
            let arrived = answers.withLock { list -> [(client: UInt64, response: ControlResponse)] in
                defer { list.removeAll() }
                return list
            }
            for (id, response) in arrived {
                guard let index = clients.firstIndex(where: { $0.id == id }) else { continue }
                clients[index].inFlight = nil
                clients[index].output += Array((response.line + "\n").utf8)
            }

            var done: [Int] = []
            for index in clients.indices {
                let revents = fds[1 + listeners.count + index].revents
                var keep = true
                if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0, clients[index].wantsInput {
                    keep = readRequests(&clients[index], now: now)
                }
                if keep, clients[index].inFlight == nil { serveBufferedRequest(&clients[index]) }
                if keep, !clients[index].output.isEmpty { keep = writeResponses(&clients[index], now: now) }
                if keep, let inFlight = clients[index].inFlight, now >= inFlight.deadline {
                    if inFlight.abandon?() ?? true {
                        clients[index].inFlight = nil
                        clients[index].output += Array(
                            (ControlResponse.failure(
                                "the daemon was busy for \(Self.commandTimeout); the command was not carried out"
                            ).line + "\n").utf8)
                    } else {
                        // Taken by the decision loop: its answer is on its way.
                        clients[index].inFlight?.deadline = now + .seconds(1)
                    }
                }
                if keep, clients[index].finished { keep = false }
                if keep, clients[index].inFlight == nil, now - clients[index].lastProgress > Self.idleTimeout {
                    keep = false
                }
                if !keep { done.append(index) }
            }
            for index in done.reversed() {
                if let abandon = clients[index].inFlight?.abandon { _ = abandon() }
                close(clients[index].fd)
                clients.remove(at: index)
            }
            for (offset, listener) in listeners.enumerated() where fds[1 + offset].revents & Int16(POLLIN) != 0 {
                acceptClients(listener.fd, statusOnly: listener.statusOnly, &clients, nextID: &nextID, now: now)
            }
        }
    }

    private func acceptClients(
        _ listener: Int32, statusOnly: Bool, _ clients: inout [Client], nextID: inout UInt64,
        now: ContinuousClock.Instant
    ) {
        while true {
            let accepted: Int32?
            do {
                accepted = try UnixListener.accept(listener)
            } catch {
                logger?.warning("control socket: accept failed", metadata: ["error": "\(error)"])
                return
            }
            guard let fd = accepted else { return }
            if clients.count >= Self.maximumClients,
                let stalest = clients.indices.min(by: { clients[$0].lastProgress < clients[$1].lastProgress })
            {
                logger?.warning(
                    "control socket: too many clients; closing the one idle longest",
                    metadata: ["peer": "\(clients[stalest].peer.map { "\($0)" } ?? "unknown")"])
                if let abandon = clients[stalest].inFlight?.abandon { _ = abandon() }
                close(clients[stalest].fd)
                clients.remove(at: stalest)
            }
            clients.append(
                Client(id: nextID, fd: fd, peer: PeerCredentials(socket: fd), statusOnly: statusOnly, lastProgress: now)
            )
            nextID += 1
        }
    }

    /// Reads what is available, up to the request size limit. Returns false when the connection is broken.
    private func readRequests(_ client: inout Client, now: ContinuousClock.Instant) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while client.input.count <= Self.maximumRequestBytes {
            let n = chunk.withUnsafeMutableBytes { read(client.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                client.input += chunk[0..<n]
                client.lastProgress = now
                if client.input.contains(UInt8(ascii: "\n")) { break }
                continue
            }
            if n == 0 {
                client.sawEnd = true
                break
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { break }
            return false
        }
        return true
    }

    /// Hands the next complete request line (if any) to the handler.
    private func serveBufferedRequest(_ client: inout Client) {
        var line: [UInt8]
        if let newline = client.input.firstIndex(of: UInt8(ascii: "\n")) {
            line = Array(client.input[..<newline])
            client.input.removeSubrange(...newline)
        } else if client.input.count > Self.maximumRequestBytes {
            client.input.removeAll()
            client.output += Array(
                (ControlResponse.failure("request longer than \(Self.maximumRequestBytes) bytes").line + "\n").utf8)
            client.sawEnd = true  // the rest of the line cannot be told from a new request: close after answering
            return
        } else if client.sawEnd && !client.input.isEmpty {
            line = client.input  // a last request without a newline is still answered
            client.input.removeAll()
        } else {
            return
        }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { return }
        let message: ControlMessage
        do {
            guard line.count <= Self.maximumRequestBytes else {
                throw ControlProtocolError("request longer than \(Self.maximumRequestBytes) bytes")
            }
            guard let text = String(validating: line, as: UTF8.self) else {
                throw ControlProtocolError("request is not valid UTF-8")
            }
            message = try ControlMessage(parsing: text)
        } catch let error as ControlProtocolError {
            client.output += Array((ControlResponse.failure(error.message).line + "\n").utf8)
            return
        } catch {
            client.output += Array((ControlResponse.failure("\(error)").line + "\n").utf8)
            return
        }
        let command = message.command
        if client.statusOnly && command != .status {
            client.output += Array(
                (ControlResponse.failure("this socket answers status only; use \(path) to steer the door").line + "\n")
                    .utf8)
            return
        }
        let id = client.id
        // An answer given during the call stays here; one given after it goes through `answers`. One lock
        // decides which, so no answer is lost to the race between the two.
        let slot = Mutex<(returned: Bool, response: ControlResponse?)>((false, nil))
        let abandon = handler(ControlRequest(command: command, peer: client.peer, origin: message.origin)) {
            [self] response in
            let kept = slot.withLock { slot -> Bool in
                guard !slot.returned else { return false }
                slot.response = response
                return true
            }
            guard !kept else { return }
            answers.withLock { $0.append((id, response)) }
            wakeUp()
        }
        let immediate = slot.withLock { slot -> ControlResponse? in
            slot.returned = true
            return slot.response
        }
        if let immediate {
            client.output += Array((immediate.line + "\n").utf8)
        } else {
            client.inFlight = (ContinuousClock().now + Self.commandTimeout, abandon)
        }
    }

    /// Writes what the socket accepts. Returns false when the connection is broken.
    private func writeResponses(_ client: inout Client, now: ContinuousClock.Instant) -> Bool {
        while !client.output.isEmpty {
            let n = client.output.withUnsafeBytes { send(client.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                client.output.removeFirst(n)
                client.lastProgress = now
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return true }
            return false
        }
        return true
    }
}

/// The client side, used by `dogdoor status`, `dogdoor lock`, ...
public enum ControlClient {
    /// Sends one command to the daemon listening on `socket` and returns its response.
    /// `origin` says whom the command is for (recorded by the daemon; see `ControlMessage`).
    public static func send(
        _ command: ControlCommand, to socket: String, origin: String? = nil,
        timeout: Duration = .seconds(12)
    ) throws(ControlError) -> ControlResponse {
        let line = JSONValue.object(ControlMessage(command: command, origin: origin).json).serialized()
        let reply = try exchange(line, socket: socket, timeout: timeout)
        do {
            return try ControlResponse(parsing: reply)
        } catch {
            throw ControlError(socket: socket, reason: .invalidResponse(error.message))
        }
    }

    /// Sends one raw line and returns the raw response line (without its newline).
    public static func exchange(
        _ request: String, socket path: String,
        timeout: Duration = .seconds(12)
    ) throws(ControlError) -> String {
        func fail(_ error: SystemError) -> ControlError {
            switch error.code {
            case ENOENT, ECONNREFUSED: return ControlError(socket: path, reason: .notRunning)
            case EACCES, EPERM: return ControlError(socket: path, reason: .permissionDenied)
            case EAGAIN, ETIMEDOUT: return ControlError(socket: path, reason: .timedOut)
            default: return ControlError(socket: path, reason: .system(error))
            }
        }
        let fd: Int32
        do {
            fd = try connectUnixSocket(path: path, kind: .stream, timeout: timeout)
        } catch {
            throw fail(error)
        }
        defer { close(fd) }
        do {
            try writeAll(fd, Array((request + "\n").utf8), what: "send")
        } catch {
            throw fail(error)
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while !response.contains(UInt8(ascii: "\n")) {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail(SystemError("read", path: path))
            }
            if n == 0 { break }
            response += chunk[0..<n]
            if response.count > 1 << 20 {
                throw ControlError(socket: path, reason: .invalidResponse("response too long"))
            }
        }
        guard let newline = response.firstIndex(of: UInt8(ascii: "\n")) else {
            throw ControlError(socket: path, reason: .invalidResponse("connection closed before a complete response"))
        }
        return String(decoding: response[..<newline], as: UTF8.self)
    }
}
