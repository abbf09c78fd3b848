import NeuralNet

/// VGG16's classifier (13 convolutions 3x3 + ReLU, five 2x2 max-pools, global average pooling, Dense(1)) in
/// float64, forward and backward, written as plainly as possible: the reference the engine's float32 gradients
/// are checked against. NHWC activations, HWIO kernels, as in the engine.
///
/// A ReLU network is piecewise linear: its gradient is defined by which ReLUs are on and which element of each
/// pooling window is the maximum. Where a pre-activation is within rounding of 0, or two window elements are
/// within rounding of each other, float32 and float64 (or two float32 algorithms) may take different pieces,
/// and the gradients then differ by far more than rounding. So the reference can run on the *engine's*
/// decisions (`Decisions(engineOutputs:)`): it then computes, in float64, the exact gradient of the function
/// the engine evaluated, and the comparison is tight on every CPU. `nearKinks` finds the decisions a pass took
/// close enough to a kink for rounding to change them.
public struct ReferenceNetwork: Sendable {
    public struct Layer: Sendable {
        public var kernel: [Double]
        public var bias: [Double]
        public let cin: Int
        public let cout: Int
        public let poolAfter: Bool
    }

    public var layers: [Layer]
    public var headKernel: [Double]
    public var headBias: Double

    public init(_ parameters: VGG16Parameters) {
        layers = parameters.conv.map { p in
            Layer(
                kernel: p.kernel.toArray().map(Double.init), bias: p.bias.toArray().map(Double.init),
                cin: p.spec.cin, cout: p.spec.cout, poolAfter: p.spec.poolAfter)
        }
        headKernel = parameters.head.kernel.map(Double.init)
        headBias = Double(parameters.head.bias)
    }

    /// Which ReLUs are on (per conv layer, per output element) and which element of each pooling window is
    /// the maximum (0-3 in row-major order; per conv layer that pools, per pooled element).
    public struct Decisions: Sendable, Equatable {
        public var reluOn: [[Bool]]
        public var poolChoice: [[UInt8]?]

        /// The decisions the engine took, from its ReLU outputs (`[batch][h][w][cout]` per conv layer): a ReLU
        /// is on where its output is positive; a window's maximum is its first largest element in row-major
        /// order, the rule of the engine's pooling backward.
        public init(engineOutputs: [[Float]], batch: Int, side: Int) {
            var h = side
            reluOn = []
            poolChoice = []
            for (i, layer) in VGG16.convLayers.enumerated() {
                let out = engineOutputs[i]
                precondition(out.count == batch * h * h * layer.cout)
                reluOn.append(out.map { $0 > 0 })
                if layer.poolAfter {
                    poolChoice.append(
                        ReferenceNetwork.argmaxes(out.map(Double.init), batch: batch, side: h, channels: layer.cout))
                    h /= 2
                } else {
                    poolChoice.append(nil)
                }
            }
        }

        init(reluOn: [[Bool]], poolChoice: [[UInt8]?]) {
            self.reluOn = reluOn
            self.poolChoice = poolChoice
        }

        /// Where the decisions differ from `other`'s, per conv layer: ReLU element and pooling window indices.
        public func differences(from other: Decisions) -> [Sites] {
            zip(zip(reluOn, other.reluOn), zip(poolChoice, other.poolChoice)).map { relu, pool in
                Sites(
                    relu: Set(relu.0.indices.filter { relu.0[$0] != relu.1[$0] }),
                    pool: Set((pool.0 ?? []).indices.filter { pool.0![$0] != pool.1![$0] }))
            }
        }
    }

    /// ReLU elements and pooling windows of one conv layer.
    public struct Sites: Sendable, Equatable, CustomStringConvertible {
        public var relu: Set<Int>
        public var pool: Set<Int>
        public var isEmpty: Bool { relu.isEmpty && pool.isEmpty }
        public func isSubset(of other: Sites) -> Bool { relu.isSubset(of: other.relu) && pool.isSubset(of: other.pool) }
        public var description: String { "\(relu.count) ReLUs, \(pool.count) windows" }
    }

    /// What a forward pass keeps for the backward pass.
    public struct Pass: Sendable {
        public let batch: Int
        public let side: Int
        public var logits: [Double]
        /// Input of each conv layer.
        public var inputs: [[Double]]
        /// Pre-activation (before ReLU) of each conv layer.
        public var preActivations: [[Double]]
        public var decisions: Decisions
        /// GAP features, `[batch][512]`.
        public var features: [Double]
    }

    /// Gradients of every parameter.
    public struct Gradients: Sendable {
        public var kernels: [[Double]]
        public var biases: [[Double]]
        public var headKernel: [Double]
        public var headBias: Double
    }

