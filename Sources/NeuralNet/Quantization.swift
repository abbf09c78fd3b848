import CKernels
import Support

/// The arithmetic the conv base runs in (`[compute] precision`).
public enum Precision: String, NamedChoice, Codable {
    /// 32-bit floats: the reference.
    case fp32
    /// 8-bit integers where the model file carries them (`dogdoor model quantize`); refused otherwise.
    case int8
    /// int8 when the model file carries it and this CPU has int8 dot products (AVX-512 VNNI, ARM dotprod),
    /// else fp32.
    case auto

    /// What `auto` (or the choice itself) means for a model that does or does not carry int8 tensors.
    public func resolved(modelHasInt8 hasInt8: Bool) -> Precision {
        switch self {
        case .auto: hasInt8 && Int8Kernels.hasDotProduct ? .int8 : .fp32
        default: self
        }
    }
}

/// How `Int8Calibration.refined` rounds each layer's weights to bytes.
public enum WeightRounding: String, NamedChoice {
    /// Error-compensated (GPTQ, see `CompensatedRounding`): the output error on the calibration photos is
    /// least; about 2 min 40 s for 64 photos on a 2-core PC (AMD EPYC).
    case compensated
    /// Each weight to its nearest byte: about 3x faster.
    case nearest
}

/// The int8 kernels' instruction set on this CPU.
public enum Int8Kernels {
    /// "AVX-512 VNNI", "ARM dot product" or "portable".
    public static var description: String {
        switch dd_q8_isa() {
        case DD_Q8_AVX512_VNNI: "AVX-512 VNNI"
        case DD_Q8_ARM_DOTPROD: "ARM dot product"
        default: "portable"
        }
    }

    /// Whether the CPU multiplies bytes in hardware dot products (else the portable loops run).
    public static var hasDotProduct: Bool { dd_q8_isa() != DD_Q8_PORTABLE }
}

/// One convolution's weights in int8: HWIO `[3, 3, cin, cout]` signed bytes, symmetric, with one scale per
/// output channel (`weight ≈ scale[c] * byte`). Held in aligned buffers whose addresses never move.
public final class QuantizedConvWeights: @unchecked Sendable {
    public let cin: Int
    public let cout: Int
    private let storage: ByteBuffer
    public let scales: FloatBuffer

    /// Rounds `hwio` per output channel: `scale = max |w| / 127` (1 for an all-zero channel), bytes
    /// `round(w / scale)` in -127...127 (never -128, so that negating a weight cannot overflow).
    ///
    /// Tried and not kept: the scale of least squared rounding error among 64 steps from that one down to half
    /// of it; on the tutorial model its int8 logits were no closer to the float ones (validation photos: mean
    /// difference -0.040 and spread 0.076, against -0.028 and 0.062 with the largest weight's scale).
    ///
    /// With `rounded` (bytes `[9 * cin][cout]` in -127...127, e.g. from `CompensatedRounding`), keeps those bytes
    /// instead, with the same scales.
    public init(hwio: UnsafePointer<Float>, cin: Int, cout: Int, rounded: [Int8]? = nil) {
        self.cin = cin
        self.cout = cout
        let rows = 9 * cin
        storage = ByteBuffer(count: rows * cout)
        scales = Self.scales(hwio: hwio, cin: cin, cout: cout)
        let kernel = self.kernel
        if let rounded {
            precondition(rounded.count == rows * cout && !rounded.contains(-128), "bytes must be [9 * cin][cout]")
            kernel.update(from: rounded, count: rounded.count)
            return
        }
        for k in 0..<rows {
            for c in 0..<cout {
                let q = (hwio[k * cout + c] / scales[c]).rounded(.toNearestOrEven)
                kernel[k * cout + c] = Int8(max(-127, min(127, q)))
            }
        }
    }

    /// The per-output-channel scales of `hwio` (`[9 * cin][cout]`): `max |w| / 127`, 1 for an all-zero channel.
    public static func scales(hwio: UnsafePointer<Float>, cin: Int, cout: Int) -> FloatBuffer {
        let scales = FloatBuffer(count: cout)
        for k in 0..<(9 * cin) {
            for c in 0..<cout { scales[c] = max(scales[c], abs(hwio[k * cout + c])) }
        }
        for c in 0..<cout { scales[c] = scales[c] > 0 ? scales[c] / 127 : 1 }
        return scales
    }

