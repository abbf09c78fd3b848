import Control
import Foundation
import Imaging
import LatchLink
import NeuralNet
import Samples
import Support
import TestSupport
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

    static let weights: String =
        ProcessInfo.processInfo.environment["DOGDOOR_WEIGHTS"]
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

/// Runs a program to completion (with a timeout) and returns its combined output; `input`, if given, is its
/// standard input.
@discardableResult
func runProgram(
    _ path: String, _ arguments: [String], input: String? = nil, timeout: Double = 600
) throws -> ProgramResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let stdin = Pipe()
    if input != nil { process.standardInput = stdin }
    try process.run()
    if let input {
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
    }
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

/// A `dogdoord` running in the background with its own state directory and control socket, beside the latch
/// owner (`dogdoor-latch`, simulated latch) it commands.
final class RunningDaemon {
    let directory: String
    let process = Process()
    /// The latch owner, started first (nil when the test runs dogdoord without one).
    let owner: Process?
    private let outputPath: String

    var events: String { directory + "/events" }
    var socket: String { directory + "/control.sock" }
    var latchSocket: String { directory + "/latch.sock" }

    /// Starts the latch owner (unless `withOwner` is false), then `dogdoord` with the built-in defaults (replay
    /// camera) plus `settings`. `latch.*` settings go to both.
    init(directory: String, settings: [String: String], withOwner: Bool = true, config: String? = nil) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        outputPath = directory + "/daemon.log"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        var latchSettings = ["latch.socket": directory + "/latch.sock"]
        for (key, value) in settings where key.hasPrefix("latch.") { latchSettings[key] = value }
        if withOwner {
            let owner = Process()
            owner.executableURL = URL(fileURLWithPath: Binaries.path("dogdoor-latch"))
            owner.arguments =
                (config.map { ["--config", $0] } ?? [])
                + latchSettings.sorted(by: { $0.key < $1.key }).flatMap { ["--set", "\($0.key)=\($0.value)"] }
            _ = FileManager.default.createFile(atPath: directory + "/latch.log", contents: nil)
            let ownerLog = FileHandle(forWritingAtPath: directory + "/latch.log")!
            owner.standardOutput = ownerLog
            owner.standardError = ownerLog
            try owner.run()
            self.owner = owner
            let deadline = Date().addingTimeInterval(10)
            while !FileManager.default.fileExists(atPath: directory + "/latch.sock") {
                guard Date() < deadline, owner.isRunning else {
                    throw HarnessError(
                        "dogdoor-latch did not start:\n"
                            + ((try? String(contentsOfFile: directory + "/latch.log", encoding: .utf8)) ?? ""))
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        } else {
            owner = nil
        }
        var arguments =
            (config.map { ["--config", $0] } ?? [])
            + ["--set", "events.directory=\(directory)/events", "--set", "control.socket=\(directory)/control.sock"]
        var all = settings
        all["latch.socket"] = latchSettings["latch.socket"]
        for (key, value) in all.sorted(by: { $0.key < $1.key }) { arguments += ["--set", "\(key)=\(value)"] }
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
        if let owner, owner.isRunning {
            owner.terminate()
            owner.waitUntilExit()
        }
    }

    /// The latch owner's log: every actuation it made ("latch unlocked", "latch locked (reason)").
    var ownerOutput: String { (try? String(contentsOfFile: directory + "/latch.log", encoding: .utf8)) ?? "" }

    /// The owner's actuations from its log, with the log line's time (milliseconds, local time).
    func ownerActuations() -> [(time: Date, level: LatchState, reason: String)] {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX"
        formatter.timeZone = TimeZone.current
        return ownerOutput.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 2)
            guard parts.count == 3, let time = formatter.date(from: String(parts[0])) else { return nil }
            let message = parts[2]
            if message.hasPrefix("latch unlocked") { return (time, .unlocked, "") }
            guard message.hasPrefix("latch locked ("), let end = message.firstIndex(of: ")") else { return nil }
            return (time, .locked, String(message[message.index(message.startIndex, offsetBy: 14)..<end]))
        }
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits until `condition` holds, polling; fails with the daemon's output after `timeout` (or when dogdoord
    /// exits first, unless `allowExit`).
    func wait(for what: String, timeout: Double, allowExit: Bool = false, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return }
            if !allowExit && !process.isRunning {
                throw HarnessError(
                    "dogdoord exited (\(process.terminationStatus)) while waiting for \(what):\n\(output)")
            }
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

