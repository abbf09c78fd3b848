import Camera
import Control
import DecisionCore
import DoorConfiguration
import EventLog
import Imaging
import Inference
import LatchLink
import Logging
import NeuralNet
import Support
import Synchronization

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
    private let status = Locked<DaemonStatus>(
        DaemonStatus(
            mode: .auto, latch: .locked, camera: .starting,
            framesPerSecond: 0, inferenceMilliseconds: 0))

    /// What the daemon was started with (the session reads it).
    struct Settings: Sendable {
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

    public init(
        configuration: DaemonConfiguration, configurationPath: String?, overrides: [(key: String, value: String)],
        threads: ComputeThreads, logger: Logger, notifier: SystemdNotifier = .fromProcessEnvironment(),
        clock: any DoorClock = SystemClock(), makeSource: @escaping FrameSourceFactory = DoorDaemon.standardSource,
        connectLatch: LatchConnector? = nil
    ) {
        settings = Settings(
            configuration: configuration, configurationPath: configurationPath, overrides: overrides,
            threads: threads, logger: logger, notifier: notifier, clock: clock, makeSource: makeSource,
            connectLatch: connectLatch)
    }

    /// The replay source, or the V4L2 camera.
    public static let standardSource: FrameSourceFactory = { camera, logger in
        switch camera.kind {
        case .replay:
            return try ReplaySource(
                folder: camera.replayFolder, files: camera.replayFiles, framesPerSecond: camera.replayFPS,
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
        let session: DaemonSession
        do {
            session = try DaemonSession(settings: settings, inbox: inbox, status: status)
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
}
