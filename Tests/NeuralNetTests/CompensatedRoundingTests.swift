import COpenBLAS
import NeuralNet
import Support
import TestSupport
import Testing

@Suite struct CompensatedRoundingTests {
    /// Bytes of a `[height][width][channels]` map that look like ReLU outputs of a photo: smooth in space,
    /// correlated across channels, a third of them zero.
    static func correlatedBytes(seed: UInt64, height: Int, width: Int, channels: Int) -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        let phases = (0..<channels).map { _ in rng.uniform(0, 6.28) }
        let mixes = (0..<channels).map { _ in rng.uniform(0.2, 1.5) }
        var out = [UInt8](repeating: 0, count: height * width * channels)
        for y in 0..<height {
            for x in 0..<width {
                let base = sin(Double(x) / 3) + cos(Double(y) / 4)
                for c in 0..<channels {
                    let v = 60 * (mixes[c] * base + sin(Double(x + y) / 5 + phases[c])) + rng.uniform(-8, 8)
                    out[(y * width + x) * channels + c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        return out
    }

    static func randomKernel(seed: UInt64, rows: Int, cout: Int) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<(rows * cout)).map { _ in Float(rng.uniform(-0.05, 0.05)) }
    }

    /// `trace(D^T H D)` for the kernel error `D = w - scale * byte`: the mean squared output error.
    static func outputError(_ w: [Float], _ q: QuantizedConvWeights, hessian h: [Double]) -> Double {
        let (rows, cout) = (9 * q.cin, q.cout)
        var total = 0.0
        for c in 0..<cout {
            let d = (0..<rows).map { Double(w[$0 * cout + c]) - Double(q.scales[c]) * Double(q.kernel[$0 * cout + c]) }
            for i in 0..<rows {
                var row = 0.0
                for j in 0..<rows { row += h[i * rows + j] * d[j] }
                total += d[i] * row
            }
        }
        return total
    }

    @Test func inverseCholeskyFactorInvertsTheMatrix() {
        // A = B B^T + n I is symmetric positive definite.
        let n = 37
        var rng = SeededRandom(seed: 5)
        let b = (0..<(n * n)).map { _ in rng.uniform(-1, 1) }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                a[i * n + j] = (0..<n).reduce(i == j ? Double(n) : 0) { $0 + b[i * n + $1] * b[j * n + $1] }
            }
        }
        var u = a
        #expect(dd_inverse_cholesky_upper(&u, Int32(n)) == 0)
        var worst = 0.0
        for i in 0..<n {
            for j in 0..<i { #expect(u[i * n + j] == 0) }
            for j in 0..<n {
                // (U^T U A)[i][j] must be the identity.
                var value = 0.0
                for k in 0..<n {
                    var utu = 0.0
                    for m in 0...min(i, k) { utu += u[m * n + i] * u[m * n + k] }
                    value += utu * a[k * n + j]
                }
                worst = max(worst, abs(value - (i == j ? 1 : 0)))
            }
        }
        #expect(worst < 1e-10)
        var singular = [Double](repeating: 1, count: 4)  // [[1, 1], [1, 1]]
        #expect(dd_inverse_cholesky_upper(&singular, 2) != 0)
    }

    /// The sum of `x x^T` over every 3x3 window (zero padded, tap-major) of one `[h][w][c]` image, directly.
    static func windowProducts(_ bytes: [UInt8], h: Int, w: Int, c: Int) -> [Double] {
        let rows = 9 * c
        var sums = [Double](repeating: 0, count: rows * rows)
        for y in 0..<h {
            for x in 0..<w {
                var window = [Double](repeating: 0, count: rows)
                for tap in 0..<9 {
                    let (sy, sx) = (y + tap / 3 - 1, x + tap % 3 - 1)
                    guard sy >= 0, sy < h, sx >= 0, sx < w else { continue }
                    for i in 0..<c { window[tap * c + i] = Double(bytes[(sy * w + sx) * c + i]) }
                }
                for i in 0..<rows { for j in 0..<rows { sums[i * rows + j] += window[i] * window[j] } }
            }
        }
        return sums
    }

