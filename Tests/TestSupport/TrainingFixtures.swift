import Training

/// Labelled logits: positives first.
public func labelledScores(positives: [Double], negatives: [Double]) -> [ScoredImage] {
    positives.enumerated().map { ScoredImage(path: "pos\($0.offset).jpg", isPositive: true, logit: $0.element) }
        + negatives.enumerated().map { ScoredImage(path: "neg\($0.offset).jpg", isPositive: false, logit: $0.element) }
}
