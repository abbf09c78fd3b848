import CKernels
import Support

/// Gradients of the trainable parameters after one backward pass: conv layers from `firstTrainable` on,
/// and the head. Conv entries of frozen layers are nil.
public final class Gradients: @unchecked Sendable {
    public let conv: [ConvParameters?]
    public var headKernel: [Float]
    public var headBias: Float

    init(firstTrainable: Int?) {
        conv = VGG16.convLayers.enumerated().map { i, spec in
            guard let first = firstTrainable, i >= first else { return nil }
            return ConvParameters(spec: spec)
        }
        headKernel = [Float](repeating: 0, count: VGG16.featureCount)
        headBias = 0
    }
}

/// The classifier set up for training: forward passes that keep what backpropagation needs, and backward
/// passes that produce gradients of every trainable parameter.
///
/// Layers before `firstTrainable` are frozen: they run like inference and keep nothing. From
/// `firstTrainable` on, every convolution keeps its ReLU output (and pooled output) for the backward pass.
/// Backpropagation through a convolution uses the same engine as the forward pass: the input gradient is a
/// convolution of the output gradient with the rotated, transposed kernel; the weight gradient is computed in
/// the Winograd domain (or by im2col for im2col layers), accumulating over all tiles of the batch.
public final class TrainableNetwork: @unchecked Sendable {
    public let parameters: VGG16Parameters
    /// Index of the first trainable convolution, or nil when only the head trains.
    public let firstTrainable: Int?
    public let plan: ExecutionPlan
    public let maxBatch: Int
    public let side: Int
    let workspace: Workspace
    private let kernels: [ConvKernel]
    private let backKernels: [ConvKernel?]
    private let flipScratch: FloatBuffer
    /// Per trainable layer: ReLU outputs and pooled outputs.
    private var outputs: [FloatBuffer?]
    private var pooledOutputs: [FloatBuffer?]
    /// Input of the first trainable layer.
    private let firstInput: FloatBuffer
    private let gradA: FloatBuffer
    private let gradB: FloatBuffer
    private var features: [Float]
    private var batch = 0
    /// Whether the last forward pass kept what `backward` needs.
    private var keptForBackward = false
    public let gradients: Gradients
    /// Winograd-domain weight gradient, reused layer by layer.
    private var winogradGradient = FloatBuffer(count: 0)
    /// When non-nil, wall time (seconds) is added here per stage: "forward", "pool backward",
    /// "weight gradient <layer>", "input gradient <layer>", "prepare weights".
    public var stageSeconds: [String: Double]?

    private func timed<T>(_ stage: String, _ body: () -> T) -> T {
        guard stageSeconds != nil else { return body() }
        let start = MonotonicClock.now()
        let result = body()
        stageSeconds![stage, default: 0] += MonotonicClock.now() - start
        return result
    }

    public init(
        parameters: VGG16Parameters, firstTrainable: Int?, plan: ExecutionPlan, maxBatch: Int,
        side: Int = VGG16.inputSize, threads: ComputeThreads
    ) {
        precondition(maxBatch >= 1 && side % 32 == 0)
        precondition(firstTrainable.map { (0..<VGG16.convLayers.count).contains($0) } ?? true)
        self.parameters = parameters
        self.firstTrainable = firstTrainable
        self.plan = plan
        self.maxBatch = maxBatch
        self.side = side
        workspace = Workspace(threads: threads, chunking: .training)
        flipScratch = FloatBuffer(count: 9 * 512 * 512)
        kernels = zip(parameters.conv, plan.algorithms).map { p, algorithm in
            ConvKernel(hwio: p.kernel.pointer, cin: p.spec.cin, cout: p.spec.cout, algorithm: algorithm)
        }
        let scratch = flipScratch
        backKernels = VGG16.convLayers.indices.map { i in
            guard let first = firstTrainable, i > first else { return nil }
            return ConvKernel.inputGradient(
                ofHWIO: parameters.conv[i].kernel.pointer, cin: parameters.conv[i].spec.cin,
                cout: parameters.conv[i].spec.cout, algorithm: plan.algorithms[i], scratch: scratch)
        }
        var outputs: [FloatBuffer?] = []
        var pooled: [FloatBuffer?] = []
        var h = side
        var firstInputFloats = side * side * 3
        var largest = side * side * 3
        for (i, layer) in VGG16.convLayers.enumerated() {
            let trainable = firstTrainable.map { i >= $0 } ?? false
            if i == firstTrainable { firstInputFloats = h * h * layer.cin }
            largest = max(largest, h * h * layer.cout)
            outputs.append(trainable ? FloatBuffer(count: maxBatch * h * h * layer.cout) : nil)
            if layer.poolAfter { h /= 2 }
            pooled.append(trainable && layer.poolAfter ? FloatBuffer(count: maxBatch * h * h * layer.cout) : nil)
        }
        self.outputs = outputs
        pooledOutputs = pooled
        firstInput = FloatBuffer(count: maxBatch * firstInputFloats)
        gradA = FloatBuffer(count: maxBatch * largest)
        gradB = FloatBuffer(count: maxBatch * largest)
        features = [Float](repeating: 0, count: maxBatch * VGG16.featureCount)
        gradients = Gradients(firstTrainable: firstTrainable)
    }

