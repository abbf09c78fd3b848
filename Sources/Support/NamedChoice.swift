/// An enumeration whose cases are chosen by name in configuration files and on command lines, e.g.
/// `format = "mjpeg"` or `--plan fast`. One protocol, so that every such choice parses, lists its names and
/// reports a wrong one the same way.
public protocol NamedChoice: CaseIterable, Sendable, Equatable {
    /// The name users write.
    var name: String { get }
}

extension NamedChoice {
    /// The case called `name`, or nil.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Every case's name, in declaration order.
    public static var names: [String] { allCases.map(\.name) }

    /// `"a", "b" or "c"`, for messages that list the accepted names.
    public static var quotedNames: String {
        let quoted = names.map { "\"\($0)\"" }
        guard quoted.count > 1 else { return quoted.first ?? "" }
        return quoted.dropLast().joined(separator: ", ") + " or " + quoted.last!
    }
}

extension NamedChoice where Self: RawRepresentable, RawValue == String {
    /// By default a choice is called by its raw value.
    public var name: String { rawValue }
}

// In JSON a choice is its raw value; a value outside the choices is refused with the ones accepted.
extension NamedChoice where Self: RawRepresentable, RawValue == String, Self: Decodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: text) else {
            let accepted = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "is \"\(text)\", not one of \(accepted)"))
        }
        self = value
    }
}
