import Support

/// Why a model file was refused. `file` names it; `problem` says exactly what is wrong.
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public enum Problem: Equatable, Sendable {
        case container(SafetensorsError)
        case notAModel
        case manifest(ManifestError)
        case missingTensor(String)
        case unexpectedTensor(String)
        case wrongShape(tensor: String, expected: [Int], actual: [Int])
        case wrongDType(tensor: String, expected: String, actual: String)
        case checksumMismatch(expected: String, actual: String)
        case selfTestFailed(expected: Double, actual: Double, allowed: Double)
        /// `[compute] precision = "int8"` asked for a file without int8 tensors.
        case notQuantized
        case nonFinite(tensor: String)
        /// The file is intact but the trust policy refuses it (`ModelTrust`); the text says why.
        case untrusted(String)
    }

    public var file: String
    public var problem: Problem

    public init(file: String, problem: Problem) {
        self.file = file
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case .container(let e): return e.description
        case .notAModel: return "\(file): not a DogDoor model (no dogdoor_manifest in __metadata__; a weights file?)"
        case .manifest(let e): return "\(file): \(e)"
        case .missingTensor(let n): return "\(file): tensor \"\(n)\" is missing"
        case .unexpectedTensor(let n): return "\(file): unexpected tensor \"\(n)\""
        case .wrongShape(let n, let e, let a): return "\(file): tensor \"\(n)\" has shape \(a), expected \(e)"
        case .wrongDType(let n, let e, let a): return "\(file): tensor \"\(n)\" is \(a), expected \(e)"
        case .checksumMismatch(let e, let a):
            return
                "\(file): tensor checksum mismatch (manifest says \(e), tensors hash to \(a)); the file is corrupt or was altered"
        case .selfTestFailed(let e, let a, let allowed):
            return
                "\(file): self-test failed: logit \(a), recorded \(e) (allowed difference \(allowed)); this build computes a different network than the one that wrote the file"
        case .nonFinite(let n): return "\(file): tensor \"\(n)\" contains NaN or infinity"
        case .notQuantized:
            return
                "\(file): has no int8 form for [compute] precision = \"int8\"; `dogdoor model quantize` adds it (or use precision \"auto\" or \"fp32\")"
        case .untrusted(let reason): return "\(file): not trusted: \(reason)"
        }
    }
}

/// Reading and writing DogDoor model files: one safetensors file with the 13 conv layers, the head and a
/// manifest. The format is documented in docs/model-format.md.
public enum ModelFile {
    /// The `__metadata__` key holding the manifest JSON.
    public static let manifestKey = "dogdoor_manifest"
    /// The `__metadata__` key naming the format, for tools that only peek.
    public static let formatKey = "format"
    public static let formatValue = "dogdoor-model"

    /// Every tensor of a model file, in canonical order, with its shape.
    public static let tensorLayout: [(name: String, shape: [Int])] =
        VGG16.convLayers.flatMap { [("\($0.name).kernel", $0.kernelShape), ("\($0.name).bias", [$0.cout])] }
        + [("head.kernel", [VGG16.featureCount, 1]), ("head.bias", [1])]

    /// The conv-base tensors only: what a weights file (`vgg16-notop.safetensors`) holds.
    public static let baseTensorLayout = Array(tensorLayout.dropLast(2))

    /// SHA-256 over the tensors in canonical order: for each, its name, a newline, its shape as decimal
    /// dimensions joined by "x", a newline, and its float32 little-endian bytes.
    public static func tensorDigest(_ tensor: (String) -> UnsafeRawBufferPointer) -> String {
        var h = SHA256()
        for (name, shape) in tensorLayout {
            h.update(digestHeader(name, shape))
            h.update(tensor(name))
        }
        return h.finalizeHex()
    }

    /// What the digest hashes before a tensor's bytes: its name and shape.
    private static func digestHeader(_ name: String, _ shape: [Int]) -> String {
        name + "\n" + shape.map(String.init).joined(separator: "x") + "\n"
    }

    /// Every tensor a file with `manifest` holds, with its dtype: the float layout, then the int8 form when the
    /// manifest records one.
    static func fullLayout(_ manifest: ModelManifest) -> [(name: String, shape: [Int], dtype: SafetensorsDType)] {
        tensorLayout.map { ($0.name, $0.shape, SafetensorsDType.f32) }
            + (manifest.quantization == nil ? [] : QuantizationRecord.tensorLayout)
    }

