import Support

/// Measures the three preprocessing paths the daemon and the trainer run, on synthetic inputs it makes
/// itself: a 640x480 webcam MJPEG frame (4:2:2, standard Huffman tables omitted, as UVC cameras send
/// them), a 640x480 YUYV frame, and a 2000x2000 JPEG photo (4:2:0, quality 90). Each case runs the full
/// path to a centred input: convert/decode, resize, centre.
public enum ImagingBenchmark {
    /// The timing of one path.
    public struct Case: Sendable, Equatable {
        /// What was measured.
        public var name: String
        /// Median wall-clock milliseconds per input.
        public var medianMilliseconds: Double
        /// Fastest run, milliseconds.
        public var minimumMilliseconds: Double
        /// Timed iterations.
        public var iterations: Int
        /// The latency this path should stay under on the reference board, milliseconds.
        public var targetMilliseconds: Double
    }

    /// Runs every case `warmup` untimed then `iterations` timed times with `preprocessor` (its decode
    /// options decide the JPEG DCT scaling).
    public static func run(
        iterations: Int = 50, warmup: Int = 3, preprocessor: Preprocessor = Preprocessor()
    ) throws(ImagingError) -> [Case] {
        precondition(iterations > 0 && warmup >= 0, "iterations must be positive")
        let frameWidth = 640, frameHeight = 480
        let scene = syntheticScene(width: frameWidth, height: frameHeight)
        let mjpeg = MJPEG.removingHuffmanTables(
            try JPEGEncoder.encode(scene, options: JPEGEncodeOptions(quality: 80, subsampling: .s422)))
        let yuyv = yuyvFrame(from: scene)
        let photo = try JPEGEncoder.encode(
            syntheticScene(width: 2000, height: 2000), options: JPEGEncodeOptions(quality: 90, subsampling: .s420))
        let output = UnsafeMutablePointer<Float>.allocate(capacity: preprocessor.valueCount)
        defer { output.deallocate() }
        let options = preprocessor.decodeOptions

        let mjpegFrame = CameraFrame(format: .mjpeg, width: frameWidth, height: frameHeight, bytes: mjpeg)
        let yuyvFrame = CameraFrame(format: .yuyv, width: frameWidth, height: frameHeight, bytes: yuyv)
        return [
            try measure("MJPEG 640x480 frame -> input", target: 5, iterations: iterations, warmup: warmup) {
                () throws(ImagingError) in
                preprocessor.write(try mjpegFrame.image(options: options), into: output)
            },
            try measure("YUYV 640x480 frame -> input", target: 2, iterations: iterations, warmup: warmup) {
                () throws(ImagingError) in
                preprocessor.write(try yuyvFrame.image(options: options), into: output)
            },
            try measure("JPEG 2000x2000 photo -> input", target: 30, iterations: iterations, warmup: warmup) {
                () throws(ImagingError) in
                preprocessor.write(
                    try ImageDecoder.decode(photo, source: "benchmark photo", options: options), into: output)
            },
        ]
    }

    private static func measure(
        _ name: String, target: Double, iterations: Int, warmup: Int,
        _ body: () throws(ImagingError) -> Void
    ) throws(ImagingError) -> Case {
        for _ in 0..<warmup { try body() }
        var times: [Double] = []
        times.reserveCapacity(iterations)
        for _ in 0..<iterations {
            let start = MonotonicClock.now()
            try body()
            times.append((MonotonicClock.now() - start) * 1000)
        }
        times.sort()
        let median =
            times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        return Case(
            name: name, medianMilliseconds: median, minimumMilliseconds: times[0], iterations: iterations,
            targetMilliseconds: target)
    }

    /// A camera-like test scene: smooth lighting gradients, a few hard-edged shapes, and mild sensor noise,
    /// so that JPEG sizes and decode work resemble real frames.
    static func syntheticScene(width: Int, height: Int) -> Image {
        var random = SeededRandom(seed: 0x5EED)
        let noise = (0..<4096).map { _ in Int(random.nextInt(below: 9)) - 4 }
        return Image(width: width, height: height) { x, y in
            var r = 60 + 120 * x / width + 40 * y / height
            var g = 80 + 100 * y / height
            var b = 150 - 90 * x / width
            let dx = x - width / 2, dy = y - height * 3 / 5
            if dx * dx + 2 * dy * dy < (width / 5) * (width / 5) { (r, g, b) = (140, 100, 60) }  // a "dog"
            if (x / (width / 8) + y / (height / 6)) % 5 == 0 { r += 50; g += 50; b += 50 }  // tiles
            let n = noise[(x &* 31 &+ y &* 17) & 4095]
            func clamp(_ v: Int) -> UInt8 { UInt8(min(max(v + n, 0), 255)) }
            return (clamp(r), clamp(g), clamp(b))
        }
    }

    /// The YUYV (BT.601 limited range) encoding of an image with an even width.
    static func yuyvFrame(from image: Image) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: image.width * image.height * 2)
        func luma(_ p: (r: UInt8, g: UInt8, b: UInt8)) -> Int {
            (66 * Int(p.r) + 129 * Int(p.g) + 25 * Int(p.b) + 128) >> 8 + 16
        }
        for y in 0..<image.height {
            for x in stride(from: 0, to: image.width, by: 2) {
                let p0 = image.pixel(x: x, y: y), p1 = image.pixel(x: x + 1, y: y)
                let r = (Int(p0.r) + Int(p1.r)) / 2, g = (Int(p0.g) + Int(p1.g)) / 2, b = (Int(p0.b) + Int(p1.b)) / 2
                let u = (-38 * r - 74 * g + 112 * b + 128) >> 8 + 128
                let v = (112 * r - 94 * g - 18 * b + 128) >> 8 + 128
                let o = (y * image.width + x) * 2
                out[o] = UInt8(luma(p0)); out[o + 1] = UInt8(u); out[o + 2] = UInt8(luma(p1)); out[o + 3] = UInt8(v)
            }
        }
        return out
    }
}

extension MJPEG {
    /// The frame without its DHT segments, as many UVC webcams send frames (for tests and benchmarks).
    public static func removingHuffmanTables(_ jpeg: [UInt8]) -> [UInt8] {
        jpeg.withUnsafeBytes { bytes in
            let markers = JPEGMarkers(bytes)
            guard markers.scanStart != nil else { return jpeg }
            var out = [UInt8]()
            out.reserveCapacity(jpeg.count)
            var copied = 0
            for segment in markers.segments where segment.marker == 0xC4 {
                out.append(contentsOf: jpeg[copied..<segment.start])
                copied = segment.payload.upperBound
            }
            out.append(contentsOf: jpeg[copied...])
            return out
        }
    }
}
