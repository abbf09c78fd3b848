import Control
import DecisionCore
import Foundation
import LatchLink
import Logging
import Support
import Synchronization
import TestSupport
import Testing

@testable import WebApp
@testable import WebCore

// The Home Assistant bridge: its pure half (discovery payloads, state and command mappings, the published-state
// diff), then the bridge and its MQTT client against a real mosquitto broker on a loopback port.

@Suite("Home Assistant discovery and mappings")
struct HomeAssistantLogicTests {
    @Test func lockConfigIsExact() {
        let payload = HomeAssistantDiscovery.lock(settings: MQTTSettings(), softwareVersion: "0.9.0")
        let expected =
            #"{"name":"Door","unique_id":"dogdoor_door","default_entity_id":"lock.dogdoor_door","#
            + #""availability_topic":"dogdoor/dogdoor/availability","command_topic":"dogdoor/dogdoor/lock/set","#
            + #""state_topic":"dogdoor/dogdoor/lock/state","payload_lock":"LOCK","payload_unlock":"UNLOCK","#
            + #""payload_open":"OPEN","state_locked":"LOCKED","state_unlocked":"UNLOCKED","state_jammed":"JAMMED","#
            + #""qos":1,"device":{"identifiers":["dogdoor"],"name":"DogDoor","manufacturer":"DogDoor","#
            + #""model":"Camera-controlled dog door","sw_version":"0.9.0"},"#
            + #""origin":{"name":"dogdoor-web","sw_version":"0.9.0"}}"#
        #expect(payload == expected)
    }

