import Support

// Files and directories for tests: one set of helpers for every test target.

/// A fresh, empty directory under /tmp, removed by `removeTree` at the end of a test.
public func makeTemporaryDirectory(_ label: String = "door") -> String {
    var template = Array("/tmp/dogdoor-test-\(label)-XXXXXX".utf8CString)
    let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(result != nil, "mkdtemp failed")
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Removes a directory tree created by a test.
public func removeTree(_ path: String) {
    guard let dir = opendir(path) else { unlink(path); return }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    closedir(dir)
    for name in names {
        let child = path + "/" + name
        var st = stat()
        if lstat(child, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { removeTree(child) } else { unlink(child) }
    }
    rmdir(path)
}

public func fileExists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

public func fileMode(_ path: String) -> mode_t {
    var st = stat()
    precondition(lstat(path, &st) == 0, "lstat \(path)")
    return st.st_mode & 0o7777
}

public func readText(_ path: String) throws -> String {
    String(decoding: try readFile(path), as: UTF8.self)
}

public func listDirectory(_ path: String) -> [String] {
    ((try? directoryEntries(path)) ?? []).sorted()
}

/// A fresh temporary directory that removes itself, with everything in it, when released.
public final class TemporaryDirectory {
    public let path: String

    public init(_ label: String = "test") { path = makeTemporaryDirectory(label) }

    deinit { removeTree(path) }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }
}
