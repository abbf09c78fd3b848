import Support

/// Why a threshold could not be calibrated.
public enum CalibrationError: Error, Equatable, CustomStringConvertible {
    /// The allowed false-accept rate is not a number in [0, 1].
    case invalidRate(Double)
    /// Validation has no negative images, so no false-accept rate can be measured.
    case noNegatives
    /// Validation has no positive images, so no threshold can be chosen for admitting the dog.
    case noPositives
    /// Even the strictest threshold below probability 1 admits `acceptedNegatives` negatives, more than the
    /// `allowedNegatives` the rate permits: they score so high that their probability rounds to 1.
    case unattainable(acceptedNegatives: Int, allowedNegatives: Int, negatives: Int)

    public var description: String {
        switch self {
        case .invalidRate(let rate):
            return "the maximum false-accept rate must be between 0 and 1, got \(rate)"
        case .noNegatives:
            return "cannot calibrate the threshold: validation has no negative images to measure false accepts on"
        case .noPositives:
            return "cannot calibrate the threshold: validation has no images of the dog to admit"
        case .unattainable(let accepted, let allowed, let negatives):
            return "cannot calibrate the threshold: \(accepted) of \(negatives) negative validation images score "
                + "probability 1 and are admitted by every threshold, but at most \(allowed) may be"
        }
    }
}

/// A decision threshold and what the validation images say about it.
///
/// Rates are observed on the validation images; with a few dozen images they are rough, so each comes
/// with an exact one-sided upper confidence bound and `caveat` says in words how little they prove.
public struct Calibration: Sendable, Equatable {
    /// The confidence level of the upper bounds.
    public static let confidence = 0.95

    /// The allowed false-accept rate the threshold was calibrated for; nil for a fixed threshold.
    public var maxFalseAcceptRate: Double?
    /// Probability threshold, strictly between 0 and 1: images at or above it are admitted.
    public var threshold: Double
    /// The threshold as a logit, `log(t / (1 - t))`.
    public var thresholdLogit: Double
    /// Outcomes on the validation images at the threshold.
    public var confusion: ConfusionMatrix
    /// Observed false-accept rate; nil with no negative images.
    public var falseAcceptRate: Double?
    /// One-sided upper confidence bound (at `confidence`) on the false-accept rate; 1 with no negatives.
    public var falseAcceptRateUpperBound: Double
    /// Observed false-reject rate; nil with no positive images.
    public var falseRejectRate: Double?
    /// One-sided upper confidence bound (at `confidence`) on the false-reject rate; 1 with no positives.
    public var falseRejectRateUpperBound: Double
    /// What the false-accept numbers do and do not show, in plain English.
    public var caveat: String
    /// Problems worth the owner's attention beyond the caveat: the dog never admitted, no dog images.
    public var warnings: [String]

    /// True if the threshold was chosen by `calibrate`, false if it was given.
    public var isCalibrated: Bool { maxFalseAcceptRate != nil }

    /// The statistics of a given threshold (0.5, logit 0, when the owner does not calibrate).
    /// - Precondition: `threshold` is strictly between 0 and 1.
    public static func fixed(threshold: Double = 0.5, scores: [ScoredImage]) -> Calibration {
        precondition(threshold > 0 && threshold < 1, "threshold must be strictly between 0 and 1, got \(threshold)")
        return Calibration(maxFalseAcceptRate: nil, threshold: threshold, scores: scores)
    }

