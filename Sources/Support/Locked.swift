import Synchronization

/// A value behind a lock, shared by reference between threads (a `Mutex` cannot be copied or captured).
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with exclusive access to the value; errors pass straight through.
    public func withLock<T, E: Error>(_ body: (inout sending Value) throws(E) -> sending T) throws(E) -> sending T {
        try mutex.withLock(body)
    }

    /// A copy of the value.
    public var value: Value { mutex.withLock { $0 } }
}
