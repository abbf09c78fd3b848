import CKernels
import Support

/// Gives access to HWIO kernels and biases of the 13 convolutions, wherever they are stored.
public protocol ConvWeightSource {
    /// Calls `body` with the layer's kernel `[3, 3, cin, cout]` and bias `[cout]`.
    func withConvWeights<R>(
        _ layer: ConvSpec, _ body: (_ kernel: UnsafePointer<Float>, _ bias: UnsafePointer<Float>) throws -> R
    ) throws -> R
}

/// The VGG16 conv base followed by global average pooling: NHWC images in, 512 features per image out.
///
/// Inference only. Weights are prepared once for the execution plan; activations live in two ping-pong
/// buffers sized for the largest batch seen so far, with every max-pool fused into the convolution before
/// it and block 1 computed in strips (in the buffer block 1 does not write), so that for one 224x224 image the
/// activations need 9.2 MiB.
public final class VGG16FeatureExtractor: FeatureExtracting, @unchecked Sendable {
    public let plan: ExecutionPlan
    public let workspace: Workspace
    private(set) var kernels: [ConvKernel]
    private(set) var biases: [FloatBuffer]
    private var ping = FloatBuffer(count: 0)
    private var pong = FloatBuffer(count: 0)
    /// When non-nil, `extract` adds each convolution's wall time (seconds) here, indexed by layer.
    public var layerSeconds: [Double]?

    /// Prepares the weights from `source` for `plan`, to run on `threads` with work cut into `chunking`'s sizes.
    public init(
        weights source: some ConvWeightSource, plan: ExecutionPlan, threads: ComputeThreads,
        chunking: Chunking = .inference
    ) throws {
        self.plan = plan
        workspace = Workspace(threads: threads, chunking: chunking)
        var kernels: [ConvKernel] = []
        var biases: [FloatBuffer] = []
        for (layer, algorithm) in zip(VGG16.convLayers, plan.algorithms) {
            try source.withConvWeights(layer) { kernel, bias in
                kernels.append(ConvKernel(hwio: kernel, cin: layer.cin, cout: layer.cout, algorithm: algorithm))
                let b = FloatBuffer(count: layer.cout)
                b.copy(from: bias)
                biases.append(b)
            }
        }
        self.kernels = kernels
        self.biases = biases
    }

    /// Re-prepares the weights after training changed them.
    public func update(weights source: some ConvWeightSource) throws {
        for (i, layer) in VGG16.convLayers.enumerated() {
            try source.withConvWeights(layer) { kernel, bias in
                kernels[i].update(hwio: kernel)
                biases[i].copy(from: bias)
            }
        }
    }

    /// Bytes held by prepared weights, biases, activations and scratch.
    public var memoryBytes: Int {
        let floats =
            kernels.reduce(0) { $0 + $1.prepared.count } + biases.reduce(0) { $0 + $1.count }
            + ping.count + pong.count + workspace.floatCount
        return floats * MemoryLayout<Float>.stride
    }

    /// Floats the two activation buffers need per image of side `side` (block1_conv1's output excluded: block 1
    /// runs in strips, see `block1`).
    static func activationFloats(side: Int) -> (ping: Int, pong: Int) {
        // Layer i reads from one buffer and writes the other; track the largest write into each.
        var sizes = [0, 0]
        var h = side
        for (i, layer) in VGG16.convLayers.enumerated() {
            let outSide = layer.poolAfter ? h / 2 : h
            if i > 0 { sizes[(i + 1) % 2] = max(sizes[(i + 1) % 2], outSide * outSide * layer.cout) }
            h = outSide
        }
        return (sizes[0], sizes[1])
    }

    /// Output rows of block1_conv2 per strip.
    static let stripRows = 32

    /// Rows of block1_conv1 output kept above and below a strip: enough for block1_conv2's 3x3 window and
    /// for its first row to start a Winograd tile.
    var stripHalo: Int { max(2, plan.algorithms[1].tile) }

    /// Floats of block1_conv1 output one strip holds (with a spare row above).
    func stripFloats(side: Int) -> Int { (Self.stripRows + 2 * stripHalo + 1) * side * 64 }

    /// Block 1 without its largest activation: block1_conv1's full output (224x224x64, 12.25 MiB per image)
    /// is never held. For each strip of block1_conv2 output rows, block1_conv1 computes just the rows that
    /// strip reads (recomputing a few halo rows, about 0.1% of the network's work), and block1_conv2 pools
    /// straight into `pooled` (`[batch][side/2][side/2][64]`). The strip lives in `strip`, at least
    /// `stripFloats(side:)` long and disjoint from `pooled`.
    private func block1(
        _ images: UnsafePointer<Float>, batch: Int, side: Int, pooled: UnsafeMutablePointer<Float>,
        strip: UnsafeMutablePointer<Float>
    ) {
        let halo = stripHalo
        let width = side * 64
        let first = VGG16.convLayers[0], second = VGG16.convLayers[1]
        for n in 0..<batch {
            let image = images + n * side * side * 3
            let output = pooled + n * (side / 2) * (side / 2) * second.cout
            var y0 = 0
            while y0 < side {
                let y1 = min(side, y0 + Self.stripRows)
                let a = max(0, y0 - halo), b = min(side, y1 + halo)  // block1_conv1 rows this strip needs
                let s0 = max(0, a - 1), s1 = min(side, b + 1)  // input rows those need
                // block1_conv1 rows [a, b) land in the strip from its second row on (its first row is spare).
                let start = strip + (1 - (a - s0)) * width
                kernels[0].forward(
                    image + s0 * side * 3,
                    shape: ActivationShape(batch: 1, height: s1 - s0, width: side, channels: first.cin),
                    bias: biases[0].pointer, relu: true, output: start, pooled: nil, workspace: workspace,
                    rows: (a - s0)..<(b - s0))
                kernels[1].forward(
                    strip + width,
                    shape: ActivationShape(batch: 1, height: b - a, width: side, channels: second.cin),
                    bias: biases[1].pointer, relu: true, output: nil,
                    pooled: output + (a / 2) * (side / 2) * second.cout, workspace: workspace,
                    rows: (y0 - a)..<(y1 - a))
                y0 = y1
            }
        }
    }

