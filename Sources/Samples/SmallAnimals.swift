import Support

/// A squirrel: upright on its haunches (sitting, facing the camera) or on all fours (standing, walking),
/// with a large bushy tail. Local frame as for `QuadrupedFigure`: body length 1, facing +x, ground y = 0.
struct SquirrelFigure {
    let painter: Painter
    var rng: SeededRandom
    let base: RGB
    let belly: RGB

    init(painter: Painter, rng: SeededRandom) {
        self.painter = painter
        self.rng = rng
        base =
            self.rng.nextDouble() < 0.6
            ? RGB(0.5, 0.47, 0.44).jittered(&self.rng, brightness: 0.15, hue: 0.05)
            : RGB(0.68, 0.34, 0.14).jittered(&self.rng, brightness: 0.12, hue: 0.05)
        belly = RGB(0.9, 0.87, 0.8)
    }

    static let size = 0.42

    static func extent(_ pose: Pose) -> (minX: Double, maxX: Double, height: Double) {
        switch pose {
        case .sitting, .facingCamera: return (-0.75, 0.45, 1.25)
        case .standing, .walking: return (-0.95, 0.7, 0.95)
        }
    }

    private func paint(_ color: RGB, _ c: Point, _ r: Double) -> Paint {
        .linear(Point(c.x, c.y + r), color.shaded(0.06), Point(c.x, c.y - r), color.shaded(-0.25))
    }

    private mutating func fluff(_ c: Point, _ rx: Double, _ ry: Double, angle: Double, _ color: RGB, count: Int) {
        for _ in 0..<count {
            let r = rng.nextDouble().squareRoot(), t = rng.uniform(0, 2 * Double.pi)
            let p = c + Point(rx * r * cos(t), ry * r * sin(t)).rotated(angle)
            let tone = color.shaded(rng.nextDouble() < 0.5 ? rng.uniform(0.05, 0.2) : -rng.uniform(0.1, 0.3))
            painter.capsule(
                p, p + Point.polar(rng.uniform(0, 2 * Double.pi), rng.uniform(0.03, 0.07)), 0.008, 0.002, .solid(tone),
                opacity: 0.6)
        }
    }

    /// A bushy tail along `points`: a darker rim, the body of the tail, then loose hairs over all of it so the
    /// overlapping discs read as one mass.
    private mutating func tail(_ points: [Point], width: Double) {
        let radii = points.indices.map { i -> Double in
            let t = Double(i) / Double(points.count - 1)
            return width * (0.55 + 0.6 * sin(Double.pi * min(1, 0.15 + t)))
        }
        for (p, r) in zip(points, radii) { painter.circle(p, r * 1.08, .solid(base.shaded(-0.3))) }
        for (p, r) in zip(points, radii) { painter.circle(p, r, .solid(base.shaded(0.04))) }
        for (p, r) in zip(points, radii) { fluff(p, r * 1.1, r * 1.1, angle: 0, base, count: 14) }
    }

