import Door
import Imaging
import Logging
import NeuralNet
import Support
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why the daemon cannot start (configuration, model, latch, camera, state directory, control socket).
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Builds the frame source a configuration names. The daemon asks again after a SIGHUP changed `[camera]`.
public typealias FrameSourceFactory = @Sendable (DaemonConfiguration.Camera, Logger) throws -> FrameSource

/// Builds the latch a configuration names (locked when returned).
public typealias LatchFactory = @Sendable (DaemonConfiguration.LatchSettings, Logger) throws -> any Latch

/// The door daemon: frames in, a locked or unlocked door out, and a record of every decision.
///
/// One thread (the caller of `run`) owns everything that decides: it feeds the decision policy, drives the
/// latch through the latch guard, answers control commands and writes events, and so keeps every timer on
/// time. The network runs on the inference worker's thread, which takes the newest camera frame, decodes it,
/// asks the motion gate and runs the model. Other threads only hand the main loop things through the inbox:
/// frame results, camera states, control commands (answered once carried out), and signals (stop, reload).
///
/// Fail-secure: the latch is opened and locked before anything else; every exit from `run`, whether a
/// stop request, a startup error or an unexpected error, locks and releases it; a process killed outright
/// releases the GPIO line, which returns to its inactive (locked) level.
public final class DoorDaemon: @unchecked Sendable {
    private var configuration: DaemonConfiguration
    private let configurationPath: String?
    private let overrides: [(key: String, value: String)]
    private let threads: ComputeThreads
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let clock: any DoorClock
    private let makeSource: FrameSourceFactory
    private let makeLatch: LatchFactory
    private let inbox = Inbox()

    private var model: ActiveModel!
    private var policy: DecisionPolicy!
    private var latchGuard: LatchGuard!
    private var source: FrameSource?
    private var events: EventLog!
    private var snapshots: SnapshotStore?
    private var control: ControlServer?
    private let status = Mutex<DaemonStatus>(DaemonStatus(mode: "auto", latch: "locked", camera: "starting",
                                                          framesPerSecond: 0, inferenceMilliseconds: 0))
    private var cameraState = CameraState.starting
    private var ready = false
    private var lastWatchdog = 0.0
    private var lastProgress = MonotonicClock.now()
    private var recentFrames: [Double] = []
    private var inferenceMilliseconds = 0.0
    private var counters = (seen: UInt64(0), evaluated: UInt64(0), corrupt: UInt64(0), still: UInt64(0))
    private var worker: InferenceWorker!
    private var lastCorruptLog = 0.0
    /// The image of the current episode's best frame, kept for a near-miss snapshot.
    private var episodeBest: (id: UInt64, image: Image)?
    /// Exit status of `run`.
    private var exitStatus: Int32 = 0

    public init(configuration: DaemonConfiguration, configurationPath: String?, overrides: [(key: String, value: String)],
                threads: ComputeThreads, logger: Logger, notifier: SystemdNotifier = .fromProcessEnvironment(),
                clock: any DoorClock = SystemClock(), makeSource: @escaping FrameSourceFactory = DoorDaemon.standardSource,
                makeLatch: @escaping LatchFactory = DoorDaemon.standardLatch) {
        self.configuration = configuration
        self.configurationPath = configurationPath
        self.overrides = overrides
        self.threads = threads
        self.logger = logger
        self.notifier = notifier
        self.clock = clock
        self.makeSource = makeSource
        self.makeLatch = makeLatch
    }

    // MARK: - Factories

    /// The replay source (the V4L2 camera is added by the camera layer).
    public static let standardSource: FrameSourceFactory = { camera, logger in
        switch camera.kind {
        case .replay:
            return try ReplaySource(folder: camera.replayFolder, files: camera.replayFiles, framesPerSecond: camera.replayFPS,
                                    loop: camera.replayLoop, logger: logger)
        case .v4l2:
            return try V4L2Source(settings: camera, logger: logger)
        }
    }

    public static let standardLatch: LatchFactory = { settings, logger in
        switch settings.kind {
        case .simulated: return SimulatedLatch(name: "simulated", logger: logger)
        case .gpio: return try GPIOLatch(chip: settings.chip, line: settings.line, activeLow: settings.activeLow)
        }
    }

    // MARK: - Control from other threads

    /// Asks the main loop to stop (signal handlers call this).
    public func requestStop(_ reason: String) { inbox.requestStop(reason) }

