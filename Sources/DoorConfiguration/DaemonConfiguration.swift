import DecisionCore
import Imaging
import LatchLink
import NeuralNet
import Support

/// Where a configuration value came from.
public enum ConfigurationSource: Hashable, Sendable, CustomStringConvertible {
    case defaults
    case file(path: String, line: Int)
    case commandLine

    /// `defaults`, `<path>:<line>` or `command line`: the prefix of error messages.
    public var description: String {
        switch self {
        case .defaults: return "defaults"
        case .file(let path, let line): return "\(path):\(line)"
        case .commandLine: return "command line"
        }
    }
}

/// An invalid configuration: where (file and line, or command line), which key, and what is wrong, e.g.
/// `/etc/dogdoor/dogdoord.toml:12: decision.hold: must be between 1s and 5m, got 0s`.
public struct ConfigurationError: Error, Hashable, CustomStringConvertible {
    /// `<path>:<line>`, `<path>` (for errors about the whole file), `command line` or `defaults`.
    public var location: String
    /// `section.key`, when the error concerns one key.
    public var key: String?
    public var message: String

    public init(location: String, key: String?, message: String) {
        self.location = location
        self.key = key
        self.message = message
    }

    public var description: String {
        if let key { return "\(location): \(key): \(message)" }
        return "\(location): \(message)"
    }
}

/// Everything `dogdoord` reads from `/etc/dogdoor/dogdoord.toml`, validated.
///
/// Start from `defaults` (which run the daemon with a replay camera and a simulated latch), read a file
/// with `load(path:)` or `parse(_:file:)`, then apply command-line overrides with
/// `apply(override:value:)`. Every key is checked for type and range, unknown keys are errors, and errors
/// name the file, line and key. docs/configuration.md documents every key.
public struct DaemonConfiguration: Hashable, Sendable {
    /// `[model]`
    public struct Model: Hashable, Sendable {
        /// The model file (safetensors with manifest).
        public var path = "/etc/dogdoor/model.safetensors"
        /// Models (and `[decision] threshold` overrides) with a lower decision threshold are refused.
        public var minimumThreshold = 0.05
        /// When set, the SHA-256 of the whole model file must be this (lowercase hex).
        public var sha256: String?
        /// When set, a public key file (`dogdoor model keygen`): models must be signed by its key.
        public var publicKey: String?
    }

    /// Where frames come from.
    public enum CameraKind: String, Hashable, Sendable, CaseIterable, NamedChoice {
        /// Images from a folder (or a list of files), replayed at a fixed rate.
        case replay
        /// A Video4Linux2 camera.
        case v4l2
    }

    /// `[camera]`
    public struct Camera: Hashable, Sendable {
        public var kind: CameraKind = .replay
        /// Folder of images to replay (JPEG, PNG, WebP), in file-name order.
        public var replayFolder = "/usr/local/share/dogdoor/samples"
        /// When not empty, these files (relative to `replayFolder` unless absolute) in this order instead.
        public var replayFiles: [String] = []
        /// Frames per second delivered by the replay source.
        public var replayFPS = 5.0
        /// Start again from the first image after the last.
        public var replayLoop = true
        /// The V4L2 device.
        public var device = "/dev/video0"
        public var format: PixelFormat = .mjpeg
        public var width = 640
        public var height = 480
        /// Frames per second requested from the camera.
        public var fps = 15.0
    }

    /// Which latch implementation drives the door.
    public enum LatchKind: String, Hashable, Sendable, CaseIterable, NamedChoice {
        /// In memory only (logs actuations): for trying DogDoor without hardware.
        case simulated
        /// A GPIO line through the kernel's character device.
        case gpio
    }

