import Foundation
import NeuralNet
import Support
import TestSupport
import Testing

/// Backpropagation checked two ways: the weight gradient of one convolution against a float64 reference
/// (exact up to float32 rounding), and the whole network's gradients against finite differences of the loss.
@Suite struct GradientTests {
    /// float64 reference: dW[ky][kx][ci][co] = sum_p x[p + k - 1][ci] * g[p][co]; dB[co] = sum_p g[p][co].
    static func referenceWeightGradient(
        _ x: [Float], _ g: [Float], batch: Int, h: Int, w: Int, cin: Int, cout: Int
    )
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
    @Test(
        arguments: [(2, 10, 6, 5, 7), (1, 7, 9, 17, 64), (3, 8, 8, 70, 130), (2, 13, 11, 3, 16), (3, 16, 40, 4, 6)],
        ConvAlgorithm.allCases)
    func weightGradientMatchesReference(_ dims: (Int, Int, Int, Int, Int), algorithm: ConvAlgorithm) {
        let (batch, h, w, cin, cout) = dims
        var rng = SeededRandom(seed: UInt64(h * 31 + cin))
        let x = randomFloats(batch * h * w * cin, &rng)
        let g = randomFloats(batch * h * w * cout, &rng)
        let reference = Self.referenceWeightGradient(x, g, batch: batch, h: h, w: w, cin: cin, cout: cout)
        for threads in [1, 2] {
            for chunking in [Chunking.inference, tinyChunks] {
                // NaN-filled: every element must be written (not accumulated onto whatever was there).
                let dW = FloatBuffer(count: 9 * cin * cout)
                for i in 0..<dW.count { dW[i] = .nan }
                let dB = FloatBuffer(count: cout)
                let scratch = FloatBuffer(count: 36 * cin * cout)
                x.withUnsafeBufferPointer { xp in
                    g.withUnsafeBufferPointer { gp in
                        ConvBackward.weightGradient(
                            algorithm: algorithm, input: xp.baseAddress!,
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
                #expect(
                    relativeMaxError(dW.toArray(), reference.kernel) <= tolerance, "threads \(threads), \(chunking)")
                #expect(relativeMaxError(dB.toArray(), reference.bias) <= 1e-6)
            }
        }
    }

    /// Loss used for the network checks: binary cross-entropy on logits, mean over the batch.
    static func loss(_ logits: [Double], labels: [Double]) -> Double {
        var sum = 0.0
        for (z, y) in zip(logits, labels) {
            let softplus: Double = log1p(exp(-abs(z)))
            sum += max(z, 0) - z * y + softplus
        }
        return sum / Double(logits.count)
    }

    static func lossGradient(_ logits: [Double], labels: [Double]) -> [Double] {
        zip(logits, labels).map { z, y in (1 / (1 + exp(-z)) - y) / Double(logits.count) }
    }

    /// The float64 reference's backward pass is the derivative of its forward pass: directional derivatives
    /// along random directions, one layer at a time, against central differences.
    ///
    /// The ReLU and pooling decisions are held at those of the unperturbed pass, so each logit is exactly
    /// linear in one layer's parameters and its central difference is exact up to float64 rounding; the loss's
    /// derivative along the direction is then `sum_n dL/dlogit_n * dlogit_n`. Without fixed decisions, a step
    /// of 1e-4 of the weights' scale moves 12 to 49 decisions per layer on this network (measured), and a
    /// float32 difference quotient is dominated by rounding: the loss moves by ~2e-4 while float32 evaluates it
    /// to ~2e-5. That made the former float32 version of this test depend on the CPU's GEMM kernel (issue 10).
    @Test func referenceBackwardMatchesFiniteDifferences() {
        let side = 32, batch = 2
        var rng = SeededRandom(seed: 3)
        let reference = ReferenceNetwork(randomParameters(seed: 21))
        let images = randomFloats(batch * side * side * 3, &rng, scale: 60).map(Double.init)
        let base = reference.forward(images, batch: batch, side: side)
        let g = Self.lossGradient(base.logits, labels: [1, 0])
        let gradients = reference.backward(base, logitGradients: g)
        func check(_ name: String, analytic: Double, shift: (inout ReferenceNetwork, Double) -> Void, eps: Double) {
            var plus = reference, minus = reference
            shift(&plus, eps)
            shift(&minus, -eps)
            let logitsPlus = plus.forward(images, batch: batch, side: side, decisions: base.decisions).logits
            let logitsMinus = minus.forward(images, batch: batch, side: side, decisions: base.decisions).logits
            let numeric = (0..<batch).reduce(0.0) { $0 + g[$1] * (logitsPlus[$1] - logitsMinus[$1]) / (2 * eps) }
            // Rounding of the logits (~1e-15 relative) over a step that moves them by ~1e-4 leaves ~1e-11; a
            // wrong index, sign, flip or transpose is off by order 1.
            #expect(
                abs(numeric - analytic) <= 1e-8 * abs(analytic) + 1e-12,
                "\(name): numeric \(numeric), analytic \(analytic)")
        }
        for (i, layer) in reference.layers.enumerated() {
            let direction = (0..<layer.kernel.count).map { _ in rng.uniform(-1, 1) }
            let biasDirection = (0..<layer.bias.count).map { _ in rng.uniform(-1, 1) }
            let analytic =
                zip(gradients.kernels[i], direction).reduce(0) { $0 + $1.0 * $1.1 }
                + zip(gradients.biases[i], biasDirection).reduce(0) { $0 + $1.0 * $1.1 }
            let eps = 1e-4 * layer.kernel.reduce(0) { max($0, abs($1)) }
            check(
                VGG16.convLayers[i].name, analytic: analytic,
                shift: { network, t in
                    for k in direction.indices { network.layers[i].kernel[k] += t * direction[k] }
                    for k in biasDirection.indices { network.layers[i].bias[k] += t * biasDirection[k] }
                }, eps: eps)
        }
        let direction = (0..<VGG16.featureCount).map { _ in rng.uniform(-1, 1) }
        let analytic = zip(gradients.headKernel, direction).reduce(0) { $0 + $1.0 * $1.1 } + gradients.headBias
        check(
            "head", analytic: analytic,
            shift: { network, t in
                for k in direction.indices { network.headKernel[k] += t * direction[k] }
                network.headBias += t
            }, eps: 1e-4)
    }

    /// Every plan's backpropagated gradients are the float64 gradients of the function that plan evaluated.
    ///
    /// The reference runs on the engine's own ReLU and pooling decisions, so only rounding separates the two,
    /// on every CPU and OpenBLAS kernel. Comparing two float32 plans with each other is not: with this seed
    /// one block1_pool window holds two values 1.7e-9 apart (relative), below float32 resolution, and the
    /// im2col and F(4x4) plans pick different ones depending on the GEMM kernel's summation order, moving
    /// block1's gradients by 0.4-2% (issue 10: SkylakeX and Cooperlake kernels on AMD Zen 4; Prescott and
    /// Haswell happened to pick alike). Separately, the engine's decisions must be float64's wherever float64
    /// is more than 1e-4 of the layer's scale from a kink: a forward pass that took a wrong piece fails here.
    @Test(arguments: [ExecutionPlan.reference, .training, .uniform(.winograd2), .fast])
    func engineGradientsMatchTheFloat64Backward(plan: ExecutionPlan) {
        let side = 32, batch = 3
        let parameters = randomParameters(seed: 23)
        var rng = SeededRandom(seed: 5)
        let images = randomFloats(batch * side * side * 3, &rng, scale: 60)
        let g: [Float] = [0.4, -0.2, 0.1]
        let net = TrainableNetwork(
            parameters: parameters, firstTrainable: 0, plan: plan, maxBatch: batch, side: side,
            threads: ComputeThreads(2))
        let logits = images.withUnsafeBufferPointer { net.forward($0.baseAddress!, count: batch) }
        net.backward(logitGradients: g)
        let decisions = ReferenceNetwork.Decisions(
            engineOutputs: VGG16.convLayers.indices.map { net.reluOutput(layer: $0)! },
            batch: batch, side: side)

        let reference = ReferenceNetwork(parameters)
        let x = images.map(Double.init)
        let pass = reference.forward(x, batch: batch, side: side, decisions: decisions)
        let exact = reference.backward(pass, logitGradients: g.map(Double.init))
        // Measured: im2col 2e-6, Winograd plans up to 4.8e-5 (F(4x4)'s transforms amplify rounding).
        let im2colOnly = plan.algorithms.allSatisfy { $0 == .im2col }
        #expect(relativeMaxError(logits, pass.logits) <= (im2colOnly ? 1e-5 : 2e-4))
        for (i, layer) in VGG16.convLayers.enumerated() {
            // Measured on this network: im2col 1.1e-6, F(2x2) and F(4x4) up to 1.5e-5 (their transforms amplify
            // rounding, as in the forward pass). A wrong transform, flip or index gives errors of order 1.
            let tolerance = im2colOnly ? 1e-5 : 1e-4
            let kernelError = relativeMaxError(net.gradients.conv[i]!.kernel.toArray(), exact.kernels[i])
            let biasError = relativeMaxError(net.gradients.conv[i]!.bias.toArray(), exact.biases[i])
            #expect(
                kernelError <= tolerance && biasError <= tolerance,
                "\(layer.name): kernel \(kernelError), bias \(biasError)")
        }
        #expect(relativeMaxError(net.gradients.headKernel, exact.headKernel) <= 1e-5)

        let free = reference.forward(x, batch: batch, side: side)
        let nearKinks = ReferenceNetwork.nearKinks(free, margin: 1e-4)
        for (i, differences) in decisions.differences(from: free.decisions).enumerated() {
            #expect(
                differences.isSubset(of: nearKinks[i]),
                "\(VGG16.convLayers[i].name): \(differences) differ from float64, \(nearKinks[i]) near a kink")
        }
    }

    /// Freezing a prefix changes nothing about the gradients of the layers that still train.
    @Test func frozenPrefixGivesTheSameGradients() {
        let side = 32, batch = 2
        let parameters = randomParameters(seed: 22)
        var rng = SeededRandom(seed: 4)
        let images = randomFloats(batch * side * side * 3, &rng, scale: 60)
        let all = TrainableNetwork(
            parameters: parameters, firstTrainable: 0, plan: .reference, maxBatch: batch, side: side,
            threads: ComputeThreads(2))
        let tail = TrainableNetwork(
            parameters: parameters, firstTrainable: 10, plan: .reference, maxBatch: batch, side: side,
            threads: ComputeThreads(2))
        let headOnly = TrainableNetwork(
            parameters: parameters, firstTrainable: nil, plan: .reference, maxBatch: batch, side: side,
            threads: ComputeThreads(2))
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
        let net = TrainableNetwork(
            parameters: parameters, firstTrainable: firstTrainable, plan: .training, maxBatch: batch,
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
