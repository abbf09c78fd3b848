import Camera
import Configuration
import Control
import DecisionCore
import EventLog
import Imaging
import Inference
import LatchLink
import Logging
import NeuralNet
import Support
import Synchronization

/// Why the daemon cannot start (configuration, model, camera, state directory, control socket).
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Builds the frame source a configuration names. The daemon asks again after a reload changed `[camera]`.
public typealias FrameSourceFactory = @Sendable (DaemonConfiguration.Camera, Logger) throws -> FrameSource

/// The door daemon, the recognition side: frames in, decisions out, the door commanded through the latch
/// owner, and a record of every decision.
///
/// Threads: the camera's, the inference worker's (decode, motion gate, network), the control server's, the
/// event writer's (event log and snapshots), a reload preparer's while a reload is verified, and the caller
/// of `run`: the decision loop. The loop feeds the decision policy and talks to the latch owner; it never
/// waits for a frame, a disk, a model verification or a client, so its timers are on time.
///
/// Fail-secure does not rest on this process: the latch owner (`dogdoor-latch`) holds the line and locks by
/// itself when this process stops renewing an unlock, whatever the reason (crash, kill, OOM, SIGSTOP, a hung
/// stop). This process only asks, and locks first when it stops.
public final class DoorDaemon: Sendable {
    private let settings: Settings
    private let inbox = Inbox()
    private let status = Locked<DaemonStatus>(DaemonStatus(mode: "auto", latch: "locked", camera: "starting",
                                                           framesPerSecond: 0, inferenceMilliseconds: 0))

    private struct Settings: Sendable {
        var configuration: DaemonConfiguration
        var configurationPath: String?
        var overrides: [(key: String, value: String)]
        var threads: ComputeThreads
        var logger: Logger
        var notifier: SystemdNotifier
        var clock: any DoorClock
        var makeSource: FrameSourceFactory
        var connectLatch: LatchKeeper.Connector?
    }

    public init(configuration: DaemonConfiguration, configurationPath: String?, overrides: [(key: String, value: String)],
                threads: ComputeThreads, logger: Logger, notifier: SystemdNotifier = .fromProcessEnvironment(),
                clock: any DoorClock = SystemClock(), makeSource: @escaping FrameSourceFactory = DoorDaemon.standardSource,
                connectLatch: LatchConnector? = nil) {
        settings = Settings(configuration: configuration, configurationPath: configurationPath, overrides: overrides,
                            threads: threads, logger: logger, notifier: notifier, clock: clock, makeSource: makeSource,
                            connectLatch: connectLatch)
    }

    /// The replay source, or the V4L2 camera.
    public static let standardSource: FrameSourceFactory = { camera, logger in
        switch camera.kind {
        case .replay:
            return try ReplaySource(folder: camera.replayFolder, files: camera.replayFiles, framesPerSecond: camera.replayFPS,
                                    loop: camera.replayLoop, logger: logger)
        case .v4l2:
            return try V4L2Source(settings: camera, logger: logger)
        }
    }

    // MARK: - Control from other threads

    /// Asks the decision loop to stop (signal handlers call this).
    public func requestStop(_ reason: String) { inbox.requestStop(reason) }

    /// Asks the decision loop to reload configuration and model (SIGHUP).
    public func requestReload() { inbox.requestReload() }

    /// The current status (any thread).
    public var currentStatus: DaemonStatus { status.value }

    // MARK: - Running

    /// Runs until asked to stop; returns the process exit status (0 after a requested stop, 1 after a startup
    /// or fatal error). Before it returns the latch owner has been told to lock, and everything stopped.
    public func run() -> Int32 {
        let session: Session
        do {
            session = try Session(settings: settings, inbox: inbox, status: status)
        } catch {
            settings.logger.critical("\(error)")
            try? settings.notifier.status("failed: \(error)")
            return 1
        }
        var exitStatus: Int32 = 0
        do {
            try session.loop()
        } catch {
            settings.logger.critical("\(error)")
            try? settings.notifier.status("failed: \(error)")
            exitStatus = 1
        }
        session.shutDown()
        return exitStatus
    }

