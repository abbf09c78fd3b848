import Control
import LatchLink
import Support

// The Home Assistant bridge's pure half: topics, discovery payloads, and the mappings between the daemon's
// state and the entities' states and commands. No I/O here; `HomeAssistantBridge` does that.

/// DogDoor's MQTT topics: its own under `<topic_prefix>/<node_id>/`, and the discovery configs under
/// `<discovery_prefix>/<component>/<node_id>/<object>/config`.
public struct HomeAssistantTopics: Sendable, Equatable {
    /// `online`/`offline`, retained; `offline` is also the will.
    public var availability: String
    /// LOCKED, UNLOCKED, JAMMED or None (unknown), retained.
    public var lockState: String
    /// LOCK, UNLOCK or OPEN from Home Assistant.
    public var lockCommand: String
    /// ON/OFF, retained.
    public var boAtDoor: String
    /// The last decision's highest score, 0 to 1, retained.
    public var probability: String
    /// The newest snapshot's JPEG bytes, retained.
    public var snapshot: String

    public var lockConfig: String
    public var boAtDoorConfig: String
    public var probabilityConfig: String
    public var snapshotConfig: String

    public init(settings: MQTTSettings) {
        let base = "\(settings.topicPrefix)/\(settings.nodeID)"
        availability = settings.availabilityTopic
        lockState = base + "/lock/state"
        lockCommand = base + "/lock/set"
        boAtDoor = base + "/bo_at_door/state"
        probability = base + "/last_probability/state"
        snapshot = base + "/last_snapshot/image"
        func config(_ component: String, _ object: String) -> String {
            "\(settings.discoveryPrefix)/\(component)/\(settings.nodeID)/\(object)/config"
        }
        lockConfig = config("lock", "door")
        boAtDoorConfig = config("binary_sensor", "bo_at_door")
        probabilityConfig = config("sensor", "last_probability")
        snapshotConfig = config("image", "last_snapshot")
    }
}

/// Home Assistant's MQTT discovery configs for DogDoor's four entities (one device): the door as a `lock`,
/// "Bo at the door" (`binary_sensor`), "Last probability" (`sensor`) and "Last snapshot" (`image`).
///
/// Field names as in Home Assistant's MQTT lock, binary sensor, sensor and image documentation. Entity ids are
/// suggested with `default_entity_id` (`lock.<node_id>_door`): Home Assistant 2025.10 deprecated `object_id`
/// for it, and 2026.4 stopped reading `object_id`.
public enum HomeAssistantDiscovery {
    /// Published, retained, on every (re)connection: topic and JSON payload, lock first.
    public static func configs(settings: MQTTSettings, softwareVersion: String?) -> [(topic: String, payload: String)] {
        let topics = HomeAssistantTopics(settings: settings)
        return [
            (topics.lockConfig, lock(settings: settings, softwareVersion: softwareVersion)),
            (topics.boAtDoorConfig, boAtDoor(settings: settings, softwareVersion: softwareVersion)),
            (topics.probabilityConfig, probability(settings: settings, softwareVersion: softwareVersion)),
            (topics.snapshotConfig, snapshot(settings: settings, softwareVersion: softwareVersion)),
        ]
    }

    /// The door: LOCK locks, UNLOCK unlocks for `unlock_minutes`, OPEN for `open_seconds`. Commands use QoS 1.
    public static func lock(settings: MQTTSettings, softwareVersion: String?) -> String {
        let topics = HomeAssistantTopics(settings: settings)
        let entity = Entity(settings, softwareVersion, name: "Door", component: "lock", object: "door")
        return json(
            LockConfig(
                entity: entity, commandTopic: topics.lockCommand, stateTopic: topics.lockState,
                payloadLock: HomeAssistantLockCommand.lock.rawValue,
                payloadUnlock: HomeAssistantLockCommand.unlock.rawValue,
                payloadOpen: HomeAssistantLockCommand.open.rawValue,
                stateLocked: HomeAssistantLockState.locked.rawValue,
                stateUnlocked: HomeAssistantLockState.unlocked.rawValue,
                stateJammed: HomeAssistantLockState.jammed.rawValue, qos: 1))
    }

