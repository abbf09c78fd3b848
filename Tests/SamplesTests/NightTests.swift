import Imaging
import Support
import TestSupport
import Testing

@testable import Samples

@Suite struct NightTests {
    static func isGray(_ image: Image, tolerance: Int = 0) -> Bool {
        stride(from: 0, to: image.pixels.count, by: 3).allSatisfy { i in
            let (r, g, b) = (Int(image.pixels[i]), Int(image.pixels[i + 1]), Int(image.pixels[i + 2]))
            return abs(r - g) <= tolerance && abs(g - b) <= tolerance
        }
    }

    static func meanLuma(_ image: Image, rows: Range<Int>? = nil) -> Double {
        let rows = rows ?? 0..<image.height
        var total = 0.0
        for y in rows {
            for x in 0..<image.width {
                let i = (y * image.width + x) * 3
                total += luma((image.pixels[i], image.pixels[i + 1], image.pixels[i + 2]))
            }
        }
        return total / Double(rows.count * image.width)
    }

    /// Daylight variations of both classes and a night look for each.
    static func pairs() -> [(day: SampleVariation, night: SampleVariation)] {
        let generator = SampleGenerator(seed: 31)
        var random = SeededRandom(seed: 4)
        return SampleClass.allCases.flatMap { sampleClass in
            (0..<5).map { index in
                let day = generator.randomVariation(of: sampleClass, index: index, width: 160, height: 120)
                var night = day
                night.night = NightLook.random(using: &random)
                return (day, night)
            }
        }
    }

    @Test func nightPicturesAreGrayDarkerAndDeterministic() {
        let generator = SampleGenerator(seed: 0)
        for (day, night) in Self.pairs() {
            let dark = generator.render(night).image
            #expect(Self.isGray(dark), "\(night.subject)")
            #expect(generator.render(night).image == dark)
            let light = generator.render(day).image
            #expect(!Self.isGray(light))
            #expect(Self.meanLuma(dark) < Self.meanLuma(light), "\(night.subject) in \(night.scene)")
            // The lamp lights the near ground; the far background (the top rows, above every horizon) is dim.
            #expect(
                Self.meanLuma(dark, rows: 0..<20) < Self.meanLuma(dark, rows: 100..<120), "\(night.subject)")
        }
    }

    @Test func eyesShineBackAtTheLamp() {
        var v = SampleVariation(
            width: 200, height: 150, subject: .bo, pose: .facingCamera, subjectX: 0.5, groundY: 0.95,
            subjectSize: 0.7, scene: .porch, detailSeed: 3,
            night: NightLook(
                illumination: 0.9, farLevel: 0.2, subjectGain: 1.1, hotSpot: 0.3, noiseSigma: 0, eyeShine: false))
        let plain = SampleGenerator.render(v).image
        v.night?.eyeShine = true
        let shining = SampleGenerator.render(v).image
        let changed = zip(plain.pixels, shining.pixels).filter { $0 != $1 }
        #expect(!changed.isEmpty)
        #expect(changed.allSatisfy { $1 > $0 }, "eye shine only brightens")
    }

    @Test func nightCountRoundsToWholeImages() {
        #expect(nightCount(10, fraction: 0.2) == 2)
        #expect(nightCount(5, fraction: 0.2) == 1)
        #expect(nightCount(3, fraction: 0.1) == 0)
        #expect(nightCount(7, fraction: 1) == 7)
        #expect(nightCount(7, fraction: 0) == 0)
    }

    @Test func datasetsHoldTheNightFractionPerClassAndKeepTheirDaylightImages() throws {
        let day = makeTemporaryDirectory("night-day")
        let mixed = makeTemporaryDirectory("night-mixed")
        defer {
            removeTree(day)
            removeTree(mixed)
        }
        let plain = try SampleGenerator.writeDataset(to: day, trainPerClass: 5, validPerClass: 3, seed: 5)
        let entries = try SampleGenerator.writeDataset(
            to: mixed, trainPerClass: 5, validPerClass: 3, seed: 5, nightFraction: 0.4)
        #expect(plain.allSatisfy { !$0.night })
        for split in ["train", "valid"] {
            for sampleClass in SampleClass.allCases {
                let group = entries.filter { $0.split == split && $0.sampleClass == sampleClass }
                #expect(group.filter(\.night).count == (split == "train" ? 2 : 1), "\(split)/\(sampleClass)")
            }
        }
        for (entry, daylight) in zip(entries, plain) {
            #expect(entry.file == daylight.file && entry.subject == daylight.subject)
            let bytes = try readBytes("\(mixed)/\(entry.file)")
            if entry.night {
                // Gray survives the JPEG's YCbCr round trip to within a level or two.
                #expect(Self.isGray(try ImageDecoder.decode(file: "\(mixed)/\(entry.file)"), tolerance: 2))
            } else {
                #expect(bytes == (try readBytes("\(day)/\(entry.file)")), "\(entry.file) is unchanged")
            }
        }
        let json = try JSONValue.parse(try readBytes("\(mixed)/samples.json"))
        let images = try #require(json["images"]?.arrayValue)
        #expect(images.compactMap { $0["night"]?.boolValue } == entries.map(\.night))
    }

    @Test func aNightOnlySetAndInvalidFractions() throws {
        let directory = makeTemporaryDirectory("night-only")
        defer { removeTree(directory) }
        let entries = try SampleGenerator.writeDataset(
            to: directory, trainPerClass: 1, validPerClass: 1, seed: 2, nightFraction: 1)
        #expect(entries.count == 4 && entries.allSatisfy(\.night))
        let other = makeTemporaryDirectory("night-invalid")
        defer { removeTree(other) }
        for fraction in [-0.1, 1.5, .nan] {
            #expect(throws: Failure.self) {
                try SampleGenerator.writeDataset(
                    to: other, trainPerClass: 1, validPerClass: 1, seed: 2, nightFraction: fraction)
            }
        }
    }

    @Test func aNightReplayIsTheSameSequenceInInfrared() {
        let day = ReplayRenderer(seed: 2)
        let night = ReplayRenderer(seed: 2, night: true)
        #expect(day.template.night == nil && night.template.night != nil)
        var template = night.template
        template.night = nil
        #expect(template == day.template, "only the light differs")
        let frame = night.frame(0)
        #expect(Self.isGray(frame.sample.image))
        #expect(frame.info == day.frame(0).info)
    }
}