    /// `[latch]`: read by the latch owner (`dogdoor-latch`), which alone holds the line, and by dogdoord for
    /// the owner's socket and the longest manual unlock.
    public struct LatchSettings: Hashable, Sendable {
        /// The latch owner's socket, which dogdoord connects to.
        public var socket = "/run/dogdoor-latch/latch.sock"
        /// The only user (besides root and the owner's own user) that may command the latch.
        public var clientUser = "dogdoor"
        /// While the door is unlocked, silence from dogdoord for this long makes the owner lock it.
        public var heartbeatTimeout: Duration = .seconds(3)
        public var kind: LatchKind = .simulated
        /// GPIO chip: path, name, label or number.
        public var chip = "gpiochip0"
        /// GPIO line: offset on the chip, or line name.
        public var line: GPIOLineSelector = .offset(17)
        /// The latch is energised by a low level.
        public var activeLow = false
        /// Minimum time between actuations (an unlock sooner than this after the last change waits).
        public var minGap: Duration = .milliseconds(500)
        /// Longest time the latch may stay unlocked (energised) in one go, whatever the mode.
        public var maxUnlocked: Duration = .seconds(30 * 60)
    }

    /// `[decision]`: see `DecisionParameters`.
    public struct Decision: Hashable, Sendable {
        public var n = 3
        public var m = 5
        public var window: Duration = .seconds(3)
        public var hold: Duration = .seconds(10)
        public var maxOpen: Duration = .seconds(60)
        public var cooldown: Duration = .seconds(5)
        /// nil: use the model's calibrated threshold.
        public var threshold: Double?
        /// nil: n - 1.
        public var nearMiss: Int?
    }

    /// `[events]`
    public struct Events: Hashable, Sendable {
        /// The state directory holding the event log and snapshots.
        public var directory = "/var/lib/dogdoor/events"
        /// Store a JPEG snapshot with unlocks, rejections and near misses.
        public var snapshots = true
        public var maxSnapshots = 1_000
        public var maxSnapshotBytes = 200 * 1_048_576
        /// The event log is rotated when it would grow past this.
        public var logMaxBytes = 10 * 1_048_576
        /// Rotated logs kept (events.jsonl.1 ... .N).
        public var logFiles = 5
        /// Frames scoring within this much below the threshold keep a snapshot ("uncertain" events), for
        /// labelling in the web app; 0 keeps none.
        public var uncertainBand = 0.1
        /// At most one uncertain snapshot per this interval.
        public var uncertainInterval: Duration = .seconds(30)
        /// How often the latest evaluated frame is written beside the control socket (`latest.jpg`, for the web
        /// app; on /run, a RAM disk, so an SD card is not worn); zero writes none.
        public var latestFrameInterval: Duration = .seconds(2)
    }

    /// `[control]`
    public struct Control: Hashable, Sendable {
        /// The control socket's path.
        public var socket = "/run/dogdoor/control.sock"
        /// Group given access to the socket; nil keeps the daemon's group.
        public var group: String?
        /// A second socket that answers `status` only (nil: none), for people who may watch but not steer.
        public var statusSocket: String?
        /// Group given access to the status socket.
        public var statusGroup: String?
    }

    /// `[motion]`: the motion gate in front of the network.
    public struct Motion: Hashable, Sendable {
        /// Evaluate only frames with motion (and shortly after); false evaluates every frame.
        public var enabled = true
        /// Fraction of the 32x24 thumbnail's pixels that must change for motion.
        public var sensitivity = 0.01
        /// Grey levels (0-255) a thumbnail pixel must change by to count as changed.
        public var pixelThreshold = 12
        /// Frames stay evaluated this long after the last motion.
        public var holdAfterMotion: Duration = .seconds(3)
        /// A still scene is still evaluated once per this interval; 0s never.
        public var idleInterval: Duration = .seconds(30)
    }

    /// `[compute]`
    public struct Compute: Hashable, Sendable {
        /// Inference threads; 0 means one per physical core.
        public var threads = 0
        /// Memory-frugal or fast inference (float arithmetic).
        public var plan = ExecutionPlan.Preset.frugal
        /// fp32, int8 (the model file's int8 form) or auto (int8 when the file has it and the CPU has int8
        /// dot products).
        public var precision = Precision.auto
        /// OpenBLAS kernel to force (OPENBLAS_CORETYPE); nil detects it.
        public var openblasCoretype: String?
    }

