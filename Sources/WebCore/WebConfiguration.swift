import DoorConfiguration
import Support

/// `web.toml`: how dogdoor-web listens, where its users and the labelled photos live, and the MQTT bridge.
/// The daemon's control socket and events directory come from dogdoord's own configuration file unless set
/// here. Unknown sections and keys are errors naming the file and line, as in dogdoord.toml.
public struct WebConfiguration: Sendable, Equatable {
    public static let defaultPath = "/etc/dogdoor/web.toml"

    public var host = "127.0.0.1"
    public var port = 8080
    public var users = "/etc/dogdoor/web-users"
    /// dogdoord's configuration, read for `control.socket` and `events.directory`.
    public var daemonConfig = DaemonConfiguration.defaultPath
    /// Overrides of what `daemonConfig` says.
    public var controlSocket: String?
    public var eventsDirectory: String?
    /// Where labelled snapshots go, in the trainer's layout (`train|valid/<class>/`).
    public var dataset = "/var/lib/dogdoor-web/dataset"
    public var positiveClass = "bo"
    public var negativeClass = "not_bo"
    /// Share of labelled photos put in `valid/` (chosen by a hash of the file name, so it never changes).
    public var validFraction = 0.2
    public var mqtt = MQTTSettings()

    public init() {}

    /// Reads `path` and applies `overrides` (`section.key=value`, as from `--set`).
    public static func load(path: String?, overrides: [String]) throws -> WebConfiguration {
        let text = try path.map { String(decoding: try readFile($0, limit: 1 << 20), as: UTF8.self) }
        return try parse(text, file: path ?? "defaults", overrides: overrides)
    }

    /// Parses web.toml's text (nil: the defaults) and applies `overrides`; errors name `file` and the line.
    public static func parse(_ text: String?, file: String, overrides: [String] = []) throws -> WebConfiguration {
        var configuration = WebConfiguration()
        if let text {
            let document = try TOML.parse(text, file: file)
            for table in document.tables {
                for entry in table.entries {
                    try configuration.set("\(table.name).\(entry.key)", entry.value, at: "\(file):\(entry.line)")
                }
            }
        }
        for override in overrides {
            let parts = override.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw Failure("--set \(override): expected section.key=value") }
            try configuration.set(parts[0], Self.guessValue(parts[1]), at: "--set \(parts[0])")
        }
        try configuration.validate()
        return configuration
    }

    /// A command-line value as TOML would read it: a whole number, true/false, or else a string.
    static func guessValue(_ text: String) -> TOMLValue {
        if let integer = Int64(text) { return .integer(integer) }
        if let number = Double(text), text.contains(".") { return .float(number) }
        if text == "true" || text == "false" { return .boolean(text == "true") }
        return .string(text)
    }

    mutating func set(_ key: String, _ value: TOMLValue, at location: String) throws {
        func string() throws -> String {
            guard case .string(let text) = value, !text.isEmpty else {
                throw Failure("\(location): \(key) must be a non-empty string, not \(value.typeName)")
            }
            return text
        }
        func integer(_ range: ClosedRange<Int>) throws -> Int {
            guard case .integer(let number) = value, range.contains(Int(number)) else {
                throw Failure(
                    "\(location): \(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return Int(number)
        }
        func bool() throws -> Bool {
            guard case .boolean(let flag) = value else { throw Failure("\(location): \(key) must be true or false") }
            return flag
        }
        switch key {
        case "web.listen":
            let text = try string()
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                (0...65_535).contains(port), colon != text.startIndex
            else { throw Failure("\(location): web.listen must be HOST:PORT, e.g. \"127.0.0.1:8080\"") }
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            (self.host, self.port) = (host, port)
        case "web.users": users = try string()
        case "web.daemon_config": daemonConfig = try string()
        case "web.control_socket": controlSocket = try string()
        case "web.events_directory": eventsDirectory = try string()
        case "web.dataset": dataset = try string()
        case "web.positive_class": positiveClass = try string()
        case "web.negative_class": negativeClass = try string()
        case "web.valid_fraction":
            let number: Double
            switch value {
            case .float(let x): number = x
            case .integer(let n): number = Double(n)
            default: throw Failure("\(location): web.valid_fraction must be a number from 0 to 0.5")
            }
            guard (0...0.5).contains(number) else {
                throw Failure("\(location): web.valid_fraction must be a number from 0 to 0.5")
            }
            validFraction = number
        case "mqtt.enabled": mqtt.enabled = try bool()
        case "mqtt.host": mqtt.host = try string()
        case "mqtt.port": mqtt.port = try integer(1...65_535)
        case "mqtt.client_id": mqtt.clientID = try string()
        case "mqtt.username": mqtt.username = try string()
        case "mqtt.password_file": mqtt.passwordFile = try string()
        case "mqtt.ca_file": mqtt.caFile = try string()
        case "mqtt.discovery_prefix": mqtt.discoveryPrefix = try string()
        case "mqtt.topic_prefix": mqtt.topicPrefix = try string()
        case "mqtt.node_id": mqtt.nodeID = try string()
        case "mqtt.unlock_minutes": mqtt.unlockMinutes = try integer(1...1_440)
        case "mqtt.open_seconds": mqtt.openSeconds = try integer(1...600)
        case "mqtt.keep_alive": mqtt.keepAlive = try integer(5...3_600)
        default:
            throw Failure("\(location): unknown key \(key)")
        }
    }

    func validate() throws {
        for name in [positiveClass, negativeClass] where !DatasetLabel.isValidClassName(name) {
            throw Failure("class name \"\(name)\" must be letters, digits, - or _")
        }
        guard positiveClass != negativeClass else { throw Failure("the two class names must differ") }
        guard
            mqtt.nodeID.utf8.allSatisfy({
                $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
            })
        else { throw Failure("mqtt.node_id must be letters, digits, - or _") }
    }

    /// The control socket and events directory: set here, else from dogdoord's configuration (its defaults
    /// when that file does not exist).
    public func daemonPaths() throws -> (controlSocket: String, eventsDirectory: String) {
        var daemon = DaemonConfiguration.defaults
        if controlSocket == nil || eventsDirectory == nil, fileExistsAt(daemonConfig) {
            daemon = try DaemonConfiguration.load(path: daemonConfig)
        }
        return (controlSocket ?? daemon.control.socket, eventsDirectory ?? daemon.events.directory)
    }
}
