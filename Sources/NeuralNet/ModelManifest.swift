import Support

/// The description a model file carries about itself (in the safetensors `__metadata__`, key
/// `dogdoor_manifest`, as JSON). See docs/model-format.md.
///
/// Mapped to and from JSON by hand rather than through Codable: its checksum covers a canonical form (sorted
/// keys, `integrity` left out) that must be rebuilt exactly as the writer built it, which fields exist depends on
/// the format version, and each check is about the door (a threshold strictly between 0 and 1, a supported input
/// size, lowercase hex) with an error that names the manifest field for `dogdoor model verify`.
public struct ModelManifest: Sendable, Equatable {
    /// Version of this manifest and file layout. Readers refuse versions they do not know. Version 2 added
    /// `integrity` (a checksum over the manifest, and an optional signature); version 1 files are read only
    /// by `dogdoor model upgrade`.
    public static let currentFormatVersion = 2
    /// Architecture identifier of the network in the file.
    public static let architectureName = "vgg16-notop+gap+dense1"

    public var formatVersion: Int = ModelManifest.currentFormatVersion
    public var architecture: String = ModelManifest.architectureName
    /// Input side length in pixels (square RGB input).
    public var inputSize: Int = VGG16.inputSize
    /// How images are resized to `inputSize` (a name the image pipeline implements, e.g. "area").
    public var resize: String
    /// How resized images are centred (e.g. "samplewise": subtract the image's one mean over all values).
    public var centering: String
    /// The class whose photos open the door; a positive logit means this class.
    public var positiveClass: String
    /// The other class.
    public var negativeClass: String
    /// Decision threshold on the probability sigmoid(logit): at or above it, the frame counts as the dog.
    public var threshold: Double
    /// Free-form training summary (data, recipe, results), as the trainer wrote it.
    public var training: JSONObject
    /// SHA-256 over the tensors in canonical order (see `ModelFile.tensorDigest`).
    public var tensorsSHA256: String
    /// The logit the network gave the built-in self-test input when the file was written.
    public var selfTest: SelfTestRecord
    /// The signature over the tensors and the manifest, when the model was signed.
    public var signature: ModelSignature?
    /// The int8 form the file also carries (`dogdoor model quantize`), or nil for a float-only file.
    /// Builds that predate it refuse such a file (an unknown field), rather than ignoring tensors they cannot check.
    public var quantization: QuantizationRecord?

    public init(
        resize: String, centering: String, positiveClass: String, negativeClass: String, threshold: Double,
        training: JSONObject, tensorsSHA256: String = "", selfTest: SelfTestRecord = SelfTestRecord()
    ) {
        self.resize = resize
        self.centering = centering
        self.positiveClass = positiveClass
        self.negativeClass = negativeClass
        self.threshold = threshold
        self.training = training
        self.tensorsSHA256 = tensorsSHA256
        self.selfTest = selfTest
    }

    /// Decision threshold as a logit: `logit(threshold)`.
    public var thresholdLogit: Double {
        let p = min(max(threshold, 1e-12), 1 - 1e-12)
        return log(p / (1 - p))
    }

    /// The manifest as written: every field, then `integrity` (the checksum over all the others, and the
    /// signature if there is one).
    public var json: JSONValue {
        guard case .object(var object) = contentJSON else { preconditionFailure("the manifest is an object") }
        var integrity: JSONObject = ["manifest_sha256": .string(contentSHA256)]
        if let signature { integrity["signature"] = signature.json }
        object["integrity"] = .object(integrity)
        return .object(object)
    }

    /// SHA-256 over the manifest without `integrity`, serialized with sorted keys: covers every decision-
    /// relevant field (threshold, preprocessing, classes, input size), the training summary and the tensors'
    /// checksum, so that no edit of the manifest goes unnoticed.
    public var contentSHA256: String { SHA256.hex(Array(contentJSON.serialized(sortedKeys: true).utf8)) }

    /// What a signature signs: the tensors' checksum and the manifest's.
    public var signedMessage: [UInt8] {
        Array("dogdoor-model-signature-v1\n\(tensorsSHA256)\n\(contentSHA256)\n".utf8)
    }

    /// The manifest's fields without `integrity`.
    var contentJSON: JSONValue {
        let side = JSONValue.number(Double(inputSize))
        let input: JSONValue = ["height": side, "width": side, "channels": 3, "color": "RGB", "layout": "NHWC"]
        let preprocessing: JSONValue = ["resize": .string(resize), "centering": .string(centering)]
        let classes: JSONValue = ["positive": .string(positiveClass), "negative": .string(negativeClass)]
        let decision: JSONValue = ["threshold": .number(threshold), "score": "sigmoid(logit)"]
        var object = JSONObject()
        object["format_version"] = .number(Double(formatVersion))
        object["architecture"] = .string(architecture)
        object["input"] = input
        object["preprocessing"] = preprocessing
        object["classes"] = classes
        object["decision"] = decision
        object["training"] = .object(training)
        object["tensors_sha256"] = .string(tensorsSHA256)
        object["self_test"] = selfTest.json
        if let quantization { object["quantization"] = quantization.json }
        return .object(object)
    }

