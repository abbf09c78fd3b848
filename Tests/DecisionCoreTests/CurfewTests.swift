import Support
import TestSupport
import Testing

@testable import DecisionCore

@Suite("Curfew windows and civil time")
struct CurfewWindowTests {
    @Test(
        "parses and checks membership, including windows that cross midnight",
        arguments: [
            ("22:00-06:00", 21 * 3_600 + 3_599, false), ("22:00-06:00", 22 * 3_600, true), ("22:00-06:00", 0, true),
            ("22:00-06:00", 6 * 3_600 - 1, true), ("22:00-06:00", 6 * 3_600, false),
            ("08:30-17:00", 8 * 3_600 + 1_800, true),
            ("08:30-17:00", 8 * 3_600 + 1_799, false), ("08:30-17:00", 17 * 3_600, false),
            ("23:59-00:00", 86_399, true),
            ("00:00-00:01", 0, true), ("00:00-00:01", 60, false),
        ])
    func membership(text: String, second: Int, inside: Bool) throws {
        let window = try CurfewWindow(parsing: text)
        #expect(window.description == text)
        #expect(window.contains(secondsSinceMidnight: second) == inside)
    }

    @Test(
        "rejects malformed windows",
        arguments: [
            ("22:00", "expected HH:MM-HH:MM"),
            ("24:00-06:00", "start \"24:00\" is not a time HH:MM between 00:00 and 23:59"),
            ("22:00-6:00", "end \"6:00\" is not a time HH:MM between 00:00 and 23:59"),
            ("22:60-06:00", "start \"22:60\" is not a time HH:MM between 00:00 and 23:59"),
            ("07:00-07:00", "start and end are the same time"), ("1-2-3", "expected HH:MM-HH:MM"),
        ])
    func rejects(text: String, reason: String) {
        #expect(throws: CurfewWindow.ParseError(text: text, reason: reason)) { try CurfewWindow(parsing: text) }
    }
}
