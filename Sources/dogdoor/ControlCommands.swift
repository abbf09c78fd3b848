import ArgumentParser
import CommandSupport
import Control
import DoorConfiguration
import Support

/// Where the daemon's control socket is: --socket, else the configuration's [control] socket.
struct SocketOption: ParsableArguments {
    @Option(
        help:
            "The daemon's control socket (default: [control] socket of /etc/dogdoor/dogdoord.toml, else /run/dogdoor/control.sock)."
    )
    var socket: String?

    @Flag(help: "Print the daemon's answer as JSON.")
    var json = false

    var path: String {
        if let socket { return socket }
        if let configuration = try? DaemonConfiguration.load(path: DaemonConfiguration.defaultPath) {
            return configuration.control.socket
        }
        return DaemonConfiguration.defaults.control.socket
    }

    /// Sends `command` and prints the answer; exit status 1 if the daemon refused or could not be reached.
    func send(_ command: ControlCommand) throws {
        let response: ControlResponse
        response = try ControlClient.send(command, to: path, timeout: .seconds(15))
        if json {
            print(response.line)
        } else if let status = response.status {
            print(StatusText.render(status))
        }
        if !response.ok {
            throw Failure("the daemon refused: \(response.error ?? "no reason given")")
        }
    }
}

enum StatusText {
    static func render(_ s: DaemonStatus) -> String {
        var lines: [String] = []
        var mode = s.mode.rawValue
        if let remaining = s.unlockRemainingSeconds { mode += " (\(Int(remaining.rounded())) s left)" }
        lines.append("mode:       \(mode)")
        lines.append("door:       \(s.latch.rawValue)")
        lines.append("camera:     \(s.camera.rawValue)")
        lines.append(
            "frames:     \(fixed(s.framesPerSecond, 1)) per second, inference \(fixed(s.inferenceMilliseconds, 0)) ms")
        if let f = s.frames {
            lines.append(
                "            \(f.seen) seen, \(f.evaluated) evaluated, \(f.still) still (no motion), \(f.corrupt) corrupt, \(f.dropped) dropped (newer frame arrived first)"
            )
        }
        if let curfew = s.curfew { lines.append("curfew:     \(curfew) (in force)") }
        if let d = s.lastDecision {
            lines.append("last:       \(d.kind) at \(d.time): \(d.rule)")
            if !d.scores.isEmpty {
                lines.append("            scores \(d.scores.map { fixed($0, 2) }.joined(separator: " "))")
            }
        }
        if let m = s.model {
            lines.append("model:      \(m.path) (sha256 \(m.sha256.prefix(16))..., threshold \(m.threshold))")
        }
        return lines.joined(separator: "\n")
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the door daemon's state.")
    @OptionGroup var socket: SocketOption
    func run() throws { try socket.send(.status) }
}

struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Lock the door and keep it locked until `dogdoor auto`.")
    @OptionGroup var socket: SocketOption
    func run() throws { try socket.send(.lock) }
}

struct AutoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auto", abstract: "Let the camera decide again (ends lock or a manual unlock).")
    @OptionGroup var socket: SocketOption
    func run() throws { try socket.send(.auto) }
}

struct UnlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock", abstract: "Unlock the door for a while, then return to the previous mode.",
        discussion: "The latch's max_unlocked limit still applies.")

    @Option(name: .customLong("for"), help: "How long, e.g. 60s, 10m, 1h (at most 24h).")
    var duration: String

    @OptionGroup var socket: SocketOption

    func run() throws {
        guard let seconds = parseDurationSeconds(duration), seconds >= 1,
            seconds <= Double(ControlCommand.maximumUnlockSeconds)
        else {
            throw ValidationError("--for \(duration): expected a duration between 1s and 24h, e.g. 90s, 10m or 1h")
        }
        try socket.send(.unlock(seconds: Int(seconds.rounded())))
    }
}

/// Seconds in "90", "90s", "10m", "1h", "1m30s", "250ms" (nil when malformed).
func parseDurationSeconds(_ text: String) -> Double? {
    if let plain = Double(text) { return plain }
    var total = 0.0
    var number = ""
    var rest = Substring(text)
    while !rest.isEmpty {
        let c = rest.first!
        if c.isNumber || c == "." {
            number.append(c)
            rest = rest.dropFirst()
            continue
        }
        guard let value = Double(number) else { return nil }
        let unit: Double
        if rest.hasPrefix("ms") {
            unit = 0.001; rest = rest.dropFirst(2)
        } else if rest.hasPrefix("s") {
            unit = 1; rest = rest.dropFirst()
        } else if rest.hasPrefix("m") {
            unit = 60; rest = rest.dropFirst()
        } else if rest.hasPrefix("h") {
            unit = 3600; rest = rest.dropFirst()
        } else {
            return nil
        }
        total += value * unit
        number = ""
    }
    return number.isEmpty ? total : nil
}
