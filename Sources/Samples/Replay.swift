import Imaging
import Support

/// One frame of a replay sequence.
public struct ReplayFrame: Sendable, Equatable {
    public var index: Int
    /// File name within the sequence directory, e.g. `frame-0042.jpg`.
    public var file: String
    /// The animal in the frame (`.nothing` for an empty frame).
    public var subject: Subject
    /// Pixel bounds of the animal, clipped to the frame.
    public var bounds: PixelBox?
    /// Fraction of the animal's bounding box inside the frame (to three decimals).
    public var visibleFraction: Double

    public init(index: Int, file: String, subject: Subject, bounds: PixelBox?, visibleFraction: Double) {
        self.index = index
        self.file = file
        self.subject = subject
        self.bounds = bounds
        self.visibleFraction = visibleFraction
    }

    /// Whether Bo is (at least partly) in view.
    public var showsBo: Bool { subject == .bo && bounds != nil }
}

/// A run of consecutive frames showing the same animal.
public struct ReplaySegment: Sendable, Equatable {
    public var subject: Subject
    /// Index of the first frame of the run.
    public var first: Int
    /// Index of the last frame of the run (inclusive).
    public var last: Int

    public init(subject: Subject, first: Int, last: Int) {
        self.subject = subject
        self.first = first
        self.last = last
    }
}

/// What a replay sequence shows, frame by frame, so that tests can check the daemon's decisions against it.
/// Written as `.manifest.json` beside the frames: hidden, so the daemon's replay camera (which skips hidden
/// files) plays only the frames.
public struct ReplayManifest: Sendable, Equatable {
    /// Name of the manifest file in a sequence directory.
    public static let fileName = ".manifest.json"

    /// The seed the sequence was generated from.
    public var seed: UInt64
    /// Intended playback rate.
    public var fps: Double
    public var width: Int
    public var height: Int
    public var frames: [ReplayFrame]

    public init(seed: UInt64, fps: Double, width: Int, height: Int, frames: [ReplayFrame]) {
        self.seed = seed
        self.fps = fps
        self.width = width
        self.height = height
        self.frames = frames
    }

    /// Indices of the frames in which Bo is visible.
    public var boFrames: [Int] { frames.filter(\.showsBo).map(\.index) }

    /// Runs of consecutive frames in which the same animal is visible.
    public var segments: [ReplaySegment] {
        var result: [ReplaySegment] = []
        for frame in frames where frame.subject != .nothing && frame.bounds != nil {
            if let last = result.last, last.subject == frame.subject, last.last == frame.index - 1 {
                result[result.count - 1].last = frame.index
            } else {
                result.append(ReplaySegment(subject: frame.subject, first: frame.index, last: frame.index))
            }
        }
        return result
    }

    /// The manifest as JSON.
    public var json: JSONValue {
        do {
            return try JSONValueEncoder().encode(self)
        } catch {
            preconditionFailure("a replay manifest always encodes: \(error)")
        }
    }

    /// Reads a manifest from its JSON (as written by `json`); errors name the field.
    public init(json: JSONValue) throws {
        do {
            self = try JSONValueDecoder().decode(ReplayManifest.self, from: json)
        } catch {
            throw Failure("replay manifest: \(error)")
        }
    }

    /// Reads `.manifest.json` from a sequence directory.
    public static func load(directory: String) throws -> ReplayManifest {
        let bytes = try readFile(directory + "/" + fileName, limit: 16 << 20)
        return try ReplayManifest(json: JSONValue.parse(bytes))
    }
}

extension SampleGenerator {
    /// Frame size of replay sequences.
    public static let replaySize = (width: 640, height: 480)

    /// Playback rate replay sequences are made for.
    public static let replayFPS = 5.0

    /// The position of the animal in one planned frame.
    struct FramePlan {
        var subject: Subject
        var pose: Pose = .walking
        var facing: Facing = .right
        var x: Double = 0.5
        var groundY: Double = 0.85
        var size: Double = 0.5
        var phase: Double = 0
        /// Which appearance of the subject (an animal keeps its looks across its frames).
        var actor: Int = 0
    }

