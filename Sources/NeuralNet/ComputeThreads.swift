#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The worker threads the engine splits its work over: the calling thread plus `count - 1` persistent
/// workers.
///
/// Work is split statically, item `i` to thread `i % count`, so results never depend on scheduling: every
/// item writes its own disjoint output, and reductions combine per-thread partials in thread order. The
/// workers are long-lived pthreads rather than a general-purpose pool, so the same few threads always run
/// the arithmetic: OpenBLAS keeps one packing buffer per calling thread, and a fixed set of threads keeps
/// that memory fixed too.
public struct ComputeThreads: Sendable, Equatable {
    /// Number of threads (at least 1).
    public let count: Int
    private let pool: WorkerPool?

    public init(_ count: Int) {
        self.count = max(1, count)
        pool = self.count > 1 ? WorkerPool.shared(workers: self.count - 1) : nil
    }

    public static func == (lhs: ComputeThreads, rhs: ComputeThreads) -> Bool { lhs.count == rhs.count }

    /// Runs `body(item, thread)` for every item in `0..<items`, spread over the threads; returns when all
    /// items are done. Not reentrant: `body` must not call `forEach` on the same threads.
    public func forEach(_ items: Int, _ body: (_ item: Int, _ thread: Int) -> Void) {
        guard items > 0 else { return }
        guard let pool, items > 1 else {
            for i in 0..<items { body(i, 0) }
            return
        }
        let threads = min(count, items)
        withoutActuallyEscaping(body) { body in
            pool.run(threads: threads) { thread in
                var item = thread
                while item < items {
                    body(item, thread)
                    item += threads
                }
            }
        }
    }
}

/// Persistent pthreads that run one job at a time, the caller taking part as thread 0.
/// One pool per size serves the whole process; jobs from different callers run one after another.
final class WorkerPool: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let runLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var job: ((Int) -> Void)?
    private var generation = 0
    private var participants = 0
    private var remaining = 0

    private nonisolated(unsafe) static var pools: [Int: WorkerPool] = [:]
    private nonisolated(unsafe) static let poolsLock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        return lock
    }()

    /// The process-wide pool with `workers` threads, started on first use. Workers live as long as the process.
    static func shared(workers: Int) -> WorkerPool {
        pthread_mutex_lock(poolsLock)
        defer { pthread_mutex_unlock(poolsLock) }
        if let pool = pools[workers] { return pool }
        let pool = WorkerPool(workers: workers)
        pools[workers] = pool
        return pool
    }

    private init(workers: Int) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        pthread_mutex_init(runLock, nil)
        for index in 1...workers {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var thread = pthread_t()
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setstacksize(&attributes, 1 << 20)
            let status = pthread_create(&thread, &attributes, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.workerLoop(index: context.index)
                return nil
            }, context)
            pthread_attr_destroy(&attributes)
            guard status == 0 else { fatalError("cannot start compute thread: \(String(cString: strerror(status)))") }
            pthread_detach(thread)
        }
    }

    /// Runs `job(thread)` on threads 0..<threads (0 is the caller) and waits for all of them.
    func run(threads: Int, _ job: @escaping (Int) -> Void) {
        pthread_mutex_lock(runLock)
        defer { pthread_mutex_unlock(runLock) }
        pthread_mutex_lock(mutex)
        self.job = job
        participants = threads
        remaining = threads - 1
        generation &+= 1
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        job(0)
        pthread_mutex_lock(mutex)
        while remaining > 0 { pthread_cond_wait(done, mutex) }
        self.job = nil
        pthread_mutex_unlock(mutex)
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            pthread_mutex_lock(mutex)
            while generation == seen || index >= participants {
                seen = generation
                pthread_cond_wait(wake, mutex)
            }
            seen = generation
            do {
                // The job's last reference must be gone before the caller is told the work is done: the caller
                // wraps a non-escaping closure and checks that nothing kept it.
                let work = job!
                pthread_mutex_unlock(mutex)
                work(index)
            }
            pthread_mutex_lock(mutex)
            remaining -= 1
            if remaining == 0 { pthread_cond_signal(done) }
            pthread_mutex_unlock(mutex)
        }
    }
}

private final class WorkerContext {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}

/// Carries a value across a `Sendable` boundary where the caller guarantees exclusive use.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
