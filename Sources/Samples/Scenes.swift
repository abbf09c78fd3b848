import Support

/// Draws the settings behind the animals, props, foreground occluders, and the final lighting.
///
/// Every scene has a horizon at `horizon * height`: above it a wall, fence, hedge or sky; below it the floor
/// or ground the subject stands on. The same scene distribution serves both classes, so the background
/// carries no information about the label.
struct SceneRenderer {
    let canvas: Canvas
    let kind: SceneKind
    /// Horizon in pixels.
    let horizonY: Double
    var rng: SeededRandom

    private var w: Double { Double(canvas.width) }
    private var h: Double { Double(canvas.height) }
    /// The size of things at the bottom of the frame, relative to a 240-pixel-high image.
    private var unit: Double { h / 240 }

    init(canvas: Canvas, kind: SceneKind, horizon: Double, rng: SeededRandom) {
        self.canvas = canvas
        self.kind = kind
        horizonY = horizon * Double(canvas.height)
        self.rng = rng
    }

    /// An object standing on the ground, drawn from its own seed so that it can be drawn again over a
    /// subject standing behind it.
    struct Prop {
        var base: Point
        var size: Double
        var seed: UInt64
    }

    /// Draws the background and props; returns the props (a subject whose feet are above a prop's base is
    /// behind it, and the prop must be drawn again over the subject).
    mutating func drawBackground() -> [Prop] {
        switch kind {
        case .lawn: drawLawn()
        case .floor: drawIndoor()
        case .porch: drawPorch()
        case .doorway: drawDoorway()
        case .clutter: drawClutter()
        }
        let count = kind == .clutter ? rng.nextInt(below: 3) : rng.nextInt(below: 4) + (kind == .porch ? 1 : 0)
        var props: [Prop] = []
        for _ in 0..<count {
            let y = rng.uniform(horizonY + 0.05 * (h - horizonY), h + 5)
            let near = clamp01((y - horizonY) / max(1, h - horizonY))
            let prop = Prop(
                base: Point(rng.uniform(-0.05, 1.05) * w, y), size: (8 + 28 * near) * unit * rng.uniform(0.7, 1.3),
                seed: rng.next())
            drawProp(prop, shadow: true)
            props.append(prop)
        }
        return props
    }

    /// Occluders in front of the subject (grass blades on a lawn, a railing post on a porch); drawn after it.
    mutating func drawForeground() {
        switch kind {
        case .lawn:
            let blades = Int(w / 6)
            for _ in 0..<blades {
                let x = rng.uniform(0, w), y = h - rng.uniform(0, 8 * unit)
                grassBlade(at: Point(x, y), length: rng.uniform(6, 16) * unit)
            }
        case .porch:
            if rng.nextDouble() < 0.3 {
                let x = rng.nextDouble() < 0.5 ? rng.uniform(-10, 0.12 * w) : rng.uniform(0.88 * w, w + 10)
                let postWidth = rng.uniform(10, 20) * unit
                let color = rng.nextDouble() < 0.6 ? RGB(0.9, 0.89, 0.85) : RGB(0.45, 0.3, 0.2)
                canvas.fill(
                    PolygonShape([
                        Point(x, h * 0.35), Point(x + postWidth, h * 0.35), Point(x + postWidth, h), Point(x, h),
                    ]),
                    .linear(Point(x, 0), color, Point(x + postWidth, 0), color.shaded(-0.3)))
            }
        case .floor, .doorway, .clutter:
            break
        }
    }

    // MARK: - Helpers

    private func verticalGradient(_ top: RGB, _ bottom: RGB, from y0: Double, to y1: Double) {
        canvas.shadeRows(Int(y0), Int(ceil(y1))) { _, y, _ in
            top.mixed(with: bottom, clamp01((Double(y) - y0) / max(1, y1 - y0)))
        }
    }

    /// Depth coordinate of a floor row below the horizon: larger is farther.
    private func depth(_ y: Double) -> Double { h * 0.5 / max(0.5, y - horizonY) }

    private mutating func pick(_ palette: [RGB], jitter: Double = 0.08) -> RGB {
        palette[rng.nextInt(below: palette.count)].jittered(&rng, brightness: jitter, hue: jitter / 2)
    }

    private func grassBlade(at base: Point, length: Double) {
        var r = SeededRandom(seed: UInt64(bitPattern: Int64(base.x * 1000)) ^ UInt64(bitPattern: Int64(base.y * 7919)))
        let green = RGB(0.25, 0.45, 0.15).jittered(&r, brightness: 0.35, hue: 0.15)
        let lean = r.uniform(-0.5, 0.5)
        let tip = base + Point(sin(lean) * length, -cos(lean) * length)
        canvas.fill(CapsuleShape(a: base, b: tip, ra: max(0.6, length * 0.08), rb: 0.2), .solid(green))
    }