    /// Checks names, dtypes and shapes of `file` against `layout` (header only); extra tensors are errors.
    static func checkLayout(
        _ file: SafetensorsFile, layout: [(name: String, shape: [Int], dtype: SafetensorsDType)]
    ) throws(ModelError) {
        let expected = Set(layout.map(\.name))
        if let extra = file.tensors.map(\.name).sorted().first(where: { !expected.contains($0) }) {
            throw ModelError(file: file.path, problem: .unexpectedTensor(extra))
        }
        for (name, shape, dtype) in layout {
            guard let info = file.info(name) else { throw ModelError(file: file.path, problem: .missingTensor(name)) }
            guard info.dtype == dtype else {
                throw ModelError(
                    file: file.path,
                    problem: .wrongDType(tensor: name, expected: dtype.rawValue, actual: info.dtype.rawValue))
            }
            guard info.shape == shape else {
                throw ModelError(
                    file: file.path, problem: .wrongShape(tensor: name, expected: shape, actual: info.shape))
            }
        }
    }

    static func checkLayout(_ file: SafetensorsFile, layout: [(name: String, shape: [Int])]) throws(ModelError) {
        try checkLayout(file, layout: layout.map { ($0.name, $0.shape, SafetensorsDType.f32) })
    }

    /// Checks that every float value of the layout's tensors is finite and returns their digest, reading each
    /// tensor once and dropping its pages afterwards so that verification adds nothing to resident memory.
    static func scanTensors(
        _ file: SafetensorsFile, layout: [(name: String, shape: [Int], dtype: SafetensorsDType)]
    ) throws(ModelError) -> String {
        var h = SHA256()
        for (name, shape, dtype) in layout {
            let info = file.info(name)!
            let bytes = file.bytes(of: info)
            if dtype == .f32 && !allFinite(bytes) {
                throw ModelError(file: file.path, problem: .nonFinite(tensor: name))
            }
            h.update(digestHeader(name, shape))
            h.update(bytes)
            file.releasePages(of: info)
        }
        return h.finalizeHex()
    }

    static func scanTensors(
        _ file: SafetensorsFile, layout: [(name: String, shape: [Int])]
    ) throws(ModelError) -> String {
        try scanTensors(file, layout: layout.map { ($0.name, $0.shape, SafetensorsDType.f32) })
    }

    /// SHA-256 over the int8 tensors in `QuantizationRecord.tensorLayout` order, in the same form as
    /// `tensorDigest`.
    static func quantizedDigest(_ tensor: (String) -> UnsafeRawBufferPointer) -> String {
        var h = SHA256()
        for (name, shape, _) in QuantizationRecord.tensorLayout {
            h.update(digestHeader(name, shape))
            h.update(tensor(name))
        }
        return h.finalizeHex()
    }

