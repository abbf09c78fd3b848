import Support

/// Draws a four-legged animal (dogs, cats, fox, raccoon) from an `AnimalLook` in a given pose.
///
/// Local frame: body length 1, facing +x (right), ground at y = 0, y up. The painter's transform places,
/// scales and mirrors the figure.
struct QuadrupedFigure {
    let look: AnimalLook
    let painter: Painter
    var rng: SeededRandom

    private var a: Anatomy { look.anatomy }
    private var coat: Coat { look.coat }

    /// Height of the torso's centre line.
    private var torsoY: Double { a.legLength + a.torsoDepth * 0.32 }

    mutating func draw(pose: Pose, phase: Double) {
        switch pose {
        case .standing: drawSide(swing: 0, phase: 0, walking: false)
        case .walking: drawSide(swing: 0.36, phase: phase, walking: true)
        case .sitting: drawSitting(phase: phase)
        case .facingCamera: drawFront(phase: phase)
        }
    }

    /// Horizontal extent of the figure in local units for `pose` (for placement and cropping).
    static func extent(_ pose: Pose) -> (minX: Double, maxX: Double, height: Double) {
        switch pose {
        case .facingCamera: return (-0.3, 0.3, 1.05)
        case .sitting: return (-0.55, 0.6, 1.2)
        case .standing, .walking: return (-0.7, 0.95, 1.05)
        }
    }

    // MARK: - Paints and fur

    /// Light from above and in front: a rounded look, lighter towards the upper front of each part.
    private func body(_ color: RGB, _ center: Point, _ rx: Double, _ ry: Double) -> Paint {
        let dark = color.luma < 0.2
        let r = max(rx, ry)
        return .radial(
            center: center + Point(rx * 0.25, ry * 0.45), radius: r * 1.35,
            inner: color.shaded(dark ? 0.1 : 0.05), outer: color.shaded(dark ? -0.45 : -0.25))
    }

    /// A limb lit from above-front: a gradient across its width, so consecutive segments join seamlessly.
    private func limbPaint(_ color: RGB, _ p0: Point, _ p1: Point, _ r: Double) -> Paint {
        let d = p1 - p0
        let length = max(d.length, 1e-9)
        var normal = Point(-d.y / length, d.x / length)
        if normal.x + normal.y < 0 { normal = normal * -1 }
        let mid = p0.lerp(p1, 0.5)
        let dark = color.luma < 0.2
        return .linear(
            mid + normal * r, color.shaded(dark ? 0.08 : 0.04), mid - normal * r, color.shaded(dark ? -0.4 : -0.22))
    }

    /// An ellipse of coat with its fur texture.
    private mutating func part(
        _ c: Point, _ rx: Double, _ ry: Double, angle: Double = 0, _ color: RGB, fur: Bool = true
    ) {
        painter.ellipse(c, rx, ry, angle: angle, body(color, c, rx, ry))
        if fur { furEllipse(c, rx, ry, angle: angle, color) }
        if fur, color == coat.base { spots(c, rx, ry, angle: angle) }
    }

    /// A capsule of coat (legs, neck) with its fur texture.
    private mutating func limb(_ p0: Point, _ p1: Point, _ r0: Double, _ r1: Double, _ color: RGB, fur: Bool = true) {
        painter.capsule(p0, p1, r0, r1, limbPaint(color, p0, p1, max(r0, r1)))
        if fur { furCapsule(p0, p1, (r0 + r1) / 2, color) }
        if fur, color == coat.base {
            let d = p1 - p0
            spots(p0.lerp(p1, 0.5), d.length / 2, (r0 + r1) / 2 * 0.8, angle: atan2(d.y, d.x))
        }
    }

    private func highlight(_ color: RGB) -> RGB { color.luma < 0.35 ? color.shaded(0.13) : color.shaded(-0.16) }

    /// Scatters spots over an ellipse of base coat.
    private mutating func spots(_ c: Point, _ rx: Double, _ ry: Double, angle: Double) {
        guard let spots = coat.spots else { return }
        var n = Double.pi * rx * ry * coat.spotDensity
        // Carry the fractional part randomly so small parts get spots in proportion too.
        if rng.nextDouble() < n - floor(n) { n += 1 }
        for _ in 0..<Int(n) {
            let r = rng.nextDouble().squareRoot() * 0.9, t = rng.uniform(0, 2 * Double.pi)
            let p = c + Point(rx * r * cos(t), ry * r * sin(t)).rotated(angle)
            let size = rng.uniform(0.012, 0.028)
            painter.ellipse(
                p, size * rng.uniform(0.8, 1.3), size, angle: rng.uniform(0, 3), .solid(spots), opacity: 0.95)
        }
    }