    /// The script: an empty porch; a tuxedo cat, a fox and a black curly dog without a bib pass (the dog stops
    /// and looks at the camera); Bo approaches, stands facing the door, and leaves; the porch is empty again.
    static func replayScript() -> [FramePlan] {
        var plan: [FramePlan] = []
        func empty(_ n: Int) { plan += Array(repeating: FramePlan(subject: .nothing), count: n) }
        /// `n` walking frames from `x0` to `x1` (fractions of the width), size and ground line interpolated.
        func walk(
            _ subject: Subject, actor: Int, _ n: Int, x0: Double, x1: Double, size0: Double, size1: Double,
            ground0: Double, ground1: Double, phase0: Double = 0
        ) {
            for i in 0..<n {
                let t = n > 1 ? Double(i) / Double(n - 1) : 0
                plan.append(
                    FramePlan(
                        subject: subject, pose: .walking, facing: x1 >= x0 ? .right : .left, x: mix(x0, x1, t),
                        groundY: mix(ground0, ground1, t), size: mix(size0, size1, t),
                        phase: phase0 + 1.3 * Double(i), actor: actor))
            }
        }
        func stand(_ subject: Subject, actor: Int, _ n: Int, x: Double, ground: Double, size: Double) {
            for i in 0..<n {
                plan.append(
                    FramePlan(
                        subject: subject, pose: .facingCamera, facing: .right, x: x + 0.004 * Double(i % 3 - 1),
                        groundY: ground, size: size, phase: 0.7 * Double(i), actor: actor))
            }
        }
        empty(10)
        walk(.tuxedoCat, actor: 1, 12, x0: -0.08, x1: 1.06, size0: 0.55, size1: 0.55, ground0: 0.8, ground1: 0.82)
        empty(5)
        walk(.fox, actor: 2, 12, x0: 1.1, x1: -0.1, size0: 0.55, size1: 0.58, ground0: 0.86, ground1: 0.88)
        empty(5)
        walk(.blackCurlyDog, actor: 3, 5, x0: -0.1, x1: 0.42, size0: 0.5, size1: 0.56, ground0: 0.82, ground1: 0.88)
        stand(.blackCurlyDog, actor: 3, 4, x: 0.45, ground: 0.9, size: 0.58)
        walk(.blackCurlyDog, actor: 3, 4, x0: 0.55, x1: 1.12, size0: 0.56, size1: 0.5, ground0: 0.88, ground1: 0.84)
        empty(5)
        walk(.bo, actor: 4, 6, x0: 1.1, x1: 0.55, size0: 0.46, size1: 0.6, ground0: 0.8, ground1: 0.9)
        stand(.bo, actor: 4, 12, x: 0.5, ground: 0.93, size: 0.64)
        walk(.bo, actor: 4, 4, x0: 0.42, x1: -0.2, size0: 0.62, size1: 0.62, ground0: 0.92, ground1: 0.92, phase0: 0.5)
        empty(10)
        return plan
    }

    /// Writes a numbered frame sequence for the daemon's replay camera into `directory`: 640x480 JPEG
    /// frames `frame-0000.jpg`, ... of a porch seen at 5 fps (about 19 seconds), and `.manifest.json`, written
    /// last, saying what each frame shows. The same seed always gives the same bytes. With `night`, the same
    /// porch and animals are seen by an infrared camera after dark (the frames differ only in their light).
    @discardableResult
    public static func writeReplaySequence(
        to directory: String, seed: UInt64, night: Bool = false
    ) throws -> ReplayManifest {
        try requireNewOrEmpty(directory)
        try makeDirectories(directory)
        let renderer = ReplayRenderer(seed: seed, night: night)
        var frames: [ReplayFrame] = []
        for index in 0..<renderer.frameCount {
            let frame = renderer.frame(index)
            try AtomicFile.write(try renderer.generator.jpeg(frame.sample), to: directory + "/" + frame.info.file)
            frames.append(frame.info)
        }
        let (width, height) = replaySize
        let manifest = ReplayManifest(seed: seed, fps: replayFPS, width: width, height: height, frames: frames)
        try AtomicFile.write(manifest.json.serialized() + "\n", to: directory + "/" + ReplayManifest.fileName)
        return manifest
    }
}

