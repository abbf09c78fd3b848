import Control
import Imaging
import LatchLink
import NeuralNet
import Samples
import Support
import WebCore

/// Starting inputs for each fuzzing target: valid examples of every form the parser accepts, built with
/// the production writers (so they stay valid as the formats change), plus a few near misses. The fuzzer
/// mutates from these; the regression tests run them through the entries too. Photos from the imaging
/// golden set are added by `Scripts/fuzz.sh`.
public enum FuzzSeeds {
    /// Named seeds for `target`.
    public static func seeds(for target: FuzzTarget) -> [(name: String, bytes: [UInt8])] {
        switch target {
        case .modelFile: return modelFiles()
        case .manifest: return manifests().map { ($0.name, Array($0.text.utf8)) }
        case .configuration: return configurations().map { ($0.name, Array($0.text.utf8)) }
        case .messages: return messages().map { ($0.name, Array($0.text.utf8)) }
        case .image: return images()
        case .cameraFrame: return cameraFrames()
        case .web: return webInputs()
        }
    }

    /// The seeds that are meant to be refused (near misses): a weights file and an empty file as models, an
    /// empty manifest, TOML with keys the daemon does not know.
    public static func isNearMiss(_ target: FuzzTarget, _ name: String) -> Bool {
        switch target {
        case .modelFile: return ["weights-only.safetensors", "empty"].contains(name)
        case .manifest: return name == "empty-object.json"
        case .configuration: return name == "types.toml"
        case .messages, .image, .cameraFrame, .web: return false
        }
    }

    // MARK: - The web app's inputs

    static let webConfiguration = """
        [web]
        listen = "[::1]:8080"
        users = "/etc/dogdoor/web-users"
        control_socket = "/run/dogdoor/control.sock"
        valid_fraction = 0.25
        [mqtt]
        enabled = true
        port = 8883
        username = "dogdoor"
        unlock_minutes = 5
        """

    static func webInputs() -> [(name: String, bytes: [UInt8])] {
        var users = PasswordFile()
        try! users.setPassword("correct horse", for: "owner", cost: 4)
        let manifest = JSONValue.object([
            "classes": ["positive": "bo", "negative": "not_bo"], "decision": ["threshold": 0.5],
            "training": ["epochs": "10"],
        ])
        let header = Array(
            JSONValue.object(["__metadata__": ["dogdoor_manifest": .string(manifest.serialized())]]).serialized()
                .utf8)
        let events = [
            #"{"time":"2026-12-06T08:00:02.000+01:00","kind":"unlock","scores":[0.95],"frame":42,"snapshot":"20261206T070002.000Z-unlock.jpg","first_seen_s":1.2}"#,
            #"{"time":"2026-12-06T08:00:12.000+01:00","kind":"relock","rule":"hold 10.0 s expired"}"#,
            #"{"time":"2026-12-06T09:00:00.000+01:00","kind":"command","command":"lock","by":"web:owner"}"#,
        ].joined(separator: "\n")
        let label =
            #"{"snapshot":"20261206T070002.000Z-unlock.jpg","label":"positive","by":"web:owner","time":"2026-12-06T09:00:00.000+01:00"}"#
        let inputs: [(String, UInt8, String)] = [
            ("users", 0, users.text), ("web.toml", 1, Self.webConfiguration),
            ("events.jsonl", 2, events), ("label.json", 4, label), ("command", 5, "UNLOCK"),
        ]
        return inputs.map { ($0.0, [$0.1] + Array($0.2.utf8)) } + [("model-header", [3] + header)]
    }

    // MARK: - Model files and manifests

    static func manifest(signed: Bool) -> ModelManifest {
        var manifest = ModelManifest(
            resize: "area", centering: "samplewise", positiveClass: "bo", negativeClass: "not_bo",
            threshold: 0.5, training: ["recipe": "fuzz seed", "epochs": 1],
            tensorsSHA256: String(repeating: "ab", count: 32))
        manifest.inputSize = 64
        if signed {
            // A fixed key: the seed must be the same on every run.
            let key = Ed25519.PrivateKey(rawValue: [UInt8](repeating: 7, count: 32))!
            manifest.signature = ModelSignature(
                publicKey: key.publicKey, value: key.signature(for: manifest.signedMessage))
        }
        return manifest
    }