    /// Polls the daemon's status over its control socket until `condition` holds (10 s at most).
    func waitForStatus(_ condition: (DaemonStatus) -> Bool) throws -> DaemonStatus {
        var last: DaemonStatus?
        try wait(for: "a status that satisfies the test", timeout: 10) {
            last = try? ControlClient.send(.status, to: socket, timeout: .seconds(2)).status
            return last.map(condition) ?? false
        }
        return try #require(last)
    }

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

/// A model and replay frames for the end-to-end tests, made once per test run.
///
/// The tests are about the daemon, not about how well a model generalises, so the model is built to be exact
/// on known frames: sample photos of Bo and of other animals (drawn by the Samples library) go through the real
/// VGG16 base, a logistic-regression head is fitted to their features (standardised, then folded back into a
/// plain Dense layer), and the replay frames are those same photos. Every frame is checked to be classified as
/// intended before any test relies on it.
final class TrainedFixture: @unchecked Sendable {
    let directory: String
    let model: String
    /// Photos of Bo and of other animals, in two folders.
    let boFrames: [String]
    let otherFrames: [String]

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
        directory = makeTemporaryDirectory("e2e")
        _ = try SampleGenerator.writeDataset(to: directory + "/data", trainPerClass: 16, validPerClass: 1, seed: 11)
        func files(_ folder: String) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".jpg") }.sorted().map {
                folder + "/" + $0
            }
        }
        boFrames = try files(directory + "/data/train/bo")
        otherFrames = try files(directory + "/data/train/not_bo")
        model = directory + "/model.safetensors"

        let threads = ComputeThreads(2)
        let parameters = try loadBaseWeights(path: Binaries.weights)
        let preprocessor = Preprocessor()
        let extractor = try VGG16FeatureExtractor(weights: parameters, plan: .inference, threads: threads)
        let labelled = boFrames.map { ($0, 1.0) } + otherFrames.map { ($0, 0.0) }
        let features = try labelled.map { path, _ in
            extractor.extract(try preprocessor.input(file: path), batch: 1)[0].map(Double.init)
        }
        let head = Self.fitHead(features, labels: labelled.map(\.1))
        parameters.head = head
        var manifest = ModelManifest(
            resize: preprocessor.resize.rawValue, centering: preprocessor.centering.rawValue,
            positiveClass: "bo", negativeClass: "not_bo", threshold: 0.5,
            training: ["note": "end-to-end test fixture: head fitted to sample photos"])
        manifest.inputSize = 224
        // With its int8 form, calibrated on the same photos: `[compute] precision = "auto"` (the default) runs it
        // wherever the CPU has int8 dot products, and tests can ask for either form.
        var calibration = ActivationCalibration()
        for (path, _) in labelled {
            calibration.add(try preprocessor.input(file: path), side: 224, extractor: extractor)
        }
        try ModelFile.write(parameters, manifest: manifest, to: model, threads: threads, int8: calibration.result)
        let int8 = try DogDoorModel(path: model, precision: .int8, threads: threads)
        for (f, (path, label)) in zip(features, labelled) {
            let logit = head.logit(f.map(Float.init))
            let int8Logit = int8.logits(try preprocessor.input(file: path), batch: 1)[0]
            guard (logit > 0) == (label > 0.5), abs(logit) > 1, (int8Logit > 0) == (label > 0.5), abs(int8Logit) > 1
            else {
                throw HarnessError(
                    "fixture model does not separate \(path) clearly (logit \(logit), int8 \(int8Logit))")
            }
        }
    }

    /// Logistic regression with a little L2, on standardised features, folded into a Dense head.
    static func fitHead(_ features: [[Double]], labels: [Double]) -> DenseHead {
        let n = features.count, d = features[0].count
        var mean = [Double](repeating: 0, count: d), sd = [Double](repeating: 0, count: d)
        for f in features { for j in 0..<d { mean[j] += f[j] / Double(n) } }
        for f in features { for j in 0..<d { sd[j] += (f[j] - mean[j]) * (f[j] - mean[j]) / Double(n) } }
        sd = sd.map { $0.squareRoot() + 1e-6 }
        let x = features.map { f in (0..<d).map { (f[$0] - mean[$0]) / sd[$0] } }
        var w = [Double](repeating: 0, count: d), b = 0.0
        for _ in 0..<2000 {
            var gw = [Double](repeating: 0, count: d), gb = 0.0
            for (xi, yi) in zip(x, labels) {
                let z = zip(xi, w).reduce(b) { $0 + $1.0 * $1.1 }
                let g = 1 / (1 + exp(-z)) - yi
                gb += g / Double(n)
                for j in 0..<d { gw[j] += g * xi[j] / Double(n) }
            }
            for j in 0..<d { w[j] -= 0.5 * (gw[j] + 1e-3 * w[j]) }
            b -= 0.5 * gb
        }
        // z = b + sum w_j (f_j - mean_j) / sd_j = (b - sum w_j mean_j / sd_j) + sum (w_j / sd_j) f_j
        let kernel = (0..<d).map { Float(w[$0] / sd[$0]) }
        let bias = b - (0..<d).reduce(0.0) { $0 + w[$1] * mean[$1] / sd[$1] }
        return DenseHead(kernel: kernel, bias: Float(bias))
    }

    /// A replay folder: `others` frames of other animals, `bo` frames of Bo, then `after` more of others (files
    /// copied under sortable names).
    /// A replay folder: `others` frames of other animals, `bo` of Bo, `after` of others again. With `scale`,
    /// every frame is enlarged that many times (bilinear), as a camera of higher resolution would see the scene.
    func replayFolder(_ name: String, others: Int, bo: Int, after: Int, scale: Int = 1) throws -> String {
        let folder = directory + "/" + name
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var sequence: [String] = []
        for i in 0..<others { sequence.append(otherFrames[i % otherFrames.count]) }
        for i in 0..<bo { sequence.append(boFrames[i % boFrames.count]) }
        for i in 0..<after { sequence.append(otherFrames[(others + i) % otherFrames.count]) }
        for (i, file) in sequence.enumerated() {
            let destination = folder + "/" + String(format: "frame-%04d.jpg", i)
            if scale == 1 {
                try FileManager.default.copyItem(atPath: file, toPath: destination)
            } else {
                let image = try ImageDecoder.decode(file: file)
                let large = PillowResample.bilinear(image, width: image.width * scale, height: image.height * scale)
                try AtomicFile.write(
                    try JPEGEncoder.encode(large, options: JPEGEncodeOptions(quality: 92)), to: destination)
            }
        }
        return folder
    }
}
