import Support

/// How a quadruped's ears are drawn.
enum EarStyle: Equatable {
    /// Hanging beside the head (`length` down from the crown, `width` across).
    case floppy(length: Double, width: Double)
    /// Upright triangles.
    case pricked(height: Double, width: Double)
    /// Upright at the base with the tip folded forward.
    case folded(height: Double, width: Double)
    /// Small rounded ears (raccoon).
    case round(radius: Double)
}

/// How a quadruped's tail is drawn.
enum TailStyle: Equatable {
    /// Raised in a curve with a curly tuft at the end (Bo, Portuguese Water Dog style).
    case plume
    /// Long and thin, raised in a curve (cats, short-haired dogs).
    case thin(length: Double)
    /// Thick at the base, tapering, carried low (retriever-like).
    case otter
    /// Carried low with long hair hanging underneath.
    case feathered
    /// Curled over the back (spitz-like).
    case curledOverBack
    /// Long, full and nearly horizontal (fox, raccoon).
    case bushy(length: Double, width: Double)
}

/// Fur rendering.
enum FurTexture: Equatable {
    /// Small ring-shaped curls.
    case curly
    /// Short sleek coat: faint strokes along the body.
    case smooth
    /// Long soft coat: many short strokes in several shades, a fuzzy outline.
    case fluffy
}

/// The proportions of a four-legged animal, in units of its body length, for the figure facing right
/// with the ground at y = 0.
struct Anatomy {
    var legLength: Double
    var legWidth: Double
    var torsoDepth: Double
    var chestDepth: Double
    var rumpSize: Double
    /// Extra height of the hips over the shoulders (a raccoon's arched back).
    var hindRise: Double
    var neckLength: Double
    var neckWidth: Double
    var headLength: Double
    var headHeight: Double
    var snoutLength: Double
    var snoutWidth: Double
    var ears: EarStyle
    var tail: TailStyle
    var whiskers: Bool
    /// Cat-like eye (coloured iris, slit pupil) rather than a dark dog eye.
    var catEye: Bool
    /// Size relative to a medium dog for the same `subjectSize`.
    var size: Double
}

/// Colours and markings of a coat.
struct Coat {
    var base: RGB
    var texture: FurTexture
    /// Curl radius for curly coats (body-length units).
    var curlSize: Double = 0.022
    /// Lighter or different colour along the belly and throat.
    var underside: RGB?
    /// A chest patch from the throat down between the front legs.
    var bib: RGB?
    var bibScale: Double = 1
    /// Socks (white paws) or stockings (a fox's black legs).
    var paws: RGB?
    /// The fraction of the lower leg that `paws` covers.
    var pawHeight: Double = 0.45
    var muzzle: RGB?
    var chin: RGB?
    /// Raccoon mask across the eyes.
    var mask: RGB?
    /// Spots scattered over the body (count per unit of body area).
    var spots: RGB?
    var spotDensity: Double = 0
    /// Tabby stripes.
    var stripes: RGB?
    var tailTip: RGB?
    var tailRings: RGB?
    var earColor: RGB?
    var eye: RGB = RGB(0.18, 0.10, 0.05)
    var nose: RGB = RGB(0.05, 0.04, 0.04)
}

/// A complete description of one animal's appearance.
struct AnimalLook {
    var anatomy: Anatomy
    var coat: Coat
}

