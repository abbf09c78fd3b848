import Camera
import EventLog
import Inference
import Logging
import Support

// Frames from the inference worker: counting them and feeding the policy.
extension DaemonSession {
    func process(_ result: FrameResult) {
        frames.seen += 1
        let probability: Double, elapsed: Double, frame: FramePayload
        let now = clock.now()
        switch result.outcome {
        case .corrupt(let error):
            frames.corrupt += 1
            if lastCorruptLog.map({ now.monotonic - $0 > .seconds(10) }) ?? true {
                logger.warning(
                    "corrupt frame skipped",
                    metadata: [
                        "frame": "\(result.frameID)", "error": "\(error)",
                        "corrupt_total": "\(frames.corrupt)",
                    ])
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
        if output.records.isEmpty { keepIfUncertain(probability, frameID: result.frameID, frame: frame, at: now) }
        keepLatest(frame, at: now.monotonic)
        if policy.episodeBestFrameID == nil { episodeBest = nil }
        logger.debug(
            "frame",
            metadata: ["id": "\(result.frameID)", "p": "\(fixed(probability, 3))", "ms": "\(fixed(elapsed, 1))"])
        if !ready {
            ready = true
            try? settings.notifier.ready(status: statusLine())
            logger.notice("ready: model verified, first frame processed")
        }
    }

    /// The latest evaluated frame, at most once per `events.latest_frame_interval`, beside the control socket.
    func keepLatest(_ frame: FramePayload, at now: MonotonicInstant) {
        let interval = configuration.events.latestFrameInterval
        guard interval > .zero, lastLatestFrame.map({ now - $0 >= interval }) ?? true else { return }
        lastLatestFrame = now
        events.keepLatest(frame, at: parentDirectory(of: configuration.control.socket) + "/latest.jpg")
    }

    /// A frame that scored just below the threshold keeps a snapshot ("uncertain"): the light or view the model
    /// is unsure of, the photo most worth labelling. At most one per `events.uncertain_interval`.
    func keepIfUncertain(_ probability: Double, frameID: UInt64, frame: FramePayload, at now: Timestamp) {
        let settings = configuration.events
        let threshold = policy.parameters.threshold
        guard settings.snapshots, settings.uncertainBand > 0, probability < threshold,
            probability >= threshold - settings.uncertainBand,
            lastUncertain.map({ now.monotonic - $0 >= settings.uncertainInterval }) ?? true
        else { return }
        lastUncertain = now.monotonic
        record(
            EventRecord(
                time: now.wall, kind: "uncertain", mode: policy.mode.name, door: latch.statusText,
                scores: [probability],
                rule:
                    "\(fixed(probability, 3)) is within \(fixed(settings.uncertainBand, 2)) below the threshold \(fixed(threshold, 4))",
                modelSHA256: model.sha256, frameID: frameID),
            snapshot: frame)
    }

    func cameraChanged(_ state: CameraState, detail: String?, at now: Timestamp) throws {
        let previous = cameraState
        cameraState = state
        if state == .reconnecting && previous != .reconnecting && previous != .starting {
            counters.cameraReconnects += 1
        }
        if state != previous {
            logger.notice("camera \(state.rawValue)", metadata: detail.map { ["detail": "\($0)"] } ?? [:])
            record(
                EventRecord(
                    time: now.wall, kind: "camera", mode: policy.mode.name, door: latch.statusText,
                    details: ["state": .string(state.rawValue), "detail": .string(detail ?? "")]))
        }
        if state == .failed { throw Failure("camera failed: \(detail ?? "unknown error")") }
    }
}
