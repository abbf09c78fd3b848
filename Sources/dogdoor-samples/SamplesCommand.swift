import ArgumentParser
import CommandSupport
import Samples
import Support

/// Pictures for demos and tests, drawn by the program itself. A product of its own: the procedural drawing
/// (about 3,000 lines) stays out of the operator's `dogdoor` tool, which forwards `dogdoor samples` here.
@main
struct SamplesCommand: DogDoorProgram {
    static let configuration = CommandConfiguration(
        commandName: "dogdoor-samples",
        abstract: "Generate sample photos of Bo and of other animals (drawn procedurally; no third-party photos).",
        version: dogDoorVersion,
        subcommands: [Dataset.self, Replay.self])

    struct Dataset: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A training set in the flow_from_directory layout: OUTPUT/{train,valid}/{bo,not_bo}/*.jpg.")
        @Option(help: "Output directory.") var output: String
        @Option(name: .customLong("train-per-class"), help: "Training images per class.") var trainPerClass = 30
        @Option(name: .customLong("valid-per-class"), help: "Validation images per class.") var validPerClass = 10
        @Option(help: "Seed (the same seed gives the same files).") var seed: UInt64 = 1
        @Option(
            name: .customLong("night-fraction"),
            help:
                "Fraction of each class and split drawn as infrared night pictures, 0...1 (1: a night-only set; the other images do not change)."
        )
        var nightFraction = 0.0

        func validate() throws {
            guard trainPerClass >= 1, validPerClass >= 1 else {
                throw ValidationError("need at least one image per class and split")
            }
            guard nightFraction.isFinite, (0...1).contains(nightFraction) else {
                throw ValidationError("--night-fraction must be within 0...1")
            }
        }

        func run() throws {
            let entries = try SampleGenerator.writeDataset(
                to: output, trainPerClass: trainPerClass, validPerClass: validPerClass, seed: seed,
                nightFraction: nightFraction)
            let nights = entries.filter(\.night).count
            print(
                "wrote \(entries.count) images to \(output) (train and valid, classes bo and not_bo; \(nights) at night)"
            )
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "A replay sequence for the daemon's replay camera: 640x480 frames of a porch at 5 fps where other animals pass, then Bo comes to the door."
        )
        @Option(help: "Output directory.") var output: String
        @Option(help: "Seed.") var seed: UInt64 = 2
        @Flag(help: "The same sequence after dark, seen by an infrared camera.") var night = false

        func run() throws {
            let manifest = try SampleGenerator.writeReplaySequence(to: output, seed: seed, night: night)
            let bo = manifest.frames.filter(\.showsBo).count
            print("wrote \(manifest.frames.count) frames to \(output) (\(bo) show Bo)")
        }
    }
}