    /// ON while the vote has the door open for Bo.
    public static func boAtDoor(settings: MQTTSettings, softwareVersion: String?) -> String {
        let topics = HomeAssistantTopics(settings: settings)
        let entity = Entity(
            settings, softwareVersion, name: "Bo at the door", component: "binary_sensor", object: "bo_at_door")
        return json(BinarySensorConfig(entity: entity, stateTopic: topics.boAtDoor))
    }

    /// The highest score of the daemon's last decision, 0 to 1.
    public static func probability(settings: MQTTSettings, softwareVersion: String?) -> String {
        let topics = HomeAssistantTopics(settings: settings)
        let entity = Entity(
            settings, softwareVersion, name: "Last probability", component: "sensor", object: "last_probability")
        return json(SensorConfig(entity: entity, stateTopic: topics.probability))
    }

    /// The newest snapshot, as JPEG bytes on the image topic.
    public static func snapshot(settings: MQTTSettings, softwareVersion: String?) -> String {
        let topics = HomeAssistantTopics(settings: settings)
        let entity = Entity(
            settings, softwareVersion, name: "Last snapshot", component: "image", object: "last_snapshot")
        return json(ImageConfig(entity: entity, imageTopic: topics.snapshot))
    }

    private static func json(_ config: some Encodable) -> String {
        // The configs hold only strings, numbers and nested structs: encoding cannot fail.
        try! JSONValueEncoder().encode(config).serialized()
    }
}

// MARK: - Discovery payloads

/// The one device all entities belong to.
private struct Device: Encodable {
    var identifiers: [String]
    var name = "DogDoor"
    var manufacturer = "DogDoor"
    var model = "Camera-controlled dog door"
    var swVersion: String?

    enum CodingKeys: String, CodingKey {
        case identifiers, name, manufacturer, model, swVersion = "sw_version"
    }
}

/// What publishes the configs (Home Assistant logs it beside discovered entities).
private struct Origin: Encodable {
    var name = "dogdoor-web"
    var swVersion: String?

    enum CodingKeys: String, CodingKey {
        case name, swVersion = "sw_version"
    }
}

/// The fields every entity shares.
private struct Entity {
    var name: String
    var uniqueID: String
    var defaultEntityID: String
    var availabilityTopic: String
    var device: Device
    var origin: Origin

    init(_ settings: MQTTSettings, _ version: String?, name: String, component: String, object: String) {
        self.name = name
        uniqueID = "\(settings.nodeID)_\(object)"
        defaultEntityID = "\(component).\(settings.nodeID)_\(object)"
        availabilityTopic = settings.availabilityTopic
        device = Device(identifiers: [settings.nodeID], swVersion: version)
        origin = Origin(swVersion: version)
    }

    /// Encodes the shared fields that come first (name, ids, availability).
    func encodeHead(to container: inout KeyedEncodingContainer<Keys>) throws {
        try container.encode(name, forKey: .name)
        try container.encode(uniqueID, forKey: .uniqueID)
        try container.encode(defaultEntityID, forKey: .defaultEntityID)
        try container.encode(availabilityTopic, forKey: .availabilityTopic)
    }

    /// Encodes the shared fields that come last (device, origin).
    func encodeTail(to container: inout KeyedEncodingContainer<Keys>) throws {
        try container.encode(device, forKey: .device)
        try container.encode(origin, forKey: .origin)
    }
}

/// The config fields' names.
private enum Keys: String, CodingKey {
    case name, uniqueID = "unique_id", defaultEntityID = "default_entity_id"
    case availabilityTopic = "availability_topic", device, origin
    case commandTopic = "command_topic", stateTopic = "state_topic", imageTopic = "image_topic"
    case payloadLock = "payload_lock", payloadUnlock = "payload_unlock", payloadOpen = "payload_open"
    case stateLocked = "state_locked", stateUnlocked = "state_unlocked", stateJammed = "state_jammed"
    case payloadOn = "payload_on", payloadOff = "payload_off"
    case deviceClass = "device_class", stateClass = "state_class", contentType = "content_type", qos
}

