#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// printf-style formatting of one number without Foundation, e.g. `formatNumber(3.14159, "%.2f")`.
public func formatNumber(_ value: Double, _ format: String) -> String {
    var buffer = [CChar](repeating: 0, count: 128)
    let n = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
    return String(
        decoding: buffer.prefix(max(0, min(Int(n), buffer.count - 1))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `value` with `decimals` digits after the point.
public func fixed(_ value: Double, _ decimals: Int) -> String { formatNumber(value, "%.\(decimals)f") }

/// Writes text to standard error (unbuffered).
public func printError(_ text: String) {
    var bytes = Array((text + "\n").utf8)
    bytes.withUnsafeMutableBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let n = write(2, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 { if errno == EINTR { continue } else { return } }
            offset += n
        }
    }
}

/// Percentages for people.
public enum PercentText {
    /// `fraction` as a percentage with at most one decimal ("10%", "93.3%", "0.05%" for tiny values).
    public static func plain(_ fraction: Double) -> String {
        guard fraction.isFinite else { return "n/a" }
        let value = fraction * 100
        if value != 0, abs(value) < 0.1 { return trimmed(formatNumber(value, "%.2g")) + "%" }
        return trimmed(fixed(value, 1)) + "%"
    }

    /// An upper bound as a percentage, rounded up so that "below X%" stays true: whole percent from 10%,
    /// tenths from 1%, hundredths below that (0.13911 gives "14%").
    public static func roundedUp(_ fraction: Double) -> String {
        guard fraction.isFinite else { return "n/a" }
        let value = fraction * 100
        // A tiny allowance keeps 14.000000000001 (float noise) from becoming 15.
        func up(_ v: Double, _ scale: Double) -> Double { (v * scale - 1e-9).rounded(.up) / scale }
        if value >= 10 { return fixed(up(value, 1), 0) + "%" }
        if value >= 1 { return trimmed(fixed(up(value, 10), 1)) + "%" }
        return trimmed(fixed(up(value, 100), 2)) + "%"
    }

    private static func trimmed(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var text = Substring(text)
        while text.hasSuffix("0") { text = text.dropLast() }
        if text.hasSuffix(".") { text = text.dropLast() }
        return String(text)
    }
}

/// `arguments` as one line a POSIX shell reads back as the same arguments: an argument with anything
/// beyond letters, digits and `@%+=:,./_-` is put in single quotes (a quote inside written `'\''`).
public func shellQuoted(_ arguments: [String]) -> String {
    arguments.map { argument in
        let safe =
            !argument.isEmpty
            && argument.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII
                    && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                        || "@%+=:,./_-".unicodeScalars.contains(scalar))
            }
        return safe ? argument : "'" + argument.replacing("'", with: "'\\''") + "'"
    }.joined(separator: " ")
}
