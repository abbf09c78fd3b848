import Support

/// What the model page shows about the daemon's model: its manifest, read from the model file's header.
///
/// Only the safetensors header is read (an 8-byte length, then JSON whose `__metadata__.dogdoor_manifest` holds
/// the manifest); the tensors are not. The engine's reader (NeuralNet) is not linked into the web app: loading
/// it starts OpenBLAS's thread pool in this process, and the daemon has verified the file (checksums, self-test,
/// signature) before using it. The page says which file and checksum the daemon reported.
public struct ModelSummary: Sendable, Equatable {
    /// Largest header read: the manifest and a tensor index of a few dozen entries take a few KiB.
    public static let maximumHeaderBytes = 1 << 20

    public var positiveClass: String
    public var negativeClass: String
    public var threshold: Double
    public var architecture: String
    public var inputSize: Int?
    /// The trainer's summary (recipe, photos counted, phase times, accuracy, calibration), flattened to
    /// `key: value` lines, nested keys joined by dots.
    public var training: [(key: String, value: String)]
    public var signed: Bool

    public static func == (lhs: ModelSummary, rhs: ModelSummary) -> Bool {
        lhs.positiveClass == rhs.positiveClass && lhs.negativeClass == rhs.negativeClass
            && lhs.threshold == rhs.threshold && lhs.architecture == rhs.architecture
            && lhs.inputSize == rhs.inputSize && lhs.signed == rhs.signed
            && lhs.training.elementsEqual(rhs.training) { $0.key == $1.key && $0.value == $1.value }
    }

    /// Reads the manifest of the model file at `path`; errors name the file and what is wrong.
    public static func load(_ path: String) throws -> ModelSummary {
        let lengthBytes = try readFile(path, count: 8, at: 0).bytes
        guard lengthBytes.count == 8 else { throw Failure("\(path): not a safetensors file") }
        let length = lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length >= 2, length <= UInt64(maximumHeaderBytes) else {
            throw Failure("\(path): not a DogDoor model (header of \(length) bytes)")
        }
        let header = try readFile(path, count: Int(length), at: 8).bytes
        guard header.count == Int(length) else { throw Failure("\(path): the header is cut short") }
        return try summary(header: header, file: path)
    }

    /// Reads the manifest from a header's bytes (the JSON after the length); `file` names it in errors.
    public static func summary(header: [UInt8], file: String) throws -> ModelSummary {
        guard let value = try? JSONValue.parse(header),
            case .string(let text)? = value["__metadata__"]?["dogdoor_manifest"],
            let manifest = try? JSONValue.parse(text)
        else { throw Failure("\(file): no DogDoor manifest in the header") }
        guard let positive = manifest["classes"]?["positive"]?.stringValue,
            let negative = manifest["classes"]?["negative"]?.stringValue,
            let threshold = manifest["decision"]?["threshold"]?.doubleValue
        else { throw Failure("\(file): the manifest lacks its classes or threshold") }
        var training: [(key: String, value: String)] = []
        flatten(manifest["training"] ?? .null, prefix: "", into: &training)
        return ModelSummary(
            positiveClass: positive, negativeClass: negative, threshold: threshold,
            architecture: manifest["architecture"]?.stringValue ?? "?",
            inputSize: manifest["input"]?["width"]?.intValue, training: training,
            signed: manifest["integrity"]?["signature"] != nil)
    }

    private static func flatten(_ value: JSONValue, prefix: String, into lines: inout [(key: String, value: String)]) {
        switch value {
        case .object(let object):
            for member in object.members {
                flatten(member.value, prefix: prefix.isEmpty ? member.key : prefix + "." + member.key, into: &lines)
            }
        case .string(let text): lines.append((prefix, text))
        case .null: break
        default: lines.append((prefix, value.serialized()))
        }
    }
}
