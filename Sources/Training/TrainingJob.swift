import Imaging
import NeuralNet
import Support

/// What `dogdoor-train` does between reading its options and writing its files: find and check the photos,
/// choose the decision threshold, and describe the run in the model's manifest. Kept out of the executable
/// so that it is tested like the rest of the trainer.
public enum TrainingJob {
    /// Fewer usable training photos of a class than this cannot teach the head anything worth a door.
    public static let minimumTrainingImagesPerClass = 5

    /// The photos to train and validate on, decoded and checked.
    public struct Photos: Sendable {
        public var layout: DatasetLayout
        public var training: ImageSet
        public var validation: ImageSet
        /// Files left out (unreadable, unsupported), from the folders and from decoding.
        public var skipped: [SkippedFile]

        public var positiveClass: String { layout.positiveClass }
        public var negativeClass: String { layout.negativeClass }
    }

    /// Finds the classes under each of `directories` (see `DatasetLayout.discover`) and merges them, decodes
    /// every photo, and refuses a set that cannot train a door: fewer than `minimumTrainingImagesPerClass`
    /// usable training photos of a class, or no validation photo of one.
    public static func loadPhotos(
        directories: [String], positive: String, validationSplit: Double?, preprocessor: Preprocessor,
        threads: ComputeThreads
    ) throws -> Photos {
        let layout = try DatasetLayout.discover(
            directories: directories, positive: positive, validationSplit: validationSplit)
        let training = ImageSet(layout.training, preprocessor: preprocessor, threads: threads)
        let validation = ImageSet(layout.validation, preprocessor: preprocessor, threads: threads)
        let photos = Photos(
            layout: layout, training: training, validation: validation,
            skipped: layout.skipped + training.skipped + validation.skipped)
        try check(photos)
        return photos
    }

    static func check(_ photos: Photos) throws(Failure) {
        let train = photos.training.classCounts, valid = photos.validation.classCounts
        for (count, name) in [(train.positive, photos.positiveClass), (train.negative, photos.negativeClass)]
        where count < minimumTrainingImagesPerClass {
            throw Failure(
                "only \(count) usable training images of \(name); at least \(minimumTrainingImagesPerClass) "
                    + "per class are needed")
        }
        for (count, name) in [(valid.positive, photos.positiveClass), (valid.negative, photos.negativeClass)]
        where count < 1 {
            throw Failure("no usable validation images of \(name); validation needs both classes")
        }
    }

    /// The decision threshold: calibrated on the validation scores when `maxFalseAccept` is given (most dog
    /// images admitted with at most that fraction of others), else the given probability.
    public static func chooseThreshold(
        scores: [ScoredImage], threshold: Double, maxFalseAccept: Double?
    ) throws -> Calibration {
        guard let maxFalseAccept else { return Calibration.fixed(threshold: threshold, scores: scores) }
        do {
            return try Calibration.calibrate(scores: scores, maxFalseAcceptRate: maxFalseAccept)
        } catch {
            throw Failure("threshold calibration: \(error)")
        }
    }

    /// The manifest of the trained model: its preprocessing, classes and threshold, and under `training` the
    /// recipe, the photos counted, the phase times, the final validation accuracy and the calibration.
    public static func manifest(
        result: TrainingResult, photos: Photos, recipe: TrainingRecipe, preprocessor: Preprocessor,
        calibration: Calibration, crossValidation: CrossValidatedCalibration? = nil
    ) -> ModelManifest {
        let train = photos.training.classCounts, valid = photos.validation.classCounts
        var summary = JSONObject()
        for (key, value) in recipe.summary { summary[key] = .string(value) }
        summary["resize"] = .string(preprocessor.resize.rawValue)
        summary["centering"] = .string(preprocessor.centering.rawValue)
        summary["final_val_accuracy"] = .number(result.finalValidationAccuracy)
        summary["phase_seconds"] = .object(
            JSONObject(
                result.phaseSeconds.sorted { $0.key > $1.key }
                    .map { (key: $0.key, value: .number($0.value)) }))
        summary["images"] = [
            "train_positive": .number(Double(train.positive)), "train_negative": .number(Double(train.negative)),
            "valid_positive": .number(Double(valid.positive)), "valid_negative": .number(Double(valid.negative)),
            "skipped": .number(Double(photos.skipped.count)),
        ]
        if photos.layout.sources.count > 1 {
            summary["sources"] = .array(
                photos.layout.sources.map { source in
                    [
                        "directory": .string(source.directory),
                        "train_positive": .number(Double(source.trainPositive)),
                        "train_negative": .number(Double(source.trainNegative)),
                        "valid_positive": .number(Double(source.validPositive)),
                        "valid_negative": .number(Double(source.validNegative)),
                    ]
                })
        }
        summary["calibration"] = calibration.json
        if let crossValidation { summary["calibration_cross_validated"] = crossValidation.json }
        summary["weights_kept"] = .string(result.selection)
        var manifest = ModelManifest(
            resize: preprocessor.resize.rawValue, centering: preprocessor.centering.rawValue,
            positiveClass: photos.positiveClass, negativeClass: photos.negativeClass,
            threshold: calibration.threshold, training: summary)
        manifest.inputSize = preprocessor.side
        return manifest
    }

    /// The VGG16 base weights: `explicit` if given, else `$DOGDOOR_WEIGHTS`, then the project's and the
    /// installation's copies; the first readable one.
    public static func locateWeights(explicit: String?, environment: String?) throws(Failure) -> String {
        let candidates =
            explicit.map { [$0] }
            ?? (environment.map { [$0] } ?? []) + [
                "var/weights/vgg16-notop.safetensors", "/var/lib/dogdoor/vgg16-notop.safetensors",
            ]
        if let found = candidates.first(where: { access($0, R_OK) == 0 }) { return found }
        throw Failure(
            "VGG16 weights not found (tried \(candidates.joined(separator: ", "))); run Scripts/setup.sh or pass --weights"
        )
    }
}

extension TrainingResult {
    /// Validation accuracy of the weights kept, at probability 0.5 (0 when nothing was validated).
    public var finalValidationAccuracy: Double { Metrics.accuracy(validation) ?? 0 }
}
