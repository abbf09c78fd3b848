import ArgumentParser
import CommandSupport
import EngineOptions
import Imaging
import Logging
import NeuralNet
import Support
import Training

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the engine on this machine.",
        subcommands: [Engine.self, Train.self, ImagingBench.self],
        defaultSubcommand: Engine.self
    )

    struct Engine: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-frame latency of the VGG16 classifier, model load time and memory.",
            discussion:
                "Loads and verifies the model (timed), then runs warm-up and timed iterations on a synthetic input. Run a release build; this machine's timings vary from run to run, compare runs made side by side."
        )

        @Option(
            help:
                "Model file to load (verified, timed). Without it, seeded random weights are used and load time is not measured."
        )
        var model: String?

        @Option(help: "Images per forward pass.")
        var batch: Int = 1

        @Option(help: "Timed iterations.")
        var iterations: Int = 10

        @Option(help: "Untimed warm-up iterations.")
        var warmup: Int = 2

        @Option(
            help:
                "Execution plan: inference, fast, training, reference, im2col, winograd2, winograd4, winograd2-streamed, winograd4-streamed, or layer=algorithm,...; int8 runs the model's int8 form (as --precision int8)"
        )
        var plan: String = "inference"

        @Option(help: "Arithmetic: fp32, int8 (needs a quantised --model) or auto.")
        var precision: Precision = .fp32

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        @Flag(help: "Also time each convolution (adds a little overhead).")
        var layers = false

        @OptionGroup var compute: ComputeOptions

        func validate() throws {
            guard batch >= 1, batch <= 64 else { throw ValidationError("--batch must be between 1 and 64") }
            guard iterations >= 1, warmup >= 0 else { throw ValidationError("--iterations must be at least 1") }
            guard plan == "int8" || ExecutionPlan(parsing: plan) != nil else {
                throw ValidationError("--plan \(plan) is not a plan")
            }
            if model == nil && (plan == "int8" || precision != .fp32) {
                throw ValidationError("int8 needs --model: a model file with its int8 form (dogdoor model quantize)")
            }
        }

        /// `--plan int8` is `--precision int8` with the default float plan for block1_conv1.
        var arithmetic: (plan: ExecutionPlan, precision: Precision) {
            plan == "int8" ? (.inference, .int8) : (ExecutionPlan(parsing: plan)!, precision)
        }

        func run() throws {
            var logger = Logger(label: "dogdoor")
            let (threads, kernel) = try compute.setUp(&logger)
            let (executionPlan, precision) = arithmetic
            let rssBefore = ProcessMemory.current()
            var loadSeconds: Double?
            let run: (UnsafePointer<Float>) -> [Float]
            let extractor: any FeatureExtracting
            var engine = executionPlan.description
            var int8 = false
            let side = VGG16.inputSize
            if let model {
                let start = MonotonicClock.now()
                let loaded: DogDoorModel
                loaded = try DogDoorModel(path: model, plan: executionPlan, precision: precision, threads: threads)
                loadSeconds = MonotonicClock.now() - start
                int8 = loaded.precision == .int8
                if int8 { engine = "int8 (\(Int8Kernels.description))" }
                extractor = loaded.extractor
                run = { loaded.logits($0, batch: batch) }
            } else {
                let parameters = VGG16Parameters.seededRandom(seed: 1)
                let random = try VGG16FeatureExtractor(weights: parameters, plan: executionPlan, threads: threads)
                extractor = random
                let head = parameters.head
                var features = [Float](repeating: 0, count: batch * VGG16.featureCount)
                run = { input in
                    features.withUnsafeMutableBufferPointer {
                        random.extract(input, batch: batch, features: $0.baseAddress!)
                    }
                    return (0..<batch).map { n in head.logit(Array(features[(n * 512)..<((n + 1) * 512)])) }
                }
            }
            let rssLoaded = ProcessMemory.current()
            var input = [Float]()
            for _ in 0..<batch { input += SelfTestInput.make(side: side) }
            var times: [Double] = []
            var logits: [Float] = []
            input.withUnsafeBufferPointer { p in
                for _ in 0..<warmup { logits = run(p.baseAddress!) }
                if layers { extractor.layerSeconds = Array(repeating: 0, count: VGG16.convLayers.count) }
                for _ in 0..<iterations {
                    let t = MonotonicClock.now()
                    logits = run(p.baseAddress!)
                    times.append(MonotonicClock.now() - t)
                }
            }
            let rssAfter = ProcessMemory.current()
            let sorted = times.sorted()
            let median = sorted[sorted.count / 2]
            let perFrameMS = median * 1000 / Double(batch)
            let gflops = VGG16.flopsPerImage * Double(batch) / median / 1e9
            var layerReport: [(name: String, ms: Double, gflops: Double)] = []
            if let seconds = extractor.layerSeconds {
                var h = side
                for (i, layer) in VGG16.convLayers.enumerated() {
                    let per = seconds[i] / Double(iterations)
                    layerReport.append(
                        (layer.name, per * 1000, layer.flops(height: h, width: h) * Double(batch) / per / 1e9))
                    if layer.poolAfter { h /= 2 }
                }
            }
            if json {
                let result: JSONValue = [
                    "engine": "dogdoor", "batch": .number(Double(batch)), "threads": .number(Double(threads.count)),
                    "plan": .string(engine), "openblas_kernel": .string(kernel),
                    "engine_loops": .string(EngineLoops.description),
                    "iteration_seconds": .array(times.map { .number($0) }), "median_ms_per_frame": .number(perFrameMS),
                    "gflops": .number(gflops), "load_seconds": loadSeconds.map { .number($0) } ?? .null,
                    "rss_mib_start": .number(rssBefore.residentMiB), "rss_mib_loaded": .number(rssLoaded.residentMiB),
                    "rss_mib_end": .number(rssAfter.residentMiB), "peak_rss_mib": .number(rssAfter.peakMiB),
                    "engine_buffers_mib": .number(Double(extractor.memoryBytes) / 1_048_576),
                    "rss_anonymous_mib": .number(Double(rssAfter.anonymous) / 1_048_576),
                    "rss_file_mib": .number(Double(rssAfter.fileBacked) / 1_048_576),
                    "logit": .number(Double(logits.first ?? .nan)),
                    "layers": .array(
                        layerReport.map {
                            ["name": .string($0.name), "ms": .number($0.ms), "gflops": .number($0.gflops)]
                        }),
                ]
                print(result.serialized())
                return
            }
            print("openblas kernel: \(kernel)")
            print("engine loops:    \(EngineLoops.description)")
            print("threads:         \(threads.count)")
            print("plan:            \(engine)")
            if let loadSeconds { print("model load:      \(fixed(loadSeconds, 3)) s (verified, self-test included)") }
            print("batch:           \(batch)")
            print(
                "per frame:       \(fixed(perFrameMS, 1)) ms median of \(iterations) (min \(fixed(sorted[0] * 1000 / Double(batch), 1)) ms)"
            )
            print(
                "throughput:      \(fixed(gflops, 0)) GFLOP/s (\(fixed(VGG16.flopsPerImage / 1e9, 2)) GFLOP per frame)")
            print(
                "memory:          \(fixed(rssAfter.residentMiB, 1)) MiB resident, peak \(fixed(rssAfter.peakMiB, 1)) MiB"
            )
            for (i, l) in layerReport.enumerated() {
                print(
                    "  \(l.name)  \(int8 && i > 0 ? "int8" : executionPlan.algorithms[i].rawValue)  \(fixed(l.ms, 2)) ms  \(fixed(l.gflops, 0)) GFLOP/s"
                )
            }
        }
    }
}

