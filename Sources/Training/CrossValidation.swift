import Support

/// How a calibrated threshold does on images that did not choose it.
///
/// A threshold calibrated on the validation images and then scored on the same images looks better than it
/// is: it was placed to get exactly those images right. Stratified k-fold cross-validation gives an honest
/// figure from the same images: each fold's images are judged by a threshold calibrated on the other folds
/// only, and the held-out outcomes are summed. The threshold the model ships with is still calibrated on all
/// of them (more images, a better threshold); this measures how well that procedure generalises.
public struct CrossValidatedCalibration: Sendable, Equatable, Codable {
    /// Folds used: the requested number, fewer when a class has fewer images than that.
    public var folds: Int
    /// Held-out outcomes, summed over the folds.
    public var confusion: ConfusionMatrix
    /// Each fold's threshold (probability), in fold order; nil where that fold's calibration had no
    /// threshold meeting the false-accept limit, and its held-out images were all refused.
    public var thresholds: [Double?]

    public init(folds: Int, confusion: ConfusionMatrix, thresholds: [Double?]) {
        self.folds = folds
        self.confusion = confusion
        self.thresholds = thresholds
    }

    /// Cross-validates `Calibration.calibrate(scores:maxFalseAcceptRate:)` over `folds` stratified folds,
    /// the images of each class dealt to folds in a seeded random order. Nil when a class has fewer than two
    /// images (no fold could both calibrate and test).
    public static func measure(
        scores: [ScoredImage], maxFalseAcceptRate: Double, folds requested: Int = 5, seed: UInt64 = 1
    ) -> CrossValidatedCalibration? {
        precondition(requested >= 2)
        let positives = scores.indices.filter { scores[$0].isPositive }
        let negatives = scores.indices.filter { !scores[$0].isPositive }
        let folds = min(requested, positives.count, negatives.count)
        guard folds >= 2 else { return nil }
        var random = SeededRandom(seed: seed)
        var fold = [Int](repeating: 0, count: scores.count)
        for members in [positives, negatives] {
            for (k, position) in random.permutation(members.count).enumerated() { fold[members[position]] = k % folds }
        }
        var confusion = ConfusionMatrix(trueAccepts: 0, falseRejects: 0, falseAccepts: 0, trueRejects: 0)
        var thresholds: [Double?] = []
        for k in 0..<folds {
            let calibrating = scores.indices.filter { fold[$0] != k }.map { scores[$0] }
            let held = scores.indices.filter { fold[$0] == k }.map { scores[$0] }
            // Unattainable means every threshold admits too many negatives: a door would stay locked.
            let threshold = try? Calibration.calibrate(scores: calibrating, maxFalseAcceptRate: maxFalseAcceptRate)
                .threshold
            thresholds.append(threshold)
            let outcome = ConfusionMatrix(scores: held, threshold: threshold ?? .infinity)
            confusion.trueAccepts += outcome.trueAccepts
            confusion.falseRejects += outcome.falseRejects
            confusion.falseAccepts += outcome.falseAccepts
            confusion.trueRejects += outcome.trueRejects
        }
        return CrossValidatedCalibration(folds: folds, confusion: confusion, thresholds: thresholds)
    }

    /// One sentence for the console and the report.
    public func summary(positiveClass: String) -> String {
        let c = confusion
        return "\(folds)-fold cross-validated (each image judged by a threshold calibrated without it): "
            + "\(c.trueAccepts) of \(c.positives) \(positiveClass) admitted, \(c.falseAccepts) of \(c.negatives) others "
            + "admitted, accuracy \(fixed(c.accuracy ?? 0, 3))"
    }

    /// The summary for the model manifest's `training.calibration` object.
    public var json: JSONValue {
        do {
            return try JSONValueEncoder().encode(self)
        } catch {
            preconditionFailure("a cross-validation always encodes: \(error)")
        }
    }
}
