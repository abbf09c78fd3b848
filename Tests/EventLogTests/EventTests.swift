import DecisionCore
import Support
import TestSupport
import Testing

@testable import EventLog

@Suite("Event log and snapshots")
struct EventTests {
    static let wall = WallTime(unixNanoseconds: 1_768_515_303_120_000_000, utcOffsetSeconds: 3_600)

    @Test("a decision becomes one JSON line with every field")
    func recordJSON() throws {
        var policy = try DecisionPolicy(parameters: .test(), start: testClockStart)
        var output = DecisionOutput()
        for (i, p) in [0.95, 0.912345678, 0.99].enumerated() {
            output = policy.handle(.frame(stamp(i * 200), probability: p, frameID: UInt64(40 + i)))
        }
        let decision = try #require(output.records.first)
        let record = EventRecord(decision: decision, modelSHA256: "ab12", snapshot: "x.jpg")
        #expect(
            record.line
                == #"{"time":"2026-01-15T12:00:00.400+01:00","kind":"unlock","mode":"auto","door":"unlocked","scores":[0.95,0.9123,0.99],"rule":"3 of last 5 >= 0.90 within 3.0 s","model_sha256":"ab12","frame":42,"snapshot":"x.jpg","first_seen_s":0.4}"#
        )
        let parsed = try JSONValue.parse(record.line)
        #expect(parsed["kind"] == "unlock")
        let minimal = EventRecord(
            time: Self.wall, kind: "daemon_start", details: ["version": "1.0", "kind": "ignored"])
        #expect(
            minimal.line
                == #"{"time":"2026-01-15T23:15:03.120+01:00","kind":"daemon_start","scores":[],"version":"1.0"}"#)
    }

    @Test("appends lines, creating the directory and file with restrictive modes")
    func append() throws {
        let root = makeTemporaryDirectory("events")
        defer { removeTree(root) }
        let directory = root + "/state/events"
        let log = try EventLog(directory: directory)
        try log.append(EventRecord(time: Self.wall, kind: "a"))
        try log.append(EventRecord(time: Self.wall, kind: "b"))
        #expect(fileMode(directory) == 0o750)
        #expect(fileMode(log.path) & 0o777 == 0o640)
        let lines = try readText(log.path).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(try JSONValue.parse(String(lines[1]))["kind"] == "b")
        #expect(log.size == (try readFile(log.path)).count)
        log.close()
        #expect(throws: SystemError.self) { try log.append(line: "{}") }
    }

    @Test("reopening appends after existing lines and repairs a line torn by a crash")
    func tornLine() throws {
        let directory = makeTemporaryDirectory("torn")
        defer { removeTree(directory) }
        try AtomicFile.write("{\"kind\":\"a\"}\n{\"kind\":\"tor", to: directory + "/events.jsonl")
        let log = try EventLog(directory: directory)
        try log.append(line: "{\"kind\":\"c\"}")
        #expect(try readText(log.path) == "{\"kind\":\"a\"}\n{\"kind\":\"tor\n{\"kind\":\"c\"}\n")
        let again = try EventLog(directory: directory)
        try again.append(line: "{\"kind\":\"d\"}")
        #expect(try readText(log.path).hasSuffix("{\"kind\":\"c\"}\n{\"kind\":\"d\"}\n"))
    }

    @Test("rotates by size, keeping the configured number of old files", arguments: [1, 3])
    func rotation(keep: Int) throws {
        let directory = makeTemporaryDirectory("rotate")
        defer { removeTree(directory) }
        let line = String(repeating: "x", count: 99)  // 100 bytes with the newline
        let log = try EventLog(directory: directory, maxBytes: 250, keepFiles: keep)
        for i in 0..<10 { try log.append(line: "\(i)" + line.dropFirst()) }
        // Two lines per file: 0-1, 2-3, 4-5, 6-7, 8-9 (current).
        let names = listDirectory(directory)
        #expect(names == ["events.jsonl"] + (1...keep).map { "events.jsonl.\($0)" })
        #expect(try readText(directory + "/events.jsonl").hasPrefix("8"))
        #expect(try readText(directory + "/events.jsonl.1").hasPrefix("6"))
        if keep == 3 { #expect(try readText(directory + "/events.jsonl.3").hasPrefix("2")) }
        #expect(log.size == 200)
    }

    @Test("snapshots are named by time and kind, written atomically, and pruned oldest first by count")
    func snapshotCount() throws {
        let directory = makeTemporaryDirectory("snaps")
        defer { removeTree(directory) }
        let store = try SnapshotStore(directory: directory + "/snapshots", maxCount: 3, maxBytes: 1 << 20)
        var names: [String] = []
        for i in 0..<5 {
            let time = WallTime(
                unixNanoseconds: Self.wall.unixNanoseconds + Int64(i) * 1_000_000_000, utcOffsetSeconds: 3_600)
            names.append(
                try store.save(jpeg: [0xFF, 0xD8, UInt8(i)], time: time, kind: i == 4 ? "near miss!" : "unlock"))
        }
        #expect(names[0] == "20260115T221503.120Z-unlock.jpg")
        #expect(names[4] == "20260115T221507.120Z-near_miss_.jpg")
        #expect(store.files == Array(names[2...]))
        #expect(listDirectory(directory + "/snapshots") == Array(names[2...]))
        #expect(store.totalBytes == 9)
        #expect(try readFile(directory + "/snapshots/" + names[3]) == [0xFF, 0xD8, 3])
        #expect(fileMode(directory + "/snapshots/" + names[3]) & 0o777 == 0o640)
    }

    @Test("snapshots are pruned by total size; same-millisecond names get a suffix; oversized ones are refused")
    func snapshotBytes() throws {
        let directory = makeTemporaryDirectory("bytes")
        defer { removeTree(directory) }
        let store = try SnapshotStore(directory: directory, maxCount: 100, maxBytes: 1_000)
        let a = try store.save(jpeg: [UInt8](repeating: 1, count: 400), time: Self.wall, kind: "unlock")
        let b = try store.save(jpeg: [UInt8](repeating: 2, count: 400), time: Self.wall, kind: "unlock")
        #expect(b == "20260115T221503.120Z-unlock-2.jpg")
        let later = WallTime(unixNanoseconds: Self.wall.unixNanoseconds + 1_000_000, utcOffsetSeconds: 0)
        let c = try store.save(jpeg: [UInt8](repeating: 3, count: 400), time: later, kind: "relock")
        #expect(store.files == [b, c])
        #expect(!fileExists(directory + "/" + a))
        #expect(store.totalBytes == 800)
        #expect(throws: SystemError.self) {
            try store.save(jpeg: [UInt8](repeating: 0, count: 1_001), time: later, kind: "x")
        }
    }

    @Test("an existing store is rescanned: its snapshots count, crash leftovers go, other files stay")
    func rescan() throws {
        let directory = makeTemporaryDirectory("rescan")
        defer { removeTree(directory) }
        try AtomicFile.write([UInt8](repeating: 0, count: 10), to: directory + "/20260101T000000.000Z-unlock.jpg")
        try AtomicFile.write([UInt8](repeating: 0, count: 10), to: directory + "/20250101T000000.000Z-relock.jpg")
        try AtomicFile.write("keep me", to: directory + "/README")
        try AtomicFile.write("partial", to: directory + "/.20260101T000000.000Z-x.jpg.tmp-abc123")
        let store = try SnapshotStore(directory: directory, maxCount: 1, maxBytes: 1 << 20)
        #expect(store.files == ["20260101T000000.000Z-unlock.jpg"])
        #expect(listDirectory(directory) == ["20260101T000000.000Z-unlock.jpg", "README"])
    }
}

