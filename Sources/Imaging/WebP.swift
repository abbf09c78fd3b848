import CImageCodecs

/// WebP decoding (and encoding, used to build test fixtures) through libwebp.
enum WebPCodec {
    static func decode(
        _ bytes: UnsafeRawBufferPointer, source: String, options: DecodeOptions
    ) throws(ImagingError) -> Image {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), !bytes.isEmpty else {
            throw ImagingError(source: source, kind: .empty)
        }
        var status = dd_codec_status()
        var header = dd_webp_header()
        guard dd_webp_read_header(base, bytes.count, &header, &status) == 0 else {
            throw status.error(.webp, source: source)
        }
        if header.has_animation != 0 { throw ImagingError(source: source, kind: .animated(.webp)) }
        let width = Int(header.width), height = Int(header.height)
        try checkSize(width: width, height: height, options: options, format: .webp, source: source)
        let decoded = Image.filling(width: width, height: height) { out in
            dd_webp_decode_rgb(base, bytes.count, out.baseAddress, width * 3, Int32(width), Int32(height), &status) == 0
        }
        guard let image = decoded else { throw status.error(.webp, source: source) }
        guard options.applyOrientation, let orientation = exifOrientation(bytes) else { return image }
        return image.applying(orientation)
    }

    /// The orientation in the RIFF container's EXIF chunk, if any. Walks the chunk headers, bounds-checked.
    static func exifOrientation(_ bytes: UnsafeRawBufferPointer) -> Orientation? {
        var at = 12
        while at + 8 <= bytes.count {
            let type = (bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3])
            let size =
                Int(bytes[at + 4]) | Int(bytes[at + 5]) << 8 | Int(bytes[at + 6]) << 16 | Int(bytes[at + 7]) << 24
            let data = at + 8
            guard size <= bytes.count - data else { return nil }
            if type == (0x45, 0x58, 0x49, 0x46) {  // "EXIF"
                return EXIF.orientation(tiff: UnsafeRawBufferPointer(rebasing: bytes[data..<(data + size)]))
            }
            at = data + size + (size & 1)  // chunks are padded to even sizes
        }
        return nil
    }
}

/// Encodes WebP files with libwebp.
public enum WebPEncoder {
    /// Encodes an RGB image, lossy at `quality` (0...100) or lossless.
    public static func encode(_ image: Image, lossless: Bool, quality: Float = 90) throws(ImagingError) -> [UInt8] {
        try encode(
            samples: image.pixels, width: image.width, height: image.height, channels: 3, lossless: lossless,
            quality: quality)
    }

    /// Encodes 8-bit RGB (`channels` 3) or RGBA (4) samples.
    public static func encode(
        samples: [UInt8], width: Int, height: Int, channels: Int, lossless: Bool,
        quality: Float = 90
    ) throws(ImagingError) -> [UInt8] {
        let source = "WebP encoder"
        guard channels == 3 || channels == 4, width > 0, height > 0, samples.count == width * height * channels else {
            throw ImagingError(
                source: source, kind: .invalidArgument("\(samples.count) samples for \(width)x\(height)x\(channels)"))
        }
        var status = dd_codec_status()
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let result = samples.withUnsafeBufferPointer { pixels in
            dd_webp_encode(
                pixels.baseAddress, Int32(width), Int32(height), width * channels, Int32(channels),
                lossless ? 1 : 0, quality, &out, &size, &status)
        }
        guard result == 0 else { throw status.error(.webp, source: source) }
        return adoptEncoded(out, count: size)
    }
}
