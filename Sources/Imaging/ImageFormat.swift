/// The encoded formats DogDoor decodes. Always detected from the bytes, never from a file name (real
/// data sets contain WebP files named `.jpg`).
public enum ImageFormat: String, Sendable, Equatable, CaseIterable {
    case jpeg
    case png
    case webp

    /// Human-readable name used in messages.
    public var name: String {
        switch self {
        case .jpeg: "JPEG"
        case .png: "PNG"
        case .webp: "WebP"
        }
    }

    /// What the leading bytes of a file are.
    public enum Detection: Equatable, Sendable {
        case supported(ImageFormat)
        case empty
        /// Not decodable; the text says what was found.
        case unsupported(String)
    }

    /// Identifies the format from the leading bytes (magic numbers).
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> Detection {
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            guard bytes.count >= offset + prefix.count else { return false }
            for (i, byte) in prefix.enumerated() where bytes[offset + i] != byte { return false }
            return true
        }
        func ascii(_ range: Range<Int>) -> String {
            String(decoding: bytes[range].map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
        }
        if bytes.isEmpty { return .empty }
        if starts([0xFF, 0xD8, 0xFF]) { return .supported(.jpeg) }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .supported(.png) }
        if starts(Array("RIFF".utf8)) && bytes.count >= 12 {
            if starts(Array("WEBP".utf8), at: 8) { return .supported(.webp) }
            return .unsupported("RIFF file of type '\(ascii(8..<12))'")
        }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .unsupported("GIF image") }
        if starts(Array("ftyp".utf8), at: 4) && bytes.count >= 12 {
            let brand = ascii(8..<12)
            let heif = ["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis"]
            if heif.contains(brand) { return .unsupported("HEIF/AVIF image (brand '\(brand)')") }
            return .unsupported("ISO media file (brand '\(brand)')")
        }
        if starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || starts([0xFF, 0x4F, 0xFF, 0x51]) {
            return .unsupported("JPEG 2000 image")
        }
        if starts([0xFF, 0x0A]) || starts([0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]) {
            return .unsupported("JPEG XL image")
        }
        if starts(Array("BM".utf8)) && bytes.count >= 14 { return .unsupported("BMP image") }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .unsupported("TIFF image") }
        if starts([0x00, 0x00, 0x01, 0x00]) { return .unsupported("ICO image") }
        if starts(Array("%PDF".utf8)) { return .unsupported("PDF document") }
        let head = ascii(0..<min(bytes.count, 64)).lowercased().drop { $0 == " " || $0 == "?" }
        if head.hasPrefix("<!doctype html") || head.hasPrefix("<html") { return .unsupported("HTML document") }
        if head.hasPrefix("<svg") || head.hasPrefix("<?xml") { return .unsupported("SVG/XML document") }
        let shown = bytes.prefix(8).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return "0x" + (hex.count == 1 ? "0" + hex : hex)
        }
        let ellipsis = bytes.count > 8 ? " ..." : ""
        return .unsupported("unknown bytes \(shown.joined(separator: " "))\(ellipsis)")
    }
}
