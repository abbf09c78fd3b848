import Foundation
import Imaging
import NeuralNet
import Support
import Testing

@testable import Training

@Suite struct LearningRateScheduleTests {
    @Test func constantWithoutWarmUpOrDecay() {
        let schedule = LearningRateSchedule(peak: 1e-3, warmupSteps: 0, totalSteps: 24, cosineDecay: false)
        #expect((0..<24).allSatisfy { schedule.rate(at: $0) == 1e-3 })
    }

    @Test func warmsUpLinearlyThenDecaysAlongACosine() {
        let schedule = LearningRateSchedule(peak: 1e-3, warmupSteps: 4, totalSteps: 20, cosineDecay: true)
        #expect(abs(schedule.rate(at: 0) - 0.25e-3) < 1e-15)
        #expect(abs(schedule.rate(at: 3) - 1e-3) < 1e-15)
        let decay = (4..<20).map { schedule.rate(at: $0) }
        #expect(zip(decay, decay.dropFirst()).allSatisfy { $0 > $1 })
        // The decay's middle step is at half the peak: steps 4...19 are 16 steps, progress k/17.
        let middle = LearningRateSchedule(peak: 2, warmupSteps: 0, totalSteps: 3, cosineDecay: true)
        #expect(abs(middle.rate(at: 1) - 1) < 1e-12)
        // Never zero, so the last step still trains; always below the peak once decay starts.
        #expect(decay.last! > 0 && decay.last! < 0.02e-3)
        #expect(decay.first! < 1e-3)
    }

    @Test func warmUpLongerThanThePhaseIsClamped() {
        let schedule = LearningRateSchedule(peak: 1, warmupSteps: 50, totalSteps: 5, cosineDecay: true)
        #expect(schedule.warmupSteps == 5)
        #expect(schedule.rate(at: 4) == 1)
    }
}

@Suite struct FeatureStandardisationTests {
    static func features(seed: UInt64, rows: Int = 40, width: Int = VGG16.featureCount) -> [[Float]] {
        var random = SeededRandom(seed: seed)
        // Large, positive, unequal features like pooled ReLU activations; feature 3 constant at 0.
        return (0..<rows).map { _ in
            (0..<width).map { j in j == 3 ? 0 : Float(random.uniform(0, 40) + Double(j) * 5) }
        }
    }

    @Test func centresAndScalesToUnitSpread() {
        let rows = Self.features(seed: 1)
        let standardisation = FeatureStandardisation(features: rows)
        let standardised = rows.map(standardisation.apply)
        for j in 0..<VGG16.featureCount {
            let mean = standardised.map { Double($0[j]) }.reduce(0, +) / Double(rows.count)
            #expect(abs(mean) < 1e-4)
        }
        let squares = standardised.flatMap { $0 }.map { Double($0) * Double($0) }.reduce(0, +)
        #expect(abs(squares / Double(rows.count * VGG16.featureCount) - 1) < 1e-4)
    }

    @Test func foldedHeadGivesTheSameLogitsOnRawFeatures() {
        let rows = Self.features(seed: 2)
        let standardisation = FeatureStandardisation(features: rows)
        var random = SeededRandom(seed: 3)
        let head = DenseHead(
            kernel: (0..<VGG16.featureCount).map { _ in Float(random.uniform(-1, 1)) }, bias: 0.3)
        let folded = standardisation.fold(head)
        for row in Self.features(seed: 4) + rows {
            let expected = head.logit(standardisation.apply(row))
            // Both sides are float32 sums of 512 terms: they agree to about 1e-6 of the terms' total size.
            var size = Double(abs(folded.bias))
            for j in 0..<row.count { size += Double(abs(folded.kernel[j] * row[j])) }
            #expect(Double(abs(folded.logit(row) - expected)) <= 1e-5 * size)
        }
        // A feature that never varied gets no amplified weight: its folded weight is its weight / scale.
        #expect(abs(folded.kernel[3] - head.kernel[3] / standardisation.scale) < 1e-7)
    }

    @Test func identicalRowsOnlyCentre() {
        let standardisation = FeatureStandardisation(features: [[1, 2, 3], [1, 2, 3]])
        #expect(standardisation.scale == 1)
        #expect(standardisation.apply([1, 2, 3]) == [0, 0, 0])
    }
}