    /// Chooses the threshold that admits the most positive validation images while admitting at most a
    /// fraction `maxFalseAcceptRate` of the negative ones.
    ///
    /// Only the order of the scores matters for the counts, so the candidates are the gaps between adjacent
    /// distinct decision scores (plus below the lowest and above the highest). Among the gaps with the most
    /// true accepts and an allowed number of false accepts, the highest one is chosen: it admits the fewest
    /// negatives for the same positives. Within the chosen gap the threshold sits midway, in logit space,
    /// between the lowest admitted score and the highest refused one, so that no validation image lies on
    /// the edge and a small change in the model's output (or float rounding in the daemon) does not flip a
    /// decision. Above the highest score or below the lowest, it sits one logit beyond it. Where probabilities
    /// are so close that the midpoint rounds onto a neighbour, the midpoint in probability space is used, and
    /// failing that the lowest admitted score itself; a threshold is never placed where it would admit a
    /// different set of images than intended.
    ///
    /// - Throws: `CalibrationError` if the rate is not in [0, 1], a class is missing from `scores`, or
    ///   negatives score probability 1 (the strictest threshold still admits too many).
    public static func calibrate(
        scores: [ScoredImage], maxFalseAcceptRate: Double
    ) throws(CalibrationError)
        -> Calibration
    {
        guard maxFalseAcceptRate >= 0, maxFalseAcceptRate <= 1 else { throw .invalidRate(maxFalseAcceptRate) }
        let negatives = scores.count { !$0.isPositive }
        guard negatives > 0 else { throw .noNegatives }
        guard negatives < scores.count else { throw .noPositives }

        let groups = ScoreGroup.groups(scores)
        var best: (trueAccepts: Int, threshold: Double)?
        var strictestFalseAccepts: Int?
        var trueAccepts = 0
        var falseAccepts = 0
        // Cut j admits groups[0..<j]; cuts go from the strictest (admit nothing) to the most lenient.
        for j in 0...groups.count {
            if j > 0 {
                trueAccepts += groups[j - 1].positives
                falseAccepts += groups[j - 1].negatives
            }
            guard
                let threshold = placeThreshold(
                    above: j < groups.count ? groups[j] : nil,
                    atOrBelow: j > 0 ? groups[j - 1] : nil)
            else { continue }
            if strictestFalseAccepts == nil { strictestFalseAccepts = falseAccepts }
            guard Double(falseAccepts) / Double(negatives) <= maxFalseAcceptRate else { continue }
            // Strictly more true accepts only: on a tie the earlier (higher) threshold stays.
            if trueAccepts > best?.trueAccepts ?? -1 {
                best = (trueAccepts, threshold)
            }
        }
        guard let best else {
            let allowed = Int((maxFalseAcceptRate * Double(negatives)).rounded(.down))
            throw .unattainable(
                acceptedNegatives: strictestFalseAccepts ?? negatives, allowedNegatives: allowed,
                negatives: negatives)
        }
        let calibration = Calibration(
            maxFalseAcceptRate: maxFalseAcceptRate, threshold: best.threshold,
            scores: scores)
        assert(calibration.confusion.trueAccepts == best.trueAccepts, "threshold placed outside its gap")
        return calibration
    }

    /// Statistics of `threshold` on `scores`.
    private init(maxFalseAcceptRate: Double?, threshold: Double, scores: [ScoredImage]) {
        let confusion = ConfusionMatrix(scores: scores, threshold: threshold)
        self.maxFalseAcceptRate = maxFalseAcceptRate
        self.threshold = threshold
        self.thresholdLogit = Metrics.logit(threshold)
        self.confusion = confusion
        self.falseAcceptRate = confusion.falseAcceptRate
        self.falseAcceptRateUpperBound = ClopperPearson.upperBound(
            events: confusion.falseAccepts, trials: confusion.negatives, confidence: Self.confidence)
        self.falseRejectRate = confusion.falseRejectRate
        self.falseRejectRateUpperBound = ClopperPearson.upperBound(
            events: confusion.falseRejects, trials: confusion.positives, confidence: Self.confidence)
        self.caveat = Self.caveat(
            confusion: confusion, upperBound: falseAcceptRateUpperBound,
            target: maxFalseAcceptRate)
        self.warnings = Self.warnings(confusion: confusion)
    }

    /// The summary for the model manifest's `training` object.
    public var json: JSONValue {
        do {
            return try JSONValueEncoder().encode(self)
        } catch {
            preconditionFailure("a calibration always encodes: \(error)")
        }
    }

    // MARK: - Placement

    /// Images that share one decision score: no threshold separates them.
    struct ScoreGroup {
        var score: Double
        var positives = 0
        var negatives = 0
        /// Extreme logits in the group (NaN logits count as -infinity, as their score is 0).
        var lowestLogit = Double.infinity
        var highestLogit = -Double.infinity

        /// Groups of `scores` by decision score, highest score first.
        static func groups(_ scores: [ScoredImage]) -> [ScoreGroup] {
            var groups: [ScoreGroup] = []
            for image in scores.sorted(by: { $0.decisionScore > $1.decisionScore }) {
                if groups.last?.score != image.decisionScore { groups.append(ScoreGroup(score: image.decisionScore)) }
                let logit = image.logit.isNaN ? -Double.infinity : image.logit
                if image.isPositive {
                    groups[groups.count - 1].positives += 1
                } else {
                    groups[groups.count - 1].negatives += 1
                }
                groups[groups.count - 1].lowestLogit = min(groups[groups.count - 1].lowestLogit, logit)
                groups[groups.count - 1].highestLogit = max(groups[groups.count - 1].highestLogit, logit)
            }
            return groups
        }
    }