    private static func allFinite(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Exponent bits all ones means NaN or infinity; checked on the raw bits, any alignment.
        var i = 0
        while i + 4 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self) & 0x7F80_0000 == 0x7F80_0000 { return false }
            i += 4
        }
        return true
    }

    /// Writes a complete model file atomically: computes the tensor digest and the self-test with `plan`
    /// (the one the daemon runs) and records both in the manifest. With `int8` (a calibration of the network),
    /// its int8 form is written too, with its own digest and self-test.
    /// With `signingKey`, the manifest carries an Ed25519 signature of the tensors and itself.
    @discardableResult
    public static func write(
        _ parameters: VGG16Parameters, manifest: ModelManifest, to path: String,
        threads: ComputeThreads = ComputeThreads(BLASRuntime.defaultThreads),
        signingKey: Ed25519.PrivateKey? = nil, int8: Int8Calibration? = nil
    ) throws -> ModelManifest {
        var manifest = manifest
        let headKernel = FloatBuffer(parameters.head.kernel)
        let headBias = FloatBuffer([parameters.head.bias])
        var buffers: [String: FloatBuffer] = ["head.kernel": headKernel, "head.bias": headBias]
        for p in parameters.conv {
            buffers["\(p.spec.name).kernel"] = p.kernel
            buffers["\(p.spec.name).bias"] = p.bias
        }
        manifest.tensorsSHA256 = tensorDigest { name in UnsafeRawBufferPointer(buffers[name]!.buffer) }
        let input = SelfTestInput.make(side: manifest.inputSize)
        let extractor = try VGG16FeatureExtractor(weights: parameters, plan: .inference, threads: threads)
        let features = extractor.extract(input, batch: 1, side: manifest.inputSize)[0]
        manifest.selfTest = SelfTestRecord(
            expectedLogit: Double(parameters.head.logit(features)),
            magnitude: parameters.head.magnitude(features))
        var tensors = tensorLayout.map { name, shape in
            SafetensorsWriter.Tensor(name: name, shape: shape, data: UnsafeBufferPointer(buffers[name]!.buffer))
        }
        manifest.quantization = nil
        let quantized = int8.map { QuantizedParameters(parameters, calibration: $0) }
        if var record = int8?.record, let quantized {
            record.tensorsSHA256 = quantizedDigest { name in quantizedBytes(quantized, name) }
            let q = try QuantizedFeatureExtractor(
                floatWeights: parameters, int8Weights: quantized, activationScales: record.activationScales,
                threads: threads)
            let qFeatures = q.extract(input, batch: 1, side: manifest.inputSize)[0]
            // int8 sums are exact on every CPU; only block1_conv1 (float, OpenBLAS) can round a byte
            // differently, hence a tolerance ten times the float network's.
            record.selfTest = SelfTestRecord(
                expectedLogit: Double(parameters.head.logit(qFeatures)),
                magnitude: parameters.head.magnitude(qFeatures), relativeTolerance: 1e-3)
            manifest.quantization = record
            for (name, shape, dtype) in QuantizationRecord.tensorLayout {
                tensors.append(
                    SafetensorsWriter.Tensor(
                        name: name, shape: shape, dtype: dtype, bytes: quantizedBytes(quantized, name)))
            }
        }
        manifest.signature = signingKey.map {
            ModelSignature(publicKey: $0.publicKey, value: $0.signature(for: manifest.signedMessage))
        }
        // What this build writes it must read back: a manifest its own reader refuses is not written.
        _ = try ModelManifest(json: manifest.json)
        let metadata = [manifestKey: manifest.json.serialized(), formatKey: formatValue]
        try withExtendedLifetime(quantized) {
            try SafetensorsWriter.write(tensors, metadata: metadata, to: path)
        }
        return manifest
    }

    /// The bytes of int8 tensor `name` of `q` (a kernel or a scale vector); valid while `q` lives.
    private static func quantizedBytes(_ q: QuantizedParameters, _ name: String) -> UnsafeRawBufferPointer {
        for (spec, (layer, bias)) in zip(QuantizationRecord.int8Layers, zip(q.layers, q.biases)) {
            if name == QuantizationRecord.biasName(spec) { return UnsafeRawBufferPointer(bias.buffer) }
            if name == QuantizationRecord.kernelName(spec) { return layer.kernelBytes }
            if name == QuantizationRecord.scaleName(spec) { return layer.scaleBytes }
        }
        preconditionFailure("no int8 tensor \(name)")
    }
}

extension ModelFile {
    /// Verifies the model at `path` completely (a format-1 file too, when `acceptingFormat1`), lets
    /// `change` edit its manifest, and writes the result to `output` (atomically; it may be `path`) with the
    /// same tensors: how `dogdoor model upgrade` adds the manifest checksum and `dogdoor model sign` a
    /// signature. Returns the manifest written.
    @discardableResult
    public static func rewrite(
        _ path: String, to output: String, acceptingFormat1: Bool = false,
        threads: ComputeThreads = ComputeThreads(BLASRuntime.defaultThreads),
        change: (inout ModelManifest) throws -> Void
    ) throws -> ModelManifest {
        let model = try DogDoorModel(path: path, threads: threads, acceptingFormat1: acceptingFormat1)
        var manifest = model.manifest
        try change(&manifest)
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw ModelError(file: path, problem: .container(error)) }
        // Every tensor, float and int8, is copied byte for byte (the file was verified above, and `output` may
        // be `path`: the atomic write reads the old file's mapping until it renames the new one over it).
        let tensors = fullLayout(model.manifest).map { name, shape, dtype in
            SafetensorsWriter.Tensor(name: name, shape: shape, dtype: dtype, bytes: file.bytes(of: file.info(name)!))
        }
        try SafetensorsWriter.write(
            tensors, metadata: [manifestKey: manifest.json.serialized(), formatKey: formatValue], to: output)
        return withExtendedLifetime(file) { manifest }
    }
}