    /// One run of the daemon: what `start` built, the loop, and the orderly stop.
    private final class Session {
        var configuration: DaemonConfiguration
        let settings: Settings
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
        var ready = false
        var lastWatchdog: MonotonicInstant?
        var lastCorruptLog: MonotonicInstant?
        /// The current episode's best frame, kept for a near-miss snapshot.
        var episodeBest: (id: UInt64, frame: FramePayload)?

        /// Starts everything in order; on failure, stops what was started and throws.
        init(settings: Settings, inbox: Inbox, status: Locked<DaemonStatus>) throws {
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
            do {
                model = try ActiveModel(path: configuration.model.path, plan: configuration.compute.plan, threads: settings.threads,
                                        trust: try configuration.model.trust())
                logger.info("model verified", metadata: ["path": "\(model.path)", "sha256": "\(model.sha256.prefix(16))",
                                                          "threshold": "\(model.threshold)",
                                                          "admits": "\(model.model.manifest.positiveClass)"])
                let parameters = try configuration.decisionParameters(modelThreshold: model.threshold)
                policy = try DecisionPolicy(parameters: parameters, curfew: configuration.curfew, start: settings.clock.now())
            } catch {
                throw failed(StartupError("model: \(error)"))
            }
            let inbox = inbox
            let worker = InferenceWorker(model: model, motion: Self.motionSettings(configuration.motion),
                                         results: { inbox.post($0) },
                                         cameraChanges: { inbox.cameraStateChanged($0, detail: $1) })
            do { try worker.start() } catch { throw failed(StartupError("inference thread: \(error)")) }
            started.append { worker.stop() }
            let control: ControlServer
            do {
                control = try ControlServer(path: configuration.control.socket, group: configuration.control.group,
                                            statusPath: configuration.control.statusSocket,
                                            statusGroup: configuration.control.statusGroup, logger: logger,
                                            handler: Self.controlHandler(inbox: inbox, status: status))
                try control.start()
            } catch {
                throw failed(StartupError("control socket: \(error)"))
            }
            started.append { control.stop() }
            let source: FrameSource
            do { source = try Self.startSource(configuration.camera, settings: settings, sink: worker) } catch { throw failed(error) }

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
            reloader = ReloadPreparer(configurationPath: settings.configurationPath, overrides: settings.overrides,
                                      threads: settings.threads, logger: logger) { [inbox] in inbox.post(prepared: $0) }
            let now = clock.now()
            for event in latch.sync(unlockedUntil: nil, now: now.monotonic) { handleLatch(event, at: now) }
            record(EventRecord(time: now.wall, kind: "start", mode: policy.mode.name, door: latch.statusText,
                               modelSHA256: model.sha256,
                               details: ["model": .string(model.path), "camera": .string(source.summary)]))
            publishStatus()
        }

        static func openEvents(_ settings: DaemonConfiguration.Events, logger: Logger) throws -> EventWriter {
            do {
                let log = try EventLog(directory: settings.directory, maxBytes: settings.logMaxBytes, keepFiles: settings.logFiles)
                let snapshots = settings.snapshots
                    ? try SnapshotStore(directory: settings.directory + "/snapshots", maxCount: settings.maxSnapshots,
                                        maxBytes: settings.maxSnapshotBytes)
                    : nil
                return try EventWriter(events: log, snapshots: snapshots, logger: logger)
            } catch {
                throw StartupError("events: \(error)")
            }
        }

