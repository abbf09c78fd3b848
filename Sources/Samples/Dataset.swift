import Imaging
import Support

/// One file written by `SampleGenerator.writeDataset`; in `samples.json` as `{"file": .., "split": ..,
/// "class": .., "subject": .., "pose": .., "scene": .., "width": .., "height": .., "night": ..}`.
public struct DatasetEntry: Sendable, Equatable, Encodable {
    /// Path relative to the dataset directory, e.g. `train/bo/0003-bo.jpg`.
    public var file: String
    /// "train" or "valid".
    public var split: String
    public var sampleClass: SampleClass
    public var subject: Subject
    public var pose: Pose
    public var scene: SceneKind
    public var width: Int
    public var height: Int
    /// Whether the image is an infrared night picture.
    public var night: Bool

    enum CodingKeys: String, CodingKey {
        case file, split, subject, pose, scene, width, height, night
        case sampleClass = "class"
    }
}

/// `samples.json`: what a generated dataset holds, image by image.
struct SamplesManifest: Encodable {
    let format = "dogdoor-samples"
    let version = 1
    /// A string: a UInt64 does not fit a JSON number exactly.
    let seed: String
    let positiveClass = SampleClass.bo.rawValue
    let images: [DatasetEntry]

    enum CodingKeys: String, CodingKey {
        case format, version, seed, images
        case positiveClass = "positive_class"
    }
}

extension SampleGenerator {
    /// Image sizes used in datasets, with their weights: mostly 320x240, plus other landscape, square and
    /// portrait shapes.
    public static let datasetSizes: [(width: Int, height: Int, weight: Double)] = [
        (320, 240, 0.6), (400, 300, 0.1), (256, 256, 0.1), (240, 320, 0.1), (480, 360, 0.1),
    ]

    /// `count` subjects for the `not_bo` class: each subject's share of `negativeMix` rounded by largest
    /// remainder (so even a small set contains the hard negatives), in random order.
    func negativeSchedule(count: Int, salt: UInt64) -> [Subject] {
        let mix = Self.negativeMix
        let exact = mix.map { $0.weight * Double(count) }
        var counts = exact.map { Int($0) }
        let order = exact.indices.sorted {
            (exact[$0] - Double(counts[$0]), -$0) > (exact[$1] - Double(counts[$1]), -$1)
        }
        var missing = count - counts.reduce(0, +)
        for i in order where missing > 0 {
            counts[i] += 1
            missing -= 1
        }
        var subjects: [Subject] = []
        for (entry, n) in zip(mix, counts) { subjects += Array(repeating: entry.subject, count: n) }
        var rng = stream(salt, 0)
        return rng.permutation(subjects.count).map { subjects[$0] }
    }

    /// Writes a dataset in Keras `flow_from_directory` layout: `directory/train/bo/*.jpg`,
    /// `directory/train/not_bo/*.jpg`, `directory/valid/bo/*.jpg`, `directory/valid/not_bo/*.jpg`, plus
    /// `directory/samples.json` describing every image (outside the class folders, so trainers ignore it).
    ///
    /// Files are written atomically; the same arguments always produce the same bytes. Training and
    /// validation images come from independent random streams.
    ///
    /// `nightFraction` of each class in each split (rounded to whole images, so the same number in both
    /// classes) are infrared night pictures, chosen at random; the night look is drawn from one distribution
    /// for every class, so the light does not tell the class. The other images are the same whatever the
    /// fraction: 0 (the default) writes exactly the daylight sets of earlier versions, 1 a night-only set.
    @discardableResult
    public static func writeDataset(
        to directory: String, trainPerClass: Int, validPerClass: Int, seed: UInt64, nightFraction: Double = 0
    ) throws -> [DatasetEntry] {
        guard trainPerClass >= 0, validPerClass >= 0, trainPerClass + validPerClass > 0 else {
            throw Failure("trainPerClass and validPerClass must not be negative, and not both zero")
        }
        guard nightFraction.isFinite, (0...1).contains(nightFraction) else {
            throw Failure("the night fraction \(nightFraction) is not within 0...1")
        }
        try requireNewOrEmpty(directory)
        let generator = SampleGenerator(seed: seed)
        var entries: [DatasetEntry] = []
        for (splitIndex, (split, count)) in [("train", trainPerClass), ("valid", validPerClass)].enumerated() {
            let negatives = generator.negativeSchedule(count: count, salt: 100 + UInt64(splitIndex))
            for sampleClass in SampleClass.allCases {
                let folder = "\(split)/\(sampleClass.rawValue)"
                try makeDirectories(directory + "/" + folder)
                let stream = UInt64(splitIndex) * 2 + (sampleClass == .bo ? 0 : 1)
                // Night images come from streams of their own, so the daylight ones do not change with them.
                var nightChoice = generator.stream(110 + stream, 0)
                let nights = Set(nightChoice.permutation(count).prefix(nightCount(count, fraction: nightFraction)))
                for index in 0..<count {
                    let subject = sampleClass == .bo ? Subject.bo : negatives[index]
                    var rng = generator.stream(10 + stream, index)
                    let (width, height) = pick(
                        from: datasetSizes.map { ($0.width, $0.height) }, weights: datasetSizes.map(\.weight),
                        using: &rng)
                    var variation = randomVariation(of: subject, width: width, height: height, using: &rng)
                    if nights.contains(index) {
                        var nightRng = generator.stream(120 + stream, index)
                        variation.night = NightLook.random(using: &nightRng)
                    }
                    let sample = render(variation)
                    let name = "\(folder)/\(pad(index, 4))-\(subject.rawValue).jpg"
                    try AtomicFile.write(try generator.jpeg(sample), to: directory + "/" + name)
                    entries.append(
                        DatasetEntry(
                            file: name, split: split, sampleClass: sampleClass, subject: subject,
                            pose: variation.pose, scene: variation.scene, width: width, height: height,
                            night: variation.night != nil))
                }
            }
        }
        let manifest = try JSONValueEncoder().encode(SamplesManifest(seed: String(seed), images: entries))
        try AtomicFile.write(manifest.serialized() + "\n", to: directory + "/samples.json")
        return entries
    }
}

/// The number of night images among `count`: `fraction` of them, rounded to the nearest whole image.
func nightCount(_ count: Int, fraction: Double) -> Int {
    min(count, max(0, Int((Double(count) * fraction).rounded())))
}

/// `value` in decimal, left-padded with zeros to `digits`.
func pad(_ value: Int, _ digits: Int) -> String {
    let text = String(value)
    return text.count >= digits ? text : String(repeating: "0", count: digits - text.count) + text
}

/// Creates `path` and any missing parents (like `mkdir -p`).
func makeDirectories(_ path: String) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") where !component.isEmpty {
        current += "/" + component
        if mkdir(current, 0o755) != 0 && errno != EEXIST {
            throw SystemError("create directory", path: current)
        }
    }
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
        throw Failure("\(path): exists and is not a directory")
    }
}

/// Samples are written into a new or empty folder only: generated files mixed with earlier ones (of another
/// seed or size) would make a training set or replay that its `samples.json` or `replay.json` does not describe.
func requireNewOrEmpty(_ directory: String) throws {
    guard fileExistsAt(directory) else { return }
    let entries: [String]
    do {
        entries = try directoryEntries(directory)
    } catch {
        throw Failure("\(directory): \(error.failure)")
    }
    guard entries.isEmpty else {
        throw Failure(
            "\(directory) is not empty: samples are written into a new or empty folder only "
                + "(earlier files would mix with the new ones)")
    }
}
