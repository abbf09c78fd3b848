import Support
import Synchronization

/// The thread a frame source runs its loop on: started once, asked to stop through a flag the loop checks,
/// joined when stopped. Shared by the camera and the replay so that both stop the same prompt way.
final class SourceThread: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let thread = Mutex<NamedThread?>(nil)

    /// Whether `stop()` was called: the loop ends when it sees this.
    var stopping: Bool { stopFlag.load(ordering: .sequentiallyConsistent) }

    /// Runs `loop` on a thread called `name`.
    func start(name: String, _ loop: @escaping @Sendable () -> Void) throws(SystemError) {
        let started = try NamedThread(name: name, loop)
        thread.withLock { $0 = started }
    }

    /// Asks the loop to end and waits until it has.
    func stop() {
        stopFlag.store(true, ordering: .sequentiallyConsistent)
        thread.withLock { current -> NamedThread? in
            defer { current = nil }
            return current
        }?.join()
    }

    /// Sleeps `seconds` in slices of 50 ms, returning early once stopping, so that `stop()` never waits long.
    func sleep(seconds: Double) {
        var remaining = seconds
        while remaining > 0, !stopping {
            let slice = min(remaining, 0.05)
            var ts = timespec(tv_sec: 0, tv_nsec: Int(slice * 1e9))
            nanosleep(&ts, nil)
            remaining -= slice
        }
    }
}
