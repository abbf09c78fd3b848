import Support

/// How a 3x3 convolution is computed. All three give the same result up to float32 rounding;
/// they differ in speed, memory, and how much rounding error they add.
public enum ConvAlgorithm: String, Sendable, CaseIterable, Codable {
    /// im2col rows in bands + one sgemm per band. The reference order of summation; weights at 1x.
    case im2col
    /// Winograd F(2x2, 3x3): 2.25x fewer multiplies, error close to im2col, weights at 16/9x.
    case winograd2
    /// Winograd F(4x4, 3x3): 4x fewer multiplies, about 5-10x im2col's rounding error, weights at 4x.
    case winograd4
    /// Winograd F(2x2, 3x3) with the weights kept as they are and transformed while the layer runs, a block
    /// of output channels at a time: `winograd2`'s arithmetic at im2col's weight memory, for the cost of
    /// transforming the weights on every pass (small where the maps are small and the weights large).
    case winograd2Streamed = "winograd2-streamed"
    /// Winograd F(4x4, 3x3) with streamed weights (see `winograd2Streamed`).
    case winograd4Streamed = "winograd4-streamed"

    /// Output tile side for Winograd (0 for im2col).
    var tile: Int {
        switch self {
        case .im2col: return 0
        case .winograd2, .winograd2Streamed: return 2
        case .winograd4, .winograd4Streamed: return 4
        }
    }

    /// Whether the weights stay in HWIO form and are transformed on every pass.
    var streamsWeights: Bool { self == .winograd2Streamed || self == .winograd4Streamed }

    /// Floats of prepared weights per original weight.
    public var weightExpansion: Double {
        switch self {
        case .im2col, .winograd2Streamed, .winograd4Streamed: return 1
        case .winograd2: return 16.0 / 9.0
        case .winograd4: return 4
        }
    }
}

/// The algorithm for each of the 13 convolutions.
public struct ExecutionPlan: Sendable, Equatable, CustomStringConvertible {
    public var algorithms: [ConvAlgorithm]

    public init(_ algorithms: [ConvAlgorithm]) {
        precondition(algorithms.count == VGG16.convLayers.count, "a plan names one algorithm per convolution")
        self.algorithms = algorithms
    }

    /// Every layer with the same algorithm (block1_conv1, with 3 input channels, always uses im2col:
    /// Winograd saves nothing there).
    public static func uniform(_ algorithm: ConvAlgorithm) -> ExecutionPlan {
        ExecutionPlan(VGG16.convLayers.map { $0.cin < 16 ? .im2col : algorithm })
    }

    /// The daemon's plan: Winograd everywhere, with each layer's weights kept in whichever form the 100 MiB
    /// budget affords. F(4x4) with transformed weights where they are small (block1_conv2 and block 2: 4 MiB
    /// transformed); F(4x4) in blocks 3-4 and F(2x2) in block 5 (whose 14x14 maps leave F(4x4) too few tiles)
    /// with streamed weights, where 14 of the 14.7 M weights live and a transformed copy would cost 4x
    /// (16/9x) of them. Batch-1 inference with weights stays under 100 MiB resident, within a few percent of
    /// `fast`'s time; F(4x4)'s rounding is about 10x im2col's (~1e-6 relative over the network).
    public static let inference = ExecutionPlan(
        VGG16.convLayers.map { layer in
            if layer.cin < 16 { return .im2col }
            switch layer.block {
            case ...2: return .winograd4
            case 3, 4: return .winograd4Streamed
            default: return .winograd2Streamed
            }
        })

    /// The daemon's fast plan, for boards with memory to spare: Winograd F(4x4) where it wins (blocks 1-4),
    /// F(2x2) in block 5, whose 14x14 maps leave F(4x4) too few tiles, all with transformed weights. A few
    /// percent faster than `inference` at batch 1 (no weight transforms per frame) for about twice its memory
    /// (~200 MiB resident with weights); at larger batches the difference grows.
    public static let fast = ExecutionPlan(
        VGG16.convLayers.map { layer in
            if layer.cin < 16 { return .im2col }
            return layer.block <= 4 ? .winograd4 : .winograd2
        })

    /// The trainer's plan: fastest everywhere; memory is plentiful and F(4x4)'s extra rounding (~1e-6
    /// relative per layer) is far below the noise of stochastic gradient descent.
    public static let training = ExecutionPlan.uniform(.winograd4)

    /// Exact reference order everywhere.
    public static let reference = ExecutionPlan.uniform(.im2col)

    /// The daemon's two plans, as `[compute] plan` names them.
    public enum Preset: String, NamedChoice {
        /// `inference`: under 100 MiB resident, Winograd with streamed weights where the weights are large.
        case frugal
        /// `fast`: a few percent faster, about twice the memory.
        case fast

        public var plan: ExecutionPlan {
            switch self {
            case .frugal: .inference
            case .fast: .fast
            }
        }
    }

    /// Floats of prepared weights.
    public var preparedWeightFloats: Int {
        zip(VGG16.convLayers, algorithms).reduce(0) { total, pair in
            total + Int((Double(9 * pair.0.cin * pair.0.cout) * pair.1.weightExpansion).rounded())
        }
    }

    public var description: String {
        zip(VGG16.convLayers, algorithms).map { "\($0.name)=\($1.rawValue)" }.joined(separator: ",")
    }

    /// Parses an algorithm's name ("im2col", "winograd2", "winograd4-streamed", ...: every layer with it),
    /// "inference" (or "frugal"), "fast", "training", "reference", or a comma-separated list of
    /// `layer=algorithm` overrides applied to the inference plan.
    public init?(parsing text: String) {
        switch text {
        case "inference", "frugal": self = .inference; return
        case "fast": self = .fast; return
        case "training": self = .training; return
        case "reference": self = .reference; return
        default: break
        }
        if let algorithm = ConvAlgorithm(rawValue: text) { self = .uniform(algorithm); return }
        var plan = ExecutionPlan.inference
        for part in text.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2, let i = VGG16.index(of: kv[0]), let a = ConvAlgorithm(rawValue: kv[1]) else {
                return nil
            }
            plan.algorithms[i] = a
        }
        self = plan
    }
}
