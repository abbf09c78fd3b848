import LatchLink
import LatchOwner
import Support
import Testing

/// The instant `ms` milliseconds after the origin.
private func t(_ ms: Int) -> MonotonicInstant { MonotonicInstant(sinceOrigin: .milliseconds(ms)) }

/// The latch owner's rules on a millisecond timeline: every rule alone, then properties over random
/// sequences of requests, silences and disconnections against an independent model of when the door may be
/// unlocked.
@Suite("Latch owner's rules")
struct LatchSupervisorTests {
    static let settings = LatchSupervisor.Settings(
        minimumGap: .milliseconds(500), maximumUnlocked: .seconds(60),
        heartbeatTimeout: .seconds(3))

    /// A supervisor whose line follows what it wants (as the server drives it), starting locked at t=0.
    struct Driven {
        var supervisor = LatchSupervisor(settings: LatchSupervisorTests.settings)
        var relocks: [LockReason] = []

        init() { supervisor.actuated(.locked, at: t(0)) }

        @discardableResult
        mutating func at(_ ms: Int) -> LatchState {
            let step = supervisor.step(at: t(ms))
            if let reason = step.relocked { relocks.append(reason) }
            if step.wanted != supervisor.line { supervisor.actuated(step.wanted, at: t(ms)) }
            return step.wanted
        }
    }

    @Test("locked without a client, and unlocked only while a connected client's lease runs")
    func leaseAndConnection() {
        var d = Driven()
        #expect(d.supervisor.requestUnlock(lease: .seconds(5), at: t(1_000)) == "no client")
        #expect(d.at(1_000) == .locked)
        d.supervisor.connect(at: t(1_000))
        #expect(d.at(1_000) == .locked)
        #expect(d.supervisor.requestUnlock(lease: .seconds(2), at: t(1_000)) == nil)
        #expect(d.at(1_000) == .unlocked)
        #expect(d.supervisor.unlockedFor(at: t(1_500)) == .milliseconds(1_500))
        #expect(d.at(2_999) == .unlocked)
        #expect(d.at(3_000) == .locked)
        #expect(d.relocks == [.leaseEnded])
        // The lease is gone: only a new request opens again.
        #expect(d.at(4_000) == .locked)
        #expect(d.supervisor.lockReason == .leaseEnded)
    }

    @Test("a disconnect locks at once")
    func disconnectLocks() {
        var d = Driven()
        d.supervisor.connect(at: t(0))
        _ = d.supervisor.requestUnlock(lease: .seconds(30), at: t(1_000))
        #expect(d.at(1_000) == .unlocked)
        d.supervisor.disconnect(at: t(1_200))
        #expect(d.at(1_200) == .locked)
        #expect(d.supervisor.lockReason == .noClient)
        // A new client starts with no lease.
        d.supervisor.connect(at: t(1_300))
        #expect(d.at(2_000) == .locked)
    }

    @Test("silence longer than the heartbeat timeout relocks; heartbeats and renewals keep it open")
    func heartbeat() {
        var d = Driven()
        d.supervisor.connect(at: t(0))
        _ = d.supervisor.requestUnlock(lease: .seconds(20), at: t(1_000))
        #expect(d.at(1_000) == .unlocked)
        d.supervisor.heard(at: t(3_500))
        #expect(d.at(6_000) == .unlocked)
        #expect(d.supervisor.nextDeadline(at: t(6_000)) == t(6_500))
        #expect(d.at(6_500) == .locked)
        #expect(d.relocks == [.heartbeatLost])
        // Heard again: the lease was dropped, so it stays locked.
        d.supervisor.heard(at: t(7_000))
        #expect(d.at(7_000) == .locked)
    }

    @Test("the energised-time limit relocks however often the lease is renewed")
    func maximumUnlocked() {
        var d = Driven()
        d.supervisor.connect(at: t(0))
        var now = 1_000
        _ = d.supervisor.requestUnlock(lease: .seconds(10), at: t(now))
        #expect(d.at(now) == .unlocked)
        while now < 61_000 - 2_000 {
            now += 2_000
            _ = d.supervisor.requestUnlock(lease: .seconds(10), at: t(now))
            #expect(d.at(now) == .unlocked)
        }
        #expect(d.at(60_999) == .unlocked)
        #expect(d.at(61_000) == .locked)
        #expect(d.relocks == [.maximumUnlocked])
        // After the minimum gap a new request may open again (the client's policy decides whether to ask).
        _ = d.supervisor.requestUnlock(lease: .seconds(10), at: t(61_100))
        #expect(d.at(61_100) == .locked)
        #expect(d.supervisor.step(at: t(61_100)).lockReason == .minimumGap)
        #expect(d.at(61_500) == .unlocked)
    }