@Suite struct WeightAverageTests {
    @Test func averagesTheHeadAndTheTrainedLayersOnly() {
        let parameters = VGG16Parameters.seededRandom(seed: 1)
        let untouched = parameters.conv[0].kernel.toArray()
        let average = WeightAverage(layers: 12..<13)
        let threads = ComputeThreads(2)
        var heads: [DenseHead] = []
        var last: [[Float]] = []
        for k in 0..<3 {
            // Each "epoch" moves the weights: the head and block5_conv3 by k, block1_conv1 too (not averaged).
            parameters.head = DenseHead(
                kernel: parameters.head.kernel.map { $0 + Float(k) }, bias: parameters.head.bias + Float(k))
            for i in 0..<parameters.conv[12].kernel.count { parameters.conv[12].kernel[i] += Float(k) }
            parameters.conv[12].bias[0] += Float(k)
            parameters.conv[0].kernel[0] += 1
            heads.append(parameters.head)
            last.append(parameters.conv[12].kernel.toArray())
            average.add(parameters, threads: threads)
        }
        let layer12Bias = parameters.conv[12].bias[0]
        let layer0 = parameters.conv[0].kernel.toArray()
        average.write(to: parameters)
        #expect(average.count == 3)
        for j in [0, 100, 511] {
            let expected = (heads[0].kernel[j] + heads[1].kernel[j] + heads[2].kernel[j]) / 3
            #expect(abs(parameters.head.kernel[j] - expected) < 1e-5)
        }
        for i in [0, 4096, parameters.conv[12].kernel.count - 1] {
            let expected = (last[0][i] + last[1][i] + last[2][i]) / 3
            #expect(abs(parameters.conv[12].kernel[i] - expected) < 1e-5)
        }
        // Bias of the averaged layer: the three values were b+0, b+1, b+3 (cumulative), mean b+4/3.
        #expect(abs(parameters.conv[12].bias[0] - (layer12Bias - 3 + 4.0 / 3)) < 1e-5)
        // Layers outside the range keep their current values.
        #expect(parameters.conv[0].kernel.toArray() == layer0)
        #expect(layer0 != untouched)
    }
}

@Suite struct CrossValidationTests {
    static func scores(_ positives: [Double], _ negatives: [Double]) -> [ScoredImage] {
        positives.enumerated().map { ScoredImage(path: "p\($0)", isPositive: true, logit: $1) }
            + negatives.enumerated().map { ScoredImage(path: "n\($0)", isPositive: false, logit: $1) }
    }

    @Test func separableScoresStaySeparableHeldOut() throws {
        let scores = Self.scores((0..<10).map { 2 + Double($0) }, (0..<20).map { -10 + Double($0) * 0.4 })
        let measured = try #require(CrossValidatedCalibration.measure(scores: scores, maxFalseAcceptRate: 0))
        #expect(measured.folds == 5)
        #expect(measured.confusion.total == 30)
        #expect(measured.confusion.falseAccepts == 0)
        #expect(measured.confusion.trueAccepts == 10)
        #expect(measured.thresholds.allSatisfy { $0 != nil })
    }

    /// The optimism it exists to remove: a negative scoring above every positive but one. Calibrated on all
    /// images, the threshold sits above that negative and its false accepts show 0; judged held out, the
    /// fold holding the negative calibrates without it and admits it.
    @Test func heldOutShowsAFalseAcceptTheFullCalibrationHides() throws {
        let scores = Self.scores([5, 6, 7, 8, 9, 10], [-5, -4, -3, -2, -1, 0.5, -6, -7, 7.5, -8])
        let full = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0)
        #expect(full.confusion.falseAccepts == 0)
        let measured = try #require(
            CrossValidatedCalibration.measure(scores: scores, maxFalseAcceptRate: 0, folds: 3, seed: 9))
        #expect(measured.confusion.falseAccepts == 1)
        #expect(measured.confusion.total == scores.count)
        #expect(measured.summary(positiveClass: "bo").contains("1 of 10 others admitted"))
    }

    @Test func tooFewImagesOfAClassCannotBeCrossValidated() {
        let scores = Self.scores([3], [-1, -2, -3])
        #expect(CrossValidatedCalibration.measure(scores: scores, maxFalseAcceptRate: 0) == nil)
    }

    @Test func foldsAreStratifiedAndSeeded() throws {
        let scores = Self.scores((0..<7).map(Double.init), (0..<13).map { -Double($0) - 1 })
        let a = try #require(CrossValidatedCalibration.measure(scores: scores, maxFalseAcceptRate: 0.1, seed: 4))
        let b = try #require(CrossValidatedCalibration.measure(scores: scores, maxFalseAcceptRate: 0.1, seed: 4))
        #expect(a == b)
        #expect(a.folds == 5)
    }
}

