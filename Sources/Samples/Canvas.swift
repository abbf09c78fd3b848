import Imaging
import Support

/// A colour with components in 0...1 (display-referred, like the bytes of an sRGB image).
struct RGB: Sendable, Equatable {
    var r: Double
    var g: Double
    var b: Double

    init(_ r: Double, _ g: Double, _ b: Double) {
        self.r = r
        self.g = g
        self.b = b
    }

    static let white = RGB(1, 1, 1)
    static let black = RGB(0, 0, 0)

    func mixed(with other: RGB, _ t: Double) -> RGB {
        RGB(r + (other.r - r) * t, g + (other.g - g) * t, b + (other.b - b) * t)
    }

    /// Multiplied by `k` per channel.
    func scaled(_ k: Double) -> RGB { RGB(r * k, g * k, b * k) }

    /// Multiplied channel by channel.
    func tinted(_ m: RGB) -> RGB { RGB(r * m.r, g * m.g, b * m.b) }

    /// Lighter (positive `amount`) or darker (negative) in a way that also works for near-black: moves towards
    /// white or black by `|amount|`.
    func shaded(_ amount: Double) -> RGB { amount >= 0 ? mixed(with: .white, amount) : mixed(with: .black, -amount) }

    /// Rec. 601 luma.
    var luma: Double { 0.299 * r + 0.587 * g + 0.114 * b }

    var clamped: RGB { RGB(clamp01(r), clamp01(g), clamp01(b)) }

    /// A random variation of this colour: brightness by up to `brightness`, each channel by up to `hue`.
    func jittered(_ rng: inout SeededRandom, brightness: Double, hue: Double) -> RGB {
        let k = 1 + rng.uniform(-brightness, brightness)
        return RGB(
            r * k * (1 + rng.uniform(-hue, hue)), g * k * (1 + rng.uniform(-hue, hue)),
            b * k * (1 + rng.uniform(-hue, hue))
        ).clamped
    }
}

/// How a shape is coloured.
enum Paint: Sendable {
    case solid(RGB)
    /// Colour `c0` at `p0` blending linearly to `c1` at `p1` (constant beyond both ends).
    case linear(Point, RGB, Point, RGB)
    /// Colour `inner` at `center` blending to `outer` at distance `radius` and beyond.
    case radial(center: Point, radius: Double, inner: RGB, outer: RGB)

    @inline(__always)
    func color(_ x: Double, _ y: Double) -> RGB {
        switch self {
        case .solid(let c):
            return c
        case .linear(let p0, let c0, let p1, let c1):
            let dx = p1.x - p0.x, dy = p1.y - p0.y
            let len2 = dx * dx + dy * dy
            let t = len2 > 0 ? clamp01(((x - p0.x) * dx + (y - p0.y) * dy) / len2) : 0
            return c0.mixed(with: c1, t)
        case .radial(let center, let radius, let inner, let outer):
            let d = ((x - center.x) * (x - center.x) + (y - center.y) * (y - center.y)).squareRoot()
            return inner.mixed(with: outer, clamp01(d / max(radius, 1e-9)))
        }
    }

    /// The same paint with its geometry mapped by `t`.
    func transformed(by t: Transform2D) -> Paint {
        switch self {
        case .solid: return self
        case .linear(let p0, let c0, let p1, let c1): return .linear(t.apply(p0), c0, t.apply(p1), c1)
        case .radial(let center, let radius, let inner, let outer):
            return .radial(center: t.apply(center), radius: radius * t.scale, inner: inner, outer: outer)
        }
    }
}

/// A floating-point RGB drawing surface with an anti-aliasing rasteriser for `Shape`s.
///
/// Coverage is exact-ish: pixels whose centre is more than a pixel inside or outside a shape's outline take
/// full or no coverage from one distance evaluation; pixels near the outline are supersampled on a 4x4 grid.
/// Feathered fills (soft shadows, glows) instead ramp coverage smoothly across `2 * feather` pixels.
final class Canvas {
    let width: Int
    let height: Int
    /// Row-major RGB, 3 floats per pixel.
    var data: [Float]

    init(width: Int, height: Int, color: RGB = .black) {
        precondition(width > 0 && height > 0)
        self.width = width
        self.height = height
        data = [Float](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            data[3 * i] = Float(color.r)
            data[3 * i + 1] = Float(color.g)
            data[3 * i + 2] = Float(color.b)
        }
    }

