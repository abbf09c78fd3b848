import ArgumentParser
import CommandSupport
import Logging
import NeuralNet
import Support

@main
struct DogDoorCommand: DogDoorProgram {
    static let configuration = CommandConfiguration(
        commandName: "dogdoor",
        abstract: "DogDoor tools: inspect models, classify images, benchmark, and control the door daemon.",
        version: dogDoorVersion,
        subcommands: [
            StatusCommand.self, LockCommand.self, UnlockCommand.self, AutoCommand.self, ClassifyCommand.self,
            EvaluateCommand.self, PolicyReplayCommand.self,
            ModelCommand.self, CameraCommand.self, SamplesCommand.self, WebCommand.self, BenchCommand.self,
            BLASCommand.self,
        ]
    )
}
