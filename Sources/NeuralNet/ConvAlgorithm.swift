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

    /// Output tile side for Winograd (0 for im2col).
    var tile: Int {
        switch self {
        case .im2col: return 0
        case .winograd2: return 2
        case .winograd4: return 4
        }
    }

    /// Floats of prepared weights per original weight.
    public var weightExpansion: Double {
        switch self {
        case .im2col: return 1
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

    /// The daemon's plan: fast where activations are large and weights small (blocks 1-3, Winograd),
    /// weight-frugal where weights dominate (blocks 4-5, im2col), so that batch-1 inference with weights
    /// stays under 100 MiB resident and within im2col's rounding error.
    public static let inference = ExecutionPlan(
        VGG16.convLayers.map { layer in
            if layer.cin < 16 { return .im2col }
            return layer.block <= 3 ? .winograd2 : .im2col
        })

    /// The daemon's fast plan, for boards with memory to spare: Winograd F(4x4) where it wins (blocks 1-4),
    /// F(2x2) in block 5, whose 14x14 maps leave F(4x4) too few tiles. About a third faster than `inference`
    /// at batch 1 and about twice its memory (~200 MiB resident with weights).
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
        /// `inference`: under 100 MiB resident, Winograd in blocks 1-3, im2col where the weights are large.
        case frugal
        /// `fast`: about a third faster, about twice the memory.
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

    /// Parses "im2col", "winograd2", "winograd4" (uniform), "inference" (or "frugal"), "fast", "training", "reference", or a
    /// comma-separated list of `layer=algorithm` overrides applied to the inference plan.
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
