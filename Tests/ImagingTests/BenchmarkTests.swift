import Imaging
import Testing

@Suite struct BenchmarkTests {
    /// The benchmark's synthetic inputs go through the real paths (an MJPEG frame without Huffman tables,
    /// a YUYV frame, a large JPEG) without error; timings themselves are not asserted (shared machines).
    @Test func runsEveryCase() throws {
        let cases = try ImagingBenchmark.run(iterations: 1, warmup: 0)
        #expect(cases.map(\.name) == ["MJPEG 640x480 frame -> input", "YUYV 640x480 frame -> input", "JPEG 2000x2000 photo -> input"])
        #expect(cases.map(\.targetMilliseconds) == [5, 2, 30])
        for c in cases {
            #expect(c.iterations == 1 && c.medianMilliseconds > 0 && c.minimumMilliseconds == c.medianMilliseconds)
        }
    }
}
