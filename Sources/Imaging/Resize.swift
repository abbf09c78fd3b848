/// How an image is resized to the network's input size. The raw value is the name model files record.
public enum ResizeMethod: String, Sendable, CaseIterable {
    /// Pillow's NEAREST, bit for bit: the default of Keras's `load_img`, so what the tutorial trained on.
    case nearest
    /// Pillow's BILINEAR, bit for bit: a separable triangle filter whose support widens with the
    /// reduction factor (antialiased), computed in Pillow's 8-bit fixed point.
    case bilinear
    /// Area averaging when shrinking (each output pixel the exact mean of the source area it covers),
    /// linear interpolation when enlarging; per axis, in floating point with no 8-bit rounding.
    case area

    /// The method new models are trained with. The trainer sets it from measurements; until then `area`:
    /// antialiased like `bilinear`, without its 8-bit rounding.
    public static let `default`: ResizeMethod = .area

    /// Resizes `image` to `width` x `height` and writes `width * height * 3` floats in 0...255 (HWC, RGB).
    public func resize(_ image: Image, width: Int, height: Int, into output: UnsafeMutablePointer<Float>) {
        precondition(width > 0 && height > 0, "resize target must be positive, got \(width)x\(height)")
        switch self {
        case .nearest:
            PillowResample.nearest(image, width: width, height: height).writeFloats(into: output)
        case .bilinear:
            PillowResample.bilinear(image, width: width, height: height).writeFloats(into: output)
        case .area:
            AreaResample.resize(image, width: width, height: height, into: output)
        }
    }

    /// `resize(_:width:height:into:)` returning a new array.
    public func resized(_ image: Image, width: Int, height: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: width * height * 3) { buffer, count in
            resize(image, width: width, height: height, into: buffer.baseAddress!)
            count = width * height * 3
        }
    }
}

extension Image {
    /// Writes the pixels as floats 0...255.
    func writeFloats(into output: UnsafeMutablePointer<Float>) {
        pixels.withUnsafeBufferPointer { bytes in
            for i in 0..<bytes.count { output[i] = Float(bytes[i]) }
        }
    }
}

/// Pillow's `Image.resize` for NEAREST and BILINEAR on RGB images, reproduced bit for bit
/// (src/libImaging/Geometry.c and Resample.c).
public enum PillowResample {
    /// Pillow's nearest neighbour (ImagingScaleAffine). It walks the source with a running double sum —
    /// x = scale/2, then x += scale per pixel, truncated — not the closed form (i + 0.5) * scale, and the
    /// two disagree at some columns (20 of 224 for 640 -> 224).
    public static func nearest(_ image: Image, width: Int, height: Int) -> Image {
        if width == image.width && height == image.height { return image }
        let columns = nearestIndices(from: image.width, to: width)
        let rows = nearestIndices(from: image.height, to: height)
        return image.pixels.withUnsafeBufferPointer { source in
            Image.filling(width: width, height: height) { out in
                var o = 0
                for y in 0..<height {
                    let row = rows[y]
                    for x in 0..<width {
                        let column = columns[x]
                        if row < 0 || column < 0 {
                            // Pillow fills positions that map outside the source with zeros.
                            out[o] = 0; out[o + 1] = 0; out[o + 2] = 0
                        } else {
                            let s = (row * image.width + column) * 3
                            out[o] = source[s]; out[o + 1] = source[s + 1]; out[o + 2] = source[s + 2]
                        }
                        o += 3
                    }
                }
                return true
            }!
        }
    }

    /// The source index of each output position, or -1 where Pillow would leave the fill value.
    static func nearestIndices(from inSize: Int, to outSize: Int) -> [Int] {
        let scale = Double(inSize) / Double(outSize)
        var position = 0.0 + scale * 0.5
        var indices = [Int](repeating: -1, count: outSize)
        for i in 0..<outSize {
            // COORD(v): -1 for negative v, else truncation.
            let index = position < 0 ? -1 : Int(position)
            if index >= 0 && index < inSize { indices[i] = index }
            position += scale
        }
        return indices
    }

    /// Fixed-point filter weights for one axis (Pillow's precompute_coeffs + normalize_coeffs_8bpc).
    struct Coefficients {
        /// Maximum taps per output position.
        var taps: Int
        /// First source index of each output position.
        var first: [Int]
        /// Number of source pixels of each output position.
        var count: [Int]
        /// `taps` weights per output position, in 1/2^22 units.
        var weights: [Int32]

