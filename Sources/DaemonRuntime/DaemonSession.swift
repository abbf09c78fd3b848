import Camera
import Control
import DecisionCore
import DoorConfiguration
import EventLog
import Inference
import Logging
import NeuralNet
import Support

/// One run of the daemon: what `start` built, the loop, and the orderly stop.
final class DaemonSession {
    var configuration: DaemonConfiguration
    let settings: DoorDaemon.Settings
    let inbox: Inbox
    let status: Locked<DaemonStatus>
    let logger: Logger
    let clock: any DoorClock
    var events: EventWriter
    let latch: LatchKeeper
    var model: ActiveModel
    var policy: DecisionPolicy
    let worker: InferenceWorker
    let control: ControlServer
    let reloader: ReloadPreparer
    var source: FrameSource?
    var cameraState = CameraState.starting
    var frames = FrameCounters()
    /// Decisions, reconnects, model load time and memory, for the status's counters.
    var counters = DaemonCounters()
    var lastMemorySample: MonotonicInstant?
    /// When the last uncertain frame's snapshot was kept, and the last latest frame.
    var lastUncertain: MonotonicInstant?
    var lastLatestFrame: MonotonicInstant?
    var ready = false
    var lastWatchdog: MonotonicInstant?
    var lastCorruptLog: MonotonicInstant?
    /// The current episode's best frame, kept for a near-miss snapshot.
    var episodeBest: (id: UInt64, frame: FramePayload)?

    /// Starts everything in order; on failure, stops what was started and throws.
    init(settings: DoorDaemon.Settings, inbox: Inbox, status: Locked<DaemonStatus>) throws {
        let configuration = settings.configuration
        let logger = settings.logger
        var started: [() -> Void] = []
        func failed(_ error: Error) -> Error {
            for stop in started.reversed() { stop() }
            return error
        }

        let events: EventWriter
        do { events = try Self.openEvents(configuration.events, logger: logger) } catch { throw failed(error) }
        started.append { events.stop() }
        try? settings.notifier.status("verifying model \(configuration.model.path)")
        let model: ActiveModel
        let policy: DecisionPolicy
        let loadStarted = MonotonicClock.now()
        var loadSeconds = 0.0
        do {
            model = try ActiveModel(
                path: configuration.model.path, plan: configuration.compute.plan,
                precision: configuration.compute.precision, threads: settings.threads,
                trust: try configuration.model.trust())
            loadSeconds = MonotonicClock.now() - loadStarted
            logger.info(
                "model verified",
                metadata: [
                    "path": "\(model.path)", "sha256": "\(model.sha256.prefix(16))",
                    "threshold": "\(model.threshold)",
                    "admits": "\(model.model.manifest.positiveClass)",
                    "precision": "\(model.model.precision == .int8 ? "int8 (\(Int8Kernels.description))" : "fp32")",
                ])
            let parameters = try configuration.decisionParameters(modelThreshold: model.threshold)
            policy = try DecisionPolicy(
                parameters: parameters, curfew: configuration.curfew, start: settings.clock.now())
        } catch {
            throw failed(Failure("model: \(error)"))
        }
        let inbox = inbox
        let worker = InferenceWorker(
            model: model, motion: Self.motionSettings(configuration.motion),
            results: { inbox.post($0) },
            cameraChanges: { inbox.cameraStateChanged($0, detail: $1) })
        do { try worker.start() } catch { throw failed(Failure("inference thread: \(error)")) }
        started.append { worker.stop() }
        let control: ControlServer
        do {
            control = try ControlServer(
                path: configuration.control.socket, group: configuration.control.group,
                statusPath: configuration.control.statusSocket,
                statusGroup: configuration.control.statusGroup, logger: logger,
                handler: Self.controlHandler(inbox: inbox, status: status))
            try control.start()
        } catch {
            throw failed(Failure("control socket: \(error)"))
        }
        started.append { control.stop() }
        let source: FrameSource
        do { source = try Self.startSource(configuration.camera, settings: settings, sink: worker) } catch {
            throw failed(error)
        }

        self.settings = settings
        self.inbox = inbox
        self.status = status
        self.configuration = configuration
        self.logger = logger
        clock = settings.clock
        self.events = events
        latch = LatchKeeper(socket: configuration.latch.socket, logger: logger, connect: settings.connectLatch)
        self.model = model
        self.policy = policy
        self.worker = worker
        self.control = control
        self.source = source
        reloader = ReloadPreparer(
            configurationPath: settings.configurationPath, overrides: settings.overrides,
            threads: settings.threads, logger: logger
        ) { [inbox] in inbox.post(prepared: $0) }
        counters.modelLoadSeconds = loadSeconds
        let now = clock.now()
        for event in latch.sync(unlockedUntil: nil, now: now.monotonic) { handleLatch(event, at: now) }
        record(
            EventRecord(
                time: now.wall, kind: "start", mode: policy.mode.name, door: latch.statusText,
                modelSHA256: model.sha256,
                details: ["model": .string(model.path), "camera": .string(source.summary)]))
        publishStatus()
    }

