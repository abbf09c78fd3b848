import CDoorSystem
import Control
import DoorConfiguration
import Imaging
import LatchLink
import NeuralNet
import Samples
import Support
import WebCore

/// The parsers DogDoor runs on input it does not control, as fuzzing entry points.
///
/// Each entry takes arbitrary bytes, runs them through the production code exactly as the daemon, the trainer
/// or the tools would, and checks what must hold for any input: no crash, no hang, no unbounded allocation,
/// and, where something parses, that writing it out and parsing that again gives the same value. The libFuzzer
/// executables of `Fuzz/` call these (with AddressSanitizer, UndefinedBehaviorSanitizer and coverage); the
/// regression tests call them on every input that ever crashed one (`Tests/FuzzRegressions/<target>/`) and on
/// the seeds, in the ordinary test run.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A model file: safetensors container, manifest, tensor layout, checksums (through a memfd, so the
    /// real memory-mapped path is what runs).
    case modelFile = "model-file"
    /// A model manifest (JSON) on its own: every field, the checksum, the signature, the round trip.
    case manifest
    /// The daemon's TOML configuration.
    case configuration
    /// JSON: the strict parser and everything built on it (control requests and responses, latch requests,
    /// replies and notices, replay camera manifests), and base64 (keys and signatures).
    case messages
    /// Photo decoding by content: JPEG (baseline, progressive, gray, CMYK), PNG, WebP, EXIF orientation.
    case image
    /// Camera frames: YUYV, MJPEG (with Huffman table insertion), RGB24, GREY, with any sizes and lengths.
    case cameraFrame = "camera-frame"
    /// What the web app reads: its users file, web.toml, the daemon's event lines, model headers, label
    /// lines and Home Assistant's command payloads (the first byte picks which).
    case web
}

public enum FuzzEntries {
    /// Runs `data` through `target`'s parser. Traps (a fuzzer finding) if a property fails. Returns whether
    /// the input was accepted (for a model file: got past the container and the manifest).
    @discardableResult
    public static func run(_ target: FuzzTarget, _ data: UnsafeRawBufferPointer) -> Bool {
        switch target {
        case .modelFile: return modelFile(data)
        case .manifest: return manifest(data)
        case .configuration: return configuration(data)
        case .messages: return messages(data)
        case .image: return image(data)
        case .cameraFrame: return cameraFrame(data)
        case .web: return web(data)
        }
    }

    @discardableResult
    public static func run(_ target: FuzzTarget, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { run(target, $0) }
    }

    // MARK: - Entries

    /// The web app's parsers; the first byte chooses one: 0 users file, 1 web.toml, 2 event lines, 3 model
    /// header, 4 label line, 5 a Home Assistant command payload.
    static func web(_ data: UnsafeRawBufferPointer) -> Bool {
        guard let kind = data.first else { return false }
        let bytes = Array(data.dropFirst())
        let text = String(decoding: bytes, as: UTF8.self)
        switch kind % 6 {
        case 0:
            guard let users = try? PasswordFile(parsing: text, file: "users") else { return false }
            precondition((try? PasswordFile(parsing: users.text, file: "users")) == users, "users file round trip")
            return true
        case 1:
            do {
                _ = try WebConfiguration.parse(text, file: "web.toml")
                return true
            } catch {
                precondition("\(error)".contains("web.toml"), "a web.toml error without its place: \(error)")
                return false
            }
        case 2:
            let entries = text.split(separator: "\n").compactMap { EventEntry(line: $0) }
            for entry in entries {
                precondition(entry.snapshot.map(SnapshotName.isValid) ?? true, "a snapshot name that is a path")
                precondition((try? JSONValueEncoder().encode(entry)) != nil, "an entry that does not encode")
            }
            _ = EventHistory.days(entries)
            return !entries.isEmpty
        case 3:
            do {
                _ = try ModelSummary.summary(header: bytes, file: "model.safetensors")
                return true
            } catch {
                precondition("\(error)".contains("model.safetensors"), "a model error without its file: \(error)")
                return false
            }
        case 4:
            return (try? JSONValueDecoder().decode(LabelRecord.self, from: text)) != nil
        default:
            guard let command = HomeAssistantLockCommand(payload: bytes) else { return false }
            if case .unlock(let seconds) = command.controlCommand(settings: MQTTSettings()) {
                precondition((1...ControlCommand.maximumUnlockSeconds).contains(seconds), "unlock out of range")
            }
            return true
        }
    }

    static func modelFile(_ data: UnsafeRawBufferPointer) -> Bool {
        let fd = dd_sys_memfd("fuzz-model")
        guard fd >= 0 else { fatalError("memfd_create failed: \(SystemError("memfd_create", code: -fd).reason)") }
        defer { close(fd) }
        if data.count > 0 {
            do {
                try writeAll(fd, Array(data))
            } catch {
                fatalError("writing the memfd failed: \(error)")
            }
        }
        let path = "/proc/self/fd/\(fd)"
        do {
            let model = try DogDoorModel(path: path, threads: ComputeThreads(1))
            precondition(VGG16.supports(inputSize: model.manifest.inputSize))
            return true
        } catch {
            precondition(error.file == path, "an error naming another file: \(error)")
            _ = error.description  // every error must describe itself without trapping
            switch error.problem {
            case .container, .notAModel, .manifest: return false
            default: return true
            }
        }
    }

