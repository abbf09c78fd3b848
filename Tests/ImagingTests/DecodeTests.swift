import Foundation
import Imaging
import Support
import Testing

@Suite struct DecodeTests {
    // MARK: Against Pillow

    /// Small files made by Pillow/libwebp in the golden script, decoded as Pillow's convert("RGB") does.
    /// JPEG (libjpeg-turbo, ISLOW IDCT, fancy upsampling), PNG and lossless WebP are exact; lossy WebP
    /// may differ by the libwebp versions' YUV conversion (tolerance recorded per case).
    @Test func decodesLikePillow() throws {
        let cases = Golden.cases("decode")
        #expect(cases.count >= 20)
        for entry in cases {
            let name = entry["name"]!.stringValue!
            let bytes = Golden.payload(entry["encoded"])
            let upright = entry["upright"]?.boolValue ?? false
            let image = try decoded(bytes, name, options: DecodeOptions(applyOrientation: upright))
            #expect(
                image.width == entry["width"]!.intValue! && image.height == entry["height"]!.intValue!, "\(name) size")
            let expected = Golden.payload(entry["pixels"])
            let tolerance = entry["tolerance"]!.intValue!
            var worst = 0
            for i in expected.indices { worst = max(worst, abs(Int(expected[i]) - Int(image.pixels[i]))) }
            #expect(worst <= tolerance, "\(name): differs from Pillow by up to \(worst)")
        }
    }

    // MARK: Format detection

    @Test func detectsFormatFromBytesNotName() throws {
        let image = patternImage(width: 9, height: 7, seed: 1)
        let webp = try WebPEncoder.encode(image, lossless: true)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dogdoor-imaging-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bo_13.jpg").path
        try Data(webp).write(to: URL(fileURLWithPath: path))
        #expect(try ImageDecoder.decode(file: path) == image)
    }

    @Test func namesWhatUnsupportedBytesAre() {
        func kind(_ bytes: [UInt8]) -> ImagingError.Kind? { imagingError { _ = try decoded(bytes, "x") }?.kind }
        #expect(kind([]) == .empty)
        #expect(kind(Array("GIF89a".utf8) + [1, 0, 1, 0]) == .unsupportedFormat("GIF image"))
        #expect(
            kind([0, 0, 0, 0x18] + Array("ftypheic".utf8) + [0, 0, 0, 0])
                == .unsupportedFormat("HEIF/AVIF image (brand 'heic')"))
        #expect(
            kind([0, 0, 0, 0x1C] + Array("ftypavif".utf8) + [0, 0, 0, 0])
                == .unsupportedFormat("HEIF/AVIF image (brand 'avif')"))
        #expect(kind(Array("<!DOCTYPE html><html>".utf8)) == .unsupportedFormat("HTML document"))
        #expect(kind(Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVEfmt ".utf8)) == .unsupportedFormat("RIFF file of type 'WAVE'"))
        #expect(kind([0x00, 0x01, 0xAB]) == .unsupportedFormat("unknown bytes 0x00 0x01 0xAB"))
        #expect(kind(Array(0..<12)) == .unsupportedFormat("unknown bytes 0x00 0x01 0x02 0x03 0x04 0x05 0x06 0x07 ..."))
        let error = imagingError { _ = try decoded(Array("GIF87a..".utf8), "pets/cat.gif") }!
        #expect(error.description == "pets/cat.gif: not a JPEG, PNG or WebP image: GIF image")
    }

    @Test func unreadableFileNamesThePath() {
        let error = imagingError { _ = try ImageDecoder.decode(file: "/nonexistent/dog.jpg") }
        guard case .unreadable(let system)? = error?.kind else {
            Issue.record("expected .unreadable, got \(String(describing: error))")
            return
        }
        #expect(system.code == ENOENT)
        #expect(error!.description.contains("/nonexistent/dog.jpg"))
    }

    // MARK: Truncated and corrupt data

    @Test(arguments: [false, true])
    func truncatedJPEGIsAnErrorUnlessAllowed(progressive: Bool) throws {
        let image = patternImage(width: 96, height: 64, seed: 2)
        let jpeg = try JPEGEncoder.encode(image, options: JPEGEncodeOptions(quality: 90, progressive: progressive))
        // Cut inside entropy-coded data (mid first scan): a cut inside a marker segment cannot be decoded
        // even when truncation is allowed.
        let scans = (0..<(jpeg.count - 1)).filter { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xDA }
        let scanEnd = scans.count > 1 ? scans[1] : jpeg.count
        let cut = Array(jpeg[0..<((scans[0] + 20 + scanEnd) / 2)])
        let error = imagingError { _ = try decoded(cut, "cut.jpg") }
        guard case .truncated(.jpeg, let reason)? = error?.kind else {
            Issue.record("expected a truncation error, got \(String(describing: error))")
            return
        }
        #expect(reason == "Premature end of JPEG file")
        #expect(error!.description == "cut.jpg: truncated JPEG data: Premature end of JPEG file")
        let partial = try decoded(cut, options: DecodeOptions(allowTruncated: true))
        #expect(partial.width == 96 && partial.height == 64)
        // The header alone is also truncated.
        let header = imagingError { _ = try decoded(Array(jpeg[0..<40])) }
        if case .truncated(.jpeg, _)? = header?.kind {
        } else {
            Issue.record("header cut: \(String(describing: header))")
        }
    }

    @Test func corruptJPEGReportsLibjpegsMessage() throws {
        var jpeg = try JPEGEncoder.encode(patternImage(width: 32, height: 32, seed: 3))
        // Replace the SOF0 marker with an undefined one: libjpeg must refuse, not exit().
        let sof = (2..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }!
        jpeg[sof + 1] = 0xC3  // lossless (SOF3): a real marker libjpeg-turbo does not decode
        let error = imagingError { _ = try decoded(jpeg, "odd.jpg") }
        guard case .corrupt(.jpeg, let reason)? = error?.kind else {
            Issue.record("expected a corrupt-data error, got \(String(describing: error))")
            return
        }
        #expect(!reason.isEmpty)
    }

    @Test func truncatedAndCorruptPNG() throws {
        let png = try PNGEncoder.encode(patternImage(width: 40, height: 30, seed: 4))
        let cut = imagingError { _ = try decoded(Array(png[0..<(png.count / 2)]), "cut.png") }
        if case .truncated(.png, _)? = cut?.kind {
        } else {
            Issue.record("expected truncation, got \(String(describing: cut))")
        }
        var bad = png
        bad[20] ^= 0xFF  // inside IHDR: its CRC no longer matches
        let corrupt = imagingError { _ = try decoded(bad, "bad.png") }
        guard case .corrupt(.png, let reason)? = corrupt?.kind else {
            Issue.record("expected corrupt PNG, got \(String(describing: corrupt))")
            return
        }
        #expect(reason.contains("CRC"), "libpng's message: \(reason)")
    }

    @Test func truncatedWebP() throws {
        let webp = try WebPEncoder.encode(patternImage(width: 40, height: 30, seed: 5), lossless: false, quality: 80)
        let error = imagingError { _ = try decoded(Array(webp[0..<(webp.count * 2 / 3)]), "cut.webp") }
        if case .truncated(.webp, _)? = error?.kind {
        } else {
            Issue.record("expected truncation, got \(String(describing: error))")
        }
    }

    @Test func animatedWebPIsAClearError() throws {
        let still = try WebPEncoder.encode(patternImage(width: 8, height: 8, seed: 6), lossless: true)
        let animated = WebPContainer.animated(frameFrom: still, width: 8, height: 8)
        let error = imagingError { _ = try decoded(animated, "wag.webp") }
        #expect(error?.kind == .animated(.webp))
        #expect(error?.description == "wag.webp: animated WebP is not supported (use a still image)")
    }

    @Test func refusesImagesOverThePixelLimit() throws {
        let png = try PNGEncoder.encode(patternImage(width: 20, height: 20, seed: 7))
        let error = imagingError { _ = try decoded(png, "big.png", options: DecodeOptions(maximumPixels: 399)) }
        #expect(error?.kind == .tooLarge(width: 20, height: 20, maximumPixels: 399))
        #expect(try decoded(png, options: DecodeOptions(maximumPixels: 400)).width == 20)
    }

    // MARK: JPEG colour spaces and scaling

    @Test func grayscaleJPEGIsReplicated() throws {
        let gray = (0..<(30 * 20)).map { UInt8(($0 * 7) % 256) }
        let jpeg = try JPEGEncoder.encode(samples: gray, width: 30, height: 20, components: 1)
        let image = try decoded(jpeg)
        for i in 0..<(30 * 20) {
            #expect(image.pixels[3 * i] == image.pixels[3 * i + 1] && image.pixels[3 * i] == image.pixels[3 * i + 2])
        }
    }

    @Test(arguments: [false, true])
    func cmykAndYCCKJPEGsConvertLikePillow(ycck: Bool) throws {
        // Adobe files store 255 - ink. Ink from RGB with no black: C = 255 - R, and so on; K = 0.
        let rgb = patternImage(width: 24, height: 16, seed: 8)
        var stored = [UInt8]()
        for i in 0..<(24 * 16) {
            stored += [rgb.pixels[3 * i], rgb.pixels[3 * i + 1], rgb.pixels[3 * i + 2], 255]
        }
        let options = JPEGEncodeOptions(quality: 100, subsampling: .s444)
        let jpeg = try JPEGEncoder.encode(
            samples: stored, width: 24, height: 16, components: 4, options: options, ycck: ycck)
        let image = try decoded(jpeg)
        // Pillow: R = (255 - K) - MULDIV255(C, 255 - K) = 255 - C = R when K = 0; quality 100 keeps the
        // samples within a few levels.
        var worst = 0
        for i in rgb.pixels.indices { worst = max(worst, abs(Int(rgb.pixels[i]) - Int(image.pixels[i]))) }
        #expect(worst <= 6, "CMYK round trip differs by \(worst)")
    }

    @Test func scaleChoiceCoversTheTarget() {
        let options = DecodeOptions(minimumSide: 224)
        #expect(options.jpegScaleEighths(width: 640, height: 480) == 4)  // 320x240
        #expect(options.jpegScaleEighths(width: 2000, height: 2000) == 1)  // 250x250
        #expect(options.jpegScaleEighths(width: 4032, height: 3024) == 1)  // 504x378
        #expect(options.jpegScaleEighths(width: 1000, height: 800) == 3)  // 375x300
        #expect(options.jpegScaleEighths(width: 300, height: 225) == 8)  // 7/8 would give 197 rows
        #expect(options.jpegScaleEighths(width: 100, height: 100) == 8)  // smaller than the target
        #expect(DecodeOptions().jpegScaleEighths(width: 4000, height: 3000) == 8)
    }

    @Test func scaledDecodeIsAFaithfulReduction() throws {
        let w = 480, h = 320
        let smooth = Image(width: w, height: h) { x, y in
            (UInt8(x * 255 / (w - 1)), UInt8(y * 255 / (h - 1)), UInt8((x + y) % 256))
        }
        let jpeg = try JPEGEncoder.encode(smooth, options: JPEGEncodeOptions(quality: 95))
        let full = try decoded(jpeg)
        let half = try decoded(jpeg, options: DecodeOptions(minimumSide: 150))  // 1/2: 240x160
        #expect(half.width == 240 && half.height == 160)
        // Compare with a 2x2 box average of the full decode: the scaled IDCT is a low-pass reduction.
        var total = 0
        for y in 0..<160 {
            for x in 0..<240 {
                for c in 0..<3 {
                    var sum = 0
                    for dy in 0..<2 {
                        for dx in 0..<2 { sum += Int(full.pixels[((2 * y + dy) * w + 2 * x + dx) * 3 + c]) }
                    }
                    total += abs((sum + 2) / 4 - Int(half.pixels[(y * 240 + x) * 3 + c]))
                }
            }
        }
        let meanError = Double(total) / Double(240 * 160 * 3)
        #expect(meanError < 2.0, "mean difference from a box-averaged full decode: \(meanError)")
    }

    // MARK: PNG layouts

    @Test func pngLayoutsBecomeRGBAsPillowDoes() throws {
        let w = 5, h = 3
        func check(_ png: PNGImage, _ expected: (Int, Int) -> (UInt8, UInt8, UInt8), _ label: String) throws {
            let image = try decoded(try PNGEncoder.encode(png), label)
            #expect(image == Image(width: w, height: h) { x, y in expected(x, y) }, "\(label)")
        }
        // 16-bit RGB: each sample keeps its high byte.
        var rgb16 = [UInt8]()
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { rgb16 += [UInt8(x * 40 + c), UInt8(y * 20 + 200)] } } }
        try check(
            PNGImage(width: w, height: h, colorType: .rgb, bitDepth: 16, samples: rgb16),
            { x, _ in (UInt8(x * 40), UInt8(x * 40 + 1), UInt8(x * 40 + 2)) }, "rgb16")
        // 16-bit gray: high byte (Pillow would clip its I;16 mode instead; see docs/imaging.md).
        var gray16 = [UInt8]()
        for y in 0..<h { for x in 0..<w { gray16 += [UInt8(x * 50 + y), 0x80] } }
        try check(
            PNGImage(width: w, height: h, colorType: .gray, bitDepth: 16, samples: gray16),
            { x, y in
                let v = UInt8(x * 50 + y); return (v, v, v)
            }, "gray16")
        // Gray + alpha: gray replicated, alpha dropped (no compositing).
        var grayAlpha = [UInt8]()
        for y in 0..<h { for x in 0..<w { grayAlpha += [UInt8(x * 60), UInt8(y * 100)] } }
        try check(
            PNGImage(width: w, height: h, colorType: .grayAlpha, bitDepth: 8, samples: grayAlpha),
            { x, _ in
                let v = UInt8(x * 60); return (v, v, v)
            }, "gray+alpha")
        // RGBA with fully transparent pixels: colours kept as stored.
        var rgba = [UInt8]()
        for _ in 0..<h { for x in 0..<w { rgba += [UInt8(x), 200, UInt8(255 - x), 0] } }
        try check(
            PNGImage(width: w, height: h, colorType: .rgba, bitDepth: 8, samples: rgba),
            { x, _ in (UInt8(x), 200, UInt8(255 - x)) }, "rgba")
        // 2-bit palette with tRNS: palette colours, transparency ignored.
        let palette: [UInt8] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 255, 0, 0]
        var indices = [UInt8]()
        for y in 0..<h {
            var packed = [UInt8](repeating: 0, count: 2)  // 5 pixels x 2 bits
            for x in 0..<w { packed[x / 4] |= UInt8((x + y) % 4) << UInt8(6 - 2 * (x % 4)) }
            indices += packed
        }
        try check(
            PNGImage(
                width: w, height: h, colorType: .palette, bitDepth: 2, samples: indices, palette: palette,
                paletteAlpha: [0, 128]),
            { x, y in
                let i = (x + y) % 4; return (palette[3 * i], palette[3 * i + 1], palette[3 * i + 2])
            }, "palette")
        // 1-bit gray: 0 and 255.
        let bits: [UInt8] = (0..<h).map { y in y % 2 == 0 ? 0b1010_1000 : 0b0101_0000 }
        try check(
            PNGImage(width: w, height: h, colorType: .gray, bitDepth: 1, samples: bits),
            { x, y in
                let v: UInt8 = (x + y) % 2 == 0 ? 255 : 0; return (v, v, v)
            }, "1-bit")
        // Interlaced (Adam7) RGB.
        let image = patternImage(width: 13, height: 11, seed: 9)
        let interlaced = PNGImage(
            width: 13, height: 11, colorType: .rgb, bitDepth: 8, samples: image.pixels, interlaced: true)
        #expect(try decoded(try PNGEncoder.encode(interlaced)) == image)
    }

    // MARK: EXIF orientation

    /// The upright image by the EXIF definition of each value: where the stored 0th row and 0th column
    /// end up (1 top/left, 2 top/right, 3 bottom/right, 4 bottom/left, 5 left/top, 6 right/top,
    /// 7 right/bottom, 8 left/bottom). Independent of the decoder's transform code.
    static func upright(_ stored: Image, _ orientation: Int) -> Image {
        let w = stored.width, h = stored.height
        let swapped = orientation >= 5
        var out = [UInt8](repeating: 0, count: w * h * 3)
        let outWidth = swapped ? h : w
        for r in 0..<h {
            for c in 0..<w {
                let (x, y): (Int, Int)
                switch orientation {
                case 1: (x, y) = (c, r)
                case 2: (x, y) = (w - 1 - c, r)
                case 3: (x, y) = (w - 1 - c, h - 1 - r)
                case 4: (x, y) = (c, h - 1 - r)
                case 5: (x, y) = (r, c)
                case 6: (x, y) = (h - 1 - r, c)
                case 7: (x, y) = (h - 1 - r, w - 1 - c)
                default: (x, y) = (r, w - 1 - c)
                }
                for ch in 0..<3 { out[(y * outWidth + x) * 3 + ch] = stored.pixels[(r * w + c) * 3 + ch] }
            }
        }
        return Image(width: outWidth, height: swapped ? w : h, pixels: out)
    }

    /// An EXIF TIFF block with one IFD entry, orientation `value`, in either byte order.
    static func tiff(orientation value: Int, bigEndian: Bool, type: Int = 3, ifdOffset: Int = 8) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] {
            bigEndian ? [UInt8(v >> 8), UInt8(v & 255)] : [UInt8(v & 255), UInt8(v >> 8)]
        }
        func u32(_ v: Int) -> [UInt8] { bigEndian ? u16(v >> 16) + u16(v & 0xFFFF) : u16(v & 0xFFFF) + u16(v >> 16) }
        let value = type == 3 ? u16(value) + [0, 0] : u32(value)
        return (bigEndian ? Array("MM".utf8) : Array("II".utf8)) + u16(42) + u32(ifdOffset)
            + u16(1) + u16(0x0112) + u16(type) + u32(1) + value + u32(0)
    }

    static func withAPP1(_ jpeg: [UInt8], _ tiff: [UInt8]) -> [UInt8] {
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        return [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 255)] + payload + jpeg[2...]
    }

    @Test(arguments: 1...8)
    func jpegOrientationIsApplied(orientation: Int) throws {
        let jpeg = try JPEGEncoder.encode(
            patternImage(width: 12, height: 7, seed: 10),
            options: JPEGEncodeOptions(quality: 95, subsampling: .s444))
        let stored = try decoded(jpeg, options: DecodeOptions(applyOrientation: false))
        for bigEndian in [false, true] {
            for type in [3, 4] {
                let tagged = Self.withAPP1(jpeg, Self.tiff(orientation: orientation, bigEndian: bigEndian, type: type))
                #expect(
                    try decoded(tagged) == Self.upright(stored, orientation),
                    "orientation \(orientation), big-endian \(bigEndian), type \(type)")
                #expect(try decoded(tagged, options: DecodeOptions(applyOrientation: false)) == stored)
            }
        }
    }

    @Test func malformedEXIFIsIgnored() throws {
        let jpeg = try JPEGEncoder.encode(patternImage(width: 12, height: 7, seed: 11))
        let plain = try decoded(jpeg)
        for broken in [
            Self.tiff(orientation: 6, bigEndian: false, ifdOffset: 4000),  // IFD beyond the block
            Self.tiff(orientation: 9, bigEndian: true),  // not an orientation
            Array(Self.tiff(orientation: 6, bigEndian: false).prefix(15)),  // cut inside the entry
            Array("XX".utf8) + [42, 0, 8, 0, 0, 0],
        ] {  // unknown byte order
            #expect(try decoded(Self.withAPP1(jpeg, broken)) == plain)
        }
    }

    @Test func webpEXIFOrientationIsApplied() throws {
        let image = patternImage(width: 6, height: 4, seed: 12)
        let still = try WebPEncoder.encode(image, lossless: true)
        let tagged = WebPContainer.extended(
            still, width: 6, height: 4, exif: Self.tiff(orientation: 6, bigEndian: false))
        #expect(try decoded(tagged) == Self.upright(image, 6))
        #expect(try decoded(tagged, options: DecodeOptions(applyOrientation: false)) == image)
    }

    // MARK: Encoders

    @Test func jpegEncoderRejectsBadQualityAndRoundTrips() throws {
        let image = patternImage(width: 64, height: 48, seed: 13)
        #expect(throws: ImagingError.self) { try JPEGEncoder.encode(image, options: JPEGEncodeOptions(quality: 0)) }
        let back = try decoded(
            try JPEGEncoder.encode(image, options: JPEGEncodeOptions(quality: 95, subsampling: .s444)))
        var total = 0
        for i in image.pixels.indices { total += abs(Int(image.pixels[i]) - Int(back.pixels[i])) }
        #expect(Double(total) / Double(image.pixels.count) < 4, "quality 95 should be close to the original")
    }
}

