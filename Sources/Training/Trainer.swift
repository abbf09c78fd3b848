import Imaging
import Logging
import NeuralNet
import Support

/// Everything that decides what training does. Defaults follow the tutorial's recipe, plus fine-tuning.
public struct TrainingRecipe: Sendable, Equatable {
    /// The recipe this one started from ("tutorial" or "stable"), for the manifest and the report.
    public var name = Name.tutorial
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
    /// What a door camera adds to training images after `augmentation`: infrared night, low light, motion
    /// blur, JPEG artefacts, the dog partly out of frame (`DoorConditions`); `.none` in the tutorial.
    public var doorConditions = DoorConditions.none
    /// Seed of every random choice (head initialisation, shuffling, augmentation).
    public var seed: UInt64 = 1
    /// Phase 1 trains the head on centred, scaled pooled features (`FeatureStandardisation`), folded into
    /// the head afterwards.
    public var standardiseFeatures = false
    /// Epochs of linear learning-rate warm-up at the start of each phase.
    public var warmupEpochs = 0
    /// Learning rate decays along a half cosine to nearly 0 at the end of each phase.
    public var cosineDecay = false
    /// Phase 1 keeps the average of the head over the ends of this many last epochs (0: the last head).
    public var averageLastEpochs = 0
    /// Phase 2 keeps the average of the trained weights over the ends of this many last epochs (0: the last).
    public var fineTuneAverageLastEpochs = 0

    /// The tutorial's recipe: its ImageDataGenerator, RMSprop at constant rates, the last weights kept.
    public init() {}

    /// The recipes by name, for `dogdoor-train --recipe`.
    public enum Name: String, CaseIterable, Sendable {
        /// The tutorial's recipe as it is (`TrainingRecipe.tutorial`).
        case tutorial
        /// The tutorial's recipe made to converge (`TrainingRecipe.stable`): steadier epochs, but less
        /// accurate on the tutorial's photos (docs/performance.md).
        case stable
        /// Blocks 3-5 adapted to the dog (`TrainingRecipe.adapted`): the default, the best measured.
        case adapted

        public var recipe: TrainingRecipe {
            switch self {
            case .tutorial: .tutorial
            case .stable: .stable
            case .adapted: .adapted
            }
        }
    }

    /// The tutorial's recipe, plus 10 epochs of fine-tuning.
    public static let tutorial = TrainingRecipe()

    /// The tutorial's recipe with what makes phase 1 converge instead of oscillate (docs/performance.md):
    /// standardised features for the head (its bias starting at the training set's log odds), one epoch of
    /// warm-up in each phase, and the weights averaged over the last epochs of each phase. A cosine decay
    /// measured worse and is left off (`--cosine-decay`). Same epochs, steps, batch size, learning rates and
    /// augmentation, so the same time per epoch. Its phase 1 swings a third as much from epoch to epoch, but
    /// over three seeds on the tutorial's photos the tutorial's recipe admitted more of Bo at the calibrated
    /// threshold.
    public static let stable: TrainingRecipe = {
        var recipe = TrainingRecipe()
        recipe.name = .stable
        recipe.standardiseFeatures = true
        recipe.warmupEpochs = 1
        recipe.averageLastEpochs = 5
        recipe.fineTuneAverageLastEpochs = 3
        return recipe
    }()

    /// The default, the best measured (docs/performance.md): phase 1 as the tutorial's, then phase 2 trains
    /// blocks 3 to 5 at 10 times the tutorial's rate for twice its epochs, along a cosine decay in both
    /// phases, and keeps the weights averaged over its last 5 epochs. The tutorial's 1e-5 over the whole base
    /// barely moves the features in 120 steps; 1e-4 on the upper blocks does, and the decay and the average
    /// keep the run from ending on one of the swings a constant 1e-4 makes. An epoch of blocks 3-5 costs about
    /// 0.7 of one over the whole base, so phase 2 takes about 1.4 times the tutorial's.
    public static let adapted: TrainingRecipe = {
        var recipe = TrainingRecipe()
        recipe.name = .adapted
        recipe.fineTuneFrom = "block3_conv1"
        recipe.fineTuneLearningRate = 1e-4
        recipe.fineTuneEpochs = 20
        recipe.cosineDecay = true
        recipe.fineTuneAverageLastEpochs = 5
        return recipe
    }()

    /// Throws unless the settings can run. Averaging more epochs than a phase has averages all of them.
    public func validate() throws(Failure) {
        guard epochs >= 0, fineTuneEpochs >= 0, stepsPerEpoch >= 1, batchSize >= 1 else {
            throw Failure("epochs must be >= 0, steps per epoch and batch size >= 1")
        }
        guard warmupEpochs >= 0, averageLastEpochs >= 0, fineTuneAverageLastEpochs >= 0 else {
            throw Failure("warm-up and averaged epochs must be >= 0")
        }
    }