    public var model = Model()
    public var camera = Camera()
    public var latch = LatchSettings()
    public var decision = Decision()
    /// `[curfew] windows`: local times during which the door never unlocks on its own.
    public var curfew: [CurfewWindow] = []
    public var events = Events()
    public var control = Control()
    public var motion = Motion()
    public var compute = Compute()

    /// Where each key (`section.key`) was set; keys absent here have their default.
    public private(set) var sources: [String: ConfigurationSource] = [:]

    /// The built-in configuration used when no file is given.
    public static let defaults = DaemonConfiguration()

    /// The configuration file's usual location.
    public static let defaultPath = "/etc/dogdoor/dogdoord.toml"

    public init() {}

    /// Configurations are equal when their settings are; where the values came from does not matter.
    public static func == (lhs: DaemonConfiguration, rhs: DaemonConfiguration) -> Bool {
        lhs.model == rhs.model && lhs.camera == rhs.camera && lhs.latch == rhs.latch && lhs.decision == rhs.decision
            && lhs.curfew == rhs.curfew && lhs.events == rhs.events && lhs.control == rhs.control
            && lhs.motion == rhs.motion && lhs.compute == rhs.compute
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(model)
        hasher.combine(camera)
        hasher.combine(latch)
        hasher.combine(decision)
        hasher.combine(curfew)
        hasher.combine(events)
        hasher.combine(control)
        hasher.combine(motion)
        hasher.combine(compute)
    }

    /// Every key this configuration understands, as `section.key`, in documentation order.
    public static var keys: [String] { keySpecs.map(\.key) }

    /// Reads and validates the file at `path`.
    public static func load(path: String) throws(ConfigurationError) -> DaemonConfiguration {
        var problems: [ConfigurationError] = []
        let configuration = check(path: path, overrides: [], problems: &problems)
        if let first = problems.first { throw first }
        return configuration
    }

