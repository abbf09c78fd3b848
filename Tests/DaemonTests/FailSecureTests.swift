import Control
import Foundation
import LatchLink
import Support
import Testing

/// What happens to the door when the recognition side fails: the real dogdoord and dogdoor-latch binaries,
/// the latch owner's own log (its actuations, with millisecond timestamps) as the witness of the line.
/// Each test says how long the door took to read locked after the fault.
extension EndToEndTests {
    // Nested in EndToEndTests, whose .serialized trait it inherits: the daemons of the two suites never run at
    // the same time (they would compete for the two cores and for the fixture's replay folders).
    @Suite(.serialized) struct FailSecureTests {
        /// Quiet frames (no dog), a one-second heartbeat, no minimum gap.
        static func settings(
            _ fixture: TrainedFixture, _ frames: String, _ extra: [String: String] = [:]
        ) -> [String: String] {
            [
                "model.path": fixture.model, "camera.replay_folder": frames, "camera.replay_fps": "4",
                "latch.heartbeat_timeout": "1s", "latch.min_gap": "0s",
            ].merging(extra) { $1 }
        }

        static func start(_ name: String, _ extra: [String: String] = [:]) throws -> RunningDaemon {
            let fixture = try TrainedFixture.get()
            let frames = try fixture.replayFolder("fail-secure-" + name, others: 12, bo: 0, after: 0)
            let daemon = try RunningDaemon(
                directory: EndToEndTests.directory(), settings: settings(fixture, frames, extra))
            try daemon.wait(for: "the control socket", timeout: 60) {
                FileManager.default.fileExists(atPath: daemon.socket)
            }
            try daemon.wait(for: "the latch owner link", timeout: 30) { !daemon.records("latch_connected").isEmpty }
            return daemon
        }

        /// Unlocks by command and waits for the owner to report the line unlocked.
        static func unlock(_ daemon: RunningDaemon, for duration: String = "60s") throws {
            let reply = try daemon.control(["unlock", "--for", duration])
            #expect(reply["latch"]?.stringValue == "unlocked", "\(reply)")
            try daemon.wait(for: "the owner to unlock", timeout: 10) {
                daemon.ownerActuations().last?.level == .unlocked
            }
        }

        @Test func killNineWhileUnlockedLocksAtOnce() throws {
            let daemon = try Self.start("kill9")
            try Self.unlock(daemon)
            let fault = Date()
            daemon.signal(SIGKILL)
            try daemon.wait(for: "the owner to lock", timeout: 10, allowExit: true) {
                daemon.ownerActuations().last?.level == .locked
            }
            let locked = try #require(daemon.ownerActuations().last)
            let seconds = locked.time.timeIntervalSince(fault)
            print(
                "FAULT kill -9 of dogdoord while unlocked: locked after \(String(format: "%.3f", seconds)) s (\(locked.reason))"
            )
            #expect(locked.reason == "no_client")
            #expect(seconds < 0.5)
            #expect(daemon.owner?.isRunning == true, "the owner keeps holding the line")
        }

        @Test func stoppedRecognitionSideIsRelockedOnTime() throws {
            let daemon = try Self.start("sigstop")
            try Self.unlock(daemon)
            let fault = Date()
            daemon.signal(SIGSTOP)
            defer { daemon.signal(SIGCONT) }
            try daemon.wait(for: "the owner to lock", timeout: 10) { daemon.ownerActuations().last?.level == .locked }
            let locked = try #require(daemon.ownerActuations().last)
            let seconds = locked.time.timeIntervalSince(fault)
            print(
                "FAULT SIGSTOP of dogdoord during an unlock: locked after \(String(format: "%.3f", seconds)) s (\(locked.reason))"
            )
            // The last renewal came at most a third of the heartbeat timeout (1 s) before the stop.
            #expect(locked.reason == "heartbeat_lost")
            #expect(seconds >= 0.6 && seconds < 1.5)
            // Resumed, dogdoord learns of it and its policy follows: the door stays locked.
            daemon.signal(SIGCONT)
            try daemon.wait(for: "dogdoord to record the owner's relock", timeout: 10) {
                !daemon.records("latch_relocked").isEmpty
            }
            #expect(daemon.records("latch_relocked").first?["reason"]?.stringValue == "heartbeat_lost")
            #expect(try daemon.control(["status"])["latch"]?.stringValue == "locked")
            #expect(daemon.ownerActuations().last?.level == .locked)
        }