    @Test("an unlock waits for the minimum gap after the last actuation; a lock never waits")
    func minimumGap() {
        var d = Driven()
        d.supervisor.connect(at: t(0))
        _ = d.supervisor.requestUnlock(lease: .seconds(5), at: t(1_000))
        #expect(d.at(1_000) == .unlocked)
        d.supervisor.requestLock(at: t(1_100))
        #expect(d.at(1_100) == .locked)
        _ = d.supervisor.requestUnlock(lease: .seconds(5), at: t(1_200))
        #expect(d.at(1_200) == .locked)
        #expect(d.supervisor.nextDeadline(at: t(1_200)) == t(1_600))
        #expect(d.at(1_599) == .locked)
        #expect(d.at(1_600) == .unlocked)
    }

    @Test("a failed actuation leaves the level unknown and counts for the gap")
    func failedActuation() {
        var s = LatchSupervisor(settings: Self.settings)
        s.actuated(.locked, at: t(0))
        s.connect(at: t(0))
        _ = s.requestUnlock(lease: .seconds(5), at: t(1_000))
        s.actuationFailed(at: t(1_000))
        #expect(s.line == nil)
        #expect(s.step(at: t(1_200)).wanted == .locked)
        #expect(s.step(at: t(1_500)).wanted == .unlocked)
    }

    /// Random sequences (seeded): at every millisecond the driven line must be unlocked exactly when the
    /// model says it may be, and the safety properties must hold.
    @Test("properties over random sequences", arguments: 1...40)
    func randomSequences(seed: Int) {
        var rng = SeededRandom(seed: UInt64(seed))
        var d = Driven()
        // Independent model of the rules.
        var connected = false
        var leaseEnd: Int?
        var heard = 0
        var unlockedSince: Int?
        var lastActuation = 0
        var line = LatchState.locked
        var lastLine = LatchState.locked
        var unlocks = 0
        for now in stride(from: 1, through: 120_000, by: 1) {
            // Inputs, rarely.
            if rng.nextInt(below: 400) == 0 {
                switch rng.nextInt(below: 10) {
                case 0:
                    d.supervisor.connect(at: t(now)); connected = true; leaseEnd = nil; heard = now
                case 1:
                    d.supervisor.disconnect(at: t(now)); connected = false; leaseEnd = nil
                case 2, 3, 4:
                    let lease = 1 + rng.nextInt(below: 20_000)
                    if d.supervisor.requestUnlock(lease: .milliseconds(lease), at: t(now)) == nil {
                        leaseEnd = now + lease; heard = now
                    }
                    #expect(connected == (leaseEnd == now + lease))
                case 5:
                    d.supervisor.requestLock(at: t(now)); heard = now; leaseEnd = nil
                default:
                    d.supervisor.heard(at: t(now)); heard = now
                }
            }
            // The model: the lease ends (and is dropped) on any limit.
            if let end = leaseEnd {
                if now >= end || now >= heard + 3_000
                    || (line == .unlocked && unlockedSince.map { now >= $0 + 60_000 } == true)
                {
                    leaseEnd = nil
                }
            }
            var wanted = LatchState.locked
            if connected, leaseEnd != nil {
                wanted = line == .unlocked || now >= lastActuation + 500 ? .unlocked : .locked
            }
            if wanted != line {
                lastActuation = now
                if wanted == .unlocked { unlockedSince = now; unlocks += 1 } else { unlockedSince = nil }
                line = wanted
            }
            let got = d.at(now)
            guard got == wanted else {
                Issue.record("seed \(seed), t=\(now) ms: the supervisor wants \(got), the model \(wanted)")
                return
            }
            // Safety, stated directly.
            if got == .unlocked {
                #expect(connected)
                #expect(now - heard < 3_000)
                #expect(now - (unlockedSince ?? now) < 60_000)
                if lastLine == .locked { #expect(d.supervisor.lastActuation == t(now)) }
            }
            lastLine = got
        }
        // Guard against a vacuous pass: the sequences do unlock.
        #expect(unlocks > 0, "seed \(seed) never unlocked")
    }
}
