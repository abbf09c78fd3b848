import Imaging
import Support

/// What a frame source delivers: encoded image bytes (replay files, MJPEG) or a raw camera frame.
public enum FramePayload: Sendable {
    /// A whole image file's bytes (JPEG, PNG, WebP; recognised by content). `name` is for messages.
    case encoded([UInt8], name: String)
    /// A camera frame in a V4L2 pixel format.
    case camera(CameraFrame)
}

/// One frame on its way from the camera to the decision policy.
public struct Frame: Sendable {
    /// Increasing per source, starting at 1.
    public var id: UInt64
    /// When the source captured (or replayed) it.
    public var time: Timestamp
    public var payload: FramePayload

    public init(id: UInt64, time: Timestamp, payload: FramePayload) {
        self.id = id
        self.time = time
        self.payload = payload
    }
}

/// The camera's condition, as `dogdoor status` shows it.
public enum CameraState: String, Sendable, Equatable, NamedChoice, Codable {
    case starting
    /// Frames are arriving.
    case streaming
    /// No frame for longer than the stall timeout.
    case stalled
    /// The device went away or failed; the source is trying to reopen it.
    case reconnecting
    /// A device appeared at the camera's path that is not the camera (another driver, card, bus or serial):
    /// it is not used, and the source keeps waiting for the camera.
    case refused
    /// A replay without looping played its last frame.
    case finished
    /// The source gave up (configuration error); the daemon stops.
    case failed
}

/// Receives frames and camera-state changes from a source's thread.
public protocol FrameSink: AnyObject, Sendable {
    func deliver(_ frame: Frame)
    func cameraStateChanged(_ state: CameraState, detail: String?)
}

/// A camera or a stand-in for one. Sources run their own thread and push into a sink; they never block on
/// the consumer (the sink keeps only the latest frame).
public protocol FrameSource: AnyObject, Sendable {
    /// For logs and status, e.g. "replay /usr/local/share/dogdoor/samples (5 fps)".
    var summary: String { get }
    /// Starts delivering frames to `sink`. Throws if the source cannot start at all.
    func start(sink: FrameSink) throws
    /// Stops delivering frames and returns when the source's thread has finished.
    func stop()
}
