import Imaging
import Support

/// Procedurally drawn sample photos of Bo (the dog to admit) and of everything that must stay out, for
/// demos and end-to-end tests without third-party photos.
///
/// Everything is deterministic: a `SampleVariation` renders to the same pixels every time, and the random
/// variations drawn by a generator depend only on its seed and the requested index.
public struct SampleGenerator: Sendable {
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
    }

    /// The mix of subjects in the `not_bo` class, as weights summing to 1. Hard negatives (a black curly dog
    /// and a black smooth dog without white, a black cat with a white chest) make up almost a quarter.
    public static let negativeMix: [(subject: Subject, weight: Double)] = [
        (.blackCurlyDog, 0.08), (.blackDog, 0.08), (.tuxedoCat, 0.07),
        (.brownDog, 0.06), (.goldenDog, 0.06), (.spottedDog, 0.06), (.greyDog, 0.06), (.whiteDog, 0.06),
        (.tabbyCat, 0.04), (.greyCat, 0.03), (.whiteCat, 0.03),
        (.raccoon, 0.07), (.fox, 0.07), (.squirrel, 0.06),
        (.pigeon, 0.02), (.robin, 0.02), (.crow, 0.015), (.magpie, 0.015),
        (.nothing, 0.10),
    ]

    /// A random generator for one purpose (`salt`) and item (`index`), independent of all others.
    func stream(_ salt: UInt64, _ index: Int) -> SeededRandom {
        var mixer = SeededRandom(seed: seed ^ (salt &* 0xD6E8_FEB8_6659_FD93))
        let base = mixer.next()
        return SeededRandom(seed: base &+ UInt64(bitPattern: Int64(index)) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// A random variation showing a subject of `sampleClass` (for `notBo`, drawn from `negativeMix`).
    public func randomVariation(
        of sampleClass: SampleClass, index: Int, width: Int = 320, height: Int = 240
    ) -> SampleVariation {
        var rng = stream(sampleClass == .bo ? 1 : 2, index)
        let subject =
            sampleClass == .bo
            ? Subject.bo
            : Self.pick(from: Self.negativeMix.map(\.subject), weights: Self.negativeMix.map(\.weight), using: &rng)
        return Self.randomVariation(of: subject, width: width, height: height, using: &rng)
    }

    /// A random variation showing `subject`.
    public func randomVariation(
        showing subject: Subject, index: Int, width: Int = 320, height: Int = 240
    ) -> SampleVariation {
        var rng = stream(3 &+ UInt64(Subject.allCases.firstIndex(of: subject)!), index)
        return Self.randomVariation(of: subject, width: width, height: height, using: &rng)
    }

    /// Renders a random sample of `sampleClass`.
    public func sample(of sampleClass: SampleClass, index: Int, width: Int = 320, height: Int = 240) -> Sample {
        render(randomVariation(of: sampleClass, index: index, width: width, height: height))
    }

    /// Renders `variation`: the scene, the subject, its shadow, light, blur and noise.
    public func render(_ variation: SampleVariation) -> Sample {
        Self.render(variation)
    }

    /// The sample encoded as JPEG at its variation's quality.
    public func jpeg(_ sample: Sample) throws(ImagingError) -> [UInt8] {
        try JPEGEncoder.encode(sample.image, options: JPEGEncodeOptions(quality: sample.variation.jpegQuality))
    }

    // MARK: - Rendering

    /// Seeds of the independent random parts of one picture.
    struct PictureSeeds {
        var scene: UInt64
        var subject: UInt64
        var foreground: UInt64
        var light: UInt64
        var camera: UInt64

        init(_ detailSeed: UInt64) {
            var rng = SeededRandom(seed: detailSeed)
            scene = rng.next()
            subject = rng.next()
            foreground = rng.next()
            light = rng.next()
            camera = rng.next()
        }
    }

    static func render(_ v: SampleVariation) -> Sample {
        let seeds = PictureSeeds(v.detailSeed)
        return compose(v, background: background(v, seed: seeds.scene), seeds: seeds)
    }

    /// The scene of `v` without subject, light or camera effects, and the props standing in it.
    struct Background {
        var canvas: Canvas
        var props: [SceneRenderer.Prop]
    }

    static func background(_ v: SampleVariation, seed: UInt64) -> Background {
        let canvas = Canvas(width: v.width, height: v.height)
        var scene = SceneRenderer(canvas: canvas, kind: v.scene, horizon: v.horizon, rng: SeededRandom(seed: seed))
        let props = scene.drawBackground()
        return Background(canvas: canvas, props: props)
    }

    /// Draws the subject of `v` over a copy of `background` (behind the props nearer the camera than its
    /// feet), then the foreground, light, blur and noise.
    static func compose(_ v: SampleVariation, background: Background, seeds: PictureSeeds) -> Sample {
        precondition(background.canvas.width == v.width && background.canvas.height == v.height)
        let canvas = Canvas(copying: background.canvas)
        let drawn = drawSubject(v, on: canvas, using: SeededRandom(seed: seeds.subject))
        // At night the subject is lit by the lamp as the ground at its feet: remember which pixels it drew.
        let subjectMask = v.night == nil ? nil : changedPixels(canvas, from: background.canvas)
        var foreground = SceneRenderer(
            canvas: canvas, kind: v.scene, horizon: v.horizon, rng: SeededRandom(seed: seeds.foreground))
        if drawn != nil {
            let feet = v.groundY * Double(v.height)
            for prop in background.props where prop.base.y > feet + 2 { foreground.drawProp(prop, shadow: false) }
        }
        foreground.drawForeground()
        if let night = v.night, let subjectMask {
            night.apply(to: canvas, subject: subjectMask, horizon: v.horizon, groundY: v.groundY)
        } else {
            v.lighting.apply(to: canvas, seed: seeds.light)
        }
        canvas.blur(sigma: v.blurSigma)
        var cameraRng = SeededRandom(seed: seeds.camera)
        // Night noise is the same in every channel (no chroma), so the picture stays gray.
        canvas.addNoise(
            sigma: v.night?.noiseSigma ?? v.noiseSigma, chroma: v.night == nil ? 0.5 : 0, using: &cameraRng)
        let (box, visible) = clip(drawn, width: v.width, height: v.height)
        return Sample(image: canvas.image(), variation: v, subjectBounds: box, visibleFraction: visible)
    }

    /// Which pixels of `canvas` differ from `scene` (in any channel).
    static func changedPixels(_ canvas: Canvas, from scene: Canvas) -> [Bool] {
        precondition(canvas.data.count == scene.data.count)
        var changed = [Bool](repeating: false, count: canvas.width * canvas.height)
        canvas.data.withUnsafeBufferPointer { a in
            scene.data.withUnsafeBufferPointer { b in
                for p in changed.indices {
                    let i = 3 * p
                    changed[p] = a[i] != b[i] || a[i + 1] != b[i + 1] || a[i + 2] != b[i + 2]
                }
            }
        }
        return changed
    }

    /// The subject's pixel box clipped to the image and the visible fraction of its unclipped box.
    static func clip(_ bounds: Box?, width: Int, height: Int) -> (PixelBox?, Double) {
        guard let bounds, bounds.area > 0 else { return (nil, 0) }
        let frame = Box(minX: 0, minY: 0, maxX: Double(width), maxY: Double(height))
        guard let inside = bounds.intersection(frame) else { return (nil, 0) }
        let box = PixelBox(
            x0: max(0, Int(floor(inside.minX))), y0: max(0, Int(floor(inside.minY))),
            x1: min(width, Int(ceil(inside.maxX))), y1: min(height, Int(ceil(inside.maxY))))
        guard box.width > 0, box.height > 0 else { return (nil, 0) }
        return (box, inside.area / bounds.area)
    }

    /// Size factor and horizontal extent (local units) of `subject` in `pose`.
    static func figureMetrics(
        _ subject: Subject, _ pose: Pose
    ) -> (factor: Double, minX: Double, maxX: Double, height: Double) {
        if subject == .squirrel {
            let e = SquirrelFigure.extent(pose)
            return (SquirrelFigure.size, e.minX, e.maxX, e.height)
        }
        if subject.isBird {
            let e = BirdFigure.extent(pose)
            return (BirdFigure.size, e.minX, e.maxX, e.height)
        }
        let e = QuadrupedFigure.extent(pose)
        let factor: Double
        switch subject {
        case .tuxedoCat, .tabbyCat, .greyCat, .whiteCat: factor = 0.74
        case .raccoon: factor = 0.83
        case .fox: factor = 0.9
        default: factor = 1
        }
        return (factor, e.minX, e.maxX, e.height)
    }

    /// Draws the subject with a soft contact shadow; returns its unclipped pixel bounds.
    static func drawSubject(_ v: SampleVariation, on canvas: Canvas, using rng: SeededRandom) -> Box? {
        guard v.subject != .nothing else { return nil }
        var rng = rng
        let look = v.subject.isQuadruped ? AnimalLook.quadruped(v.subject, using: &rng) : nil
        let metrics = figureMetrics(v.subject, v.pose)
        let factor = look.map { $0.anatomy.size * metrics.factor } ?? metrics.factor
        let scale = v.subjectSize * Double(v.height) * factor
        let mirrored = v.facing == .left
        let mid = (metrics.minX + metrics.maxX) / 2
        let origin = Point(
            v.subjectX * Double(v.width) - (mirrored ? -1 : 1) * mid * scale, v.groundY * Double(v.height))
        let painter = Painter(
            canvas: canvas, transform: .figure(origin: origin, scale: scale, mirrored: mirrored, tilt: v.tilt))
        painter.eyeShine = v.night?.eyeShine == true

        // Soft shadow on the ground, then the figure with bounds tracking.
        let halfWidth = (metrics.maxX - metrics.minX) / 2
        painter.ellipse(Point(mid, 0.01), halfWidth * 0.85, 0.07, .solid(.black), opacity: 0.45, feather: 0.05)
        painter.ellipse(Point(mid + 0.12, 0.0), halfWidth * 1.05, 0.12, .solid(.black), opacity: 0.18, feather: 0.12)
        painter.tracking = true
        let figureRng = rng.split()
        if let look {
            var figure = QuadrupedFigure(look: look, painter: painter, rng: figureRng)
            figure.draw(pose: v.pose, phase: v.stridePhase)
        } else if v.subject == .squirrel {
            var figure = SquirrelFigure(painter: painter, rng: figureRng)
            figure.draw(pose: v.pose, phase: v.stridePhase)
        } else {
            var figure = BirdFigure(painter: painter, subject: v.subject, rng: figureRng)
            figure.draw(pose: v.pose, phase: v.stridePhase)
        }
        return painter.trackedBounds
    }

    // MARK: - Random variations

    /// One of `items`, chosen with probability proportional to its weight.
    static func pick<T>(from items: [T], weights: [Double], using rng: inout SeededRandom) -> T {
        precondition(items.count == weights.count && !items.isEmpty)
        var x = rng.uniform(0, weights.reduce(0, +))
        for (item, weight) in zip(items, weights) {
            x -= weight
            if x < 0 { return item }
        }
        return items[items.count - 1]
    }

    /// Draws every random parameter of a sample of `subject`. Scene, light and camera come from the same
    /// distribution whatever the subject.
    static func randomVariation(
        of subject: Subject, width: Int, height: Int, using rng: inout SeededRandom
    ) -> SampleVariation {
        let scene = pick(
            from: [SceneKind.lawn, .floor, .porch, .doorway, .clutter], weights: [0.25, 0.2, 0.25, 0.15, 0.15],
            using: &rng)
        let horizon = rng.uniform(0.25, 0.6)
        let lighting = Lighting.random(using: &rng)
        let blur = rng.nextDouble() < 0.4 ? 0 : rng.uniform(0.3, 1.1)
        let noise = rng.uniform(0.004, 0.025)
        let quality = 60 + rng.nextInt(below: 36)
        let detailSeed = rng.next()
        let facing: Facing = rng.nextDouble() < 0.5 ? .left : .right
        let phase = rng.uniform(0, 2 * Double.pi)
        let tilt = max(-0.08, min(0.08, rng.normal() * 0.035))

        var pose: Pose
        if subject.isBird {
            pose = pick(
                from: [Pose.standing, .walking, .sitting, .facingCamera], weights: [0.35, 0.3, 0.2, 0.15], using: &rng)
        } else if subject == .squirrel {
            pose = pick(from: [Pose.sitting, .standing, .walking], weights: [0.5, 0.25, 0.25], using: &rng)
        } else {
            pose = pick(
                from: [Pose.standing, .walking, .sitting, .facingCamera], weights: [0.3, 0.3, 0.2, 0.2], using: &rng)
        }
        if subject == .nothing { pose = .standing }

        let metrics = figureMetrics(subject, pose)
        let aspect = Double(width) / Double(height)
        // Body length as a fraction of the height; small animals are drawn with the same range, then scaled
        // by their size factor.
        // Mostly the whole animal fits in the frame; one in eight is a close-up that may not.
        let closeUp = rng.nextDouble() < 0.12
        var size: Double
        if subject.isBird || subject == .squirrel {
            size = closeUp ? rng.uniform(1.3, 1.8) : rng.uniform(0.6, 1.3)
        } else {
            size = closeUp ? rng.uniform(0.72, 0.95) : rng.uniform(0.3, 0.72)
        }
        // Keep the figure's height within the frame (below the horizon it may overlap the wall, as in a photo),
        // and unless it is a close-up, its width too.
        size = min(size, 0.95 / (metrics.height * metrics.factor))
        if !closeUp { size = min(size, 0.96 * aspect / ((metrics.maxX - metrics.minX) * metrics.factor)) }
        let figureHeight = metrics.height * metrics.factor * size
        var groundY = rng.uniform(max(horizon + 0.06, figureHeight * 0.95), 0.98)
        if groundY < horizon + 0.06 { groundY = horizon + 0.06 }
        if rng.nextDouble() < 0.08 { groundY += rng.uniform(0.03, 0.12) }  // feet out of frame

        // Horizontal placement: usually fully inside; sometimes cut by the edge on the tail side.
        let halfWidth = (metrics.maxX - metrics.minX) / 2 * metrics.factor * size / aspect
        var x: Double
        if halfWidth >= 0.5 {
            x = rng.uniform(1 - halfWidth, halfWidth)
        } else if rng.nextDouble() < 0.16 {
            let visible = rng.uniform(0.6, 0.85)
            let cut = (1 - visible) * 2 * halfWidth
            // The tail side is on the left for a figure facing right.
            x = facing == .right ? halfWidth - cut : 1 - halfWidth + cut
        } else {
            x = rng.uniform(halfWidth, 1 - halfWidth)
        }
        if subject == .nothing { x = 0.5 }

        return SampleVariation(
            width: width, height: height, subject: subject, pose: pose, facing: facing, stridePhase: phase,
            subjectX: x, groundY: groundY, subjectSize: size, tilt: tilt, scene: scene, horizon: horizon,
            lighting: lighting, blurSigma: blur, noiseSigma: noise, jpegQuality: quality, detailSeed: detailSeed)
    }
}
