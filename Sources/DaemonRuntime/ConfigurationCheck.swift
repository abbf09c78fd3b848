import Camera
import DoorConfiguration
import Inference
import NeuralNet
import Support

/// `dogdoord --check-config`: everything that can be checked without taking the devices (the camera is not
/// opened, the latch owner not commanded), and every problem reported, not only the first.
public enum ConfigurationCheck {
    /// One line of the check's answer.
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public enum Severity: String, Sendable {
            /// Checked and right.
            case ok
            /// Not a fault of the configuration, but worth knowing (e.g. the latch owner is not running yet).
            case note
            /// Stops the daemon or keeps the door from working.
            case problem
        }

        /// What was checked: `configuration`, `model`, `camera`, `latch` or `events`.
        public var subject: String
        public var severity: Severity
        public var text: String

        public init(_ subject: String, _ severity: Severity, _ text: String) {
            self.subject = subject
            self.severity = severity
            self.text = text
        }

        public var description: String {
            severity == .ok ? "\(subject): \(text)" : "\(subject): \(severity.rawValue): \(text)"
        }
    }

    /// Reports `problems` (from `DaemonConfiguration.check` of the file at `path`, nil for the defaults), then
    /// checks what `configuration` names: the model, the camera device or replay folder, the latch owner's
    /// socket and the events directory.
    public static func run(
        _ configuration: DaemonConfiguration, problems: [ConfigurationError], path: String?,
        threads: ComputeThreads
    ) -> [Finding] {
        var findings = problems.map { Finding("configuration", .problem, $0.description) }
        if problems.isEmpty {
            findings.append(Finding("configuration", .ok, "\(path ?? "built-in defaults") is valid"))
        }
        findings.append(model(configuration, threads: threads))
        findings.append(camera(configuration.camera))
        findings.append(latch(configuration.latch))
        findings.append(events(configuration.events.directory))
        return findings
    }

    static func model(_ configuration: DaemonConfiguration, threads: ComputeThreads) -> Finding {
        do {
            let active = try ActiveModel(
                path: configuration.model.path, plan: configuration.compute.plan,
                precision: configuration.compute.precision, threads: threads,
                trust: try configuration.model.trust())
            let parameters = try configuration.decisionParameters(modelThreshold: active.threshold)
            return Finding(
                "model", .ok,
                "\(active.path) verified (admits \"\(active.model.manifest.positiveClass)\", "
                    + "threshold \(parameters.threshold))")
        } catch {
            return Finding("model", .problem, "\(error)")
        }
    }

    static func camera(_ camera: DaemonConfiguration.Camera) -> Finding {
        switch camera.kind {
        case .replay:
            do {
                let source = try ReplaySource(
                    folder: camera.replayFolder, files: camera.replayFiles,
                    framesPerSecond: camera.replayFPS, loop: camera.replayLoop)
                return Finding("camera", .ok, source.summary)
            } catch {
                return Finding("camera", .problem, error.description)
            }
        case .v4l2:
            var st = stat()
            guard stat(camera.device, &st) == 0 else {
                let reason = String(cString: strerror(errno))
                return Finding(
                    "camera", .problem,
                    "\(camera.device): \(reason) (is the camera plugged in? `dogdoor camera list` "
                        + "names the devices)")
            }
            guard (st.st_mode & S_IFMT) == S_IFCHR else {
                return Finding("camera", .problem, "\(camera.device) is not a device")
            }
            var text = "\(camera.device) is there (not opened: the check does not take the camera)"
            if !camera.device.hasPrefix("/dev/v4l/") {
                text += "; a name under /dev/v4l/by-id or by-path stays the same camera after a replug or reboot"
            }
            return Finding("camera", .ok, text)
        }
    }

    static func latch(_ latch: DaemonConfiguration.LatchSettings) -> Finding {
        if UnixListener.someoneListens(on: latch.socket, kind: .seqpacket) {
            return Finding("latch", .ok, "the latch owner listens on \(latch.socket)")
        }
        return Finding(
            "latch", .note,
            "no latch owner listens on \(latch.socket) yet: dogdoor-latch must run before "
                + "dogdoord (`dogdoor-latch --check-config` checks the GPIO line)")
    }

    static func events(_ directory: String) -> Finding {
        var st = stat()
        if stat(directory, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                return Finding("events", .problem, "\(directory) is not a directory")
            }
            return Finding("events", .ok, "\(directory)")
        }
        // The daemon creates the directory and its missing parents at start (the service's StateDirectory, or
        // the installer, makes /var/lib/dogdoor): only an existing ancestor that is not a directory stops it.
        var ancestor = parentDirectory(of: directory)
        while stat(ancestor, &st) != 0 && ancestor != "/" && ancestor != "." {
            ancestor = parentDirectory(of: ancestor)
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            return Finding("events", .problem, "\(directory) cannot be created: \(ancestor) is not a directory")
        }
        return Finding("events", .ok, "\(directory) (created at start)")
    }
}