    /// Reads the file at `path` (nil: the defaults) and applies the overrides, collecting every problem instead
    /// of stopping at the first (`dogdoord --check-config`). Keys with problems keep their defaults in the
    /// result, so that what does not depend on them can be checked too.
    public static func check(
        path: String?, overrides: [(key: String, value: String)],
        problems: inout [ConfigurationError]
    ) -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        if let path {
            do {
                let bytes = try readFile(path, limit: 1 << 20)
                configuration = decode(try TOML.parse(bytes: bytes, file: path), file: path, problems: &problems)
            } catch let error as SystemError {
                problems.append(ConfigurationError(location: path, key: nil, message: "cannot read: \(error.reason)"))
            } catch let error as TOMLError {
                problems.append(
                    ConfigurationError(location: "\(error.file):\(error.line)", key: nil, message: error.message))
            } catch {
                problems.append(ConfigurationError(location: path, key: nil, message: "\(error)"))
            }
        }
        for (key, value) in overrides {
            do { try configuration.set(override: key, value: value) } catch { problems.append(error) }
        }
        // Relations between keys are checked once the keys themselves are right (else they would repeat them).
        if problems.isEmpty { problems += configuration.relationProblems() }
        return configuration
    }

    /// Parses and validates configuration text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> DaemonConfiguration {
        let document: TOMLDocument
        do {
            document = try TOML.parse(text, file: file)
        } catch {
            throw ConfigurationError(location: "\(error.file):\(error.line)", key: nil, message: error.message)
        }
        var problems: [ConfigurationError] = []
        let configuration = decode(document, file: file, problems: &problems)
        if problems.isEmpty { problems = configuration.relationProblems() }
        if let first = problems.first { throw first }
        return configuration
    }

    /// Sets every key of `document`, collecting the problems (a key with a problem keeps its default).
    static func decode(
        _ document: TOMLDocument, file: String, problems: inout [ConfigurationError]
    ) -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        for table in document.tables {
            if table.name.isEmpty {
                for entry in table.entries {
                    problems.append(
                        ConfigurationError(
                            location: "\(file):\(entry.line)", key: entry.key,
                            message: "keys must be inside a section such as [decision]"))
                }
                continue
            }
            guard Self.sections.contains(table.name) else {
                problems.append(
                    ConfigurationError(
                        location: "\(file):\(table.line)", key: nil,
                        message: "unknown section [\(table.name)] (known: "
                            + Self.sections.map { "[\($0)]" }.joined(separator: ", ") + ")"))
                continue
            }
            for entry in table.entries {
                do {
                    try configuration.set(
                        "\(table.name).\(entry.key)", entry.value, source: .file(path: file, line: entry.line))
                } catch {
                    problems.append(error)
                }
            }
        }
        return configuration
    }

    /// Applies a command-line override such as `decision.hold` = `5s`. `value` is read as a TOML value
    /// (`5`, `0.9`, `true`, `"text"`, `["22:00-06:00"]`); anything that is not one is taken as a plain
    /// string, and for list keys a plain string is split at commas. The whole configuration is validated
    /// again afterwards.
    public mutating func apply(override key: String, value: String) throws(ConfigurationError) {
        var updated = self
        try updated.set(override: key, value: value)
        try updated.validateRelations()
        self = updated
    }

    /// Sets one key from the command line, without checking its relations to other keys.
    mutating func set(override key: String, value: String) throws(ConfigurationError) {
        guard let spec = Self.keySpecs.first(where: { $0.key == key }) else {
            throw Self.unknownKey(key, location: ConfigurationSource.commandLine.description)
        }
        var parsed: TOMLValue
        if let document = try? TOML.parse("value = " + value, file: "command line"),
            let entry = document[table: ""]?["value"]
        {
            parsed = entry.value
        } else {
            parsed = .string(value)
        }
        if spec.isList, case .string(let text) = parsed {
            let items = text.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
            parsed = .array(items.map { .string($0) })
        }
        try set(key, parsed, source: .commandLine)
    }

    /// The decision parameters, with the model's calibrated threshold unless `[decision] threshold` is set.
    /// Either must be at least `[model] minimum_threshold`.
    public func decisionParameters(modelThreshold: Double) throws(ConfigurationError) -> DecisionParameters {
        if let threshold = decision.threshold, threshold < model.minimumThreshold {
            throw error("decision.threshold", "\(threshold) is below model.minimum_threshold \(model.minimumThreshold)")
        }
        let parameters = DecisionParameters(
            requiredPositives: decision.n, voteFrames: decision.m, window: decision.window,
            threshold: decision.threshold ?? modelThreshold, hold: decision.hold, maxOpen: decision.maxOpen,
            cooldown: decision.cooldown, nearMissPositives: decision.nearMiss, maxManualUnlock: latch.maxUnlocked)
        do {
            try parameters.validate()
        } catch {
            if error.key == "threshold" && decision.threshold == nil {
                throw ConfigurationError(location: "model", key: "threshold", message: error.message)
            }
            throw configurationError(for: error)
        }
        return parameters
    }

    // MARK: - Keys

    static let sections = ["model", "camera", "latch", "decision", "curfew", "events", "control", "motion", "compute"]

    struct KeySpec: Sendable {
        let key: String
        let isList: Bool
        /// Decodes the value into the configuration; throws `KeyError`.
        let apply: @Sendable (inout DaemonConfiguration, TOMLValue) throws -> Void

        init(
            _ key: String, list: Bool = false,
            _ apply: @escaping @Sendable (inout DaemonConfiguration, TOMLValue) throws -> Void
        ) {
            self.key = key
            self.isList = list
            self.apply = apply
        }
    }

    /// A problem with one value, before the location is known.
    struct KeyError: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    static let keySpecs: [KeySpec] = [
        KeySpec("model.path") { $0.model.path = try absolutePath($1) },
        KeySpec("model.minimum_threshold") { $0.model.minimumThreshold = try number($1, 0...0.99) },
        KeySpec("model.sha256") {
            let text = try string($1)
            guard text.isEmpty || (text.utf8.count == 64 && text.utf8.allSatisfy({ isHexDigit($0) })) else {
                throw KeyError(
                    "must be a SHA-256 digest (64 hex digits, as sha256sum prints it) or \"\", got \"\(text)\"")
            }
            $0.model.sha256 = text.isEmpty ? nil : text.lowercased()
        },
        KeySpec("model.public_key") {
            let text = try string($1)
            $0.model.publicKey = text.isEmpty ? nil : try absolutePath($1)
        },

        KeySpec("camera.kind") { $0.camera.kind = try choice($1, CameraKind.self) },
        KeySpec("camera.replay_folder") { $0.camera.replayFolder = try absolutePath($1) },
        KeySpec("camera.replay_files", list: true) { $0.camera.replayFiles = try stringList($1, nonEmpty: true) },
        KeySpec("camera.replay_fps") { $0.camera.replayFPS = try number($1, 0.1...60) },
        KeySpec("camera.replay_loop") { $0.camera.replayLoop = try boolean($1) },
        KeySpec("camera.device") { $0.camera.device = try absolutePath($1) },
        KeySpec("camera.format") { $0.camera.format = try choice($1, PixelFormat.self) },
        KeySpec("camera.width") {
            let width = try integer($1, 16...4_096)
            guard width % 2 == 0 else { throw KeyError("must be even, got \(width)") }
            $0.camera.width = width
        },
        KeySpec("camera.height") { $0.camera.height = try integer($1, 16...4_096) },
        KeySpec("camera.fps") { $0.camera.fps = try number($1, 1...120) },

        KeySpec("latch.socket") { $0.latch.socket = try socketPath($1) },
        KeySpec("latch.client_user") { $0.latch.clientUser = try accountName($1, what: "user") },
        KeySpec("latch.heartbeat_timeout") {
            $0.latch.heartbeatTimeout = try duration($1, Duration.milliseconds(500)...Duration.seconds(60))
        },
        KeySpec("latch.kind") { $0.latch.kind = try choice($1, LatchKind.self) },
        KeySpec("latch.chip") { $0.latch.chip = try nonEmptyString($1) },
        KeySpec("latch.line") {
            switch $1 {
            case .integer: $0.latch.line = .offset(UInt32(try integer($1, 0...65_535)))
            case .string: $0.latch.line = .name(try nonEmptyString($1))
            default: throw KeyError("must be a line offset (integer) or a line name (string), got \($1.typeName) \($1)")
            }
        },
        KeySpec("latch.active_low") { $0.latch.activeLow = try boolean($1) },
        KeySpec("latch.min_gap") { $0.latch.minGap = try duration($1, Duration.zero...Duration.seconds(10)) },
        KeySpec("latch.max_unlocked") {
            $0.latch.maxUnlocked = try duration($1, DecisionParameters.maxManualUnlockRange)
        },

        KeySpec("decision.n") { $0.decision.n = try integer($1, DecisionParameters.requiredPositivesRange) },
        KeySpec("decision.m") { $0.decision.m = try integer($1, 2...DecisionParameters.voteFramesMaximum) },
        KeySpec("decision.window") { $0.decision.window = try duration($1, DecisionParameters.windowRange) },
        KeySpec("decision.hold") { $0.decision.hold = try duration($1, DecisionParameters.holdRange) },
        KeySpec("decision.max_open") {
            $0.decision.maxOpen = try duration(
                $1, DecisionParameters.holdRange.lowerBound...DecisionParameters.maxOpenMaximum)
        },
        KeySpec("decision.cooldown") { $0.decision.cooldown = try duration($1, DecisionParameters.cooldownRange) },
        KeySpec("decision.threshold") {
            if case .string("model") = $1 {
                $0.decision.threshold = nil
                return
            }
            guard case .float(let value) = $1 else {
                throw KeyError("must be a number between 0 and 1 (exclusive) or \"model\", got \($1.typeName) \($1)")
            }
            guard value > 0, value < 1 else { throw KeyError("must be greater than 0 and less than 1, got \(value)") }
            $0.decision.threshold = value
        },
        KeySpec("decision.near_miss") {
            if case .string("auto") = $1 {
                $0.decision.nearMiss = nil
                return
            }
            guard case .integer = $1 else { throw KeyError("must be an integer or \"auto\", got \($1.typeName) \($1)") }
            $0.decision.nearMiss = try integer($1, 1...DecisionParameters.requiredPositivesRange.upperBound)
        },

        KeySpec("curfew.windows", list: true) {
            var windows: [CurfewWindow] = []
            for text in try stringList($1, nonEmpty: true) {
                do { windows.append(try CurfewWindow(parsing: text)) } catch { throw KeyError("\(error)") }
            }
            $0.curfew = windows
        },

        KeySpec("events.directory") { $0.events.directory = try absolutePath($1) },
        KeySpec("events.snapshots") { $0.events.snapshots = try boolean($1) },
        KeySpec("events.max_snapshots") { $0.events.maxSnapshots = try integer($1, 1...100_000) },
        KeySpec("events.max_snapshot_bytes") { $0.events.maxSnapshotBytes = try integer($1, 1_048_576...(100 << 30)) },
        KeySpec("events.log_max_bytes") { $0.events.logMaxBytes = try integer($1, 65_536...(1 << 30)) },
        KeySpec("events.log_files") { $0.events.logFiles = try integer($1, 1...100) },
        KeySpec("events.uncertain_band") { $0.events.uncertainBand = try number($1, 0...0.5) },
        KeySpec("events.uncertain_interval") {
            $0.events.uncertainInterval = try duration($1, .seconds(1)...(.seconds(3_600)))
        },
        KeySpec("events.latest_frame_interval") {
            $0.events.latestFrameInterval = try duration($1, .zero...(.seconds(3_600)))
        },

        KeySpec("control.socket") { $0.control.socket = try socketPath($1) },
        KeySpec("control.group") {
            let name = try accountName($1, what: "group", allowEmpty: true)
            $0.control.group = name.isEmpty ? nil : name
        },
        KeySpec("control.status_socket") {
            let path = try string($1)
            $0.control.statusSocket = path.isEmpty ? nil : try socketPath($1)
        },
        KeySpec("control.status_group") {
            let name = try accountName($1, what: "group", allowEmpty: true)
            $0.control.statusGroup = name.isEmpty ? nil : name
        },

        KeySpec("motion.enabled") { $0.motion.enabled = try boolean($1) },
        KeySpec("motion.sensitivity") { $0.motion.sensitivity = try number($1, 0.002...0.5) },
        KeySpec("motion.pixel_threshold") { $0.motion.pixelThreshold = try integer($1, 1...255) },
        KeySpec("motion.hold_after_motion") {
            $0.motion.holdAfterMotion = try duration($1, Duration.zero...Duration.seconds(60))
        },
        KeySpec("motion.idle_interval") {
            $0.motion.idleInterval = try duration($1, Duration.zero...Duration.seconds(3600))
        },

        KeySpec("compute.threads") { $0.compute.threads = try integer($1, 0...256) },
        KeySpec("compute.plan") { $0.compute.plan = try choice($1, ExecutionPlan.Preset.self) },
        KeySpec("compute.precision") { $0.compute.precision = try choice($1, Precision.self) },
        KeySpec("compute.openblas_coretype") {
            let name = try string($1)
            guard name.utf8.count <= 32, name.utf8.allSatisfy({ isAlphanumeric($0) }) else {
                throw KeyError(
                    "must be an OpenBLAS core name such as \"Haswell\" (letters and digits), got \"\(name)\"")
            }
            $0.compute.openblasCoretype = name.isEmpty ? nil : name
        },
    ]

    mutating func set(_ key: String, _ value: TOMLValue, source: ConfigurationSource) throws(ConfigurationError) {
        guard let spec = Self.keySpecs.first(where: { $0.key == key }) else {
            throw Self.unknownKey(key, location: source.description)
        }
        do {
            try spec.apply(&self, value)
        } catch let error as KeyError {
            throw ConfigurationError(location: source.description, key: key, message: error.message)
        } catch {
            throw ConfigurationError(location: source.description, key: key, message: "\(error)")
        }
        sources[key] = source
    }

    static func unknownKey(_ key: String, location: String) -> ConfigurationError {
        let section = key.split(separator: ".").first.map(String.init) ?? ""
        let known = keySpecs.map(\.key).filter { $0.hasPrefix(section + ".") }
        let hint =
            known.isEmpty
            ? "known sections: " + sections.map { "[\($0)]" }.joined(separator: ", ")
            : "known keys: " + known.map { String($0.dropFirst(section.count + 1)) }.joined(separator: ", ")
        return ConfigurationError(location: location, key: key, message: "unknown key (\(hint))")
    }

    /// Checks the relations between keys; errors point at the later-set key of the pair.
    func validateRelations() throws(ConfigurationError) {
        if let first = relationProblems().first { throw first }
    }

    /// Every broken relation between keys.
    func relationProblems() -> [ConfigurationError] {
        var problems: [ConfigurationError] = []
        let parameters = DecisionParameters(
            requiredPositives: decision.n, voteFrames: decision.m, window: decision.window,
            threshold: decision.threshold ?? 0.5, hold: decision.hold, maxOpen: decision.maxOpen,
            cooldown: decision.cooldown, nearMissPositives: decision.nearMiss, maxManualUnlock: latch.maxUnlocked)
        do {
            try parameters.validate()
        } catch {
            problems.append(configurationError(for: error))
        }
        if let threshold = decision.threshold, threshold < model.minimumThreshold {
            problems.append(
                error("decision.threshold", "\(threshold) is below model.minimum_threshold \(model.minimumThreshold)"))
        }
        if decision.maxOpen > latch.maxUnlocked {
            problems.append(
                error(
                    "decision.max_open",
                    "must not exceed latch.max_unlocked (\(DurationText.format(latch.maxUnlocked))), "
                        + "got \(DurationText.format(decision.maxOpen))"))
        }
        return problems
    }

    func configurationError(for error: DecisionParameterError) -> ConfigurationError {
        let key = error.key == "max_manual_unlock" ? "latch.max_unlocked" : "decision.\(error.key)"
        return self.error(key, error.message)
    }

    /// Keys whose value limits another key's range: when a relation fails on a key left at its default,
    /// the error points at the line of the key that was set.
    static let relatedKeys = [
        "decision.threshold": ["model.minimum_threshold"],
        "decision.m": ["decision.n"],
        "decision.max_open": ["decision.hold", "latch.max_unlocked"],
        "decision.near_miss": ["decision.n"],
    ]

    func error(_ key: String, _ message: String) -> ConfigurationError {
        if let source = sources[key] {
            return ConfigurationError(location: source.description, key: key, message: message)
        }
        if let related = Self.relatedKeys[key]?.first(where: { sources[$0] != nil }), let source = sources[related] {
            return ConfigurationError(
                location: source.description, key: key,
                message: message + " (the default; set \(key) as well)")
        }
        return ConfigurationError(location: ConfigurationSource.defaults.description, key: key, message: message)
    }
}

