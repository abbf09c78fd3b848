import Camera
import DecisionCore
import LatchLink
import Support

/// A request on the control socket: one JSON object per line, e.g. `{"command":"unlock","seconds":300}`.
public enum ControlCommand: Hashable, Sendable {
    /// Report the daemon's state.
    case status
    /// Lock now and stay locked.
    case lock
    /// Return to automatic operation.
    case auto
    /// Unlock for this many seconds (1 to 86400), then return to the previous mode.
    case unlock(seconds: Int)

    /// Longest unlock a request may ask for; the daemon may shorten it further (`latch.max_unlocked`).
    public static let maximumUnlockSeconds = 86_400

    /// The command's name on the wire.
    public var name: String {
        switch self {
        case .status: return "status"
        case .lock: return "lock"
        case .auto: return "auto"
        case .unlock: return "unlock"
        }
    }

    /// The request as a JSON object.
    public var json: JSONObject {
        switch self {
        case .status: return ["command": "status"]
        case .lock: return ["command": "lock"]
        case .auto: return ["command": "auto"]
        case .unlock(let seconds): return ["command": "unlock", "seconds": .number(Double(seconds))]
        }
    }

    /// Parses one request line (a `"by"` field is allowed and not kept: see `ControlMessage`).
    public init(parsing line: String) throws(ControlProtocolError) {
        self = try ControlMessage(parsing: line).command
    }
}

/// One request line: the command, and whom the client says it acts for (`"by": "web:owner"`, `"mqtt"`). The
/// daemon records `by` beside the sender's uid and pid, which the kernel vouches for; `by` is the client's word,
/// so that a command from the web app or Home Assistant names the person or bridge behind it.
public struct ControlMessage: Hashable, Sendable {
    public var command: ControlCommand
    public var origin: String?

    /// Longest `by`, in bytes.
    public static let maximumOriginBytes = 64

    public init(command: ControlCommand, origin: String? = nil) {
        self.command = command
        self.origin = origin
    }

    public var json: JSONObject {
        var object = command.json
        if let origin { object["by"] = .string(origin) }
        return object
    }

    /// Parses one request line. Unknown commands or fields, a missing or out-of-range `seconds`, and a `by` that
    /// is empty, too long or not printable ASCII are errors.
    public init(parsing line: String) throws(ControlProtocolError) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(line)
        } catch {
            throw ControlProtocolError("request is not valid JSON: \(error)")
        }
        guard let object = value.objectValue else { throw ControlProtocolError("request must be a JSON object") }
        guard let command = object["command"]?.stringValue else {
            throw ControlProtocolError("request needs a \"command\" string (status, lock, auto or unlock)")
        }
        let allowed: Set<String> = command == "unlock" ? ["command", "seconds", "by"] : ["command", "by"]
        if let extra = object.keys.first(where: { !allowed.contains($0) }) {
            throw ControlProtocolError("unexpected field \"\(extra)\" for command \"\(command)\"")
        }
        switch object["by"] {
        case nil: origin = nil
        case .string(let text)?
        where (1...Self.maximumOriginBytes).contains(text.utf8.count)
            && text.utf8.allSatisfy({ (0x20...0x7E).contains($0) }):
            origin = text
        default:
            throw ControlProtocolError(
                "\"by\" must be 1 to \(Self.maximumOriginBytes) printable ASCII characters (who the command is for)")
        }
        switch command {
        case "status": self.command = .status
        case "lock": self.command = .lock
        case "auto": self.command = .auto
        case "unlock":
            guard let seconds = object["seconds"]?.intValue else {
                throw ControlProtocolError("unlock needs \"seconds\": a whole number of seconds")
            }
            guard (1...ControlCommand.maximumUnlockSeconds).contains(seconds) else {
                throw ControlProtocolError(
                    "unlock \"seconds\" must be between 1 and \(ControlCommand.maximumUnlockSeconds), got \(seconds)")
            }
            self.command = .unlock(seconds: seconds)
        default:
            throw ControlProtocolError("unknown command \"\(command)\" (expected status, lock, auto or unlock)")
        }
    }
}

/// A malformed request or response on the control socket.
public struct ControlProtocolError: Error, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The daemon's state, as `dogdoor status` shows it.
public struct DaemonStatus: Equatable, Sendable, Codable {
    /// The latest decision, in brief.
    public struct Decision: Equatable, Sendable, Codable {
        /// Local time with offset (ISO 8601).
        public var time: String
        public var kind: String
        public var rule: String
        public var scores: [Double]

        public init(time: String, kind: String, rule: String, scores: [Double]) {
            self.time = time
            self.kind = kind
            self.rule = rule
            self.scores = scores
        }

        /// The summary of a decision record.
        public init(_ record: DecisionRecord) {
            self.init(
                time: record.time.wall.iso8601, kind: record.kind.rawValue, rule: record.rule,
                scores: record.scores)
        }
    }

    /// The model in use.
    public struct Model: Equatable, Sendable, Codable {
        public var path: String
        public var sha256: String
        public var threshold: Double

        public init(path: String, sha256: String, threshold: Double) {
            self.path = path
            self.sha256 = sha256
            self.threshold = threshold
        }
    }

