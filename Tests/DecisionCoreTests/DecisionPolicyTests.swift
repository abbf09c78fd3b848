import Support
import TestSupport
import Testing

@testable import DecisionCore

/// Drives a policy on a test timeline measured in milliseconds and keeps everything it produced.
struct PolicyHarness {
    var policy: DecisionPolicy
    let origin: Timestamp
    var records: [DecisionRecord] = []
    var commands: [(ms: Int, command: LatchCommand)] = []
    var nextFrameID: UInt64 = 1

    init(
        _ parameters: DecisionParameters = .test(), curfew: [CurfewWindow] = [], mode: ResumeMode = .auto,
        origin: Timestamp = testClockStart
    ) throws {
        self.origin = origin
        policy = try DecisionPolicy(parameters: parameters, curfew: curfew, mode: mode, start: origin)
    }

    func at(_ ms: Int) -> Timestamp { stamp(ms, from: origin) }

    @discardableResult
    mutating func frame(_ ms: Int, _ probability: Double) -> DecisionOutput {
        defer { nextFrameID += 1 }
        return run(.frame(at(ms), probability: probability, frameID: nextFrameID), ms)
    }

    /// Frames `every` ms apart starting at `ms`; returns the time after the last one.
    @discardableResult
    mutating func frames(from ms: Int, every: Int = 200, _ probabilities: [Double]) -> Int {
        var t = ms
        for p in probabilities {
            frame(t, p)
            t += every
        }
        return t
    }

    @discardableResult
    mutating func tick(_ ms: Int) -> DecisionOutput { run(.tick(at(ms)), ms) }

    @discardableResult
    mutating func command(_ ms: Int, _ command: DoorCommand) -> DecisionOutput { run(.command(at(ms), command), ms) }

    @discardableResult
    mutating func run(_ event: DecisionEvent, _ ms: Int) -> DecisionOutput {
        let output = policy.handle(event)
        records += output.records
        commands += output.commands.map { (ms: ms, command: $0) }
        return output
    }

    func records(_ kind: DecisionKind) -> [DecisionRecord] { records.filter { $0.kind == kind } }
    var commandList: [LatchCommand] { commands.map(\.command) }
    func instant(_ ms: Int) -> MonotonicInstant { at(ms).monotonic }
}

@Suite("Decision parameters")
struct DecisionParameterTests {
    @Test("defaults are valid and describe their rule")
    func defaults() throws {
        let parameters = DecisionParameters(threshold: 0.9)
        try parameters.validate()
        #expect(parameters.ruleDescription == "3 of last 5 >= 0.90 within 3.0 s")
        #expect(parameters.nearMissPositives == 2)
        #expect(DecisionParameters(threshold: 0.8734).ruleDescription == "3 of last 5 >= 0.8734 within 3.0 s")
    }

    @Test(
        "out-of-range parameters are rejected naming the key",
        arguments: [
            (DecisionParameters.test(n: 1), "n", "must be between 2 and 20 (a single frame never unlocks), got 1"),
            (.test(n: 21, m: 30), "n", "must be between 2 and 20 (a single frame never unlocks), got 21"),
            (.test(n: 3, m: 2), "m", "must be between n (3) and 50, got 2"),
            (.test(m: 51), "m", "must be between n (3) and 50, got 51"),
            (.test(window: .milliseconds(100)), "window", "must be between 500ms and 1m, got 100ms"),
            (.test(threshold: 0), "threshold", "must be greater than 0 and less than 1, got 0.0"),
            (.test(threshold: 1), "threshold", "must be greater than 0 and less than 1, got 1.0"),
            (.test(threshold: .nan), "threshold", "must be greater than 0 and less than 1, got nan"),
            (.test(hold: .zero), "hold", "must be between 1s and 5m, got 0s"),
            (.test(hold: .seconds(20), maxOpen: .seconds(10)), "max_open", "must be between 20s and 30m, got 10s"),
            (.test(cooldown: .seconds(601)), "cooldown", "must be between 0s and 10m, got 601s"),
            (.test(nearMiss: 3), "near_miss", "must be between 1 and n - 1 (2), got 3"),
            (.test(nearMiss: 0), "near_miss", "must be between 1 and n - 1 (2), got 0"),
            (.test(maxManualUnlock: .seconds(90_000)), "max_manual_unlock", "must be between 1s and 24h, got 25h"),
        ])
    func rejected(parameters: DecisionParameters, key: String, message: String) {
        #expect(throws: DecisionParameterError(key: key, message: message)) { try parameters.validate() }
        #expect(throws: DecisionParameterError.self) {
            _ = try DecisionPolicy(parameters: parameters, start: testClockStart)
        }
    }
}

