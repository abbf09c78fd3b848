import Imaging
import Support
import Testing

@Suite struct AugmentationTests {
    static func parameters(_ json: JSONValue) -> AugmentationParameters {
        AugmentationParameters(
            theta: json["theta"]!.doubleValue!, tx: json["tx"]!.doubleValue!,
            ty: json["ty"]!.doubleValue!, zx: json["zx"]!.doubleValue!, zy: json["zy"]!.doubleValue!,
            flipHorizontal: json["flip_horizontal"]!.boolValue!,
            flipVertical: json["flip_vertical"]!.boolValue!)
    }

    /// Keras's ImageDataGenerator.apply_transform outputs for fixed parameters. Both sides interpolate in
    /// double precision and round to float32; only the summation order of the matrix products and the
    /// four-tap sum may differ, so results agree to a few float32 ulps of 255 (3e-5; bit-identical when
    /// measured on x86-64 with the committed golden data). The stated tolerance,
    /// 1e-3 on 0...255 values, is 30x that and still 4 orders of magnitude below one grey level: any axis,
    /// sign, centre or composition-order mistake moves values by whole levels.
    @Test func matchesKerasApplyTransform() {
        let cases = Golden.cases("affine")
        #expect(cases.count == 6)
        for entry in cases {
            let h = entry["height"]!.intValue!, w = entry["width"]!.intValue!
            let input = floatPattern(width: w, height: h, seed: entry["seed"]!.intValue!)
            let out = Self.parameters(entry["parameters"]!).applied(to: input, height: h, width: w, channels: 3)
            let error = maxDifference(out, Golden.floats(entry))
            #expect(error < 1e-3, "\(entry["name"]!.stringValue!): max error \(error)")
        }
    }

    @Test func identityIsExact() {
        let input = floatPattern(width: 23, height: 17, seed: 3)
        #expect(AugmentationParameters.identity.applied(to: input, height: 17, width: 23, channels: 3) == input)
        // A rotation by 0 with zoom 1 and no shift is Keras's "no matrix" case too.
        let zero = AugmentationParameters(theta: 0, tx: 0, ty: 0, zx: 1, zy: 1)
        #expect(zero.isAffineIdentity)
    }

    @Test func integerShiftMovesPixelsAndClampsAtTheEdge() {
        // Keras's tx (first matrix coordinate) ends up on the column axis: output[r][c] = input[r][c + tx].
        let h = 6, w = 8
        let input = (0..<(h * w)).map { Float($0) }
        let shifted = AugmentationParameters(tx: 2).applied(to: input, height: h, width: w, channels: 1)
        for r in 0..<h {
            for c in 0..<w {
                #expect(shifted[r * w + c] == input[r * w + min(c + 2, w - 1)])
            }
        }
        let down = AugmentationParameters(ty: -1).applied(to: input, height: h, width: w, channels: 1)
        for r in 0..<h {
            for c in 0..<w {
                #expect(down[r * w + c] == input[max(r - 1, 0) * w + c])
            }
        }
    }

    @Test func flipsMirrorAndAreInvolutions() {
        let h = 5, w = 7
        let input = floatPattern(width: w, height: h, seed: 9)
        let flipped = AugmentationParameters(flipHorizontal: true).applied(to: input, height: h, width: w, channels: 3)
        for r in 0..<h {
            for c in 0..<w {
                for ch in 0..<3 {
                    #expect(flipped[(r * w + c) * 3 + ch] == input[(r * w + (w - 1 - c)) * 3 + ch])
                }
            }
        }
        let both = AugmentationParameters(flipHorizontal: true, flipVertical: true)
        let twice = both.applied(
            to: both.applied(to: input, height: h, width: w, channels: 3), height: h, width: w, channels: 3)
        #expect(twice == input)
    }

    @Test func rotationBy90AboutTheCentreIsAPermutation() {
        // A quarter turn of a square image about its centre maps pixel centres onto pixel centres.
        let n = 9
        let input = (0..<(n * n)).map { Float($0) }
        let out = AugmentationParameters(theta: 90).applied(to: input, height: n, width: n, channels: 1)
        // cos(pi/2) is not exactly 0 in floating point, so the values land within rounding of the pixels.
        #expect(maxDifference(out.map { $0.rounded() }, out) < 1e-3, "a quarter turn must not interpolate")
        #expect(out.map { $0.rounded() }.sorted() == input)
        // Keras's positive theta turns the content counter-clockwise: the top-right corner moves to the top-left.
        #expect(out[0].rounded() == input[n - 1])
        #expect(out[n - 1].rounded() == input[n * n - 1])
    }

    @Test func randomParametersStayInRangeAndAreReproducible() throws {
        let ranges = Augmentation.tutorial
        try ranges.validate()
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
        var flips = 0
        for _ in 0..<2000 {
            let p = ranges.randomParameters(height: 224, width: 224, using: &a)
            #expect(p == ranges.randomParameters(height: 224, width: 224, using: &b))
            #expect(abs(p.theta) <= 10 && abs(p.tx) <= 22.4 && abs(p.ty) <= 22.4)
            #expect(p.zx >= 0.9 && p.zx <= 1.1 && p.zy >= 0.9 && p.zy <= 1.1)
            #expect(!p.flipVertical)
            if p.flipHorizontal { flips += 1 }
        }
        #expect(flips > 900 && flips < 1100, "horizontal flips should happen about half the time, got \(flips)/2000")
        var c = SeededRandom(seed: 42)
        #expect(Augmentation.none.randomParameters(height: 224, width: 224, using: &c) == .identity)
    }

    @Test func invalidRangesAreRejected() {
        #expect(throws: PreprocessingError.self) { try Augmentation(zoomRange: 1.5).validate() }
        #expect(throws: PreprocessingError.self) { try Augmentation(rotationRange: -1).validate() }
        #expect(throws: PreprocessingError.self) { try Augmentation(widthShiftRange: .nan).validate() }
    }
}