    /// The settings as ordered key/value pairs, for the manifest and the report.
    public var summary: [(String, String)] {
        [
            ("recipe", name.rawValue),
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
            ("door conditions", doorConditions == .none ? "none" : doorConditions.summary),
            ("seed", "\(seed)"),
            ("head features", standardiseFeatures ? "centred and scaled (folded into the head when written)" : "raw"),
            (
                "learning rate schedule",
                (warmupEpochs > 0 ? "\(warmupEpochs) epoch warm-up, then " : "")
                    + (cosineDecay ? "cosine decay in each phase" : "constant")
            ),
            (
                "weights kept",
                "phase 1: \(Self.kept(min(averageLastEpochs, epochs))); phase 2: \(Self.kept(min(fineTuneAverageLastEpochs, fineTuneEpochs)))"
            ),
        ]
    }

    private static func kept(_ averaged: Int) -> String {
        averaged > 1 ? "average of the last \(averaged) epochs" : "last epoch's"
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
    /// Which weights were kept and why, in a sentence for the report.
    public var selection: String
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

    /// Runs both phases. Throws before any work if the recipe cannot run (`TrainingRecipe.validate`).
    public func run(observer: TrainingObserver?) throws -> TrainingResult {
        try recipe.validate()
        var records: [EpochRecord] = []
        var phaseSeconds: [String: Double] = [:]
        var kept: [String] = []
        let labels = (0..<validation.count).map { Float(validation.files[$0].isPositive ? 1 : 0) }
        let steps = recipe.stepsPerEpoch

        // Phase 1: frozen base. Validation features never change, so they are computed once.
        var start = MonotonicClock.now()
        observer?.phaseStarted("frozen", epochs: recipe.epochs)
        let extractor = try VGG16FeatureExtractor(
            weights: parameters, plan: .training, threads: threads, chunking: .training)
        let validationFeatures = features(of: validation, extractor: extractor)
        // The head trains in the space of the standardised features when the recipe asks, and is folded
        // back onto raw features (what the model file and the daemon use) after every epoch.
        let standardisation =
            recipe.standardiseFeatures && recipe.epochs > 0
            ? FeatureStandardisation(features: features(of: training, extractor: extractor)) : nil
        var head = parameters.head
        if standardisation != nil {
            // Centred features leave the class balance to the bias alone, which RMSprop moves by about its
            // learning rate per step: 240 steps could not reach the log odds of a set with 7 times more
            // photos of others than of the dog. Starting there is the usual remedy.
            let positives = Double(training.classCounts.positive), negatives = Double(training.classCounts.negative)
            head.bias = Float(log(max(positives, 0.5) / max(negatives, 0.5)))
        }
        let headOptimizer = RMSprop(
            learningRate: Float(recipe.learningRate), rho: Float(recipe.rho), epsilon: Float(recipe.epsilon))
        let headAverage = WeightAverage(layers: 0..<0)
        let headAveraged = min(recipe.averageLastEpochs, recipe.epochs)
        let batch = FloatBuffer(count: recipe.batchSize * preprocessor.valueCount)
        var featureBuffer = [Float](repeating: 0, count: recipe.batchSize * VGG16.featureCount)
        let schedule = LearningRateSchedule(
            peak: recipe.learningRate, warmupSteps: recipe.warmupEpochs * steps,
            totalSteps: max(1, recipe.epochs) * steps, cosineDecay: recipe.cosineDecay)
        for epoch in 1...max(1, recipe.epochs) where recipe.epochs > 0 {
            let epochStart = MonotonicClock.now()
            observer?.epochStarted(phase: "frozen", epoch: epoch, of: recipe.epochs)
            var lossSum = 0.0, correct = 0.0, seen = 0
            for step in 1...steps {
                headOptimizer.learningRate = Float(schedule.rate(at: (epoch - 1) * steps + step - 1))
                let (indices, targets) = nextBatch(into: batch)
                featureBuffer.withUnsafeMutableBufferPointer { f in
                    extractor.extract(
                        batch.pointer, batch: indices.count, side: preprocessor.side, features: f.baseAddress!)
                }
                let rows = (0..<indices.count).map {
                    let row = Array(featureBuffer[($0 * 512)..<(($0 + 1) * 512)])
                    return standardisation?.apply(row) ?? row
                }
                let logits = rows.map { head.logit($0) }
                let dLogits = BinaryCrossEntropy.gradient(logits: logits, labels: targets)
                var dW = [Double](repeating: 0, count: VGG16.featureCount)
                var dB = 0.0
                for (row, g) in zip(rows, dLogits) {
                    dB += Double(g)
                    for j in 0..<VGG16.featureCount { dW[j] += Double(row[j]) * Double(g) }
                }
                headOptimizer.update(&head, kernelGradient: dW.map { Float($0) }, biasGradient: Float(dB))
                headOptimizer.step()
                lossSum += BinaryCrossEntropy.loss(logits: logits, labels: targets)
                correct += BinaryCrossEntropy.accuracy(logits: logits, labels: targets) * Double(indices.count)
                seen += indices.count
                observer?.stepFinished(
                    step: step, of: steps, loss: lossSum / Double(step),
                    accuracy: correct / Double(seen), elapsed: MonotonicClock.now() - epochStart)
            }
            parameters.head = standardisation?.fold(head) ?? head
            if epoch > recipe.epochs - headAveraged { headAverage.add(parameters, threads: threads) }
            let logits = validationFeatures.map { parameters.head.logit($0) }
            let record = EpochRecord(
                phase: "frozen", epoch: epoch, loss: lossSum / Double(steps),
                accuracy: correct / Double(seen),
                validationLoss: BinaryCrossEntropy.loss(logits: logits, labels: labels),
                validationAccuracy: BinaryCrossEntropy.accuracy(logits: logits, labels: labels),
                seconds: MonotonicClock.now() - epochStart)
            records.append(record)
            observer?.epochFinished(record)
        }
        if headAveraged > 1 {
            headAverage.write(to: parameters)
            kept.append("phase 1: the head averaged over epochs \(recipe.epochs - headAveraged + 1)-\(recipe.epochs)")
        } else if recipe.epochs > 0 {
            kept.append("phase 1: the head after its last epoch")
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
            let schedule = LearningRateSchedule(
                peak: recipe.fineTuneLearningRate, warmupSteps: recipe.warmupEpochs * steps,
                totalSteps: recipe.fineTuneEpochs * steps, cosineDecay: recipe.cosineDecay)
            let averaged = min(recipe.fineTuneAverageLastEpochs, recipe.fineTuneEpochs)
            let average = WeightAverage(layers: first..<VGG16.convLayers.count)
            for epoch in 1...recipe.fineTuneEpochs {
                let epochStart = MonotonicClock.now()
                observer?.epochStarted(phase: "fine-tune", epoch: epoch, of: recipe.fineTuneEpochs)
                var lossSum = 0.0, correct = 0.0, seen = 0
                for step in 1...steps {
                    optimizer.learningRate = Float(schedule.rate(at: (epoch - 1) * steps + step - 1))
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
                        step: step, of: steps, loss: lossSum / Double(step),
                        accuracy: correct / Double(seen), elapsed: MonotonicClock.now() - epochStart)
                }
                if epoch > recipe.fineTuneEpochs - averaged { average.add(parameters, threads: threads) }
                let logits = self.logits(of: validation, network: network, buffer: batch)
                validationLogits = logits.map(Double.init)
                let record = EpochRecord(
                    phase: "fine-tune", epoch: epoch, loss: lossSum / Double(steps),
                    accuracy: correct / Double(seen),
                    validationLoss: BinaryCrossEntropy.loss(logits: logits, labels: labels),
                    validationAccuracy: BinaryCrossEntropy.accuracy(logits: logits, labels: labels),
                    seconds: MonotonicClock.now() - epochStart)
                records.append(record)
                observer?.epochFinished(record)
            }
            if averaged > 1 {
                average.write(to: parameters)
                network.parametersDidChange()
                validationLogits = self.logits(of: validation, network: network, buffer: batch).map(Double.init)
                kept.append(
                    "phase 2: the weights averaged over epochs \(recipe.fineTuneEpochs - averaged + 1)-\(recipe.fineTuneEpochs)"
                )
            } else {
                kept.append("phase 2: the weights after its last epoch")
            }
            phaseSeconds["fine-tune"] = MonotonicClock.now() - start
        }
        let scores = zip(validation.files, validationLogits).map {
            ScoredImage(path: $0.path, isPositive: $0.isPositive, logit: $1)
        }
        let selection =
            "Kept: " + kept.joined(separator: "; ")
            + ". No epoch was chosen by its validation scores: the validation images did not pick these weights."
        return TrainingResult(
            parameters: parameters, epochs: records, validation: scores, phaseSeconds: phaseSeconds,
            selection: selection)
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
        let conditions = recipe.doorConditions
        let side = preprocessor.side
        let centering = preprocessor.centering
        let images = training
        threads.forEach(indices.count) { slot, _ in
            var rng = SeededRandom(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ first &+ UInt64(slot))
            let parameters =
                augmentation == .none ? nil : augmentation.randomParameters(height: side, width: side, using: &rng)
            // Drawn after the affine parameters, so the tutorial's images stay exactly Keras's.
            let look = conditions == .none ? nil : conditions.randomParameters(side: side, using: &rng)
            images.writeInput(
                indices[slot], augmentation: parameters, conditions: look, centering: centering,
                into: buffer.pointer + slot * floats)
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
