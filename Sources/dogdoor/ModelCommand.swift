import ArgumentParser
import CommandSupport
import EngineOptions
import Logging
import NeuralNet
import Support

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect and verify model files.",
        subcommands: [Info.self, Package.self, Quantize.self, Keygen.self, Sign.self, Upgrade.self, Install.self]
    )

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a model file completely and print its manifest.",
            discussion:
                "Checks the container, the manifest, every tensor's name, shape and dtype, the tensor checksum and the self-test. Exit status 1 if anything is wrong."
        )

        @Argument(help: "The model file (.safetensors).")
        var file: String

        @Flag(help: "Print the manifest as JSON.")
        var json = false

        @OptionGroup var compute: ComputeOptions

        func run() throws {
            var logger = Logger(label: "dogdoor")
            let (threads, kernel) = try compute.setUp(&logger)
            let start = MonotonicClock.now()
            let loaded = Result { () throws(ModelError) in try DogDoorModel(path: file, threads: threads) }
            if json, case .failure(let error) = loaded {
                // With --json the answer stays machine-readable: the failure as JSON on standard output, status 1.
                print(JSONValue.object(["verification": ["ok": false, "error": .string("\(error)")]]).serialized())
                throw ExitCode(1)
            }
            let model = try loaded.get()
            // The int8 form's checksum was checked with the rest; its self-test runs when it is loaded as int8.
            let int8 = try model.manifest.quantization.map { _ in
                try DogDoorModel(path: file, precision: .int8, threads: threads)
            }
            let seconds = MonotonicClock.now() - start
            let m = model.manifest
            if json {
                var object = m.json.objectValue!
                object["verification"] = [
                    "ok": true, "load_seconds": .number(seconds), "self_test_logit": .number(model.selfTestLogit),
                    "int8_self_test_logit": int8.map { .number($0.selfTestLogit) } ?? .null,
                    "openblas_kernel": .string(kernel),
                ]
                print(JSONValue.object(object).serialized())
                return
            }
            print("model:          \(file)")
            print("verified:       yes (checksum, shapes, self-test) in \(fixed(seconds, 3)) s")
            print("format:         \(ModelFile.formatValue) v\(m.formatVersion), \(m.architecture)")
            print("input:          \(m.inputSize)x\(m.inputSize) RGB, resize \(m.resize), centering \(m.centering)")
            print("classes:        admit \"\(m.positiveClass)\" (positive logit), keep out \"\(m.negativeClass)\"")
            print("threshold:      probability >= \(m.threshold) (logit >= \(fixed(m.thresholdLogit, 4)))")
            print("tensors sha256: \(m.tensorsSHA256)")
            print("manifest:       sha256 \(m.contentSHA256) (checked)")
            print("signature:      \(m.signature.map { "Ed25519, key \($0.publicKey.fingerprint), valid" } ?? "none")")
            if let int8, let q = m.quantization {
                print(
                    "int8 form:      calibrated on \(q.calibrationImages) images, sha256 \(q.tensorsSHA256.prefix(16))... (checked), self-test logit \(int8.selfTestLogit), recorded \(q.selfTest.expectedLogit); kernels here: \(Int8Kernels.description)"
                )
            } else {
                print("int8 form:      none (dogdoor model quantize adds one)")
            }
            print(
                "self-test:      logit \(model.selfTestLogit), recorded \(m.selfTest.expectedLogit) (allowed +-\(formatNumber(m.selfTest.allowedDifference, "%.2g")))"
            )
            print("openblas:       \(kernel)")
            if !m.training.members.isEmpty {
                print("training:")
                for (key, value) in m.training.members { print("  \(key): \(value.serialized())") }
            }
        }
    }

    struct Package: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Package conv-base weights with a seeded random head into a model file (for benchmarks and tests; train a real model with dogdoor-train).",
            shouldDisplay: true
        )

        @Option(help: "Conv-base weights (vgg16-notop.safetensors).")
        var weights: String

        @Option(help: "Output model file.")
        var output: String

        @Option(help: "Seed of the random head.")
        var seed: UInt64 = 1234

        @OptionGroup var compute: ComputeOptions

        func run() throws {
            var logger = Logger(label: "dogdoor")
            let (threads, _) = try compute.setUp(&logger)
            let parameters: VGG16Parameters
            parameters = try loadBaseWeights(path: weights)
            var rng = SeededRandom(seed: seed)
            let limit = (6.0 / Double(VGG16.featureCount + 1)).squareRoot()
            parameters.head = DenseHead(
                kernel: (0..<VGG16.featureCount).map { _ in Float(rng.uniform(-limit, limit)) }, bias: 0.25)
            let manifest = ModelManifest(
                resize: "area", centering: "samplewise", positiveClass: "positive",
                negativeClass: "negative", threshold: 0.5,
                training: ["note": "untrained random head (dogdoor model package)", "seed": .number(Double(seed))])
            try ModelFile.write(parameters, manifest: manifest, to: output, threads: threads)
            print("wrote \(output)")
        }
    }
}
