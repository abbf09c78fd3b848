import DecisionCore

extension DecisionParameters {
    /// The documented defaults with threshold 0.9, adjustable per test.
    public static func test(
        n: Int = 3, m: Int = 5, window: Duration = .seconds(3), threshold: Double = 0.9,
        hold: Duration = .seconds(10), maxOpen: Duration = .seconds(60),
        cooldown: Duration = .seconds(5), nearMiss: Int? = nil,
        maxManualUnlock: Duration = .seconds(1800)
    ) -> DecisionParameters {
        DecisionParameters(
            requiredPositives: n, voteFrames: m, window: window, threshold: threshold, hold: hold,
            maxOpen: maxOpen, cooldown: cooldown, nearMissPositives: nearMiss,
            maxManualUnlock: maxManualUnlock)
    }
}