    /// `[9 * cin][cout]` signed bytes.
    public var kernel: UnsafeMutablePointer<Int8> {
        UnsafeMutableRawPointer(storage.pointer).assumingMemoryBound(to: Int8.self)
    }

    public var kernelBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.pointer, count: storage.count)
    }
    public var scaleBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(scales.buffer) }
}

/// The distribution of one layer's input activations over the calibration images, and the clipping
/// range that quantises them best.
///
/// Method: a 2048-bin histogram of the non-negative values (ReLU outputs) whose range doubles, merging bins
/// pairwise, whenever a larger value arrives; the clip `c` chosen minimises the expected squared error of
/// quantising to `round(v / (c / 255))`: values above `c` lose `(v - c)^2`, non-zero values below it the
/// rounding error `(c / 255)^2 / 12` (exact zeros, half of a ReLU's outputs, are exact in any scale).
/// Candidates are the bin edges from 1/64 of the range up.
public struct ActivationHistogram: Sendable, Equatable {
    public static let bins = 2048
    /// Values per bin (bin i covers [i, i+1) * range / bins; the last bin is closed).
    public private(set) var counts = [Double](repeating: 0, count: ActivationHistogram.bins)
    public private(set) var range: Float = 0
    public private(set) var zeros: Double = 0

    public init() {}

    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        var top: Float = 0
        for v in values where v > top { top = v }
        if range == 0 { range = top > 0 ? top : 0 }
        while top > range {
            // Double the range: bin i of the new histogram is bins 2i and 2i+1 of the old.
            for i in 0..<(Self.bins / 2) { counts[i] = counts[2 * i] + counts[2 * i + 1] }
            for i in (Self.bins / 2)..<Self.bins { counts[i] = 0 }
            range *= 2
        }
        guard range > 0 else {
            zeros += Double(values.count)
            return
        }
        let perUnit = Float(Self.bins) / range
        for v in values {
            if v <= 0 {
                zeros += 1
            } else {
                counts[min(Self.bins - 1, Int(v * perUnit))] += 1
            }
        }
    }

    /// How much more a clipped value's squared error counts than rounding's, by default: chosen among 1, 4, 8,
    /// 16 and 64 by the largest int8-against-float probability difference on the *training* photos of two
    /// models (docs/performance.md, "Clipping counted four times"); 1 is the plain least squared error.
    public static let defaultClippingWeight = 4.0
    /// The clipping weights the commands accept.
    public static let clippingWeights: ClosedRange<Double> = 0.01...10_000

    /// The clip value with the least expected squared quantisation error (the histogram's range when it
    /// holds only zeros: any positive scale is then exact), with clipping's error counted `clippingWeight`
    /// times. Rounding errors are independent and of both signs, so a downstream sum partly cancels them;
    /// clipping only ever lowers the largest values, so its errors add up.
    public func bestClip(clippingWeight: Double = defaultClippingWeight) -> Float {
        guard range > 0 else { return 1 }
        let width = Double(range) / Double(Self.bins)
        var best = (error: Double.infinity, clip: Double(range))
        // Suffix sums make each candidate O(1): above(j) = sum over bins >= j of count * (centre - clip)^2.
        var aboveCount = 0.0, aboveSum = 0.0, aboveSquares = 0.0
        var j = Self.bins
        let nonZero = counts.reduce(0, +)
        while j >= Self.bins / 64 {
            let clip = Double(j) * width
            let inside = nonZero - aboveCount
            let clipping = aboveSquares - 2 * clip * aboveSum + clip * clip * aboveCount
            let step = clip / 255
            let error = clippingWeight * clipping + inside * step * step / 12
            if error < best.error { best = (error, clip) }
            j -= 1
            let centre = (Double(j) + 0.5) * width
            aboveCount += counts[j]
            aboveSum += counts[j] * centre
            aboveSquares += counts[j] * centre * centre
        }
        return Float(best.clip)
    }

    /// The activation scale (`value = scale * byte`) for the best clip.
    public func scale(clippingWeight: Double = defaultClippingWeight) -> Float {
        bestClip(clippingWeight: clippingWeight) / 255
    }
}