    mutating func draw(pose: Pose, phase: Double) {
        switch pose {
        case .sitting, .facingCamera:
            let flick = 0.05 * sin(phase)
            tail(bezier(Point(-0.25, 0.1), Point(-0.85, 0.35), Point(-0.35, 1.0 + flick), count: 24), width: 0.17)
            // Haunch, upright body, hind foot.
            painter.ellipse(Point(-0.05, 0.17), 0.22, 0.17, .solid(base))
            painter.ellipse(Point(0.0, 0.42), 0.2, 0.32, angle: 1.35, paint(base, Point(0, 0.42), 0.32))
            fluff(Point(0.0, 0.42), 0.3, 0.18, angle: 1.35, base, count: 40)
            painter.ellipse(Point(0.1, 0.4), 0.09, 0.22, angle: 0.15, .solid(belly))
            painter.ellipse(Point(0.12, 0.03), 0.16, 0.045, .solid(base.shaded(-0.15)))
            // Forepaws held at the chest.
            painter.capsule(Point(0.12, 0.55), Point(0.2, 0.48), 0.035, 0.028, .solid(base.shaded(-0.1)))
            head(at: Point(0.1, 0.8), tilt: 0.1 * sin(phase * 0.7))
        case .standing, .walking:
            let hop = pose == .walking ? 0.05 * max(0, sin(phase)) : 0
            tail(bezier(Point(-0.35, 0.3 + hop), Point(-0.95, 0.5), Point(-0.6, 0.95 + hop), count: 24), width: 0.16)
            // Legs.
            let reach = pose == .walking ? 0.08 * sin(phase) : 0
            painter.capsule(Point(0.22, 0.22 + hop), Point(0.28 + reach, 0.02), 0.04, 0.03, .solid(base.shaded(-0.2)))
            painter.ellipse(Point(-0.2, 0.2 + hop), 0.2, 0.16, .solid(base.shaded(-0.05)))
            painter.ellipse(Point(-0.1 - reach, 0.03), 0.14, 0.035, .solid(base.shaded(-0.2)))
            painter.ellipse(Point(0, 0.3 + hop), 0.34, 0.17, angle: 0.12, paint(base, Point(0, 0.3), 0.17))
            fluff(Point(0, 0.3 + hop), 0.32, 0.15, angle: 0.12, base, count: 40)
            painter.ellipse(Point(0.02, 0.2 + hop), 0.22, 0.06, angle: 0.1, .solid(belly), opacity: 0.9)
            painter.capsule(Point(0.26, 0.22 + hop), Point(0.32 - reach, 0.02), 0.04, 0.03, .solid(base.shaded(-0.05)))
            head(at: Point(0.42, 0.45 + hop), tilt: -0.1)
        }
    }

    private mutating func head(at c: Point, tilt: Double) {
        // Ear (with a tuft), head, snout, eye, nose.
        painter.polygon(
            [c + Point(-0.1, 0.08), c + Point(-0.02, 0.1), c + Point(-0.08, 0.22)], .solid(base.shaded(-0.1)))
        painter.ellipse(c, 0.15, 0.12, angle: tilt, paint(base, c, 0.12))
        fluff(c, 0.13, 0.1, angle: tilt, base, count: 12)
        painter.ellipse(c + Point(0.12, -0.03), 0.08, 0.065, angle: tilt - 0.2, .solid(base.shaded(0.08)))
        painter.ellipse(c + Point(0.05, -0.07), 0.07, 0.04, .solid(belly), opacity: 0.85)
        painter.circle(c + Point(0.19, -0.02), 0.022, .solid(RGB(0.1, 0.06, 0.05)))
        painter.circle(c + Point(0.06, 0.04), 0.03, .solid(RGB(0.02, 0.02, 0.02)))
        painter.circle(c + Point(0.07, 0.052), 0.01, .solid(RGB(0.95, 0.95, 0.95)))
        painter.ellipse(c + Point(0.06, 0.04), 0.045, 0.04, .solid(RGB(0.92, 0.9, 0.85)), opacity: 0.35)
    }
}

/// A bird (pigeon, robin, crow or magpie): standing or walking on the ground, crouched (sitting), or facing
/// the camera. Local frame: body length 1 from tail tip to beak, facing +x, ground y = 0.
struct BirdFigure {
    let painter: Painter
    let subject: Subject
    var rng: SeededRandom

    static let size = 0.34

    static func extent(_ pose: Pose) -> (minX: Double, maxX: Double, height: Double) {
        pose == .facingCamera ? (-0.25, 0.25, 0.85) : (-0.62, 0.55, 0.85)
    }

    private struct Plumage {
        var body: RGB
        var back: RGB
        var head: RGB
        var breast: RGB
        var belly: RGB
        var wing: RGB
        var wingPatch: RGB?
        var tail: RGB
        var beak: RGB
        var legs: RGB
        var neckSheen: RGB?
        var tailLength: Double
    }