private struct LockConfig: Encodable {
    var entity: Entity
    var commandTopic, stateTopic: String
    var payloadLock, payloadUnlock, payloadOpen: String
    var stateLocked, stateUnlocked, stateJammed: String
    var qos: Int

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try entity.encodeHead(to: &c)
        try c.encode(commandTopic, forKey: .commandTopic)
        try c.encode(stateTopic, forKey: .stateTopic)
        try c.encode(payloadLock, forKey: .payloadLock)
        try c.encode(payloadUnlock, forKey: .payloadUnlock)
        try c.encode(payloadOpen, forKey: .payloadOpen)
        try c.encode(stateLocked, forKey: .stateLocked)
        try c.encode(stateUnlocked, forKey: .stateUnlocked)
        try c.encode(stateJammed, forKey: .stateJammed)
        try c.encode(qos, forKey: .qos)
        try entity.encodeTail(to: &c)
    }
}

private struct BinarySensorConfig: Encodable {
    var entity: Entity
    var stateTopic: String

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try entity.encodeHead(to: &c)
        try c.encode(stateTopic, forKey: .stateTopic)
        try c.encode("occupancy", forKey: .deviceClass)
        try c.encode("ON", forKey: .payloadOn)
        try c.encode("OFF", forKey: .payloadOff)
        try entity.encodeTail(to: &c)
    }
}

private struct SensorConfig: Encodable {
    var entity: Entity
    var stateTopic: String

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try entity.encodeHead(to: &c)
        try c.encode(stateTopic, forKey: .stateTopic)
        try c.encode("measurement", forKey: .stateClass)
        try entity.encodeTail(to: &c)
    }
}

private struct ImageConfig: Encodable {
    var entity: Entity
    var imageTopic: String

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try entity.encodeHead(to: &c)
        try c.encode(imageTopic, forKey: .imageTopic)
        try c.encode("image/jpeg", forKey: .contentType)
        try entity.encodeTail(to: &c)
    }
}

// MARK: - States and commands

/// The lock entity's state, as its state topic carries it.
public enum HomeAssistantLockState: String, Sendable, Equatable {
    case locked = "LOCKED"
    case unlocked = "UNLOCKED"
    /// The latch owner cannot be reached: the door is in a fault state (the owner keeps it locked meanwhile, but
    /// the daemon cannot tell). Home Assistant's MQTT lock shows `state_jammed` as Jammed, a problem state that
    /// automations can watch.
    case jammed = "JAMMED"
    /// The latch has not reported yet: Home Assistant's reset payload, which makes the state unknown.
    case unknown = "None"

    public init(latch: LatchStatus) {
        switch latch {
        case .locked: self = .locked
        case .unlocked: self = .unlocked
        case .unreachable: self = .jammed
        case .unknown: self = .unknown
        }
    }
}

/// A payload on the lock's command topic.
public enum HomeAssistantLockCommand: String, Sendable, Equatable {
    case lock = "LOCK"
    case unlock = "UNLOCK"
    case open = "OPEN"

    /// The payload's command, or nil for anything else (refused: the caller logs it). Payloads match exactly.
    public init?(payload: [UInt8]) {
        guard payload.count <= 16, let command = Self(rawValue: String(decoding: payload, as: UTF8.self)) else {
            return nil
        }
        self = command
    }

    /// What the daemon is asked: LOCK locks, UNLOCK unlocks for `unlock_minutes`, OPEN for `open_seconds` (both
    /// within the control protocol's 1 s to 24 h).
    public func controlCommand(settings: MQTTSettings) -> ControlCommand {
        let limits = 1...ControlCommand.maximumUnlockSeconds
        switch self {
        case .lock: return .lock
        case .unlock: return .unlock(seconds: (settings.unlockMinutes * 60).clamped(to: limits))
        case .open: return .unlock(seconds: settings.openSeconds.clamped(to: limits))
        }
    }
}

extension Comparable {
    fileprivate func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}

