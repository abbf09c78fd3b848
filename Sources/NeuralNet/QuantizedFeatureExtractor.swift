import CKernels
import Support

/// Gives access to the int8 form of the 12 convolutions after the first, wherever it is stored.
public protocol QuantizedWeightSource {
    /// Calls `body` with the layer's int8 HWIO kernel `[3, 3, cin, cout]`, its per-channel scales `[cout]` and
    /// its float bias `[cout]`.
    func withQuantizedWeights<R>(
        _ layer: ConvSpec,
        _ body: (_ kernel: UnsafePointer<Int8>, _ scales: UnsafePointer<Float>, _ bias: UnsafePointer<Float>) throws
            -> R
    ) throws -> R
}

/// A network's float parameters with their int8 form, in memory: what a quantised model file is written from.
public struct QuantizedParameters: QuantizedWeightSource, ConvWeightSource {
    public let parameters: VGG16Parameters
    /// One per int8 layer (block1_conv2 to block5_conv3).
    public let layers: [QuantizedConvWeights]
    /// The bias each int8 layer adds (see `QuantizationRecord.biasName`).
    public let biases: [FloatBuffer]

    /// Quantises every layer after the first (see `QuantizedConvWeights`) and corrects its bias for the mean
    /// error of the rounded weights on inputs with the calibration's tap means (one `[9 * cin]` array per int8
    /// layer), `bias + sum over taps and input channels of mean * (w - scale * byte)` in double, plus the
    /// calibration's empirical adjustment (`Int8Calibration.refined`).
    public init(_ parameters: VGG16Parameters, calibration: Int8Calibration) {
        let inputTapMeans = calibration.inputTapMeans
        precondition(inputTapMeans.count == QuantizationRecord.int8Layers.count, "one mean vector per int8 layer")
        self.parameters = parameters
        var layers: [QuantizedConvWeights] = []
        var biases: [FloatBuffer] = []
        for (index, (spec, means)) in zip(QuantizationRecord.int8Layers, inputTapMeans).enumerated() {
            precondition(means.count == 9 * spec.cin, "\(spec.name): expected \(9 * spec.cin) tap means")
            let p = parameters.conv[VGG16.index(of: spec.name)!]
            let q = QuantizedConvWeights(
                hwio: p.kernel.pointer, cin: spec.cin, cout: spec.cout, rounded: calibration.roundedKernels[index])
            var corrected = (0..<spec.cout).map { Double(p.bias[$0]) + calibration.biasAdjustments[index][$0] }
            for k in 0..<(9 * spec.cin) where means[k] != 0 {
                for c in 0..<spec.cout {
                    let error =
                        Double(p.kernel[k * spec.cout + c]) - Double(q.scales[c]) * Double(q.kernel[k * spec.cout + c])
                    corrected[c] += means[k] * error
                }
            }
            layers.append(q)
            biases.append(FloatBuffer(corrected.map { Float($0) }))
        }
        self.layers = layers
        self.biases = biases
    }

    public func withConvWeights<R>(
        _ layer: ConvSpec, _ body: (UnsafePointer<Float>, UnsafePointer<Float>) throws -> R
    ) throws -> R { try parameters.withConvWeights(layer, body) }

    public func withQuantizedWeights<R>(
        _ layer: ConvSpec, _ body: (UnsafePointer<Int8>, UnsafePointer<Float>, UnsafePointer<Float>) throws -> R
    ) throws -> R {
        let index = VGG16.index(of: layer.name)! - 1
        let q = layers[index]
        return try withExtendedLifetime(q) {
            try body(UnsafePointer(q.kernel), UnsafePointer(q.scales.pointer), UnsafePointer(biases[index].pointer))
        }
    }
}

/// What the daemon and tools need of a conv base: features of a batch of images, memory, and optional timing.
public protocol FeatureExtracting: AnyObject, Sendable {
    /// Computes features for `batch` images `[batch][side][side][3]` into `features` `[batch][512]`.
    func extract(_ images: UnsafePointer<Float>, batch: Int, side: Int, features: UnsafeMutablePointer<Float>)
    /// Bytes held by prepared weights, activations and scratch.
    var memoryBytes: Int { get }
    /// When non-nil, `extract` adds each convolution's wall time (seconds) here, indexed by layer.
    var layerSeconds: [Double]? { get set }
}

