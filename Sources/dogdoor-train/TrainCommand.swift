import ArgumentParser
import CommandSupport
import EngineOptions
import Imaging
import Logging
import NeuralNet
import Support
import Training
import TrainingReport

@main
struct TrainCommand: DogDoorProgram {
    static let configuration = CommandConfiguration(
        commandName: "dogdoor-train",
        abstract: "Train the door's model: which dog to let in, from a few dozen photos.",
        discussion: """
            DATA holds train/<class>/ and valid/<class>/ folders (Keras flow_from_directory layout), or <class>/ \
            folders with --validation-split. Exactly two classes: --positive names the dog to admit.
            Phase 1 trains a new head on the frozen VGG16 base (the tutorial's recipe); phase 2 fine-tunes the \
            whole base at a low learning rate, which is what makes the door reliable. Writes the model file the \
            daemon loads, and an HTML report next to it.
            """,
        version: dogDoorVersion
    )

    @Option(
        name: .customLong("data"),
        help: ArgumentHelp(
            "Data folder (repeatable: the owner's photos and the door's labelled photos train together).",
            valueName: "dir"))
    var data: [String]

    @Option(help: "Class folder of the dog to admit (a positive logit means this class).")
    var positive: String

    @Option(name: .customLong("output"), help: "Model file to write (.safetensors).")
    var output: String

    @Option(
        name: .customLong("validation-split"),
        help: "Use DATA/<class>/ folders and validate on this first fraction of each class.")
    var validationSplit: Double?

    @Option(
        help:
            "VGG16 base weights (default: $DOGDOOR_WEIGHTS, ./var/weights/vgg16-notop.safetensors, /var/lib/dogdoor/vgg16-notop.safetensors)."
    )
    var weights: String?