/// What the bridge shows Home Assistant, built from the daemon's status and its newest events. A nil field is not
/// known (the daemon did not answer, the events could not be read) and leaves the published value alone.
///
/// The bridge keeps the state it has published and sends only `updates(since:)`: state topics are retained, so
/// Home Assistant has the last value whenever it (re)subscribes.
public struct BridgeState: Sendable, Equatable {
    /// The daemon answers: DogDoor's availability (`online`/`offline`).
    public var available: Bool?
    public var lock: HomeAssistantLockState?
    public var boAtDoor: Bool?
    /// The last decision's highest score, rounded to 4 decimals.
    public var probability: Double?
    /// The newest snapshot's file name.
    public var snapshot: String?

    public init(
        available: Bool? = nil, lock: HomeAssistantLockState? = nil, boAtDoor: Bool? = nil,
        probability: Double? = nil, snapshot: String? = nil
    ) {
        self.available = available
        self.lock = lock
        self.boAtDoor = boAtDoor
        self.probability = probability
        self.snapshot = snapshot
    }

    /// The state from the daemon's answer (nil: it did not answer) and its newest events, newest first (nil:
    /// unreadable).
    public init(status: DaemonStatus?, events: [EventEntry]?) {
        available = status != nil
        lock = status.map { HomeAssistantLockState(latch: $0.latch) }
        probability = status?.lastDecision.flatMap(Self.probability(of:))
        if let events {
            boAtDoor = Self.boAtDoor(events: events, latch: status?.latch)
            snapshot = events.first { $0.snapshot != nil }?.snapshot
        }
    }

    /// Bo is at the door while the vote holds it open: the newest of the vote's events (category `.bo`) is an
    /// unlock, not its relock, and the latch (when known) is not locked.
    public static func boAtDoor(events: [EventEntry], latch: LatchStatus?) -> Bool {
        guard let newest = events.first(where: { $0.category == .bo }), newest.kind == "unlock" else { return false }
        return latch != .locked
    }

    /// The decision's highest score, within 0...1 and rounded to 4 decimals; nil without scores.
    public static func probability(of decision: DaemonStatus.Decision) -> Double? {
        guard let highest = decision.scores.filter(\.isFinite).max() else { return nil }
        return (min(max(highest, 0), 1) * 10_000).rounded() / 10_000
    }

    /// What changed from `published` (all known values when nothing was published yet), availability first.
    public func updates(since published: BridgeState) -> [BridgeUpdate] {
        var updates: [BridgeUpdate] = []
        if let available, available != published.available { updates.append(.availability(available)) }
        if let lock, lock != published.lock { updates.append(.lock(lock)) }
        if let boAtDoor, boAtDoor != published.boAtDoor { updates.append(.boAtDoor(boAtDoor)) }
        if let probability, probability != published.probability { updates.append(.probability(probability)) }
        if let snapshot, snapshot != published.snapshot { updates.append(.snapshot(snapshot)) }
        return updates
    }

    /// Records an update as published.
    public mutating func apply(_ update: BridgeUpdate) {
        switch update {
        case .availability(let value): available = value
        case .lock(let value): lock = value
        case .boAtDoor(let value): boAtDoor = value
        case .probability(let value): probability = value
        case .snapshot(let value): snapshot = value
        }
    }
}

/// One value to publish.
public enum BridgeUpdate: Sendable, Equatable {
    case availability(Bool)
    case lock(HomeAssistantLockState)
    case boAtDoor(Bool)
    case probability(Double)
    /// The newest snapshot's file name (the bridge publishes its bytes).
    case snapshot(String)

    /// The topic and, except for snapshots, the payload text.
    public func message(topics: HomeAssistantTopics) -> (topic: String, text: String?) {
        switch self {
        case .availability(let value): return (topics.availability, value ? "online" : "offline")
        case .lock(let value): return (topics.lockState, value.rawValue)
        case .boAtDoor(let value): return (topics.boAtDoor, value ? "ON" : "OFF")
        case .probability(let value): return (topics.probability, JSONValue.number(value).serialized())
        case .snapshot: return (topics.snapshot, nil)
        }
    }
}
