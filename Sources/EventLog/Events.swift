import DecisionCore
import Support
import Synchronization

/// One line of the event log: a decision (or another daemon event) with everything needed to explain it.
public struct EventRecord: Equatable, Sendable {
    /// When it happened, in local time with the offset.
    public var time: WallTime
    /// `unlock`, `relock`, `near_miss`, ... (the `DecisionKind` raw values), or a daemon event kind.
    public var kind: String
    /// The door mode after the event (`auto`, `locked`, `unlocked`).
    public var mode: String?
    /// The latch state after the event (`locked`, `unlocked`).
    public var door: String?
    /// The probabilities that took part, oldest first (rounded to 4 decimals when written).
    public var scores: [Double]
    /// The rule that fired, in words.
    public var rule: String?
    /// SHA-256 of the model that scored the frames.
    public var modelSHA256: String?
    /// The frame that triggered the decision.
    public var frameID: UInt64?
    /// File name of the snapshot stored with the event, inside the snapshot directory.
    public var snapshot: String?
    /// Further fields, written after the standard ones (a key that names a standard field is ignored).
    public var details: JSONObject

    public init(
        time: WallTime, kind: String, mode: String? = nil, door: String? = nil, scores: [Double] = [],
        rule: String? = nil, modelSHA256: String? = nil, frameID: UInt64? = nil, snapshot: String? = nil,
        details: JSONObject = JSONObject()
    ) {
        self.time = time
        self.kind = kind
        self.mode = mode
        self.door = door
        self.scores = scores
        self.rule = rule
        self.modelSHA256 = modelSHA256
        self.frameID = frameID
        self.snapshot = snapshot
        self.details = details
    }

    /// The event for a decision record (a vote's unlock or rejection also says how long after the animal's first
    /// positive frame it came, as `first_seen_s`).
    public init(decision: DecisionRecord, modelSHA256: String?, snapshot: String? = nil) {
        var details = JSONObject()
        if let since = decision.sinceFirstPositive {
            details["first_seen_s"] = .number((since.seconds * 1_000).rounded() / 1_000)
        }
        self.init(
            time: decision.time.wall, kind: decision.kind.rawValue, mode: decision.mode.name,
            door: decision.door.rawValue, scores: decision.scores, rule: decision.rule,
            modelSHA256: modelSHA256, frameID: decision.frameID, snapshot: snapshot, details: details)
    }

    /// The record as a JSON object: `time`, `kind`, then the fields that are present, then `details`.
    public var json: JSONObject {
        guard case .object(let object) = try? JSONValueEncoder().encode(self) else {
            preconditionFailure("an event record always encodes to an object")
        }
        return object
    }

    /// The line written to the log, without the newline.
    public var line: String { JSONValue.object(json).serialized() }
}

extension EventRecord: Encodable {
    /// The standard fields; every other member of a line belongs to `details`.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case time, kind, mode, door, scores, rule, frame, snapshot
        case modelSHA256 = "model_sha256"
    }

    /// A `details` member's name.
    private struct DetailKey: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(time.iso8601, forKey: .time)
        try container.encode(kind, forKey: .kind)
        try container.encodeIfPresent(mode, forKey: .mode)
        try container.encodeIfPresent(door, forKey: .door)
        try container.encode(scores.map { ($0 * 10_000).rounded() / 10_000 }, forKey: .scores)
        try container.encodeIfPresent(rule, forKey: .rule)
        try container.encodeIfPresent(modelSHA256, forKey: .modelSHA256)
        try container.encodeIfPresent(frameID, forKey: .frame)
        try container.encodeIfPresent(snapshot, forKey: .snapshot)
        var extra = encoder.container(keyedBy: DetailKey.self)
        for member in details.members where CodingKeys(rawValue: member.key) == nil {
            try extra.encode(member.value, forKey: DetailKey(member.key))
        }
    }
}

