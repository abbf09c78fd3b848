import CImageCodecs
import Support

/// Random "door conditions": what a door camera sees that a photo set lacks. Night infrared frames, low
/// light, motion blur, JPEG artefacts and a dog partly out of frame, each drawn independently with its own
/// probability.
///
/// They apply to a training image of side x side x 3 floats (HWC, RGB, 0...255) after `Augmentation`'s
/// affine transform and before centering. Draw them from the sample's generator after
/// `Augmentation.randomParameters`, so that the affine draws, and with `.none` the images, stay as they are.
public struct DoorConditions: Sendable, Equatable {
    /// Probability of an infrared night frame: grayscale from luminance, a contrast change, the IR lamp's
    /// hot spot (brighter centre) and sensor noise.
    public var infraredProbability: Double
    /// Contrast multiplier of an infrared frame, about its mean (0.25...4).
    public var infraredContrast: ClosedRange<Double>
    /// Sensor noise of an infrared frame: standard deviation in 0...255 units (0...64).
    public var infraredNoise: ClosedRange<Double>
    /// Probability of a low-light frame, when the frame is not infrared (an IR frame is lit by its lamp).
    public var lowLightProbability: Double
    /// Brightness multiplier of a low-light frame (0.01...1).
    public var lowLightFactor: ClosedRange<Double>
    /// Gamma of a low-light frame, applied before the factor: above 1 darkens mid-tones more (0.2...5).
    public var lowLightGamma: ClosedRange<Double>
    /// Read noise of a low-light frame, standard deviation in 0...255 units (0...64), per channel; shot noise
    /// is added on top, with a variance that grows with the signal.
    public var lowLightNoise: ClosedRange<Double>
    /// Probability of motion blur.
    public var motionBlurProbability: Double
    /// Length of the blur's line kernel in pixels (1...31).
    public var motionBlurLength: ClosedRange<Int>
    /// The blur's direction is drawn from ±this many degrees about the horizontal (0...90).
    public var motionBlurMaximumAngle: Double
    /// Probability of a JPEG round trip (libjpeg, 4:2:0, as a webcam's MJPEG stream).
    public var jpegProbability: Double
    /// Quality of that round trip (1...100).
    public var jpegQuality: ClosedRange<Int>
    /// Probability of a partial view: the subject partly out of frame or hidden behind something.
    public var partialViewProbability: Double
    /// Fraction of the image that leaves through one edge, or that a band along it covers (0...0.9).
    public var partialViewFraction: ClosedRange<Double>
    /// Share of partial views that cover a band (a door frame, a flap) instead of moving the image out.
    public var occlusionShare: Double

    public init(
        infraredProbability: Double = 0.15, infraredContrast: ClosedRange<Double> = 0.8...1.3,
        infraredNoise: ClosedRange<Double> = 2...8, lowLightProbability: Double = 0.1,
        lowLightFactor: ClosedRange<Double> = 0.15...0.6, lowLightGamma: ClosedRange<Double> = 1...1.5,
        lowLightNoise: ClosedRange<Double> = 1...5, motionBlurProbability: Double = 0.15,
        motionBlurLength: ClosedRange<Int> = 3...15, motionBlurMaximumAngle: Double = 30,
        jpegProbability: Double = 0.15, jpegQuality: ClosedRange<Int> = 10...50,
        partialViewProbability: Double = 0.1, partialViewFraction: ClosedRange<Double> = 0.2...0.45,
        occlusionShare: Double = 0.3
    ) {
        self.infraredProbability = infraredProbability
        self.infraredContrast = infraredContrast
        self.infraredNoise = infraredNoise
        self.lowLightProbability = lowLightProbability
        self.lowLightFactor = lowLightFactor
        self.lowLightGamma = lowLightGamma
        self.lowLightNoise = lowLightNoise
        self.motionBlurProbability = motionBlurProbability
        self.motionBlurLength = motionBlurLength
        self.motionBlurMaximumAngle = motionBlurMaximumAngle
        self.jpegProbability = jpegProbability
        self.jpegQuality = jpegQuality
        self.partialViewProbability = partialViewProbability
        self.partialViewFraction = partialViewFraction
        self.occlusionShare = occlusionShare
    }

