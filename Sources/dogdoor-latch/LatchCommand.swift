import ArgumentParser
import CommandSupport
import DecisionCore
import DoorConfiguration
import LatchLink
import LatchOwner
import Logging
import Support

/// `dogdoor-latch`: the latch owner. Holds the door's GPIO line for as long as it runs, locked unless
/// dogdoord keeps it unlocked (see `LatchOwnerServer`); a small process that nothing slow can stall.
@main
struct LatchCommand: DogDoorProgram {
    static let configuration = CommandConfiguration(
        commandName: "dogdoor-latch",
        abstract: "The DogDoor latch owner: holds the latch's GPIO line, locked unless dogdoord keeps it unlocked.",
        discussion: """
            Reads the [latch] section of the configuration file. dogdoord connects to latch.socket and must \
            renew every unlock; the owner locks by itself when dogdoord disconnects, dies, falls silent for \
            latch.heartbeat_timeout or lets its unlock run out, and never keeps the latch energised longer than \
            latch.max_unlocked. SIGTERM or SIGINT lock the door, release the line and exit. See docs/hardware.md.
            """,
        version: dogDoorVersion
    )

    @Option(
        name: .long,
        help: "Configuration file (default: /etc/dogdoor/dogdoord.toml if it exists, else the built-in defaults).")
    var config: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override a [latch] key: latch.key=value (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Flag(
        name: .customLong("lock-line"),
        help: "Drive the line to locked, release it and exit (for boot and systemd's ExecStopPost=).")
    var lockLine = false

    @Flag(
        name: .customLong("check-config"),
        help: "Validate the configuration, open the latch (locked) to prove it can, and exit.")
    var checkConfig = false

    @Flag(
        name: .customLong("chip-device"),
        help:
            "Print the kernel name of the configured GPIO chip (gpiochipN) and exit; the install script writes its udev rule for that chip only."
    )
    var chipDevice = false

    @Option(name: .customLong("log-level"), help: "How much to log.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        for o in overrides where !o.hasPrefix("latch.") || !o.contains("=") {
            throw ValidationError("--set \(o): expected latch.key=value")
        }
    }

    func run() throws {
        bootstrapLogging(level: logLevel)
        NamedThread.nameCurrent("dogdoor-latch")
        let logger = Logger(label: "dogdoor-latch")
        let path: String? =
            config ?? (access(DaemonConfiguration.defaultPath, F_OK) == 0 ? DaemonConfiguration.defaultPath : nil)
        let settings: DaemonConfiguration.LatchSettings
        var configuration = try path.map { try DaemonConfiguration.load(path: $0) } ?? .defaults
        for o in overrides {
            let parts = o.split(separator: "=", maxSplits: 1).map(String.init)
            try configuration.apply(override: parts[0], value: parts.count > 1 ? parts[1] : "")
        }
        settings = configuration.latch

        if chipDevice {
            print(try GPIOLatch.kernelName(ofChip: settings.chip))
            return
        }
        let latch: any Latch
        switch settings.kind {
        case .simulated: latch = SimulatedLatch(name: "simulated")  // the owner logs every actuation itself
        case .gpio: latch = try GPIOLatch(chip: settings.chip, line: settings.line, activeLow: settings.activeLow)
        }
        if lockLine || checkConfig {
            let level = try latch.readBack()
            try latch.close()
            if checkConfig {
                print(
                    "configuration: \(path ?? "built-in defaults") is valid; latch \(latch.name) opened, read \(level.rawValue), left locked"
                )
            } else {
                logger.notice("line driven locked and released", metadata: ["latch": "\(latch.name)"])
            }
            return
        }

        var allowed: Set<uid_t> = [getuid()]
        if let client = userID(named: settings.clientUser) {
            allowed.insert(client)
        } else {
            logger.warning(
                "latch.client_user does not exist; only root and this process's user may command the latch",
                metadata: ["client_user": "\(settings.clientUser)"])
        }
        let server: LatchOwnerServer
        do {
            server = try LatchOwnerServer(
                latch: latch,
                settings: LatchSupervisor.Settings(
                    minimumGap: settings.minGap, maximumUnlocked: settings.maxUnlocked,
                    heartbeatTimeout: settings.heartbeatTimeout),
                options: LatchOwnerServer.Options(socketPath: settings.socket, allowedUsers: allowed), logger: logger)
        } catch {
            try? latch.close()
            throw Failure("latch socket: \(error)")
        }
        _ = SignalWatcher(handlers: [
            SIGTERM: { server.requestStop() },
            SIGINT: { server.requestStop() },
            SIGHUP: { logger.notice("SIGHUP ignored: [latch] changes take effect when dogdoor-latch restarts") },
        ])
        let status = server.run()
        if status != 0 { throw ExitCode(status) }
    }
}
