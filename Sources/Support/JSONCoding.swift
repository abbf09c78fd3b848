// Codable over `JSONValue`: types describe their JSON once (their properties and `CodingKeys`) instead of
// mapping themselves field by field, while parsing stays with the strict `JSONValue.parse` (duplicate keys,
// depth and size limits) and output with `JSONValue.serialized` (members in the order they were encoded).
// Foundation's JSONEncoder/JSONDecoder are not used: they accept duplicate keys and reorder members.

/// Encodes an `Encodable` value as a `JSONValue`. Object members keep the order in which they were encoded
/// (for synthesized conformances, the order the properties are declared); `nil` optionals are left out.
public struct JSONValueEncoder {
    public init() {}

    public func encode(_ value: some Encodable) throws -> JSONValue {
        let encoder = NodeEncoder(path: [])
        try value.encode(to: encoder)
        return try encoder.node.value(at: [])
    }
}

/// Decodes a `Decodable` value from a `JSONValue`. Numbers decode as integers only when they are whole and
/// in range; errors are `JSONDecodingError`s naming the field's path.
public struct JSONValueDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws(JSONDecodingError) -> T {
        do {
            return try T(from: ValueDecoder(value: value, path: []))
        } catch let error as JSONDecodingError {
            throw error
        } catch let error as DecodingError {
            throw JSONDecodingError(error)
        } catch {
            throw JSONDecodingError(path: "", reason: "\(error)")
        }
    }

    /// Parses `text` strictly, then decodes it.
    public func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decode(type, from: try JSONValue.parse(text))
    }
}

/// Why a JSON value does not decode: the field (`frames.seen`, `items[2].name`, or empty for the whole value)
/// and what is wrong with it.
public struct JSONDecodingError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// An error about the field at `codingPath` (a decoder's path plus the key), for checks in `init(from:)`.
    public init(at codingPath: [any CodingKey], reason: String) {
        self.init(path: pathText(codingPath), reason: reason)
    }

    init(_ error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            self.init(path: pathText(context.codingPath + [key]), reason: "missing")
        case .valueNotFound(_, let context):
            self.init(path: pathText(context.codingPath), reason: "missing or null")
        case .typeMismatch(_, let context), .dataCorrupted(let context):
            self.init(path: pathText(context.codingPath), reason: context.debugDescription)
        @unknown default:
            self.init(path: "", reason: "\(error)")
        }
    }

    public var description: String { path.isEmpty ? reason : "field \"\(path)\": \(reason)" }
}

private func pathText(_ path: [any CodingKey]) -> String {
    var text = ""
    for key in path {
        if let index = key.intValue {
            text += "[\(index)]"
        } else {
            text += text.isEmpty ? key.stringValue : "." + key.stringValue
        }
    }
    return text
}

private struct IndexKey: CodingKey {
    var stringValue: String { "\(index)" }
    var intValue: Int? { index }
    let index: Int
    init(_ index: Int) { self.index = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.index = intValue }
}

private func mismatch(_ expected: String, _ value: JSONValue, _ path: [any CodingKey]) -> JSONDecodingError {
    JSONDecodingError(path: pathText(path), reason: "expected \(expected), got \(value.serialized().prefix(40))")
}

// MARK: - Encoding

/// What an encoder builds: a reference tree, so that nested containers can add to their parent after it was
/// handed out. Turned into a `JSONValue` at the end.
private final class Node {
    enum Content {
        case empty
        case value(JSONValue)
        case object([(key: String, node: Node)])
        case array([Node])
    }

    var content = Content.empty

