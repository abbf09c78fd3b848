import Imaging
import Logging
import NeuralNet
import Support

/// Everything that decides what training does. Defaults follow the tutorial's recipe, plus fine-tuning.
public struct TrainingRecipe: Sendable, Equatable {
    /// Images per step.
    public var batchSize = 8
    /// Steps per epoch (Keras's `steps_per_epoch`); batches run on from epoch to epoch.
    public var stepsPerEpoch = 12
    /// Epochs with the conv base frozen (phase 1).
    public var epochs = 20
    /// RMSprop for phase 1.
    public var learningRate = 1e-3
    public var rho = 0.9
    public var epsilon = 1e-7
    /// Epochs with the base unfrozen (phase 2); 0 skips fine-tuning.
    public var fineTuneEpochs = 10
    /// RMSprop learning rate for phase 2 (a fresh optimizer, as after Keras's re-compile).
    public var fineTuneLearningRate = 1e-5
    /// First conv layer that trains in phase 2 ("block1_conv1" unfreezes the whole base).
    public var fineTuneFrom = "block1_conv1"
    /// Augmentation of training images (validation images are never augmented).
    public var augmentation = Augmentation.tutorial
    /// Seed of every random choice (head initialisation, shuffling, augmentation).
    public var seed: UInt64 = 1

    public init() {}

    /// The settings as ordered key/value pairs, for the manifest and the report.
    public var summary: [(String, String)] {
        [
            ("batch size", "\(batchSize)"), ("steps per epoch", "\(stepsPerEpoch)"),
            ("phase 1", "\(epochs) epochs, RMSprop lr \(learningRate), rho \(rho), epsilon \(epsilon), base frozen"),
            (
                "phase 2",
                fineTuneEpochs == 0
                    ? "skipped" : "\(fineTuneEpochs) epochs from \(fineTuneFrom), RMSprop lr \(fineTuneLearningRate)"
            ),
            (
                "augmentation",
                augmentation == .none
                    ? "none"
                    : "rotation \(augmentation.rotationRange) deg, zoom \(augmentation.zoomRange), shifts \(augmentation.widthShiftRange)/\(augmentation.heightShiftRange), horizontal flip \(augmentation.horizontalFlip ? "on" : "off")"
            ),
            ("seed", "\(seed)"),
        ]
    }
}

/// Progress of a training run, for a terminal, a log, or a test.
public protocol TrainingObserver: AnyObject {
    func phaseStarted(_ phase: String, epochs: Int)
    func epochStarted(phase: String, epoch: Int, of epochs: Int)
    /// After each step: the epoch's running mean loss and accuracy so far.
    func stepFinished(step: Int, of steps: Int, loss: Double, accuracy: Double, elapsed: Double)
    func epochFinished(_ record: EpochRecord)
}

/// What a training run produced.
public struct TrainingResult: @unchecked Sendable {
    public var parameters: VGG16Parameters
    public var epochs: [EpochRecord]
    /// Final scores of the validation images.
    public var validation: [ScoredImage]
    /// Wall time of each phase, in seconds.
    public var phaseSeconds: [String: Double]
}

/// Transfer learning of the door's classifier: a new Dense(1) head on the frozen VGG16 base (phase 1), then
/// the base unfrozen at a low learning rate (phase 2), both with binary cross-entropy on logits.
public final class Trainer {
    public let recipe: TrainingRecipe
    public let preprocessor: Preprocessor
    public let training: ImageSet
    public let validation: ImageSet
    public let threads: ComputeThreads
    private let logger: Logger
    private var parameters: VGG16Parameters
    private var stream: BatchStream
    private var samplesDrawn: UInt64 = 0

    /// - Parameters:
    ///   - base: the pretrained conv base (its head is replaced by a freshly initialised one).
    public init(
        recipe: TrainingRecipe, preprocessor: Preprocessor, training: ImageSet, validation: ImageSet,
        base: VGG16Parameters, threads: ComputeThreads, logger: Logger = Logger(label: "dogdoor-train")
    ) {
        self.recipe = recipe
        self.preprocessor = preprocessor
        self.training = training
        self.validation = validation
        self.threads = threads
        self.logger = logger
        parameters = base
        var rng = SeededRandom(seed: recipe.seed)
        // Keras's Dense default: Glorot-uniform kernel, zero bias.
        let limit = (6.0 / Double(VGG16.featureCount + 1)).squareRoot()
        parameters.head = DenseHead(
            kernel: (0..<VGG16.featureCount).map { _ in Float(rng.uniform(-limit, limit)) }, bias: 0)
        stream = BatchStream(count: training.count, batchSize: recipe.batchSize, random: rng.split())
    }