    /// Parses and checks a manifest, including its checksum; errors name the offending field.
    /// `acceptingFormat1` reads version-1 manifests, which have no checksum (for `dogdoor model upgrade`).
    public init(json: JSONValue, acceptingFormat1: Bool = false) throws(ManifestError) {
        func field<T>(_ path: String, _ value: T?) throws(ManifestError) -> T {
            guard let value else { throw ManifestError(field: path, reason: "missing or of the wrong type") }
            return value
        }
        guard json.objectValue != nil else { throw ManifestError(field: "(manifest)", reason: "not a JSON object") }
        formatVersion = try field("format_version", json["format_version"]?.intValue)
        if formatVersion == 1 && !acceptingFormat1 {
            throw ManifestError(
                field: "format_version",
                reason:
                    "version 1 has no manifest checksum; `dogdoor model upgrade FILE` verifies the file and writes version 2"
            )
        }
        guard formatVersion == Self.currentFormatVersion || (formatVersion == 1 && acceptingFormat1) else {
            throw ManifestError(
                field: "format_version",
                reason: "version \(formatVersion) is not supported (this build reads \(Self.currentFormatVersion))")
        }
        if formatVersion >= 2 {
            // The written manifest must say exactly this: an unknown field would be a field nobody checks.
            let known: Set<String> = [
                "format_version", "architecture", "input", "preprocessing", "classes", "decision",
                "training", "tensors_sha256", "self_test", "integrity", "quantization",
            ]
            if let extra = json.objectValue?.keys.first(where: { !known.contains($0) }) {
                throw ManifestError(field: extra, reason: "unknown field")
            }
        }
        architecture = try field("architecture", json["architecture"]?.stringValue)
        guard architecture == Self.architectureName else {
            throw ManifestError(
                field: "architecture", reason: "\"\(architecture)\" is not \"\(Self.architectureName)\"")
        }
        let height = try field("input.height", json["input"]?["height"]?.intValue)
        let width = try field("input.width", json["input"]?["width"]?.intValue)
        guard height == width, VGG16.supports(inputSize: height) else {
            throw ManifestError(
                field: "input",
                reason: "\(height)x\(width) is not a supported input size (square, a multiple of 32 from 32 to 512)")
        }
        inputSize = height
        if let channels = json["input"]?["channels"]?.intValue, channels != 3 {
            throw ManifestError(field: "input.channels", reason: "\(channels) channels; the network takes 3 (RGB)")
        }
        resize = try field("preprocessing.resize", json["preprocessing"]?["resize"]?.stringValue)
        centering = try field("preprocessing.centering", json["preprocessing"]?["centering"]?.stringValue)
        positiveClass = try field("classes.positive", json["classes"]?["positive"]?.stringValue)
        negativeClass = try field("classes.negative", json["classes"]?["negative"]?.stringValue)
        threshold = try field("decision.threshold", json["decision"]?["threshold"]?.doubleValue)
        guard threshold > 0, threshold < 1 else {
            throw ManifestError(
                field: "decision.threshold", reason: "\(threshold) is not a probability strictly between 0 and 1")
        }
        training = json["training"]?.objectValue ?? JSONObject()
        tensorsSHA256 = try field("tensors_sha256", json["tensors_sha256"]?.stringValue)
        guard tensorsSHA256.count == 64, tensorsSHA256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw ManifestError(field: "tensors_sha256", reason: "not 64 lowercase hex digits")
        }
        selfTest = try SelfTestRecord(json: try field("self_test", json["self_test"]))
        if let value = json["quantization"] { quantization = try QuantizationRecord(json: value) }
        guard formatVersion >= 2 else {
            formatVersion = Self.currentFormatVersion  // written back as version 2
            return
        }
        guard let integrity = json["integrity"]?.objectValue else {
            throw ManifestError(field: "integrity", reason: "missing")
        }
        let recorded = try field("integrity.manifest_sha256", integrity["manifest_sha256"]?.stringValue)
        guard recorded == contentSHA256 else {
            throw ManifestError(
                field: "integrity.manifest_sha256",
                reason:
                    "the manifest does not match its checksum (recorded \(recorded.prefix(16)), computed \(contentSHA256.prefix(16))): it was edited or is corrupt"
            )
        }
        if let value = integrity["signature"] { signature = try ModelSignature(json: value) }
    }
}