/// How a model was quantised, recorded in its manifest (`quantization`) and checked when it loads.
public struct QuantizationRecord: Sendable, Equatable {
    public static let precision = "int8"
    public static let weightsMethod =
        "int8 symmetric, one scale per output channel (largest weight), error-compensated rounding (GPTQ) where "
        + "calibration windows outnumber inputs 2:1; bias corrected analytically and empirically"
    /// What files written before error-compensated rounding say (and `refined(rounding: .nearest)`).
    public static let nearestWeightsMethod =
        "int8 symmetric, one scale per output channel (largest weight); bias corrected analytically and empirically"
    public static let activationsMethod = "uint8 with zero point 0, one scale per layer input"
    public static let calibrationMethod = "mse-clip"
    /// The record of a calibration whose clipping counted `clippingWeight` times ("mse-clip" for 1, as
    /// files written before the weight existed say; "mse-clip, clipping weighted 8" otherwise).
    public static func calibrationMethod(clippingWeight: Double) -> String {
        guard clippingWeight != 1 else { return calibrationMethod }
        let weight = clippingWeight.rounded() == clippingWeight ? String(Int(clippingWeight)) : String(clippingWeight)
        return "\(calibrationMethod), clipping weighted \(weight)"
    }
    /// The convolutions that stay in float: block1_conv1 reads the signed, centred image.
    public static let floatLayers = [VGG16.convLayers[0].name]
    /// The convolutions computed in int8, in order.
    public static var int8Layers: ArraySlice<ConvSpec> { VGG16.convLayers.dropFirst() }

    /// Scale of each int8 layer's input (`value = scale * byte`), block1_conv2 to block5_conv3.
    public var activationScales: [Float]
    /// Images the scales were calibrated on.
    public var calibrationImages: Int
    /// How the weights were rounded and the scales chosen, as the writer says: a record for people (the
    /// tensors are run the same way whatever method made them), so it is kept as read.
    public var weights: String = QuantizationRecord.weightsMethod
    public var calibrationMethod: String = QuantizationRecord.calibrationMethod
    /// SHA-256 over the int8 tensors (same canonical form as the float tensors' digest).
    public var tensorsSHA256: String = ""
    /// The quantised network's own self-test.
    public var selfTest = SelfTestRecord()

    public init(activationScales: [Float], calibrationImages: Int) {
        precondition(activationScales.count == Self.int8Layers.count, "one activation scale per int8 layer")
        self.activationScales = activationScales
        self.calibrationImages = calibrationImages
    }

    /// The int8 tensors a quantised model file holds after the float ones, in canonical order.
    public static let tensorLayout: [(name: String, shape: [Int], dtype: SafetensorsDType)] = int8Layers.flatMap {
        [
            (kernelName($0), $0.kernelShape, SafetensorsDType.i8),
            (scaleName($0), [$0.cout], SafetensorsDType.f32),
            (biasName($0), [$0.cout], SafetensorsDType.f32),
        ]
    }

    public static func kernelName(_ layer: ConvSpec) -> String { "\(layer.name).kernel_int8" }
    public static func scaleName(_ layer: ConvSpec) -> String { "\(layer.name).kernel_scale" }
    /// The bias the int8 layer adds: the float bias plus the mean error the weights' rounding makes on the
    /// calibration images (bias correction).
    public static func biasName(_ layer: ConvSpec) -> String { "\(layer.name).bias_int8" }

    var json: JSONValue {
        let calibration: JSONValue = [
            "method": .string(calibrationMethod), "images": .number(Double(calibrationImages)),
        ]
        let members: [(key: String, value: JSONValue)] = [
            ("precision", .string(Self.precision)),
            ("float_layers", .array(Self.floatLayers.map { .string($0) })),
            ("weights", .string(weights)),
            ("activations", .string(Self.activationsMethod)),
            ("calibration", calibration),
            ("activation_scales", .array(activationScales.map { .number(Double($0)) })),
            ("tensors_sha256", .string(tensorsSHA256)),
            ("self_test", selfTest.json),
        ]
        return .object(JSONObject(members))
    }