    static func manifests() -> [(name: String, text: String)] {
        let plain = manifest(signed: false).json
        // With an int8 form: the quantization record's fields (scales, methods, its own digest and self-test).
        var quantized = manifest(signed: false)
        var record = QuantizationRecord(
            activationScales: (1...QuantizationRecord.int8Layers.count).map { Float($0) / 8 }, calibrationImages: 64)
        record.tensorsSHA256 = String(repeating: "cd", count: 32)
        record.selfTest = SelfTestRecord(expectedLogit: 0.25, magnitude: 3, relativeTolerance: 1e-3)
        quantized.quantization = record
        // Version 1: no integrity object (read only by `dogdoor model upgrade`).
        var format1 = plain.objectValue ?? [:]
        format1["integrity"] = nil
        format1["format_version"] = 1
        return [
            ("plain.json", plain.serialized()), ("signed.json", manifest(signed: true).json.serialized()),
            ("format1.json", JSONValue.object(format1).serialized()), ("empty-object.json", "{}"),
            ("quantized.json", quantized.json.serialized()),
        ]
    }

    static func modelFiles() -> [(name: String, bytes: [UInt8])] {
        // Small tensors under the real names: the container and manifest checks all run, and the loader
        // refuses the shapes (a full-size model is 58 MB, too large to mutate usefully).
        let values: [Float] = [0.5, -1, 2, 0]
        var files: [(String, [UInt8])] = []
        for (name, signed) in [("model.safetensors", false), ("signed-model.safetensors", true)] {
            let metadata = [
                ModelFile.formatKey: ModelFile.formatValue,
                ModelFile.manifestKey: manifest(signed: signed).json.serialized(),
            ]
            let bytes = values.withUnsafeBufferPointer { data in
                let tensors = [
                    SafetensorsWriter.Tensor(
                        name: "block1_conv1.bias", shape: [2], data: UnsafeBufferPointer(rebasing: data[0..<2])),
                    SafetensorsWriter.Tensor(
                        name: "head.bias", shape: [1], data: UnsafeBufferPointer(rebasing: data[2..<3])),
                ]
                return SafetensorsWriter.header(for: tensors, metadata: metadata) + littleEndianBytes(values[0..<3])
            }
            files.append((name, bytes))
        }
        let weightsOnly = values.withUnsafeBufferPointer { data in
            SafetensorsWriter.header(
                for: [SafetensorsWriter.Tensor(name: "block1_conv1.kernel", shape: [2, 2], data: data)], metadata: [:])
                + littleEndianBytes(values[...])
        }
        files.append(("weights-only.safetensors", weightsOnly))
        files.append(("empty", []))
        return files
    }

    static func littleEndianBytes(_ values: ArraySlice<Float>) -> [UInt8] {
        values.flatMap { value -> [UInt8] in
            let bits = value.bitPattern.littleEndian
            return (0..<4).map { UInt8(truncatingIfNeeded: bits >> ($0 * 8)) }
        }
    }

    // MARK: - Configuration

