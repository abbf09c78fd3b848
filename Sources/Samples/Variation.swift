import Imaging
import Support

/// The two classes of the dog-door classifier, named as the dataset folders are.
public enum SampleClass: String, CaseIterable, Sendable, Codable {
    /// Bo, the dog to admit.
    case bo
    /// Everything else: other animals and empty scenes.
    case notBo = "not_bo"
}

/// What a sample image shows. The raw value names the subject in file names and manifests.
public enum Subject: String, CaseIterable, Sendable, Codable {
    /// Bo: a black curly-coated dog with a white bib and white paws, floppy ears and a plumed tail.
    case bo
    /// A short-coated brown dog with pricked or half-folded ears.
    case brownDog = "dog-brown"
    /// A golden, feathery-coated dog with floppy ears.
    case goldenDog = "dog-golden"
    /// A white dog with black spots.
    case spottedDog = "dog-spotted"
    /// A grey dog, smooth or curly.
    case greyDog = "dog-grey"
    /// A white fluffy dog with pricked ears and a tail curled over its back.
    case whiteDog = "dog-white"
    /// Hard negative: a smooth black dog without any white.
    case blackDog = "dog-black"
    /// Hard negative: a black curly dog shaped like Bo but without the white bib and paws.
    case blackCurlyDog = "dog-black-curly"
    /// Hard negative: a black cat with a white chest and white paws.
    case tuxedoCat = "cat-tuxedo"
    /// An orange tabby cat.
    case tabbyCat = "cat-tabby"
    /// A grey cat.
    case greyCat = "cat-grey"
    /// A white cat.
    case whiteCat = "cat-white"
    /// A raccoon: grey with a black mask and a ringed tail.
    case raccoon
    /// A red fox with a white tail tip, white throat and black legs.
    case fox
    /// A squirrel with a bushy tail.
    case squirrel
    /// A grey pigeon.
    case pigeon = "bird-pigeon"
    /// A robin with an orange breast.
    case robin = "bird-robin"
    /// A black crow.
    case crow = "bird-crow"
    /// A black-and-white magpie.
    case magpie = "bird-magpie"
    /// No animal at all.
    case nothing = "empty"

    /// The class a classifier should assign.
    public var sampleClass: SampleClass { self == .bo ? .bo : .notBo }

    /// Whether the subject is a four-legged animal drawn with the shared quadruped model.
    var isQuadruped: Bool {
        switch self {
        case .squirrel, .pigeon, .robin, .crow, .magpie, .nothing: return false
        default: return true
        }
    }

    var isBird: Bool { [.pigeon, .robin, .crow, .magpie].contains(self) }
}

/// A body posture. Birds and squirrels interpret it loosely (perched or hopping, upright or running).
public enum Pose: String, CaseIterable, Sendable, Codable {
    case standing
    case walking
    case sitting
    /// Facing the camera (front view).
    case facingCamera = "facing-camera"
}

/// Which way a side view faces.
public enum Facing: String, CaseIterable, Sendable {
    case left
    case right
}

/// The setting behind the subject.
public enum SceneKind: String, CaseIterable, Sendable, Codable {
    /// Grass with a hedge, fence or sky behind.
    case lawn
    /// An indoor floor (planks or tiles) and a wall.
    case floor
    /// A wooden porch deck in front of a house wall with a door.
    case porch
    /// A close view of a door frame and threshold.
    case doorway
    /// Random blobs and shapes over a gradient.
    case clutter
}

/// Global illumination and colour changes applied over the whole picture, subject included.
public struct Lighting: Sendable, Equatable {
    /// Overall brightness multiplier.
    public var exposure: Double
    /// White balance: negative is cooler (bluer), positive warmer; -1...1.
    public var warmth: Double
    /// Direction (radians) in which a linear brightness ramp increases.
    public var rampAngle: Double
    /// Strength of that ramp: brightness varies by about ±`rampStrength` across the frame.
    public var rampStrength: Double
    /// Darkening of the corners, 0...1.
    public var vignette: Double
    /// Saturation multiplier.
    public var saturation: Double
    /// Gamma applied after exposure (values above 1 darken mid-tones).
    public var gamma: Double
    /// Number of soft shadow bands (railings, blinds, branches) across the frame; 0 for none.
    public var shadowBands: Int
    /// Direction of the shadow bands, radians.
    public var shadowAngle: Double
    /// Dappled light (foliage shade) strength, 0...1.
    public var dapple: Double