@Suite("Decision policy: voting")
struct VotingTests {
    @Test("the time from first sighting counts from the episode's first positive frame, not an earlier one")
    func sightingTime() throws {
        var h = try PolicyHarness()
        h.frame(0, 0.95)
        for i in 1...5 { h.frame(i * 200, 0.1) }  // the lone positive leaves the 5-frame vote: its episode ends
        h.frame(2_000, 0.92)
        h.frame(2_200, 0.1)
        h.frame(2_400, 0.93)
        h.frame(2_600, 0.94)
        let unlock = try #require(h.records(.unlock).first)
        #expect(unlock.sinceFirstPositive == .milliseconds(600))
        #expect(h.records(.relock).isEmpty && h.records(.nearMiss).allSatisfy { $0.sinceFirstPositive == nil })
    }

    @Test("N positive frames within the window unlock, with the rule and scores recorded")
    func unlocksOnVote() throws {
        var h = try PolicyHarness()
        h.frame(0, 0.95)
        h.frame(200, 0.2)
        h.frame(400, 0.93)
        #expect(h.commands.isEmpty)
        let output = h.frame(600, 0.91)
        #expect(output.commands == [.unlock])
        let unlock = try #require(h.records(.unlock).first)
        #expect(unlock.rule == "3 of last 5 >= 0.90 within 3.0 s")
        #expect(unlock.scores == [0.95, 0.2, 0.93, 0.91])
        #expect(unlock.frameID == 4)
        #expect(unlock.sinceFirstPositive == .milliseconds(600), "from the first positive frame at 0 ms")
        #expect(unlock.mode == .auto)
        #expect(unlock.door == .unlocked)
        #expect(unlock.time == h.at(600))
        #expect(h.policy.door == .unlocked)
    }

    @Test("fewer than N positives never unlock", arguments: 2...6)
    func fewerThanNNeverUnlock(n: Int) throws {
        var h = try PolicyHarness(.test(n: n, m: n + 2, window: .seconds(60)))
        // n - 1 positives among negatives, repeated: every window of m frames holds at most n - 1 positives.
        var t = 0
        for _ in 0..<20 {
            for i in 0..<(n + 2) {
                h.frame(t, i < n - 1 ? 0.99 : 0.1)
                t += 100
            }
        }
        #expect(h.commands.isEmpty)
        #expect(h.records(.unlock).isEmpty)
    }

    @Test("a single positive frame never unlocks, whatever its score")
    func singleFrame() throws {
        var h = try PolicyHarness(.test(n: 2, m: 2))
        h.frame(0, 1.0)
        h.frame(200, 0.0)
        h.frame(400, 1.0)
        h.frame(600, 0.0)
        #expect(h.commands.isEmpty)
        h.frame(800, 1.0)
        h.frame(1_000, 1.0)  // two consecutive positives: now it may
        #expect(h.commandList == [.unlock])
        #expect(h.commands.first?.ms == 1_000)
    }

    @Test("threshold is inclusive")
    func thresholdInclusive() throws {
        var h = try PolicyHarness(.test(threshold: 0.75))
        h.frames(from: 0, [0.75, 0.75, 0.7499])
        #expect(h.commands.isEmpty)
        h.frame(600, 0.75)
        #expect(h.commandList == [.unlock])
    }

    @Test(
        "the window is in time: a gap in frames lets old evidence expire",
        arguments: [(2_999, true), (3_000, false), (10_000, false)])
    func windowInTime(gap: Int, unlocks: Bool) throws {
        var h = try PolicyHarness(.test(m: 10))
        h.frame(0, 0.99)
        h.frame(1, 0.99)
        h.frame(gap, 0.99)
        #expect(h.records(.unlock).isEmpty == !unlocks)
    }