    static func configurations() -> [(name: String, text: String)] {
        [
            (
                "full.toml",
                """
                # Every section, as an installed system might have it.
                [model]
                path = "/etc/dogdoor/model.safetensors"
                minimum_threshold = 0.05
                sha256 = "\(String(repeating: "0f", count: 32))"

                [camera]
                kind = "v4l2"
                device = "/dev/v4l/by-id/usb-cam-video-index0"
                format = "mjpeg"
                width = 640
                height = 480
                fps = 15.0

                [latch]
                socket = "/run/dogdoor-latch/latch.sock"
                heartbeat_timeout = "3s"
                kind = "gpio"
                chip = "gpiochip0"
                line = 17
                min_gap = "500ms"
                max_unlocked = "30m"

                [decision]
                n = 3
                m = 5
                window = "3s"
                hold = "10s"
                threshold = "model"

                [curfew]
                windows = ["22:00-06:30"]

                [events]
                directory = "/var/lib/dogdoor/events"
                max_snapshot_bytes = 209_715_200

                [control]
                socket = "/run/dogdoor/control.sock"
                status_socket = "/run/dogdoor/status.sock"

                [motion]
                sensitivity = 0.01
                hold_after_motion = "3s"

                [compute]
                threads = 2
                plan = "frugal"
                """
            ),
            (
                "types.toml",
                """
                a = 1
                b = -2.5e3
                c = true
                d = 'literal \\ string'
                e = "escapes \\t \\u00e9 \\"quoted\\""
                f = [1, 2, 3]
                g = { x = 1, y = "z" }
                h = \"\"\"
                multi
                line\"\"\"
                [t.u]
                v = 0x1F
                [[w]]
                x = 1979-05-27T07:32:00Z
                """
            ),
            ("empty.toml", ""),
        ]
    }

    // MARK: - Messages

    static func messages() -> [(name: String, text: String)] {
        var seeds: [(String, String)] = []
        for command in [ControlCommand.status, .lock, .auto, .unlock(seconds: 300)] {
            seeds.append(("control-\(command.name).json", JSONValue.object(command.json).serialized()))
        }
        seeds.append(("control-failure.json", ControlResponse.failure("no such command").line))
        let requests: [LatchRequest] = [
            .hello(client: "dogdoord"), .unlock(lease: .milliseconds(8000)), .lock, .heartbeat, .status,
        ]
        for (index, request) in requests.enumerated() {
            seeds.append(("latch-request-\(index).json", request.json.serialized()))
        }
        let limits = LatchLimits(
            heartbeatTimeout: .seconds(1), maximumUnlocked: .seconds(120), minimumGap: .milliseconds(500))
        let reply = LatchReply(
            ok: true, line: .unlocked, wanted: .unlocked, lockReason: nil, unlockedFor: .milliseconds(7000),
            limits: limits)
        seeds.append(("latch-reply.json", reply.json.serialized()))
        seeds.append(
            (
                "latch-reply-refused.json",
                LatchReply(
                    ok: false, line: nil, wanted: .locked, lockReason: .minimumGap,
                    error: "wait"
                ).json.serialized()
            ))
        let notices: [LatchNotice] = [
            .relocked(.heartbeatLost), .lockFailed(attempt: 3, error: "EIO"), .lockRestored(attempts: 4),
        ]
        for (index, notice) in notices.enumerated() {
            seeds.append(("latch-notice-\(index).json", notice.json.serialized()))
        }
        let replay = ReplayManifest(
            seed: 42, fps: 5, width: 64, height: 48,
            frames: [
                ReplayFrame(
                    index: 0, file: "0000.jpg", subject: .bo, bounds: PixelBox(x0: 4, y0: 6, x1: 40, y1: 30),
                    visibleFraction: 0.8),
                ReplayFrame(index: 1, file: "0001.jpg", subject: .nothing, bounds: nil, visibleFraction: 0),
            ])
        seeds.append(("replay-manifest.json", replay.json.serialized()))
        seeds.append(("base64.txt", Base64.encode(Array("DogDoor".utf8))))
        seeds.append(("json-values.json", #"{"a":[1,-2.5e-3,true,false,null,"\u00e9\ud83d\udc36\n"],"b":{}}"#))
        return seeds
    }

    // MARK: - Images and camera frames

    /// A small picture with edges and colour, so that encoders produce every kind of block.
    static func testPicture(width: Int, height: Int) -> Image {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8(truncatingIfNeeded: x * 255 / max(width - 1, 1))
                pixels[i + 1] = UInt8(truncatingIfNeeded: y * 255 / max(height - 1, 1))
                pixels[i + 2] = (x / 4 + y / 4) % 2 == 0 ? 230 : 20
            }
        }
        return Image(width: width, height: height, pixels: pixels)
    }

