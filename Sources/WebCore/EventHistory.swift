import Support

/// What kind of thing an event line tells, for the timeline's filters.
public enum EventCategory: String, Sendable, Codable, CaseIterable {
    /// The vote recognised Bo and the door opened (and closed again after him).
    case bo
    /// An animal scored high but the door stayed shut: a near miss, or a vote refused by cooldown, curfew or
    /// locked mode.
    case refused
    /// A person steered the door (lock, unlock, auto), from the command line, the web app or Home Assistant.
    case manual
    /// Something went wrong: the camera, the latch or a reload.
    case fault
    /// Everything else: starts, stops, reloads, curfew changes.
    case other

    /// The category of one line on its own. A relock belongs to whatever unlocked the door, which only the lines
    /// before it tell (`EventHistory.recent` settles it); here it is `.other` unless a person caused it.
    static func of(kind: String, details: JSONObject) -> EventCategory {
        switch kind {
        case "unlock":
            // An unlock by the vote names the frame that decided it; a manual one does not.
            return details["frame"] != nil ? .bo : .manual
        case "relock":
            let rule = details["rule"]?.stringValue ?? ""
            let byPerson = ["lock command", "auto command", "manual unlock expired"].contains { rule.hasPrefix($0) }
            return byPerson ? .manual : .other
        case "near_miss", "rejected_cooldown", "rejected_curfew", "rejected_locked": return .refused
        case "command", "mode_change", "rejected_command": return .manual
        case "camera":
            // Starting and streaming are the camera working; anything else is the camera in trouble.
            let state = details["state"]?.stringValue ?? ""
            return ["starting", "streaming", "finished"].contains(state) ? .other : .fault
        case "latch_error", "latch_unreachable", "latch_refused", "reload_failed": return .fault
        case "latch_relocked":
            // The owner relocking at the end of a lease is routine; for a lost heartbeat it is a fault.
            return details["reason"] == "lease_ended" ? .other : .fault
        default: return .other
        }
    }
}

/// One line of the daemon's event log, as the web app shows it.
public struct EventEntry: Sendable, Equatable, Codable {
    /// As written: local time with the UTC offset, e.g. `2026-12-07T00:51:38.531+00:00`.
    public var time: String
    public var kind: String
    public var category: EventCategory
    public var door: String?
    public var mode: String?
    public var rule: String?
    public var scores: [Double]
    /// The snapshot's file name in the events directory's `snapshots/`.
    public var snapshot: String?
    /// For commands: whom the client said it acted for (`web:owner`, `mqtt`).
    public var by: String?
    /// For a vote's unlock: seconds from the animal's first positive frame to the unlock.
    public var firstSeenSeconds: Double?
    /// For commands: what was asked (`lock`, `auto`, `unlock 600 s`), and `refused: why` when the daemon did not.
    public var action: String?

    enum CodingKeys: String, CodingKey {
        case time, kind, category, door, mode, rule, scores, snapshot, by, action
        case firstSeenSeconds = "first_seen_s"
    }

    /// The local calendar day, `YYYY-MM-DD` (the first ten characters of `time`).
    public var day: String { String(time.prefix(10)) }

    /// Reads one line; nil for a line that is not an event (a torn last line, or garbage).
    public init?(line: Substring) {
        guard let value = try? JSONValue.parse(Array(line.utf8)), case .object(let object) = value,
            let time = object["time"]?.stringValue, time.utf8.count >= 10,
            let kind = object["kind"]?.stringValue
        else { return nil }
        self.time = time
        self.kind = kind
        category = EventCategory.of(kind: kind, details: object)
        door = object["door"]?.stringValue
        mode = object["mode"]?.stringValue
        rule = object["rule"]?.stringValue
        scores = object["scores"]?.arrayValue?.compactMap(\.doubleValue) ?? []
        snapshot = object["snapshot"]?.stringValue.flatMap { SnapshotName.isValid($0) ? $0 : nil }
        by = object["by"]?.stringValue
        firstSeenSeconds = object["first_seen_s"]?.doubleValue
        if kind == "command", let command = object["command"]?.stringValue {
            var text = command + (object["seconds"]?.intValue.map { " \($0) s" } ?? "")
            if object["ok"] == false { text += ", refused: " + (object["error"]?.stringValue ?? "no reason given") }
            action = text
        }
    }

