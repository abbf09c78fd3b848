import Imaging
import Support
import Testing

@Suite struct DoorConditionsTests {
    static let side = 64

    /// A smooth gray-ish scene with colour: slow sinusoids per channel, no sharp edges.
    static func smooth(side: Int = side) -> [Float] {
        var out = [Float](repeating: 0, count: side * side * 3)
        for r in 0..<side {
            for c in 0..<side {
                for ch in 0..<3 {
                    let phase = Double(ch) * 1.3
                    let v = 128 + 70 * sin(Double(c) / 9 + phase) * cos(Double(r) / 13 - phase)
                    out[(r * side + c) * 3 + ch] = Float(v)
                }
            }
        }
        return out
    }

    /// Hashed noise in 20...235: energy at every frequency.
    static func noisy(side: Int = side, seed: UInt64 = 5) -> [Float] {
        var random = SeededRandom(seed: seed)
        return (0..<(side * side * 3)).map { _ in Float(random.uniform(20, 235)) }
    }

    static func mean(_ values: [Float]) -> Double { values.reduce(0.0) { $0 + Double($1) } / Double(values.count) }

    /// Mean squared difference of neighbours `(dr, dc)` apart, over all channels.
    static func energy(_ values: [Float], side: Int = side, dr: Int, dc: Int) -> Double {
        var total = 0.0, n = 0
        for r in 0..<(side - dr) {
            for c in 0..<(side - dc) {
                for ch in 0..<3 {
                    let d = Double(values[(r * side + c) * 3 + ch] - values[((r + dr) * side + c + dc) * 3 + ch])
                    total += d * d
                    n += 1
                }
            }
        }
        return total / Double(n)
    }

    @Test func noneIsTheIdentityBitForBit() {
        let input = floatPattern(width: Self.side, height: Self.side, seed: 4)
        for seed in 0..<50 as Range<UInt64> {
            var random = SeededRandom(seed: seed)
            let parameters = DoorConditions.none.randomParameters(side: Self.side, using: &random)
            #expect(parameters.isIdentity)
            #expect(parameters.applied(to: input, side: Self.side) == input)
        }
    }

    @Test func drawsAFixedNumberOfValuesWhateverTheSettings() {
        let always = DoorConditions(
            infraredProbability: 1, lowLightProbability: 1, motionBlurProbability: 1, jpegProbability: 1,
            partialViewProbability: 1, occlusionShare: 1)
        for settings in [DoorConditions.none, .door, always] {
            var random = SeededRandom(seed: 9)
            _ = settings.randomParameters(side: 224, using: &random)
            var reference = SeededRandom(seed: 9)
            _ = DoorConditions.door.randomParameters(side: 224, using: &reference)
            #expect(random.next() == reference.next())
        }
        // With every probability 1, every effect is on (low light gives way to infrared).
        var random = SeededRandom(seed: 3)
        let all = always.randomParameters(side: 224, using: &random)
        #expect(all.infrared != nil && all.lowLight == nil && all.motionBlur != nil)
        #expect(all.jpegQuality != nil && all.partialView?.occluderLevel != nil)
    }