    // MARK: - Lawn

    private mutating func drawLawn() {
        let backdrop = rng.nextInt(below: 4)
        switch backdrop {
        case 0:  // sky and distant trees
            verticalGradient(
                pick([RGB(0.45, 0.65, 0.9), RGB(0.7, 0.78, 0.88), RGB(0.85, 0.85, 0.85)]),
                RGB(0.85, 0.9, 0.95), from: 0, to: horizonY)
            for _ in 0..<rng.nextInt(below: 5) {
                canvas.fill(
                    EllipseShape(
                        center: Point(rng.uniform(0, w), rng.uniform(0, horizonY * 0.6)),
                        rx: rng.uniform(20, 60) * unit, ry: rng.uniform(8, 20) * unit),
                    .solid(RGB(0.97, 0.97, 0.98)), opacity: 0.8, feather: 6 * unit)
            }
            for _ in 0..<(4 + rng.nextInt(below: 8)) {
                let x = rng.uniform(0, w), r = rng.uniform(15, 50) * unit
                canvas.fill(
                    EllipseShape(center: Point(x, horizonY - r * 0.5), rx: r, ry: r * 0.9),
                    .solid(pick([RGB(0.2, 0.35, 0.15), RGB(0.25, 0.4, 0.2), RGB(0.15, 0.28, 0.12)])))
            }
        case 1:  // hedge
            verticalGradient(RGB(0.12, 0.25, 0.1), RGB(0.18, 0.32, 0.12), from: 0, to: horizonY)
            let leaves = Int(w * horizonY / (60 * unit * unit))
            for _ in 0..<leaves {
                let c = Point(rng.uniform(0, w), rng.uniform(0, horizonY))
                canvas.fill(
                    EllipseShape(
                        center: c, rx: rng.uniform(2, 6) * unit, ry: rng.uniform(1.5, 4) * unit,
                        angle: rng.uniform(0, 3)),
                    .solid(pick([RGB(0.2, 0.4, 0.15), RGB(0.3, 0.5, 0.2), RGB(0.1, 0.22, 0.08)], jitter: 0.2)))
            }
        case 2:  // wooden fence
            let wood = pick([RGB(0.55, 0.4, 0.28), RGB(0.65, 0.6, 0.55), RGB(0.4, 0.28, 0.18), RGB(0.85, 0.84, 0.8)])
            let plank = rng.uniform(14, 26) * unit
            let noise = ValueNoise(seed: rng.next())
            canvas.shadeRows(0, Int(ceil(horizonY))) { x, y, _ in
                let u = Double(x) / plank
                let gap = u - floor(u) < 0.06
                let grain = noise.value(Double(x) / 3, Double(y) / 40)
                return gap ? RGB(0.1, 0.12, 0.08) : wood.scaled(0.85 + 0.25 * grain)
            }
        default:  // brick wall
            let brick = pick([RGB(0.6, 0.3, 0.2), RGB(0.55, 0.4, 0.3), RGB(0.7, 0.6, 0.5)])
            let bh = rng.uniform(7, 11) * unit, bw = bh * 2.6
            let noise = ValueNoise(seed: rng.next())
            canvas.shadeRows(0, Int(ceil(horizonY))) { x, y, _ in
                let row = floor(Double(y) / bh)
                let offset = row.truncatingRemainder(dividingBy: 2) * bw / 2
                let fx = (Double(x) + offset) / bw, fy = Double(y) / bh
                let mortar = fx - floor(fx) < 0.06 || fy - floor(fy) < 0.12
                let tone = noise.value(floor(fx) * 3.1, row * 1.7)
                return mortar ? RGB(0.75, 0.73, 0.68) : brick.scaled(0.8 + 0.35 * tone)
            }
        }
        // Grass.
        let grass = pick([RGB(0.3, 0.5, 0.18), RGB(0.4, 0.55, 0.2), RGB(0.35, 0.45, 0.2), RGB(0.5, 0.55, 0.25)])
        let noise = ValueNoise(seed: rng.next())
        let hy = horizonY
        canvas.shadeRows(Int(hy), canvas.height) { x, y, _ in
            let d = self.depth(Double(y))
            let n = noise.fractal(Double(x) / (12 * self.unit) * d, d * 4, octaves: 3)
            return grass.scaled(0.65 + 0.55 * n).shaded(-0.15 * min(1, d / 6))
        }
        let blades = Int(w * (h - hy) / (28 * unit * unit))
        for _ in 0..<blades {
            let y = rng.uniform(hy, h + 4)
            let near = (y - hy) / max(1, h - hy)
            grassBlade(at: Point(rng.uniform(0, w), y), length: (2 + near * 12 * rng.uniform(0.5, 1.2)) * unit)
        }
        let flowers = rng.nextInt(below: 25)
        for _ in 0..<flowers {
            let y = rng.uniform(hy, h)
            let near = (y - hy) / max(1, h - hy)
            canvas.fill(
                EllipseShape(
                    center: Point(rng.uniform(0, w), y), rx: (1 + 2.5 * near) * unit, ry: (1 + 2 * near) * unit),
                .solid(pick([RGB(0.95, 0.95, 0.9), RGB(0.95, 0.85, 0.2), RGB(0.6, 0.4, 0.8)])))
        }
    }