    private mutating func furEllipse(_ c: Point, _ rx: Double, _ ry: Double, angle: Double, _ color: RGB) {
        let area = Double.pi * rx * ry
        for _ in 0..<strokeCount(area) {
            let r = rng.nextDouble().squareRoot(), t = rng.uniform(0, 2 * Double.pi)
            let p = c + Point(rx * r * cos(t), ry * r * sin(t)).rotated(angle)
            furStroke(at: p, axis: angle, color)
        }
    }

    private mutating func furCapsule(_ p0: Point, _ p1: Point, _ r: Double, _ color: RGB) {
        let d = p1 - p0
        let length = d.length
        guard length > 0 else { return }
        let normal = Point(-d.y / length, d.x / length)
        let axis = atan2(d.y, d.x)
        for _ in 0..<strokeCount(2 * r * length) {
            let p = p0.lerp(p1, rng.nextDouble()) + normal * (r * rng.uniform(-0.95, 0.95))
            furStroke(at: p, axis: axis, color)
        }
    }

    private func strokeCount(_ area: Double) -> Int {
        switch coat.texture {
        case .curly: return Int(area / (coat.curlSize * coat.curlSize * 2.6))
        case .fluffy: return Int(area / 0.0014)
        case .smooth: return Int(area / 0.006)
        }
    }

    private mutating func furStroke(at p: Point, axis: Double, _ color: RGB) {
        switch coat.texture {
        case .curly:
            let radius = coat.curlSize * rng.uniform(0.7, 1.15)
            let dark = color.luma < 0.35
            if rng.nextDouble() < 0.5 {
                // The shadowed hollow of a curl.
                painter.circle(
                    p + Point(radius * 0.15, -radius * 0.25), radius * 0.6,
                    .solid(color.shaded(dark ? -0.6 : -0.12)), opacity: 0.55)
            }
            painter.arc(
                p, radius: radius, width: radius * rng.uniform(0.3, 0.45), start: rng.uniform(0, 2 * Double.pi),
                sweep: rng.uniform(2.8, 4.8), .solid(highlight(color)), opacity: rng.uniform(0.3, 0.7))
        case .fluffy:
            let angle = -Double.pi / 2 + rng.uniform(-0.9, 0.9) + (rng.nextDouble() < 0.5 ? 0 : axis * 0.3)
            let length = rng.uniform(0.025, 0.05)
            let tone =
                rng.nextDouble() < 0.5 ? color.shaded(rng.uniform(0.05, 0.18)) : color.shaded(-rng.uniform(0.08, 0.25))
            painter.capsule(p, p + Point.polar(angle, length), 0.006, 0.002, .solid(tone), opacity: 0.55)
        case .smooth:
            let angle = axis + Double.pi + rng.uniform(-0.25, 0.25)
            let tone = color.shaded(rng.nextDouble() < 0.5 ? 0.07 : -0.08)
            painter.capsule(
                p, p + Point.polar(angle, rng.uniform(0.04, 0.07)), 0.004, 0.002, .solid(tone), opacity: 0.35)
        }
    }

    /// Tabby stripes over a body ellipse.
    private mutating func markings(_ c: Point, _ rx: Double, _ ry: Double, angle: Double = 0) {
        if let stripes = coat.stripes {
            var x = c.x - rx * 0.8
            while x < c.x + rx * 0.8 {
                let top = Point(x, c.y + ry * 0.95), bottom = Point(x + rng.uniform(-0.05, 0.05), c.y - ry * 0.35)
                painter.capsule(top, bottom, 0.018, 0.006, .solid(stripes), opacity: 0.65)
                x += rng.uniform(0.07, 0.1)
            }
        }
    }

    // MARK: - Side view