    @Test("only the last M frames vote")
    func lastMFrames() throws {
        var h = try PolicyHarness(.test(n: 2, m: 3, window: .seconds(60)))
        h.frames(from: 0, [0.99, 0.1, 0.1, 0.99])  // first positive has left the last three
        #expect(h.commands.isEmpty)
        h.frame(800, 0.99)
        #expect(h.commandList == [.unlock])
        #expect(h.records(.unlock)[0].scores == [0.1, 0.99, 0.99])
    }

    @Test("invalid probabilities never count", arguments: [Double.nan, .infinity, -.infinity, -3])
    func invalidProbabilities(value: Double) throws {
        var h = try PolicyHarness(.test(n: 2, m: 2))
        h.frames(from: 0, [value, value, value, value])
        #expect(h.commands.isEmpty)
        h.frames(from: 1_000, [0.99, 7])  // above 1 clamps to 1 and counts
        #expect(h.commandList == [.unlock])
    }

    @Test("events stamped in the past are treated as happening now")
    func timeNeverGoesBack() throws {
        var h = try PolicyHarness()
        h.frames(from: 0, [0.99, 0.99, 0.99])
        #expect(h.commandList == [.unlock])
        h.tick(5_000)
        h.tick(1_000)  // earlier than the last event: must not undo elapsed time
        h.tick(10_399)
        #expect(h.policy.door == .unlocked)
        h.tick(10_400)
        #expect(h.commandList == [.unlock, .lock])
    }
}

@Suite("Decision policy: hold, maximum open time, cooldown")
struct HoldTests {
    @Test(
        "relocks exactly `hold` after the unlock when no more positives arrive (stale frames)",
        arguments: [1, 10, 300])
    func holdExpires(holdSeconds: Int) throws {
        var h = try PolicyHarness(.test(hold: .seconds(Int64(holdSeconds)), maxOpen: .seconds(600)))
        h.frames(from: 0, [0.99, 0.99, 0.99])  // unlock at 400
        #expect(h.policy.nextDeadline == h.instant(400 + holdSeconds * 1000))
        h.tick(400 + holdSeconds * 1000 - 1)
        #expect(h.policy.door == .unlocked)
        h.tick(400 + holdSeconds * 1000)
        #expect(h.commandList == [.unlock, .lock])
        let relock = try #require(h.records(.relock).first)
        #expect(
            relock.rule
                == "hold \(formatSeconds(.seconds(Int64(holdSeconds)))) expired since the last positive frame after \(formatSeconds(.seconds(Int64(holdSeconds)))) open"
        )
        #expect(relock.door == .locked)
    }

    @Test("negative frames do not extend the hold; positive frames push the relock out")
    func positivesExtend() throws {
        var h = try PolicyHarness()
        h.frames(from: 0, [0.99, 0.99, 0.99])  // unlock at 400, relock due at 10_400
        h.frame(5_000, 0.2)
        h.frame(9_000, 0.95)  // relock now due at 19_000
        h.tick(10_400)
        #expect(h.policy.door == .unlocked)
        h.frame(18_000, 0.1)
        h.tick(18_999)
        #expect(h.policy.door == .unlocked)
        h.tick(19_000)
        #expect(h.commandList == [.unlock, .lock])
    }

    @Test("never open longer than the maximum, however long the dog is seen")
    func maximumOpen() throws {
        var h = try PolicyHarness(.test(hold: .seconds(10), maxOpen: .seconds(30)))
        h.frames(from: 0, [0.99, 0.99, 0.99])  // unlock at 400
        var t = 600
        while t < 60_000 {
            h.frame(t, 0.99)
            t += 200
        }
        // Relocked at the maximum; after the 5 s cooldown, three fresh frames unlock again.
        #expect(h.commands.map(\.ms) == [400, 30_400, 35_800])
        #expect(h.records(.relock)[0].rule == "maximum open time 30.0 s reached after 30.0 s open")
    }

    @Test("cooldown: no unlock, one rejection record per episode, then fresh evidence unlocks")
    func cooldown() throws {
        var h = try PolicyHarness(.test(hold: .seconds(1), maxOpen: .seconds(1), cooldown: .seconds(5)))
        h.frames(from: 0, [0.99, 0.99, 0.99])  // unlock at 400
        h.tick(1_400)  // relock; cooldown until 6_400
        #expect(h.commandList == [.unlock, .lock])
        h.frames(from: 2_000, [0.99, 0.99, 0.99, 0.99, 0.99, 0.99])  // vote passes in cooldown
        #expect(h.commandList == [.unlock, .lock])
        let rejected = h.records(.rejectedCooldown)
        #expect(rejected.count == 1)
        #expect(rejected[0].rule.hasPrefix("3 of last 5 >= 0.90 within 3.0 s; cooldown for another 4.0 s"))
        // Positives at 6_000 and 6_200 were seen during the cooldown and must not count after it.
        h.frames(from: 6_000, [0.99, 0.99])
        h.frame(6_400, 0.99)  // cooldown ends at this instant
        h.frame(6_600, 0.99)
        #expect(h.commandList == [.unlock, .lock])
        h.frame(6_800, 0.99)
        #expect(h.commandList == [.unlock, .lock, .unlock])
        #expect(h.commands.last?.ms == 6_800)
    }

    @Test("evidence resets after every door cycle: recognition before the relock never reopens the door")
    func evidenceReset() throws {
        var h = try PolicyHarness(
            .test(
                n: 2, m: 5, window: .seconds(10), hold: .seconds(1), maxOpen: .seconds(1),
                cooldown: .zero))
        h.frames(from: 0, [0.99, 0.99])  // unlock at 200
        h.frame(1_000, 0.99)  // while open: extends, is not evidence
        h.tick(1_200)  // relock (max open)
        #expect(h.commandList == [.unlock, .lock])
        h.frame(1_300, 0.99)  // one fresh positive: not enough, although four were seen within the window
        #expect(h.commandList == [.unlock, .lock])
        h.frame(1_500, 0.99)
        #expect(h.commandList == [.unlock, .lock, .unlock])
    }

    @Test("next deadline covers relock, cooldown end and evidence expiry")
    func nextDeadline() throws {
        var h = try PolicyHarness()
        #expect(h.policy.nextDeadline == nil)
        h.frame(100, 0.99)
        #expect(h.policy.nextDeadline == h.instant(3_100))
        h.frames(from: 300, [0.99, 0.99])  // unlock at 500
        #expect(h.policy.nextDeadline == h.instant(10_500))
        h.tick(10_500)
        #expect(h.policy.nextDeadline == h.instant(15_500))
        h.tick(15_500)
        #expect(h.policy.nextDeadline == nil)
        #expect(h.policy.cooldownUntil == nil)
    }
}