    // MARK: - Indoor floor

    private mutating func drawIndoor() {
        let wall = pick([
            RGB(0.85, 0.8, 0.7), RGB(0.75, 0.78, 0.8), RGB(0.6, 0.7, 0.78), RGB(0.9, 0.9, 0.88),
            RGB(0.55, 0.6, 0.5), RGB(0.35, 0.33, 0.35), RGB(0.8, 0.65, 0.55),
        ])
        let wallNoise = ValueNoise(seed: rng.next())
        canvas.shadeRows(0, Int(ceil(horizonY))) { x, y, _ in
            wall.scaled(0.92 + 0.1 * wallNoise.value(Double(x) / 50, Double(y) / 50))
        }
        // Wall furniture: a picture, a radiator or a cupboard.
        for _ in 0..<rng.nextInt(below: 3) {
            let fw = rng.uniform(0.12, 0.3) * w, fh = rng.uniform(0.2, 0.6) * horizonY
            let x0 = rng.uniform(-0.1 * w, w), y0 = rng.uniform(0, max(1, horizonY - fh))
            let frame = pick([RGB(0.1, 0.1, 0.1), RGB(0.9, 0.9, 0.88), RGB(0.5, 0.35, 0.2)])
            canvas.fill(
                PolygonShape([Point(x0, y0), Point(x0 + fw, y0), Point(x0 + fw, y0 + fh), Point(x0, y0 + fh)]),
                .solid(frame))
            let m = min(fw, fh) * 0.1
            canvas.fill(
                PolygonShape([
                    Point(x0 + m, y0 + m), Point(x0 + fw - m, y0 + m), Point(x0 + fw - m, y0 + fh - m),
                    Point(x0 + m, y0 + fh - m),
                ]),
                .linear(
                    Point(x0, y0), pick([RGB(0.4, 0.6, 0.8), RGB(0.8, 0.5, 0.3), RGB(0.3, 0.5, 0.3)], jitter: 0.3),
                    Point(x0 + fw, y0 + fh), pick([RGB(0.9, 0.85, 0.6), RGB(0.2, 0.25, 0.4)], jitter: 0.3)))
        }
        // Skirting board.
        let skirting = pick([RGB(0.93, 0.92, 0.9), RGB(0.5, 0.35, 0.22), RGB(0.3, 0.3, 0.3)])
        let sk = rng.uniform(5, 10) * unit
        canvas.fill(
            PolygonShape([
                Point(-1, horizonY - sk), Point(w + 1, horizonY - sk), Point(w + 1, horizonY), Point(-1, horizonY),
            ]),
            .linear(Point(0, horizonY - sk), skirting, Point(0, horizonY), skirting.shaded(-0.2)))
        // Floor: planks, tiles or carpet.
        let style = rng.nextInt(below: 3)
        let noise = ValueNoise(seed: rng.next())
        let vx = rng.uniform(0.2, 0.8) * w
        let hy = horizonY
        switch style {
        case 0:
            let wood = pick([RGB(0.6, 0.42, 0.25), RGB(0.75, 0.6, 0.42), RGB(0.45, 0.3, 0.2), RGB(0.7, 0.68, 0.62)])
            let plankAngle = rng.uniform(0.08, 0.16)
            canvas.shadeRows(Int(hy), canvas.height) { x, y, _ in
                let d = self.depth(Double(y))
                let u = (Double(x) - vx) * d / self.h / plankAngle
                let plank = floor(u)
                let seam = u - plank < 0.04 / max(0.3, d / 2)
                let along = d * 3 + noise.value(plank * 7.3, 0) * 10
                let grain = noise.value(u * 4, along * 2)
                let tone = 0.8 + 0.3 * noise.value(plank * 3.7, floor(along))
                return seam ? wood.shaded(-0.5) : wood.scaled(tone * (0.9 + 0.15 * grain))
            }
        case 1:
            let a = pick([RGB(0.9, 0.88, 0.84), RGB(0.7, 0.65, 0.6), RGB(0.6, 0.35, 0.25)])
            let b = rng.nextDouble() < 0.3 ? pick([RGB(0.15, 0.15, 0.15), RGB(0.5, 0.45, 0.4)]) : a.shaded(-0.06)
            let tile = rng.uniform(0.3, 0.6)
            canvas.shadeRows(Int(hy), canvas.height) { x, y, _ in
                let d = self.depth(Double(y))
                let u = (Double(x) - vx) * d / self.h / tile, v = d / tile * 0.6
                let iu = floor(u), iv = floor(v)
                let grout = u - iu < 0.05 || v - iv < 0.05 * max(1, d / 3)
                let checker = (Int(iu) + Int(iv)) & 1 == 0
                return grout ? RGB(0.55, 0.53, 0.5) : (checker ? a : b).scaled(0.92 + 0.1 * noise.value(u * 3, v * 3))
            }
        default:
            let carpet = pick([RGB(0.55, 0.5, 0.45), RGB(0.35, 0.35, 0.45), RGB(0.6, 0.3, 0.25), RGB(0.8, 0.78, 0.72)])
            canvas.shadeRows(Int(hy), canvas.height) { x, y, _ in
                carpet.scaled(0.85 + 0.2 * noise.fractal(Double(x) / 3, Double(y) / 3, octaves: 2))
            }
        }
        if rng.nextDouble() < 0.4 { drawRug() }
    }

