import NeuralNet
import Support

/// The learning rate of each step of a phase: an optional linear warm-up, then constant or a half cosine
/// down to zero at the phase's last step. Pure arithmetic, so the trainer and its tests agree on every step.
public struct LearningRateSchedule: Sendable, Equatable {
    /// The rate after warm-up (the recipe's learning rate for the phase).
    public var peak: Double
    /// Steps of linear warm-up from `peak / warmupSteps` up to `peak`; 0 starts at `peak`.
    public var warmupSteps: Int
    /// Steps in the phase.
    public var totalSteps: Int
    /// Decay after warm-up along a half cosine to 0 at the last step; constant when false.
    public var cosineDecay: Bool

    public init(peak: Double, warmupSteps: Int, totalSteps: Int, cosineDecay: Bool) {
        precondition(peak > 0 && warmupSteps >= 0 && totalSteps >= 1)
        self.peak = peak
        self.warmupSteps = min(warmupSteps, totalSteps)
        self.totalSteps = totalSteps
        self.cosineDecay = cosineDecay
    }

    /// The rate of step `step` (0-based, `0..<totalSteps`).
    ///
    /// Warm-up gives step k the rate `peak * (k + 1) / warmupSteps`, so its last step runs at `peak`. The
    /// decay spans the steps after warm-up and stops one step short of the cosine's zero: every step moves
    /// the weights, the last one only a little.
    public func rate(at step: Int) -> Double {
        precondition(step >= 0 && step < totalSteps)
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        guard cosineDecay else { return peak }
        let decaySteps = totalSteps - warmupSteps
        let progress = Double(step - warmupSteps + 1) / Double(decaySteps + 1)
        return peak * 0.5 * (1 + cos(Double.pi * progress))
    }
}

/// Centring and scaling of the pooled features for training the head, folded into the Dense head when the
/// model is written, so that the model format and the daemon stay the same.
///
/// Why: VGG16's pooled features are large (a norm of about 265 on the tutorial photos) and far from zero on
/// average. RMSprop moves each weight by about its learning rate whatever the gradient's size, so a step
/// moves a logit by about `learningRate * sum |feature|`: some 4 logits with raw features, which makes the
/// head of the tutorial's recipe jump between one-class answers from step to step. Centred features divided
/// by their overall spread move it by about 0.4 at the same rate, and the Glorot initialisation starts with
/// logits of a sensible size instead of tens.
///
/// One scale for all features, not one per feature: RMSprop already adapts each weight's step to its own
/// gradient, and a per-feature scale would multiply a nearly constant feature (one that ReLU keeps at 0 on
/// the training photos) by a huge factor in the written head, which a new image could then set off.
public struct FeatureStandardisation: Sendable, Equatable {
    /// Per-feature mean over the training images.
    public var mean: [Float]
    /// The root mean square of the centred features, over all images and features.
    public var scale: Float

    public init(mean: [Float], scale: Float) {
        precondition(scale > 0 && scale.isFinite)
        self.mean = mean
        self.scale = scale
    }

    /// The statistics of `features` (one row per training image, at least one).
    public init(features: [[Float]]) {
        precondition(!features.isEmpty)
        let width = features[0].count
        var sums = [Double](repeating: 0, count: width)
        for row in features {
            for j in 0..<width { sums[j] += Double(row[j]) }
        }
        let means = sums.map { $0 / Double(features.count) }
        var squares = 0.0
        for row in features {
            for j in 0..<width {
                let d = Double(row[j]) - means[j]
                squares += d * d
            }
        }
        let rms = (squares / Double(features.count * width)).squareRoot()
        // Identical images (a test set, a single photo) have no spread: then only the centring applies.
        self.init(mean: means.map(Float.init), scale: rms > 1e-6 ? Float(rms) : 1)
    }

    /// `(feature - mean) / scale`.
    public func apply(_ feature: [Float]) -> [Float] {
        precondition(feature.count == mean.count)
        return (0..<feature.count).map { (feature[$0] - mean[$0]) / scale }
    }

    /// The head on raw features that gives the same logit as `head` on standardised ones:
    /// `w . (f - m) / s + b = (w / s) . f + (b - (w / s) . m)`.
    public func fold(_ head: DenseHead) -> DenseHead {
        precondition(head.kernel.count == mean.count)
        let kernel = head.kernel.map { $0 / scale }
        var shift = 0.0
        for j in 0..<kernel.count { shift += Double(kernel[j]) * Double(mean[j]) }
        return DenseHead(kernel: kernel, bias: Float(Double(head.bias) - shift))
    }
}

/// The average of a phase's weights at the ends of its last epochs (Polyak averaging over epochs): where the
/// weights still move from epoch to epoch, the average sits in the middle of where they move instead of at
/// wherever the last step left them, and no epoch has to be picked on validation data.
///
/// Sums are kept in float64, one buffer per tensor that trains (for the fine-tuned network about 59 MB of
/// float32 weights give 118 MB of sums: memory the training machine has, the door never needs).
final class WeightAverage {
    private var convSums: [Int: [Double]] = [:]
    private var headSum: [Double] = []
    private var biasSum = 0.0
    private(set) var count = 0
    let layers: Range<Int>

    /// Averages the head and the conv layers in `layers` (an empty range: the head only).
    init(layers: Range<Int>) {
        self.layers = layers
    }

    /// Adds the current weights.
    func add(_ parameters: VGG16Parameters, threads: ComputeThreads) {
        if count == 0 {
            headSum = [Double](repeating: 0, count: parameters.head.kernel.count)
            for i in layers {
                convSums[i] = [Double](
                    repeating: 0, count: parameters.conv[i].kernel.count + parameters.conv[i].bias.count)
            }
        }
        for j in 0..<headSum.count { headSum[j] += Double(parameters.head.kernel[j]) }
        biasSum += Double(parameters.head.bias)
        for i in layers {
            let kernel = parameters.conv[i].kernel, bias = parameters.conv[i].bias
            convSums[i]!.withUnsafeMutableBufferPointer { sum in
                let s = UncheckedBox(sum)
                threads.forEach(threads.count) { part, _ in
                    let (start, end) = Self.slice(part, of: threads.count, total: kernel.count)
                    for k in start..<end { s.value[k] += Double(kernel.pointer[k]) }
                }
                for k in 0..<bias.count { sum[kernel.count + k] += Double(bias.pointer[k]) }
            }
        }
        count += 1
    }

    /// Replaces the weights in `parameters` with the average of those added.
    func write(to parameters: VGG16Parameters) {
        precondition(count > 0)
        let n = Double(count)
        parameters.head = DenseHead(kernel: headSum.map { Float($0 / n) }, bias: Float(biasSum / n))
        for i in layers {
            let kernel = parameters.conv[i].kernel, bias = parameters.conv[i].bias
            let sum = convSums[i]!
            for k in 0..<kernel.count { kernel.pointer[k] = Float(sum[k] / n) }
            for k in 0..<bias.count { bias.pointer[k] = Float(sum[kernel.count + k] / n) }
        }
    }

    private static func slice(_ part: Int, of parts: Int, total: Int) -> (Int, Int) {
        let size = (total + parts - 1) / parts
        return (min(total, part * size), min(total, (part + 1) * size))
    }
}