    @Option(
        help: """
            Training recipe: adapted (the best measured: the tutorial's phase 1, then blocks 3-5 trained at \
            1e-4 for 20 epochs, a cosine decay in both phases, phase 2's weights averaged over its last 5 \
            epochs), tutorial (the tutorial's as it is) or stable (the tutorial's with standardised head \
            features, warm-up and weights averaged over the last epochs). The options below override single \
            settings of it.
            """)
    var recipe = TrainingRecipe.Name.adapted
    @Option(help: "Epochs with the base frozen (recipe: 20).") var epochs: Int?
    @Option(name: .customLong("steps-per-epoch"), help: "Steps per epoch (recipe: 12).") var stepsPerEpoch: Int?
    @Option(name: .customLong("batch-size"), help: "Images per step (recipe: 8).") var batchSize: Int?
    @Option(name: .customLong("learning-rate"), help: "RMSprop learning rate, phase 1 (recipe: 0.001).")
    var learningRate: Double?
    @Option(
        name: .customLong("fine-tune-epochs"),
        help: "Epochs with the base unfrozen, 0 skips fine-tuning (adapted: 20, tutorial: 10).")
    var fineTuneEpochs: Int?
    @Option(
        name: .customLong("fine-tune-learning-rate"),
        help: "RMSprop learning rate, phase 2 (adapted: 1e-04, tutorial: 1e-05).")
    var fineTuneLearningRate: Double?
    @Option(
        name: .customLong("fine-tune-from"),
        help: "First layer to unfreeze in phase 2 (adapted: block3_conv1; tutorial: block1_conv1, the whole base).")
    var fineTuneFrom: String?
    @Flag(
        inversion: .prefixedNo,
        help: "Learning rate decays along a cosine in each phase after warm-up (adapted: on, tutorial: off).")
    var cosineDecay: Bool?
    @Flag(
        inversion: .prefixedNo,
        help: """
            Train also on photos made to look as a door camera sees: infrared night, low light, motion blur, JPEG \
            artefacts, the dog partly out of frame (recipe: off).
            """)
    var doorConditions: Bool?
    @Option(
        name: .customLong("average-epochs"),
        help:
            "Phase 1 keeps the head averaged over the ends of its last N epochs; 0 or 1 keeps the last (adapted and tutorial: 0, stable: 5)."
    )
    var averageEpochs: Int?
    @Option(
        name: .customLong("fine-tune-average-epochs"),
        help:
            "Phase 2 keeps the weights averaged over the ends of its last N epochs; 0 or 1 keeps the last (adapted: 5, tutorial: 0, stable: 3)."
    )
    var fineTuneAverageEpochs: Int?
    @Option(help: "Seed for initialisation, shuffling and augmentation.") var seed: UInt64 = 1
    @Flag(name: .customLong("no-augmentation"), help: "Train on the images as they are.") var noAugmentation = false
    @Option(help: "Resize method (nearest is Keras's default).") var resize = ResizeMethod.default
    @Option(help: "Centering: samplewise, or caffe (BGR minus ImageNet means).") var centering = Centering.samplewise
    @Option(
        name: .customLong("input-size"),
        help: "Side of the square network input in pixels, a multiple of 32 (smaller is faster and coarser).")
    var inputSize = VGG16.inputSize
    @Option(help: "Decision threshold on the probability, unless --max-false-accept calibrates one.") var threshold =
        0.5
    @Option(
        name: .customLong("max-false-accept"),
        help:
            "Calibrate the threshold on the validation set: most dog images admitted with at most this fraction of other images admitted (e.g. 0)."
    )
    var maxFalseAccept: Double?
    @Flag(
        name: .customLong("no-int8"),
        help: "Write the float form only (by default the int8 form is calibrated on the training photos and added).")
    var noInt8 = false
    @Option(
        name: .customLong("int8-rounding"),
        help: """
            How the int8 form's weights become bytes: compensated (GPTQ, closest to the float model; about 2.5 \
            minutes) or nearest (about 1 minute).
            """)
    var int8Rounding: WeightRounding = .compensated
    @Option(
        name: .customLong("int8-clipping-weight"),
        help: """
            How many times a clipped activation's squared error counts against a rounded one's when the int8 \
            form's activation ranges are chosen (as `dogdoor model quantize --clipping-weight`).
            """)
    var int8ClippingWeight: Double = ActivationHistogram.defaultClippingWeight
    @Option(help: "HTML report to write (default: next to the model, MODEL.report.html).") var report: String?
    @Option(name: .customLong("log-json"), help: "Append one JSON object per epoch to this file.") var logJSON: String?
    @Option(name: .customLong("signing-key"), help: "Sign the model with this private key (`dogdoor model keygen`).")
    var signingKey: String?
    @OptionGroup var compute: ComputeOptions

    /// The recipe named by --recipe with the single settings given on the command line.
    var chosenRecipe: TrainingRecipe {
        var chosen = recipe.recipe
        if let epochs { chosen.epochs = epochs }
        if let stepsPerEpoch { chosen.stepsPerEpoch = stepsPerEpoch }
        if let batchSize { chosen.batchSize = batchSize }
        if let learningRate { chosen.learningRate = learningRate }
        if let fineTuneEpochs { chosen.fineTuneEpochs = fineTuneEpochs }
        if let fineTuneLearningRate { chosen.fineTuneLearningRate = fineTuneLearningRate }
        if let fineTuneFrom { chosen.fineTuneFrom = fineTuneFrom }
        if let cosineDecay { chosen.cosineDecay = cosineDecay }
        if let doorConditions { chosen.doorConditions = doorConditions ? .door : .none }
        if let averageEpochs { chosen.averageLastEpochs = averageEpochs }
        if let fineTuneAverageEpochs { chosen.fineTuneAverageLastEpochs = fineTuneAverageEpochs }
        chosen.seed = seed
        if noAugmentation { chosen.augmentation = .none }
        return chosen
    }