/// Renders the frames of a replay sequence one at a time: one porch background for all frames, one look
/// per animal, new sensor noise in every frame.
struct ReplayRenderer {
    let generator: SampleGenerator
    let script: [SampleGenerator.FramePlan]
    private(set) var template: SampleVariation
    let sceneSeeds: SampleGenerator.PictureSeeds
    let background: SampleGenerator.Background
    let actorSeeds: [UInt64]

    init(seed: UInt64, night: Bool = false) {
        generator = SampleGenerator(seed: seed)
        script = SampleGenerator.replayScript()
        var rng = generator.stream(200, 0)
        let (width, height) = SampleGenerator.replaySize
        var lighting = Lighting.random(using: &rng)
        lighting.exposure = rng.uniform(0.9, 1.1)
        lighting.shadowBands = 0
        lighting.dapple = 0
        lighting.vignette = min(lighting.vignette, 0.2)
        template = SampleVariation(
            width: width, height: height, subject: .nothing, scene: .porch, horizon: rng.uniform(0.36, 0.44),
            lighting: lighting, blurSigma: 0.5, noiseSigma: 0.012, jpegQuality: 88, detailSeed: rng.next())
        sceneSeeds = SampleGenerator.PictureSeeds(template.detailSeed)
        background = SampleGenerator.background(template, seed: sceneSeeds.scene)
        let actors = (script.map(\.actor).max() ?? 0) + 1
        actorSeeds = (0..<actors).map { _ in rng.next() }
        if night {
            // From a stream of its own: the daylight sequence's draws, and so its frames, stay as they are.
            var nightRng = generator.stream(202, 0)
            template.night = NightLook.random(using: &nightRng)
        }
    }

    var frameCount: Int { script.count }

    /// Frame `index` and what it shows.
    func frame(_ index: Int) -> (sample: Sample, info: ReplayFrame) {
        let plan = script[index]
        var v = template
        v.subject = plan.subject
        v.pose = plan.pose
        v.facing = plan.facing
        v.subjectX = plan.x
        v.groundY = plan.groundY
        v.subjectSize = plan.size
        v.stridePhase = plan.phase
        // Auto-exposure wobbles a little from frame to frame; sensor noise is new in every frame.
        var frameRng = generator.stream(201, index)
        v.lighting.exposure *= 1 + 0.01 * frameRng.normal()
        var seeds = sceneSeeds
        seeds.subject = actorSeeds[plan.actor]
        seeds.camera = frameRng.next()
        let sample = SampleGenerator.compose(v, background: background, seeds: seeds)
        let info = ReplayFrame(
            index: index, file: "frame-\(pad(index, 4)).jpg",
            subject: sample.subjectBounds == nil ? .nothing : plan.subject,
            bounds: sample.subjectBounds, visibleFraction: (sample.visibleFraction * 1000).rounded() / 1000)
        return (sample, info)
    }
}

// MARK: - The manifest's JSON

/// `{"format": "dogdoor-replay", "version": 1, "seed": "42", "fps": 5, "width": .., "height": ..,
/// "positive_class": "bo", "bo_frames": [..], "segments": [..], "frames": [..]}`. The seed is a string (a
/// UInt64 does not fit a JSON number exactly); `positive_class`, `bo_frames` and `segments` are derived from the
/// frames, written for readers of the file and not read back.
extension ReplayManifest: Codable {
    enum CodingKeys: String, ExhaustiveCodingKey {
        case format, version, seed, fps, width, height, frames, segments
        case positiveClass = "positive_class"
        case boFrames = "bo_frames"
    }

