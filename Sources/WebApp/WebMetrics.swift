import Camera
import Control
import LatchLink
import Prometheus
import Support
import Synchronization
import WebCore

/// The Prometheus metrics `/metrics` serves: the web app's own (logins, commands, its memory) through
/// swift-prometheus, and the daemon's, read from its status at each scrape.
///
/// The daemon's counters are counted by another process, so they are written in the text format here rather
/// than through swift-prometheus, whose metric types count in-process events (increment, record) and cannot
/// report another process's running totals or histogram. Counters restart at zero when the daemon restarts,
/// which Prometheus's rate functions expect.
public final class WebMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let logins: [Bool: Counter]
    private let commands: [String: Counter]
    private let resident: Gauge
    private let daemon = Mutex<DaemonStatus?>(nil)

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "dogdoor", metricName: name, unitName: unit, helpText: help)
        }
        let login = descriptor("web_logins", "total", "Logins to the web app by result")
        logins = [
            true: registry.makeCounter(descriptor: login, labels: [("result", "ok")]),
            false: registry.makeCounter(descriptor: login, labels: [("result", "refused")]),
        ]
        let command = descriptor("web_commands", "total", "Door commands sent from the web app")
        commands = Dictionary(
            uniqueKeysWithValues: ["lock", "unlock", "auto"].map {
                ($0, registry.makeCounter(descriptor: command, labels: [("command", $0)]))
            })
        resident = registry.makeGauge(descriptor: descriptor("web_resident_memory", "bytes", "dogdoor-web's memory"))
    }

    /// Takes in the daemon's status (nil: it did not answer).
    public func update(_ status: DaemonStatus?) {
        daemon.withLock { $0 = status }
    }

    func recordLogin(succeeded: Bool) { logins[succeeded]?.increment() }
    func recordCommand(_ command: ControlCommand) { commands[command.name]?.increment() }

    /// The text exposition format (version 0.0.4).
    public func exposition() -> [UInt8] {
        resident.set(to: Double(ProcessMemory.current().resident))
        var bytes = Array(DaemonExposition.text(daemon.withLock { $0 }).utf8)
        registry.emit(into: &bytes)
        return bytes
    }
}

/// The daemon's status in Prometheus's text format.
enum DaemonExposition {
    static func text(_ status: DaemonStatus?) -> String {
        var out = Writer()
        out.metric("dogdoor_daemon_up", "gauge", "1 if dogdoord answered on its control socket", status == nil ? 0 : 1)
        guard let status else { return out.text }
        out.metric(
            "dogdoor_latch_unlocked", "gauge", "1 while the latch is unlocked", status.latch == .unlocked ? 1 : 0)
        out.header("dogdoor_latch_state", "gauge", "1 for the latch's state as dogdoord knows it")
        for state in LatchStatus.names {
            out.sample("dogdoor_latch_state", ["state": state], status.latch.rawValue == state ? 1 : 0)
        }
        out.header("dogdoor_mode", "gauge", "1 for the door's mode")
        for mode in ["auto", "locked", "unlocked"] {
            out.sample("dogdoor_mode", ["mode": mode], status.mode.rawValue == mode ? 1 : 0)
        }
        out.header("dogdoor_camera_state", "gauge", "1 for the camera's state")
        for state in CameraState.names {
            out.sample("dogdoor_camera_state", ["state": state], status.camera.rawValue == state ? 1 : 0)
        }
        out.metric(
            "dogdoor_frames_evaluated_per_second", "gauge", "Frames scored per second, recently", status.framesPerSecond
        )
        if let frames = status.frames {
            out.header("dogdoor_frames_total", "counter", "Camera frames by what became of them")
            for (outcome, value) in [
                ("seen", frames.seen), ("evaluated", frames.evaluated), ("still", frames.still),
                ("corrupt", frames.corrupt), ("dropped", frames.dropped),
            ] {
                out.sample("dogdoor_frames_total", ["outcome": outcome], Double(value))
            }
        }
        guard let counters = status.counters else { return out.text }
        out.header("dogdoor_unlocks_total", "counter", "Unlocks by cause")
        out.sample("dogdoor_unlocks_total", ["cause": "vote"], Double(counters.unlocksByVote))
        out.sample("dogdoor_unlocks_total", ["cause": "command"], Double(counters.unlocksByCommand))
        out.header("dogdoor_refusals_total", "counter", "Animals kept out: near misses and refused votes")
        out.sample("dogdoor_refusals_total", ["reason": "near_miss"], Double(counters.nearMisses))
        out.sample("dogdoor_refusals_total", ["reason": "refused_vote"], Double(counters.refusedVotes))
        out.metric(
            "dogdoor_camera_reconnects_total", "counter", "Times the camera was lost and reconnected",
            Double(counters.cameraReconnects))
        out.metric(
            "dogdoor_model_load_seconds", "gauge", "Time to load and verify the running model",
            counters.modelLoadSeconds)
        out.metric(
            "dogdoor_daemon_resident_memory_bytes", "gauge", "dogdoord's resident memory",
            Double(counters.residentBytes))
        let histogram = counters.inference
        let name = "dogdoor_inference_seconds"
        out.header(name, "histogram", "Time to score one frame (decode, preprocessing, network)")
        var cumulative: UInt64 = 0
        for (bound, count) in zip(histogram.boundsMilliseconds, histogram.counts) {
            cumulative += count
            out.sample(name + "_bucket", ["le": Writer.number(bound / 1_000)], Double(cumulative))
        }
        out.sample(name + "_bucket", ["le": "+Inf"], Double(histogram.count))
        out.sample(name + "_sum", [:], histogram.sumMilliseconds / 1_000)
        out.sample(name + "_count", [:], Double(histogram.count))
        return out.text
    }

    struct Writer {
        var text = ""

        mutating func header(_ name: String, _ type: String, _ help: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }

        mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
            let labelText =
                labels.isEmpty
                ? ""
                : "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",")
                    + "}"
            text += "\(name)\(labelText) \(Self.number(value))\n"
        }

        mutating func metric(_ name: String, _ type: String, _ help: String, _ value: Double) {
            header(name, type, help)
            sample(name, [:], value)
        }

        /// Whole numbers without a fraction; others with enough digits to read back exactly.
        static func number(_ value: Double) -> String {
            if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
            return "\(value)"
        }
    }
}