    /// Re-prepares the kernels after the parameters changed (call after every optimizer step).
    public func parametersDidChange() {
        timed("prepare weights") { prepareWeights() }
    }

    private func prepareWeights() {
        for i in VGG16.convLayers.indices where firstTrainable.map({ i >= $0 }) ?? false {
            kernels[i].update(hwio: parameters.conv[i].kernel.pointer, threads: workspace.threads)
            backKernels[i]?.updateAsInputGradient(
                ofHWIO: parameters.conv[i].kernel.pointer, scratch: flipScratch,
                threads: workspace.threads)
        }
    }

    /// Bytes held by activations, gradients, prepared weights and scratch (parameters excluded).
    public var memoryBytes: Int {
        var floats = firstInput.count + gradA.count + gradB.count + workspace.floatCount + winogradGradient.count
        floats += outputs.reduce(0) { $0 + ($1?.count ?? 0) } + pooledOutputs.reduce(0) { $0 + ($1?.count ?? 0) }
        floats +=
            kernels.reduce(0) { $0 + $1.prepared.count } + backKernels.reduce(0) { $0 + ($1?.prepared.count ?? 0) }
        floats += gradients.conv.reduce(0) { $0 + ($1.map { $0.kernel.count + $0.bias.count } ?? 0) }
        return floats * MemoryLayout<Float>.stride
    }

    /// Runs `count` images `[count][side][side][3]` forward, keeping what `backward` needs.
    /// Returns the logits; the GAP features are available through `lastFeatures`.
    public func forward(_ images: UnsafePointer<Float>, count: Int) -> [Float] {
        timed("forward") { forwardPass(images, count: count, keep: true) }
    }

    /// Logits of `count` images with the current parameters, keeping nothing for backpropagation (each layer
    /// writes only what the next one reads): for validation between training epochs. A following `backward`
    /// needs another `forward` first.
    public func infer(_ images: UnsafePointer<Float>, count: Int) -> [Float] {
        forwardPass(images, count: count, keep: false)
    }

    private func forwardPass(_ images: UnsafePointer<Float>, count: Int, keep: Bool) -> [Float] {
        precondition(count >= 1 && count <= maxBatch)
        batch = count
        keptForBackward = keep
        var shape = ActivationShape(batch: count, height: side, width: side, channels: 3)
        var source = images
        if keep && firstTrainable == 0 {
            // The backward pass of block1_conv1 needs the images; keep a copy (the caller's buffer may change).
            firstInput.copy(from: images, count: shape.floats)
            source = UnsafePointer(firstInput.pointer)
        }
        var temporaries = [gradA, gradB]
        for (i, layer) in VGG16.convLayers.enumerated() {
            let trainable = keep && (firstTrainable.map { i >= $0 } ?? false)
            let feedsFirst = keep && firstTrainable == i + 1
            let pooledSide = shape.height / 2
            let destination: UnsafeMutablePointer<Float>
            if trainable {
                destination = outputs[i]!.pointer
                kernels[i].forward(
                    source, shape: shape, bias: parameters.conv[i].bias.pointer, relu: true,
                    output: destination, pooled: pooledOutputs[i]?.pointer, workspace: workspace)
            } else {
                destination = feedsFirst ? firstInput.pointer : temporaries[i % 2].pointer
                kernels[i].forward(
                    source, shape: shape, bias: parameters.conv[i].bias.pointer, relu: true,
                    output: layer.poolAfter ? nil : destination,
                    pooled: layer.poolAfter ? destination : nil, workspace: workspace)
            }
            if layer.poolAfter {
                shape.height = pooledSide
                shape.width = pooledSide
            }
            shape.channels = layer.cout
            source = UnsafePointer(trainable && layer.poolAfter ? pooledOutputs[i]!.pointer : destination)
        }
        temporaries.removeAll()
        let pixels = shape.height * shape.width
        let head = parameters.head
        return features.withUnsafeMutableBufferPointer { f in
            (0..<count).map { n in
                dd_global_average_pool(
                    source + n * shape.imageFloats, pixels, Int32(shape.channels),
                    f.baseAddress! + n * VGG16.featureCount)
                return head.logit(
                    UnsafeBufferPointer(rebasing: f[(n * VGG16.featureCount)..<((n + 1) * VGG16.featureCount)]))
            }
        }
    }

    /// GAP features of image `n` of the last forward pass.
    public func lastFeatures(_ n: Int) -> [Float] {
        precondition(n < batch)
        return Array(features[(n * VGG16.featureCount)..<((n + 1) * VGG16.featureCount)])
    }

