import Testing

@testable import Support

@Suite("Log lines")
struct LoggingTests {
    @Test(
        "plain words stay bare; anything that would split a pair is quoted with JSON escapes",
        arguments: [
            ("streaming", "streaming"),
            ("/dev/v4l/by-id/usb-cam-video-index0", "/dev/v4l/by-id/usb-cam-video-index0"),
            ("unlock for 3s", "\"unlock for 3s\""),
            ("a=b", "\"a=b\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("two\nlines", "\"two\\nlines\""),
            ("", "\"\""),
        ])
    func logfmtValues(value: String, expected: String) {
        #expect(LineLogHandler.logfmtValue(value) == expected)
    }

    @Test("a quoted value reads back as the original through the JSON parser")
    func quotedValuesRoundTrip() throws {
        for value in ["x y", "tab\there", "quote \" and \\ backslash", "bell \u{07}", "ü and ☃ are fine"] {
            let quoted = LineLogHandler.logfmtValue(value)
            #expect(try JSONValue.parse(quoted).stringValue == value)
        }
    }

    @Test("timestamps carry milliseconds and the UTC offset, like the event log")
    func timestampFormat() {
        let stamp = Array(LineLogHandler.timestamp().utf8)
        // 2026-01-15T22:15:03.120+01:00
        #expect(stamp.count == 29)
        let shape = Array("dddd-dd-ddTdd:dd:dd.ddd?dd:dd".utf8)
        for (character, expected) in zip(stamp, shape) {
            switch expected {
            case UInt8(ascii: "d"): #expect(character >= UInt8(ascii: "0") && character <= UInt8(ascii: "9"))
            case UInt8(ascii: "?"): #expect(character == UInt8(ascii: "+") || character == UInt8(ascii: "-"))
            default: #expect(character == expected)
            }
        }
    }
}
