import Support

/// A time of day on the local wall clock, to the minute.
public struct TimeOfDay: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Minutes since midnight, 0..<1440.
    public let minutes: Int

    /// nil unless 0 <= hour < 24 and 0 <= minute < 60.
    public init?(hour: Int, minute: Int) {
        guard (0..<24).contains(hour), (0..<60).contains(minute) else { return nil }
        minutes = hour * 60 + minute
    }

    /// Parses `HH:MM` (24-hour clock, two digits each, `00:00` to `23:59`).
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 5, bytes[2] == UInt8(ascii: ":") else { return nil }
        let digits = [bytes[0], bytes[1], bytes[3], bytes[4]].map { Int($0) - Int(UInt8(ascii: "0")) }
        guard digits.allSatisfy({ (0...9).contains($0) }) else { return nil }
        self.init(hour: digits[0] * 10 + digits[1], minute: digits[2] * 10 + digits[3])
    }

    public static func < (lhs: TimeOfDay, rhs: TimeOfDay) -> Bool { lhs.minutes < rhs.minutes }

    public var description: String { pad(minutes / 60, 2) + ":" + pad(minutes % 60, 2) }
}

/// A daily window of local time during which the door never unlocks on its own, written `HH:MM-HH:MM`.
/// The start is inside the window, the end is not; a window whose end is earlier than its start crosses
/// midnight (`22:00-06:00` is 22:00 to 05:59:59 the next morning).
public struct CurfewWindow: Hashable, Sendable, CustomStringConvertible {
    public let start: TimeOfDay
    public let end: TimeOfDay

    /// Why a curfew window was rejected.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "invalid curfew window \"\(text)\": \(reason)" }
    }

    /// A window from `start` to `end`; they must differ (an empty or all-day window is almost certainly a
    /// mistake: use the locked mode for "never").
    public init(start: TimeOfDay, end: TimeOfDay) throws(ParseError) {
        guard start != end else {
            throw ParseError(text: "\(start)-\(end)", reason: "start and end are the same time")
        }
        self.start = start
        self.end = end
    }

    /// Parses `HH:MM-HH:MM`.
    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw ParseError(text: text, reason: "expected HH:MM-HH:MM") }
        guard let start = TimeOfDay(parsing: String(parts[0])) else {
            throw ParseError(text: text, reason: "start \"\(parts[0])\" is not a time HH:MM between 00:00 and 23:59")
        }
        guard let end = TimeOfDay(parsing: String(parts[1])) else {
            throw ParseError(text: text, reason: "end \"\(parts[1])\" is not a time HH:MM between 00:00 and 23:59")
        }
        guard start != end else { throw ParseError(text: text, reason: "start and end are the same time") }
        self.start = start
        self.end = end
    }

    /// Whether the window contains the local time `secondsSinceMidnight` (0..<86400).
    public func contains(secondsSinceMidnight seconds: Int) -> Bool {
        let startSecond = start.minutes * 60
        let endSecond = end.minutes * 60
        if startSecond < endSecond { return seconds >= startSecond && seconds < endSecond }
        return seconds >= startSecond || seconds < endSecond
    }

    public var description: String { "\(start)-\(end)" }
}