    private func legSegments(top: Point, swing: Double, bend: Double, hind: Bool) -> [Point] {
        let height = top.y
        if hind {
            let knee = top + Point(0.08, -height * 0.42).rotated(swing)
            let hock = knee + Point(-0.1, -height * 0.34).rotated(swing * 0.5 + bend)
            var paw = hock + Point(0.015, -height * 0.28).rotated(swing * 0.3)
            paw.y = max(paw.y, a.legWidth * 0.45)
            return [top, knee, hock, paw]
        }
        let elbow = top + Point(0, -height * 0.5).rotated(swing)
        var paw = elbow + Point(0, -height * 0.5).rotated(swing + bend)
        paw.y = max(paw.y, a.legWidth * 0.45)
        return [top, elbow, paw]
    }

    private mutating func drawLeg(_ joints: [Point], far: Bool, hind: Bool) {
        let shade = far ? -0.22 : 0
        let base = coat.base.shaded(shade)
        let w = a.legWidth
        let widths: [Double] = hind ? [w * 1.5, w * 0.95, w * 0.75, w * 0.7] : [w * 1.15, w * 0.85, w * 0.75]
        for i in 0..<(joints.count - 1) {
            limb(joints[i], joints[i + 1], widths[i], widths[i + 1], base)
        }
        let paw = joints[joints.count - 1]
        let pawColor = (coat.paws ?? coat.base).shaded(shade)
        if let socks = coat.paws {
            // Colour the lower part of the leg up to pawHeight of the last segment (and beyond for stockings).
            let last = joints[joints.count - 2]
            let upTo = paw.lerp(last, min(1, coat.pawHeight))
            limb(paw, upTo, widths[widths.count - 1] * 1.04, widths[widths.count - 2] * 1.02, socks.shaded(shade))
            if coat.pawHeight >= 1, joints.count >= 3 {
                let knee = joints[joints.count - 3]
                limb(
                    last, last.lerp(knee, 0.4), widths[widths.count - 2] * 1.02, widths[widths.count - 3] * 0.95,
                    socks.shaded(shade))
            }
        }
        let pawLength = w * 1.05
        part(paw + Point(pawLength * 0.35, -w * 0.02), pawLength, w * 0.5, pawColor)
    }

    private mutating func drawSide(swing: Double, phase: Double, walking: Bool) {
        let ty = torsoY + (walking ? 0.012 * sin(2 * phase) : 0)
        let shoulder = Point(0.3, ty), hip = Point(-0.32, ty + a.hindRise)
        let frontSwing = { (offset: Double) in swing * sin(phase + offset) }
        let bend = { (offset: Double) in walking ? -0.55 * max(0, cos(phase + offset)) : 0 }
        let hindBend = { (offset: Double) in walking ? 0.5 * max(0, cos(phase + offset)) : 0 }

        // Far legs, darker, slightly offset.
        let legTopFront = Point(shoulder.x - 0.05, ty - 0.04)
        let legTopHind = Point(hip.x - 0.05, ty - 0.03 + a.hindRise)
        drawLeg(
            legSegments(top: legTopFront, swing: frontSwing(Double.pi), bend: bend(Double.pi), hind: false), far: true,
            hind: false)
        drawLeg(
            legSegments(top: legTopHind, swing: frontSwing(0) * 0.8, bend: hindBend(0), hind: true), far: true,
            hind: true)

        let tailBase = Point(hip.x - a.rumpSize * 0.8, hip.y + a.rumpSize * 0.5)
        if a.tail != .curledOverBack { drawTail(from: tailBase, phase: phase, sitting: false) }

        // Body.
        let torsoCenter = shoulder.lerp(hip, 0.5)
        let torsoAngle = atan2(shoulder.y - hip.y, shoulder.x - hip.x)
        part(hip + Point(0, 0.02), a.rumpSize * 1.08, a.rumpSize, coat.base)
        part(torsoCenter, 0.45, a.torsoDepth / 2, angle: torsoAngle, coat.base)
        let chest = Point(shoulder.x + 0.03, ty - 0.02)
        part(chest, 0.2, a.chestDepth / 2, angle: 0.15, coat.base)
        if let under = coat.underside {
            painter.ellipse(
                Point(torsoCenter.x + 0.05, ty - a.torsoDepth * 0.3), 0.28, a.torsoDepth * 0.15,
                angle: torsoAngle, .solid(under), opacity: 0.45, feather: 0.05)
        }
        markings(torsoCenter, 0.42, a.torsoDepth / 2, angle: torsoAngle)
        markings(hip, a.rumpSize, a.rumpSize)

        // Neck and head positions.
        let lift = walking ? -0.04 : 0
        let neckBase = Point(shoulder.x + 0.06, ty + 0.07)
        let head = Point(shoulder.x + 0.2 + a.neckLength * 0.35, ty + a.neckLength + 0.05 + lift)
        limb(neckBase, head + Point(-0.03, -0.03), a.neckWidth * 1.35, a.neckWidth, coat.base)

        if let bib = coat.bib { drawSideBib(bib, chest: chest, head: head) }
        if a.tail == .curledOverBack { drawTail(from: tailBase + Point(0.04, 0.04), phase: phase, sitting: false) }

        // Near legs.
        drawLeg(
            legSegments(
                top: Point(hip.x + 0.02, ty - 0.02 + a.hindRise), swing: frontSwing(Double.pi) * 0.8,
                bend: hindBend(Double.pi), hind: true), far: false, hind: true)
        drawLeg(
            legSegments(top: Point(shoulder.x + 0.02, ty - 0.05), swing: frontSwing(0), bend: bend(0), hind: false),
            far: false, hind: false)

        drawSideHead(at: head, tilt: walking ? -0.12 : 0)
    }