    init(copying other: Canvas) {
        width = other.width
        height = other.height
        data = other.data
    }

    /// Integer pixel range covered by `box` (clipped), or nil when it misses the canvas.
    private func pixelRange(_ box: Box) -> (x0: Int, y0: Int, x1: Int, y1: Int)? {
        let x0 = max(0, Int(floor(box.minX))), y0 = max(0, Int(floor(box.minY)))
        let x1 = min(width - 1, Int(ceil(box.maxX))), y1 = min(height - 1, Int(ceil(box.maxY)))
        guard x0 <= x1, y0 <= y1, box.maxX >= 0, box.maxY >= 0 else { return nil }
        return (x0, y0, x1, y1)
    }

    private static let subsampleOffsets: [Double] = [-0.375, -0.125, 0.125, 0.375]

    /// Blends `paint` into the pixels covered by `shape`, at `opacity`; `feather` > 0 softens the edge over
    /// that many pixels on each side.
    func fill<S: Shape>(_ shape: S, _ paint: Paint, opacity: Double = 1, feather: Double = 0) {
        guard opacity > 0, let range = pixelRange(shape.bounds.outset(feather + 1)) else { return }
        let offsets = Canvas.subsampleOffsets
        let w = width
        data.withUnsafeMutableBufferPointer { buffer in
            for py in range.y0...range.y1 {
                let cy = Double(py) + 0.5
                var index = (py * w + range.x0) * 3
                for px in range.x0...range.x1 {
                    defer { index += 3 }
                    let cx = Double(px) + 0.5
                    let d = shape.distance(cx, cy)
                    var coverage: Double
                    if feather > 0 {
                        coverage = smoothstep((feather - d) / (2 * feather))
                    } else if d <= -1 {
                        coverage = 1
                    } else if d >= 1 {
                        continue
                    } else {
                        var inside = 0
                        for oy in offsets {
                            for ox in offsets where shape.distance(cx + ox, cy + oy) < 0 { inside += 1 }
                        }
                        coverage = Double(inside) / 16
                    }
                    let alpha = Float(coverage * opacity)
                    if alpha <= 0 { continue }
                    let c = paint.color(cx, cy)
                    buffer[index] += (Float(c.r) - buffer[index]) * alpha
                    buffer[index + 1] += (Float(c.g) - buffer[index + 1]) * alpha
                    buffer[index + 2] += (Float(c.b) - buffer[index + 2]) * alpha
                }
            }
        }
    }

    /// Replaces each pixel of rows `y0..<y1` (clipped) by `color(x, y, current)`; no anti-aliasing, for
    /// smooth full-frame content such as gradients and textures.
    func shadeRows(_ y0: Int = 0, _ y1: Int? = nil, _ color: (_ x: Int, _ y: Int, _ current: RGB) -> RGB) {
        let top = max(0, y0), bottom = min(height, y1 ?? height)
        guard top < bottom else { return }
        let w = width
        data.withUnsafeMutableBufferPointer { buffer in
            for y in top..<bottom {
                var index = y * w * 3
                for x in 0..<w {
                    let c = color(
                        x, y, RGB(Double(buffer[index]), Double(buffer[index + 1]), Double(buffer[index + 2])))
                    buffer[index] = Float(c.r)
                    buffer[index + 1] = Float(c.g)
                    buffer[index + 2] = Float(c.b)
                    index += 3
                }
            }
        }
    }