// MARK: - Value decoding

private func string(_ value: TOMLValue) throws(DaemonConfiguration.KeyError) -> String {
    guard case .string(let text) = value else {
        throw .init("must be a string, got \(value.typeName) \(value)")
    }
    return text
}

private func nonEmptyString(_ value: TOMLValue) throws(DaemonConfiguration.KeyError) -> String {
    let text = try string(value)
    guard !text.isEmpty else { throw .init("must not be empty") }
    return text
}

private func absolutePath(_ value: TOMLValue) throws(DaemonConfiguration.KeyError) -> String {
    let path = try string(value)
    guard path.hasPrefix("/") else { throw .init("must be an absolute path, got \"\(path)\"") }
    guard !path.utf8.contains(0) else { throw .init("must not contain NUL characters") }
    return path
}

private func socketPath(_ value: TOMLValue) throws(DaemonConfiguration.KeyError) -> String {
    let path = try absolutePath(value)
    guard path.utf8.count < 108 else { throw .init("must be shorter than 108 bytes (a Unix socket path limit)") }
    return path
}

private func accountName(
    _ value: TOMLValue, what: String, allowEmpty: Bool = false
) throws(DaemonConfiguration.KeyError) -> String {
    let name = try string(value)
    guard allowEmpty || !name.isEmpty else { throw .init("must not be empty") }
    guard name.utf8.count <= 32, name.utf8.allSatisfy({ isNameByte($0) }) else {
        throw .init("must be a \(what) name (letters, digits, '_', '-', '.'), got \"\(name)\"")
    }
    return name
}

