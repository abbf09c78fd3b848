import ArgumentParser
import CommandSupport
import DoorConfiguration
import EngineOptions
import Imaging
import Inference
import Logging
import NeuralNet
import Support

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Score images with a model: logit, probability and the decision the door would make.",
        discussion: """
            Images are decoded and scored exactly as dogdoord scores camera frames. The threshold is --threshold, \
            else the daemon's `[decision] threshold` (from --config, or /etc/dogdoor/dogdoord.toml when it exists), \
            else the model's. An unreadable image is reported and skipped; the exit status is 1 if any failed.
            """)

    @Option(help: "Model file.") var model: String
    @Option(
        help:
            "Daemon configuration whose [decision] threshold applies (default: /etc/dogdoor/dogdoord.toml if it exists)."
    )
    var config: String?
    @Option(help: "Decision threshold (probability), instead of the configuration's or the model's.") var threshold:
        Double?
    @Flag(help: "One JSON object per image.") var json = false
    @Argument(help: "Image files.") var images: [String]
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let threshold, !(threshold > 0 && threshold < 1) {
            throw ValidationError("--threshold must be between 0 and 1")
        }
    }

    func run() throws {
        var logger = Logger(label: "dogdoor")
        let (threads, _) = try compute.setUp(&logger)
        let active = try ActiveModel(path: model, threads: threads)
        let manifest = active.model.manifest
        let (threshold, source) = try decisionThreshold(model: active)
        var failed = 0
        for path in images {
            do {
                let result = try active.classify(file: path)
                let admit = result.probability >= threshold
                let label = admit ? manifest.positiveClass : manifest.negativeClass
                if json {
                    let line: JSONValue = [
                        "file": .string(path), "logit": .number(Double(result.logit)),
                        "probability": .number(result.probability), "admit": .bool(admit),
                        "class": .string(label), "threshold": .number(threshold),
                        "threshold_from": .string(source),
                    ]
                    print(line.serialized())
                } else {
                    print(
                        "\(path): \(label) (p=\(fixed(result.probability, 4)), logit \(fixed(Double(result.logit), 3)), "
                            + "\(admit ? "admit" : "keep out") at threshold \(threshold) from \(source))")
                }
            } catch {
                failed += 1
                if json {
                    print(JSONValue.object(["file": .string(path), "error": .string("\(error)")]).serialized())
                } else {
                    printError("dogdoor: \(path): \(error)")
                }
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// The threshold the door would apply, and where it comes from ("option", the configuration file, "model").
    private func decisionThreshold(model: ActiveModel) throws -> (Double, String) {
        if let threshold { return (threshold, "--threshold") }
        let path = config ?? (fileExistsAt(DaemonConfiguration.defaultPath) ? DaemonConfiguration.defaultPath : nil)
        guard let path else { return (model.threshold, "the model") }
        let configuration = try DaemonConfiguration.load(path: path)
        // The daemon's own rule: the configured threshold if any (refused below the model's minimum), else the model's.
        let parameters = try configuration.decisionParameters(modelThreshold: model.threshold)
        return (parameters.threshold, configuration.decision.threshold == nil ? "the model" : path)
    }
}
