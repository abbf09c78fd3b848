import Foundation
import LatchLink
import LatchOwner
import Logging
import Support
import TestSupport
import Testing

/// The latch owner and its client over a real socket, with a simulated latch whose actuations are stamped
/// by the system clock: what the recognition side can and cannot make the latch do, and how fast the owner
/// locks by itself.
@Suite("Latch owner over its socket", .serialized)
struct LatchOwnerServerTests {
    /// A running owner on a fresh socket, stopped (and checked locked) at the end.
    final class Owner {
        let directory = makeTemporaryDirectory("latch")
        var socket: String { directory + "/latch.sock" }
        let latch = SimulatedLatch(name: "test")
        let server: LatchOwnerServer
        private var thread: NamedThread?
        private let exitStatus = ConditionLock<Int32?>(nil)

        init(
            heartbeat: Duration = .milliseconds(400), maximumUnlocked: Duration = .seconds(30),
            minimumGap: Duration = .milliseconds(50)
        ) throws {
            // The owner's log lines (some critical, on purpose) would only clutter the test output.
            let logger = Logger(label: "test-latch-owner") { _ in SwiftLogNoOpLogHandler() }
            server = try LatchOwnerServer(
                latch: latch,
                settings: .init(minimumGap: minimumGap, maximumUnlocked: maximumUnlocked, heartbeatTimeout: heartbeat),
                options: .init(socketPath: directory + "/latch.sock"), logger: logger,
                notifier: SystemdNotifier(environment: [:]))
            let server = server, status = exitStatus
            thread = try NamedThread(name: "test-owner") {
                let code = server.run()
                status.withLock {
                    $0.state = code; $0.broadcast()
                }
            }
        }

        /// Stops the owner; returns its exit status.
        func stop() -> Int32? {
            server.requestStop()
            thread?.join()
            removeTree(directory)
            return exitStatus.withLock { $0.state }
        }

        /// Waits up to `seconds` for the latch to reach `state`; returns how long it took.
        func waitFor(_ state: LatchState, within seconds: Double) -> Double? {
            let start = MonotonicClock.now()
            while MonotonicClock.now() - start < seconds {
                if latch.state == state { return MonotonicClock.now() - start }
                usleep(2_000)
            }
            return nil
        }
    }

    @Test("a client unlocks with a lease, renews it, and locks; the owner reports its limits and state")
    func unlockAndLock() throws {
        let owner = try Owner()
        let client = try LatchClient(socket: owner.socket, name: "test")
        #expect(client.limits.heartbeatTimeout == .milliseconds(400))
        var reply = try client.unlock(for: .seconds(5))
        #expect(reply.ok && reply.line == .unlocked && reply.wanted == .unlocked)
        #expect(owner.latch.state == .unlocked)
        #expect((reply.unlockedFor ?? .zero) <= .milliseconds(400))
        reply = try client.unlock(for: .seconds(5))
        #expect(reply.ok && reply.line == .unlocked)
        reply = try client.lock()
        #expect(reply.ok && reply.line == .locked && reply.lockReason == .requested)
        #expect(owner.latch.timeline.map(\.state) == [.unlocked, .locked])
        client.close()
        #expect(owner.stop() == 0)
        #expect(owner.latch.isClosed && owner.latch.state == .locked)
    }

    @Test("a client that disconnects while unlocked leaves the door locked within milliseconds")
    func disconnectLocks() throws {
        let owner = try Owner()
        let client = try LatchClient(socket: owner.socket, name: "test")
        _ = try client.unlock(for: .seconds(20))
        #expect(owner.latch.state == .unlocked)
        client.close()
        let took = try #require(owner.waitFor(.locked, within: 1))
        #expect(took < 0.1)
        // The owner takes the next client.
        let next = try LatchClient(socket: owner.socket, name: "test")
        #expect(try next.status().line == .locked)
        next.close()
        #expect(owner.stop() == 0)
    }

