import Support

extension ScoredImage {
    /// The score that decisions compare with a probability threshold: `probability`, with NaN read as 0,
    /// exactly as the daemon's decision policy clamps a non-finite score (never admit on garbage).
    public var decisionScore: Double {
        let p = probability
        return p.isNaN ? 0 : p
    }

    /// True if this image is admitted at `threshold`: its probability is at or above it.
    public func isAccepted(at threshold: Double) -> Bool { decisionScore >= threshold }
}

/// The four outcomes of admit/refuse decisions on labelled images at one threshold.
///
/// In door terms: a true accept admits the dog (TP), a false reject refuses it (FN), a false accept admits
/// another animal (FP, the dangerous error) and a true reject refuses it (TN).
public struct ConfusionMatrix: Sendable, Equatable, Codable {
    /// Positive images admitted (TP).
    public var trueAccepts: Int
    /// Positive images refused (FN).
    public var falseRejects: Int
    /// Negative images admitted (FP).
    public var falseAccepts: Int
    /// Negative images refused (TN).
    public var trueRejects: Int

    public init(trueAccepts: Int, falseRejects: Int, falseAccepts: Int, trueRejects: Int) {
        self.trueAccepts = trueAccepts
        self.falseRejects = falseRejects
        self.falseAccepts = falseAccepts
        self.trueRejects = trueRejects
    }

    /// Counts the outcomes when images whose probability is at or above `threshold` are admitted.
    public init(scores: [ScoredImage], threshold: Double) {
        var matrix = ConfusionMatrix(trueAccepts: 0, falseRejects: 0, falseAccepts: 0, trueRejects: 0)
        for image in scores {
            switch (image.isPositive, image.isAccepted(at: threshold)) {
            case (true, true): matrix.trueAccepts += 1
            case (true, false): matrix.falseRejects += 1
            case (false, true): matrix.falseAccepts += 1
            case (false, false): matrix.trueRejects += 1
            }
        }
        self = matrix
    }

    /// Number of positive images (the dog to admit).
    public var positives: Int { trueAccepts + falseRejects }
    /// Number of negative images.
    public var negatives: Int { falseAccepts + trueRejects }
    /// Number of images.
    public var total: Int { positives + negatives }
    /// Number of correct decisions.
    public var correct: Int { trueAccepts + trueRejects }

    /// Fraction of correct decisions, or nil with no images.
    public var accuracy: Double? { Self.rate(correct, total) }
    /// Fraction of negatives admitted, or nil with no negatives.
    public var falseAcceptRate: Double? { Self.rate(falseAccepts, negatives) }
    /// Fraction of positives refused, or nil with no positives.
    public var falseRejectRate: Double? { Self.rate(falseRejects, positives) }

    private static func rate(_ events: Int, _ trials: Int) -> Double? {
        trials == 0 ? nil : Double(events) / Double(trials)
    }

    /// In JSON: `{"true_accepts": .., "false_rejects": .., "false_accepts": .., "true_rejects": ..}`.
    enum CodingKeys: String, ExhaustiveCodingKey {
        case trueAccepts = "true_accepts"
        case falseRejects = "false_rejects"
        case falseAccepts = "false_accepts"
        case trueRejects = "true_rejects"
    }
}

/// One vertex of a receiver operating characteristic curve.
public struct ROCPoint: Sendable, Equatable {
    /// Probability threshold of this vertex: images at or above it are admitted. `+infinity` for the first
    /// vertex, which admits nothing.
    public var threshold: Double
    /// False-accept rate (false positive rate) at the threshold.
    public var falsePositiveRate: Double
    /// True-accept rate (true positive rate, 1 - false-reject rate) at the threshold.
    public var truePositiveRate: Double

    public init(threshold: Double, falsePositiveRate: Double, truePositiveRate: Double) {
        self.threshold = threshold
        self.falsePositiveRate = falsePositiveRate
        self.truePositiveRate = truePositiveRate
    }
}

/// Evaluation metrics over scored, labelled images. All are pure functions; every threshold is a
/// probability and an image is admitted when its `decisionScore` is at or above it, as in the daemon.
public enum Metrics {
    /// Fraction of images decided correctly at `threshold`, or nil for no images.
    public static func accuracy(_ scores: [ScoredImage], threshold: Double = 0.5) -> Double? {
        ConfusionMatrix(scores: scores, threshold: threshold).accuracy
    }