    static let format = "dogdoor-replay"
    static let version = 1

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.format, forKey: .format)
        try container.encode(Self.version, forKey: .version)
        try container.encode(String(seed), forKey: .seed)
        try container.encode(fps, forKey: .fps)
        try container.encode(width, forKey: .width)
        try container.encode(height, forKey: .height)
        try container.encode(SampleClass.bo.rawValue, forKey: .positiveClass)
        try container.encode(boFrames, forKey: .boFrames)
        try container.encode(segments, forKey: .segments)
        try container.encode(frames, forKey: .frames)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard try container.decode(String.self, forKey: .format) == Self.format,
            try container.decode(Int.self, forKey: .version) == Self.version
        else { throw JSONDecodingError(path: "", reason: "not a version 1 dogdoor-replay manifest") }
        guard let seed = UInt64(try container.decode(String.self, forKey: .seed)) else {
            throw JSONDecodingError(path: "seed", reason: "not a whole number from 0 to 2^64-1 (as a string)")
        }
        let fps = try container.decode(Double.self, forKey: .fps)
        guard fps > 0 else { throw JSONDecodingError(path: "fps", reason: "must be above 0") }
        let width = try container.decode(Int.self, forKey: .width)
        let height = try container.decode(Int.self, forKey: .height)
        guard width > 0, height > 0 else {
            throw JSONDecodingError(path: "width", reason: "the frame size must be at least 1x1")
        }
        let frames = try container.decode([ReplayFrame].self, forKey: .frames)
        if let misplaced = frames.indices.first(where: { frames[$0].index != $0 }) {
            throw JSONDecodingError(
                path: "frames[\(misplaced)].index", reason: "must be \(misplaced) (the frames in order)")
        }
        self.init(seed: seed, fps: fps, width: width, height: height, frames: frames)
    }
}

/// `{"index": 3, "file": "frame-0003.jpg", "subject": "bo", "class": "bo", "bo": true, "box": [x0, y0, x1, y1],
/// "visible": 0.75}`; `"box": null` and `"visible": 0` when no animal is in view.
extension ReplayFrame: Codable {
    enum CodingKeys: String, ExhaustiveCodingKey {
        case index, file, subject, box, visible, bo
        case sampleClass = "class"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(file, forKey: .file)
        try container.encode(subject.rawValue, forKey: .subject)
        try container.encode(subject.sampleClass.rawValue, forKey: .sampleClass)
        try container.encode(showsBo, forKey: .bo)
        if let b = bounds {
            try container.encode([b.x0, b.y0, b.x1, b.y1], forKey: .box)
            try container.encode(visibleFraction, forKey: .visible)
        } else {
            try container.encodeNil(forKey: .box)
            try container.encode(0, forKey: .visible)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func invalid(_ field: CodingKeys, _ reason: String) -> JSONDecodingError {
            JSONDecodingError(at: decoder.codingPath + [field], reason: reason)
        }
        let file = try container.decode(String.self, forKey: .file)
        guard !file.isEmpty, !file.contains("/"), file != ".", file != ".." else {
            throw invalid(.file, "must be a file name in the sequence's folder")
        }
        let subjectName = try container.decode(String.self, forKey: .subject)
        guard let subject = Subject(rawValue: subjectName) else {
            throw invalid(.subject, "unknown subject \"\(subjectName)\"")
        }
        var bounds: PixelBox?
        if let box = try container.decodeIfPresent([Int].self, forKey: .box) {
            guard box.count == 4, box[0] < box[2], box[1] < box[3] else {
                throw invalid(.box, "must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1, or null")
            }
            bounds = PixelBox(x0: box[0], y0: box[1], x1: box[2], y1: box[3])
        } else if !container.contains(.box) {
            throw invalid(.box, "missing (null when no animal is in view)")
        }
        let visible = try container.decode(Double.self, forKey: .visible)
        guard (0...1).contains(visible), bounds != nil || visible == 0 else {
            throw invalid(.visible, "must be a fraction from 0 to 1, and 0 without a box")
        }
        self.init(
            index: try container.decode(Int.self, forKey: .index), file: file, subject: subject, bounds: bounds,
            visibleFraction: visible)
    }
}

/// `{"subject": "cat", "class": "not_bo", "first": 12, "last": 30}` (written only).
extension ReplaySegment: Encodable {
    enum CodingKeys: String, CodingKey {
        case subject, first, last
        case sampleClass = "class"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(subject.rawValue, forKey: .subject)
        try container.encode(subject.sampleClass.rawValue, forKey: .sampleClass)
        try container.encode(first, forKey: .first)
        try container.encode(last, forKey: .last)
    }
}