        @Test func aStopThatHangsLeavesTheDoorLocked() throws {
            let daemon = try Self.start("hang")
            try Self.unlock(daemon)
            // A stop that hangs: the daemon cannot act on SIGTERM (stopped), then systemd's SIGKILL after its timeout.
            let fault = Date()
            daemon.signal(SIGSTOP)
            daemon.signal(SIGTERM)
            try daemon.wait(for: "the owner to lock", timeout: 10) { daemon.ownerActuations().last?.level == .locked }
            let seconds = try #require(daemon.ownerActuations().last).time.timeIntervalSince(fault)
            print(
                "FAULT stop that hangs (SIGSTOP + SIGTERM, then SIGKILL): locked after \(String(format: "%.3f", seconds)) s"
            )
            #expect(seconds < 1.5)
            daemon.signal(SIGKILL)
            _ = try daemon.waitForExit(timeout: 10)
            usleep(300_000)
            #expect(daemon.ownerActuations().last?.level == .locked)
            #expect(
                daemon.ownerActuations().filter { $0.level == .unlocked }.count == 1,
                "never unlocked again:\n\(daemon.ownerOutput)\n\(daemon.output)")
        }

        @Test func reloadWhileUnlockedKeepsTheModeAndRelocksOnTime() throws {
            let daemon = try Self.start("reload")
            try Self.unlock(daemon, for: "4s")
            let opened = try #require(daemon.ownerActuations().last).time
            daemon.signal(SIGHUP)
            try daemon.wait(for: "the reload", timeout: 30) { !daemon.records("reload").isEmpty }
            let status = try daemon.control(["status"])
            #expect(status["mode"]?.stringValue == "unlocked", "a reload keeps a manual unlock: \(status)")
            #expect((status["unlock_remaining_s"]?.doubleValue ?? 0) <= 4)
            try daemon.wait(for: "the relock", timeout: 15) { daemon.ownerActuations().last?.level == .locked }
            let open = try #require(daemon.ownerActuations().last).time.timeIntervalSince(opened)
            print("FAULT reload during a 4 s unlock: relocked after \(String(format: "%.3f", open)) s")
            #expect(open >= 3.9 && open < 4.6, "open \(open) s")
        }

        @Test func ownerRestartIsSurvived() throws {
            let daemon = try Self.start("owner-restart")
            let owner = try #require(daemon.owner)
            owner.terminate()
            owner.waitUntilExit()
            try daemon.wait(for: "dogdoord to notice", timeout: 10) { !daemon.records("latch_unreachable").isEmpty }
            // While the owner is away, an unlock cannot take effect, and the policy knows it.
            let reply = try daemon.control(["unlock", "--for", "30s"])
            #expect(reply["latch"]?.stringValue == "unreachable")
            // A new owner: dogdoord reconnects within a second or so, and unlocks work again.
            let again = Process()
            again.executableURL = URL(fileURLWithPath: Binaries.path("dogdoor-latch"))
            again.arguments = ["--set", "latch.socket=\(daemon.latchSocket)", "--set", "latch.heartbeat_timeout=1s"]
            again.standardError = FileHandle.nullDevice
            try again.run()
            defer { again.terminate(); again.waitUntilExit() }
            try daemon.wait(for: "the reconnection", timeout: 15) { daemon.records("latch_connected").count >= 2 }
            let unlocked = try daemon.control(["unlock", "--for", "30s"])
            #expect(unlocked["latch"]?.stringValue == "unlocked", "\(unlocked)")
            _ = try daemon.control(["lock"])
        }