/// Conv weights read straight from a validated safetensors file (model or weights file): from the mapping
/// itself when the data is float-aligned (files DogDoor writes always are), else through a copy. Each
/// tensor's pages leave resident memory once the layer has been prepared.
struct SafetensorsWeights: ConvWeightSource {
    let file: SafetensorsFile

    func withConvWeights<R>(
        _ layer: ConvSpec, _ body: (UnsafePointer<Float>, UnsafePointer<Float>) throws -> R
    ) throws -> R {
        let kernelInfo = file.info("\(layer.name).kernel")!
        let biasInfo = file.info("\(layer.name).bias")!
        defer {
            file.releasePages(of: kernelInfo)
            file.releasePages(of: biasInfo)
        }
        let kernelBytes = file.bytes(of: kernelInfo)
        let biasBytes = file.bytes(of: biasInfo)
        let aligned =
            Int(bitPattern: kernelBytes.baseAddress) % MemoryLayout<Float>.alignment == 0
            && Int(bitPattern: biasBytes.baseAddress) % MemoryLayout<Float>.alignment == 0
        if aligned {
            return try body(
                kernelBytes.baseAddress!.assumingMemoryBound(to: Float.self),
                biasBytes.baseAddress!.assumingMemoryBound(to: Float.self))
        }
        let kernel = FloatBuffer(count: 9 * layer.cin * layer.cout)
        let bias = FloatBuffer(count: layer.cout)
        try file.copyFloats(kernelInfo.name, into: kernel.pointer)
        try file.copyFloats(biasInfo.name, into: bias.pointer)
        return try body(kernel.pointer, bias.pointer)
    }
}

/// The int8 form read from a validated model file: kernels straight from the mapping (bytes need no
/// alignment), scales and biases copied (a few KiB).
struct SafetensorsQuantizedWeights: QuantizedWeightSource {
    let file: SafetensorsFile

    func withQuantizedWeights<R>(
        _ layer: ConvSpec, _ body: (UnsafePointer<Int8>, UnsafePointer<Float>, UnsafePointer<Float>) throws -> R
    ) throws -> R {
        let kernelInfo = file.info(QuantizationRecord.kernelName(layer))!
        defer { file.releasePages(of: kernelInfo) }
        let kernel = file.bytes(of: kernelInfo).baseAddress!.assumingMemoryBound(to: Int8.self)
        let scales = try file.floats(QuantizationRecord.scaleName(layer))
        let bias = try file.floats(QuantizationRecord.biasName(layer))
        return try body(kernel, scales, bias)
    }
}

/// What a model file must satisfy beyond being intact: the operator's trust policy (`[model]` in the
/// configuration). Checked before the file's tensors are read.
public struct ModelTrust: Sendable, Equatable {
    /// Models whose decision threshold is below this are refused (a threshold near 0 admits every animal).
    public var minimumThreshold: Double
    /// The SHA-256 of the whole file, when the operator pinned one.
    public var fileSHA256: String?
    /// Keys of which one must have signed the model; empty when signatures are not required. A signature
    /// that is present must be valid either way.
    public var trustedKeys: [Ed25519.PublicKey]

    public init(minimumThreshold: Double = 0, fileSHA256: String? = nil, trustedKeys: [Ed25519.PublicKey] = []) {
        self.minimumThreshold = minimumThreshold
        self.fileSHA256 = fileSHA256
        self.trustedKeys = trustedKeys
    }

    /// No requirements beyond integrity.
    public static let none = ModelTrust()