    /// Computes features for `batch` images `[batch][side][side][3]` (side divisible by 32) into
    /// `features` `[batch][512]`.
    public func extract(
        _ images: UnsafePointer<Float>, batch: Int, side: Int = VGG16.inputSize,
        features: UnsafeMutablePointer<Float>
    ) {
        precondition(
            batch >= 1 && side >= 32 && side % 32 == 0, "input must be a batch of images with sides divisible by 32")
        let need = Self.activationFloats(side: side)
        if ping.count < need.ping * batch { ping = FloatBuffer(count: need.ping * batch) }
        // Block 1 writes only `ping`; its strip borrows `pong`, which block2_conv1 fills afterwards.
        let pongFloats = max(need.pong * batch, stripFloats(side: side))
        if pong.count < pongFloats { pong = FloatBuffer(count: pongFloats) }
        let start = layerSeconds == nil ? 0 : MonotonicClock.now()
        block1(images, batch: batch, side: side, pooled: ping.pointer, strip: pong.pointer)
        if layerSeconds != nil { layerSeconds![1] += MonotonicClock.now() - start }
        var shape = ActivationShape(batch: batch, height: side / 2, width: side / 2, channels: VGG16.convLayers[1].cout)
        var source = UnsafePointer(ping.pointer)
        var buffers = [ping, pong]
        for (i, layer) in VGG16.convLayers.enumerated() where i >= 2 {
            let destination = buffers[(i + 1) % 2].pointer
            let start = layerSeconds == nil ? 0 : MonotonicClock.now()
            defer { if layerSeconds != nil { layerSeconds![i] += MonotonicClock.now() - start } }
            kernels[i].forward(
                source, shape: shape, bias: biases[i].pointer, relu: true,
                output: layer.poolAfter ? nil : destination,
                pooled: layer.poolAfter ? destination : nil, workspace: workspace)
            if layer.poolAfter {
                shape.height /= 2
                shape.width /= 2
            }
            shape.channels = layer.cout
            source = UnsafePointer(destination)
        }
        buffers.removeAll()
        let pixels = shape.height * shape.width
        for n in 0..<batch {
            dd_global_average_pool(
                source + n * shape.imageFloats, pixels, Int32(shape.channels),
                features + n * VGG16.featureCount)
        }
    }

    /// Every convolution's ReLU output and the final max-pool output for one image `[side][side][3]`, in layer
    /// order (14 arrays, NHWC). For diagnostics and per-layer verification; `extract` is the fast path.
    public func trace(_ image: [Float], side: Int) -> [[Float]] {
        precondition(image.count == side * side * 3 && side % 32 == 0)
        var shape = ActivationShape(batch: 1, height: side, width: side, channels: 3)
        var current = image
        var results: [[Float]] = []
        for (i, layer) in VGG16.convLayers.enumerated() {
            var out = [Float](repeating: 0, count: shape.height * shape.width * layer.cout)
            current.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    kernels[i].forward(
                        src.baseAddress!, shape: shape, bias: biases[i].pointer, relu: true,
                        output: dst.baseAddress!, pooled: nil, workspace: workspace)
                }
            }
            results.append(out)
            shape.channels = layer.cout
            if layer.poolAfter {
                var pooled = [Float](repeating: 0, count: out.count / 4)
                out.withUnsafeBufferPointer { src in
                    pooled.withUnsafeMutableBufferPointer { dst in
                        dd_maxpool2x2(
                            src.baseAddress!, Int32(shape.height), Int32(shape.width), Int32(layer.cout),
                            dst.baseAddress!)
                    }
                }
                shape.height /= 2
                shape.width /= 2
                current = pooled
            } else {
                current = out
            }
        }
        results.append(current)
        return results
    }
}

/// The Dense(512 -> 1) head: `logit = features . kernel + bias`, accumulated in double.
public struct DenseHead: Sendable, Equatable {
    public var kernel: [Float]
    public var bias: Float

    public init(kernel: [Float], bias: Float) {
        precondition(kernel.count == VGG16.featureCount, "head kernel must have \(VGG16.featureCount) weights")
        self.kernel = kernel
        self.bias = bias
    }

    public func logit(_ features: UnsafeBufferPointer<Float>) -> Float {
        var sum = Double(bias)
        for i in 0..<kernel.count { sum += Double(features[i]) * Double(kernel[i]) }
        return Float(sum)
    }

    public func logit(_ features: [Float]) -> Float { features.withUnsafeBufferPointer { logit($0) } }

    /// The size of the logit's terms, `|bias| + sum |w_i f_i|`: the scale rounding errors are relative to.
    public func magnitude(_ features: [Float]) -> Double {
        zip(features, kernel).reduce(Double(abs(bias))) { $0 + abs(Double($1.0) * Double($1.1)) }
    }
}

/// Logistic sigmoid, stable for large |x|.
public func sigmoid(_ x: Float) -> Float {
    x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x))
}
