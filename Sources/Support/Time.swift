import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A point on the daemon's monotonic clock, as the time elapsed since the clock's (arbitrary) origin.
///
/// Every timer in the door logic (hold, maximum open time, cooldown, evidence window) runs on this clock, so
/// setting the wall clock (NTP at boot, daylight saving) never opens or holds the door.
public struct MonotonicInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Time since the clock's origin.
    public var sinceOrigin: Duration

    public init(sinceOrigin: Duration) { self.sinceOrigin = sinceOrigin }

    /// The instant `seconds` after the origin (convenient in tests and demos).
    public static func seconds(_ seconds: Double) -> MonotonicInstant {
        MonotonicInstant(sinceOrigin: .seconds(seconds))
    }

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.sinceOrigin < rhs.sinceOrigin }
    public static func + (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant {
        MonotonicInstant(sinceOrigin: lhs.sinceOrigin + rhs)
    }
    public static func - (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant {
        MonotonicInstant(sinceOrigin: lhs.sinceOrigin - rhs)
    }
    public static func - (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Duration {
        lhs.sinceOrigin - rhs.sinceOrigin
    }

    public var description: String { "t+" + formatSeconds(sinceOrigin) }
}

/// A wall-clock time with the local UTC offset that was in force when it was read.
public struct WallTime: Hashable, Sendable {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var unixNanoseconds: Int64
    /// Local time minus UTC, in seconds (east of Greenwich is positive; includes daylight saving).
    public var utcOffsetSeconds: Int

    public init(unixNanoseconds: Int64, utcOffsetSeconds: Int) {
        self.unixNanoseconds = unixNanoseconds
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// Whole seconds since the Unix epoch (rounded down).
    public var unixSeconds: Int64 { floorDivide(unixNanoseconds, 1_000_000_000) }

    /// Seconds since local midnight, 0..<86400 (what curfew windows are compared against).
    public var secondsSinceLocalMidnight: Int {
        Int(floorModulo(unixSeconds + Int64(utcOffsetSeconds), 86_400))
    }

    /// Local time with its offset and milliseconds, e.g. `2026-01-15T22:15:03.120+01:00`.
    public var iso8601: String {
        let local = CivilDateTime(unixSeconds: unixSeconds + Int64(utcOffsetSeconds))
        let millis = Int(floorModulo(unixNanoseconds, 1_000_000_000) / 1_000_000)
        let offset = utcOffsetSeconds
        let sign = offset < 0 ? "-" : "+"
        let offsetMinutes = abs(offset) / 60
        return local.isoDateTime + "." + pad(millis, 3) + sign + pad(offsetMinutes / 60, 2) + ":"
            + pad(offsetMinutes % 60, 2)
    }

    /// UTC in a compact form that sorts chronologically and is safe in file names,
    /// e.g. `20260115T211503.120Z`.
    public var compactUTC: String {
        let utc = CivilDateTime(unixSeconds: unixSeconds)
        let millis = Int(floorModulo(unixNanoseconds, 1_000_000_000) / 1_000_000)
        return pad(utc.year, 4) + pad(utc.month, 2) + pad(utc.day, 2) + "T" + pad(utc.hour, 2) + pad(utc.minute, 2)
            + pad(utc.second, 2) + "." + pad(millis, 3) + "Z"
    }
}

/// The time of an event on both clocks: monotonic for timers, wall clock (with the local offset) for curfew
/// windows and for humans reading the event log.
public struct Timestamp: Hashable, Sendable {
    public var monotonic: MonotonicInstant
    public var wall: WallTime

    public init(monotonic: MonotonicInstant, wall: WallTime) {
        self.monotonic = monotonic
        self.wall = wall
    }
}

/// The source of time for the daemon. Logic that depends on time takes timestamps from one of these, never
/// from the system directly, so tests drive it exactly.
public protocol DoorClock: Sendable {
    /// The current time on both clocks.
    func now() -> Timestamp
}

/// The real clocks: `CLOCK_BOOTTIME` (monotonic, keeps counting while the board is suspended) and
/// `CLOCK_REALTIME` with the offset from the system's time zone (`localtime_r`'s `tm_gmtoff`).
public struct SystemClock: DoorClock {
    public init() {}

    public func now() -> Timestamp {
        var boot = timespec()
        clock_gettime(CLOCK_BOOTTIME, &boot)
        var real = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        var seconds = real.tv_sec
        var local = tm()
        let offset = localtime_r(&seconds, &local) != nil ? Int(local.tm_gmtoff) : 0
        return Timestamp(
            monotonic: MonotonicInstant(sinceOrigin: .seconds(Int64(boot.tv_sec)) + .nanoseconds(Int64(boot.tv_nsec))),
            wall: WallTime(
                unixNanoseconds: Int64(real.tv_sec) * 1_000_000_000 + Int64(real.tv_nsec),
                utcOffsetSeconds: offset))
    }
}

/// A clock that moves only when told to (tests, simulations). Both clocks advance together.
public final class ManualClock: DoorClock {
    private let current: Mutex<Timestamp>

    /// Starts at `start`.
    public init(start: Timestamp) { current = Mutex(start) }

    /// Starts at monotonic zero and the given local wall time (UTC offset in seconds).
    public convenience init(
        year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int = 0,
        utcOffsetSeconds: Int = 0
    ) {
        let local = CivilDateTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        let unix = local.unixSeconds - Int64(utcOffsetSeconds)
        self.init(
            start: Timestamp(
                monotonic: MonotonicInstant(sinceOrigin: .zero),
                wall: WallTime(unixNanoseconds: unix * 1_000_000_000, utcOffsetSeconds: utcOffsetSeconds)))
    }

    public func now() -> Timestamp { current.withLock { $0 } }

    /// Moves both clocks forward by `duration` and returns the new time.
    @discardableResult
    public func advance(by duration: Duration) -> Timestamp {
        current.withLock { time in
            time.monotonic = time.monotonic + duration
            time.wall.unixNanoseconds += nanoseconds(duration)
            return time
        }
    }

    /// Changes the UTC offset (a daylight-saving switch); the instant itself does not move.
    public func setUTCOffset(seconds: Int) {
        current.withLock { $0.wall.utcOffsetSeconds = seconds }
    }
}

// MARK: - Civil calendar

/// A proleptic Gregorian date and time of day, converted to and from a count of seconds since 1970-01-01
/// without consulting the C library (so tests do not depend on the machine's time zone).
struct CivilDateTime: Equatable {
    var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second) = (
            year, month, day, hour, minute, second
        )
    }

    /// Splits seconds since 1970-01-01T00:00:00 (in whatever zone they are counted) into fields.
    init(unixSeconds: Int64) {
        let days = floorDivide(unixSeconds, 86_400)
        let secondOfDay = Int(unixSeconds - days * 86_400)
        // Days to civil date: eras of 400 years (146097 days) starting 0000-03-01.
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        let year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
        self.init(
            year: year, month: month, day: day, hour: secondOfDay / 3_600, minute: secondOfDay / 60 % 60,
            second: secondOfDay % 60)
    }

    /// Seconds since 1970-01-01T00:00:00 in the same zone as the fields.
    var unixSeconds: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + Int64(hour * 3_600 + minute * 60 + second)
    }

    package var isoDateTime: String {
        pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(hour, 2) + ":" + pad(minute, 2) + ":"
            + pad(second, 2)
    }
}

