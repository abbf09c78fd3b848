import DecisionCore
import TestSupport
import Testing

@testable import DoorConfiguration

@Suite("TOML subset")
struct TOMLTests {
    @Test("tables, keys, lines and every supported value type")
    func parsesSupportedSyntax() throws {
        let text = """
            # leading comment
            top = 1

            [alpha]   # trailing comment
            name = "basic \\"quoted\\" \\t\\n \\u00e9\\U0001F415"
            literal = 'C:\\path\\no escapes'
            int = -1_000
            hex = 0xff
            octal = 0o17
            binary = 0b101
            float = 6.5e-1
            exp = 1E3
            yes = true
            no = false
            list = [ "a", 'b',
              # a comment inside an array
              "c", ]
            empty = []
            [beta]
            plus = +7
            zero = 0
            """
        let document = try TOML.parse(text, file: "t.toml")
        #expect(document.tables.map(\.name) == ["", "alpha", "beta"])
        #expect(document[table: ""]?["top"] == TOMLEntry(key: "top", value: .integer(1), line: 2))
        let alpha = try #require(document[table: "alpha"])
        #expect(alpha.line == 4)
        #expect(alpha["name"]?.value == .string("basic \"quoted\" \t\n é🐕"))
        #expect(alpha["literal"]?.value == .string("C:\\path\\no escapes"))
        #expect(alpha["int"]?.value == .integer(-1_000))
        #expect(alpha["hex"]?.value == .integer(255))
        #expect(alpha["octal"]?.value == .integer(15))
        #expect(alpha["binary"]?.value == .integer(5))
        #expect(alpha["float"]?.value == .float(0.65))
        #expect(alpha["exp"]?.value == .float(1000))
        #expect(alpha["yes"]?.value == .boolean(true))
        #expect(alpha["no"]?.value == .boolean(false))
        #expect(
            alpha["list"]
                == TOMLEntry(key: "list", value: .array([.string("a"), .string("b"), .string("c")]), line: 15))
        #expect(alpha["empty"]?.value == .array([]))
        #expect(document[table: "beta"]?["plus"] == TOMLEntry(key: "plus", value: .integer(7), line: 20))
        #expect(document[table: "beta"]?["zero"]?.value == .integer(0))
    }

    @Test("CRLF line endings and a byte-order mark are accepted")
    func crlfAndBOM() throws {
        let document = try TOML.parse("\u{FEFF}[a]\r\nx = 1\r\n\r\ny = 'z'\r\n", file: "t.toml")
        #expect(document[table: "a"]?["y"] == TOMLEntry(key: "y", value: .string("z"), line: 4))
    }

    @Test(
        "unsupported or invalid syntax is rejected with the line",
        arguments: [
            ("[a]\nb.c = 1", 2, "dotted keys are not supported"),
            ("[a]\n\"b\" = 1", 2, "quoted keys are not supported"),
            ("[a.b]", 1, "nested tables ([a.b]) are not supported"),
            ("[[a]]", 1, "arrays of tables ([[...]]) are not supported"),
            ("[a]\nx = {y = 1}", 2, "inline tables ({...}) are not supported"),
            ("[a]\n\nx = \"\"\"long\"\"\"", 3, "multi-line strings (\"\"\") are not supported"),
            ("[a]\nx = '''long'''", 2, "multi-line strings (''') are not supported"),
            ("[a]\nx = 1979-05-27", 2, "dates and times are not supported (write times as strings, e.g. \"22:00\")"),
            ("[a]\nx = 22:00", 2, "dates and times are not supported (write times as strings, e.g. \"22:00\")"),
            ("[a]\nx = inf", 2, "inf and nan are not supported"),
            ("[a]\nx = [[1], [2]]", 2, "nested arrays are not supported"),
            ("[a]\nx = hello", 2, "invalid value hello (strings need quotes)"),
            ("[a]\nx = ", 2, "expected a value"),
            ("[a]\nx = 1 2", 2, "unexpected '2' after the value of \"x\""),
            ("[a]\nx = 01", 2, "leading zeros are not allowed in 01"),
            ("[a]\nx = 1__0", 2, "misplaced '_' in number 1__0"),
            ("[a]\nx = 1.", 2, "invalid number 1."),
            ("[a]\nx = 99999999999999999999", 2, "integer 99999999999999999999 is out of range"),
            ("[a]\nx = \"open", 2, "unterminated string"),
            ("[a]\nx = \"bad \\q\"", 2, "invalid escape \\q in string"),
            ("[a]\nx = [1,\n2", 3, "unterminated array (opened on line 2)"),
            ("[a]\nx = 1\nx = 2", 3, "duplicate key \"x\" in [a] (first defined on line 2)"),
            ("[a]\n[b]\n[a]", 3, "table [a] is defined twice (first on line 1)"),
            ("[a]\n= 1", 2, "expected a key (letters, digits, '_' and '-'), found '='"),
            ("[a]\nx 1", 2, "expected '=' after key \"x\""),
            ("[a", 1, "expected ']' to close the table header"),
        ])
    func rejects(text: String, line: Int, message: String) {
        #expect(throws: TOMLError(file: "c.toml", line: line, message: message)) {
            _ = try TOML.parse(text, file: "c.toml")
        }
    }

    @Test("invalid UTF-8 in a file is reported on its line")
    func invalidUTF8() {
        var bytes = Array("[a]\nx = 1\ny = \"".utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array("\"\nz = 2\n".utf8)
        #expect(throws: TOMLError(file: "u.toml", line: 3, message: "invalid UTF-8")) {
            _ = try TOML.parse(bytes: bytes, file: "u.toml")
        }
        #expect(TOMLError(file: "u.toml", line: 3, message: "invalid UTF-8").description == "u.toml:3: invalid UTF-8")
    }

    @Test("values print back as TOML")
    func descriptions() {
        #expect(TOMLValue.string("a\"b\\\n\u{1}").description == "\"a\\\"b\\\\\\n\\u0001\"")
        #expect(TOMLValue.array([.integer(1), .boolean(false), .float(0.5)]).description == "[1, false, 0.5]")
    }
}
