import Imaging
import Support
import Testing

@testable import Samples

@Suite struct GeneratorTests {
    @Test func sameSeedGivesIdenticalBytes() throws {
        for sampleClass in SampleClass.allCases {
            for index in [0, 7] {
                let a = SampleGenerator(seed: 42).sample(of: sampleClass, index: index)
                let b = SampleGenerator(seed: 42).sample(of: sampleClass, index: index)
                #expect(a.variation == b.variation)
                #expect(a.image == b.image)
                let generator = SampleGenerator(seed: 42)
                #expect(try generator.jpeg(a) == generator.jpeg(b))
            }
        }
    }

    @Test func differentSeedsOrIndicesGiveDifferentImages() {
        let a = SampleGenerator(seed: 1).sample(of: .bo, index: 0)
        let b = SampleGenerator(seed: 2).sample(of: .bo, index: 0)
        let c = SampleGenerator(seed: 1).sample(of: .bo, index: 1)
        #expect(a.variation != b.variation && a.variation != c.variation)
        #expect(meanAbsoluteDifference(a.image, b.image) > 5)
        #expect(meanAbsoluteDifference(a.image, c.image) > 5)
    }

    @Test func renderingIsAPureFunctionOfTheVariation() {
        var v = SampleVariation(
            width: 200, height: 150, subject: .fox, pose: .sitting, facing: .left, scene: .lawn,
            lighting: .neutral, blurSigma: 0.6, noiseSigma: 0.02, detailSeed: 99)
        let generator = SampleGenerator(seed: 0)
        #expect(generator.render(v).image == SampleGenerator(seed: 12345).render(v).image)
        let first = generator.render(v).image
        v.detailSeed = 100
        #expect(generator.render(v).image != first)
    }

    @Test(arguments: [(320, 240), (256, 256), (240, 320), (640, 480), (97, 61)])
    func rendersAtTheRequestedSize(width: Int, height: Int) throws {
        let generator = SampleGenerator(seed: 3)
        for sampleClass in SampleClass.allCases {
            let sample = generator.sample(of: sampleClass, index: width, width: width, height: height)
            #expect(sample.image.width == width && sample.image.height == height)
            if let box = sample.subjectBounds {
                #expect(
                    box.x0 >= 0 && box.y0 >= 0 && box.x1 <= width && box.y1 <= height && box.width > 0 && box.height > 0
                )
                #expect(sample.visibleFraction > 0 && sample.visibleFraction <= 1)
            }
            let decoded = try ImageDecoder.decode(try generator.jpeg(sample), source: "sample")
            #expect(decoded.width == width && decoded.height == height)
            // JPEG at the sample's quality (60 or more) keeps the picture: a small average error.
            #expect(meanAbsoluteDifference(decoded, sample.image) < 8)
        }
    }

    @Test func everySubjectAndPoseRendersInsideTheFrame() {
        let generator = SampleGenerator(seed: 8)
        for subject in Subject.allCases {
            for pose in Pose.allCases {
                // Birds and squirrels are drawn at about a third of the size for the same subjectSize.
                let small = subject.isBird || subject == .squirrel
                let v = SampleVariation(
                    width: 160, height: 120, subject: subject, pose: pose, facing: pose == .sitting ? .left : .right,
                    stridePhase: 1, subjectX: 0.5, groundY: 0.92, subjectSize: small ? 1.2 : 0.5, scene: .floor,
                    lighting: .neutral, detailSeed: 4)
                let sample = generator.render(v)
                if subject == .nothing {
                    #expect(sample.subjectBounds == nil && sample.visibleFraction == 0)
                    continue
                }
                guard let box = sample.subjectBounds else {
                    Issue.record("\(subject) \(pose): nothing drawn")
                    continue
                }
                // Centred and half the frame high: fully visible, feet on the ground line, a sensible size.
                #expect(sample.visibleFraction == 1, "\(subject) \(pose) visible \(sample.visibleFraction)")
                #expect(abs(Double(box.y1) - 0.92 * 120) < 5, "\(subject) \(pose) bottom \(box.y1)")
                #expect(box.width >= 12 && box.height >= 12, "\(subject) \(pose) box \(box)")
            }
        }
    }

    @Test func randomVariationsCoverPosesScenesAndCrops() {
        let generator = SampleGenerator(seed: 21)
        var poses = Set<String>(), scenes = Set<String>(), facings = Set<String>()
        var cropped = 0
        let count = 120
        for index in 0..<count {
            let v = generator.randomVariation(showing: .bo, index: index)
            poses.insert(v.pose.rawValue)
            scenes.insert(v.scene.rawValue)
            facings.insert(v.facing.rawValue)
            #expect(v.subject == .bo)
            #expect(v.groundY > v.horizon)
            // Measured on the picture: the part of the drawn animal's box that lies inside the frame.
            let sample = generator.render(v)
            #expect(
                sample.visibleFraction > 0 && sample.subjectBounds != nil, "Bo out of the picture in variation \(index)"
            )
            // Clearly cropped: a tenth or more of Bo outside the frame (seed 21: 33 of 120; 72 wholly inside).
            if sample.visibleFraction < 0.9 { cropped += 1 }
        }
        #expect(poses.count == Pose.allCases.count)
        #expect(scenes.count == SceneKind.allCases.count)
        #expect(facings.count == 2)
        #expect(cropped > count / 20 && cropped < count / 3, "\(cropped) cropped")
    }

    @Test func negativeVariationsFollowTheMix() {
        let generator = SampleGenerator(seed: 5)
        var counts: [Subject: Int] = [:]
        let n = 2000
        for index in 0..<n { counts[generator.randomVariation(of: .notBo, index: index).subject, default: 0] += 1 }
        #expect(counts[Subject.bo] == nil)
        for (subject, weight) in SampleGenerator.negativeMix {
            let observed = Double(counts[subject] ?? 0) / Double(n)
            // Binomial standard error is at most 0.007 here; allow four of them.
            #expect(abs(observed - weight) < 0.028, "\(subject): \(observed) vs \(weight)")
        }
    }

    @Test func negativeScheduleHasExactSharesAndTheHardNegatives() {
        let generator = SampleGenerator(seed: 5)
        let hundred = generator.negativeSchedule(count: 200, salt: 1)
        #expect(hundred.count == 200)
        for (subject, weight) in SampleGenerator.negativeMix {
            #expect(abs(Double(hundred.filter { $0 == subject }.count) - weight * 200) <= 1)
        }
        let small = generator.negativeSchedule(count: 20, salt: 1)
        #expect(small.count == 20)
        for hard in [Subject.blackCurlyDog, .blackDog, .tuxedoCat, .nothing] {
            #expect(small.contains(hard), "\(hard)")
        }
        #expect(!small.contains(.bo))
        #expect(generator.negativeSchedule(count: 20, salt: 1) == small)
        #expect(generator.negativeSchedule(count: 20, salt: 2) != small)
    }
}
