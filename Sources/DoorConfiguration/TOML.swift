import Support

/// A value in the TOML subset DogDoor reads.
public enum TOMLValue: Hashable, Sendable, CustomStringConvertible {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    /// An array of scalars (arrays do not nest in this subset).
    case array([TOMLValue])

    /// "string", "integer", "float", "boolean" or "array", for error messages.
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .boolean: return "boolean"
        case .array: return "array"
        }
    }

    /// The value as it would be written in TOML.
    public var description: String {
        switch self {
        case .string(let s):
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\r": out += "\\r"
                case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        case .integer(let i): return String(i)
        case .float(let f): return "\(f)"
        case .boolean(let b): return b ? "true" : "false"
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// `key = value`, with the line it was written on.
public struct TOMLEntry: Hashable, Sendable {
    public var key: String
    public var value: TOMLValue
    /// 1-based line number of the key.
    public var line: Int
}

/// A `[table]` and its entries in file order. The root table (keys before any header) has the name "".
public struct TOMLTable: Hashable, Sendable {
    public var name: String
    /// Line of the header (0 for the root table).
    public var line: Int
    public var entries: [TOMLEntry]

    /// The entry for `key`, if present.
    public subscript(key: String) -> TOMLEntry? { entries.first { $0.key == key } }
}

/// A parsed document: its tables in file order (the root table first, possibly empty).
public struct TOMLDocument: Hashable, Sendable {
    public var tables: [TOMLTable]

    /// The table named `name`, if present.
    public subscript(table name: String) -> TOMLTable? { tables.first { $0.name == name } }
}

/// A syntax error or unsupported construct, with the file and line.
public struct TOMLError: Error, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

/// A small TOML reader for configuration files.
///
/// Supported: `#` comments, `[table]` headers (one level), `key = value` with bare keys, basic (`"..."`,
/// with escapes) and literal (`'...'`) strings, integers (decimal, `0x`, `0o`, `0b`, with `_` separators),
/// floats, booleans, and arrays of those (which may span lines and end with a comma). Everything else TOML
/// has — dotted and quoted keys, nested or array tables, inline tables, multi-line strings, dates, `inf`
/// and `nan` — is rejected with an error naming the line, as are duplicate keys and tables.
public enum TOML {
    /// Parses `text`; `file` is used in error messages.
    public static func parse(_ text: String, file: String) throws(TOMLError) -> TOMLDocument {
        var parser = TOMLParser(bytes: Array(text.utf8), file: file)
        return try parser.parseDocument()
    }

    /// Parses raw file contents, rejecting invalid UTF-8 with the line it occurs on.
    public static func parse(bytes: [UInt8], file: String) throws(TOMLError) -> TOMLDocument {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            var line = 1
            var start = 0
            for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") {
                if String(validating: bytes[start...i], as: UTF8.self) == nil { break }
                line += 1
                start = i + 1
            }
            throw TOMLError(file: file, line: line, message: "invalid UTF-8")
        }
        return try parse(text, file: file)
    }
}

