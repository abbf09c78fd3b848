import DecisionCore
import Support
import TestSupport
import Testing

@testable import DoorConfiguration

/// The repository root, found from this file's path (Tests/ConfigurationTests/ConfigurationTests.swift).
let repositoryRoot: String = {
    var path = #filePath
    for _ in 0..<3 { path = parentDirectory(of: path) }
    return path
}()

@Suite("Daemon configuration")
struct ConfigurationTests {
    @Test("no file at all gives the documented defaults")
    func defaults() throws {
        let c = DaemonConfiguration.defaults
        #expect(try DaemonConfiguration.parse("", file: "empty.toml") == c)
        #expect(c.model.path == "/etc/dogdoor/model.safetensors")
        #expect(c.camera.kind == .replay)
        #expect(c.latch.kind == .simulated)
        #expect(c.latch.line == .offset(17))
        #expect(c.decision.n == 3 && c.decision.m == 5)
        #expect(c.decision.window == .seconds(3) && c.decision.hold == .seconds(10))
        #expect(c.decision.threshold == nil)
        #expect(c.curfew.isEmpty)
        #expect(c.control.group == nil && c.compute.openblasCoretype == nil && c.compute.plan == .frugal)
        #expect(c.compute.precision == .auto)
        #expect(c.sources.isEmpty)
        let parameters = try c.decisionParameters(modelThreshold: 0.87)
        #expect(parameters == DecisionParameters(threshold: 0.87))
    }

    @Test("the shipped example sets every key, to its default")
    func exampleFile() throws {
        let path = repositoryRoot + "/etc/dogdoor/dogdoord.toml"
        let example = try DaemonConfiguration.load(path: path)
        #expect(example == DaemonConfiguration.defaults)
        #expect(Set(example.sources.keys) == Set(DaemonConfiguration.keys))
        for (_, source) in example.sources {
            guard case .file(let file, let line) = source else {
                Issue.record("unexpected source \(source)")
                continue
            }
            #expect(file == path && line > 0)
        }
    }

    @Test("docs/configuration.md documents every key")
    func documentation() throws {
        let text = try readText(repositoryRoot + "/docs/configuration.md")
        for key in DaemonConfiguration.keys {
            let name = String(key.split(separator: ".")[1])
            #expect(text.contains("`\(name)`"), "docs/configuration.md does not mention \(key)")
        }
        for section in DaemonConfiguration.sections {
            #expect(text.contains("[\(section)]"), "docs/configuration.md has no [\(section)] section")
        }
    }

    @Test("a full file sets every kind of value and records each key's line")
    func customFile() throws {
        let text = """
            [camera]
            kind = "v4l2"
            device = "/dev/video2"
            format = "yuyv"
            width = 320
            height = 240
            fps = 10
            replay_files = ["b.jpg", "/abs/a.png"]
            [latch]
            kind = "gpio"
            chip = "/dev/gpiochip1"
            line = "DOOR_LATCH"
            active_low = true
            min_gap = "1s"
            max_unlocked = "2m"
            [decision]
            n = 4
            m = 6
            window = "2500ms"
            hold = "20s"
            max_open = "90s"
            cooldown = "0s"
            threshold = 0.8
            near_miss = 1
            [curfew]
            windows = ["22:30-06:15", "12:00-13:00"]
            [events]
            snapshots = false
            max_snapshots = 10
            [control]
            group = "dogdoor"
            [compute]
            threads = 2
            plan = "fast"
            precision = "int8"
            openblas_coretype = "Haswell"
            """
        let c = try DaemonConfiguration.parse(text, file: "custom.toml")
        #expect(c.camera.kind == .v4l2 && c.camera.device == "/dev/video2" && c.camera.format == .yuyv)
        #expect(c.camera.width == 320 && c.camera.height == 240 && c.camera.fps == 10)
        #expect(c.camera.replayFiles == ["b.jpg", "/abs/a.png"])
        #expect(c.latch.kind == .gpio && c.latch.chip == "/dev/gpiochip1" && c.latch.line == .name("DOOR_LATCH"))
        #expect(c.latch.activeLow && c.latch.minGap == .seconds(1) && c.latch.maxUnlocked == .seconds(120))
        #expect(c.decision.n == 4 && c.decision.m == 6 && c.decision.window == .milliseconds(2_500))
        #expect(c.decision.hold == .seconds(20) && c.decision.maxOpen == .seconds(90) && c.decision.cooldown == .zero)
        #expect(c.decision.threshold == 0.8 && c.decision.nearMiss == 1)
        #expect(c.curfew.map(\.description) == ["22:30-06:15", "12:00-13:00"])
        #expect(!c.events.snapshots && c.events.maxSnapshots == 10)
        #expect(c.control.group == "dogdoor")
        #expect(c.compute.threads == 2 && c.compute.plan == .fast && c.compute.openblasCoretype == "Haswell")
        #expect(c.compute.precision == .int8)
        #expect(c.sources["decision.hold"] == .file(path: "custom.toml", line: 20))
        #expect(c.sources["model.path"] == nil)
        let parameters = try c.decisionParameters(modelThreshold: 0.5)
        #expect(parameters.threshold == 0.8)
        #expect(parameters.maxManualUnlock == .seconds(120))
        #expect(parameters.nearMissPositives == 1)
    }