    private func plumage() -> Plumage {
        switch subject {
        case .pigeon:
            let grey = RGB(0.56, 0.58, 0.64)
            return Plumage(
                body: grey, back: grey.shaded(-0.05), head: grey.shaded(-0.12), breast: RGB(0.55, 0.5, 0.58),
                belly: grey.shaded(0.05), wing: grey.shaded(0.05), wingPatch: RGB(0.15, 0.15, 0.18),
                tail: grey.shaded(-0.25), beak: RGB(0.25, 0.22, 0.22), legs: RGB(0.8, 0.4, 0.45),
                neckSheen: RGB(0.3, 0.55, 0.45), tailLength: 0.3)
        case .robin:
            let brown = RGB(0.45, 0.38, 0.28)
            return Plumage(
                body: brown, back: brown, head: brown.shaded(-0.05), breast: RGB(0.9, 0.45, 0.18),
                belly: RGB(0.92, 0.9, 0.85), wing: brown.shaded(-0.1), wingPatch: nil, tail: brown.shaded(-0.15),
                beak: RGB(0.15, 0.12, 0.1), legs: RGB(0.5, 0.4, 0.35), neckSheen: nil, tailLength: 0.28)
        case .crow:
            let black = RGB(0.06, 0.06, 0.08)
            return Plumage(
                body: black, back: black, head: black, breast: black, belly: black.shaded(0.04),
                wing: RGB(0.08, 0.09, 0.14), wingPatch: nil, tail: black, beak: RGB(0.04, 0.04, 0.04),
                legs: RGB(0.08, 0.08, 0.08), neckSheen: RGB(0.12, 0.14, 0.25), tailLength: 0.34)
        default:  // magpie
            let black = RGB(0.05, 0.05, 0.07)
            return Plumage(
                body: black, back: black, head: black, breast: black, belly: RGB(0.95, 0.95, 0.93),
                wing: RGB(0.07, 0.1, 0.16), wingPatch: RGB(0.95, 0.95, 0.93), tail: RGB(0.06, 0.1, 0.12),
                beak: RGB(0.04, 0.04, 0.04), legs: RGB(0.06, 0.06, 0.06), neckSheen: nil, tailLength: 0.6)
        }
    }

    private func shaded(_ color: RGB, _ c: Point, _ r: Double) -> Paint {
        .linear(Point(c.x, c.y + r), color.shaded(0.08), Point(c.x, c.y - r), color.shaded(-0.25))
    }

