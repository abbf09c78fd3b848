import COpenBLAS

/// The second moments of one int8 layer's inputs over calibration images: `H = mean of x x^T` over the
/// layer's 3x3 input windows `x` (`[9 * cin]`, tap-major as the HWIO kernel's rows, zero padding included), in
/// bytes (the activation scale only scales `H`, which the rounding does not see).
///
/// It is what the output error of rounded weights depends on: for a kernel error `D` (`[9 * cin][cout]`), the
/// mean squared output error over these inputs is the trace of `D^T H D`.
public struct LayerInputHessian: Sendable {
    /// Windows taken from each image at most, evenly spaced over its pixels (with a starting offset that
    /// moves from image to image): 1024 x 64 calibration images are at least 14x as many windows as the
    /// largest layer has inputs (4608), enough for `H` to be well conditioned.
    public static let windowsPerImage = 1024

    public let rows: Int
    private let channels: Int
    /// Upper triangle of the sum of `x x^T` (the rest is not kept up to date).
    private var sums: [Double]
    public private(set) var windows = 0
    private var images = 0
    /// One image's windows (`[windowsPerImage][rows]`) and their products (`[rows][rows]`), reused from image to
    /// image: for block 5 they are 19 MB and 85 MB, too much to allocate and clear for every photo.
    private var windowScratch: [Float]
    private var productScratch: [Float]

    public init(channels: Int) {
        self.channels = channels
        rows = 9 * channels
        sums = [Double](repeating: 0, count: rows * rows)
        windowScratch = [Float](repeating: 0, count: Self.windowsPerImage * rows)
        productScratch = [Float](repeating: 0, count: rows * rows)
    }

    /// Adds the windows of every image of `input` (`[batch][height][width][channels]` bytes).
    public mutating func add(_ input: UnsafePointer<UInt8>, shape: ActivationShape) {
        precondition(shape.channels == channels, "input has \(shape.channels) channels, expected \(channels)")
        let (h, w, c, k) = (shape.height, shape.width, channels, rows)
        let pixels = h * w
        let stride = (pixels + Self.windowsPerImage - 1) / Self.windowsPerImage
        for n in 0..<shape.batch {
            let image = input + n * shape.imageFloats
            var m = 0
            var p = images % stride
            windowScratch.withUnsafeMutableBufferPointer { a in
                while p < pixels {
                    let (y, x) = (p / w, p % w)
                    let row = a.baseAddress! + m * k
                    for tap in 0..<9 {
                        let (sy, sx) = (y + tap / 3 - 1, x + tap % 3 - 1)
                        let out = row + tap * c
                        if sy < 0 || sy >= h || sx < 0 || sx >= w {
                            out.update(repeating: 0, count: c)
                        } else {
                            let source = image + (sy * w + sx) * c
                            for i in 0..<c { out[i] = Float(source[i]) }
                        }
                    }
                    m += 1
                    p += stride
                }
                // Per image in float: bytes are exact, and a sum of at most 1024 products below 2^16 keeps a
                // relative error near 1e-7 before it joins the double total. beta 0: the upper triangle is
                // overwritten, whatever the previous image left there.
                productScratch.withUnsafeMutableBufferPointer { product in
                    cblas_ssyrk(
                        CblasRowMajor, CblasUpper, CblasTrans, Int32(k), Int32(m), 1, a.baseAddress!, Int32(k), 0,
                        product.baseAddress!, Int32(k))
                }
            }
            productScratch.withUnsafeBufferPointer { product in
                for i in 0..<k {
                    for j in i..<k { sums[i * k + j] += Double(product[i * k + j]) }
                }
            }
            windows += m
            images += 1
        }
    }

    /// `H`, `[rows][rows]` row-major, both triangles.
    public var matrix: [Double] {
        precondition(windows > 0, "no windows added")
        var h = sums
        let scale = 1 / Double(windows)
        for i in 0..<rows {
            for j in i..<rows {
                h[i * rows + j] *= scale
                h[j * rows + i] = h[i * rows + j]
            }
        }
        return h
    }
}