    @Test(
        "invalid files are rejected naming file, line and key",
        arguments: [
            ("[decision]\nhold = \"0s\"", "c.toml:2: decision.hold: must be between 1s and 5m, got 0s"),
            (
                "[decision]\n\nhold = 5",
                "c.toml:3: decision.hold: must be a duration string such as \"3s\", \"250ms\" or \"2m\", got integer 5"
            ),
            (
                "[decision]\nhold = \"5 s\"",
                "c.toml:2: decision.hold: \"5 s\" is not a duration (use a number and a unit: ms, s, m or h, e.g. \"3s\")"
            ),
            ("[decision]\nn = 1", "c.toml:2: decision.n: must be between 2 and 20, got 1"),
            (
                "[decision]\nn = 6",
                "c.toml:2: decision.m: must be between n (6) and 50, got 5 (the default; set decision.m as well)"
            ),
            ("[decision]\nm = 2\nn = 3", "c.toml:2: decision.m: must be between n (3) and 50, got 2"),
            (
                "[decision]\nhold = \"2m\"",
                "c.toml:2: decision.max_open: must be between 2m and 30m, got 1m (the default; set decision.max_open as well)"
            ),
            (
                "[decision]\nthreshold = 1.5",
                "c.toml:2: decision.threshold: must be greater than 0 and less than 1, got 1.5"
            ),
            (
                "[decision]\nthreshold = \"high\"",
                "c.toml:2: decision.threshold: must be a number between 0 and 1 (exclusive) or \"model\", got string \"high\""
            ),
            ("[decision]\nnear_miss = 3", "c.toml:2: decision.near_miss: must be between 1 and n - 1 (2), got 3"),
            (
                "[decision]\nmax_open = \"20m\"\n[latch]\nmax_unlocked = \"10m\"",
                "c.toml:2: decision.max_open: must not exceed latch.max_unlocked (10m), got 20m"
            ),
            (
                "[decision]\nspeed = 1",
                "c.toml:2: decision.speed: unknown key (known keys: n, m, window, hold, max_open, cooldown, threshold, near_miss)"
            ),
            (
                "[door]\nx = 1",
                "c.toml:1: unknown section [door] (known: [model], [camera], [latch], [decision], [curfew], [events], [control], [motion], [compute])"
            ),
            ("x = 1", "c.toml:1: x: keys must be inside a section such as [decision]"),
            (
                "[model]\npath = \"model.safetensors\"",
                "c.toml:2: model.path: must be an absolute path, got \"model.safetensors\""
            ),
            ("[camera]\nkind = \"usb\"", "c.toml:2: camera.kind: must be one of \"replay\", \"v4l2\", got \"usb\""),
            ("[camera]\nwidth = 641", "c.toml:2: camera.width: must be even, got 641"),
            ("[camera]\nfps = 0.5", "c.toml:2: camera.fps: must be between 1 and 120, got 0.5"),
            (
                "[camera]\nreplay_loop = \"yes\"",
                "c.toml:2: camera.replay_loop: must be true or false, got string \"yes\""
            ),
            (
                "[camera]\nreplay_files = [1]",
                "c.toml:2: camera.replay_files: must be an array of strings, got an element of type integer: 1"
            ),
            ("[latch]\nline = 70000", "c.toml:2: latch.line: must be between 0 and 65535, got 70000"),
            (
                "[latch]\nline = true",
                "c.toml:2: latch.line: must be a line offset (integer) or a line name (string), got boolean true"
            ),
            ("[latch]\nchip = \"\"", "c.toml:2: latch.chip: must not be empty"),
            (
                "[latch]\nmax_unlocked = \"30s\"",
                "c.toml:2: decision.max_open: must not exceed latch.max_unlocked (30s), got 1m (the default; set decision.max_open as well)"
            ),
            (
                "[curfew]\nwindows = [\"22:00-22:00\"]",
                "c.toml:2: curfew.windows: invalid curfew window \"22:00-22:00\": start and end are the same time"
            ),
            (
                "[curfew]\nwindows = \"22:00-06:00\"",
                "c.toml:2: curfew.windows: must be an array of strings, got string \"22:00-06:00\""
            ),
            ("[events]\nmax_snapshots = 0", "c.toml:2: events.max_snapshots: must be between 1 and 100000, got 0"),
            (
                "[control]\nsocket = \"/\(String(repeating: "s", count: 120))\"",
                "c.toml:2: control.socket: must be shorter than 108 bytes (a Unix socket path limit)"
            ),
            (
                "[control]\ngroup = \"dog door\"",
                "c.toml:2: control.group: must be a group name (letters, digits, '_', '-', '.'), got \"dog door\""
            ),
            ("[compute]\nthreads = -1", "c.toml:2: compute.threads: must be between 0 and 256, got -1"),
            (
                "[compute]\nplan = \"turbo\"",
                "c.toml:2: compute.plan: must be one of \"frugal\", \"fast\", got \"turbo\""
            ),
            (
                "[compute]\nprecision = \"int4\"",
                "c.toml:2: compute.precision: must be one of \"fp32\", \"int8\", \"auto\", got \"int4\""
            ),
            (
                "[compute]\nopenblas_coretype = \"Has well\"",
                "c.toml:2: compute.openblas_coretype: must be an OpenBLAS core name such as \"Haswell\" (letters and digits), got \"Has well\""
            ),
            ("[decision]\nn = 3\nn = 4", "c.toml:3: duplicate key \"n\" in [decision] (first defined on line 2)"),
        ])
    func rejects(text: String, message: String) {
        let expected = message
        do {
            _ = try DaemonConfiguration.parse(text, file: "c.toml")
            Issue.record("accepted invalid configuration: \(text)")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test("a missing or unreadable file is reported with its path")
    func missingFile() {
        #expect(
            throws: ConfigurationError(
                location: "/nonexistent/dogdoord.toml", key: nil,
                message: "cannot read: No such file or directory")
        ) {
            _ = try DaemonConfiguration.load(path: "/nonexistent/dogdoord.toml")
        }
    }

    @Test(
        "command-line overrides take TOML values or plain strings",
        arguments: [
            ("decision.hold", "5s", "hold"), ("decision.threshold", "0.85", "threshold"),
            ("camera.kind", "v4l2", "kind"),
            ("camera.kind", "\"v4l2\"", "kind"), ("latch.line", "DOOR", "line"), ("latch.line", "4", "line"),
            ("curfew.windows", "22:00-06:00, 12:00-13:00", "windows"),
            ("curfew.windows", "[\"22:00-06:00\"]", "windows"),
            ("curfew.windows", "", "windows"), ("events.snapshots", "false", "snapshots"),
            ("decision.threshold", "model", "threshold"),
        ])
    func overrides(key: String, value: String, field: String) throws {
        var c = DaemonConfiguration.defaults
        try c.apply(override: key, value: value)
        #expect(c.sources[key] == .commandLine)
        switch key {
        case "decision.hold": #expect(c.decision.hold == .seconds(5))
        case "decision.threshold": #expect(c.decision.threshold == (value == "model" ? nil : 0.85))
        case "camera.kind": #expect(c.camera.kind == .v4l2)
        case "latch.line": #expect(c.latch.line == (value == "4" ? .offset(4) : .name("DOOR")))
        case "curfew.windows":
            let expected =
                value.isEmpty ? [] : value.contains("12:00") ? ["22:00-06:00", "12:00-13:00"] : ["22:00-06:00"]
            #expect(c.curfew.map(\.description) == expected)
        case "events.snapshots": #expect(c.events.snapshots == false)
        default: Issue.record("unhandled \(key) (\(field))")
        }
    }

    @Test("a rejected override leaves the configuration unchanged")
    func rejectedOverride() throws {
        var c = try DaemonConfiguration.parse("[decision]\nhold = \"20s\"", file: "f.toml")
        let before = c
        #expect(
            throws: ConfigurationError(
                location: "command line", key: "decision.hold",
                message: "must be between 1s and 5m, got 10m")
        ) {
            try c.apply(override: "decision.hold", value: "10m")
        }
        #expect(
            throws: ConfigurationError(
                location: "command line", key: "decision.max_open",
                message: "must be between 20s and 30m, got 10s")
        ) {
            try c.apply(override: "decision.max_open", value: "10s")
        }
        #expect(
            throws: ConfigurationError(
                location: "command line", key: "camera.colour",
                message:
                    "unknown key (known keys: kind, replay_folder, replay_files, replay_fps, replay_loop, device, format, width, height, fps)"
            )
        ) {
            try c.apply(override: "camera.colour", value: "red")
        }
        #expect(c == before)
        #expect(c.sources == before.sources)
    }

    @Test("a check reports every problem, in file order, and keeps the defaults of the keys it refused")
    func checkCollectsEveryProblem() throws {
        let directory = TemporaryDirectory("config-check")
        let path = directory.file("dogdoord.toml")
        try AtomicFile.write(
            """
            [decision]
            hold = "0s"
            n = 4
            [cam]
            kind = "v4l2"
            [camera]
            format = "h264"
            width = 640
            """, to: path)
        var problems: [ConfigurationError] = []
        let c = DaemonConfiguration.check(
            path: path, overrides: [("latch.min_gap", "forever"), ("decision.m", "6")],
            problems: &problems)
        #expect(problems.map(\.location) == ["\(path):2", "\(path):4", "\(path):7", "command line"])
        #expect(problems.map(\.key) == ["decision.hold", nil, "camera.format", "latch.min_gap"])
        // What was right is set; what was refused keeps its default.
        #expect(c.decision.n == 4 && c.decision.m == 6 && c.camera.width == 640)
        #expect(c.decision.hold == DaemonConfiguration.defaults.decision.hold && c.camera.format == .mjpeg)
        // Loading the same file stops at its first problem.
        #expect(throws: problems[0]) { _ = try DaemonConfiguration.load(path: path) }
    }

    @Test("relations between keys are checked once the keys themselves are right")
    func checkReportsRelationsWhenKeysAreRight() {
        var problems: [ConfigurationError] = []
        _ = DaemonConfiguration.check(
            path: nil, overrides: [("decision.n", "5"), ("decision.m", "3")], problems: &problems)
        #expect(problems.count == 1 && problems.first?.key == "decision.m", "\(problems)")
    }

    @Test("the model's threshold is validated when it is used")
    func modelThreshold() throws {
        #expect(
            throws: ConfigurationError(
                location: "model", key: "threshold",
                message: "must be greater than 0 and less than 1, got 1.0")
        ) {
            _ = try DaemonConfiguration.defaults.decisionParameters(modelThreshold: 1.0)
        }
        var c = DaemonConfiguration.defaults
        try c.apply(override: "decision.threshold", value: "0.7")
        #expect(try c.decisionParameters(modelThreshold: 1.0).threshold == 0.7)
    }
}
