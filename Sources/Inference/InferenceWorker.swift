import Camera
import Imaging
import Support
import Synchronization

/// Runs the network on its own thread, so that the decision loop stays on time however long a frame takes:
/// relocks, the latch's limits, control commands and the watchdog never wait for inference.
///
/// The camera hands frames to the worker, which keeps only the newest (older undelivered frames are dropped
/// and counted: a slow inference never works through a queue of stale frames). For each frame it takes, it
/// decodes, asks the motion gate, runs the model, and hands the result to `results` (on the worker's thread).
/// Camera-state changes pass straight through to `cameraChanges` (on the camera's thread).
public final class InferenceWorker: FrameSink, Sendable {
    private struct State {
        var latest: Frame?
        var stopping = false
        var model: ActiveModel
        var motionEnabled: Bool
        var gate: MotionGate
        /// Frames replaced by a newer one before the worker took them.
        var dropped: UInt64 = 0
    }

    private let results: @Sendable (FrameResult) -> Void
    private let cameraChanges: @Sendable (CameraState, String?) -> Void
    private let state: ConditionLock<State>
    private let thread = Mutex<NamedThread?>(nil)

    public init(
        model: ActiveModel, motion: MotionGate.Settings?, results: @escaping @Sendable (FrameResult) -> Void,
        cameraChanges: @escaping @Sendable (CameraState, String?) -> Void
    ) {
        self.results = results
        self.cameraChanges = cameraChanges
        state = ConditionLock(
            State(
                model: model, motionEnabled: motion != nil, gate: MotionGate(settings: motion ?? MotionGate.Settings()))
        )
    }

    // MARK: FrameSink (the camera's thread)

    public func deliver(_ frame: Frame) {
        state.withLock { lock in
            if lock.state.latest != nil { lock.state.dropped += 1 }
            lock.state.latest = frame
            lock.signal()
        }
    }

    public func cameraStateChanged(_ state: CameraState, detail: String?) { cameraChanges(state, detail) }

    // MARK: Control (the decision loop)

    /// Uses `model` from the next frame on (the frame in progress finishes with the old one).
    public func use(model: ActiveModel, motion: MotionGate.Settings?) {
        state.withLock { lock in
            lock.state.model = model
            if (motion != nil) != lock.state.motionEnabled || motion.map({ $0 != lock.state.gate.settings }) == true {
                lock.state.motionEnabled = motion != nil
                lock.state.gate = MotionGate(settings: motion ?? MotionGate.Settings())
            }
        }
    }

    public var droppedFrames: UInt64 { state.withLock { $0.state.dropped } }

    public func start() throws(SystemError) {
        let worker = try NamedThread(name: "inference") { [self] in run() }
        thread.withLock { $0 = worker }
    }

    /// Stops taking frames and waits for the frame in progress.
    public func stop() {
        state.withLock { lock in
            lock.state.stopping = true
            lock.signal()
        }
        thread.withLock { $0 }?.join()
    }

    // MARK: The worker thread

    private func run() {
        while true {
            let next: (frame: Frame, model: ActiveModel)? = state.withLock { lock in
                while lock.state.latest == nil && !lock.state.stopping { lock.wait() }
                guard !lock.state.stopping, let frame = lock.state.latest else { return nil }
                lock.state.latest = nil
                return (frame, lock.state.model)
            }
            guard let (frame, model) = next else { return }
            results(FrameResult(frameID: frame.id, captured: frame.time, outcome: evaluate(frame, model: model)))
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
        let evaluate = state.withLock { lock in
            !lock.state.motionEnabled
                || lock.state.gate.observe(Thumbnail(image), at: frame.time.monotonic.sinceOrigin.seconds).evaluate
        }
        guard evaluate else { return .still }
        let start = MonotonicClock.now()
        let probability = model.probability(of: image)
        return .evaluated(
            probability: probability, milliseconds: (MonotonicClock.now() - start) * 1000, frame: frame.payload)
    }
}

/// What the inference worker made of one frame.
public struct FrameResult: Sendable {
    public enum Outcome: Sendable {
        /// Run through the model: the probability that it shows the dog, how long inference took, and the frame
        /// as the camera delivered it (at the camera's resolution: what a snapshot keeps; the network saw it
        /// decoded at the small size it needs).
        case evaluated(probability: Double, milliseconds: Double, frame: FramePayload)
        /// Skipped by the motion gate.
        case still
        /// Could not be decoded.
        case corrupt(String)
    }

    public var frameID: UInt64
    /// When the camera delivered the frame.
    public var captured: Timestamp
    public var outcome: Outcome
}
