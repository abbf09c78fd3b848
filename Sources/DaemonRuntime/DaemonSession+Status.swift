import Camera
import Control
import EventLog
import Logging
import Support

// The published status, the watchdog, event records and the orderly stop.
extension DaemonSession {
    func publishStatus() {
        let now = clock.now().monotonic
        var remaining: Double?
        if case .unlocked(let until, _) = policy.mode { remaining = max(0, (until - now).seconds) }
        if lastMemorySample.map({ now - $0 >= .seconds(1) }) ?? true {
            counters.residentBytes = ProcessMemory.current().resident
            lastMemorySample = now
        }
        counters.inference = frames.inferenceHistogram
        let value = DaemonStatus(
            mode: policy.mode.kind, unlockRemainingSeconds: remaining, latch: latch.status,
            camera: cameraState, framesPerSecond: frames.framesPerSecond,
            inferenceMilliseconds: frames.inferenceMilliseconds,
            curfew: policy.activeCurfew?.description, lastDecision: policy.lastRecord.map(DaemonStatus.Decision.init),
            model: DaemonStatus.Model(path: model.path, sha256: model.sha256, threshold: policy.parameters.threshold),
            frames: DaemonStatus.Frames(
                seen: frames.seen, evaluated: frames.evaluatedCount, corrupt: frames.corrupt,
                dropped: worker.droppedFrames, still: frames.still),
            counters: counters)
        status.withLock { $0 = value }
    }

    func statusLine() -> String {
        let s = status.value
        return
            "\(s.mode), door \(s.latch), camera \(s.camera), \(fixed(s.framesPerSecond, 1)) fps, \(fixed(s.inferenceMilliseconds, 0)) ms/frame"
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
        record(
            EventRecord(
                time: now.wall, kind: "stop", mode: policy.mode.name, door: "locked", modelSHA256: model.sha256,
                details: [
                    "frames_seen": .number(Double(frames.seen)),
                    "frames_evaluated": .number(Double(frames.evaluatedCount)),
                    "frames_still": .number(Double(frames.still)),
                    "cpu_seconds": .number(processCPUSeconds()),
                    "frames_corrupt": .number(Double(frames.corrupt)),
                    "frames_dropped": .number(Double(worker.droppedFrames)),
                    "events_dropped": .number(Double(dropped.events)),
                    "snapshots_dropped": .number(Double(dropped.snapshots)),
                ]))
        events.stop()
    }
}
