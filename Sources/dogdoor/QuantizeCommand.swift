import ArgumentParser
import CommandSupport
import EngineOptions
import Imaging
import Logging
import NeuralNet
import Support
import Training

extension ModelCommand {
    struct Quantize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the int8 form of a model to its file ([compute] precision = \"int8\" or \"auto\").",
            discussion: """
                Verifies the model, calibrates one activation scale per layer on photos (the training photos of a \
                data folder with train/, else every image below the folder; up to --images of them, spread over \
                the folder), quantises the weights per output channel (--rounding), and writes the file with the float tensors \
                unchanged and the int8 ones beside them, each with its checksum and self-test. Then compares the \
                two forms on the folder's validation photos (valid/), or else on the calibration photos. A \
                signature does not survive: sign the new file again.
                """
        )

        @Option(help: "The model file.")
        var model: String

        @Option(help: "Photos to calibrate on (repeatable): a data folder or any folder of images.")
        var calibration: [String]

        @Option(help: "Write here instead of rewriting --model in place.")
        var output: String?

        @Option(help: "Calibration images used at most.")
        var images: Int = Quantizer.defaultImageLimit

        @Option(
            help: """
                How weights become bytes: compensated (GPTQ: rounding errors that the photos show to cancel are \
                made to cancel; minutes) or nearest (each weight to its nearest byte; seconds).
                """)
        var rounding: WeightRounding = .compensated

        @Option(
            help: """
                How many times a clipped activation's squared error counts against a rounded one's when each \
                layer's activation range is chosen (larger: wider ranges, coarser steps).
                """)
        var clippingWeight: Double = ActivationHistogram.defaultClippingWeight

        @OptionGroup var compute: ComputeOptions

        func validate() throws {
            guard !calibration.isEmpty else { throw ValidationError("--calibration is required") }
            guard images >= 1, images <= 10_000 else { throw ValidationError("--images must be between 1 and 10000") }
            guard ActivationHistogram.clippingWeights.contains(clippingWeight) else {
                throw ValidationError("--clipping-weight must be between 0.01 and 10000")
            }
        }

        func run() throws {
            var logger = Logger(label: "dogdoor")
            let (threads, _) = try compute.setUp(&logger)
            let (verified, parameters) = try ModelFile.readParameters(model, threads: threads)
            var manifest = verified.manifest
            let preprocessor = try Preprocessor(
                resizeName: manifest.resize, centeringName: manifest.centering, side: manifest.inputSize)
            let files = try Quantizer.calibrationFiles(in: calibration, limit: images)
            let (int8, skipped) = try Quantizer.calibrate(
                parameters, files: files, preprocessor: preprocessor, threads: threads, rounding: rounding,
                clippingWeight: clippingWeight)
            for file in skipped { printError("dogdoor: skipped \(file.path): \(file.reason)") }
            if manifest.signature != nil {
                printError(
                    "dogdoor: the signature of \(model) does not cover the new file: sign it again (dogdoor model sign)"
                )
            }
            manifest.signature = nil
            let destination = output ?? model
            let written = try ModelFile.write(
                parameters, manifest: manifest, to: destination, threads: threads, int8: int8)
            let q = written.quantization!
            print(
                "wrote \(destination): int8 form calibrated on \(q.calibrationImages) images (\(Int8Kernels.description) kernels here)"
            )
            print(
                "activation scales: "
                    + q.activationScales.map { formatNumber(Double($0), "%.4g") }.joined(separator: " "))
            // Compared on photos calibration did not see when the folder has them (valid/ of a data folder).
            let validation = calibration.lazy.compactMap {
                try? DatasetLayout.discover(directory: $0, positive: manifest.positiveClass).validation
            }.first { !$0.isEmpty }
            let images = ImageSet(
                validation ?? files.map { LabelledFile(path: $0, className: "", isPositive: false) },
                preprocessor: preprocessor, threads: threads)
            let comparison = try PrecisionComparison.measure(
                modelPath: destination, images: images, labelled: validation != nil,
                centering: preprocessor.centering, threads: threads)
            print((validation != nil ? "validation photos: " : "calibration photos: ") + comparison.summary)
        }
    }
}
