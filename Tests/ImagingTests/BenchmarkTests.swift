import Testing

@testable import Imaging

@Suite struct BenchmarkTests {
    /// The benchmark's inputs go through the real paths (an MJPEG frame without Huffman tables, a YUYV frame,
    /// a large JPEG) without error, and its statistics are consistent; timings themselves are not asserted
    /// (shared machines).
    @Test func runsEveryCaseWithConsistentStatistics() throws {
        let cases = try ImagingBenchmark.run(iterations: 3, warmup: 0)
        #expect(cases.count == 3 && Set(cases.map(\.name)).count == 3)
        for c in cases {
            #expect(
                c.iterations == 3 && c.minimumMilliseconds > 0 && c.minimumMilliseconds <= c.medianMilliseconds, "\(c)")
        }
    }

    /// The YUYV frame the benchmark converts shows its scene: converted back to RGB it differs from the scene
    /// only by 4:2:2 chroma sharing and rounding (measured: a mean of 0.8 levels; allowed: 3).
    @Test func theYUYVFrameShowsTheScene() throws {
        let scene = ImagingBenchmark.syntheticScene(width: 64, height: 48)
        let frame = CameraFrame(format: .yuyv, width: 64, height: 48, bytes: ImagingBenchmark.yuyvFrame(from: scene))
        let back = try frame.image()
        let total = zip(back.pixels, scene.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        let mean = Double(total) / Double(scene.pixels.count)
        #expect(mean < 3, "mean absolute difference \(mean)")
    }
}