    func member(_ key: String) -> Node {
        let child = Node()
        guard case .object(var members) = content else { content = .object([(key, child)]); return child }
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].node = child
        } else {
            members.append((key, child))
        }
        content = .object(members)
        return child
    }

    func element() -> Node {
        let child = Node()
        guard case .array(var elements) = content else { content = .array([child]); return child }
        elements.append(child)
        content = .array(elements)
        return child
    }

    func value(at path: [any CodingKey]) throws -> JSONValue {
        switch content {
        case .empty:
            throw EncodingError.invalidValue((), .init(codingPath: path, debugDescription: "nothing was encoded"))
        case .value(let value):
            return value
        case .object(let members):
            var object = JSONObject()
            for (key, node) in members {
                // A member whose value encoded nothing (an empty optional container) is left out.
                if case .empty = node.content { continue }
                object[key] = try node.value(at: path)
            }
            return .object(object)
        case .array(let elements):
            return .array(try elements.map { try $0.value(at: path) })
        }
    }
}

private struct NodeEncoder: Encoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(node: Node = Node(), path: [any CodingKey]) {
        self.node = node
        codingPath = path
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .empty = node.content { node.content = .object([]) }
        return KeyedEncodingContainer(KeyedNodeEncoder<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .empty = node.content { node.content = .array([]) }
        return UnkeyedNodeEncoder(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleNodeEncoder(node: node, codingPath: codingPath)
    }
}

/// Puts one encoded value into a node: JSON's own types directly, `JSONValue` as it is, others through their
/// `encode(to:)`.
private func store(_ value: some Encodable, in node: Node, path: [any CodingKey]) throws {
    switch value {
    case let json as JSONValue: node.content = .value(json)
    case let text as String: node.content = .value(.string(text))
    case let flag as Bool: node.content = .value(.bool(flag))
    case let number as Double: node.content = .value(.number(number))
    case let number as Float: node.content = .value(.number(Double(number)))
    case let number as any BinaryInteger:
        guard let exact = Double(exactly: number) else {
            throw EncodingError.invalidValue(
                value, .init(codingPath: path, debugDescription: "\(number) is not exact in JSON"))
        }
        node.content = .value(.number(exact))
    default:
        try value.encode(to: NodeEncoder(node: node, path: path))
    }
}

private struct KeyedNodeEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.member(key.stringValue).content = .value(.null) }

    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        try store(value, in: node.member(key.stringValue), path: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    )
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = node.member(key.stringValue)
        child.content = .object([])
        return KeyedEncodingContainer(KeyedNodeEncoder<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = node.member(key.stringValue)
        child.content = .array([])
        return UnkeyedNodeEncoder(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.member("super"), path: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NodeEncoder(node: node.member(key.stringValue), path: codingPath + [key])
    }
}

private struct UnkeyedNodeEncoder: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int {
        if case .array(let elements) = node.content { return elements.count }
        return 0
    }

    mutating func encodeNil() throws { node.element().content = .value(.null) }
    mutating func encode(_ value: some Encodable) throws {
        let path = codingPath + [IndexKey(count)]
        try store(value, in: node.element(), path: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        let path = codingPath + [IndexKey(count)]
        let child = node.element()
        child.content = .object([])
        return KeyedEncodingContainer(KeyedNodeEncoder<NestedKey>(node: child, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = codingPath + [IndexKey(count)]
        let child = node.element()
        child.content = .array([])
        return UnkeyedNodeEncoder(node: child, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.element(), path: codingPath) }
}

private struct SingleNodeEncoder: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.content = .value(.null) }
    mutating func encode(_ value: some Encodable) throws { try store(value, in: node, path: codingPath) }
}

// MARK: - Decoding

/// Coding keys that list every field an object may have: `JSONValueDecoder` refuses an object with any other
/// member ("unknown field"), for files and messages where a field nobody reads would be a field nobody checks.
public protocol ExhaustiveCodingKey: CodingKey {}

