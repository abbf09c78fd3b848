import Camera
import EventLog
import Imaging
import Logging
import Support

/// Writes the event log and snapshots on its own thread, so that the decision loop never waits for a disk:
/// every event is fsynced and a snapshot is a JPEG encode plus an atomic file write, which a slow SD card can
/// stretch to seconds.
///
/// Bounded: at most `maximumQueuedEvents` events and `maximumQueuedSnapshots` snapshot images wait. Past
/// that, new snapshots are dropped (their event is still written, marked `"snapshot_dropped": true`) and,
/// only if the disk has stopped taking anything for thousands of events, events too; both are counted, and
/// logged once per burst. Nothing else is ever lost: `stop()` writes what is queued before it returns.
final class EventWriter: Sendable {
    static let maximumQueuedEvents = 4_096
    static let maximumQueuedSnapshots = 8

    private struct Job {
        var event: EventRecord
        var snapshot: FramePayload?
    }

    private struct State {
        var jobs: [Job] = []
        /// The newest evaluated frame to write as the latest frame, and where (one slot: a newer frame
        /// replaces one not written yet, so it never queues).
        var latest: (path: String, frame: FramePayload)?
        var queuedSnapshots = 0
        var stopping = false
        var events: EventLog?
        var snapshots: SnapshotStore?
        var droppedEvents = 0
        var droppedSnapshots = 0
        var warnedAtDrops = 0
    }

    private let state = ConditionLock(State())
    private let logger: Logger
    private let thread: NamedThread

    init(events: EventLog, snapshots: SnapshotStore?, logger: Logger) throws(SystemError) {
        self.logger = logger
        state.withLock { lock in
            lock.state.events = events
            lock.state.snapshots = snapshots
        }
        let state = state
        thread = try NamedThread(name: "events") { Self.run(state, logger: logger) }
    }

    /// Queues `event`, with the frame to store as its snapshot if one should be kept. Never blocks: the frame
    /// is decoded (at the camera's resolution) and encoded on the writer's thread.
    func record(_ event: EventRecord, snapshot image: FramePayload? = nil) {
        state.withLock { lock in
            guard !lock.state.stopping else { return }
            var job = Job(event: event, snapshot: image)
            if image != nil, lock.state.snapshots == nil { job.snapshot = nil }
            if job.snapshot != nil && lock.state.queuedSnapshots >= Self.maximumQueuedSnapshots {
                job.snapshot = nil
                job.event.details["snapshot_dropped"] = true
                lock.state.droppedSnapshots += 1
            }
            if lock.state.jobs.count >= Self.maximumQueuedEvents {
                lock.state.droppedEvents += 1
                return
            }
            if job.snapshot != nil { lock.state.queuedSnapshots += 1 }
            lock.state.jobs.append(job)
            lock.signal()
        }
    }

    /// Keeps `frame` as the latest evaluated frame at `path` (a JPEG the web app shows), replacing one that was
    /// not written yet. Never blocks.
    func keepLatest(_ frame: FramePayload, at path: String) {
        state.withLock { lock in
            guard !lock.state.stopping else { return }
            lock.state.latest = (path, frame)
            lock.signal()
        }
    }

    /// Writes to `events` and `snapshots` from now on (after a reload changed `[events]`).
    func use(events: EventLog, snapshots: SnapshotStore?) {
        state.withLock { lock in
            lock.state.events = events
            lock.state.snapshots = snapshots
        }
    }

    /// Events and snapshots dropped because the disk could not keep up.
    var dropped: (events: Int, snapshots: Int) {
        state.withLock { ($0.state.droppedEvents, $0.state.droppedSnapshots) }
    }

    /// Writes what is queued, then stops the thread and closes the event log.
    func stop() {
        state.withLock { lock in
            lock.state.stopping = true
            lock.signal()
        }
        thread.join()
    }

    private static func run(_ state: ConditionLock<State>, logger: Logger) {
        while true {
            let next:
                (
                    job: Job?, events: EventLog?, snapshots: SnapshotStore?, dropped: (Int, Int)?,
                    latest: (path: String, frame: FramePayload)?
                ) = state.withLock { lock in
                    while lock.state.jobs.isEmpty && lock.state.latest == nil && !lock.state.stopping { lock.wait() }
                    // Events first; the latest frame when no event waits (it is only a view).
                    if lock.state.jobs.isEmpty, let latest = lock.state.latest, !lock.state.stopping {
                        lock.state.latest = nil
                        return (nil, nil, nil, nil, latest)
                    }
                    var dropped: (Int, Int)?
                    let total = lock.state.droppedEvents + lock.state.droppedSnapshots
                    if total > lock.state.warnedAtDrops {
                        lock.state.warnedAtDrops = total * 2
                        dropped = (lock.state.droppedEvents, lock.state.droppedSnapshots)
                    }
                    guard !lock.state.jobs.isEmpty else { return (nil, lock.state.events, nil, dropped, nil) }
                    let job = lock.state.jobs.removeFirst()
                    if job.snapshot != nil { lock.state.queuedSnapshots -= 1 }
                    return (job, lock.state.events, lock.state.snapshots, dropped, nil)
                }
            if let latest = next.latest {
                writeLatest(latest.frame, to: latest.path, logger: logger)
                continue
            }
            if let (events, snapshots) = next.dropped {
                logger.warning(
                    "the disk cannot keep up: events or snapshots dropped",
                    metadata: ["events_dropped": "\(events)", "snapshots_dropped": "\(snapshots)"])
            }
            guard let job = next.job else {
                next.events?.close()
                return
            }
            var event = job.event
            if let frame = job.snapshot, let snapshots = next.snapshots {
                do {
                    let jpeg = try JPEGEncoder.encode(
                        try Self.fullImage(frame), options: JPEGEncodeOptions(quality: 85))
                    event.snapshot = try snapshots.save(jpeg: jpeg, time: event.time, kind: event.kind)
                } catch {
                    logger.error("snapshot not saved", metadata: ["error": "\(error)", "kind": "\(event.kind)"])
                }
            }
            do {
                try next.events?.append(event)
            } catch {
                logger.error("event not written", metadata: ["error": "\(error)", "kind": "\(event.kind)"])
            }
        }
    }

    /// Writes the latest frame (re-encoded: a camera's MJPEG may lack the tables a standalone JPEG needs). A
    /// JPEG frame is decoded DCT-scaled to about 320x240, which is enough for a phone's view and keeps this
    /// thread's buffers (and so the daemon's memory) small. Failures are logged at debug level only: the view
    /// is a convenience, and the next frame tries again.
    private static func writeLatest(_ frame: FramePayload, to path: String, logger: Logger) {
        do {
            let image = try fullImage(frame, options: DecodeOptions(minimumSide: 240))
            let jpeg = try JPEGEncoder.encode(image, options: JPEGEncodeOptions(quality: 75))
            try AtomicFile.write(jpeg, to: path, permissions: 0o640)
        } catch {
            logger.debug("latest frame not written", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    /// The frame as the camera delivered it, decoded at its own resolution (within the decoders' limits).
    static func fullImage(
        _ frame: FramePayload, options: DecodeOptions = DecodeOptions()
    ) throws(ImagingError)
        -> Image
    {
        switch frame {
        case .encoded(let bytes, let name): try ImageDecoder.decode(bytes, source: name, options: options)
        case .camera(let cameraFrame): try cameraFrame.image(options: options)
        }
    }
}
