import Foundation
import NeuralNet
import Support
import Testing

/// Parity with Keras on the real VGG16 weights (Scripts/setup.sh imports them): golden data written once by
/// Scripts/make-golden.py (Keras 3 + an independent float64 numpy forward), committed in Golden/.
@Suite struct KerasParityTests {
    static let goldenPath = Bundle.module.path(
        forResource: "vgg16-golden", ofType: "safetensors", inDirectory: "Golden")!

    static func weights() throws -> (VGG16Parameters, SafetensorsFile) {
        let golden = try SafetensorsFile(path: goldenPath)
        guard FileManager.default.fileExists(atPath: weightsPath) else {
            throw TestFailure(
                "VGG16 weights not found at \(weightsPath): run Scripts/setup.sh (or set DOGDOOR_WEIGHTS)")
        }
        let parameters = try loadBaseWeights(path: weightsPath)
        let digest = try SafetensorsFile(path: weightsPath).metadata["tensors_sha256"]
        #expect(digest == golden.metadata["weights_tensors_sha256"], "golden data was made from other weights")
        parameters.head = DenseHead(kernel: try golden.floats("head.kernel"), bias: try golden.floats("head.bias")[0])
        return (parameters, golden)
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// GAP features and logits of three 224x224 inputs against float64: max|diff| / max|ref| <= 1e-5.
    /// float32 accumulation over 13 layers measured here at ~1e-7 (im2col) to ~1e-6 (F4), so 1e-5 is tight
    /// enough to catch any real error (a wrong weight layout or padding is off by order 1).
    @Test(arguments: [ExecutionPlan.inference, .fast, .reference, .training, .uniform(.winograd2)])
    func featuresAndLogitsMatchFloat64(plan: ExecutionPlan) throws {
        let (parameters, golden) = try Self.weights()
        let extractor = try VGG16FeatureExtractor(weights: parameters, plan: plan, threads: ComputeThreads(2))
        let inputs = try golden.floats("inputs")
        let features = extractor.extract(inputs, batch: 3)
        let reference = try golden.doubles("f64.features")
        let logits = features.map { parameters.head.logit($0) }
        let referenceLogits = try golden.doubles("f64.logits")
        let featureError = relativeMaxError(features.flatMap { $0 }, reference)
        let logitError = relativeMaxError(logits, referenceLogits)
        #expect(featureError <= 1e-5, "features: \(featureError)")
        #expect(logitError <= 1e-5, "logits: \(logitError)")
        // Batch 1 gives the same numbers as batch 3 (chunks may span images; nothing may leak between them).
        let single = extractor.extract(Array(inputs[(224 * 224 * 3)..<(2 * 224 * 224 * 3)]), batch: 1)
        #expect(relativeMaxError(single[0], features[1].map(Double.init)) <= 1e-6)
    }

    /// Every layer of a 32x32 input, borders included (at 32x32 a third of the pixels are within one pixel of
    /// an edge, so zero padding is exercised at every depth, down to block5's 2x2).
    @Test(arguments: [ExecutionPlan.reference, .inference, .fast, .training])
    func everyLayerMatchesFloat64(plan: ExecutionPlan) throws {
        let (parameters, golden) = try Self.weights()
        let extractor = try VGG16FeatureExtractor(weights: parameters, plan: plan, threads: ComputeThreads(2))
        let outputs = extractor.trace(try golden.floats("small.input"), side: 32)
        let names = VGG16.convLayers.map(\.name) + ["block5_pool"]
        for (name, output) in zip(names, outputs) {
            let reference = try golden.floats("small.\(name)").map(Double.init)
            let error = relativeMaxError(output, reference)
            #expect(error <= 1e-5, "\(name): \(error)")
            // The border specifically: first and last row and column.
            let info = golden.info("small.\(name)")!
            let (h, w, c) = (info.shape[1], info.shape[2], info.shape[3])
            var borderDiff = 0.0
            var scale = 0.0
            for y in 0..<h {
                for x in 0..<w where y == 0 || x == 0 || y == h - 1 || x == w - 1 {
                    for k in 0..<c {
                        let i = (y * w + x) * c + k
                        borderDiff = max(borderDiff, abs(Double(output[i]) - reference[i]))
                        scale = max(scale, abs(reference[i]))
                    }
                }
            }
            #expect(borderDiff <= 1e-5 * max(scale, 1e-30) || scale == 0, "\(name) border: \(borderDiff) of \(scale)")
        }
    }

    /// Keras's own float32 output agrees too (a second, independent reference).
    @Test func logitsMatchKeras() throws {
        let (parameters, golden) = try Self.weights()
        let extractor = try VGG16FeatureExtractor(weights: parameters, plan: .inference, threads: ComputeThreads(2))
        let logits = extractor.extract(try golden.floats("inputs"), batch: 3).map { parameters.head.logit($0) }
        #expect(relativeMaxError(logits, try golden.floats("keras.logits").map(Double.init)) <= 1e-5)
    }
}