    @Test func otherConfigsAreExact() {
        var settings = MQTTSettings()
        settings.nodeID = "back_door"
        settings.topicPrefix = "pets"
        settings.discoveryPrefix = "ha"
        let configs = HomeAssistantDiscovery.configs(settings: settings, softwareVersion: nil)
        #expect(
            configs.map(\.topic) == [
                "ha/lock/back_door/door/config", "ha/binary_sensor/back_door/bo_at_door/config",
                "ha/sensor/back_door/last_probability/config", "ha/image/back_door/last_snapshot/config",
            ])
        let tail =
            #""device":{"identifiers":["back_door"],"name":"DogDoor","manufacturer":"DogDoor","#
            + #""model":"Camera-controlled dog door"},"origin":{"name":"dogdoor-web"}}"#
        #expect(
            configs[1].payload
                == #"{"name":"Bo at the door","unique_id":"back_door_bo_at_door","#
                + #""default_entity_id":"binary_sensor.back_door_bo_at_door","#
                + #""availability_topic":"pets/back_door/availability","state_topic":"pets/back_door/bo_at_door/state","#
                + #""device_class":"occupancy","payload_on":"ON","payload_off":"OFF","# + tail)
        #expect(
            configs[2].payload
                == #"{"name":"Last probability","unique_id":"back_door_last_probability","#
                + #""default_entity_id":"sensor.back_door_last_probability","#
                + #""availability_topic":"pets/back_door/availability","#
                + #""state_topic":"pets/back_door/last_probability/state","state_class":"measurement","# + tail)
        #expect(
            configs[3].payload
                == #"{"name":"Last snapshot","unique_id":"back_door_last_snapshot","#
                + #""default_entity_id":"image.back_door_last_snapshot","#
                + #""availability_topic":"pets/back_door/availability","#
                + #""image_topic":"pets/back_door/last_snapshot/image","content_type":"image/jpeg","# + tail)
        // Every payload is strict JSON with distinct unique ids.
        let ids = configs.compactMap { try? JSONValue.parse($0.payload).objectValue?["unique_id"]?.stringValue }
        #expect(Set(ids).count == 4)
    }

    @Test func latchStatusMapsToLockState() {
        #expect(HomeAssistantLockState(latch: .locked) == .locked)
        #expect(HomeAssistantLockState(latch: .unlocked) == .unlocked)
        #expect(HomeAssistantLockState(latch: .unreachable) == .jammed)
        #expect(HomeAssistantLockState(latch: .unknown) == .unknown)
        #expect(HomeAssistantLockState.unknown.rawValue == "None")
        #expect(HomeAssistantLockState.jammed.rawValue == "JAMMED")
    }

    @Test func commandPayloadsMapToControlCommands() {
        var settings = MQTTSettings()
        settings.unlockMinutes = 10
        settings.openSeconds = 30
        func command(_ text: String) -> ControlCommand? {
            HomeAssistantLockCommand(payload: Array(text.utf8))?.controlCommand(settings: settings)
        }
        #expect(command("LOCK") == .lock)
        #expect(command("UNLOCK") == .unlock(seconds: 600))
        #expect(command("OPEN") == .unlock(seconds: 30))
        for refused in ["", "lock", "UNLOCK ", "OPEN\n", "AUTO", "{\"command\":\"unlock\"}", "LOCKLOCKLOCKLOCKLOCK"] {
            #expect(command(refused) == nil, "\(refused) must be refused")
        }
        // Never outside the control protocol's range.
        settings.unlockMinutes = 100_000
        #expect(command("UNLOCK") == .unlock(seconds: ControlCommand.maximumUnlockSeconds))
    }

    @Test func stateFollowsStatusAndEvents() {
        let events = [
            entry("unlock", category: .manual),
            entry("unlock", category: .bo, snapshot: "20261207T005138.531Z-unlock.jpg"),
            entry("near_miss", category: .refused, snapshot: "20261207T004000.000Z-near_miss.jpg"),
        ]
        let open = BridgeState(status: status(latch: .unlocked, scores: [0.12, 0.97314, 0.5]), events: events)
        #expect(
            open
                == BridgeState(
                    available: true, lock: .unlocked, boAtDoor: true, probability: 0.9731,
                    snapshot: "20261207T005138.531Z-unlock.jpg"))
        // The vote's newest event is its relock: Bo is gone.
        let relocked = [entry("relock", category: .bo)] + events
        #expect(BridgeState(status: status(latch: .unlocked), events: relocked).boAtDoor == false)
        // The latch is locked: whatever the log says, the door is not open for Bo.
        #expect(BridgeState(status: status(latch: .locked), events: events).boAtDoor == false)
        // Only manual unlocks: not Bo.
        #expect(BridgeState.boAtDoor(events: [entry("unlock", category: .manual)], latch: .unlocked) == false)
        // Scores beyond 0...1 are clamped; no scores, no probability.
        #expect(BridgeState(status: status(latch: .locked, scores: [1.5]), events: []).probability == 1)
        #expect(BridgeState(status: status(latch: .locked, scores: []), events: []).probability == nil)
        // The daemon does not answer: unavailable, the rest left as published.
        let silent = BridgeState(status: nil, events: nil)
        #expect(silent == BridgeState(available: false))
    }

    @Test func onlyChangesArePublished() {
        let first = BridgeState(available: true, lock: .locked, boAtDoor: false, probability: 0.5, snapshot: "a.jpg")
        #expect(
            first.updates(since: BridgeState()) == [
                .availability(true), .lock(.locked), .boAtDoor(false), .probability(0.5), .snapshot("a.jpg"),
            ])
        var published = BridgeState()
        for update in first.updates(since: published) { published.apply(update) }
        #expect(published == first)
        #expect(first.updates(since: published).isEmpty)

        var next = first
        next.lock = .unlocked
        next.probability = 0.75
        #expect(next.updates(since: published) == [.lock(.unlocked), .probability(0.75)])
        // Unknown values leave the published ones alone.
        #expect(BridgeState(available: false).updates(since: published) == [.availability(false)])

        let topics = HomeAssistantTopics(settings: MQTTSettings())
        #expect(BridgeUpdate.lock(.unlocked).message(topics: topics) == ("dogdoor/dogdoor/lock/state", "UNLOCKED"))
        #expect(BridgeUpdate.boAtDoor(true).message(topics: topics) == ("dogdoor/dogdoor/bo_at_door/state", "ON"))
        #expect(
            BridgeUpdate.probability(0.9731).message(topics: topics)
                == ("dogdoor/dogdoor/last_probability/state", "0.9731"))
        #expect(BridgeUpdate.availability(false).message(topics: topics) == ("dogdoor/dogdoor/availability", "offline"))
    }
}