// MARK: - Helpers

package func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

package func floorModulo(_ a: Int64, _ b: Int64) -> Int64 { a - floorDivide(a, b) * b }

package func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(abs(value))
    let padded = digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    return value < 0 ? "-" + padded : padded
}

/// Whole nanoseconds in a duration (truncated toward zero).
package func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
}

/// A duration as floating-point seconds.
package func secondsValue(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) + Double(attoseconds) * 1e-18
}

/// Seconds with at least one and at most three decimals and no trailing zeros beyond the first:
/// "3.0 s", "0.25 s", "1.125 s".
package func formatSeconds(_ duration: Duration) -> String {
    formatDecimal(secondsValue(duration), minimumDecimals: 1, maximumDecimals: 3) + " s"
}

/// A number rounded to at most `maximumDecimals` decimals, keeping at least `minimumDecimals`.
package func formatDecimal(_ value: Double, minimumDecimals: Int, maximumDecimals: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale: Int64 = 1
    for _ in 0..<maximumDecimals { scale *= 10 }
    let scaled = Int64((abs(value) * Double(scale)).rounded())
    let whole = scaled / scale
    var fraction = String(scaled % scale)
    fraction = String(repeating: "0", count: maximumDecimals - fraction.count) + fraction
    while fraction.count > minimumDecimals, fraction.hasSuffix("0") { fraction.removeLast() }
    let sign = value < 0 && scaled != 0 ? "-" : ""
    return sign + String(whole) + (fraction.isEmpty ? "" : "." + fraction)
}

extension Duration {
    /// The duration in seconds.
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
