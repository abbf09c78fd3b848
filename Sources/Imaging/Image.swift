/// An 8-bit RGB image: `height` rows of `width` pixels, each pixel three bytes R, G, B, rows packed with no
/// padding (`pixels.count == width * height * 3`).
///
/// Every decoder and camera-format converter produces this; the resize step turns it into the network's
/// float input.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major RGB bytes.
    public var pixels: [UInt8]

    /// Wraps `pixels`; the count must be `width * height * 3` (a programming error otherwise).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "image dimensions must be positive, got \(width)x\(height)")
        precondition(
            pixels.count == width * height * 3,
            "\(width)x\(height) RGB needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image whose pixel at (x, y) is `color(x, y)`.
    public init(width: Int, height: Int, color: (_ x: Int, _ y: Int) -> (UInt8, UInt8, UInt8)) {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        var i = 0
        for y in 0..<height {
            for x in 0..<width {
                let (r, g, b) = color(x, y)
                pixels[i] = r
                pixels[i + 1] = g
                pixels[i + 2] = b
                i += 3
            }
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// Builds an image by letting `fill` write all `width * height * 3` bytes (no zero-fill first).
    /// `fill` returns false when it could not fill the buffer; the result is then nil.
    public static func filling(
        width: Int, height: Int,
        _ fill: (UnsafeMutableBufferPointer<UInt8>) -> Bool
    ) -> Image? {
        let count = width * height * 3
        var ok = false
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            ok = fill(UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            initialized = ok ? count : 0
        }
        return ok ? Image(width: width, height: height, pixels: pixels) : nil
    }

    /// The R, G, B bytes of the pixel at column `x`, row `y`.
    public func pixel(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) outside \(width)x\(height)")
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}
