import CV4L2
import DoorConfiguration
import Imaging
import Logging
import Support

/// A failed V4L2 operation on a device.
public struct V4L2Error: Error, CustomStringConvertible, Equatable {
    public var device: String
    public var operation: String
    /// errno, or 0 for problems that are not system errors (then `detail` says what).
    public var code: Int32
    public var detail: String?
    /// The device is not the camera this source streams from (see `CameraIdentityGuard`).
    public var refused = false

    public init(device: String, operation: String, code: Int32, detail: String? = nil, refused: Bool = false) {
        self.device = device
        self.operation = operation
        self.code = code
        self.detail = detail
        self.refused = refused
    }

    public var description: String {
        if let detail { return "\(device): \(operation): \(detail)" }
        return "\(device): \(operation) failed: \(String(cString: strerror(code)))"
    }

    /// The device went away or broke: reopening may help.
    public var isDisconnect: Bool { [ENODEV, EIO, ENXIO, ENOENT, EBADF].contains(code) }
}

/// A capture device opened and streaming: memory-mapped buffers, newest frame first.
final class V4L2Capture {
    let path: String
    let fd: Int32
    let format: PixelFormat
    let width: Int
    let height: Int
    let bytesPerLine: Int
    /// Granted frame interval in seconds (0 if the driver does not say).
    let frameInterval: Double
    /// Who the device is.
    let identity: CameraIdentity
    private var buffers: [(address: UnsafeMutableRawPointer, length: Int)] = []

    /// Opens `path` and starts streaming `format` at (close to) the requested size and rate. `accept` sees
    /// the device's identity before anything is set up and may refuse it (its reason becomes the error).
    init(
        path: String, format: PixelFormat, width: Int, height: Int, fps: Double, bufferCount: Int = 4,
        accept: (CameraIdentity) -> String? = { _ in nil }
    ) throws(V4L2Error) {
        self.path = path
        func fail(_ operation: String, _ code: Int32) -> V4L2Error {
            V4L2Error(device: path, operation: operation, code: code)
        }
        let fd = dd_v4l2_open(path)
        guard fd >= 0 else { throw fail("open", -fd) }
        self.fd = fd
        var ok = false
        defer { if !ok { _ = dd_v4l2_close(fd) } }
        var capability = dd_v4l2_capability()
        var r = dd_v4l2_query_capability(fd, &capability)
        guard r == 0 else { throw fail("query capabilities (is this a V4L2 device?)", -r) }
        guard capability.canCapture != 0, capability.canStream != 0 else {
            throw V4L2Error(device: path, operation: "open", code: 0, detail: "not a streaming video capture device")
        }
        identity = CameraIdentity.of(fd: fd, capability: capability)
        if let refusal = accept(identity) {
            throw V4L2Error(device: path, operation: "open", code: 0, detail: refusal, refused: true)
        }
        var requested = dd_v4l2_format(
            pixelformat: format.fourcc, width: UInt32(width), height: UInt32(height), bytesperline: 0, sizeimage: 0)
        r = dd_v4l2_set_format(fd, &requested)
        guard r == 0 else { throw fail("set format \(format.rawValue) \(width)x\(height)", -r) }
        guard let granted = PixelFormat(fourcc: requested.pixelformat), granted == format else {
            throw V4L2Error(
                device: path, operation: "set format", code: 0,
                detail:
                    "the device does not deliver \(format.rawValue) (it offered \(fourccName(requested.pixelformat)))")
        }
        self.format = granted
        self.width = Int(requested.width)
        self.height = Int(requested.height)
        bytesPerLine = Int(requested.bytesperline)
        var numerator: UInt32 = 1000
        var denominator = UInt32(max(1, (fps * 1000).rounded()))
        r = dd_v4l2_set_frame_interval(fd, &numerator, &denominator)
        frameInterval = r == 0 && denominator > 0 ? Double(numerator) / Double(denominator) : 0
        let count = dd_v4l2_request_buffers(fd, UInt32(bufferCount))
        guard count > 0 else { throw fail("request buffers", count < 0 ? -count : ENOMEM) }
        for index in 0..<UInt32(count) {
            var offset: UInt32 = 0, length: UInt32 = 0
            r = dd_v4l2_query_buffer(fd, index, &offset, &length)
            guard r == 0 else { throw fail("query buffer", -r) }
            guard let address = dd_v4l2_map(fd, offset, length) else { throw fail("map buffer", errno) }
            buffers.append((address, Int(length)))
            r = dd_v4l2_queue(fd, index)
            guard r == 0 else { throw fail("queue buffer", -r) }
        }
        r = dd_v4l2_stream(fd, 1)
        guard r == 0 else { throw fail("start streaming", -r) }
        ok = true
    }

    deinit {
        _ = dd_v4l2_stream(fd, 0)
        for buffer in buffers { _ = dd_v4l2_unmap(buffer.address, UInt32(buffer.length)) }
        _ = dd_v4l2_close(fd)
    }

