import CGPIOD
import LatchLink
import Support
import TestSupport
import Testing

@testable import LatchOwner

@Suite("Simulated latch")
struct SimulatedLatchTests {
    @Test("starts locked and records every actuation with its time")
    func timeline() throws {
        let clock = ManualClock(start: testClockStart)
        let latch = SimulatedLatch(clock: clock)
        #expect(latch.state == .locked)
        try latch.unlock()
        clock.advance(by: .seconds(2))
        try latch.lock()
        #expect(latch.state == .locked)
        #expect(
            latch.timeline == [
                SimulatedLatch.Actuation(state: .unlocked, time: stamp(0)),
                SimulatedLatch.Actuation(state: .locked, time: stamp(2_000)),
            ])
    }

    @Test("injected faults fail one actuation each and leave the state unchanged")
    func faults() throws {
        let latch = SimulatedLatch(name: "sim", clock: ManualClock(start: testClockStart))
        latch.injectFault("relay stuck")
        #expect(throws: LatchError(.simulatedFault("relay stuck"), latch: "sim")) { try latch.unlock() }
        #expect(latch.state == .locked)
        #expect(latch.timeline.isEmpty)
        try latch.unlock()
        #expect(latch.state == .unlocked)
    }

    @Test("close locks, then refuses further actuations; closing twice is harmless")
    func close() throws {
        let latch = SimulatedLatch(name: "sim", clock: ManualClock(start: testClockStart))
        try latch.unlock()
        try latch.close()
        #expect(latch.state == .locked)
        #expect(latch.isClosed)
        #expect(latch.timeline.map(\.state) == [.unlocked, .locked])
        try latch.close()
        #expect(throws: LatchError(.closed, latch: "sim")) { try latch.unlock() }
        #expect(LatchError(.closed, latch: "sim").description == "latch sim: latch is closed")
    }

    @Test("close still counts as closed when the final lock fails")
    func closeWithFault() throws {
        let latch = SimulatedLatch(name: "sim", clock: ManualClock(start: testClockStart))
        try latch.unlock()
        latch.injectFault("driver gone")
        #expect(throws: LatchError(.simulatedFault("driver gone"), latch: "sim")) { try latch.close() }
        #expect(latch.isClosed)
    }
}

@Suite("GPIO latch without hardware")
struct GPIOLatchTests {
    @Test(
        "a chip that does not exist is a clear error naming chip and line",
        arguments: [
            ("/dev/gpiochip-does-not-exist", GPIOLineSelector.offset(17)), ("gpiochip99", .offset(3)),
            ("99", .name("DOOR_LATCH")), ("no-such-label", .offset(0)),
        ])
    func missingChip(chip: String, line: GPIOLineSelector) {
        #expect(throws: LatchError(.chipNotFound, latch: "\(chip) line \(line)")) {
            _ = try GPIOLatch(chip: chip, line: line, activeLow: false)
        }
    }

    @Test("a device that is not a GPIO chip is refused")
    func notAChip() {
        do {
            _ = try GPIOLatch(chip: "/dev/null", line: .offset(0), activeLow: true)
            Issue.record("/dev/null accepted as a GPIO chip")
        } catch {
            #expect(error.latch == "/dev/null line 0")
            #expect(error.reason == .notAGPIOChip || error.reason == .chipNotFound)
        }
    }

    @Test("errors from each step map to typed reasons")
    func errorMapping() {
        func failure(_ step: dd_gpio_step, _ code: Int32, consumer: String = "") -> LatchError {
            var f = dd_gpio_failure()
            f.step = step
            f.error_number = code
            f.line_count = 32
            withUnsafeMutableBytes(of: &f.consumer) { raw in
                for (i, b) in consumer.utf8.enumerated() { raw[i] = b }
            }
            return GPIOLatch.error(from: f, latch: "gpiochip0 line 17")
        }
        #expect(failure(DD_GPIO_STEP_OPEN_CHIP, EACCES).reason == .permissionDenied)
        #expect(failure(DD_GPIO_STEP_OPEN_CHIP, ENOENT).reason == .chipNotFound)
        #expect(failure(DD_GPIO_STEP_FIND_LINE, ENOENT).reason == .lineNotFound)
        #expect(failure(DD_GPIO_STEP_LINE_RANGE, EINVAL).reason == .lineOutOfRange(lineCount: 32))
        #expect(failure(DD_GPIO_STEP_REQUEST, EBUSY, consumer: "gpio-keys").reason == .lineBusy(consumer: "gpio-keys"))
        #expect(failure(DD_GPIO_STEP_REQUEST, EBUSY).reason == .lineBusy(consumer: nil))
        #expect(failure(DD_GPIO_STEP_REQUEST, EIO).reason == .system(operation: "request line as output", code: EIO))
        #expect(
            failure(DD_GPIO_STEP_REQUEST, EBUSY, consumer: "gpio-keys").description
                == "latch gpiochip0 line 17: line busy: already requested by \"gpio-keys\"")
        #expect(
            failure(DD_GPIO_STEP_LINE_RANGE, EINVAL).description
                == "latch gpiochip0 line 17: line offset out of range (the chip has 32 lines)")
    }
}
