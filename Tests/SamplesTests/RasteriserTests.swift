import Foundation
import Support
import Testing

@testable import Samples

@Suite struct RasteriserTests {
    /// Sum of the red channel: the covered area in pixels for white on black.
    static func coveredArea(_ canvas: Canvas) -> Double {
        stride(from: 0, to: canvas.data.count, by: 3).reduce(0) { $0 + Double(canvas.data[$1]) }
    }

    @Test func circleCoverageEqualsItsArea() {
        let canvas = Canvas(width: 64, height: 64)
        canvas.fill(EllipseShape(center: Point(32.3, 31.7), rx: 20, ry: 20), .solid(.white))
        let area = Self.coveredArea(canvas)
        #expect(abs(area - Double.pi * 400) / (Double.pi * 400) < 0.003, "covered \(area)")
        // Anti-aliased: the outline has partial coverage, the interior full, the outside none.
        let partial = stride(from: 0, to: canvas.data.count, by: 3).filter {
            canvas.data[$0] > 0.02 && canvas.data[$0] < 0.98
        }.count
        #expect(partial > 60)
        #expect(canvas.data[(32 * 64 + 32) * 3] == 1)
        #expect(canvas.data[(2 * 64 + 2) * 3] == 0)
    }

    @Test func rotatedEllipseAreaAndBounds() {
        let canvas = Canvas(width: 80, height: 80)
        let ellipse = EllipseShape(center: Point(40, 40), rx: 30, ry: 10, angle: 0.7)
        canvas.fill(ellipse, .solid(.white))
        let area = Self.coveredArea(canvas)
        #expect(abs(area - Double.pi * 300) / (Double.pi * 300) < 0.005, "covered \(area)")
        // Nothing is drawn outside the reported bounds.
        let b = ellipse.bounds
        for y in 0..<80 {
            for x in 0..<80 where canvas.data[(y * 80 + x) * 3] > 0 {
                #expect(Double(x) + 1 > b.minX && Double(x) < b.maxX && Double(y) + 1 > b.minY && Double(y) < b.maxY)
            }
        }
    }

