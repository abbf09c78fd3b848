import Support

/// One epoch of training, as the progress display, the JSON log and the report see it.
public struct EpochRecord: Sendable, Equatable, Codable {
    /// "frozen" (head only, base frozen) or "fine-tune" (base unfrozen).
    public var phase: String
    /// 1-based within its phase.
    public var epoch: Int
    /// Mean training loss and binary accuracy over the epoch's steps (augmented images).
    public var loss: Double
    public var accuracy: Double
    /// Validation loss and accuracy (threshold: logit 0, as Keras's binary accuracy).
    public var validationLoss: Double
    public var validationAccuracy: Double
    /// Wall time of the epoch including validation, in seconds.
    public var seconds: Double

    public init(
        phase: String, epoch: Int, loss: Double, accuracy: Double, validationLoss: Double,
        validationAccuracy: Double, seconds: Double
    ) {
        self.phase = phase
        self.epoch = epoch
        self.loss = loss
        self.accuracy = accuracy
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case phase, epoch, loss, accuracy, validationLoss = "val_loss", validationAccuracy = "val_accuracy", seconds
    }

    /// The record as one object of the `--log-json` file (Keras's names for the validation metrics).
    public var json: JSONValue {
        // Strings and numbers only: encoding cannot fail.
        try! JSONValueEncoder().encode(self)
    }
}

/// The model's score for one labelled image.
public struct ScoredImage: Sendable, Equatable {
    /// File path as given to the trainer or evaluator.
    public var path: String
    /// True if the image belongs to the positive class (the dog to admit).
    public var isPositive: Bool
    public var logit: Double

    public init(path: String, isPositive: Bool, logit: Double) {
        self.path = path
        self.isPositive = isPositive
        self.logit = logit
    }

    /// sigmoid(logit).
    public var probability: Double { logit >= 0 ? 1 / (1 + exp(-logit)) : exp(logit) / (1 + exp(logit)) }
}
