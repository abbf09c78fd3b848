import CDoorSystem
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A thread started by DogDoor: named (so `top -H`, `ps -T` and the integration tests' CPU accounting show
/// what each thread is), joinable once.
///
/// The one place that calls `pthread_create`; the engine's compute threads (`ComputeThreads`) use it too.
public final class NamedThread: @unchecked Sendable {
    public let name: String
    private var handle: pthread_t?
    private let joinLock = Mutex<Bool>(false)

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread called `name` (the kernel keeps 15 bytes of it), with the system's default
    /// stack or `stackSize` bytes.
    public init(name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        self.name = name
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if let stackSize { pthread_attr_setstacksize(&attributes, stackSize) }
        let status = pthread_create(
            &thread, &attributes,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            }, box)
        guard status == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("start thread \(name)", code: status)
        }
        handle = thread
        _ = dd_sys_set_thread_name(thread, name)
    }

    deinit {
        // Nobody will join it: let the system reclaim the thread when it ends.
        let joined = joinLock.withLock { $0 }
        if !joined, let handle { pthread_detach(handle) }
    }

    /// Waits for the thread to finish. Calling it again, or from the thread itself (which then detaches),
    /// does not wait.
    public func join() {
        let first = joinLock.withLock { joined in
            defer { joined = true }
            return !joined
        }
        guard first, let handle else { return }
        if pthread_equal(handle, pthread_self()) != 0 {
            pthread_detach(handle)
        } else {
            pthread_join(handle, nil)
        }
    }

    /// Names the calling thread (for threads DogDoor did not start, such as the main thread).
    public static func nameCurrent(_ name: String) {
        _ = dd_sys_set_thread_name(pthread_self(), name)
    }
}

/// A mutex with a condition variable whose timed waits run on `CLOCK_MONOTONIC` (setting the wall clock
/// never shortens or stretches a wait): the shape of swift-nio's `ConditionLock`, small and our own.
///
/// `withLock` runs a closure under the lock; `wait` variants must be called inside it, through the
/// `Waiter` it passes.
public final class ConditionLock<State>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var state: State

    public init(_ state: State) {
        self.state = state
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Access to the state under the lock, with waiting and signalling.
    public struct Waiter: ~Copyable {
        fileprivate let lock: ConditionLock<State>

        /// The protected state.
        public var state: State {
            get { lock.state }
            nonmutating _modify { yield &lock.state }
        }

        /// Waits until woken (spurious wake-ups happen: re-check the condition in a loop).
        public func wait() { pthread_cond_wait(lock.condition, lock.mutex) }

        /// Waits until woken or until `deadline` (seconds on `MonotonicClock`); false when the deadline passed.
        @discardableResult
        public func wait(until deadline: Double) -> Bool {
            guard deadline.isFinite else {
                wait()
                return true
            }
            var ts = timespec()
            let whole = deadline.rounded(.down)
            ts.tv_sec = Int(whole)
            ts.tv_nsec = Int(min(999_999_999, (deadline - whole) * 1e9))
            return pthread_cond_timedwait(lock.condition, lock.mutex, &ts) == 0
        }

        /// Wakes one waiting thread.
        public func signal() { pthread_cond_signal(lock.condition) }

        /// Wakes every waiting thread.
        public func broadcast() { pthread_cond_broadcast(lock.condition) }
    }

    /// Runs `body` with the lock held; errors pass straight through.
    public func withLock<T, E: Error>(_ body: (borrowing Waiter) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(Waiter(lock: self))
    }
}
