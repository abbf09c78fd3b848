import Camera
import Control
import Support

/// Frame counters and rates for status and the watchdog.
struct FrameCounters {
    var seen: UInt64 = 0
    var evaluatedCount: UInt64 = 0
    var corrupt: UInt64 = 0
    var still: UInt64 = 0
    /// When the pipeline last made progress (a frame evaluated or found still).
    var lastProgress: MonotonicInstant?
    /// Mean inference time, exponentially weighted.
    private(set) var inferenceMilliseconds = 0.0
    /// Every inference time since the start, in buckets.
    private(set) var inferenceHistogram = LatencyHistogram()
    private var recent: [MonotonicInstant] = []

    mutating func evaluated(milliseconds: Double, at now: MonotonicInstant) {
        inferenceMilliseconds = evaluatedCount == 0 ? milliseconds : 0.9 * inferenceMilliseconds + 0.1 * milliseconds
        evaluatedCount += 1
        inferenceHistogram.record(milliseconds: milliseconds)
        lastProgress = now
        recent.append(now)
        recent.removeAll { now - $0 > .seconds(5) }
    }

    /// Frames evaluated per second over the last five seconds.
    var framesPerSecond: Double {
        guard recent.count > 1, let first = recent.first, let last = recent.last, last > first else { return 0 }
        return Double(recent.count - 1) / (last - first).seconds
    }
}