private struct TOMLParser {
    let bytes: [UInt8]
    let file: String
    var index = 0
    var line = 1

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    }

    func error(_ message: String, line: Int? = nil) -> TOMLError {
        TOMLError(file: file, line: line ?? self.line, message: message)
    }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    func peek(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    static func isBareKeyByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    mutating func skipSpaces() {
        while let b = current, b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") { index += 1 }
    }

    /// Skips a comment if one starts here, then expects the end of the line (or of the input).
    mutating func expectLineEnd(after what: String) throws(TOMLError) {
        skipSpaces()
        if current == UInt8(ascii: "#") { try skipComment() }
        guard let b = current else { return }
        if b == UInt8(ascii: "\n") { index += 1; line += 1; return }
        if b == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { index += 2; line += 1; return }
        throw error("unexpected \(describe(b)) after \(what)")
    }

    mutating func skipComment() throws(TOMLError) {
        while let b = current, b != UInt8(ascii: "\n") {
            if b == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { break }
            if b < 0x20 && b != UInt8(ascii: "\t") || b == 0x7F { throw error("control character in comment") }
            index += 1
        }
    }

    func describe(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16)
    }

    mutating func parseDocument() throws(TOMLError) -> TOMLDocument {
        var tables = [TOMLTable(name: "", line: 0, entries: [])]
        while index < bytes.count {
            skipSpaces()
            guard let b = current else { break }
            switch b {
            case UInt8(ascii: "#"):
                try skipComment()
                try expectLineEnd(after: "comment")
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try expectLineEnd(after: "line")
            case UInt8(ascii: "["):
                let header = try parseTableHeader()
                if let previous = tables.first(where: { $0.name == header.name }) {
                    throw error("table [\(header.name)] is defined twice (first on line \(previous.line))")
                }
                tables.append(header)
            default:
                let entry = try parseKeyValue()
                if let previous = tables[tables.count - 1][entry.key] {
                    let table = tables[tables.count - 1].name
                    throw error(
                        "duplicate key \"\(entry.key)\"" + (table.isEmpty ? "" : " in [\(table)]")
                            + " (first defined on line \(previous.line))", line: entry.line)
                }
                tables[tables.count - 1].entries.append(entry)
            }
        }
        return TOMLDocument(tables: tables)
    }

    mutating func parseTableHeader() throws(TOMLError) -> TOMLTable {
        let headerLine = line
        index += 1
        if current == UInt8(ascii: "[") { throw error("arrays of tables ([[...]]) are not supported") }
        skipSpaces()
        let name = try parseKey(context: "table name")
        skipSpaces()
        if current == UInt8(ascii: ".") { throw error("nested tables ([a.b]) are not supported") }
        guard current == UInt8(ascii: "]") else { throw error("expected ']' to close the table header") }
        index += 1
        try expectLineEnd(after: "table header")
        return TOMLTable(name: name, line: headerLine, entries: [])
    }

    mutating func parseKey(context: String) throws(TOMLError) -> String {
        guard let b = current else { throw error("expected a \(context)") }
        if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") { throw error("quoted keys are not supported") }
        let start = index
        while let c = current, Self.isBareKeyByte(c) { index += 1 }
        guard index > start else {
            throw error("expected a \(context) (letters, digits, '_' and '-'), found \(describe(b))")
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func parseKeyValue() throws(TOMLError) -> TOMLEntry {
        let keyLine = line
        let key = try parseKey(context: "key")
        skipSpaces()
        if current == UInt8(ascii: ".") { throw error("dotted keys are not supported") }
        guard current == UInt8(ascii: "=") else { throw error("expected '=' after key \"\(key)\"") }
        index += 1
        skipSpaces()
        let value = try parseValue(inArray: false)
        try expectLineEnd(after: "the value of \"\(key)\"")
        return TOMLEntry(key: key, value: value, line: keyLine)
    }

    mutating func parseValue(inArray: Bool) throws(TOMLError) -> TOMLValue {
        guard let b = current, b != UInt8(ascii: "\n"), b != UInt8(ascii: "\r"), b != UInt8(ascii: "#") else {
            throw error("expected a value")
        }
        switch b {
        case UInt8(ascii: "\""):
            if peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") {
                throw error("multi-line strings (\"\"\") are not supported")
            }
            return .string(try parseBasicString())
        case UInt8(ascii: "'"):
            if peek(1) == UInt8(ascii: "'"), peek(2) == UInt8(ascii: "'") {
                throw error("multi-line strings (''') are not supported")
            }
            return .string(try parseLiteralString())
        case UInt8(ascii: "["):
            if inArray { throw error("nested arrays are not supported") }
            return try parseArray()
        case UInt8(ascii: "{"):
            throw error("inline tables ({...}) are not supported")
        default:
            return try parseBareValue()
        }
    }

    mutating func parseArray() throws(TOMLError) -> TOMLValue {
        let startLine = line
        index += 1
        var elements: [TOMLValue] = []
        while true {
            try skipArrayWhitespace(startLine: startLine)
            if current == UInt8(ascii: "]") { index += 1; return .array(elements) }
            elements.append(try parseValue(inArray: true))
            try skipArrayWhitespace(startLine: startLine)
            guard let b = current else { throw error("unterminated array (opened on line \(startLine))") }
            if b == UInt8(ascii: ",") { index += 1; continue }
            if b == UInt8(ascii: "]") { index += 1; return .array(elements) }
            throw error("expected ',' or ']' in array, found \(describe(b))")
        }
    }

    /// Spaces, newlines and comments inside an array.
    mutating func skipArrayWhitespace(startLine: Int) throws(TOMLError) {
        while let b = current {
            if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") {
                index += 1
            } else if b == UInt8(ascii: "\n") {
                index += 1
                line += 1
            } else if b == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") {
                index += 2
                line += 1
            } else if b == UInt8(ascii: "#") {
                try skipComment()
            } else {
                return
            }
        }
        throw error("unterminated array (opened on line \(startLine))")
    }

    mutating func parseBasicString() throws(TOMLError) -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush() {
            if !run.isEmpty {
                scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
                run.removeAll()
            }
        }
        while true {
            guard let b = current, b != UInt8(ascii: "\n") else { throw error("unterminated string") }
            if b == UInt8(ascii: "\"") {
                index += 1
                flush()
                return String(scalars)
            }
            if (b < 0x20 && b != UInt8(ascii: "\t")) || b == 0x7F { throw error("control character in string") }
            if b != UInt8(ascii: "\\") {
                run.append(b)
                index += 1
                continue
            }
            flush()
            guard let escape = peek(1) else { throw error("unterminated string") }
            index += 2
            switch escape {
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "u"): scalars.append(try parseUnicodeEscape(digits: 4))
            case UInt8(ascii: "U"): scalars.append(try parseUnicodeEscape(digits: 8))
            default: throw error("invalid escape \\\(Character(Unicode.Scalar(escape))) in string")
            }
        }
    }

    mutating func parseUnicodeEscape(digits: Int) throws(TOMLError) -> Unicode.Scalar {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let b = current, let digit = hexDigit(b) else {
                throw error("invalid \\u escape: expected \(digits) hex digits")
            }
            value = value * 16 + UInt32(digit)
            index += 1
        }
        guard let scalar = Unicode.Scalar(value) else { throw error("invalid \\u escape: not a Unicode scalar value") }
        return scalar
    }

    func hexDigit(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    mutating func parseLiteralString() throws(TOMLError) -> String {
        index += 1
        let start = index
        while true {
            guard let b = current, b != UInt8(ascii: "\n") else { throw error("unterminated string") }
            if b == UInt8(ascii: "'") { break }
            if (b < 0x20 && b != UInt8(ascii: "\t")) || b == 0x7F { throw error("control character in string") }
            index += 1
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        index += 1
        return text
    }

    /// Booleans and numbers: a run of bytes up to whitespace, ',', ']', '#' or the end of the line.
    mutating func parseBareValue() throws(TOMLError) -> TOMLValue {
        let start = index
        while let b = current, b != UInt8(ascii: " "), b != UInt8(ascii: "\t"), b != UInt8(ascii: "\n"),
            b != UInt8(ascii: "\r"), b != UInt8(ascii: ","), b != UInt8(ascii: "]"), b != UInt8(ascii: "#")
        {
            index += 1
        }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        if token == "true" { return .boolean(true) }
        if token == "false" { return .boolean(false) }
        if ["inf", "+inf", "-inf", "nan", "+nan", "-nan"].contains(token) {
            throw error("inf and nan are not supported")
        }
        let tokenBytes = Array(token.utf8)
        if tokenBytes.count >= 5, tokenBytes[4] == UInt8(ascii: "-") || tokenBytes[2] == UInt8(ascii: ":"),
            tokenBytes.prefix(2).allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        {
            throw error("dates and times are not supported (write times as strings, e.g. \"22:00\")")
        }
        if let value = try parseNumber(token) { return value }
        throw error("invalid value \(token.isEmpty ? "(nothing)" : token) (strings need quotes)")
    }

    /// nil when `token` does not look like a number at all; throws when it looks like one but is invalid.
    func parseNumber(_ token: String) throws(TOMLError) -> TOMLValue? {
        var b = Array(token.utf8)
        guard let first = b.first else { return nil }
        func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        guard isDigit(first) || first == UInt8(ascii: "+") || first == UInt8(ascii: "-") else { return nil }

        // Prefixed integers: 0x, 0o, 0b (no sign).
        if b.count > 2, b[0] == UInt8(ascii: "0"),
            let radix = [
                UInt8(ascii: "x"): 16, UInt8(ascii: "o"): 8,
                UInt8(ascii: "b"): 2,
            ][b[1]]
        {
            let digits = try stripUnderscores(
                Array(b[2...]), token: token, radixCheck: { self.hexDigit($0).map { Int($0) < radix } ?? false })
            guard let value = Int64(String(decoding: digits, as: UTF8.self), radix: radix) else {
                throw error("integer \(token) is out of range")
            }
            return .integer(value)
        }

        var sign: [UInt8] = []
        if first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            sign = first == UInt8(ascii: "-") ? [first] : []
            b.removeFirst()
            guard let next = b.first, isDigit(next) else { throw error("invalid number \(token)") }
        }
        let isFloat = b.contains(UInt8(ascii: ".")) || b.contains(UInt8(ascii: "e")) || b.contains(UInt8(ascii: "E"))
        if !isFloat {
            let digits = try stripUnderscores(b, token: token, radixCheck: isDigit)
            if digits.count > 1, digits[0] == UInt8(ascii: "0") {
                throw error("leading zeros are not allowed in \(token)")
            }
            guard let value = Int64(String(decoding: sign + digits, as: UTF8.self)) else {
                throw error("integer \(token) is out of range")
            }
            return .integer(value)
        }
        // Float: integer part, optional fraction, optional exponent; digits on both sides of '.'.
        var intPart: [UInt8] = []
        var rest = b[...]
        while let c = rest.first, isDigit(c) || c == UInt8(ascii: "_") { intPart.append(c); rest = rest.dropFirst() }
        let intDigits = try stripUnderscores(intPart, token: token, radixCheck: isDigit)
        if intDigits.count > 1, intDigits[0] == UInt8(ascii: "0") {
            throw error("leading zeros are not allowed in \(token)")
        }
        var normalized = sign + intDigits
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            var fraction: [UInt8] = []
            while let c = rest.first, isDigit(c) || c == UInt8(ascii: "_") {
                fraction.append(c); rest = rest.dropFirst()
            }
            normalized += [UInt8(ascii: ".")] + (try stripUnderscores(fraction, token: token, radixCheck: isDigit))
        }
        if let e = rest.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            rest = rest.dropFirst()
            normalized.append(UInt8(ascii: "e"))
            if let s = rest.first, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") {
                normalized.append(s); rest = rest.dropFirst()
            }
            normalized += try stripUnderscores(Array(rest), token: token, radixCheck: isDigit)
            rest = []
        }
        guard rest.isEmpty, let value = Double(String(decoding: normalized, as: UTF8.self)) else {
            throw error("invalid number \(token)")
        }
        guard value.isFinite else { throw error("float \(token) is out of range") }
        return .float(value)
    }

    /// Removes `_` separators, which must sit between two digits; every other byte must pass `radixCheck`.
    func stripUnderscores(_ bytes: [UInt8], token: String, radixCheck: (UInt8) -> Bool) throws(TOMLError) -> [UInt8] {
        guard !bytes.isEmpty else { throw error("invalid number \(token)") }
        var out: [UInt8] = []
        for (i, c) in bytes.enumerated() {
            if c == UInt8(ascii: "_") {
                guard i > 0, i < bytes.count - 1, bytes[i - 1] != UInt8(ascii: "_"), bytes[i + 1] != UInt8(ascii: "_")
                else {
                    throw error("misplaced '_' in number \(token)")
                }
                continue
            }
            guard radixCheck(c) else { throw error("invalid number \(token)") }
            out.append(c)
        }
        return out
    }
}
