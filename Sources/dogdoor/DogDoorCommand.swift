import ArgumentParser
import Logging
import NeuralNet
import Support

@main
struct DogDoorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dogdoor",
        abstract: "DogDoor tools: inspect models, classify images, benchmark, and control the door daemon.",
        subcommands: [ModelCommand.self, BenchCommand.self]
    )
}

/// Options every compute-heavy subcommand shares.
struct ComputeOptions: ParsableArguments {
    @Option(name: .long, help: "Engine threads (default: online CPUs).")
    var threads: Int?

    @Option(name: .customLong("blas-core"),
            help: "OpenBLAS kernel family (OPENBLAS_CORETYPE), e.g. SkylakeX, Haswell. Default: detected, corrected if OpenBLAS misdetects this CPU.")
    var blasCore: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level \(logLevel) is not a log level") }
    }

    /// Sets up logging and OpenBLAS (may restart the process to fix the kernel choice); returns the engine threads.
    func setUp(_ logger: inout Logger) -> (threads: ComputeThreads, kernel: String) {
        bootstrapLoggingOnce(level: Logger.Level(rawValue: logLevel) ?? .info)
        logger = Logger(label: "dogdoor")
        let choice = BLASRuntime.ensureBestKernel(coreOverride: blasCore, logger: logger)
        BLASRuntime.configureForEngineThreads()
        let kernel = BLASRuntime.describe(choice)
        logger.debug("OpenBLAS kernel", metadata: ["kernel": "\(kernel)"])
        return (ComputeThreads(threads ?? BLASRuntime.defaultThreads), kernel)
    }
}

private nonisolated(unsafe) var loggingBootstrapped = false

/// Installs the line log handler once per process.
func bootstrapLoggingOnce(level: Logger.Level) {
    guard !loggingBootstrapped else { return }
    loggingBootstrapped = true
    bootstrapLogging(level: level)
}

