#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
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
    public func randomVariation(of sampleClass: SampleClass, index: Int, width: Int = 320, height: Int = 240) -> SampleVariation {
        var rng = stream(sampleClass == .bo ? 1 : 2, index)
        let subject = sampleClass == .bo ? Subject.bo : Self.pick(from: Self.negativeMix, using: &rng)
        return Self.randomVariation(of: subject, width: width, height: height, using: &rng)
    }

    /// A random variation showing `subject`.
    public func randomVariation(of subject: Subject, index: Int, width: Int = 320, height: Int = 240) -> SampleVariation {
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

    static func render(_ v: SampleVariation) -> Sample {
        var rng = SeededRandom(seed: v.detailSeed)
        let sceneRng = rng.split(), subjectRng = rng.split(), foregroundRng = rng.split()
        var cameraRng = rng.split()
        let lightSeed = rng.next()
        let canvas = Canvas(width: v.width, height: v.height)
        var scene = SceneRenderer(canvas: canvas, kind: v.scene, horizon: v.horizon, rng: sceneRng)
        scene.drawBackground()
        let drawn = drawSubject(v, on: canvas, using: subjectRng)
        scene.rng = foregroundRng
        scene.drawForeground()
        v.lighting.apply(to: canvas, seed: lightSeed)
        canvas.blur(sigma: v.blurSigma)
        canvas.addNoise(sigma: v.noiseSigma, chroma: 0.5, using: &cameraRng)
        let (box, visible) = clip(drawn, width: v.width, height: v.height)
        return Sample(image: canvas.image(), variation: v, subjectBounds: box, visibleFraction: visible)
    }

    /// The subject's pixel box clipped to the image and the visible fraction of its unclipped box.
    static func clip(_ bounds: Box?, width: Int, height: Int) -> (PixelBox?, Double) {
        guard let bounds, bounds.area > 0 else { return (nil, 0) }
        let frame = Box(minX: 0, minY: 0, maxX: Double(width), maxY: Double(height))
        guard let inside = bounds.intersection(frame) else { return (nil, 0) }
        let box = PixelBox(x0: max(0, Int(floor(inside.minX))), y0: max(0, Int(floor(inside.minY))),
                           x1: min(width, Int(ceil(inside.maxX))), y1: min(height, Int(ceil(inside.maxY))))
        guard box.width > 0, box.height > 0 else { return (nil, 0) }
        return (box, inside.area / bounds.area)
    }

    /// Size factor and horizontal extent (local units) of `subject` in `pose`.
    static func figureMetrics(_ subject: Subject, _ pose: Pose) -> (factor: Double, minX: Double, maxX: Double, height: Double) {
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
        let origin = Point(v.subjectX * Double(v.width) - (mirrored ? -1 : 1) * mid * scale, v.groundY * Double(v.height))
        let painter = Painter(canvas: canvas, transform: .figure(origin: origin, scale: scale, mirrored: mirrored, tilt: v.tilt))

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

    static func pick<T>(from weighted: [(subject: T, weight: Double)], using rng: inout SeededRandom) -> T {
        let total = weighted.reduce(0) { $0 + $1.weight }
        var x = rng.uniform(0, total)
        for entry in weighted {
            x -= entry.weight
            if x < 0 { return entry.subject }
        }
        return weighted[weighted.count - 1].subject
    }

    /// Draws every random parameter of a sample of `subject`. Scene, light and camera come from the same
    /// distribution whatever the subject.
    static func randomVariation(of subject: Subject, width: Int, height: Int, using rng: inout SeededRandom) -> SampleVariation {
        let scene = pick(from: [(SceneKind.lawn, 0.25), (.floor, 0.2), (.porch, 0.25), (.doorway, 0.15), (.clutter, 0.15)], using: &rng)
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
            pose = pick(from: [(Pose.standing, 0.35), (.walking, 0.3), (.sitting, 0.2), (.facingCamera, 0.15)], using: &rng)
        } else if subject == .squirrel {
            pose = pick(from: [(Pose.sitting, 0.5), (.standing, 0.25), (.walking, 0.25)], using: &rng)
        } else {
            pose = pick(from: [(Pose.standing, 0.3), (.walking, 0.3), (.sitting, 0.2), (.facingCamera, 0.2)], using: &rng)
        }
        if subject == .nothing { pose = .standing }

        let metrics = figureMetrics(subject, pose)
        let aspect = Double(width) / Double(height)
        // Body length as a fraction of the height; small animals are drawn with the same range, then scaled
        // by their size factor.
        var size = subject.isBird || subject == .squirrel ? rng.uniform(0.7, 1.7) : rng.uniform(0.38, 0.95)
        // Keep the figure's height within the frame (below the horizon it may overlap the wall, as in a photo).
        let maxHeight = 0.95 / (metrics.height * metrics.factor)
        size = min(size, maxHeight)
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

        return SampleVariation(width: width, height: height, subject: subject, pose: pose, facing: facing, stridePhase: phase,
                               subjectX: x, groundY: groundY, subjectSize: size, tilt: tilt, scene: scene, horizon: horizon,
                               lighting: lighting, blurSigma: blur, noiseSigma: noise, jpegQuality: quality, detailSeed: detailSeed)
    }
}
