import Control
import Support
import WebCore

/// The daemon's status as the status page shows it.
struct StatusView {
    let status: DaemonStatus

    init(_ status: DaemonStatus) { self.status = status }

    var values: [String: Any] {
        var values: [String: Any] = [
            "latch": status.latch.rawValue, "mode": status.mode.rawValue, "camera": status.camera.rawValue,
            "inference": status.inferenceMilliseconds > 0
                ? "\(Int(status.inferenceMilliseconds.rounded())) ms per frame" : "-",
            "model": status.model.map { "\($0.path) (threshold \(fixed($0.threshold, 4)))" } ?? "none loaded",
            "decision": status.lastDecision.map {
                "\($0.kind.replacingUnderscores) at \(displayTime($0.time)): \($0.rule)"
            } ?? "none yet",
        ]
        if status.framesPerSecond > 0 { values["fps"] = fixed(status.framesPerSecond, 1) }
        if let remaining = status.unlockRemainingSeconds { values["remaining"] = "\(Int(remaining.rounded())) s" }
        return values
    }
}

/// One timeline entry as the pages show it.
struct EntryView {
    let entry: EventEntry

    init(_ entry: EventEntry) { self.entry = entry }

    var values: [String: Any] {
        var values: [String: Any] = [
            "time": displayTime(entry.time), "kind": entry.kind.replacingUnderscores,
            "category": entry.category.rawValue,
        ]
        if let rule = entry.rule { values["rule"] = rule }
        if let action = entry.action { values["kind"] = "command: " + action }
        if let by = entry.by { values["by"] = by }
        if let snapshot = entry.snapshot { values["snapshot"] = snapshot }
        if !entry.scores.isEmpty { values["scoreText"] = entry.scores.map { fixed($0, 2) }.joined(separator: ", ") }
        return values
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}

/// A time as the daemon writes it (`2026-12-07T08:01:45.934+01:00`, the door's local time) as people read it:
/// `2026-12-07 08:01:45`. Anything else is shown as it is.
func displayTime(_ iso: String) -> String {
    let text = Array(iso)
    guard text.count >= 19, text[10] == "T" else { return iso }
    return String(text[0..<10]) + " " + String(text[11..<19])
}