    /// The largest `|a - b| / max(1, |b|)` over two matrices.
    static func largestRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1) / max(1, abs($1.1))) }
    }

    @Test func hessianIsTheMeanOfTheWindowsOuterProducts() {
        let (h, w, c) = (5, 4, 2)
        let bytes = Self.correlatedBytes(seed: 1, height: h, width: w, channels: c)
        var hessian = LayerInputHessian(channels: c)
        bytes.withUnsafeBufferPointer {
            hessian.add($0.baseAddress!, shape: ActivationShape(batch: 1, height: h, width: w, channels: c))
        }
        #expect(hessian.windows == h * w)
        let expected = Self.windowProducts(bytes, h: h, w: w, c: c).map { $0 / Double(h * w) }
        #expect(Self.largestRelativeDifference(hessian.matrix, expected) <= 1e-6)
    }

    /// Images of different sizes, one `add` each: the scratch the windows and products reuse carries nothing
    /// from one image to the next (a smaller image after a larger one leaves stale windows behind it).
    @Test func hessianAddsImagesOfDifferentSizes() {
        let c = 3
        let large = Self.correlatedBytes(seed: 2, height: 6, width: 5, channels: c)
        let small = Self.correlatedBytes(seed: 3, height: 3, width: 2, channels: c)
        var hessian = LayerInputHessian(channels: c)
        for (bytes, h, w) in [(large, 6, 5), (small, 3, 2)] {
            bytes.withUnsafeBufferPointer {
                hessian.add($0.baseAddress!, shape: ActivationShape(batch: 1, height: h, width: w, channels: c))
            }
        }
        #expect(hessian.windows == 36)
        let expected = zip(
            Self.windowProducts(large, h: 6, w: 5, c: c), Self.windowProducts(small, h: 3, w: 2, c: c)
        ).map { ($0 + $1) / 36 }
        #expect(Self.largestRelativeDifference(hessian.matrix, expected) <= 1e-6)
    }

    @Test func largeMapsAreSampledEvenly() {
        let (h, w, c) = (64, 48, 1)  // 3072 pixels: every third one, from a different start on each image
        let bytes = [UInt8](repeating: 7, count: 2 * h * w * c)
        var hessian = LayerInputHessian(channels: c)
        bytes.withUnsafeBufferPointer {
            hessian.add($0.baseAddress!, shape: ActivationShape(batch: 2, height: h, width: w, channels: c))
        }
        #expect(hessian.windows == 2 * LayerInputHessian.windowsPerImage)
        // The centre tap never reads padding: its mean square is exactly 49.
        #expect(abs(hessian.matrix[4 * 9 + 4] - 49) < 1e-9)
    }

    @Test func uncorrelatedInputsGiveTheNearestBytes() throws {
        // A diagonal H passes no error from one row to another: the result is round-to-nearest exactly.
        let (cin, cout) = (3, 8)
        let rows = 9 * cin
        let w = Self.randomKernel(seed: 2, rows: rows, cout: cout)
        var h = [Double](repeating: 0, count: rows * rows)
        for i in 0..<rows { h[i * rows + i] = Double(i % 4) }  // a quarter of the inputs always zero
        let nearest = QuantizedConvWeights(hwio: w, cin: cin, cout: cout)
        let bytes = try #require(
            CompensatedRounding.round(hwio: w, cin: cin, cout: cout, scales: nearest.scales.pointer, hessian: h))
        #expect(bytes == Array(UnsafeBufferPointer(start: nearest.kernel, count: rows * cout)))
    }

    @Test(arguments: [UInt64(3), 4, 5])
    func correlatedInputsLoseLessOutput(seed: UInt64) throws {
        let (cin, cout) = (6, 16)
        let rows = 9 * cin
        let bytes = Self.correlatedBytes(seed: seed, height: 24, width: 20, channels: cin)
        var hessian = LayerInputHessian(channels: cin)
        bytes.withUnsafeBufferPointer {
            hessian.add($0.baseAddress!, shape: ActivationShape(batch: 1, height: 24, width: 20, channels: cin))
        }
        let h = hessian.matrix
        let w = Self.randomKernel(seed: seed + 10, rows: rows, cout: cout)
        let nearest = QuantizedConvWeights(hwio: w, cin: cin, cout: cout)
        let rounded = try #require(
            CompensatedRounding.round(hwio: w, cin: cin, cout: cout, scales: nearest.scales.pointer, hessian: h))
        #expect(!rounded.contains(-128))
        let compensated = QuantizedConvWeights(hwio: w, cin: cin, cout: cout, rounded: rounded)
        #expect(Array(compensated.scaleBytes) == Array(nearest.scaleBytes))
        let (before, after) = (Self.outputError(w, nearest, hessian: h), Self.outputError(w, compensated, hessian: h))
        // Measured 0.2-0.4x; rounding to nearest is one of the candidates the greedy walk improves on.
        #expect(after < 0.6 * before, "output error \(after) against \(before) rounded to nearest")
        #expect((0..<(rows * cout)).contains { rounded[$0] != nearest.kernel[$0] })
    }
}
