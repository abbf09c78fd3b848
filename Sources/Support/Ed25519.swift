import CCrypto

/// Ed25519 signatures (RFC 8032) through GNU Nettle, the cryptography library DogDoor already links for
/// SHA-256. Used to sign model files (the trainer's owner holds the private key) and to verify them (the
/// daemon holds only the public key).
public enum Ed25519 {
    /// A 32-byte private key (the RFC 8032 seed).
    public struct PrivateKey: Sendable {
        public let rawValue: [UInt8]
        public let publicKey: PublicKey

        /// A key from 32 bytes.
        public init?(rawValue: [UInt8]) {
            guard rawValue.count == 32 else { return nil }
            self.rawValue = rawValue
            var derived = [UInt8](repeating: 0, count: 32)
            dd_ed25519_public_key(rawValue, &derived)
            publicKey = PublicKey(uncheckedRawValue: derived)
        }

        /// A new key from the kernel's random number generator.
        public static func generate() throws(SystemError) -> PrivateKey {
            var seed = [UInt8](repeating: 0, count: 32)
            let code = dd_random_bytes(&seed, seed.count)
            guard code == 0 else { throw SystemError("getrandom", code: -code) }
            return PrivateKey(rawValue: seed)!
        }

        /// The 64-byte signature of `message`.
        public func signature(for message: [UInt8]) -> [UInt8] {
            var signature = [UInt8](repeating: 0, count: 64)
            dd_ed25519_sign(publicKey.rawValue, rawValue, message, message.count, &signature)
            return signature
        }
    }

    /// A 32-byte public key.
    public struct PublicKey: Sendable, Hashable {
        public let rawValue: [UInt8]

        public init?(rawValue: [UInt8]) {
            guard rawValue.count == 32 else { return nil }
            self.rawValue = rawValue
        }

        init(uncheckedRawValue: [UInt8]) { rawValue = uncheckedRawValue }

        /// Whether `signature` is this key's signature of `message`.
        public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
            guard signature.count == 64 else { return false }
            return dd_ed25519_verify(rawValue, message, message.count, signature) == 1
        }

        /// A short fingerprint for messages: the first 16 hex digits of the key's SHA-256.
        public var fingerprint: String { String(SHA256.hex(rawValue).prefix(16)) }
    }
}

/// Base64 (RFC 4648, padded) through Nettle.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [CChar](repeating: 0, count: (bytes.count + 2) / 3 * 4)
        dd_base64_encode(bytes, bytes.count, &out)
        return String(decoding: out.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The bytes of `text`, or nil if it is not base64 (no whitespace allowed).
    public static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count <= 1 << 20 else { return nil }
        var out = [UInt8](repeating: 0, count: characters.count * 3 / 4 + 1)
        let n = characters.withUnsafeBufferPointer { chars in
            chars.withMemoryRebound(to: CChar.self) { dd_base64_decode($0.baseAddress, $0.count, &out) }
        }
        guard n >= 0 else { return nil }
        return Array(out.prefix(n))
    }
}

/// The text files DogDoor keeps Ed25519 keys in: a first line that says what the file is, and the key's 32
/// bytes in base64 on the second. Private key files are written mode 0600.
public enum KeyFile {
    static let privateHeader = "DogDoor model signing key (Ed25519, private): keep this file secret"
    static let publicHeader = "DogDoor model signing key (Ed25519, public)"

    /// A problem with a key file: the file, the line, and what is wrong.
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var file: String
        public var line: Int?
        public var message: String
        public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
    }

    public static func privateKeyText(_ key: Ed25519.PrivateKey) -> String {
        privateHeader + "\n" + Base64.encode(key.rawValue) + "\n"
    }
    public static func publicKeyText(_ key: Ed25519.PublicKey) -> String {
        publicHeader + "\n" + Base64.encode(key.rawValue) + "\n"
    }

    /// Reads a private key file.
    public static func readPrivateKey(_ path: String) throws(Error) -> Ed25519.PrivateKey {
        let bytes = try read(path, header: privateHeader, other: publicHeader, kind: "private")
        guard let key = Ed25519.PrivateKey(rawValue: bytes) else {
            throw Error(file: path, line: 2, message: "not a key of 32 bytes")
        }
        return key
    }

    /// Reads a public key file.
    public static func readPublicKey(_ path: String) throws(Error) -> Ed25519.PublicKey {
        let bytes = try read(path, header: publicHeader, other: privateHeader, kind: "public")
        guard let key = Ed25519.PublicKey(rawValue: bytes) else {
            throw Error(file: path, line: 2, message: "not a key of 32 bytes")
        }
        return key
    }

    private static func read(_ path: String, header: String, other: String, kind: String) throws(Error) -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path, limit: 4_096)
        } catch {
            throw Error(file: path, line: nil, message: "cannot read: \(error.reason)")
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        guard let first = lines.first, first == header else {
            if lines.first == other {
                throw Error(
                    file: path, line: 1,
                    message:
                        "this is a \(kind == "public" ? "private" : "public") key file; a \(kind) one is needed here")
            }
            throw Error(
                file: path, line: 1,
                message: "not a DogDoor \(kind) key file (its first line should read \"\(header)\")")
        }
        guard lines.count >= 2, let key = Base64.decode(lines[1]) else {
            throw Error(file: path, line: 2, message: "not base64")
        }
        guard lines.dropFirst(2).allSatisfy({ $0.isEmpty }) else {
            throw Error(file: path, line: 3, message: "unexpected text after the key")
        }
        return key
    }
}
