import Support

/// Noon on 2026-01-15 local time at UTC+01:00, at monotonic zero: the origin of every test timeline.
public let testClockStart = ManualClock(year: 2026, month: 1, day: 15, hour: 12, minute: 0, utcOffsetSeconds: 3_600)
    .now()

/// The timestamp `milliseconds` after `start` on both clocks.
public func stamp(_ milliseconds: Int, from start: Timestamp = testClockStart) -> Timestamp {
    var t = start
    t.monotonic = t.monotonic + .milliseconds(milliseconds)
    t.wall.unixNanoseconds += Int64(milliseconds) * 1_000_000
    return t
}

/// A start timestamp at the given local time of day (UTC+01:00) on 2026-01-15.
public func start(hour: Int, minute: Int, second: Int = 0) -> Timestamp {
    ManualClock(year: 2026, month: 1, day: 15, hour: hour, minute: minute, second: second, utcOffsetSeconds: 3_600)
        .now()
}