@Suite("Decision policy: near misses")
struct NearMissTests {
    @Test("an episode that peaks one short is a near miss, reported when its evidence expires")
    func nearMissOnExpiry() throws {
        var h = try PolicyHarness()
        h.frames(from: 0, [0.2, 0.92, 0.97, 0.3])  // positives at 200 (id 2) and 400 (id 3)
        #expect(h.policy.episodeBestFrameID == 3)
        #expect(h.records.isEmpty)
        h.tick(3_399)
        #expect(h.records.isEmpty)
        h.tick(3_400)  // the last positive (400) leaves the 3 s window
        let miss = try #require(h.records(.nearMiss).first)
        #expect(miss.frameID == 3)
        #expect(miss.scores == [0.2, 0.92, 0.97])
        #expect(miss.rule == "best vote 2 of the 3 needed (3 of last 5 >= 0.90 within 3.0 s)")
        #expect(miss.time == h.at(3_400))
        #expect(h.policy.episodeBestFrameID == nil)
    }

    @Test("near miss when the positives roll out of the last M frames")
    func nearMissOnRollOut() throws {
        var h = try PolicyHarness()
        h.frames(from: 0, [0.95, 0.95, 0.1, 0.1, 0.1])
        #expect(h.records.isEmpty)
        h.frame(1_000, 0.1)  // first positive leaves
        #expect(h.records.isEmpty)
        h.frame(1_200, 0.1)  // second leaves: episode over
        #expect(h.records.map(\.kind) == [.nearMiss])
        #expect(h.records[0].frameID == 1)
    }

    @Test("a single stray positive is not a near miss by default; configurable", arguments: [(nil as Int?, 0), (1, 1)])
    func strayPositive(nearMiss: Int?, expected: Int) throws {
        var h = try PolicyHarness(.test(nearMiss: nearMiss))
        h.frames(from: 0, [0.99, 0.1])
        h.tick(10_000)
        #expect(h.records(.nearMiss).count == expected)
    }

