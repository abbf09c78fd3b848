#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call: what was attempted, on what, and errno's reason.
public struct SystemError: Error, CustomStringConvertible, Hashable {
    /// The operation, e.g. "open".
    public var operation: String
    /// The file or device involved, if any.
    public var path: String?
    /// errno at the time of failure.
    public var code: Int32

    public init(_ operation: String, path: String? = nil, code: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var reason: String { String(cString: strerror(code)) }

    public var description: String {
        if let path { return "\(path): \(failure)" }
        return failure
    }

    /// What failed and why, without the path (for messages that name the file already).
    public var failure: String { "\(operation) failed: \(reason)" }
}

/// Calls `body` until it does not fail with EINTR; a -1 result throws `SystemError` with errno.
@discardableResult
public func retryingOnInterrupt<T: FixedWidthInteger>(
    _ operation: String, path: String? = nil, _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(operation, path: path, code: code)
    }
}
