import Imaging
import Inference
import Testing

@Suite struct MotionGateTests {
    static func scene(_ value: UInt8, box: (x: Int, y: Int)? = nil) -> Thumbnail {
        var pixels = [UInt8](repeating: value, count: 32 * 24)
        if let box {
            for y in box.y..<(box.y + 6) { for x in box.x..<(box.x + 6) { pixels[y * 32 + x] = 250 } }
        }
        return Thumbnail(width: 32, height: 24, pixels: pixels)
    }

    @Test func stillScenesAreSkippedMotionIsEvaluated() {
        var gate = MotionGate(
            settings: .init(sensitivity: 0.01, pixelThreshold: 12, holdAfterMotion: 2, idleInterval: 10))
        #expect(gate.observe(Self.scene(100), at: 0) == .first)
        #expect(gate.observe(Self.scene(102), at: 0.2) == .afterMotion, "within the hold after the first frame")
        #expect(gate.observe(Self.scene(101), at: 2.5) == .still)
        #expect(gate.observe(Self.scene(100, box: (5, 5)), at: 2.7) == .motion)
        #expect(gate.observe(Self.scene(100, box: (6, 5)), at: 2.9) == .motion)
        // The animal stops: still evaluated for the hold, then skipped.
        #expect(gate.observe(Self.scene(100, box: (6, 5)), at: 3.1) == .afterMotion)
        #expect(gate.observe(Self.scene(100, box: (6, 5)), at: 4.8) == .afterMotion)
        #expect(gate.observe(Self.scene(100, box: (6, 5)), at: 5.2) == .still)
        // A still scene is looked at once per idle interval (counted from the last evaluation, at 4.8 s).
        #expect(gate.observe(Self.scene(100, box: (6, 5)), at: 14.7) == .still)
        #expect(gate.observe(Self.scene(100, box: (6, 5)), at: 14.9) == .idleCheck)
        #expect(gate.observe(Self.scene(100, box: (6, 5)), at: 15.1) == .still)
    }

    @Test func slowLightingChangesAreNotMotion() {
        var gate = MotionGate(
            settings: .init(sensitivity: 0.01, pixelThreshold: 12, holdAfterMotion: 0, idleInterval: 0))
        _ = gate.observe(Self.scene(50), at: 0)
        var evaluated = 0
        for step in 1...200 {
            // One grey level every half second: dawn.
            if gate.observe(Self.scene(UInt8(50 + step / 2)), at: Double(step) * 0.5).evaluate { evaluated += 1 }
        }
        #expect(evaluated == 0)
    }

    @Test func sensitivityIsAFractionOfPixels() {
        var strict = MotionGate(
            settings: .init(sensitivity: 0.2, pixelThreshold: 12, holdAfterMotion: 0, idleInterval: 0))
        var loose = MotionGate(
            settings: .init(sensitivity: 0.01, pixelThreshold: 12, holdAfterMotion: 0, idleInterval: 0))
        _ = strict.observe(Self.scene(100), at: 0)
        _ = loose.observe(Self.scene(100), at: 0)
        // 36 of 768 pixels (4.7%) change.
        #expect(strict.observe(Self.scene(100, box: (10, 10)), at: 1) == .still)
        #expect(loose.observe(Self.scene(100, box: (10, 10)), at: 1) == .motion)
        #expect(abs(loose.changedFraction - 36.0 / 768.0) < 1e-9)
    }

    @Test func thumbnailsAverageTheImage() {
        let image = Image(width: 64, height: 48) { x, _ in x < 32 ? (0, 0, 0) : (255, 255, 255) }
        let t = Thumbnail(image, width: 4, height: 2)
        #expect(t.pixels == [0, 0, 255, 255, 0, 0, 255, 255])
    }
}
