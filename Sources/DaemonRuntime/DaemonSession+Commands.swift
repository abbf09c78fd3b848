import Control
import DecisionCore
import EventLog
import Logging
import Support

// Control commands (lock, unlock, auto) from the control socket.
extension DaemonSession {
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
        var who = request.peer.map { "uid \($0.uid) pid \($0.pid)" } ?? "unknown peer"
        if let origin = request.origin { who += " for \(origin)" }
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
        if let origin = request.origin { details["by"] = .string(origin) }
        record(
            EventRecord(
                time: now.wall, kind: "command", mode: policy.mode.name, door: latch.statusText, details: details))
        if let rejected { return .failure(rejected.rule, status: status.value) }
        return .success(status.value)
    }
}
