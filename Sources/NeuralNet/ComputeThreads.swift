import Dispatch

/// The worker threads the engine splits its work over.
///
/// Work is split statically, item `i` to thread `i % threads`, so results never depend on scheduling:
/// every item writes its own disjoint output, and reductions combine per-thread partials in thread order.
public struct ComputeThreads: Sendable, Equatable {
    /// Number of threads (at least 1).
    public let count: Int

    public init(_ count: Int) { self.count = max(1, count) }

    /// Runs `body(item, thread)` for every item in `0..<items`, spread over the threads.
    public func forEach(_ items: Int, _ body: (_ item: Int, _ thread: Int) -> Void) {
        guard items > 0 else { return }
        let workers = min(count, items)
        if workers == 1 {
            for i in 0..<items { body(i, 0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { thread in
                var item = thread
                while item < items {
                    box.value(item, thread)
                    item += workers
                }
            }
        }
    }
}

/// Carries a value across a `Sendable` boundary where the caller guarantees exclusive use.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
