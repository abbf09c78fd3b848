import Support

/// Element types of the safetensors format.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case i64 = "I64", u64 = "U64", f64 = "F64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .i64, .u64, .f64: return 8
        }
    }
}

/// Why a safetensors file was rejected. Every case names the problem precisely; `file` names the file.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    public enum Problem: Equatable, Sendable {
        case tooShort(size: Int)
        case headerBeyondFile(headerLength: UInt64, fileSize: Int)
        case headerTooLarge(headerLength: UInt64)
        /// The first 8 bytes are not a plausible header length: not a safetensors file at all.
        case notSafetensors(firstBytes: [UInt8])
        case invalidJSON(JSONError)
        case headerNotObject
        case invalidMetadata(String)
        case invalidEntry(tensor: String, reason: String)
        case unknownDType(tensor: String, dtype: String)
        case sizeMismatch(tensor: String, expected: Int, actual: Int)
        case outOfBounds(tensor: String, end: Int, dataSize: Int)
        case overlap(tensor: String, other: String)
        case hole(offset: Int, size: Int)
        case missingTensor(String)
        case wrongDType(tensor: String, expected: SafetensorsDType, actual: SafetensorsDType)
        case io(String)
    }

    public var file: String
    public var problem: Problem

    public init(file: String, problem: Problem) {
        self.file = file
        self.problem = problem
    }

    public var description: String {
        let what: String
        switch problem {
        case .tooShort(let size): what = "file is \(size) bytes, too short for a safetensors header"
        case .headerBeyondFile(let length, let size):
            what = "header length \(length) reaches beyond the end of the file (\(size) bytes)"
        case .headerTooLarge(let length):
            what = "header length \(length) exceeds the \(SafetensorsFile.maxHeaderLength >> 20) MiB limit"
        case .notSafetensors(let first):
            let shown = first.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : "." }.joined()
            what = "not a safetensors file (it begins \"\(shown)\", not with an 8-byte header length)"
        case .invalidJSON(let e): what = "header is not valid JSON: \(e)"
        case .headerNotObject: what = "header is not a JSON object"
        case .invalidMetadata(let reason): what = "__metadata__: \(reason)"
        case .invalidEntry(let tensor, let reason): what = "tensor \"\(tensor)\": \(reason)"
        case .unknownDType(let tensor, let dtype): what = "tensor \"\(tensor)\": unknown dtype \"\(dtype)\""
        case .sizeMismatch(let tensor, let expected, let actual):
            what = "tensor \"\(tensor)\": shape and dtype need \(expected) bytes but data_offsets give \(actual)"
        case .outOfBounds(let tensor, let end, let dataSize):
            what = "tensor \"\(tensor)\": data ends at \(end), beyond the data area of \(dataSize) bytes"
        case .overlap(let tensor, let other): what = "tensors \"\(other)\" and \"\(tensor)\" overlap"
        case .hole(let offset, let size): what = "data area has \(size) unused bytes at offset \(offset)"
        case .missingTensor(let name): what = "tensor \"\(name)\" is missing"
        case .wrongDType(let tensor, let expected, let actual):
            what = "tensor \"\(tensor)\" is \(actual.rawValue), expected \(expected.rawValue)"
        case .io(let reason): what = reason
        }
        return "\(file): \(what)"
    }
}

/// One tensor's entry in a safetensors header.
public struct TensorInfo: Sendable, Equatable {
    public var name: String
    public var dtype: SafetensorsDType
    public var shape: [Int]
    /// Byte range within the data area.
    public var range: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file opened read-only over a memory map, validated completely before any tensor is read.
///
/// Format: an 8-byte little-endian header length N, N bytes of JSON header (an object mapping tensor names to
/// `{"dtype", "shape", "data_offsets": [begin, end]}`, plus an optional `"__metadata__"` string-to-string
/// object), then the data area. Validation guarantees every tensor's byte range lies inside the data area,
/// matches its shape and dtype, and overlaps no other; so reads can never go out of bounds.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    /// Tensors in data order.
    public let tensors: [TensorInfo]
    /// The `__metadata__` object.
    public let metadata: [String: String]
    /// Byte offset of the data area within the file.
    public let dataOffset: Int
    private let file: MappedFile
    private let index: [String: Int]

    /// Longest JSON header accepted: a DogDoor model's header (28 tensor entries and the manifest) is a few
    /// KiB; 4 MiB leaves room for any honest safetensors file and bounds the JSON tree built from it.
    public static let maxHeaderLength: UInt64 = 4 << 20

