import Imaging
import Support
import Testing

@testable import Samples

/// The classes differ in the intended features: Bo has a very dark coat *and* white markings; the hard
/// negatives that share his shape or colour lack the white, or the shape.
@Suite struct FeatureTests {
    struct CoatStatistics {
        var subjectPixels = 0
        var dark = 0
        var white = 0
        /// White pixels in the upper 60% of the box (chest and throat: the bib, not the paws).
        var whiteAbove = 0
        /// White pixels in the lowest 15% of the box (the paws).
        var whiteBelow = 0
        var darkFraction: Double { Double(dark) / Double(max(1, subjectPixels)) }
        var whiteFraction: Double { Double(white) / Double(max(1, subjectPixels)) }
        var bibFraction: Double { Double(whiteAbove) / Double(max(1, subjectPixels)) }
        var pawFraction: Double { Double(whiteBelow) / Double(max(1, subjectPixels)) }
    }

    /// Colours of the subject's own pixels: those inside its box that differ from the same picture
    /// rendered without it (same scene, light and camera), so the background cannot interfere.
    static func coat(_ v: SampleVariation) -> CoatStatistics {
        let generator = SampleGenerator(seed: 0)
        let with = generator.render(v)
        var emptyVariation = v
        emptyVariation.subject = .nothing
        let without = generator.render(emptyVariation).image
        var stats = CoatStatistics()
        guard let box = with.subjectBounds else { return stats }
        for y in box.y0..<box.y1 {
            for x in box.x0..<box.x1 {
                let p = with.image.pixel(x: x, y: y), q = without.pixel(x: x, y: y)
                let change = max(abs(Int(p.r) - Int(q.r)), abs(Int(p.g) - Int(q.g)), abs(Int(p.b) - Int(q.b)))
                guard change > 10 else { continue }
                stats.subjectPixels += 1
                let l = luma(p)
                let spread = Int(max(p.r, p.g, p.b)) - Int(min(p.r, p.g, p.b))
                if l < 50 { stats.dark += 1 }
                if l > 190 && spread < 35 {
                    stats.white += 1
                    if y < box.y0 + box.height * 6 / 10 { stats.whiteAbove += 1 }
                    if y >= box.y1 - box.height * 15 / 100 { stats.whiteBelow += 1 }
                }
            }
        }
        return stats
    }

    static func variations(_ subject: Subject) -> [SampleVariation] {
        var result: [SampleVariation] = []
        var seed: UInt64 = 1
        for pose in Pose.allCases {
            for facing in Facing.allCases {
                for scene in [SceneKind.lawn, .porch] {
                    result.append(
                        SampleVariation(
                            width: 320, height: 240, subject: subject, pose: pose, facing: facing, stridePhase: 0.8,
                            subjectX: 0.5, groundY: 0.9, subjectSize: 0.55, scene: scene, horizon: 0.4,
                            lighting: .neutral, detailSeed: seed))
                    seed += 1
                }
            }
        }
        return result
    }

    @Test func boHasADarkCoatAndWhiteBibAndPaws() {
        for v in Self.variations(.bo) {
            let stats = Self.coat(v)
            #expect(stats.subjectPixels > 1500)
            #expect(stats.darkFraction > 0.35, "\(v.pose) \(v.facing) \(v.scene): dark \(stats.darkFraction)")
            #expect(stats.bibFraction > 0.02, "\(v.pose) \(v.facing) \(v.scene): bib \(stats.bibFraction)")
            #expect(stats.pawFraction > 0.02, "\(v.pose) \(v.facing) \(v.scene): paws \(stats.pawFraction)")
        }
    }

    @Test(arguments: [Subject.blackCurlyDog, .blackDog])
    func blackLookalikesHaveNoWhite(subject: Subject) {
        for v in Self.variations(subject) {
            let stats = Self.coat(v)
            #expect(stats.darkFraction > 0.35, "\(subject) \(v.pose): dark \(stats.darkFraction)")
            #expect(
                stats.whiteFraction < 0.01, "\(subject) \(v.pose) \(v.facing) \(v.scene): white \(stats.whiteFraction)")
        }
    }

    @Test func tuxedoCatIsSmallerThanBoInTheSameShot() {
        // The cat shares Bo's colours; it differs in shape and size (a third smaller for the same framing).
        for (bo, cat) in zip(Self.variations(.bo), Self.variations(.tuxedoCat)) where bo.pose != .facingCamera {
            let boBox = SampleGenerator(seed: 0).render(bo).subjectBounds!
            let catBox = SampleGenerator(seed: 0).render(cat).subjectBounds!
            #expect(catBox.height < boBox.height * 9 / 10, "\(bo.pose): cat \(catBox.height) vs bo \(boBox.height)")
            let stats = Self.coat(cat)
            #expect(stats.darkFraction > 0.3 && stats.whiteFraction > 0.02)
        }
    }

    @Test func otherDogsAreNotBlackAndWhite() {
        for subject in [Subject.brownDog, .goldenDog, .greyDog, .whiteDog] {
            for v in Self.variations(subject).prefix(12) {
                let stats = Self.coat(v)
                #expect(stats.darkFraction < 0.3, "\(subject) \(v.pose): dark \(stats.darkFraction)")
            }
        }
    }
}
