import DecisionCore
import EventLog
import Logging
import Support

// Reloads (SIGHUP): applying a configuration and model verified on the reload thread.
extension DaemonSession {
    /// Switches to a verified reload: model, policy (carrying on the mode, a manual unlock's deadline and an
    /// automatic unlock in progress), camera and event files together, or none of them.
    func apply(_ result: Result<PreparedReload, Failure>, at now: Timestamp) {
        defer { try? settings.notifier.ready(status: statusLine()) }
        let prepared: PreparedReload
        switch result {
        case .failure(let error):
            reloadFailed(error.description, at: now)
            return
        case .success(let value):
            prepared = value
        }
        let restartNeeded = PreparedReload.changesNeedingRestart(from: configuration, to: prepared.configuration)
        let next = PreparedReload.applicable(prepared.configuration, running: configuration)
        let newPolicy: DecisionPolicy
        do {
            newPolicy = try DecisionPolicy(
                parameters: prepared.parameters, curfew: next.curfew, continuing: policy, at: now)
        } catch {
            reloadFailed("\(error)", at: now)
            return
        }
        var newEvents: EventWriter?
        if next.events != configuration.events {
            do {
                newEvents = try Self.openEvents(next.events, logger: logger)
            } catch {
                reloadFailed("\(error)", at: now)
                return
            }
        }
        if next.camera != configuration.camera {
            let old = source
            old?.stop()
            source = nil
            do {
                source = try Self.startSource(next.camera, settings: settings, sink: worker)
            } catch {
                logger.error(
                    "reload: the new camera failed; going back to the running one", metadata: ["error": "\(error)"])
                do {
                    source = try Self.startSource(configuration.camera, settings: settings, sink: worker)
                } catch {
                    logger.error("the running camera could not be restarted", metadata: ["error": "\(error)"])
                }
                newEvents?.stop()
                reloadFailed("camera: \(error)", at: now)
                return
            }
        }
        // Everything verified and started: switch.
        policy = newPolicy
        model = prepared.model
        counters.modelLoadSeconds = prepared.loadSeconds
        episodeBest = nil
        worker.use(model: prepared.model, motion: Self.motionSettings(next.motion))
        let eventsChanged = newEvents != nil
        configuration = next
        if let newEvents {
            let old = events
            events = newEvents
            // The old writer finishes its queue on a thread of its own: the loop does not wait for a disk.
            _ = try? NamedThread(name: "events-close") { old.stop() }
        }
        syncLatch(at: now)
        var details: JSONObject = ["model": .string(model.path)]
        if !restartNeeded.isEmpty { details["needs_restart"] = .array(restartNeeded.map { .string($0) }) }
        if eventsChanged { details["events"] = .string(next.events.directory) }
        record(
            EventRecord(
                time: now.wall, kind: "reload", mode: policy.mode.name, door: latch.statusText,
                modelSHA256: model.sha256, details: details))
        if restartNeeded.isEmpty {
            logger.notice("reloaded", metadata: ["model": "\(model.path)", "sha256": "\(model.sha256.prefix(16))"])
        } else {
            logger.warning(
                "reloaded, but these changes take effect only after a restart (systemctl restart dogdoor-latch dogdoord)",
                metadata: ["needs_restart": "\(restartNeeded.joined(separator: ", "))", "model": "\(model.path)"])
        }
    }

    func reloadFailed(_ error: String, at now: Timestamp) {
        logger.error(
            "reload failed; keeping the running configuration, model and camera", metadata: ["error": "\(error)"])
        record(
            EventRecord(
                time: now.wall, kind: "reload_failed", mode: policy.mode.name, door: latch.statusText,
                modelSHA256: model.sha256, details: ["error": .string(error)]))
    }
}