    private mutating func drawSideBib(_ bib: RGB, chest: Point, head: Point) {
        let s = coat.bibScale
        let front = chest + Point(0.1, -0.01)
        painter.ellipse(
            front, 0.1 * s, a.chestDepth * 0.42 * s, angle: 0.25, body(bib, front, 0.1 * s, a.chestDepth * 0.42 * s))
        let throatTop = head + Point(0.05, -a.headHeight * 0.7)
        painter.capsule(front + Point(0.02, 0.05), throatTop, 0.075 * s, 0.05 * s, .solid(bib.shaded(-0.04)))
        if coat.texture == .curly {
            furEllipse(front, 0.09 * s, a.chestDepth * 0.38 * s, angle: 0.25, bib)
            furCapsule(front + Point(0.02, 0.05), throatTop, 0.055 * s, bib)
        }
    }

    private mutating func drawSideHead(at head: Point, tilt: Double) {
        let hl = a.headLength, hh = a.headHeight
        // Far ear first (upright ears show both).
        switch a.ears {
        case .pricked(let height, let width), .folded(let height, let width):
            drawPrickedEar(
                base: head + Point(-hl * 0.05, hh * 0.65), height: height * 0.95, width: width * 0.9,
                lean: 0.15, far: true)
        case .round(let radius):
            part(
                head + Point(-hl * 0.05, hh * 0.9), radius, radius, (coat.earColor ?? coat.base).shaded(-0.2),
                fur: false)
        case .floppy:
            break
        }
        part(head, hl, hh, angle: 0.1 + tilt, coat.base)
        if coat.texture == .curly {
            // A domed, curly topknot.
            part(head + Point(-hl * 0.15, hh * 0.4), hl * 0.8, hh * 0.62, angle: 0.1 + tilt, coat.base)
        }
        // Snout: a tapering capsule forward and slightly down, with a pale chin showing under it.
        let snoutStart = head + Point(hl * 0.45, -hh * 0.3)
        let snoutTip = head + Point(hl * 0.6 + a.snoutLength, -hh * 0.45).rotated(tilt * 0.5)
        let muzzleColor = coat.muzzle ?? coat.base
        if let chin = coat.chin {
            painter.ellipse(
                snoutStart.lerp(snoutTip, 0.45) + Point(0, -a.snoutWidth * 0.85), a.snoutWidth * 1.3,
                a.snoutWidth * 0.55,
                angle: -0.1, .solid(chin))
        }
        limb(snoutStart, snoutTip, a.snoutWidth * 1.2, a.snoutWidth * 0.85, muzzleColor)
        if let mask = coat.mask {
            painter.ellipse(
                head + Point(hl * 0.35, hh * 0.1), hl * 0.5, hh * 0.32, angle: -0.2, .solid(mask), opacity: 0.95)
            painter.ellipse(
                head + Point(hl * 0.3, hh * 0.55), hl * 0.4, hh * 0.16, angle: -0.1, .solid(RGB(0.9, 0.89, 0.86)))
        }
        // Nose and mouth.
        painter.ellipse(
            snoutTip + Point(a.snoutWidth * 0.3, a.snoutWidth * 0.25), a.snoutWidth * 0.5, a.snoutWidth * 0.42,
            .solid(coat.nose))
        painter.capsule(
            snoutTip + Point(-a.snoutWidth * 0.2, -a.snoutWidth * 0.55), snoutStart + Point(0, -a.snoutWidth * 0.75),
            0.006, 0.006, .solid(RGB(0.05, 0.03, 0.03)), opacity: 0.7)
        drawEye(head + Point(hl * 0.4, hh * 0.25), size: hh * 0.16)
        if a.whiskers { drawWhiskers(at: snoutTip + Point(-a.snoutWidth * 0.2, 0), mirrored: false) }

        switch a.ears {
        case .floppy(let length, let width):
            let top = head + Point(-hl * 0.3, hh * 0.7)
            let center = top + Point(-0.02, -length * 0.48)
            let earColor = coat.earColor ?? coat.base
            drawFloppyEar(center, width, length / 2, angle: -0.2, earColor)
        case .pricked(let height, let width):
            drawPrickedEar(
                base: head + Point(-hl * 0.35, hh * 0.7), height: height, width: width, lean: 0.1, far: false)
        case .folded(let height, let width):
            drawFoldedEar(base: head + Point(-hl * 0.35, hh * 0.7), height: height, width: width)
        case .round(let radius):
            let c = head + Point(-hl * 0.4, hh * 0.85)
            part(c, radius * 1.1, radius * 1.1, RGB(0.88, 0.87, 0.84), fur: false)
            part(c + Point(0, -radius * 0.1), radius * 0.85, radius * 0.85, coat.earColor ?? coat.base, fur: false)
        }
    }

