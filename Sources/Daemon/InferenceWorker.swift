import Door
import Imaging
import Support
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs the network on its own thread, so that the decision loop stays on time however long a frame takes:
/// relocks, the latch's limits, control commands and the watchdog never wait for inference.
///
/// The camera hands frames to the worker, which keeps only the newest (older undelivered frames are dropped
/// and counted: a slow inference never works through a queue of stale frames). For each frame it takes, it
/// decodes, asks the motion gate, runs the model, and posts the result to the daemon's inbox.
final class InferenceWorker: FrameSink, @unchecked Sendable {
    private let inbox: Inbox
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var latest: Frame?
    private var stopping = false
    private var model: ActiveModel
    private var motionEnabled: Bool
    private var gate: MotionGate
    private var thread: pthread_t?
    /// Frames replaced by a newer one before the worker took them.
    private(set) var dropped: UInt64 = 0

    init(inbox: Inbox, model: ActiveModel, motion: MotionGate.Settings?) {
        self.inbox = inbox
        self.model = model
        motionEnabled = motion != nil
        gate = MotionGate(settings: motion ?? MotionGate.Settings())
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    // MARK: FrameSink (the camera's thread)

    func deliver(_ frame: Frame) {
        locked {
            if latest != nil { dropped += 1 }
            latest = frame
            pthread_cond_signal(wake)
        }
    }

    func cameraStateChanged(_ state: CameraState, detail: String?) { inbox.cameraStateChanged(state, detail: detail) }

    // MARK: Control (the main loop)

    /// Uses `model` from the next frame on (the frame in progress finishes with the old one).
    func use(model: ActiveModel, motion: MotionGate.Settings?) {
        locked {
            self.model = model
            if (motion != nil) != motionEnabled || motion.map({ $0 != gate.settings }) == true {
                motionEnabled = motion != nil
                gate = MotionGate(settings: motion ?? MotionGate.Settings())
            }
        }
    }

    var droppedFrames: UInt64 { locked { dropped } }

    func start() throws {
        let context = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        let status = pthread_create(&handle, nil, { raw in
            let worker = Unmanaged<InferenceWorker>.fromOpaque(raw!).takeRetainedValue()
            worker.run()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<InferenceWorker>.fromOpaque(context).release()
            throw StartupError("cannot start the inference thread: \(String(cString: strerror(status)))")
        }
        thread = handle
    }

    /// Stops taking frames and waits for the frame in progress.
    func stop() {
        locked {
            stopping = true
            pthread_cond_signal(wake)
        }
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    // MARK: The worker thread

    private func run() {
        while true {
            pthread_mutex_lock(mutex)
            while latest == nil && !stopping { pthread_cond_wait(wake, mutex) }
            if stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            let frame = latest!
            latest = nil
            let model = self.model
            pthread_mutex_unlock(mutex)
            inbox.post(FrameResult(frameID: frame.id, captured: frame.time, outcome: evaluate(frame, model: model)))
        }
    }

    private func evaluate(_ frame: Frame, model: ActiveModel) -> FrameResult.Outcome {
        let image: Image
        do {
            switch frame.payload {
            case .encoded(let bytes, let name):
                image = try ImageDecoder.decode(bytes, source: name, options: model.preprocessor.decodeOptions)
            case .camera(let cameraFrame):
                image = try cameraFrame.image(options: model.preprocessor.decodeOptions)
            }
        } catch {
            return .corrupt("\(error)")
        }
        // The gate is only touched from this thread (and replaced under the lock).
        let evaluate = locked { !motionEnabled || gate.observe(Thumbnail(image), at: frame.time.monotonic.sinceOrigin.seconds).evaluate }
        guard evaluate else { return .still }
        let start = MonotonicClock.now()
        let probability = model.probability(of: image)
        return .evaluated(probability: probability, milliseconds: (MonotonicClock.now() - start) * 1000, image: image)
    }
}