    /// The door camera's conditions, each rare enough that about half the images stay clean
    /// (0.85 · 0.915 · 0.85 · 0.85 · 0.9 ≈ 0.51).
    public static let door = DoorConditions()

    /// No door conditions: `apply` leaves every image bit for bit as it was.
    public static let none = DoorConditions(
        infraredProbability: 0, lowLightProbability: 0, motionBlurProbability: 0, jpegProbability: 0,
        partialViewProbability: 0)

    /// Throws unless every probability is within 0...1 and every range finite and within the bounds its
    /// documentation states (which keep the per-image cost bounded).
    public func validate() throws(PreprocessingError) {
        func check(_ ok: Bool, _ reason: String) throws(PreprocessingError) {
            if !ok { throw .invalidAugmentation(reason) }
        }
        func within(_ range: ClosedRange<Double>, _ bounds: ClosedRange<Double>) -> Bool {
            range.lowerBound.isFinite && range.upperBound.isFinite && bounds.contains(range.lowerBound)
                && bounds.contains(range.upperBound)
        }
        for (name, p) in [
            ("infrared", infraredProbability), ("low-light", lowLightProbability),
            ("motion blur", motionBlurProbability), ("JPEG", jpegProbability), ("partial view", partialViewProbability),
            ("occlusion share", occlusionShare),
        ] {
            try check(p.isFinite && (0...1).contains(p), "\(name) probability \(p) is not within 0...1")
        }
        try check(
            within(infraredContrast, 0.25...4), "infrared contrast \(infraredContrast) is not within 0.25...4")
        try check(within(infraredNoise, 0...64), "infrared noise \(infraredNoise) is not within 0...64")
        try check(within(lowLightFactor, 0.01...1), "low-light factor \(lowLightFactor) is not within 0.01...1")
        try check(within(lowLightGamma, 0.2...5), "low-light gamma \(lowLightGamma) is not within 0.2...5")
        try check(within(lowLightNoise, 0...64), "low-light noise \(lowLightNoise) is not within 0...64")
        try check(
            motionBlurLength.lowerBound >= 1 && motionBlurLength.upperBound <= 31,
            "motion blur length \(motionBlurLength) is not within 1...31 pixels")
        try check(
            motionBlurMaximumAngle.isFinite && (0...90).contains(motionBlurMaximumAngle),
            "motion blur angle \(motionBlurMaximumAngle) is not within 0...90 degrees")
        try check(
            jpegQuality.lowerBound >= 1 && jpegQuality.upperBound <= 100,
            "JPEG quality \(jpegQuality) is not within 1...100")
        try check(
            within(partialViewFraction, 0...0.9), "partial view fraction \(partialViewFraction) is not within 0...0.9")
    }