    private mutating func drawRug() {
        let y0 = rng.uniform(horizonY + 0.1 * (h - horizonY), horizonY + 0.5 * (h - horizonY))
        let y1 = rng.uniform(y0 + 0.2 * (h - horizonY), h * 1.1)
        let cx = rng.uniform(0.2, 0.8) * w, half0 = rng.uniform(0.15, 0.3) * w, spread = rng.uniform(1.2, 1.6)
        let corners = [
            Point(cx - half0, y0), Point(cx + half0, y0), Point(cx + half0 * spread, y1),
            Point(cx - half0 * spread, y1),
        ]
        let outer = pick([
            RGB(0.6, 0.15, 0.15), RGB(0.2, 0.3, 0.5), RGB(0.85, 0.8, 0.65), RGB(0.15, 0.15, 0.15), RGB(0.3, 0.5, 0.4),
        ])
        canvas.fill(PolygonShape(corners), .solid(outer))
        let inner = corners.map { $0.lerp(Point(cx, (y0 + y1) / 2), 0.15) }
        canvas.fill(PolygonShape(inner), .solid(pick([RGB(0.9, 0.85, 0.7), RGB(0.7, 0.3, 0.2), RGB(0.3, 0.3, 0.35)])))
    }

    // MARK: - Porch and doorway

    private mutating func drawSiding() {
        let color = pick([
            RGB(0.92, 0.92, 0.9), RGB(0.6, 0.68, 0.75), RGB(0.75, 0.7, 0.55), RGB(0.55, 0.25, 0.2),
            RGB(0.45, 0.5, 0.45), RGB(0.3, 0.32, 0.36),
        ])
        let board = rng.uniform(7, 12) * unit
        let noise = ValueNoise(seed: rng.next())
        canvas.shadeRows(0, Int(ceil(horizonY))) { x, y, _ in
            let v = Double(y) / board
            let f = v - floor(v)
            let shade = f < 0.15 ? 0.72 + f * 1.5 : 1.0 - 0.08 * f
            return color.scaled(shade * (0.95 + 0.07 * noise.value(Double(x) / 30, floor(v))))
        }
    }

    private mutating func drawDoor(x0: Double, width: Double, top: Double, bottom: Double, withFlap: Bool) {
        let trim = pick([RGB(0.95, 0.95, 0.93), RGB(0.2, 0.2, 0.2), RGB(0.5, 0.35, 0.22)])
        let t = width * 0.09
        canvas.fill(
            PolygonShape([
                Point(x0 - t, top - t), Point(x0 + width + t, top - t), Point(x0 + width + t, bottom),
                Point(x0 - t, bottom),
            ]),
            .linear(Point(x0 - t, 0), trim, Point(x0 + width + t, 0), trim.shaded(-0.15)))
        let doorColor = pick([
            RGB(0.15, 0.3, 0.2), RGB(0.6, 0.12, 0.1), RGB(0.45, 0.3, 0.18), RGB(0.9, 0.9, 0.88),
            RGB(0.08, 0.08, 0.09), RGB(0.2, 0.3, 0.5), RGB(0.6, 0.5, 0.35),
        ])
        canvas.fill(
            PolygonShape([Point(x0, top), Point(x0 + width, top), Point(x0 + width, bottom), Point(x0, bottom)]),
            .linear(Point(x0, top), doorColor.shaded(0.05), Point(x0 + width, bottom), doorColor.shaded(-0.15)))
        // Raised panels.
        let panelW = width * 0.34, gap = width * 0.11
        var y = top + width * 0.12
        while y + width * 0.3 < bottom - width * 0.1 {
            let ph = min(width * 0.55, bottom - width * 0.1 - y)
            for px in [x0 + gap, x0 + 2 * gap + panelW] {
                canvas.fill(
                    PolygonShape([Point(px, y), Point(px + panelW, y), Point(px + panelW, y + ph), Point(px, y + ph)]),
                    .solid(doorColor.shaded(-0.18)))
                canvas.fill(
                    PolygonShape([
                        Point(px + 2, y + 2), Point(px + panelW - 1, y + 2), Point(px + panelW - 1, y + ph - 1),
                        Point(px + 2, y + ph - 1),
                    ]),
                    .solid(doorColor.shaded(0.04)))
            }
            y += ph + width * 0.1
        }
        // Knob.
        let knob = Point(x0 + width * 0.86, top + (bottom - top) * 0.55)
        canvas.fill(
            EllipseShape(center: knob, rx: width * 0.035, ry: width * 0.035),
            .radial(
                center: knob + Point(-1, -1), radius: width * 0.04, inner: RGB(0.95, 0.85, 0.5),
                outer: RGB(0.45, 0.35, 0.15)))
        if withFlap {
            let fw = width * rng.uniform(0.3, 0.45), fh = fw * 1.2
            let fx = x0 + (width - fw) / 2, fy = bottom - fh - width * 0.05
            canvas.fill(
                PolygonShape([
                    Point(fx - 3, fy - 3), Point(fx + fw + 3, fy - 3), Point(fx + fw + 3, fy + fh + 3),
                    Point(fx - 3, fy + fh + 3),
                ]),
                .solid(RGB(0.85, 0.85, 0.83)))
            canvas.fill(
                PolygonShape([Point(fx, fy), Point(fx + fw, fy), Point(fx + fw, fy + fh), Point(fx, fy + fh)]),
                .linear(Point(fx, fy), RGB(0.35, 0.35, 0.38), Point(fx, fy + fh), RGB(0.2, 0.2, 0.22)), opacity: 0.92)
        }
    }

