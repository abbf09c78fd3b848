import ArgumentParser
import CommandSupport
import DecisionCore
import EngineOptions
import Inference
import Logging
import NeuralNet
import Samples
import Support

struct PolicyReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-policy",
        abstract:
            "Measure decision-policy settings on replay recordings: Bo's wait for the door, other animals let in.",
        discussion: """
            Each RECORDING is a folder of frames with the replay manifest `dogdoor samples --replay` writes (what \
            each frame shows). Every frame is scored once with the model, as dogdoord scores camera frames; then \
            each setting (n of m positive frames at each threshold) is run through the daemon's decision policy \
            at --rate evaluated frames per second. For each setting: in how many recordings Bo was let in, the \
            median and worst time from his first frame to the unlock, and every unlock for anything else. A \
            setting meets the target when Bo gets in every time within --max-wait seconds and nothing else ever \
            does. Exit status 1 if no setting meets it.
            """)

    @Option(help: "Model file.") var model: String
    @Option(help: "Arithmetic: fp32, int8 (the model's int8 form) or auto.") var precision: Precision = .auto
    @Option(help: "Frames evaluated per second (the daemon's pace on the board).") var rate = 2.0
    @Option(name: .customLong("max-wait"), help: "Longest acceptable wait for Bo, in seconds.") var maxWait = 3.0
    @Option(
        help: "Comma-separated thresholds to try (probabilities); the model's own is always tried.",
        transform: PolicyReplayCommand.parseThresholds)
    var thresholds: [Double] = [0.5]
    @Option(help: "Vote window in seconds (the configuration's `window`).") var window = 3.0
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Argument(help: "Replay recordings (folders written by `dogdoor samples --replay`).") var recordings: [String]
    @OptionGroup var compute: ComputeOptions

    static func parseThresholds(_ text: String) throws -> [Double] {
        let values = text.split(separator: ",").map { Double(String($0.filter { $0 != " " })) }
        guard !values.isEmpty, values.allSatisfy({ $0.map { $0 > 0 && $0 < 1 } ?? false }) else {
            throw ValidationError("--thresholds: expected probabilities between 0 and 1 separated by commas")
        }
        return values.map { $0! }
    }

    func validate() throws {
        guard rate > 0, rate <= 30 else { throw ValidationError("--rate must be in (0, 30] frames per second") }
        guard maxWait > 0 else { throw ValidationError("--max-wait must be positive") }
        guard !recordings.isEmpty else { throw ValidationError("give at least one recording") }
    }

    func run() throws {
        var logger = Logger(label: "dogdoor")
        let (threads, _) = try compute.setUp(&logger)
        let active = try ActiveModel(path: model, precision: precision, threads: threads)
        var sampled: [PolicyReplay.Recording] = []
        for directory in recordings {
            let manifest = try ReplayManifest.load(directory: directory)
            var frames: [(probability: Double, subject: String, showsDog: Bool)] = []
            for frame in manifest.frames {
                let path = directory + "/" + frame.file
                do {
                    let scored = try active.classify(file: path)
                    frames.append((scored.probability, frame.subject.rawValue, frame.showsBo))
                } catch {
                    throw Failure("\(path): \(error)")
                }
            }
            sampled.append(PolicyReplay.sampled(frames, fps: manifest.fps, rate: rate))
        }
        var summaries: [PolicyReplay.Summary] = []
        let thresholdsTried = Array(Set(thresholds + [active.threshold])).sorted()
        for threshold in thresholdsTried {
            for n in 2...4 {
                for m in n...6 {
                    let parameters = DecisionParameters(
                        requiredPositives: n, voteFrames: m,
                        window: .milliseconds(Int64((window * 1000).rounded())), threshold: threshold)
                    summaries.append(try PolicyReplay.summarise(sampled, parameters: parameters))
                }
            }
        }
        let best = Self.recommended(summaries, maxWait: maxWait)
        if json {
            print(Self.json(summaries, best: best, maxWait: maxWait, rate: rate, recordings: recordings).serialized())
        } else {
            print(
                "\(recordings.count) recording(s) at \(fixed(rate, 1)) evaluated frames per second, window "
                    + "\(fixed(window, 1)) s; model threshold \(fixed(active.threshold, 4)); "
                    + "target: Bo in every time within \(fixed(maxWait, 1)) s, nothing else ever")
            print(Self.table(summaries, modelThreshold: active.threshold, maxWait: maxWait))
            if let best {
                print(
                    "recommended: n = \(best.parameters.requiredPositives), m = \(best.parameters.voteFrames), "
                        + "threshold \(fixed(best.parameters.threshold, 4)) (worst wait \(fixed(best.worstWait ?? 0, 1)) s)"
                )
            } else {
                print("no setting meets the target on these recordings")
            }
        }
        if best == nil { throw ExitCode(1) }
    }

    /// Among the settings that meet the target, the one with the most positives required (harder to fool),
    /// then the shortest worst wait, then the highest threshold.
    static func recommended(_ summaries: [PolicyReplay.Summary], maxWait: Double) -> PolicyReplay.Summary? {
        summaries.filter { $0.meets(maximumWait: maxWait) }.min { a, b in
            if a.parameters.requiredPositives != b.parameters.requiredPositives {
                return a.parameters.requiredPositives > b.parameters.requiredPositives
            }
            if a.worstWait != b.worstWait { return (a.worstWait ?? .infinity) < (b.worstWait ?? .infinity) }
            return a.parameters.threshold > b.parameters.threshold
        }
    }

    static func table(_ summaries: [PolicyReplay.Summary], modelThreshold: Double, maxWait: Double) -> String {
        var lines = ["threshold  n  m  Bo admitted  median wait  worst wait  others let in  meets target"]
        for s in summaries {
            let threshold = fixed(s.parameters.threshold, 4) + (s.parameters.threshold == modelThreshold ? "*" : " ")
            let others =
                s.wrongUnlocks.isEmpty ? "none" : "\(s.wrongUnlocks.count) (\(s.wrongUnlocks.joined(separator: ", ")))"
            lines.append(
                "\(pad(threshold, 9))  \(s.parameters.requiredPositives)  \(s.parameters.voteFrames)  "
                    + "\(pad("\(s.dogAdmitted) of \(s.dogRecordings)", 11))  "
                    + "\(pad(s.medianWait.map { fixed($0, 1) + " s" } ?? "-", 11))  "
                    + "\(pad(s.worstWait.map { fixed($0, 1) + " s" } ?? "-", 10))  \(pad(others, 13))  "
                    + (s.meets(maximumWait: maxWait) ? "yes" : "no"))
        }
        lines.append("(* the model's own threshold)")
        return lines.joined(separator: "\n")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func json(
        _ summaries: [PolicyReplay.Summary], best: PolicyReplay.Summary?, maxWait: Double, rate: Double,
        recordings: [String]
    ) -> JSONValue {
        func object(_ s: PolicyReplay.Summary) -> JSONValue {
            [
                "threshold": .number(s.parameters.threshold), "n": .number(Double(s.parameters.requiredPositives)),
                "m": .number(Double(s.parameters.voteFrames)), "dog_recordings": .number(Double(s.dogRecordings)),
                "dog_admitted": .number(Double(s.dogAdmitted)),
                "median_wait": s.medianWait.map(JSONValue.number) ?? .null,
                "worst_wait": s.worstWait.map(JSONValue.number) ?? .null,
                "others_let_in": .array(s.wrongUnlocks.map(JSONValue.string)),
                "meets_target": .bool(s.meets(maximumWait: maxWait)),
            ]
        }
        return [
            "recordings": .array(recordings.map(JSONValue.string)), "rate": .number(rate),
            "max_wait": .number(maxWait), "settings": .array(summaries.map(object)),
            "recommended": best.map(object) ?? .null,
        ]
    }
}