    /// Draws one sample's conditions for a side x side image. Every value is drawn, in a fixed order, whether
    /// or not its effect is on, so the stream a seed gives does not depend on the settings; the draws come
    /// after whatever the caller drew before from `random`.
    public func randomParameters(side: Int, using random: inout SeededRandom) -> DoorConditionParameters {
        func draw(_ range: ClosedRange<Double>) -> Double { random.uniform(range.lowerBound, range.upperBound) }
        func draw(_ range: ClosedRange<Int>) -> Int { range.lowerBound + random.nextInt(below: range.count) }

        let isInfrared = random.nextDouble() < infraredProbability
        let infrared = DoorConditionParameters.Infrared(
            contrast: draw(infraredContrast), noise: draw(infraredNoise), hotSpot: random.uniform(0, 0.35))
        let isLowLight = random.nextDouble() < lowLightProbability
        let lowLight = DoorConditionParameters.LowLight(
            factor: draw(lowLightFactor), gamma: draw(lowLightGamma), noise: draw(lowLightNoise))
        let isBlurred = random.nextDouble() < motionBlurProbability
        let blur = DoorConditionParameters.MotionBlur(
            length: draw(motionBlurLength), angle: random.uniform(-motionBlurMaximumAngle, motionBlurMaximumAngle))
        let isJPEG = random.nextDouble() < jpegProbability
        let quality = draw(jpegQuality)
        let isPartial = random.nextDouble() < partialViewProbability
        let fraction = draw(partialViewFraction)
        let edge = DoorConditionParameters.Edge.allCases[random.nextInt(below: 4)]
        let occluded = random.nextDouble() < occlusionShare
        let level = random.uniform(0, 255)
        let noiseSeed = random.next()
        return DoorConditionParameters(
            infrared: isInfrared ? infrared : nil, lowLight: isLowLight && !isInfrared ? lowLight : nil,
            motionBlur: isBlurred ? blur : nil, jpegQuality: isJPEG ? quality : nil,
            partialView: isPartial
                ? DoorConditionParameters.PartialView(
                    edge: edge, fraction: fraction, occluderLevel: occluded ? level : nil)
                : nil,
            noiseSeed: noiseSeed)
    }
}

/// One sample's door conditions. `apply` runs them in the order a camera would: the framing (partial view),
/// the motion during the exposure (blur), the sensor (infrared or low light, with noise), the encoder (JPEG).
public struct DoorConditionParameters: Sendable, Equatable {
    /// An infrared night frame.
    public struct Infrared: Sendable, Equatable {
        /// Contrast multiplier about the frame's mean luminance.
        public var contrast: Double
        /// Noise standard deviation, 0...255 units (the same in all three channels: the frame stays gray).
        public var noise: Double
        /// Darkening towards the corners, 0...1: the IR lamp lights the middle of the view most.
        public var hotSpot: Double

        public init(contrast: Double, noise: Double, hotSpot: Double) {
            self.contrast = contrast
            self.noise = noise
            self.hotSpot = hotSpot
        }
    }

    /// A dim frame: value' = 255 · factor · (value / 255)^gamma, plus noise.
    public struct LowLight: Sendable, Equatable {
        /// Brightness multiplier.
        public var factor: Double
        /// Exponent of the tone curve (above 1 darkens mid-tones).
        public var gamma: Double
        /// Read noise standard deviation, 0...255 units, independent per channel. Shot noise adds a variance
        /// of noise² · value' / 32 (equal to the read noise's at value' = 32).
        public var noise: Double

        public init(factor: Double, gamma: Double, noise: Double) {
            self.factor = factor
            self.gamma = gamma
            self.noise = noise
        }
    }

    /// A box blur along a line through each pixel.
    public struct MotionBlur: Sendable, Equatable {
        /// Taps along the line, one pixel apart.
        public var length: Int
        /// Direction in degrees, counter-clockwise from the horizontal.
        public var angle: Double

        public init(length: Int, angle: Double) {
            self.length = length
            self.angle = angle
        }
    }

    /// An edge of the image.
    public enum Edge: String, Sendable, Equatable, CaseIterable {
        case left, right, top, bottom
    }

    /// The subject partly out of view.
    public struct PartialView: Sendable, Equatable {
        /// The edge the image leaves through, or that the band lies along.
        public var edge: Edge
        /// Fraction of the side moved out, or covered.
        public var fraction: Double
        /// nil: the image moves out through `edge` and the opposite edge's pixels fill the gap. Otherwise a
        /// band of this gray level (0...255) covers `fraction` of the image along `edge`.
        public var occluderLevel: Double?

        public init(edge: Edge, fraction: Double, occluderLevel: Double? = nil) {
            self.edge = edge
            self.fraction = fraction
            self.occluderLevel = occluderLevel
        }

