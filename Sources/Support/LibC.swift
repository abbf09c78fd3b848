// The C library, for every module that imports Support: one import of Glibc or Musl here instead of one per
// file. (Files of Support itself import it as any module's files must.)
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#endif

/// The C library's calls whose names clash with methods of our own types (`close()`, `open()`, `send()`,
/// `write()`, `bind()`, `connect()`, `socket()`), under one name on Glibc and Musl alike.
public enum LibC {
    @inlinable @discardableResult public static func close(_ fd: Int32) -> Int32 { platformClose(fd) }

    @inlinable @discardableResult public static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
        platformOpen(path, flags, mode)
    }

    @inlinable @discardableResult public static func send(
        _ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int, _ flags: Int32
    ) -> Int {
        platformSend(fd, buffer, count, flags)
    }

    @inlinable @discardableResult public static func write(
        _ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int
    ) -> Int {
        platformWrite(fd, buffer, count)
    }

    @inlinable @discardableResult public static func socket(_ domain: Int32, _ type: Int32, _ proto: Int32) -> Int32 {
        platformSocket(domain, type, proto)
    }

    @inlinable @discardableResult public static func bind(
        _ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t
    ) -> Int32 {
        platformBind(fd, address, length)
    }

    @inlinable @discardableResult public static func connect(
        _ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t
    ) -> Int32 {
        platformConnect(fd, address, length)
    }
}

// Free functions, so that the names inside resolve to the C library's, not to `LibC`'s own.
@usableFromInline func platformClose(_ fd: Int32) -> Int32 { close(fd) }
@usableFromInline func platformOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
@usableFromInline func platformSend(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    send(fd, buffer, count, flags)
}
@usableFromInline func platformWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}
@usableFromInline func platformSocket(_ domain: Int32, _ type: Int32, _ proto: Int32) -> Int32 {
    socket(domain, type, proto)
}
@usableFromInline func platformBind(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    bind(fd, address, length)
}
@usableFromInline func platformConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(fd, address, length)
}
