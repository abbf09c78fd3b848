import LatchLink
import Support

/// The mode the door returns to when a manual unlock ends.
public enum ResumeMode: String, Hashable, Sendable {
    case auto
    case locked

    var mode: DoorMode { self == .auto ? .auto : .locked }
}

/// How the door is being run.
public enum DoorMode: Hashable, Sendable, CustomStringConvertible {
    /// The camera decides: unlock for the dog, within the rules.
    case auto
    /// Never unlocks on its own.
    case locked
    /// Held unlocked by the owner until `until`, then back to `then`.
    case unlocked(until: MonotonicInstant, then: ResumeMode)

    /// The mode without its details, as status reports it.
    public enum Kind: String, Hashable, Sendable, NamedChoice, Codable {
        case auto, locked, unlocked
    }

    public var kind: Kind {
        switch self {
        case .auto: .auto
        case .locked: .locked
        case .unlocked: .unlocked
        }
    }

    /// `auto`, `locked` or `unlocked` (as written in events and status).
    public var name: String { kind.rawValue }

    public var description: String { name }
}

/// What the latch should do.
public enum LatchCommand: String, Hashable, Sendable {
    case lock
    case unlock
}

/// A command from the owner (control socket).
public enum DoorCommand: Hashable, Sendable {
    /// Lock now and stay locked.
    case lock
    /// Back to automatic operation (ends a manual unlock).
    case auto
    /// Unlock now and stay unlocked until the given time, then return to the previous mode.
    case unlock(until: MonotonicInstant)
}

/// An input to the decision policy.
public enum DecisionEvent: Hashable, Sendable {
    /// A frame was evaluated: `probability` that it shows the dog to admit, in 0...1.
    case frame(Timestamp, probability: Double, frameID: UInt64)
    /// Time passed; lets timers fire when no frames arrive. Send at least once a second.
    case tick(Timestamp)
    /// The owner asked for something.
    case command(Timestamp, DoorCommand)
    /// The latch was locked by something other than the policy (the latch guard's energised-time limit,
    /// a failed unlock); the policy records it and follows.
    case latchLocked(Timestamp, reason: String)

    /// When the event happened.
    public var time: Timestamp {
        switch self {
        case .frame(let t, _, _), .tick(let t), .command(let t, _), .latchLocked(let t, _): return t
        }
    }
}

/// The kind of a decision record, as written in the event log.
public enum DecisionKind: String, Hashable, Sendable, CaseIterable {
    /// The door unlocked (by the vote, or by a manual unlock command).
    case unlock
    /// The door locked again after being unlocked.
    case relock
    /// Positive frames were seen but never enough to unlock (see `DecisionParameters.nearMissPositives`).
    case nearMiss = "near_miss"
    /// The vote passed during the cooldown after a door cycle.
    case rejectedCooldown = "rejected_cooldown"
    /// The vote passed during a curfew window.
    case rejectedCurfew = "rejected_curfew"
    /// The vote passed in locked mode.
    case rejectedLocked = "rejected_locked"
    /// A command could not be carried out (for example an unlock that would end in the past).
    case rejectedCommand = "rejected_command"
    /// The mode changed, or a command confirmed the current one.
    case modeChange = "mode_change"
    /// A curfew window began.
    case curfewStart = "curfew_start"
    /// A curfew window ended.
    case curfewEnd = "curfew_end"
}

/// One explained decision: what happened, in which mode, on what evidence, and by which rule.
public struct DecisionRecord: Hashable, Sendable {
    public var kind: DecisionKind
    public var time: Timestamp
    /// The mode after the decision.
    public var mode: DoorMode
    /// The latch state the policy wants after the decision.
    public var door: LatchState
    /// The probabilities that took part, oldest first (the vote for unlocks and rejections, the best vote
    /// of the episode for near misses; empty when no frames were involved).
    public var scores: [Double]
    /// The rule that fired, in words, e.g. `3 of last 5 >= 0.90 within 3.0 s`.
    public var rule: String
    /// The frame that triggered the decision; for a near miss, the best-scoring frame of the episode.
    public var frameID: UInt64?
    /// For an unlock or rejection by the vote: the time from the episode's first positive frame (the animal's
    /// first sighting) to this decision.
    public var sinceFirstPositive: Duration?
}

/// What the daemon must do after an event: drive the latch with `commands` (in order) and log `records`.
public struct DecisionOutput: Hashable, Sendable {
    public var commands: [LatchCommand] = []
    public var records: [DecisionRecord] = []

    public init(commands: [LatchCommand] = [], records: [DecisionRecord] = []) {
        self.commands = commands
        self.records = records
    }
}

