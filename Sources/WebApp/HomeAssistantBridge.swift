import Control
import Logging
import ServiceLifecycle
import Support
import WebCore

/// DogDoor in Home Assistant, over MQTT: the door as a lock, "Bo at the door", the last probability and the last
/// snapshot (see `HomeAssistantDiscovery`), kept in step with the daemon; lock commands from Home Assistant go to
/// the daemon as `by: mqtt`.
///
/// A ServiceLifecycle service: `app.addServices(bridge)` runs it beside the web server. It runs until graceful
/// shutdown (or cancellation), then publishes `offline` and disconnects. A broker that cannot be reached or
/// refuses is logged and tried again (1 s doubling to 60 s); once connected, libmosquitto's network thread
/// reconnects by itself, and every connection republishes the discovery configs and all states.
public struct HomeAssistantBridge: Service {
    public let settings: MQTTSettings
    private let door: any DoorLink
    private let eventsDirectory: String
    private let logger: Logger
    private let softwareVersion: String?
    private let pollInterval: Duration

    /// Largest snapshot published on the image topic; larger ones are skipped (and logged).
    public static let maximumSnapshotBytes = 2 << 20
    /// Events read per poll: enough to find the newest snapshot and the vote's newest unlock or relock.
    static let eventLimit = 50

    /// - Parameters:
    ///   - door: the daemon (asked for its status every `pollInterval`, and sent Home Assistant's commands).
    ///   - eventsDirectory: the daemon's events directory (`events.jsonl`, `snapshots/`).
    ///   - softwareVersion: DogDoor's version for the device's `sw_version` (the caller's `dogDoorVersion`).
    public init(
        settings: MQTTSettings, door: any DoorLink, eventsDirectory: String, logger: Logger,
        softwareVersion: String? = nil, pollInterval: Duration = .seconds(1)
    ) {
        self.settings = settings
        self.door = door
        self.eventsDirectory = eventsDirectory
        self.logger = logger
        self.softwareVersion = softwareVersion
        self.pollInterval = pollInterval
    }

    /// Connects and bridges until graceful shutdown or cancellation; does not throw (failures are logged and
    /// retried, so that the web app keeps running without its broker).
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.bridgeUntilCancelled() }
    }

    private func bridgeUntilCancelled() async {
        var retryDelay = Duration.seconds(1)
        while !Task.isCancelled {
            let client: MQTTClient
            do {
                client = try await MQTTClient.connect(settings: settings)
            } catch {
                if Task.isCancelled { break }
                logger.error(
                    "Home Assistant bridge: no MQTT connection",
                    metadata: ["error": "\(error)", "retry_in": "\(retryDelay)"])
                try? await Task.sleep(for: retryDelay)
                retryDelay = min(retryDelay * 2, .seconds(60))
                continue
            }
            retryDelay = .seconds(1)
            logger.notice("Home Assistant bridge connected", metadata: ["broker": "\(client.broker)"])
            let session = BridgeSession(
                client: client, settings: settings, door: door, eventsDirectory: eventsDirectory, logger: logger,
                softwareVersion: softwareVersion, pollInterval: pollInterval)
            await session.run()
            // This task is cancelled now: close from a task of its own, which the thread pool still serves.
            await Task { await client.close(announceOffline: true) }.value
            logger.notice("Home Assistant bridge stopped (offline)", metadata: ["broker": "\(client.broker)"])
        }
    }
}

