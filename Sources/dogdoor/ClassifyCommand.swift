import ArgumentParser
import CommandSupport
import Imaging
import Inference
import Logging
import NeuralNet
import Support

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Score images with a model: logit, probability and the decision at the model's threshold.",
        discussion: "Images are recognised by content. An unreadable image is reported and skipped; the exit status is 1 if any failed.")

    @Option(help: "Model file.") var model: String
    @Flag(help: "One JSON object per image.") var json = false
    @Argument(help: "Image files.") var images: [String]
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        var logger = Logger(label: "dogdoor")
        let (threads, _) = try compute.setUp(&logger)
        let active: ActiveModel
        do { active = try ActiveModel(path: model, threads: threads) } catch {
            printError("dogdoor: \(error)")
            throw ExitCode(1)
        }
        let manifest = active.model.manifest
        var failed = 0
        for path in images {
            do {
                let input = try active.preprocessor.input(file: path)
                let logit = input.withUnsafeBufferPointer { active.model.logits($0.baseAddress!, batch: 1)[0] }
                let probability = active.model.probability(logit: logit)
                let admit = active.model.admits(probability: probability)
                let label = admit ? manifest.positiveClass : manifest.negativeClass
                if json {
                    let line: JSONValue = ["file": .string(path), "logit": .number(Double(logit)), "probability": .number(probability),
                                           "admit": .bool(admit), "class": .string(label), "threshold": .number(manifest.threshold)]
                    print(line.serialized())
                } else {
                    print("\(path): \(label) (p=\(fixed(probability, 4)), logit \(fixed(Double(logit), 3)), \(admit ? "admit" : "keep out") at threshold \(manifest.threshold))")
                }
            } catch {
                failed += 1
                if json {
                    print(JSONValue.object(["file": .string(path), "error": .string("\(error)")]).serialized())
                } else {
                    printError("\(path): error: \(error)")
                }
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