    /// Opens and validates `path`.
    public init(path: String) throws(SafetensorsError) {
        self.path = path
        do {
            file = try MappedFile(path: path)
        } catch {
            throw SafetensorsError(file: path, problem: .io(error.failure))
        }
        let parsed = try Self.parseHeader(file.bytes, path: path)
        tensors = parsed.tensors
        metadata = parsed.metadata
        dataOffset = parsed.dataOffset
        index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// Validates the header of an in-memory safetensors image (exposed for tests and fuzzing).
    public static func parseHeader(
        _ bytes: UnsafeRawBufferPointer, path: String
    ) throws(SafetensorsError)
        -> (tensors: [TensorInfo], metadata: [String: String], dataOffset: Int)
    {
        func fail(_ p: SafetensorsError.Problem) -> SafetensorsError { SafetensorsError(file: path, problem: p) }
        guard bytes.count >= 8 else { throw fail(.tooShort(size: bytes.count)) }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length <= maxHeaderLength else {
            // A length in the exabytes means the file is something else (text, an image, a weights archive).
            if length > UInt64(1) << 40 { throw fail(.notSafetensors(firstBytes: Array(bytes.prefix(8)))) }
            throw fail(.headerTooLarge(headerLength: length))
        }
        guard length <= UInt64(bytes.count - 8) else {
            throw fail(.headerBeyondFile(headerLength: length, fileSize: bytes.count))
        }
        let headerEnd = 8 + Int(length)
        let json: JSONValue
        do {
            json = try JSONValue.parse(UnsafeRawBufferPointer(rebasing: bytes[8..<headerEnd]))
        } catch {
            throw fail(.invalidJSON(error))
        }
        guard let object = json.objectValue else { throw fail(.headerNotObject) }
        let dataSize = bytes.count - headerEnd
        var metadata: [String: String] = [:]
        var tensors: [TensorInfo] = []
        for (name, value) in object.members {
            if name == "__metadata__" {
                guard let meta = value.objectValue else { throw fail(.invalidMetadata("not an object")) }
                for (key, v) in meta.members {
                    guard let s = v.stringValue else {
                        throw fail(.invalidMetadata("value of \"\(key)\" is not a string"))
                    }
                    metadata[key] = s
                }
                continue
            }
            guard let entry = value.objectValue else {
                throw fail(.invalidEntry(tensor: name, reason: "entry is not an object"))
            }
            for key in entry.keys where !["dtype", "shape", "data_offsets"].contains(key) {
                throw fail(.invalidEntry(tensor: name, reason: "unexpected key \"\(key)\""))
            }
            guard let dtypeName = entry["dtype"]?.stringValue else {
                throw fail(.invalidEntry(tensor: name, reason: "dtype missing or not a string"))
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw fail(.unknownDType(tensor: name, dtype: dtypeName))
            }
            guard let shapeValues = entry["shape"]?.arrayValue else {
                throw fail(.invalidEntry(tensor: name, reason: "shape missing or not an array"))
            }
            var shape: [Int] = []
            var elements = 1
            for v in shapeValues {
                guard let d = v.intValue, d >= 0 else {
                    throw fail(
                        .invalidEntry(tensor: name, reason: "shape has a dimension that is not a non-negative integer"))
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, product <= Int(Int32.max) * 64 else {
                    throw fail(.invalidEntry(tensor: name, reason: "shape is too large"))
                }
                elements = product
                shape.append(d)
            }
            guard let offsets = entry["data_offsets"]?.arrayValue, offsets.count == 2,
                let begin = offsets[0].intValue, let end = offsets[1].intValue, begin >= 0, end >= begin
            else {
                throw fail(
                    .invalidEntry(tensor: name, reason: "data_offsets must be [begin, end] with 0 <= begin <= end"))
            }
            let expected = elements * dtype.size
            guard end - begin == expected else {
                throw fail(.sizeMismatch(tensor: name, expected: expected, actual: end - begin))
            }
            guard end <= dataSize else { throw fail(.outOfBounds(tensor: name, end: end, dataSize: dataSize)) }
            tensors.append(TensorInfo(name: name, dtype: dtype, shape: shape, range: begin..<end))
        }
        tensors.sort { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }
        var cursor = 0
        var previous: String?
        for t in tensors {
            if t.range.lowerBound < cursor, let previous { throw fail(.overlap(tensor: t.name, other: previous)) }
            if t.range.lowerBound > cursor { throw fail(.hole(offset: cursor, size: t.range.lowerBound - cursor)) }
            if !t.range.isEmpty || previous == nil { previous = t.name }
            cursor = max(cursor, t.range.upperBound)
        }
        if cursor < dataSize { throw fail(.hole(offset: cursor, size: dataSize - cursor)) }
        return (tensors, metadata, headerEnd)
    }

    /// The entry for `name`, or nil.
    public func info(_ name: String) -> TensorInfo? { index[name].map { tensors[$0] } }

    /// The raw bytes of a tensor.
    public func bytes(of info: TensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(
            rebasing: file.bytes[(dataOffset + info.range.lowerBound)..<(dataOffset + info.range.upperBound)])
    }

    /// The whole data area (what model files hash).
    public var dataArea: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[dataOffset..<file.count])
    }