extension AnimalLook {
    /// The look of `subject`, with individual variation drawn from `rng` (Bo varies only slightly: he is
    /// always the same dog).
    static func quadruped(_ subject: Subject, using rng: inout SeededRandom) -> AnimalLook {
        func u(_ a: Double, _ b: Double) -> Double { rng.uniform(a, b) }
        let dogBase = Anatomy(
            legLength: u(0.40, 0.50), legWidth: u(0.075, 0.095), torsoDepth: u(0.33, 0.40),
            chestDepth: u(0.38, 0.44), rumpSize: u(0.17, 0.21), hindRise: 0, neckLength: u(0.26, 0.34),
            neckWidth: u(0.10, 0.13), headLength: u(0.14, 0.17), headHeight: u(0.115, 0.14),
            snoutLength: u(0.15, 0.24), snoutWidth: u(0.06, 0.08),
            ears: .floppy(length: u(0.17, 0.23), width: u(0.06, 0.08)), tail: .otter,
            whiskers: false, catEye: false, size: 1)
        let catBase = Anatomy(
            legLength: u(0.32, 0.37), legWidth: u(0.055, 0.065), torsoDepth: u(0.27, 0.31),
            chestDepth: u(0.30, 0.34), rumpSize: u(0.15, 0.17), hindRise: 0.02, neckLength: u(0.16, 0.2),
            neckWidth: 0.085, headLength: u(0.12, 0.135), headHeight: u(0.115, 0.13),
            snoutLength: 0.035, snoutWidth: 0.05, ears: .pricked(height: u(0.10, 0.13), width: u(0.085, 0.1)),
            tail: .thin(length: u(0.65, 0.8)), whiskers: true, catEye: true, size: u(0.68, 0.8))
        switch subject {
        case .bo:
            var a = dogBase
            a.legLength = 0.44
            a.legWidth = 0.092
            a.torsoDepth = 0.37
            a.chestDepth = 0.43
            a.rumpSize = 0.2
            a.neckLength = 0.3
            a.neckWidth = 0.125
            a.headLength = 0.165
            a.headHeight = 0.14
            a.snoutLength = 0.13
            a.snoutWidth = 0.08
            a.ears = .floppy(length: 0.21, width: 0.075)
            a.tail = .plume
            a.size = u(0.97, 1.03)
            let coat = Coat(
                base: RGB(0.055, 0.052, 0.06).jittered(&rng, brightness: 0.15, hue: 0.05), texture: .curly,
                curlSize: u(0.02, 0.024), bib: RGB(0.94, 0.93, 0.9), bibScale: u(0.92, 1.1),
                paws: RGB(0.93, 0.92, 0.89), pawHeight: u(0.45, 0.6), chin: RGB(0.9, 0.89, 0.86))
            return AnimalLook(anatomy: a, coat: coat)
        case .blackCurlyDog:
            var a = dogBase
            a.ears = .floppy(length: u(0.18, 0.23), width: u(0.065, 0.08))
            a.tail = rng.nextDouble() < 0.6 ? .plume : .otter
            a.legWidth = u(0.085, 0.095)
            let coat = Coat(
                base: RGB(0.06, 0.055, 0.06).jittered(&rng, brightness: 0.2, hue: 0.05), texture: .curly,
                curlSize: u(0.018, 0.026))
            return AnimalLook(anatomy: a, coat: coat)
        case .blackDog:
            var a = dogBase
            a.tail = .otter
            a.ears = .floppy(length: u(0.14, 0.18), width: u(0.06, 0.075))
            let coat = Coat(base: RGB(0.07, 0.065, 0.07).jittered(&rng, brightness: 0.2, hue: 0.05), texture: .smooth)
            return AnimalLook(anatomy: a, coat: coat)
        case .brownDog:
            var a = dogBase
            a.legLength = u(0.44, 0.52)
            a.ears =
                rng.nextDouble() < 0.5
                ? .pricked(height: u(0.11, 0.15), width: u(0.07, 0.09))
                : .folded(height: u(0.1, 0.13), width: u(0.07, 0.09))
            a.tail = rng.nextDouble() < 0.5 ? .thin(length: u(0.4, 0.5)) : .otter
            let base = [RGB(0.48, 0.30, 0.16), RGB(0.62, 0.40, 0.22), RGB(0.36, 0.22, 0.13)][rng.nextInt(below: 3)]
            let coat = Coat(
                base: base.jittered(&rng, brightness: 0.12, hue: 0.06), texture: .smooth,
                underside: base.shaded(0.25), muzzle: rng.nextDouble() < 0.5 ? base.shaded(-0.55) : nil)
            return AnimalLook(anatomy: a, coat: coat)
        case .goldenDog:
            var a = dogBase
            a.tail = .feathered
            a.ears = .floppy(length: u(0.16, 0.2), width: u(0.07, 0.085))
            let base = RGB(0.86, 0.64, 0.34).jittered(&rng, brightness: 0.12, hue: 0.05)
            return AnimalLook(
                anatomy: a,
                coat: Coat(base: base, texture: .fluffy, underside: base.shaded(0.3), muzzle: base.shaded(0.15)))
        case .spottedDog:
            var a = dogBase
            a.legLength = u(0.46, 0.52)
            a.tail = .thin(length: u(0.42, 0.5))
            a.ears = .floppy(length: u(0.13, 0.17), width: u(0.06, 0.07))
            let coat = Coat(
                base: RGB(0.93, 0.92, 0.89).jittered(&rng, brightness: 0.05, hue: 0.02), texture: .smooth,
                spots: rng.nextDouble() < 0.8 ? RGB(0.07, 0.06, 0.06) : RGB(0.35, 0.2, 0.12), spotDensity: u(45, 80),
                earColor: rng.nextDouble() < 0.4 ? RGB(0.08, 0.07, 0.07) : nil)
            return AnimalLook(anatomy: a, coat: coat)
        case .greyDog:
            var a = dogBase
            let curly = rng.nextDouble() < 0.4
            a.legLength = u(0.46, 0.54)
            a.tail = curly ? .plume : .otter
            let base = RGB(0.52, 0.52, 0.55).jittered(&rng, brightness: 0.2, hue: 0.04)
            return AnimalLook(
                anatomy: a, coat: Coat(base: base, texture: curly ? .curly : .smooth, underside: base.shaded(0.15)))
        case .whiteDog:
            var a = dogBase
            a.ears = .pricked(height: u(0.1, 0.13), width: u(0.08, 0.1))
            a.tail = .curledOverBack
            a.snoutLength = u(0.12, 0.17)
            let base = RGB(0.93, 0.92, 0.88).jittered(&rng, brightness: 0.05, hue: 0.03)
            return AnimalLook(anatomy: a, coat: Coat(base: base, texture: .fluffy))
        case .tuxedoCat:
            let coat = Coat(
                base: RGB(0.06, 0.055, 0.06).jittered(&rng, brightness: 0.2, hue: 0.05), texture: .smooth,
                bib: RGB(0.93, 0.92, 0.9), bibScale: u(0.8, 1.05), paws: RGB(0.93, 0.92, 0.9),
                pawHeight: u(0.3, 0.6), muzzle: rng.nextDouble() < 0.6 ? RGB(0.92, 0.91, 0.88) : nil,
                chin: RGB(0.92, 0.91, 0.88), eye: RGB(0.55, 0.62, 0.15), nose: RGB(0.75, 0.45, 0.45))
            return AnimalLook(anatomy: catBase, coat: coat)
        case .tabbyCat:
            let base = RGB(0.85, 0.52, 0.22).jittered(&rng, brightness: 0.1, hue: 0.05)
            let coat = Coat(
                base: base, texture: .smooth, underside: base.shaded(0.4), muzzle: base.shaded(0.45),
                stripes: base.shaded(-0.4), tailRings: base.shaded(-0.35), eye: RGB(0.7, 0.6, 0.15),
                nose: RGB(0.8, 0.5, 0.45))
            return AnimalLook(anatomy: catBase, coat: coat)
        case .greyCat:
            let base = RGB(0.5, 0.5, 0.53).jittered(&rng, brightness: 0.15, hue: 0.03)
            let coat = Coat(
                base: base, texture: .smooth, underside: base.shaded(0.15),
                stripes: rng.nextDouble() < 0.5 ? base.shaded(-0.35) : nil, eye: RGB(0.55, 0.65, 0.2),
                nose: RGB(0.55, 0.4, 0.42))
            return AnimalLook(anatomy: catBase, coat: coat)
        case .whiteCat:
            let coat = Coat(
                base: RGB(0.94, 0.93, 0.91).jittered(&rng, brightness: 0.04, hue: 0.02),
                texture: rng.nextDouble() < 0.5 ? .fluffy : .smooth,
                eye: rng.nextDouble() < 0.5 ? RGB(0.3, 0.55, 0.8) : RGB(0.75, 0.65, 0.2), nose: RGB(0.9, 0.6, 0.6))
            return AnimalLook(anatomy: catBase, coat: coat)
        case .raccoon:
            let a = Anatomy(
                legLength: u(0.26, 0.3), legWidth: 0.075, torsoDepth: u(0.38, 0.42), chestDepth: 0.36,
                rumpSize: u(0.22, 0.25), hindRise: u(0.07, 0.1), neckLength: 0.14, neckWidth: 0.12,
                headLength: 0.14, headHeight: 0.12, snoutLength: 0.12, snoutWidth: 0.05,
                ears: .round(radius: 0.045), tail: .bushy(length: u(0.5, 0.6), width: 0.085),
                whiskers: true, catEye: false, size: u(0.78, 0.88))
            let base = RGB(0.47, 0.45, 0.42).jittered(&rng, brightness: 0.12, hue: 0.04)
            let coat = Coat(
                base: base, texture: .fluffy, underside: base.shaded(0.2), paws: RGB(0.12, 0.11, 0.1),
                pawHeight: 0.6, muzzle: RGB(0.85, 0.84, 0.8), mask: RGB(0.06, 0.05, 0.05),
                tailRings: RGB(0.1, 0.09, 0.08), earColor: base.shaded(-0.3), eye: RGB(0.02, 0.02, 0.02))
            return AnimalLook(anatomy: a, coat: coat)
        case .fox:
            let a = Anatomy(
                legLength: u(0.40, 0.46), legWidth: 0.055, torsoDepth: u(0.28, 0.32), chestDepth: 0.33,
                rumpSize: 0.16, hindRise: 0, neckLength: u(0.24, 0.28), neckWidth: 0.1,
                headLength: 0.14, headHeight: 0.11, snoutLength: u(0.2, 0.24), snoutWidth: 0.05,
                ears: .pricked(height: u(0.14, 0.17), width: u(0.09, 0.11)),
                tail: .bushy(length: u(0.7, 0.8), width: 0.11),
                whiskers: false, catEye: true, size: u(0.85, 0.95))
            let base = RGB(0.86, 0.42, 0.12).jittered(&rng, brightness: 0.12, hue: 0.06)
            let coat = Coat(
                base: base, texture: .fluffy, underside: RGB(0.93, 0.9, 0.84), bib: RGB(0.94, 0.92, 0.86),
                bibScale: u(0.7, 0.85), paws: RGB(0.1, 0.07, 0.06), pawHeight: 1, chin: RGB(0.95, 0.93, 0.88),
                tailTip: RGB(0.95, 0.94, 0.9), earColor: RGB(0.12, 0.08, 0.06), eye: RGB(0.75, 0.5, 0.1))
            return AnimalLook(anatomy: a, coat: coat)
        case .squirrel, .pigeon, .robin, .crow, .magpie, .nothing:
            preconditionFailure("\(subject) is not a quadruped")
        }
    }
}
