import CImageCodecs

/// JPEG decoding and encoding through libjpeg(-turbo).
enum JPEGCodec {
    static func decode(
        _ bytes: UnsafeRawBufferPointer, source: String, options: DecodeOptions
    ) throws(ImagingError) -> Image {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), !bytes.isEmpty else {
            throw ImagingError(source: source, kind: .empty)
        }
        var status = dd_codec_status()
        var header = dd_jpeg_header()
        guard dd_jpeg_read_header(base, bytes.count, 8, &header, &status) == 0 else {
            throw status.error(.jpeg, source: source)
        }
        // The limit applies to the full size: libjpeg's buffers for a progressive file scale with it.
        try checkSize(
            width: Int(header.width), height: Int(header.height), options: options, format: .jpeg, source: source)
        let scale = options.jpegScaleEighths(width: Int(header.width), height: Int(header.height))
        if scale != 8, dd_jpeg_read_header(base, bytes.count, Int32(scale), &header, &status) != 0 {
            throw status.error(.jpeg, source: source)
        }
        let width = Int(header.output_width), height = Int(header.output_height)
        let decoded = Image.filling(width: width, height: height) { out in
            dd_jpeg_decode_rgb(
                base, bytes.count, Int32(scale), options.allowTruncated ? 1 : 0,
                Int32(options.maximumProgressiveScans), options.maximumDecoderMemory, out.baseAddress, width * 3,
                Int32(width), Int32(height), &status) == 0
        }
        guard let image = decoded else { throw status.error(.jpeg, source: source) }
        guard options.applyOrientation, let orientation = exifOrientation(bytes) else { return image }
        return image.applying(orientation)
    }

    /// The orientation in the first APP1 Exif segment, if any.
    static func exifOrientation(_ bytes: UnsafeRawBufferPointer) -> Orientation? {
        let markers = JPEGMarkers(bytes)
        for segment in markers.segments where segment.marker == 0xE1 {
            let payload = UnsafeRawBufferPointer(rebasing: bytes[segment.payload])
            if payload.count >= 6, payload.starts(with: [0x45, 0x78, 0x69, 0x66, 0x00, 0x00]) {
                return EXIF.orientation(tiff: payload)
            }
        }
        return nil
    }
}

/// The marker segments of a JPEG up to its first scan (SOS), bounds-checked; parsing stops quietly at
/// anything malformed (libjpeg then reports the real problem when it decodes).
struct JPEGMarkers {
    struct Segment {
        /// The marker's second byte (0xC4 DHT, 0xDA SOS, 0xE1 APP1, ...).
        var marker: UInt8
        /// Offset of the segment's 0xFF.
        var start: Int
        /// The bytes after the two length bytes.
        var payload: Range<Int>
    }

    private(set) var segments: [Segment] = []
    /// Offset of the first SOS marker's 0xFF, when one was reached.
    private(set) var scanStart: Int?

    init(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return }
        var at = 2
        while at + 1 < bytes.count {
            guard bytes[at] == 0xFF else { return }
            var markerAt = at + 1
            while markerAt < bytes.count && bytes[markerAt] == 0xFF { markerAt += 1 }  // fill bytes
            guard markerAt < bytes.count else { return }
            let marker = bytes[markerAt]
            let start = markerAt - 1
            // Markers without a length field.
            if marker == 0x01 || (0xD0...0xD8).contains(marker) {
                at = markerAt + 1
                continue
            }
            if marker == 0xD9 { return }
            guard markerAt + 2 < bytes.count else { return }
            let length = Int(bytes[markerAt + 1]) << 8 | Int(bytes[markerAt + 2])
            guard length >= 2, markerAt + 1 + length <= bytes.count else { return }
            segments.append(Segment(marker: marker, start: start, payload: (markerAt + 3)..<(markerAt + 1 + length)))
            if marker == 0xDA {
                scanStart = start
                return
            }
            at = markerAt + 1 + length
        }
    }

    /// Whether any DHT segment precedes the first scan.
    var hasHuffmanTables: Bool { segments.contains { $0.marker == 0xC4 } }
}

/// Options for `JPEGEncoder`.
public struct JPEGEncodeOptions: Sendable, Equatable {
    /// libjpeg quality, 1...100.
    public var quality: Int
    /// Write a progressive JPEG.
    public var progressive: Bool
    /// Chroma subsampling of colour images.
    public var subsampling: ChromaSubsampling
    /// Compute optimal Huffman tables (smaller files); off, libjpeg writes the standard tables of ITU T.81
    /// Annex K.3, as webcams do.
    public var optimizeCoding: Bool

    public enum ChromaSubsampling: String, Sendable, Equatable {
        case s444 = "4:4:4", s422 = "4:2:2", s420 = "4:2:0"
    }

    public init(
        quality: Int = 90, progressive: Bool = false, subsampling: ChromaSubsampling = .s420,
        optimizeCoding: Bool = false
    ) {
        self.quality = quality
        self.progressive = progressive
        self.subsampling = subsampling
        self.optimizeCoding = optimizeCoding
    }
}

/// Encodes images as JPEG with libjpeg (the daemon's snapshots, and test fixtures).
public enum JPEGEncoder {
    /// Encodes an RGB image. Errors only for an out-of-range quality or a libjpeg failure.
    public static func encode(
        _ image: Image, options: JPEGEncodeOptions = JPEGEncodeOptions()
    ) throws(ImagingError) -> [UInt8] {
        try encode(samples: image.pixels, width: image.width, height: image.height, components: 3, options: options)
    }

    /// Encodes raw 8-bit samples: 1 component (gray), 3 (RGB) or 4 (CMYK, written as given — Adobe files
    /// store 255 minus the ink — or as YCCK when `ycck`).
    public static func encode(
        samples: [UInt8], width: Int, height: Int, components: Int,
        options: JPEGEncodeOptions = JPEGEncodeOptions(), ycck: Bool = false
    ) throws(ImagingError) -> [UInt8] {
        let source = "JPEG encoder"
        guard (1...100).contains(options.quality) else {
            throw ImagingError(source: source, kind: .invalidArgument("quality \(options.quality) is outside 1...100"))
        }
        guard [1, 3, 4].contains(components), width > 0, height > 0, samples.count == width * height * components else {
            throw ImagingError(
                source: source, kind: .invalidArgument("\(samples.count) samples for \(width)x\(height)x\(components)"))
        }
        var settings = dd_jpeg_encode_options()
        settings.quality = Int32(options.quality)
        settings.progressive = options.progressive ? 1 : 0
        switch options.subsampling {
        case .s444: (settings.luma_h, settings.luma_v) = (1, 1)
        case .s422: (settings.luma_h, settings.luma_v) = (2, 1)
        case .s420: (settings.luma_h, settings.luma_v) = (2, 2)
        }
        settings.ycck = ycck ? 1 : 0
        settings.optimize_coding = options.optimizeCoding ? 1 : 0
        var status = dd_codec_status()
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let result = samples.withUnsafeBufferPointer { pixels in
            dd_jpeg_encode(
                pixels.baseAddress, Int32(width), Int32(height), width * components, Int32(components),
                &settings, &out, &size, &status)
        }
        guard result == 0 else { throw status.error(.jpeg, source: source) }
        return adoptEncoded(out, count: size)
    }
}
