import Support

/// A filled region in pixel coordinates, described by an approximate signed distance (negative inside).
///
/// The rasteriser needs the distance to be accurate to a fraction of a pixel only near the edge (within
/// about one pixel it supersamples the sign instead); farther away the sign must be right and the magnitude
/// must not overestimate the true distance by much.
protocol Shape {
    /// A box that contains every point of the shape.
    var bounds: Box { get }
    /// Signed distance in pixels from (x, y) to the outline; negative inside.
    func distance(_ x: Double, _ y: Double) -> Double
}

/// A rotated ellipse.
struct EllipseShape: Shape {
    var center: Point
    var rx: Double
    var ry: Double
    /// Rotation of the x radius, radians (pixel frame, y down: positive turns clockwise on screen).
    var angle: Double
    private let cosA: Double
    private let sinA: Double

    init(center: Point, rx: Double, ry: Double, angle: Double = 0) {
        self.center = center
        self.rx = max(rx, 1e-6)
        self.ry = max(ry, 1e-6)
        self.angle = angle
        cosA = cos(angle)
        sinA = sin(angle)
    }

    var bounds: Box {
        let hw = (rx * rx * cosA * cosA + ry * ry * sinA * sinA).squareRoot()
        let hh = (rx * rx * sinA * sinA + ry * ry * cosA * cosA).squareRoot()
        return Box(minX: center.x - hw, minY: center.y - hh, maxX: center.x + hw, maxY: center.y + hh)
    }

    func distance(_ x: Double, _ y: Double) -> Double {
        let dx = x - center.x, dy = y - center.y
        let u = dx * cosA + dy * sinA
        let v = -dx * sinA + dy * cosA
        // k0 (k0 - 1) / k1: first-order accurate at the outline, the sign is exact everywhere.
        let k0 = ((u / rx) * (u / rx) + (v / ry) * (v / ry)).squareRoot()
        let k1 = ((u / (rx * rx)) * (u / (rx * rx)) + (v / (ry * ry)) * (v / (ry * ry))).squareRoot()
        guard k1 > 1e-12 else { return -min(rx, ry) }
        return k0 * (k0 - 1) / k1
    }
}

/// A segment swept by a disc whose radius varies linearly from `ra` at `a` to `rb` at `b` (a thick,
/// possibly tapered line with round caps).
struct CapsuleShape: Shape {
    var a: Point
    var b: Point
    var ra: Double
    var rb: Double

    var bounds: Box {
        let r = max(ra, rb)
        return Box(minX: min(a.x, b.x) - r, minY: min(a.y, b.y) - r, maxX: max(a.x, b.x) + r, maxY: max(a.y, b.y) + r)
    }

    func distance(_ x: Double, _ y: Double) -> Double {
        let pax = x - a.x, pay = y - a.y
        let bax = b.x - a.x, bay = b.y - a.y
        let len2 = bax * bax + bay * bay
        let h = len2 > 0 ? min(1, max(0, (pax * bax + pay * bay) / len2)) : 0
        let dx = pax - bax * h, dy = pay - bay * h
        return (dx * dx + dy * dy).squareRoot() - (ra + (rb - ra) * h)
    }
}

/// A simple polygon (even-odd rule), with the exact distance to its edges.
struct PolygonShape: Shape {
    var points: [Point]
    let bounds: Box

    init(_ points: [Point]) {
        precondition(points.count >= 3, "a polygon needs three points")
        self.points = points
        bounds = Box(around: points)
    }

    func distance(_ x: Double, _ y: Double) -> Double {
        var best = Double.infinity
        var inside = false
        var j = points.count - 1
        for i in 0..<points.count {
            let pi = points[i], pj = points[j]
            let ex = pj.x - pi.x, ey = pj.y - pi.y
            let wx = x - pi.x, wy = y - pi.y
            let len2 = ex * ex + ey * ey
            let h = len2 > 0 ? min(1, max(0, (wx * ex + wy * ey) / len2)) : 0
            let dx = wx - ex * h, dy = wy - ey * h
            best = min(best, dx * dx + dy * dy)
            if (pi.y > y) != (pj.y > y) {
                let crossX = pi.x + (y - pi.y) * ex / ey
                if x < crossX { inside.toggle() }
            }
            j = i
        }
        let d = best.squareRoot()
        return inside ? -d : d
    }
}

/// A circular arc stroked with round caps: the arc of radius `radius` around `center` from angle `start`
/// sweeping `sweep` radians (increasing angle in the pixel frame), `width` pixels wide.
struct ArcShape: Shape {
    var center: Point
    var radius: Double
    var width: Double
    var start: Double
    var sweep: Double
    private let end1: Point
    private let end2: Point

    init(center: Point, radius: Double, width: Double, start: Double, sweep: Double) {
        self.center = center
        self.radius = radius
        self.width = width
        self.start = start
        self.sweep = min(max(sweep, 0), 2 * Double.pi)
        end1 = center + Point.polar(start, radius)
        end2 = center + Point.polar(start + self.sweep, radius)
    }

    var bounds: Box {
        let r = radius + width / 2
        return Box(minX: center.x - r, minY: center.y - r, maxX: center.x + r, maxY: center.y + r)
    }

    func distance(_ x: Double, _ y: Double) -> Double {
        let dx = x - center.x, dy = y - center.y
        let ring = abs((dx * dx + dy * dy).squareRoot() - radius) - width / 2
        // Far from the ring the ring distance is a lower bound of the arc distance: good enough there.
        if ring >= 1.5 { return ring }
        var rel = atan2(dy, dx) - start
        rel -= 2 * Double.pi * (rel / (2 * Double.pi)).rounded(.down)
        if rel <= sweep { return ring }
        let d1 = ((x - end1.x) * (x - end1.x) + (y - end1.y) * (y - end1.y)).squareRoot()
        let d2 = ((x - end2.x) * (x - end2.x) + (y - end2.y) * (y - end2.y)).squareRoot()
        return min(d1, d2) - width / 2
    }
}
