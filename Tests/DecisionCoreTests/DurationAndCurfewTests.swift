@testable import DecisionCore
import Support
import Testing
import TestSupport

@Suite("Durations as text")
struct DurationTextTests {
    @Test("parses", arguments: [
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

    @Test("formats with the largest exact unit", arguments: [
        (Duration.zero, "0s"), (.seconds(3), "3s"), (.milliseconds(250), "250ms"), (.seconds(120), "2m"),
        (.seconds(7_200), "2h"), (.seconds(90), "90s"), (.nanoseconds(1_500), "0.0000015s"),
    ])
    func formats(duration: Duration, text: String) {
        #expect(DurationText.format(duration) == text)
    }
}

@Suite("Curfew windows and civil time")
struct CurfewWindowTests {
    @Test("parses and checks membership, including windows that cross midnight", arguments: [
        ("22:00-06:00", 21 * 3_600 + 3_599, false), ("22:00-06:00", 22 * 3_600, true), ("22:00-06:00", 0, true),
        ("22:00-06:00", 6 * 3_600 - 1, true), ("22:00-06:00", 6 * 3_600, false), ("08:30-17:00", 8 * 3_600 + 1_800, true),
        ("08:30-17:00", 8 * 3_600 + 1_799, false), ("08:30-17:00", 17 * 3_600, false), ("23:59-00:00", 86_399, true),
        ("00:00-00:01", 0, true), ("00:00-00:01", 60, false),
    ])
    func membership(text: String, second: Int, inside: Bool) throws {
        let window = try CurfewWindow(parsing: text)
        #expect(window.description == text)
        #expect(window.contains(secondsSinceMidnight: second) == inside)
    }

    @Test("rejects malformed windows", arguments: [
        ("22:00", "expected HH:MM-HH:MM"), ("24:00-06:00", "start \"24:00\" is not a time HH:MM between 00:00 and 23:59"),
        ("22:00-6:00", "end \"6:00\" is not a time HH:MM between 00:00 and 23:59"),
        ("22:60-06:00", "start \"22:60\" is not a time HH:MM between 00:00 and 23:59"),
        ("07:00-07:00", "start and end are the same time"), ("1-2-3", "expected HH:MM-HH:MM"),
    ])
    func rejects(text: String, reason: String) {
        #expect(throws: CurfewWindow.ParseError(text: text, reason: reason)) { try CurfewWindow(parsing: text) }
    }
}