    init(json: JSONValue) throws(ManifestError) {
        func fail(_ field: String, _ reason: String) -> ManifestError {
            ManifestError(field: "quantization.\(field)", reason: reason)
        }
        guard let object = json.objectValue else { throw fail("(object)", "not a JSON object") }
        let known: Set<String> = [
            "precision", "float_layers", "weights", "activations", "calibration", "activation_scales",
            "tensors_sha256", "self_test",
        ]
        if let extra = object.keys.first(where: { !known.contains($0) }) { throw fail(extra, "unknown field") }
        // What decides how the tensors run must be what this build runs; how they were made is only recorded.
        let expected: [(String, String)] = [("precision", Self.precision), ("activations", Self.activationsMethod)]
        for (field, value) in expected {
            guard let text = json[field]?.stringValue else { throw fail(field, "missing or not a string") }
            guard text == value else {
                throw fail(field, "\"\(text)\" is not supported (this build computes \"\(value)\")")
            }
        }
        guard json["float_layers"]?.arrayValue?.compactMap(\.stringValue) == Self.floatLayers else {
            throw fail("float_layers", "must be \(Self.floatLayers)")
        }
        guard let weights = json["weights"]?.stringValue, !weights.isEmpty, weights.count <= 200 else {
            throw fail("weights", "must name how the weights were rounded (at most 200 characters)")
        }
        self.weights = weights
        guard let method = json["calibration"]?["method"]?.stringValue, !method.isEmpty, method.count <= 200,
            let images = json["calibration"]?["images"]?.intValue, images >= 1
        else {
            throw fail("calibration", "needs a method (at most 200 characters) and at least 1 image")
        }
        calibrationMethod = method
        calibrationImages = images
        guard let scales = json["activation_scales"]?.arrayValue?.compactMap(\.doubleValue),
            scales.count == Self.int8Layers.count,
            scales.allSatisfy({ $0 > 0 && $0 < 1e6 && Float($0).isNormal })
        else {
            throw fail(
                "activation_scales", "must be \(Self.int8Layers.count) positive numbers, one per int8 convolution")
        }
        activationScales = scales.map { Float($0) }
        guard let digest = json["tensors_sha256"]?.stringValue, digest.count == 64,
            digest.allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        else { throw fail("tensors_sha256", "not 64 lowercase hex digits") }
        tensorsSHA256 = digest
        guard let selfTestJSON = json["self_test"] else { throw fail("self_test", "missing") }
        do { selfTest = try SelfTestRecord(json: selfTestJSON) } catch {
            throw ManifestError(field: "quantization.\(error.field)", reason: error.reason)
        }
    }
}

/// What calibration measured: each int8 layer's activation scale, the mean of its input at each of the 9 taps
/// of its window (`[9 * cin]`, zero padding included) for bias correction, and the float network's mean output
/// of each int8 layer per channel (as the next layer reads it: pooled where the network pools; block5_conv3's
/// before its pool), which `refined` matches the int8 network to.
public struct Int8Calibration: Sendable, Equatable {
    public var activationScales: [Float]
    public var inputTapMeans: [[Double]]
    public var outputMeans: [[Double]]
    /// Added to each int8 layer's bias after the analytic correction (see `refined`); zeros until then.
    public var biasAdjustments: [[Double]]
    /// Each int8 layer's bytes from error-compensated rounding (see `refined`); nil: rounded to nearest.
    public var roundedKernels: [[Int8]?]
    public var images: Int
    /// How the activation ranges were chosen (see `ActivationHistogram.bestClip(clippingWeight:)`).
    public var clippingWeight = ActivationHistogram.defaultClippingWeight

    public init(activationScales: [Float], inputTapMeans: [[Double]], outputMeans: [[Double]], images: Int) {
        self.activationScales = activationScales
        self.inputTapMeans = inputTapMeans
        self.outputMeans = outputMeans
        biasAdjustments = QuantizationRecord.int8Layers.map { [Double](repeating: 0, count: $0.cout) }
        roundedKernels = [[Int8]?](repeating: nil, count: QuantizationRecord.int8Layers.count)
        self.images = images
    }

