/// Durations written as text in the configuration and on the command line: a number followed by a unit,
/// `ms`, `s`, `m` or `h`, optionally several in a row (`"250ms"`, `"3s"`, `"1.5s"`, `"2m"`, `"1m30s"`).
public enum DurationText {
    /// Parses `text`; nil when it is not a duration (empty, negative, no unit, unknown unit, too large).
    public static func parse(_ text: String) -> Duration? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var index = 0
        var totalNanoseconds: Int64 = 0
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        while index < bytes.count {
            var whole: Int64 = 0
            var wholeDigits = 0
            while index < bytes.count, isDigit(bytes[index]) {
                guard wholeDigits < 12 else { return nil }
                whole = whole * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                wholeDigits += 1
                index += 1
            }
            var fraction: Int64 = 0
            var fractionScale: Int64 = 1
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                var fractionDigits = 0
                while index < bytes.count, isDigit(bytes[index]) {
                    if fractionDigits < 9 {
                        fraction = fraction * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                        fractionScale *= 10
                    }
                    fractionDigits += 1
                    index += 1
                }
                guard fractionDigits > 0 else { return nil }
            }
            guard wholeDigits > 0 else { return nil }
            var unitEnd = index
            while unitEnd < bytes.count, !isDigit(bytes[unitEnd]), bytes[unitEnd] != UInt8(ascii: ".") { unitEnd += 1 }
            let unit: Int64
            switch String(decoding: bytes[index..<unitEnd], as: UTF8.self) {
            case "ms": unit = 1_000_000
            case "s": unit = 1_000_000_000
            case "m": unit = 60_000_000_000
            case "h": unit = 3_600_000_000_000
            default: return nil
            }
            index = unitEnd
            let (wholePart, overflow) = whole.multipliedReportingOverflow(by: unit)
            guard !overflow else { return nil }
            // fraction / fractionScale of a unit, in nanoseconds; unit / fractionScale is exact for s, m, h
            // and for ms up to six decimals, and rounds below a nanosecond otherwise.
            let fractionPart = fraction * (unit / fractionScale) + fraction * (unit % fractionScale) / fractionScale
            let (sum, overflow2) = totalNanoseconds.addingReportingOverflow(wholePart + fractionPart)
            guard !overflow2, sum <= 100 * 365 * 86_400 * 1_000_000_000 else { return nil }
            totalNanoseconds = sum
        }
        return .nanoseconds(totalNanoseconds)
    }

    /// Formats a duration the way it would be written: the largest unit that represents it exactly
    /// (`"2h"`, `"5m"`, `"3s"`, `"250ms"`), otherwise seconds with a fraction (`"1.5s"`).
    public static func format(_ duration: Duration) -> String {
        let ns = nanoseconds(duration)
        if ns == 0 { return "0s" }
        let units: [(Int64, String)] = [
            (3_600_000_000_000, "h"), (60_000_000_000, "m"), (1_000_000_000, "s"),
            (1_000_000, "ms"),
        ]
        for (size, name) in units where ns % size == 0 { return "\(ns / size)\(name)" }
        return formatDecimal(Double(ns) / 1e9, minimumDecimals: 1, maximumDecimals: 9) + "s"
    }
}