    /// Waits up to `timeout` seconds for frames; returns the newest one (older ready frames are requeued
    /// unread), or nil on timeout.
    func newestFrame(timeout: Double) throws(V4L2Error) -> CameraFrame? {
        let r = dd_v4l2_wait(fd, Int32(timeout * 1000))
        guard r >= 0 else { throw V4L2Error(device: path, operation: "wait for a frame", code: -r) }
        guard r > 0 else { return nil }
        var newest: dd_v4l2_buffer?
        while true {
            var buffer = dd_v4l2_buffer()
            let d = dd_v4l2_dequeue(fd, &buffer)
            if d == -EAGAIN { break }
            guard d == 0 else { throw V4L2Error(device: path, operation: "dequeue a frame", code: -d) }
            if let previous = newest {
                let q = dd_v4l2_queue(fd, previous.index)
                guard q == 0 else { throw V4L2Error(device: path, operation: "requeue a buffer", code: -q) }
            }
            newest = buffer
        }
        guard let buffer = newest else { return nil }
        let source = buffers[Int(buffer.index)]
        let used =
            format == .mjpeg ? min(Int(buffer.bytesused), source.length) : min(source.length, bytesPerLine * height)
        let bytes = [UInt8](UnsafeRawBufferPointer(start: source.address, count: used))
        let q = dd_v4l2_queue(fd, buffer.index)
        guard q == 0 else { throw V4L2Error(device: path, operation: "requeue a buffer", code: -q) }
        return CameraFrame(format: format, width: width, height: height, bytesPerLine: bytesPerLine, bytes: bytes)
    }
}

/// "MJPG" for a fourcc code.
func fourccName(_ code: UInt32) -> String {
    String(decoding: (0..<4).map { UInt8((code >> (8 * UInt32($0))) & 0xFF) }, as: UTF8.self)
}

/// A V4L2 camera as a frame source: mmap streaming on its own thread, always handing on the newest frame.
///
/// Faults never stop the daemon: a device that is missing at start, unplugged while streaming (ENODEV/EIO),
/// or silent for longer than `stallTimeout` is closed and reopened with exponential backoff (0.5 s doubling
/// to 30 s), and the state changes (`reconnecting`, `stalled`, `streaming`) reach the daemon, which keeps
/// the door locked while no frames arrive and stops feeding the watchdog if recovery takes too long.
public final class V4L2Source: FrameSource {
    public let settings: DaemonConfiguration.Camera
    public let stallTimeout: Double
    public let maximumBackoff: Double
    private let logger: Logger
    private let clock: any DoorClock
    private let thread = SourceThread()

    public var summary: String {
        "\(settings.device) \(settings.format.rawValue) \(settings.width)x\(settings.height) at \(fixed(settings.fps, 0)) fps"
    }

    public init(
        settings: DaemonConfiguration.Camera, logger: Logger, clock: any DoorClock = SystemClock(),
        stallTimeout: Double = 5, maximumBackoff: Double = 30
    ) throws {
        self.settings = settings
        self.logger = logger
        self.clock = clock
        self.stallTimeout = stallTimeout
        self.maximumBackoff = maximumBackoff
    }

    public func start(sink: FrameSink) throws {
        do {
            try thread.start(name: "camera") { [self] in run(sink: sink) }
        } catch {
            throw V4L2Error(device: settings.device, operation: "start capture thread", code: error.code)
        }
    }

    public func stop() { thread.stop() }

    private var stopping: Bool { thread.stopping }

