import Support

/// V4L2 pixel formats DogDoor converts to RGB.
public enum PixelFormat: String, Sendable, CaseIterable, NamedChoice {
    /// YUYV 4:2:2 (Y0 U Y1 V per two pixels), BT.601 limited ("studio") range.
    case yuyv = "YUYV"
    /// Motion-JPEG: each frame a JPEG, often without Huffman tables.
    case mjpeg = "MJPG"
    /// Packed R, G, B bytes (V4L2 "RGB3").
    case rgb24 = "RGB3"
    /// 8-bit luminance (infrared cameras).
    case grey = "GREY"

    /// The V4L2 fourcc code (`v4l2_fourcc(a, b, c, d)`).
    public var fourcc: UInt32 {
        let c = Array(rawValue.utf8)
        return UInt32(c[0]) | UInt32(c[1]) << 8 | UInt32(c[2]) << 16 | UInt32(c[3]) << 24
    }

    /// The format with this fourcc code, if DogDoor converts it.
    public init?(fourcc: UInt32) {
        guard let match = PixelFormat.allCases.first(where: { $0.fourcc == fourcc }) else { return nil }
        self = match
    }

    /// The name in configuration files and on command lines: `mjpeg`, `yuyv`, `rgb24`, `grey` (the raw value is
    /// the fourcc).
    public var name: String {
        switch self {
        case .yuyv: "yuyv"
        case .mjpeg: "mjpeg"
        case .rgb24: "rgb24"
        case .grey: "grey"
        }
    }

    /// Bytes per pixel of the uncompressed formats (nil for MJPEG).
    public var bytesPerPixel: Int? {
        switch self {
        case .yuyv: 2
        case .rgb24: 3
        case .grey: 1
        case .mjpeg: nil
        }
    }
}

/// One frame as a V4L2 capture device delivers it.
public struct CameraFrame: Sendable {
    public var format: PixelFormat
    public var width: Int
    public var height: Int
    /// Bytes from one row to the next (V4L2's `bytesperline`; may exceed width * bytes per pixel).
    /// Ignored for MJPEG.
    public var bytesPerLine: Int
    /// The frame's bytes (for MJPEG, `bytesused` of them).
    public var bytes: [UInt8]

    /// A frame; `bytesPerLine` defaults to the packed row size.
    public init(format: PixelFormat, width: Int, height: Int, bytesPerLine: Int? = nil, bytes: [UInt8]) {
        self.format = format
        self.width = width
        self.height = height
        self.bytesPerLine = bytesPerLine ?? width * (format.bytesPerPixel ?? 0)
        self.bytes = bytes
    }

    /// Converts the frame to RGB. MJPEG frames are decoded with `options` (DCT scaling and truncation
    /// policy apply; a frame without Huffman tables gets the standard ones).
    public func image(options: DecodeOptions = DecodeOptions()) throws(ImagingError) -> Image {
        try withBytes(bytes) { buffer throws(ImagingError) in
            try CameraFrame.image(
                buffer, format: format, width: width, height: height, bytesPerLine: bytesPerLine, options: options)
        }
    }

    /// Converts frame bytes in place (for example a V4L2 mmap buffer) to RGB. `width` and `height` are the
    /// size negotiated with the camera: nothing larger is ever allocated, whatever the bytes claim (an MJPEG
    /// frame whose JPEG header says it is larger is refused before it is decoded).
    public static func image(
        _ bytes: UnsafeRawBufferPointer, format: PixelFormat, width: Int, height: Int,
        bytesPerLine: Int, options: DecodeOptions = DecodeOptions()
    ) throws(ImagingError) -> Image {
        let source = "camera frame"
        guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15 else {
            throw ImagingError(source: source, kind: .invalidFrame("\(format.rawValue) frame of \(width)x\(height)"))
        }
        var bounded = options
        bounded.maximumPixels = min(options.maximumPixels, width * height)
        bounded.maximumWidth = min(options.maximumWidth, width)
        bounded.maximumHeight = min(options.maximumHeight, height)
        // A camera is mounted as it is: an EXIF orientation in a frame (none send one) would only turn it.
        bounded.applyOrientation = false
        if format == .mjpeg {
            if MJPEG.needsHuffmanTables(bytes) {
                let completed = MJPEG.insertingStandardHuffmanTables(bytes)
                return try ImageDecoder.decode(completed, source: source, options: bounded)
            }
            return try ImageDecoder.decode(bytes, source: source, options: bounded)
        }
        let pixelBytes = format.bytesPerPixel!
        guard width % (format == .yuyv ? 2 : 1) == 0 else {
            throw ImagingError(source: source, kind: .invalidFrame("\(format.rawValue) frame of \(width)x\(height)"))
        }
        guard width * height <= options.maximumPixels else {
            throw ImagingError(
                source: source, kind: .tooLarge(width: width, height: height, maximumPixels: options.maximumPixels))
        }
        // Sides are at most 2^15, so these products cannot overflow; bytesPerLine comes from the driver.
        let rowBytes = width * pixelBytes
        let (stride, strideOverflow) = bytesPerLine.multipliedReportingOverflow(by: height - 1)
        guard bytesPerLine >= rowBytes, !strideOverflow, bytes.count >= stride + rowBytes else {
            throw ImagingError(
                source: source,
                kind: .invalidFrame(
                    "\(format.rawValue) \(width)x\(height) with \(bytesPerLine) bytes per line needs "
                        + (strideOverflow ? "more bytes than exist" : "\(stride + rowBytes) bytes")
                        + ", got \(bytes.count)"))
        }
        let input = bytes.bindMemory(to: UInt8.self)
        return Image.filling(width: width, height: height) { out in
            switch format {
            case .yuyv: YUV.convertYUYV(input, width: width, height: height, bytesPerLine: bytesPerLine, into: out)
            case .rgb24:
                for y in 0..<height {
                    let row = UnsafeBufferPointer(rebasing: input[(y * bytesPerLine)..<(y * bytesPerLine + width * 3)])
                    _ = UnsafeMutableBufferPointer(rebasing: out[(y * width * 3)..<((y + 1) * width * 3)]).initialize(
                        from: row)
                }
            case .grey:
                var o = 0
                for y in 0..<height {
                    let row = y * bytesPerLine
                    for x in 0..<width {
                        let v = input[row + x]
                        out[o] = v
                        out[o + 1] = v
                        out[o + 2] = v
                        o += 3
                    }
                }
            case .mjpeg: return false
            }
            return true
        }!
    }
}

