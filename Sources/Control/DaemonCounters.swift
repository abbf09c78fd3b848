import Support

/// A histogram of durations with fixed bucket bounds: how many observations fell at or below each bound (not
/// cumulative: `counts[i]` counts the observations in `(bounds[i-1], bounds[i]]`, the last count those above
/// every bound), their sum, for Prometheus and for `dogdoor status --json`.
public struct LatencyHistogram: Equatable, Sendable, Codable {
    /// Upper bounds in milliseconds, ascending.
    public var boundsMilliseconds: [Double]
    /// One count per bound, plus one for everything above the last bound.
    public var counts: [UInt64]
    public var sumMilliseconds: Double

    /// Bounds for scoring a frame: from a fast x86 core (well under 100 ms) to a Raspberry Pi 4 (about 1 s).
    public static let inferenceBounds: [Double] = [25, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 2_000, 5_000]

    public init(bounds: [Double] = LatencyHistogram.inferenceBounds) {
        boundsMilliseconds = bounds
        counts = Array(repeating: 0, count: bounds.count + 1)
        sumMilliseconds = 0
    }

    public mutating func record(milliseconds: Double) {
        let index = boundsMilliseconds.firstIndex { milliseconds <= $0 } ?? boundsMilliseconds.count
        counts[index] += 1
        sumMilliseconds += milliseconds
    }

    public var count: UInt64 { counts.reduce(0, +) }

    enum CodingKeys: String, ExhaustiveCodingKey {
        case boundsMilliseconds = "bounds_ms"
        case counts
        case sumMilliseconds = "sum_ms"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        boundsMilliseconds = try c.decode([Double].self, forKey: .boundsMilliseconds)
        counts = try c.decode([UInt64].self, forKey: .counts)
        sumMilliseconds = try c.decode(Double.self, forKey: .sumMilliseconds)
        guard counts.count == boundsMilliseconds.count + 1,
            zip(boundsMilliseconds, boundsMilliseconds.dropFirst()).allSatisfy({ $0 < $1 })
        else {
            throw JSONDecodingError(
                at: decoder.codingPath + [CodingKeys.counts],
                reason: "needs one count per bound plus one, bounds ascending")
        }
    }
}

/// What the daemon counted since it started, beyond frames: for metrics (dogdoor-web's /metrics).
public struct DaemonCounters: Equatable, Sendable, Codable {
    /// Unlocks by the vote (Bo recognised).
    public var unlocksByVote: UInt64 = 0
    /// Unlocks by a command (a person).
    public var unlocksByCommand: UInt64 = 0
    /// Episodes with positive frames that never reached the vote.
    public var nearMisses: UInt64 = 0
    /// Votes that passed but were refused: cooldown, curfew or locked mode.
    public var refusedVotes: UInt64 = 0
    /// Times the camera went from working to reconnecting.
    public var cameraReconnects: UInt64 = 0
    /// How long loading and verifying the running model took.
    public var modelLoadSeconds: Double = 0
    /// The daemon's resident memory, sampled at most once a second.
    public var residentBytes: Int = 0
    /// Time to score a frame (decode, preprocessing, network).
    public var inference = LatencyHistogram()

    public init() {}

    enum CodingKeys: String, ExhaustiveCodingKey {
        case unlocksByVote = "unlocks_vote"
        case unlocksByCommand = "unlocks_command"
        case nearMisses = "near_misses"
        case refusedVotes = "refused_votes"
        case cameraReconnects = "camera_reconnects"
        case modelLoadSeconds = "model_load_s"
        case residentBytes = "resident_bytes"
        case inference = "inference_ms"
    }
}
