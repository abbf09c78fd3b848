import ArgumentParser
import CommandSupport
import EngineOptions
import Imaging
import Inference
import Logging
import NeuralNet
import Support
import Training
import TrainingReport

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure a model on labelled images: accuracy, confusion matrix, ROC AUC, false accepts and rejects.",
        discussion: """
            DATA holds one folder per class named like the model's classes (DATA/bo/, DATA/not_bo/), or is a training \
            data directory, whose valid/ (or validation/) folder is then used. Images are recognised by content; \
            unreadable ones are listed and skipped. Exit status 1 if any image could not be read.
            """)

    @Option(help: "Model file.") var model: String
    @Option(help: "Data directory.") var data: String
    @Option(help: "Decision threshold to evaluate at (default: the model's).") var threshold: Double?
    @Option(help: "Arithmetic: fp32, int8 (the model's int8 form) or auto.") var precision: Precision = .fp32
    @Flag(
        help: """
            Also score each image as the mean logit of the image and its mirror image (test-time augmentation), \
            and report both ways with the time each took: whether the mirror pays for its second inference.
            """)
    var mirror = false
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        var logger = Logger(label: "dogdoor")
        let (threads, _) = try compute.setUp(&logger)
        let active = try ActiveModel(path: model, precision: precision, threads: threads)
        let manifest = active.model.manifest
        let root = ["valid", "validation"].map { data + "/" + $0 }.first { isDirectoryPath($0) } ?? data
        var files: [LabelledFile] = []
        for (name, positive) in [(manifest.positiveClass, true), (manifest.negativeClass, false)] {
            let folder = root + "/" + name
            guard isDirectoryPath(folder) else {
                throw Failure(
                    "\(folder): missing (the model's classes are \(manifest.positiveClass) and \(manifest.negativeClass))"
                )
            }
            files += try DatasetLayout.imageFiles(under: folder).map {
                LabelledFile(path: $0, className: name, isPositive: positive)
            }
        }
        let images = ImageSet(files, preprocessor: active.preprocessor, threads: threads)
        for skipped in images.skipped { printError("dogdoor: skipped \(skipped.path): \(skipped.reason)") }
        let input = FloatBuffer(count: active.preprocessor.valueCount)
        var scores: [ScoredImage] = []
        var mirrored: [ScoredImage] = []
        var seconds = (plain: 0.0, mirror: 0.0)
        let flip = AugmentationParameters(flipHorizontal: true)
        for (i, file) in images.files.enumerated() {
            var start = MonotonicClock.now()
            images.writeInput(i, augmentation: nil, centering: active.preprocessor.centering, into: input.pointer)
            let logit = Double(active.model.logits(input.pointer, batch: 1)[0])
            seconds.plain += MonotonicClock.now() - start
            scores.append(ScoredImage(path: file.path, isPositive: file.isPositive, logit: logit))
            guard mirror else { continue }
            start = MonotonicClock.now()
            // Centring is the same for an image and its mirror, so mirroring before it is mirroring after.
            images.writeInput(i, augmentation: flip, centering: active.preprocessor.centering, into: input.pointer)
            let other = Double(active.model.logits(input.pointer, batch: 1)[0])
            seconds.mirror += MonotonicClock.now() - start
            mirrored.append(ScoredImage(path: file.path, isPositive: file.isPositive, logit: (logit + other) / 2))
        }
        let limit = threshold ?? manifest.threshold
        let calibration = Calibration.fixed(threshold: limit, scores: scores)
        let c = calibration.confusion
        let auc = Metrics.rocAUC(scores)
        let mirrorOutcome = mirror ? MirrorOutcome(scores: mirrored, threshold: limit, seconds: seconds) : nil
        if json {
            let report = EvaluationOutput(
                model: model, threshold: limit, images: scores.count, skipped: images.skipped.count,
                accuracy: c.accuracy, rocAUC: auc, confusion: c, calibration: calibration, mirror: mirrorOutcome,
                scores: scores.map { score in
                    let probability = Double(sigmoid(Float(score.logit)))
                    return EvaluationOutput.Score(
                        file: score.path,
                        imageClass: score.isPositive ? manifest.positiveClass : manifest.negativeClass,
                        logit: score.logit, probability: probability, admitted: probability >= limit)
                })
            print(try JSONValueEncoder().encode(report).serialized())
        } else {
            print("model:        \(model) (admits \"\(manifest.positiveClass)\", \(active.model.precision.rawValue))")
            print(
                "images:       \(c.positives) \(manifest.positiveClass), \(c.negatives) \(manifest.negativeClass), \(images.skipped.count) skipped"
            )
            print("threshold:    \(fixed(limit, 4))")
            print("accuracy:     \(c.accuracy.map { fixed($0, 4) } ?? "n/a")")
            print("ROC AUC:      \(auc.map { fixed($0, 4) } ?? "n/a (needs both classes)")")
            print(
                "confusion:    \(c.trueAccepts) true accepts, \(c.falseRejects) false rejects, \(c.falseAccepts) false accepts, \(c.trueRejects) true rejects"
            )
            print("false accepts: \(c.falseAccepts) of \(c.negatives) (the door opened for the wrong animal)")
            print("false rejects: \(c.falseRejects) of \(c.positives) (the dog had to wait)")
            print(calibration.caveat)
            for wrong in TrainingReport.misclassified(scores, threshold: limit) {
                print(
                    "  \(wrong.isPositive ? "rejected" : "ACCEPTED") \(wrong.path) (p=\(fixed(wrong.probability, 3)))")
            }
            if let m = mirrorOutcome {
                let n = Double(max(1, scores.count))
                print("with the mirror image (mean logit of both):")
                print(
                    "  accuracy:   \(m.accuracy.map { fixed($0, 4) } ?? "n/a") (alone \(c.accuracy.map { fixed($0, 4) } ?? "n/a"))"
                )
                print(
                    "  ROC AUC:    \(m.rocAUC.map { fixed($0, 4) } ?? "n/a") (alone \(auc.map { fixed($0, 4) } ?? "n/a"))"
                )
                print(
                    "  confusion:  \(m.confusion.trueAccepts) true accepts, \(m.confusion.falseRejects) false rejects, "
                        + "\(m.confusion.falseAccepts) false accepts, \(m.confusion.trueRejects) true rejects")
                print(
                    "  time:       \(fixed(1000 * (seconds.plain + seconds.mirror) / n, 1)) ms per image "
                        + "(alone \(fixed(1000 * seconds.plain / n, 1)) ms)")
            }
        }
        if !images.skipped.isEmpty { throw ExitCode(1) }
    }
}

