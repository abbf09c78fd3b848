import Support
import Testing

@Suite struct JSONTests {
    @Test func parsesAndWritesRoundTrip() throws {
        let text = #"{"a":1,"b":[true,false,null],"c":{"d":"é\n\"q\"","e":-2.5e-3},"f":"\ud83d\udc36"}"#
        let value = try JSONValue.parse(text)
        #expect(value["a"]?.intValue == 1)
        #expect(value["c"]?["e"]?.doubleValue == -0.0025)
        #expect(value["f"]?.stringValue == "🐶")
        #expect(try JSONValue.parse(value.serialized()) == value)
        #expect(value.objectValue?.keys == ["a", "b", "c", "f"])
    }

    @Test(arguments: [
        ("", "unexpected end of input"), ("{", "expected a string key"), (#"{"a":1,"a":2}"#, "duplicate key \"a\""),
        ("[1,]", "unexpected character ']'"), ("01", "unexpected data after the value"),
        ("1.", "digits expected after '.'"),
        (#""\x""#, "invalid escape"), ("\"a\u{01}\"", "control character in string"),
        (#""\ud800""#, "unpaired surrogate"),
        ("1e999", "number out of range"), ("tru", "invalid literal, expected true"),
        ("{} x", "unexpected data after the value"),
    ])
    func rejectsInvalidJSON(_ text: String, reason: String) {
        #expect(throws: JSONError.self) { try JSONValue.parse(text) }
        do {
            _ = try JSONValue.parse(text)
        } catch {
            #expect(error.reason.contains(reason), "\(text): \(error)")
        }
    }

    @Test func boundsNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONError.self) { try JSONValue.parse(deep) }
    }

    @Test func writesIntegersWithoutFraction() {
        let v: JSONValue = ["n": 3, "x": 0.5, "s": "tab\t"]
        #expect(v.serialized() == #"{"n":3,"x":0.5,"s":"tab\t"}"#)
    }
}
