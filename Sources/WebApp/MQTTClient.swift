import CMosquitto
import NIOPosix
import Support
import Synchronization
import WebCore

/// Why talking to the MQTT broker failed: the broker (`host:port`), the step, and libmosquitto's or the
/// broker's reason.
public struct MQTTError: Error, Equatable, CustomStringConvertible {
    /// Where it failed.
    public enum Step: String, Sendable {
        /// Creating the client, its will or its reconnection delays.
        case setup
        /// Reading the password file.
        case credentials
        /// Loading the CA certificate.
        case tls
        /// Opening the connection (name lookup, TCP, TLS).
        case connect
        /// The broker refused the connection (CONNACK), or did not answer in time.
        case handshake
        case publish
        case subscribe
    }

    public var broker: String
    public var step: Step
    public var reason: String

    public init(broker: String, step: Step, reason: String) {
        self.broker = broker
        self.step = step
        self.reason = reason
    }

    public var description: String { "MQTT broker \(broker): \(step.rawValue) failed: \(reason)" }
}

/// An MQTT connection through libmosquitto, whose network thread keeps it up: it reconnects with growing
/// delays (1 s up to 30 s) and resubscribes after each reconnection.
///
/// The broker keeps `offline` as the retained availability when the connection is lost (the will); the
/// client publishes `online` (retained) on every connection and `offline` when closed.
public final class MQTTClient: Sendable {
    /// A message received on a subscribed topic.
    public struct Message: Sendable, Equatable {
        public var topic: String
        public var payload: [UInt8]
        /// Delivered from the broker's retained store (sent before we subscribed), not live.
        public var retained: Bool

        public init(topic: String, payload: [UInt8], retained: Bool) {
            self.topic = topic
            self.payload = payload
            self.retained = retained
        }

        public var text: String { String(decoding: payload, as: UTF8.self) }
    }

    /// What happens on the connection, in order.
    public enum Event: Sendable, Equatable {
        /// The broker accepted the connection (the first one, and each reconnection).
        case connected
        /// The connection ended or a reconnection was refused; the network thread keeps trying.
        case disconnected(reason: String)
        case message(Message)
    }

    /// `host:port`.
    public let broker: String
    public let availabilityTopic: String
    /// Connection changes and incoming messages, for one consumer. Finishes when the client is closed.
    public let events: AsyncStream<Event>

    private let handle: ClientHandle
    private let sink: EventSink
    private let closed = Mutex(false)

    /// Connects to the broker of `settings` (credentials from `passwordFile`, TLS when `caFile` is set, the will
    /// `offline` on the availability topic) and waits for its answer. Throws when the broker cannot be reached or
    /// refuses, or says nothing within `timeout`.
    public static func connect(
        settings: MQTTSettings, timeout: Duration = .seconds(10)
    ) async throws(MQTTError)
        -> MQTTClient
    {
        let client = try MQTTClient(settings: settings)
        do {
            try await client.start(settings: settings, timeout: timeout)
        } catch {
            await client.shutDown(announceOffline: false)
            throw error
        }
        return client
    }

    private init(settings: MQTTSettings) throws(MQTTError) {
        broker = settings.broker
        availabilityTopic = settings.availabilityTopic
        let broker = broker
        func failure(_ step: MQTTError.Step, _ code: Int32) -> MQTTError {
            MQTTError(broker: broker, step: step, reason: mosquittoReason(code, errorNumber: errno))
        }

        var password: String?
        if let path = settings.passwordFile {
            do {
                let bytes = try readFile(path, limit: 4096)
                let line = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).first ?? []
                password = String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
            } catch {
                throw MQTTError(broker: broker, step: .credentials, reason: "password file \(error)")
            }
        }

