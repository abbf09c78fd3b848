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
            line += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
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

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &tmv)
        let millis = Int(ts.tv_nsec / 1_000_000)
        let base = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return base + "." + (millis < 10 ? "00" : millis < 100 ? "0" : "") + String(millis)
    }
}

/// Installs `LineLogHandler` as the process-wide log backend (call once, at the start of `main`).
public func bootstrapLogging(level: Logger.Level = .info) {
    LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level) }
}