/// An Ed25519 signature of a model (`ModelManifest.signedMessage`), with the public key that made it.
public struct ModelSignature: Sendable, Equatable {
    public var publicKey: Ed25519.PublicKey
    public var value: [UInt8]

    public init(publicKey: Ed25519.PublicKey, value: [UInt8]) {
        self.publicKey = publicKey
        self.value = value
    }

    var json: JSONValue {
        [
            "algorithm": "ed25519", "public_key": .string(Base64.encode(publicKey.rawValue)),
            "value": .string(Base64.encode(value)),
        ]
    }

    init(json: JSONValue) throws(ManifestError) {
        guard json["algorithm"]?.stringValue == "ed25519" else {
            throw ManifestError(field: "integrity.signature.algorithm", reason: "must be \"ed25519\"")
        }
        guard
            let key = json["public_key"]?.stringValue.flatMap(Base64.decode).flatMap(Ed25519.PublicKey.init(rawValue:))
        else {
            throw ManifestError(
                field: "integrity.signature.public_key", reason: "not a base64 Ed25519 public key (32 bytes)")
        }
        guard let value = json["value"]?.stringValue.flatMap(Base64.decode), value.count == 64 else {
            throw ManifestError(field: "integrity.signature.value", reason: "not a base64 Ed25519 signature (64 bytes)")
        }
        publicKey = key
        self.value = value
    }

    /// Whether this is a valid signature of `manifest` by its key.
    public func isValid(for manifest: ModelManifest) -> Bool {
        publicKey.isValidSignature(value, for: manifest.signedMessage)
    }
}

/// A manifest field that is missing or wrong.
public struct ManifestError: Error, Equatable, CustomStringConvertible {
    public var field: String
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "manifest field \(field): \(reason)" }
}

/// The self-test of a model file: the logit its network gives `SelfTestInput`, recorded when written.
public struct SelfTestRecord: Sendable, Equatable {
    /// Name of the input generator.
    public var input: String = SelfTestInput.name
    /// The logit recorded by the writer.
    public var expectedLogit: Double = 0
    /// `|bias| + sum |w_i f_i|` at the time: the scale rounding differences are measured against.
    public var magnitude: Double = 0
    /// Allowed difference relative to `magnitude`.
    public var relativeTolerance: Double = 1e-4

    public init() {}

    public init(expectedLogit: Double, magnitude: Double, relativeTolerance: Double = 1e-4) {
        self.expectedLogit = expectedLogit
        self.magnitude = magnitude
        self.relativeTolerance = relativeTolerance
    }

    var json: JSONValue {
        let fields: [(key: String, value: JSONValue)] = [
            ("input", .string(input)), ("expected_logit", .number(expectedLogit)), ("magnitude", .number(magnitude)),
            ("relative_tolerance", .number(relativeTolerance)),
        ]
        return .object(JSONObject(fields))
    }

    init(json: JSONValue) throws(ManifestError) {
        guard let input = json["input"]?.stringValue else {
            throw ManifestError(field: "self_test.input", reason: "missing")
        }
        guard input == SelfTestInput.name else {
            throw ManifestError(field: "self_test.input", reason: "unknown self-test input \"\(input)\"")
        }
        guard let expected = json["expected_logit"]?.doubleValue, let magnitude = json["magnitude"]?.doubleValue,
            let tolerance = json["relative_tolerance"]?.doubleValue, magnitude >= 0, tolerance > 0, tolerance < 0.1
        else {
            throw ManifestError(
                field: "self_test",
                reason: "expected_logit, magnitude and relative_tolerance must be numbers (tolerance below 0.1)")
        }
        self.input = input
        expectedLogit = expected
        self.magnitude = magnitude
        relativeTolerance = tolerance
    }

    /// Allowed absolute difference of the logit.
    public var allowedDifference: Double { relativeTolerance * magnitude + 1e-6 }
}

/// The fixed input of every model's self-test: a deterministic, integer-valued pattern (so every platform
/// builds it bit for bit), centred like a preprocessed image.
public enum SelfTestInput {
    public static let name = "dogdoor-selftest-1"

    /// `[side][side][3]` floats.
    public static func make(side: Int = VGG16.inputSize) -> [Float] {
        var out = [Float](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                for c in 0..<3 {
                    // Smooth gradients, a checkerboard of 16-pixel squares, and a diagonal stripe per channel.
                    let gradient = (x * 3 + y * 2 + c * 40) % 256
                    let checker = ((x / 16 + y / 16) % 2) * 60
                    let stripe = ((x + y + c * 17) % 48) < 8 ? 50 : 0
                    out[(y * side + x) * 3 + c] = Float((gradient + checker + stripe) % 256) - 128
                }
            }
        }
        return out
    }
}
