import Support

/// Keras-like progress on standard output.
///
/// On a terminal: `Epoch 3/20`, then a step bar that redraws in place with ETA, loss and accuracy, ending in the
/// epoch's line with val_loss and val_accuracy. Not on a terminal (a log file, systemd, CI): one plain line per
/// epoch. With `jsonLog`, every epoch is also appended to that file as one JSON object per line.
public final class ConsoleProgress: TrainingObserver {
    private let interactive: Bool
    private let jsonLog: String?
    private var epochs = 0
    private var phase = ""
    private var lastDraw = 0.0

    public init(interactive: Bool = isatty(1) != 0, jsonLog: String? = nil) throws {
        self.interactive = interactive
        self.jsonLog = jsonLog
        if let jsonLog { try AtomicFile.write("", to: jsonLog) }
    }

    public func phaseStarted(_ phase: String, epochs: Int) {
        self.phase = phase
        self.epochs = epochs
        emit(
            phase == "frozen"
                ? "Phase 1: training the new head on the frozen VGG16 base (\(epochs) epochs)"
                : "Phase 2: fine-tuning the unfrozen base (\(epochs) epochs)")
    }

    public func epochStarted(phase: String, epoch: Int, of epochs: Int) {
        if interactive { emit("Epoch \(epoch)/\(epochs)") }
        lastDraw = 0
    }

    public func stepFinished(step: Int, of steps: Int, loss: Double, accuracy: Double, elapsed: Double) {
        guard interactive else { return }
        let now = MonotonicClock.now()
        guard step == steps || now - lastDraw > 0.1 else { return }
        lastDraw = now
        let width = 20
        let done = step * width / steps
        let bar = String(repeating: "━", count: done) + String(repeating: "─", count: width - done)
        let eta = elapsed / Double(step) * Double(steps - step)
        let time =
            step == steps
            ? "\(Int(elapsed.rounded()))s \(Self.perStep(elapsed / Double(step)))" : "ETA \(Int(eta.rounded()))s"
        write(
            "\r\(pad(step, steps))/\(steps) \(bar) \(time) - accuracy: \(fixed(accuracy, 4)) - loss: \(fixed(loss, 4))\u{1B}[K"
        )
    }

    public func epochFinished(_ r: EpochRecord) {
        let line =
            "accuracy: \(fixed(r.accuracy, 4)) - loss: \(fixed(r.loss, 4)) - val_accuracy: \(fixed(r.validationAccuracy, 4)) - val_loss: \(fixed(r.validationLoss, 4))"
        if interactive {
            write(" - val_accuracy: \(fixed(r.validationAccuracy, 4)) - val_loss: \(fixed(r.validationLoss, 4))\n")
        } else {
            emit("\(r.phase) epoch \(r.epoch)/\(epochs) - \(fixed(r.seconds, 1))s - \(line)")
        }
        if let jsonLog, let fd = Optional(open(jsonLog, O_WRONLY | O_APPEND | O_CLOEXEC)), fd >= 0 {
            var bytes = Array((r.json.serialized() + "\n").utf8)
            _ = bytes.withUnsafeMutableBytes { LibC.write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
    }

    private func pad(_ n: Int, _ total: Int) -> String {
        let s = String(n)
        return String(repeating: " ", count: max(0, String(total).count - s.count)) + s
    }

    private static func perStep(_ seconds: Double) -> String {
        seconds >= 1 ? "\(fixed(seconds, 1))s/step" : "\(Int((seconds * 1000).rounded()))ms/step"
    }

    private func emit(_ line: String) { write(line + "\n") }

    private func write(_ text: String) {
        fflush(nil)  // whatever `print` buffered goes first, so lines stay in order in logs
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = LibC.write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { if errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }
}
