import LatchLink
import Logging
import Support

/// Opens a connection to the latch owner listening on a socket (tests give their own).
public typealias LatchConnector = @Sendable (_ socket: String) throws -> LatchClient

/// Something about the latch the decision loop must act on or record.
enum LatchEvent: Equatable, Sendable {
    /// The owner locked the door by itself (the policy must follow).
    case relocked(LockReason)
    /// The owner could not drive the line locked (attempt `attempt`; it retries every tick).
    case lockFailed(attempt: Int, error: String)
    /// After failures, the line reads locked again.
    case lockRestored(attempts: Int)
    /// The owner refused an unlock.
    case unlockRefused(String)
    /// The connection to the owner was lost (the owner locks on its side).
    case linkLost(String)
    /// Connected to the owner (again).
    case linkUp
}

/// The decision loop's link to the latch owner (`dogdoor-latch`).
///
/// `sync` makes the owner do what the policy wants: while the policy has the door unlocked, an unlock whose
/// lease ends when the policy means to relock, renewed every third of the owner's heartbeat timeout (the
/// renewal is the heartbeat); otherwise a lock. The decision loop calls it on every pass, so if the loop
/// stalls the renewals stop and the owner locks by itself. A lost connection is retried every second; the
/// owner keeps the door locked meanwhile.
final class LatchKeeper {
    typealias Connector = LatchConnector

    let socket: String
    private let connect: Connector
    private let logger: Logger
    private var client: LatchClient?
    private var lastAttempt: MonotonicInstant?
    private var lastError: String?
    /// What the owner said last.
    private(set) var line: LatchState?
    private(set) var wanted: LatchState = .locked
    /// The lease end last sent, and when.
    private var sentUntil: MonotonicInstant?
    private var sentAt: MonotonicInstant?

    /// Retry interval for a lost connection.
    static let reconnectInterval: Duration = .seconds(1)

    init(socket: String, logger: Logger, connect: Connector? = nil) {
        self.socket = socket
        self.logger = logger
        self.connect = connect ?? Self.standardConnector
    }

    /// Connects as "dogdoord".
    static let standardConnector: Connector = { socket in try LatchClient(socket: socket, name: "dogdoord") }

    /// Whether the owner is connected.
    var isConnected: Bool { client != nil }

    /// The latch as status shows it: the owner's line, or `unreachable`.
    var status: LatchStatus {
        guard client != nil else { return .unreachable }
        return line.map(LatchStatus.init) ?? .unknown
    }

    /// `status` as events write it.
    var statusText: String { status.rawValue }

    /// Connects if needed and brings the owner in line with `unlockedUntil` (the policy's relock time while it
    /// has the door unlocked; nil to lock). Returns what happened that the loop must handle.
    func sync(unlockedUntil: MonotonicInstant?, now: MonotonicInstant) -> [LatchEvent] {
        var events: [LatchEvent] = []
        if client == nil {
            guard lastAttempt.map({ now >= $0 + Self.reconnectInterval }) ?? true else { return events }
            lastAttempt = now
            do {
                client = try connect(socket)
                sentUntil = nil
                sentAt = nil
                line = nil
                lastError = nil
                logger.notice("connected to the latch owner", metadata: ["socket": "\(socket)"])
                events.append(.linkUp)
            } catch {
                if lastError != "\(error)" {
                    logger.error("latch owner unreachable; the door stays locked", metadata: ["error": "\(error)"])
                    lastError = "\(error)"
                }
                return events
            }
        }
        guard let client else { return events }
        do {
            for notice in try client.takeNotices() { events.append(Self.event(notice)) }
            if events.contains(where: { if case .relocked = $0 { return true } else { return false } }) {
                // The policy relocks on this event; nothing more to ask now.
                sentUntil = nil
                sentAt = nil
                line = .locked
                wanted = .locked
                return events
            }
            if let until = unlockedUntil, until > now {
                let renewal = client.limits.heartbeatTimeout / 3
                let due = sentUntil != until || sentAt.map { now >= $0 + renewal } ?? true
                if due {
                    let reply = try client.unlock(for: until - now)
                    remember(reply)
                    sentUntil = until
                    sentAt = now
                    if !reply.ok {
                        events.append(.unlockRefused(reply.error ?? "refused"))
                        sentUntil = nil
                    }
                }
            } else if sentUntil != nil || line != .locked || wanted != .locked {
                remember(try client.lock())
                sentUntil = nil
                sentAt = nil
            }
            for notice in try client.takeNotices() { events.append(Self.event(notice)) }
        } catch {
            lose(error.description, &events)
        }
        return events
    }

    /// When the loop must call `sync` next at the latest: the next renewal while unlocked, or the next
    /// reconnection attempt.
    func nextDeadline() -> MonotonicInstant? {
        guard let client else { return lastAttempt.map { $0 + Self.reconnectInterval } }
        guard sentUntil != nil, let sentAt else { return nil }
        return sentAt + client.limits.heartbeatTimeout / 3
    }

    /// Locks (if connected) and closes the link: the first thing a stop does.
    func lockAndClose() {
        if let client {
            if let reply = try? client.lock() { remember(reply) }
            client.close()
        }
        client = nil
        sentUntil = nil
    }

    private func remember(_ reply: LatchReply) {
        line = reply.line
        wanted = reply.wanted
    }

    private func lose(_ why: String, _ events: inout [LatchEvent]) {
        client?.close()
        client = nil
        line = nil
        sentUntil = nil
        sentAt = nil
        lastError = why
        logger.error("lost the latch owner; it locks the door", metadata: ["error": "\(why)"])
        events.append(.linkLost(why))
    }

    private static func event(_ notice: LatchNotice) -> LatchEvent {
        switch notice {
        case .relocked(let reason): return .relocked(reason)
        case .lockFailed(let attempt, let error): return .lockFailed(attempt: attempt, error: error)
        case .lockRestored(let attempts): return .lockRestored(attempts: attempts)
        }
    }
}