    @Test("an episode that unlocks or is rejected is not a near miss")
    func resolvedEpisodes() throws {
        var h = try PolicyHarness(mode: .locked)
        h.frames(from: 0, [0.99, 0.99, 0.99, 0.99])
        h.tick(20_000)
        #expect(h.records.map(\.kind) == [.rejectedLocked])
        var open = try PolicyHarness()
        open.frames(from: 0, [0.99, 0.99, 0.99])
        open.tick(30_000)
        #expect(open.records.map(\.kind) == [.unlock, .relock])
    }
}

@Suite("Decision policy: modes and commands")
struct ModeTests {
    @Test("locked mode never unlocks and reports the rejected vote once per episode")
    func lockedMode() throws {
        var h = try PolicyHarness(mode: .locked)
        h.frames(from: 0, Array(repeating: 0.99, count: 50))
        #expect(h.commands.isEmpty)
        #expect(h.records.map(\.kind) == [.rejectedLocked])
        #expect(h.records[0].rule == "3 of last 5 >= 0.90 within 3.0 s; mode is locked")
        h.tick(20_000)  // episode over
        h.frames(from: 21_000, [0.99, 0.99, 0.99])
        #expect(h.records.map(\.kind) == [.rejectedLocked, .rejectedLocked])
    }

    @Test(
        "manual unlock expires on its own and returns to the previous mode",
        arguments: [ResumeMode.auto, .locked])
    func manualUnlockExpires(previous: ResumeMode) throws {
        var h = try PolicyHarness(mode: previous)
        h.command(1_000, .unlock(until: h.instant(31_000)))
        #expect(h.commandList == [.unlock])
        #expect(h.policy.mode == .unlocked(until: h.instant(31_000), then: previous))
        #expect(h.records.map(\.kind) == [.unlock, .modeChange])
        #expect(h.records[1].rule == "unlock command for 30.0 s (was \(previous.rawValue))")
        h.frames(from: 2_000, [0.1, 0.1, 0.1, 0.1, 0.1, 0.1])  // frames are ignored while held open
        h.tick(30_999)
        #expect(h.policy.door == .unlocked)
        h.tick(31_000)
        #expect(h.commandList == [.unlock, .lock])
        #expect(h.policy.mode == (previous == .auto ? .auto : .locked))
        #expect(Array(h.records.map(\.kind).suffix(2)) == [.relock, .modeChange])
        #expect(h.records.last?.rule == "manual unlock expired; back to \(previous.rawValue)")
        #expect(h.records(.nearMiss).isEmpty)
    }

    @Test("a manual unlock is shortened to the maximum and rejected when it ends in the past")
    func manualUnlockLimits() throws {
        var h = try PolicyHarness(.test(maxManualUnlock: .seconds(60)))
        h.command(0, .unlock(until: h.instant(3_600_000)))
        #expect(h.policy.mode == .unlocked(until: h.instant(60_000), then: .auto))
        #expect(h.records.last?.rule == "unlock command for 60.0 s (shortened to the maximum manual unlock) (was auto)")
        var past = try PolicyHarness()
        past.tick(5_000)
        past.command(5_000, .unlock(until: past.instant(4_000)))
        #expect(past.commands.isEmpty)
        #expect(past.records.map(\.kind) == [.rejectedCommand])
        #expect(past.policy.mode == .auto)
    }

    @Test("a second manual unlock replaces the first and keeps the original mode to return to")
    func manualUnlockTwice() throws {
        var h = try PolicyHarness(mode: .locked)
        h.command(0, .unlock(until: h.instant(10_000)))
        h.command(5_000, .unlock(until: h.instant(50_000)))
        #expect(h.commandList == [.unlock])
        #expect(h.policy.mode == .unlocked(until: h.instant(50_000), then: .locked))
        h.tick(10_000)
        #expect(h.policy.door == .unlocked)
        h.tick(50_000)
        #expect(h.policy.mode == .locked)
        #expect(h.commandList == [.unlock, .lock])
    }

