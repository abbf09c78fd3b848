import Support

/// Draws shapes given in a local frame (a figure's own units, y up) onto a `Canvas` through a similarity
/// transform, and records the pixel bounds of what it drew while `tracking` is on.
final class Painter {
    let canvas: Canvas
    var transform: Transform2D
    /// Whether shape bounds are added to `trackedBounds`.
    var tracking = false
    private(set) var trackedBounds: Box?
    /// Whether eyes shine back at an infrared lamp (night pictures).
    var eyeShine = false

    init(canvas: Canvas, transform: Transform2D = .identity) {
        self.canvas = canvas
        self.transform = transform
    }

    /// Pixels per local unit.
    var scale: Double { transform.scale }

    private func draw<S: Shape>(_ shape: S, _ paint: Paint, opacity: Double, feather: Double) {
        let pixelFeather = feather * transform.scale
        if tracking {
            let b = shape.bounds
            trackedBounds = trackedBounds.map { $0.union(b) } ?? b
        }
        canvas.fill(shape, paint.transformed(by: transform), opacity: opacity, feather: pixelFeather)
    }

    /// A filled ellipse; `angle` rotates the x radius counter-clockwise in the local frame.
    func ellipse(
        _ center: Point, _ rx: Double, _ ry: Double, angle: Double = 0, _ paint: Paint,
        opacity: Double = 1, feather: Double = 0
    ) {
        let s = transform.scale
        let shape = EllipseShape(
            center: transform.apply(center), rx: rx * s, ry: ry * s, angle: transform.mapAngle(angle))
        draw(shape, paint, opacity: opacity, feather: feather)
    }

    func circle(_ center: Point, _ radius: Double, _ paint: Paint, opacity: Double = 1, feather: Double = 0) {
        ellipse(center, radius, radius, paint, opacity: opacity, feather: feather)
    }

    /// A thick segment with round ends, radius `ra` at `a` tapering to `rb` at `b`.
    func capsule(
        _ a: Point, _ b: Point, _ ra: Double, _ rb: Double? = nil, _ paint: Paint,
        opacity: Double = 1, feather: Double = 0
    ) {
        let s = transform.scale
        let shape = CapsuleShape(a: transform.apply(a), b: transform.apply(b), ra: ra * s, rb: (rb ?? ra) * s)
        draw(shape, paint, opacity: opacity, feather: feather)
    }

    func polygon(_ points: [Point], _ paint: Paint, opacity: Double = 1, feather: Double = 0) {
        draw(PolygonShape(points.map(transform.apply)), paint, opacity: opacity, feather: feather)
    }

    /// A stroked circular arc from angle `start` (local frame, counter-clockwise) sweeping `sweep` radians.
    func arc(
        _ center: Point, radius: Double, width: Double, start: Double, sweep: Double, _ paint: Paint,
        opacity: Double = 1
    ) {
        let s = transform.scale
        let a0 = transform.mapAngle(start), a1 = transform.mapAngle(start + sweep)
        // Pixel frame angles grow clockwise on screen; the local frame's grow counter-clockwise unless mirrored.
        let first = transform.reversesOrientation ? a1 : a0
        let shape = ArcShape(
            center: transform.apply(center), radius: radius * s, width: width * s, start: first, sweep: sweep)
        draw(shape, paint, opacity: opacity, feather: 0)
    }
}

/// A quadratic Bézier curve sampled at `count + 1` points.
func bezier(_ p0: Point, _ p1: Point, _ p2: Point, count: Int) -> [Point] {
    (0...count).map { i in
        let t = Double(i) / Double(count)
        let u = 1 - t
        return p0 * (u * u) + p1 * (2 * u * t) + p2 * (t * t)
    }
}