    func validate() throws {
        guard ActivationHistogram.clippingWeights.contains(int8ClippingWeight) else {
            throw ValidationError("--int8-clipping-weight must be between 0.01 and 10000")
        }
        let chosen = chosenRecipe
        guard chosen.epochs >= 0, chosen.stepsPerEpoch >= 1, chosen.batchSize >= 1, chosen.batchSize <= 64,
            chosen.fineTuneEpochs >= 0
        else {
            throw ValidationError("epochs must be >= 0, steps and batch size >= 1 (batch at most 64)")
        }
        guard chosen.epochs + chosen.fineTuneEpochs > 0 else {
            throw ValidationError("nothing to train: --epochs and --fine-tune-epochs are both 0")
        }
        guard chosen.averageLastEpochs >= 0, chosen.fineTuneAverageLastEpochs >= 0 else {
            throw ValidationError("--average-epochs and --fine-tune-average-epochs must be >= 0")
        }
        guard chosen.learningRate > 0, chosen.fineTuneLearningRate > 0 else {
            throw ValidationError("learning rates must be positive")
        }
        guard threshold > 0, threshold < 1 else {
            throw ValidationError("--threshold must be a probability strictly between 0 and 1")
        }
        if let maxFalseAccept, !(0...1).contains(maxFalseAccept) {
            throw ValidationError("--max-false-accept must be between 0 and 1")
        }
        guard VGG16.supports(inputSize: inputSize) else {
            throw ValidationError("--input-size must be a multiple of 32 between 32 and 512, got \(inputSize)")
        }
        guard VGG16.index(of: chosen.fineTuneFrom) != nil else {
            throw ValidationError("--fine-tune-from \(chosen.fineTuneFrom) is not a VGG16 conv layer")
        }
    }