/// The door's decision logic as a pure state machine: events in, latch commands and explained decision
/// records out. It never reads a clock and performs no I/O; time arrives with each event.
///
/// In automatic mode the door unlocks when at least N of the last M evaluated frames, none older than the
/// window W, score at or above the threshold; it stays unlocked for `hold` after the last positive frame
/// but never longer than `maxOpen`, then relocks, discards all evidence and ignores votes for `cooldown`.
/// Curfew windows block automatic unlocking (and relock an automatically opened door when they begin);
/// manual unlocks are not affected by curfews. Evidence is also discarded whenever the rules that apply to
/// it change (mode change, start or end of a curfew, end of a cooldown), so every unlock is justified by
/// frames seen entirely under the rules that allowed it. See docs/decision-policy.md.
public struct DecisionPolicy: Sendable {
    public let parameters: DecisionParameters
    public let curfew: [CurfewWindow]
    /// The current mode.
    public private(set) var mode: DoorMode
    /// The latch state the policy has commanded.
    public private(set) var door: LatchState = .locked
    /// The curfew window in force at the last event, if any.
    public private(set) var activeCurfew: CurfewWindow?
    /// End of the cooldown in force at the last event, if any.
    public private(set) var cooldownUntil: MonotonicInstant?
    /// The most recent record produced.
    public private(set) var lastRecord: DecisionRecord?

    private var now: Timestamp
    private var openedAt: MonotonicInstant?
    private var relockAt: MonotonicInstant?
    private var evidence: [Sample] = []
    private var episode: Episode?

    private struct Sample: Hashable, Sendable {
        var time: MonotonicInstant
        var probability: Double
        var frameID: UInt64
    }

    /// A run of evidence containing positive frames, from the first positive until none is left.
    private struct Episode: Hashable, Sendable {
        var peakPositives = 0
        var peakScores: [Double] = []
        var bestFrameID: UInt64 = 0
        var bestProbability = -1.0
        /// When the first positive frame of the episode was seen.
        var firstPositive: MonotonicInstant?
        /// The episode unlocked the door or was rejected: it is not a near miss and is reported once.
        var resolved = false
    }

    /// A policy starting at `start` in `mode` with the door locked. Throws if the parameters are invalid.
    public init(
        parameters: DecisionParameters, curfew: [CurfewWindow] = [], mode: ResumeMode = .auto,
        start: Timestamp
    ) throws(DecisionParameterError) {
        try parameters.validate()
        self.parameters = parameters
        self.curfew = curfew
        self.mode = mode.mode
        self.now = start
        self.activeCurfew = curfew.first { $0.contains(secondsSinceMidnight: start.wall.secondsSinceLocalMidnight) }
    }

    /// A policy with new parameters that carries on from `previous` at `now` (a configuration reload): the
    /// same mode (a manual unlock keeps its deadline), the door as it is (an automatic unlock keeps its opening
    /// time, its relock time no later than the new maximum open time allows), and the cooldown in force. The
    /// vote starts afresh: the frames seen so far were scored by the previous model.
    public init(
        parameters: DecisionParameters, curfew: [CurfewWindow] = [], continuing previous: DecisionPolicy,
        at now: Timestamp
    ) throws(DecisionParameterError) {
        try self.init(parameters: parameters, curfew: curfew, mode: .auto, start: now)
        mode = previous.mode
        door = previous.door
        cooldownUntil = previous.cooldownUntil
        lastRecord = previous.lastRecord
        if case .auto = previous.mode, previous.door == .unlocked, let opened = previous.openedAt,
            let relock = previous.relockAt
        {
            openedAt = opened
            relockAt = min(relock, opened + parameters.maxOpen)
        }
        if case .unlocked(let until, let then) = previous.mode {
            mode = .unlocked(until: min(until, now.monotonic + parameters.maxManualUnlock), then: then)
        }
    }

    /// When the policy means to relock the door at the latest, while it has it unlocked: the end of a manual
    /// unlock, or the relock time of an automatic one. The latch owner is told this with every unlock, so the
    /// door relocks on time even if the daemon stalls.
    public var unlockedUntil: MonotonicInstant? {
        guard door == .unlocked else { return nil }
        switch mode {
        case .unlocked(let until, _): return until
        case .auto: return relockAt
        case .locked: return nil
        }
    }

    /// Feeds one event. Events must come in time order; an event stamped earlier than the previous one is
    /// treated as happening at the previous one's monotonic time.
    public mutating func handle(_ event: DecisionEvent) -> DecisionOutput {
        var time = event.time
        if time.monotonic < now.monotonic { time.monotonic = now.monotonic }
        now = time
        var output = DecisionOutput()
        advanceTimers(&output)
        switch event {
        case .tick:
            break
        case .frame(_, let probability, let frameID):
            handleFrame(probability: probability, frameID: frameID, &output)
        case .command(_, let command):
            handleCommand(command, &output)
        case .latchLocked(_, let reason):
            handleExternalLock(reason: reason, &output)
        }
        if let last = output.records.last { lastRecord = last }
        return output
    }