    private mutating func drawDeck() {
        let wood = pick([RGB(0.55, 0.38, 0.24), RGB(0.6, 0.55, 0.48), RGB(0.42, 0.3, 0.22), RGB(0.7, 0.55, 0.38)])
        let noise = ValueNoise(seed: rng.next())
        let spacing = rng.uniform(0.22, 0.35)
        let hy = horizonY
        canvas.shadeRows(Int(hy), canvas.height) { x, y, _ in
            let d = self.depth(Double(y))
            let v = d / spacing
            let board = floor(v)
            let gap = v - board < 0.07 * max(1, d / 2)
            let grain = noise.value(Double(x) / (25 * self.unit) / d + board * 13.1, board * 2.3)
            return gap ? wood.shaded(-0.6) : wood.scaled(0.82 + 0.3 * grain)
        }
    }

    private mutating func drawPorch() {
        drawSiding()
        let dw = rng.uniform(0.22, 0.36) * w
        let dx = rng.uniform(-0.1 * w, w - dw * 0.8)
        drawDoor(
            x0: dx, width: dw, top: rng.uniform(-0.2, 0.25) * horizonY, bottom: horizonY,
            withFlap: rng.nextDouble() < 0.4)
        if rng.nextDouble() < 0.5 {
            // A window beside the door.
            let ww = rng.uniform(0.15, 0.25) * w, wh = ww * rng.uniform(0.8, 1.2)
            let wx = dx + dw + rng.uniform(0.05, 0.2) * w, wy = rng.uniform(0.05, 0.3) * horizonY
            canvas.fill(
                PolygonShape([
                    Point(wx - 4, wy - 4), Point(wx + ww + 4, wy - 4), Point(wx + ww + 4, wy + wh + 4),
                    Point(wx - 4, wy + wh + 4),
                ]),
                .solid(RGB(0.93, 0.93, 0.9)))
            canvas.fill(
                PolygonShape([Point(wx, wy), Point(wx + ww, wy), Point(wx + ww, wy + wh), Point(wx, wy + wh)]),
                .linear(Point(wx, wy), RGB(0.55, 0.65, 0.75), Point(wx + ww, wy + wh), RGB(0.2, 0.25, 0.3)))
            canvas.fill(
                CapsuleShape(a: Point(wx + ww / 2, wy), b: Point(wx + ww / 2, wy + wh), ra: 2 * unit, rb: 2 * unit),
                .solid(RGB(0.93, 0.93, 0.9)))
            canvas.fill(
                CapsuleShape(a: Point(wx, wy + wh / 2), b: Point(wx + ww, wy + wh / 2), ra: 2 * unit, rb: 2 * unit),
                .solid(RGB(0.93, 0.93, 0.9)))
        }
        drawDeck()
        if rng.nextDouble() < 0.6 {
            // Doormat in front of the door.
            let my = horizonY + rng.uniform(0.02, 0.1) * (h - horizonY)
            let mh = rng.uniform(0.1, 0.2) * (h - horizonY)
            let mat = pick([RGB(0.55, 0.42, 0.25), RGB(0.15, 0.15, 0.15), RGB(0.5, 0.15, 0.15), RGB(0.3, 0.35, 0.3)])
            let mx = dx + dw * 0.5
            canvas.fill(
                PolygonShape([
                    Point(mx - dw * 0.45, my), Point(mx + dw * 0.45, my), Point(mx + dw * 0.55, my + mh),
                    Point(mx - dw * 0.55, my + mh),
                ]),
                .solid(mat))
        }
    }

