import Door
import Imaging
import Support

#if canImport(Glibc)
import Glibc
#endif

/// A control command waiting for the main loop, and the slot its answer goes into.
///
/// A command whose client stopped waiting is never carried out: the main loop `take`s a command before
/// acting on it, and `wait` abandons it at its deadline unless it was taken, so a client told "no answer"
/// cannot see the door move afterwards.
final class PendingCommand: @unchecked Sendable {
    let command: ControlCommand
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let answered = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var response: ControlResponse?
    private var taken = false
    private var abandoned = false

    init(_ command: ControlCommand) {
        self.command = command
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(answered, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(answered)
        mutex.deallocate()
        answered.deallocate()
    }

    /// Claims the command for the main loop; false if its client gave up waiting (then drop it).
    func take() -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if abandoned { return false }
        taken = true
        return true
    }

    func answer(_ response: ControlResponse) {
        pthread_mutex_lock(mutex)
        self.response = response
        pthread_cond_signal(answered)
        pthread_mutex_unlock(mutex)
    }

    /// Waits up to `seconds` for the answer; nil if the main loop had not taken the command by then (it is
    /// abandoned and will not be carried out). A command already taken is waited for to the end.
    func wait(seconds: Double) -> ControlResponse? {
        let deadline = MonotonicClock.now() + seconds
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while response == nil {
            let left = deadline - MonotonicClock.now()
            if left <= 0 && !taken {
                abandoned = true
                break
            }
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            let total = Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9 + (left > 0 ? min(left, 0.2) : 0.2)
            ts.tv_sec = Int(total)
            ts.tv_nsec = Int((total - Double(Int(total))) * 1e9)
            pthread_cond_timedwait(answered, mutex, &ts)
        }
        return response
    }
}

/// Everything that wakes the daemon's main loop: the latest frame (older undelivered frames are dropped, so a
/// slow inference never works through a queue of stale frames), camera-state changes, control commands, and
/// stop/reload requests from signals.
/// What the inference worker made of one frame.
struct FrameResult: Sendable {
    enum Outcome: Sendable {
        /// Run through the model: the probability that it shows the dog, and how long inference took.
        case evaluated(probability: Double, milliseconds: Double, image: Image)
        /// Skipped by the motion gate.
        case still
        /// Could not be decoded.
        case corrupt(String)
    }

    var frameID: UInt64
    /// When the camera delivered the frame.
    var captured: Timestamp
    var outcome: Outcome
}

/// Everything that wakes the daemon's main loop: results of the inference worker, camera-state changes,
/// control commands, and stop/reload requests from signals.
final class Inbox: @unchecked Sendable {
    enum Item {
        case result(FrameResult)
        case camera(CameraState, String?)
        case command(PendingCommand)
        case stop(String)
        case reload
        case timeout
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var results: [FrameResult] = []
    private var cameraChanges: [(CameraState, String?)] = []
    private var commands: [PendingCommand] = []
    private var stopReason: String?
    private var reloadRequested = false

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(wake, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    private func post(_ body: () -> Void) {
        pthread_mutex_lock(mutex)
        body()
        pthread_cond_signal(wake)
        pthread_mutex_unlock(mutex)
    }

    func post(_ result: FrameResult) { post { results.append(result) } }
    func cameraStateChanged(_ state: CameraState, detail: String?) { post { cameraChanges.append((state, detail)) } }
    func submit(_ command: PendingCommand) { post { commands.append(command) } }
    func requestStop(_ reason: String) { post { if stopReason == nil { stopReason = reason } } }
    func requestReload() { post { reloadRequested = true } }

    /// The next item, most urgent first (stop, commands, reload, camera changes, then frame results), or
    /// `.timeout` when nothing arrived before `deadline` (monotonic seconds).
    func next(until deadline: Double) -> Item {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let stopReason { return .stop(stopReason) }
            if !commands.isEmpty { return .command(commands.removeFirst()) }
            if reloadRequested {
                reloadRequested = false
                return .reload
            }
            if !cameraChanges.isEmpty {
                let (state, detail) = cameraChanges.removeFirst()
                return .camera(state, detail)
            }
            if !results.isEmpty { return .result(results.removeFirst()) }
            let now = MonotonicClock.now()
            if now >= deadline { return .timeout }
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let target = Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9 + (deadline - now)
            ts.tv_sec = Int(target)
            ts.tv_nsec = Int((target - Double(Int(target))) * 1e9)
            pthread_cond_timedwait(wake, mutex, &ts)
        }
    }
}
