import Foundation
import NeuralNet
import Support

/// Naive float64 reference of a 3x3 same-padding convolution + bias (+ ReLU), NHWC / HWIO.
func referenceConv(
    _ input: [Float], batch: Int, height: Int, width: Int, cin: Int,
    kernel: [Float], bias: [Float], cout: Int, relu: Bool
) -> [Double] {
    var out = [Double](repeating: 0, count: batch * height * width * cout)
    for n in 0..<batch {
        for y in 0..<height {
            for x in 0..<width {
                for o in 0..<cout {
                    var s = Double(bias[o])
                    for ky in 0..<3 {
                        let sy = y + ky - 1
                        if sy < 0 || sy >= height { continue }
                        for kx in 0..<3 {
                            let sx = x + kx - 1
                            if sx < 0 || sx >= width { continue }
                            let inBase = ((n * height + sy) * width + sx) * cin
                            let wBase = (ky * 3 + kx) * cin * cout + o
                            for c in 0..<cin { s += Double(input[inBase + c]) * Double(kernel[wBase + c * cout]) }
                        }
                    }
                    out[((n * height + y) * width + x) * cout + o] = relu ? max(0, s) : s
                }
            }
        }
    }
    return out
}

/// 2x2 stride-2 max pooling reference.
func referencePool(_ input: [Double], batch: Int, height: Int, width: Int, channels: Int) -> [Double] {
    var out = [Double](repeating: 0, count: batch * (height / 2) * (width / 2) * channels)
    for n in 0..<batch {
        for y in 0..<(height / 2) {
            for x in 0..<(width / 2) {
                for c in 0..<channels {
                    var m = -Double.infinity
                    for dy in 0..<2 {
                        for dx in 0..<2 {
                            m = max(m, input[((n * height + 2 * y + dy) * width + 2 * x + dx) * channels + c])
                        }
                    }
                    out[((n * (height / 2) + y) * (width / 2) + x) * channels + c] = m
                }
            }
        }
    }
    return out
}

/// max|a - b| / max|b|.
func relativeMaxError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var diff = 0.0
    var scale = 0.0
    for i in 0..<a.count {
        diff = max(diff, abs(Double(a[i]) - b[i]))
        scale = max(scale, abs(b[i]))
    }
    return scale == 0 ? diff : diff / scale
}

func randomFloats(_ count: Int, _ rng: inout SeededRandom, scale: Double = 1, nonNegative: Bool = false) -> [Float] {
    (0..<count).map { _ in
        let v = rng.uniform(-1, 1) * scale
        return Float(nonNegative ? abs(v) : v)
    }
}

/// Parameters with He-initialised random conv weights and small biases, plus a random head.
func randomParameters(seed: UInt64) -> VGG16Parameters {
    var rng = SeededRandom(seed: seed)
    let p = VGG16Parameters()
    for layer in p.conv {
        let fanIn = Double(9 * layer.spec.cin)
        let limit = (6.0 / fanIn).squareRoot()
        for i in 0..<layer.kernel.count { layer.kernel[i] = Float(rng.uniform(-limit, limit)) }
        for i in 0..<layer.bias.count { layer.bias[i] = Float(rng.uniform(-0.05, 0.05)) }
    }
    p.head = DenseHead(kernel: randomFloats(VGG16.featureCount, &rng, scale: 0.1), bias: 0.25)
    return p
}

/// The repository root (for weights produced by Scripts/setup.sh).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Path of the imported VGG16 weights: $DOGDOOR_WEIGHTS or var/weights/vgg16-notop.safetensors.
let weightsPath: String =
    ProcessInfo.processInfo.environment["DOGDOOR_WEIGHTS"]
    ?? repositoryRoot + "/var/weights/vgg16-notop.safetensors"

/// Chunks far smaller than any real setting: every convolution and gradient splits into many chunks, so the
/// tests cover chunk boundaries, both parallel paths and the accumulation across chunks.
let tinyChunks = Chunking(privateBytes: 4 << 10, sharedBytes: 16 << 10, gradientBytes: 16 << 10)