    @Test func ellipseDistanceHasTheRightSign() {
        let e = EllipseShape(center: Point(5, -3), rx: 7, ry: 2.5, angle: -1.1)
        var rng = SeededRandom(seed: 11)
        for _ in 0..<2000 {
            let x = rng.uniform(-10, 20), y = rng.uniform(-15, 10)
            let dx = x - 5, dy = y + 3
            let u = dx * cos(-1.1) + dy * sin(-1.1), v = -dx * sin(-1.1) + dy * cos(-1.1)
            let implicit = (u / 7) * (u / 7) + (v / 2.5) * (v / 2.5) - 1
            if abs(implicit) > 1e-9 { #expect((e.distance(x, y) < 0) == (implicit < 0)) }
        }
        // Near the outline the distance is close to the true one: a point 1 unit outside the end of the major axis.
        let tip = Point(5, -3) + Point.polar(-1.1, 8)
        #expect(abs(e.distance(tip.x, tip.y) - 1) < 0.05)
    }

    @Test func polygonEdgeThroughPixelCentresIsHalfCovered() {
        let canvas = Canvas(width: 30, height: 30)
        // Left edge at x = 10.5 runs through the centres of column 10: that column is half covered.
        canvas.fill(PolygonShape([Point(10.5, 5), Point(20, 5), Point(20, 25), Point(10.5, 25)]), .solid(.white))
        let edge = canvas.data[(15 * 30 + 10) * 3], inside = canvas.data[(15 * 30 + 15) * 3],
            outside = canvas.data[(15 * 30 + 8) * 3]
        #expect(abs(edge - 0.5) < 0.07)
        #expect(inside == 1)
        #expect(outside == 0)
    }

    @Test func polygonDistanceIsExact() {
        let square = PolygonShape([Point(0, 0), Point(10, 0), Point(10, 10), Point(0, 10)])
        #expect(abs(square.distance(5, 5) + 5) < 1e-12)
        #expect(abs(square.distance(13, 14) - 5) < 1e-12)
        #expect(abs(square.distance(-2, 5) - 2) < 1e-12)
    }

    @Test func featherRampsSmoothly() {
        let canvas = Canvas(width: 100, height: 10)
        canvas.fill(
            PolygonShape([Point(-10, -10), Point(50, -10), Point(50, 20), Point(-10, 20)]), .solid(.white), feather: 10)
        let row = (0..<100).map { canvas.data[(5 * 100 + $0) * 3] }
        #expect(row[30] == 1 && row[70] == 0)
        #expect(abs(row[49] - 0.5) < 0.1 || abs(row[50] - 0.5) < 0.1)
        for x in 36..<64 { #expect(row[x] <= row[x - 1]) }
        #expect(row.filter { $0 > 0.05 && $0 < 0.95 }.count >= 12)
    }

    @Test func arcCoversOnlyItsSweep() {
        // A half ring from angle 0 through pi/2 to pi: in the pixel frame (y down) that is the lower half.
        let arc = ArcShape(center: Point(20, 20), radius: 10, width: 2, start: 0, sweep: Double.pi)
        #expect(arc.distance(20, 30) < 0)  // bottom of the ring
        #expect(arc.distance(20, 10) > 1)  // top of the ring: outside the sweep
        #expect(arc.distance(20, 20) > 1)  // centre
        #expect(abs(arc.distance(30, 17) - 2) < 0.01)  // beyond the round cap at angle 0
    }

    @Test func mirroredFiguresAreMirrorImages() {
        // The same figure drawn facing right and facing left must be exact mirror images: this checks the
        // transform of ellipse angles, arc directions and polygons.
        func draw(mirrored: Bool) -> Canvas {
            let canvas = Canvas(width: 64, height: 48)
            let painter = Painter(
                canvas: canvas, transform: .figure(origin: Point(32, 40), scale: 20, mirrored: mirrored))
            painter.ellipse(Point(0.4, 0.8), 0.5, 0.2, angle: 0.6, .solid(RGB(1, 0, 0)))
            painter.arc(Point(-0.5, 0.9), radius: 0.3, width: 0.1, start: 0.3, sweep: 2.5, .solid(RGB(0, 1, 0)))
            painter.polygon([Point(-1, 0), Point(-0.2, 0.1), Point(-0.7, 0.6)], .solid(RGB(0, 0, 1)))
            painter.capsule(Point(0.2, 0), Point(1.2, 0.5), 0.1, 0.05, .solid(.white))
            return canvas
        }
        let right = draw(mirrored: false), left = draw(mirrored: true)
        var worst: Float = 0
        var drawn = 0
        for y in 0..<48 {
            for x in 0..<64 {
                for c in 0..<3 {
                    let a = right.data[(y * 64 + x) * 3 + c], b = left.data[(y * 64 + (63 - x)) * 3 + c]
                    worst = max(worst, abs(a - b))
                    if a > 0 { drawn += 1 }
                }
            }
        }
        #expect(drawn > 300)
        #expect(worst <= 1.0 / 16 + 1e-6)
    }

    @Test func blurKeepsTheMeanAndSoftensEdges() {
        let canvas = Canvas(width: 40, height: 40)
        canvas.fill(PolygonShape([Point(0, 0), Point(20, 0), Point(20, 40), Point(0, 40)]), .solid(.white))
        let before = Self.coveredArea(canvas)
        canvas.blur(sigma: 1.5)
        #expect(abs(Self.coveredArea(canvas) - before) < 0.5)
        let edge = canvas.data[(20 * 40 + 20) * 3]
        #expect(edge > 0.2 && edge < 0.5)
    }

    @Test func noiseHasTheRequestedStrength() {
        let canvas = Canvas(width: 200, height: 100, color: RGB(0.5, 0.5, 0.5))
        var rng = SeededRandom(seed: 5)
        canvas.addNoise(sigma: 0.02, chroma: 0.5, using: &rng)
        let values = canvas.data.map { Double($0) - 0.5 }
        let mean = values.reduce(0, +) / Double(values.count)
        let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
        #expect(abs(mean) < 0.001)
        // Luma 0.02 and chroma 0.01 are independent: about 0.0224 per channel.
        #expect(abs(sd - 0.0224) < 0.001, "sd \(sd)")
    }

    @Test func neutralLightingChangesNothing() {
        let canvas = Canvas(width: 16, height: 16, color: RGB(0.3, 0.6, 0.9))
        let before = canvas.data
        Lighting.neutral.apply(to: canvas, seed: 1)
        #expect(canvas.data.indices.allSatisfy { abs(canvas.data[$0] - before[$0]) < 1e-6 })
        var dim = Lighting.neutral
        dim.exposure = 0.5
        dim.apply(to: canvas, seed: 1)
        #expect(abs(canvas.data[0] - 0.15) < 1e-5 && abs(canvas.data[2] - 0.45) < 1e-5)
    }
}
