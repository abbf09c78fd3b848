import CDoorSystem

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A `sockaddr_un` for a filesystem path, or for an abstract-namespace name written `@name`.
public struct UnixSocketAddress: Sendable {
    private var storage = sockaddr_un()
    public private(set) var length: socklen_t

    /// `path` may start with `@` for the abstract namespace (as in `$NOTIFY_SOCKET`); otherwise it must be
    /// an absolute path.
    public init(notifySocket path: String) throws(SystemError) {
        if path.hasPrefix("@") {
            try self.init(bytes: [0] + Array(path.utf8.dropFirst()), display: path)
        } else if path.hasPrefix("/") {
            try self.init(path: path)
        } else {
            throw SystemError("notify (unsupported NOTIFY_SOCKET address)", path: path, code: EAFNOSUPPORT)
        }
    }

    /// A filesystem socket path.
    public init(path: String) throws(SystemError) {
        try self.init(bytes: Array(path.utf8) + [0], display: path)
    }

    private init(bytes: [UInt8], display: String) throws(SystemError) {
        storage.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard bytes.count <= capacity, bytes.count > 1 else {
            throw SystemError("socket address (path too long for a Unix socket)", path: display, code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        // Abstract names are exactly as long as given; paths include their terminating NUL.
        length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count)
    }

    /// Calls `body` with the address as a `sockaddr` pointer and its length.
    public mutating func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        let length = self.length
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

/// Who is at the other end of a Unix socket (`SO_PEERCRED`): for access checks and the audit log.
public struct PeerCredentials: Hashable, Sendable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// The credentials of the peer of `fd`, or nil if the kernel does not say.
    public init?(socket fd: Int32) {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (not imported into Swift: read it as its fields).
        var raw: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &raw, &length) == 0, length == 12 else { return nil }
        self.init(pid: raw.0, uid: raw.1, gid: raw.2)
    }

    public var description: String { "uid \(uid) pid \(pid)" }
}

/// The socket-file side of a Unix-domain server: binds a listening socket at a path, safely.
public enum UnixListener {
    /// What kind of socket to listen on.
    public enum Kind: Sendable {
        /// A byte stream (newline-delimited protocols).
        case stream
        /// Sequenced packets: each send arrives as one message (the latch protocol).
        case seqpacket

        var rawValue: Int32 {
            switch self {
            case .stream: return Int32(SOCK_STREAM.rawValue)
            case .seqpacket: return Int32(SOCK_SEQPACKET.rawValue)
            }
        }
    }

    /// A bound, listening, non-blocking, close-on-exec socket at `path`: creates the parent directory (mode
    /// 0750) if missing, replaces a stale socket left by a crash, refuses anything else at the path (a
    /// regular file, or a socket someone still listens on), sets mode `permissions` and, if given, the group.
    /// Returns the descriptor and the file's identity (device, inode), so that `remove` later deletes the
    /// file only if it is still this one.
    public static func bind(
        path: String, kind: Kind, permissions: mode_t = 0o660, group: gid_t? = nil,
        backlog: Int32 = 16
    ) throws(SystemError) -> (fd: Int32, identity: FileIdentity) {
        try makeDirectories(parentDirectory(of: path), permissions: 0o750)
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else {
                throw SystemError("listen (the path exists and is not a socket)", path: path, code: EEXIST)
            }
            if someoneListens(on: path, kind: kind) {
                throw SystemError("listen (another process listens on it)", path: path, code: EADDRINUSE)
            }
            guard unlink(path) == 0 else { throw SystemError("remove stale socket", path: path) }
        }
        var address = try UnixSocketAddress(path: path)
        let fd = socket(AF_UNIX, kind.rawValue | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", path: path) }
        var bound = false
        do throws(SystemError) {
            guard address.withSockaddr({ LibC.bind(fd, $0, $1) }) == 0 else { throw SystemError("bind", path: path) }
            bound = true
            guard chmod(path, permissions) == 0 else { throw SystemError("chmod", path: path) }
            if let group, chown(path, uid_t.max, group) != 0 {
                throw SystemError("chown to group \(group)", path: path)
            }
            guard listen(fd, backlog) == 0 else { throw SystemError("listen", path: path) }
            guard lstat(path, &st) == 0 else { throw SystemError("stat", path: path) }
        } catch {
            close(fd)
            if bound { unlink(path) }
            throw error
        }
        return (fd, FileIdentity(st))
    }

