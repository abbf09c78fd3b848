import Foundation
import Support
import TestSupport
import Testing

@testable import Training

@Suite struct MetricsTests {
    @Test func confusionMatrixCountsAcceptsAtOrAboveTheThreshold() {
        // logit 0 is probability 0.5 exactly: at the threshold, so admitted.
        let scores = labelledScores(positives: [3, 0, -1], negatives: [0, -2, -5, 1])
        let c = ConfusionMatrix(scores: scores, threshold: 0.5)
        #expect(c == ConfusionMatrix(trueAccepts: 2, falseRejects: 1, falseAccepts: 2, trueRejects: 2))
        #expect(c.positives == 3 && c.negatives == 4 && c.total == 7 && c.correct == 4)
        #expect(c.accuracy == 4.0 / 7)
        #expect(c.falseAcceptRate == 0.5)
        #expect(c.falseRejectRate == 1.0 / 3)
        #expect(Metrics.accuracy(scores, threshold: 0.5) == 4.0 / 7)
        // Above every score: all refused, so only the four negatives are right.
        #expect(
            ConfusionMatrix(scores: scores, threshold: 0.99)
                == ConfusionMatrix(trueAccepts: 0, falseRejects: 3, falseAccepts: 0, trueRejects: 4))
        let strict = ConfusionMatrix(scores: scores, threshold: Metrics.sigmoid(2.5))
        #expect(strict == ConfusionMatrix(trueAccepts: 1, falseRejects: 2, falseAccepts: 0, trueRejects: 4))
    }

    @Test func ratesOfAMissingClassAreUnknownNotZero() {
        let onlyDogs = ConfusionMatrix(scores: labelledScores(positives: [1, 2], negatives: []), threshold: 0.5)
        #expect(onlyDogs.falseAcceptRate == nil)
        #expect(onlyDogs.falseRejectRate == 0)
        let nothing = ConfusionMatrix(scores: [], threshold: 0.5)
        #expect(nothing.accuracy == nil && nothing.falseRejectRate == nil && nothing.falseAcceptRate == nil)
        #expect(Metrics.accuracy([]) == nil)
        #expect(Metrics.meanCrossEntropy([]) == nil)
        #expect(Metrics.rocCurve(labelledScores(positives: [1], negatives: [])).isEmpty)
        #expect(Metrics.rocAUC(labelledScores(positives: [], negatives: [1])) == nil)
        #expect(Metrics.mannWhitneyAUC(labelledScores(positives: [], negatives: [1])) == nil)
    }

    @Test func nanLogitsAreNeverAdmitted() {
        let image = ScoredImage(path: "x", isPositive: false, logit: .nan)
        #expect(image.decisionScore == 0)
        #expect(!image.isAccepted(at: 1e-300))
        #expect(ConfusionMatrix(scores: [image], threshold: 0.5).trueRejects == 1)
    }

    @Test func rocHasOnePointPerDistinctScoreWithTiesAsDiagonals() {
        // Scores (logits): P 3, P 1, N 1, P 0, N -1, N -1, N -2. Distinct: 3, 1, 0, -1, -2.
        let scores = labelledScores(positives: [3, 1, 0], negatives: [1, -1, -1, -2])
        let roc = Metrics.rocCurve(scores)
        let expected: [(Double, Double, Double)] = [
            (.infinity, 0, 0), (Metrics.sigmoid(3), 0, 1.0 / 3), (Metrics.sigmoid(1), 0.25, 2.0 / 3),
            (0.5, 0.25, 1), (Metrics.sigmoid(-1), 0.75, 1), (Metrics.sigmoid(-2), 1, 1),
        ]
        #expect(roc.count == expected.count)
        for (point, want) in zip(roc, expected) {
            #expect(point.threshold == want.0)
            #expect(abs(point.falsePositiveRate - want.1) < 1e-15)
            #expect(abs(point.truePositiveRate - want.2) < 1e-15)
        }
        // Each vertex is the confusion matrix at its threshold.
        for point in roc.dropFirst() {
            let c = ConfusionMatrix(scores: scores, threshold: point.threshold)
            #expect(abs(c.falseAcceptRate! - point.falsePositiveRate) < 1e-15)
            #expect(abs(1 - c.falseRejectRate! - point.truePositiveRate) < 1e-15)
        }
        // Pairs: P3 beats all 4; P1 beats 3 and ties 1; P0 beats 3. (4 + 3.5 + 3) / 12.
        #expect(abs(Metrics.rocAUC(scores)! - 10.5 / 12) < 1e-15)
    }

    @Test func aucExtremes() {
        #expect(Metrics.rocAUC(labelledScores(positives: [2, 3], negatives: [-1, 0])) == 1)
        #expect(Metrics.rocAUC(labelledScores(positives: [-1, 0], negatives: [2, 3])) == 0)
        #expect(Metrics.rocAUC(labelledScores(positives: [1, 1], negatives: [1, 1, 1])) == 0.5)
        #expect(Metrics.mannWhitneyAUC(labelledScores(positives: [1, 1], negatives: [1, 1, 1])) == 0.5)
    }

    @Test func rocAreaEqualsMannWhitneyOnRandomDataWithTies() {
        var random = SeededRandom(seed: 7)
        for trial in 0..<300 {
            let positives = 1 + Int(random.next() % 15)
            let negatives = 1 + Int(random.next() % 25)
            // Quantised logits make ties common; a few trials use continuous ones.
            let quantum = trial % 5 == 0 ? 0 : 0.5
            func draw(_ shift: Double) -> Double {
                let v = random.uniform(-4, 4) + shift
                return quantum == 0 ? v : (v / quantum).rounded() * quantum
            }
            let scores = labelledScores(
                positives: (0..<positives).map { _ in draw(1) },
                negatives: (0..<negatives).map { _ in draw(0) })
            // Brute force over all pairs, ties counting one half.
            var wins = 0.0
            for p in scores where p.isPositive {
                for n in scores where !n.isPositive {
                    wins += p.decisionScore > n.decisionScore ? 1 : (p.decisionScore == n.decisionScore ? 0.5 : 0)
                }
            }
            let pairs = wins / Double(positives * negatives)
            let area = Metrics.rocAUC(scores)!
            let u = Metrics.mannWhitneyAUC(scores)!
            #expect(abs(area - u) < 1e-12, "trial \(trial)")
            #expect(abs(u - pairs) < 1e-12, "trial \(trial)")
            let roc = Metrics.rocCurve(scores)
            #expect(roc.count == Set(scores.map(\.decisionScore)).count + 1)
            #expect(roc.last!.falsePositiveRate == 1 && roc.last!.truePositiveRate == 1)
        }
    }

    @Test func crossEntropyIsStableAndCorrect() {
        #expect(abs(Metrics.crossEntropy(logit: 0, isPositive: true) - log(2.0)) < 1e-15)
        for z in [-6.0, -1.5, -0.1, 0.3, 2, 5] {
            let p = 1 / (1 + exp(-z))
            #expect(abs(Metrics.crossEntropy(logit: z, isPositive: true) - -log(p)) < 1e-12)
            #expect(abs(Metrics.crossEntropy(logit: z, isPositive: false) - -log(1 - p)) < 1e-12)
        }
        // Confidently wrong: the naive form gives infinity; the loss is |z| + log1p(e^-|z|).
        #expect(Metrics.crossEntropy(logit: 800, isPositive: false) == 800)
        #expect(Metrics.crossEntropy(logit: -800, isPositive: true) == 800)
        // Confidently right: tiny but not rounded away.
        #expect(abs(Metrics.crossEntropy(logit: 40, isPositive: true) - exp(-40.0)) < 1e-30)
        #expect(Metrics.crossEntropy(logit: 40, isPositive: true) > 0)
        let mean = Metrics.meanCrossEntropy(labelledScores(positives: [0, 800], negatives: [800]))!
        #expect(abs(mean - (log(2.0) + 0 + 800) / 3) < 1e-12)
    }

    @Test func logitAndSigmoidAreInverses() {
        // Near probability 1 the round trip loses what 1 - p cannot hold (about 1e-3 at logit 30).
        for z in [-30.0, -3, -1e-9, 0, 0.7, 12] {
            #expect(abs(Metrics.logit(Metrics.sigmoid(z)) - z) < 1e-9 * max(1, abs(z)))
        }
        #expect(Metrics.sigmoid(-1000) == 0 && Metrics.sigmoid(1000) == 1)
        #expect(Metrics.logit(0.5) == 0)
    }
}

