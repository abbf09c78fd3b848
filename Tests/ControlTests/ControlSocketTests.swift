import Camera
import DecisionCore
import Foundation
import LatchLink
import Support
import Synchronization
import TestSupport
import Testing

@testable import Control

@Suite("Control protocol")
struct ControlProtocolTests {
    @Test(
        "requests parse strictly",
        arguments: [
            (#"{"command":"status"}"#, ControlCommand.status as ControlCommand?, nil as String?),
            (#"{"command":"lock"}"#, .lock, nil), (#" {"command":"auto"} "#, .auto, nil),
            (#"{"command":"unlock","seconds":300}"#, .unlock(seconds: 300), nil),
            (#"{"command":"unlock"}"#, nil, "unlock needs \"seconds\": a whole number of seconds"),
            (#"{"command":"unlock","seconds":1.5}"#, nil, "unlock needs \"seconds\": a whole number of seconds"),
            (#"{"command":"unlock","seconds":0}"#, nil, "unlock \"seconds\" must be between 1 and 86400, got 0"),
            (#"{"command":"lock","seconds":5}"#, nil, "unexpected field \"seconds\" for command \"lock\""),
            (#"{"command":"open"}"#, nil, "unknown command \"open\" (expected status, lock, auto or unlock)"),
            (#"["status"]"#, nil, "request must be a JSON object"),
            (#"{"cmd":"status"}"#, nil, "request needs a \"command\" string (status, lock, auto or unlock)"),
            ("status", nil, "request is not valid JSON: invalid JSON at byte 0: unexpected character 's'"),
            (#"{"command":"lock","by":""}"#, nil, Self.originError),
            (#"{"command":"lock","by":"web:\u0007"}"#, nil, Self.originError),
            (#"{"command":"lock","by":7}"#, nil, Self.originError),
        ])
    func parse(line: String, command: ControlCommand?, error: String?) throws {
        if let command {
            #expect(try ControlCommand(parsing: line) == command)
            #expect(try ControlCommand(parsing: JSONValue.object(command.json).serialized()) == command)
        }
        if let error {
            #expect(throws: ControlProtocolError(error)) { try ControlCommand(parsing: line) }
        }
    }

    static let originError = "\"by\" must be 1 to 64 printable ASCII characters (who the command is for)"

    @Test("a request may say whom it is for; the message keeps it and writes it back")
    func origin() throws {
        let message = try ControlMessage(parsing: #"{"command":"unlock","seconds":60,"by":"web:owner"}"#)
        #expect(message == ControlMessage(command: .unlock(seconds: 60), origin: "web:owner"))
        #expect(try ControlMessage(parsing: JSONValue.object(message.json).serialized()) == message)
        #expect(try ControlMessage(parsing: #"{"command":"status"}"#).origin == nil)
        let longest = String(repeating: "a", count: ControlMessage.maximumOriginBytes)
        #expect(try ControlMessage(parsing: #"{"command":"lock","by":"\#(longest)"}"#).origin == longest)
        #expect(throws: ControlProtocolError(Self.originError)) {
            try ControlMessage(parsing: #"{"command":"lock","by":"\#(longest)a"}"#)
        }
    }

    static let status = DaemonStatus(
        mode: .unlocked, unlockRemainingSeconds: 42.5, latch: .unlocked, camera: .streaming, framesPerSecond: 4.8,
        inferenceMilliseconds: 181.25, curfew: "22:00-06:00",
        lastDecision: .init(
            time: "2026-01-15T22:15:03.120+01:00", kind: "unlock", rule: "3 of last 5 >= 0.90 within 3.0 s",
            scores: [0.95, 0.97, 0.91]),
        model: .init(path: "/var/lib/dogdoor/model.safetensors", sha256: "ab12", threshold: 0.9))

    @Test("responses round-trip through their JSON line")
    func responses() throws {
        let ok = ControlResponse.success(Self.status)
        #expect(
            ok.line.hasPrefix(
                #"{"ok":true,"mode":"unlocked","unlock_remaining_s":42.5,"latch":"unlocked","camera":"streaming","fps":4.8,"inference_ms":181.25,"curfew":"22:00-06:00","last_decision":{"#
            ))
        #expect(try ControlResponse(parsing: ok.line) == ok)
        let minimal = ControlResponse.success(
            DaemonStatus(
                mode: .auto, latch: .locked, camera: .finished,
                framesPerSecond: 0, inferenceMilliseconds: 0))
        #expect(
            minimal.line == #"{"ok":true,"mode":"auto","latch":"locked","camera":"finished","fps":0,"inference_ms":0}"#)
        #expect(try ControlResponse(parsing: minimal.line) == minimal)
        // The vocabulary is the daemon's own enums: a value outside them is refused, naming the field.
        #expect(
            throws: ControlProtocolError(
                "status field \"camera\": is \"running\", not one of starting, streaming, stalled, reconnecting, refused, finished, failed"
            )
        ) {
            try ControlResponse(
                parsing: #"{"ok":true,"mode":"auto","latch":"locked","camera":"running","fps":0,"inference_ms":0}"#)
        }
        let failure = ControlResponse.failure("no")
        #expect(failure.line == #"{"ok":false,"error":"no"}"#)
        #expect(try ControlResponse(parsing: failure.line) == failure)
        #expect(throws: ControlProtocolError("status field \"latch\": missing")) {
            _ = try ControlResponse(parsing: #"{"ok":true,"mode":"auto"}"#)
        }
    }
}

@Suite("Control socket over a real Unix socket")
struct ControlSocketTests {
    /// A handler that applies commands to a decision policy, as the daemon does, and records requests.
    final class FakeDaemon: Sendable {
        let requests = Mutex<[ControlRequest]>([])
        let policy: Mutex<DecisionPolicy>
        let clock = ManualClock(start: testClockStart)

        init() throws {
            policy = Mutex(try DecisionPolicy(parameters: .test(), start: testClockStart))
        }

        /// The handler as the server wants it: answered at once.
        var handler: ControlServer.Handler {
            { [self] request, respond in
                respond(handle(request))
                return nil
            }
        }

        func handle(_ request: ControlRequest) -> ControlResponse {
            requests.withLock { $0.append(request) }
            let now = clock.now()
            return policy.withLock { policy in
                switch request.command {
                case .status: break
                case .lock: _ = policy.handle(.command(now, .lock))
                case .auto: _ = policy.handle(.command(now, .auto))
                case .unlock(let seconds):
                    _ = policy.handle(.command(now, .unlock(until: now.monotonic + .seconds(seconds))))
                }
                var remaining: Double?
                if case .unlocked(let until, _) = policy.mode { remaining = secondsValue(until - now.monotonic) }
                return .success(
                    DaemonStatus(
                        mode: policy.mode.kind, unlockRemainingSeconds: remaining,
                        latch: LatchStatus(policy.door), camera: .streaming, framesPerSecond: 5,
                        inferenceMilliseconds: 120,
                        lastDecision: policy.lastRecord.map(DaemonStatus.Decision.init)))
            }
        }
    }

    @Test("commands and status travel over the socket; the socket and its directory get their modes")
    func roundTrip() throws {
        let root = makeTemporaryDirectory("control")
        defer { removeTree(root) }
        let path = root + "/run/dogdoor/control.sock"
        let daemon = try FakeDaemon()
        let server = try ControlServer(path: path, handler: daemon.handler)
        try server.start()
        defer { server.stop() }
        #expect(fileMode(path) & 0o777 == 0o660)
        #expect(fileMode(root + "/run/dogdoor") == 0o750)

        let status = try ControlClient.send(.status, to: path)
        #expect(status.ok && status.status?.mode == .auto && status.status?.latch == .locked)
        let unlocked = try ControlClient.send(.unlock(seconds: 120), to: path)
        #expect(unlocked.status?.mode == .unlocked)
        #expect(unlocked.status?.latch == .unlocked)
        #expect(unlocked.status?.unlockRemainingSeconds == 120)
        #expect(unlocked.status?.lastDecision?.kind == "mode_change")
        let locked = try ControlClient.send(.lock, to: path)
        #expect(locked.status?.mode == .locked && locked.status?.latch == .locked)
        let auto = try ControlClient.send(.auto, to: path)
        #expect(auto.status?.mode == .auto)

        let requests = daemon.requests.withLock { $0 }
        #expect(requests.map(\.command) == [.status, .unlock(seconds: 120), .lock, .auto])
        #expect(requests.first?.peer?.pid == getpid())
        #expect(requests.first?.peer?.uid == getuid())
    }

    @Test("the status socket answers status and refuses every command")
    func statusOnlySocket() throws {
        let directory = makeTemporaryDirectory("status-only")
        defer { removeTree(directory) }
        let daemon = try FakeDaemon()
        let server = try ControlServer(
            path: directory + "/c.sock", statusPath: directory + "/s.sock", handler: daemon.handler)
        try server.start()
        defer { server.stop() }
        #expect(try ControlClient.send(.status, to: directory + "/s.sock").ok)
        for command in [ControlCommand.lock, .auto, .unlock(seconds: 60)] {
            let reply = try ControlClient.send(command, to: directory + "/s.sock")
            #expect(!reply.ok && reply.error?.contains("status only") == true, "\(command)")
        }
        #expect(daemon.requests.withLock { $0.map(\.command) } == [.status])
        #expect(try ControlClient.send(.lock, to: directory + "/c.sock").ok)
    }

    @Test("a command answered later reaches its client; one not taken in time is abandoned and refused")
    func asynchronousAnswers() throws {
        let directory = makeTemporaryDirectory("async")
        defer { removeTree(directory) }
        let taken = Locked<[String]>([])
        // Unlock is answered 0.3 s later from another thread; lock is never taken (the loop is "busy").
        let server = try ControlServer(path: directory + "/c.sock") { request, respond in
            switch request.command {
            case .unlock:
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
                    taken.withLock { $0.append("unlock") }
                    respond(.failure("not now"))
                }
                return { false }
            default:
                return {
                    taken.withLock { $0.append("abandoned") }; return true
                }
            }
        }
        try server.start()
        defer { server.stop() }
        let reply = try ControlClient.send(.unlock(seconds: 5), to: directory + "/c.sock")
        #expect(reply.error == "not now")
        let started = Date()
        let busy = try ControlClient.send(.lock, to: directory + "/c.sock", timeout: .seconds(15))
        #expect(!busy.ok && busy.error?.contains("not carried out") == true)
        #expect(Date().timeIntervalSince(started) >= 9.5)
        #expect(taken.value == ["unlock", "abandoned"])
    }

    @Test("malformed requests get an error response and the connection stays usable")
    func errorsAndPipelining() throws {
        let directory = makeTemporaryDirectory("pipeline")
        defer { removeTree(directory) }
        let path = directory + "/c.sock"
        let daemon = try FakeDaemon()
        let server = try ControlServer(path: path, handler: daemon.handler)
        try server.start()
        defer { server.stop() }

        let raw = try ControlClient.exchange(#"{"command":"fly"}"#, socket: path)
        #expect(
            try ControlResponse(parsing: raw)
                == .failure("unknown command \"fly\" (expected status, lock, auto or unlock)"))

        // Several requests on one connection, the last without a newline, answered in order.
        let fd = try connect(path)
        defer { close(fd) }
        sendAll(fd, "{\"command\":\"lock\"}\r\n\nnot json\n{\"command\":\"status\"}")
        shutdown(fd, Int32(SHUT_WR))
        let lines = readAll(fd).split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(try ControlResponse(parsing: lines[0]).status?.mode == .locked)
        #expect(try ControlResponse(parsing: lines[1]).error?.hasPrefix("request is not valid JSON") == true)
        #expect(try ControlResponse(parsing: lines[2]).ok)
    }

    @Test("an oversized request is refused and the connection closed")
    func oversized() throws {
        let directory = makeTemporaryDirectory("big")
        defer { removeTree(directory) }
        let path = directory + "/c.sock"
        let daemon = try FakeDaemon()
        let server = try ControlServer(path: path, handler: daemon.handler)
        try server.start()
        defer { server.stop() }
        let fd = try connect(path)
        defer { close(fd) }
        sendAll(fd, String(repeating: "x", count: 10_000))
        let reply = readAll(fd)
        #expect(reply == ControlResponse.failure("request longer than 4096 bytes").line + "\n")
        #expect(daemon.requests.withLock { $0.isEmpty })
    }

    @Test("a stale socket is replaced, a live one or a regular file is refused; stop removes the socket")
    func socketLifecycle() throws {
        let directory = makeTemporaryDirectory("life")
        defer { removeTree(directory) }
        let path = directory + "/c.sock"
        // A stale socket file: bound, never listening, then closed.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = try UnixSocketAddress(path: path)
        #expect(address.withSockaddr { bind(stale, $0, $1) } == 0)
        close(stale)
        #expect(fileExists(path))

        let daemon = try FakeDaemon()
        let server = try ControlServer(path: path, handler: daemon.handler)
        try server.start()
        #expect(throws: ControlError(socket: path, reason: .alreadyInUse)) {
            _ = try ControlServer(path: path, handler: daemon.handler)
        }
        #expect(try ControlClient.send(.status, to: path).ok)
        server.stop()
        #expect(!fileExists(path))
        #expect(throws: ControlError(socket: path, reason: .notRunning)) {
            _ = try ControlClient.send(.status, to: path)
        }

        try AtomicFile.write("not a socket", to: path)
        #expect(throws: ControlError(socket: path, reason: .notASocket)) {
            _ = try ControlServer(path: path, handler: daemon.handler)
        }
        #expect(try readText(path) == "not a socket")
    }

    @Test("the socket is given to the configured group; an unknown group is an error")
    func group() throws {
        let directory = makeTemporaryDirectory("group")
        defer { removeTree(directory) }
        let path = directory + "/c.sock"
        let daemon = try FakeDaemon()
        #expect(throws: ControlError(socket: path, reason: .groupNotFound("no-such-group-dogdoor"))) {
            _ = try ControlServer(path: path, group: "no-such-group-dogdoor", handler: daemon.handler)
        }
        // Root may give the socket to any group (Debian always has "daemon"); others only to their own.
        let name = getuid() == 0 ? "daemon" : String(cString: getgrgid(getgid())!.pointee.gr_name)
        let gid = try #require(getgrnam(name)).pointee.gr_gid
        let server = try ControlServer(path: path, group: name, handler: daemon.handler)
        var st = stat()
        #expect(lstat(path, &st) == 0)
        #expect(st.st_gid == gid)
        server.stop()
    }

    @Test("a daemon that does not answer times out")
    func timeout() throws {
        let directory = makeTemporaryDirectory("timeout")
        defer { removeTree(directory) }
        let path = directory + "/c.sock"
        let daemon = try FakeDaemon()
        let server = try ControlServer(path: path, handler: daemon.handler)  // listening, never started
        defer { server.stop() }
        #expect(throws: ControlError(socket: path, reason: .timedOut)) {
            _ = try ControlClient.send(.status, to: path, timeout: .milliseconds(200))
        }
    }

    // MARK: - Raw socket helpers

    func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = try UnixSocketAddress(path: path)
        guard address.withSockaddr({ LibC.connect(fd, $0, $1) }) == 0 else { throw SystemError("connect", path: path) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    func sendAll(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    func readAll(_ fd: Int32) -> String {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            result += chunk[0..<n]
        }
        return String(decoding: result, as: UTF8.self)
    }
}
