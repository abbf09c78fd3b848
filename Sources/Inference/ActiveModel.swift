import Configuration
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
    public init(path: String, plan: DaemonConfiguration.EnginePlan = .frugal, threads: ComputeThreads,
                trust: ModelTrust = .none) throws {
        let model = try DogDoorModel(path: path, plan: plan.executionPlan, threads: threads, trust: trust)
        do {
            preprocessor = try Preprocessor(resizeName: model.manifest.resize, centeringName: model.manifest.centering,
                                            side: model.manifest.inputSize)
        } catch {
            throw ModelError(file: path, problem: .manifest(ManifestError(field: "preprocessing", reason: error.description)))
        }
        self.model = model
        input = FloatBuffer(count: preprocessor.valueCount)
    }

    public var path: String { model.path }
    public var sha256: String { model.manifest.tensorsSHA256 }
    public var threshold: Double { model.manifest.threshold }

    /// The probability that `image` shows the dog to admit.
    public func probability(of image: Image) -> Double {
        preprocessor.write(image, into: input.pointer)
        let logit = model.logits(input.pointer, batch: 1)[0]
        return model.probability(logit: logit)
    }
}

extension DaemonConfiguration.Model {
    /// The trust policy these settings give (reads the public key file when one is named).
    public func trust() throws -> ModelTrust {
        var keys: [Ed25519.PublicKey] = []
        if let publicKey { keys.append(try KeyFile.readPublicKey(publicKey)) }
        return ModelTrust(minimumThreshold: minimumThreshold, fileSHA256: sha256, trustedKeys: keys)
    }
}

extension DaemonConfiguration.EnginePlan {
    /// The engine's execution plan for this choice.
    public var executionPlan: ExecutionPlan {
        switch self {
        case .frugal: .inference
        case .fast: .fast
        }
    }
}
