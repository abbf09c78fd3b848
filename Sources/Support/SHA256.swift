import CCrypto

/// Incremental SHA-256 (Nettle underneath, which uses the CPU's SHA extensions where present).
public struct SHA256: ~Copyable {
    private let context: OpaquePointer

    public init() {
        guard let context = dd_sha256_new() else { fatalError("SHA-256: out of memory") }
        self.context = context
    }

    deinit { dd_sha256_free(context) }

    /// Feeds `count` bytes at `pointer`.
    public mutating func update(_ pointer: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        dd_sha256_update(context, pointer, count)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress { update(base, count: bytes.count) }
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ text: String) {
        var text = text
        text.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// The digest as 64 lowercase hex digits. Consumes the hasher.
    public consuming func finalizeHex() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { dd_sha256_finish(context, $0.baseAddress) }
        discard self
        return hexString(digest)
    }

    /// SHA-256 of a byte buffer, as hex.
    public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var h = SHA256()
        h.update(bytes)
        return h.finalizeHex()
    }

    public static func hex(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { hex($0) } }
}

/// Lowercase hex of bytes.
public func hexString<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}
