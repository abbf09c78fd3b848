/// One 3x3 convolution of the VGG16 conv base.
public struct ConvSpec: Sendable, Equatable, Hashable {
    /// Keras layer name, e.g. "block3_conv2"; also the tensor name prefix in weight and model files.
    public let name: String
    /// Input channels.
    public let cin: Int
    /// Output channels.
    public let cout: Int
    /// 1-based block number.
    public let block: Int
    /// Whether a 2x2 max-pool follows (the last convolution of each block).
    public let poolAfter: Bool

    /// `[3, 3, cin, cout]`, the HWIO kernel shape.
    public var kernelShape: [Int] { [3, 3, cin, cout] }
    /// Weights plus biases.
    public var parameterCount: Int { 9 * cin * cout + cout }
    /// Multiply-adds times two for one image of the given size.
    public func flops(height: Int, width: Int) -> Double { 2.0 * Double(height * width) * Double(9 * cin * cout) }
}

/// The VGG16 architecture without its classifier ("notop"), as Keras builds it, followed by DogDoor's
/// head: global average pooling over block5_pool (7x7x512 for a 224x224 input) and Dense(512 -> 1).
public enum VGG16 {
    /// The 13 convolutions in order.
    public static let convLayers: [ConvSpec] = {
        let blocks: [(convs: Int, channels: Int)] = [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]
        var layers: [ConvSpec] = []
        var cin = 3
        for (b, block) in blocks.enumerated() {
            for c in 0..<block.convs {
                layers.append(
                    ConvSpec(
                        name: "block\(b + 1)_conv\(c + 1)", cin: cin, cout: block.channels,
                        block: b + 1, poolAfter: c == block.convs - 1))
                cin = block.channels
            }
        }
        return layers
    }()

    /// Parameters of the conv base: 14,714,688, as Keras reports for `VGG16(include_top=False)`.
    public static let baseParameterCount = convLayers.reduce(0) { $0 + $1.parameterCount }

    /// Channels out of the conv base, and so the length of the feature vector.
    public static let featureCount = 512

    /// The input side DogDoor runs the network at.
    public static let inputSize = 224

    /// Input sides a model file may name: multiples of 32 (five 2x2 poolings) from 32 to 512. Memory grows
    /// with the square of the side: at 512 the daemon's activations and scratch are about 5x those at 224
    /// (some 60 MiB more), still well inside its unit's 600 MiB limit, while 1024 would not be; and the
    /// bound is checked before anything of that size is allocated (a manifest is untrusted input).
    public static let supportedInputSizes = stride(from: 32, through: 512, by: 32)

    /// Whether `side` is one of `supportedInputSizes`.
    public static func supports(inputSize side: Int) -> Bool { side >= 32 && side <= 512 && side % 32 == 0 }

    /// Floating-point operations of one forward pass of the conv base for one 224x224 image
    /// (30.69 GFLOP; pooling, bias and ReLU excluded).
    public static let flopsPerImage: Double = {
        var total = 0.0
        var side = inputSize
        for layer in convLayers {
            total += layer.flops(height: side, width: side)
            if layer.poolAfter { side /= 2 }
        }
        return total
    }()

    /// The layer named `name`, or nil.
    public static func layer(named name: String) -> ConvSpec? { convLayers.first { $0.name == name } }

    /// Index of the layer named `name`, or nil.
    public static func index(of name: String) -> Int? { convLayers.firstIndex { $0.name == name } }
}
