import Support

/// The decision policy run over a scored recording of the door, to measure a policy setting where it matters:
/// how long Bo waits from his first frame to the unlock, and whether anything else ever unlocks the door.
///
/// Pure: the frames carry their times and scores, so a setting can be tried on many recordings in
/// milliseconds, and the outcome is exactly what `DecisionPolicy` would do in the daemon at that frame rate.
public enum PolicyReplay {
    /// One evaluated frame of a recording.
    public struct Frame: Sendable, Equatable {
        /// Seconds since the recording started.
        public var time: Double
        /// The model's probability that it shows the dog to admit.
        public var probability: Double
        /// What the frame shows ("bo", "fox", "nothing", ...), from the recording's manifest.
        public var subject: String
        /// True if it shows the dog to admit.
        public var showsDog: Bool

        public init(time: Double, probability: Double, subject: String, showsDog: Bool) {
            self.time = time
            self.probability = probability
            self.subject = subject
            self.showsDog = showsDog
        }
    }

    /// A recording's evaluated frames, and when the dog arrived (his first frame in the recording, evaluated
    /// or not; nil when he is not in it).
    public struct Recording: Sendable, Equatable {
        public var frames: [Frame]
        public var arrival: Double?

        public init(frames: [Frame], arrival: Double?) {
            self.frames = frames
            self.arrival = arrival
        }
    }

    /// What one recording did under one setting.
    public struct Outcome: Sendable, Equatable {
        /// Seconds from the dog's arrival to the first unlock while he is there (nil: he is never let in, or
        /// the recording has no frame of him).
        public var dogWait: Double?
        /// Unlocks whose deciding frame did not show the dog, with the subject it showed.
        public var wrongUnlocks: [String]
        /// Unlocks in all.
        public var unlocks: Int
    }

    /// Runs `parameters` over the recording's frames (in time order) and reports the outcome. A tick follows
    /// every frame halfway to the next, as the daemon ticks between frames.
    public static func run(
        _ recording: Recording, parameters: DecisionParameters
    ) throws(DecisionParameterError)
        -> Outcome
    {
        let frames = recording.frames
        let start = Timestamp(monotonic: .seconds(1000), wall: WallTime(unixNanoseconds: 0, utcOffsetSeconds: 0))
        var policy = try DecisionPolicy(parameters: parameters, start: start)
        func at(_ seconds: Double) -> Timestamp {
            Timestamp(
                monotonic: start.monotonic + .milliseconds(Int64((seconds * 1000).rounded())),
                wall: WallTime(unixNanoseconds: Int64((seconds * 1e9).rounded()), utcOffsetSeconds: 0))
        }
        let firstDogFrame = recording.arrival ?? frames.first(where: \.showsDog)?.time
        var outcome = Outcome(dogWait: nil, wrongUnlocks: [], unlocks: 0)
        for (index, frame) in frames.enumerated() {
            let output = policy.handle(
                .frame(at(frame.time), probability: frame.probability, frameID: UInt64(index)))
            for record in output.records where record.kind == .unlock {
                outcome.unlocks += 1
                if frame.showsDog {
                    if outcome.dogWait == nil, let firstDogFrame { outcome.dogWait = frame.time - firstDogFrame }
                } else {
                    outcome.wrongUnlocks.append(frame.subject)
                }
            }
            let next = index + 1 < frames.count ? frames[index + 1].time : frame.time + 1
            _ = policy.handle(.tick(at((frame.time + next) / 2)))
        }
        return outcome
    }

    /// A setting measured over several recordings.
    public struct Summary: Sendable, Equatable {
        public var parameters: DecisionParameters
        /// Recordings in which the dog appears.
        public var dogRecordings: Int
        /// Of those, the ones in which he was let in.
        public var dogAdmitted: Int
        /// Median and worst wait over the recordings where he was let in (nil if never).
        public var medianWait: Double?
        public var worstWait: Double?
        /// Unlocks for anything but the dog, in all recordings, with what they showed.
        public var wrongUnlocks: [String]

        /// True when the dog got in every time, within `maximumWait` seconds, and nothing else ever did.
        public func meets(maximumWait: Double) -> Bool {
            dogAdmitted == dogRecordings && (worstWait ?? .infinity) <= maximumWait && wrongUnlocks.isEmpty
        }
    }

    /// Runs `parameters` over each recording and summarises.
    public static func summarise(
        _ recordings: [Recording], parameters: DecisionParameters
    ) throws(DecisionParameterError) -> Summary {
        var waits: [Double] = []
        var wrong: [String] = []
        var dogRecordings = 0
        for recording in recordings {
            let outcome = try run(recording, parameters: parameters)
            if recording.arrival != nil || recording.frames.contains(where: \.showsDog) { dogRecordings += 1 }
            if let wait = outcome.dogWait { waits.append(wait) }
            wrong += outcome.wrongUnlocks
        }
        waits.sort()
        let median: Double? =
            waits.isEmpty
            ? nil
            : waits.count % 2 == 1
                ? waits[waits.count / 2] : (waits[waits.count / 2 - 1] + waits[waits.count / 2]) / 2
        return Summary(
            parameters: parameters, dogRecordings: dogRecordings, dogAdmitted: waits.count, medianWait: median,
            worstWait: waits.last, wrongUnlocks: wrong)
    }

    /// The recording as evaluated at `rate` frames per second from frames made at `fps`: the frame showing
    /// at each evaluation time `k / rate` (the daemon scores the latest frame when it is free). `frames` are
    /// the recording's frames in order, `(probability, subject, showsDog)`; the dog arrives with the first
    /// frame that shows him, evaluated or not.
    public static func sampled(
        _ frames: [(probability: Double, subject: String, showsDog: Bool)], fps: Double, rate: Double
    ) -> Recording {
        precondition(fps > 0 && rate > 0)
        let arrival = frames.firstIndex(where: \.showsDog).map { Double($0) / fps }
        var result: [Frame] = []
        var k = 0
        while true {
            let time = Double(k) / rate
            let index = Int((time * fps + 1e-9).rounded(.down))
            guard index < frames.count else { break }
            let f = frames[index]
            result.append(Frame(time: time, probability: f.probability, subject: f.subject, showsDog: f.showsDog))
            k += 1
        }
        return Recording(frames: result, arrival: arrival)
    }
}