        let initialised = dd_mosq_lib_init()
        guard initialised >= 0 else { throw failure(.setup, initialised) }
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(256))
        events = stream
        let sink = EventSink(continuation: continuation, availabilityTopic: settings.availabilityTopic)
        let userdata = Unmanaged.passRetained(sink).toOpaque()
        var status: Int32 = 0
        guard let pointer = dd_mosq_new(settings.clientID, mqttEventCallback, userdata, &status) else {
            Unmanaged<EventSink>.fromOpaque(userdata).release()
            throw failure(.setup, status)
        }
        self.sink = sink
        handle = ClientHandle(pointer)
        sink.attach(handle)

        if let username = settings.username {
            let rc = dd_mosq_username_pw_set(pointer, username, password)
            guard rc >= 0 else { throw failure(.credentials, rc) }
        }
        if let caFile = settings.caFile {
            let rc = dd_mosq_tls_set(pointer, caFile)
            guard rc >= 0 else {
                let reason = rc == -Int32(DD_MOSQ_ERR_INVAL) ? "cannot use CA file \(caFile)" : mosquittoReason(rc)
                throw MQTTError(broker: broker, step: .tls, reason: reason)
            }
        }
        let offline = Array("offline".utf8)
        var rc = dd_mosq_will_set(pointer, availabilityTopic, offline, Int32(offline.count), 1, true)
        guard rc >= 0 else { throw failure(.setup, rc) }
        rc = dd_mosq_reconnect_delay_set(pointer, 1, 30, true)
        guard rc >= 0 else { throw failure(.setup, rc) }
    }

    deinit {
        // Normally `close` ran already; this stops a client that was dropped without it.
        if !closed.withLock({ $0 }) {
            _ = dd_mosq_disconnect(handle.pointer)
            _ = dd_mosq_loop_stop(handle.pointer, false)
            sink.finish()
        }
        dd_mosq_destroy(handle.pointer)
        Unmanaged.passUnretained(sink).release()
    }

    private func start(settings: MQTTSettings, timeout: Duration) async throws(MQTTError) {
        let handle = handle
        let connect: @Sendable () -> (code: Int32, errorNumber: Int32) = {
            let rc = dd_mosq_connect_async(
                handle.pointer, settings.host, Int32(settings.port), Int32(settings.keepAlive))
            return (rc, errno)
        }
        // The host name lookup blocks: on NIO's blocking-work pool.
        let started = (try? await NIOThreadPool.singleton.runIfActive(connect)) ?? connect()
        guard started.code >= 0 else {
            throw MQTTError(
                broker: broker, step: .connect, reason: mosquittoReason(started.code, errorNumber: started.errorNumber))
        }
        let rc = dd_mosq_loop_start(handle.pointer)
        guard rc >= 0 else {
            throw MQTTError(broker: broker, step: .setup, reason: mosquittoReason(rc, errorNumber: errno))
        }
        let outcome = await sink.firstConnection(timeout: timeout)
        switch outcome {
        case .accepted: return
        case .refused(let code):
            throw MQTTError(
                broker: broker, step: .handshake,
                reason: "refused: \(String(cString: dd_mosq_connack_string(code))) (CONNACK \(code))")
        case .lost(let reason): throw MQTTError(broker: broker, step: .connect, reason: reason)
        case .timedOut: throw MQTTError(broker: broker, step: .handshake, reason: "no answer within \(timeout)")
        case .cancelled: throw MQTTError(broker: broker, step: .handshake, reason: "cancelled")
        }
    }

    /// Queues a message. QoS 1 and 2 messages wait in libmosquitto's queue while disconnected; QoS 0 fails then.
    public func publish(_ topic: String, _ payload: [UInt8], retain: Bool = false, qos: Int = 1) throws(MQTTError) {
        let rc = dd_mosq_publish(handle.pointer, topic, payload, Int32(payload.count), Int32(qos), retain)
        guard rc >= 0 else {
            throw MQTTError(
                broker: broker, step: .publish, reason: "\(topic): \(mosquittoReason(rc, errorNumber: errno))")
        }
    }

    /// Queues a text message.
    public func publish(_ topic: String, text: String, retain: Bool = false, qos: Int = 1) throws(MQTTError) {
        try publish(topic, Array(text.utf8), retain: retain, qos: qos)
    }

    /// Subscribes to `pattern` now (when connected) and again after every reconnection.
    public func subscribe(_ pattern: String, qos: Int = 1) throws(MQTTError) {
        sink.addSubscription(pattern, qos: Int32(qos))
        let rc = dd_mosq_subscribe(handle.pointer, pattern, Int32(qos))
        // Without a connection, the next connection subscribes.
        guard rc >= 0 || rc == -Int32(DD_MOSQ_ERR_NO_CONN) else {
            throw MQTTError(broker: broker, step: .subscribe, reason: "\(pattern): \(mosquittoReason(rc))")
        }
    }

    /// Publishes `offline` (retained) when `announceOffline`, disconnects cleanly (so the broker drops the will)
    /// and stops the network thread. `events` finishes. Later calls do nothing.
    public func close(announceOffline: Bool = true) async {
        await shutDown(announceOffline: announceOffline)
    }

    private func shutDown(announceOffline: Bool) async {
        let alreadyClosed = closed.withLock { closed in
            defer { closed = true }
            return closed
        }
        guard !alreadyClosed else { return }
        if announceOffline { try? publish(availabilityTopic, text: "offline", retain: true, qos: 1) }
        let handle = handle
        let stop: @Sendable () -> Void = {
            _ = dd_mosq_disconnect(handle.pointer)
            _ = dd_mosq_loop_stop(handle.pointer, false)
        }
        // Joining the network thread waits for it to write what is queued (up to the keep-alive when the broker
        // stalls): on NIO's blocking-work pool, not the cooperative one.
        do {
            try await NIOThreadPool.singleton.runIfActive(stop)
        } catch {
            stop()
        }
        sink.finish()
    }
}