    @Test func drawsWithinTheRangesAndAtTheStatedRates() {
        let settings = DoorConditions.door
        var random = SeededRandom(seed: 21)
        var counts = (infrared: 0, lowLight: 0, blur: 0, jpeg: 0, partial: 0, clean: 0)
        let draws = 20_000
        for _ in 0..<draws {
            let p = settings.randomParameters(side: 224, using: &random)
            if let ir = p.infrared {
                counts.infrared += 1
                #expect(settings.infraredContrast.contains(ir.contrast) && settings.infraredNoise.contains(ir.noise))
            }
            if let dim = p.lowLight {
                counts.lowLight += 1
                #expect(settings.lowLightFactor.contains(dim.factor) && settings.lowLightGamma.contains(dim.gamma))
            }
            if let blur = p.motionBlur {
                counts.blur += 1
                #expect(settings.motionBlurLength.contains(blur.length) && abs(blur.angle) <= 30)
            }
            if let quality = p.jpegQuality {
                counts.jpeg += 1
                #expect(settings.jpegQuality.contains(quality))
            }
            if let view = p.partialView {
                counts.partial += 1
                #expect(settings.partialViewFraction.contains(view.fraction))
            }
            if p.isIdentity { counts.clean += 1 }
        }
        func rate(_ n: Int) -> Double { Double(n) / Double(draws) }
        // Binomial standard deviations at n = 20,000 are below 0.004; 0.015 is about four of them.
        #expect(abs(rate(counts.infrared) - 0.15) < 0.015)
        #expect(abs(rate(counts.lowLight) - 0.1 * 0.85) < 0.015)
        #expect(abs(rate(counts.blur) - 0.15) < 0.015)
        #expect(abs(rate(counts.jpeg) - 0.15) < 0.015)
        #expect(abs(rate(counts.partial) - 0.1) < 0.015)
        #expect(abs(rate(counts.clean) - 0.85 * 0.915 * 0.85 * 0.85 * 0.9) < 0.015)
    }

