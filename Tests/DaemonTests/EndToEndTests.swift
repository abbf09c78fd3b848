import Foundation
import Imaging
import NeuralNet
import Samples
import Support
import TestSupport
import Testing

/// The real daemon binary on replayed frames with the simulated latch: what a user of the door sees.
/// (Real camera and GPIO drivers are covered by the QEMU integration tests in Scripts/integration.)
@Suite(.serialized) struct EndToEndTests {
    static func directory() -> String { makeTemporaryDirectory("dogdoord") }

    /// Fast decision settings so that a run takes seconds: 3 of 5 within 3 s, hold 2 s, cooldown 1 s.
    static let fastDecisions: [String: String] = [
        "decision.n": "3", "decision.m": "5", "decision.window": "3s", "decision.hold": "2s",
        "decision.max_open": "20s", "decision.cooldown": "1s", "latch.min_gap": "0s",
    ]

    /// `fastDecisions` plus one pass of `frames` at `fps` through `model`, then `extra`.
    static func replayOnce(
        _ frames: String, model: String, fps: Int, _ extra: [String: String] = [:]
    ) -> [String: String] {
        fastDecisions.merging([
            "model.path": model, "camera.replay_folder": frames, "camera.replay_loop": "false",
            "camera.replay_fps": "\(fps)",
        ]) { $1 }.merging(extra) { $1 }
    }