/// The append-only event log `events.jsonl`: one JSON object per line.
///
/// Crash safety: the file is opened with `O_APPEND`, every record is written as one complete line and the
/// file is fsynced before `append` returns, so a record that was acknowledged survives a power cut.
/// Decisions are rare (a few per visit of the dog), so syncing each one costs nothing noticeable. If the
/// last line of an existing log is incomplete (a crash in the middle of a write), a newline is added
/// before the next record so that only the damaged line is lost.
///
/// Rotation: before a record would make the file larger than `maxBytes`, `events.jsonl` becomes
/// `events.jsonl.1`, `.1` becomes `.2`, and so on up to `keepFiles`; the oldest is dropped.
public final class EventLog: Sendable {
    public let directory: String
    /// The current log file.
    public let path: String
    public let maxBytes: Int
    public let keepFiles: Int

    private struct State {
        var fd: Int32
        var size: Int
    }
    private let storage: Mutex<State>

    /// Opens (creating directory and file if needed: modes 0750 and 0640) `directory/fileName`.
    public init(
        directory: String, fileName: String = "events.jsonl", maxBytes: Int = 10 * 1_048_576,
        keepFiles: Int = 5
    ) throws(SystemError) {
        precondition(maxBytes > 0 && keepFiles >= 1, "EventLog: invalid limits")
        self.directory = directory
        self.path = directory + "/" + fileName
        self.maxBytes = maxBytes
        self.keepFiles = keepFiles
        try makeDirectories(directory, permissions: 0o750)
        let (fd, size) = try Self.open(path)
        storage = Mutex(State(fd: fd, size: size))
    }

    deinit {
        storage.withLock { state in
            if state.fd >= 0 { LibC.close(state.fd) }
            state.fd = -1
        }
    }

    /// The current file's size in bytes.
    public var size: Int { storage.withLock { $0.size } }

    /// Appends one record and syncs it to disk.
    public func append(_ record: EventRecord) throws(SystemError) {
        try append(line: record.line)
    }