@Suite("Home Assistant bridge with a real mosquitto broker")
struct HomeAssistantBrokerTests {
    @Test func bridgePublishesDiscoveryStatesAndCarriesOutCommands() async throws {
        let broker = try await Broker.start()
        let directory = TemporaryDirectory("ha-bridge")
        let snapshotName = "20261207T005138.531Z-unlock.jpg"
        let snapshotBytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + (0..<5_000).map { UInt8($0 % 251) } + [0xFF, 0xD9]
        try makeDirectory(directory.file("snapshots"))
        try writeFile(directory.file("snapshots/" + snapshotName), snapshotBytes)
        let unlockLine =
            #"{"time":"2026-12-07T00:51:38.531+00:00","kind":"unlock","frame":42,"scores":[0.97],"#
            + #""snapshot":"\#(snapshotName)"}"#
        try writeFile(directory.file("events.jsonl"), Array((unlockLine + "\n").utf8))

        var settings = MQTTSettings()
        settings.enabled = true
        settings.port = broker.port
        settings.clientID = "dogdoor-bridge-test"
        let topics = HomeAssistantTopics(settings: settings)

        // A command left retained on the broker must not act when the bridge subscribes.
        try await mosquittoPub(port: broker.port, ["-t", topics.lockCommand, "-r", "-q", "1", "-m", "OPEN"])

        let door = RecordingDoor(status(latch: .locked, scores: [0.2, 0.9]))
        let bridge = HomeAssistantBridge(
            settings: settings, door: door, eventsDirectory: directory.path, logger: Logger(label: "test.ha"),
            softwareVersion: "0.9.0", pollInterval: .milliseconds(100))
        let running = Task { try await bridge.run() }
        defer { running.cancel() }

        let observer = try await Observer.start(port: broker.port, pattern: "dogdoor/#")
        #expect(await observer.waitFor(topics.availability, "online"))
        #expect(await observer.waitFor(topics.lockState, "LOCKED"))
        #expect(await observer.waitFor(topics.probability, "0.9"))
        #expect(await observer.waitFor(topics.boAtDoor, "OFF"))
        #expect(await observer.waitForLatest { $0[topics.snapshot]?.payload == snapshotBytes })

        // The discovery configs are retained: a subscriber that comes later gets all four from the broker.
        let discovery = try await mosquittoSub(
            port: broker.port,
            ["-t", "homeassistant/#", "-F", "%r %t %p", "-C", "4", "-W", "10"])
        let lines = discovery.split(separator: "\n").map(String.init).sorted()
        #expect(lines.count == 4)
        #expect(lines.allSatisfy { $0.hasPrefix("1 ") }, "retained flags: \(lines)")
        #expect(
            lines.map { $0.split(separator: " ")[1] } == [
                "homeassistant/binary_sensor/dogdoor/bo_at_door/config",
                "homeassistant/image/dogdoor/last_snapshot/config",
                "homeassistant/lock/dogdoor/door/config", "homeassistant/sensor/dogdoor/last_probability/config",
            ])
        #expect(
            lines.contains(
                "1 homeassistant/lock/dogdoor/door/config "
                    + HomeAssistantDiscovery.lock(settings: settings, softwareVersion: "0.9.0")))

        // The state follows the daemon; Bo is at the door while the vote holds it open.
        door.setStatus(status(latch: .unlocked, scores: [0.2, 0.9]))
        #expect(await observer.waitFor(topics.lockState, "UNLOCKED"))
        #expect(await observer.waitFor(topics.boAtDoor, "ON"))
        let relockLine = #"{"time":"2026-12-07T00:52:10.000+00:00","kind":"relock","reason":"timeout"}"#
        try appendLine(directory.file("events.jsonl"), relockLine)
        #expect(await observer.waitFor(topics.boAtDoor, "OFF"))

        // Commands: UNLOCK for unlock_minutes, an unknown payload refused, LOCK.
        try await mosquittoPub(port: broker.port, ["-t", topics.lockCommand, "-q", "1", "-m", "UNLOCK"])
        #expect(await waitForCondition { door.commands.count >= 1 })
        try await mosquittoPub(port: broker.port, ["-t", topics.lockCommand, "-q", "1", "-m", "BOGUS"])
        try await mosquittoPub(port: broker.port, ["-t", topics.lockCommand, "-q", "1", "-m", "LOCK"])
        #expect(await waitForCondition { door.commands.count >= 2 })
        let commands = door.commands
        #expect(commands.map(\.command) == [.unlock(seconds: 600), .lock], "the retained OPEN and BOGUS did nothing")
        #expect(commands.allSatisfy { $0.origin == "mqtt" })

        // The daemon stops answering: unavailable; back: available.
        door.setFailing(true)
        #expect(await observer.waitFor(topics.availability, "offline"))
        door.setFailing(false)
        #expect(await observer.waitFor(topics.availability, "online"))

        // The broker restarts, forgetting everything: the bridge reconnects and publishes discovery and states again.
        observer.forget()
        try await broker.restart()
        let again = try await mosquittoSub(
            port: broker.port, ["-t", "homeassistant/#", "-F", "%r %t", "-C", "4", "-W", "15"])
        #expect(again.split(separator: "\n").count == 4)
        #expect(await observer.waitFor(topics.lockState, "UNLOCKED"))
        #expect(await observer.waitFor(topics.availability, "online"))

        // Stopping the bridge leaves "offline" retained.
        running.cancel()
        try await running.value
        #expect(await observer.waitFor(topics.availability, "offline"))
        let availability = try await mosquittoSub(
            port: broker.port, ["-t", topics.availability, "-F", "%r %p", "-C", "1", "-W", "10"])
        #expect(availability == "1 offline\n")
        await observer.close()
        broker.stop()
    }

    @Test func credentialsAreRequiredAndChecked() async throws {
        let broker = try await Broker.start(users: ["bridge": "s3cret"])
        let directory = TemporaryDirectory("ha-credentials")
        try writeFile(directory.file("wrong"), Array("nope\n".utf8))
        try writeFile(directory.file("right"), Array("s3cret\n".utf8))

        var settings = MQTTSettings()
        settings.port = broker.port
        settings.clientID = "dogdoor-credentials-test"
        settings.username = "bridge"

        settings.passwordFile = directory.file("wrong")
        let refused = await #expect(throws: MQTTError.self) { try await MQTTClient.connect(settings: settings) }
        #expect(refused?.step == .handshake)
        #expect(refused?.broker == "127.0.0.1:\(broker.port)")
        #expect(
            refused?.description.hasPrefix("MQTT broker 127.0.0.1:\(broker.port): handshake failed: refused") == true)

        settings.username = nil
        settings.passwordFile = nil
        let anonymous = await #expect(throws: MQTTError.self) { try await MQTTClient.connect(settings: settings) }
        #expect(anonymous?.step == .handshake)

        settings.username = "bridge"
        settings.passwordFile = directory.file("missing")
        let missing = await #expect(throws: MQTTError.self) { try await MQTTClient.connect(settings: settings) }
        #expect(missing?.step == .credentials)
        #expect(missing?.description.contains(directory.file("missing")) == true)

        settings.passwordFile = directory.file("right")
        settings.caFile = directory.file("no-such-ca.pem")
        let noCA = await #expect(throws: MQTTError.self) { try await MQTTClient.connect(settings: settings) }
        #expect(noCA?.step == .tls)
        #expect(noCA?.description.contains("no-such-ca.pem") == true)

        settings.caFile = nil
        let client = try await MQTTClient.connect(settings: settings)
        let retained = try await mosquittoSub(
            port: broker.port,
            ["-u", "bridge", "-P", "s3cret", "-t", settings.availabilityTopic, "-C", "1", "-W", "10"])
        #expect(retained == "online\n")
        await client.close()

        // Nothing listening: the connection fails, naming the broker.
        var nowhere = MQTTSettings()
        nowhere.port = try freeLoopbackPort()
        let unreachable = await #expect(throws: MQTTError.self) {
            try await MQTTClient.connect(settings: nowhere, timeout: .seconds(5))
        }
        #expect(unreachable?.broker == "127.0.0.1:\(nowhere.port)")
        #expect(unreachable?.step == .connect)
        broker.stop()
    }
}