    static func openEvents(_ settings: DaemonConfiguration.Events, logger: Logger) throws -> EventWriter {
        do {
            let log = try EventLog(
                directory: settings.directory, maxBytes: settings.logMaxBytes, keepFiles: settings.logFiles)
            let snapshots =
                settings.snapshots
                ? try SnapshotStore(
                    directory: settings.directory + "/snapshots", maxCount: settings.maxSnapshots,
                    maxBytes: settings.maxSnapshotBytes)
                : nil
            return try EventWriter(events: log, snapshots: snapshots, logger: logger)
        } catch {
            throw Failure("events: \(error)")
        }
    }

    /// The motion gate's settings, or nil when the gate is off.
    static func motionSettings(_ m: DaemonConfiguration.Motion) -> MotionGate.Settings? {
        guard m.enabled else { return nil }
        return MotionGate.Settings(
            sensitivity: m.sensitivity, pixelThreshold: m.pixelThreshold,
            holdAfterMotion: m.holdAfterMotion.seconds, idleInterval: m.idleInterval.seconds)
    }

    /// Status is answered at once from the published status; commands go to the decision loop.
    static func controlHandler(inbox: Inbox, status: Locked<DaemonStatus>) -> ControlServer.Handler {
        { request, respond in
            if request.command == .status {
                respond(.success(status.value))
                return nil
            }
            let pending = PendingCommand(request, onAnswer: respond)
            inbox.submit(pending)
            return { pending.abandon() }
        }
    }

    static func startSource(
        _ camera: DaemonConfiguration.Camera, settings: DoorDaemon.Settings, sink: FrameSink
    ) throws -> FrameSource {
        do {
            let source = try settings.makeSource(camera, settings.logger)
            try source.start(sink: sink)
            // Only the source's thread is running now: whether the camera is there is reported by its state
            // changes ("camera streaming", "camera reconnecting" with "missing", ...).
            settings.logger.info("camera source opening", metadata: ["source": "\(source.summary)"])
            return source
        } catch {
            throw Failure("camera: \(error)")
        }
    }

    // MARK: - The loop

    func loop() throws {
        while true {
            let item = inbox.next(timeout: waitTime())
            let now = clock.now()
            switch item {
            case .stop(let reason):
                logger.notice("stopping", metadata: ["reason": "\(reason)"])
                return
            case .command(let pending):
                if pending.take() {
                    pending.answer(handle(pending.request, at: now))
                } else {
                    logger.warning(
                        "control command dropped: its client stopped waiting",
                        metadata: ["command": "\(pending.command.name)"])
                }
            case .reload:
                logger.notice("reload requested: verifying configuration and model")
                try? settings.notifier.reloading()
                reloader.request(current: configuration)
            case .prepared(let result):
                apply(result, at: now)
            case .camera(let state, let detail):
                try cameraChanged(state, detail: detail, at: now)
                if state == .finished && !configuration.camera.replayLoop { return }
            case .result(let result):
                process(result)
            case .timeout:
                break
            }
            let tick = clock.now()
            apply(policy.handle(.tick(tick)), at: tick, frame: nil)
            syncLatch(at: tick)
            publishStatus()
            feedWatchdog(at: tick.monotonic)
        }
    }

    /// How long the loop may wait for input: until the policy's or the latch link's next deadline, at
    /// most half a second (curfew boundaries follow the wall clock; the status refresh).
    func waitTime() -> Duration {
        let now = clock.now().monotonic
        var wait: Duration = .milliseconds(500)
        for deadline in [policy.nextDeadline, latch.nextDeadline()].compactMap({ $0 }) {
            wait = min(wait, max(.zero, deadline - now) + .milliseconds(1))
        }
        return wait
    }
}