    /// Neutral light: no change.
    public static let neutral = Lighting(
        exposure: 1, warmth: 0, rampAngle: 0, rampStrength: 0, vignette: 0,
        saturation: 1, gamma: 1, shadowBands: 0, shadowAngle: 0, dapple: 0)

    public init(
        exposure: Double, warmth: Double, rampAngle: Double, rampStrength: Double, vignette: Double,
        saturation: Double, gamma: Double, shadowBands: Int, shadowAngle: Double, dapple: Double
    ) {
        self.exposure = exposure
        self.warmth = warmth
        self.rampAngle = rampAngle
        self.rampStrength = rampStrength
        self.vignette = vignette
        self.saturation = saturation
        self.gamma = gamma
        self.shadowBands = shadowBands
        self.shadowAngle = shadowAngle
        self.dapple = dapple
    }

    /// A random light, from dim and cool to bright and warm, the same distribution for every class.
    public static func random(using rng: inout SeededRandom) -> Lighting {
        let bands = rng.nextDouble() < 0.22 ? 2 + rng.nextInt(below: 5) : 0
        return Lighting(
            exposure: rng.uniform(0.72, 1.22), warmth: rng.uniform(-1, 1),
            rampAngle: rng.uniform(0, 2 * Double.pi), rampStrength: rng.uniform(0, 0.28),
            vignette: rng.uniform(0, 0.35), saturation: rng.uniform(0.75, 1.15), gamma: rng.uniform(0.88, 1.15),
            shadowBands: bands, shadowAngle: rng.uniform(-1.2, 1.2),
            dapple: rng.nextDouble() < 0.18 ? rng.uniform(0.15, 0.4) : 0)
    }
}

/// How a camera with infrared lamps sees the scene after dark: a gray picture, the ground nearest the camera
/// brightest and the far background dim (the lamp's light falls off with distance), the subject lit as
/// brightly as the ground it stands on or more (fur reflects the lamp well), heavier sensor noise, and eyes
/// that may shine back at the lamp.
public struct NightLook: Sendable, Equatable {
    /// Brightness of the nearest ground (the frame's bottom edge), 0...1.
    public var illumination: Double
    /// Brightness of the far background (above the horizon), relative to the nearest ground, 0...1.
    public var farLevel: Double
    /// Brightness of the subject relative to the ground at its feet (1 or more).
    public var subjectGain: Double
    /// Darkening towards the corners (the lamp lights the middle of the view most), 0...1.
    public var hotSpot: Double
    /// Sensor noise, standard deviation in 0...1 units (the same in every channel: the picture stays gray).
    public var noiseSigma: Double
    /// Whether a four-legged animal's eyes shine back at the lamp.
    public var eyeShine: Bool

    public init(
        illumination: Double, farLevel: Double, subjectGain: Double, hotSpot: Double, noiseSigma: Double,
        eyeShine: Bool
    ) {
        self.illumination = illumination
        self.farLevel = farLevel
        self.subjectGain = subjectGain
        self.hotSpot = hotSpot
        self.noiseSigma = noiseSigma
        self.eyeShine = eyeShine
    }

    /// A random night look, the same distribution for every subject.
    public static func random(using rng: inout SeededRandom) -> NightLook {
        NightLook(
            illumination: rng.uniform(0.75, 1.05), farLevel: rng.uniform(0.12, 0.35),
            subjectGain: rng.uniform(1, 1.35), hotSpot: rng.uniform(0.2, 0.55), noiseSigma: rng.uniform(0.02, 0.05),
            eyeShine: rng.nextDouble() < 0.5)
    }
}