    /// Runs `images` (`[batch][side][side][3]`) forward. With `decisions`, ReLUs and pooling follow them instead
    /// of the float64 values (the same piece of the piecewise-linear function as the pass that took them).
    public func forward(_ images: [Double], batch: Int, side: Int, decisions forced: Decisions? = nil) -> Pass {
        precondition(images.count == batch * side * side * 3 && side % 32 == 0)
        var h = side
        var x = images
        var inputs: [[Double]] = [], pre: [[Double]] = []
        var reluOn: [[Bool]] = [], poolChoice: [[UInt8]?] = []
        for (i, layer) in layers.enumerated() {
            inputs.append(x)
            let z = Self.conv(x, batch: batch, side: h, layer: layer)
            pre.append(z)
            let on = forced?.reluOn[i] ?? z.map { $0 > 0 }
            reluOn.append(on)
            var a = z
            for k in a.indices where !on[k] { a[k] = 0 }
            if layer.poolAfter {
                let choice = forced?.poolChoice[i] ?? Self.argmaxes(a, batch: batch, side: h, channels: layer.cout)
                poolChoice.append(choice)
                x = Self.pool(a, choice: choice, batch: batch, side: h, channels: layer.cout)
                h /= 2
            } else {
                poolChoice.append(nil)
                x = a
            }
        }
        let pixels = h * h, c = VGG16.featureCount
        var features = [Double](repeating: 0, count: batch * c)
        var logits = [Double](repeating: headBias, count: batch)
        for n in 0..<batch {
            for p in 0..<pixels { for j in 0..<c { features[n * c + j] += x[(n * pixels + p) * c + j] } }
            for j in 0..<c {
                features[n * c + j] /= Double(pixels)
                logits[n] += features[n * c + j] * headKernel[j]
            }
        }
        return Pass(
            batch: batch, side: side, logits: logits, inputs: inputs, preActivations: pre,
            decisions: Decisions(reluOn: reluOn, poolChoice: poolChoice), features: features)
    }

    /// Backpropagates `dLoss/dLogit` per image through the pass.
    public func backward(_ pass: Pass, logitGradients g: [Double]) -> Gradients {
        let batch = pass.batch, c = VGG16.featureCount
        precondition(g.count == batch)
        var headKernel = [Double](repeating: 0, count: c)
        for n in 0..<batch { for j in 0..<c { headKernel[j] += pass.features[n * c + j] * g[n] } }
        var h = pass.side / 32
        let pixels = h * h
        var grad = [Double](repeating: 0, count: batch * pixels * c)
        for n in 0..<batch {
            for p in 0..<pixels {
                for j in 0..<c { grad[(n * pixels + p) * c + j] = g[n] * self.headKernel[j] / Double(pixels) }
            }
        }
        var kernels = [[Double]](repeating: [], count: layers.count), biases = kernels
        for i in layers.indices.reversed() {
            let layer = layers[i]
            if layer.poolAfter {
                grad = Self.unpool(
                    grad, choice: pass.decisions.poolChoice[i]!, batch: batch, side: h * 2, channels: layer.cout)
                h *= 2
            }
            let on = pass.decisions.reluOn[i]
            for k in grad.indices where !on[k] { grad[k] = 0 }
            (kernels[i], biases[i], grad) = Self.convBackward(
                pass.inputs[i], gradOut: grad, batch: batch, side: h, layer: layer)
        }
        return Gradients(kernels: kernels, biases: biases, headKernel: headKernel, headBias: g.reduce(0, +))
    }

    /// The decisions of a pass that lie within `margin` of a kink, relative to each layer's largest
    /// pre-activation: ReLUs with `|z| < margin * scale`, and pooling windows with a positive maximum whose
    /// largest and second largest elements are closer than that. Float32 rounding (a few 1e-7 of the scale
    /// per layer) can change only such decisions.
    public static func nearKinks(_ pass: Pass, margin: Double) -> [Sites] {
        var h = pass.side
        return VGG16.convLayers.indices.map { i in
            let z = pass.preActivations[i]
            let limit = margin * z.reduce(0) { max($0, abs($1)) }
            var sites = Sites(relu: Set(z.indices.filter { abs(z[$0]) < limit }), pool: [])
            if VGG16.convLayers[i].poolAfter {
                var k = 0
                forEachWindow(batch: pass.batch, side: h, channels: VGG16.convLayers[i].cout) { offsets in
                    let v = offsets.map { max(0, z[$0]) }.sorted(by: >)
                    if v[0] > 0 && v[0] - v[1] < limit { sites.pool.insert(k) }
                    k += 1
                }
                h /= 2
            }
            return sites
        }
    }

