import DecisionCore
import DoorConfiguration
import Inference
import Logging
import NeuralNet
import Support

/// Everything a reload needs, verified, ready to be switched to: the configuration and the model (checked,
/// self-tested, bound to the engine) with the decision parameters it gives.
struct PreparedReload: Sendable {
    let configuration: DaemonConfiguration
    let model: ActiveModel
    let parameters: DecisionParameters
    /// How long loading and verifying the model took.
    var loadSeconds = 0.0

    /// Sections (or keys) that differ from `running` but take effect only when a process restarts: the latch
    /// owner reads `[latch]` when it starts, the control sockets are bound at start, and the engine threads
    /// and OpenBLAS kernel are chosen at start. A reload keeps their running values and says so.
    static func changesNeedingRestart(from running: DaemonConfiguration, to next: DaemonConfiguration) -> [String] {
        var changed: [String] = []
        if next.latch != running.latch { changed.append("[latch]") }
        if next.control != running.control { changed.append("[control]") }
        if next.compute.threads != running.compute.threads { changed.append("compute.threads") }
        if next.compute.openblasCoretype != running.compute.openblasCoretype {
            changed.append("compute.openblas_coretype")
        }
        return changed
    }

    /// `next` with the sections that need a restart kept at their running values.
    static func applicable(_ next: DaemonConfiguration, running: DaemonConfiguration) -> DaemonConfiguration {
        var result = next
        result.latch = running.latch
        result.control = running.control
        result.compute.threads = running.compute.threads
        result.compute.openblasCoretype = running.compute.openblasCoretype
        return result
    }
}

/// Prepares reloads on its own thread: reading the file and verifying the model (a checksum over tens of
/// megabytes and a self-test through the whole network) take seconds on a small board, and the decision loop
/// must not wait for them. One reload at a time; a SIGHUP during one runs another after it.
final class ReloadPreparer: Sendable {
    private struct State {
        var running = false
        var again = false
    }

    private let state = ConditionLock(State())
    private let configurationPath: String?
    private let overrides: [(key: String, value: String)]
    private let threads: ComputeThreads
    private let logger: Logger
    private let deliver: @Sendable (Result<PreparedReload, Failure>) -> Void

    init(
        configurationPath: String?, overrides: [(key: String, value: String)], threads: ComputeThreads, logger: Logger,
        deliver: @escaping @Sendable (Result<PreparedReload, Failure>) -> Void
    ) {
        self.configurationPath = configurationPath
        self.overrides = overrides
        self.threads = threads
        self.logger = logger
        self.deliver = deliver
    }

    /// Starts preparing a reload (or queues one more after the one under way), building on `current` when
    /// there is no configuration file. Returns false if the preparation thread could not start.
    @discardableResult
    func request(current: DaemonConfiguration) -> Bool {
        let start = state.withLock { lock -> Bool in
            if lock.state.running {
                lock.state.again = true
                return false
            }
            lock.state.running = true
            return true
        }
        guard start else { return true }
        do {
            _ = try NamedThread(name: "reload") { [self] in
                var base = current
                while true {
                    let result = prepare(base: base)
                    deliver(result)
                    if case .success(let prepared) = result { base = prepared.configuration }
                    let more = state.withLock { lock -> Bool in
                        if lock.state.again {
                            lock.state.again = false
                            return true
                        }
                        lock.state.running = false
                        return false
                    }
                    if !more { return }
                }
            }
            return true
        } catch {
            state.withLock { $0.state.running = false }
            deliver(.failure(Failure("cannot start the reload thread: \(error)")))
            return false
        }
    }

    private func prepare(base: DaemonConfiguration) -> Result<PreparedReload, Failure> {
        do {
            var next = base
            if let path = configurationPath { next = try DaemonConfiguration.load(path: path) }
            for (key, value) in overrides { try next.apply(override: key, value: value) }
            let started = MonotonicClock.now()
            let model = try ActiveModel(
                path: next.model.path, plan: next.compute.plan, precision: next.compute.precision, threads: threads,
                trust: try next.model.trust())
            let loadSeconds = MonotonicClock.now() - started
            let parameters = try next.decisionParameters(modelThreshold: model.threshold)
            return .success(
                PreparedReload(configuration: next, model: model, parameters: parameters, loadSeconds: loadSeconds))
        } catch {
            return .failure(Failure("\(error)"))
        }
    }
}