@Suite("Home Assistant over TLS, and the will of a killed dogdoor-web")
struct HomeAssistantTLSAndWillTests {
    @Test func bridgeUsesTLSAndTrustsOnlyItsCA() async throws {
        let directory = TemporaryDirectory("ha-tls")
        let certificates = try await TestCertificates.make(in: directory)
        let broker = try await Broker.start(tls: certificates.broker)

        var settings = MQTTSettings()
        settings.enabled = true
        settings.port = broker.port
        settings.clientID = "dogdoor-tls-test"
        settings.caFile = certificates.ca
        let topics = HomeAssistantTopics(settings: settings)
        let bridge = HomeAssistantBridge(
            settings: settings, door: RecordingDoor(status(latch: .locked, scores: [0.25])),
            eventsDirectory: directory.path, logger: Logger(label: "test.ha.tls"), softwareVersion: "0.9.0",
            pollInterval: .milliseconds(100))
        let running = Task { try await bridge.run() }
        defer { running.cancel() }

        // The bridge connects over TLS (the listener speaks nothing else): availability, states and the retained
        // discovery configs reach subscribers that trust the same CA.
        let observer = try await Observer.start(port: broker.port, pattern: "dogdoor/#", caFile: certificates.ca)
        #expect(await observer.waitFor(topics.availability, "online"))
        #expect(await observer.waitFor(topics.lockState, "LOCKED"))
        #expect(await observer.waitFor(topics.probability, "0.25"))
        let lockConfig = try await mosquittoSub(
            port: broker.port,
            [
                "--cafile", certificates.ca, "-t", "homeassistant/lock/dogdoor/door/config", "-F", "%r %p", "-C", "1",
                "-W", "10",
            ])
        #expect(lockConfig == "1 " + HomeAssistantDiscovery.lock(settings: settings, softwareVersion: "0.9.0") + "\n")

        // A client that trusts another CA does not accept the broker's certificate: the connection fails at once
        // (not at the timeout), naming the broker.
        var stranger = settings
        stranger.clientID = "dogdoor-tls-stranger"
        stranger.caFile = certificates.otherCA
        let started = ContinuousClock.now
        let untrusted = await #expect(throws: MQTTError.self) {
            try await MQTTClient.connect(settings: stranger, timeout: .seconds(8))
        }
        #expect(ContinuousClock.now - started < .seconds(5), "the TLS failure is reported, not waited out")
        #expect(untrusted?.broker == "127.0.0.1:\(broker.port)")
        #expect(untrusted?.step == .connect)
        #expect(
            untrusted?.description.hasPrefix("MQTT broker 127.0.0.1:\(broker.port): connect failed: ") == true,
            "\(String(describing: untrusted))")
        #expect(untrusted?.reason.contains("TLS") == true, "\(String(describing: untrusted))")

        // Plain MQTT to the TLS listener gets nowhere.
        var plain = settings
        plain.clientID = "dogdoor-tls-plain"
        plain.caFile = nil
        await #expect(throws: MQTTError.self) { try await MQTTClient.connect(settings: plain, timeout: .seconds(3)) }

        // The broker restarts: the bridge (and the observer) reconnect over TLS and publish everything again.
        observer.forget()
        try await broker.restart()
        #expect(await observer.waitFor(topics.availability, "online", timeout: .seconds(20)))
        #expect(await observer.waitFor(topics.lockState, "LOCKED"))

        // Stopping the bridge leaves "offline" retained.
        running.cancel()
        try await running.value
        #expect(await observer.waitFor(topics.availability, "offline"))
        await observer.close()
        broker.stop()
    }

    /// The real `dogdoor-web`, bridging a stand-in daemon, SIGKILLed: it cannot say goodbye, so the "offline" that
    /// Home Assistant then sees is the broker's, from the will the client left when it connected.
    @Test func killedDogdoorWebIsAnnouncedOfflineByTheBroker() async throws {
        let broker = try await Broker.start()
        let directory = TemporaryDirectory("ha-will")
        try makeDirectory(directory.file("events"))
        // Its own empty web.toml, so that no /etc/dogdoor/web.toml on this machine has a say.
        try writeFile(directory.file("web.toml"), [])
        // The daemon's control socket, answering every request with a locked door.
        let daemon = try ControlServer(path: directory.file("control.sock")) { _, respond in
            respond(.success(status(latch: .locked, scores: [0.125])))
            return nil
        }
        try daemon.start()
        defer { daemon.stop() }

        let web = try Subprocess(
            dogdoorWebExecutable,
            [
                "--config", directory.file("web.toml"), "--set", "web.listen=127.0.0.1:0",
                "--set", "web.users=\(directory.file("users"))",
                "--set", "web.control_socket=\(directory.file("control.sock"))",
                "--set", "web.events_directory=\(directory.file("events"))",
                "--set", "web.dataset=\(directory.file("dataset"))", "--set", "mqtt.enabled=true",
                "--set", "mqtt.port=\(broker.port)", "--set", "mqtt.keep_alive=5",
            ],
            logFile: directory.file("dogdoor-web.log"))
        defer { web.kill() }

        let topics = HomeAssistantTopics(settings: MQTTSettings())
        let observer = try await Observer.start(port: broker.port, pattern: "dogdoor/#")
        // "online" from the bridge, with the daemon's state: the bridge runs and its daemon answers.
        try #require(
            await observer.waitFor(topics.lockState, "LOCKED", timeout: .seconds(30)),
            "\(dogdoorWebExecutable) did not bridge; its output:\n\(web.log)")
        #expect(observer.latest(topics.availability)?.text == "online")
        #expect(await observer.waitFor(topics.probability, "0.125"))
        // Its discovery config is retained, with dogdoor-web's version.
        let lockConfig = try await mosquittoSub(
            port: broker.port,
            ["-t", "homeassistant/lock/dogdoor/door/config", "-F", "%r %p", "-C", "1", "-W", "10"])
        let payload = try #require(lockConfig.hasPrefix("1 ") ? String(lockConfig.dropFirst(2).dropLast()) : nil)
        let version = try JSONValue.parse(payload).objectValue?["device"]?.objectValue?["sw_version"]?.stringValue
        #expect(payload == HomeAssistantDiscovery.lock(settings: MQTTSettings(), softwareVersion: version))

        observer.forget()
        #expect(web.process.isRunning, "dogdoor-web exited by itself:\n\(web.log)")
        web.kill()
        #expect(web.process.terminationReason == .uncaughtSignal && web.process.terminationStatus == SIGKILL)
        // The broker notices the closed connection and publishes the will: "offline", retained.
        #expect(
            await observer.waitFor(topics.availability, "offline", timeout: .seconds(10)),
            "no will after SIGKILL; dogdoor-web's output:\n\(web.log)")
        let retained = try await mosquittoSub(
            port: broker.port, ["-t", topics.availability, "-F", "%r %p", "-C", "1", "-W", "10"])
        #expect(retained == "1 offline\n")
        await observer.close()
        broker.stop()
    }
}