    /// A hanging ear: a darker rim, then the lobe (slightly lighter on dark coats so it reads against the head).
    private mutating func drawFloppyEar(_ c: Point, _ rx: Double, _ ry: Double, angle: Double, _ color: RGB) {
        let dark = color.luma < 0.2
        painter.ellipse(
            c, rx * 1.12, ry * 1.05, angle: angle, .solid(color.shaded(dark ? -0.7 : -0.25)), opacity: dark ? 0.9 : 0.6)
        part(c, rx, ry, angle: angle, dark ? color.shaded(0.05) : color)
    }

    private mutating func drawPrickedEar(base: Point, height: Double, width: Double, lean: Double, far: Bool) {
        let color = (coat.earColor ?? coat.base).shaded(far ? -0.2 : 0)
        let left = base + Point(-width / 2, 0), right = base + Point(width / 2, 0)
        let tip = base + Point(-lean * height, height)
        painter.polygon([left, right, tip], body(color, base + Point(0, height / 2), width / 2, height / 2))
        if !far {
            let inner = RGB(0.75, 0.55, 0.5).mixed(with: coat.base, 0.35)
            painter.polygon(
                [
                    left.lerp(tip, 0.18) + Point(width * 0.15, 0), right.lerp(tip, 0.18) + Point(-width * 0.15, 0),
                    tip.lerp(base, 0.2),
                ], .solid(inner), opacity: 0.8)
        }
    }

    private mutating func drawFoldedEar(base: Point, height: Double, width: Double) {
        let color = coat.earColor ?? coat.base
        let left = base + Point(-width / 2, 0), right = base + Point(width / 2, 0)
        let fold = base + Point(-0.01, height * 0.65)
        painter.polygon(
            [left, right, fold + Point(width * 0.25, 0), fold + Point(-width * 0.3, 0)],
            body(color, base, width / 2, height / 2))
        painter.polygon(
            [fold + Point(-width * 0.3, 0), fold + Point(width * 0.25, 0), fold + Point(width * 0.35, -height * 0.35)],
            .solid(color.shaded(-0.2)))
    }

    private func drawEye(_ p: Point, size: Double) {
        if a.catEye {
            painter.ellipse(p, size * 1.15, size, .solid(coat.eye))
            painter.ellipse(p, size * 0.25, size * 0.85, .solid(RGB(0.02, 0.02, 0.02)))
        } else {
            painter.circle(p, size, .solid(coat.eye.shaded(-0.2)))
            painter.circle(p, size * 0.55, .solid(RGB(0.02, 0.015, 0.01)))
        }
        painter.circle(p + Point(size * 0.35, size * 0.35), size * 0.25, .solid(RGB(0.95, 0.95, 0.95)), opacity: 0.85)
        if painter.eyeShine {
            // The tapetum reflects the lamp: the whole eye glows, with a soft halo.
            painter.circle(p, size * 0.9, .solid(.white), opacity: 0.95, feather: size * 0.4)
        }
    }

