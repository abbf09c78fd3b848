import Logging
import Support

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
    private let thread = SourceThread()

    public var summary: String {
        "replay of \(files.count) images at \(fixed(framesPerSecond, 1)) fps\(loop ? ", looping" : "")"
    }

    /// - Parameters:
    ///   - folder: used when `files` is empty: every regular, non-hidden file in it, sorted by name.
    ///   - files: explicit files; relative names are taken inside `folder`.
    public init(
        folder: String, files: [String] = [], framesPerSecond: Double, loop: Bool,
        clock: any DoorClock = SystemClock(), logger: Logger = Logger(label: "dogdoord.replay")
    ) throws(Failure) {
        guard framesPerSecond > 0, framesPerSecond <= 1000 else {
            throw Failure("replay frame rate \(framesPerSecond) is not between 0 and 1000")
        }
        var list: [String]
        if files.isEmpty {
            let names: [String]
            do {
                names = try directoryEntries(folder)
            } catch {
                throw Failure("\(folder): cannot open replay folder: \(error.reason)")
            }
            list = names.filter { name in
                var st = stat()
                return !name.hasPrefix(".") && stat(folder + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
            }.map { folder + "/" + $0 }
            list.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            guard !list.isEmpty else { throw Failure("\(folder): replay folder has no files") }
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
        do {
            try thread.start(name: "replay") { [self] in run(sink: sink) }
        } catch {
            throw Failure("cannot start the replay thread: \(error.reason)")
        }
    }

    public func stop() { thread.stop() }

    private func run(sink: FrameSink) {
        sink.cameraStateChanged(.streaming, detail: summary)
        let interval = Duration.seconds(1 / framesPerSecond)
        var due = clock.now().monotonic
        var id: UInt64 = 0
        var index = 0
        while !thread.stopping {
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
            due = due + interval
            let now = clock.now().monotonic
            let wait = (due - now).seconds
            if wait > 0 { thread.sleep(seconds: wait) } else if wait < -1 { due = now }
        }
    }
}