    /// The manifest record of these scales (digest and self-test are filled in when the model is written).
    public var record: QuantizationRecord {
        var record = QuantizationRecord(activationScales: activationScales, calibrationImages: images)
        record.calibrationMethod = QuantizationRecord.calibrationMethod(clippingWeight: clippingWeight)
        if roundedKernels.allSatisfy({ $0 == nil }) { record.weights = QuantizationRecord.nearestWeightsMethod }
        return record
    }

    /// Error-compensated rounding and empirical bias correction, layer by layer on the calibration `images`,
    /// each layer seeing the int8 network with the layers before it already final:
    ///
    /// 1. (with `.compensated` rounding) runs the int8 network to collect the layer's input second moments and
    ///    rounds its weights against them (`CompensatedRounding`). Where the images give fewer than
    ///    `CompensatedRounding.windowsPerInput` windows per input of the layer, the second moments would be
    ///    fitted to those few windows rather than measured, and the layer is rounded to nearest (as it is
    ///    where the factorisation fails);
    /// 2. runs it again and moves each output channel's bias by the difference between the float network's
    ///    mean output and the int8 network's. This removes the drift the analytic correction cannot see:
    ///    rounding before a ReLU is unbiased, the ReLU after it is not, and the bias compounds over 12 layers
    ///    (measured on the tutorial photos: int8 logits 0.067 lower on average without it).
    public func refined(
        _ parameters: VGG16Parameters, images: [[Float]], side: Int, threads: ComputeThreads,
        rounding: WeightRounding = .compensated
    ) throws -> Int8Calibration {
        var result = self
        func network() throws -> QuantizedFeatureExtractor {
            try QuantizedFeatureExtractor(
                floatWeights: parameters, int8Weights: QuantizedParameters(parameters, calibration: result),
                activationScales: activationScales, threads: threads)
        }
        for layer in 0..<QuantizationRecord.int8Layers.count {
            if rounding == .compensated {
                result.roundedKernels[layer] = try Self.compensatedKernel(
                    layer, parameters, network: network(), images: images, side: side)
            }
            let extractor = try network()
            var sums = [Double](repeating: 0, count: outputMeans[layer].count)
            extractor.observer = { index, means in
                if index == layer { for c in 0..<sums.count { sums[c] += means[c] } }
            }
            extractor.lastLayer = layer
            for image in images { _ = extractor.extract(image, batch: 1, side: side) }
            for c in 0..<sums.count {
                result.biasAdjustments[layer][c] += outputMeans[layer][c] - sums[c] / Double(images.count)
            }
        }
        return result
    }
}

extension Int8Calibration {
    /// The bytes of int8 layer `layer` rounded against its inputs in `network` on `images`; nil (round to
    /// nearest) when they give too few windows or the factorisation fails.
    fileprivate static func compensatedKernel(
        _ layer: Int, _ parameters: VGG16Parameters, network: QuantizedFeatureExtractor, images: [[Float]], side: Int
    ) -> [Int8]? {
        let spec = QuantizationRecord.int8Layers[QuantizationRecord.int8Layers.startIndex + layer]
        var hessian = LayerInputHessian(channels: spec.cin)
        network.inputObserver = { index, input, shape in
            if index == layer { hessian.add(input, shape: shape) }
        }
        network.lastLayer = layer
        for image in images { _ = network.extract(image, batch: 1, side: side) }
        guard hessian.windows >= CompensatedRounding.windowsPerInput * hessian.rows else { return nil }
        let weights = parameters.conv[VGG16.index(of: spec.name)!]
        let scales = QuantizedConvWeights.scales(hwio: weights.kernel.pointer, cin: spec.cin, cout: spec.cout)
        return CompensatedRounding.round(
            hwio: weights.kernel.pointer, cin: spec.cin, cout: spec.cout, scales: scales.pointer,
            hessian: hessian.matrix)
    }
}

