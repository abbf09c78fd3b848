import ArgumentParser
import Logging
import Support

/// DogDoor's version, as `--version` prints it.
public let dogDoorVersion = "0.9.0"

/// A DogDoor program's root command: every failure is reported the same way, as one line
/// `<program>: <what went wrong>` on standard error and exit status 1 (usage errors add the usage, status 64).
/// Commands throw; they never print an error and exit themselves.
public protocol DogDoorProgram: ParsableCommand {}

extension DogDoorProgram {
    public static func main() {
        let program = configuration.commandName ?? "dogdoor"
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is ExitCode { exit(withError: error) }
            var message = fullMessage(for: error)
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            printError("\(program): \(message)")
            exit(withError: ExitCode(code.rawValue == 0 ? 1 : code.rawValue))
        }
    }
}

// Enumerated options are typed: the parser lists the accepted names in help and refuses others itself.
// (Constrained to string raw values to be more specific than the parser's raw-value default, which would
// otherwise apply too: the name a user types need not be the raw value, as with pixel formats' fourccs.)
extension ExpressibleByArgument where Self: NamedChoice & RawRepresentable, RawValue == String {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { names }
    public var defaultValueDescription: String { name }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

private nonisolated(unsafe) var loggingBootstrapped = false

/// Installs the line log handler once per process.
public func bootstrapLoggingOnce(level: Logger.Level) {
    guard !loggingBootstrapped else { return }
    loggingBootstrapped = true
    bootstrapLogging(level: level)
}