    /// Frame counters since the daemon started.
    public struct Frames: Equatable, Sendable, Codable {
        /// Delivered by the camera and taken by the main loop.
        public var seen: UInt64
        /// Run through the model.
        public var evaluated: UInt64
        /// Could not be decoded and were skipped.
        public var corrupt: UInt64
        /// Replaced by a newer frame before the main loop got to them (inference slower than the camera).
        public var dropped: UInt64
        /// Skipped by the motion gate (nothing moving).
        public var still: UInt64

        public init(seen: UInt64, evaluated: UInt64, corrupt: UInt64, dropped: UInt64, still: UInt64 = 0) {
            self.seen = seen
            self.evaluated = evaluated
            self.corrupt = corrupt
            self.dropped = dropped
            self.still = still
        }

        private enum CodingKeys: String, CodingKey { case seen, evaluated, corrupt, dropped, still }

        /// `still` is absent from the answers of daemons that had no motion gate: zero then.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(
                seen: try c.decode(UInt64.self, forKey: .seen),
                evaluated: try c.decode(UInt64.self, forKey: .evaluated),
                corrupt: try c.decode(UInt64.self, forKey: .corrupt),
                dropped: try c.decode(UInt64.self, forKey: .dropped),
                still: try c.decodeIfPresent(UInt64.self, forKey: .still) ?? 0)
        }
    }

    public var mode: DoorMode.Kind
    /// Seconds left of a manual unlock.
    public var unlockRemainingSeconds: Double?
    public var latch: LatchStatus
    /// The frame source's state.
    public var camera: CameraState
    /// Frames evaluated per second, recently.
    public var framesPerSecond: Double
    /// Mean inference time per frame, recently, in milliseconds.
    public var inferenceMilliseconds: Double
    /// The curfew window in force, e.g. `22:00-06:00`.
    public var curfew: String?
    public var lastDecision: Decision?
    public var model: Model?
    public var frames: Frames?
    /// Decisions, camera reconnects, model load time, memory and the inference-time histogram.
    public var counters: DaemonCounters?

    public init(
        mode: DoorMode.Kind, unlockRemainingSeconds: Double? = nil, latch: LatchStatus, camera: CameraState,
        framesPerSecond: Double, inferenceMilliseconds: Double, curfew: String? = nil,
        lastDecision: Decision? = nil, model: Model? = nil, frames: Frames? = nil, counters: DaemonCounters? = nil
    ) {
        self.frames = frames
        self.counters = counters
        self.mode = mode
        self.unlockRemainingSeconds = unlockRemainingSeconds
        self.latch = latch
        self.camera = camera
        self.framesPerSecond = framesPerSecond
        self.inferenceMilliseconds = inferenceMilliseconds
        self.curfew = curfew
        self.lastDecision = lastDecision
        self.model = model
    }

    enum CodingKeys: String, CodingKey {
        case mode, unlockRemainingSeconds = "unlock_remaining_s", latch, camera, framesPerSecond = "fps"
        case inferenceMilliseconds = "inference_ms", curfew, lastDecision = "last_decision", model, frames
        case counters
    }
}

/// The answer to a request: `{"ok":true, <status fields>}` or `{"ok":false,"error":"...", <status fields>}`.
public struct ControlResponse: Equatable, Sendable {
    public var ok: Bool
    /// Why the request failed, when `ok` is false.
    public var error: String?
    /// The daemon's state after the request (absent when the request could not even be read).
    public var status: DaemonStatus?

    public init(ok: Bool, error: String? = nil, status: DaemonStatus? = nil) {
        self.ok = ok
        self.error = error
        self.status = status
    }

    /// A success carrying the status.
    public static func success(_ status: DaemonStatus) -> ControlResponse { ControlResponse(ok: true, status: status) }

    /// A failure with a reason.
    public static func failure(_ message: String, status: DaemonStatus? = nil) -> ControlResponse {
        ControlResponse(ok: false, error: message, status: status)
    }

    /// The response as one JSON line (without the newline): `ok`, `error`, then the status fields.
    public var line: String {
        var object: JSONObject = ["ok": .bool(ok)]
        if let error { object["error"] = .string(error) }
        // DaemonStatus holds only numbers, strings and enums: encoding does not fail (if it ever did, the
        // answer would go without the status rather than not at all).
        if let status, case .object(let fields)? = try? JSONValueEncoder().encode(status) {
            for (key, value) in fields.members { object[key] = value }
        }
        return JSONValue.object(object).serialized()
    }

    /// Parses a response line.
    public init(parsing line: String) throws(ControlProtocolError) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(line)
        } catch {
            throw ControlProtocolError("response is not valid JSON: \(error)")
        }
        guard let object = value.objectValue, let ok = object["ok"]?.boolValue else {
            throw ControlProtocolError("response must be a JSON object with a boolean \"ok\"")
        }
        self.ok = ok
        self.error = object["error"]?.stringValue
        do {
            self.status = object["mode"] == nil ? nil : try JSONValueDecoder().decode(DaemonStatus.self, from: value)
        } catch {
            throw ControlProtocolError("status \(error)")
        }
    }
}