    /// Why `manifest` (of the file whose whole-file digest `fileDigest` gives, computed only when pinned)
    /// is refused, or nil when it is trusted.
    public func refusal(of manifest: ModelManifest, fileDigest: () -> String) -> String? {
        if manifest.threshold < minimumThreshold {
            return "its decision threshold \(manifest.threshold) is below [model] minimum_threshold \(minimumThreshold)"
        }
        if let signature = manifest.signature, !signature.isValid(for: manifest) {
            return
                "its signature (key \(signature.publicKey.fingerprint)) is not valid: the file was altered after signing"
        }
        if !trustedKeys.isEmpty {
            guard let signature = manifest.signature else {
                return
                    "it is not signed, and [model] public_key requires a signature by key \(trustedKeys.map(\.fingerprint).joined(separator: " or "))"
            }
            guard trustedKeys.contains(signature.publicKey) else {
                return
                    "it is signed by key \(signature.publicKey.fingerprint), not by the trusted key \(trustedKeys.map(\.fingerprint).joined(separator: " or "))"
            }
        }
        if let pinned = fileSHA256 {
            let actual = fileDigest()
            guard actual == pinned.lowercased() else {
                return "its SHA-256 \(actual.prefix(16))... is not the pinned [model] sha256 \(pinned.prefix(16))..."
            }
        }
        return nil
    }
}

/// A verified model ready to classify preprocessed images.
public final class DogDoorModel: @unchecked Sendable {
    public let path: String
    public let manifest: ModelManifest
    public let extractor: any FeatureExtracting
    public let head: DenseHead
    /// The arithmetic the conv base runs in (`fp32` or `int8`; `auto` resolved).
    public let precision: Precision
    /// Logit the self-test gave on this machine.
    public let selfTestLogit: Double

    /// Opens `path` and verifies it completely before returning: container structure, manifest and its
    /// checksum, `trust` (threshold floor, signature, pinned digest), tensor names, shapes and dtypes, finite
    /// values, the tensor checksums (float and int8), and the self-test of the network that will run, on this
    /// build's engine. `precision` chooses that network (`auto`: int8 when the file has it and the CPU has int8
    /// dot products); `int8` for a file without int8 tensors is an error.
    public init(
        path: String, plan: ExecutionPlan = .inference, precision: Precision = .fp32,
        threads: ComputeThreads = ComputeThreads(BLASRuntime.defaultThreads), trust: ModelTrust = .none,
        acceptingFormat1: Bool = false
    ) throws(ModelError) {
        self.path = path
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw ModelError(file: path, problem: .container(error)) }
        guard let manifestText = file.metadata[ModelFile.manifestKey] else {
            throw ModelError(file: path, problem: .notAModel)
        }
        do {
            manifest = try ModelManifest(json: try JSONValue.parse(manifestText), acceptingFormat1: acceptingFormat1)
        } catch let e as ManifestError {
            throw ModelError(file: path, problem: .manifest(e))
        } catch let e as JSONError {
            throw ModelError(file: path, problem: .manifest(ManifestError(field: "(manifest)", reason: e.description)))
        } catch {
            throw ModelError(file: path, problem: .manifest(ManifestError(field: "(manifest)", reason: "\(error)")))
        }
        if let refusal = trust.refusal(of: manifest, fileDigest: { file.wholeFileSHA256() }) {
            throw ModelError(file: path, problem: .untrusted(refusal))
        }
        try ModelFile.checkLayout(file, layout: ModelFile.fullLayout(manifest))
        let digest = try ModelFile.scanTensors(file, layout: ModelFile.tensorLayout)
        guard digest == manifest.tensorsSHA256 else {
            throw ModelError(file: path, problem: .checksumMismatch(expected: manifest.tensorsSHA256, actual: digest))
        }
        if let quantization = manifest.quantization {
            let digest = try ModelFile.scanTensors(file, layout: QuantizationRecord.tensorLayout)
            guard digest == quantization.tensorsSHA256 else {
                throw ModelError(
                    file: path, problem: .checksumMismatch(expected: quantization.tensorsSHA256, actual: digest))
            }
        }
        self.precision = precision.resolved(modelHasInt8: manifest.quantization != nil)
        let record: SelfTestRecord
        do {
            switch (self.precision, manifest.quantization) {
            case (.int8, nil):
                throw ModelError(file: path, problem: .notQuantized)
            case (.int8, let quantization?):
                extractor = try QuantizedFeatureExtractor(
                    floatWeights: SafetensorsWeights(file: file), int8Weights: SafetensorsQuantizedWeights(file: file),
                    activationScales: quantization.activationScales, threads: threads)
                record = quantization.selfTest
            default:
                extractor = try VGG16FeatureExtractor(
                    weights: SafetensorsWeights(file: file), plan: plan, threads: threads)
                record = manifest.selfTest
            }
            head = DenseHead(kernel: try file.floats("head.kernel"), bias: try file.floats("head.bias")[0])
        } catch let e as ModelError {
            throw e
        } catch let e as SafetensorsError {
            throw ModelError(file: path, problem: .container(e))
        } catch {
            throw ModelError(file: path, problem: .container(SafetensorsError(file: path, problem: .io("\(error)"))))
        }
        file.releasePages()
        let features = extractor.extract(
            SelfTestInput.make(side: manifest.inputSize), batch: 1, side: manifest.inputSize)[0]
        selfTestLogit = Double(head.logit(features))
        let allowed = record.allowedDifference
        guard abs(selfTestLogit - record.expectedLogit) <= allowed else {
            throw ModelError(
                file: path,
                problem: .selfTestFailed(expected: record.expectedLogit, actual: selfTestLogit, allowed: allowed))
        }
    }

    /// Logits for `batch` preprocessed images `[batch][side][side][3]`.
    public func logits(_ images: UnsafePointer<Float>, batch: Int) -> [Float] {
        var features = [Float](repeating: 0, count: batch * VGG16.featureCount)
        features.withUnsafeMutableBufferPointer { f in
            extractor.extract(images, batch: batch, side: manifest.inputSize, features: f.baseAddress!)
        }
        return (0..<batch).map { n in
            features.withUnsafeBufferPointer { f in
                head.logit(UnsafeBufferPointer(rebasing: f[(n * VGG16.featureCount)..<((n + 1) * VGG16.featureCount)]))
            }
        }
    }

    /// Probability that the image shows the positive class.
    public func probability(logit: Float) -> Double { Double(sigmoid(logit)) }

    /// Whether a probability reaches the model's decision threshold.
    public func admits(probability: Double) -> Bool { probability >= manifest.threshold }
}