    /// The latest time by which the policy needs a tick for its timers to fire on time (manual unlock end,
    /// relock, cooldown end, evidence expiry); nil when nothing is pending. Curfew boundaries follow the
    /// wall clock and are not included: tick at least once a second.
    public var nextDeadline: MonotonicInstant? {
        var candidates: [MonotonicInstant] = []
        if case .unlocked(let until, _) = mode { candidates.append(until) }
        if mode == .auto, door == .unlocked, let relockAt { candidates.append(relockAt) }
        if let cooldownUntil { candidates.append(cooldownUntil) }
        if let oldest = evidence.first { candidates.append(oldest.time + parameters.window) }
        return candidates.min()
    }

    /// The frame with the highest probability in the current episode of positive frames. The daemon keeps
    /// that frame's image so it can store it as a snapshot if the episode ends as a near miss.
    public var episodeBestFrameID: UInt64? { episode.map(\.bestFrameID) }

    /// The probabilities currently taking part in the vote, oldest first.
    public var currentScores: [Double] { evidence.map(\.probability) }

    // MARK: - Timers

    private mutating func advanceTimers(_ output: inout DecisionOutput) {
        let t = now.monotonic

        if case .unlocked(let until, let resume) = mode, t >= until {
            mode = resume.mode
            if door == .unlocked { relock(reason: "manual unlock expired", command: true, &output) }
            record(.modeChange, rule: "manual unlock expired; back to \(resume.rawValue)", &output)
            clearEvidence(&output)
        }

        let window = curfew.first { $0.contains(secondsSinceMidnight: now.wall.secondsSinceLocalMidnight) }
        if let window, activeCurfew == nil {
            activeCurfew = window
            record(.curfewStart, rule: "curfew \(window) began", &output)
            if mode == .auto, door == .unlocked {
                relock(reason: "curfew \(window) began", command: true, &output)
            }
            clearEvidence(&output)
        } else if window == nil, let ended = activeCurfew {
            activeCurfew = nil
            record(.curfewEnd, rule: "curfew \(ended) ended", &output)
            clearEvidence(&output)
        } else if let window {
            activeCurfew = window  // adjacent windows: the curfew continues under the next one
        }

        if mode == .auto, door == .unlocked, let openedAt, let relockAt {
            if t >= openedAt + parameters.maxOpen {
                relock(
                    reason: "maximum open time \(formatSeconds(parameters.maxOpen)) reached", command: true,
                    &output)
            } else if t >= relockAt {
                relock(
                    reason: "hold \(formatSeconds(parameters.hold)) expired since the last positive frame",
                    command: true, &output)
            }
        }

        if let cooldownUntil, t >= cooldownUntil {
            self.cooldownUntil = nil
            clearEvidence(&output)
        }

        let windowLength = parameters.window
        evidence.removeAll { t - $0.time >= windowLength }
        closeEpisodeIfNoPositives(&output)
    }

    // MARK: - Frames

    private mutating func handleFrame(probability raw: Double, frameID: UInt64, _ output: inout DecisionOutput) {
        let t = now.monotonic
        let probability = raw.isFinite ? min(max(raw, 0), 1) : 0
        let positive = probability >= parameters.threshold
        switch mode {
        case .unlocked:
            return  // held open by the owner: frames neither extend nor count
        case .auto where door == .unlocked:
            if positive, let openedAt, let relockAt {
                self.relockAt = min(max(relockAt, t + parameters.hold), openedAt + parameters.maxOpen)
            }
            return
        case .auto, .locked:
            break
        }

        evidence.append(Sample(time: t, probability: probability, frameID: frameID))
        if evidence.count > parameters.voteFrames { evidence.removeFirst(evidence.count - parameters.voteFrames) }
        let positives = evidence.reduce(0) { $0 + ($1.probability >= parameters.threshold ? 1 : 0) }
        guard positives > 0 else {
            closeEpisode(&output)
            return
        }

        var current = episode ?? Episode()
        if current.firstPositive == nil {
            current.firstPositive = evidence.first { $0.probability >= parameters.threshold }?.time
        }
        if positives > current.peakPositives {
            current.peakPositives = positives
            current.peakScores = currentScores
        }
        if positive, probability > current.bestProbability {
            current.bestProbability = probability
            current.bestFrameID = frameID
        }
        episode = current
        guard positives >= parameters.requiredPositives, !current.resolved else { return }

        let rule = parameters.ruleDescription
        let sighting = current.firstPositive.map { t - $0 }
        if mode == .locked {
            resolveEpisode()
            record(
                .rejectedLocked, rule: rule + "; mode is locked", scores: currentScores, frameID: frameID,
                sinceFirstPositive: sighting, &output)
        } else if let activeCurfew {
            resolveEpisode()
            record(
                .rejectedCurfew, rule: rule + "; curfew \(activeCurfew)", scores: currentScores, frameID: frameID,
                sinceFirstPositive: sighting, &output)
        } else if let cooldownUntil {
            resolveEpisode()
            record(
                .rejectedCooldown, rule: rule + "; cooldown for another \(formatSeconds(cooldownUntil - t))",
                scores: currentScores, frameID: frameID, sinceFirstPositive: sighting, &output)
        } else {
            resolveEpisode()
            door = .unlocked
            openedAt = t
            relockAt = t + parameters.hold
            output.commands.append(.unlock)
            record(
                .unlock, rule: rule, scores: currentScores, frameID: frameID, sinceFirstPositive: sighting, &output)
            clearEvidence(&output)
        }
    }