    /// Removes the socket file at `path` if it is still the one `identity` names (not a successor's).
    public static func remove(path: String, identity: FileIdentity) {
        var st = stat()
        if lstat(path, &st) == 0, FileIdentity(st) == identity { unlink(path) }
    }

    /// Whether a process accepts connections on `path`.
    public static func someoneListens(on path: String, kind: Kind) -> Bool {
        guard var address = try? UnixSocketAddress(path: path) else { return false }
        let fd = socket(AF_UNIX, kind.rawValue | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let result = address.withSockaddr { connect(fd, $0, $1) }
        return result == 0 || (errno != ECONNREFUSED && errno != ENOENT)
    }

    /// The next pending connection, non-blocking and close-on-exec; nil when none is pending.
    public static func accept(_ listener: Int32) throws(SystemError) -> Int32? {
        while true {
            let fd = dd_sys_accept_nonblocking(listener)
            if fd >= 0 { return fd }
            switch -fd {
            case EINTR: continue
            // A connection that went away while queued is not an error of the server.
            case EAGAIN, EWOULDBLOCK, ECONNABORTED, EPROTO: return nil
            default: throw SystemError("accept", code: -fd)
            }
        }
    }
}

/// A file's device and inode: tells whether a path still names the same file.
public struct FileIdentity: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64

    public init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}

/// Connects a blocking, close-on-exec Unix socket of `kind` to `path`, with send and receive timeouts.
/// Errors keep errno: ENOENT or ECONNREFUSED mean nobody listens, EACCES that the caller may not connect.
public func connectUnixSocket(path: String, kind: UnixListener.Kind, timeout: Duration) throws(SystemError) -> Int32 {
    var address = try UnixSocketAddress(path: path)
    let fd = socket(AF_UNIX, kind.rawValue | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SystemError("socket", path: path) }
    var tv = timeval(
        tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    while address.withSockaddr({ connect(fd, $0, $1) }) != 0 {
        if errno == EINTR { continue }
        let error = SystemError("connect", path: path)
        close(fd)
        throw error
    }
    return fd
}

/// The group id of group `name`, or nil if there is no such group.
public func groupID(named name: String) -> gid_t? {
    var entry = group()
    var buffer = [CChar](repeating: 0, count: 16_384)
    var result: UnsafeMutablePointer<group>?
    guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    return entry.gr_gid
}

/// The user id of user `name`, or nil if there is no such user.
public func userID(named name: String) -> uid_t? {
    var entry = passwd()
    var buffer = [CChar](repeating: 0, count: 16_384)
    var result: UnsafeMutablePointer<passwd>?
    guard getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    return entry.pw_uid
}

/// Creates `path` and its missing parents with `permissions` (exactly: the umask does not apply); an
/// existing directory is left as it is.
public func makeDirectories(_ path: String, permissions: mode_t) throws(SystemError) {
    var st = stat()
    if stat(path, &st) == 0 {
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw SystemError("create directory (not a directory)", path: path, code: ENOTDIR)
        }
        return
    }
    let parent = parentDirectory(of: path)
    if parent != path && parent != "." && parent != "/" { try makeDirectories(parent, permissions: permissions) }
    if mkdir(path, permissions) != 0 && errno != EEXIST { throw SystemError("create directory", path: path) }
    // mkdir applies the umask; set the intended mode explicitly.
    _ = chmod(path, permissions)
}