/// Loads a conv-base weights file (`vgg16-notop.safetensors`, as Scripts/import-weights.py writes it) into
/// parameters, checking every name and shape against VGG16 and the total parameter count.
public func loadBaseWeights(path: String) throws(ModelError) -> VGG16Parameters {
    let file: SafetensorsFile
    do { file = try SafetensorsFile(path: path) } catch { throw ModelError(file: path, problem: .container(error)) }
    try ModelFile.checkLayout(file, layout: ModelFile.baseTensorLayout)
    _ = try ModelFile.scanTensors(file, layout: ModelFile.baseTensorLayout)
    let parameters = VGG16Parameters()
    do {
        for p in parameters.conv {
            try file.copyFloats("\(p.spec.name).kernel", into: p.kernel.pointer)
            try file.copyFloats("\(p.spec.name).bias", into: p.bias.pointer)
        }
    } catch {
        throw ModelError(file: path, problem: .container(error))
    }
    return parameters
}

extension ModelFile {
    /// The float parameters (13 convolutions and the head) of the model at `path`, after verifying the file
    /// completely as `DogDoorModel` does; returns the verified model too.
    public static func readParameters(
        _ path: String, threads: ComputeThreads = ComputeThreads(BLASRuntime.defaultThreads)
    ) throws -> (model: DogDoorModel, parameters: VGG16Parameters) {
        let model = try DogDoorModel(path: path, threads: threads)
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw ModelError(file: path, problem: .container(error)) }
        let parameters = VGG16Parameters()
        do {
            for p in parameters.conv {
                try file.copyFloats("\(p.spec.name).kernel", into: p.kernel.pointer)
                try file.copyFloats("\(p.spec.name).bias", into: p.bias.pointer)
            }
            parameters.head = DenseHead(kernel: try file.floats("head.kernel"), bias: try file.floats("head.bias")[0])
        } catch {
            throw ModelError(file: path, problem: .container(error))
        }
        return (model, parameters)
    }
}
