import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A log handler for daemons and command-line tools: one line per message on standard error.
///
/// Under systemd (`JOURNAL_STREAM` set) each line starts with the syslog priority in angle brackets, which
/// journald turns into the entry's priority, and carries no timestamp (the journal adds its own).
/// Elsewhere lines carry an ISO-8601 timestamp and the level. Metadata prints as `key=value` pairs.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let journal: Bool

    public init(label: String, level: Logger.Level = .info, journal: Bool? = nil) {
        self.label = label
        self.logLevel = level
        self.journal = journal ?? (getenv("JOURNAL_STREAM") != nil)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var line = ""
        if journal {
            line = "<\(Self.syslogPriority(event.level))>"
        } else {
            line = "\(Self.timestamp()) \(event.level.rawValue.uppercased()) "
        }
        line += "\(event.message)"
        if !merged.isEmpty {
            line +=
                " "
                + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.logfmtValue("\($0.value)"))" }
                .joined(separator: " ")
        }
        line += "\n"
        // A log line that cannot be written (stderr closed) is dropped: there is nowhere to report it.
        try? writeAll(2, Array(line.utf8))
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// Local time with its UTC offset, as in the event log: `2026-01-15T22:15:03.120+01:00`.
    static func timestamp() -> String { SystemClock().now().wall.iso8601 }

    /// A metadata value in logfmt: as it is when it is a plain word, else as a quoted string with JSON's escapes
    /// (quotes, backslashes, control characters), so that every line splits back into its pairs.
    static func logfmtValue(_ value: String) -> String {
        let plain =
            !value.isEmpty
            && value.unicodeScalars.allSatisfy { scalar in
                scalar.value > 0x20 && scalar.value != 0x7F && scalar != "\"" && scalar != "=" && scalar != "\\"
            }
        return plain ? value : JSONValue.string(value).serialized()
    }
}

/// Installs `LineLogHandler` as the process-wide log backend (call once, at the start of `main`).
public func bootstrapLogging(level: Logger.Level = .info) {
    LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level) }
}