    public init(
        time: String, kind: String, category: EventCategory, door: String? = nil, mode: String? = nil,
        rule: String? = nil, scores: [Double] = [], snapshot: String? = nil, by: String? = nil,
        firstSeenSeconds: Double? = nil
    ) {
        self.firstSeenSeconds = firstSeenSeconds
        self.time = time
        self.kind = kind
        self.category = category
        self.door = door
        self.mode = mode
        self.rule = rule
        self.scores = scores
        self.snapshot = snapshot
        self.by = by
    }
}

/// One day of the door's life, counted from its events.
public struct DaySummary: Sendable, Equatable, Codable {
    public var day: String
    /// Times the vote recognised Bo and opened the door.
    public var visits = 0
    /// Every unlock: Bo's and manual ones.
    public var unlocks = 0
    /// Animals that scored high but were kept out (near misses and refused votes).
    public var refused = 0
    /// Commands from people.
    public var commands = 0
    public var faults = 0
    /// Mean seconds from Bo's first positive frame to the unlock, over the day's visits that say it.
    public var averageSecondsToUnlock: Double?

    public init(day: String) { self.day = day }

    enum CodingKeys: String, CodingKey {
        case day, visits, unlocks, refused, commands, faults
        case averageSecondsToUnlock = "average_s_to_unlock"
    }
}

/// The daemon's event log read back: the newest events first, and counts per day.
public enum EventHistory {
    /// Bytes read from the end of each log file per request: about 8,000 events, weeks of a normal door.
    public static let tailBytes = 2 << 20

    /// The newest events (at most `limit`), newest first, from `directory/events.jsonl` and its rotated files
    /// (`.1`, `.2`, ...), reading at most `tailBytes` of each.
    public static func recent(directory: String, limit: Int, keepFiles: Int = 5) throws -> [EventEntry] {
        var entries: [EventEntry] = []
        for index in 0...keepFiles where entries.count < limit {
            let path = directory + "/events.jsonl" + (index == 0 ? "" : ".\(index)")
            guard fileExistsAt(path) else { break }
            let text = try readTail(path, maxBytes: tailBytes)
            let lines = text.split(separator: "\n").reversed()
            for line in lines where entries.count < limit {
                if let entry = EventEntry(line: line) { entries.append(entry) }
            }
        }
        settleRelocks(&entries)
        return entries
    }

    /// A relock that no person caused belongs to the unlock before it: Bo's door closing after him is Bo's
    /// visit. `entries` are newest first.
    static func settleRelocks(_ entries: inout [EventEntry]) {
        var lastUnlock: EventCategory?
        for index in entries.indices.reversed() {
            switch entries[index].kind {
            case "unlock": lastUnlock = entries[index].category
            case "relock" where entries[index].category == .other:
                entries[index].category = lastUnlock ?? .other
            default: break
            }
        }
    }

    /// Counts per day, newest day first.
    public static func days(_ entries: [EventEntry]) -> [DaySummary] {
        var byDay: [String: DaySummary] = [:]
        var waits: [String: [Double]] = [:]
        for entry in entries {
            if entry.category == .bo, entry.kind == "unlock", let wait = entry.firstSeenSeconds {
                waits[entry.day, default: []].append(wait)
            }
            var summary = byDay[entry.day] ?? DaySummary(day: entry.day)
            switch (entry.category, entry.kind) {
            case (.bo, "unlock"):
                summary.visits += 1
                summary.unlocks += 1
            case (.manual, "unlock"): summary.unlocks += 1
            case (.refused, _): summary.refused += 1
            case (.manual, "command"): summary.commands += 1
            case (.fault, _): summary.faults += 1
            default: break
            }
            byDay[entry.day] = summary
        }
        for (day, values) in waits { byDay[day]?.averageSecondsToUnlock = values.reduce(0, +) / Double(values.count) }
        return byDay.values.sorted { $0.day > $1.day }
    }

    /// The last `maxBytes` of a file as text, starting at a line boundary.
    static func readTail(_ path: String, maxBytes: Int) throws -> Substring {
        let (bytes, start) = try readFile(path, count: maxBytes, at: nil)
        let text = String(decoding: bytes, as: UTF8.self)[...]
        // A read that starts mid-file starts mid-line: drop the partial first line.
        guard start > 0, let newline = text.firstIndex(of: "\n") else { return text }
        return text[text.index(after: newline)...]
    }
}

/// Snapshot file names as the daemon writes them: `20261207T005138.531Z-unlock.jpg`. Anything else (a path, a
/// dot file) is never served.
public enum SnapshotName {
    public static func isValid(_ name: String) -> Bool {
        (5...128).contains(name.utf8.count) && name.hasSuffix(".jpg") && !name.hasPrefix(".")
            && name.utf8.allSatisfy {
                $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
            }
    }
}