    /// A separable Gaussian blur with standard deviation `sigma` pixels (edges clamp).
    func blur(sigma: Double) {
        guard sigma > 0.05 else { return }
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        let w = width, h = height
        var temp = [Float](repeating: 0, count: data.count)
        data.withUnsafeBufferPointer { src in
            temp.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    for x in 0..<w {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        for k in -radius...radius {
                            let sx = min(w - 1, max(0, x + k))
                            let i = (y * w + sx) * 3
                            let weight = kernel[k + radius]
                            r += src[i] * weight
                            g += src[i + 1] * weight
                            b += src[i + 2] * weight
                        }
                        let o = (y * w + x) * 3
                        dst[o] = r
                        dst[o + 1] = g
                        dst[o + 2] = b
                    }
                }
            }
        }
        temp.withUnsafeBufferPointer { src in
            data.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h {
                    for x in 0..<w {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        for k in -radius...radius {
                            let sy = min(h - 1, max(0, y + k))
                            let i = (sy * w + x) * 3
                            let weight = kernel[k + radius]
                            r += src[i] * weight
                            g += src[i + 1] * weight
                            b += src[i + 2] * weight
                        }
                        let o = (y * w + x) * 3
                        dst[o] = r
                        dst[o + 1] = g
                        dst[o + 2] = b
                    }
                }
            }
        }
    }

    /// Adds sensor-like noise: luminance noise of standard deviation `sigma` (0...1 units) and weaker
    /// independent per-channel noise of `chroma` times that. Luminance variates are sums of four uniforms
    /// (nearly Gaussian), chroma variates sums of two (triangular): much cheaper than Box-Muller per pixel.
    func addNoise(sigma: Double, chroma: Double, using rng: inout SeededRandom) {
        guard sigma > 0 else { return }
        let count = width * height
        // Four 16-bit uniforms: mean 2, variance 1/3. Two 10-bit uniforms: mean 1, variance 1/6.
        let s = Float(sigma * 3.0.squareRoot()), cs = Float(sigma * chroma * 6.0.squareRoot())
        // A local SplitMix64 stream seeded from `rng`: inlined here, it costs a few cycles per draw.
        var state = rng.next()
        @inline(__always) func nextBits() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        data.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<count {
                let bits = nextBits()
                let sum = (bits & 0xFFFF) + ((bits >> 16) & 0xFFFF) + ((bits >> 32) & 0xFFFF) + (bits >> 48)
                let luma = (Float(sum) * (1 / 65536) - 2) * s
                let chromaBits = nextBits()
                for channel in 0..<3 {
                    let pair = chromaBits >> (20 * UInt64(channel))
                    let tri = Float((pair & 0x3FF) + ((pair >> 10) & 0x3FF)) * (1 / 1024) - 1
                    buffer[3 * i + channel] += luma + tri * cs
                }
            }
        }
    }

    /// The canvas as 8-bit RGB, clamped and rounded.
    func image() -> Image {
        var pixels = [UInt8](repeating: 0, count: data.count)
        data.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for i in 0..<src.count {
                    let v = src[i] * 255 + 0.5
                    dst[i] = v <= 0 ? 0 : (v >= 255 ? 255 : UInt8(v))
                }
            }
        }
        return Image(width: width, height: height, pixels: pixels)
    }
}

/// Two independent standard normal variates (Box-Muller).
func gaussianPair(_ rng: inout SeededRandom) -> (Double, Double) {
    var u = rng.nextDouble()
    while u <= 1e-300 { u = rng.nextDouble() }
    let v = rng.nextDouble()
    let r = (-2 * log(u)).squareRoot()
    return (r * cos(2 * Double.pi * v), r * sin(2 * Double.pi * v))
}

/// Smooth deterministic 2D value noise in 0...1, from a hashed lattice.
struct ValueNoise: Sendable {
    let seed: UInt64

    @inline(__always)
    private func lattice(_ ix: Int, _ iy: Int) -> Double {
        var z =
            seed &+ UInt64(bitPattern: Int64(ix)) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(bitPattern: Int64(iy))
            &* 0xC2B2_AE3D_27D4_EB4F
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) * 0x1.0p-53
    }

    /// Noise at (x, y) with features about one unit apart.
    func value(_ x: Double, _ y: Double) -> Double {
        let fx = floor(x), fy = floor(y)
        let ix = Int(fx), iy = Int(fy)
        let tx = smoothstep(x - fx), ty = smoothstep(y - fy)
        let top = mix(lattice(ix, iy), lattice(ix + 1, iy), tx)
        let bottom = mix(lattice(ix, iy + 1), lattice(ix + 1, iy + 1), tx)
        return mix(top, bottom, ty)
    }

    /// Sum of `octaves` octaves, each half the size and half the weight of the previous, normalised to 0...1.
    func fractal(_ x: Double, _ y: Double, octaves: Int) -> Double {
        var total = 0.0, weight = 1.0, norm = 0.0, fx = x, fy = y
        for octave in 0..<octaves {
            total += weight * value(fx + Double(octave) * 17.3, fy - Double(octave) * 9.1)
            norm += weight
            weight *= 0.5
            fx *= 2
            fy *= 2
        }
        return total / norm
    }
}
