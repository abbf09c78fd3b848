#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// printf-style formatting of one number without Foundation, e.g. `formatNumber(3.14159, "%.2f")`.
public func formatNumber(_ value: Double, _ format: String) -> String {
    var buffer = [CChar](repeating: 0, count: 128)
    let n = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
    return String(decoding: buffer.prefix(max(0, min(Int(n), buffer.count - 1))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
