#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// System calls are made through Glibc (or Musl) here and in the other files of Support, not through
// apple/swift-system: its FileDescriptor (1.8.1) has open/read/write/seek/close but none of what this code is
// built on: fsync (every event, model and configuration write is made durable), sockets (the
// control socket's accept4/SOCK_CLOEXEC and MSG_NOSIGNAL sends, the latch link's SOCK_SEQPACKET and
// SO_PEERCRED), mkstemp, mmap (model files) and the V4L2 ioctls. Using it for the few calls it covers would give
// two ways to do one thing and two error types; SystemError names the operation, path and errno instead.

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR. Sockets are written with
/// `MSG_NOSIGNAL`, so a peer that went away is an EPIPE error rather than a SIGPIPE that kills the process.
/// `operation` and `path` name the failure in the thrown error.
public func writeAll(
    _ fd: Int32, _ bytes: UnsafeRawBufferPointer, what operation: String = "write",
    path: String? = nil
) throws(SystemError) {
    var offset = 0
    var useSend = true
    while offset < bytes.count {
        let start = bytes.baseAddress! + offset
        var n = -1
        if useSend {
            n = send(fd, start, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == ENOTSOCK { useSend = false }
        }
        if !useSend { n = write(fd, start, bytes.count - offset) }
        if n > 0 {
            offset += n
        } else if n < 0 && errno == EINTR {
            continue
        } else {
            throw SystemError(operation, path: path, code: n == 0 ? EIO : errno)
        }
    }
}

/// Writes all of `bytes` to `fd` (see the buffer form).
public func writeAll(
    _ fd: Int32, _ bytes: [UInt8], what operation: String = "write", path: String? = nil
) throws(SystemError) {
    let result = bytes.withUnsafeBytes { raw in
        Result { () throws(SystemError) in try writeAll(fd, raw, what: operation, path: path) }
    }
    try result.get()
}

/// Whether anything (a file, directory or dangling symbolic link) exists at `path`.
public func fileExistsAt(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

/// Makes a directory's entries durable after files in it were created or renamed. Errors are ignored: the
/// files themselves are already synced, and a directory that cannot be opened has nothing to sync.
public func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
        _ = fsync(fd)
        close(fd)
    }
}