    /// Appends one line (which must not contain a newline) and syncs it to disk.
    public func append(line: String) throws(SystemError) {
        precondition(!line.utf8.contains(UInt8(ascii: "\n")), "EventLog: a record must be a single line")
        let bytes = Array((line + "\n").utf8)
        let result: Result<Void, SystemError> = storage.withLock { state in
            do throws(SystemError) {
                guard state.fd >= 0 else { throw SystemError("append", path: path, code: EBADF) }
                if state.size > 0 && state.size + bytes.count > maxBytes {
                    try rotate(&state)
                }
                try writeAll(state.fd, bytes, path: path)
                state.size += bytes.count
                try retryingOnInterrupt("fsync", path: path) { fsync(state.fd) }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Closes the file; later appends throw.
    public func close() {
        storage.withLock { state in
            if state.fd >= 0 { LibC.close(state.fd) }
            state.fd = -1
        }
    }

    private func rotate(_ state: inout State) throws(SystemError) {
        LibC.close(state.fd)
        state.fd = -1
        for index in stride(from: keepFiles - 1, through: 1, by: -1) {
            let from = "\(path).\(index)"
            if fileExistsAt(from) {
                try retryingOnInterrupt("rename", path: from) { rename(from, "\(path).\(index + 1)") }
            }
        }
        try retryingOnInterrupt("rename", path: path) { rename(path, "\(path).1") }
        syncDirectory(directory)
        let (fd, size) = try Self.open(path)
        state.fd = fd
        state.size = size
    }

    /// Opens for appending; repairs a final line left incomplete by a crash.
    private static func open(_ path: String) throws(SystemError) -> (Int32, Int) {
        let fd = try retryingOnInterrupt("open", path: path) {
            LibC.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        }
        var st = stat()
        do {
            try retryingOnInterrupt("fstat", path: path) { fstat(fd, &st) }
            var size = Int(st.st_size)
            if size > 0 {
                let reader = try retryingOnInterrupt("open", path: path) { LibC.open(path, O_RDONLY | O_CLOEXEC) }
                var last: UInt8 = 0
                let n = pread(reader, &last, 1, off_t(size - 1))
                LibC.close(reader)
                if n == 1 && last != UInt8(ascii: "\n") {
                    try writeAll(fd, [UInt8(ascii: "\n")], path: path)
                    try retryingOnInterrupt("fsync", path: path) { fsync(fd) }
                    size += 1
                }
            }
            return (fd, size)
        } catch {
            LibC.close(fd)
            throw error
        }
    }
}

/// JPEG snapshots of interesting frames, named by time and kind (`20260115T221503.120Z-near_miss.jpg`, UTC so
/// names sort in time order), written atomically, and pruned oldest first to stay within a file count and
/// a total size.
public final class SnapshotStore: Sendable {
    public let directory: String
    public let maxCount: Int
    public let maxBytes: Int

    private struct Entry {
        var name: String
        var size: Int
    }
    private struct State {
        var entries: [Entry] = []
        var totalBytes = 0
    }
    private let storage = Mutex(State())

    /// Opens the store, creating the directory (mode 0750) if needed. Existing snapshots count toward the
    /// limits (and are pruned at once if over them); temporary files left by a crash are removed.
    public init(directory: String, maxCount: Int, maxBytes: Int) throws(SystemError) {
        precondition(maxCount >= 1 && maxBytes >= 1, "SnapshotStore: invalid limits")
        self.directory = directory
        self.maxCount = maxCount
        self.maxBytes = maxBytes
        try makeDirectories(directory, permissions: 0o750)
        var entries: [Entry] = []
        for name in try directoryEntries(directory) {
            let path = directory + "/" + name
            if name.hasPrefix(".") && name.contains(".tmp-") {
                unlink(path)
                continue
            }
            guard Self.isSnapshotName(name) else { continue }
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            entries.append(Entry(name: name, size: Int(st.st_size)))
        }
        entries.sort { $0.name < $1.name }
        let existing = entries
        try storage.withLock { (state: inout State) throws(SystemError) in
            state.entries = existing
            state.totalBytes = existing.reduce(0) { $0 + $1.size }
            try prune(&state)
        }
    }

    /// Snapshot file names, oldest first.
    public var files: [String] { storage.withLock { $0.entries.map(\.name) } }

    /// Total size of the snapshots in bytes.
    public var totalBytes: Int { storage.withLock { $0.totalBytes } }

    /// Stores `jpeg` as a snapshot for an event of `kind` at `time`, prunes the oldest snapshots beyond the
    /// limits, and returns the new file's name.
    @discardableResult
    public func save(jpeg: [UInt8], time: WallTime, kind: String) throws(SystemError) -> String {
        guard jpeg.count <= maxBytes else {
            throw SystemError(
                "store snapshot (\(jpeg.count) bytes is more than the \(maxBytes) allowed)",
                path: directory, code: EFBIG)
        }
        let safeKind = String(decoding: kind.utf8.map { Self.isNameByte($0) ? $0 : UInt8(ascii: "_") }, as: UTF8.self)
        let result: Result<String, SystemError> = storage.withLock { state in
            do throws(SystemError) {
                let base = time.compactUTC + "-" + (safeKind.isEmpty ? "event" : safeKind)
                var name = base + ".jpg"
                var suffix = 2
                while state.entries.contains(where: { $0.name == name }) || fileExistsAt(directory + "/" + name) {
                    name = base + "-\(suffix).jpg"
                    suffix += 1
                }
                do {
                    try AtomicFile.write(jpeg, to: directory + "/" + name, permissions: 0o640)
                } catch let error as SystemError {
                    throw error
                } catch {
                    throw SystemError("write snapshot", path: directory + "/" + name, code: EIO)
                }
                state.entries.append(Entry(name: name, size: jpeg.count))
                state.totalBytes += jpeg.count
                try prune(&state)
                return .success(name)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func prune(_ state: inout State) throws(SystemError) {
        while state.entries.count > maxCount || state.totalBytes > maxBytes, let oldest = state.entries.first {
            let path = directory + "/" + oldest.name
            if unlink(path) != 0 && errno != ENOENT { throw SystemError("delete old snapshot", path: path) }
            state.entries.removeFirst()
            state.totalBytes -= oldest.size
        }
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            || b == UInt8(ascii: "_")
    }

    /// `YYYYMMDDTHHMMSS.mmmZ-<kind>[-N].jpg`
    static func isSnapshotName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count > 25, name.hasSuffix(".jpg") else { return false }
        let digits = Array(bytes[0..<8]) + Array(bytes[9..<15]) + Array(bytes[16..<19])
        return digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            && bytes[8] == UInt8(ascii: "T") && bytes[15] == UInt8(ascii: ".") && bytes[19] == UInt8(ascii: "Z")
            && bytes[20] == UInt8(ascii: "-")
    }
}
