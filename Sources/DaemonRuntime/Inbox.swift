import Camera
import Control
import Imaging
import Inference
import Support

/// A control command waiting for the decision loop, and the slot its answer goes into.
///
/// A command whose client stopped waiting is never carried out: the loop `take`s a command before acting on
/// it, and `abandon()` (the control server's deadline) succeeds only if it was not taken, so a client told
/// "no answer" cannot see the door move afterwards.
final class PendingCommand: Sendable {
    let request: ControlRequest
    private let state = ConditionLock<(taken: Bool, abandoned: Bool, response: ControlResponse?)>((false, false, nil))
    /// Called once with the answer, on the decision loop's thread.
    private let onAnswer: @Sendable (ControlResponse) -> Void

    init(_ request: ControlRequest, onAnswer: @escaping @Sendable (ControlResponse) -> Void) {
        self.request = request
        self.onAnswer = onAnswer
    }

    var command: ControlCommand { request.command }

    /// Claims the command for the decision loop; false if its client gave up waiting (then drop it).
    func take() -> Bool {
        state.withLock { lock in
            if lock.state.abandoned { return false }
            lock.state.taken = true
            return true
        }
    }

    /// Gives up on the command unless the loop has taken it; true when abandoned (it will not be carried out).
    func abandon() -> Bool {
        state.withLock { lock in
            if lock.state.taken { return false }
            lock.state.abandoned = true
            return true
        }
    }

    func answer(_ response: ControlResponse) {
        state.withLock { $0.state.response = response }
        onAnswer(response)
    }
}

/// Everything that wakes the daemon's decision loop: results of the inference worker, camera-state
/// changes, control commands, stop and reload requests from signals, and prepared reloads.
final class Inbox: Sendable {
    enum Item {
        case stop(String)
        case command(PendingCommand)
        case reload
        case prepared(Result<PreparedReload, Failure>)
        case camera(CameraState, String?)
        case result(FrameResult)
        case timeout
    }

    private struct Queues {
        var stopReason: String?
        var commands: [PendingCommand] = []
        var reloadRequested = false
        var prepared: [Result<PreparedReload, Failure>] = []
        var cameraChanges: [(CameraState, String?)] = []
        var results: [FrameResult] = []
    }

    private let queues = ConditionLock(Queues())

    private func post(_ body: (inout Queues) -> Void) {
        queues.withLock { lock in
            body(&lock.state)
            lock.signal()
        }
    }

    func post(_ result: FrameResult) { post { $0.results.append(result) } }
    func cameraStateChanged(_ state: CameraState, detail: String?) { post { $0.cameraChanges.append((state, detail)) } }
    func submit(_ command: PendingCommand) { post { $0.commands.append(command) } }
    func requestStop(_ reason: String) { post { if $0.stopReason == nil { $0.stopReason = reason } } }
    func requestReload() { post { $0.reloadRequested = true } }
    func post(prepared: Result<PreparedReload, Failure>) { post { $0.prepared.append(prepared) } }

    /// The next item, most urgent first (stop, commands, reload, prepared reloads, camera changes, then frame
    /// results), or `.timeout` when nothing arrived within `timeout`.
    func next(timeout: Duration) -> Item {
        let deadline = MonotonicClock.now() + max(0, timeout.seconds)
        return queues.withLock { lock in
            while true {
                if let reason = lock.state.stopReason { return .stop(reason) }
                if !lock.state.commands.isEmpty { return .command(lock.state.commands.removeFirst()) }
                if lock.state.reloadRequested {
                    lock.state.reloadRequested = false
                    return .reload
                }
                if !lock.state.prepared.isEmpty { return .prepared(lock.state.prepared.removeFirst()) }
                if !lock.state.cameraChanges.isEmpty {
                    let (state, detail) = lock.state.cameraChanges.removeFirst()
                    return .camera(state, detail)
                }
                if !lock.state.results.isEmpty { return .result(lock.state.results.removeFirst()) }
                if !lock.wait(until: deadline) { return .timeout }
            }
        }
    }
}