    // MARK: - Commands

    private mutating func handleCommand(_ command: DoorCommand, _ output: inout DecisionOutput) {
        let t = now.monotonic
        let previous = mode.name
        switch command {
        case .lock:
            mode = .locked
            if door == .unlocked { relock(reason: "lock command", command: true, &output) }
            clearEvidence(&output)
            record(.modeChange, rule: "lock command (was \(previous))", &output)
        case .auto:
            if case .unlocked = mode, door == .unlocked {
                mode = .auto
                relock(reason: "auto command ended the manual unlock", command: true, &output)
            }
            mode = .auto
            clearEvidence(&output)
            record(.modeChange, rule: "auto command (was \(previous))", &output)
        case .unlock(let requested):
            guard requested > t else {
                record(.rejectedCommand, rule: "unlock command ending \(formatSeconds(t - requested)) ago", &output)
                return
            }
            let limit = t + parameters.maxManualUnlock
            let until = min(requested, limit)
            let resume: ResumeMode
            switch mode {
            case .auto: resume = .auto
            case .locked: resume = .locked
            case .unlocked(_, let then): resume = then
            }
            mode = .unlocked(until: until, then: resume)
            relockAt = nil
            var rule = "unlock command for \(formatSeconds(until - t))"
            if requested > limit { rule += " (shortened to the maximum manual unlock)" }
            if door == .locked {
                door = .unlocked
                openedAt = t
                output.commands.append(.unlock)
                record(.unlock, rule: rule, &output)
            }
            clearEvidence(&output)
            record(.modeChange, rule: rule + " (was \(previous))", &output)
        }
    }

    private mutating func handleExternalLock(reason: String, _ output: inout DecisionOutput) {
        guard door == .unlocked else { return }
        if case .unlocked(_, let resume) = mode {
            mode = resume.mode
            relock(reason: reason, command: false, &output)
            record(.modeChange, rule: "manual unlock ended: \(reason); back to \(resume.rawValue)", &output)
        } else {
            relock(reason: reason, command: false, &output)
        }
    }

    // MARK: - Helpers

    private mutating func relock(reason: String, command: Bool, _ output: inout DecisionOutput) {
        let t = now.monotonic
        var rule = reason
        if let openedAt { rule += " after \(formatSeconds(t - openedAt)) open" }
        door = .locked
        openedAt = nil
        relockAt = nil
        cooldownUntil = t + parameters.cooldown
        if command { output.commands.append(.lock) }
        record(.relock, rule: rule, &output)
        clearEvidence(&output)
    }

    private mutating func resolveEpisode() {
        episode?.resolved = true
    }

    private mutating func clearEvidence(_ output: inout DecisionOutput) {
        evidence.removeAll()
        closeEpisode(&output)
    }

    private mutating func closeEpisodeIfNoPositives(_ output: inout DecisionOutput) {
        guard episode != nil else { return }
        if !evidence.contains(where: { $0.probability >= parameters.threshold }) { closeEpisode(&output) }
    }

    private mutating func closeEpisode(_ output: inout DecisionOutput) {
        guard let ended = episode else { return }
        episode = nil
        guard !ended.resolved, ended.peakPositives >= parameters.nearMissPositives else { return }
        record(
            .nearMiss,
            rule: "best vote \(ended.peakPositives) of the \(parameters.requiredPositives) needed "
                + "(\(parameters.ruleDescription))",
            scores: ended.peakScores, frameID: ended.bestFrameID, &output)
    }

    private mutating func record(
        _ kind: DecisionKind, rule: String, scores: [Double] = [], frameID: UInt64? = nil,
        sinceFirstPositive: Duration? = nil, _ output: inout DecisionOutput
    ) {
        output.records.append(
            DecisionRecord(
                kind: kind, time: now, mode: mode, door: door, scores: scores,
                rule: rule, frameID: frameID, sinceFirstPositive: sinceFirstPositive))
    }
}