@Suite("systemd notifications")
struct SystemdNotifierTests {
    /// A datagram socket bound to `address` (a path, or "@name" for the abstract namespace).
    final class Listener {
        let fd: Int32
        init(address: String) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var sockaddr = try UnixSocketAddress(notifySocket: address)
            let result = sockaddr.withSockaddr { bind(fd, $0, $1) }
            guard result == 0 else { throw SystemError("bind", path: address) }
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        deinit { close(fd) }
        func receive() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4_096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
        }
    }

    @Test("messages reach a socket named by path")
    func pathSocket() throws {
        let directory = makeTemporaryDirectory("notify")
        defer { removeTree(directory) }
        let path = directory + "/notify.sock"
        let listener = try Listener(address: path)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000000"])
        #expect(notifier.isEnabled)
        #expect(notifier.watchdogInterval == .seconds(20))
        try notifier.ready(status: "watching\nthe door")
        #expect(listener.receive() == "READY=1\nSTATUS=watching the door")
        try notifier.status("4.8 frames/s")
        #expect(listener.receive() == "STATUS=4.8 frames/s")
        try notifier.watchdog()
        #expect(listener.receive() == "WATCHDOG=1")
        try notifier.reloading()
        let reload = listener.receive() ?? ""
        #expect(reload.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        #expect(Int(reload.split(separator: "=").last ?? "") != nil)
        try notifier.stopping()
        #expect(listener.receive() == "STOPPING=1")
    }

    @Test("messages reach an abstract-namespace socket ('@' prefix)")
    func abstractSocket() throws {
        var random = SeededRandom(seed: UInt64(getpid()))
        let name = "@dogdoor-test-\(getpid())-\(random.next())"
        let listener = try Listener(address: name)
        try SystemdNotifier(environment: ["NOTIFY_SOCKET": name]).ready()
        #expect(listener.receive() == "READY=1")
    }

    @Test("without NOTIFY_SOCKET nothing is sent and nothing fails")
    func disabled() throws {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        #expect(notifier.watchdogInterval == nil)
        try notifier.ready()
        try notifier.watchdog()
        try notifier.stopping()
    }

    @Test(
        "the watchdog interval respects WATCHDOG_PID and rejects nonsense",
        arguments: [
            (["WATCHDOG_USEC": "500000"], Duration.milliseconds(500) as Duration?),
            (["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "4242"], Duration.milliseconds(500)),
            (["WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"], nil),
            (["WATCHDOG_USEC": "0"], nil), (["WATCHDOG_USEC": "soon"], nil), (["WATCHDOG_USEC": "-5"], nil),
        ])
    func watchdogInterval(environment: [String: String], expected: Duration?) {
        #expect(SystemdNotifier(environment: environment, processID: 4242).watchdogInterval == expected)
    }

    @Test("a missing listener or an unsupported address is an error naming the socket")
    func errors() {
        #expect(throws: SystemError("send notification", path: "/nonexistent/notify", code: ENOENT)) {
            try SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"]).ready()
        }
        #expect(
            throws: SystemError("notify (unsupported NOTIFY_SOCKET address)", path: "vsock:2:1234", code: EAFNOSUPPORT)
        ) {
            try SystemdNotifier(environment: ["NOTIFY_SOCKET": "vsock:2:1234"]).ready()
        }
    }
}
