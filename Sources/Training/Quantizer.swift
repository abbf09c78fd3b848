import Imaging
import NeuralNet
import Support

/// Post-training quantisation: calibrates the activation scales of a trained network on photos and writes
/// the model file with its int8 form beside the float tensors (`dogdoor model quantize`, `dogdoor-train`).
public enum Quantizer {
    /// Calibration images used at most: each costs a float pass that keeps every activation, and 24 int8 passes
    /// through part of the network for error-compensated rounding and the empirical bias correction; 64 keep
    /// `dogdoor model quantize` near 2.5 minutes on a 2-core PC (half a minute with `--rounding nearest`).
    public static let defaultImageLimit = 64

    /// The calibration photos under `directories`: of a data folder (with `train/`), the training photos only,
    /// so that validation photos stay unseen by every choice the model file records; of any other folder,
    /// every image below it. Up to `limit`, spread evenly over the byte-ordered list (so both classes are
    /// represented as in the folders), the same ones on every run.
    public static func calibrationFiles(in directories: [String], limit: Int) throws(DatasetError) -> [String] {
        var files: [String] = []
        for directory in directories {
            let train = directory + "/train"
            files += try DatasetLayout.imageFiles(under: isDirectory(train) ? train : directory)
        }
        guard !files.isEmpty else {
            throw DatasetError("\(directories.joined(separator: ", ")): no images to calibrate the int8 scales on")
        }
        guard files.count > limit else { return files }
        return (0..<limit).map { files[$0 * files.count / limit] }
    }

    /// Calibrates the int8 form of `parameters` on `files` (decoded and preprocessed as the model's manifest
    /// says; unreadable files are skipped and returned), running the float network on `threads`.
    public static func calibrate(
        _ parameters: VGG16Parameters, files: [String], preprocessor: Preprocessor, threads: ComputeThreads,
        rounding: WeightRounding = .compensated, clippingWeight: Double = ActivationHistogram.defaultClippingWeight
    ) throws -> (calibration: Int8Calibration, skipped: [SkippedFile]) {
        let set = ImageSet(
            files.map { LabelledFile(path: $0, className: "", isPositive: false) }, preprocessor: preprocessor,
            threads: threads)
        guard set.count > 0 else {
            throw DatasetError(
                "none of the \(files.count) calibration images could be read: \(set.skipped.first?.reason ?? "")")
        }
        let calibration = try calibrate(
            parameters, images: set, limit: set.count, centering: preprocessor.centering, threads: threads,
            rounding: rounding, clippingWeight: clippingWeight)
        return (calibration, set.skipped)
    }

    /// Calibrates on up to `limit` images of `images` (spread evenly over the set), centred with `centering`,
    /// rounds the weights as `rounding` says, and clips activations as `clippingWeight` says
    /// (`ActivationHistogram.bestClip(clippingWeight:)`).
    public static func calibrate(
        _ parameters: VGG16Parameters, images: ImageSet, limit: Int, centering: Centering, threads: ComputeThreads,
        rounding: WeightRounding = .compensated, clippingWeight: Double = ActivationHistogram.defaultClippingWeight
    ) throws -> Int8Calibration {
        precondition(images.count > 0 && limit > 0, "calibration needs images")
        let extractor = try VGG16FeatureExtractor(weights: parameters, plan: .inference, threads: threads)
        var calibration = ActivationCalibration(clippingWeight: clippingWeight)
        let used = min(limit, images.count)
        let inputs = (0..<used).map { n in
            var input = [Float](repeating: 0, count: images.side * images.side * 3)
            input.withUnsafeMutableBufferPointer {
                images.writeInput(
                    n * images.count / used, augmentation: nil, centering: centering, into: $0.baseAddress!)
            }
            return input
        }
        for input in inputs { calibration.add(input, side: images.side, extractor: extractor) }
        return try calibration.result.refined(
            parameters, images: inputs, side: images.side, threads: threads, rounding: rounding)
    }
}

/// How closely a model file's int8 form follows its float form on a set of photos.
public struct PrecisionComparison: Sendable, Equatable {
    public var images = 0
    /// The largest difference of the probability of one image.
    public var largestDifference = 0.0
    /// Images admitted by one form and refused by the other, at the model's threshold.
    public var decisionsChanged = 0
    /// Accuracy at the model's threshold of each form, when the photos are labelled.
    public var accuracy: (fp32: Double, int8: Double)?
    public var threshold = 0.5

    public static func == (a: PrecisionComparison, b: PrecisionComparison) -> Bool {
        a.images == b.images && a.largestDifference == b.largestDifference && a.decisionsChanged == b.decisionsChanged
            && a.accuracy?.fp32 == b.accuracy?.fp32 && a.accuracy?.int8 == b.accuracy?.int8
    }

    /// One line for people.
    public var summary: String {
        var text =
            "int8 against fp32 on \(images) images: probabilities differ by at most \(fixed(largestDifference, 4)), "
            + "\(decisionsChanged) decision\(decisionsChanged == 1 ? "" : "s") changed at threshold \(fixed(threshold, 4))"
        if let accuracy { text += "; accuracy \(fixed(accuracy.int8, 4)) (fp32 \(fixed(accuracy.fp32, 4)))" }
        return text
    }

    /// Loads the model at `path` in both precisions and scores every image of `images` with each.
    public static func measure(
        modelPath path: String, images: ImageSet, labelled: Bool, centering: Centering, threads: ComputeThreads
    ) throws -> PrecisionComparison {
        let float = try DogDoorModel(path: path, precision: .fp32, threads: threads)
        let int8 = try DogDoorModel(path: path, precision: .int8, threads: threads)
        var result = PrecisionComparison(threshold: float.manifest.threshold)
        let input = FloatBuffer(count: images.side * images.side * 3)
        var correct = (fp32: 0, int8: 0)
        for i in 0..<images.count {
            images.writeInput(i, augmentation: nil, centering: centering, into: input.pointer)
            let p = float.probability(logit: float.logits(input.pointer, batch: 1)[0])
            let q = int8.probability(logit: int8.logits(input.pointer, batch: 1)[0])
            result.images += 1
            result.largestDifference = max(result.largestDifference, abs(p - q))
            let (a, b) = (float.admits(probability: p), int8.admits(probability: q))
            if a != b { result.decisionsChanged += 1 }
            let truth = images.files[i].isPositive
            if a == truth { correct.fp32 += 1 }
            if b == truth { correct.int8 += 1 }
        }
        if labelled && result.images > 0 {
            let n = Double(result.images)
            result.accuracy = (Double(correct.fp32) / n, Double(correct.int8) / n)
        }
        return result
    }
}