    /// Runs both phases.
    public func run(observer: TrainingObserver?) throws -> TrainingResult {
        var records: [EpochRecord] = []
        var phaseSeconds: [String: Double] = [:]
        let labels = (0..<validation.count).map { Float(validation.files[$0].isPositive ? 1 : 0) }

        // Phase 1: frozen base. Validation features never change, so they are computed once.
        var start = MonotonicClock.now()
        observer?.phaseStarted("frozen", epochs: recipe.epochs)
        let extractor = try VGG16FeatureExtractor(
            weights: parameters, plan: .training, threads: threads, chunking: .training)
        let validationFeatures = features(of: validation, extractor: extractor)
        let headOptimizer = RMSprop(
            learningRate: Float(recipe.learningRate), rho: Float(recipe.rho), epsilon: Float(recipe.epsilon))
        let batch = FloatBuffer(count: recipe.batchSize * preprocessor.valueCount)
        var featureBuffer = [Float](repeating: 0, count: recipe.batchSize * VGG16.featureCount)
        for epoch in 1...max(1, recipe.epochs) where recipe.epochs > 0 {
            let epochStart = MonotonicClock.now()
            observer?.epochStarted(phase: "frozen", epoch: epoch, of: recipe.epochs)
            var lossSum = 0.0, correct = 0.0, seen = 0
            for step in 1...recipe.stepsPerEpoch {
                let (indices, targets) = nextBatch(into: batch)
                featureBuffer.withUnsafeMutableBufferPointer { f in
                    extractor.extract(
                        batch.pointer, batch: indices.count, side: preprocessor.side, features: f.baseAddress!)
                }
                let rows = (0..<indices.count).map { Array(featureBuffer[($0 * 512)..<(($0 + 1) * 512)]) }
                let logits = rows.map { parameters.head.logit($0) }
                let dLogits = BinaryCrossEntropy.gradient(logits: logits, labels: targets)
                var dW = [Double](repeating: 0, count: VGG16.featureCount)
                var dB = 0.0
                for (row, g) in zip(rows, dLogits) {
                    dB += Double(g)
                    for j in 0..<VGG16.featureCount { dW[j] += Double(row[j]) * Double(g) }
                }
                headOptimizer.update(&parameters.head, kernelGradient: dW.map { Float($0) }, biasGradient: Float(dB))
                headOptimizer.step()
                lossSum += BinaryCrossEntropy.loss(logits: logits, labels: targets)
                correct += BinaryCrossEntropy.accuracy(logits: logits, labels: targets) * Double(indices.count)
                seen += indices.count
                observer?.stepFinished(
                    step: step, of: recipe.stepsPerEpoch, loss: lossSum / Double(step),
                    accuracy: correct / Double(seen), elapsed: MonotonicClock.now() - epochStart)
            }
            let logits = validationFeatures.map { parameters.head.logit($0) }
            let record = EpochRecord(
                phase: "frozen", epoch: epoch, loss: lossSum / Double(recipe.stepsPerEpoch),
                accuracy: correct / Double(seen),
                validationLoss: BinaryCrossEntropy.loss(logits: logits, labels: labels),
                validationAccuracy: BinaryCrossEntropy.accuracy(logits: logits, labels: labels),
                seconds: MonotonicClock.now() - epochStart)
            records.append(record)
            observer?.epochFinished(record)
        }
        phaseSeconds["frozen"] = MonotonicClock.now() - start
        var validationLogits = validationFeatures.map { Double(parameters.head.logit($0)) }

        // Phase 2: fine-tuning, with a fresh optimizer over the unfrozen layers and the head.
        if recipe.fineTuneEpochs > 0 {
            guard let first = VGG16.index(of: recipe.fineTuneFrom) else {
                throw DatasetError("--fine-tune-from \(recipe.fineTuneFrom) is not a VGG16 conv layer")
            }
            start = MonotonicClock.now()
            observer?.phaseStarted("fine-tune", epochs: recipe.fineTuneEpochs)
            let network = TrainableNetwork(
                parameters: parameters, firstTrainable: first, plan: .training,
                maxBatch: recipe.batchSize, side: preprocessor.side, threads: threads)
            logger.debug("fine-tuning network memory", metadata: ["MiB": "\(network.memoryBytes >> 20)"])
            let optimizer = RMSprop(
                learningRate: Float(recipe.fineTuneLearningRate), rho: Float(recipe.rho),
                epsilon: Float(recipe.epsilon), threads: threads)
            for epoch in 1...recipe.fineTuneEpochs {
                let epochStart = MonotonicClock.now()
                observer?.epochStarted(phase: "fine-tune", epoch: epoch, of: recipe.fineTuneEpochs)
                var lossSum = 0.0, correct = 0.0, seen = 0
                for step in 1...recipe.stepsPerEpoch {
                    let (indices, targets) = nextBatch(into: batch)
                    let logits = network.forward(batch.pointer, count: indices.count)
                    network.backward(logitGradients: BinaryCrossEntropy.gradient(logits: logits, labels: targets))
                    for (i, gradient) in network.gradients.conv.enumerated() {
                        guard let gradient else { continue }
                        optimizer.update(parameters.conv[i].kernel, gradient: gradient.kernel)
                        optimizer.update(parameters.conv[i].bias, gradient: gradient.bias)
                    }
                    optimizer.update(
                        &parameters.head, kernelGradient: network.gradients.headKernel,
                        biasGradient: network.gradients.headBias)
                    optimizer.step()
                    network.parametersDidChange()
                    lossSum += BinaryCrossEntropy.loss(logits: logits, labels: targets)
                    correct += BinaryCrossEntropy.accuracy(logits: logits, labels: targets) * Double(indices.count)
                    seen += indices.count
                    observer?.stepFinished(
                        step: step, of: recipe.stepsPerEpoch, loss: lossSum / Double(step),
                        accuracy: correct / Double(seen), elapsed: MonotonicClock.now() - epochStart)
                }
                let logits = self.logits(of: validation, network: network, buffer: batch)
                validationLogits = logits.map(Double.init)
                let record = EpochRecord(
                    phase: "fine-tune", epoch: epoch, loss: lossSum / Double(recipe.stepsPerEpoch),
                    accuracy: correct / Double(seen),
                    validationLoss: BinaryCrossEntropy.loss(logits: logits, labels: labels),
                    validationAccuracy: BinaryCrossEntropy.accuracy(logits: logits, labels: labels),
                    seconds: MonotonicClock.now() - epochStart)
                records.append(record)
                observer?.epochFinished(record)
            }
            phaseSeconds["fine-tune"] = MonotonicClock.now() - start
        }
        let scores = zip(validation.files, validationLogits).map {
            ScoredImage(path: $0.path, isPositive: $0.isPositive, logit: $1)
        }
        return TrainingResult(parameters: parameters, epochs: records, validation: scores, phaseSeconds: phaseSeconds)
    }

