import Logging
import Support
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why a replay source cannot start.
public struct ReplayError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

/// Images from a folder (in byte order of their names) or from a list of files, delivered at a fixed rate,
/// optionally looping: the whole daemon runs without a camera. Files are read when their turn comes, so a
/// file that is changed or removed while the daemon runs shows up as an unreadable (corrupt) frame, exactly
/// like a damaged camera frame would.
public final class ReplaySource: FrameSource {
    public let files: [String]
    public let framesPerSecond: Double
    public let loop: Bool
    private let clock: any DoorClock
    private let logger: Logger
    private let stopFlag = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)

    public var summary: String {
        "replay of \(files.count) images at \(fixed(framesPerSecond, 1)) fps\(loop ? ", looping" : "")"
    }

    /// - Parameters:
    ///   - folder: used when `files` is empty: every regular, non-hidden file in it, sorted by name.
    ///   - files: explicit files; relative names are taken inside `folder`.
    public init(folder: String, files: [String] = [], framesPerSecond: Double, loop: Bool,
                clock: any DoorClock = SystemClock(), logger: Logger = Logger(label: "dogdoord.replay")) throws(ReplayError) {
        guard framesPerSecond > 0, framesPerSecond <= 1000 else {
            throw ReplayError(message: "replay frame rate \(framesPerSecond) is not between 0 and 1000")
        }
        var list: [String]
        if files.isEmpty {
            let names: [String]
            do {
                names = try directoryEntries(folder)
            } catch {
                throw ReplayError(message: "\(folder): cannot open replay folder: \(error.reason)")
            }
            list = names.filter { name in
                var st = stat()
                return !name.hasPrefix(".") && stat(folder + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
            }.map { folder + "/" + $0 }
            list.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            guard !list.isEmpty else { throw ReplayError(message: "\(folder): replay folder has no files") }
        } else {
            list = files.map { $0.hasPrefix("/") ? $0 : folder + "/" + $0 }
        }
        self.files = list
        self.framesPerSecond = framesPerSecond
        self.loop = loop
        self.clock = clock
        self.logger = logger
    }

    public func start(sink: FrameSink) throws {
        let context = Unmanaged.passRetained(ReplayThreadContext(source: self, sink: sink)).toOpaque()
        var handle = pthread_t()
        let status = pthread_create(&handle, nil, { raw in
            let context = Unmanaged<ReplayThreadContext>.fromOpaque(raw!).takeRetainedValue()
            context.source.run(sink: context.sink)
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<ReplayThreadContext>.fromOpaque(context).release()
            throw ReplayError(message: "cannot start the replay thread: \(String(cString: strerror(status)))")
        }
        thread.withLock { $0 = handle }
    }

    public func stop() {
        stopFlag.store(true, ordering: .sequentiallyConsistent)
        if let handle = thread.withLock({ t -> pthread_t? in defer { t = nil }; return t }) {
            pthread_join(handle, nil)
        }
    }

    private func run(sink: FrameSink) {
        sink.cameraStateChanged(.streaming, detail: summary)
        let interval = 1 / framesPerSecond
        var due = MonotonicClock.now()
        var id: UInt64 = 0
        var index = 0
        while !stopFlag.load(ordering: .sequentiallyConsistent) {
            if index == files.count {
                guard loop else {
                    sink.cameraStateChanged(.finished, detail: "replay finished after \(id) frames")
                    return
                }
                index = 0
            }
            let path = files[index]
            index += 1
            id += 1
            let bytes = (try? readFile(path, limit: 64 << 20)) ?? []
            sink.deliver(Frame(id: id, time: clock.now(), payload: .encoded(bytes, name: path)))
            due += interval
            let wait = due - MonotonicClock.now()
            if wait > 0 { sleepInterruptibly(seconds: wait) } else if wait < -1 { due = MonotonicClock.now() }
        }
    }

    /// Sleeps in short slices so that `stop()` returns promptly.
    private func sleepInterruptibly(seconds: Double) {
        var remaining = seconds
        while remaining > 0, !stopFlag.load(ordering: .sequentiallyConsistent) {
            let slice = min(remaining, 0.05)
            var ts = timespec(tv_sec: Int(slice), tv_nsec: Int((slice - Double(Int(slice))) * 1e9))
            nanosleep(&ts, nil)
            remaining -= slice
        }
    }
}

private final class ReplayThreadContext {
    let source: ReplaySource
    let sink: FrameSink
    init(source: ReplaySource, sink: FrameSink) {
        self.source = source
        self.sink = sink
    }
}