    private mutating func drawDoorway() {
        drawSiding()
        let dw = rng.uniform(0.5, 0.8) * w
        let dx = rng.uniform(0.05, 0.95) * w - dw / 2
        drawDoor(
            x0: dx, width: dw, top: rng.uniform(-0.6, -0.1) * horizonY, bottom: horizonY,
            withFlap: rng.nextDouble() < 0.6)
        // Threshold strip.
        let th = rng.uniform(3, 7) * unit
        canvas.fill(
            PolygonShape([
                Point(dx - dw * 0.12, horizonY), Point(dx + dw * 1.12, horizonY), Point(dx + dw * 1.14, horizonY + th),
                Point(dx - dw * 0.14, horizonY + th),
            ]),
            .linear(Point(0, horizonY), RGB(0.8, 0.75, 0.6), Point(0, horizonY + th), RGB(0.45, 0.4, 0.3)))
        if rng.nextDouble() < 0.5 {
            drawDeck()
        } else {
            let stone = pick([RGB(0.6, 0.58, 0.55), RGB(0.5, 0.45, 0.4), RGB(0.7, 0.68, 0.62)])
            let noise = ValueNoise(seed: rng.next())
            canvas.shadeRows(Int(horizonY + th), canvas.height) { x, y, _ in
                stone.scaled(0.8 + 0.3 * noise.fractal(Double(x) / 8, Double(y) / 8, octaves: 3))
            }
        }
    }

    // MARK: - Clutter

    private mutating func drawClutter() {
        let a = pick([RGB(0.5, 0.5, 0.5), RGB(0.6, 0.5, 0.4), RGB(0.3, 0.4, 0.5), RGB(0.5, 0.6, 0.4)], jitter: 0.3)
        let b = pick([RGB(0.8, 0.8, 0.75), RGB(0.3, 0.3, 0.3), RGB(0.7, 0.55, 0.4)], jitter: 0.3)
        let angle = rng.uniform(0, 2 * Double.pi)
        let dir = Point(cos(angle), sin(angle))
        let span = (w * w + h * h).squareRoot()
        canvas.shadeRows { x, y, _ in
            a.mixed(with: b, clamp01(0.5 + (Point(Double(x) - self.w / 2, Double(y) - self.h / 2).dot(dir)) / span))
        }
        // Floor line with a darker floor.
        let floorColor = pick([RGB(0.45, 0.4, 0.35), RGB(0.6, 0.6, 0.6), RGB(0.35, 0.3, 0.25)], jitter: 0.2)
        canvas.fill(
            PolygonShape([
                Point(-2, horizonY), Point(w + 2, horizonY + rng.uniform(-10, 10) * unit), Point(w + 2, h + 2),
                Point(-2, h + 2),
            ]),
            .linear(Point(0, horizonY), floorColor, Point(0, h), floorColor.shaded(-0.2)), opacity: 0.85)
        let blobs = 15 + rng.nextInt(below: 40)
        for _ in 0..<blobs {
            let c = Point(rng.uniform(-0.05, 1.05) * w, rng.uniform(-0.05, 1.05) * h)
            let size = rng.uniform(4, 40) * unit
            let color = RGB(rng.nextDouble(), rng.nextDouble(), rng.nextDouble()).mixed(
                with: rng.nextDouble() < 0.5 ? .black : .white,
                rng.uniform(0, 0.8))
            let opacity = rng.uniform(0.4, 1)
            switch rng.nextInt(below: 4) {
            case 0:
                canvas.fill(
                    EllipseShape(center: c, rx: size, ry: size * rng.uniform(0.3, 1), angle: rng.uniform(0, 3.2)),
                    .solid(color),
                    opacity: opacity, feather: rng.nextDouble() < 0.3 ? size * 0.3 : 0)
            case 1:
                let n = 3 + rng.nextInt(below: 4)
                let start = rng.uniform(0, 6.3)
                var points: [Point] = []
                for i in 0..<n {
                    points.append(
                        c + Point.polar(start + Double(i) * 2 * Double.pi / Double(n), size * rng.uniform(0.5, 1.2)))
                }
                canvas.fill(PolygonShape(points), .solid(color), opacity: opacity)
            case 2:
                let end = c + Point.polar(rng.uniform(0, 6.3), size * 2)
                canvas.fill(
                    CapsuleShape(a: c, b: end, ra: size * rng.uniform(0.05, 0.2), rb: size * rng.uniform(0.05, 0.2)),
                    .solid(color), opacity: opacity)
            default:
                canvas.fill(
                    ArcShape(
                        center: c, radius: size, width: size * rng.uniform(0.1, 0.4), start: rng.uniform(0, 6.3),
                        sweep: rng.uniform(1, 6)),
                    .solid(color), opacity: opacity)
            }
        }
    }

