import CDoorSystem
import LatchLink
import Logging
import Support
import Synchronization

/// The latch owner: holds the latch for as long as it runs, keeps it locked unless its one client
/// (dogdoord) keeps it unlocked under `LatchSupervisor`'s rules, and locks on its own when the client
/// disconnects, falls silent or lets its lease run out.
///
/// One thread, one `poll` loop, no slow work: GPIO actuations are single ioctls, messages are at most 1 KiB,
/// nothing is written to disk. The loop wakes at every deadline of the rules, so a relock is on time
/// whatever the recognition side is doing (decoding, inference, a model reload, a slow SD card, SIGSTOP).
/// A lock that fails (or does not read back) is retried every `retryInterval` until the line reads locked,
/// with a log line and a notice to the client each time.
public final class LatchOwnerServer: @unchecked Sendable {
    public struct Options: Sendable {
        /// The socket dogdoord connects to.
        public var socketPath: String
        /// Mode of the socket file.
        public var permissions: mode_t = 0o660
        /// Group given the socket file, if any.
        public var group: gid_t?
        /// User ids allowed to connect (besides root); nil allows anyone who can reach the socket file.
        public var allowedUsers: Set<uid_t>?
        /// How often a failed lock is retried.
        public var retryInterval: Duration = .milliseconds(100)

        public init(socketPath: String, group: gid_t? = nil, allowedUsers: Set<uid_t>? = nil) {
            self.socketPath = socketPath
            self.group = group
            self.allowedUsers = allowedUsers
        }
    }

    private let latch: any Latch
    private let options: Options
    private let clock: any DoorClock
    private let logger: Logger
    private let notifier: SystemdNotifier
    private var supervisor: LatchSupervisor
    private let wake: (read: Int32, write: Int32)
    private let stopRequested = Atomic<Bool>(false)
    private var listener: (fd: Int32, identity: FileIdentity)?
    private var client: (fd: Int32, peer: PeerCredentials?, name: String?)?
    private var lockFailures = 0
    private var lastWatchdog: MonotonicInstant?
    /// Every actuation the owner made, with the reason (for the log and tests).
    private let history = Mutex<[String]>([])

    /// Takes over `latch`, which must be locked (latches are when created). Binds the socket.
    public init(
        latch: any Latch, settings: LatchSupervisor.Settings, options: Options, clock: any DoorClock = SystemClock(),
        logger: Logger, notifier: SystemdNotifier = .fromProcessEnvironment()
    ) throws(SystemError) {
        self.latch = latch
        self.options = options
        self.clock = clock
        self.logger = logger
        self.notifier = notifier
        supervisor = LatchSupervisor(settings: settings, line: .locked)
        var fds: [Int32] = [0, 0]
        let piped = dd_sys_pipe_nonblocking(&fds)
        guard piped == 0 else { throw SystemError("pipe", code: -piped) }
        wake = (fds[0], fds[1])
        do {
            listener = try UnixListener.bind(
                path: options.socketPath, kind: .seqpacket, permissions: options.permissions,
                group: options.group, backlog: 4)
        } catch {
            close(wake.read)
            close(wake.write)
            throw error
        }
    }

    deinit {
        closeListener()
        close(wake.read)
        close(wake.write)
    }

    /// Asks `run` to lock, release the latch and return. Safe from any thread (signal watchers).
    public func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    /// The actuations made so far, as "locked (reason)" / "unlocked" lines (for tests and `--verbose`).
    public var actuations: [String] { history.withLock { $0 } }

    /// Serves until `requestStop`; then locks and releases the latch. Returns the exit status: 0, or 1 when
    /// the final lock failed.
    public func run() -> Int32 {
        try? notifier.ready(status: "door locked; waiting for dogdoord")
        logger.notice(
            "latch owner ready",
            metadata: [
                "latch": "\(latch.name)", "socket": "\(options.socketPath)",
                "heartbeat_timeout": "\(DurationText.format(supervisor.settings.heartbeatTimeout))",
                "max_unlocked": "\(DurationText.format(supervisor.settings.maximumUnlocked))",
                "min_gap": "\(DurationText.format(supervisor.settings.minimumGap))",
            ])
        while !stopRequested.load(ordering: .acquiring) {
            let now = clock.now().monotonic
            enforce(at: now)
            feedWatchdog(at: now)
            waitForInput(timeout: timeout(at: now))
        }
        return shutDown()
    }

    // MARK: - The rules applied to the line

