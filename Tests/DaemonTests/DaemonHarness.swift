import Foundation
import Samples
import Support
import Testing

/// Runs the real `dogdoord`, `dogdoor` and `dogdoor-train` binaries for end-to-end tests.
///
/// Binaries come from `$DOGDOOR_BIN_DIR` (Scripts/test.sh points it at the release build), else the release or
/// debug build folder of this checkout.
enum Binaries {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func path(_ name: String) -> String {
        var candidates: [String] = []
        if let dir = ProcessInfo.processInfo.environment["DOGDOOR_BIN_DIR"] { candidates.append(dir + "/" + name) }
        candidates += [repository + "/.build/release/" + name, repository + "/.build/debug/" + name]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    static let weights: String = ProcessInfo.processInfo.environment["DOGDOOR_WEIGHTS"]
        ?? repository + "/var/weights/vgg16-notop.safetensors"
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Output and status of a finished program.
struct ProgramResult {
    var status: Int32
    var output: String
}

/// Runs a program to completion (with a timeout) and returns its combined output.
@discardableResult
func runProgram(_ path: String, _ arguments: [String], timeout: Double = 600) throws -> ProgramResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    var data = Data()
    let reader = pipe.fileHandleForReading
    while process.isRunning && Date() < deadline {
        data.append(reader.availableData)
    }
    if process.isRunning {
        process.terminate()
        throw HarnessError("\(path) \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s")
    }
    data.append(reader.readDataToEndOfFile())
    process.waitUntilExit()
    return ProgramResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

/// A `dogdoord` running in the background with its own state directory and control socket.
final class RunningDaemon {
    let directory: String
    let process = Process()
    private let outputPath: String

    var events: String { directory + "/events" }
    var socket: String { directory + "/control.sock" }

    /// Starts `dogdoord` with the built-in defaults (replay camera, simulated latch) plus `settings`.
    init(directory: String, settings: [String: String]) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        outputPath = directory + "/daemon.log"
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        var arguments = ["--set", "events.directory=\(directory)/events", "--set", "control.socket=\(directory)/control.sock"]
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { arguments += ["--set", "\(key)=\(value)"] }
        process.executableURL = URL(fileURLWithPath: Binaries.path("dogdoord"))
        process.arguments = arguments
        let log = FileHandle(forWritingAtPath: outputPath)!
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits until `condition` holds, polling; fails with the daemon's output after `timeout`.
    func wait(for what: String, timeout: Double, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return }
            if !process.isRunning { throw HarnessError("dogdoord exited (\(process.terminationStatus)) while waiting for \(what):\n\(output)") }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw HarnessError("timed out after \(Int(timeout)) s waiting for \(what):\n\(output)")
    }

    /// Waits for the daemon to exit on its own (a replay without looping ends it).
    func waitForExit(timeout: Double) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { throw HarnessError("dogdoord still running after \(Int(timeout)) s:\n\(output)") }
        return process.terminationStatus
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// The event log so far, one JSON object per line.
    func eventRecords() -> [JSONObject] {
        guard let text = try? String(contentsOfFile: events + "/events.jsonl", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)).objectValue }
    }

    func records(_ kind: String) -> [JSONObject] { eventRecords().filter { $0["kind"]?.stringValue == kind } }

    /// `dogdoor <command> --socket ... --json`, parsed.
    func control(_ arguments: [String]) throws -> JSONObject {
        let result = try runProgram(Binaries.path("dogdoor"), arguments + ["--socket", socket, "--json"], timeout: 30)
        guard let line = result.output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try JSONValue.parse(String(line)).objectValue
        else { throw HarnessError("dogdoor \(arguments.joined(separator: " ")): \(result.output)") }
        return object
    }
}

/// Seconds between two event records' ISO-8601 times.
func secondsBetween(_ a: JSONObject, _ b: JSONObject) -> Double {
    func parse(_ record: JSONObject) -> Double {
        let text = record["time"]!.stringValue!
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)!.timeIntervalSince1970
    }
    return parse(b) - parse(a)
}

/// Sample data, a replay sequence and a model trained on them by the real `dogdoor-train`, made once per
/// test run and shared by the end-to-end tests.
final class TrainedFixture: @unchecked Sendable {
    let directory: String
    let model: String
    let frames: String
    let manifest: ReplayManifest

    nonisolated(unsafe) private static var shared: Result<TrainedFixture, Error>?
    private static let lock = NSLock()

    static func get() throws -> TrainedFixture {
        lock.lock()
        defer { lock.unlock() }
        if let shared { return try shared.get() }
        let result = Result { try TrainedFixture() }
        shared = result
        return try result.get()
    }

    private init() throws {
        guard FileManager.default.fileExists(atPath: Binaries.weights) else {
            throw HarnessError("VGG16 weights not found at \(Binaries.weights): run Scripts/setup.sh")
        }
        directory = NSTemporaryDirectory() + "dogdoor-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try SampleGenerator.writeDataset(to: directory + "/data", trainPerClass: 24, validPerClass: 10, seed: 11)
        frames = directory + "/frames"
        manifest = try SampleGenerator.writeReplaySequence(to: frames, seed: 12)
        model = directory + "/model.safetensors"
        let result = try runProgram(Binaries.path("dogdoor-train"), [
            "--data", directory + "/data", "--positive", "bo", "--output", model, "--weights", Binaries.weights,
            "--epochs", "6", "--steps-per-epoch", "6", "--fine-tune-epochs", "0", "--seed", "3",
        ], timeout: 900)
        guard result.status == 0 else { throw HarnessError("dogdoor-train failed:\n\(result.output)") }
    }

    /// Frame files in play order.
    var frameFiles: [String] { manifest.frames.map { frames + "/" + $0.file } }
}
