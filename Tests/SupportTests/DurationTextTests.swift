import Support
import Testing

@Suite("Durations as text")
struct DurationTextTests {
    @Test(
        "parses",
        arguments: [
            ("3s", Duration.seconds(3)), ("250ms", .milliseconds(250)), ("2m", .seconds(120)), ("1h", .seconds(3_600)),
            ("1.5s", .milliseconds(1_500)), ("0s", .zero), ("1m30s", .seconds(90)), ("0.0015ms", .nanoseconds(1_500)),
            ("10.123456789s", .nanoseconds(10_123_456_789)),
        ])
    func parses(text: String, expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test("rejects", arguments: ["", "3", "s", "-3s", "3 s", "3sec", ".5s", "1.s", "3s ", "1e3s", "99999999999999h"])
    func rejects(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test(
        "formats with the largest exact unit",
        arguments: [
            (Duration.zero, "0s"), (.seconds(3), "3s"), (.milliseconds(250), "250ms"), (.seconds(120), "2m"),
            (.seconds(7_200), "2h"), (.seconds(90), "90s"), (.nanoseconds(1_500), "0.0000015s"),
        ])
    func formats(duration: Duration, text: String) {
        #expect(DurationText.format(duration) == text)
    }
}
