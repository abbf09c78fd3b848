import Foundation
import Support
import TestSupport
import Testing

@testable import Training

@Suite struct CalibrationTests {
    @Test func separableScoresGetAThresholdMidwayInLogitSpace() throws {
        let scores = labelledScores(positives: [2, 3, 4], negatives: [-3, -2, -1])
        let c = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0)
        // Midway between the lowest admitted (2) and the highest refused (-1).
        #expect(abs(c.thresholdLogit - 0.5) < 1e-12)
        #expect(abs(c.threshold - Metrics.sigmoid(0.5)) < 1e-15)
        #expect(c.confusion == ConfusionMatrix(trueAccepts: 3, falseRejects: 0, falseAccepts: 0, trueRejects: 3))
        #expect(c.falseAcceptRate == 0 && c.falseRejectRate == 0)
        #expect(c.isCalibrated && c.maxFalseAcceptRate == 0)
        #expect(c.warnings.isEmpty)
    }

    @Test func theAllowedRateDecidesHowManyNegativesMayBeAdmitted() throws {
        // Ten negatives; one scores above two of the dog's images.
        let scores = labelledScores(
            positives: [5, 4, 3, 1.5, 1.0], negatives: [2, 0.5, 0, -1, -1.5, -2, -2.5, -3, -4, -5])
        let strict = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0)
        #expect(strict.confusion.falseAccepts == 0 && strict.confusion.trueAccepts == 3)
        #expect(abs(strict.thresholdLogit - 2.5) < 1e-12)  // between 3 (admitted) and 2 (refused)
        let lenient = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0.1)
        #expect(lenient.confusion.falseAccepts == 1 && lenient.confusion.trueAccepts == 5)
        #expect(abs(lenient.thresholdLogit - 0.75) < 1e-12)  // between 1.0 and 0.5
        // 1 of 10 is 10%: 9.99% is not enough.
        let almost = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0.0999)
        #expect(almost.confusion.falseAccepts == 0)
    }

    @Test func amongEqualChoicesTheHighestThresholdWins() throws {
        // Admitting the negatives at 1 and 0.5 gains no positive, so they stay refused even when allowed.
        let scores = labelledScores(positives: [5, -4], negatives: [1, 0.5, -3])
        let c = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0.67)
        #expect(c.confusion.trueAccepts == 1 && c.confusion.falseAccepts == 0)
        #expect(abs(c.thresholdLogit - 3) < 1e-12)
        // Allowing every negative admits all the dog's images, with the highest threshold that does.
        let all = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 1)
        #expect(all.confusion.trueAccepts == 2 && all.confusion.falseAccepts == 3)
        #expect(abs(all.thresholdLogit - -5) < 1e-12, "one logit below the lowest score")
    }

    @Test func tiedScoresAreNeverSplit() throws {
        // A dog image and a negative share logit 1: no threshold admits one without the other.
        let scores = labelledScores(positives: [3, 1], negatives: [1, -2])
        let c = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0)
        #expect(c.confusion == ConfusionMatrix(trueAccepts: 1, falseRejects: 1, falseAccepts: 0, trueRejects: 2))
        #expect(abs(c.thresholdLogit - 2) < 1e-12)
    }

    @Test func saturatedNegativesMakeTheRateUnattainable() {
        // Logit 50 is probability 1.0 in double precision: every threshold below 1 admits it.
        let scores = labelledScores(positives: [60, 3], negatives: [50, -2])
        #expect(scores[2].probability == 1)
        #expect(throws: CalibrationError.unattainable(acceptedNegatives: 1, allowedNegatives: 0, negatives: 2)) {
            try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0)
        }
        // Allowing one of two negatives is attainable.
        #expect((try? Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0.5)) != nil)
    }

    @Test func thresholdStaysStrictlyInsideTheGapWhenProbabilitiesCrowdOne() throws {
        // sigmoid(37.5), the logit midpoint, rounds to 1; the threshold falls back to the probability midpoint.
        let scores = labelledScores(positives: [45, 50], negatives: [30, -1])
        let c = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0)
        #expect(c.threshold < 1 && c.threshold > Metrics.sigmoid(30))
        #expect(c.confusion == ConfusionMatrix(trueAccepts: 2, falseRejects: 0, falseAccepts: 0, trueRejects: 2))
        #expect(c.thresholdLogit.isFinite)
    }

    @Test func missingClassesAndBadRatesAreErrors() {
        #expect(throws: CalibrationError.noNegatives) {
            try Calibration.calibrate(scores: labelledScores(positives: [1], negatives: []), maxFalseAcceptRate: 0.1)
        }
        #expect(throws: CalibrationError.noPositives) {
            try Calibration.calibrate(scores: labelledScores(positives: [], negatives: [1]), maxFalseAcceptRate: 0.1)
        }
        for rate in [-0.1, 1.5, Double.nan] {
            #expect(throws: CalibrationError.self) {
                try Calibration.calibrate(
                    scores: labelledScores(positives: [1], negatives: [0]), maxFalseAcceptRate: rate)
            }
        }
        #expect(CalibrationError.noNegatives.description.contains("no negative images"))
    }

    /// Against brute force on random data: the rate is respected, no threshold admits more of the dog, and
    /// none with as many true accepts admits fewer negatives.
    @Test func calibrationIsOptimalOnRandomData() throws {
        var random = SeededRandom(seed: 2024)
        for trial in 0..<300 {
            let positives = 1 + Int(random.next() % 12)
            let negatives = 1 + Int(random.next() % 25)
            let rate = [0, 0.05, 0.1, 0.25, random.nextDouble()][trial % 5]
            func draw(_ shift: Double) -> Double { (random.uniform(-5, 5) + shift).rounded() / 2 }
            let scores = labelledScores(
                positives: (0..<positives).map { _ in draw(2) },
                negatives: (0..<negatives).map { _ in draw(-1) })
            let c = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: rate)
            #expect(c.threshold > 0 && c.threshold < 1)
            #expect(Double(c.confusion.falseAccepts) / Double(negatives) <= rate, "trial \(trial)")
            #expect(c.confusion == ConfusionMatrix(scores: scores, threshold: c.threshold))
            // Every threshold that separates distinct scores, plus one above them all.
            let candidates = Set(scores.map(\.decisionScore)).sorted() + [Metrics.sigmoid(10)]
            for t in candidates {
                let other = ConfusionMatrix(scores: scores, threshold: t)
                guard Double(other.falseAccepts) / Double(negatives) <= rate else { continue }
                #expect(other.trueAccepts <= c.confusion.trueAccepts, "trial \(trial): \(t) admits more")
                if other.trueAccepts == c.confusion.trueAccepts {
                    #expect(other.falseAccepts >= c.confusion.falseAccepts, "trial \(trial)")
                }
            }
            // No validation image lies within a hair of the threshold: it sits inside a gap.
            #expect(!scores.contains { abs($0.logit - c.thresholdLogit) < 0.2 }, "trial \(trial)")
        }
    }

    @Test func caveatSaysHowLittleZeroFalseAcceptsProve() throws {
        let scores = labelledScores(
            positives: Array(repeating: 2.0, count: 10), negatives: Array(repeating: -2.0, count: 20))
        let c = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0)
        #expect(
            c.caveat == "0 of 20 negatives accepted: with 20 negatives this only shows the false-accept rate is "
                + "below 14% (95% confidence).")
        #expect(abs(c.falseAcceptRateUpperBound - 0.13910834066826516) < 1e-12)
        #expect(abs(c.falseRejectRateUpperBound - 0.2588655508930522) < 1e-12)

        let relaxed = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0.05)
        #expect(relaxed.caveat.hasSuffix("Showing it is below 5% would take at least 59 negatives with none accepted."))
        // And 59 is the least that does.
        #expect(ClopperPearson.upperBound(events: 0, trials: 59) < 0.05)
        #expect(ClopperPearson.upperBound(events: 0, trials: 58) > 0.05)
    }

    @Test func caveatWithFalseAccepts() {
        let scores = labelledScores(positives: [3], negatives: [1, 2, -1, -2, -3, -4, -5, -6, -7, -8])
        let c = Calibration.fixed(threshold: 0.5, scores: scores)
        #expect(c.confusion.falseAccepts == 2)
        #expect(
            c.caveat == "2 of 10 negatives accepted (20%): the true false-accept rate could be as high as 51% "
                + "(95% confidence).")
        #expect(c.warnings.isEmpty, "the caveat already says it")
    }

    @Test func fixedThresholdReportsTheSameStatistics() throws {
        let scores = labelledScores(positives: [2, -0.5, 1], negatives: [-3, 0.25, -1])
        let fixed = Calibration.fixed(scores: scores)
        #expect(fixed.threshold == 0.5 && fixed.thresholdLogit == 0)
        #expect(!fixed.isCalibrated && fixed.maxFalseAcceptRate == nil)
        #expect(fixed.confusion == ConfusionMatrix(trueAccepts: 2, falseRejects: 1, falseAccepts: 1, trueRejects: 2))
        #expect(fixed.falseAcceptRate == 1.0 / 3 && fixed.falseRejectRate == 1.0 / 3)
        #expect(fixed.falseAcceptRateUpperBound == ClopperPearson.upperBound(events: 1, trials: 3))
        // The calibrated threshold at the same statistics agrees.
        let calibrated = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0.34)
        let same = Calibration.fixed(threshold: calibrated.threshold, scores: scores)
        #expect(same.confusion == calibrated.confusion)
        #expect(same.falseAcceptRateUpperBound == calibrated.falseAcceptRateUpperBound)
    }

    @Test func warnsWhenTheDogIsNeverAdmittedOrAClassIsMissing() throws {
        let never = try Calibration.calibrate(
            scores: labelledScores(positives: [-3], negatives: [2, -5]), maxFalseAcceptRate: 0)
        #expect(never.confusion.trueAccepts == 0 && never.confusion.falseAccepts == 0)
        #expect(never.warnings.first?.contains("would not open") == true)
        let noNegatives = Calibration.fixed(scores: labelledScores(positives: [1, 2], negatives: []))
        #expect(noNegatives.falseAcceptRate == nil && noNegatives.falseAcceptRateUpperBound == 1)
        #expect(noNegatives.caveat.contains("nothing is known about the false-accept rate"))
        let noPositives = Calibration.fixed(scores: labelledScores(positives: [], negatives: [1]))
        #expect(noPositives.falseRejectRate == nil)
        #expect(noPositives.warnings.contains { $0.contains("false-reject rate") })
    }

    @Test func jsonCarriesEverythingAndParses() throws {
        let scores = labelledScores(positives: [2, 3], negatives: [-1, 0.5])
        let c = try Calibration.calibrate(scores: scores, maxFalseAcceptRate: 0)
        let json = try JSONValue.parse(c.json.serialized())
        #expect(json["method"] == "calibrated")
        #expect(json["max_false_accept_rate"]?.doubleValue == 0)
        #expect(json["threshold"]?.doubleValue == c.threshold)
        #expect(json["threshold_logit"]?.doubleValue == c.thresholdLogit)
        #expect(json["counts"]?["true_accepts"]?.intValue == 2)
        #expect(json["counts"]?["false_accepts"]?.intValue == 0)
        #expect(json["false_accept_rate"]?.doubleValue == 0)
        #expect(json["false_accept_rate_upper_bound"]?.doubleValue == c.falseAcceptRateUpperBound)
        #expect(json["confidence"]?.doubleValue == 0.95)
        #expect(json["caveat"]?.stringValue == c.caveat)
        let fixed = Calibration.fixed(scores: labelledScores(positives: [1], negatives: []))
        #expect(fixed.json["method"] == "fixed")
        #expect(fixed.json["max_false_accept_rate"] == nil)
        #expect(fixed.json["false_accept_rate"] == .null)
    }

    @Test func percentagesRoundUpperBoundsUp() {
        #expect(PercentText.roundedUp(0.13910834) == "14%")
        #expect(PercentText.roundedUp(0.14) == "14%")
        #expect(PercentText.roundedUp(0.0757) == "7.6%")
        #expect(PercentText.roundedUp(0.00299) == "0.3%")
        #expect(PercentText.roundedUp(1) == "100%")
        #expect(PercentText.plain(0.1) == "10%")
        #expect(PercentText.plain(28.0 / 30) == "93.3%")
        #expect(PercentText.plain(0) == "0%")
        #expect(PercentText.plain(0.0004) == "0.04%")
    }
}