    /// Asks the main loop to reload configuration and model (SIGHUP).
    public func requestReload() { inbox.requestReload() }

    /// The current status (any thread).
    public var currentStatus: DaemonStatus { status.withLock { $0 } }

    // MARK: - Running

    /// Runs until asked to stop; returns the process exit status (0 after a requested stop, 1 after a startup
    /// or fatal error). The latch is locked and released before this returns, whatever happened.
    public func run() -> Int32 {
        do {
            try start()
            try loop()
        } catch {
            logger.critical("\(error)")
            try? notifier.status("failed: \(error)")
            exitStatus = 1
        }
        shutdown()
        return exitStatus
    }

    private func start() throws {
        // The latch first: from here on, the door is known to be locked.
        let latch: any Latch
        do {
            latch = try makeLatch(configuration.latch, logger)
        } catch {
            throw StartupError("latch: \(error)")
        }
        latchGuard = LatchGuard(latch: latch, minimumGap: configuration.latch.minGap,
                                maximumUnlocked: configuration.latch.maxUnlocked)
        logger.info("latch ready and locked", metadata: ["latch": "\(configuration.latch.kind.rawValue)"])

        try? notifier.status("verifying model \(configuration.model.path)")
        do {
            model = try ActiveModel(path: configuration.model.path, plan: configuration.compute.plan, threads: threads)
        } catch {
            throw StartupError("model: \(error)")
        }
        logger.info("model verified", metadata: ["path": "\(model.path)", "sha256": "\(model.sha256.prefix(16))",
                                                  "threshold": "\(model.threshold)",
                                                  "admits": "\(model.model.manifest.positiveClass)"])
        policy = try makePolicy(configuration)
        worker = InferenceWorker(inbox: inbox, model: model, motion: Self.motionSettings(configuration.motion))
        try worker.start()
        try openEvents(configuration.events)
        try startControl(configuration.control)
        try startSource(configuration.camera)
        record(EventRecord(time: clock.now().wall, kind: "start", mode: policy.mode.name, door: "locked",
                           modelSHA256: model.sha256,
                           details: ["model": .string(model.path), "camera": .string(source?.summary ?? "")]))
        publishStatus()
    }

    /// The motion gate's settings, or nil when the gate is off.
    static func motionSettings(_ m: DaemonConfiguration.Motion) -> MotionGate.Settings? {
        guard m.enabled else { return nil }
        return MotionGate.Settings(sensitivity: m.sensitivity, pixelThreshold: m.pixelThreshold,
                                   holdAfterMotion: m.holdAfterMotion.seconds, idleInterval: m.idleInterval.seconds)
    }

    private func makePolicy(_ configuration: DaemonConfiguration, mode: ResumeMode = .auto) throws -> DecisionPolicy {
        let parameters = try configuration.decisionParameters(modelThreshold: model.threshold)
        return try DecisionPolicy(parameters: parameters, curfew: configuration.curfew, mode: mode, start: clock.now())
    }

    private func openEvents(_ settings: DaemonConfiguration.Events) throws {
        do {
            events = try EventLog(directory: settings.directory, maxBytes: settings.logMaxBytes, keepFiles: settings.logFiles)
            snapshots = settings.snapshots
                ? try SnapshotStore(directory: settings.directory + "/snapshots", maxCount: settings.maxSnapshots,
                                    maxBytes: settings.maxSnapshotBytes)
                : nil
        } catch {
            throw StartupError("events: \(error)")
        }
    }

    private func startControl(_ settings: DaemonConfiguration.Control) throws {
        do {
            control = try ControlServer(path: settings.socket, group: settings.group, logger: logger) { [weak self] request in
                guard let self else { return .failure("daemon is stopping") }
                if request.command == .status { return .success(self.currentStatus) }
                let pending = PendingCommand(request.command)
                self.inbox.submit(pending)
                return pending.wait(seconds: 10)
                    ?? .failure("the daemon was busy for 10 s (a frame in progress); the command was not carried out")
            }
            try control?.start()
        } catch {
            throw StartupError("control socket: \(error)")
        }
    }

    private func startSource(_ camera: DaemonConfiguration.Camera) throws {
        do {
            let source = try makeSource(camera, logger)
            try source.start(sink: worker)
            self.source = source
            logger.info("camera started", metadata: ["source": "\(source.summary)"])
        } catch {
            throw StartupError("camera: \(error)")
        }
    }