/// Everything that determines one sample image. Rendering is a pure function of these values.
public struct SampleVariation: Sendable, Equatable {
    /// Image width in pixels.
    public var width: Int
    /// Image height in pixels.
    public var height: Int
    /// What the picture shows.
    public var subject: Subject
    public var pose: Pose
    /// Which way a side view faces.
    public var facing: Facing
    /// Leg-swing phase for walking poses, radians.
    public var stridePhase: Double
    /// Horizontal position of the subject's centre, as a fraction of the width (may lie outside 0...1 for a
    /// subject partly out of frame).
    public var subjectX: Double
    /// Where the subject's feet touch the ground, as a fraction of the height (may exceed 1: feet cropped).
    public var groundY: Double
    /// Size of the subject: its body length (nose to rump for a dog-sized animal) as a fraction of the
    /// image height. Small animals (birds, squirrels) come out smaller for the same value.
    public var subjectSize: Double
    /// Small rotation of the whole subject, radians (an uneven floor, a tilted camera).
    public var tilt: Double
    /// The setting.
    public var scene: SceneKind
    /// Height of the horizon (where floor meets wall or lawn meets background), fraction of the height.
    public var horizon: Double
    /// Light over the whole picture.
    public var lighting: Lighting
    /// Gaussian blur of the whole picture, pixels (out of focus or motion).
    public var blurSigma: Double
    /// Sensor noise, standard deviation in 0...1 units.
    public var noiseSigma: Double
    /// JPEG quality used when the sample is written.
    public var jpegQuality: Int
    /// Seeds the details: background layout, props, fur texture, individual markings.
    public var detailSeed: UInt64
    /// An infrared night picture instead of a daylight one (`lighting` and `noiseSigma` are then unused);
    /// nil for daylight.
    public var night: NightLook?

    public init(
        width: Int = 320, height: Int = 240, subject: Subject, pose: Pose = .standing, facing: Facing = .right,
        stridePhase: Double = 0, subjectX: Double = 0.5, groundY: Double = 0.85, subjectSize: Double = 0.6,
        tilt: Double = 0, scene: SceneKind = .porch, horizon: Double = 0.45, lighting: Lighting = .neutral,
        blurSigma: Double = 0, noiseSigma: Double = 0, jpegQuality: Int = 90, detailSeed: UInt64 = 0,
        night: NightLook? = nil
    ) {
        precondition(width >= 16 && height >= 16, "samples must be at least 16x16 pixels")
        self.width = width
        self.height = height
        self.subject = subject
        self.pose = pose
        self.facing = facing
        self.stridePhase = stridePhase
        self.subjectX = subjectX
        self.groundY = groundY
        self.subjectSize = subjectSize
        self.tilt = tilt
        self.scene = scene
        self.horizon = horizon
        self.lighting = lighting
        self.blurSigma = blurSigma
        self.noiseSigma = noiseSigma
        self.jpegQuality = jpegQuality
        self.detailSeed = detailSeed
        self.night = night
    }
}

/// A rendered sample with what it shows.
public struct Sample: Sendable {
    /// The picture.
    public var image: Image
    /// The parameters it was rendered from.
    public var variation: SampleVariation
    /// Pixel bounds of the subject within the image (clipped to it); nil for an empty scene or a subject
    /// entirely out of frame.
    public var subjectBounds: PixelBox?
    /// The fraction of the subject's full (unclipped) bounding box that lies inside the image.
    public var visibleFraction: Double
}

/// An integer pixel rectangle `x0..<x1`, `y0..<y1`.
public struct PixelBox: Sendable, Equatable {
    /// First column.
    public var x0: Int
    /// First row.
    public var y0: Int
    /// One past the last column.
    public var x1: Int
    /// One past the last row.
    public var y1: Int

    public init(x0: Int, y0: Int, x1: Int, y1: Int) {
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
    }

    public var width: Int { x1 - x0 }
    public var height: Int { y1 - y0 }
}