    @Test("a client that falls silent is relocked on time and told why; so is one whose lease ends")
    func silenceAndLeaseEnd() throws {
        let owner = try Owner(heartbeat: .milliseconds(400))
        let client = try LatchClient(socket: owner.socket, name: "test")
        var start = MonotonicClock.now()
        _ = try client.unlock(for: .seconds(20))
        _ = try #require(owner.waitFor(.locked, within: 2))
        var open = MonotonicClock.now() - start
        // The heartbeat timeout, plus scheduling: the owner's poll wakes within milliseconds, but the tests run
        // beside compute-heavy suites on two cores, so up to 0.3 s late is allowed here.
        #expect(open >= 0.39 && open < 0.7, "relocked after \(open) s")
        #expect(try client.takeNotices() == [.relocked(.heartbeatLost)])

        usleep(100_000)  // past the minimum gap after that relock
        start = MonotonicClock.now()
        #expect(try client.unlock(for: .milliseconds(250)).line == .unlocked)
        _ = try #require(owner.waitFor(.locked, within: 2))
        open = MonotonicClock.now() - start
        #expect(open >= 0.24 && open < 0.55, "relocked after \(open) s")
        #expect(try client.takeNotices() == [.relocked(.leaseEnded)])
        client.close()
        #expect(owner.stop() == 0)
    }

    @Test("the energised-time limit holds against a client that keeps renewing")
    func maximumUnlocked() throws {
        let owner = try Owner(heartbeat: .seconds(5), maximumUnlocked: .milliseconds(600))
        let client = try LatchClient(socket: owner.socket, name: "test")
        let start = MonotonicClock.now()
        while MonotonicClock.now() - start < 1.0 {
            _ = try client.unlock(for: .seconds(10))
            usleep(50_000)
            if owner.latch.state == .locked { break }
        }
        let open = MonotonicClock.now() - start
        #expect(owner.latch.state == .locked)
        #expect(open >= 0.6 && open < 0.9, "locked after \(open) s")
        #expect(try client.takeNotices().contains(.relocked(.maximumUnlocked)))
        client.close()
        #expect(owner.stop() == 0)
    }

    @Test("a second client is refused while one is connected")
    func secondClient() throws {
        let owner = try Owner()
        let first = try LatchClient(socket: owner.socket, name: "first")
        #expect(throws: LatchLinkError.self) { try LatchClient(socket: owner.socket, name: "second") }
        _ = try first.unlock(for: .seconds(1))
        #expect(owner.latch.state == .unlocked)
        first.close()
        #expect(owner.stop() == 0)
    }

    @Test("a malformed message drops the client and locks")
    func malformedMessage() throws {
        let owner = try Owner(heartbeat: .seconds(5))
        // A client written by hand, to send what LatchClient never would.
        let fd = try connectUnixSocket(path: owner.socket, kind: .seqpacket, timeout: .seconds(1))
        defer { close(fd) }
        func exchange(_ text: String) -> String {
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var buffer = [UInt8](repeating: 0, count: 2_048)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        }
        #expect(exchange(#"{"op":"hello","client":"raw","version":1}"#).contains(#""ok":true"#))
        #expect(exchange(#"{"op":"unlock","ms":10000}"#).contains(#""line":"unlocked""#))
        #expect(owner.latch.state == .unlocked)
        let answer = exchange(#"{"op":"open_sesame"}"#)
        #expect(answer.contains(#""ok":false"#) && answer.contains("unknown op"))
        #expect(owner.waitFor(.locked, within: 1) != nil)
        #expect(exchange(#"{"op":"status"}"#).isEmpty, "the owner must have closed the connection")
        #expect(owner.stop() == 0)
    }

    @Test("a lock that fails is retried every tick until the line reads locked, with a notice each time")
    func lockRetries() throws {
        let owner = try Owner(heartbeat: .seconds(5))
        let client = try LatchClient(socket: owner.socket, name: "test")
        _ = try client.unlock(for: .seconds(10))
        // The driver fails twice, then the relay sticks open for a while: the read-back catches it.
        owner.latch.injectFault("bus error")
        owner.latch.injectFault("bus error")
        owner.latch.stick(at: .unlocked)
        let reply = try client.lock()
        #expect(reply.line == nil && reply.wanted == .locked)
        usleep(350_000)
        var notices = try client.takeNotices()
        let attempts = notices.compactMap {
            if case .lockFailed(let attempt, _) = $0 { return attempt } else { return nil }
        }
        #expect(attempts.count >= 3 && attempts == Array(1...attempts.count), "\(notices)")
        owner.latch.stick(at: nil)
        usleep(250_000)
        notices = try client.takeNotices()
        #expect(notices.contains { if case .lockRestored = $0 { return true } else { return false } }, "\(notices)")
        #expect(try client.status().line == .locked)
        client.close()
        #expect(owner.stop() == 0)
    }
}
