import Imaging
import NeuralNet
import Support
import TestSupport
import Testing

@testable import Training

/// What dogdoor-train does besides training: which photo sets it refuses, how it chooses the threshold, and
/// what the model's manifest says about the run.
@Suite struct TrainingJobTests {
    static let preprocessor = Preprocessor(side: 64)

    static func photos(dog: Int, other: Int, unreadableDog: Int = 0, validOther: Int = 1) -> DataDirectory {
        let dir = DataDirectory()
        for i in 0..<dog { dir.write("train/dog/\(i).jpg", DataDirectory.image(positive: true, variant: i)) }
        for i in 0..<unreadableDog { dir.write("train/dog/broken-\(i).jpg", Array("not a picture".utf8)) }
        for i in 0..<other { dir.write("train/other/\(i).jpg", DataDirectory.image(positive: false, variant: i)) }
        dir.write("valid/dog/v.jpg", DataDirectory.image(positive: true, variant: 9))
        for i in 0..<validOther {
            dir.write("valid/other/v\(i).jpg", DataDirectory.image(positive: false, variant: 9 + i))
        }
        // The folder is there, but nothing in it can be read.
        if validOther == 0 { dir.write("valid/other/broken.jpg", Array("not a picture".utf8)) }
        return dir
    }

    static func load(_ dirs: DataDirectory...) throws -> TrainingJob.Photos {
        try TrainingJob.loadPhotos(
            directories: dirs.map(\.path), positive: "dog", validationSplit: nil, preprocessor: preprocessor,
            threads: ComputeThreads(1))
    }