/// libmosquitto's client pointer.
///
/// `@unchecked Sendable`: libmosquitto's client calls are thread-safe once its network thread runs (each guards
/// its state with the client's own mutexes), and the pointer is only freed in `MQTTClient.deinit`, after the
/// network thread has stopped, when no other reference to the handle remains.
private struct ClientHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

/// How the first connection attempt ended.
private enum FirstConnection: Sendable {
    case accepted
    case refused(Int32)
    case lost(String)
    case timedOut
    case cancelled
}

/// Receives libmosquitto's callbacks on its network thread: passes them on to the event stream, resubscribes and
/// announces `online` after each connection, and completes the wait for the first one.
private final class EventSink: Sendable {
    private struct State {
        var handle: ClientHandle?
        var subscriptions: [(pattern: String, qos: Int32)] = []
        var waiter: CheckedContinuation<FirstConnection, Never>?
        /// The first connection's outcome when it came before anyone waited.
        var early: FirstConnection?
        var everConnected = false
    }

    private let state = Mutex(State())
    private let continuation: AsyncStream<MQTTClient.Event>.Continuation
    private let availabilityTopic: String

    init(continuation: AsyncStream<MQTTClient.Event>.Continuation, availabilityTopic: String) {
        self.continuation = continuation
        self.availabilityTopic = availabilityTopic
    }

    func attach(_ handle: ClientHandle) { state.withLock { $0.handle = handle } }

    func addSubscription(_ pattern: String, qos: Int32) {
        state.withLock { state in
            if !state.subscriptions.contains(where: { $0.pattern == pattern }) {
                state.subscriptions.append((pattern, qos))
            }
        }
    }

    func finish() { continuation.finish() }

    /// Waits for the first connection's outcome, at most `timeout`.
    func firstConnection(timeout: Duration) async -> FirstConnection {
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { self.settle(.timedOut) }
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<FirstConnection, Never>) in
                let early: FirstConnection? = state.withLock { state in
                    if let early = state.early { return early }
                    state.waiter = waiter
                    return nil
                }
                if let early { waiter.resume(returning: early) }
            }
        } onCancel: {
            self.settle(.cancelled)
        }
    }

    /// Completes the wait for the first connection (once; later outcomes are events only).
    private func settle(_ outcome: FirstConnection) {
        let waiter: CheckedContinuation<FirstConnection, Never>? = state.withLock { state in
            guard state.early == nil else { return nil }
            state.early = outcome
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: outcome)
    }

    func handle(_ event: UnsafePointer<dd_mosq_event>) {
        let event = event.pointee
        switch event.kind {
        case DD_MOSQ_EVENT_CONNECT where event.code == 0:
            let (handle, subscriptions) = state.withLock { state in
                state.everConnected = true
                return (state.handle, state.subscriptions)
            }
            if let handle {
                let online = Array("online".utf8)
                _ = dd_mosq_publish(handle.pointer, availabilityTopic, online, Int32(online.count), 1, true)
                for subscription in subscriptions {
                    _ = dd_mosq_subscribe(handle.pointer, subscription.pattern, subscription.qos)
                }
            }
            settle(.accepted)
            continuation.yield(.connected)
        case DD_MOSQ_EVENT_CONNECT:
            let reason = "refused: \(String(cString: dd_mosq_connack_string(event.code))) (CONNACK \(event.code))"
            settle(.refused(event.code))
            continuation.yield(.disconnected(reason: reason))
        case DD_MOSQ_EVENT_DISCONNECT:
            let reason = event.code == 0 ? "closed" : mosquittoReason(event.code, errorNumber: event.error_number)
            settle(.lost(reason))
            continuation.yield(.disconnected(reason: reason))
        case DD_MOSQ_EVENT_MESSAGE:
            guard let topic = event.topic else { return }
            let payload =
                event.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(event.payload_length))) } ?? []
            let message = MQTTClient.Message(topic: String(cString: topic), payload: payload, retained: event.retain)
            continuation.yield(.message(message))
        default:
            break
        }
    }
}

/// The one C callback: finds the sink from the userdata that `MQTTClient` registered (retained until the client
/// is destroyed, after the network thread stopped).
private let mqttEventCallback: dd_mosq_event_fn = { userdata, event in
    guard let userdata, let event else { return }
    Unmanaged<EventSink>.fromOpaque(userdata).takeUnretainedValue().handle(event)
}

/// libmosquitto's words for a (negated) MOSQ_ERR code; the system's for MOSQ_ERR_ERRNO.
private func mosquittoReason(_ code: Int32, errorNumber: Int32 = 0) -> String {
    let positive = code < 0 ? -code : code
    if positive == Int32(DD_MOSQ_ERR_ERRNO), errorNumber != 0 { return String(cString: strerror(errorNumber)) }
    return String(cString: dd_mosq_strerror(positive))
}
