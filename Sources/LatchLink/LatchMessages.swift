import Support

/// Whether the door latch holds the flap shut.
public enum LatchState: String, Hashable, Sendable, CaseIterable {
    /// Fail-secure rest state: the latch output is inactive (not energised).
    case locked
    /// The latch output is active (energised): the dog can push through.
    case unlocked
}

/// The latch as the recognition side knows it: the owner's line, or why it cannot say.
public enum LatchStatus: String, Hashable, Sendable, NamedChoice, Codable {
    case locked
    case unlocked
    /// Connected, but the owner has not reported the line yet.
    case unknown
    /// The latch owner cannot be reached (it keeps the door locked meanwhile).
    case unreachable

    public init(_ state: LatchState) { self = state == .locked ? .locked : .unlocked }
}

/// Which line of a GPIO chip drives the latch.
public enum GPIOLineSelector: Hashable, Sendable, CustomStringConvertible {
    /// The line at this offset on the chip.
    case offset(UInt32)
    /// The first line with this name on the chip (names come from the device tree or the driver).
    case name(String)

    public var description: String {
        switch self {
        case .offset(let offset): return String(offset)
        case .name(let name): return "\"\(name)\""
        }
    }
}

/// Why the latch owner keeps (or put) the line locked.
public enum LockReason: String, Hashable, Sendable, CaseIterable {
    /// No client is connected (dogdoord is not running, or lost its connection).
    case noClient = "no_client"
    /// The client asked for the lock, or never asked to unlock.
    case requested
    /// The unlock the client asked for ran to its end.
    case leaseEnded = "lease_ended"
    /// The client fell silent for longer than the heartbeat timeout while the door was unlocked.
    case heartbeatLost = "heartbeat_lost"
    /// The latch was energised for `max_unlocked`.
    case maximumUnlocked = "maximum_unlocked"
    /// The minimum gap since the last actuation has not passed yet (an unlock waits).
    case minimumGap = "minimum_gap"
    /// The owner is stopping.
    case stopping
}

/// The latch owner's limits, told to a client when it connects.
public struct LatchLimits: Hashable, Sendable {
    /// Silence after which an unlocked door is locked.
    public var heartbeatTimeout: Duration
    /// Longest continuous energised time.
    public var maximumUnlocked: Duration
    /// Shortest time between two actuations (an unlock waits for it; a lock never does).
    public var minimumGap: Duration

    public init(heartbeatTimeout: Duration, maximumUnlocked: Duration, minimumGap: Duration) {
        self.heartbeatTimeout = heartbeatTimeout
        self.maximumUnlocked = maximumUnlocked
        self.minimumGap = minimumGap
    }
}

/// A request from the recognition side (dogdoord) to the latch owner: one JSON object per message on a
/// `SOCK_SEQPACKET` Unix socket, e.g. `{"op":"unlock","ms":10000}`.
///
/// The latch messages are mapped by hand, not through Codable: each `op` (and each notice) has its own exact set
/// of fields, a message with one more field is refused and the client dropped, and the owner's parser is the
/// smallest piece of code between a socket and the GPIO line, read line by line in review and fuzzed
/// (`Tests/FuzzRegressions/messages`).
public enum LatchRequest: Hashable, Sendable {
    /// First message of a connection: who the client is and which protocol version it speaks.
    case hello(client: String)
    /// Unlock now (or once the minimum gap has passed) until `lease` from now at the latest. A repeated
    /// request while unlocked moves the end (a renewal).
    case unlock(lease: Duration)
    /// Lock now.
    case lock
    /// "Still here": keeps an unlocked door unlocked for another heartbeat timeout.
    case heartbeat
    /// The owner's state, changing nothing (does not count as a heartbeat).
    case status

    /// The protocol version this build speaks.
    public static let version = 1
    /// Longest unlock lease a request may ask for (the owner's `maximumUnlocked` shortens it further).
    public static let maximumLease: Duration = .seconds(86_400)