@Suite struct RecipeTests {
    @Test func tutorialIsTheTutorialsRecipeAndStableOnlyAddsStabilisers() {
        let tutorial = TrainingRecipe.tutorial, stable = TrainingRecipe.stable
        #expect(tutorial == TrainingRecipe())
        #expect(!tutorial.standardiseFeatures && !tutorial.cosineDecay && tutorial.warmupEpochs == 0)
        #expect(tutorial.averageLastEpochs == 0 && tutorial.fineTuneAverageLastEpochs == 0)
        // Same budget and peak rates: the stable recipe costs the same time per epoch.
        #expect(stable.epochs == tutorial.epochs && stable.fineTuneEpochs == tutorial.fineTuneEpochs)
        #expect(stable.stepsPerEpoch == tutorial.stepsPerEpoch && stable.batchSize == tutorial.batchSize)
        #expect(stable.learningRate == tutorial.learningRate)
        #expect(stable.fineTuneLearningRate == tutorial.fineTuneLearningRate)
        #expect(stable.standardiseFeatures && !stable.cosineDecay && stable.warmupEpochs == 1)
        #expect(stable.averageLastEpochs == 5 && stable.fineTuneAverageLastEpochs == 3)
        #expect(TrainingRecipe.Name.stable.recipe == stable && TrainingRecipe.Name.tutorial.recipe == tutorial)
        #expect(Dictionary(uniqueKeysWithValues: stable.summary)["recipe"] == "stable")
    }

    @Test func adaptedKeepsTheTutorialsPhase1AndTrainsTheUpperBlocksHarder() {
        let tutorial = TrainingRecipe.tutorial, adapted = TrainingRecipe.adapted
        // Phase 1 is the tutorial's but for the decay; the batches are the same size and number.
        #expect(adapted.epochs == tutorial.epochs && adapted.learningRate == tutorial.learningRate)
        #expect(adapted.stepsPerEpoch == tutorial.stepsPerEpoch && adapted.batchSize == tutorial.batchSize)
        #expect(adapted.augmentation == tutorial.augmentation && adapted.doorConditions == .none)
        #expect(!adapted.standardiseFeatures && adapted.warmupEpochs == 0 && adapted.averageLastEpochs == 0)
        #expect(adapted.cosineDecay)
        // Phase 2: blocks 3 to 5 only, ten times the rate, twice the epochs, the last five averaged.
        #expect(adapted.fineTuneFrom == "block3_conv1" && VGG16.index(of: adapted.fineTuneFrom) == 4)
        #expect(adapted.fineTuneLearningRate == 10 * tutorial.fineTuneLearningRate)
        #expect(adapted.fineTuneEpochs == 2 * tutorial.fineTuneEpochs && adapted.fineTuneAverageLastEpochs == 5)
        #expect(TrainingRecipe.Name.adapted.recipe == adapted)
        let summary = Dictionary(uniqueKeysWithValues: adapted.summary)
        #expect(summary["recipe"] == "adapted")
        #expect(summary["phase 2"] == "20 epochs from block3_conv1, RMSprop lr 0.0001")
        #expect(summary["weights kept"] == "phase 1: last epoch's; phase 2: average of the last 5 epochs")
        #expect(throws: Never.self) { try adapted.validate() }
    }

    @Test func negativeSettingsAreRefused() {
        var recipe = TrainingRecipe.stable
        recipe.fineTuneAverageLastEpochs = -1
        #expect(throws: Failure.self) { try recipe.validate() }
        recipe = .stable
        recipe.stepsPerEpoch = 0
        #expect(throws: Failure.self) { try recipe.validate() }
        #expect(throws: Never.self) { try TrainingRecipe.stable.validate() }
    }
}