    @Test("lock and auto commands relock a door that is open")
    func commandsRelock() throws {
        var h = try PolicyHarness()
        h.frames(from: 0, [0.99, 0.99, 0.99])
        h.command(1_000, .lock)
        #expect(h.commandList == [.unlock, .lock])
        #expect(h.records(.relock)[0].rule == "lock command after 0.6 s open")
        #expect(h.policy.mode == .locked)
        h.command(2_000, .unlock(until: h.instant(100_000)))
        h.command(3_000, .auto)
        #expect(h.commandList == [.unlock, .lock, .unlock, .lock])
        #expect(h.policy.mode == .auto)
        #expect(h.records.last?.rule == "auto command (was unlocked)")
    }

    @Test("auto command while the dog holds the door open leaves it open; every command is recorded")
    func autoWhileAutoOpen() throws {
        var h = try PolicyHarness()
        h.frames(from: 0, [0.99, 0.99, 0.99])
        h.command(1_000, .auto)
        #expect(h.commandList == [.unlock])
        #expect(h.records.map(\.kind) == [.unlock, .modeChange])
        h.command(1_100, .lock)
        h.command(1_200, .lock)
        #expect(
            h.records(.modeChange).map(\.rule) == [
                "auto command (was auto)", "lock command (was auto)",
                "lock command (was locked)",
            ])
    }

    @Test("a lock by the latch guard is followed: relock recorded without a command; manual mode ends")
    func externalLock() throws {
        var h = try PolicyHarness()
        h.command(0, .unlock(until: h.instant(600_000)))
        h.run(.latchLocked(h.at(1_000), reason: "latch energised for the maximum 10m"), 1_000)
        #expect(h.commandList == [.unlock])
        #expect(h.policy.door == .locked)
        #expect(h.policy.mode == .auto)
        #expect(h.records(.relock).last?.rule == "latch energised for the maximum 10m after 1.0 s open")
        h.run(.latchLocked(h.at(2_000), reason: "again"), 2_000)  // already locked: nothing
        #expect(h.records(.relock).count == 1)
    }

    @Test("a mode change discards evidence")
    func modeChangeDiscardsEvidence() throws {
        var h = try PolicyHarness(mode: .locked)
        h.frames(from: 0, [0.99, 0.99])
        h.command(400, .auto)
        h.frame(500, 0.99)
        #expect(h.commands.isEmpty)
        #expect(h.records.map(\.kind) == [.nearMiss, .modeChange])
    }
}

@Suite("Decision policy: curfew")
struct CurfewPolicyTests {
    static let night = try! CurfewWindow(parsing: "22:00-06:00")

    @Test(
        "no automatic unlock during curfew; rejection recorded once",
        arguments: [
            (22, 0), (23, 59), (0, 0), (3, 30), (5, 59),
        ])
    func rejectedDuringCurfew(hour: Int, minute: Int) throws {
        var h = try PolicyHarness(curfew: [Self.night], origin: start(hour: hour, minute: minute))
        h.frames(from: 0, [0.99, 0.99, 0.99, 0.99, 0.99])
        #expect(h.commands.isEmpty)
        #expect(h.records.map(\.kind) == [.rejectedCurfew])
        #expect(h.records[0].rule == "3 of last 5 >= 0.90 within 3.0 s; curfew 22:00-06:00")
    }

    @Test("outside the curfew the door unlocks", arguments: [(6, 0), (12, 0), (21, 59)])
    func allowedOutside(hour: Int, minute: Int) throws {
        var h = try PolicyHarness(curfew: [Self.night], origin: start(hour: hour, minute: minute, second: 30))
        h.frames(from: 0, [0.99, 0.99, 0.99])
        #expect(h.commandList == [.unlock])
    }

    @Test("a curfew that begins while the door is open relocks it; its end is recorded")
    func curfewBeginsWhileOpen() throws {
        var h = try PolicyHarness(curfew: [Self.night], origin: start(hour: 21, minute: 59, second: 55))
        h.frames(from: 0, [0.99, 0.99, 0.99])  // unlock at 400
        h.frame(4_900, 0.99)
        h.tick(5_000)  // 22:00:00
        #expect(h.commandList == [.unlock, .lock])
        #expect(h.records.map(\.kind) == [.unlock, .curfewStart, .relock])
        #expect(h.records[2].rule == "curfew 22:00-06:00 began after 4.6 s open")
        #expect(h.policy.activeCurfew == Self.night)
        h.tick(8 * 3_600_000 + 5_000)  // 06:00:00
        #expect(h.records.last?.kind == .curfewEnd)
        #expect(h.policy.activeCurfew == nil)
    }

