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

    @Option(name: .customLong("data"), help: "Data directory.")
    var data: String

    @Option(help: "Class folder of the dog to admit (a positive logit means this class).")
    var positive: String

    @Option(name: .customLong("output"), help: "Model file to write (.safetensors).")
    var output: String

    @Option(name: .customLong("validation-split"), help: "Use DATA/<class>/ folders and validate on this first fraction of each class.")
    var validationSplit: Double?

    @Option(help: "VGG16 base weights (default: $DOGDOOR_WEIGHTS, ./var/weights/vgg16-notop.safetensors, /var/lib/dogdoor/vgg16-notop.safetensors).")
    var weights: String?

    @Option(help: "Epochs with the base frozen.") var epochs = 20
    @Option(name: .customLong("steps-per-epoch"), help: "Steps per epoch.") var stepsPerEpoch = 12
    @Option(name: .customLong("batch-size"), help: "Images per step.") var batchSize = 8
    @Option(name: .customLong("learning-rate"), help: "RMSprop learning rate, phase 1.") var learningRate = 1e-3
    @Option(name: .customLong("fine-tune-epochs"), help: "Epochs with the base unfrozen (0 skips fine-tuning).") var fineTuneEpochs = 10
    @Option(name: .customLong("fine-tune-learning-rate"), help: "RMSprop learning rate, phase 2.") var fineTuneLearningRate = 1e-5
    @Option(name: .customLong("fine-tune-from"), help: "First layer to unfreeze in phase 2, e.g. block5_conv1.") var fineTuneFrom = "block1_conv1"
    @Option(help: "Seed for initialisation, shuffling and augmentation.") var seed: UInt64 = 1
    @Flag(name: .customLong("no-augmentation"), help: "Train on the images as they are.") var noAugmentation = false
    @Option(help: "Resize method: area, bilinear, nearest (Keras's default).") var resize = ResizeMethod.default.rawValue
    @Option(help: "Centering: samplewise (default) or caffe (BGR minus ImageNet means).") var centering = Centering.samplewise.rawValue
    @Option(name: .customLong("input-size"), help: "Side of the square network input in pixels, a multiple of 32 (smaller is faster and coarser).")
    var inputSize = VGG16.inputSize
    @Option(help: "Decision threshold on the probability, unless --max-false-accept calibrates one.") var threshold = 0.5
    @Option(name: .customLong("max-false-accept"), help: "Calibrate the threshold on the validation set: most dog images admitted with at most this fraction of other images admitted (e.g. 0).")
    var maxFalseAccept: Double?
    @Option(help: "HTML report to write (default: next to the model, MODEL.report.html).") var report: String?
    @Option(name: .customLong("log-json"), help: "Append one JSON object per epoch to this file.") var logJSON: String?
    @Option(name: .customLong("signing-key"), help: "Sign the model with this private key (`dogdoor model keygen`).") var signingKey: String?
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard epochs >= 0, stepsPerEpoch >= 1, batchSize >= 1, batchSize <= 64, fineTuneEpochs >= 0 else {
            throw ValidationError("epochs must be >= 0, steps and batch size >= 1 (batch at most 64)")
        }
        guard epochs + fineTuneEpochs > 0 else { throw ValidationError("nothing to train: --epochs and --fine-tune-epochs are both 0") }
        guard learningRate > 0, fineTuneLearningRate > 0 else { throw ValidationError("learning rates must be positive") }
        guard threshold > 0, threshold < 1 else { throw ValidationError("--threshold must be a probability strictly between 0 and 1") }
        if let maxFalseAccept, !(0...1).contains(maxFalseAccept) { throw ValidationError("--max-false-accept must be between 0 and 1") }
        guard ResizeMethod(rawValue: resize) != nil else {
            throw ValidationError("--resize \(resize) is not one of \(ResizeMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard Centering(rawValue: centering) != nil else {
            throw ValidationError("--centering \(centering) is not one of \(Centering.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard VGG16.supports(inputSize: inputSize) else {
            throw ValidationError("--input-size must be a multiple of 32 between 32 and 512, got \(inputSize)")
        }
        guard VGG16.index(of: fineTuneFrom) != nil else { throw ValidationError("--fine-tune-from \(fineTuneFrom) is not a VGG16 conv layer") }
    }

    func run() throws {
        var logger = Logger(label: "dogdoor-train")
        let (threads, kernel) = try compute.setUp(&logger)
        // Read the key before hours of training, not after.
        let key = try signingKey.map { path throws in try KeyFile.readPrivateKey(path) }
        let preprocessor = Preprocessor(resize: ResizeMethod(rawValue: resize)!, centering: Centering(rawValue: centering)!,
                                        side: inputSize)
        let weightsPath = try locateWeights()
        let layout = try DatasetLayout.discover(directory: data, positive: positive, validationSplit: validationSplit)
        let training = ImageSet(layout.training, preprocessor: preprocessor, threads: threads)
        let validation = ImageSet(layout.validation, preprocessor: preprocessor, threads: threads)
        let allSkipped = layout.skipped + training.skipped + validation.skipped
        for skipped in allSkipped { printError("dogdoor-train: skipped \(skipped.path): \(skipped.reason)") }
        let (trainPositive, trainNegative) = training.classCounts
        let (validPositive, validNegative) = validation.classCounts
        print("images: train \(trainPositive) \(layout.positiveClass) / \(trainNegative) \(layout.negativeClass), "
              + "valid \(validPositive) / \(validNegative); skipped \(allSkipped.count)")
        let minimum = 5
        for (count, name, set) in [(trainPositive, layout.positiveClass, "training"), (trainNegative, layout.negativeClass, "training")] where count < minimum {
            throw CommandFailure("only \(count) usable \(set) images of \(name); at least \(minimum) per class are needed")
        }
        for (count, name) in [(validPositive, layout.positiveClass), (validNegative, layout.negativeClass)] where count < 1 {
            throw CommandFailure("no usable validation images of \(name); validation needs both classes")
        }
        let base = try loadBaseWeights(path: weightsPath)
        var recipe = TrainingRecipe()
        recipe.epochs = epochs
        recipe.stepsPerEpoch = stepsPerEpoch
        recipe.batchSize = batchSize
        recipe.learningRate = learningRate
        recipe.fineTuneEpochs = fineTuneEpochs
        recipe.fineTuneLearningRate = fineTuneLearningRate
        recipe.fineTuneFrom = fineTuneFrom
        recipe.seed = seed
        if noAugmentation { recipe.augmentation = .none }
        print("OpenBLAS kernel: \(kernel); \(threads.count) threads")
        let trainer = Trainer(recipe: recipe, preprocessor: preprocessor, training: training, validation: validation,
                              base: base, threads: threads, logger: logger)
        let progress = try ConsoleProgress(jsonLog: logJSON)
        let result = try trainer.run(observer: progress)
        for phase in ["frozen", "fine-tune"] {
            if let seconds = result.phaseSeconds[phase] { print("\(phase == "frozen" ? "phase 1 (frozen base)" : "phase 2 (fine-tuning)"): \(fixed(seconds, 1)) s") }
        }
        let finalAccuracy = result.epochs.last?.validationAccuracy ?? 0
        print("final validation accuracy: \(fixed(finalAccuracy, 4))")

        // The decision threshold: calibrated on the validation set, or the given one, with what it means.
        let calibration: Calibration
        if let maxFalseAccept {
            do {
                calibration = try Calibration.calibrate(scores: result.validation, maxFalseAcceptRate: maxFalseAccept)
            } catch {
                throw CommandFailure("threshold calibration: \(error)")
            }
        } else {
            calibration = Calibration.fixed(threshold: threshold, scores: result.validation)
        }
        let c = calibration.confusion
        print("threshold \(fixed(calibration.threshold, 4))\(calibration.isCalibrated ? " (calibrated)" : ""): "
              + "\(c.trueAccepts) of \(c.trueAccepts + c.falseRejects) \(layout.positiveClass) admitted, "
              + "\(c.falseAccepts) of \(c.falseAccepts + c.trueRejects) others admitted")
        print(calibration.caveat)
        for warning in calibration.warnings { printError("dogdoor-train: warning: \(warning)") }

        var summary = JSONObject()
        for (key, value) in recipe.summary { summary[key] = .string(value) }
        summary["resize"] = .string(preprocessor.resize.rawValue)
        summary["centering"] = .string(preprocessor.centering.rawValue)
        summary["final_val_accuracy"] = .number(finalAccuracy)
        summary["phase_seconds"] = .object(JSONObject(result.phaseSeconds.sorted { $0.key > $1.key }.map { (key: $0.key, value: .number($0.value)) }))
        summary["images"] = ["train_positive": .number(Double(trainPositive)), "train_negative": .number(Double(trainNegative)),
                             "valid_positive": .number(Double(validPositive)), "valid_negative": .number(Double(validNegative)),
                             "skipped": .number(Double(allSkipped.count))]
        summary["calibration"] = calibration.json
        var manifest = ModelManifest(resize: preprocessor.resize.rawValue, centering: preprocessor.centering.rawValue,
                                     positiveClass: layout.positiveClass, negativeClass: layout.negativeClass,
                                     threshold: calibration.threshold, training: summary)
        manifest.inputSize = inputSize
        let written = try ModelFile.write(result.parameters, manifest: manifest, to: output, threads: threads, signingKey: key)
        print("wrote \(output) (tensors sha256 \(written.tensorsSHA256.prefix(16))...\(key.map { ", signed by key \($0.publicKey.fingerprint)" } ?? ""))")

        let reportPath = report ?? (output.hasSuffix(".safetensors") ? String(output.dropLast(12)) : output) + ".report.html"
        var thumbnails: [String: [UInt8]] = [:]
        for wrong in TrainingReport.misclassified(result.validation, threshold: calibration.threshold) {
            if let image = try? ImageDecoder.decode(file: wrong.path, options: DecodeOptions(minimumSide: 160)) {
                let scale = 160.0 / Double(max(image.width, image.height))
                let size = (max(1, Int(Double(image.width) * scale)), max(1, Int(Double(image.height) * scale)))
                let small = PillowResample.bilinear(image, width: size.0, height: size.1)
                thumbnails[wrong.path] = try? JPEGEncoder.encode(small, options: JPEGEncodeOptions(quality: 80))
            }
        }
        let phaseOrder = ["frozen", "fine-tune"].compactMap { p in result.phaseSeconds[p].map { TrainingReport.PhaseTime(phase: p, seconds: $0) } }
        let trainingReport = TrainingReport(
            positiveClass: layout.positiveClass, negativeClass: layout.negativeClass,
            settings: [("data", data), ("weights", weightsPath), ("OpenBLAS kernel", kernel), ("threads", "\(threads.count)"),
                       ("resize", preprocessor.resize.rawValue), ("centering", preprocessor.centering.rawValue)]
                + recipe.summary.map { (key: $0.0, value: $0.1) },
            epochs: result.epochs, validation: result.validation, calibration: calibration,
            summary: TrainingReport.Summary(
                classes: [TrainingReport.ClassCount(name: layout.positiveClass, training: trainPositive, validation: validPositive),
                          TrainingReport.ClassCount(name: layout.negativeClass, training: trainNegative, validation: validNegative)],
                skipped: allSkipped, phaseTimes: phaseOrder, modelPath: output,
                modelSHA256: written.tensorsSHA256),
            thumbnails: thumbnails)
        try trainingReport.write(to: reportPath)
        print("report: \(reportPath)")
    }

    private func locateWeights() throws -> String {
        var candidates: [String] = []
        if let weights { candidates = [weights] } else {
            if let env = getenv("DOGDOOR_WEIGHTS") { candidates.append(String(cString: env)) }
            candidates += ["var/weights/vgg16-notop.safetensors", "/var/lib/dogdoor/vgg16-notop.safetensors"]
        }
        if let found = candidates.first(where: { access($0, R_OK) == 0 }) { return found }
        throw CommandFailure("VGG16 weights not found (tried \(candidates.joined(separator: ", "))); run Scripts/setup.sh or pass --weights")
    }
}