    /// Drives the line to what the rules want now, and tells the client when the rules relocked by themselves.
    private func enforce(at now: MonotonicInstant) {
        let step = supervisor.step(at: now)
        if step.wanted == .locked {
            if supervisor.line != .locked { drive(.locked, reason: step.lockReason ?? .requested, at: now) }
        } else if supervisor.line != .unlocked {
            drive(.unlocked, reason: nil, at: now)
        }
        if let reason = step.relocked {
            logger.notice("relocked by the latch owner", metadata: ["reason": "\(reason.rawValue)"])
            notify(.relocked(reason))
        }
    }

    private func drive(_ level: LatchState, reason: LockReason?, at now: MonotonicInstant) {
        do {
            if level == .locked { try latch.lock() } else { try latch.unlock() }
            let read = try latch.readBack()
            guard read == level else {
                throw LatchError(
                    .system(
                        operation: "read back: the line reads \(read.rawValue) after setting it \(level.rawValue)",
                        code: EIO),
                    latch: latch.name)
            }
            supervisor.actuated(level, at: now)
            let line = level == .locked ? "locked (\(reason?.rawValue ?? "requested"))" : "unlocked"
            history.withLock { $0.append(line) }
            logger.info("latch \(line)", metadata: ["client": "\(client?.name ?? "none")"])
            if level == .locked && lockFailures > 0 {
                logger.notice("latch locked again after failures", metadata: ["attempts": "\(lockFailures + 1)"])
                notify(.lockRestored(attempts: lockFailures + 1))
                lockFailures = 0
            }
        } catch {
            supervisor.actuationFailed(at: now)
            if level == .locked {
                lockFailures += 1
                logger.critical(
                    "could not lock the latch; retrying", metadata: ["attempt": "\(lockFailures)", "error": "\(error)"])
                notify(.lockFailed(attempt: lockFailures, error: "\(error)"))
            } else {
                // An unlock that fails is not retried: the lease is dropped and the line driven locked.
                logger.error("could not unlock the latch; locking", metadata: ["error": "\(error)"])
                supervisor.requestLock(at: now)
                drive(.locked, reason: .requested, at: now)
            }
        }
    }

    /// How long `poll` may wait: until the rules' next deadline, the next retry of a failed lock, or the
    /// watchdog's next ping, at most a second.
    private func timeout(at now: MonotonicInstant) -> Duration {
        var wait: Duration = .seconds(1)
        if let deadline = supervisor.nextDeadline(at: now) { wait = min(wait, max(.zero, deadline - now)) }
        if supervisor.line == nil { wait = min(wait, options.retryInterval) }
        if let interval = notifier.watchdogInterval { wait = min(wait, interval / 3) }
        return wait
    }

    private func feedWatchdog(at now: MonotonicInstant) {
        guard let interval = notifier.watchdogInterval else { return }
        if let last = lastWatchdog, now - last < interval / 3 { return }
        lastWatchdog = now
        try? notifier.watchdog()
    }

    // MARK: - Sockets