        init(inSize: Int, outSize: Int) {
            let scale = Double(inSize) / Double(outSize)
            let filterScale = max(scale, 1.0)
            let support = 1.0 * filterScale  // the bilinear (triangle) filter's support is 1
            taps = Int(support.rounded(.up)) * 2 + 1
            first = [Int](repeating: 0, count: outSize)
            count = [Int](repeating: 0, count: outSize)
            weights = [Int32](repeating: 0, count: outSize * taps)
            var k = [Double](repeating: 0, count: taps)
            for xx in 0..<outSize {
                let center = 0.0 + (Double(xx) + 0.5) * scale
                let inverse = 1.0 / filterScale
                // (int) casts truncate toward zero, as in C.
                let xmin = max(Int(center - support + 0.5), 0)
                let xmax = min(Int(center + support + 0.5), inSize) - xmin
                var total = 0.0
                for x in 0..<xmax {
                    let t = abs((Double(x + xmin) - center + 0.5) * inverse)
                    let w = t < 1.0 ? 1.0 - t : 0.0
                    k[x] = w
                    total += w
                }
                for x in 0..<xmax {
                    let w = total != 0 ? k[x] / total : k[x]
                    let fixed = w < 0 ? -0.5 + w * Double(1 << 22) : 0.5 + w * Double(1 << 22)
                    weights[xx * taps + x] = Int32(fixed)
                }
                first[xx] = xmin
                count[xx] = xmax
            }
        }
    }

    /// Pillow's BILINEAR resize of an RGB image: a horizontal and a vertical pass, each rounding to 8 bits.
    /// Pillow 13 runs the vertical pass first when the image loses clearly more rows than columns
    /// ((in_h - out_h) > 2 (in_w - out_w), in_h > out_h); earlier versions always ran the horizontal
    /// pass first. The two orders differ by at most one level in some pixels.
    public static func bilinear(_ image: Image, width: Int, height: Int) -> Image {
        let needHorizontal = width != image.width
        let needVertical = height != image.height
        if !needHorizontal && !needVertical { return image }
        let horizontal = needHorizontal ? Coefficients(inSize: image.width, outSize: width) : nil
        let vertical = needVertical ? Coefficients(inSize: image.height, outSize: height) : nil
        if let horizontal, let vertical {
            let rowsLost = image.height - height, columnsLost = image.width - width
            if rowsLost > 0 && rowsLost > 2 * columnsLost {
                return horizontalPass(verticalPass(image, vertical, firstRow: 0), horizontal, rows: 0..<height)
            }
            // Only the source rows the vertical pass reads are resampled horizontally.
            let firstRow = vertical.first[0]
            let lastRow = vertical.first[height - 1] + vertical.count[height - 1]
            let band = horizontalPass(image, horizontal, rows: firstRow..<lastRow)
            return verticalPass(band, vertical, firstRow: firstRow)
        }
        if let horizontal { return horizontalPass(image, horizontal, rows: 0..<image.height) }
        return verticalPass(image, vertical!, firstRow: 0)
    }

    private static func horizontalPass(_ image: Image, _ c: Coefficients, rows: Range<Int>) -> Image {
        let outWidth = c.first.count
        return image.pixels.withUnsafeBufferPointer { source in
            c.weights.withUnsafeBufferPointer { weights in
                Image.filling(width: outWidth, height: rows.count) { out in
                    var o = 0
                    for y in rows {
                        let row = y * image.width * 3
                        for xx in 0..<outWidth {
                            var r: Int32 = 1 << 21, g: Int32 = 1 << 21, b: Int32 = 1 << 21
                            var s = row + c.first[xx] * 3
                            let k = xx * c.taps
                            for x in 0..<c.count[xx] {
                                let w = weights[k + x]
                                r &+= Int32(source[s]) &* w
                                g &+= Int32(source[s + 1]) &* w
                                b &+= Int32(source[s + 2]) &* w
                                s += 3
                            }
                            out[o] = clip8(r); out[o + 1] = clip8(g); out[o + 2] = clip8(b)
                            o += 3
                        }
                    }
                    return true
                }!
            }
        }
    }

    /// `image` holds source rows `firstRow...`; the coefficients index the full source.
    private static func verticalPass(_ image: Image, _ c: Coefficients, firstRow: Int) -> Image {
        let outHeight = c.first.count
        let rowBytes = image.width * 3
        return image.pixels.withUnsafeBufferPointer { source in
            c.weights.withUnsafeBufferPointer { weights in
                Image.filling(width: image.width, height: outHeight) { out in
                    var column = [Int32](repeating: 0, count: rowBytes)
                    for yy in 0..<outHeight {
                        for i in 0..<rowBytes { column[i] = 1 << 21 }
                        let k = yy * c.taps
                        for y in 0..<c.count[yy] {
                            let w = weights[k + y]
                            let row = (c.first[yy] + y - firstRow) * rowBytes
                            for i in 0..<rowBytes { column[i] &+= Int32(source[row + i]) &* w }
                        }
                        let o = yy * rowBytes
                        for i in 0..<rowBytes { out[o + i] = clip8(column[i]) }
                    }
                    return true
                }!
            }
        }
    }

