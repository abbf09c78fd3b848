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
    @Flag(help: "Print one JSON object.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        var logger = Logger(label: "dogdoor")
        let (threads, _) = try compute.setUp(&logger)
        let active = try ActiveModel(path: model, threads: threads)
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
        for (i, file) in images.files.enumerated() {
            images.writeInput(i, augmentation: nil, centering: active.preprocessor.centering, into: input.pointer)
            let logit = active.model.logits(input.pointer, batch: 1)[0]
            scores.append(ScoredImage(path: file.path, isPositive: file.isPositive, logit: Double(logit)))
        }
        let limit = threshold ?? manifest.threshold
        let calibration = Calibration.fixed(threshold: limit, scores: scores)
        let c = calibration.confusion
        let auc = Metrics.rocAUC(scores)
        if json {
            var object = JSONObject()
            object["model"] = .string(model)
            object["threshold"] = .number(limit)
            object["images"] = .number(Double(scores.count))
            object["skipped"] = .number(Double(images.skipped.count))
            object["accuracy"] = c.accuracy.map { .number($0) } ?? .null
            object["roc_auc"] = auc.map { .number($0) } ?? .null
            object["confusion"] = c.json
            object["calibration"] = calibration.json
            // Per image: its true class (the folder it came from), the score, and the decision at the threshold.
            object["scores"] = .array(
                scores.map { score in
                    let probability = Double(sigmoid(Float(score.logit)))
                    return [
                        "file": .string(score.path),
                        "class": .string(score.isPositive ? manifest.positiveClass : manifest.negativeClass),
                        "logit": .number(score.logit), "probability": .number(probability),
                        "admitted": .bool(probability >= limit),
                    ]
                })
            print(JSONValue.object(object).serialized())
        } else {
            print("model:        \(model) (admits \"\(manifest.positiveClass)\")")
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
        }
        if !images.skipped.isEmpty { throw ExitCode(1) }
    }
}

func isDirectoryPath(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}