/// One connected client: polls the daemon and the events, publishes what changed, and carries out commands.
private actor BridgeSession {
    let client: MQTTClient
    let settings: MQTTSettings
    let topics: HomeAssistantTopics
    let door: any DoorLink
    let eventsDirectory: String
    let logger: Logger
    let softwareVersion: String?
    let pollInterval: Duration

    /// What Home Assistant has (reset on each connection, so that everything is published again).
    private var published = BridgeState()
    /// The newest events, newest first; nil until read.
    private var events: [EventEntry]?
    /// `events.jsonl` when `events` was read: read again only when it changed.
    private var eventsStamp: FileStamp?
    private var daemonAnswers = true

    init(
        client: MQTTClient, settings: MQTTSettings, door: any DoorLink, eventsDirectory: String, logger: Logger,
        softwareVersion: String?, pollInterval: Duration
    ) {
        self.client = client
        self.settings = settings
        self.topics = HomeAssistantTopics(settings: settings)
        self.door = door
        self.eventsDirectory = eventsDirectory
        self.logger = logger
        self.softwareVersion = softwareVersion
        self.pollInterval = pollInterval
    }

    /// Until cancelled.
    func run() async {
        do {
            try client.subscribe(topics.lockCommand, qos: 1)
        } catch {
            logger.error("Home Assistant bridge: cannot take commands", metadata: ["error": "\(error)"])
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.receive() }
            group.addTask { await self.poll() }
        }
    }

    private func receive() async {
        for await event in client.events {
            switch event {
            case .connected: await announce()
            case .disconnected(let reason):
                logger.warning(
                    "Home Assistant bridge: MQTT connection lost, reconnecting", metadata: ["reason": "\(reason)"])
            case .message(let message): await command(message)
            }
        }
    }

    private func poll() async {
        while !Task.isCancelled {
            await refresh()
            try? await Task.sleep(for: pollInterval)
        }
    }

    /// Discovery configs (retained), then every state again.
    private func announce() async {
        for (topic, payload) in HomeAssistantDiscovery.configs(settings: settings, softwareVersion: softwareVersion) {
            do {
                try client.publish(topic, text: payload, retain: true, qos: 1)
            } catch {
                logger.error("Home Assistant bridge: discovery not published", metadata: ["error": "\(error)"])
            }
        }
        published = BridgeState()
        await refresh()
    }

    private func refresh() async {
        var status: DaemonStatus?
        do {
            status = try await door.send(.status, origin: nil).status
            if !daemonAnswers { logger.notice("Home Assistant bridge: the daemon answers again") }
            daemonAnswers = true
        } catch {
            if daemonAnswers {
                logger.warning("Home Assistant bridge: the daemon does not answer", metadata: ["error": "\(error)"])
            }
            daemonAnswers = false
        }
        readEventsIfChanged()
        publish(BridgeState(status: status, events: events))
    }

    private func readEventsIfChanged() {
        let stamp = FileStamp(path: eventsDirectory + "/events.jsonl")
        guard events == nil || stamp != eventsStamp else { return }
        do {
            events = try EventHistory.recent(directory: eventsDirectory, limit: HomeAssistantBridge.eventLimit)
            eventsStamp = stamp
        } catch {
            // Keeps the previous events; tries again next poll.
            logger.warning("Home Assistant bridge: cannot read events", metadata: ["error": "\(error)"])
        }
    }

    private func publish(_ state: BridgeState) {
        for update in state.updates(since: published) {
            // Recorded as published even when it fails: a failure is logged once, and the next connection
            // publishes everything again.
            defer { published.apply(update) }
            let (topic, text) = update.message(topics: topics)
            do {
                let payload: [UInt8]
                if case .snapshot(let name) = update {
                    payload = try readFile(
                        eventsDirectory + "/snapshots/" + name, limit: HomeAssistantBridge.maximumSnapshotBytes)
                } else {
                    payload = Array((text ?? "").utf8)
                }
                try client.publish(topic, payload, retain: true, qos: 1)
                logger.debug(
                    "Home Assistant bridge: published",
                    metadata: ["topic": "\(topic)", "value": "\(text ?? "\(payload.count) bytes")"])
            } catch {
                logger.warning(
                    "Home Assistant bridge: not published", metadata: ["topic": "\(topic)", "error": "\(error)"])
            }
        }
    }

    /// A message on the command topic: LOCK, UNLOCK or OPEN go to the daemon as `by: mqtt`; anything else, and
    /// retained commands (left on the broker by someone, they would act again on every reconnection), is refused.
    private func command(_ message: MQTTClient.Message) async {
        guard message.topic == topics.lockCommand else { return }
        let shown = String(
            message.text.unicodeScalars.prefix(32).map { $0.isASCII && $0.value >= 0x20 ? Character($0) : "?" })
        guard !message.retained else {
            logger.warning("Home Assistant bridge: ignored a retained command", metadata: ["payload": "\(shown)"])
            return
        }
        guard let command = HomeAssistantLockCommand(payload: message.payload) else {
            logger.warning(
                "Home Assistant bridge: refused an unknown command (expected LOCK, UNLOCK or OPEN)",
                metadata: ["payload": "\(shown)"])
            return
        }
        let control = command.controlCommand(settings: settings)
        var metadata: Logger.Metadata = ["payload": "\(command.rawValue)", "command": "\(control.name)"]
        if case .unlock(let seconds) = control { metadata["seconds"] = "\(seconds)" }
        do {
            let response = try await door.send(control, origin: "mqtt")
            if response.ok {
                logger.notice("Home Assistant door command", metadata: metadata)
            } else {
                metadata["error"] = "\(response.error ?? "refused")"
                logger.warning("Home Assistant door command refused by the daemon", metadata: metadata)
            }
            if let status = response.status {
                readEventsIfChanged()
                publish(BridgeState(status: status, events: events))
            }
        } catch {
            metadata["error"] = "\(error)"
            logger.error("Home Assistant door command failed", metadata: metadata)
        }
    }
}

/// A file's identity and last change, to notice a write or a rotation without reading the file.
private struct FileStamp: Equatable {
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var modifiedNanoseconds: Int64

    /// Nil when the file does not exist (or cannot be examined).
    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        modified = Int64(st.st_mtim.tv_sec)
        modifiedNanoseconds = Int64(st.st_mtim.tv_nsec)
    }
}
