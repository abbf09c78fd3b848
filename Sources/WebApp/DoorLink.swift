import Control
import NIOPosix
import Support
import WebCore

/// How the web app reaches the door daemon: the control socket, or a stand-in in tests.
public protocol DoorLink: Sendable {
    /// Sends `command` on behalf of `origin` (`web:NAME`) and returns the daemon's answer.
    func send(_ command: ControlCommand, origin: String?) async throws -> ControlResponse
}

/// The daemon's control socket. The client blocks (connect, write, read with a timeout), so each exchange runs
/// on NIO's blocking-work thread pool, never on the server's event loops.
public struct SocketDoorLink: DoorLink {
    public let socket: String
    public let timeout: Duration

    public init(socket: String, timeout: Duration = .seconds(5)) {
        self.socket = socket
        self.timeout = timeout
    }

    public func send(_ command: ControlCommand, origin: String?) async throws -> ControlResponse {
        let socket = socket
        let timeout = timeout
        return try await NIOThreadPool.singleton.runIfActive {
            try ControlClient.send(command, to: socket, origin: origin, timeout: timeout)
        }
    }
}
