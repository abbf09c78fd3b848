import Camera
import DecisionCore
import EventLog
import Logging
import Support

// Acting on decisions: events and snapshots, and the latch owner kept in step with the policy.
extension DaemonSession {
    /// Records the policy's decisions (with snapshots) and brings the latch in line with them.
    func apply(
        _ output: DecisionOutput, at now: Timestamp, frame: (id: UInt64, payload: FramePayload)?,
        captured: Timestamp? = nil
    ) {
        if !output.commands.isEmpty { syncLatch(at: now) }
        // Decision latency: from the frame's capture to the latch command (decode, inference, vote, actuation).
        let latencyMS = captured.map { (clock.now().monotonic - $0.monotonic).seconds * 1000 }
        for decision in output.records {
            count(decision)
            var snapshot: FramePayload?
            switch decision.kind {
            case .unlock, .rejectedCooldown, .rejectedCurfew, .rejectedLocked:
                if decision.frameID != nil { snapshot = frame?.payload }
            case .nearMiss:
                if let best = episodeBest, best.id == decision.frameID {
                    snapshot = best.frame
                } else {
                    snapshot = frame?.payload
                }
            default:
                break
            }
            var event = EventRecord(decision: decision, modelSHA256: model.sha256)
            if let latencyMS, decision.kind == .unlock, decision.frameID == frame?.id {
                event.details["latency_ms"] = .number((latencyMS * 10).rounded() / 10)
            }
            record(event, snapshot: snapshot)
            let level: Logger.Level = [.unlock, .relock].contains(decision.kind) ? .notice : .info
            logger.log(
                level: level, "\(decision.kind.rawValue): \(decision.rule)",
                metadata: [
                    "mode": "\(decision.mode.name)",
                    "scores": "\(decision.scores.map { fixed($0, 2) }.joined(separator: ","))",
                ])
        }
    }

    /// Counts a decision for the status's counters.
    func count(_ decision: DecisionRecord) {
        switch decision.kind {
        case .unlock where decision.frameID != nil: counters.unlocksByVote += 1
        case .unlock: counters.unlocksByCommand += 1
        case .nearMiss: counters.nearMisses += 1
        case .rejectedCooldown, .rejectedCurfew, .rejectedLocked: counters.refusedVotes += 1
        default: break
        }
    }

    /// Tells the latch owner what the policy wants, and acts on what the owner reports.
    func syncLatch(at now: Timestamp) {
        for event in latch.sync(unlockedUntil: policy.unlockedUntil, now: now.monotonic) { handleLatch(event, at: now) }
        if policy.door == .unlocked && !latch.isConnected {
            // Nothing can open the door: the policy must not believe it did.
            let output = policy.handle(
                .latchLocked(now, reason: "the latch owner is unreachable (is dogdoor-latch running?)"))
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
        record(
            EventRecord(time: now.wall, kind: kind, mode: policy.mode.name, door: latch.statusText, details: details))
        if let relock, policy.door == .unlocked {
            let output = policy.handle(.latchLocked(now, reason: relock))
            for decision in output.records { record(EventRecord(decision: decision, modelSHA256: model.sha256)) }
        }
    }
}
