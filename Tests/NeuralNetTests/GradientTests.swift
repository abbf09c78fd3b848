import Foundation
import NeuralNet
import Support
import Testing

/// Backpropagation checked two ways: the weight gradient of one convolution against a float64 reference
/// (exact up to float32 rounding), and the whole network's gradients against finite differences of the loss.
@Suite struct GradientTests {
    /// float64 reference: dW[ky][kx][ci][co] = sum_p x[p + k - 1][ci] * g[p][co]; dB[co] = sum_p g[p][co].
    static func referenceWeightGradient(_ x: [Float], _ g: [Float], batch: Int, h: Int, w: Int, cin: Int, cout: Int)
        -> (kernel: [Double], bias: [Double])
    {
        var dW = [Double](repeating: 0, count: 9 * cin * cout)
        var dB = [Double](repeating: 0, count: cout)
        for n in 0..<batch {
            for y in 0..<h {
                for xx in 0..<w {
                    let gBase = ((n * h + y) * w + xx) * cout
                    for co in 0..<cout { dB[co] += Double(g[gBase + co]) }
                    for ky in 0..<3 {
                        let sy = y + ky - 1
                        if sy < 0 || sy >= h { continue }
                        for kx in 0..<3 {
                            let sx = xx + kx - 1
                            if sx < 0 || sx >= w { continue }
                            let xBase = ((n * h + sy) * w + sx) * cin
                            for ci in 0..<cin {
                                let xv = Double(x[xBase + ci])
                                let wBase = ((ky * 3 + kx) * cin + ci) * cout
                                for co in 0..<cout { dW[wBase + co] += xv * Double(g[gBase + co]) }
                            }
                        }
                    }
                }
            }
        }
        return (dW, dB)
    }

    // The last shape, with few channels and many tile rows, takes the per-thread path on two threads with
    // several chunks per thread (tiny chunks); the others the shared-chunk path.
    @Test(arguments: [(2, 10, 6, 5, 7), (1, 7, 9, 17, 64), (3, 8, 8, 70, 130), (2, 13, 11, 3, 16), (3, 16, 40, 4, 6)],
          ConvAlgorithm.allCases)
    func weightGradientMatchesReference(_ dims: (Int, Int, Int, Int, Int), algorithm: ConvAlgorithm) {
        let (batch, h, w, cin, cout) = dims
        var rng = SeededRandom(seed: UInt64(h * 31 + cin))
        let x = randomFloats(batch * h * w * cin, &rng)
        let g = randomFloats(batch * h * w * cout, &rng)
        let reference = Self.referenceWeightGradient(x, g, batch: batch, h: h, w: w, cin: cin, cout: cout)
        for threads in [1, 2] { for chunking in [Chunking.inference, tinyChunks] {
            // NaN-filled: every element must be written (not accumulated onto whatever was there).
            let dW = FloatBuffer(count: 9 * cin * cout)
            for i in 0..<dW.count { dW[i] = .nan }
            let dB = FloatBuffer(count: cout)
            let scratch = FloatBuffer(count: 36 * cin * cout)
            x.withUnsafeBufferPointer { xp in
                g.withUnsafeBufferPointer { gp in
                    ConvBackward.weightGradient(algorithm: algorithm, input: xp.baseAddress!,
                                                shape: ActivationShape(batch: batch, height: h, width: w, channels: cin),
                                                cout: cout, gradOut: gp.baseAddress!, kernelGradient: dW.pointer,
                                                biasGradient: dB.pointer, winogradScratch: scratch,
                                                workspace: Workspace(threads: ComputeThreads(threads), chunking: chunking))
                }
            }
            // Sums of up to 2*13*11 products of unit-scale values: float32 rounding ~1e-6 relative; F(4x4)'s
            // transforms amplify it ~10x (as in the forward pass).
            let tolerance = algorithm == .winograd4 ? 3e-5 : 3e-6
            #expect(!dW.toArray().contains { $0.isNaN }, "threads \(threads), \(chunking)")
            #expect(relativeMaxError(dW.toArray(), reference.kernel) <= tolerance, "threads \(threads), \(chunking)")
            #expect(relativeMaxError(dB.toArray(), reference.bias) <= 1e-6)
        } }
    }