    @Test func unlocksForTheDogAndRelocksAfterTheHold() throws {
        let fixture = try TrainedFixture.get()
        let frames = try fixture.replayFolder("unlock", others: 8, bo: 10, after: 16)
        let daemon = try RunningDaemon(
            directory: Self.directory(), settings: Self.replayOnce(frames, model: fixture.model, fps: 5))
        #expect(try daemon.waitForExit(timeout: 180) == 0, "a finished replay ends the run cleanly")
        let events = daemon.eventRecords()
        let unlocks = daemon.records("unlock")
        let relocks = daemon.records("relock")
        #expect(unlocks.count >= 1, "the dog was let in:\n\(daemon.output)")
        #expect(relocks.count == unlocks.count, "every unlock relocked")
        // No unlock before the dog appears: every unlock's deciding frame shows Bo (frames 9 to 18).
        let boFrames = Set(9...18)
        for unlock in unlocks {
            let frame = unlock["frame"]?.intValue ?? -1
            #expect(boFrames.contains(frame), "unlock on frame \(frame), which does not show the dog")
            #expect(unlock["rule"]?.stringValue?.contains("3 of") == true)
            #expect((unlock["scores"]?.arrayValue?.count ?? 0) >= 3)
            #expect(unlock["snapshot"]?.stringValue != nil, "an unlock keeps a snapshot")
        }
        // Relocked within hold + a frame interval + scheduling slack after the last positive frame (2 s hold).
        if let unlock = unlocks.first, let relock = relocks.first {
            let open = secondsBetween(unlock, relock)
            #expect(open >= 2 && open <= 20, "door open \(open) s")
        }
        #expect(events.last?["kind"]?.stringValue == "stop")
        #expect(events.last?["door"]?.stringValue == "locked")
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: daemon.events + "/snapshots")
        #expect(snapshots.contains { $0.hasSuffix(".jpg") })
    }

    /// The int8 form and the float form decide alike on the same replay: the unlock on the same frame, by the
    /// same rule, and nothing before Bo. At one frame a second both score every frame even on a loaded
    /// machine (at 5 a busy float run skipped frames the int8 run scored, and unlocked a frame later).
    @Test func int8AndFloatUnlockOnTheSameFrame() throws {
        let fixture = try TrainedFixture.get()
        let frames = try fixture.replayFolder("precision", others: 8, bo: 8, after: 4)
        var unlockFrames: [String: [Int]] = [:]
        var evaluated: [String: Int] = [:]
        for precision in ["int8", "fp32"] {
            let daemon = try RunningDaemon(
                directory: Self.directory(),
                settings: Self.replayOnce(frames, model: fixture.model, fps: 1, ["compute.precision": precision]))
            #expect(try daemon.waitForExit(timeout: 180) == 0)
            #expect(daemon.output.contains("precision=\(precision)"), "\(daemon.output)")
            #expect(daemon.output.contains(precision == "int8" ? "precision=\"int8 (" : "precision=fp32"))
            unlockFrames[precision] = daemon.records("unlock").compactMap { $0["frame"]?.intValue }
            evaluated[precision] = daemon.records("stop").last?["frames_evaluated"]?.intValue
        }
        #expect(evaluated["int8"] == evaluated["fp32"], "both runs scored the same frames: \(evaluated)")
        #expect(unlockFrames["int8"] == unlockFrames["fp32"], "\(unlockFrames)")
        #expect(unlockFrames["int8"]?.allSatisfy { $0 >= 9 } == true && unlockFrames["int8"]?.isEmpty == false)
    }

    /// `dogdoor model quantize` on a float-only copy of the fixture: the new file has a verified int8 form and
    /// the comparison on the folder's validation photos; `model info` shows it; a folder without images is an
    /// error naming it.
    @Test func quantizeCommandAddsAVerifiedInt8Form() throws {
        let fixture = try TrainedFixture.get()
        let dir = Self.directory()
        let floatOnly = dir + "/float.safetensors", quantized = dir + "/int8.safetensors"
        let (_, parameters) = try ModelFile.readParameters(fixture.model)
        var manifest = try DogDoorModel(path: fixture.model).manifest
        manifest.quantization = nil
        try ModelFile.write(parameters, manifest: manifest, to: floatOnly)
        #expect(try DogDoorModel(path: floatOnly).manifest.quantization == nil)
        let dogdoor = Binaries.path("dogdoor")
        let run = try runProgram(
            dogdoor,
            [
                "model", "quantize", "--model", floatOnly, "--calibration", fixture.directory + "/data", "--images",
                "8",
                "--output", quantized,
            ])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("int8 form calibrated on 8 images"), "\(run.output)")
        #expect(run.output.contains("validation photos: int8 against fp32 on 2 images"), "\(run.output)")
        let model = try DogDoorModel(path: quantized, precision: .int8)
        #expect(model.manifest.quantization?.calibrationImages == 8)
        #expect(model.manifest.tensorsSHA256 == manifest.tensorsSHA256, "the float tensors are unchanged")
        let info = try runProgram(dogdoor, ["model", "info", quantized])
        #expect(info.status == 0 && info.output.contains("int8 form:      calibrated on 8 images"), "\(info.output)")
        #expect(model.manifest.quantization?.weights == QuantizationRecord.weightsMethod)
        #expect(
            model.manifest.quantization?.calibrationMethod
                == QuantizationRecord.calibrationMethod(clippingWeight: ActivationHistogram.defaultClippingWeight))
        // Rounded to nearest and clipped with another weight on request, and recorded so.
        let nearest = dir + "/nearest.safetensors"
        let fast = try runProgram(
            dogdoor,
            [
                "model", "quantize", "--model", floatOnly, "--calibration", fixture.directory + "/data", "--images",
                "8", "--rounding", "nearest", "--clipping-weight", "3", "--output", nearest,
            ])
        #expect(fast.status == 0, "\(fast.output)")
        let nearestModel = try DogDoorModel(path: nearest, precision: .int8)
        #expect(nearestModel.manifest.quantization?.weights == QuantizationRecord.nearestWeightsMethod)
        #expect(nearestModel.manifest.quantization?.calibrationMethod == "mse-clip, clipping weighted 3")
        let zeroWeight = try runProgram(
            dogdoor,
            [
                "model", "quantize", "--model", floatOnly, "--calibration", fixture.directory + "/data",
                "--clipping-weight", "0", "--output", dir + "/refused.safetensors",
            ])
        #expect(zeroWeight.status != 0 && zeroWeight.output.contains("--clipping-weight must be between"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/refused.safetensors"))
        let empty = dir + "/no-images"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let refused = try runProgram(
            dogdoor, ["model", "quantize", "--model", floatOnly, "--calibration", empty, "--output", quantized])
        #expect(refused.status != 0 && refused.output.contains("\(empty): no images"), "\(refused.output)")
    }

    /// `dogdoor-train` end to end on the fixture's photos, small and short (64x64 inputs, a few steps): the
    /// averaging options override the recipe's and the run says which weights it kept; a negative count is
    /// refused before anything trains.
    @Test func trainCommandAveragesTheEpochsItIsTold() throws {
        let fixture = try TrainedFixture.get()
        let dir = Self.directory()
        let train = Binaries.path("dogdoor-train")
        let common = [
            "--data", fixture.directory + "/data", "--positive", "bo", "--weights", Binaries.weights, "--input-size",
            "64", "--epochs", "2", "--steps-per-epoch", "2", "--fine-tune-epochs", "3", "--no-int8",
        ]
        let run = try runProgram(
            train,
            common + [
                "--average-epochs", "2", "--fine-tune-average-epochs", "2", "--output", dir + "/averaged.safetensors",
            ])
        #expect(run.status == 0, "\(run.output)")
        #expect(
            run.output.contains(
                "Kept: phase 1: the head averaged over epochs 1-2; phase 2: the weights averaged over epochs 2-3."),
            "\(run.output)")
        _ = try DogDoorModel(path: dir + "/averaged.safetensors")
        let refused = try runProgram(
            train, common + ["--fine-tune-average-epochs=-1", "--output", dir + "/refused.safetensors"])
        #expect(
            refused.status != 0
                && refused.output.contains("--average-epochs and --fine-tune-average-epochs must be >= 0"),
            "\(refused.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/refused.safetensors"))
    }

    @Test func countsDecisionsAndKeepsUncertainFrames() throws {
        // Other animals score below a threshold of 0.5; with a band of 0.5 every one of their frames is
        // "uncertain", and one snapshot per interval is kept for labelling.
        let fixture = try TrainedFixture.get()
        let frames = try fixture.replayFolder("uncertain", others: 32, bo: 0, after: 0)
        let daemon = try RunningDaemon(
            directory: Self.directory(),
            settings: Self.replayOnce(
                frames, model: fixture.model, fps: 5,
                [
                    "decision.threshold": "0.5", "events.uncertain_band": "0.5",
                    "events.uncertain_interval": "1s",
                ]))
        let status = try daemon.waitForStatus { $0.frames?.evaluated ?? 0 >= 5 }
        let counters = try #require(status.counters, "the status carries counters")
        #expect(counters.inference.count == status.frames?.evaluated, "every evaluated frame is in the histogram")
        #expect(counters.inference.sumMilliseconds > 0 && counters.modelLoadSeconds > 0)
        #expect(counters.residentBytes > 10 << 20 && counters.unlocksByVote == 0)
        #expect(try daemon.waitForExit(timeout: 120) == 0)
        let uncertain = daemon.records("uncertain")
        #expect(!uncertain.isEmpty && daemon.records("unlock").isEmpty, "\(daemon.output)")
        for event in uncertain {
            let score = event["scores"]?.arrayValue?.first?.doubleValue ?? -1
            #expect(score >= 0 && score < 0.5, "uncertain score \(score)")
            let snapshot = try #require(event["snapshot"]?.stringValue)
            #expect(FileManager.default.fileExists(atPath: daemon.events + "/snapshots/" + snapshot))
        }
        // The latest evaluated frame, beside the control socket, for the web app's live view.
        let latest = try ImageDecoder.decode(file: daemon.directory + "/latest.jpg")
        #expect(latest.width > 0 && latest.height > 0)
        // At most one per second: 32 frames at 5 fps take 6.4 s.
        #expect(uncertain.count <= 7, "\(uncertain.count) uncertain snapshots")
    }

    @Test func snapshotsKeepTheCamerasResolution() throws {
        // 640x480 frames: the network decodes them DCT-scaled to 320x240 (the nearest size above 224); the
        // snapshot of the unlock must still be the frame as the camera delivered it.
        let fixture = try TrainedFixture.get()
        let frames = try fixture.replayFolder("large", others: 4, bo: 10, after: 4, scale: 2)
        let daemon = try RunningDaemon(
            directory: Self.directory(), settings: Self.replayOnce(frames, model: fixture.model, fps: 5))
        #expect(try daemon.waitForExit(timeout: 180) == 0)
        let snapshot = try #require(daemon.records("unlock").first?["snapshot"]?.stringValue, "\(daemon.output)")
        let image = try ImageDecoder.decode(file: daemon.events + "/snapshots/" + snapshot)
        #expect(image.width == 640 && image.height == 480, "snapshot \(image.width)x\(image.height)")
    }

    @Test func staysLockedForOtherAnimals() throws {
        let fixture = try TrainedFixture.get()
        let frames = try fixture.replayFolder("others", others: 40, bo: 0, after: 0)
        let daemon = try RunningDaemon(
            directory: Self.directory(),
            settings:
                Self.replayOnce(
                    frames, model: fixture.model, fps: 8, ["compute.plan": "fast", "compute.precision": "fp32"]))
        #expect(try daemon.waitForExit(timeout: 180) == 0)
        #expect(daemon.output.contains("plan=fast"), "the fast plan was not used:\n\(daemon.output)")
        #expect(daemon.output.contains("precision=fp32"), "the float form was not used:\n\(daemon.output)")
        #expect(daemon.records("unlock").isEmpty, "unlocked for another animal:\n\(daemon.output)")
        #expect(daemon.records("stop").last?["frames_evaluated"]?.intValue ?? 0 > 0)
    }

    @Test func manualUnlockExpiresAndSigtermLocks() throws {
        let fixture = try TrainedFixture.get()
        let frames = try fixture.replayFolder("manual", others: 12, bo: 0, after: 0)
        let daemon = try RunningDaemon(
            directory: Self.directory(),
            settings: [
                "model.path": fixture.model, "camera.replay_folder": frames, "camera.replay_fps": "4",
            ])
        try daemon.wait(for: "the control socket", timeout: 60) {
            FileManager.default.fileExists(atPath: daemon.socket)
        }
        let unlocked = try daemon.control(["unlock", "--for", "2s"])
        #expect(unlocked["latch"]?.stringValue == "unlocked")
        #expect(unlocked["mode"]?.stringValue == "unlocked")
        try daemon.wait(for: "the manual unlock to expire", timeout: 15) { !daemon.records("relock").isEmpty }
        let open = secondsBetween(daemon.records("unlock")[0], daemon.records("relock")[0])
        #expect(open >= 1.9 && open <= 4, "manual unlock lasted \(open) s")
        #expect(try daemon.control(["status"])["mode"]?.stringValue == "auto")

        // Unlocked for a minute, then SIGTERM: the door is locked on the way out.
        _ = try daemon.control(["unlock", "--for", "60s"])
        daemon.signal(SIGTERM)
        #expect(try daemon.waitForExit(timeout: 20) == 0)
        let last = daemon.eventRecords().last
        #expect(last?["kind"]?.stringValue == "stop")
        #expect(last?["door"]?.stringValue == "locked")
        #expect(daemon.output.contains("door locked (the latch owner holds it)"))
        let actuations = daemon.ownerOutput.split(separator: "\n").filter {
            $0.contains("latch unlocked") || $0.contains("latch locked")
        }
        #expect(
            actuations.last?.contains("latch locked") == true,
            "the owner's last actuation locked:\n\(daemon.ownerOutput)")
    }

    @Test func curfewKeepsTheDoorShut() throws {
        let fixture = try TrainedFixture.get()
        // A curfew from a minute ago to three minutes ahead, in local time.
        let calendar = Calendar.current
        let now = Date()
        func hhmm(_ date: Date) -> String {
            let c = calendar.dateComponents([.hour, .minute], from: date)
            return String(format: "%02d:%02d", c.hour!, c.minute!)
        }
        let window = "\(hhmm(now.addingTimeInterval(-60)))-\(hhmm(now.addingTimeInterval(180)))"
        let frames = try fixture.replayFolder("curfew", others: 4, bo: 10, after: 4)
        let daemon = try RunningDaemon(
            directory: Self.directory(),
            settings:
                Self.replayOnce(frames, model: fixture.model, fps: 5, ["curfew.windows": "[\"\(window)\"]"]))
        #expect(try daemon.waitForExit(timeout: 180) == 0)
        #expect(daemon.records("unlock").isEmpty)
        #expect(
            !daemon.records("rejected_curfew").isEmpty, "the dog's vote was refused and recorded:\n\(daemon.output)")
    }

    @Test func reloadKeepsTheRunningModelWhenTheNewOneIsBroken() throws {
        let fixture = try TrainedFixture.get()
        let dir = Self.directory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let model = dir + "/model.safetensors"
        try FileManager.default.copyItem(atPath: fixture.model, toPath: model)
        let frames = try fixture.replayFolder("reload", others: 8, bo: 0, after: 0)
        let daemon = try RunningDaemon(
            directory: dir + "/run",
            settings: [
                "model.path": model, "camera.replay_folder": frames, "camera.replay_fps": "4",
            ])
        try daemon.wait(for: "the control socket", timeout: 60) {
            FileManager.default.fileExists(atPath: daemon.socket)
        }
        let sha = try daemon.control(["status"])["model"]?["sha256"]?.stringValue
        // Corrupt the model file in place (one byte of a weight), then SIGHUP.
        var bytes = try readFile(model)
        bytes[bytes.count / 2] ^= 0xFF
        try AtomicFile.write(bytes, to: model)
        daemon.signal(SIGHUP)
        try daemon.wait(for: "the failed reload", timeout: 60) { !daemon.records("reload_failed").isEmpty }
        #expect(daemon.records("reload_failed")[0]["error"]?.stringValue?.contains("checksum mismatch") == true)
        let status = try daemon.control(["status"])
        #expect(status["model"]?["sha256"]?.stringValue == sha, "the old model keeps running")
        #expect(daemon.process.isRunning)
        // A good model again: the reload goes through.
        try AtomicFile.write(try readFile(fixture.model), to: model)
        daemon.signal(SIGHUP)
        try daemon.wait(for: "the reload", timeout: 60) { !daemon.records("reload").isEmpty }
        daemon.signal(SIGTERM)
        #expect(try daemon.waitForExit(timeout: 20) == 0)
    }

    @Test func corruptFramesAreSkippedAndCounted() throws {
        let fixture = try TrainedFixture.get()
        let dir = Self.directory()
        let frames = dir + "/frames"
        try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true)
        let good = fixture.otherFrames.prefix(6)
        for (i, file) in good.enumerated() {
            try FileManager.default.copyItem(atPath: file, toPath: frames + "/frame-\(i)a.jpg")
        }
        var truncated = try readFile(fixture.otherFrames[10])
        truncated.removeLast(truncated.count / 2)
        try AtomicFile.write(truncated, to: frames + "/frame-2b.jpg")
        try AtomicFile.write(Array("not an image".utf8), to: frames + "/frame-4b.jpg")
        let daemon = try RunningDaemon(
            directory: dir + "/run",
            settings: [
                "model.path": fixture.model, "camera.replay_folder": frames, "camera.replay_loop": "false",
                // Slow enough that the inference worker takes every frame even on a busy machine (it keeps only
                // the newest: a frame replaced before it is taken is dropped, not decoded).
                "camera.replay_fps": "2", "motion.enabled": "false",
            ])
        #expect(try daemon.waitForExit(timeout: 120) == 0)
        let stop = daemon.records("stop").last
        #expect(stop?["frames_corrupt"]?.intValue == 2, "\(daemon.output)")
        #expect(stop?["frames_evaluated"]?.intValue ?? 0 >= 3, "frames after the corrupt ones were still evaluated")
        #expect(daemon.output.contains("corrupt frame skipped"))
    }

    @Test func badConfigurationStopsWithTheKeyAndLine() throws {
        let dir = Self.directory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = dir + "/dogdoord.toml"
        try AtomicFile.write("[decision]\nn = 3\nhold = \"0s\"\n", to: config)
        let result = try runProgram(Binaries.path("dogdoord"), ["--config", config, "--check-config"], timeout: 60)
        #expect(result.status == 1)
        #expect(result.output.contains("dogdoord.toml:3: decision.hold"), "\(result.output)")
        let missing = try runProgram(
            Binaries.path("dogdoord"),
            [
                "--set", "model.path=/nonexistent/model.safetensors",
                "--set", "events.directory=\(dir)/events",
                "--set", "control.socket=\(dir)/s.sock",
            ], timeout: 60)
        #expect(missing.status == 1)
        #expect(missing.output.contains("/nonexistent/model.safetensors"), "\(missing.output)")
        #expect(!missing.output.contains("unlock"), "a failed start never asks for an unlock")
    }

    @Test func checkConfigReportsEveryProblemWithoutTakingTheDevices() throws {
        let dir = Self.directory()
        let config = dir + "/dogdoord.toml"
        try AtomicFile.write(
            """
            [decision]
            hold = "0s"
            [camera]
            kind = "v4l2"
            device = "\(dir)/video-missing"
            [events]
            directory = "\(dir)/dogdoord.toml/events"
            """, to: config)
        let result = try runProgram(
            Binaries.path("dogdoord"),
            [
                "--config", config, "--check-config",
                "--set", "model.path=\(dir)/missing.safetensors",
                "--set", "latch.socket=\(dir)/latch.sock",
            ], timeout: 60)
        #expect(result.status == 1)
        for expected in [
            "dogdoord.toml:2: decision.hold", "model: problem: \(dir)/missing.safetensors",
            "camera: problem: \(dir)/video-missing: No such file or directory",
            "events: problem: \(dir)/dogdoord.toml/events cannot be created: \(dir)/dogdoord.toml is not a directory",
            "latch: note: no latch owner listens",
            "dogdoord: 4 problems found",
        ] {
            #expect(result.output.contains(expected), "missing \"\(expected)\" in:\n\(result.output)")
        }
        #expect(!result.output.contains("is valid"))
    }

    @Test func systemdUnitsVerify() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
            throw HarnessError("systemd-analyze is not installed (Scripts/setup.sh installs systemd)")
        }
        // Verify against the binaries this test run built (the units name the installed paths).
        let dir = Self.directory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var texts: [String: String] = [:]
        for unit in ["dogdoor-latch.service", "dogdoord.service", "dogdoor-web.service"] {
            let text = try String(contentsOfFile: Binaries.repository + "/systemd/" + unit, encoding: .utf8)
            texts[unit] = text
            try AtomicFile.write(
                text.replacingOccurrences(of: "/usr/local/bin/dogdoord", with: Binaries.path("dogdoord"))
                    .replacingOccurrences(of: "/usr/local/bin/dogdoor-latch", with: Binaries.path("dogdoor-latch"))
                    .replacingOccurrences(of: "/usr/local/bin/dogdoor-web", with: Binaries.path("dogdoor-web")),
                to: dir + "/" + unit)
        }
        let result = try runProgram(
            "/usr/bin/systemd-analyze",
            ["verify", dir + "/dogdoor-latch.service", dir + "/dogdoord.service", dir + "/dogdoor-web.service"],
            timeout: 60)
        #expect(result.status == 0, "\(result.output)")
        let daemon = texts["dogdoord.service"]!, owner = texts["dogdoor-latch.service"]!
        for key in [
            "Type=notify", "WatchdogSec=", "Restart=always", "StartLimitIntervalSec=0", "User=dogdoor",
            "ProtectSystem=strict", "StateDirectory=dogdoor", "PrivateNetwork=yes", "NoNewPrivileges=yes",
            "Wants=dogdoor-latch.service", "SupplementaryGroups=video dogdoor-latch",
        ] {
            #expect(daemon.contains(key), "\(key) missing from dogdoord.service")
        }
        // dogdoord has no GPIO access; the owner has the chip and locks the line after every exit.
        #expect(!daemon.contains("gpiochip"))
        for key in [
            "Type=notify", "Restart=always", "StartLimitIntervalSec=0", "User=dogdoor-latch",
            "DeviceAllow=char-gpiochip rw",
            "ExecStopPost=/usr/local/bin/dogdoor-latch --config /etc/dogdoor/dogdoord.toml --lock-line",
            "Before=dogdoord.service", "DefaultDependencies=no", "OOMScoreAdjust=-900", "ProtectSystem=strict",
        ] {
            #expect(owner.contains(key), "\(key) missing from dogdoor-latch.service")
        }
        // The web app: its own user, in the daemon's group (events, control socket), no devices, no GPIO.
        let web = texts["dogdoor-web.service"]!
        for key in [
            "User=dogdoor-web", "SupplementaryGroups=dogdoor", "PrivateDevices=yes", "ProtectSystem=strict",
            "NoNewPrivileges=yes", "StateDirectory=dogdoor-web", "Restart=always",
        ] {
            #expect(web.contains(key), "\(key) missing from dogdoor-web.service")
        }
        #expect(!web.contains("gpio") && !web.contains("dogdoor-latch"))
    }

    @Test func installScriptStagesAWorkingInstallation() throws {
        let stage = Self.directory()
        let binDir = parentDirectory(of: Binaries.path("dogdoord"))
        guard binDir.hasSuffix("/release") else {
            throw HarnessError(
                "the install script installs release binaries; build them first (swift build -c release)")
        }
        let result = try runProgram(
            Binaries.repository + "/Scripts/install.sh", ["--destdir", stage, "--no-build"], timeout: 300)
        #expect(result.status == 0, "\(result.output)")
        let fm = FileManager.default
        for file in [
            "/usr/local/bin/dogdoord", "/usr/local/bin/dogdoor", "/usr/local/bin/dogdoor-train",
            "/usr/local/bin/dogdoor-latch", "/usr/local/bin/dogdoor-web", "/etc/systemd/system/dogdoord.service",
            "/etc/systemd/system/dogdoor-latch.service", "/etc/systemd/system/dogdoor-web.service",
            "/etc/dogdoor/dogdoord.toml", "/etc/dogdoor/web.toml", "/etc/dogdoor/web-users",
            "/etc/udev/rules.d/60-dogdoor-gpio.rules", "/usr/local/share/doc/dogdoor/README.md",
        ] {
            #expect(fm.fileExists(atPath: stage + file), "\(file) not installed")
        }
        // The udev rule names one chip (here, with no GPIO hardware, none), never every chip.
        let rule = try String(contentsOfFile: stage + "/etc/udev/rules.d/60-dogdoor-gpio.rules", encoding: .utf8)
        #expect(!rule.contains("gpiochip*") && rule.contains("GROUP=\"dogdoor-gpio\""), "\(rule)")
        let samples = try fm.contentsOfDirectory(atPath: stage + "/usr/local/share/dogdoor/samples")
        #expect(samples.filter { $0.hasSuffix(".jpg") }.count > 50, "replay samples installed")
        // The installed configuration parses and names the installed sample folder.
        let check = try runProgram(
            stage + "/usr/local/bin/dogdoord",
            [
                "--config", stage + "/etc/dogdoor/dogdoord.toml",
                "--set", "model.path=/nonexistent.safetensors",
                "--check-config",
            ], timeout: 60)
        #expect(check.output.contains("is valid"), "\(check.output)")
        // The installed web app reads its installed configuration, and `dogdoor web passwd` adds a user to the
        // installed (empty) users file.
        let passwd = try runProgram(
            stage + "/usr/local/bin/dogdoor",
            [
                "web", "passwd", "owner", "--password-stdin", "--config", stage + "/etc/dogdoor/web.toml",
                "--set", "web.users=" + stage + "/etc/dogdoor/web-users",
            ], input: "correct horse\n", timeout: 60)
        #expect(passwd.status == 0, "\(passwd.output)")
        #expect(try String(contentsOfFile: stage + "/etc/dogdoor/web-users", encoding: .utf8).contains("owner:$2"))
        // A second install keeps the user's configuration and puts the new example beside it.
        try AtomicFile.write("[decision]\nhold = \"20s\"\n", to: stage + "/etc/dogdoor/dogdoord.toml")
        let again = try runProgram(
            Binaries.repository + "/Scripts/install.sh", ["--destdir", stage, "--no-build"], timeout: 300)
        #expect(again.status == 0)
        #expect(try String(contentsOfFile: stage + "/etc/dogdoor/dogdoord.toml", encoding: .utf8).contains("20s"))
        #expect(fm.fileExists(atPath: stage + "/etc/dogdoor/dogdoord.toml.example"))
    }
}
