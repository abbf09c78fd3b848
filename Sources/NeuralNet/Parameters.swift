import Support

/// Weights of one convolution: HWIO kernel `[3, 3, cin, cout]` and bias `[cout]`.
public final class ConvParameters: @unchecked Sendable {
    public let spec: ConvSpec
    public let kernel: FloatBuffer
    public let bias: FloatBuffer

    public init(spec: ConvSpec) {
        self.spec = spec
        kernel = FloatBuffer(count: 9 * spec.cin * spec.cout)
        bias = FloatBuffer(count: spec.cout)
    }
}

/// All parameters of the classifier, owned in memory: the 13 convolutions and the Dense(512 -> 1) head.
/// The trainer updates these in place.
public final class VGG16Parameters: ConvWeightSource, @unchecked Sendable {
    public let conv: [ConvParameters]
    public var head: DenseHead

    /// Zero-filled parameters.
    public init() {
        conv = VGG16.convLayers.map { ConvParameters(spec: $0) }
        head = DenseHead(kernel: [Float](repeating: 0, count: VGG16.featureCount), bias: 0)
    }

    public func withConvWeights<R>(
        _ layer: ConvSpec, _ body: (UnsafePointer<Float>, UnsafePointer<Float>) throws -> R
    ) throws -> R {
        guard let p = conv.first(where: { $0.spec == layer }) else {
            preconditionFailure("unknown layer \(layer.name)")
        }
        return try body(p.kernel.pointer, p.bias.pointer)
    }

    /// A deep copy.
    public func copy() -> VGG16Parameters {
        let other = VGG16Parameters()
        for (a, b) in zip(conv, other.conv) {
            b.kernel.copy(from: a.kernel.pointer)
            b.bias.copy(from: a.bias.pointer)
        }
        other.head = head
        return other
    }
}

extension VGG16Parameters {
    /// He-uniform random conv weights, small random biases and a Glorot-uniform head with bias 0.25, from
    /// `seed`: a network with realistic activation statistics for benchmarks and tests.
    public static func seededRandom(seed: UInt64) -> VGG16Parameters {
        var rng = SeededRandom(seed: seed)
        let p = VGG16Parameters()
        for layer in p.conv {
            let limit = (6.0 / Double(9 * layer.spec.cin)).squareRoot()
            for i in 0..<layer.kernel.count { layer.kernel[i] = Float(rng.uniform(-limit, limit)) }
            for i in 0..<layer.bias.count { layer.bias[i] = Float(rng.uniform(-0.05, 0.05)) }
        }
        let limit = (6.0 / Double(VGG16.featureCount + 1)).squareRoot()
        p.head = DenseHead(kernel: (0..<VGG16.featureCount).map { _ in Float(rng.uniform(-limit, limit)) }, bias: 0.25)
        return p
    }
}