    private func loop() throws {
        while true {
            let item = inbox.next(until: nextWake())
            let now = clock.now()
            switch item {
            case .stop(let reason):
                logger.notice("stopping", metadata: ["reason": "\(reason)"])
                return
            case .command(let pending):
                if pending.take() {
                    pending.answer(handle(pending.command, at: now))
                } else {
                    logger.warning("control command dropped: its client stopped waiting", metadata: ["command": "\(pending.command)"])
                }
            case .reload:
                reload(at: now)
            case .camera(let state, let detail):
                try cameraChanged(state, detail: detail, at: now)
                if state == .finished && !configuration.camera.replayLoop { return }
            case .result(let result):
                process(result)
            case .timeout:
                break
            }
            let tickTime = clock.now()
            apply(policy.handle(.tick(tickTime)), at: tickTime, image: nil)
            tickLatch(at: tickTime)
            publishStatus()
            feedWatchdog()
        }
    }

    /// When the loop must wake at the latest: policy and latch timers, the status refresh and the watchdog.
    private func nextWake() -> Double {
        var wake = MonotonicClock.now() + 0.5
        let now = clock.now().monotonic
        for deadline in [policy.nextDeadline, latchGuard.nextDeadline].compactMap({ $0 }) {
            wake = min(wake, MonotonicClock.now() + max(0, (deadline - now).seconds) + 0.001)
        }
        return wake
    }

    // MARK: - Frames

    private func process(_ result: FrameResult) {
        counters.seen += 1
        let probability: Double, elapsed: Double, image: Image
        switch result.outcome {
        case .corrupt(let error):
            counters.corrupt += 1
            let now = MonotonicClock.now()
            if now - lastCorruptLog > 10 {
                logger.warning("corrupt frame skipped", metadata: ["frame": "\(result.frameID)", "error": "\(error)",
                                                                    "corrupt_total": "\(counters.corrupt)"])
                lastCorruptLog = now
            }
            return
        case .still:
            counters.still += 1
            lastProgress = MonotonicClock.now()
            return
        case .evaluated(let p, let ms, let frameImage):
            (probability, elapsed, image) = (p, ms, frameImage)
        }
        inferenceMilliseconds = counters.evaluated == 0 ? elapsed : 0.9 * inferenceMilliseconds + 0.1 * elapsed
        counters.evaluated += 1
        let done = MonotonicClock.now()
        lastProgress = done
        recentFrames.append(done)
        recentFrames.removeAll { $0 < done - 5 }
        let now = clock.now()
        let output = policy.handle(.frame(now, probability: probability, frameID: result.frameID))
        if policy.episodeBestFrameID == result.frameID { episodeBest = (result.frameID, image) }
        apply(output, at: now, image: (result.frameID, image), captured: result.captured)
        if policy.episodeBestFrameID == nil { episodeBest = nil }
        logger.debug("frame", metadata: ["id": "\(result.frameID)", "p": "\(fixed(probability, 3))", "ms": "\(fixed(elapsed, 1))"])
        if !ready {
            ready = true
            try? notifier.ready(status: statusLine())
            logger.notice("ready: model verified, first frame processed")
        }
    }

    private func cameraChanged(_ state: CameraState, detail: String?, at now: Timestamp) throws {
        let previous = cameraState
        cameraState = state
        if state != previous {
            logger.notice("camera \(state.rawValue)", metadata: detail.map { ["detail": "\($0)"] } ?? [:])
            record(EventRecord(time: now.wall, kind: "camera", mode: policy.mode.name, door: latchGuard.state.rawValue,
                               details: ["state": .string(state.rawValue), "detail": .string(detail ?? "")]))
        }
        if state == .failed { throw StartupError("camera failed: \(detail ?? "unknown error")") }
    }

    // MARK: - Decisions and the latch