    // MARK: - Props

    /// A random object on the ground: ball, flower pot, boot, stone, bucket, toy bone, leaves.
    func drawProp(_ prop: Prop, shadow: Bool) {
        var rng = SeededRandom(seed: prop.seed)
        func pick(_ palette: [RGB], jitter: Double = 0.08) -> RGB {
            palette[rng.nextInt(below: palette.count)].jittered(&rng, brightness: jitter, hue: jitter / 2)
        }
        let s = prop.size, base = prop.base, x = base.x, y = base.y
        if shadow {
            canvas.fill(
                EllipseShape(center: base, rx: s * 0.9, ry: s * 0.2), .solid(.black), opacity: 0.3, feather: s * 0.15)
        }
        switch rng.nextInt(below: 7) {
        case 0:  // ball
            let c = base + Point(0, -s * 0.5)
            let color = pick([
                RGB(0.9, 0.2, 0.15), RGB(0.95, 0.85, 0.2), RGB(0.2, 0.4, 0.85), RGB(0.8, 0.95, 0.3),
                RGB(0.95, 0.95, 0.95),
            ])
            canvas.fill(
                EllipseShape(center: c, rx: s * 0.5, ry: s * 0.5),
                .radial(
                    center: c + Point(-s * 0.15, -s * 0.18), radius: s * 0.6, inner: color.shaded(0.3),
                    outer: color.shaded(-0.35)))
            canvas.fill(
                ArcShape(center: c + Point(s * 0.3, 0), radius: s * 0.45, width: s * 0.06, start: 2.2, sweep: 1.8),
                .solid(.white), opacity: 0.7)
        case 1:  // flower pot with leaves
            let pot = pick([RGB(0.75, 0.4, 0.25), RGB(0.2, 0.2, 0.22), RGB(0.92, 0.92, 0.9), RGB(0.3, 0.45, 0.6)])
            let top = y - s * 1.1
            canvas.fill(
                PolygonShape([
                    Point(x - s * 0.5, top), Point(x + s * 0.5, top), Point(x + s * 0.38, y), Point(x - s * 0.38, y),
                ]),
                .linear(Point(x - s * 0.5, 0), pot.shaded(0.1), Point(x + s * 0.5, 0), pot.shaded(-0.3)))
            for _ in 0..<9 {
                let tip = Point(x + rng.uniform(-1, 1) * s * 0.9, top - rng.uniform(0.3, 1.3) * s)
                let leaf = Point(x + rng.uniform(-0.2, 0.2) * s, top).lerp(tip, 0.5)
                canvas.fill(
                    EllipseShape(center: leaf, rx: s * 0.35, ry: s * 0.12, angle: atan2(tip.y - top, tip.x - x)),
                    .solid(pick([RGB(0.2, 0.5, 0.2), RGB(0.3, 0.6, 0.25), RGB(0.15, 0.35, 0.15)])))
            }
        case 2:  // boot or shoe
            let color = pick([RGB(0.06, 0.06, 0.06), RGB(0.93, 0.93, 0.92), RGB(0.45, 0.3, 0.18), RGB(0.2, 0.3, 0.55)])
            let dir = rng.nextDouble() < 0.5 ? 1.0 : -1.0
            let tall = rng.nextDouble() < 0.5 ? s * 0.9 : s * 0.35
            canvas.fill(
                PolygonShape([
                    Point(x - dir * s * 0.5, y), Point(x + dir * s * 0.7, y), Point(x + dir * s * 0.65, y - s * 0.28),
                    Point(x + dir * s * 0.1, y - s * 0.35), Point(x - dir * s * 0.05, y - tall),
                    Point(x - dir * s * 0.5, y - tall),
                ]),
                .linear(Point(0, y - tall), color.shaded(0.12), Point(0, y), color.shaded(-0.2)))
            canvas.fill(
                CapsuleShape(
                    a: Point(x - dir * s * 0.5, y - s * 0.03), b: Point(x + dir * s * 0.7, y - s * 0.03), ra: s * 0.05,
                    rb: s * 0.05),
                .solid(color.luma > 0.5 ? RGB(0.3, 0.3, 0.3) : RGB(0.85, 0.85, 0.82)))
        case 3:  // stone
            let c = base + Point(0, -s * 0.25)
            let grey = pick([RGB(0.55, 0.55, 0.53), RGB(0.45, 0.42, 0.4), RGB(0.7, 0.68, 0.65)])
            canvas.fill(
                EllipseShape(center: c, rx: s * 0.6, ry: s * 0.32, angle: rng.uniform(-0.2, 0.2)),
                .radial(
                    center: c + Point(-s * 0.2, -s * 0.15), radius: s * 0.7, inner: grey.shaded(0.15),
                    outer: grey.shaded(-0.35)))
        case 4:  // bucket
            let color = pick([RGB(0.7, 0.72, 0.75), RGB(0.85, 0.3, 0.2), RGB(0.2, 0.5, 0.3)])
            let top = y - s
            canvas.fill(
                PolygonShape([
                    Point(x - s * 0.45, top), Point(x + s * 0.45, top), Point(x + s * 0.35, y), Point(x - s * 0.35, y),
                ]),
                .linear(Point(x - s * 0.45, 0), color.shaded(0.2), Point(x + s * 0.45, 0), color.shaded(-0.3)))
            canvas.fill(EllipseShape(center: Point(x, top), rx: s * 0.45, ry: s * 0.1), .solid(color.shaded(-0.5)))
            canvas.fill(
                ArcShape(center: Point(x, top), radius: s * 0.4, width: s * 0.04, start: Double.pi, sweep: Double.pi),
                .solid(RGB(0.3, 0.3, 0.3)))
        case 5:  // toy bone
            let color = pick([RGB(0.95, 0.94, 0.9), RGB(0.8, 0.3, 0.5), RGB(0.3, 0.6, 0.9)])
            let half = s * 0.5, c = base + Point(0, -s * 0.15)
            canvas.fill(
                CapsuleShape(a: c + Point(-half, 0), b: c + Point(half, 0), ra: s * 0.09, rb: s * 0.09), .solid(color))
            for dx in [-half, half] {
                for dy in [-s * 0.09, s * 0.09] {
                    canvas.fill(
                        EllipseShape(center: c + Point(dx, dy), rx: s * 0.11, ry: s * 0.11), .solid(color.shaded(-0.05))
                    )
                }
            }
        default:  // fallen leaves
            for _ in 0..<(3 + rng.nextInt(below: 6)) {
                let c = base + Point(rng.uniform(-s, s), rng.uniform(-s * 0.3, s * 0.3))
                canvas.fill(
                    EllipseShape(center: c, rx: s * 0.2, ry: s * 0.08, angle: rng.uniform(0, 3.2)),
                    .solid(pick([RGB(0.8, 0.45, 0.1), RGB(0.6, 0.3, 0.1), RGB(0.85, 0.7, 0.2)], jitter: 0.2)))
            }
        }
    }
}