extension FeatureExtracting {
    /// Features of a batch, as arrays.
    public func extract(_ images: [Float], batch: Int, side: Int = VGG16.inputSize) -> [[Float]] {
        precondition(images.count == batch * side * side * 3, "expected \(batch) images of \(side)x\(side)x3")
        var out = [Float](repeating: 0, count: batch * VGG16.featureCount)
        images.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                extract(src.baseAddress!, batch: batch, side: side, features: dst.baseAddress!)
            }
        }
        return (0..<batch).map { Array(out[($0 * VGG16.featureCount)..<(($0 + 1) * VGG16.featureCount)]) }
    }
}

/// Bytes, 64-byte aligned, zero-filled (a `FloatBuffer` seen as bytes).
final class ByteBuffer: @unchecked Sendable {
    private let storage: FloatBuffer
    let count: Int

    init(count: Int) {
        self.count = count
        storage = FloatBuffer(count: (count + 3) / 4)
    }

    var pointer: UnsafeMutablePointer<UInt8> {
        UnsafeMutableRawPointer(storage.pointer).assumingMemoryBound(to: UInt8.self)
    }
}

/// One int8 convolution prepared for the kernels: packed weights, and the epilogue's per-channel constants.
struct QuantizedConv {
    let spec: ConvSpec
    let packed: ByteBuffer
    let columnSums: [Int32]
    /// `float(sum) * scale + offset` is the output in the next layer's scale (or in floats, for the last).
    let scale: FloatBuffer
    let offset: FloatBuffer

    /// `inputScale` is this layer's activation scale; `outputScale` the next layer's, nil for float output.
    init(
        spec: ConvSpec, kernel: UnsafePointer<Int8>, weightScales: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        inputScale: Float, outputScale: Float?
    ) {
        self.spec = spec
        let packed = ByteBuffer(count: dd_q8_packed_bytes(Int32(spec.cin), Int32(spec.cout)))
        var sums = [Int32](repeating: 0, count: spec.cout)
        sums.withUnsafeMutableBufferPointer { s in
            dd_q8_pack_weights(
                kernel, Int32(spec.cin), Int32(spec.cout),
                UnsafeMutableRawPointer(packed.pointer).assumingMemoryBound(to: Int8.self), s.baseAddress!)
        }
        self.packed = packed
        columnSums = sums
        // Computed in double and rounded once, so that every build derives the same constants.
        let divisor = Double(outputScale ?? 1)
        scale = FloatBuffer((0..<spec.cout).map { Float(Double(inputScale) * Double(weightScales[$0]) / divisor) })
        offset = FloatBuffer((0..<spec.cout).map { Float(Double(bias[$0]) / divisor) })
    }

    var bytes: Int { packed.count + spec.cout * 12 }
}

/// The VGG16 conv base in int8: block1_conv1 in float (its input is the signed, centred image), its ReLU
/// output quantised to bytes, then 12 int8 convolutions (`dd_quantized.h`), each requantising its output to
/// the next layer's scale, the last one writing floats for the max-pool and global average.
///
/// Activations are bytes, a quarter of the float path's, so no layer needs the float path's strips; block1_conv1
/// alone runs in bands of rows, each quantised as soon as it is computed.
public final class QuantizedFeatureExtractor: FeatureExtracting, @unchecked Sendable {
    public let workspace: Workspace
    public let activationScales: [Float]
    private let first: ConvKernel
    private let firstBias: FloatBuffer
    private let layers: [QuantizedConv]
    private var ping = ByteBuffer(count: 0)
    private var pong = ByteBuffer(count: 0)
    private var band = FloatBuffer(count: 0)
    private var last = FloatBuffer(count: 0)
    /// block5_conv3's pooled output of one image, averaged into its features.
    private var pooled = FloatBuffer(count: 0)
    public var layerSeconds: [Double]?
    /// When set, called after each int8 layer (0 = block1_conv2) with its output's mean per channel, in the
    /// units of the float network (over the batch; pooled where the network pools): for calibration.
    public var observer: ((_ layer: Int, _ means: [Double]) -> Void)?
    /// When set, called before each int8 layer (0 = block1_conv2) with the bytes it reads (`[batch][h][w][cin]`,
    /// `value = scale * byte` with the layer's activation scale): for error-compensated rounding.
    public var inputObserver: ((_ layer: Int, _ input: UnsafePointer<UInt8>, _ shape: ActivationShape) -> Void)?
    /// When set, `extract` stops after this int8 layer (0 = block1_conv2) and leaves `features` unwritten: for
    /// calibration, whose observers need the layers up to one only.
    public var lastLayer: Int?

    /// Rows of block1_conv1 computed (in float) and quantised at a time.
    static let bandRows = 32

