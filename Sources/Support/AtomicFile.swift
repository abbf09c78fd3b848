#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes files so that readers see either the old complete file or the new complete file, never a
/// partial one, even across a power cut: write to a temporary file in the same directory, fsync it,
/// rename it over the destination, fsync the directory.
public enum AtomicFile {
    /// Writes the bytes produced by `body`, which receives a function that appends bytes.
    /// On any error the temporary file is removed and the destination is untouched.
    public static func write(
        to path: String, permissions: mode_t = 0o644,
        _ body: (_ append: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws {
        let directory = parentDirectory(of: path)
        var template = Array("\(directory)/.\(baseName(of: path)).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SystemError("create temporary file", path: directory) }
        let tempPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var committed = false
        defer {
            if !committed { unlink(tempPath) }
        }
        do {
            defer { close(fd) }
            try body { bytes in try writeAll(fd, bytes, path: tempPath) }
            try retryingOnInterrupt("fchmod", path: tempPath) { fchmod(fd, permissions) }
            try retryingOnInterrupt("fsync", path: tempPath) { fsync(fd) }
        }
        try retryingOnInterrupt("rename", path: path) { rename(tempPath, path) }
        committed = true
        syncDirectory(directory)
    }

    /// Writes `bytes` atomically.
    public static func write(_ bytes: [UInt8], to path: String, permissions: mode_t = 0o644) throws {
        try write(to: path, permissions: permissions) { append in
            try bytes.withUnsafeBytes { try append($0) }
        }
    }

    /// Writes UTF-8 text atomically.
    public static func write(_ text: String, to path: String, permissions: mode_t = 0o644) throws {
        try write(Array(text.utf8), to: path, permissions: permissions)
    }
}

/// The directory part of a path ("." when there is none).
public func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}

/// The last path component.
public func baseName(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}