    public var json: JSONValue {
        switch self {
        case .hello(let client):
            return ["op": "hello", "client": .string(client), "version": .number(Double(Self.version))]
        case .unlock(let lease): return ["op": "unlock", "ms": .number(Double(lease.milliseconds))]
        case .lock: return ["op": "lock"]
        case .heartbeat: return ["op": "heartbeat"]
        case .status: return ["op": "status"]
        }
    }

    /// Parses one message; anything unexpected is an error (the owner then drops the client and locks).
    public init(parsing bytes: [UInt8]) throws(LatchProtocolError) {
        let object = try LatchProtocolError.object(bytes)
        guard case .string(let op)? = object["op"] else { throw LatchProtocolError("message needs an \"op\" string") }
        let fields: Set<String>
        switch op {
        case "hello":
            fields = ["op", "client", "version"]
            guard case .string(let client)? = object["client"], !client.isEmpty, client.utf8.count <= 64 else {
                throw LatchProtocolError("hello needs a \"client\" name of 1 to 64 bytes")
            }
            guard object["version"]?.intValue == Self.version else {
                throw LatchProtocolError(
                    "protocol version \(object["version"]?.serialized() ?? "missing"), this owner speaks \(Self.version)"
                )
            }
            self = .hello(client: client)
        case "unlock":
            fields = ["op", "ms"]
            guard let ms = object["ms"]?.intValue, ms >= 1, ms <= Self.maximumLease.milliseconds else {
                throw LatchProtocolError(
                    "unlock needs \"ms\": a whole number of milliseconds from 1 to \(Self.maximumLease.milliseconds)")
            }
            self = .unlock(lease: .milliseconds(ms))
        case "lock":
            fields = ["op"]
            self = .lock
        case "heartbeat":
            fields = ["op"]
            self = .heartbeat
        case "status":
            fields = ["op"]
            self = .status
        default:
            throw LatchProtocolError("unknown op \"\(op)\"")
        }
        if let extra = object.keys.first(where: { !fields.contains($0) }) {
            throw LatchProtocolError("unexpected field \"\(extra)\" in \(op)")
        }
    }
}

/// The owner's answer to a request, and the state it reports.
public struct LatchReply: Hashable, Sendable {
    /// Whether the request was carried out (a refused or malformed one is not).
    public var ok: Bool
    /// The level the line was last set to; nil while a lock has failed and is being retried.
    public var line: LatchState?
    /// What the owner's rules want the line to be now.
    public var wanted: LatchState
    /// Why `wanted` is locked.
    public var lockReason: LockReason?
    /// How long the current unlock may last at most (lease, heartbeat and energised-time limits together).
    public var unlockedFor: Duration?
    /// For a refused request: why.
    public var error: String?
    /// In the answer to `hello` only.
    public var limits: LatchLimits?

    public init(
        ok: Bool, line: LatchState?, wanted: LatchState, lockReason: LockReason?, unlockedFor: Duration? = nil,
        error: String? = nil, limits: LatchLimits? = nil
    ) {
        self.ok = ok
        self.line = line
        self.wanted = wanted
        self.lockReason = lockReason
        self.unlockedFor = unlockedFor
        self.error = error
        self.limits = limits
    }

    public var json: JSONValue {
        var object: JSONObject = [
            "reply": true, "ok": .bool(ok), "line": line.map { .string($0.rawValue) } ?? .null,
            "wanted": .string(wanted.rawValue),
        ]
        if let lockReason { object["lock_reason"] = .string(lockReason.rawValue) }
        if let unlockedFor { object["unlocked_ms"] = .number(Double(unlockedFor.milliseconds)) }
        if let error { object["error"] = .string(error) }
        if let limits {
            object["heartbeat_ms"] = .number(Double(limits.heartbeatTimeout.milliseconds))
            object["max_unlocked_ms"] = .number(Double(limits.maximumUnlocked.milliseconds))
            object["min_gap_ms"] = .number(Double(limits.minimumGap.milliseconds))
        }
        return .object(object)
    }