    public init(
        floatWeights: some ConvWeightSource, int8Weights: some QuantizedWeightSource, activationScales: [Float],
        threads: ComputeThreads, chunking: Chunking = .inference
    ) throws {
        precondition(activationScales.count == QuantizationRecord.int8Layers.count, "one scale per int8 layer")
        workspace = Workspace(threads: threads, chunking: chunking)
        self.activationScales = activationScales
        let spec0 = VGG16.convLayers[0]
        var first: ConvKernel?
        let firstBias = FloatBuffer(count: spec0.cout)
        try floatWeights.withConvWeights(spec0) { kernel, bias in
            first = ConvKernel(hwio: kernel, cin: spec0.cin, cout: spec0.cout, algorithm: .im2col)
            firstBias.copy(from: bias)
        }
        self.first = first!
        self.firstBias = firstBias
        var layers: [QuantizedConv] = []
        for (i, spec) in QuantizationRecord.int8Layers.enumerated() {
            try int8Weights.withQuantizedWeights(spec) { kernel, scales, bias in
                layers.append(
                    QuantizedConv(
                        spec: spec, kernel: kernel, weightScales: scales, bias: bias,
                        inputScale: activationScales[i],
                        outputScale: i + 1 < activationScales.count ? activationScales[i + 1] : nil))
            }
        }
        self.layers = layers
    }

    public var memoryBytes: Int {
        layers.reduce(0) { $0 + $1.bytes } + first.preparedBytes + ping.count + pong.count
            + (band.count + last.count + pooled.count + workspace.floatCount) * MemoryLayout<Float>.stride
    }

    /// Grows the activation buffers for `batch` images of side `side`.
    private func reserve(batch: Int, side: Int) {
        var h = side
        var sizes = [side * side * VGG16.convLayers[0].cout, 0]  // block1_conv1's output goes to ping
        for (i, spec) in QuantizationRecord.int8Layers.enumerated() {
            let out = spec.poolAfter ? h / 2 : h
            sizes[(i + 1) % 2] = max(sizes[(i + 1) % 2], out * out * spec.cout)
            h = out
        }
        if ping.count < sizes[0] * batch { ping = ByteBuffer(count: sizes[0] * batch) }
        if pong.count < sizes[1] * batch { pong = ByteBuffer(count: sizes[1] * batch) }
        let lastSide = side / 16
        let lastFloats = lastSide * lastSide * VGG16.featureCount * batch
        if last.count < lastFloats { last = FloatBuffer(count: lastFloats) }
        let pooledFloats = (side / 32) * (side / 32) * VGG16.featureCount
        if pooled.count < pooledFloats { pooled = FloatBuffer(count: pooledFloats) }
        let bandFloats = (Self.bandRows + 1) * side * VGG16.convLayers[0].cout
        if band.count < bandFloats { band = FloatBuffer(count: bandFloats) }
    }

    /// block1_conv1 in float, in bands of rows, each quantised to bytes (`ping`) with block1_conv2's scale.
    private func firstLayer(_ images: UnsafePointer<Float>, batch: Int, side: Int) {
        let spec = VGG16.convLayers[0]
        let width = side * spec.cout
        let inverse = 1 / activationScales[0]
        for n in 0..<batch {
            let image = images + n * side * side * spec.cin
            var y0 = 0
            while y0 < side {
                let y1 = min(side, y0 + Self.bandRows)
                let s0 = max(0, y0 - 1), s1 = min(side, y1 + 1)  // input rows the band reads
                // The band's rows land from band's second row on: row s0 (if above y0) goes to the spare first row.
                first.forward(
                    image + s0 * side * spec.cin,
                    shape: ActivationShape(batch: 1, height: s1 - s0, width: side, channels: spec.cin),
                    bias: firstBias.pointer, relu: true, output: band.pointer + (1 - (y0 - s0)) * width,
                    pooled: nil, workspace: workspace, rows: (y0 - s0)..<(y1 - s0))
                dd_q8_quantize_relu(
                    band.pointer + width, (y1 - y0) * width, inverse, ping.pointer + (n * side + y0) * width)
                y0 = y1
            }
        }
    }