    /// Fills `buffer` with the next training batch (augmented, centred); returns its indices and labels.
    private func nextBatch(into buffer: FloatBuffer) -> (indices: [Int], labels: [Float]) {
        let indices = stream.next()
        let floats = preprocessor.valueCount
        // Each sample's augmentation comes from its own generator, seeded by the run's seed and the sample's
        // position in the stream: the same seed gives the same images whatever the thread count.
        let first = samplesDrawn
        samplesDrawn += UInt64(indices.count)
        let seed = recipe.seed
        let augmentation = recipe.augmentation
        let side = preprocessor.side
        let centering = preprocessor.centering
        let images = training
        threads.forEach(indices.count) { slot, _ in
            var rng = SeededRandom(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ first &+ UInt64(slot))
            let parameters =
                augmentation == .none ? nil : augmentation.randomParameters(height: side, width: side, using: &rng)
            images.writeInput(
                indices[slot], augmentation: parameters, centering: centering, into: buffer.pointer + slot * floats)
        }
        return (indices, indices.map { training.files[$0].isPositive ? 1 : 0 })
    }

    /// Features of every image of `set` (not augmented).
    private func features(of set: ImageSet, extractor: VGG16FeatureExtractor) -> [[Float]] {
        let floats = preprocessor.valueCount
        let buffer = FloatBuffer(count: recipe.batchSize * floats)
        var result: [[Float]] = []
        var start = 0
        while start < set.count {
            let n = min(recipe.batchSize, set.count - start)
            for i in 0..<n {
                set.writeInput(
                    start + i, augmentation: nil, centering: preprocessor.centering, into: buffer.pointer + i * floats)
            }
            var f = [Float](repeating: 0, count: n * VGG16.featureCount)
            f.withUnsafeMutableBufferPointer {
                extractor.extract(buffer.pointer, batch: n, side: preprocessor.side, features: $0.baseAddress!)
            }
            result += (0..<n).map { Array(f[($0 * 512)..<(($0 + 1) * 512)]) }
            start += n
        }
        return result
    }

    /// Logits of every image of `set` through the network being fine-tuned (not augmented).
    private func logits(of set: ImageSet, network: TrainableNetwork, buffer: FloatBuffer) -> [Float] {
        let floats = preprocessor.valueCount
        var result: [Float] = []
        var start = 0
        while start < set.count {
            let n = min(recipe.batchSize, set.count - start)
            for i in 0..<n {
                set.writeInput(
                    start + i, augmentation: nil, centering: preprocessor.centering, into: buffer.pointer + i * floats)
            }
            result += network.infer(buffer.pointer, count: n)
            start += n
        }
        return result
    }
}

/// Keras-style batches over a training set: each pass over the data is a fresh random permutation cut into
/// batches of `batchSize`, the last one smaller when the count does not divide; steps run on across epochs.
struct BatchStream {
    let count: Int
    let batchSize: Int
    var random: SeededRandom
    private var order: [Int] = []
    private var position = 0

    init(count: Int, batchSize: Int, random: SeededRandom) {
        precondition(count > 0 && batchSize > 0)
        self.count = count
        self.batchSize = batchSize
        self.random = random
    }

    mutating func next() -> [Int] {
        if position >= order.count {
            order = random.permutation(count)
            position = 0
        }
        let end = min(order.count, position + batchSize)
        defer { position = end }
        return Array(order[position..<end])
    }
}
