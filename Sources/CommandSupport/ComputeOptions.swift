import ArgumentParser
import Logging
import NeuralNet
import Support

/// Options every compute-heavy subcommand shares.
public struct ComputeOptions: ParsableArguments {
    public init() {}

    @Option(name: .long, help: "Engine threads (default: online CPUs).")
    public var threads: Int?

    @Option(name: .customLong("blas-core"),
            help: "OpenBLAS kernel family (OPENBLAS_CORETYPE), e.g. SkylakeX, Haswell. Default: detected, corrected if OpenBLAS misdetects this CPU.")
    public var blasCore: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel: String = "info"

    public func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("--log-level \(logLevel) is not a log level") }
    }

    /// Sets up logging and OpenBLAS (may restart the process to fix the kernel choice); returns the engine threads.
    /// Fails when no OpenBLAS kernel computes correctly (see `KernelAdvisor.decide`).
    public func setUp(_ logger: inout Logger) throws -> (threads: ComputeThreads, kernel: String) {
        bootstrapLoggingOnce(level: Logger.Level(rawValue: logLevel) ?? .info)
        logger = Logger(label: logger.label)
        let choice: BLASRuntime.Choice
        do {
            choice = try BLASRuntime.ensureBestKernel(coreOverride: blasCore, logger: logger)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        BLASRuntime.configureForEngineThreads()
        let kernel = BLASRuntime.describe(choice)
        logger.debug("OpenBLAS kernel", metadata: ["kernel": "\(kernel)"])
        return (ComputeThreads(threads ?? BLASRuntime.defaultThreads), kernel)
    }
}

private nonisolated(unsafe) var loggingBootstrapped = false

/// Installs the line log handler once per process.
public func bootstrapLoggingOnce(level: Logger.Level) {
    guard !loggingBootstrapped else { return }
    loggingBootstrapped = true
    bootstrapLogging(level: level)
}