    /// One int8 convolution over the whole batch, cut into chunks of rows (and of output columns when the
    /// rows are too few to keep every thread busy: the deep layers' small maps).
    private func convolve(
        _ layer: QuantizedConv, input: UnsafePointer<UInt8>, shape: ActivationShape, e: dd_q8_epilogue
    ) {
        let threads = workspace.threads.count
        let pooled = e.pooled != nil
        let (w, cin, cout) = (Int32(shape.width), Int32(layer.spec.cin), Int32(layer.spec.cout))
        let perRow = dd_q8_conv3x3_scratch(1, w, cin, cout, pooled ? 1 : 0)
        let total = shape.batch * shape.height
        var rows = max(1, min(workspace.chunking.privateBytes / perRow, (total + 2 * threads - 1) / (2 * threads)))
        if pooled && rows % 2 == 1 { rows += 1 }
        let chunks = (total + rows - 1) / rows
        let panels = layer.spec.cout / Int(DD_Q8_PANEL)
        let slices = min(panels, max(1, (2 * threads + chunks - 1) / chunks))
        let panelsPerSlice = (panels + slices - 1) / slices
        let scratchBytes = dd_q8_conv3x3_scratch(Int32(rows), w, cin, cout, pooled ? 1 : 0)
        workspace.reserve((scratchBytes + 3) / 4)
        let packed = UnsafeRawPointer(layer.packed.pointer).assumingMemoryBound(to: Int8.self)
        layer.columnSums.withUnsafeBufferPointer { sums in
            workspace.threads.forEach(chunks * slices) { item, thread in
                let chunk = item / slices, slice = item % slices
                let g0 = chunk * rows, g1 = min(total, g0 + rows)
                let c0 = slice * panelsPerSlice * Int(DD_Q8_PANEL)
                let c1 = min(Int(cout), c0 + panelsPerSlice * Int(DD_Q8_PANEL))
                dd_q8_conv3x3_rows(
                    input, Int32(shape.height), w, cin, cout, packed, sums.baseAddress!, Int32(g0), Int32(g1),
                    Int32(c0), Int32(c1),
                    UnsafeMutableRawPointer(workspace.scratch(thread)).assumingMemoryBound(to: UInt8.self), e)
            }
        }
    }

    private func channelMeans(_ values: UnsafePointer<UInt8>, _ shape: ActivationShape, scale: Float) -> [Double] {
        var sums = [Double](repeating: 0, count: shape.channels)
        for i in 0..<shape.floats { sums[i % shape.channels] += Double(values[i]) }
        let count = Double(shape.floats / shape.channels)
        return sums.map { $0 * Double(scale) / count }
    }

    private func channelMeans(_ values: UnsafePointer<Float>, _ shape: ActivationShape) -> [Double] {
        var sums = [Double](repeating: 0, count: shape.channels)
        for i in 0..<shape.floats { sums[i % shape.channels] += Double(values[i]) }
        let count = Double(shape.floats / shape.channels)
        return sums.map { $0 / count }
    }

    public func extract(
        _ images: UnsafePointer<Float>, batch: Int, side: Int = VGG16.inputSize,
        features: UnsafeMutablePointer<Float>
    ) {
        precondition(
            batch >= 1 && side >= 32 && side % 32 == 0, "input must be a batch of images with sides divisible by 32")
        reserve(batch: batch, side: side)
        func timed(_ index: Int, _ body: () -> Void) {
            guard layerSeconds != nil else { return body() }
            let start = MonotonicClock.now()
            body()
            layerSeconds![index] += MonotonicClock.now() - start
        }
        timed(0) { firstLayer(images, batch: batch, side: side) }
        var shape = ActivationShape(batch: batch, height: side, width: side, channels: VGG16.convLayers[0].cout)
        var buffers = [ping, pong]
        for (i, layer) in layers.enumerated() {
            let source = UnsafePointer(buffers[i % 2].pointer)
            let destination = buffers[(i + 1) % 2].pointer
            let isLast = i == layers.count - 1
            let e = dd_q8_epilogue(
                scale: layer.scale.pointer, offset: layer.offset.pointer,
                out_u8: isLast || layer.spec.poolAfter ? nil : destination,
                out_f32: isLast ? last.pointer : nil,
                pooled: !isLast && layer.spec.poolAfter ? destination : nil)
            inputObserver?(i, source, shape)
            timed(i + 1) { convolve(layer, input: source, shape: shape, e: e) }
            if layer.spec.poolAfter && !isLast {
                shape.height /= 2
                shape.width /= 2
            }
            shape.channels = layer.spec.cout
            if let observer {
                observer(
                    i,
                    isLast
                        ? channelMeans(last.pointer, shape)
                        : channelMeans(destination, shape, scale: activationScales[i + 1]))
            }
            if let lastLayer, i >= lastLayer { return }
        }
        buffers.removeAll()
        // block5_conv3 wrote floats at full resolution: pool, then average.
        let pooledSide = shape.height / 2
        for n in 0..<batch {
            dd_maxpool2x2(
                last.pointer + n * shape.imageFloats, Int32(shape.height), Int32(shape.width),
                Int32(VGG16.featureCount), pooled.pointer)
            dd_global_average_pool(
                pooled.pointer, pooledSide * pooledSide, Int32(VGG16.featureCount), features + n * VGG16.featureCount)
        }
    }
}