    @Test func foldersMergeWithTheirCountsInTheManifest() throws {
        // Neither folder alone has the five training photos of each class; together they do.
        let owner = Self.photos(dog: 3, other: 6)
        let door = Self.photos(dog: 3, other: 2)
        #expect(throws: Failure.self) { _ = try Self.load(owner) }
        let photos = try Self.load(owner, door)
        #expect(photos.training.classCounts == (positive: 6, negative: 8))
        #expect(photos.layout.sources.map(\.directory) == [owner.path, door.path])
        #expect(
            photos.layout.sources.map(\.trainPositive) == [3, 3]
                && photos.layout.sources.map(\.trainNegative) == [6, 2])
        // Class folders must agree.
        let cats = DataDirectory()
        for split in ["train", "valid"] {
            cats.write("\(split)/dog/a.jpg", DataDirectory.image(positive: true, variant: 1))
            cats.write("\(split)/cat/a.jpg", DataDirectory.image(positive: false, variant: 1))
        }
        #expect(throws: DatasetError.self) { _ = try Self.load(owner, cats) }
    }

    @Test func countsUsablePhotosNotFiles() throws {
        // Five files of the dog, one unreadable: four usable, one short of the minimum.
        let dir = Self.photos(dog: 4, other: 6, unreadableDog: 1)
        #expect(throws: Failure("only 4 usable training images of dog; at least 5 per class are needed")) {
            _ = try Self.load(dir)
        }
        let enough = try Self.load(Self.photos(dog: 5, other: 5, unreadableDog: 1))
        #expect(enough.training.classCounts == (positive: 5, negative: 5))
        #expect(enough.skipped.map { baseName(of: $0.path) } == ["broken-0.jpg"])
    }

    @Test func validationNeedsBothClasses() {
        #expect(throws: Failure("no usable validation images of other; validation needs both classes")) {
            _ = try Self.load(Self.photos(dog: 6, other: 6, validOther: 0))
        }
    }

    @Test func thresholdIsTheGivenOneOrCalibrated() throws {
        let scores = labelledScores(positives: [3, 2, 0.5, -1], negatives: [1, -2, -3, -4])
        let fixed = try TrainingJob.chooseThreshold(scores: scores, threshold: 0.7, maxFalseAccept: nil)
        #expect(fixed.threshold == 0.7 && !fixed.isCalibrated)
        let strict = try TrainingJob.chooseThreshold(scores: scores, threshold: 0.7, maxFalseAccept: 0)
        // No other animal admitted: above the highest other's logit (1), so 3 and 2 admitted, 0.5 and -1 not.
        #expect(strict.isCalibrated && strict.threshold > 1 / (1 + exp(-1.0)))
        #expect(strict.confusion.falseAccepts == 0 && strict.confusion.trueAccepts == 2)
    }

    @Test func manifestDescribesTheRun() throws {
        let photos = try Self.load(Self.photos(dog: 5, other: 7, unreadableDog: 1))
        let epochs = [
            EpochRecord(
                phase: "frozen", epoch: 1, loss: 0.6, accuracy: 0.7, validationLoss: 0.5, validationAccuracy: 0.5,
                seconds: 3),
            EpochRecord(
                phase: "fine-tune", epoch: 1, loss: 0.3, accuracy: 0.9, validationLoss: 0.2,
                validationAccuracy: 1, seconds: 5),
        ]
        let validation = labelledScores(positives: [2], negatives: [-2])
        let result = TrainingResult(
            parameters: VGG16Parameters.seededRandom(seed: 1), epochs: epochs, validation: validation,
            phaseSeconds: ["frozen": 3, "fine-tune": 5], selection: "Kept: the last weights.")
        var recipe = TrainingRecipe()
        recipe.epochs = 1
        let calibration = Calibration.fixed(threshold: 0.6, scores: validation)
        let crossValidated = CrossValidatedCalibration(
            folds: 2, confusion: ConfusionMatrix(trueAccepts: 1, falseRejects: 0, falseAccepts: 0, trueRejects: 1),
            thresholds: [0.6, nil])
        let manifest = TrainingJob.manifest(
            result: result, photos: photos, recipe: recipe, preprocessor: Self.preprocessor,
            calibration: calibration, crossValidation: crossValidated)
        #expect(manifest.positiveClass == "dog" && manifest.negativeClass == "other")
        #expect(manifest.threshold == 0.6 && manifest.inputSize == 64)
        #expect(manifest.resize == Self.preprocessor.resize.rawValue && manifest.centering == "samplewise")
        let training = JSONValue.object(manifest.training)
        #expect(training["final_val_accuracy"] == .number(1))
        #expect(
            training["images"] == [
                "train_positive": 5, "train_negative": 7, "valid_positive": 1, "valid_negative": 1,
                "skipped": 1,
            ])
        #expect(training["phase_seconds"] == ["frozen": 3, "fine-tune": 5])
        #expect(training["calibration"]?["threshold"] == .number(0.6))
        #expect(training["phase 1"]?.stringValue?.hasPrefix("1 epochs, RMSprop") == true, "the recipe is recorded")
        #expect(training["recipe"] == "tutorial")
        #expect(training["weights_kept"] == "Kept: the last weights.")
        #expect(training["calibration_cross_validated"]?["folds"] == .number(2))
        #expect(training["calibration_cross_validated"]?["thresholds"] == [.number(0.6), .null])
    }

    @Test func weightsAreLookedForInOrder() throws {
        let dir = TemporaryDirectory("weights")
        try AtomicFile.write([1, 2, 3], to: dir.file("base.safetensors"))
        #expect(
            try TrainingJob.locateWeights(explicit: dir.file("base.safetensors"), environment: "/elsewhere")
                == dir.file("base.safetensors"))
        #expect(
            try TrainingJob.locateWeights(explicit: nil, environment: dir.file("base.safetensors"))
                == dir.file("base.safetensors"))
        #expect(
            throws: Failure(
                "VGG16 weights not found (tried \(dir.file("missing"))); run Scripts/setup.sh or pass --weights")
        ) {
            _ = try TrainingJob.locateWeights(explicit: dir.file("missing"), environment: nil)
        }
    }
}

@Suite struct EpochLogTests {
    /// The `--log-json` line is read by Scripts/bench-train.py and by people: Keras's metric names, in this order.
    @Test func epochRecordsKeepTheirLogFormatAndReadBack() throws {
        let record = EpochRecord(
            phase: "fine-tune", epoch: 3, loss: 0.25, accuracy: 0.875, validationLoss: 0.5,
            validationAccuracy: 0.9, seconds: 12.5)
        let line = record.json.serialized()
        #expect(
            line
                == #"{"phase":"fine-tune","epoch":3,"loss":0.25,"accuracy":0.875,"val_loss":0.5,"val_accuracy":0.9,"seconds":12.5}"#
        )
        #expect(try JSONValueDecoder().decode(EpochRecord.self, from: line) == record)
    }
}