    @Test func isDeterministicForASeed() {
        let always = DoorConditions(
            infraredProbability: 0.5, lowLightProbability: 1, motionBlurProbability: 1, jpegProbability: 1,
            partialViewProbability: 1)
        let input = floatPattern(width: Self.side, height: Self.side, seed: 2)
        var outputs: [[Float]] = []
        for seed in [7, 7, 8] as [UInt64] {
            var random = SeededRandom(seed: seed)
            outputs.append(always.randomParameters(side: Self.side, using: &random).applied(to: input, side: Self.side))
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0] != outputs[2])
        // The noise follows the seed in the parameters.
        let dim = DoorConditionParameters(lowLight: .init(factor: 0.5, gamma: 1, noise: 4), noiseSeed: 1)
        var other = dim
        other.noiseSeed = 2
        #expect(dim.applied(to: input, side: Self.side) == dim.applied(to: input, side: Self.side))
        #expect(dim.applied(to: input, side: Self.side) != other.applied(to: input, side: Self.side))
    }

    @Test func valuesStayWithin0To255() {
        let always = DoorConditions(
            infraredProbability: 0.5, infraredContrast: 2...4, infraredNoise: 30...64, lowLightProbability: 1,
            lowLightNoise: 30...64, motionBlurProbability: 1, jpegProbability: 1, partialViewProbability: 1)
        // Saturated pixels next to black ones: noise, contrast and JPEG ringing all overshoot here.
        var input = [Float](repeating: 0, count: Self.side * Self.side * 3)
        for i in input.indices where (i / 3 / 5) % 2 == 0 { input[i] = 255 }
        for seed in 0..<40 as Range<UInt64> {
            var random = SeededRandom(seed: seed)
            let out = always.randomParameters(side: Self.side, using: &random).applied(to: input, side: Self.side)
            #expect(out.allSatisfy { (0...255).contains($0) })
        }
    }

    @Test func infraredIsGrayLumaWithContrastAroundTheMean() {
        let input = Self.smooth()
        let noisy = DoorConditionParameters(infrared: .init(contrast: 1.2, noise: 6, hotSpot: 0.3), noiseSeed: 4)
        let out = noisy.applied(to: input, side: Self.side)
        for i in stride(from: 0, to: out.count, by: 3) {
            #expect(out[i] == out[i + 1] && out[i] == out[i + 2])
        }
        // Without noise, hot spot or contrast change it is exactly Rec. 601 luma.
        let plain = DoorConditionParameters(infrared: .init(contrast: 1, noise: 0, hotSpot: 0))
        let gray = plain.applied(to: input, side: Self.side)
        var worst: Float = 0
        for i in stride(from: 0, to: input.count, by: 3) {
            let luma = 0.299 * input[i] + 0.587 * input[i + 1] + 0.114 * input[i + 2]
            worst = max(worst, abs(gray[i] - luma))
        }
        #expect(worst < 1e-3)
        // Contrast 2 doubles the deviations from the mean.
        let strong = DoorConditionParameters(infrared: .init(contrast: 2, noise: 0, hotSpot: 0))
        let contrasted = strong.applied(to: input, side: Self.side)
        let m = Float(Self.mean(gray))
        let i = 3 * (10 * Self.side + 20)
        #expect(abs((contrasted[i] - m) - 2 * (gray[i] - m)) < 0.01)
        // The hot spot leaves the centre and darkens the corners.
        let lamp = DoorConditionParameters(infrared: .init(contrast: 1, noise: 0, hotSpot: 0.3))
        let lit = lamp.applied(to: [Float](repeating: 200, count: input.count), side: Self.side)
        #expect(abs(lit[3 * (32 * Self.side + 32)] - 200) < 0.1)
        #expect(abs(lit[0] - 200 * 0.7) < 3)
    }

    @Test func lowLightDarkensByTheDrawnFactor() {
        let gray = [Float](repeating: 128, count: Self.side * Self.side * 3)
        for factor in [0.15, 0.3, 0.6] {
            let dim = DoorConditionParameters(lowLight: .init(factor: factor, gamma: 1, noise: 3), noiseSeed: 8)
            let out = dim.applied(to: gray, side: Self.side)
            // 12,288 values of noise with sigma below 5: the mean's error is below 0.05; 0.3 leaves room.
            #expect(abs(Self.mean(out) - 128 * factor) < 0.3, "factor \(factor)")
            #expect(out.contains { $0 != out[0] }, "noise was added")
        }
        // Gamma darkens mid-tones before the factor applies (the table is interpolated: within 0.05).
        let curve = DoorConditionParameters(lowLight: .init(factor: 0.5, gamma: 1.5, noise: 0))
        let out = curve.applied(to: Self.smooth(), side: Self.side)
        let input = Self.smooth()
        var worst = 0.0
        for i in input.indices {
            let expected = 255 * 0.5 * pow(Double(input[i]) / 255, 1.5)
            worst = max(worst, abs(Double(out[i]) - expected))
        }
        #expect(worst < 0.05)
    }

    @Test func motionBlurSmoothsAlongItsDirectionAndKeepsTheMean() {
        let input = Self.noisy()
        for (angle, along, across) in [(0.0, (0, 1), (1, 0)), (90.0, (1, 0), (0, 1))] {
            let blur = DoorConditionParameters(motionBlur: .init(length: 9, angle: angle))
            let out = blur.applied(to: input, side: Self.side)
            let alongRatio = Self.energy(out, dr: along.0, dc: along.1) / Self.energy(input, dr: along.0, dc: along.1)
            let acrossRatio =
                Self.energy(out, dr: across.0, dc: across.1) / Self.energy(input, dr: across.0, dc: across.1)
            // A 9-tap box along the line leaves about 2/81 of white noise's neighbour differences along it;
            // across it, neighbouring pixels average independent values: about 1/9.
            #expect(alongRatio < 0.05, "angle \(angle): along \(alongRatio)")
            #expect(acrossRatio > 0.08, "angle \(angle): across \(acrossRatio)")
            #expect(abs(Self.mean(out) / Self.mean(input) - 1) < 0.01)
        }
        // A 45-degree blur spreads a point along the diagonal that rises to the right.
        var dot = [Float](repeating: 0, count: Self.side * Self.side * 3)
        dot[3 * (32 * Self.side + 32)] = 90
        let diagonal = DoorConditionParameters(motionBlur: .init(length: 3, angle: 45)).applied(
            to: dot, side: Self.side)
        for (r, c) in [(31, 33), (32, 32), (33, 31)] { #expect(abs(diagonal[3 * (r * Self.side + c)] - 30) < 1e-4) }
        #expect(diagonal[3 * (31 * Self.side + 31)] == 0)
    }

    @Test func lowQualityJPEGCreates8x8BlockEdges() {
        let input = Self.smooth()
        // Mean absolute step between neighbouring columns at block boundaries (7|8, 15|16, ...) and inside.
        func steps(_ values: [Float]) -> (boundary: Double, interior: Double) {
            var boundary = 0.0, interior = 0.0, nb = 0, ni = 0
            for r in 0..<Self.side {
                for c in 0..<(Self.side - 1) {
                    let d = abs(Double(values[(r * Self.side + c) * 3 + 1] - values[(r * Self.side + c + 1) * 3 + 1]))
                    if c % 8 == 7 {
                        boundary += d
                        nb += 1
                    } else {
                        interior += d
                        ni += 1
                    }
                }
            }
            return (boundary / Double(nb), interior / Double(ni))
        }
        let before = steps(input)
        #expect(before.boundary / before.interior < 1.2)
        let out = DoorConditionParameters(jpegQuality: 10).applied(to: input, side: Self.side)
        let after = steps(out)
        #expect(after.boundary / after.interior > 2, "boundary \(after.boundary), interior \(after.interior)")
        // High quality stays close to the input.
        let fine = DoorConditionParameters(jpegQuality: 100).applied(to: input, side: Self.side)
        #expect(maxDifference(fine, input) < 6)
    }

    @Test func partialViewMovesTheImageOutThroughAnEdge() {
        let input = floatPattern(width: Self.side, height: Self.side, seed: 6)
        let n = 19  // 0.3 of 64, rounded
        for edge in DoorConditionParameters.Edge.allCases {
            let view = DoorConditionParameters.PartialView(edge: edge, fraction: 0.3)
            #expect(view.pixels(side: Self.side) == n)
            let out = DoorConditionParameters(partialView: view).applied(to: input, side: Self.side)
            let (dr, dc): (Int, Int) =
                switch edge {
                case .left: (0, -n)
                case .right: (0, n)
                case .top: (-n, 0)
                case .bottom: (n, 0)
                }
            for r in 0..<Self.side {
                for c in 0..<Self.side {
                    let sr = min(max(r - dr, 0), Self.side - 1), sc = min(max(c - dc, 0), Self.side - 1)
                    for ch in 0..<3 {
                        #expect(out[(r * Self.side + c) * 3 + ch] == input[(sr * Self.side + sc) * 3 + ch])
                    }
                }
            }
        }
        // An occluding band covers exactly its fraction and leaves the rest.
        let band = DoorConditionParameters(partialView: .init(edge: .bottom, fraction: 0.3, occluderLevel: 40))
        let covered = band.applied(to: input, side: Self.side)
        let split = (Self.side - n) * Self.side * 3
        #expect(Array(covered[..<split]) == Array(input[..<split]))
        #expect(covered[split...].allSatisfy { $0 == 40 })
    }

    @Test func validateRejectsOutOfRangeSettings() throws {
        try DoorConditions.door.validate()
        try DoorConditions.none.validate()
        var cases: [DoorConditions] = []
        for change in [
            { (d: inout DoorConditions) in d.infraredProbability = 1.5 },
            { $0.jpegProbability = -0.1 },
            { $0.motionBlurProbability = .nan },
            { $0.occlusionShare = 2 },
            { $0.infraredContrast = 0...1 },
            { $0.infraredNoise = 0...100 },
            { $0.lowLightFactor = 0...0.5 },
            { $0.lowLightGamma = 1...9 },
            { $0.lowLightNoise = 0...(.infinity) },
            { $0.motionBlurLength = 0...5 },
            { $0.motionBlurLength = 3...64 },
            { $0.motionBlurMaximumAngle = 120 },
            { $0.jpegQuality = 0...50 },
            { $0.jpegQuality = 10...101 },
            { $0.partialViewFraction = 0.2...0.95 },
        ] {
            var settings = DoorConditions.door
            change(&settings)
            cases.append(settings)
        }
        for settings in cases {
            #expect(throws: PreprocessingError.self) { try settings.validate() }
        }
    }
}