        /// The band's or the move's width in pixels for an image of `side`.
        public func pixels(side: Int) -> Int { min(side, max(0, Int((fraction * Double(side)).rounded()))) }
    }

    /// An infrared night frame, or nil.
    public var infrared: Infrared?
    /// A dim frame, or nil; ignored when `infrared` is set.
    public var lowLight: LowLight?
    /// Motion blur, or nil.
    public var motionBlur: MotionBlur?
    /// Quality of a JPEG round trip, 1...100.
    public var jpegQuality: Int?
    /// The subject partly out of view, or nil.
    public var partialView: PartialView?
    /// Seeds the sensor noise.
    public var noiseSeed: UInt64

    public init(
        infrared: Infrared? = nil, lowLight: LowLight? = nil, motionBlur: MotionBlur? = nil, jpegQuality: Int? = nil,
        partialView: PartialView? = nil, noiseSeed: UInt64 = 0
    ) {
        self.infrared = infrared
        self.lowLight = lowLight
        self.motionBlur = motionBlur
        self.jpegQuality = jpegQuality
        self.partialView = partialView
        self.noiseSeed = noiseSeed
    }

    /// No change.
    public static let identity = DoorConditionParameters()

    /// Whether `apply` would leave the image as it is.
    public var isIdentity: Bool {
        infrared == nil && lowLight == nil && motionBlur == nil && jpegQuality == nil && partialView == nil
    }

    /// Applies the conditions in place to `side * side * 3` floats (HWC, RGB, 0...255); the result stays
    /// within 0...255. Deterministic: the same parameters give the same floats.
    public func apply(to buffer: UnsafeMutablePointer<Float>, side: Int) {
        precondition(side > 0, "door conditions need a non-empty image")
        guard !isIdentity else { return }
        let count = side * side * 3
        var noise = NoiseStream(seed: noiseSeed)
        if let partialView {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { scratch in
                DoorEffects.partialView(partialView, buffer, side: side, scratch: scratch.baseAddress!)
            }
        }
        if let motionBlur, motionBlur.length > 1 {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { scratch in
                DoorEffects.motionBlur(motionBlur, buffer, side: side, scratch: scratch.baseAddress!)
            }
        }
        if let infrared {
            DoorEffects.infrared(infrared, buffer, side: side, noise: &noise)
        } else if let lowLight {
            DoorEffects.lowLight(lowLight, buffer, count: count, noise: &noise)
        }
        if let jpegQuality {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { scratch in
                DoorEffects.jpeg(quality: jpegQuality, buffer, side: side, scratch: scratch.baseAddress!)
            }
        }
    }

    /// `apply(to:side:)` on an array.
    public func applied(to values: [Float], side: Int) -> [Float] {
        precondition(values.count == side * side * 3, "\(values.count) values for \(side)x\(side)x3")
        var result = values
        result.withUnsafeMutableBufferPointer { apply(to: $0.baseAddress!, side: side) }
        return result
    }
}

/// Near-Gaussian variates, cheap enough for one per pixel: a SplitMix64 stream, each draw the sum of four
/// 16-bit uniforms (Irwin-Hall), scaled to unit variance. Box-Muller's log and cosine would cost more than
/// the rest of an effect.
struct NoiseStream {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    @inline(__always)
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let sum = (z & 0xFFFF) + ((z >> 16) & 0xFFFF) + ((z >> 32) & 0xFFFF) + (z >> 48)
        // Four uniforms on [0, 1): mean 2, variance 1/3.
        return (Float(sum) * (1 / 65536) - 2) * 1.732_050_8
    }
}

@inline(__always)
private func clamp255(_ v: Float) -> Float { v < 0 ? 0 : (v > 255 ? 255 : v) }

