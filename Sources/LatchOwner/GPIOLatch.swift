import CGPIOD
import LatchLink
import Support
import Synchronization

/// The latch on a GPIO line through the kernel's character device (libgpiod v1.6).
///
/// The line is requested as an output owned by `dogdoor-latch` with its initial value "locked", which is the
/// line's inactive (logical 0) level; `activeLow` makes the inactive level electrically high. A released
/// line is not promised to stay at that level (docs/hardware.md): the owner holds the line for as long as it
/// runs, and the board's pull resistor must hold the locked level whenever nobody does.
public final class GPIOLatch: Latch {
    /// The consumer name the line is requested under (what `gpioinfo` shows).
    public static let consumer = "dogdoor-latch"

    public let name: String
    private struct State {
        var output: OpaquePointer?
        var state: LatchState = .locked
    }
    private let storage: Mutex<State>

    /// Opens `chip` (a path such as `/dev/gpiochip0`, a name such as `gpiochip0`, a label, or a number),
    /// finds `line`, and requests it as an output at the locked level.
    /// The corresponding C functions are `gpiod_chip_open_lookup`, `gpiod_chip_find_line` /
    /// `gpiod_chip_get_line` and `gpiod_line_request_output_flags`.
    public init(chip: String, line: GPIOLineSelector, activeLow: Bool) throws(LatchError) {
        let name = "\(chip) line \(line)"
        self.name = name
        var failure = dd_gpio_failure()
        let output: OpaquePointer? =
            switch line {
            case .name(let lineName):
                dd_gpio_open_output(chip, lineName, 0, activeLow ? 1 : 0, Self.consumer, 0, &failure)
            case .offset(let offset):
                dd_gpio_open_output(chip, nil, offset, activeLow ? 1 : 0, Self.consumer, 0, &failure)
            }
        guard let output else { throw Self.error(from: failure, latch: name) }
        storage = Mutex(State(output: output))
    }

    deinit {
        storage.withLock { state in
            if let output = state.output {
                _ = dd_gpio_set_value(output, 0)
                dd_gpio_close(output)
                state.output = nil
            }
        }
    }

    public var state: LatchState { storage.withLock { $0.state } }

    /// Sets the line inactive. The corresponding C function is `gpiod_line_set_value`.
    public func lock() throws(LatchError) { try set(.locked) }

    /// Sets the line active. The corresponding C function is `gpiod_line_set_value`.
    public func unlock() throws(LatchError) { try set(.unlocked) }

    /// Sets the line inactive, then releases it and closes the chip (`gpiod_line_release`,
    /// `gpiod_chip_close`).
    public func close() throws(LatchError) {
        let code: Int32? = storage.withLock { state in
            guard let output = state.output else { return nil }
            let code = dd_gpio_set_value(output, 0)
            if code == 0 { state.state = .locked }
            dd_gpio_close(output)
            state.output = nil
            return code
        }
        if let code, code < 0 { throw LatchError(.system(operation: "set value (lock)", code: -code), latch: name) }
    }

    /// The kernel name ("gpiochip0") of `chip` (a path, name, label or number), found without requesting any
    /// line: for the udev rule that gives the latch owner this one chip. The corresponding C function is
    /// `gpiod_chip_open_lookup`.
    public static func kernelName(ofChip chip: String) throws(LatchError) -> String {
        var name = [CChar](repeating: 0, count: 64)
        let code = dd_gpio_chip_lookup(chip, &name, name.count)
        guard code == 0 else {
            var failure = dd_gpio_failure()
            failure.step = DD_GPIO_STEP_OPEN_CHIP
            failure.error_number = -code
            throw error(from: failure, latch: chip)
        }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads the line's logical value back from the kernel (`gpiod_line_get_value`).
    public func readBack() throws(LatchError) -> LatchState {
        let result: Result<LatchState, LatchError> = storage.withLock { state in
            guard let output = state.output else { return .failure(LatchError(.closed, latch: name)) }
            var value: Int32 = 0
            let code = dd_gpio_get_value(output, &value)
            guard code == 0 else {
                return .failure(LatchError(.system(operation: "get value", code: -code), latch: name))
            }
            return .success(value == 0 ? .locked : .unlocked)
        }
        return try result.get()
    }

    private func set(_ target: LatchState) throws(LatchError) {
        let result: Result<Void, LatchError> = storage.withLock { state in
            guard let output = state.output else { return .failure(LatchError(.closed, latch: name)) }
            let code = dd_gpio_set_value(output, target == .locked ? 0 : 1)
            guard code == 0 else {
                return .failure(
                    LatchError(.system(operation: "set value (\(target.rawValue))", code: -code), latch: name))
            }
            state.state = target
            return .success(())
        }
        try result.get()
    }

    static func error(from failure: dd_gpio_failure, latch: String) -> LatchError {
        let code = failure.error_number
        switch failure.step {
        case DD_GPIO_STEP_OPEN_CHIP:
            switch code {
            case ENOENT, ENXIO: return LatchError(.chipNotFound, latch: latch)
            case EACCES, EPERM: return LatchError(.permissionDenied, latch: latch)
            case ENODEV, ENOTTY, EINVAL: return LatchError(.notAGPIOChip, latch: latch)
            default: return LatchError(.system(operation: "open chip", code: code), latch: latch)
            }
        case DD_GPIO_STEP_FIND_LINE:
            if code == ENOENT { return LatchError(.lineNotFound, latch: latch) }
            return LatchError(.system(operation: "find line", code: code), latch: latch)
        case DD_GPIO_STEP_LINE_RANGE:
            return LatchError(.lineOutOfRange(lineCount: Int(failure.line_count)), latch: latch)
        case DD_GPIO_STEP_REQUEST:
            switch code {
            case EBUSY:
                let consumer = withUnsafeBytes(of: failure.consumer) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                return LatchError(.lineBusy(consumer: consumer.isEmpty ? nil : consumer), latch: latch)
            case EACCES, EPERM: return LatchError(.permissionDenied, latch: latch)
            default: return LatchError(.system(operation: "request line as output", code: code), latch: latch)
            }
        default:
            return LatchError(.system(operation: "open", code: code), latch: latch)
        }
    }
}