extension Lighting {
    /// Applies the light to every pixel of `canvas`.
    func apply(to canvas: Canvas, seed: UInt64) {
        let w = Double(canvas.width), h = Double(canvas.height)
        let halfDiagonal = (w * w + h * h).squareRoot() / 2
        let ramp = Point(cos(rampAngle), sin(rampAngle))
        let bandDir = Point(cos(shadowAngle), sin(shadowAngle))
        let bandPeriod = shadowBands > 0 ? 2 * halfDiagonal / Double(shadowBands) : 1
        let dappleNoise = ValueNoise(seed: seed)
        let dappleScale = h / 6
        let balance = RGB(1 + 0.08 * warmth, 1 + 0.01 * warmth, 1 - 0.1 * warmth)
        let exposure = self.exposure, rampStrength = self.rampStrength, vignette = self.vignette
        let saturation = self.saturation, gamma = self.gamma, bands = shadowBands, dapple = self.dapple
        canvas.shadeRows { x, y, c in
            let px = Double(x) + 0.5 - w / 2, py = Double(y) + 0.5 - h / 2
            var k = exposure * (1 + rampStrength * (px * ramp.x + py * ramp.y) / halfDiagonal)
            if vignette > 0 {
                let r2 = (px * px + py * py) / (halfDiagonal * halfDiagonal)
                k *= 1 - vignette * r2 * r2
            }
            if bands > 0 {
                let t = (px * bandDir.x + py * bandDir.y) / bandPeriod
                let f = t - floor(t)
                // A soft-edged shadow over 40% of each period.
                let shadow = smoothstep((f - 0.02) / 0.08) * (1 - smoothstep((f - 0.38) / 0.08))
                k *= 1 - 0.38 * shadow
            }
            if dapple > 0 {
                let n = dappleNoise.fractal(Double(x) / dappleScale, Double(y) / dappleScale, octaves: 2)
                k *= 1 - dapple + 2 * dapple * smoothstep((n - 0.35) / 0.3)
            }
            var out = c.tinted(balance).scaled(k)
            let l = out.luma
            out = RGB(l + (out.r - l) * saturation, l + (out.g - l) * saturation, l + (out.b - l) * saturation)
            if gamma != 1 {
                out = RGB(pow(max(0, out.r), gamma), pow(max(0, out.g), gamma), pow(max(0, out.b), gamma))
            }
            return out
        }
    }
}