/// The effects, each on a side x side x 3 HWC buffer in place.
enum DoorEffects {
    static func partialView(
        _ view: DoorConditionParameters.PartialView, _ buffer: UnsafeMutablePointer<Float>, side: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let n = view.pixels(side: side)
        guard n > 0 else { return }
        if let level = view.occluderLevel {
            let value = clamp255(Float(level))
            for r in 0..<side {
                for c in 0..<side {
                    let covered: Bool
                    switch view.edge {
                    case .left: covered = c < n
                    case .right: covered = c >= side - n
                    case .top: covered = r < n
                    case .bottom: covered = r >= side - n
                    }
                    if covered {
                        let p = buffer + (r * side + c) * 3
                        (p[0], p[1], p[2]) = (value, value, value)
                    }
                }
            }
            return
        }
        // Moving out through the right edge by n: output column c shows input column c - n, clamped (the gap
        // on the left repeats the input's first column, as Keras's "nearest" fill does).
        let (dr, dc): (Int, Int)
        switch view.edge {
        case .left: (dr, dc) = (0, -n)
        case .right: (dr, dc) = (0, n)
        case .top: (dr, dc) = (-n, 0)
        case .bottom: (dr, dc) = (n, 0)
        }
        scratch.update(from: buffer, count: side * side * 3)
        for r in 0..<side {
            let sr = min(max(r - dr, 0), side - 1)
            for c in 0..<side {
                let sc = min(max(c - dc, 0), side - 1)
                let p = buffer + (r * side + c) * 3, q = scratch + (sr * side + sc) * 3
                (p[0], p[1], p[2]) = (q[0], q[1], q[2])
            }
        }
    }

    /// The mean of `length` taps one pixel apart along the direction, centred on the pixel, each tap on the
    /// nearest pixel (as a rasterised line kernel), edges clamped.
    static func motionBlur(
        _ blur: DoorConditionParameters.MotionBlur, _ buffer: UnsafeMutablePointer<Float>, side: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let count = side * side * 3
        scratch.update(from: buffer, count: count)
        buffer.update(repeating: 0, count: count)
        let radians = blur.angle * Double.pi / 180
        let (cx, cy) = (cos(radians), -sin(radians))  // rows grow downwards
        let half = Double(blur.length - 1) / 2
        for k in 0..<blur.length {
            let t = Double(k) - half
            let dx = Int((t * cx).rounded()), dy = Int((t * cy).rounded())
            // Columns whose tap lies inside the image need no clamping: one contiguous run per row.
            let c0 = min(side, max(0, -dx)), c1 = max(c0, min(side, side - dx))
            for r in 0..<side {
                let sr = min(max(r + dy, 0), side - 1)
                let out = buffer + r * side * 3, src = scratch + sr * side * 3
                for c in 0..<c0 {
                    let s = src + min(max(c + dx, 0), side - 1) * 3
                    (out[3 * c], out[3 * c + 1], out[3 * c + 2]) =
                        (out[3 * c] + s[0], out[3 * c + 1] + s[1], out[3 * c + 2] + s[2])
                }
                let shifted = src + dx * 3
                for i in (c0 * 3)..<(c1 * 3) { out[i] += shifted[i] }
                for c in c1..<side {
                    let s = src + min(max(c + dx, 0), side - 1) * 3
                    (out[3 * c], out[3 * c + 1], out[3 * c + 2]) =
                        (out[3 * c] + s[0], out[3 * c + 1] + s[1], out[3 * c + 2] + s[2])
                }
            }
        }
        let scale = 1 / Float(blur.length)
        for i in 0..<count { buffer[i] *= scale }
    }

