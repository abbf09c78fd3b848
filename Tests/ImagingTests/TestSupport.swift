import Foundation
import Imaging
import Support
import Testing

/// The golden manifest written by Scripts/make-imaging-golden.py, and its payloads.
enum Golden {
    static let directory: String = Bundle.module.path(forResource: "Golden", ofType: nil)!

    static let manifest: JSONValue = {
        let bytes = try! readFile(directory + "/imaging-golden.json")
        return try! JSONValue.parse(bytes)
    }()

    static func cases(_ key: String) -> [JSONValue] { manifest[key]?.arrayValue ?? [] }

    /// A payload file (path relative to Golden/), checked against its recorded size.
    static func payload(_ entry: JSONValue?) -> [UInt8] {
        let path = entry!["file"]!.stringValue!
        let bytes = try! readFile(directory + "/" + path)
        precondition(bytes.count == entry!["bytes"]!.intValue!, "\(path) has the wrong size")
        return bytes
    }

    static func floats(_ entry: JSONValue?) -> [Float] {
        let bytes = payload(entry)
        return stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(
                bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(
                    bytes[i + 3]) << 24)
        }
    }
}

extension JSONValue {
    var ints: [Int] { arrayValue!.map { $0.intValue! } }
}

/// The synthetic test image of Scripts/make-imaging-golden.py (`pattern`), bit for bit: a wrapped diagonal
/// gradient plus five bits of hashed noise.
func patternImage(width: Int, height: Int, seed: Int) -> Image {
    let mask: UInt64 = 0xFFFF_FFFF
    let s = UInt64(seed)
    return Image(width: width, height: height) { x, y in
        func channel(_ c: UInt64) -> UInt8 {
            let xx = UInt64(x), yy = UInt64(y)
            var n = (xx &* 0x9E37_79B1 &+ yy &* 0x85EB_CA77 &+ c &* 0xC2B2_AE3D &+ s &* 0x27D4_EB2F) & mask
            n ^= n >> 15
            n = (n &* 0x2C1B_3C6D) & mask
            n ^= n >> 12
            n = (n &* 0x297A_2D39) & mask
            n ^= n >> 15
            let v = (xx * 5 + yy * 3 + c * 71 + s * 13) % 224 + n % 32
            return UInt8(v)
        }
        return (channel(0), channel(1), channel(2))
    }
}

/// `float_pattern` of the script: the pattern plus ((x + 2y) mod 4) / 4, HWC floats.
func floatPattern(width: Int, height: Int, seed: Int) -> [Float] {
    let image = patternImage(width: width, height: height, seed: seed)
    var out = [Float](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let fraction = Float((x + 2 * y) % 4) * 0.25
            for c in 0..<3 {
                let i = (y * width + x) * 3 + c
                out[i] = Float(image.pixels[i]) + fraction
            }
        }
    }
    return out
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    var hash = SHA256()
    hash.update(bytes)
    return hash.finalizeHex()
}

/// The largest absolute difference between two equally long float arrays.
func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var worst: Float = 0
    for i in a.indices { worst = max(worst, abs(a[i] - b[i])) }
    return worst
}

/// Decodes in-memory bytes, failing the test with the error's message.
func decoded(
    _ bytes: [UInt8], _ name: String = "test image", options: DecodeOptions = DecodeOptions()
) throws(ImagingError) -> Image {
    try ImageDecoder.decode(bytes, source: name, options: options)
}

/// The ImagingError `body` throws, or nil (any other error is recorded as a test issue).
func imagingError(_ body: () throws -> Void) -> ImagingError? {
    do {
        try body()
        return nil
    } catch let error as ImagingError {
        return error
    } catch {
        Issue.record("expected an ImagingError, got \(error)")
        return nil
    }
}
