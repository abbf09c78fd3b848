import Testing

@testable import Support

@Suite("Civil time and clocks")
struct CivilTimeTests {
    @Test(
        "civil date conversion round-trips and matches known instants",
        arguments: [
            (Int64(0), "1970-01-01T00:00:00"), (951_782_400, "2000-02-29T00:00:00"),
            (1_768_515_303, "2026-01-15T22:15:03"),
            (-1, "1969-12-31T23:59:59"), (4_102_444_800, "2100-01-01T00:00:00"),
        ])
    func civil(seconds: Int64, iso: String) {
        let civil = CivilDateTime(unixSeconds: seconds)
        #expect(civil.isoDateTime == iso)
        #expect(civil.unixSeconds == seconds)
    }

    @Test("wall times print in local time with offset, and compactly in UTC")
    func wallTimeFormats() {
        let wall = WallTime(unixNanoseconds: 1_768_515_303_120_000_000, utcOffsetSeconds: 3_600)
        #expect(wall.iso8601 == "2026-01-15T23:15:03.120+01:00")
        #expect(wall.compactUTC == "20260115T221503.120Z")
        #expect(wall.secondsSinceLocalMidnight == 23 * 3_600 + 15 * 60 + 3)
        let west = WallTime(unixNanoseconds: 1_768_515_303_000_000_000, utcOffsetSeconds: -(9 * 3_600 + 1_800))
        #expect(west.iso8601 == "2026-01-15T12:45:03.000-09:30")
    }

    @Test("the manual clock advances both clocks; the system clock is monotonic")
    func clocks() {
        let clock = ManualClock(year: 2026, month: 1, day: 15, hour: 23, minute: 59, second: 59, utcOffsetSeconds: 0)
        let next = clock.advance(by: .milliseconds(1_500))
        #expect(next.monotonic == .seconds(1.5))
        #expect(next.wall.iso8601 == "2026-01-16T00:00:00.500+00:00")
        let a = SystemClock().now()
        let b = SystemClock().now()
        #expect(b.monotonic >= a.monotonic)
        #expect(a.wall.unixSeconds > 1_700_000_000)
    }
}