/// Rounds a layer's weights to int8 one input row at a time, moving each row's rounding error onto the rows
/// not yet rounded in the way that least changes the layer's outputs on the calibration inputs (the optimal
/// brain surgeon update that GPTQ applies column by column; Frantar et al. 2022). Round-to-nearest minimises
/// each weight's error; this minimises the output error `trace(D^T H D)` greedily, so errors that inputs
/// correlated with each other can cancel do cancel.
///
/// Measured on validation photos (AMD EPYC; docs/performance.md): the spread of the int8 logits around the float
/// ones fell from 0.062 to 0.054 (tutorial model) and from 0.054 to 0.038 (samples model).
public enum CompensatedRounding {
    /// Added to `H`'s diagonal, relative to its mean diagonal, before inverting. GPTQ's 1% fitted the 64
    /// calibration photos so closely that the photo furthest from them got worse (largest probability difference
    /// 0.029 and 0.033 against 0.020 and 0.023 rounded to nearest); 10% kept most of the gain on average and
    /// bounded the worst photo (0.0195 and 0.0255); 100% lost the gain (0.019 and 0.029, spread 0.061 and 0.044).
    public static let damping = 0.1
    /// Calibration windows needed per input of a layer (`9 * cin`) for its second moments to be measured rather
    /// than fitted: with the tutorial's 64 photos, block 5's 14x14 maps give 12544 windows for 4608 inputs.
    public static let windowsPerInput = 2
    /// Rows rounded together before their errors update the remaining rows with one matrix product.
    static let block = 128

    /// The int8 bytes of `hwio` (`[9 * cin][cout]` floats) with per-output-channel `scales`, rounded against
    /// the input second moments `hessian` (`[9 * cin]^2`, see `LayerInputHessian`). Inputs that were always
    /// zero (a zero diagonal) are rounded to nearest and pass no error on. Returns nil when `H` cannot be
    /// factorised even with 100x the damping (the caller then rounds to nearest).
    public static func round(
        hwio: UnsafePointer<Float>, cin: Int, cout: Int, scales: UnsafePointer<Float>, hessian: [Double]
    ) -> [Int8]? {
        let rows = 9 * cin
        precondition(hessian.count == rows * rows, "the Hessian must be [9 * cin]^2")
        // Rows with the largest inputs first: their errors have the most rows left to be compensated on.
        let order = (0..<rows).sorted {
            let (a, b) = (hessian[$0 * rows + $0], hessian[$1 * rows + $1])
            return a != b ? a > b : $0 < $1
        }
        let meanDiagonal = max((0..<rows).reduce(0) { $0 + hessian[$1 * rows + $1] } / Double(rows), 1e-12)
        var u: [Double] = []
        for attempt in 0..<3 {
            let damp = damping * meanDiagonal * [1.0, 10, 100][attempt]
            u = [Double](repeating: 0, count: rows * rows)
            for i in 0..<rows {
                let oi = order[i]
                for j in 0..<rows { u[i * rows + j] = hessian[oi * rows + order[j]] }
                if u[i * rows + i] == 0 { u[i * rows + i] = 1 }
                u[i * rows + i] += damp
            }
            if dd_inverse_cholesky_upper(&u, Int32(rows)) == 0 { break }
            if attempt == 2 { return nil }
        }
        var w = [Double](repeating: 0, count: rows * cout)
        for i in 0..<rows {
            for c in 0..<cout { w[i * cout + c] = Double(hwio[order[i] * cout + c]) }
        }
        var bytes = [Int8](repeating: 0, count: rows * cout)
        var errors = [Double](repeating: 0, count: block * cout)
        var i1 = 0
        while i1 < rows {
            let i2 = min(rows, i1 + block)
            for i in i1..<i2 {
                let d = u[i * rows + i]
                for c in 0..<cout {
                    let value = w[i * cout + c]
                    // In Float, as round-to-nearest does: an uncompensated weight gets the same byte.
                    let q = max(-127, min(127, (Float(value) / scales[c]).rounded(.toNearestOrEven)))
                    bytes[order[i] * cout + c] = Int8(q)
                    errors[(i - i1) * cout + c] = (value - Double(q) * Double(scales[c])) / d
                }
                for j in (i + 1)..<i2 {
                    let f = u[i * rows + j]
                    if f == 0 { continue }
                    for c in 0..<cout { w[j * cout + c] -= f * errors[(i - i1) * cout + c] }
                }
            }
            if i2 < rows {
                // w[i2...] -= U[i1..<i2, i2...]^T * errors
                u.withUnsafeBufferPointer { u in
                    w.withUnsafeMutableBufferPointer { w in
                        cblas_dgemm(
                            CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows - i2), Int32(cout), Int32(i2 - i1),
                            -1, u.baseAddress! + i1 * rows + i2, Int32(rows), errors, Int32(cout), 1,
                            w.baseAddress! + i2 * cout, Int32(cout))
                    }
                }
            }
            i1 = i2
        }
        return bytes
    }
}
