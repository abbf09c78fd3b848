#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A read-only file mapped into memory. The mapping lives as long as the object.
///
/// Reading a model through a mapping costs no copy, and only the pages actually touched count toward the
/// process's resident memory.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeMutableRawPointer?

    /// Maps `path`. Empty files map to an empty buffer.
    public init(path: String) throws(SystemError) {
        self.path = path
        let fd = try retryingOnInterrupt("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var st = stat()
        try retryingOnInterrupt("fstat", path: path) { fstat(fd, &st) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw SystemError("map (not a regular file)", path: path, code: EINVAL)
        }
        count = Int(st.st_size)
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw SystemError("mmap", path: path) }
        base = p
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// The file's bytes.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Tells the kernel the range will not be needed soon, so its pages leave the resident set.
    public func release(offset: Int, count: Int) {
        guard let base, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset + page - 1) / page * page
        let end = (offset + count) / page * page
        if end > start { madvise(base + start, end - start, MADV_DONTNEED) }
    }
}

/// Reads up to `count` bytes of `path` starting at `offset`, or its last `count` bytes when `offset` is nil
/// (fewer where the file ends). Returns the bytes and the offset they start at. Throws `SystemError` naming the
/// file.
public func readFile(
    _ path: String, count: Int, at offset: Int?
) throws(SystemError) -> (bytes: [UInt8], offset: Int) {
    let fd = try retryingOnInterrupt("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
    defer { close(fd) }
    var st = stat()
    try retryingOnInterrupt("fstat", path: path) { fstat(fd, &st) }
    let size = Int(st.st_size)
    let start = offset ?? max(0, size - count)
    var bytes = [UInt8](repeating: 0, count: max(0, min(count, size - start)))
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(start + done)) }
        if n < 0 {
            if errno == EINTR { continue }
            throw SystemError("read", path: path)
        }
        if n == 0 { break }
        done += n
    }
    bytes.removeLast(bytes.count - done)
    return (bytes, start)
}

/// Reads a whole file. Throws `SystemError` naming the file.
public func readFile(_ path: String, limit: Int = 1 << 30) throws(SystemError) -> [UInt8] {
    let fd = try retryingOnInterrupt("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
    defer { close(fd) }
    var st = stat()
    try retryingOnInterrupt("fstat", path: path) { fstat(fd, &st) }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw SystemError("read (is a directory)", path: path, code: EISDIR) }
    var result = [UInt8]()
    if st.st_size > 0 { result.reserveCapacity(min(Int(st.st_size), limit)) }
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { buffer in read(fd, buffer.baseAddress, buffer.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw SystemError("read", path: path)
        }
        if n == 0 { break }
        result.append(contentsOf: chunk[0..<n])
        if result.count > limit { throw SystemError("read (file larger than \(limit) bytes)", path: path, code: EFBIG) }
    }
    return result
}

/// Names in a directory (unsorted), excluding `.` and `..`. Throws `SystemError` naming the directory.
public func directoryEntries(_ path: String) throws(SystemError) -> [String] {
    guard let dir = opendir(path) else { throw SystemError("list directory", path: path) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