    init(_ object: JSONObject) throws(LatchProtocolError) {
        guard case .bool(let ok)? = object["ok"] else { throw LatchProtocolError("reply needs \"ok\"") }
        self.ok = ok
        switch object["line"] {
        case .null?: line = nil
        case .string(let text)?:
            guard let state = LatchState(rawValue: text) else {
                throw LatchProtocolError("unknown line state \"\(text)\"")
            }
            line = state
        default: throw LatchProtocolError("reply needs \"line\"")
        }
        guard case .string(let wantedText)? = object["wanted"], let wanted = LatchState(rawValue: wantedText) else {
            throw LatchProtocolError("reply needs \"wanted\"")
        }
        self.wanted = wanted
        if case .string(let reason)? = object["lock_reason"] {
            guard let value = LockReason(rawValue: reason) else {
                throw LatchProtocolError("unknown lock reason \"\(reason)\"")
            }
            lockReason = value
        }
        if let ms = object["unlocked_ms"]?.intValue { unlockedFor = .milliseconds(ms) }
        if case .string(let text)? = object["error"] { error = text }
        if let heartbeat = object["heartbeat_ms"]?.intValue, let maximum = object["max_unlocked_ms"]?.intValue,
            let gap = object["min_gap_ms"]?.intValue
        {
            limits = LatchLimits(
                heartbeatTimeout: .milliseconds(heartbeat), maximumUnlocked: .milliseconds(maximum),
                minimumGap: .milliseconds(gap))
        }
    }
}

/// Something the owner did on its own, sent to the connected client as it happens.
public enum LatchNotice: Hashable, Sendable {
    /// The owner locked the door by itself.
    case relocked(LockReason)
    /// Driving the line to locked failed (attempt `attempt`); it is retried every tick.
    case lockFailed(attempt: Int, error: String)
    /// After failures, the line reads locked again.
    case lockRestored(attempts: Int)

    public var json: JSONValue {
        switch self {
        case .relocked(let reason): return ["notice": "relocked", "reason": .string(reason.rawValue)]
        case .lockFailed(let attempt, let error):
            return ["notice": "lock_failed", "attempt": .number(Double(attempt)), "error": .string(error)]
        case .lockRestored(let attempts): return ["notice": "lock_restored", "attempts": .number(Double(attempts))]
        }
    }

    init(_ object: JSONObject) throws(LatchProtocolError) {
        switch object["notice"] {
        case .string("relocked")?:
            guard case .string(let text)? = object["reason"], let reason = LockReason(rawValue: text) else {
                throw LatchProtocolError("relocked notice needs a known \"reason\"")
            }
            self = .relocked(reason)
        case .string("lock_failed")?:
            guard let attempt = object["attempt"]?.intValue, case .string(let error)? = object["error"] else {
                throw LatchProtocolError("lock_failed notice needs \"attempt\" and \"error\"")
            }
            self = .lockFailed(attempt: attempt, error: error)
        case .string("lock_restored")?:
            guard let attempts = object["attempts"]?.intValue else {
                throw LatchProtocolError("lock_restored needs \"attempts\"")
            }
            self = .lockRestored(attempts: attempts)
        default:
            throw LatchProtocolError("unknown notice \(object["notice"]?.serialized() ?? "")")
        }
    }
}

/// A message from the owner: the reply to the last request, or a notice.
public enum LatchOwnerMessage: Hashable, Sendable {
    case reply(LatchReply)
    case notice(LatchNotice)

    public init(parsing bytes: [UInt8]) throws(LatchProtocolError) {
        let object = try LatchProtocolError.object(bytes)
        if object["notice"] != nil {
            self = .notice(try LatchNotice(object))
        } else {
            self = .reply(try LatchReply(object))
        }
    }
}

/// A malformed message on the latch socket.
public struct LatchProtocolError: Error, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// Largest message either side sends or accepts.
    public static let maximumMessageBytes = 1_024

    static func object(_ bytes: [UInt8]) throws(LatchProtocolError) -> JSONObject {
        guard bytes.count <= maximumMessageBytes else {
            throw LatchProtocolError("message longer than \(maximumMessageBytes) bytes")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw LatchProtocolError("message is not valid JSON: \(error)")
        }
        guard case .object(let object) = value else { throw LatchProtocolError("message must be a JSON object") }
        return object
    }
}

extension Duration {
    /// Whole milliseconds (rounded toward zero).
    public var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1_000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
