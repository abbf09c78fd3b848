import Imaging
import Support
import Testing

/// Resizing against Pillow 13 (Scripts/make-imaging-golden.py): nearest and bilinear bit for bit, area
/// against a float64 reference.
@Suite struct ResizeGoldenTests {
    /// An image whose pixels encode their coordinates, as the script's coordinate_image.
    static func coordinateImage(width: Int, height: Int) -> Image {
        Image(width: width, height: height) { x, y in
            (UInt8(x & 255), UInt8((x >> 8) | ((y >> 8) << 4)), UInt8(y & 255))
        }
    }

    @Test func nearestPicksPillowsSourcePixels() {
        let cases = Golden.cases("nearest_index")
        #expect(cases.count >= 10)
        for entry in cases {
            let source = entry["source"]!.ints, target = entry["target"]!.ints
            let image = Self.coordinateImage(width: source[0], height: source[1])
            let out = PillowResample.nearest(image, width: target[0], height: target[1])
            var columns: [Int] = [], rows: [Int] = []
            for x in 0..<target[0] {
                let p = out.pixel(x: x, y: 0)
                columns.append(Int(p.r) | (Int(p.g) & 15) << 8)
            }
            for y in 0..<target[1] {
                let p = out.pixel(x: 0, y: y)
                rows.append(Int(p.b) | (Int(p.g) >> 4) << 8)
            }
            #expect(columns == entry["columns"]!.ints, "columns for \(source) -> \(target)")
            #expect(rows == entry["rows"]!.ints, "rows for \(source) -> \(target)")
        }
    }

    @Test func nearestRunningSumDiffersFromClosedFormFor640() {
        // The reason Pillow's walk is reproduced instead of floor((i + 0.5) * scale).
        let entry = Golden.cases("nearest_index").first {
            $0["source"]!.ints == [640, 480] && $0["target"]!.ints == [224, 224]
        }!
        #expect(entry["columns_differing_from_closed_form"]!.intValue == 20)
        let scale = 640.0 / 224.0
        let closedForm = (0..<224).map { Int(((Double($0) + 0.5) * scale).rounded(.down)) }
        let walked = PillowResample.nearest(Self.coordinateImage(width: 640, height: 1), width: 224, height: 1)
        let columns = (0..<224).map { Int(walked.pixel(x: $0, y: 0).r) | (Int(walked.pixel(x: $0, y: 0).g) & 15) << 8 }
        #expect(zip(columns, closedForm).filter { $0 != $1 }.count == 20)
    }

    @Test func nearestSweepMatchesPillowHashes() {
        let cases = Golden.cases("nearest_sweep")
        #expect(cases.count >= 40)
        for entry in cases {
            let source = entry["source"]!.ints, target = entry["target"]!.ints
            let image = patternImage(width: source[0], height: source[1], seed: entry["seed"]!.intValue!)
            let out = PillowResample.nearest(image, width: target[0], height: target[1])
            #expect(sha256Hex(out.pixels) == entry["sha256"]!.stringValue!, "nearest \(source) -> \(target)")
        }
    }

    @Test func bilinearMatchesPillowPixelForPixel() {
        let cases = Golden.cases("bilinear_full")
        #expect(cases.count == 2)
        for entry in cases {
            let source = entry["source"]!.ints, target = entry["target"]!.ints
            let image = patternImage(width: source[0], height: source[1], seed: entry["seed"]!.intValue!)
            let out = PillowResample.bilinear(image, width: target[0], height: target[1])
            let expected = Golden.payload(entry)
            var worst = 0, differing = 0
            for i in expected.indices where expected[i] != out.pixels[i] {
                differing += 1
                worst = max(worst, abs(Int(expected[i]) - Int(out.pixels[i])))
            }
            #expect(differing == 0, "\(entry["name"]!.stringValue!): \(differing) values differ, by up to \(worst)")
        }
    }

    @Test func bilinearSweepMatchesPillowHashes() {
        let cases = Golden.cases("bilinear_sweep")
        #expect(cases.count >= 80)
        var mismatches: [String] = []
        for entry in cases {
            let source = entry["source"]!.ints, target = entry["target"]!.ints
            let image = patternImage(width: source[0], height: source[1], seed: entry["seed"]!.intValue!)
            let out = PillowResample.bilinear(image, width: target[0], height: target[1])
            if sha256Hex(out.pixels) != entry["sha256"]!.stringValue! { mismatches.append("\(source) -> \(target)") }
        }
        #expect(mismatches.isEmpty, "bilinear differs from Pillow for \(mismatches)")
    }

    @Test func areaMatchesFloat64Reference() {
        let cases = Golden.cases("area")
        #expect(cases.count >= 4)
        for entry in cases {
            let source = entry["source"]!.ints, target = entry["target"]!.ints
            let image = patternImage(width: source[0], height: source[1], seed: entry["seed"]!.intValue!)
            let out = ResizeMethod.area.resized(image, width: target[0], height: target[1])
            // Float32 accumulation of at most a few dozen terms of 0...255 values: well under 1e-3.
            let error = maxDifference(out, Golden.floats(entry))
            #expect(error < 1e-3, "\(entry["name"]!.stringValue!): max error \(error)")
        }
    }
}