        /// The motion gate's settings, or nil when the gate is off.
        static func motionSettings(_ m: DaemonConfiguration.Motion) -> MotionGate.Settings? {
            guard m.enabled else { return nil }
            return MotionGate.Settings(sensitivity: m.sensitivity, pixelThreshold: m.pixelThreshold,
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

        static func startSource(_ camera: DaemonConfiguration.Camera, settings: Settings, sink: FrameSink) throws -> FrameSource {
            do {
                let source = try settings.makeSource(camera, settings.logger)
                try source.start(sink: sink)
                // Only the source's thread is running now: whether the camera is there is reported by its state
                // changes ("camera streaming", "camera reconnecting" with "missing", ...).
                settings.logger.info("camera source opening", metadata: ["source": "\(source.summary)"])
                return source
            } catch {
                throw StartupError("camera: \(error)")
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
                        logger.warning("control command dropped: its client stopped waiting", metadata: ["command": "\(pending.command.name)"])
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

        // MARK: - Frames

        func process(_ result: FrameResult) {
            frames.seen += 1
            let probability: Double, elapsed: Double, frame: FramePayload
            let now = clock.now()
            switch result.outcome {
            case .corrupt(let error):
                frames.corrupt += 1
                if lastCorruptLog.map({ now.monotonic - $0 > .seconds(10) }) ?? true {
                    logger.warning("corrupt frame skipped", metadata: ["frame": "\(result.frameID)", "error": "\(error)",
                                                                        "corrupt_total": "\(frames.corrupt)"])
                    lastCorruptLog = now.monotonic
                }
                return
            case .still:
                frames.still += 1
                frames.lastProgress = now.monotonic
                return
            case .evaluated(let p, let ms, let payload):
                (probability, elapsed, frame) = (p, ms, payload)
            }
            frames.evaluated(milliseconds: elapsed, at: now.monotonic)
            let output = policy.handle(.frame(now, probability: probability, frameID: result.frameID))
            if policy.episodeBestFrameID == result.frameID { episodeBest = (result.frameID, frame) }
            apply(output, at: now, frame: (result.frameID, frame), captured: result.captured)
            if policy.episodeBestFrameID == nil { episodeBest = nil }
            logger.debug("frame", metadata: ["id": "\(result.frameID)", "p": "\(fixed(probability, 3))", "ms": "\(fixed(elapsed, 1))"])
            if !ready {
                ready = true
                try? settings.notifier.ready(status: statusLine())
                logger.notice("ready: model verified, first frame processed")
            }
        }

        func cameraChanged(_ state: CameraState, detail: String?, at now: Timestamp) throws {
            let previous = cameraState
            cameraState = state
            if state != previous {
                logger.notice("camera \(state.rawValue)", metadata: detail.map { ["detail": "\($0)"] } ?? [:])
                record(EventRecord(time: now.wall, kind: "camera", mode: policy.mode.name, door: latch.statusText,
                                   details: ["state": .string(state.rawValue), "detail": .string(detail ?? "")]))
            }
            if state == .failed { throw StartupError("camera failed: \(detail ?? "unknown error")") }
        }

        // MARK: - Decisions and the latch

        /// Records the policy's decisions (with snapshots) and brings the latch in line with them.
        func apply(_ output: DecisionOutput, at now: Timestamp, frame: (id: UInt64, payload: FramePayload)?, captured: Timestamp? = nil) {
            if !output.commands.isEmpty { syncLatch(at: now) }
            // Decision latency: from the frame's capture to the latch command (decode, inference, vote, actuation).
            let latencyMS = captured.map { (clock.now().monotonic - $0.monotonic).seconds * 1000 }
            for decision in output.records {
                var snapshot: FramePayload?
                switch decision.kind {
                case .unlock, .rejectedCooldown, .rejectedCurfew, .rejectedLocked:
                    if decision.frameID != nil { snapshot = frame?.payload }
                case .nearMiss:
                    if let best = episodeBest, best.id == decision.frameID { snapshot = best.frame } else { snapshot = frame?.payload }
                default:
                    break
                }
                var event = EventRecord(decision: decision, modelSHA256: model.sha256)
                if let latencyMS, decision.kind == .unlock, decision.frameID == frame?.id {
                    event.details["latency_ms"] = .number((latencyMS * 10).rounded() / 10)
                }
                record(event, snapshot: snapshot)
                let level: Logger.Level = [.unlock, .relock].contains(decision.kind) ? .notice : .info
                logger.log(level: level, "\(decision.kind.rawValue): \(decision.rule)",
                           metadata: ["mode": "\(decision.mode.name)", "scores": "\(decision.scores.map { fixed($0, 2) })"])
            }
        }

        /// Tells the latch owner what the policy wants, and acts on what the owner reports.
        func syncLatch(at now: Timestamp) {
            for event in latch.sync(unlockedUntil: policy.unlockedUntil, now: now.monotonic) { handleLatch(event, at: now) }
            if policy.door == .unlocked && !latch.isConnected {
                // Nothing can open the door: the policy must not believe it did.
                let output = policy.handle(.latchLocked(now, reason: "the latch owner is unreachable (is dogdoor-latch running?)"))
                for decision in output.records { record(EventRecord(decision: decision, modelSHA256: model.sha256)) }
            }
        }

        func handleLatch(_ event: LatchEvent, at now: Timestamp) {
            let kind: String
            var details: JSONObject = [:]
            var relock: String?
            switch event {
            case .relocked(let reason):
                kind = "latch_relocked"
                details["reason"] = .string(reason.rawValue)
                relock = "the latch owner relocked: \(reason.rawValue)"
            case .lockFailed(let attempt, let error):
                kind = "latch_error"
                details["attempt"] = .number(Double(attempt))
                details["error"] = .string(error)
            case .lockRestored(let attempts):
                kind = "latch_restored"
                details["attempts"] = .number(Double(attempts))
            case .unlockRefused(let error):
                kind = "latch_refused"
                details["error"] = .string(error)
                relock = "the latch owner refused the unlock: \(error)"
            case .linkLost(let error):
                kind = "latch_unreachable"
                details["error"] = .string(error)
                relock = "the latch owner is unreachable"
            case .linkUp:
                kind = "latch_connected"
            }
            record(EventRecord(time: now.wall, kind: kind, mode: policy.mode.name, door: latch.statusText, details: details))
            if let relock, policy.door == .unlocked {
                let output = policy.handle(.latchLocked(now, reason: relock))
                for decision in output.records { record(EventRecord(decision: decision, modelSHA256: model.sha256)) }
            }
        }

        // MARK: - Commands

        func handle(_ request: ControlRequest, at now: Timestamp) -> ControlResponse {
            let command = request.command
            let door: DoorCommand
            switch command {
            case .status:
                return .success(status.value)
            case .lock:
                door = .lock
            case .auto:
                door = .auto
            case .unlock(let seconds):
                let allowed = min(Double(seconds), configuration.latch.maxUnlocked.seconds)
                door = .unlock(until: now.monotonic + .milliseconds(Int64(allowed * 1000)))
            }
            let who = request.peer.map { "uid \($0.uid) pid \($0.pid)" } ?? "unknown peer"
            logger.notice("control command", metadata: ["command": "\(command.name)", "from": "\(who)"])
            let output = policy.handle(.command(now, door))
            apply(output, at: now, frame: nil)
            syncLatch(at: now)
            publishStatus()
            let rejected = output.records.first { $0.kind == .rejectedCommand }
            var details: JSONObject = command.json
            details["ok"] = .bool(rejected == nil)
            if let rejected { details["error"] = .string(rejected.rule) }
            if let peer = request.peer {
                details["uid"] = .number(Double(peer.uid))
                details["pid"] = .number(Double(peer.pid))
            }
            record(EventRecord(time: now.wall, kind: "command", mode: policy.mode.name, door: latch.statusText, details: details))
            if let rejected { return .failure(rejected.rule, status: status.value) }
            return .success(status.value)
        }

        // MARK: - Reload

        /// Switches to a verified reload: model, policy (carrying on the mode, a manual unlock's deadline and an
        /// automatic unlock in progress), camera and event files together, or none of them.
        func apply(_ result: Result<PreparedReload, ReloadError>, at now: Timestamp) {
            defer { try? settings.notifier.ready(status: statusLine()) }
            let prepared: PreparedReload
            switch result {
            case .failure(let error):
                reloadFailed(error.description, at: now)
                return
            case .success(let value):
                prepared = value
            }
            let restartNeeded = PreparedReload.changesNeedingRestart(from: configuration, to: prepared.configuration)
            let next = PreparedReload.applicable(prepared.configuration, running: configuration)
            let newPolicy: DecisionPolicy
            do {
                newPolicy = try DecisionPolicy(parameters: prepared.parameters, curfew: next.curfew, continuing: policy, at: now)
            } catch {
                reloadFailed("\(error)", at: now)
                return
            }
            var newEvents: EventWriter?
            if next.events != configuration.events {
                do {
                    newEvents = try Self.openEvents(next.events, logger: logger)
                } catch {
                    reloadFailed("\(error)", at: now)
                    return
                }
            }
            if next.camera != configuration.camera {
                let old = source
                old?.stop()
                source = nil
                do {
                    source = try Self.startSource(next.camera, settings: settings, sink: worker)
                } catch {
                    logger.error("reload: the new camera failed; going back to the running one", metadata: ["error": "\(error)"])
                    do {
                        source = try Self.startSource(configuration.camera, settings: settings, sink: worker)
                    } catch {
                        logger.error("the running camera could not be restarted", metadata: ["error": "\(error)"])
                    }
                    newEvents?.stop()
                    reloadFailed("camera: \(error)", at: now)
                    return
                }
            }
            // Everything verified and started: switch.
            policy = newPolicy
            model = prepared.model
            episodeBest = nil
            worker.use(model: prepared.model, motion: Self.motionSettings(next.motion))
            let eventsChanged = newEvents != nil
            configuration = next
            if let newEvents {
                let old = events
                events = newEvents
                // The old writer finishes its queue on a thread of its own: the loop does not wait for a disk.
                _ = try? NamedThread(name: "events-close") { old.stop() }
            }
            syncLatch(at: now)
            var details: JSONObject = ["model": .string(model.path)]
            if !restartNeeded.isEmpty { details["needs_restart"] = .array(restartNeeded.map { .string($0) }) }
            if eventsChanged { details["events"] = .string(next.events.directory) }
            record(EventRecord(time: now.wall, kind: "reload", mode: policy.mode.name, door: latch.statusText,
                               modelSHA256: model.sha256, details: details))
            if restartNeeded.isEmpty {
                logger.notice("reloaded", metadata: ["model": "\(model.path)", "sha256": "\(model.sha256.prefix(16))"])
            } else {
                logger.warning("reloaded, but these changes take effect only after a restart (systemctl restart dogdoor-latch dogdoord)",
                               metadata: ["needs_restart": "\(restartNeeded.joined(separator: ", "))", "model": "\(model.path)"])
            }
        }

        func reloadFailed(_ error: String, at now: Timestamp) {
            logger.error("reload failed; keeping the running configuration, model and camera", metadata: ["error": "\(error)"])
            record(EventRecord(time: now.wall, kind: "reload_failed", mode: policy.mode.name, door: latch.statusText,
                               modelSHA256: model.sha256, details: ["error": .string(error)]))
        }

        // MARK: - Status, watchdog, events

        func publishStatus() {
            let now = clock.now().monotonic
            var remaining: Double?
            if case .unlocked(let until, _) = policy.mode { remaining = max(0, (until - now).seconds) }
            let value = DaemonStatus(
                mode: policy.mode.name, unlockRemainingSeconds: remaining, latch: latch.statusText,
                camera: cameraState.rawValue, framesPerSecond: frames.framesPerSecond, inferenceMilliseconds: frames.inferenceMilliseconds,
                curfew: policy.activeCurfew?.description, lastDecision: policy.lastRecord.map(DaemonStatus.Decision.init),
                model: DaemonStatus.Model(path: model.path, sha256: model.sha256, threshold: policy.parameters.threshold),
                frames: DaemonStatus.Frames(seen: frames.seen, evaluated: frames.evaluatedCount, corrupt: frames.corrupt,
                                            dropped: worker.droppedFrames, still: frames.still))
            status.withLock { $0 = value }
        }

        func statusLine() -> String {
            let s = status.value
            return "\(s.mode), door \(s.latch), camera \(s.camera), \(fixed(s.framesPerSecond, 1)) fps, \(fixed(s.inferenceMilliseconds, 0)) ms/frame"
        }

        /// WATCHDOG=1 only while frames are actually being processed: a stuck pipeline stops the pings and
        /// systemd restarts the daemon. A finished replay is healthy idleness.
        func feedWatchdog(at now: MonotonicInstant) {
            guard let interval = settings.notifier.watchdogInterval else { return }
            if let last = lastWatchdog, now - last < interval / 3 { return }
            let progressing = frames.lastProgress.map { now - $0 < interval / 2 } ?? false || cameraState == .finished
            guard ready, progressing else { return }
            lastWatchdog = now
            try? settings.notifier.watchdog()
            try? settings.notifier.status(statusLine())
        }

        func record(_ event: EventRecord, snapshot: FramePayload? = nil) {
            events.record(event, snapshot: snapshot)
        }

        /// Locks first (the latch owner is told before anything else stops), then stops the camera, the
        /// inference worker and the control socket, and writes the last events.
        func shutDown() {
            try? settings.notifier.stopping()
            latch.lockAndClose()
            let now = clock.now()
            logger.notice("door locked (the latch owner holds it)")
            source?.stop()
            worker.stop()
            control.stop()
            let dropped = events.dropped
            record(EventRecord(time: now.wall, kind: "stop", mode: policy.mode.name, door: "locked", modelSHA256: model.sha256,
                               details: ["frames_seen": .number(Double(frames.seen)),
                                         "frames_evaluated": .number(Double(frames.evaluatedCount)),
                                         "frames_still": .number(Double(frames.still)),
                                         "cpu_seconds": .number(processCPUSeconds()),
                                         "frames_corrupt": .number(Double(frames.corrupt)),
                                         "frames_dropped": .number(Double(worker.droppedFrames)),
                                         "events_dropped": .number(Double(dropped.events)),
                                         "snapshots_dropped": .number(Double(dropped.snapshots))]))
            events.stop()
        }
    }
}

/// Frame counters and rates for status and the watchdog.
struct FrameCounters {
    var seen: UInt64 = 0
    var evaluatedCount: UInt64 = 0
    var corrupt: UInt64 = 0
    var still: UInt64 = 0
    /// When the pipeline last made progress (a frame evaluated or found still).
    var lastProgress: MonotonicInstant?
    /// Mean inference time, exponentially weighted.
    private(set) var inferenceMilliseconds = 0.0
    private var recent: [MonotonicInstant] = []

    mutating func evaluated(milliseconds: Double, at now: MonotonicInstant) {
        inferenceMilliseconds = evaluatedCount == 0 ? milliseconds : 0.9 * inferenceMilliseconds + 0.1 * milliseconds
        evaluatedCount += 1
        lastProgress = now
        recent.append(now)
        recent.removeAll { now - $0 > .seconds(5) }
    }

    /// Frames evaluated per second over the last five seconds.
    var framesPerSecond: Double {
        guard recent.count > 1, let first = recent.first, let last = recent.last, last > first else { return 0 }
        return Double(recent.count - 1) / (last - first).seconds
    }
}