        @Test func aFloodingClientNeitherGrowsTheDaemonNorDelaysLock() throws {
            let daemon = try Self.start("flood")
            usleep(500_000)
            let before = residentMiB(daemon.process.processIdentifier)
            // A local client that writes status requests as fast as it can and never reads.
            let fd = try connectUnixSocket(path: daemon.socket, kind: .stream, timeout: .seconds(1))
            defer { close(fd) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let request = Array(#"{"command":"status"}"#.utf8 + [UInt8(ascii: "\n")])
            var written = 0
            var slowest = 0.0
            let start = Date()
            while Date().timeIntervalSince(start) < 8 {
                for _ in 0..<200 {
                    let n = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if n > 0 { written += n }
                }
                // Meanwhile someone locks the door.
                let asked = Date()
                let reply = try ControlClient.send(.lock, to: daemon.socket, timeout: .seconds(5))
                slowest = max(slowest, Date().timeIntervalSince(asked))
                #expect(reply.ok)
                usleep(100_000)
            }
            let after = residentMiB(daemon.process.processIdentifier)
            print(
                "FLOOD \(written) bytes of requests never read; resident \(before) -> \(after) MiB; slowest lock \(String(format: "%.3f", slowest)) s"
            )
            #expect(after - before < 8, "resident \(before) -> \(after) MiB")
            #expect(slowest < 1)
            // Forty clients that connect and say nothing do not lock anyone out either.
            let idle = try (0..<40).map { _ in
                try connectUnixSocket(path: daemon.socket, kind: .stream, timeout: .seconds(1))
            }
            defer { idle.forEach { close($0) } }
            let asked = Date()
            #expect(try ControlClient.send(.lock, to: daemon.socket, origin: "web:owner", timeout: .seconds(5)).ok)
            #expect(Date().timeIntervalSince(asked) < 1)
            // Every command is in the event log with who sent it: the kernel's uid and pid, and whom the client
            // said it acted for.
            try daemon.wait(for: "the last command's event", timeout: 5) {
                daemon.records("command").last?["by"] == "web:owner"
            }
            let commands = daemon.records("command")
            #expect(
                !commands.isEmpty
                    && commands.allSatisfy { $0["uid"]?.intValue == Int(getuid()) && $0["pid"]?.intValue != nil })
        }

        @Test func reloadReportsSectionsThatNeedARestart() throws {
            let fixture = try TrainedFixture.get()
            let frames = try fixture.replayFolder("restart-sections", others: 8, bo: 0, after: 0)
            let dir = EndToEndTests.directory()
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let config = dir + "/dogdoord.toml"
            func write(heartbeat: String) throws {
                try AtomicFile.write(
                    """
                    [model]
                    path = "\(fixture.model)"
                    [camera]
                    replay_folder = "\(frames)"
                    replay_fps = 4.0
                    [latch]
                    socket = "\(dir)/run/latch.sock"
                    heartbeat_timeout = "\(heartbeat)"
                    [events]
                    directory = "\(dir)/run/events"
                    [control]
                    socket = "\(dir)/run/control.sock"

                    """, to: config)
            }
            try write(heartbeat: "2s")
            let daemon = try RunningDaemon(directory: dir + "/run", settings: [:], config: config)
            try daemon.wait(for: "the control socket", timeout: 60) {
                FileManager.default.fileExists(atPath: daemon.socket)
            }
            try write(heartbeat: "5s")
            daemon.signal(SIGHUP)
            try daemon.wait(for: "the reload", timeout: 30) { !daemon.records("reload").isEmpty }
            #expect(daemon.records("reload")[0]["needs_restart"]?.arrayValue == ["[latch]"])
            #expect(daemon.output.contains("take effect only after a restart"))
        }

        @Test func aReloadWhoseCameraFailsChangesNothing() throws {
            let fixture = try TrainedFixture.get()
            let frames = try fixture.replayFolder("camera-rollback", others: 8, bo: 0, after: 0)
            let dir = EndToEndTests.directory()
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let config = dir + "/dogdoord.toml"
            func write(folder: String, hold: String) throws {
                try AtomicFile.write(
                    """
                    [model]
                    path = "\(fixture.model)"
                    [camera]
                    replay_folder = "\(folder)"
                    replay_fps = 4.0
                    [decision]
                    hold = "\(hold)"
                    [latch]
                    socket = "\(dir)/run/latch.sock"
                    [events]
                    directory = "\(dir)/run/events"
                    [control]
                    socket = "\(dir)/run/control.sock"

                    """, to: config)
            }
            try write(folder: frames, hold: "10s")
            let daemon = try RunningDaemon(directory: dir + "/run", settings: [:], config: config)
            try daemon.wait(for: "frames", timeout: 60) {
                (try? daemon.control(["status"]))?["frames"]?["seen"]?.intValue ?? 0 > 2
            }
            // A valid file whose camera cannot start (the folder is gone), and a new hold: all or nothing.
            try write(folder: dir + "/no-such-folder", hold: "20s")
            daemon.signal(SIGHUP)
            try daemon.wait(for: "the failed reload", timeout: 30) { !daemon.records("reload_failed").isEmpty }
            #expect(daemon.records("reload_failed")[0]["error"]?.stringValue?.contains("no-such-folder") == true)
            #expect(daemon.records("reload").isEmpty)
            #expect(daemon.output.contains("going back to the running one"))
            // The running camera streams on.
            let seen = try daemon.control(["status"])["frames"]?["seen"]?.intValue ?? 0
            try daemon.wait(for: "more frames from the old camera", timeout: 10) {
                (try? daemon.control(["status"]))?["frames"]?["seen"]?.intValue ?? 0 > seen + 2
            }
            #expect(try daemon.control(["status"])["camera"]?.stringValue == "streaming")
        }

        func residentMiB(_ pid: Int32) -> Double {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kib = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" })[1])
            else { return 0 }
            return (kib / 1024 * 10).rounded() / 10
        }
    }
}