    static func manifest(_ data: UnsafeRawBufferPointer) -> Bool {
        guard let json = try? JSONValue.parse(data) else { return false }
        var accepted = false
        for format1 in [false, true] {
            guard let manifest = try? ModelManifest(json: json, acceptingFormat1: format1) else { continue }
            precondition(VGG16.supports(inputSize: manifest.inputSize))
            precondition(manifest.threshold > 0 && manifest.threshold < 1)
            // What is written reads back as the same manifest.
            let again = try? ModelManifest(json: manifest.json)
            precondition(again == manifest, "a manifest does not survive its own round trip")
            _ = manifest.signature?.isValid(for: manifest)
            accepted = true
        }
        return accepted
    }

    static func configuration(_ data: UnsafeRawBufferPointer) -> Bool {
        let bytes = Array(data)
        _ = try? TOML.parse(bytes: bytes, file: "fuzz.toml")
        do {
            let configuration = try DaemonConfiguration.parse(String(decoding: bytes, as: UTF8.self), file: "fuzz.toml")
            _ = try? configuration.decisionParameters(modelThreshold: 0.5)
            return true
        } catch {
            precondition(
                error.location.hasPrefix("fuzz.toml") || error.location == "defaults",
                "an error without its place: \(error)")
            return false
        }
    }

    static func messages(_ data: UnsafeRawBufferPointer) -> Bool {
        let bytes = Array(data)
        let line = String(decoding: bytes, as: UTF8.self)
        let decoded = Base64.decode(line)
        if let decoded {
            precondition(Base64.decode(Base64.encode(decoded)) == decoded, "base64 does not survive its own round trip")
        }
        guard let value = try? JSONValue.parse(bytes) else { return decoded != nil }
        let text = value.serialized()
        let again = try? JSONValue.parse(text)
        precondition(again == value, "JSON does not survive its own round trip: \(text)")
        precondition(again?.serialized() == text)
        if let manifest = try? ReplayManifest(json: value) {
            precondition(
                (try? ReplayManifest(json: manifest.json)) == manifest,
                "a replay manifest does not survive its own round trip")
        }
        if let command = try? ControlCommand(parsing: line) {
            precondition((try? ControlCommand(parsing: JSONValue.object(command.json).serialized())) == command)
        }
        if let response = try? ControlResponse(parsing: line) {
            let again = try? ControlResponse(parsing: response.line)
            precondition(again?.line == response.line, "a control response does not survive its own round trip")
        }
        if let request = try? LatchRequest(parsing: bytes) {
            precondition((try? LatchRequest(parsing: Array(request.json.serialized().utf8))) == request)
        }
        if let message = try? LatchOwnerMessage(parsing: bytes) {
            let text: String
            switch message {
            case .reply(let reply): text = reply.json.serialized()
            case .notice(let notice): text = notice.json.serialized()
            }
            precondition(
                (try? LatchOwnerMessage(parsing: Array(text.utf8))) == message,
                "a latch message does not survive its own round trip")
        }
        return true
    }

    /// Decoding limits for fuzzing: small enough that every input decodes in milliseconds.
    static let fuzzLimits = DecodeOptions(
        maximumPixels: 1 << 20, maximumProgressiveScans: 100, maximumFileBytes: 1 << 20)

    static func image(_ data: UnsafeRawBufferPointer) -> Bool {
        var accepted = false
        for var options in [
            fuzzLimits,
            DecodeOptions(
                minimumSide: 16, allowTruncated: true, maximumPixels: 1 << 20,
                maximumProgressiveScans: 100, maximumFileBytes: 1 << 20),
        ] {
            options.applyOrientation = data.count % 2 == 0
            guard let decoded = try? ImageDecoder.decode(data, source: "fuzz", options: options) else { continue }
            precondition(
                decoded.width > 0 && decoded.height > 0 && decoded.width * decoded.height <= options.maximumPixels)
            precondition(decoded.pixels.count == decoded.width * decoded.height * 3)
            accepted = true
        }
        return accepted
    }

    /// The first 6 bytes choose the frame: format, width (1...256), height (1...256), extra bytes per line
    /// (0...15); the rest is the frame.
    static func cameraFrame(_ data: UnsafeRawBufferPointer) -> Bool {
        guard data.count >= 6 else { return false }
        let format = PixelFormat.allCases[Int(data[0]) % PixelFormat.allCases.count]
        let width = 1 + (Int(data[1]) | Int(data[2]) << 8) % 256
        let height = 1 + (Int(data[3]) | Int(data[4]) << 8) % 256
        let bytesPerLine = width * (format.bytesPerPixel ?? 1) + Int(data[5]) % 16
        let payload = UnsafeRawBufferPointer(rebasing: data[6...])
        guard
            let image = try? CameraFrame.image(
                payload, format: format, width: width, height: height, bytesPerLine: bytesPerLine,
                options: fuzzLimits)
        else { return false }
        // Nothing larger than the negotiated size is ever produced.
        precondition(
            image.width <= width && image.height <= height,
            "a \(image.width)x\(image.height) image from a \(width)x\(height) camera")
        precondition(image.pixels.count == image.width * image.height * 3)
        return true
    }
}