    @Test("a manual unlock works during curfew")
    func manualDuringCurfew() throws {
        var h = try PolicyHarness(curfew: [Self.night], origin: start(hour: 23, minute: 0))
        h.command(0, .unlock(until: h.instant(60_000)))
        #expect(h.commandList == [.unlock])
        h.tick(60_000)
        #expect(h.commandList == [.unlock, .lock])
    }

    @Test("curfew follows the local offset (daylight saving)")
    func daylightSaving() throws {
        // 21:30 at UTC+01:00; the offset changes to UTC+02:00, making it 22:30 local: curfew.
        let clock = ManualClock(year: 2026, month: 3, day: 29, hour: 21, minute: 30, utcOffsetSeconds: 3_600)
        var policy = try DecisionPolicy(parameters: .test(), curfew: [Self.night], start: clock.now())
        #expect(policy.activeCurfew == nil)
        clock.advance(by: .seconds(1))
        clock.setUTCOffset(seconds: 7_200)
        let output = policy.handle(.tick(clock.now()))
        #expect(output.records.map(\.kind) == [.curfewStart])
    }
}

@Suite("Decision policy: continuing after a reload")
struct ContinuationTests {
    @Test("a manual unlock keeps its deadline and the mode it returns to")
    func manualUnlock() throws {
        var h = try PolicyHarness(mode: .locked)
        h.command(1_000, .unlock(until: h.instant(31_000)))
        h.policy = try DecisionPolicy(parameters: .test(hold: .seconds(5)), continuing: h.policy, at: h.at(10_000))
        #expect(h.policy.mode == .unlocked(until: h.instant(31_000), then: .locked))
        #expect(h.policy.door == .unlocked)
        #expect(h.policy.unlockedUntil == h.instant(31_000))
        h.tick(30_999)
        #expect(h.policy.door == .unlocked)
        h.tick(31_000)
        #expect(h.policy.door == .locked && h.policy.mode == .locked)
        #expect(h.commandList == [.unlock, .lock])
    }

    @Test("an automatic unlock stays open until its relock time, no later than the new maximum open time allows")
    func automaticUnlock() throws {
        var h = try PolicyHarness(.test(hold: .seconds(10), maxOpen: .seconds(60)))
        h.frames(from: 0, [0.95, 0.95, 0.95])  // unlocks at 400 ms; relock due at 10.4 s
        #expect(h.policy.unlockedUntil == h.instant(10_400))
        // The new settings allow at most 5 s open: relock at 5.4 s.
        h.policy = try DecisionPolicy(
            parameters: .test(hold: .seconds(3), maxOpen: .seconds(5)), continuing: h.policy, at: h.at(2_000))
        #expect(h.policy.door == .unlocked && h.policy.unlockedUntil == h.instant(5_400))
        h.tick(5_399)
        #expect(h.policy.door == .unlocked)
        h.tick(5_400)
        #expect(h.policy.door == .locked)
        #expect(h.commandList == [.unlock, .lock])
        // The vote started afresh: earlier frames no longer count.
        #expect(h.policy.currentScores.isEmpty)
    }

    @Test("a cooldown in force carries over; a locked door stays locked")
    func cooldown() throws {
        var h = try PolicyHarness(.test(hold: .seconds(1), cooldown: .seconds(5)))
        h.frames(from: 0, [0.95, 0.95, 0.95])
        h.tick(1_400)  // relocked; cooldown until 6.4 s
        let cooldown = try #require(h.policy.cooldownUntil)
        h.policy = try DecisionPolicy(
            parameters: .test(hold: .seconds(1), cooldown: .seconds(5)), continuing: h.policy, at: h.at(2_000))
        #expect(h.policy.cooldownUntil == cooldown)
        #expect(h.policy.door == .locked && h.policy.unlockedUntil == nil)
        h.frames(from: 2_000, [0.95, 0.95, 0.95])
        #expect(h.records.last?.kind == .rejectedCooldown)
    }
}