    /// The ReLU output (`[batch][h][w][cout]`, before pooling) of conv layer `i` in the last forward pass, for
    /// trainable layers; nil for frozen ones. Which elements are positive, and which is each pooling window's
    /// maximum, are the decisions the backward pass follows (tests rebuild the exact gradient from them).
    public func reluOutput(layer i: Int) -> [Float]? {
        precondition(keptForBackward, "the last pass was `infer`, which keeps nothing")
        guard let output = outputs[i] else { return nil }
        var h = side
        for layer in VGG16.convLayers.prefix(i) where layer.poolAfter { h /= 2 }
        return Array(UnsafeBufferPointer(start: output.pointer, count: batch * h * h * VGG16.convLayers[i].cout))
    }

    /// Backpropagates `dLoss/dLogit` for each image of the last forward pass into `gradients`
    /// (overwritten, not accumulated).
    public func backward(logitGradients: [Float]) {
        precondition(keptForBackward, "backward needs a forward pass (not infer) first")
        precondition(logitGradients.count == batch, "one gradient per image of the last forward pass")
        let head = parameters.head
        // Head: dW = sum_n f_n * g_n, db = sum_n g_n, df_n = g_n * w.
        var dW = [Double](repeating: 0, count: VGG16.featureCount)
        var dB = 0.0
        for n in 0..<batch {
            let g = Double(logitGradients[n])
            dB += g
            for j in 0..<VGG16.featureCount { dW[j] += Double(features[n * VGG16.featureCount + j]) * g }
        }
        gradients.headKernel = dW.map { Float($0) }
        gradients.headBias = Float(dB)
        guard let first = firstTrainable else { return }

        // GAP backward into the gradient of block5_pool.
        let last = VGG16.convLayers.count - 1
        let lastSide = side / 32
        let pixels = lastSide * lastSide
        var current = gradA
        var other = gradB
        for n in 0..<batch {
            for p in 0..<pixels {
                for c in 0..<VGG16.featureCount {
                    current[(n * pixels + p) * VGG16.featureCount + c] =
                        logitGradients[n] * head.kernel[c] / Float(pixels)
                }
            }
        }
        var h = lastSide
        for i in stride(from: last, through: first, by: -1) {
            let layer = VGG16.convLayers[i]
            let output = outputs[i]!
            if layer.poolAfter {
                // current holds d(pooled); route it to the window maxima of the conv output.
                let fullSide = h * 2
                let imageFloats = fullSide * fullSide * layer.cout
                let pooledFloats = imageFloats / 4
                let (src, dst) = (current, other)
                timed("pool backward") {
                    workspace.threads.forEach(batch) { n, _ in
                        dd_maxpool2x2_backward(
                            output.pointer + n * imageFloats, src.pointer + n * pooledFloats,
                            Int32(fullSide), Int32(fullSide), Int32(layer.cout), dst.pointer + n * imageFloats)
                    }
                }
                swap(&current, &other)
                h = fullSide
            }
            // The ReLU derivative is already in `current`: folded into the pooling backward above, or
            // applied as a mask by the input-gradient convolution of the layer above.
            let input: UnsafePointer<Float> =
                i == first
                ? UnsafePointer(firstInput.pointer)
                : UnsafePointer(
                    VGG16.convLayers[i - 1].poolAfter ? pooledOutputs[i - 1]!.pointer : outputs[i - 1]!.pointer)
            let inputShape = ActivationShape(batch: batch, height: h, width: h, channels: layer.cin)
            timed("weight gradient \(layer.name)") {
                weightGradient(layer: i, input: input, shape: inputShape, gradOut: UnsafePointer(current.pointer))
            }
            if let back = backKernels[i] {
                let source = current, destination = other
                // The input of this layer is the output of the one below; unless that one pools, its ReLU
                // derivative masks the gradient right here.
                let below = VGG16.convLayers[i - 1]
                let mask = below.poolAfter ? nil : UnsafePointer(outputs[i - 1]!.pointer)
                timed("input gradient \(layer.name)") {
                    back.forward(
                        source.pointer, shape: ActivationShape(batch: batch, height: h, width: h, channels: layer.cout),
                        bias: nil, relu: false, output: destination.pointer, pooled: nil, workspace: workspace,
                        mask: mask)
                }
                swap(&current, &other)
            }
        }
    }

    /// dW and dB of layer `i` from its input and its (ReLU-masked) output gradient.
    private func weightGradient(
        layer i: Int, input: UnsafePointer<Float>, shape: ActivationShape,
        gradOut: UnsafePointer<Float>
    ) {
        let grad = gradients.conv[i]!
        let spec = VGG16.convLayers[i]
        let a = plan.algorithms[i].tile + 2
        if plan.algorithms[i] != .im2col, winogradGradient.count < a * a * spec.cin * spec.cout {
            winogradGradient = FloatBuffer(count: a * a * spec.cin * spec.cout)
        }
        ConvBackward.weightGradient(
            algorithm: plan.algorithms[i], input: input, shape: shape, cout: spec.cout,
            gradOut: gradOut, kernelGradient: grad.kernel.pointer, biasGradient: grad.bias.pointer,
            winogradScratch: winogradGradient, workspace: workspace)
    }
}
