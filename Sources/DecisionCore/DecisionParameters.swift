import Support

/// The numbers that govern automatic unlocking. See docs/decision-policy.md for what each one means and
/// why the defaults are what they are.
public struct DecisionParameters: Hashable, Sendable {
    /// N: positive frames needed among the last `voteFrames` (at least 2: a single frame never unlocks).
    public var requiredPositives: Int
    /// M: how many of the most recent evaluated frames take part in the vote.
    public var voteFrames: Int
    /// W: frames older than this no longer count, however few frames arrived since.
    public var window: Duration
    /// A frame is positive when its probability is at least this.
    public var threshold: Double
    /// How long the door stays unlocked after the last positive frame.
    public var hold: Duration
    /// The door never stays unlocked longer than this in automatic mode, however long the dog is seen.
    public var maxOpen: Duration
    /// After every door cycle, no automatic unlock for this long.
    public var cooldown: Duration
    /// An episode whose vote peaked at this many positives (but below N) without unlocking is a near miss.
    public var nearMissPositives: Int
    /// Longest manual unlock; longer requests are shortened to this.
    public var maxManualUnlock: Duration

    /// Parameters with the documented defaults for everything not given.
    public init(
        requiredPositives: Int = 3, voteFrames: Int = 5, window: Duration = .seconds(3), threshold: Double,
        hold: Duration = .seconds(10), maxOpen: Duration = .seconds(60), cooldown: Duration = .seconds(5),
        nearMissPositives: Int? = nil, maxManualUnlock: Duration = .seconds(30 * 60)
    ) {
        self.requiredPositives = requiredPositives
        self.voteFrames = voteFrames
        self.window = window
        self.threshold = threshold
        self.hold = hold
        self.maxOpen = maxOpen
        self.cooldown = cooldown
        self.nearMissPositives = nearMissPositives ?? max(1, requiredPositives - 1)
        self.maxManualUnlock = maxManualUnlock
    }

    /// Allowed ranges. The configuration checks keys against these same numbers.
    public static let requiredPositivesRange = 2...20
    public static let voteFramesMaximum = 50
    public static let windowRange = Duration.milliseconds(500)...Duration.seconds(60)
    public static let holdRange = Duration.seconds(1)...Duration.seconds(5 * 60)
    public static let maxOpenMaximum: Duration = .seconds(30 * 60)
    public static let cooldownRange = Duration.zero...Duration.seconds(10 * 60)
    public static let maxManualUnlockRange = Duration.seconds(1)...Duration.seconds(24 * 3600)

    /// Checks every parameter and the relations between them; the error names the offending parameter by
    /// its configuration key (`n`, `m`, `window`, `threshold`, `hold`, `max_open`, `cooldown`, `near_miss`,
    /// `max_manual_unlock`).
    public func validate() throws(DecisionParameterError) {
        func fail(_ key: String, _ message: String) -> DecisionParameterError {
            DecisionParameterError(key: key, message: message)
        }
        func check(_ key: String, _ value: Duration, _ range: ClosedRange<Duration>) throws(DecisionParameterError) {
            guard range.contains(value) else {
                throw fail(
                    key,
                    "must be between \(DurationText.format(range.lowerBound)) and "
                        + "\(DurationText.format(range.upperBound)), got \(DurationText.format(value))")
            }
        }
        let nRange = Self.requiredPositivesRange
        guard nRange.contains(requiredPositives) else {
            throw fail(
                "n",
                "must be between \(nRange.lowerBound) and \(nRange.upperBound) "
                    + "(a single frame never unlocks), got \(requiredPositives)")
        }
        guard (requiredPositives...Self.voteFramesMaximum).contains(voteFrames) else {
            throw fail("m", "must be between n (\(requiredPositives)) and \(Self.voteFramesMaximum), got \(voteFrames)")
        }
        try check("window", window, Self.windowRange)
        guard threshold.isFinite, threshold > 0, threshold < 1 else {
            throw fail("threshold", "must be greater than 0 and less than 1, got \(threshold)")
        }
        try check("hold", hold, Self.holdRange)
        try check("max_open", maxOpen, hold...Self.maxOpenMaximum)
        try check("cooldown", cooldown, Self.cooldownRange)
        guard (1..<requiredPositives).contains(nearMissPositives) else {
            throw fail("near_miss", "must be between 1 and n - 1 (\(requiredPositives - 1)), got \(nearMissPositives)")
        }
        try check("max_manual_unlock", maxManualUnlock, Self.maxManualUnlockRange)
    }

    /// The voting rule in words, e.g. `3 of last 5 >= 0.90 within 3.0 s`.
    public var ruleDescription: String {
        "\(requiredPositives) of last \(voteFrames) >= \(formatDecimal(threshold, minimumDecimals: 2, maximumDecimals: 4))"
            + " within \(formatSeconds(window))"
    }
}

/// A decision parameter outside its allowed range.
public struct DecisionParameterError: Error, Equatable, CustomStringConvertible {
    /// The parameter's configuration key (within `[decision]`, except `max_manual_unlock`).
    public var key: String
    /// What is wrong, e.g. `must be between 1s and 5m, got 0s`.
    public var message: String
    public var description: String { "\(key): \(message)" }
}