    /// The ROC curve: one vertex per distinct decision score, from (0, 0) (admit nothing) to (1, 1).
    ///
    /// Scores are visited from the highest down; images with equal scores cannot be separated by any
    /// threshold, so they enter together and a tie between the classes gives a diagonal segment.
    /// Empty when either class is missing (a rate over no images is undefined).
    public static func rocCurve(_ scores: [ScoredImage]) -> [ROCPoint] {
        let positives = scores.count { $0.isPositive }
        let negatives = scores.count - positives
        guard positives > 0, negatives > 0 else { return [] }
        let sorted = scores.sorted { $0.decisionScore > $1.decisionScore }
        var points = [ROCPoint(threshold: .infinity, falsePositiveRate: 0, truePositiveRate: 0)]
        var truePositives = 0
        var falsePositives = 0
        var index = 0
        while index < sorted.count {
            let score = sorted[index].decisionScore
            while index < sorted.count, sorted[index].decisionScore == score {
                if sorted[index].isPositive { truePositives += 1 } else { falsePositives += 1 }
                index += 1
            }
            points.append(
                ROCPoint(
                    threshold: score, falsePositiveRate: Double(falsePositives) / Double(negatives),
                    truePositiveRate: Double(truePositives) / Double(positives)))
        }
        return points
    }

    /// Area under the ROC curve by the trapezoidal rule over `rocCurve(scores)`; nil if a class is missing.
    ///
    /// Equals the Mann-Whitney statistic (`mannWhitneyAUC`): the probability that a random positive image
    /// scores above a random negative one, ties counting one half.
    public static func rocAUC(_ scores: [ScoredImage]) -> Double? {
        let points = rocCurve(scores)
        guard points.count > 1 else { return nil }
        var area = 0.0
        for (a, b) in zip(points, points.dropFirst()) {
            area += (b.falsePositiveRate - a.falsePositiveRate) * (a.truePositiveRate + b.truePositiveRate) / 2
        }
        return area
    }

    /// The Mann-Whitney U statistic divided by (positives x negatives): the fraction of (positive,
    /// negative) pairs in which the positive scores higher, ties counting 1/2. Nil if a class is missing.
    /// Computed from mid-ranks in O(n log n).
    public static func mannWhitneyAUC(_ scores: [ScoredImage]) -> Double? {
        let positives = scores.count { $0.isPositive }
        let negatives = scores.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let sorted = scores.sorted { $0.decisionScore < $1.decisionScore }
        var positiveRankSum = 0.0
        var index = 0
        while index < sorted.count {
            var end = index
            while end < sorted.count, sorted[end].decisionScore == sorted[index].decisionScore { end += 1 }
            // Ranks index+1 ... end share their mean.
            let midRank = Double(index + 1 + end) / 2
            positiveRankSum += midRank * Double(sorted[index..<end].count { $0.isPositive })
            index = end
        }
        let u = positiveRankSum - Double(positives) * Double(positives + 1) / 2
        return u / (Double(positives) * Double(negatives))
    }

    /// Mean binary cross-entropy of the labels given the logits, or nil for no images.
    ///
    /// Uses the stable form `max(z, 0) - z*y + log(1 + exp(-|z|))`, which neither overflows for large |z|
    /// nor loses the loss of a confidently wrong image to rounding (as log(sigmoid(z)) would).
    public static func meanCrossEntropy(_ scores: [ScoredImage]) -> Double? {
        guard !scores.isEmpty else { return nil }
        let total = scores.reduce(0.0) { $0 + crossEntropy(logit: $1.logit, isPositive: $1.isPositive) }
        return total / Double(scores.count)
    }

    /// Binary cross-entropy of one label given its logit (natural log).
    public static func crossEntropy(logit z: Double, isPositive: Bool) -> Double {
        let y = isPositive ? 1.0 : 0.0
        return max(z, 0) - z * y + log1p(exp(-abs(z)))
    }

    /// The logit of a probability, `log(p / (1 - p))`, computed without cancellation near 0 and 1.
    public static func logit(_ p: Double) -> Double { log(p) - log1p(-p) }

    /// The logistic function, `1 / (1 + exp(-z))`, without overflow.
    public static func sigmoid(_ z: Double) -> Double {
        z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
    }
}