    /// Gray = Rec. 601 luma (as JPEG and Pillow compute it); contrast about the mean; the lamp's hot spot
    /// (1 - hotSpot · r², r the distance from the centre over the half diagonal); noise; clamped.
    static func infrared(
        _ ir: DoorConditionParameters.Infrared, _ buffer: UnsafeMutablePointer<Float>, side: Int,
        noise: inout NoiseStream
    ) {
        let pixels = side * side
        var total = 0.0
        for i in 0..<pixels {
            let p = buffer + 3 * i
            let y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
            p[0] = y
            total += Double(y)
        }
        let mean = Float(total / Double(pixels))
        let contrast = Float(ir.contrast), sigma = Float(ir.noise), hotSpot = Float(ir.hotSpot)
        let centre = Float(side) / 2, halfDiagonal2 = 2 * centre * centre
        for r in 0..<side {
            let dy = Float(r) + 0.5 - centre
            for c in 0..<side {
                let dx = Float(c) + 0.5 - centre
                let lamp = 1 - hotSpot * (dx * dx + dy * dy) / halfDiagonal2
                let p = buffer + 3 * (r * side + c)
                let v = clamp255((mean + contrast * (p[0] - mean)) * lamp + sigma * noise.next())
                (p[0], p[1], p[2]) = (v, v, v)
            }
        }
    }

    /// The tone curve through a 257-entry table with linear interpolation (a `pow` per value would cost
    /// about three times the whole effect), then read and shot noise per channel, clamped.
    static func lowLight(
        _ dim: DoorConditionParameters.LowLight, _ buffer: UnsafeMutablePointer<Float>, count: Int,
        noise: inout NoiseStream
    ) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 257) { table in
            for i in 0...256 {
                table[i] = Float(255 * dim.factor * pow(Double(min(i, 255)) / 255, dim.gamma))
            }
            let read2 = Float(dim.noise * dim.noise), shot = Float(dim.noise * dim.noise / 32)
            for i in 0..<count {
                let x = min(max(buffer[i], 0), 255)
                let j = Int(x)
                let v = table[j] + (table[j + 1] - table[j]) * (x - Float(j))
                buffer[i] = clamp255(v + (read2 + shot * v).squareRoot() * noise.next())
            }
        }
    }

    /// A round trip through libjpeg at `quality` with 4:2:0 subsampling (how webcams encode MJPEG): the real
    /// encoder's blocking, ringing and chroma bleeding rather than an imitation of them.
    static func jpeg(
        quality: Int, _ buffer: UnsafeMutablePointer<Float>, side: Int, scratch: UnsafeMutablePointer<UInt8>
    ) {
        let count = side * side * 3
        for i in 0..<count { scratch[i] = UInt8(clamp255(buffer[i]) + 0.5) }
        var options = dd_jpeg_encode_options()
        options.quality = Int32(min(max(quality, 1), 100))
        (options.luma_h, options.luma_v) = (2, 2)
        var status = dd_codec_status()
        var encoded: UnsafeMutablePointer<UInt8>?
        var size = 0
        let side32 = Int32(side)
        guard dd_jpeg_encode(scratch, side32, side32, side * 3, 3, &options, &encoded, &size, &status) == 0 else {
            // Only an allocation failure can get here: the arguments are valid by construction.
            preconditionFailure("door conditions: \(status.error(.jpeg, source: "JPEG round trip"))")
        }
        defer { dd_codec_free(encoded) }
        guard dd_jpeg_decode_rgb(encoded, size, 8, 0, 1, 0, scratch, side * 3, side32, side32, &status) == 0 else {
            preconditionFailure("door conditions: \(status.error(.jpeg, source: "JPEG round trip"))")
        }
        for i in 0..<count { buffer[i] = Float(scratch[i]) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension DoorConditions {
    /// The probabilities of the effects, for manifests and reports: "infrared 15%, low light 10%, ...".
    public var summary: String {
        [
            ("infrared", infraredProbability), ("low light", lowLightProbability),
            ("motion blur", motionBlurProbability), ("JPEG", jpegProbability),
            ("partial view", partialViewProbability),
        ].map { "\($0.0) \(Int(($0.1 * 100).rounded()))%" }.joined(separator: ", ")
    }
}
