@testable import Daemon
import Door
import Foundation
import Testing

/// A control command must not be carried out after its client was told there was no answer: under a slow
/// inference (seconds per frame on a small board, far more under emulation) the main loop may reach the
/// command only after the control socket gave up on it.
@Suite struct PendingCommandTests {
    @Test func aCommandWhoseClientGaveUpIsDropped() {
        let pending = PendingCommand(.unlock(seconds: 60))
        #expect(pending.wait(seconds: 0.05) == nil, "nobody answered in time")
        #expect(!pending.take(), "the main loop must not carry it out afterwards")
    }

    @Test func aCommandTakenBeforeTheDeadlineIsWaitedFor() {
        let pending = PendingCommand(.lock)
        #expect(pending.take())
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
            pending.answer(ControlResponse(ok: true))
        }
        let response = pending.wait(seconds: 0.05)
        #expect(response?.ok == true, "the answer of a command being carried out is not lost")
    }

    @Test func anAnswerInTimeIsReturned() {
        let pending = PendingCommand(.auto)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) {
            if pending.take() { pending.answer(ControlResponse(ok: false, error: "refused")) }
        }
        #expect(pending.wait(seconds: 5)?.error == "refused")
    }
}