/// YUV to RGB conversion.
enum YUV {
    /// Per-byte terms of the fixed-point BT.601 conversion, and a clamp table, precomputed once.
    private struct Tables {
        var luma = [Int32](repeating: 0, count: 256)  // 298 (Y - 16) + 128 + clamp offset
        var redV = [Int32](repeating: 0, count: 256)  // 409 (Cr - 128)
        var greenU = [Int32](repeating: 0, count: 256)  // -100 (Cb - 128)
        var greenV = [Int32](repeating: 0, count: 256)  // -208 (Cr - 128)
        var blueU = [Int32](repeating: 0, count: 256)  // 516 (Cb - 128)
        /// clamp[(sum >> 8)] for sums shifted by `offset` << 8 so that every index is non-negative.
        var clamp = [UInt8](repeating: 0, count: 1024)
        static let offset: Int32 = 384

        init() {
            for i in 0..<256 {
                let c = Int32(i)
                luma[i] = 298 * (c - 16) + 128 + Tables.offset << 8
                redV[i] = 409 * (c - 128)
                greenU[i] = -100 * (c - 128)
                greenV[i] = -208 * (c - 128)
                blueU[i] = 516 * (c - 128)
            }
            for i in 0..<1024 { clamp[i] = UInt8(min(max(i - Int(Tables.offset), 0), 255)) }
        }
    }

    private static let tables = Tables()

    /// YUYV 4:2:2, BT.601 limited range (Y 16...235, Cb/Cr 16...240), to full-range RGB, in 8.8 fixed point:
    ///     R = (298 (Y-16) + 409 (Cr-128) + 128) >> 8
    ///     G = (298 (Y-16) - 100 (Cb-128) - 208 (Cr-128) + 128) >> 8
    ///     B = (298 (Y-16) + 516 (Cb-128) + 128) >> 8
    /// clamped to 0...255. Each chroma pair is shared by the two pixels it was sampled with.
    static func convertYUYV(
        _ input: UnsafeBufferPointer<UInt8>, width: Int, height: Int, bytesPerLine: Int,
        into out: UnsafeMutableBufferPointer<UInt8>
    ) {
        guard let src = input.baseAddress, let dst = out.baseAddress else { return }
        let t = tables
        t.luma.withUnsafeBufferPointer { luma in
            t.redV.withUnsafeBufferPointer { redV in
                t.greenU.withUnsafeBufferPointer { greenU in
                    t.greenV.withUnsafeBufferPointer { greenV in
                        t.blueU.withUnsafeBufferPointer { blueU in
                            t.clamp.withUnsafeBufferPointer { clamp in
                                for y in 0..<height {
                                    var s = src + y * bytesPerLine
                                    var d = dst + y * width * 3
                                    for _ in 0..<(width / 2) {
                                        let c0 = luma[Int(s[0])], c1 = luma[Int(s[2])]
                                        let u = Int(s[1]), v = Int(s[3])
                                        let r = redV[v], g = greenU[u] &+ greenV[v], b = blueU[u]
                                        d[0] = clamp[Int((c0 &+ r) >> 8)]
                                        d[1] = clamp[Int((c0 &+ g) >> 8)]
                                        d[2] = clamp[Int((c0 &+ b) >> 8)]
                                        d[3] = clamp[Int((c1 &+ r) >> 8)]
                                        d[4] = clamp[Int((c1 &+ g) >> 8)]
                                        d[5] = clamp[Int((c1 &+ b) >> 8)]
                                        s += 4
                                        d += 6
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
