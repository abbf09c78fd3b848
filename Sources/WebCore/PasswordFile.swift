import HummingbirdBcrypt
import Support

/// The web app's users: one `name:bcrypt-hash` line each (`dogdoor web passwd NAME` writes it). Comments (`#`)
/// and blank lines are allowed. The file is read at every login, so a changed password takes effect at once.
public struct PasswordFile: Sendable, Equatable {
    /// Largest file read (a few hundred users at most; a bigger file is a mistake, not a user list).
    public static let maximumBytes = 64 * 1024
    /// bcrypt's work factor for new hashes: about a quarter of a second per login on a Raspberry Pi 4.
    public static let cost: UInt8 = 11

    public private(set) var users: [(name: String, hash: String)]

    public static func == (lhs: PasswordFile, rhs: PasswordFile) -> Bool {
        lhs.users.elementsEqual(rhs.users) { $0.name == $1.name && $0.hash == $1.hash }
    }

    public init() { users = [] }

    /// Parses the file's text; errors name the file and line.
    public init(parsing text: String, file: String) throws(Failure) {
        users = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw Failure("\(file):\(number + 1): expected NAME:HASH")
            }
            let name = String(line[..<colon])
            let hash = String(line[line.index(after: colon)...])
            guard Self.isValidName(name) else {
                throw Failure("\(file):\(number + 1): user name \"\(name)\" must be 1 to 32 letters, digits, - or _")
            }
            guard hash.hasPrefix("$2"), hash.utf8.count == 60 else {
                throw Failure("\(file):\(number + 1): the password of \(name) is not a bcrypt hash")
            }
            guard !users.contains(where: { $0.name == name }) else {
                throw Failure("\(file):\(number + 1): user \(name) appears twice")
            }
            users.append((name, hash))
        }
    }

    /// Reads `path`; a missing file is an empty user list (nobody can log in yet).
    public static func load(_ path: String) throws -> PasswordFile {
        guard fileExistsAt(path) else { return PasswordFile() }
        let bytes = try readFile(path, limit: maximumBytes)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Failure("\(path): not UTF-8 text") }
        return try PasswordFile(parsing: text, file: path)
    }

    /// Writes the file atomically, readable by its owner and group only; an existing file's owner and group
    /// are kept (the install script makes it root:dogdoor-web, so that the service can read it).
    public func save(to path: String) throws {
        var existing = stat()
        let hadFile = stat(path, &existing) == 0
        try AtomicFile.write(text, to: path, permissions: 0o640)
        if hadFile, chown(path, existing.st_uid, existing.st_gid) != 0 {
            throw SystemError("keep the owner of", path: path)
        }
    }

    public var text: String {
        "# dogdoor-web users: NAME:BCRYPT-HASH (written by `dogdoor web passwd NAME`)\n"
            + users.map { "\($0.name):\($0.hash)\n" }.joined()
    }

    /// Sets (or adds) `name`'s password.
    public mutating func setPassword(
        _ password: String, for name: String, cost: UInt8 = PasswordFile.cost
    )
        throws(Failure)
    {
        guard Self.isValidName(name) else { throw Failure("user name must be 1 to 32 letters, digits, - or _") }
        guard password.utf8.count >= 8 else { throw Failure("the password must be at least 8 characters") }
        // bcrypt reads at most 72 bytes: a longer password would be accepted with any ending.
        guard password.utf8.count <= 72 else { throw Failure("the password must be at most 72 bytes") }
        let hash = Bcrypt.hash(password, cost: cost)
        if let index = users.firstIndex(where: { $0.name == name }) {
            users[index].hash = hash
        } else {
            users.append((name, hash))
        }
    }

    /// Removes `name`; false if there was no such user.
    @discardableResult
    public mutating func remove(_ name: String) -> Bool {
        let before = users.count
        users.removeAll { $0.name == name }
        return users.count != before
    }

    /// Whether `password` is `name`'s. Costs one bcrypt verification even for an unknown name, so that timing
    /// does not tell which names exist.
    public func verify(name: String, password: String) -> Bool {
        guard let hash = users.first(where: { $0.name == name })?.hash else {
            _ = Bcrypt.verify(password, hash: Self.decoyHash)
            return false
        }
        return password.utf8.count <= 72 && Bcrypt.verify(password, hash: hash)
    }

    static func isValidName(_ name: String) -> Bool {
        (1...32).contains(name.utf8.count)
            && name.utf8.allSatisfy { $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    /// A hash of a random password at the default cost, for verifying unknown names.
    private static let decoyHash = Bcrypt.hash(randomToken(bytes: 16), cost: cost)
}

extension UInt8 {
    var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return text
    }
}
