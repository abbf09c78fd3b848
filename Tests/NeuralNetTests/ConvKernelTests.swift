import CKernels
import NeuralNet
import Support
import Testing

/// Every algorithm against a naive float64 direct convolution on awkward shapes: 3 input channels,
/// odd sizes (partial Winograd tiles), channel counts that are not multiples of the 64-channel block,
/// batches above one, and several thread counts.
@Suite struct ConvKernelTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var batch, height, width, cin, cout: Int
        var testDescription: String { "\(batch)x\(height)x\(width)x\(cin)->\(cout)" }
    }

    static let cases: [Case] = [
        Case(batch: 1, height: 7, width: 9, cin: 3, cout: 5),
        Case(batch: 3, height: 5, width: 3, cin: 3, cout: 64),
        Case(batch: 2, height: 13, width: 11, cin: 17, cout: 7),
        Case(batch: 2, height: 10, width: 6, cin: 70, cout: 130),
        Case(batch: 1, height: 1, width: 1, cin: 8, cout: 4),
        Case(batch: 2, height: 12, width: 20, cin: 64, cout: 64),
    ]

    // Tolerances, relative to the largest output: float32 rounding of sums of up to 9*130 terms is ~1e-6;
    // F(4x4) multiplies it by up to ~10 (measured 2e-6 at 256 channels), so 2e-5 leaves margin everywhere
    // while an indexing error (a wrong tap or channel) shows up at 1e-1.
    static func tolerance(_ a: ConvAlgorithm) -> Double {
        a == .winograd4 || a == .winograd4Streamed ? 2e-5 : 2e-6
    }

    @Test(arguments: cases, ConvAlgorithm.allCases)
    func matchesDirectConvolution(_ c: Case, algorithm: ConvAlgorithm) {
        var rng = SeededRandom(seed: UInt64(c.height * 1000 + c.cin))
        let input = randomFloats(c.batch * c.height * c.width * c.cin, &rng, nonNegative: true)
        let kernel = randomFloats(9 * c.cin * c.cout, &rng, scale: (3.0 / Double(9 * c.cin)).squareRoot())
        let bias = randomFloats(c.cout, &rng, scale: 0.1)
        let reference = referenceConv(
            input, batch: c.batch, height: c.height, width: c.width, cin: c.cin,
            kernel: kernel, bias: bias, cout: c.cout, relu: true)
        for threads in [1, 2, 3] {
            for chunking in [Chunking.inference, tinyChunks] {
                let conv = kernel.withUnsafeBufferPointer {
                    ConvKernel(hwio: $0.baseAddress!, cin: c.cin, cout: c.cout, algorithm: algorithm)
                }
                var output = [Float](repeating: .nan, count: reference.count)
                let shape = ActivationShape(batch: c.batch, height: c.height, width: c.width, channels: c.cin)
                input.withUnsafeBufferPointer { inp in
                    bias.withUnsafeBufferPointer { b in
                        output.withUnsafeMutableBufferPointer { out in
                            conv.forward(
                                inp.baseAddress!, shape: shape, bias: b.baseAddress!, relu: true,
                                output: out.baseAddress!, pooled: nil,
                                workspace: Workspace(threads: ComputeThreads(threads), chunking: chunking))
                        }
                    }
                }
                let error = relativeMaxError(output, reference)
                #expect(error <= Self.tolerance(algorithm), "threads \(threads), \(chunking): error \(error)")
            }
        }
    }

    @Test(arguments: ConvAlgorithm.allCases)
    func fusedPoolingEqualsSeparatePooling(_ algorithm: ConvAlgorithm) {
        let (batch, h, w, cin, cout) = (2, 14, 10, 16, 24)
        var rng = SeededRandom(seed: 7)
        let input = randomFloats(batch * h * w * cin, &rng)
        let kernel = randomFloats(9 * cin * cout, &rng, scale: 0.2)
        let bias = randomFloats(cout, &rng, scale: 0.1)
        let reference = referencePool(
            referenceConv(
                input, batch: batch, height: h, width: w, cin: cin, kernel: kernel,
                bias: bias, cout: cout, relu: true),
            batch: batch, height: h, width: w, channels: cout)
        let conv = kernel.withUnsafeBufferPointer {
            ConvKernel(hwio: $0.baseAddress!, cin: cin, cout: cout, algorithm: algorithm)
        }
        var full = [Float](repeating: .nan, count: batch * h * w * cout)
        var pooled = [Float](repeating: .nan, count: reference.count)
        var pooledOnly = [Float](repeating: .nan, count: reference.count)
        let shape = ActivationShape(batch: batch, height: h, width: w, channels: cin)
        let workspace = Workspace(threads: ComputeThreads(2))
        input.withUnsafeBufferPointer { inp in
            bias.withUnsafeBufferPointer { b in
                full.withUnsafeMutableBufferPointer { f in
                    pooled.withUnsafeMutableBufferPointer { p in
                        conv.forward(
                            inp.baseAddress!, shape: shape, bias: b.baseAddress!, relu: true,
                            output: f.baseAddress!, pooled: p.baseAddress!, workspace: workspace)
                    }
                }
                pooledOnly.withUnsafeMutableBufferPointer { p in
                    conv.forward(
                        inp.baseAddress!, shape: shape, bias: b.baseAddress!, relu: true,
                        output: nil, pooled: p.baseAddress!, workspace: workspace)
                }
            }
        }
        #expect(relativeMaxError(pooled, reference) <= Self.tolerance(algorithm))
        #expect(pooled == pooledOnly, "pooling must not depend on whether the full output is kept")
        #expect(!full.contains { $0.isNaN })
    }

    /// One Winograd point of the streamed weight transform, for a range of output channels, equals that slice
    /// of the whole transform (which evaluates G g G^T in two separable passes, in double; the point form sums
    /// the 9 taps with float coefficients, so the two agree to a few float32 rounding steps, while a wrong
    /// coefficient or tap would be off by whole weights).
    @Test(arguments: [2, 4])
    func streamedWeightPointsEqualTheWholeTransform(m: Int) {
        let (cin, cout) = (5, 70)
        let alpha2 = (m + 2) * (m + 2)
        var rng = SeededRandom(seed: UInt64(m))
        let hwio = randomFloats(9 * cin * cout, &rng)
        var whole = [Float](repeating: .nan, count: alpha2 * cin * cout)
        dd_wino_transform_weights(Int32(m), hwio, Int32(cin), Int32(cout), &whole)
        let scale = Double(whole.map { abs($0) }.max()!)
        for (c0, c1) in [(0, 64), (3, 70), (69, 70)] {
            var point = [Float](repeating: .nan, count: cin * (c1 - c0))
            for xi in 0..<alpha2 {
                dd_wino_weight_point(Int32(m), hwio, Int32(cin), Int32(cout), Int32(xi), Int32(c0), Int32(c1), &point)
                var worst = 0.0
                for ci in 0..<cin {
                    for c in 0..<(c1 - c0) {
                        let expected = whole[(xi * cin + ci) * cout + c0 + c]
                        worst = max(worst, abs(Double(point[ci * (c1 - c0) + c] - expected)))
                    }
                }
                #expect(worst <= 1e-6 * scale, "F(\(m)) point \(xi), channels \(c0)..<\(c1): off by \(worst)")
            }
        }
    }

    /// Streamed Winograd against the same algorithm with transformed weights, through everything the
    /// epilogue does per channel block (bias, ReLU, the backward pass's mask, full and pooled outputs at once)
    /// and a row range, with chunks small enough to cut images and channel blocks that do not divide the
    /// channels.
    @Test(arguments: [(ConvAlgorithm.winograd2, ConvAlgorithm.winograd2Streamed), (.winograd4, .winograd4Streamed)])
    func streamedWeightsMatchTransformedWeights(transformed: ConvAlgorithm, streamed: ConvAlgorithm) {
        let (batch, h, w, cin, cout) = (2, 16, 10, 9, 130)
        var rng = SeededRandom(seed: 23)
        let input = randomFloats(batch * h * w * cin, &rng)
        let kernel = randomFloats(9 * cin * cout, &rng, scale: 0.3)
        let bias = randomFloats(cout, &rng, scale: 0.1)
        let mask = randomFloats(batch * h * w * cout, &rng)
        let shape = ActivationShape(batch: batch, height: h, width: w, channels: cin)
        func run(
            _ algorithm: ConvAlgorithm, threads: Int, chunking: Chunking
        ) -> (full: [Float], masked: [Float], pooled: [Float], rows: [Float]) {
            let conv = ConvKernel(hwio: kernel, cin: cin, cout: cout, algorithm: algorithm)
            let workspace = Workspace(threads: ComputeThreads(threads), chunking: chunking)
            var full = [Float](repeating: .nan, count: batch * h * w * cout)
            var masked = full
            var pooled = [Float](repeating: .nan, count: batch * (h / 2) * (w / 2) * cout)
            var rows = [Float](repeating: 0, count: h * w * cout)
            conv.forward(
                input, shape: shape, bias: bias, relu: true, output: &full, pooled: &pooled, workspace: workspace)
            conv.forward(
                input, shape: shape, bias: bias, relu: false, output: &masked, pooled: nil, workspace: workspace,
                mask: mask)
            let one = ActivationShape(batch: 1, height: h, width: w, channels: cin)
            conv.forward(
                input, shape: one, bias: nil, relu: false, output: &rows, pooled: nil, workspace: workspace,
                rows: 4..<9)
            return (full, masked, pooled, rows)
        }
        let expected = run(transformed, threads: 1, chunking: .inference)
        for threads in [1, 2, 3] {
            for chunking in [Chunking.inference, tinyChunks] {
                let got = run(streamed, threads: threads, chunking: chunking)
                let what = "threads \(threads), \(chunking)"
                #expect(
                    relativeMaxError(got.full, expected.full.map(Double.init)) <= Self.tolerance(streamed), "\(what)")
                #expect(
                    relativeMaxError(got.masked, expected.masked.map(Double.init)) <= Self.tolerance(streamed),
                    "\(what)")
                #expect(
                    relativeMaxError(got.pooled, expected.pooled.map(Double.init)) <= Self.tolerance(streamed),
                    "\(what)")
                #expect(
                    relativeMaxError(got.rows, expected.rows.map(Double.init)) <= Self.tolerance(streamed), "\(what)")
                #expect(got.rows[..<(4 * w * cout)].allSatisfy { $0 == 0 }, "rows above the range untouched")
                // Winograd computes whole tiles: rows 4..<9 are rows 4..<10 for F(2x2), 4..<12 for F(4x4).
                #expect(got.rows[(12 * w * cout)...].allSatisfy { $0 == 0 }, "rows below the range untouched")
                #expect(zip(got.masked, mask).allSatisfy { $1 > 0 || $0 == 0 }, "masked where the mask is not positive")
            }
        }
    }

    @Test func inputGradientKernelIsTheAdjoint() {
        // <conv(x), g> == <x, conv_T(g)> for the flipped, transposed kernel.
        let (h, w, cin, cout) = (6, 5, 4, 3)
        var rng = SeededRandom(seed: 11)
        let x = randomFloats(h * w * cin, &rng)
        let g = randomFloats(h * w * cout, &rng)
        let kernel = randomFloats(9 * cin * cout, &rng)
        let y = referenceConv(
            x, batch: 1, height: h, width: w, cin: cin, kernel: kernel, bias: .init(repeating: 0, count: cout),
            cout: cout, relu: false)
        let scratch = FloatBuffer(count: kernel.count)
        let back = kernel.withUnsafeBufferPointer {
            ConvKernel.inputGradient(
                ofHWIO: $0.baseAddress!, cin: cin, cout: cout, algorithm: .im2col, scratch: scratch)
        }
        var gx = [Float](repeating: 0, count: x.count)
        g.withUnsafeBufferPointer { gp in
            gx.withUnsafeMutableBufferPointer { out in
                back.forward(
                    gp.baseAddress!, shape: ActivationShape(batch: 1, height: h, width: w, channels: cout),
                    bias: nil, relu: false, output: out.baseAddress!, pooled: nil,
                    workspace: Workspace(threads: ComputeThreads(1)))
            }
        }
        let lhs = zip(y, g).reduce(0.0) { $0 + $1.0 * Double($1.1) }
        let rhs = zip(x, gx).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(lhs - rhs) <= 1e-5 * max(1, abs(lhs)))
    }

    @Test func vgg16HasTheKerasParameterCountAndFlops() {
        #expect(VGG16.baseParameterCount == 14_714_688)
        #expect(abs(VGG16.flopsPerImage / 1e9 - 30.69) < 0.01)
        #expect(VGG16.convLayers.count == 13)
        #expect(
            VGG16.convLayers.filter(\.poolAfter).map(\.name) == [
                "block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3",
            ])
    }
}