// MARK: - Helpers

private func entry(_ kind: String, category: EventCategory, snapshot: String? = nil) -> EventEntry {
    EventEntry(time: "2026-12-07T00:51:38.531+00:00", kind: kind, category: category, snapshot: snapshot)
}

private func status(latch: LatchStatus, scores: [Double] = [0.5]) -> DaemonStatus {
    DaemonStatus(
        mode: .auto, latch: latch, camera: .streaming, framesPerSecond: 5, inferenceMilliseconds: 40,
        lastDecision: .init(time: "2026-12-07T00:51:38.531+00:00", kind: "near_miss", rule: "vote", scores: scores))
}

/// A daemon stand-in with a canned status, recording the commands it receives.
private final class RecordingDoor: DoorLink {
    private struct State {
        var status: DaemonStatus
        var failing = false
        var commands: [(command: ControlCommand, origin: String?)] = []
    }
    private let state: Mutex<State>

    init(_ status: DaemonStatus) { state = Mutex(State(status: status)) }

    var commands: [(command: ControlCommand, origin: String?)] { state.withLock { $0.commands } }
    func setStatus(_ status: DaemonStatus) { state.withLock { $0.status = status } }
    func setFailing(_ failing: Bool) { state.withLock { $0.failing = failing } }

    func send(_ command: ControlCommand, origin: String?) async throws -> ControlResponse {
        try state.withLock { state in
            if command != .status { state.commands.append((command, origin)) }
            if state.failing { throw ControlProtocolError("the test daemon does not answer") }
            return .success(state.status)
        }
    }
}