extension BenchCommand {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Time training steps: phase 1 (frozen base, features only) and phase 2 (fine-tuning) at a batch size.",
            discussion: "Uses seeded random weights and inputs; the work per step is the same as with real data."
        )

        @Option(help: "Images per step.") var batch: Int = 8
        @Option(help: "Timed steps per phase.") var steps: Int = 3
        @Option(name: .customLong("fine-tune-from"), help: "First trainable layer in phase 2.") var fineTuneFrom =
            "block1_conv1"
        @Option(help: "Execution plan (see bench engine).") var plan: String = "training"
        @Flag(help: "Print one JSON object instead of text.") var json = false
        @Flag(help: "Break the backward stages down by layer.") var layers = false
        @OptionGroup var compute: ComputeOptions

        func run() throws {
            var logger = Logger(label: "dogdoor")
            let (threads, kernel) = try compute.setUp(&logger)
            guard let executionPlan = ExecutionPlan(parsing: plan), let first = VGG16.index(of: fineTuneFrom) else {
                throw ValidationError("bad --plan or --fine-tune-from")
            }
            let parameters = VGG16Parameters.seededRandom(seed: 2)
            var rng = SeededRandom(seed: 3)
            let input = FloatBuffer(count: batch * 224 * 224 * 3)
            for i in 0..<input.count { input[i] = Float(rng.uniform(-100, 100)) }
            let labels = (0..<batch).map { Float($0 % 2) }

            // Phase 1: features of a batch through the frozen base.
            let extractor = try VGG16FeatureExtractor(
                weights: parameters, plan: executionPlan, threads: threads, chunking: .training)
            var features = [Float](repeating: 0, count: batch * VGG16.featureCount)
            features.withUnsafeMutableBufferPointer {
                extractor.extract(input.pointer, batch: batch, features: $0.baseAddress!)
            }
            var frozen: [Double] = []
            for _ in 0..<steps {
                let t = MonotonicClock.now()
                features.withUnsafeMutableBufferPointer {
                    extractor.extract(input.pointer, batch: batch, features: $0.baseAddress!)
                }
                frozen.append(MonotonicClock.now() - t)
            }

            // Phase 2: forward, backward, optimizer, re-preparation of the weights.
            let network = TrainableNetwork(
                parameters: parameters, firstTrainable: first, plan: executionPlan, maxBatch: batch, threads: threads)
            let optimizer = RMSprop(learningRate: 1e-5, threads: threads)
            var fineTune: [Double] = []
            var optimizerSeconds = 0.0
            for s in 0...steps {
                if s == 1 { network.stageSeconds = [:] }
                let t = MonotonicClock.now()
                let logits = network.forward(input.pointer, count: batch)
                network.backward(logitGradients: BinaryCrossEntropy.gradient(logits: logits, labels: labels))
                let o = MonotonicClock.now()
                for (i, g) in network.gradients.conv.enumerated() {
                    guard let g else { continue }
                    optimizer.update(parameters.conv[i].kernel, gradient: g.kernel)
                    optimizer.update(parameters.conv[i].bias, gradient: g.bias)
                }
                optimizer.update(
                    &parameters.head, kernelGradient: network.gradients.headKernel,
                    biasGradient: network.gradients.headBias)
                if s > 0 { optimizerSeconds += MonotonicClock.now() - o }
                network.parametersDidChange()
                if s > 0 { fineTune.append(MonotonicClock.now() - t) }
            }
            let perImage = { (t: [Double]) in t.sorted()[t.count / 2] * 1000 / Double(batch) }
            let fastest = { (t: [Double]) in t.min()! * 1000 / Double(batch) }
            var stages: [String: Double] = ["optimizer": optimizerSeconds]
            for (key, value) in network.stageSeconds ?? [:] {
                // Per-layer keys ("weight gradient block3_conv2") are summed per stage; --layers keeps them.
                let stage =
                    layers ? key : key.split(separator: " ").filter { !$0.hasPrefix("block") }.joined(separator: " ")
                stages[stage, default: 0] += value
            }
            if json {
                var stageObject = JSONObject()
                for (k, v) in stages.sorted(by: { $0.key < $1.key }) {
                    stageObject[k] = .number(v * 1000 / Double(steps * batch))
                }
                let out: JSONValue = [
                    "openblas_kernel": .string(kernel), "engine_loops": .string(EngineLoops.description),
                    "threads": .number(Double(threads.count)),
                    "batch": .number(Double(batch)), "frozen_ms_per_image": .number(perImage(frozen)),
                    "fine_tune_ms_per_image": .number(perImage(fineTune)),
                    "frozen_fastest_ms_per_image": .number(fastest(frozen)),
                    "fine_tune_fastest_ms_per_image": .number(fastest(fineTune)),
                    "fine_tune_stages_ms_per_image": .object(stageObject),
                    "network_mib": .number(Double(network.memoryBytes) / 1_048_576),
                    "peak_rss_mib": .number(ProcessMemory.current().peakMiB),
                ]
                print(out.serialized())
                return
            }
            print(
                "openblas kernel: \(kernel); engine loops \(EngineLoops.description); threads \(threads.count); batch \(batch); plan \(plan)"
            )
            print(
                "phase 1 (frozen base):  \(fixed(perImage(frozen), 1)) ms per image (median of \(steps) steps; fastest \(fixed(fastest(frozen), 1)))"
            )
            print(
                "phase 2 (fine-tuning):  \(fixed(perImage(fineTune), 1)) ms per image (median; fastest \(fixed(fastest(fineTune), 1))), from \(fineTuneFrom)"
            )
            for (k, v) in stages.sorted(by: { $0.value > $1.value }) {
                print("  \(k): \(fixed(v * 1000 / Double(steps * batch), 1)) ms per image")
            }
            print(
                "memory: network \(fixed(Double(network.memoryBytes) / 1_048_576, 0)) MiB, peak resident \(fixed(ProcessMemory.current().peakMiB, 0)) MiB"
            )
        }
    }
}

