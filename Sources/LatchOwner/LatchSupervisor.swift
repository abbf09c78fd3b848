import LatchLink
import Support

/// The latch owner's rules: when the line may be unlocked. A pure state machine on an injected clock; the
/// owner's server (`LatchOwnerServer`) feeds it the client's requests and the time, and drives the line to
/// what `step` says.
///
/// The line is unlocked only while all of these hold, and locked the moment one fails:
/// - a client is connected (a crashed, killed or OOM-killed dogdoord closes its socket: locked at once);
/// - the client's unlock lease has not ended (every unlock names its end; the client renews it);
/// - the client was heard from within the heartbeat timeout (a stopped or stalled dogdoord goes silent);
/// - the latch has been energised for less than `maximumUnlocked` in one go (the solenoid's duty limit).
/// An unlock also waits until `minimumGap` has passed since the last actuation (no relay chatter); locking
/// never waits. A lease that ended, or was cut by the heartbeat or the energised-time limit, is gone: only a
/// new unlock request opens the door again.
public struct LatchSupervisor: Sendable {
    public struct Settings: Hashable, Sendable {
        public var minimumGap: Duration
        public var maximumUnlocked: Duration
        public var heartbeatTimeout: Duration

        public init(minimumGap: Duration, maximumUnlocked: Duration, heartbeatTimeout: Duration) {
            precondition(
                minimumGap >= .zero && maximumUnlocked > .zero && heartbeatTimeout > .zero,
                "LatchSupervisor: invalid settings")
            self.minimumGap = minimumGap
            self.maximumUnlocked = maximumUnlocked
            self.heartbeatTimeout = heartbeatTimeout
        }

        public var limits: LatchLimits {
            LatchLimits(heartbeatTimeout: heartbeatTimeout, maximumUnlocked: maximumUnlocked, minimumGap: minimumGap)
        }
    }

    /// What `step` decided.
    public struct Step: Hashable, Sendable {
        /// The level the line must have now.
        public var wanted: LatchState
        /// Why it must be locked (nil when unlocked).
        public var lockReason: LockReason?
        /// Set when the rules just took an unlock away by themselves (lease end, silence, energised-time
        /// limit): the client is told.
        public var relocked: LockReason?
    }

    public let settings: Settings
    /// Whether a client is connected.
    public private(set) var connected = false
    /// The end of the current unlock lease.
    public private(set) var leaseEnd: MonotonicInstant?
    /// The last time the client was heard from.
    public private(set) var lastHeard: MonotonicInstant?
    /// The level last set successfully, and when; nil before the first actuation is recorded.
    public private(set) var line: LatchState?
    public private(set) var lastActuation: MonotonicInstant?
    /// Since when the line has been unlocked (energised) without a break.
    public private(set) var unlockedSince: MonotonicInstant?
    /// Why the line is locked, when it is.
    public private(set) var lockReason: LockReason = .noClient

    /// Rules for a line that is at `line` now (latches start locked). Taking the line over is not an actuation:
    /// the first unlock does not wait for the minimum gap.
    public init(settings: Settings, line: LatchState? = nil) {
        self.settings = settings
        self.line = line
    }

    // MARK: - Inputs

    /// A client connected (only one at a time; a new one starts with no lease).
    public mutating func connect(at now: MonotonicInstant) {
        connected = true
        leaseEnd = nil
        lastHeard = now
        lockReason = .requested
    }

    /// The client disconnected or was dropped: its lease ends now.
    public mutating func disconnect(at now: MonotonicInstant) {
        connected = false
        leaseEnd = nil
        lockReason = .noClient
    }

    /// The client asked to unlock until `lease` from now. Returns nil when accepted (the door unlocks now, or
    /// once the minimum gap has passed), else why not.
    public mutating func requestUnlock(lease: Duration, at now: MonotonicInstant) -> String? {
        guard connected else { return "no client" }
        guard lease > .zero else { return "an unlock lease must be positive" }
        lastHeard = now
        leaseEnd = now + lease
        return nil
    }

    /// The client asked to lock.
    public mutating func requestLock(at now: MonotonicInstant) {
        lastHeard = now
        leaseEnd = nil
        lockReason = .requested
    }

    /// The client was heard from (any request but `status`).
    public mutating func heard(at now: MonotonicInstant) {
        lastHeard = now
    }

    /// The line was set to `state` at `now` (successfully: the owner read it back).
    public mutating func actuated(_ state: LatchState, at now: MonotonicInstant) {
        if state != line { lastActuation = now }
        if state == .unlocked && line != .unlocked { unlockedSince = now }
        if state == .locked { unlockedSince = nil }
        line = state
    }

    /// Setting the line failed: its level is unknown until a later actuation succeeds. It counts as an
    /// actuation for the minimum gap.
    public mutating func actuationFailed(at now: MonotonicInstant) {
        line = nil
        lastActuation = now
    }

    // MARK: - Decision

    /// The level the line must have at `now`; drops a lease that the rules ended.
    public mutating func step(at now: MonotonicInstant) -> Step {
        guard connected else { return locked(.noClient, relocked: false) }
        guard let end = leaseEnd else {
            return locked(lockReason == .noClient ? .requested : lockReason, relocked: false)
        }
        let wasUnlocked = line == .unlocked
        if now >= end { return ending(.leaseEnded, relocked: wasUnlocked) }
        if let heard = lastHeard, now >= heard + settings.heartbeatTimeout {
            return ending(.heartbeatLost, relocked: wasUnlocked)
        }
        if let since = unlockedSince, line == .unlocked, now >= since + settings.maximumUnlocked {
            return ending(.maximumUnlocked, relocked: true)
        }
        if line != .unlocked, let last = lastActuation, now < last + settings.minimumGap {
            return Step(wanted: .locked, lockReason: .minimumGap, relocked: nil)
        }
        return Step(wanted: .unlocked, lockReason: nil, relocked: nil)
    }

    private mutating func ending(_ reason: LockReason, relocked: Bool) -> Step {
        leaseEnd = nil
        return locked(reason, relocked: relocked)
    }

    private mutating func locked(_ reason: LockReason, relocked: Bool) -> Step {
        lockReason = reason
        return Step(wanted: .locked, lockReason: reason, relocked: relocked ? reason : nil)
    }

    /// How long the door may stay unlocked from `now` if nothing else happens (nil when it must be locked).
    public func unlockedFor(at now: MonotonicInstant) -> Duration? {
        guard connected, let end = leaseEnd, let heard = lastHeard else { return nil }
        var until = min(end, heard + settings.heartbeatTimeout)
        if line == .unlocked, let since = unlockedSince { until = min(until, since + settings.maximumUnlocked) }
        return until > now ? until - now : nil
    }

    /// The next instant at which `step` may answer differently without any input: a lease end, the
    /// heartbeat deadline, the energised-time limit, or the end of the minimum gap before a waiting unlock.
    public func nextDeadline(at now: MonotonicInstant) -> MonotonicInstant? {
        guard connected, let end = leaseEnd else { return nil }
        var deadlines = [end]
        if let heard = lastHeard { deadlines.append(heard + settings.heartbeatTimeout) }
        if line == .unlocked, let since = unlockedSince { deadlines.append(since + settings.maximumUnlocked) }
        if line != .unlocked, let last = lastActuation, now < last + settings.minimumGap {
            deadlines.append(last + settings.minimumGap)
        }
        return deadlines.min()
    }
}