@Suite struct ConfidenceBoundTests {
    /// Reference values from SciPy 1.17.1:
    /// `scipy.stats.beta.ppf(0.95, k + 1, n - k)` (upper) and `scipy.stats.beta.ppf(0.05, k, n - k + 1)` (lower).
    static let clopperPearson: [(k: Int, n: Int, upper: Double, lower: Double)] = [
        (0, 20, 0.13910834066826516, 0),
        (0, 10, 0.2588655508930522, 0),
        (1, 20, 0.2161061642068473, 0.0025613787765302806),
        (2, 20, 0.28261852488586087, 0.018065203085418632),
        (5, 10, 0.7775588989918706, 0.2224411010081294),
        (3, 100, 0.07571079374983004, 0.008225829107652688),
        (0, 1, 0.95, 0),
        (9, 10, 0.9948838031081763, 0.6058366975634952),
        (19, 20, 0.9974386212234697, 0.7838938357931526),
        (50, 100, 0.5863782853690882, 0.41362171463091174),
        (1, 3, 0.8646496378284161, 0.0169524275084415),
    ]

    @Test func clopperPearsonMatchesSciPy() {
        for row in Self.clopperPearson {
            let upper = ClopperPearson.upperBound(events: row.k, trials: row.n)
            let lower = ClopperPearson.lowerBound(events: row.k, trials: row.n)
            #expect(abs(upper - row.upper) < 1e-9, "upper \(row.k) of \(row.n): \(upper)")
            #expect(abs(lower - row.lower) < 1e-9, "lower \(row.k) of \(row.n): \(lower)")
        }
    }