    func run() throws {
        var logger = Logger(label: "dogdoor-train")
        let (threads, kernel) = try compute.setUp(&logger)
        // Read the key and find the weights before hours of training, not after.
        let key = try signingKey.map { path throws in try KeyFile.readPrivateKey(path) }
        let weightsPath = try TrainingJob.locateWeights(
            explicit: weights, environment: getenv("DOGDOOR_WEIGHTS").map { String(cString: $0) })
        let preprocessor = Preprocessor(resize: resize, centering: centering, side: inputSize)
        let photos = try TrainingJob.loadPhotos(
            directories: data, positive: positive, validationSplit: validationSplit,
            preprocessor: preprocessor, threads: threads)
        for skipped in photos.skipped { printError("dogdoor-train: skipped \(skipped.path): \(skipped.reason)") }
        let train = photos.training.classCounts, valid = photos.validation.classCounts
        if photos.layout.sources.count > 1 {
            for source in photos.layout.sources {
                print(
                    "  \(source.directory): \(source.summary(positive: photos.positiveClass, negative: photos.negativeClass))"
                )
            }
        }
        print(
            "images: train \(train.positive) \(photos.positiveClass) / \(train.negative) \(photos.negativeClass), "
                + "valid \(valid.positive) / \(valid.negative); skipped \(photos.skipped.count)")
        let base = try loadBaseWeights(path: weightsPath)
        let recipe = chosenRecipe
        print("OpenBLAS kernel: \(kernel); \(threads.count) threads")
        let trainer = Trainer(
            recipe: recipe, preprocessor: preprocessor, training: photos.training, validation: photos.validation,
            base: base, threads: threads, logger: logger)
        let result = try trainer.run(observer: try ConsoleProgress(jsonLog: logJSON))
        for (phase, name) in [("frozen", "phase 1 (frozen base)"), ("fine-tune", "phase 2 (fine-tuning)")] {
            if let seconds = result.phaseSeconds[phase] { print("\(name): \(fixed(seconds, 1)) s") }
        }
        print(result.selection)
        print("validation accuracy of the weights kept: \(fixed(result.finalValidationAccuracy, 4))")

        let calibration = try TrainingJob.chooseThreshold(
            scores: result.validation, threshold: threshold,
            maxFalseAccept: maxFalseAccept)
        let c = calibration.confusion
        print(
            "threshold \(fixed(calibration.threshold, 4))\(calibration.isCalibrated ? " (calibrated)" : ""): "
                + "\(c.trueAccepts) of \(c.trueAccepts + c.falseRejects) \(photos.positiveClass) admitted, "
                + "\(c.falseAccepts) of \(c.falseAccepts + c.trueRejects) others admitted")
        let crossValidation = maxFalseAccept.flatMap {
            CrossValidatedCalibration.measure(scores: result.validation, maxFalseAcceptRate: $0)
        }
        if let crossValidation { print(crossValidation.summary(positiveClass: photos.positiveClass)) }
        print(calibration.caveat)
        for warning in calibration.warnings { printError("dogdoor-train: warning: \(warning)") }

        let manifest = TrainingJob.manifest(
            result: result, photos: photos, recipe: recipe, preprocessor: preprocessor,
            calibration: calibration, crossValidation: crossValidation)
        // Post-training quantisation on the training photos: the validation photos stay unseen by it, so the
        // comparison below is a fair one.
        let int8 =
            noInt8
            ? nil
            : try Quantizer.calibrate(
                result.parameters, images: photos.training, limit: Quantizer.defaultImageLimit,
                centering: preprocessor.centering, threads: threads, rounding: int8Rounding,
                clippingWeight: int8ClippingWeight)
        let written = try ModelFile.write(
            result.parameters, manifest: manifest, to: output, threads: threads, signingKey: key, int8: int8)
        print(
            "wrote \(output) (tensors sha256 \(written.tensorsSHA256.prefix(16))...\(key.map { ", signed by key \($0.publicKey.fingerprint)" } ?? ""))"
        )
        var int8Summary: String?
        if let quantization = written.quantization {
            let comparison = try PrecisionComparison.measure(
                modelPath: output, images: photos.validation, labelled: true, centering: preprocessor.centering,
                threads: threads)
            int8Summary =
                "calibrated on \(quantization.calibrationImages) training images; validation: \(comparison.summary)"
            print("int8 form " + int8Summary!)
        }

        let reportPath =
            report ?? (output.hasSuffix(".safetensors") ? String(output.dropLast(12)) : output) + ".report.html"
        let folders = photos.layout.sources.map {
            (
                key: "data",
                value: "\($0.directory) (\($0.summary(positive: photos.positiveClass, negative: photos.negativeClass)))"
            )
        }
        let settings: [(key: String, value: String)] =
            folders + [
                ("weights", weightsPath), ("OpenBLAS kernel", kernel), ("threads", "\(threads.count)"),
                ("resize", resize.rawValue), ("centering", centering.rawValue),
                ("int8 form", int8Summary ?? "not written (--no-int8)"),
            ]
        var doorMeasures: [(key: String, value: String)] = []
        if let crossValidation {
            doorMeasures.append(
                (
                    "threshold judged on images that did not choose it",
                    crossValidation.summary(positiveClass: photos.positiveClass)
                ))
        }
        if let int8Summary { doorMeasures.append(("int8 form", int8Summary)) }
        let arguments = CommandLine.arguments
        let calibrate = shellQuoted(
            arguments.contains("--max-false-accept") ? arguments : arguments + ["--max-false-accept", "0"])
        try TrainingReport(
            run: result, photos: photos, recipe: recipe, calibration: calibration, settings: settings,
            modelPath: output, modelSHA256: written.tensorsSHA256,
            metadata: .init(date: SystemClock().now().wall.iso8601, version: dogDoorVersion, commandLine: arguments),
            calibrateCommand: calibrate, selection: result.selection, doorMeasures: doorMeasures
        ).write(to: reportPath)
        print("report: \(reportPath)")
    }
}

extension TrainingRecipe.Name: ExpressibleByArgument {}
