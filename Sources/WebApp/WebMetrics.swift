import Control
import Prometheus
import Support
import Synchronization

/// The Prometheus metrics `/metrics` serves: the daemon's counters and state (read from its status at each
/// scrape), and the web app's own logins and commands.
///
/// The daemon's frame counters are mirrored into real counters: each scrape adds what the daemon counted since
/// the last one, and a smaller value than before (the daemon restarted) counts from zero again.
public final class WebMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    private let daemonUp: Gauge
    private let latchUnlocked: Gauge
    private let mode: [DoorModeName: Gauge]
    private let camera: [String: Gauge]
    private let inference: Gauge
    private let framesPerSecond: Gauge
    private let frames: [String: Counter]
    private let lastFrames = Mutex<[String: UInt64]>([:])
    private let logins: [Bool: Counter]
    private let commands: [String: Counter]
    private let resident: Gauge

    typealias DoorModeName = String

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func descriptor(_ name: String, _ unit: String = "", _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "dogdoor", metricName: name, unitName: unit, helpText: help)
        }
        daemonUp = registry.makeGauge(descriptor: descriptor("daemon_up", "", "1 if dogdoord answered on its control socket"))
        latchUnlocked = registry.makeGauge(descriptor: descriptor("latch_unlocked", "", "1 while the latch is unlocked"))
        mode = Dictionary(
            uniqueKeysWithValues: ["auto", "locked", "unlocked"].map {
                ($0, registry.makeGauge(descriptor: descriptor("mode", "", "1 for the door's current mode"), labels: [("mode", $0)]))
            })
        camera = Dictionary(
            uniqueKeysWithValues: ["starting", "streaming", "stalled", "reconnecting", "refused", "finished"].map {
                ($0, registry.makeGauge(descriptor: descriptor("camera_state", "", "1 for the camera's current state"), labels: [("state", $0)]))
            })
        inference = registry.makeGauge(descriptor: descriptor("inference", "milliseconds", "Recent mean time to score a frame"))
        framesPerSecond = registry.makeGauge(descriptor: descriptor("camera_frames_per_second", "", "Frames per second the camera delivers"))
        frames = Dictionary(
            uniqueKeysWithValues: ["seen", "evaluated", "corrupt", "dropped", "still"].map {
                ($0, registry.makeCounter(descriptor: descriptor("frames", "total", "Camera frames by what became of them"), labels: [("outcome", $0)]))
            })
        logins = [
            true: registry.makeCounter(descriptor: descriptor("web_logins", "total", "Web logins by result"), labels: [("result", "ok")]),
            false: registry.makeCounter(descriptor: descriptor("web_logins", "total", "Web logins by result"), labels: [("result", "refused")]),
        ]
        commands = Dictionary(
            uniqueKeysWithValues: ["lock", "unlock", "auto"].map {
                ($0, registry.makeCounter(descriptor: descriptor("web_commands", "total", "Door commands sent from the web app"), labels: [("command", $0)]))
            })
        resident = registry.makeGauge(descriptor: descriptor("web_resident_memory", "bytes", "Resident memory of dogdoor-web"))
    }

    /// Takes in the daemon's status (nil: it did not answer).
    public func update(_ status: DaemonStatus?) {
        resident.set(to: Double(ProcessMemory.current().resident))
        guard let status else {
            daemonUp.set(to: 0)
            return
        }
        daemonUp.set(to: 1)
        latchUnlocked.set(to: status.latch == .unlocked ? 1 : 0)
        for (name, gauge) in mode { gauge.set(to: name == status.mode.rawValue ? 1 : 0) }
        for (name, gauge) in camera { gauge.set(to: name == status.camera.rawValue ? 1 : 0) }
        inference.set(to: status.inferenceMilliseconds)
        framesPerSecond.set(to: status.framesPerSecond)
        guard let counts = status.frames else { return }
        let now: [String: UInt64] = [
            "seen": counts.seen, "evaluated": counts.evaluated, "corrupt": counts.corrupt, "dropped": counts.dropped,
            "still": counts.still,
        ]
        let increments = lastFrames.withLock { last -> [String: UInt64] in
            var result: [String: UInt64] = [:]
            for (name, value) in now {
                let before = last[name] ?? 0
                result[name] = value >= before ? value - before : value
            }
            last = now
            return result
        }
        for (name, increment) in increments where increment > 0 { frames[name]?.increment(by: Int64(increment)) }
    }

    func recordLogin(succeeded: Bool) { logins[succeeded]?.increment() }
    func recordCommand(_ command: ControlCommand) { commands[command.name]?.increment() }

    /// The text exposition format.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