    @inline(__always)
    private static func clip8(_ sum: Int32) -> UInt8 {
        let v = sum >> 22
        return UInt8(truncatingIfNeeded: v < 0 ? 0 : (v > 255 ? 255 : v))
    }
}

/// Area-averaging resize in floating point.
///
/// Per axis: when shrinking, output pixel i is the mean of the source interval [i s, (i + 1) s),
/// s = in/out, with partially covered pixels weighted by their overlap; when enlarging, linear
/// interpolation between the two nearest source centres (half-pixel centres, clamped at the edges);
/// when the size is unchanged, a copy. Vertical pass first, then horizontal, both in Float.
public enum AreaResample {
    /// Weights of one axis.
    struct Weights {
        var taps: Int
        var first: [Int]
        var count: [Int]
        var weights: [Float]

        init(inSize: Int, outSize: Int) {
            var rows: [(Int, [Double])] = []
            rows.reserveCapacity(outSize)
            if inSize == outSize {
                for i in 0..<outSize { rows.append((i, [1])) }
            } else if inSize > outSize {
                let scale = Double(inSize) / Double(outSize)
                for i in 0..<outSize {
                    // Exact rational bounds i * in / out, computed from integers.
                    let low = Double(i * inSize) / Double(outSize)
                    let high = Double((i + 1) * inSize) / Double(outSize)
                    let start = Int(low.rounded(.down))
                    let end = min(Int(high.rounded(.up)), inSize)
                    var w: [Double] = []
                    for j in start..<end {
                        let overlap = min(high, Double(j + 1)) - max(low, Double(j))
                        w.append(overlap / scale)
                    }
                    rows.append((start, w))
                }
            } else {
                let scale = Double(inSize) / Double(outSize)
                for i in 0..<outSize {
                    let position = min(max((Double(i) + 0.5) * scale - 0.5, 0), Double(inSize - 1))
                    let j = Int(position.rounded(.down))
                    let t = position - Double(j)
                    rows.append(j + 1 < inSize && t > 0 ? (j, [1 - t, t]) : (j, [1]))
                }
            }
            taps = rows.map { $0.1.count }.max() ?? 1
            first = rows.map { $0.0 }
            count = rows.map { $0.1.count }
            weights = [Float](repeating: 0, count: outSize * taps)
            for (i, row) in rows.enumerated() {
                for (j, w) in row.1.enumerated() { weights[i * taps + j] = Float(w) }
            }
        }
    }

    /// Resizes to `width` x `height`, writing `width * height * 3` floats.
    public static func resize(_ image: Image, width: Int, height: Int, into output: UnsafeMutablePointer<Float>) {
        let h = Weights(inSize: image.width, outSize: width)
        let v = Weights(inSize: image.height, outSize: height)
        let inRow = image.width * 3
        // Vertical pass first: it runs over whole contiguous rows (vectorisable), and leaves the scalar
        // horizontal pass only `height` rows to do.
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: height * inRow)
        defer { rows.deallocate() }
        image.pixels.withUnsafeBufferPointer { source in
            v.weights.withUnsafeBufferPointer { weights in
                v.first.withUnsafeBufferPointer { first in
                    v.count.withUnsafeBufferPointer { count in
                        for y in 0..<height {
                            let out = rows + y * inRow
                            let k = y * v.taps
                            let w0 = weights[k]
                            var row = source.baseAddress! + first[y] * inRow
                            for i in 0..<inRow { out[i] = Float(row[i]) * w0 }
                            for t in 1..<max(count[y], 1) {
                                let w = weights[k + t]
                                row += inRow
                                for i in 0..<inRow { out[i] += Float(row[i]) * w }
                            }
                        }
                    }
                }
            }
        }
        h.weights.withUnsafeBufferPointer { weights in
            h.first.withUnsafeBufferPointer { first in
                h.count.withUnsafeBufferPointer { count in
                    for y in 0..<height {
                        let row = rows + y * inRow
                        var o = output + y * width * 3
                        for x in 0..<width {
                            var r: Float = 0, g: Float = 0, b: Float = 0
                            var s = row + first[x] * 3
                            let k = x * h.taps
                            for t in 0..<count[x] {
                                let w = weights[k + t]
                                r += s[0] * w
                                g += s[1] * w
                                b += s[2] * w
                                s += 3
                            }
                            o[0] = r; o[1] = g; o[2] = b
                            o += 3
                        }
                    }
                }
            }
        }
    }
}