extension BenchCommand {
    struct ImagingBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "imaging",
            abstract:
                "Time preprocessing: a 640x480 MJPEG frame, a 640x480 YUYV frame and a 2000x2000 JPEG photo to a centred 224x224 input."
        )

        @Option(help: "Timed iterations per case.") var iterations = 50
        @Option(help: "Resize method.") var resize = ResizeMethod.default
        @Flag(help: "Print one JSON object instead of text.") var json = false

        func run() throws {
            let cases = try ImagingBenchmark.run(iterations: iterations, preprocessor: Preprocessor(resize: resize))
            if json {
                print(
                    JSONValue.array(
                        cases.map {
                            [
                                "case": .string($0.name), "median_ms": .number($0.medianMilliseconds),
                                "min_ms": .number($0.minimumMilliseconds),
                                "target_ms": .number($0.targetMilliseconds),
                                "iterations": .number(Double($0.iterations)),
                            ]
                        }
                    ).serialized())
                return
            }
            for c in cases {
                let verdict = c.medianMilliseconds <= c.targetMilliseconds ? "within" : "OVER"
                print(
                    "\(c.name): median \(fixed(c.medianMilliseconds, 2)) ms, min \(fixed(c.minimumMilliseconds, 2)) ms (target \(fixed(c.targetMilliseconds, 0)) ms: \(verdict))"
                )
            }
        }
    }
}