    private func drawWhiskers(at p: Point, mirrored: Bool) {
        let sign = mirrored ? -1.0 : 1.0
        for (i, angle) in [-0.25, -0.05, 0.15].enumerated() {
            let end = p + Point(sign * cos(angle + Double.pi * 0.92) * -0.16, sin(angle) * 0.16 - 0.02 * Double(i))
            painter.capsule(p, end, 0.004, 0.002, .solid(RGB(0.9, 0.9, 0.88)), opacity: 0.7)
        }
    }

    // MARK: - Tails

    private mutating func drawTail(from base: Point, phase: Double, sitting: Bool) {
        let wag = 0.04 * sin(phase * 1.7)
        switch a.tail {
        case .plume:
            let mid = base + Point(-0.16, sitting ? 0.05 : 0.16), end = base + Point(-0.12 + wag, sitting ? 0.25 : 0.4)
            let path = bezier(base, mid, end, count: 6)
            for i in 0..<(path.count - 1) { limb(path[i], path[i + 1], 0.05, 0.042, coat.base) }
            part(end + Point(-0.01, 0.03), 0.075, 0.1, angle: 0.4, coat.base)
        case .thin(let length):
            let mid = base + Point(-length * 0.55, sitting ? -0.05 : -0.02)
            let end = base + Point(-length * 0.6 + wag, sitting ? 0.02 : length * 0.55)
            let path = bezier(base, mid, end, count: 8)
            for i in 0..<(path.count - 1) {
                let t0 = Double(i) / 8, t1 = Double(i + 1) / 8
                let color = (coat.tailRings != nil && i % 2 == 1) ? coat.tailRings! : coat.base
                limb(path[i], path[i + 1], 0.035 * (1 - 0.5 * t0), 0.035 * (1 - 0.5 * t1), color, fur: false)
            }
        case .otter:
            let path = bezier(base, base + Point(-0.2, -0.06), base + Point(-0.4 + wag, -0.14), count: 6)
            for i in 0..<(path.count - 1) {
                limb(path[i], path[i + 1], 0.055 * (1 - Double(i) / 7), 0.055 * (1 - Double(i + 1) / 7), coat.base)
            }
        case .feathered:
            let path = bezier(base, base + Point(-0.22, -0.02), base + Point(-0.42 + wag, -0.06), count: 6)
            for i in 0..<(path.count - 1) {
                limb(path[i], path[i + 1], 0.045, 0.035, coat.base)
                // Long hair hanging underneath.
                for _ in 0..<6 {
                    let root = path[i].lerp(path[i + 1], rng.nextDouble())
                    let end = root + Point(rng.uniform(-0.06, 0.0), -rng.uniform(0.05, 0.1))
                    painter.capsule(
                        root, end, 0.014, 0.003, .solid(coat.base.shaded(rng.uniform(-0.1, 0.15))), opacity: 0.8)
                }
            }
        case .curledOverBack:
            let path = bezier(base, base + Point(-0.12, 0.3), base + Point(0.14, 0.26 + wag), count: 6)
            for i in 0..<(path.count - 1) { limb(path[i], path[i + 1], 0.07, 0.06, coat.base) }
        case .bushy(let length, let width):
            let droop = sitting ? 0 : -0.1
            let path = bezier(base, base + Point(-length * 0.5, 0.02), base + Point(-length + wag, droop), count: 10)
            for (i, p) in path.enumerated() {
                let t = Double(i) / Double(path.count - 1)
                let r = width * (0.6 + 0.6 * sin(Double.pi * min(1, t * 1.1 + 0.1)))
                var color = coat.base
                if let rings = coat.tailRings, i % 2 == 1 { color = rings }
                if let tip = coat.tailTip, t > 0.78 { color = tip }
                part(p, r * 1.2, r, angle: atan2(droop, -length), color)
            }
        }
    }

    // MARK: - Sitting (side view)