    private func run(sink: FrameSink) {
        var backoff = 0.5
        var id: UInt64 = 0
        var identityGuard = CameraIdentityGuard()
        sink.cameraStateChanged(.starting, detail: summary)
        while !stopping {
            do {
                let capture = try V4L2Capture(
                    path: settings.device, format: settings.format, width: settings.width,
                    height: settings.height, fps: settings.fps
                ) { identityGuard.check($0) }
                if id == 0 {
                    logger.notice(
                        "camera identified",
                        metadata: ["device": "\(settings.device)", "identity": "\(capture.identity)"])
                }
                let granted = capture.frameInterval > 0 ? "\(fixed(1 / capture.frameInterval, 1)) fps" : "driver rate"
                sink.cameraStateChanged(
                    .streaming,
                    detail:
                        "\(settings.device) \(capture.format.rawValue) \(capture.width)x\(capture.height), \(granted)")
                backoff = 0.5
                var lastFrame = clock.now().monotonic
                var stalled = false
                while !stopping {
                    if let frame = try capture.newestFrame(timeout: 0.2) {
                        id += 1
                        lastFrame = clock.now().monotonic
                        if stalled {
                            stalled = false
                            sink.cameraStateChanged(.streaming, detail: "frames arriving again")
                        }
                        sink.deliver(Frame(id: id, time: clock.now(), payload: .camera(frame)))
                    } else if (clock.now().monotonic - lastFrame).seconds > stallTimeout {
                        if !stalled {
                            stalled = true
                            sink.cameraStateChanged(.stalled, detail: "no frame for \(fixed(stallTimeout, 0)) s")
                        }
                        // A stream that stays silent for three timeouts is reopened.
                        if (clock.now().monotonic - lastFrame).seconds > 3 * stallTimeout {
                            throw V4L2Error(
                                device: settings.device, operation: "capture", code: ETIMEDOUT,
                                detail: "stream stalled; reopening")
                        }
                    }
                }
            } catch {
                guard !stopping else { break }
                if let error = error as? V4L2Error, error.refused {
                    sink.cameraStateChanged(
                        .refused, detail: "\(error.detail ?? "\(error)"); retrying in \(fixed(backoff, 1)) s")
                } else if let error = error as? V4L2Error, error.code == ENOENT || error.code == ENODEV {
                    sink.cameraStateChanged(
                        .reconnecting,
                        detail: "camera missing: \(settings.device) is not there "
                            + "(unplugged, or not yet detected); retrying in \(fixed(backoff, 1)) s")
                } else {
                    sink.cameraStateChanged(.reconnecting, detail: "\(error); retrying in \(fixed(backoff, 1)) s")
                }
                thread.sleep(seconds: backoff)
                backoff = min(maximumBackoff, backoff * 2)
            }
        }
    }

    /// Capture devices found under /dev with who they are, their stable names and formats (for `dogdoor
    /// camera list`).
    public static func listDevices() -> [CameraDevice] {
        var result: [CameraDevice] = []
        for n in 0..<64 {
            let path = "/dev/video\(n)"
            guard access(path, F_OK) == 0 else { continue }
            let fd = dd_v4l2_open(path)
            guard fd >= 0 else { continue }
            defer { _ = dd_v4l2_close(fd) }
            var capability = dd_v4l2_capability()
            guard dd_v4l2_query_capability(fd, &capability) == 0, capability.canCapture != 0 else { continue }
            var formats: [CameraDevice.Format] = []
            var index: UInt32 = 0
            while index < 64 {
                var code: UInt32 = 0
                var description = [CChar](repeating: 0, count: 32)
                guard dd_v4l2_enum_format(fd, index, &code, &description) == 0 else { break }
                let text = String(decoding: description.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                var sizes: [String] = []
                var sizeIndex: UInt32 = 0
                while sizeIndex < 32 {
                    var w: UInt32 = 0, h: UInt32 = 0
                    var stepwise: Int32 = 0
                    guard dd_v4l2_enum_size(fd, code, sizeIndex, &w, &h, &stepwise) == 0 else { break }
                    sizes.append(stepwise != 0 ? "up to \(w)x\(h)" : "\(w)x\(h)")
                    if stepwise != 0 { break }
                    sizeIndex += 1
                }
                formats.append(
                    CameraDevice.Format(fourcc: code, name: fourccName(code), description: text, sizes: sizes))
                index += 1
            }
            result.append(
                CameraDevice(
                    path: path, identity: CameraIdentity.of(fd: fd, capability: capability),
                    stablePaths: stablePaths(of: path), formats: formats))
        }
        return result
    }

    /// The udev symlinks that name `node` (`/dev/v4l/by-id/...`, then `/dev/v4l/by-path/...`): the names that
    /// stay with the camera across reboots and replugging, unlike `/dev/videoN`.
    static func stablePaths(of node: String) -> [String] {
        var paths: [String] = []
        for directory in ["/dev/v4l/by-id", "/dev/v4l/by-path"] {
            guard let names = try? directoryEntries(directory) else { continue }
            for name in names.sorted() {
                let link = directory + "/" + name
                guard let target = realpath(link, nil) else { continue }
                defer { free(target) }
                if String(cString: target) == node { paths.append(link) }
            }
        }
        return paths
    }

    /// Captures one frame from `device` (for `dogdoor camera snapshot`), waiting up to `timeout` seconds.
    public static func captureOne(
        device: String, format: PixelFormat, width: Int, height: Int,
        timeout: Double = 5
    ) throws -> CameraFrame {
        let capture = try V4L2Capture(path: device, format: format, width: width, height: height, fps: 15)
        let deadline = MonotonicClock.now() + timeout
        var frames = 0
        while MonotonicClock.now() < deadline {
            if let frame = try capture.newestFrame(timeout: 0.2) {
                frames += 1
                // Skip the first frames: auto-exposure settles on many webcams.
                if frames >= 3 || MonotonicClock.now() > deadline - 1 { return frame }
            }
        }
        throw V4L2Error(
            device: device, operation: "capture", code: ETIMEDOUT, detail: "no frame within \(fixed(timeout, 0)) s")
    }
}
