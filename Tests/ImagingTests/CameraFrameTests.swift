import Imaging
import Support
import Testing

@Suite struct CameraFrameTests {
    /// BT.601 limited range in floating point, the definition the fixed-point converter approximates.
    static func referenceRGB(y: Int, u: Int, v: Int) -> (Double, Double, Double) {
        let c = 255.0 / 219.0 * Double(y - 16)
        let d = Double(u - 128) * 255.0 / 224.0, e = Double(v - 128) * 255.0 / 224.0
        let kr = 0.299, kb = 0.114, kg = 1 - kr - kb
        let r = c + 2 * (1 - kr) * e
        let b = c + 2 * (1 - kb) * d
        let g = c - (2 * kb * (1 - kb) / kg) * d - (2 * kr * (1 - kr) / kg) * e
        return (r, g, b)
    }

    static func yuyvFrame(width: Int, height: Int, bytesPerLine: Int, seed: UInt64) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        var bytes = [UInt8](repeating: 0xEE, count: bytesPerLine * height)  // padding filled with junk
        for y in 0..<height {
            for i in 0..<(width * 2) { bytes[y * bytesPerLine + i] = UInt8(random.nextInt(below: 256)) }
        }
        return bytes
    }

    @Test func yuyvMatchesBT601LimitedRange() throws {
        let width = 64, height = 8
        let bytes = Self.yuyvFrame(width: width, height: height, bytesPerLine: width * 2, seed: 1)
        let image = try CameraFrame(format: .yuyv, width: width, height: height, bytes: bytes).image()
        for y in 0..<height {
            for x in 0..<width {
                let pair = y * width * 2 + (x / 2) * 4
                let luma = Int(bytes[pair + (x % 2) * 2]), u = Int(bytes[pair + 1]), v = Int(bytes[pair + 3])
                let (r, g, b) = Self.referenceRGB(y: luma, u: u, v: v)
                let p = image.pixel(x: x, y: y)
                for (got, want) in [(p.r, r), (p.g, g), (p.b, b)] {
                    let clamped = min(max(want, 0), 255)
                    #expect(abs(Double(got) - clamped) <= 1.0, "Y \(luma) U \(u) V \(v): \(got) vs \(clamped)")
                }
            }
        }
    }

    @Test func yuyvKnownColours() throws {
        func rgb(_ y: UInt8, _ u: UInt8, _ v: UInt8) throws -> (UInt8, UInt8, UInt8) {
            let p = try CameraFrame(format: .yuyv, width: 2, height: 1, bytes: [y, u, y, v]).image().pixel(x: 1, y: 0)
            return (p.r, p.g, p.b)
        }
        #expect(try rgb(16, 128, 128) == (0, 0, 0))
        #expect(try rgb(235, 128, 128) == (255, 255, 255))
        #expect(try rgb(126, 128, 128) == (128, 128, 128))
        #expect(try rgb(81, 90, 240) == (255, 0, 0))  // BT.601 studio-swing red
    }

    @Test func strideIsHonouredForEveryUncompressedFormat() throws {
        let width = 10, height = 4
        for format in [PixelFormat.yuyv, .rgb24, .grey] {
            let packed = width * format.bytesPerPixel!
            let padded = packed + 12
            var random = SeededRandom(seed: 2)
            let rows = (0..<height).map { _ in (0..<packed).map { _ in UInt8(random.nextInt(below: 256)) } }
            let tight = try CameraFrame(format: format, width: width, height: height, bytes: rows.flatMap { $0 })
                .image()
            let loose = try CameraFrame(
                format: format, width: width, height: height, bytesPerLine: padded,
                bytes: rows.flatMap { $0 + [UInt8](repeating: 0x5A, count: 12) }
            ).image()
            #expect(tight == loose, "\(format)")
            if format == .rgb24 { #expect(tight.pixels == rows.flatMap { $0 }) }
            if format == .grey { #expect(tight.pixel(x: 3, y: 2) == (rows[2][3], rows[2][3], rows[2][3])) }
        }
    }

    @Test func shortFramesAreRejected() {
        let error = imagingError {
            _ = try CameraFrame(format: .yuyv, width: 640, height: 480, bytes: [UInt8](repeating: 0, count: 1000))
                .image()
        }
        guard case .invalidFrame(let reason)? = error?.kind else {
            Issue.record("expected invalidFrame, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("614400"))
        #expect(error!.description.hasPrefix("camera frame: "))
        let odd = imagingError {
            _ = try CameraFrame(format: .yuyv, width: 3, height: 1, bytes: [0, 0, 0, 0, 0, 0]).image()
        }
        if case .invalidFrame? = odd?.kind {} else { Issue.record("odd YUYV width accepted") }
    }

    @Test func fourccCodes() {
        #expect(PixelFormat.yuyv.fourcc == 0x5659_5559)
        #expect(PixelFormat.mjpeg.fourcc == 0x4750_4A4D)
        #expect(PixelFormat(fourcc: 0x3342_4752) == .rgb24)
        #expect(PixelFormat(fourcc: 0x5945_5247) == .grey)
        #expect(PixelFormat(fourcc: 0x3231_564E) == nil)  // NV12
    }

    /// The Huffman tables of all DHT segments before the first scan: (class/id, counts, symbols).
    static func huffmanTables(_ jpeg: [UInt8]) -> [[UInt8]] {
        var tables: [[UInt8]] = []
        var at = 2
        while at + 4 <= jpeg.count, jpeg[at] == 0xFF, jpeg[at + 1] != 0xDA {
            let length = Int(jpeg[at + 2]) << 8 | Int(jpeg[at + 3])
            if jpeg[at + 1] == 0xC4 {
                var t = at + 4
                while t < at + 2 + length {
                    let count = jpeg[(t + 1)...(t + 16)].reduce(0) { $0 + Int($1) }
                    tables.append(Array(jpeg[t..<(t + 17 + count)]))
                    t += 17 + count
                }
            }
            at += 2 + length
        }
        return tables
    }

    /// A webcam-like frame: libjpeg with the standard tables (optimised coding off), 4:2:2, then every
    /// DHT segment removed.
    static func framesWithAndWithoutTables() throws -> (withTables: [UInt8], stripped: [UInt8]) {
        let image = patternImage(width: 640, height: 480, seed: 3)
        let jpeg = try JPEGEncoder.encode(
            image, options: JPEGEncodeOptions(quality: 80, subsampling: .s422, optimizeCoding: false))
        var stripped = [UInt8](jpeg[0..<2])
        var at = 2
        while jpeg[at + 1] != 0xDA {
            let length = Int(jpeg[at + 2]) << 8 | Int(jpeg[at + 3])
            if jpeg[at + 1] != 0xC4 { stripped += jpeg[at..<(at + 2 + length)] }
            at += 2 + length
        }
        stripped += jpeg[at...]
        return (jpeg, stripped)
    }

    @Test func insertedTablesAreTheStandardOnesLibjpegWrites() throws {
        let (jpeg, stripped) = try Self.framesWithAndWithoutTables()
        let libjpegTables = Self.huffmanTables(jpeg)
        #expect(libjpegTables.count == 4)
        #expect(Self.huffmanTables(stripped).isEmpty)
        let completed = MJPEG.insertingStandardHuffmanTables(stripped)
        #expect(Set(Self.huffmanTables(completed)) == Set(libjpegTables))
        #expect(stripped.withUnsafeBytes { MJPEG.needsHuffmanTables($0) })
        #expect(!jpeg.withUnsafeBytes { MJPEG.needsHuffmanTables($0) })
        #expect(MJPEG.insertingStandardHuffmanTables(jpeg) == jpeg)
        #expect(MJPEG.removingHuffmanTables(jpeg) == stripped)
    }

    @Test func mjpegFrameWithoutHuffmanTablesDecodes() throws {
        let (jpeg, stripped) = try Self.framesWithAndWithoutTables()
        let reference = try decoded(jpeg)
        let frame = CameraFrame(format: .mjpeg, width: 640, height: 480, bytes: stripped)
        #expect(try frame.image() == reference)
        // DCT-scaled, as the preprocessor decodes frames.
        let half = try frame.image(options: DecodeOptions(minimumSide: 224))
        #expect(half.width == 320 && half.height == 240)
    }

    /// An MJPEG frame may not be larger than the negotiated size in either direction, even when it has no
    /// more pixels (found by fuzzing: a 16x4 JPEG in a 15x8 stream decoded).
    @Test func mjpegFrameLargerThanNegotiatedIsRefused() throws {
        let jpeg = try JPEGEncoder.encode(patternImage(width: 32, height: 8, seed: 5))
        for (width, height) in [(31, 16), (64, 7)] {
            let frame = CameraFrame(format: .mjpeg, width: width, height: height, bytes: jpeg)
            #expect(
                throws: ImagingError(
                    source: "camera frame",
                    kind: .largerThanExpected(
                        width: 32, height: 8, maximumWidth: width,
                        maximumHeight: height))
            ) {
                try frame.image()
            }
        }
        #expect(try CameraFrame(format: .mjpeg, width: 32, height: 8, bytes: jpeg).image().width == 32)
    }
}
