import Imaging

/// Decides cheaply whether a frame needs the network: an idle scene (nothing moving) costs almost nothing.
///
/// Each frame is reduced to a small grey thumbnail (`Thumbnail`, 32x24 by default) and compared with the previous
/// frame's: a pixel counts as changed when it differs by more than `pixelThreshold` grey levels, and the frame
/// shows motion when more than `sensitivity` of the pixels changed. Comparing consecutive frames makes slow
/// changes (daylight, clouds) invisible and lets anything that stops moving become scenery at once.
///
/// Frames are evaluated while there is motion, for `holdAfterMotion` seconds after the last motion (so an
/// animal that stops in front of the door is still looked at long enough for the vote), and once every
/// `idleInterval` seconds regardless (0 disables that), so that something that arrived unseen is checked too.
/// Pure logic with injected time: tested exactly.
public struct MotionGate: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Fraction of thumbnail pixels that must change for motion (0.002 to 0.5).
        public var sensitivity: Double = 0.01
        /// Grey levels a pixel must change by to count (1 to 255).
        public var pixelThreshold: Int = 12
        /// Seconds frames stay evaluated after the last motion.
        public var holdAfterMotion: Double = 3
        /// Seconds between evaluations of a still scene (0: never).
        public var idleInterval: Double = 30

        public init(
            sensitivity: Double = 0.01, pixelThreshold: Int = 12, holdAfterMotion: Double = 3, idleInterval: Double = 30
        ) {
            self.sensitivity = sensitivity
            self.pixelThreshold = pixelThreshold
            self.holdAfterMotion = holdAfterMotion
            self.idleInterval = idleInterval
        }
    }

    /// Why a frame was (not) evaluated.
    public enum Verdict: String, Sendable, Equatable {
        /// The first frame, or the scene changed size: no background yet.
        case first
        case motion
        /// No motion now, but recently.
        case afterMotion = "after_motion"
        /// The periodic look at a still scene.
        case idleCheck = "idle_check"
        /// Still scene: skipped.
        case still

        public var evaluate: Bool { self != .still }
    }

    public let settings: Settings
    private var previous: [UInt8] = []
    private var size = (0, 0)
    private var lastMotion = -Double.infinity
    private var lastEvaluation = -Double.infinity
    /// Fraction of changed pixels in the latest frame.
    public private(set) var changedFraction = 0.0

    public init(settings: Settings = Settings()) { self.settings = settings }

    /// Looks at a frame's thumbnail taken at `time` (seconds, monotonic) and says whether to evaluate it.
    public mutating func observe(_ thumbnail: Thumbnail, at time: Double) -> Verdict {
        let pixels = thumbnail.pixels
        defer { previous = pixels }
        guard !previous.isEmpty, size == (thumbnail.width, thumbnail.height) else {
            size = (thumbnail.width, thumbnail.height)
            lastMotion = time
            lastEvaluation = time
            changedFraction = 1
            return .first
        }
        var changed = 0
        let threshold = settings.pixelThreshold
        for i in 0..<pixels.count where abs(Int(pixels[i]) - Int(previous[i])) > threshold { changed += 1 }
        changedFraction = Double(changed) / Double(pixels.count)
        let moving = changedFraction > settings.sensitivity
        let verdict: Verdict
        if moving {
            lastMotion = time
            verdict = .motion
        } else if time - lastMotion <= settings.holdAfterMotion {
            verdict = .afterMotion
        } else if settings.idleInterval > 0 && time - lastEvaluation >= settings.idleInterval {
            verdict = .idleCheck
        } else {
            verdict = .still
        }
        if verdict.evaluate { lastEvaluation = time }
        return verdict
    }
}

/// A small grey version of a frame for the motion gate.
public struct Thumbnail: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Box-averaged grey (Rec. 601 luma) thumbnail of `image`, `width` x `height`.
    public init(_ image: Image, width: Int = 32, height: Int = 24) {
        var out = [UInt8](repeating: 0, count: width * height)
        image.pixels.withUnsafeBufferPointer { src in
            for ty in 0..<height {
                let y0 = ty * image.height / height, y1 = max(y0 + 1, (ty + 1) * image.height / height)
                for tx in 0..<width {
                    let x0 = tx * image.width / width, x1 = max(x0 + 1, (tx + 1) * image.width / width)
                    // Sample a 4x4 grid inside the cell: cheap and stable enough for change detection.
                    var sum = 0, n = 0
                    for sy in 0..<4 {
                        let y = y0 + (y1 - y0) * sy / 4
                        for sx in 0..<4 {
                            let x = x0 + (x1 - x0) * sx / 4
                            let p = (y * image.width + x) * 3
                            sum += 299 * Int(src[p]) + 587 * Int(src[p + 1]) + 114 * Int(src[p + 2])
                            n += 1
                        }
                    }
                    out[ty * width + tx] = UInt8(min(255, sum / (1000 * n)))
                }
            }
        }
        self.init(width: width, height: height, pixels: out)
    }
}
