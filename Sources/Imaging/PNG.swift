import CImageCodecs

/// PNG decoding (and encoding, used to build test fixtures) through libpng.
enum PNGCodec {
    static func decode(
        _ bytes: UnsafeRawBufferPointer, source: String, options: DecodeOptions
    ) throws(ImagingError) -> Image {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), !bytes.isEmpty else {
            throw ImagingError(source: source, kind: .empty)
        }
        var status = dd_codec_status()
        var header = dd_png_header()
        guard dd_png_read_header(base, bytes.count, &header, &status) == 0 else {
            throw status.error(.png, source: source)
        }
        let width = Int(header.width), height = Int(header.height)
        try checkSize(width: width, height: height, options: options, format: .png, source: source)
        let decoded = Image.filling(width: width, height: height) { out in
            dd_png_decode_rgb(base, bytes.count, out.baseAddress, width * 3, Int32(width), Int32(height), &status) == 0
        }
        guard let image = decoded else { throw status.error(.png, source: source) }
        guard options.applyOrientation, let orientation = exifOrientation(bytes) else { return image }
        return image.applying(orientation)
    }

    /// The orientation in an eXIf chunk, if any. Walks the chunk headers, bounds-checked.
    static func exifOrientation(_ bytes: UnsafeRawBufferPointer) -> Orientation? {
        var at = 8
        while at + 12 <= bytes.count {
            let length = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            let type = (bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7])
            let data = at + 8
            guard length >= 0, length <= bytes.count - data - 4 else { return nil }
            if type == (0x65, 0x58, 0x49, 0x66) {  // "eXIf"
                return EXIF.orientation(tiff: UnsafeRawBufferPointer(rebasing: bytes[data..<(data + length)]))
            }
            if type == (0x49, 0x45, 0x4E, 0x44) { return nil }  // "IEND"
            at = data + length + 4
        }
        return nil
    }
}

/// A PNG to encode: samples laid out as PNG stores them.
public struct PNGImage: Sendable, Equatable {
    /// PNG colour types.
    public enum ColorType: Int32, Sendable {
        case gray = 0, rgb = 2, palette = 3, grayAlpha = 4, rgba = 6

        /// Samples per pixel.
        public var channels: Int {
            switch self {
            case .gray, .palette: 1
            case .grayAlpha: 2
            case .rgb: 3
            case .rgba: 4
            }
        }
    }

    public var width: Int
    public var height: Int
    public var colorType: ColorType
    /// 1, 2, 4, 8 or 16 (as PNG allows for the colour type).
    public var bitDepth: Int
    /// Rows of packed samples (sub-byte depths packed most significant bit first, 16-bit big-endian),
    /// each `rowBytes` long.
    public var samples: [UInt8]
    /// For `.palette`: RGB triples.
    public var palette: [UInt8]
    /// For `.palette`: tRNS alpha values for the first entries.
    public var paletteAlpha: [UInt8]
    public var interlaced: Bool

    public init(
        width: Int, height: Int, colorType: ColorType, bitDepth: Int, samples: [UInt8],
        palette: [UInt8] = [], paletteAlpha: [UInt8] = [], interlaced: Bool = false
    ) {
        self.width = width
        self.height = height
        self.colorType = colorType
        self.bitDepth = bitDepth
        self.samples = samples
        self.palette = palette
        self.paletteAlpha = paletteAlpha
        self.interlaced = interlaced
    }

    /// Bytes per row of `samples`.
    public var rowBytes: Int { (width * colorType.channels * bitDepth + 7) / 8 }
}

/// Encodes PNG files with libpng.
public enum PNGEncoder {
    /// Encodes an RGB image as an 8-bit RGB PNG.
    public static func encode(_ image: Image) throws(ImagingError) -> [UInt8] {
        try encode(
            PNGImage(width: image.width, height: image.height, colorType: .rgb, bitDepth: 8, samples: image.pixels))
    }

    /// Encodes any PNG layout.
    public static func encode(_ png: PNGImage) throws(ImagingError) -> [UInt8] {
        let source = "PNG encoder"
        guard png.width > 0, png.height > 0, png.samples.count == png.rowBytes * png.height else {
            throw ImagingError(
                source: source,
                kind: .invalidArgument(
                    "\(png.samples.count) sample bytes for a \(png.width)x\(png.height) PNG with \(png.rowBytes) bytes per row"
                ))
        }
        var status = dd_codec_status()
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let result = png.samples.withUnsafeBufferPointer { samples in
            png.palette.withUnsafeBufferPointer { palette in
                png.paletteAlpha.withUnsafeBufferPointer { alpha in
                    dd_png_encode(
                        samples.baseAddress, Int32(png.width), Int32(png.height), png.rowBytes,
                        png.colorType.rawValue, Int32(png.bitDepth), palette.baseAddress,
                        Int32(png.palette.count / 3), alpha.baseAddress, Int32(png.paletteAlpha.count),
                        png.interlaced ? 1 : 0, &out, &size, &status)
                }
            }
        }
        guard result == 0 else { throw status.error(.png, source: source) }
        return adoptEncoded(out, count: size)
    }
}