    private mutating func drawSitting(phase: Double) {
        let hip = Point(-0.2, a.rumpSize * 0.95)
        let shoulder = Point(0.14, a.legLength + a.torsoDepth * 0.55)
        let torsoAngle = atan2(shoulder.y - hip.y, shoulder.x - hip.x)
        let torsoCenter = hip.lerp(shoulder, 0.5)
        let torsoHalf = (shoulder - hip).length / 2 + 0.12

        // Far front leg and far hind paw.
        drawLeg(
            [
                Point(shoulder.x - 0.03, shoulder.y - 0.08), Point(shoulder.x + 0.0, shoulder.y * 0.5),
                Point(shoulder.x + 0.02, a.legWidth * 0.45),
            ],
            far: true, hind: false)
        // The tail rests on the ground behind the haunch.
        var restHeight = a.legWidth
        if case .bushy(_, let width) = a.tail { restHeight = width * 1.15 }
        drawTail(from: Point(hip.x - a.rumpSize * 0.8, restHeight), phase: phase, sitting: true)
        part(torsoCenter, torsoHalf, a.torsoDepth / 2, angle: torsoAngle, coat.base)
        // Haunch and the hind foot lying flat in front of it.
        let haunch = hip + Point(0.02, 0)
        part(haunch, a.rumpSize * 1.15, a.rumpSize * 0.95, angle: 0.3, coat.base)
        markings(torsoCenter, torsoHalf * 0.9, a.torsoDepth / 2, angle: torsoAngle)
        let footBack = Point(hip.x - a.rumpSize * 0.1, a.legWidth * 0.5)
        let footFront = Point(hip.x + a.rumpSize * 1.05, a.legWidth * 0.5)
        limb(footBack, footFront, a.legWidth * 0.75, a.legWidth * 0.65, coat.base)
        if let socks = coat.paws {
            limb(footBack.lerp(footFront, 0.55), footFront, a.legWidth * 0.78, a.legWidth * 0.68, socks)
        }
        let chest = shoulder + Point(0.05, -0.06)
        part(chest, 0.17, a.chestDepth * 0.55, angle: 1.2, coat.base)
        let head = shoulder + Point(0.14 + a.neckLength * 0.2, a.neckLength + 0.1)
        limb(shoulder + Point(0.04, 0.04), head + Point(-0.03, -0.03), a.neckWidth * 1.4, a.neckWidth, coat.base)
        if let bib = coat.bib { drawSideBib(bib, chest: chest + Point(-0.02, 0.02), head: head) }
        // Near front leg, straight.
        drawLeg(
            [
                Point(shoulder.x + 0.04, shoulder.y - 0.1), Point(shoulder.x + 0.07, shoulder.y * 0.5),
                Point(shoulder.x + 0.08, a.legWidth * 0.45),
            ],
            far: false, hind: false)
        drawSideHead(at: head, tilt: 0.05 * sin(phase))
    }

    // MARK: - Front view

    private mutating func drawFront(phase: Double) {
        let ty = torsoY
        let sway = 0.012 * sin(phase)
        // Tail tip visible above the back for tails carried high.
        switch a.tail {
        case .plume, .curledOverBack:
            part(Point(0.17 + sway, ty + 0.27), 0.07, 0.09, angle: 0.5, coat.base)
        case .thin, .bushy, .otter, .feathered:
            break
        }
        // Hind legs behind, partly hidden.
        for side in [-1.0, 1.0] {
            drawLeg(
                [Point(side * 0.2, ty - 0.05), Point(side * 0.22, ty * 0.45), Point(side * 0.22, a.legWidth * 0.45)],
                far: true, hind: false)
        }
        let chestRX = a.chestDepth * 0.58, chestRY = a.chestDepth * 0.62
        let chest = Point(0, ty + 0.02)
        part(Point(0, ty + 0.06), chestRX * 1.08, chestRY * 0.9, coat.base)
        part(chest, chestRX, chestRY, coat.base)
        markings(chest, chestRX * 0.8, chestRY * 0.8)
        let headY = ty + a.neckLength + 0.1
        let head = Point(sway, headY)
        limb(Point(0, ty + 0.1), head + Point(0, -0.05), a.neckWidth * 1.5, a.neckWidth * 1.2, coat.base)
        if let bib = coat.bib {
            let s = coat.bibScale
            let c = Point(0, ty + 0.0)
            painter.ellipse(
                c, chestRX * 0.5 * s, chestRY * 0.78 * s, body(bib, c, chestRX * 0.5 * s, chestRY * 0.78 * s))
            painter.capsule(c, head + Point(0, -a.headHeight * 0.6), 0.07 * s, 0.06 * s, .solid(bib.shaded(-0.03)))
            if coat.texture == .curly { furEllipse(c, chestRX * 0.45 * s, chestRY * 0.7 * s, angle: 0, bib) }
        }
        if let under = coat.underside, coat.bib == nil {
            painter.ellipse(
                Point(0, ty - 0.02), chestRX * 0.45, chestRY * 0.6, .solid(under), opacity: 0.7, feather: 0.03)
        }
        for side in [-1.0, 1.0] {
            drawLeg(
                [Point(side * 0.1, ty - 0.02), Point(side * 0.11, ty * 0.5), Point(side * 0.11, a.legWidth * 0.45)],
                far: false, hind: false)
        }
        drawFrontHead(at: head)
    }