    mutating func draw(pose: Pose, phase: Double) {
        let p = plumage()
        if pose == .facingCamera {
            drawFront(p, phase: phase)
            return
        }
        let crouch = pose == .sitting
        let lift = crouch ? 0.0 : 0.14
        let peck = pose == .walking ? 0.06 * max(0, sin(phase)) : 0
        // Legs.
        if !crouch {
            let step = pose == .walking ? 0.06 * sin(phase) : 0
            for (dx, s) in [(-0.02, step), (0.06, -step)] {
                let hip = Point(dx, lift + 0.08), foot = Point(dx + s, 0.01)
                painter.capsule(hip, foot, 0.014, 0.012, .solid(p.legs))
                painter.capsule(foot, foot + Point(0.07, 0), 0.01, 0.008, .solid(p.legs))
                painter.capsule(foot, foot + Point(-0.04, 0), 0.01, 0.008, .solid(p.legs))
            }
        }
        // Tail, body, breast, wing.
        let bodyCenter = Point(0, lift + 0.16)
        let tailEnd = Point(-0.3 - p.tailLength, lift + 0.1 - p.tailLength * 0.25)
        painter.polygon(
            [Point(-0.2, lift + 0.2), Point(-0.18, lift + 0.1), tailEnd, tailEnd + Point(0.02, 0.07)],
            shaded(p.tail, tailEnd, 0.1))
        painter.ellipse(bodyCenter, 0.3, 0.16, angle: 0.22, shaded(p.body, bodyCenter, 0.16))
        painter.ellipse(bodyCenter + Point(0.1, -0.05), 0.18, 0.1, angle: 0.4, .solid(p.belly))
        painter.ellipse(bodyCenter + Point(0.15, 0.03), 0.13, 0.11, angle: 0.6, .solid(p.breast))
        let wingCenter = bodyCenter + Point(-0.06, 0.04)
        painter.ellipse(wingCenter, 0.24, 0.1, angle: 0.12, shaded(p.wing, wingCenter, 0.1))
        if let patch = p.wingPatch {
            if subject == .magpie {
                painter.ellipse(wingCenter + Point(0.04, 0.02), 0.13, 0.045, angle: 0.15, .solid(patch))
            } else {
                painter.capsule(
                    wingCenter + Point(-0.1, -0.02), wingCenter + Point(0.05, -0.01), 0.015, 0.012, .solid(patch))
                painter.capsule(
                    wingCenter + Point(-0.12, -0.05), wingCenter + Point(0.02, -0.045), 0.015, 0.012, .solid(patch))
            }
        }
        for _ in 0..<14 {
            let q = wingCenter + Point(rng.uniform(-0.2, 0.15), rng.uniform(-0.06, 0.06))
            painter.capsule(q, q + Point(-0.07, -0.015), 0.006, 0.003, .solid(p.wing.shaded(-0.2)), opacity: 0.5)
        }
        // Head.
        let head = Point(0.28, lift + 0.34 - peck)
        if let sheen = p.neckSheen {
            painter.ellipse(Point(0.22, lift + 0.27 - peck / 2), 0.09, 0.1, .solid(sheen), opacity: 0.8)
        }
        painter.circle(head, 0.11, shaded(p.head, head, 0.11))
        let beakLength = subject == .crow ? 0.16 : 0.11
        painter.polygon(
            [head + Point(0.08, 0.03), head + Point(0.08, -0.035), head + Point(0.08 + beakLength, -0.01)],
            .solid(p.beak))
        painter.circle(
            head + Point(0.04, 0.03), 0.022, .solid(subject == .pigeon ? RGB(0.85, 0.45, 0.1) : RGB(0.02, 0.02, 0.02)))
        painter.circle(head + Point(0.045, 0.035), 0.01, .solid(RGB(0.05, 0.03, 0.02)))
        painter.circle(head + Point(0.05, 0.042), 0.006, .solid(.white), opacity: 0.8)
    }

    private mutating func drawFront(_ p: Plumage, phase: Double) {
        let lift = 0.14
        for side in [-1.0, 1.0] {
            let hip = Point(side * 0.06, lift + 0.08), foot = Point(side * 0.07, 0.01)
            painter.capsule(hip, foot, 0.014, 0.012, .solid(p.legs))
            painter.capsule(foot, foot + Point(side * 0.04, -0.005), 0.01, 0.008, .solid(p.legs))
        }
        let c = Point(0, lift + 0.2)
        painter.polygon(
            [Point(-0.08, lift + 0.05), Point(0.08, lift + 0.05), Point(0.05, 0.02), Point(-0.05, 0.02)], .solid(p.tail)
        )
        painter.ellipse(c, 0.17, 0.22, shaded(p.wing, c, 0.22))
        painter.ellipse(c + Point(0, -0.02), 0.12, 0.19, .solid(p.breast))
        painter.ellipse(c + Point(0, -0.09), 0.1, 0.11, .solid(p.belly))
        if subject == .magpie, let patch = p.wingPatch {
            for side in [-1.0, 1.0] { painter.ellipse(c + Point(side * 0.14, 0.04), 0.035, 0.09, .solid(patch)) }
        }
        let head = Point(0.01 * sin(phase), lift + 0.46)
        if let sheen = p.neckSheen { painter.ellipse(Point(0, lift + 0.37), 0.1, 0.06, .solid(sheen), opacity: 0.8) }
        painter.circle(head, 0.11, shaded(p.head, head, 0.11))
        painter.polygon(
            [head + Point(-0.025, -0.01), head + Point(0.025, -0.01), head + Point(0, -0.09)], .solid(p.beak))
        for side in [-1.0, 1.0] {
            painter.circle(head + Point(side * 0.055, 0.025), 0.02, .solid(RGB(0.02, 0.02, 0.02)))
            painter.circle(head + Point(side * 0.055 + 0.006, 0.032), 0.007, .solid(.white), opacity: 0.8)
        }
    }
}
