import DoorConfiguration
import Imaging
import NeuralNet
import Support

/// A verified model together with the preprocessing its manifest names: what turns a frame into a
/// probability.
public final class ActiveModel: @unchecked Sendable {
    public let model: DogDoorModel
    public let preprocessor: Preprocessor
    private let input: FloatBuffer

    /// Loads and verifies `path` (container, manifest, checksum, self-test) and checks that this build
    /// implements the preprocessing the model was trained with. Errors say exactly what is wrong.
    public init(
        path: String, plan: ExecutionPlan.Preset = .frugal, precision: Precision = .fp32, threads: ComputeThreads,
        trust: ModelTrust = .none
    ) throws {
        let model = try DogDoorModel(path: path, plan: plan.plan, precision: precision, threads: threads, trust: trust)
        do {
            preprocessor = try Preprocessor(
                resizeName: model.manifest.resize, centeringName: model.manifest.centering,
                side: model.manifest.inputSize)
        } catch {
            throw ModelError(
                file: path, problem: .manifest(ManifestError(field: "preprocessing", reason: error.description)))
        }
        self.model = model
        input = FloatBuffer(count: preprocessor.valueCount)
    }

    public var path: String { model.path }
    public var sha256: String { model.manifest.tensorsSHA256 }
    public var threshold: Double { model.manifest.threshold }

    /// What the model makes of one picture.
    public struct Classification: Sendable, Equatable {
        /// The network's output before the sigmoid.
        public var logit: Float
        /// The probability that the picture shows the dog to admit.
        public var probability: Double
    }

    /// The model's answer for `image`: the daemon's path from decoded frame to probability.
    /// Not reentrant (one input buffer): one caller at a time, as the inference worker is.
    public func classify(_ image: Image) -> Classification {
        preprocessor.write(image, into: input.pointer)
        let logit = model.logits(input.pointer, batch: 1)[0]
        return Classification(logit: logit, probability: model.probability(logit: logit))
    }

    /// Decodes an image file as the daemon decodes frames (by content, at the size the network needs) and
    /// classifies it.
    public func classify(file path: String) throws(ImagingError) -> Classification {
        classify(try ImageDecoder.decode(file: path, options: preprocessor.decodeOptions))
    }

    /// The probability that `image` shows the dog to admit.
    public func probability(of image: Image) -> Double { classify(image).probability }
}

extension DaemonConfiguration.Model {
    /// The trust policy these settings give (reads the public key file when one is named).
    public func trust() throws -> ModelTrust {
        var keys: [Ed25519.PublicKey] = []
        if let publicKey { keys.append(try KeyFile.readPublicKey(publicKey)) }
        return ModelTrust(minimumThreshold: minimumThreshold, fileSHA256: sha256, trustedKeys: keys)
    }
}