    /// Copies a float32 tensor into `destination` (which holds at least its element count).
    /// Safe for any alignment of the data in the file.
    public func copyFloats(_ name: String, into destination: UnsafeMutablePointer<Float>) throws(SafetensorsError) {
        guard let info = info(name) else { throw SafetensorsError(file: path, problem: .missingTensor(name)) }
        guard info.dtype == .f32 else {
            throw SafetensorsError(file: path, problem: .wrongDType(tensor: name, expected: .f32, actual: info.dtype))
        }
        let src = bytes(of: info)
        UnsafeMutableRawPointer(destination).copyMemory(from: src.baseAddress!, byteCount: src.count)
    }

    /// A float32 tensor as an array.
    public func floats(_ name: String) throws(SafetensorsError) -> [Float] {
        guard let info = info(name) else { throw SafetensorsError(file: path, problem: .missingTensor(name)) }
        var out = [Float](repeating: 0, count: info.elementCount)
        try out.withUnsafeMutableBufferPointer { (b) throws(SafetensorsError) in
            if let base = b.baseAddress { try copyFloats(name, into: base) }
        }
        return out
    }

    /// A float64 tensor as an array.
    public func doubles(_ name: String) throws(SafetensorsError) -> [Double] {
        guard let info = info(name) else { throw SafetensorsError(file: path, problem: .missingTensor(name)) }
        guard info.dtype == .f64 else {
            throw SafetensorsError(file: path, problem: .wrongDType(tensor: name, expected: .f64, actual: info.dtype))
        }
        let src = bytes(of: info)
        return (0..<info.elementCount).map { src.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) }
    }

    /// SHA-256 of the whole file (`sha256sum`), dropping the pages it read.
    public func wholeFileSHA256() -> String {
        var h = SHA256()
        var offset = 0
        let chunk = 8 << 20
        while offset < file.count {
            let end = min(file.count, offset + chunk)
            h.update(UnsafeRawBufferPointer(rebasing: file.bytes[offset..<end]))
            file.release(offset: offset, count: end - offset)
            offset = end
        }
        return h.finalizeHex()
    }

    /// Drops the mapped pages of the file from this process's resident memory (they are re-read on demand).
    public func releasePages() { file.release(offset: 0, count: file.count) }

    /// Drops the mapped pages of one tensor (whole pages only) from resident memory.
    public func releasePages(of info: TensorInfo) {
        file.release(offset: dataOffset + info.range.lowerBound, count: info.range.count)
    }
}

/// Writes safetensors files: float32 tensors in the order given, the header padded with spaces to a
/// multiple of 8 bytes so that every tensor starts 8-byte aligned in the file.
public struct SafetensorsWriter {
    public struct Tensor {
        public var name: String
        public var shape: [Int]
        public var dtype: SafetensorsDType
        /// The tensor's little-endian bytes.
        public var bytes: UnsafeRawBufferPointer

        public init(name: String, shape: [Int], data: UnsafeBufferPointer<Float>) {
            self.init(name: name, shape: shape, dtype: .f32, bytes: UnsafeRawBufferPointer(data))
        }

        /// A tensor of any dtype given as its raw bytes (copied from another file, or a model's int8 form).
        public init(name: String, shape: [Int], dtype: SafetensorsDType, bytes: UnsafeRawBufferPointer) {
            precondition(
                shape.reduce(1, *) * dtype.size == bytes.count,
                "\(name): shape \(shape) does not match \(bytes.count) bytes")
            self.name = name
            self.shape = shape
            self.dtype = dtype
            self.bytes = bytes
        }
    }

    /// The header bytes (length prefix included) for the tensors and metadata.
    public static func header(for tensors: [Tensor], metadata: [String: String]) -> [UInt8] {
        var object = JSONObject()
        if !metadata.isEmpty {
            object["__metadata__"] = .object(
                JSONObject(metadata.sorted { $0.key < $1.key }.map { (key: $0.key, value: .string($0.value)) }))
        }
        var offset = 0
        for t in tensors {
            let size = t.bytes.count
            object[t.name] = .object([
                "dtype": .string(t.dtype.rawValue),
                "shape": .array(t.shape.map { .number(Double($0)) }),
                "data_offsets": [.number(Double(offset)), .number(Double(offset + size))],
            ])
            offset += size
        }
        var json = Array(JSONValue.object(object).serialized().utf8)
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = [UInt8]()
        let n = UInt64(json.count)
        for i in 0..<8 { out.append(UInt8((n >> (8 * UInt64(i))) & 0xFF)) }
        out.append(contentsOf: json)
        return out
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    public static func write(_ tensors: [Tensor], metadata: [String: String], to path: String) throws {
        let head = header(for: tensors, metadata: metadata)
        try AtomicFile.write(to: path) { append in
            try head.withUnsafeBytes { try append($0) }
            for t in tensors { try append(t.bytes) }
        }
    }
}