/// A member name as a coding key, for naming an unknown field in an error.
private struct FieldNameKey: CodingKey {
    let stringValue: String
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let path: [any CodingKey]
    var codingPath: [any CodingKey] { path }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else { throw mismatch("an object", value, path) }
        if Key.self is any ExhaustiveCodingKey.Type,
            let unknown = object.keys.first(where: { Key(stringValue: $0) == nil })
        {
            throw JSONDecodingError(path: pathText(path + [FieldNameKey(unknown)]), reason: "unknown field")
        }
        return KeyedDecodingContainer(KeyedValueDecoder<Key>(object: object, codingPath: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch("an array", value, path) }
        return UnkeyedValueDecoder(elements: elements, codingPath: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueDecoder(value: value, codingPath: path)
    }
}

/// Reads one value of type `T` from `value`: JSON's own types directly (integers only when whole and in
/// range), `JSONValue` as it is, others through their `init(from:)`.
private func load<T: Decodable>(_ type: T.Type, from value: JSONValue, path: [any CodingKey]) throws -> T {
    if T.self == JSONValue.self { return value as! T }
    if T.self == String.self {
        guard case .string(let text) = value else { throw mismatch("a string", value, path) }
        return text as! T
    }
    if T.self == Bool.self {
        guard case .bool(let flag) = value else { throw mismatch("true or false", value, path) }
        return flag as! T
    }
    if T.self == Double.self {
        guard case .number(let number) = value else { throw mismatch("a number", value, path) }
        return number as! T
    }
    if T.self == Float.self {
        guard case .number(let number) = value else { throw mismatch("a number", value, path) }
        return Float(number) as! T
    }
    if let integer = T.self as? any (BinaryInteger & Decodable).Type {
        guard case .number(let number) = value, let exact = integer.init(exactly: number) else {
            throw mismatch("a whole number in range", value, path)
        }
        return exact as! T
    }
    return try T(from: ValueDecoder(value: value, path: path))
}

private struct KeyedValueDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let codingPath: [any CodingKey]

    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    private func member(_ key: Key) throws -> JSONValue {
        guard let value = object[key.stringValue] else {
            throw JSONDecodingError(path: pathText(codingPath + [key]), reason: "missing")
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool { try member(key) == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try load(type, from: try member(key), path: codingPath + [key])
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = object[key.stringValue], value != .null else { return nil }
        return try load(type, from: value, path: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try ValueDecoder(value: try member(key), path: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(value: try member(key), path: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { ValueDecoder(value: object["super"] ?? .null, path: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        ValueDecoder(value: try member(key), path: codingPath + [key])
    }
}

private struct UnkeyedValueDecoder: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    init(elements: [JSONValue], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    private mutating func next() throws -> (JSONValue, [any CodingKey]) {
        let path = codingPath + [IndexKey(currentIndex)]
        guard !isAtEnd else {
            throw JSONDecodingError(path: pathText(path), reason: "missing (the array is too short)")
        }
        defer { currentIndex += 1 }
        return (elements[currentIndex], path)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (value, path) = try next()
        return try load(type, from: value, path: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let (value, path) = try next()
        return try ValueDecoder(value: value, path: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (value, path) = try next()
        return try ValueDecoder(value: value, path: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (value, path) = try next()
        return ValueDecoder(value: value, path: path)
    }
}

private struct SingleValueDecoder: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { value == .null }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try load(type, from: value, path: codingPath) }
}

// MARK: - JSONValue itself

/// Any JSON, for fields whose shape is open (an event's details): passed through as it is by the coders above,
/// and representable with any other encoder or decoder too.
extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: AnyKey.self) {
            var object = JSONObject()
            for key in container.allKeys { object[key.stringValue] = try container.decode(JSONValue.self, forKey: key) }
            self = .object(object)
        } else if var container = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            while !container.isAtEnd { elements.append(try container.decode(JSONValue.self)) }
            self = .array(elements)
        } else {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let flag = try? container.decode(Bool.self) {
                self = .bool(flag)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else {
                self = .string(try container.decode(String.self))
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case .number(let number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .array(let elements):
            var container = encoder.unkeyedContainer()
            for element in elements { try container.encode(element) }
        case .object(let object):
            var container = encoder.container(keyedBy: AnyKey.self)
            for (key, value) in object.members { try container.encode(value, forKey: AnyKey(key)) }
        }
    }
}

private struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ key: String) { stringValue = key }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
