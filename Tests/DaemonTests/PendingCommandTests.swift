import Control
import Support
import Testing

@testable import DaemonRuntime

/// A command the decision loop has not taken by its client's deadline is never carried out; one it took is
/// answered through the callback.
@Suite struct PendingCommandTests {
    static func request(_ command: ControlCommand) -> ControlRequest { ControlRequest(command: command, peer: nil) }

    @Test func aCommandWhoseClientGaveUpIsDropped() {
        let answers = Locked<[ControlResponse]>([])
        let pending = PendingCommand(Self.request(.unlock(seconds: 60))) { response in
            answers.withLock { $0.append(response) }
        }
        #expect(pending.abandon(), "not taken yet: abandoning succeeds")
        #expect(!pending.take(), "the decision loop must not carry it out afterwards")
        #expect(answers.value.isEmpty)
    }

    @Test func aCommandTakenBeforeTheDeadlineIsAnswered() {
        let answers = Locked<[ControlResponse]>([])
        let pending = PendingCommand(Self.request(.lock)) { response in answers.withLock { $0.append(response) } }
        #expect(pending.take())
        #expect(!pending.abandon(), "taken: it will be carried out, so it cannot be abandoned")
        pending.answer(ControlResponse(ok: false, error: "refused"))
        #expect(answers.value == [ControlResponse(ok: false, error: "refused")])
    }
}
