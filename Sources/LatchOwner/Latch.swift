import LatchLink
import Logging
import Support
import Synchronization

/// The door's latch hardware: one output that is inactive when locked. Only the latch owner
/// (`dogdoor-latch`) holds one.
///
/// Implementations start locked. `close()` locks and then releases the hardware, and must be called on
/// every exit path; afterwards `lock()` and `unlock()` throw `LatchError` with reason `.closed`.
public protocol Latch: AnyObject, Sendable {
    /// The state last set successfully.
    var state: LatchState { get }
    /// Human-readable identity for logs and errors, e.g. `gpiochip0 line 17`.
    var name: String { get }
    /// Sets the output inactive.
    func lock() throws(LatchError)
    /// Sets the output active.
    func unlock() throws(LatchError)
    /// The level the hardware reports now (for GPIO, read back from the kernel).
    func readBack() throws(LatchError) -> LatchState
    /// Locks, then releases the hardware. Releases even if locking fails, and then throws that failure.
    /// Calling it again does nothing.
    func close() throws(LatchError)
}

/// Why a latch operation failed; names the latch (chip and line for GPIO) and the reason.
public struct LatchError: Error, Hashable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// No GPIO chip matches the configured path, name, label or number.
        case chipNotFound
        /// The path exists but is not a GPIO character device.
        case notAGPIOChip
        /// No line with the configured name exists on the chip.
        case lineNotFound
        /// The configured offset is not below the chip's line count.
        case lineOutOfRange(lineCount: Int)
        /// The line is requested by someone else (`consumer` names them, when the kernel says).
        case lineBusy(consumer: String?)
        /// The process may not open the chip (typically: not in the group owning /dev/gpiochipN).
        case permissionDenied
        /// The latch was closed.
        case closed
        /// A system call failed with errno `code`.
        case system(operation: String, code: Int32)
        /// A fault injected into a `SimulatedLatch`.
        case simulatedFault(String)
    }

    public var reason: Reason
    /// The latch, as `Latch.name` gives it (for GPIO: `<chip> line <line>`).
    public var latch: String

    public init(_ reason: Reason, latch: String) {
        self.reason = reason
        self.latch = latch
    }

    public var description: String {
        let what: String
        switch reason {
        case .chipNotFound: what = "GPIO chip not found"
        case .notAGPIOChip: what = "not a GPIO chip"
        case .lineNotFound: what = "no line with that name on the chip"
        case .lineOutOfRange(let count): what = "line offset out of range (the chip has \(count) lines)"
        case .lineBusy(let consumer):
            what = consumer.map { "line busy: already requested by \"\($0)\"" } ?? "line busy: already requested"
        case .permissionDenied: what = "permission denied (is the daemon's user in the GPIO device's group?)"
        case .closed: what = "latch is closed"
        case .system(let operation, let code): what = SystemError(operation, code: code).description
        case .simulatedFault(let message): what = "simulated fault: \(message)"
        }
        return "latch \(latch): \(what)"
    }
}

/// A latch in memory that records every actuation with its time: for tests, demos and running the daemon
/// without hardware. Faults can be injected to exercise error handling.
public final class SimulatedLatch: Latch {
    /// One successful call to `lock()` or `unlock()`.
    public struct Actuation: Hashable, Sendable {
        public var state: LatchState
        public var time: Timestamp
    }

    private struct State {
        var state: LatchState = .locked
        var timeline: [Actuation] = []
        var closed = false
        var pendingFaults: [String] = []
        var stuck: LatchState?
    }

    public let name: String
    private let clock: any DoorClock
    private let logger: Logger?
    private let storage = Mutex(State())

    /// A locked latch whose actuations are stamped by `clock` and, if `logger` is given, logged at info.
    public init(name: String = "simulated", clock: any DoorClock = SystemClock(), logger: Logger? = nil) {
        self.name = name
        self.clock = clock
        self.logger = logger
    }

    public var state: LatchState { storage.withLock { $0.state } }

    /// Every successful actuation, oldest first.
    public var timeline: [Actuation] { storage.withLock { $0.timeline } }

    /// Whether `close()` has been called.
    public var isClosed: Bool { storage.withLock { $0.closed } }

    /// Makes the next actuation (lock or unlock) fail with `LatchError.Reason.simulatedFault(message)`;
    /// calls queue up, one fault per actuation.
    public func injectFault(_ message: String) {
        storage.withLock { $0.pendingFaults.append(message) }
    }

    /// Makes the line read back `level` whatever is set (a stuck driver or relay), until called with nil.
    public func stick(at level: LatchState?) {
        storage.withLock { $0.stuck = level }
    }

    public func lock() throws(LatchError) { try set(.locked) }

    public func unlock() throws(LatchError) { try set(.unlocked) }

    public func readBack() throws(LatchError) -> LatchState {
        let result: Result<LatchState, LatchError> = storage.withLock { state in
            state.closed ? .failure(LatchError(.closed, latch: name)) : .success(state.stuck ?? state.state)
        }
        return try result.get()
    }

    public func close() throws(LatchError) {
        if storage.withLock({ $0.closed }) { return }
        defer { storage.withLock { $0.closed = true } }
        try set(.locked)
    }

    private func set(_ target: LatchState) throws(LatchError) {
        let time = clock.now()
        let result: Result<Void, LatchError> = storage.withLock { state in
            if state.closed { return .failure(LatchError(.closed, latch: name)) }
            if !state.pendingFaults.isEmpty {
                return .failure(LatchError(.simulatedFault(state.pendingFaults.removeFirst()), latch: name))
            }
            state.state = target
            state.timeline.append(Actuation(state: target, time: time))
            return .success(())
        }
        try result.get()
        logger?.info("latch \(target.rawValue)", metadata: ["latch": "\(name)"])
    }
}