func isDirectoryPath(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// `dogdoor evaluate --mirror`: the images scored with their mirror images, and what both ways cost.
struct MirrorOutcome: Encodable {
    var accuracy: Double?
    var rocAUC: Double?
    var confusion: ConfusionMatrix
    /// Mean milliseconds per image, alone and with the mirror (preprocessing and inference).
    var millisecondsAlone: Double
    var millisecondsWithMirror: Double

    init(scores: [ScoredImage], threshold: Double, seconds: (plain: Double, mirror: Double)) {
        confusion = ConfusionMatrix(scores: scores, threshold: threshold)
        accuracy = confusion.accuracy
        rocAUC = Metrics.rocAUC(scores)
        let n = Double(max(1, scores.count))
        millisecondsAlone = 1000 * seconds.plain / n
        millisecondsWithMirror = 1000 * (seconds.plain + seconds.mirror) / n
    }

    enum CodingKeys: String, CodingKey {
        case accuracy, confusion
        case rocAUC = "roc_auc"
        case millisecondsAlone = "ms_per_image_alone"
        case millisecondsWithMirror = "ms_per_image_with_mirror"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(accuracy, forKey: .accuracy)
        try container.encode(rocAUC, forKey: .rocAUC)
        try container.encode(confusion, forKey: .confusion)
        try container.encode(millisecondsAlone, forKey: .millisecondsAlone)
        try container.encode(millisecondsWithMirror, forKey: .millisecondsWithMirror)
    }
}

/// `dogdoor evaluate --json`: the totals (accuracy and ROC AUC null when undefined), then per image its true
/// class (the folder it came from), the score, and the decision at the threshold.
struct EvaluationOutput: Encodable {
    struct Score: Encodable {
        var file: String
        var imageClass: String
        var logit: Double
        var probability: Double
        var admitted: Bool

        enum CodingKeys: String, CodingKey {
            case file, logit, probability, admitted
            case imageClass = "class"
        }
    }

    var model: String
    var threshold: Double
    var images: Int
    var skipped: Int
    var accuracy: Double?
    var rocAUC: Double?
    var confusion: ConfusionMatrix
    var calibration: Calibration
    /// With --mirror only.
    var mirror: MirrorOutcome?
    var scores: [Score]

    enum CodingKeys: String, CodingKey {
        case model, threshold, images, skipped, accuracy, confusion, calibration, mirror, scores
        case rocAUC = "roc_auc"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(threshold, forKey: .threshold)
        try container.encode(images, forKey: .images)
        try container.encode(skipped, forKey: .skipped)
        try container.encode(accuracy, forKey: .accuracy)  // null, not left out, with no images
        try container.encode(rocAUC, forKey: .rocAUC)
        try container.encode(confusion, forKey: .confusion)
        try container.encode(calibration, forKey: .calibration)
        try container.encodeIfPresent(mirror, forKey: .mirror)
        try container.encode(scores, forKey: .scores)
    }
}