/// Polls `condition` every 20 ms for up to `timeout`; true as soon as it holds.
private func waitForCondition(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}

/// A mosquitto broker of its own on a free loopback port, with a temporary configuration (anonymous, or with a
/// password file made by mosquitto_passwd; plain MQTT, or TLS only) and without persistence: a restart forgets
/// retained messages.
private final class Broker {
    let port: Int
    private var process: Process
    private let directory: TemporaryDirectory

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let executable = "/usr/sbin/mosquitto"

    /// The broker's side of TLS: its certificate and key, and the CA that signed them.
    struct TLS {
        var caFile: String
        var certificateFile: String
        var keyFile: String
    }

    static func start(users: [String: String] = [:], tls: TLS? = nil) async throws -> Broker {
        for tool in [executable, "/usr/bin/mosquitto_sub", "/usr/bin/mosquitto_pub", "/usr/bin/mosquitto_passwd"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            throw Failure(
                description: "\(tool) is not installed: the Home Assistant tests need the mosquitto and "
                    + "mosquitto-clients packages (Scripts/setup.sh installs them)")
        }
        let directory = TemporaryDirectory("mosquitto")
        var common = [
            "persistence false", "log_dest stderr",
            // As root, mosquitto would switch to the mosquitto user, which cannot read the temporary files.
            "user \(String(cString: getpwuid(geteuid()).pointee.pw_name))",
        ]
        if users.isEmpty {
            common.append("allow_anonymous true")
        } else {
            let passwords = directory.file("passwords")
            for (index, (user, password)) in users.sorted(by: { $0.key < $1.key }).enumerated() {
                let create = index == 0 ? ["-c"] : []
                try await runTool("/usr/bin/mosquitto_passwd", ["-b"] + create + [passwords, user, password])
            }
            common += ["allow_anonymous false", "password_file \(passwords)"]
        }
        // The listener's own settings follow its `listener` line: with TLS, the listener speaks TLS only.
        let listenerSettings =
            tls.map {
                [
                    "cafile \($0.caFile)", "certfile \($0.certificateFile)", "keyfile \($0.keyFile)",
                    "require_certificate false",
                ]
            } ?? []
        var lastError = ""
        // A port found free may be taken before mosquitto binds it: try a few.
        for _ in 0..<3 {
            let port = try freeLoopbackPort()
            let configuration =
                (["listener \(port) 127.0.0.1"] + listenerSettings + common).joined(separator: "\n") + "\n"
            try writeFile(directory.file("mosquitto.conf"), Array(configuration.utf8))
            do {
                let process = try await launch(directory: directory, port: port)
                return Broker(port: port, process: process, directory: directory)
            } catch {
                lastError = "\(error)"
            }
        }
        throw Failure(description: lastError)
    }