private func boolean(_ value: TOMLValue) throws(DaemonConfiguration.KeyError) -> Bool {
    guard case .boolean(let flag) = value else { throw .init("must be true or false, got \(value.typeName) \(value)") }
    return flag
}

private func integer(_ value: TOMLValue, _ range: ClosedRange<Int>) throws(DaemonConfiguration.KeyError) -> Int {
    guard case .integer(let raw) = value else { throw .init("must be an integer, got \(value.typeName) \(value)") }
    guard raw >= Int64(range.lowerBound), raw <= Int64(range.upperBound) else {
        throw .init("must be between \(range.lowerBound) and \(range.upperBound), got \(raw)")
    }
    return Int(raw)
}

/// A float; integers are accepted too (`fps = 5`).
private func number(_ value: TOMLValue, _ range: ClosedRange<Double>) throws(DaemonConfiguration.KeyError) -> Double {
    let number: Double
    switch value {
    case .float(let f): number = f
    case .integer(let i): number = Double(i)
    default: throw .init("must be a number, got \(value.typeName) \(value)")
    }
    guard range.contains(number) else {
        throw .init(
            "must be between \(shortNumber(range.lowerBound)) and \(shortNumber(range.upperBound)), got \(shortNumber(number))"
        )
    }
    return number
}

