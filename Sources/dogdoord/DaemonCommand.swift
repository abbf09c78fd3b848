import ArgumentParser
import CommandSupport
import DaemonRuntime
import DoorConfiguration
import Inference
import Logging
import NeuralNet
import Support

@main
struct DaemonCommand: DogDoorProgram {
    static let configuration = CommandConfiguration(
        commandName: "dogdoord",
        abstract: "The DogDoor daemon: camera frames in, a locked or unlocked door out.",
        discussion: """
            Reads /etc/dogdoor/dogdoord.toml if it exists (or --config), else runs on built-in defaults (a replay \
            camera). The latch is held by the latch owner, dogdoor-latch, which dogdoord commands over latch.socket: \
            start it first. --set section.key=value overrides one key (repeatable). SIGTERM/SIGINT lock the door and \
            stop; SIGHUP reloads configuration and model (all or nothing: the running ones stay if anything new \
            fails). Control it with `dogdoor status|lock|unlock|auto`.
            """,
        version: dogDoorVersion
    )

    @Option(
        name: .long,
        help: "Configuration file (default: /etc/dogdoor/dogdoord.toml when it exists, else built-in defaults).")
    var config: String?

    @Option(name: .customLong("set"), help: "Override a configuration key, e.g. --set decision.hold=20s (repeatable).")
    var overrides: [String] = []

    @Option(help: "Model file (shortcut for --set model.path=PATH).")
    var model: String?

    @Flag(
        name: .customLong("check-config"),
        help: "Validate the configuration and verify the model, print the result, and exit.")
    var checkConfig = false

    @Option(name: .customLong("log-level"), help: "How much to log.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        for o in overrides where !o.contains("=") { throw ValidationError("--set \(o): expected section.key=value") }
    }

    func run() throws {
        bootstrapLoggingOnce(level: logLevel)
        let logger = Logger(label: "dogdoord")
        var pairs = overrides.map { o -> (key: String, value: String) in
            let parts = o.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
        if let model { pairs.append(("model.path", model)) }
        let path: String? =
            config ?? (access(DaemonConfiguration.defaultPath, F_OK) == 0 ? DaemonConfiguration.defaultPath : nil)
        var problems: [ConfigurationError] = []
        let configuration = DaemonConfiguration.check(path: path, overrides: pairs, problems: &problems)
        // Running stops at the first problem; --check-config goes on and reports every one.
        if !checkConfig, let first = problems.first { throw first }
        // OpenBLAS's kernel is fixed when the library loads: this may restart the process, before any device is opened.
        let choice = try BLASRuntime.ensureBestKernel(
            coreOverride: configuration.compute.openblasCoretype, logger: logger)
        BLASRuntime.configureForEngineThreads()
        let threads = ComputeThreads(
            configuration.compute.threads > 0 ? configuration.compute.threads : BLASRuntime.defaultThreads)
        logger.info(
            "starting",
            metadata: [
                "config": "\(path ?? "built-in defaults")", "openblas": "\(BLASRuntime.describe(choice))",
                "loops": "\(EngineLoops.description)",
                "threads": "\(threads.count)", "plan": "\(configuration.compute.plan.rawValue)",
                "precision": "\(configuration.compute.precision.rawValue)",
            ])

        if checkConfig {
            let findings = ConfigurationCheck.run(configuration, problems: problems, path: path, threads: threads)
            for finding in findings { print(finding) }
            let count = findings.filter { $0.severity == .problem }.count
            if count > 0 { throw Failure("\(count) problem\(count == 1 ? "" : "s") found") }
            return
        }

        let daemon = DoorDaemon(
            configuration: configuration, configurationPath: path, overrides: pairs, threads: threads,
            logger: logger)
        _ = SignalWatcher(handlers: [
            SIGTERM: { daemon.requestStop("SIGTERM") },
            SIGINT: { daemon.requestStop("SIGINT") },
            SIGHUP: { daemon.requestReload() },
        ])
        signal(SIGPIPE, SIG_IGN)
        let status = daemon.run()
        if status != 0 { throw ExitCode(status) }
    }
}