    /// Runs mosquitto with the directory's configuration and waits until it listens on `port`.
    private static func launch(directory: TemporaryDirectory, port: Int) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", directory.file("mosquitto.conf")]
        try writeFile(directory.file("mosquitto.log"), [])
        guard let log = FileHandle(forWritingAtPath: directory.file("mosquitto.log")) else {
            throw SystemError("open", path: directory.file("mosquitto.log"))
        }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let listening = await waitForCondition { !process.isRunning || canConnect(port: port) }
        if listening && process.isRunning { return process }
        killAndReap(process)
        let output = (try? readText(directory.file("mosquitto.log"))) ?? ""
        throw Failure(description: "mosquitto did not start on port \(port): \(output)")
    }

    private init(port: Int, process: Process, directory: TemporaryDirectory) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    /// Kills the broker and starts it again on the same port, with nothing retained.
    func restart() async throws {
        killAndReap(process)
        process = try await Broker.launch(directory: directory, port: port)
    }

    func stop() { killAndReap(process) }

    deinit { stop() }
}

/// SIGKILL, and waits for the process to end. Not SIGTERM: the test runner's threads block SIGTERM, and children
/// inherit the mask, so `terminate()` would stay pending.
private func killAndReap(_ process: Process) {
    guard process.isRunning else { return }
    _ = kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
}

/// Certificates made with Debian's openssl for a TLS broker on 127.0.0.1: a CA, the broker's certificate and key
/// signed by it (for IP 127.0.0.1 and DNS localhost: libmosquitto checks the broker's name against them), and a
/// second CA that signed nothing of the broker's.
private struct TestCertificates {
    static let openssl = "/usr/bin/openssl"

    var broker: Broker.TLS
    var ca: String { broker.caFile }
    var otherCA: String

    static func make(in directory: TemporaryDirectory) async throws -> TestCertificates {
        guard FileManager.default.isExecutableFile(atPath: openssl) else {
            throw Broker.Failure(
                description: "\(openssl) is not installed: the MQTT TLS test makes its certificates with it "
                    + "(Debian package openssl)")
        }
        let ca = try await makeAuthority(in: directory, name: "ca", commonName: "DogDoor test CA")
        let other = try await makeAuthority(in: directory, name: "other-ca", commonName: "DogDoor other test CA")
        // The broker's key and request, then its certificate signed by the CA with the names it answers to.
        try writeText(
            directory.file("broker.cnf"),
            ["[req]", "distinguished_name = name", "prompt = no", "[name]", "CN = localhost"])
        try writeText(
            directory.file("broker.ext"),
            [
                "basicConstraints = CA:FALSE", "keyUsage = critical, digitalSignature, keyEncipherment",
                "extendedKeyUsage = serverAuth", "subjectAltName = IP:127.0.0.1, DNS:localhost",
            ])
        try await runTool(
            openssl,
            [
                "req", "-new", "-newkey", "rsa:2048", "-nodes", "-config", directory.file("broker.cnf"),
                "-keyout", directory.file("broker.key"), "-out", directory.file("broker.csr"),
            ])
        try await runTool(
            openssl,
            [
                "x509", "-req", "-in", directory.file("broker.csr"), "-CA", ca, "-CAkey", directory.file("ca.key"),
                "-set_serial", "2", "-days", "2", "-extfile", directory.file("broker.ext"),
                "-out", directory.file("broker.pem"),
            ])
        return TestCertificates(
            broker: Broker.TLS(
                caFile: ca, certificateFile: directory.file("broker.pem"), keyFile: directory.file("broker.key")),
            otherCA: other)
    }

    /// A self-signed CA certificate `<name>.pem` with its key `<name>.key`; the certificate's path.
    private static func makeAuthority(
        in directory: TemporaryDirectory, name: String, commonName: String
    ) async throws -> String {
        // A configuration of its own rather than the system's: exactly a CA's extensions.
        try writeText(
            directory.file(name + ".cnf"),
            [
                "[req]", "distinguished_name = name", "x509_extensions = authority", "prompt = no", "[name]",
                "CN = \(commonName)", "[authority]", "basicConstraints = critical, CA:TRUE",
                "keyUsage = critical, keyCertSign, cRLSign", "subjectKeyIdentifier = hash",
            ])
        try await runTool(
            openssl,
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-config", directory.file(name + ".cnf"),
                "-keyout", directory.file(name + ".key"), "-out", directory.file(name + ".pem"),
            ])
        return directory.file(name + ".pem")
    }
}

