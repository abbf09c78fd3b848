import Foundation
import Imaging
import Support
import Testing

@Suite struct PreprocessorTests {
    @Test func namesRoundTripAndUnknownNamesAreRefused() throws {
        for method in ResizeMethod.allCases {
            for centering in Centering.allCases {
                let p = try Preprocessor(resizeName: method.rawValue, centeringName: centering.rawValue)
                #expect(p.resize == method && p.centering == centering && p.side == 224)
            }
        }
        #expect(throws: PreprocessingError.unknownResizeMethod("lanczos")) {
            try Preprocessor(resizeName: "lanczos", centeringName: "samplewise")
        }
        #expect(throws: PreprocessingError.unknownCentering("torch")) {
            try Preprocessor(resizeName: "area", centeringName: "torch")
        }
        #expect(throws: PreprocessingError.invalidSide(0)) {
            try Preprocessor(resizeName: "area", centeringName: "caffe", side: 0)
        }
        #expect(
            PreprocessingError.unknownResizeMethod("lanczos").description
                == "unknown resize method 'lanczos' (this build implements nearest, bilinear, area)")
        #expect(ResizeMethod.default == .area)
    }

    @Test func samplewiseSubtractsTheImageMean() {
        let image = patternImage(width: 300, height: 200, seed: 1)
        let p = Preprocessor(resize: .area, centering: .samplewise)
        let input = p.input(from: image)
        let resized = ResizeMethod.area.resized(image, width: 224, height: 224)
        #expect(input.count == 224 * 224 * 3)
        let mean = resized.reduce(0.0) { $0 + Double($1) } / Double(resized.count)
        #expect(abs(input.reduce(0.0) { $0 + Double($1) } / Double(input.count)) < 1e-3)
        for i in stride(from: 0, to: input.count, by: 997) {
            #expect(input[i] == resized[i] - Float(mean))
        }
    }

    @Test func caffeSwapsToBGRAndSubtractsImageNetMeans() {
        let image = Image(width: 4, height: 3) { _, _ in (200, 100, 50) }
        let p = Preprocessor(resize: .nearest, centering: .caffe, side: 2)
        let input = p.input(from: image)
        for pixel in 0..<4 {
            #expect(input[3 * pixel] == 50 - 103.939 as Float)
            #expect(input[3 * pixel + 1] == 100 - 116.779 as Float)
            #expect(input[3 * pixel + 2] == 200 - 123.68 as Float)
        }
    }

    @Test func writeMatchesInputAndAppliesAugmentationBeforeCentering() {
        let image = patternImage(width: 320, height: 240, seed: 2)
        let p = Preprocessor(resize: .bilinear, centering: .samplewise)
        let parameters = AugmentationParameters(theta: 5, tx: -3, ty: 4, zx: 1.05, zy: 0.95, flipHorizontal: true)
        var buffer = [Float](repeating: .nan, count: p.valueCount)
        buffer.withUnsafeMutableBufferPointer { p.write(image, augmentation: parameters, into: $0.baseAddress!) }
        #expect(buffer == p.input(from: image, augmentation: parameters))
        // By hand: resize, augment, centre.
        let resized = ResizeMethod.bilinear.resized(image, width: 224, height: 224)
        var expected = parameters.applied(to: resized, height: 224, width: 224, channels: 3)
        expected.withUnsafeMutableBufferPointer { Centering.samplewise.apply(to: $0) }
        #expect(buffer == expected)
        #expect(buffer != p.input(from: image))
    }

    @Test func decodeOptionsFollowTheKerasSwitch() {
        #expect(Preprocessor().decodeOptions.minimumSide == 224)
        #expect(Preprocessor().decodeOptions.applyOrientation)
        let keras = Preprocessor(resize: .nearest, exactKerasDecode: true)
        #expect(keras.decodeOptions.minimumSide == nil)
        #expect(!keras.decodeOptions.applyOrientation)
    }

    @Test func inputFromFileAndFrame() throws {
        let image = patternImage(width: 640, height: 480, seed: 4)
        let jpeg = try JPEGEncoder.encode(image, options: JPEGEncodeOptions(quality: 90, subsampling: .s422))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dogdoor-preprocess-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("frame.jpg").path
        try Data(jpeg).write(to: URL(fileURLWithPath: path))
        let p = Preprocessor()
        let fromFile = try p.input(file: path)
        let fromFrame = try p.input(from: CameraFrame(format: .mjpeg, width: 640, height: 480, bytes: jpeg))
        #expect(fromFile == fromFrame)
        // The file was decoded at 1/2 scale (320x240), then area-resized.
        let half = try decoded(jpeg, options: DecodeOptions(minimumSide: 224))
        #expect(fromFile == p.input(from: half))
        #expect(throws: ImagingError.self) { try p.input(file: directory.appendingPathComponent("missing.jpg").path) }
    }
}