    /// Loss used for the network checks: binary cross-entropy on logits, mean over the batch.
    static func loss(_ logits: [Float], labels: [Float]) -> Double {
        var sum = 0.0
        for (logit, label) in zip(logits, labels) {
            let z = Double(logit), y = Double(label)
            let softplus: Double = log1p(exp(-abs(z)))
            sum += max(z, 0) - z * y + softplus
        }
        return sum / Double(logits.count)
    }

    static func lossGradient(_ logits: [Float], labels: [Float]) -> [Float] {
        zip(logits, labels).map { z, y in (sigmoid(z) - y) / Float(logits.count) }
    }

    /// Directional derivatives of the loss along random directions, one layer at a time, against the
    /// backpropagated gradient: (L(p + e d) - L(p - e d)) / 2e versus <grad, d>, on the reference plan.
    @Test func networkGradientsMatchFiniteDifferences() {
        let side = 32, batch = 2
        let parameters = randomParameters(seed: 21)
        let net = TrainableNetwork(parameters: parameters, firstTrainable: 0, plan: .reference, maxBatch: batch, side: side,
                                   threads: ComputeThreads(2))
        var rng = SeededRandom(seed: 3)
        let images = randomFloats(batch * side * side * 3, &rng, scale: 60)
        let labels: [Float] = [1, 0]
        func currentLoss() -> Double {
            images.withUnsafeBufferPointer { Self.loss(net.forward($0.baseAddress!, count: batch), labels: labels) }
        }
        let logits = images.withUnsafeBufferPointer { net.forward($0.baseAddress!, count: batch) }
        net.backward(logitGradients: Self.lossGradient(logits, labels: labels))
        for (i, p) in parameters.conv.enumerated() {
            let grad = net.gradients.conv[i]!
            let direction = randomFloats(p.kernel.count, &rng)
            let biasDirection = randomFloats(p.bias.count, &rng)
            let analytic = zip(grad.kernel.toArray(), direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                + zip(grad.bias.toArray(), biasDirection).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            // Step 1e-4 of the weights' scale: measured on this network, 1e-2 and 1e-3 steps flip enough ReLUs and
            // pooling maxima to move early-layer estimates by 10-50%; 1e-4 agrees within 3% and is still far
            // above float32 noise of the loss.
            let scale = p.kernel.toArray().reduce(0) { max($0, abs($1)) }
            let eps = Double(scale) * 1e-4
            let saved = p.kernel.toArray(), savedBias = p.bias.toArray()
            func shift(_ t: Double) {
                for k in 0..<p.kernel.count { p.kernel[k] = saved[k] + Float(t) * direction[k] }
                for k in 0..<p.bias.count { p.bias[k] = savedBias[k] + Float(t) * biasDirection[k] }
                net.parametersDidChange()
            }
            shift(eps)
            let plus = currentLoss()
            shift(-eps)
            let minus = currentLoss()
            shift(0)
            let numeric = (plus - minus) / (2 * eps)
            // A wrong transform, sign, flip or index is off by far more than 4%.
            #expect(abs(numeric - analytic) <= 0.04 * abs(analytic) + 1e-4, "\(p.spec.name): numeric \(numeric), analytic \(analytic)")
        }
        // Head.
        let head = parameters.head
        let direction = randomFloats(VGG16.featureCount, &rng)
        let analytic = zip(net.gradients.headKernel, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } + Double(net.gradients.headBias)
        let eps = 1e-3
        parameters.head = DenseHead(kernel: zip(head.kernel, direction).map { $0 + Float(eps) * $1 }, bias: head.bias + Float(eps))
        let plus = currentLoss()
        parameters.head = DenseHead(kernel: zip(head.kernel, direction).map { $0 - Float(eps) * $1 }, bias: head.bias - Float(eps))
        let minus = currentLoss()
        parameters.head = head
        #expect(abs((plus - minus) / (2 * eps) - analytic) <= 0.01 * abs(analytic) + 1e-6)
    }

    /// Winograd plans compute the same function as im2col up to rounding, so their backpropagated gradients
    /// must agree with the reference plan's layer by layer.
    @Test(arguments: [ExecutionPlan.training, .uniform(.winograd2)])
    func winogradGradientsMatchTheReferencePlan(plan: ExecutionPlan) {
        let side = 32, batch = 3
        let parameters = randomParameters(seed: 23)
        var rng = SeededRandom(seed: 5)
        let images = randomFloats(batch * side * side * 3, &rng, scale: 60)
        let g: [Float] = [0.4, -0.2, 0.1]
        var results: [[[Float]]] = []
        for p in [ExecutionPlan.reference, plan] {
            let net = TrainableNetwork(parameters: parameters, firstTrainable: 0, plan: p, maxBatch: batch, side: side, threads: ComputeThreads(2))
            _ = images.withUnsafeBufferPointer { net.forward($0.baseAddress!, count: batch) }
            net.backward(logitGradients: g)
            results.append(net.gradients.conv.map { $0!.kernel.toArray() })
        }
        for (i, layer) in VGG16.convLayers.enumerated() {
            let error = relativeMaxError(results[1][i], results[0][i].map(Double.init))
            // Measured: at most 6e-6 (F4) and 1.5e-6 (F2). A wrong backward transform gives errors of order 1.
            #expect(error <= 1e-4, "\(layer.name): \(error)")
        }
    }

    /// Freezing a prefix changes nothing about the gradients of the layers that still train.
    @Test func frozenPrefixGivesTheSameGradients() {
        let side = 32, batch = 2
        let parameters = randomParameters(seed: 22)
        var rng = SeededRandom(seed: 4)
        let images = randomFloats(batch * side * side * 3, &rng, scale: 60)
        let all = TrainableNetwork(parameters: parameters, firstTrainable: 0, plan: .reference, maxBatch: batch, side: side, threads: ComputeThreads(2))
        let tail = TrainableNetwork(parameters: parameters, firstTrainable: 10, plan: .reference, maxBatch: batch, side: side, threads: ComputeThreads(2))
        let headOnly = TrainableNetwork(parameters: parameters, firstTrainable: nil, plan: .reference, maxBatch: batch, side: side, threads: ComputeThreads(2))
        let g: [Float] = [0.3, -0.7]
        for net in [all, tail, headOnly] {
            _ = images.withUnsafeBufferPointer { net.forward($0.baseAddress!, count: batch) }
            net.backward(logitGradients: g)
        }
        for i in 10..<13 {
            #expect(all.gradients.conv[i]!.kernel.toArray() == tail.gradients.conv[i]!.kernel.toArray())
        }
        #expect(tail.gradients.conv[9] == nil)
        #expect(all.gradients.headKernel == headOnly.gradients.headKernel)
    }

    /// Validation's lean pass gives exactly the training pass's logits, and leaves training unaffected.
    @Test(arguments: [nil, 0, 7] as [Int?])
    func inferMatchesForward(firstTrainable: Int?) {
        let side = 32, batch = 3
        let parameters = randomParameters(seed: 24)
        var rng = SeededRandom(seed: 6)
        let images = randomFloats(batch * side * side * 3, &rng, scale: 60)
        let other = randomFloats(batch * side * side * 3, &rng, scale: 60)
        let net = TrainableNetwork(parameters: parameters, firstTrainable: firstTrainable, plan: .training, maxBatch: batch,
                                   side: side, threads: ComputeThreads(2))
        let kept = images.withUnsafeBufferPointer { net.forward($0.baseAddress!, count: batch) }
        net.backward(logitGradients: [0.5, -0.25, 0.125])
        let before = net.gradients.conv.map { $0?.kernel.toArray() }
        let lean = images.withUnsafeBufferPointer { net.infer($0.baseAddress!, count: batch) }
        #expect(lean == kept)
        // Different images through `infer`, then the same step again: the same gradients.
        _ = other.withUnsafeBufferPointer { net.infer($0.baseAddress!, count: 2) }
        _ = images.withUnsafeBufferPointer { net.forward($0.baseAddress!, count: batch) }
        net.backward(logitGradients: [0.5, -0.25, 0.125])
        #expect(net.gradients.conv.map { $0?.kernel.toArray() } == before)
    }
}
