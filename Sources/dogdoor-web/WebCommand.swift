import ArgumentParser
import CommandSupport
import Dispatch
import DoorConfiguration
import Hummingbird
import Logging
import Support
import Synchronization
import WebApp

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

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the web app (the default).",
        discussion: """
            Reads control.socket and events.directory from the daemon's configuration file; talks to dogdoord \
            over its control socket only (it has no access to the latch). Listens on 127.0.0.1:8080 unless told \
            otherwise: put a reverse proxy with TLS in front to reach it from a phone on the home network.
            """)

    @Option(name: .long, help: "dogdoord's configuration file (default: /etc/dogdoor/dogdoord.toml if it exists).")
    var config: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override a configuration key, e.g. control.socket=PATH (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(name: .long, help: "Address and port to listen on.")
    var listen = "127.0.0.1:8080"

    @Option(name: .long, help: "The users file (`dogdoor web passwd NAME` writes it).")
    var users = "/etc/dogdoor/web-users"

    @Option(name: .customLong("log-level"), help: "How much to log.")
    var logLevel: Logger.Level = .info

    func run() throws {
        bootstrapLoggingOnce(level: logLevel)
        let logger = Logger(label: "dogdoor-web")
        let path = config ?? (fileExistsAt(DaemonConfiguration.defaultPath) ? DaemonConfiguration.defaultPath : nil)
        var configuration = try path.map { try DaemonConfiguration.load(path: $0) } ?? .defaults
        for o in overrides {
            let parts = o.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--set \(o): expected key=value") }
            try configuration.apply(override: parts[0], value: parts[1])
        }
        var settings = WebSettings()
        (settings.host, settings.port) = try parseListen(listen)
        settings.passwordFile = users
        settings.eventsDirectory = configuration.events.directory
        if try PasswordFile.load(users).users.isEmpty {
            logger.warning(
                "no users yet: nobody can log in", metadata: ["fix": "dogdoor web passwd NAME --users \(users)"])
        }
        let app = WebApp(
            settings: settings, door: SocketDoorLink(socket: configuration.control.socket), logger: logger)
        let host = settings.host
        try blockOn {
            try await app.application { port in
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

    @Option(name: .long, help: "The users file.")
    var users = "/etc/dogdoor/web-users"

    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input.")
    var passwordStdin = false

    @Flag(name: .long, help: "Remove the user instead.")
    var remove = false

    func run() throws {
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

/// `HOST:PORT` (IPv6 in brackets: `[::1]:8080`).
func parseListen(_ text: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
        (0...65_535).contains(port)
    else { throw ValidationError("--listen \(text): expected HOST:PORT, e.g. 127.0.0.1:8080") }
    var host = String(text[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else { throw ValidationError("--listen \(text): the host is missing") }
    return (host, port)
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