    private func waitForInput(timeout: Duration) {
        var fds = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
        if let listener { fds.append(pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)) }
        if let client { fds.append(pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)) }
        // Round up: a wait that ends a hair before a deadline would only spin.
        let milliseconds = Int32(clamping: (timeout.milliseconds) + (timeout > .zero ? 1 : 0))
        let ready = poll(&fds, nfds_t(fds.count), milliseconds)
        guard ready > 0 else { return }
        if fds[0].revents != 0 {
            var buffer = [UInt8](repeating: 0, count: 64)
            _ = read(wake.read, &buffer, buffer.count)
        }
        var index = 1
        if listener != nil {
            if fds[index].revents != 0 { acceptClients() }
            index += 1
        }
        if let client, index < fds.count, fds[index].fd == client.fd, fds[index].revents != 0 {
            readClient()
        }
    }

    private func acceptClients() {
        guard let listener else { return }
        while true {
            let fd: Int32?
            do {
                fd = try UnixListener.accept(listener.fd)
            } catch {
                logger.error("latch socket: accept failed", metadata: ["error": "\(error)"])
                return
            }
            guard let fd else { return }
            let peer = PeerCredentials(socket: fd)
            if let allowed = options.allowedUsers, let peer, peer.uid != 0, !allowed.contains(peer.uid) {
                logger.warning(
                    "latch socket: refused a client that is not the configured client user",
                    metadata: ["peer": "\(peer)"])
                refuse(fd, "uid \(peer.uid) may not command the latch (latch.client_user)")
                continue
            }
            if let current = client {
                logger.warning(
                    "latch socket: refused a second client",
                    metadata: [
                        "peer": "\(peer.map { "\($0)" } ?? "unknown")",
                        "connected": "\(current.peer.map { "\($0)" } ?? "unknown")",
                    ])
                refuse(fd, "another client is connected (\(current.peer.map { "\($0)" } ?? "unknown peer"))")
                continue
            }
            client = (fd, peer, nil)
            supervisor.connect(at: clock.now().monotonic)
            logger.notice("client connected", metadata: ["peer": "\(peer.map { "\($0)" } ?? "unknown")"])
        }
    }

    private func refuse(_ fd: Int32, _ message: String) {
        let reply = LatchReply(
            ok: false, line: supervisor.line, wanted: .locked, lockReason: supervisor.lockReason, error: message)
        let bytes = Array(reply.json.serialized().utf8)
        _ = bytes.withUnsafeBytes { LibC.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
        close(fd)
    }

    private func readClient() {
        guard let current = client else { return }
        var buffer = [UInt8](repeating: 0, count: LatchProtocolError.maximumMessageBytes + 1)
        while client != nil {
            let n = buffer.withUnsafeMutableBytes { recv(current.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                drop("receive failed: \(SystemError("receive").reason)")
                return
            }
            if n == 0 {
                drop("disconnected")
                return
            }
            guard n <= LatchProtocolError.maximumMessageBytes else {
                drop("message longer than \(LatchProtocolError.maximumMessageBytes) bytes")
                return
            }
            let request: LatchRequest
            do {
                request = try LatchRequest(parsing: Array(buffer[0..<n]))
            } catch {
                reply(
                    LatchReply(
                        ok: false, line: supervisor.line, wanted: .locked, lockReason: supervisor.lockReason,
                        error: error.message))
                drop("protocol error: \(error.message)")
                return
            }
            handle(request)
        }
    }

    private func handle(_ request: LatchRequest) {
        let now = clock.now().monotonic
        var error: String?
        var limits: LatchLimits?
        switch request {
        case .hello(let name):
            if client?.name != nil {
                error = "hello sent twice"
            } else {
                client?.name = name
                limits = supervisor.settings.limits
                logger.notice("client introduced itself", metadata: ["client": "\(name)"])
            }
        case .unlock(let lease):
            if client?.name == nil {
                error = "send hello first"
            } else {
                error = supervisor.requestUnlock(lease: lease, at: now)
            }
        case .lock:
            supervisor.requestLock(at: now)
        case .heartbeat:
            supervisor.heard(at: now)
        case .status:
            break
        }
        // Carry the request out before answering, so that the answer tells the line's real state.
        enforce(at: now)
        let step = supervisor.step(at: now)
        reply(
            LatchReply(
                ok: error == nil, line: supervisor.line, wanted: step.wanted, lockReason: step.lockReason,
                unlockedFor: supervisor.unlockedFor(at: now), error: error, limits: limits))
        if case .hello = request, error != nil { drop("protocol error: \(error!)") }
    }

    private func reply(_ reply: LatchReply) { send(reply.json) }

    private func notify(_ notice: LatchNotice) { send(notice.json) }

    /// Sends one message to the client; a client that cannot take it (its buffer is full: it stopped
    /// reading) is dropped, which locks.
    private func send(_ message: JSONValue) {
        guard let current = client else { return }
        let bytes = Array(message.serialized().utf8)
        while true {
            let n = bytes.withUnsafeBytes {
                LibC.send(current.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if n == bytes.count { return }
            if n < 0 && errno == EINTR { continue }
            drop(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? "client stopped reading" : "send failed")
            return
        }
    }

    /// Drops the client; the rules then lock at once.
    private func drop(_ why: String) {
        guard let current = client else { return }
        close(current.fd)
        client = nil
        let now = clock.now().monotonic
        supervisor.disconnect(at: now)
        logger.notice(
            "client gone; the door locks", metadata: ["client": "\(current.name ?? "unnamed")", "why": "\(why)"])
        enforce(at: now)
    }

    private func closeListener() {
        if let listener {
            close(listener.fd)
            UnixListener.remove(path: options.socketPath, identity: listener.identity)
        }
        listener = nil
    }

    private func shutDown() -> Int32 {
        try? notifier.stopping()
        if let current = client {
            close(current.fd)
            client = nil
        }
        closeListener()
        do {
            try latch.close()
            history.withLock { $0.append("locked (\(LockReason.stopping.rawValue))") }
            logger.notice("door locked and latch released; latch owner stopped")
            return 0
        } catch {
            logger.critical("could not lock the latch while stopping", metadata: ["error": "\(error)"])
            return 1
        }
    }
}
