import ArgumentParser
import CommandSupport
import Dispatch
import DoorConfiguration
import Hummingbird
import Logging
import ServiceLifecycle
import Support
import Synchronization
import WebApp
import WebCore

/// `dogdoor-web`: the local web app beside the door daemon (status, lock/unlock/auto, timeline, snapshots,
/// Prometheus metrics), and `dogdoor-web passwd` for its users. `dogdoor web ...` forwards here.
@main
struct WebCommand: DogDoorProgram {
    static let configuration = CommandConfiguration(
        commandName: "dogdoor-web",
        abstract: "The DogDoor web app: the door's status, commands and timeline in a browser, and /metrics.",
        version: dogDoorVersion,
        subcommands: [Serve.self, Passwd.self],
        defaultSubcommand: Serve.self
    )
}

/// Options shared by the subcommands: web.toml and its overrides.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "web.toml (default: /etc/dogdoor/web.toml if it exists, else the built-in defaults).")
    var config: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a web.toml key, e.g. web.listen=127.0.0.1:8081 (repeatable).", valueName: "section.key=value"))
    var overrides: [String] = []

    func load() throws -> WebConfiguration {
        let path = config ?? (fileExistsAt(WebConfiguration.defaultPath) ? WebConfiguration.defaultPath : nil)
        return try WebConfiguration.load(path: path, overrides: overrides)
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the web app (the default).",
        discussion: """
            Talks to dogdoord over its control socket only (it has no access to the latch) and reads its events \
            directory; both come from dogdoord.toml unless web.toml names them. Listens on 127.0.0.1:8080 unless \
            told otherwise: put a reverse proxy with TLS in front to reach it from a phone on the home network. \
            With [mqtt] enabled, it is also the Home Assistant bridge.
            """)

    @OptionGroup var options: ConfigurationOptions

    @Option(name: .customLong("log-level"), help: "How much to log.")
    var logLevel: Logger.Level = .info

    func run() throws {
        bootstrapLoggingOnce(level: logLevel)
        let logger = Logger(label: "dogdoor-web")
        let configuration = try options.load()
        let (socket, events) = try configuration.daemonPaths()
        let settings = WebSettings(configuration, eventsDirectory: events, controlSocket: socket)
        if try PasswordFile.load(settings.passwordFile).users.isEmpty {
            logger.warning(
                "no users yet: nobody can log in",
                metadata: ["fix": "dogdoor web passwd NAME --set web.users=\(settings.passwordFile)"])
        }
        let door = SocketDoorLink(socket: socket)
        let app = WebApp(settings: settings, door: door, logger: logger)
        // With [mqtt] enabled, the Home Assistant bridge runs beside the server and stops with it.
        let services: [any Service] =
            configuration.mqtt.enabled
            ? [
                HomeAssistantBridge(
                    settings: configuration.mqtt, door: door, eventsDirectory: events,
                    logger: Logger(label: "dogdoor-web.mqtt"), softwareVersion: dogDoorVersion)
            ] : []
        let host = settings.host
        try blockOn {
            try await app.application(services: services) { port in
                logger.notice("listening", metadata: ["url": "http://\(host):\(port)/"])
                print("dogdoor-web: http://\(host):\(port)/")
            }.runService()
        }
    }
}

struct Passwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set (or add) a user's password in the users file, or remove the user.",
        discussion: """
            Asks for the password twice on a terminal; with --password-stdin reads one line from standard \
            input instead (for scripts). Passwords are stored as bcrypt hashes; the file is written atomically \
            with mode 0640.
            """)

    @Argument(help: "The user's name (letters, digits, - and _).")
    var name: String

    @OptionGroup var options: ConfigurationOptions

    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input.")
    var passwordStdin = false

    @Flag(name: .long, help: "Remove the user instead.")
    var remove = false

    func run() throws {
        let users = try options.load().users
        var file = try PasswordFile.load(users)
        if remove {
            guard file.remove(name) else { throw Failure("\(users): no user \(name)") }
            try file.save(to: users)
            print("removed \(name) from \(users)")
            return
        }
        let password: String
        if passwordStdin || isatty(STDIN_FILENO) == 0 {
            guard let line = readLine(strippingNewline: true) else { throw Failure("no password on standard input") }
            password = line
        } else {
            let first = try readSecret(prompt: "New password for \(name): ")
            let second = try readSecret(prompt: "Again: ")
            guard first == second else { throw Failure("the two passwords differ; nothing changed") }
            password = first
        }
        try file.setPassword(password, for: name)
        try file.save(to: users)
        print("set the password of \(name) in \(users)")
    }
}

/// Reads a line from the terminal without echoing it.
func readSecret(prompt: String) throws -> String {
    print(prompt, terminator: "")
    fflush(nil)
    var saved = termios()
    guard tcgetattr(STDIN_FILENO, &saved) == 0 else { throw SystemError("tcgetattr", path: "standard input") }
    var quiet = saved
    quiet.c_lflag &= ~tcflag_t(ECHO)
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
    defer {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
        print()
    }
    guard let line = readLine(strippingNewline: true) else { throw Failure("no password given") }
    return line
}

/// Runs async work from the synchronous command line and waits for it (the main thread is not one of the
/// concurrency pool's threads, so blocking it starves nothing).
func blockOn(_ body: @escaping @Sendable () async throws -> Void) throws {
    let outcome = Mutex<(any Error)?>(nil)
    let finished = DispatchSemaphore(value: 0)
    Task {
        do { try await body() } catch { outcome.withLock { $0 = error } }
        finished.signal()
    }
    finished.wait()
    if let error = outcome.withLock({ $0 }) { throw error }
}
