import Support

/// What a person said a snapshot shows.
public enum SnapshotLabel: String, Sendable, Codable, CaseIterable {
    /// Bo: the photo teaches the model to open.
    case positive
    /// Another animal, a person, an empty porch: the photo teaches the model to stay shut.
    case negative
    /// Not useful (blurred, nothing recognisable): kept out of the dataset.
    case skip
}

/// One labelling decision, as a line of `labels.jsonl` in the dataset folder.
public struct LabelRecord: Sendable, Equatable, Codable {
    public var snapshot: String
    public var label: SnapshotLabel
    public var by: String
    public var time: String

    public init(snapshot: String, label: SnapshotLabel, by: String, time: String) {
        self.snapshot = snapshot
        self.label = label
        self.by = by
        self.time = time
    }

    enum CodingKeys: String, ExhaustiveCodingKey { case snapshot, label, by, time }
}

/// The door's own photos, labelled in the web app, as a training set in the trainer's layout:
/// `<dataset>/train/<class>/<snapshot>` and `<dataset>/valid/<class>/<snapshot>`, so that
/// `dogdoor-train --data <dataset>` (with the owner's photos as a second `--data`) learns from them.
///
/// Which split a photo goes to is decided by a hash of its name (a fixed share to `valid/`), so relabelling
/// never moves a photo between training and validation. `labels.jsonl` keeps every decision with who made it;
/// the newest line for a snapshot wins.
public struct DatasetLabel: Sendable {
    public let directory: String
    public let positiveClass: String
    public let negativeClass: String
    public let validFraction: Double

    /// Largest labels file read (about 50,000 decisions).
    public static let maximumLogBytes = 8 << 20

    public init(directory: String, positiveClass: String, negativeClass: String, validFraction: Double) {
        self.directory = directory
        self.positiveClass = positiveClass
        self.negativeClass = negativeClass
        self.validFraction = validFraction
    }

    static func isValidClassName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && !name.hasPrefix(".")
            && name.utf8.allSatisfy { $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    /// "train" or "valid" for a snapshot name: the first 8 bytes of its SHA-256 as a fraction of 2^64.
    public func split(of snapshot: String) -> String {
        let digest = SHA256.hex(Array(snapshot.utf8))
        let value = UInt64(digest.prefix(16), radix: 16) ?? 0
        return Double(value) / 18_446_744_073_709_551_616.0 < validFraction ? "valid" : "train"
    }

    func folder(_ label: SnapshotLabel, for snapshot: String) -> String? {
        switch label {
        case .positive: return "\(directory)/\(split(of: snapshot))/\(positiveClass)"
        case .negative: return "\(directory)/\(split(of: snapshot))/\(negativeClass)"
        case .skip: return nil
        }
    }

    /// The current label of every labelled snapshot.
    public func labels() throws -> [String: LabelRecord] {
        let path = directory + "/labels.jsonl"
        guard fileExistsAt(path) else { return [:] }
        let text = String(decoding: try readFile(path, limit: Self.maximumLogBytes), as: UTF8.self)
        var result: [String: LabelRecord] = [:]
        for line in text.split(separator: "\n") {
            // A torn last line (a crash mid-write) is skipped, not fatal.
            guard let record = try? JSONValueDecoder().decode(LabelRecord.self, from: String(line)) else { continue }
            result[record.snapshot] = record
        }
        return result
    }

    /// Labels `snapshot` (a file in `snapshots`): copies it into its class folder (removing it from the other's),
    /// or out of both for `.skip`, then appends the decision to `labels.jsonl`.
    public func label(
        _ snapshot: String, as label: SnapshotLabel, by user: String, at time: WallTime, snapshots: String
    ) throws {
        guard SnapshotName.isValid(snapshot) else { throw Failure("\(snapshot): not a snapshot name") }
        let source = snapshots + "/" + snapshot
        let bytes = try readFile(source, limit: 16 << 20)
        for other in SnapshotLabel.allCases where other != label {
            guard let folder = folder(other, for: snapshot) else { continue }
            let path = folder + "/" + snapshot
            if unlink(path) != 0 && errno != ENOENT { throw SystemError("remove", path: path) }
        }
        if let folder = folder(label, for: snapshot) {
            try makeDirectories(folder, permissions: 0o750)
            try AtomicFile.write(bytes, to: folder + "/" + snapshot, permissions: 0o640)
        }
        let record = LabelRecord(snapshot: snapshot, label: label, by: user, time: time.iso8601)
        let line = try JSONValueEncoder().encode(record).serialized() + "\n"
        try appendLine(line, to: directory + "/labels.jsonl")
    }

    /// How many photos each folder holds, for the labelling page.
    public func counts() -> [(folder: String, count: Int)] {
        ["train", "valid"].flatMap { split in
            [positiveClass, negativeClass].map { name in
                let folder = "\(split)/\(name)"
                let count = (try? directoryEntries("\(directory)/\(folder)").filter { $0.hasSuffix(".jpg") }.count) ?? 0
                return (folder, count)
            }
        }
    }

    private func appendLine(_ line: String, to path: String) throws {
        try makeDirectories(directory, permissions: 0o750)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        try writeAll(fd, Array(line.utf8), path: path)
        guard fsync(fd) == 0 else { throw SystemError("fsync", path: path) }
    }
}