private func shortNumber(_ value: Double) -> String {
    value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
}

private func duration(
    _ value: TOMLValue, _ range: ClosedRange<Duration>
) throws(DaemonConfiguration.KeyError) -> Duration {
    guard case .string(let text) = value else {
        throw .init("must be a duration string such as \"3s\", \"250ms\" or \"2m\", got \(value.typeName) \(value)")
    }
    guard let parsed = DurationText.parse(text) else {
        throw .init("\"\(text)\" is not a duration (use a number and a unit: ms, s, m or h, e.g. \"3s\")")
    }
    guard range.contains(parsed) else {
        throw .init(
            "must be between \(DurationText.format(range.lowerBound)) and \(DurationText.format(range.upperBound)), "
                + "got \(DurationText.format(parsed))")
    }
    return parsed
}

private func choice<T: NamedChoice>(_ value: TOMLValue, _ type: T.Type) throws(DaemonConfiguration.KeyError) -> T {
    let text = try string(value)
    guard let result = T(name: text) else {
        throw .init("must be one of " + T.names.map { "\"\($0)\"" }.joined(separator: ", ") + ", got \"\(text)\"")
    }
    return result
}

private func stringList(_ value: TOMLValue, nonEmpty: Bool) throws(DaemonConfiguration.KeyError) -> [String] {
    guard case .array(let items) = value else {
        throw .init("must be an array of strings, got \(value.typeName) \(value)")
    }
    var result: [String] = []
    for item in items {
        guard case .string(let text) = item else {
            throw .init("must be an array of strings, got an element of type \(item.typeName): \(item)")
        }
        if nonEmpty && text.isEmpty { throw .init("elements must not be empty strings") }
        result.append(text)
    }
    return result
}

private func isAlphanumeric(_ b: UInt8) -> Bool {
    (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
        || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
}

private func isHexDigit(_ b: UInt8) -> Bool {
    (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
        || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"))
}

private func isNameByte(_ b: UInt8) -> Bool {
    isAlphanumeric(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
}

extension Substring {
    func trimmingSpaces() -> String {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