    /// A probability threshold t in (0, 1) with `refused.score < t <= admitted.score`, or nil if none is
    /// representable. A missing group stands for "no image on that side".
    static func placeThreshold(above refused: ScoreGroup?, atOrBelow admitted: ScoreGroup?) -> Double? {
        let floor = refused?.score ?? 0
        let ceiling = admitted?.score ?? 1
        var candidates: [Double] = []
        switch (refused, admitted) {
        case let (refused?, admitted?):
            candidates = [
                Metrics.sigmoid((admitted.lowestLogit + refused.highestLogit) / 2),
                (admitted.score + refused.score) / 2, admitted.score,
            ]
        case let (refused?, nil):
            candidates = [Metrics.sigmoid(refused.highestLogit + 1), (refused.score + 1) / 2]
        case let (nil, admitted?):
            candidates = [Metrics.sigmoid(admitted.lowestLogit - 1), admitted.score / 2, admitted.score]
        case (nil, nil):
            candidates = [0.5]
        }
        return candidates.first { t in
            t.isFinite && t > 0 && t < 1 && t > floor && (admitted == nil ? t < ceiling : t <= ceiling)
        }
    }

    // MARK: - Words

    private static func caveat(confusion: ConfusionMatrix, upperBound: Double, target: Double?) -> String {
        let n = confusion.negatives
        let k = confusion.falseAccepts
        let level = PercentText.plain(confidence)
        guard n > 0 else {
            return "No negative images were validated, so nothing is known about the false-accept rate."
        }
        let noun = n == 1 ? "negative" : "negatives"
        var text: String
        if k == 0 {
            text =
                "0 of \(n) \(noun) accepted: with \(n) \(noun) this only shows the false-accept rate is below "
                + "\(PercentText.roundedUp(upperBound)) (\(level) confidence)."
        } else {
            text =
                "\(k) of \(n) \(noun) accepted (\(PercentText.plain(Double(k) / Double(n)))): the true "
                + "false-accept rate could be as high as \(PercentText.roundedUp(upperBound)) (\(level) confidence)."
        }
        if let target, target > 0, target < 1, upperBound > target {
            // Zero false accepts in m negatives bounds the rate by 1 - (1 - confidence)^(1/m).
            let needed = Int((log1p(-confidence) / log1p(-target)).rounded(.up))
            text +=
                " Showing it is below \(PercentText.plain(target)) would take at least \(needed) negatives "
                + "with none accepted."
        }
        return text
    }

    private static func warnings(confusion: ConfusionMatrix) -> [String] {
        var warnings: [String] = []
        if confusion.positives == 0 {
            warnings.append("No images of the dog were validated, so nothing is known about the false-reject rate.")
        } else if confusion.trueAccepts == 0 {
            warnings.append(
                "No validation image of the dog is admitted at this threshold: the door would not open for it.")
        }
        return warnings
    }
}

/// In the manifest's `training.calibration`: `method` ("calibrated" or "fixed"), the target, the threshold (also as
/// a logit), the counts, both rates (null without images of the class) with their upper bounds at `confidence`,
/// the caveat and the warnings.
extension Calibration: Encodable {
    enum CodingKeys: String, CodingKey {
        case method, threshold, counts, confidence, caveat, warnings
        case maxFalseAcceptRate = "max_false_accept_rate"
        case thresholdLogit = "threshold_logit"
        case falseAcceptRate = "false_accept_rate"
        case falseAcceptRateUpperBound = "false_accept_rate_upper_bound"
        case falseRejectRate = "false_reject_rate"
        case falseRejectRateUpperBound = "false_reject_rate_upper_bound"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(isCalibrated ? "calibrated" : "fixed", forKey: .method)
        try container.encodeIfPresent(maxFalseAcceptRate, forKey: .maxFalseAcceptRate)
        try container.encode(threshold, forKey: .threshold)
        try container.encode(thresholdLogit, forKey: .thresholdLogit)
        try container.encode(confusion, forKey: .counts)
        // The rates are written as null rather than left out: "no images of this class" is worth saying.
        try container.encode(falseAcceptRate, forKey: .falseAcceptRate)
        try container.encode(falseAcceptRateUpperBound, forKey: .falseAcceptRateUpperBound)
        try container.encode(falseRejectRate, forKey: .falseRejectRate)
        try container.encode(falseRejectRateUpperBound, forKey: .falseRejectRateUpperBound)
        try container.encode(Self.confidence, forKey: .confidence)
        try container.encode(caveat, forKey: .caveat)
        try container.encode(warnings, forKey: .warnings)
    }
}
