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

    /// Parses one request line. Unknown commands or fields, and a missing or out-of-range `seconds`, are
    /// errors.
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
        let allowed: Set<String> = command == "unlock" ? ["command", "seconds"] : ["command"]
        if let extra = object.keys.first(where: { !allowed.contains($0) }) {
            throw ControlProtocolError("unexpected field \"\(extra)\" for command \"\(command)\"")
        }
        switch command {
        case "status": self = .status
        case "lock": self = .lock
        case "auto": self = .auto
        case "unlock":
            guard let seconds = object["seconds"]?.intValue else {
                throw ControlProtocolError("unlock needs \"seconds\": a whole number of seconds")
            }
            guard (1...Self.maximumUnlockSeconds).contains(seconds) else {
                throw ControlProtocolError("unlock \"seconds\" must be between 1 and \(Self.maximumUnlockSeconds), got \(seconds)")
            }
            self = .unlock(seconds: seconds)
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
public struct DaemonStatus: Equatable, Sendable {
    /// The latest decision, in brief.
    public struct Decision: Equatable, Sendable {
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
            self.init(time: record.time.wall.iso8601, kind: record.kind.rawValue, rule: record.rule,
                      scores: record.scores)
        }
    }

    /// The model in use.
    public struct Model: Equatable, Sendable {
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
    public struct Frames: Equatable, Sendable {
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

    public init(mode: DoorMode.Kind, unlockRemainingSeconds: Double? = nil, latch: LatchStatus, camera: CameraState,
                framesPerSecond: Double, inferenceMilliseconds: Double, curfew: String? = nil,
                lastDecision: Decision? = nil, model: Model? = nil, frames: Frames? = nil) {
        self.frames = frames
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

    /// The status fields as JSON members (absent optionals are omitted).
    public var jsonMembers: [(key: String, value: JSONValue)] {
        var object = JSONObject()
        object["mode"] = .string(mode.rawValue)
        if let unlockRemainingSeconds { object["unlock_remaining_s"] = .number(unlockRemainingSeconds) }
        object["latch"] = .string(latch.rawValue)
        object["camera"] = .string(camera.rawValue)
        object["fps"] = .number(framesPerSecond)
        object["inference_ms"] = .number(inferenceMilliseconds)
        if let curfew { object["curfew"] = .string(curfew) }
        if let lastDecision {
            object["last_decision"] = .object([
                "time": .string(lastDecision.time), "kind": .string(lastDecision.kind),
                "rule": .string(lastDecision.rule), "scores": .array(lastDecision.scores.map { .number($0) }),
            ])
        }
        if let model {
            object["model"] = .object([
                "path": .string(model.path), "sha256": .string(model.sha256), "threshold": .number(model.threshold),
            ])
        }
        if let frames {
            object["frames"] = .object([
                "seen": .number(Double(frames.seen)), "evaluated": .number(Double(frames.evaluated)),
                "corrupt": .number(Double(frames.corrupt)), "dropped": .number(Double(frames.dropped)),
                "still": .number(Double(frames.still)),
            ])
        }
        return object.members
    }

    /// Reads the status fields from a response object.
    public init(json object: JSONObject) throws(ControlProtocolError) {
        func string(_ key: String, in object: JSONObject) throws(ControlProtocolError) -> String {
            guard let value = object[key]?.stringValue else { throw ControlProtocolError("status field \"\(key)\" missing or not a string") }
            return value
        }
        func number(_ key: String, in object: JSONObject) throws(ControlProtocolError) -> Double {
            guard let value = object[key]?.doubleValue else { throw ControlProtocolError("status field \"\(key)\" missing or not a number") }
            return value
        }
        func choice<T: RawRepresentable & CaseIterable>(_ key: String, _: T.Type) throws(ControlProtocolError) -> T
        where T.RawValue == String {
            let text = try string(key, in: object)
            guard let value = T(rawValue: text) else {
                throw ControlProtocolError("status field \"\(key)\" is \"\(text)\", not one of "
                                           + T.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return value
        }
        mode = try choice("mode", DoorMode.Kind.self)
        unlockRemainingSeconds = object["unlock_remaining_s"]?.doubleValue
        latch = try choice("latch", LatchStatus.self)
        camera = try choice("camera", CameraState.self)
        framesPerSecond = try number("fps", in: object)
        inferenceMilliseconds = try number("inference_ms", in: object)
        curfew = object["curfew"]?.stringValue
        if let decision = object["last_decision"] {
            guard let d = decision.objectValue, let scores = d["scores"]?.arrayValue else {
                throw ControlProtocolError("status field \"last_decision\" is malformed")
            }
            lastDecision = Decision(time: try string("time", in: d), kind: try string("kind", in: d),
                                    rule: try string("rule", in: d), scores: scores.compactMap(\.doubleValue))
        } else {
            lastDecision = nil
        }
        if let modelValue = object["model"] {
            guard let m = modelValue.objectValue else { throw ControlProtocolError("status field \"model\" is malformed") }
            model = Model(path: try string("path", in: m), sha256: try string("sha256", in: m),
                          threshold: try number("threshold", in: m))
        } else {
            model = nil
        }
        if let framesValue = object["frames"] {
            guard let f = framesValue.objectValue else { throw ControlProtocolError("status field \"frames\" is malformed") }
            func count(_ key: String) throws(ControlProtocolError) -> UInt64 {
                guard let n = f[key]?.intValue, n >= 0 else { throw ControlProtocolError("status field \"frames.\(key)\" missing or not a count") }
                return UInt64(n)
            }
            frames = Frames(seen: try count("seen"), evaluated: try count("evaluated"), corrupt: try count("corrupt"),
                            dropped: try count("dropped"), still: f["still"]?.intValue.map { UInt64(max(0, $0)) } ?? 0)
        } else {
            frames = nil
        }
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

    /// The response as one JSON line (without the newline).
    public var line: String {
        var members: [(key: String, value: JSONValue)] = [("ok", .bool(ok))]
        if let error { members.append(("error", .string(error))) }
        if let status { members += status.jsonMembers }
        return JSONValue.object(JSONObject(members)).serialized()
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
        self.status = object["mode"] == nil ? nil : try DaemonStatus(json: object)
    }
}
