import Support

/// Slows down password guessing: after `limit` failed logins within `window` for one user name, or from one
/// address, that name or address is refused for `lockout` without checking the password (the refusal says
/// so, and when to try again). A success clears the name's and the address's failures. Pure: the caller
/// passes the monotonic time.
public struct LoginThrottle: Sendable {
    public var limit = 5
    public var window: Duration = .seconds(15 * 60)
    public var lockout: Duration = .seconds(15 * 60)
    /// Most names and addresses remembered; the oldest are forgotten first (a flood of made-up names must not
    /// grow the process).
    public var capacity = 1_024

    private struct Record {
        var failures: [MonotonicInstant] = []
        var lockedUntil: MonotonicInstant?
        var lastSeen: MonotonicInstant
    }
    private var records: [String: Record] = [:]

    public init() {}

    /// How long `name` from `address` must still wait, or nil if it may try now.
    public func retryAfter(name: String, address: String, at now: MonotonicInstant) -> Duration? {
        let waits = [Self.key(name: name), Self.key(address: address)].compactMap { key -> Duration? in
            guard let until = records[key]?.lockedUntil, until > now else { return nil }
            return until - now
        }
        return waits.max()
    }

    /// Records a failed login; returns the lockout it started, if any.
    @discardableResult
    public mutating func recordFailure(name: String, address: String, at now: MonotonicInstant) -> Duration? {
        var started: Duration?
        for key in [Self.key(name: name), Self.key(address: address)] {
            var record = records[key] ?? Record(lastSeen: now)
            record.failures = record.failures.filter { now - $0 < window } + [now]
            record.lastSeen = now
            if record.failures.count >= limit {
                record.lockedUntil = now + lockout
                record.failures = []
                started = lockout
            }
            records[key] = record
        }
        forgetOldest()
        return started
    }

    /// Records a successful login: the name's and the address's failures are forgiven.
    public mutating func recordSuccess(name: String, address: String) {
        records[Self.key(name: name)] = nil
        records[Self.key(address: address)] = nil
    }

    private mutating func forgetOldest() {
        guard records.count > capacity else { return }
        let excess = records.count - capacity
        for key in records.sorted(by: { $0.value.lastSeen < $1.value.lastSeen }).prefix(excess).map(\.key) {
            records[key] = nil
        }
    }

    private static func key(name: String) -> String { "user:" + name }
    private static func key(address: String) -> String { "addr:" + address }
}

/// `bytes` random bytes from the system's cryptographic generator (getrandom), as lowercase hex.
public func randomToken(bytes: Int = 32) -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<bytes).map { _ in
        let byte = UInt8.random(in: 0...255, using: &generator)
        return String(byte >> 4, radix: 16) + String(byte & 15, radix: 16)
    }.joined()
}