    /// Carries out the policy's latch commands and writes its decision records (with snapshots).
    private func apply(_ output: DecisionOutput, at now: Timestamp, image frame: (id: UInt64, image: Image)?,
                       captured: Timestamp? = nil) {
        for command in output.commands {
            do {
                switch command {
                case .lock:
                    try latchGuard.lock(at: now.monotonic)
                case .unlock:
                    if case .deferred(let until) = try latchGuard.unlock(at: now.monotonic) {
                        logger.info("unlock deferred by the latch's minimum gap", metadata: ["seconds": "\(fixed((until - now.monotonic).seconds, 2))"])
                    }
                }
            } catch {
                latchFailed(error, at: now)
            }
        }
        // Decision latency: from the frame's capture to the latch command (decode, inference, vote, actuation).
        let latencyMS = captured.map { (clock.now().monotonic - $0.monotonic).seconds * 1000 }
        for decision in output.records {
            var snapshot: String?
            if let snapshots {
                var image: Image?
                switch decision.kind {
                case .unlock, .rejectedCooldown, .rejectedCurfew, .rejectedLocked:
                    if decision.frameID != nil { image = frame?.image }
                case .nearMiss:
                    if let best = episodeBest, best.id == decision.frameID { image = best.image } else { image = frame?.image }
                default:
                    break
                }
                if let image {
                    do {
                        snapshot = try snapshots.save(jpeg: try JPEGEncoder.encode(image, options: JPEGEncodeOptions(quality: 85)),
                                                      time: decision.time.wall, kind: decision.kind.rawValue)
                    } catch {
                        logger.error("snapshot not saved", metadata: ["error": "\(error)"])
                    }
                }
            }
            var event = EventRecord(decision: decision, modelSHA256: model.sha256, snapshot: snapshot)
            if let latencyMS, decision.kind == .unlock, decision.frameID == frame?.id {
                event.details["latency_ms"] = .number((latencyMS * 10).rounded() / 10)
            }
            record(event)
            let level: Logger.Level = [.unlock, .relock].contains(decision.kind) ? .notice : .info
            logger.log(level: level, "\(decision.kind.rawValue): \(decision.rule)",
                       metadata: ["mode": "\(decision.mode.name)", "scores": "\(decision.scores.map { fixed($0, 2) })"])
        }
    }

    private func tickLatch(at now: Timestamp) {
        do {
            if try latchGuard.tick(at: now.monotonic) == .forcedLock {
                apply(policy.handle(.latchLocked(now, reason: "latch energised for the maximum time")), at: now, image: nil)
            }
        } catch {
            latchFailed(error, at: now)
        }
    }

    /// A latch operation failed: make sure the door is locked, tell the policy, record it.
    private func latchFailed(_ error: Error, at now: Timestamp) {
        logger.error("latch operation failed; locking", metadata: ["error": "\(error)"])
        _ = try? latchGuard.lock(at: now.monotonic)
        record(EventRecord(time: now.wall, kind: "latch_error", mode: policy.mode.name, door: latchGuard.state.rawValue,
                           details: ["error": .string("\(error)")]))
        let output = policy.handle(.latchLocked(now, reason: "latch error: \(error)"))
        for decision in output.records { record(EventRecord(decision: decision, modelSHA256: model.sha256)) }
    }

    private func handle(_ command: ControlCommand, at now: Timestamp) -> ControlResponse {
        let door: DoorCommand
        switch command {
        case .status:
            return .success(currentStatus)
        case .lock:
            door = .lock
        case .auto:
            door = .auto
        case .unlock(let seconds):
            let allowed = min(Double(seconds), configuration.latch.maxUnlocked.seconds)
            door = .unlock(until: now.monotonic + .milliseconds(Int64(allowed * 1000)))
        }
        logger.notice("control command", metadata: ["command": "\(command)"])
        let output = policy.handle(.command(now, door))
        apply(output, at: now, image: nil)
        publishStatus()
        if let rejected = output.records.first(where: { $0.kind == .rejectedCommand }) {
            return .failure(rejected.rule, status: currentStatus)
        }
        return .success(currentStatus)
    }

    // MARK: - Reload (SIGHUP)

