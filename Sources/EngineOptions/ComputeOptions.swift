import ArgumentParser
import CommandSupport
import Imaging
import Logging
import NeuralNet
import Support

/// Options every compute-heavy subcommand shares.
public struct ComputeOptions: ParsableArguments {
    public init() {}

    @Option(name: .long, help: "Engine threads; 0 or none: one per core.")
    public var threads: Int?

    @Option(
        name: .customLong("blas-core"),
        help:
            "OpenBLAS kernel family (OPENBLAS_CORETYPE), e.g. SkylakeX, Haswell. Default: detected, corrected if OpenBLAS misdetects this CPU."
    )
    public var blasCore: String?

    @Option(name: .customLong("log-level"), help: "How much to log.")
    public var logLevel: Logger.Level = .info

    public func validate() throws {
        if let threads, threads < 0 || threads > 256 {
            throw ValidationError("--threads must be between 0 (one per core, as in the configuration) and 256")
        }
    }

    /// Sets up logging and OpenBLAS (may restart the process to fix the kernel choice); returns the engine threads.
    /// Fails when no OpenBLAS kernel computes correctly (see `KernelAdvisor.decide`).
    public func setUp(_ logger: inout Logger) throws -> (threads: ComputeThreads, kernel: String) {
        bootstrapLoggingOnce(level: logLevel)
        logger = Logger(label: logger.label)
        let choice = try BLASRuntime.ensureBestKernel(coreOverride: blasCore, logger: logger)
        BLASRuntime.configureForEngineThreads()
        let kernel = BLASRuntime.describe(choice)
        logger.debug("OpenBLAS kernel", metadata: ["kernel": "\(kernel)"])
        let count = threads.flatMap { $0 > 0 ? $0 : nil } ?? BLASRuntime.defaultThreads
        return (ComputeThreads(count), kernel)
    }
}

extension PixelFormat: ExpressibleByArgument {}
extension ExecutionPlan.Preset: ExpressibleByArgument {}
extension WeightRounding: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension ResizeMethod: ExpressibleByArgument {}
extension Centering: ExpressibleByArgument {}