    // MARK: - Layers

    static func conv(_ x: [Double], batch: Int, side h: Int, layer: Layer) -> [Double] {
        let cin = layer.cin, cout = layer.cout
        var out = [Double](repeating: 0, count: batch * h * h * cout)
        x.withUnsafeBufferPointer { x in
            layer.kernel.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { out in
                    for n in 0..<batch {
                        for y in 0..<h {
                            for xx in 0..<h {
                                let o = ((n * h + y) * h + xx) * cout
                                for co in 0..<cout { out[o + co] = layer.bias[co] }
                                for ky in 0..<3 {
                                    let sy = y + ky - 1
                                    if sy < 0 || sy >= h { continue }
                                    for kx in 0..<3 {
                                        let sx = xx + kx - 1
                                        if sx < 0 || sx >= h { continue }
                                        let xi = ((n * h + sy) * h + sx) * cin
                                        for ci in 0..<cin {
                                            let v = x[xi + ci]
                                            let wi = ((ky * 3 + kx) * cin + ci) * cout
                                            for co in 0..<cout { out[o + co] += v * w[wi + co] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    static func convBackward(
        _ x: [Double], gradOut: [Double], batch: Int, side h: Int, layer: Layer
    )
        -> (kernel: [Double], bias: [Double], input: [Double])
    {
        let cin = layer.cin, cout = layer.cout
        var dW = [Double](repeating: 0, count: 9 * cin * cout)
        var dB = [Double](repeating: 0, count: cout)
        var dX = [Double](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { x in
            gradOut.withUnsafeBufferPointer { g in
                layer.kernel.withUnsafeBufferPointer { w in
                    dW.withUnsafeMutableBufferPointer { dW in
                        dX.withUnsafeMutableBufferPointer { dX in
                            for n in 0..<batch {
                                for y in 0..<h {
                                    for xx in 0..<h {
                                        let o = ((n * h + y) * h + xx) * cout
                                        for co in 0..<cout { dB[co] += g[o + co] }
                                        for ky in 0..<3 {
                                            let sy = y + ky - 1
                                            if sy < 0 || sy >= h { continue }
                                            for kx in 0..<3 {
                                                let sx = xx + kx - 1
                                                if sx < 0 || sx >= h { continue }
                                                let xi = ((n * h + sy) * h + sx) * cin
                                                for ci in 0..<cin {
                                                    let v = x[xi + ci]
                                                    let wi = ((ky * 3 + kx) * cin + ci) * cout
                                                    var sum = 0.0
                                                    for co in 0..<cout {
                                                        dW[wi + co] += v * g[o + co]
                                                        sum += w[wi + co] * g[o + co]
                                                    }
                                                    dX[xi + ci] += sum
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dW, dB, dX)
    }

    /// Calls `body` with the four offsets (row-major) of every 2x2 pooling window.
    static func forEachWindow(batch: Int, side h: Int, channels: Int, _ body: ([Int]) -> Void) {
        for n in 0..<batch {
            for y in 0..<(h / 2) {
                for x in 0..<(h / 2) {
                    for c in 0..<channels {
                        let top = ((n * h + 2 * y) * h + 2 * x) * channels + c
                        body([top, top + channels, top + h * channels, top + h * channels + channels])
                    }
                }
            }
        }
    }

    /// Index (0-3) of the first largest element of each window.
    static func argmaxes(_ a: [Double], batch: Int, side h: Int, channels: Int) -> [UInt8] {
        var choice: [UInt8] = []
        choice.reserveCapacity(a.count / 4)
        forEachWindow(batch: batch, side: h, channels: channels) { offsets in
            var best = 0
            for k in 1..<4 where a[offsets[k]] > a[offsets[best]] { best = k }
            choice.append(UInt8(best))
        }
        return choice
    }

    static func pool(_ a: [Double], choice: [UInt8], batch: Int, side h: Int, channels: Int) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(a.count / 4)
        var k = 0
        forEachWindow(batch: batch, side: h, channels: channels) { offsets in
            out.append(a[offsets[Int(choice[k])]])
            k += 1
        }
        return out
    }

    static func unpool(_ g: [Double], choice: [UInt8], batch: Int, side h: Int, channels: Int) -> [Double] {
        var out = [Double](repeating: 0, count: g.count * 4)
        var k = 0
        forEachWindow(batch: batch, side: h, channels: channels) { offsets in
            out[offsets[Int(choice[k])]] = g[k]
            k += 1
        }
        return out
    }
}