/// Hand-built WebP containers (RIFF chunks) for cases the simple encoder API does not produce.
enum WebPContainer {
    static func chunk(_ fourcc: String, _ data: [UInt8]) -> [UInt8] {
        let size = data.count
        var out =
            Array(fourcc.utf8) + [
                UInt8(size & 255), UInt8((size >> 8) & 255), UInt8((size >> 16) & 255), UInt8(size >> 24),
            ] + data
        if size % 2 == 1 { out.append(0) }
        return out
    }

    static func riff(_ chunks: [UInt8]) -> [UInt8] {
        let size = chunks.count + 4
        return Array("RIFF".utf8) + [
            UInt8(size & 255), UInt8((size >> 8) & 255), UInt8((size >> 16) & 255), UInt8(size >> 24),
        ]
            + Array("WEBP".utf8) + chunks
    }

    /// The image chunk (VP8 or VP8L with its header) of a simple-format WebP.
    static func imageChunk(_ simple: [UInt8]) -> [UInt8] { Array(simple[12...]) }

    static func vp8x(flags: UInt8, width: Int, height: Int) -> [UInt8] {
        let w = width - 1, h = height - 1
        return chunk(
            "VP8X",
            [
                flags, 0, 0, 0, UInt8(w & 255), UInt8((w >> 8) & 255), UInt8(w >> 16),
                UInt8(h & 255), UInt8((h >> 8) & 255), UInt8(h >> 16),
            ])
    }

    /// An extended-format still image with an EXIF chunk.
    static func extended(_ simple: [UInt8], width: Int, height: Int, exif: [UInt8]) -> [UInt8] {
        riff(vp8x(flags: 0x08, width: width, height: height) + imageChunk(simple) + chunk("EXIF", exif))
    }

    /// A one-frame animation (VP8X animation flag, ANIM, ANMF) around a still image's bitstream.
    static func animated(frameFrom simple: [UInt8], width: Int, height: Int) -> [UInt8] {
        let anim = chunk("ANIM", [0, 0, 0, 0, 0, 0])
        let w = width - 1, h = height - 1
        let frameHeader: [UInt8] = [
            0, 0, 0, 0, 0, 0, UInt8(w & 255), UInt8((w >> 8) & 255), UInt8(w >> 16),
            UInt8(h & 255), UInt8((h >> 8) & 255), UInt8(h >> 16), 100, 0, 0, 0,
        ]
        return riff(
            vp8x(flags: 0x02, width: width, height: height) + anim + chunk("ANMF", frameHeader + imageChunk(simple)))
    }
}