    private mutating func drawFrontHead(at head: Point) {
        let r = a.headHeight * 1.08
        let earColor = coat.earColor ?? coat.base
        switch a.ears {
        case .pricked(let height, let width), .folded(let height, let width):
            for side in [-1.0, 1.0] {
                let base = head + Point(side * r * 0.55, r * 0.6)
                let tip =
                    base
                    + Point(side * width * 0.35, height * (a.ears == .folded(height: height, width: width) ? 0.7 : 1))
                painter.polygon(
                    [base + Point(-width / 2, 0), base + Point(width / 2, 0), tip],
                    body(earColor, base, width / 2, height))
                let inner = RGB(0.75, 0.55, 0.5).mixed(with: coat.base, 0.35)
                painter.polygon(
                    [base + Point(-width * 0.3, 0.01), base + Point(width * 0.3, 0.01), base.lerp(tip, 0.8)],
                    .solid(inner), opacity: 0.8)
            }
        case .round(let radius):
            for side in [-1.0, 1.0] {
                let c = head + Point(side * r * 0.7, r * 0.8)
                part(c, radius * 1.1, radius * 1.1, RGB(0.88, 0.87, 0.84), fur: false)
                part(c + Point(0, -radius * 0.1), radius * 0.85, radius * 0.85, earColor, fur: false)
            }
        case .floppy(let length, let width):
            // Hanging beside the face, behind the head.
            for side in [-1.0, 1.0] {
                let c = head + Point(side * r * 0.98, r * 0.25 - length * 0.4)
                drawFloppyEar(c, width * 0.95, length / 2, angle: side * 0.15, earColor)
            }
        }
        part(head, r * 1.02, r, coat.base)
        if let mask = coat.mask {
            painter.ellipse(head + Point(0, r * 0.05), r * 0.95, r * 0.32, .solid(mask))
            painter.ellipse(head + Point(0, r * 0.5), r * 0.7, r * 0.16, .solid(RGB(0.9, 0.89, 0.86)))
        }
        let muzzleColor = coat.muzzle ?? coat.base
        let muzzle = head + Point(0, -r * 0.45)
        let muzzleHeight = a.snoutWidth * 1.0 + a.snoutLength * 0.18
        part(muzzle, a.snoutWidth * 1.35, muzzleHeight, muzzleColor)
        if let chin = coat.chin {
            painter.ellipse(
                muzzle + Point(0, -muzzleHeight * 0.55), a.snoutWidth * 0.9, muzzleHeight * 0.5, .solid(chin))
        }
        painter.ellipse(
            muzzle + Point(0, muzzleHeight * 0.45), a.snoutWidth * 0.6, a.snoutWidth * 0.42, .solid(coat.nose))
        painter.capsule(
            muzzle + Point(0, muzzleHeight * 0.1), muzzle + Point(0, -muzzleHeight * 0.3), 0.005, 0.005,
            .solid(RGB(0.05, 0.03, 0.03)), opacity: 0.6)
        for side in [-1.0, 1.0] {
            drawEye(head + Point(side * r * 0.42, r * 0.18), size: a.headHeight * 0.15)
            if a.whiskers { drawWhiskers(at: muzzle + Point(side * a.snoutWidth * 0.8, 0), mirrored: side < 0) }
        }
    }
}
