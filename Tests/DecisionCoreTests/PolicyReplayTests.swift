import Support
import Testing

@testable import DecisionCore

@Suite struct PolicyReplayTests {
    /// A recording at 2 evaluated frames per second: `scores` in order, the dog in frames `dog`, a fox elsewhere.
    static func recording(_ scores: [Double], dog: Range<Int>, arrival: Double? = nil) -> PolicyReplay.Recording {
        let frames = scores.enumerated().map { i, p in
            PolicyReplay.Frame(
                time: Double(i) / 2, probability: p, subject: dog.contains(i) ? "bo" : "fox", showsDog: dog.contains(i))
        }
        return PolicyReplay.Recording(frames: frames, arrival: arrival)
    }

    @Test func waitIsFromTheDogsArrivalToTheDecidingFrame() throws {
        // Dog from frame 4 (2.0 s); positives at frames 5, 6, 7: 3 of 5 passes at frame 7 (3.5 s).
        let recording = Self.recording([0, 0, 0, 0, 0.2, 0.9, 0.9, 0.9, 0.9, 0], dog: 4..<9)
        let outcome = try PolicyReplay.run(recording, parameters: DecisionParameters(threshold: 0.5))
        #expect(outcome.dogWait == 1.5)
        #expect(outcome.unlocks == 1 && outcome.wrongUnlocks.isEmpty)
        // An explicit arrival (his first frame in the recording, between evaluations) is measured from.
        var early = recording
        early.arrival = 1.8
        #expect(try PolicyReplay.run(early, parameters: DecisionParameters(threshold: 0.5)).dogWait! == 3.5 - 1.8)
        // Two of three at the same threshold decides a frame sooner.
        let quicker = try PolicyReplay.run(
            recording, parameters: DecisionParameters(requiredPositives: 2, voteFrames: 3, threshold: 0.5))
        #expect(quicker.dogWait == 1.0)
    }

    @Test func anUnlockOnAnotherAnimalsFrameIsReportedWithWhatItShowed() throws {
        let recording = Self.recording([0.9, 0.9, 0.9, 0, 0, 0], dog: 10..<11)
        let outcome = try PolicyReplay.run(recording, parameters: DecisionParameters(threshold: 0.5))
        #expect(outcome.wrongUnlocks == ["fox"])
        #expect(outcome.dogWait == nil)
        // A stricter threshold keeps the fox out.
        let strict = try PolicyReplay.run(recording, parameters: DecisionParameters(threshold: 0.95))
        #expect(strict.wrongUnlocks.isEmpty && strict.unlocks == 0)
    }

    @Test func summaryCountsDogRecordingsWaitsAndWrongUnlocks() throws {
        let fast = Self.recording([0, 0.9, 0.9, 0.9, 0], dog: 1..<4)
        let slow = Self.recording([0, 0.9, 0.2, 0.9, 0.2, 0.9, 0.9, 0], dog: 1..<7)
        let never = Self.recording([0, 0.2, 0.2, 0.2, 0], dog: 1..<4)
        let fox = Self.recording([0.9, 0.9, 0.9], dog: 5..<5)
        let summary = try PolicyReplay.summarise(
            [fast, slow, never, fox], parameters: DecisionParameters(threshold: 0.5))
        #expect(summary.dogRecordings == 3)
        #expect(summary.dogAdmitted == 2)
        #expect(summary.medianWait == (1.0 + 2.0) / 2)
        #expect(summary.worstWait == 2.0)
        #expect(summary.wrongUnlocks == ["fox"])
        #expect(!summary.meets(maximumWait: 3))
        let good = try PolicyReplay.summarise([fast, slow], parameters: DecisionParameters(threshold: 0.5))
        #expect(good.meets(maximumWait: 3) && !good.meets(maximumWait: 1.5))
    }

    @Test func samplingTakesTheFrameShowingAtEachEvaluationTime() {
        // 5 fps recording, 12 frames (2.4 s); the dog in frames 3...7.
        let frames = (0..<12).map { i in
            (
                probability: Double(i) / 12, subject: (3...7).contains(i) ? "bo" : "nothing",
                showsDog: (3...7).contains(i)
            )
        }
        let recording = PolicyReplay.sampled(frames, fps: 5, rate: 2)
        // Evaluation times 0, 0.5, 1.0, 1.5, 2.0 take frames 0, 2, 5, 7, 10.
        #expect(recording.frames.map(\.time) == [0, 0.5, 1.0, 1.5, 2.0])
        #expect(recording.frames.map(\.probability) == [0, 2, 5, 7, 10].map { Double($0) / 12 })
        #expect(recording.frames.map(\.showsDog) == [false, false, true, true, false])
        #expect(recording.arrival == 0.6)
    }

    @Test func invalidParametersAreRefused() {
        #expect(throws: DecisionParameterError.self) {
            try PolicyReplay.run(Self.recording([0.9], dog: 0..<1), parameters: DecisionParameters(threshold: 2))
        }
    }
}
