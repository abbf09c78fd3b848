import Support

/// A point or vector in the plane.
struct Point: Sendable, Equatable {
    var x: Double
    var y: Double

    init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }

    static func + (a: Point, b: Point) -> Point { Point(a.x + b.x, a.y + b.y) }
    static func - (a: Point, b: Point) -> Point { Point(a.x - b.x, a.y - b.y) }
    static func * (a: Point, k: Double) -> Point { Point(a.x * k, a.y * k) }
    func dot(_ other: Point) -> Double { x * other.x + y * other.y }
    var length: Double { (x * x + y * y).squareRoot() }

    /// The point `t` of the way from `self` to `other`.
    func lerp(_ other: Point, _ t: Double) -> Point { Point(x + (other.x - x) * t, y + (other.y - y) * t) }

    /// This vector rotated counter-clockwise (in a y-up frame) by `angle` radians.
    func rotated(_ angle: Double) -> Point {
        let c = cos(angle), s = sin(angle)
        return Point(x * c - y * s, x * s + y * c)
    }

    /// A unit vector at `angle` radians.
    static func polar(_ angle: Double, _ radius: Double = 1) -> Point {
        Point(cos(angle) * radius, sin(angle) * radius)
    }
}

/// An axis-aligned rectangle with real coordinates.
struct Box: Sendable, Equatable {
    var minX: Double
    var minY: Double
    var maxX: Double
    var maxY: Double

    init(minX: Double, minY: Double, maxX: Double, maxY: Double) {
        self.minX = minX
        self.minY = minY
        self.maxX = maxX
        self.maxY = maxY
    }

    /// The smallest box around `points` (which must not be empty).
    init(around points: [Point]) {
        precondition(!points.isEmpty)
        var box = Box(minX: points[0].x, minY: points[0].y, maxX: points[0].x, maxY: points[0].y)
        for p in points.dropFirst() {
            box.minX = min(box.minX, p.x)
            box.minY = min(box.minY, p.y)
            box.maxX = max(box.maxX, p.x)
            box.maxY = max(box.maxY, p.y)
        }
        self = box
    }

    var width: Double { maxX - minX }
    var height: Double { maxY - minY }
    var area: Double { max(0, width) * max(0, height) }

    func union(_ other: Box) -> Box {
        Box(
            minX: min(minX, other.minX), minY: min(minY, other.minY), maxX: max(maxX, other.maxX),
            maxY: max(maxY, other.maxY))
    }

    /// The overlap of both boxes, or nil when they do not overlap.
    func intersection(_ other: Box) -> Box? {
        let box = Box(
            minX: max(minX, other.minX), minY: max(minY, other.minY),
            maxX: min(maxX, other.maxX), maxY: min(maxY, other.maxY))
        return box.minX < box.maxX && box.minY < box.maxY ? box : nil
    }

    func outset(_ amount: Double) -> Box {
        Box(minX: minX - amount, minY: minY - amount, maxX: maxX + amount, maxY: maxY + amount)
    }
}

/// An affine map `(x, y) -> (a x + b y + tx, c x + d y + ty)`. Drawing code only builds similarities
/// (rotation, uniform scale, mirror, translation), which map circles to circles.
struct Transform2D: Sendable, Equatable {
    var a: Double, b: Double, c: Double, d: Double, tx: Double, ty: Double

    static let identity = Transform2D(a: 1, b: 0, c: 0, d: 1, tx: 0, ty: 0)

    /// Maps a y-up frame with its origin at `origin` (pixels) to pixels: `scale` pixels per unit, mirrored
    /// left-right when `mirrored`, then rotated by `tilt` radians (positive tips the figure clockwise on screen).
    static func figure(origin: Point, scale: Double, mirrored: Bool, tilt: Double = 0) -> Transform2D {
        let f = mirrored ? -1.0 : 1.0
        let ct = cos(tilt), st = sin(tilt)
        // Local (x, y) -> screen offset (f x s, -y s), rotated by tilt in screen space (y down).
        let a = f * scale * ct, b = scale * st
        let c = f * scale * st, d = -scale * ct
        return Transform2D(a: a, b: b, c: c, d: d, tx: origin.x, ty: origin.y)
    }

    func apply(_ p: Point) -> Point { Point(a * p.x + b * p.y + tx, c * p.x + d * p.y + ty) }

    /// Maps a vector (no translation).
    func applyLinear(_ v: Point) -> Point { Point(a * v.x + b * v.y, c * v.x + d * v.y) }

    var determinant: Double { a * d - b * c }

    /// The length scale factor (exact for similarities).
    var scale: Double { abs(determinant).squareRoot() }

    /// Whether the map reverses orientation.
    var reversesOrientation: Bool { determinant < 0 }

    /// The angle of the image of the direction at `angle`.
    func mapAngle(_ angle: Double) -> Double {
        let v = applyLinear(Point(cos(angle), sin(angle)))
        return atan2(v.y, v.x)
    }
}

/// Hermite smoothstep of `t` clamped to 0...1.
@inline(__always)
func smoothstep(_ t: Double) -> Double {
    let u = min(1, max(0, t))
    return u * u * (3 - 2 * u)
}

@inline(__always)
func clamp01(_ v: Double) -> Double { min(1, max(0, v)) }

@inline(__always)
func mix(_ a: Double, _ b: Double, _ t: Double) -> Double { a + (b - a) * t }