    /// Re-reads the configuration file and the model. Nothing changes unless everything new verifies: a
    /// broken file or model leaves the old ones running, and the error is logged.
    private func reload(at now: Timestamp) {
        logger.notice("reloading configuration and model")
        try? notifier.reloading()
        defer { try? notifier.status(statusLine()) }
        do {
            var next = configurationPath.map { _ in DaemonConfiguration.defaults } ?? configuration
            if let path = configurationPath { next = try DaemonConfiguration.load(path: path) }
            for (key, value) in overrides { try next.apply(override: key, value: value) }
            let newModel = try ActiveModel(path: next.model.path, plan: next.compute.plan, threads: threads)
            let previousModel = model
            model = newModel
            let resume: ResumeMode = policy.mode == .locked ? .locked : .auto
            let newPolicy: DecisionPolicy
            do {
                newPolicy = try makePolicy(next, mode: resume)
            } catch {
                model = previousModel
                throw error
            }
            // Everything verified: switch. The door locks across the switch (a fresh policy starts locked).
            try latchGuard.lock(at: now.monotonic)
            policy = newPolicy
            episodeBest = nil
            worker.use(model: newModel, motion: Self.motionSettings(next.motion))
            if next.camera != configuration.camera {
                source?.stop()
                source = nil
                try startSource(next.camera)
            }
            if next.events != configuration.events { try openEvents(next.events) }
            configuration = next
            record(EventRecord(time: now.wall, kind: "reload", mode: policy.mode.name, door: latchGuard.state.rawValue,
                               modelSHA256: model.sha256, details: ["model": .string(model.path)]))
            logger.notice("reloaded", metadata: ["model": "\(model.path)", "sha256": "\(model.sha256.prefix(16))"])
        } catch {
            logger.error("reload failed; keeping the running configuration and model", metadata: ["error": "\(error)"])
            record(EventRecord(time: now.wall, kind: "reload_failed", mode: policy.mode.name, door: latchGuard.state.rawValue,
                               modelSHA256: model.sha256, details: ["error": .string("\(error)")]))
        }
    }

    // MARK: - Status, watchdog, events

    private func publishStatus() {
        let now = clock.now().monotonic
        let fps = recentFrames.count > 1 ? Double(recentFrames.count - 1) / max(0.001, recentFrames.last! - recentFrames.first!) : 0
        var remaining: Double?
        if case .unlocked(let until, _) = policy.mode { remaining = max(0, (until - now).seconds) }
        let value = DaemonStatus(
            mode: policy.mode.name, unlockRemainingSeconds: remaining, latch: latchGuard.state.rawValue,
            camera: cameraState.rawValue, framesPerSecond: fps, inferenceMilliseconds: inferenceMilliseconds,
            curfew: policy.activeCurfew?.description, lastDecision: policy.lastRecord.map(DaemonStatus.Decision.init),
            model: DaemonStatus.Model(path: model.path, sha256: model.sha256, threshold: policy.parameters.threshold),
            frames: DaemonStatus.Frames(seen: counters.seen, evaluated: counters.evaluated, corrupt: counters.corrupt,
                                        dropped: worker?.droppedFrames ?? 0, still: counters.still))
        status.withLock { $0 = value }
    }

    private func statusLine() -> String {
        let s = currentStatus
        return "\(s.mode), door \(s.latch), camera \(s.camera), \(fixed(s.framesPerSecond, 1)) fps, \(fixed(s.inferenceMilliseconds, 0)) ms/frame"
    }

    /// WATCHDOG=1 only while frames are actually being processed: a stuck pipeline stops the pings and
    /// systemd restarts the daemon. A finished replay is healthy idleness.
    private func feedWatchdog() {
        guard let interval = notifier.watchdogInterval else { return }
        let now = MonotonicClock.now()
        guard now - lastWatchdog >= interval.seconds / 3 else { return }
        let progressing = now - lastProgress < interval.seconds / 2 || cameraState == .finished
        guard ready, progressing else { return }
        lastWatchdog = now
        try? notifier.watchdog()
        try? notifier.status(statusLine())
    }

    private func record(_ event: EventRecord) {
        guard let events else { return }
        do {
            try events.append(event)
        } catch {
            logger.error("event not written", metadata: ["error": "\(error)", "kind": "\(event.kind)"])
        }
    }

    private func shutdown() {
        try? notifier.stopping()
        let now = clock.now()
        source?.stop()
        worker?.stop()
        control?.stop()
        if let latchGuard {
            do {
                try latchGuard.close()
            } catch {
                logger.critical("could not lock and release the latch", metadata: ["error": "\(error)"])
                exitStatus = 1
            }
            record(EventRecord(time: now.wall, kind: "stop", mode: policy?.mode.name, door: latchGuard.state.rawValue,
                               modelSHA256: model?.sha256,
                               details: ["frames_seen": .number(Double(counters.seen)),
                                         "frames_evaluated": .number(Double(counters.evaluated)),
                                         "frames_still": .number(Double(counters.still)),
                                         "cpu_seconds": .number(processCPUSeconds()),
                                         "frames_corrupt": .number(Double(counters.corrupt)),
                                         "frames_dropped": .number(Double(worker?.droppedFrames ?? 0))]))
            logger.notice("door locked and latch released")
        }
        events?.close()
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
