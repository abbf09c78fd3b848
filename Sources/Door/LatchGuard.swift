import Synchronization

/// Protects the latch hardware from the software above it: a minimum gap between actuations (no relay
/// chatter) and a maximum time energised (a solenoid must not stay powered for hours). Time is injected.
///
/// Locking is always immediate: de-energising is the safe direction, so the gap only delays an unlock.
/// An unlock requested too soon after the previous actuation is deferred and applied by `tick(at:)` once
/// the gap has passed (a lock in the meantime cancels it). When the latch has been unlocked for
/// `maximumUnlocked`, `tick(at:)` locks it and reports `.forcedLock`.
public final class LatchGuard: Sendable {
    /// What a lock or unlock request did.
    public enum Outcome: Hashable, Sendable {
        /// The latch was actuated.
        case applied
        /// The latch was already in that state (a pending unlock may have been cancelled).
        case unchanged
        /// The unlock waits until the minimum gap has passed; `tick(at:)` applies it.
        case deferred(until: MonotonicInstant)
    }

    /// What a tick did.
    public enum TickOutcome: Hashable, Sendable {
        case nothing
        /// A deferred unlock was applied.
        case appliedDeferredUnlock
        /// The latch had been unlocked for the maximum time and was locked.
        case forcedLock
    }

    public let latch: any Latch
    public let minimumGap: Duration
    public let maximumUnlocked: Duration

    private struct State {
        var lastActuation: MonotonicInstant?
        var unlockedSince: MonotonicInstant?
        var pendingUnlock: MonotonicInstant?
        var closed = false
    }
    private let storage = Mutex(State())

    /// Guards `latch`, which must be locked now (as latches are when created).
    public init(latch: any Latch, minimumGap: Duration, maximumUnlocked: Duration) {
        precondition(minimumGap >= .zero && maximumUnlocked > .zero, "LatchGuard: invalid limits")
        self.latch = latch
        self.minimumGap = minimumGap
        self.maximumUnlocked = maximumUnlocked
    }

    /// The latch's state.
    public var state: LatchState { latch.state }

    /// When a deferred unlock will be applied, if one is pending.
    public var pendingUnlock: MonotonicInstant? { storage.withLock { $0.pendingUnlock } }

    /// The latest time `tick(at:)` must be called for a deferred unlock or the energised-time limit to take
    /// effect on time.
    public var nextDeadline: MonotonicInstant? {
        storage.withLock { state in
            [state.pendingUnlock, state.unlockedSince.map { $0 + maximumUnlocked }].compactMap { $0 }.min()
        }
    }

    /// Locks now (cancelling any pending unlock).
    @discardableResult
    public func lock(at now: MonotonicInstant) throws(LatchError) -> Outcome {
        try perform { state throws(LatchError) -> Outcome in
            state.pendingUnlock = nil
            guard latch.state != .locked else { return .unchanged }
            try latch.lock()
            state.lastActuation = now
            state.unlockedSince = nil
            return .applied
        }
    }

    /// Unlocks now, or as soon as the minimum gap since the last actuation has passed.
    @discardableResult
    public func unlock(at now: MonotonicInstant) throws(LatchError) -> Outcome {
        try perform { state throws(LatchError) -> Outcome in
            guard latch.state != .unlocked else {
                state.pendingUnlock = nil
                return .unchanged
            }
            if let last = state.lastActuation, now < last + minimumGap {
                state.pendingUnlock = last + minimumGap
                return .deferred(until: last + minimumGap)
            }
            try latch.unlock()
            state.pendingUnlock = nil
            state.lastActuation = now
            state.unlockedSince = now
            return .applied
        }
    }

    /// Applies a due deferred unlock, and locks a latch that has been unlocked for `maximumUnlocked`.
    @discardableResult
    public func tick(at now: MonotonicInstant) throws(LatchError) -> TickOutcome {
        try perform { state throws(LatchError) -> TickOutcome in
            if let since = state.unlockedSince, now >= since + maximumUnlocked, latch.state == .unlocked {
                try latch.lock()
                state.lastActuation = now
                state.unlockedSince = nil
                state.pendingUnlock = nil
                return .forcedLock
            }
            if let due = state.pendingUnlock, now >= due {
                state.pendingUnlock = nil
                guard latch.state == .locked else { return .nothing }
                try latch.unlock()
                state.lastActuation = now
                state.unlockedSince = now
                return .appliedDeferredUnlock
            }
            return .nothing
        }
    }

    /// Locks, then releases the latch (`Latch.close()`), whatever happened before. Later requests throw
    /// `.closed`. Calling it again does nothing.
    public func close() throws(LatchError) {
        let alreadyClosed = storage.withLock { state in
            defer { state.closed = true; state.pendingUnlock = nil }
            return state.closed
        }
        guard !alreadyClosed else { return }
        try latch.close()
    }

    private func perform<T: Sendable>(_ body: (inout State) throws(LatchError) -> T) throws(LatchError) -> T {
        let result: Result<T, LatchError> = storage.withLock { state in
            guard !state.closed else { return .failure(LatchError(.closed, latch: latch.name)) }
            do throws(LatchError) {
                return .success(try body(&state))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