    static func images() -> [(name: String, bytes: [UInt8])] {
        let picture = testPicture(width: 24, height: 16)
        var seeds: [(String, [UInt8])] = []
        let jpegs: [(String, JPEGEncodeOptions)] = [
            ("baseline.jpg", JPEGEncodeOptions(quality: 80)),
            ("progressive.jpg", JPEGEncodeOptions(quality: 80, progressive: true)),
            ("444-optimized.jpg", JPEGEncodeOptions(quality: 95, subsampling: .s444, optimizeCoding: true)),
        ]
        for (name, options) in jpegs {
            if let bytes = try? JPEGEncoder.encode(picture, options: options) { seeds.append((name, bytes)) }
        }
        if let gray = try? JPEGEncoder.encode(
            samples: [UInt8](repeating: 90, count: 64), width: 8, height: 8, components: 1)
        {
            seeds.append(("gray.jpg", gray))
        }
        if let cmyk = try? JPEGEncoder.encode(
            samples: [UInt8](repeating: 200, count: 8 * 8 * 4), width: 8, height: 8, components: 4,
            ycck: true)
        {
            seeds.append(("ycck.jpg", cmyk))
        }
        if let png = try? PNGEncoder.encode(picture) { seeds.append(("rgb.png", png)) }
        if let webp = try? WebPEncoder.encode(picture, lossless: true) { seeds.append(("lossless.webp", webp)) }
        if let webp = try? WebPEncoder.encode(picture, lossless: false, quality: 60) {
            seeds.append(("lossy.webp", webp))
        }
        return seeds
    }

    /// Camera frame seeds in `FuzzEntries.cameraFrame`'s layout: six header bytes, then the frame.
    static func cameraFrames() -> [(name: String, bytes: [UInt8])] {
        let (width, height) = (16, 8)
        func header(_ format: PixelFormat, padding: UInt8 = 0) -> [UInt8] {
            let index = UInt8(PixelFormat.allCases.firstIndex(of: format)!)
            return [index, UInt8(width - 1), 0, UInt8(height - 1), 0, padding]
        }
        let picture = testPicture(width: width, height: height)
        let yuyv: [UInt8] = (0..<(width * height * 2)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let grey: [UInt8] = (0..<(width * height)).map { UInt8(truncatingIfNeeded: $0) }
        // Lines of 4 extra bytes, as drivers that align their lines send them.
        var padded: [UInt8] = []
        for y in 0..<height {
            padded += picture.pixels[(y * width * 3)..<((y + 1) * width * 3)]
            padded += [0, 0, 0, 0]
        }
        var seeds: [(String, [UInt8])] = [
            ("yuyv", header(.yuyv) + yuyv), ("rgb24", header(.rgb24) + picture.pixels),
            ("rgb24-padded", header(.rgb24, padding: 4) + padded), ("grey", header(.grey) + grey),
        ]
        if let jpeg = try? JPEGEncoder.encode(picture, options: JPEGEncodeOptions(quality: 75)) {
            seeds.append(("mjpeg", header(.mjpeg) + jpeg))
            // Webcams leave out the Huffman tables (DHT); the decoder inserts the standard ones.
            seeds.append(("mjpeg-no-dht", header(.mjpeg) + MJPEG.removingHuffmanTables(jpeg)))
        }
        return seeds
    }
}

extension FuzzSeeds {
    /// Writes `target`'s seeds into `directory` (created if missing), one file each, under their names.
    public static func write(_ target: FuzzTarget, to directory: String) throws {
        try makeDirectories(directory, permissions: 0o755)
        for (name, bytes) in seeds(for: target) {
            try AtomicFile.write(bytes, to: directory + "/" + name)
        }
    }
}