    @Test func zeroEventsHasTheClosedForm() {
        for n in [1, 2, 5, 20, 59, 300, 10_000] {
            let closedForm = 1 - pow(0.05, 1 / Double(n))
            #expect(abs(ClopperPearson.upperBound(events: 0, trials: n) - closedForm) < 1e-12)
            // And agrees with the general beta quantile route.
            #expect(abs(Beta.quantile(0.95, a: 1, b: Double(n)) - closedForm) < 1e-9)
        }
        #expect(ClopperPearson.upperBound(events: 0, trials: 0) == 1)
        #expect(ClopperPearson.upperBound(events: 4, trials: 4) == 1)
        #expect(ClopperPearson.lowerBound(events: 0, trials: 7) == 0)
    }

    @Test func boundsBracketTheObservedRateAndShrinkWithData() {
        for n in [1, 3, 10, 30, 100] {
            var previousUpper = 0.0
            for k in 0...n {
                let upper = ClopperPearson.upperBound(events: k, trials: n)
                let lower = ClopperPearson.lowerBound(events: k, trials: n)
                let rate = Double(k) / Double(n)
                #expect(lower <= rate && rate <= upper)
                #expect(upper >= previousUpper, "the bound rises with the events")
                previousUpper = upper
            }
        }
        #expect(ClopperPearson.upperBound(events: 0, trials: 40) < ClopperPearson.upperBound(events: 0, trials: 20))
        // A 99% bound is wider than a 95% one.
        #expect(
            ClopperPearson.upperBound(events: 2, trials: 20, confidence: 0.99)
                > ClopperPearson.upperBound(events: 2, trials: 20))
    }

    /// `scipy.special.betainc(a, b, x)`, SciPy 1.17.1.
    @Test func incompleteBetaMatchesSciPy() {
        let table: [(x: Double, a: Double, b: Double, value: Double)] = [
            (0.3, 2, 3, 0.34829999999999994),
            (0.5, 0.5, 0.5, 0.5000000000000001),
            (0.9, 10, 2.5, 0.8121862743088557),
            (0.01, 1.5, 40, 0.1526920611519988),
            (0.7, 200, 80, 0.2937468875076684),
            (0.2, 1, 1, 0.2),
            (0.999, 3, 0.7, 0.981785175090461),
        ]
        for row in table {
            let value = Beta.regularizedIncomplete(row.x, a: row.a, b: row.b)
            #expect(abs(value - row.value) < 1e-12, "I_\(row.x)(\(row.a), \(row.b)) = \(value)")
        }
        #expect(Beta.regularizedIncomplete(0, a: 2, b: 3) == 0)
        #expect(Beta.regularizedIncomplete(1, a: 2, b: 3) == 1)
    }

    /// `scipy.special.betaincinv(a, b, p)`, SciPy 1.17.1.
    @Test func betaQuantileMatchesSciPyAndInvertsTheCDF() {
        let table: [(p: Double, a: Double, b: Double, x: Double)] = [
            (0.95, 1, 20, 0.13910834066826516),
            (0.5, 2.5, 7.5, 0.23287867775885507),
            (0.025, 3, 18, 0.0320709371854637),
            (0.975, 30, 4, 0.9659671185770213),
            (1e-6, 2, 2, 0.0005774614337920399),
        ]
        for row in table {
            let x = Beta.quantile(row.p, a: row.a, b: row.b)
            #expect(abs(x - row.x) < 1e-9, "quantile \(row.p) of Beta(\(row.a), \(row.b)) = \(x)")
            #expect(abs(Beta.regularizedIncomplete(x, a: row.a, b: row.b) - row.p) < 1e-9)
        }
    }
}
