import Support
import Synchronization

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

/// Persistent threads that run one job at a time, the caller taking part as thread 0.
/// One pool per size serves the whole process; jobs from different callers run one after another.
final class WorkerPool: Sendable {
    private struct State {
        var job: ((Int) -> Void)?
        /// Counts jobs, so that a worker runs each job once.
        var generation = 0
        /// Threads taking part in the current job (workers with a higher index sit it out).
        var participants = 0
        /// Workers still running the current job.
        var remaining = 0
    }

    /// One condition for both directions (workers wait for a job, the caller for the workers): with a handful
    /// of threads, waking all of them on either change costs nothing measurable.
    private let state = ConditionLock(State())
    /// Serialises callers: one job at a time.
    private let running = Mutex<Void>(())

    private static let pools = Mutex<[Int: WorkerPool]>([:])

    /// The process-wide pool with `workers` threads, started on first use. Workers live as long as the process.
    static func shared(workers: Int) -> WorkerPool {
        pools.withLock { pools in
            if let pool = pools[workers] { return pool }
            let pool = WorkerPool(workers: workers)
            pools[workers] = pool
            return pool
        }
    }

    private init(workers: Int) {
        for index in 1...workers {
            do {
                // 1 MiB of stack: the engine's loops keep their data on the heap.
                _ = try NamedThread(name: "compute-\(index)", stackSize: 1 << 20) { [self] in workerLoop(index: index) }
            } catch {
                fatalError("cannot start compute thread: \(error)")
            }
        }
    }

    /// Runs `job(thread)` on threads 0..<threads (0 is the caller) and waits for all of them.
    func run(threads: Int, _ job: @escaping (Int) -> Void) {
        running.withLock { _ in
            let work = UncheckedSendable(job)
            state.withLock { lock in
                lock.state.job = work.value
                lock.state.participants = threads
                lock.state.remaining = threads - 1
                lock.state.generation &+= 1
                lock.broadcast()
            }
            job(0)
            state.withLock { lock in
                while lock.state.remaining > 0 { lock.wait() }
                lock.state.job = nil
            }
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            do {
                // The job's last reference must be gone before the caller is told the work is done: the caller
                // wraps a non-escaping closure and checks that nothing kept it.
                let work = state.withLock { lock in
                    while lock.state.generation == seen || index >= lock.state.participants {
                        seen = lock.state.generation
                        lock.wait()
                    }
                    seen = lock.state.generation
                    return UncheckedSendable(lock.state.job!)
                }
                work.value(index)
            }
            state.withLock { lock in
                lock.state.remaining -= 1
                if lock.state.remaining == 0 { lock.broadcast() }
            }
        }
    }
}

/// Carries a value across a `Sendable` boundary where the caller guarantees exclusive use.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
