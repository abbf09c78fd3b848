import CKernels
import NeuralNet
import Support

/// RMSprop with Keras 3 semantics, in float32:
/// `v = rho * v + (1 - rho) * g^2;  w -= lr * g / sqrt(v + epsilon)`, velocities starting at zero.
public final class RMSprop: @unchecked Sendable {
    /// The rate of the next updates (a schedule changes it between steps).
    public var learningRate: Float
    public let rho: Float
    public let epsilon: Float
    private var velocities: [ObjectIdentifier: FloatBuffer] = [:]
    private var headVelocity: [Float] = []
    private var headBiasVelocity: Float = 0
    /// Threads that share each update (element-wise, so the result does not depend on their number).
    public let threads: ComputeThreads
    /// Steps taken.
    public private(set) var iterations = 0

    public init(
        learningRate: Float, rho: Float = 0.9, epsilon: Float = 1e-7, threads: ComputeThreads = ComputeThreads(1)
    ) {
        self.learningRate = learningRate
        self.rho = rho
        self.epsilon = epsilon
        self.threads = threads
    }

    /// Updates `weights` in place from `gradient` (same count); the velocity is kept per weights buffer.
    public func update(_ weights: FloatBuffer, gradient: FloatBuffer) {
        precondition(weights.count == gradient.count)
        let velocity: FloatBuffer
        if let v = velocities[ObjectIdentifier(weights)] {
            velocity = v
        } else {
            velocity = FloatBuffer(count: weights.count)
            velocities[ObjectIdentifier(weights)] = velocity
        }
        let (w, g, v) = (weights.pointer, gradient.pointer, velocity.pointer)
        let (lr, rho, epsilon) = (learningRate, self.rho, self.epsilon)
        // Slices of whole cache lines; small tensors (biases) in one piece.
        let slice = max(4096, (weights.count + threads.count - 1) / threads.count + 15) / 16 * 16
        threads.forEach((weights.count + slice - 1) / slice) { part, _ in
            let start = part * slice, count = min(weights.count, start + slice) - start
            dd_rmsprop_update(w + start, g + start, v + start, count, lr, rho, epsilon)
        }
    }

    /// Updates the head from its gradients.
    public func update(_ head: inout DenseHead, kernelGradient: [Float], biasGradient: Float) {
        if headVelocity.isEmpty { headVelocity = [Float](repeating: 0, count: head.kernel.count) }
        head.kernel.withUnsafeMutableBufferPointer { w in
            kernelGradient.withUnsafeBufferPointer { g in
                headVelocity.withUnsafeMutableBufferPointer { v in
                    dd_rmsprop_update(
                        w.baseAddress!, g.baseAddress!, v.baseAddress!, w.count, learningRate, rho, epsilon)
                }
            }
        }
        var bias = head.bias
        var g = biasGradient
        dd_rmsprop_update(&bias, &g, &headBiasVelocity, 1, learningRate, rho, epsilon)
        head.bias = bias
    }

    /// Marks the end of one optimisation step.
    public func step() { iterations += 1 }
}

/// Binary cross-entropy on logits, as Keras's `BinaryCrossentropy(from_logits=True)` with its default mean over
/// the batch, in a numerically stable form: `max(z, 0) - z*y + log(1 + exp(-|z|))`.
public enum BinaryCrossEntropy {
    public static func loss(logits: [Float], labels: [Float]) -> Double {
        precondition(logits.count == labels.count && !logits.isEmpty)
        var sum = 0.0
        for (logit, label) in zip(logits, labels) {
            let z = Double(logit), y = Double(label)
            sum += max(z, 0) - z * y + log1p(exp(-abs(z)))
        }
        return sum / Double(logits.count)
    }

    /// d(mean loss)/d(logit_i) = (sigmoid(z_i) - y_i) / n.
    public static func gradient(logits: [Float], labels: [Float]) -> [Float] {
        zip(logits, labels).map { (sigmoid($0) - $1) / Float(logits.count) }
    }

    /// Fraction of logits on the right side of 0 (Keras's `BinaryAccuracy(from_logits=True)`).
    public static func accuracy(logits: [Float], labels: [Float]) -> Double {
        Double(zip(logits, labels).filter { ($0 > 0) == ($1 > 0.5) }.count) / Double(logits.count)
    }
}