/// Calibrates activation scales: runs the float network on preprocessed images and keeps, for each int8
/// layer, the histogram of its input (the previous layer's ReLU output, max-pooled where the network pools)
/// and its mean per window tap.
public struct ActivationCalibration {
    public private(set) var histograms = [ActivationHistogram](
        repeating: ActivationHistogram(), count: QuantizationRecord.int8Layers.count)
    private var tapSums = QuantizationRecord.int8Layers.map { [Double](repeating: 0, count: 9 * $0.cin) }
    private var outputSums = QuantizationRecord.int8Layers.map { [Double](repeating: 0, count: $0.cout) }
    public private(set) var images = 0
    /// See `ActivationHistogram.bestClip(clippingWeight:)`.
    public let clippingWeight: Double

    public init(clippingWeight: Double = ActivationHistogram.defaultClippingWeight) {
        precondition(clippingWeight > 0, "clipping must count")
        self.clippingWeight = clippingWeight
    }

    /// Adds one preprocessed image `[side][side][3]`, evaluated by `extractor` (a float plan).
    public mutating func add(_ image: [Float], side: Int, extractor: VGG16FeatureExtractor) {
        let trace = extractor.trace(image, side: side)
        var h = side
        for (i, layer) in VGG16.convLayers.enumerated() where i + 1 < VGG16.convLayers.count {
            // trace[i] is layer i's full-resolution ReLU output; layer i+1 reads it pooled when i pools.
            var input = trace[i]
            if layer.poolAfter {
                var pooled = [Float](repeating: 0, count: input.count / 4)
                input.withUnsafeBufferPointer { src in
                    pooled.withUnsafeMutableBufferPointer { dst in
                        dd_maxpool2x2(src.baseAddress!, Int32(h), Int32(h), Int32(layer.cout), dst.baseAddress!)
                    }
                }
                input = pooled
                h /= 2
            }
            input.withUnsafeBufferPointer { histograms[i].add($0) }
            addTapMeans(input, side: h, channels: layer.cout, into: &tapSums[i])
            // The input of int8 layer i is the output of int8 layer i - 1.
            if i >= 1 { Self.addChannelMeans(input, channels: layer.cout, into: &outputSums[i - 1]) }
        }
        Self.addChannelMeans(
            trace[VGG16.convLayers.count - 1], channels: VGG16.featureCount, into: &outputSums[outputSums.count - 1])
        images += 1
    }

    private static func addChannelMeans(_ values: [Float], channels c: Int, into sums: inout [Double]) {
        var total = [Double](repeating: 0, count: c)
        for (i, v) in values.enumerated() { total[i % c] += Double(v) }
        let pixels = Double(values.count / c)
        for k in 0..<c { sums[k] += total[k] / pixels }
    }

    /// Adds, for each tap (dy, dx) of a 3x3 window, the mean over output pixels of the input value the tap
    /// reads (0 where it reads padding), per channel.
    private func addTapMeans(_ input: [Float], side h: Int, channels c: Int, into sums: inout [Double]) {
        // Sum of each channel over rows [y0, y1) and columns [x0, x1), from per-pixel values.
        func regionSum(_ y0: Int, _ y1: Int, _ x0: Int, _ x1: Int, into out: inout [Double]) {
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let base = (y * h + x) * c
                    for k in 0..<c { out[k] += Double(input[base + k]) }
                }
            }
        }
        let pixels = Double(h * h)
        for dy in 0..<3 {
            for dx in 0..<3 {
                // Output pixel (y, x) reads input (y + dy - 1, x + dx - 1): the inputs read form this region.
                var region = [Double](repeating: 0, count: c)
                regionSum(max(0, dy - 1), min(h, h + dy - 1), max(0, dx - 1), min(h, h + dx - 1), into: &region)
                let tap = dy * 3 + dx
                for k in 0..<c { sums[tap * c + k] += region[k] / pixels }
            }
        }
    }

    /// The scales and tap means measured so far.
    public var result: Int8Calibration {
        precondition(images > 0, "calibration needs at least one image")
        var calibration = Int8Calibration(
            activationScales: histograms.map { $0.scale(clippingWeight: clippingWeight) },
            inputTapMeans: tapSums.map { $0.map { $0 / Double(images) } },
            outputMeans: outputSums.map { $0.map { $0 / Double(images) } }, images: images)
        calibration.clippingWeight = clippingWeight
        return calibration
    }
}