/// The `dogdoor-web` binary: in `$DOGDOOR_BIN_DIR` when set (Scripts/test.sh points it at the release build),
/// else this checkout's release build, else its debug build.
private let dogdoorWebExecutable: String = {
    if let directory = ProcessInfo.processInfo.environment["DOGDOOR_BIN_DIR"] { return directory + "/dogdoor-web" }
    var root = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { root.deleteLastPathComponent() }
    let release = root.path + "/.build/release/dogdoor-web"
    return FileManager.default.isExecutableFile(atPath: release) ? release : root.path + "/.build/debug/dogdoor-web"
}()

/// A program running in the background, its output in a log file; SIGKILLed when released.
private final class Subprocess {
    let process = Process()
    let logFile: String

    init(_ executable: String, _ arguments: [String], logFile: String) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Broker.Failure(
                description: "\(executable) does not exist: build it first (swift build), or set DOGDOOR_BIN_DIR")
        }
        self.logFile = logFile
        try writeFile(logFile, [])
        guard let log = FileHandle(forWritingAtPath: logFile) else { throw SystemError("open", path: logFile) }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    /// What it wrote so far.
    var log: String { (try? readText(logFile)) ?? "" }

    func kill() { killAndReap(process) }

    deinit { kill() }
}

/// A port on 127.0.0.1 that nothing listens on (bound, read back, released).
private func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SystemError("socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
        }
    }
    guard bound else { throw SystemError("bind") }
    return Int(UInt16(bigEndian: address.sin_port))
}

private func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// Runs a mosquitto client tool to completion (they bound themselves: `-W`, or a single publish) without
/// blocking a thread of the cooperative pool; returns its standard output, throws on a non-zero exit.
@discardableResult
private func runTool(_ path: String, _ arguments: [String]) async throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        process.terminationHandler = { _ in done.resume() }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            done.resume()
        }
    }
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw Broker.Failure(
            description: "\(path) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): "
                + problem + text)
    }
    return text
}

/// mosquitto_pub to the test broker.
private func mosquittoPub(port: Int, _ arguments: [String]) async throws {
    try await runTool("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", "\(port)"] + arguments)
}

/// mosquitto_sub from the test broker (bounded by the caller's `-C` and `-W`); its output.
private func mosquittoSub(port: Int, _ arguments: [String]) async throws -> String {
    try await runTool("/usr/bin/mosquitto_sub", ["-h", "127.0.0.1", "-p", "\(port)"] + arguments)
}

/// Our own MQTT client, subscribed to a pattern, remembering the last message of each topic.
private final class Observer: Sendable {
    /// The last message of each topic.
    private final class Latest: Sendable {
        let messages = Mutex<[String: MQTTClient.Message]>([:])
    }

    private let client: MQTTClient
    private let latest = Latest()
    private let reader: Task<Void, Never>

    /// Over TLS when `caFile` is given.
    static func start(port: Int, pattern: String, caFile: String? = nil) async throws -> Observer {
        var settings = MQTTSettings()
        settings.port = port
        settings.clientID = "observer-\(port)"
        settings.topicPrefix = "observer"
        settings.caFile = caFile
        let client = try await MQTTClient.connect(settings: settings)
        try client.subscribe(pattern, qos: 1)
        return Observer(client: client)
    }

    private init(client: MQTTClient) {
        self.client = client
        let latest = latest
        reader = Task {
            for await event in client.events {
                if case .message(let message) = event { latest.messages.withLock { $0[message.topic] = message } }
            }
        }
    }

    /// Waits until the last message on `topic` is `text`.
    func waitFor(_ topic: String, _ text: String, timeout: Duration = .seconds(10)) async -> Bool {
        await waitForLatest(timeout: timeout) { $0[topic]?.text == text }
    }

    func waitForLatest(
        timeout: Duration = .seconds(10), _ condition: @escaping ([String: MQTTClient.Message]) -> Bool
    ) async -> Bool {
        await waitForCondition(timeout: timeout) { latest.messages.withLock { condition($0) } }
    }

    /// The last message on `topic`.
    func latest(_ topic: String) -> MQTTClient.Message? { latest.messages.withLock { $0[topic] } }

    /// Forgets the messages received so far.
    func forget() { latest.messages.withLock { $0.removeAll() } }

    func close() async {
        await client.close(announceOffline: false)
        await reader.value
    }
}

private func makeDirectory(_ path: String) throws {
    guard mkdir(path, 0o755) == 0 else { throw SystemError("mkdir", path: path) }
}

private func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw SystemError("create", path: path)
    }
}

private func writeText(_ path: String, _ lines: [String]) throws {
    try writeFile(path, Array(lines.map { $0 + "\n" }.joined().utf8))
}

private func appendLine(_ path: String, _ line: String) throws {
    guard let handle = FileHandle(forWritingAtPath: path) else { throw SystemError("open", path: path) }
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data((line + "\n").utf8))
}
