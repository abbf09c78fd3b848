import Foundation
import Imaging
import NeuralNet
import Support
import TestSupport
import Testing

@testable import Training

/// A temporary folder tree, removed afterwards.
final class DataDirectory {
    private let temporary = TemporaryDirectory("train")
    var path: String { temporary.path }

    func write(_ relative: String, _ bytes: [UInt8]) {
        let full = path + "/" + relative
        try! FileManager.default.createDirectory(atPath: parentDirectory(of: full), withIntermediateDirectories: true)
        try! AtomicFile.write(bytes, to: full)
    }

    /// A JPEG of a simple scene: a bright square on a dark background ("positive") or stripes ("negative").
    static func image(positive: Bool, variant: Int, size: Int = 96) -> [UInt8] {
        let image = Image(width: size, height: size) { x, y in
            if positive {
                let inside = abs(x - size / 2 - variant % 7) < size / 4 && abs(y - size / 2 + variant % 5) < size / 4
                return inside ? (240, 230, UInt8(200 + variant % 40)) : (20, 25, 30)
            }
            let stripe = ((x + y + variant * 3) / 8) % 2 == 0
            return stripe ? (UInt8(90 + variant % 60), 140, 60) : (30, 60, UInt8(120 + variant % 50))
        }
        return try! JPEGEncoder.encode(image)
    }
}

@Suite struct DatasetTests {
    @Test func findsFilesInKerasOrderAndByContent() throws {
        let dir = DataDirectory()
        for name in ["b.jpg", "a.png", "sub/c.jpg", "sub/a.jpg"] {
            dir.write("train/dog/\(name)", DataDirectory.image(positive: true, variant: 1))
        }
        for name in ["z.jpg", "y.jpg"] {
            dir.write("train/other/\(name)", DataDirectory.image(positive: false, variant: 1))
        }
        dir.write("train/other/.DS_Store", [0, 1, 2])
        dir.write("valid/dog/v.jpg", DataDirectory.image(positive: true, variant: 2))
        dir.write("valid/other/w.jpg", DataDirectory.image(positive: false, variant: 2))
        let layout = try DatasetLayout.discover(directory: dir.path, positive: "dog")
        #expect(layout.positiveClass == "dog" && layout.negativeClass == "other")
        // Directories sorted, files sorted within each, hidden files left out; classes in sorted order.
        #expect(
            layout.training.map { String($0.path.dropFirst(dir.path.count + 1)) } == [
                "train/dog/a.png", "train/dog/b.jpg", "train/dog/sub/a.jpg", "train/dog/sub/c.jpg",
                "train/other/y.jpg", "train/other/z.jpg",
            ])
        #expect(layout.training.map(\.isPositive) == [true, true, true, true, false, false])
        #expect(layout.validation.count == 2)
    }

    @Test func validationSplitTakesTheFirstFractionOfEachClass() throws {
        let dir = DataDirectory()
        for i in 0..<10 { dir.write("bo/\(i).jpg", DataDirectory.image(positive: true, variant: i)) }
        for i in 0..<5 { dir.write("not_bo/\(i).jpg", DataDirectory.image(positive: false, variant: i)) }
        let layout = try DatasetLayout.discover(directory: dir.path, positive: "bo", validationSplit: 0.3)
        #expect(layout.validation.map { baseName(of: $0.path) } == ["0.jpg", "1.jpg", "2.jpg", "0.jpg"])
        #expect(layout.training.count == 11)
    }

    @Test func explainsBadLayouts() {
        let dir = DataDirectory()
        dir.write("train/a/x.jpg", [1])
        dir.write("train/b/x.jpg", [1])
        dir.write("train/c/x.jpg", [1])
        dir.write("valid/a/x.jpg", [1])
        dir.write("valid/b/x.jpg", [1])
        dir.write("valid/c/x.jpg", [1])
        // Each layout must be refused, and with its own reason (a layout that loads fails the test).
        let threeClasses = #expect(throws: DatasetError.self) {
            try DatasetLayout.discover(directory: dir.path, positive: "a")
        }
        #expect(threeClasses?.message.contains("exactly two are needed") == true, "\(String(describing: threeClasses))")
        let missing = #expect(throws: DatasetError.self) {
            try DatasetLayout.discover(directory: dir.path + "/missing", positive: "a")
        }
        #expect(missing?.message.hasSuffix("/missing: not a directory") == true, "\(String(describing: missing))")
    }

    @Test func unreadableFilesAreSkippedWithTheirReason() {
        let dir = DataDirectory()
        dir.write("good.jpg", DataDirectory.image(positive: true, variant: 0))
        dir.write("notes.txt", Array("hello".utf8))
        var truncated = DataDirectory.image(positive: false, variant: 0)
        truncated.removeLast(truncated.count / 2)
        dir.write("broken.jpg", truncated)
        let files = ["good.jpg", "notes.txt", "broken.jpg"].map {
            LabelledFile(path: dir.path + "/" + $0, className: "x", isPositive: true)
        }
        let set = ImageSet(files, preprocessor: Preprocessor(), threads: ComputeThreads(2))
        #expect(set.files.map { baseName(of: $0.path) } == ["good.jpg"])
        #expect(set.skipped.map { baseName(of: $0.path) } == ["notes.txt", "broken.jpg"])
        #expect(set.skipped.allSatisfy { $0.reason.contains(dir.path) })
    }
}

/// A photo set as people have them: broken, huge, truncated, empty, linked-out, foreign and unreadable files
/// among the good ones. Training uses the good ones and says, per file, why each other one was left out.
@Suite struct HostilePhotoSetTests {
    @Test func everyBadFileIsSkippedWithItsReason() throws {
        let dir = DataDirectory()
        for i in 0..<3 { dir.write("train/bo/good-\(i).jpg", DataDirectory.image(positive: true, variant: i)) }
        for i in 0..<3 { dir.write("train/not_bo/good-\(i).jpg", DataDirectory.image(positive: false, variant: i)) }
        dir.write("valid/bo/v.jpg", DataDirectory.image(positive: true, variant: 9))
        dir.write("valid/not_bo/v.jpg", DataDirectory.image(positive: false, variant: 9))
        // Broken and truncated JPEGs, an empty file, text, and a PNG whose header claims 40000x40000 pixels.
        var truncated = DataDirectory.image(positive: true, variant: 5)
        truncated.removeLast(truncated.count / 2)
        dir.write("train/bo/truncated.jpg", truncated)
        var broken = DataDirectory.image(positive: true, variant: 6)
        for i in stride(from: 200, to: broken.count - 2, by: 7) { broken[i] = 0xFF }
        dir.write("train/bo/broken.jpg", broken)
        dir.write("train/bo/empty.jpg", [])
        dir.write("train/not_bo/readme.jpg", Array("these are my dog photos\n".utf8))
        dir.write("train/not_bo/huge.png", Self.pngHeader(width: 40_000, height: 40_000))
        // A link out of the folder, a link to nothing, and a FIFO.
        symlink("/etc/hostname", dir.path + "/train/bo/linked-out.jpg")
        symlink(dir.path + "/nowhere.jpg", dir.path + "/train/bo/dangling.jpg")
        mkfifo(dir.path + "/train/not_bo/pipe.jpg", 0o600)
        // A link inside the folder is fine.
        symlink(dir.path + "/train/bo/good-0.jpg", dir.path + "/train/bo/good-link.jpg")
        // A file the trainer may not read (only meaningful when not running as root, who reads anything).
        dir.write("train/not_bo/secret.jpg", DataDirectory.image(positive: false, variant: 7))
        chmod(dir.path + "/train/not_bo/secret.jpg", 0o000)

        let layout = try DatasetLayout.discover(directory: dir.path, positive: "bo")
        let reasons = Dictionary(uniqueKeysWithValues: layout.skipped.map { (baseName(of: $0.path), $0.reason) })
        #expect(reasons["linked-out.jpg"] == "a symbolic link to /etc/hostname, outside the data folder")
        #expect(reasons["dangling.jpg"] == "a symbolic link to nothing")
        #expect(reasons["pipe.jpg"] == "not a regular file (a device, FIFO or socket)")
        #expect(layout.training.contains { baseName(of: $0.path) == "good-link.jpg" })

        let set = ImageSet(layout.training, preprocessor: Preprocessor(), threads: ComputeThreads(2))
        let skipped = Dictionary(uniqueKeysWithValues: set.skipped.map { (baseName(of: $0.path), $0.reason) })
        #expect(skipped["truncated.jpg"]?.contains("truncated") == true, "\(skipped)")
        #expect(skipped["broken.jpg"] != nil)
        #expect(skipped["empty.jpg"]?.contains("empty") == true, "\(skipped)")
        #expect(skipped["readme.jpg"]?.contains("not a JPEG, PNG or WebP") == true, "\(skipped)")
        #expect(skipped["huge.png"]?.contains("40000x40000") == true, "\(skipped)")
        if getuid() != 0 { #expect(skipped["secret.jpg"]?.contains("ermission") == true, "\(skipped)") }
        // Every reason names its file.
        #expect(set.skipped.allSatisfy { $0.reason.contains($0.path) })
        #expect(
            set.files.map { baseName(of: $0.path) }.sorted().prefix(4) == [
                "good-0.jpg", "good-0.jpg", "good-1.jpg", "good-1.jpg",
            ])
    }

    /// A PNG that claims an 8-bit RGB image of the given size: signature, IHDR, a small IDAT, IEND.
    static func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] {
            [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in body {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
            }
            return be(UInt32(data.count)) + body + be(~crc)
        }
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", be(width) + be(height) + [8, 2, 0, 0, 0])
            + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", [])
    }
}

@Suite struct OptimizerTests {
    @Test func rmspropFollowsKeras() {
        // Two steps by hand: v = 0.9 v + 0.1 g^2; w -= lr g / sqrt(v + 1e-7).
        let w = FloatBuffer([1.0, -2.0])
        let g = FloatBuffer([0.5, -0.25])
        let optimizer = RMSprop(learningRate: 0.01)
        optimizer.update(w, gradient: g)
        optimizer.update(w, gradient: g)
        var expected: [Double] = [1.0, -2.0]
        var v: [Double] = [0, 0]
        for _ in 0..<2 {
            for i in 0..<2 {
                let gi = Double(g[i])
                v[i] = 0.9 * v[i] + 0.1 * gi * gi
                expected[i] -= 0.01 * gi / (v[i] + 1e-7).squareRoot()
            }
        }
        #expect(abs(Double(w[0]) - expected[0]) < 1e-6 && abs(Double(w[1]) - expected[1]) < 1e-6)
    }

    /// Threads split the update into slices; every element sees the same arithmetic, so results are identical.
    @Test func rmspropDoesNotDependOnThreads() {
        var rng = SeededRandom(seed: 9)
        let count = 70_001  // not a multiple of the slice alignment
        let start = (0..<count).map { _ in Float(rng.uniform(-1, 1)) }
        let gradient = FloatBuffer((0..<count).map { _ in Float(rng.uniform(-0.1, 0.1)) })
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            let w = FloatBuffer(start)
            let optimizer = RMSprop(learningRate: 1e-3, threads: ComputeThreads(threads))
            for _ in 0..<3 { optimizer.update(w, gradient: gradient) }
            results.append(w.toArray())
        }
        #expect(results[0] != start)
        #expect(results[1] == results[0] && results[2] == results[0])
    }

    @Test func crossEntropyIsStableAndMatchesItsGradient() {
        let logits: [Float] = [-50, -1, 0, 2, 80]
        let labels: [Float] = [0, 1, 1, 0, 1]
        let loss = BinaryCrossEntropy.loss(logits: logits, labels: labels)
        #expect(loss.isFinite)
        let gradient = BinaryCrossEntropy.gradient(logits: logits, labels: labels)
        for i in 0..<logits.count {
            var plus = logits, minus = logits
            plus[i] += 1e-2
            minus[i] -= 1e-2
            let numeric =
                (BinaryCrossEntropy.loss(logits: plus, labels: labels)
                    - BinaryCrossEntropy.loss(logits: minus, labels: labels)) / 2e-2
            #expect(abs(numeric - Double(gradient[i])) < 1e-4)
        }
        #expect(BinaryCrossEntropy.accuracy(logits: logits, labels: labels) == 0.4)
    }

    @Test func batchesFollowKerasIteratorSemantics() {
        var stream = BatchStream(count: 10, batchSize: 4, random: SeededRandom(seed: 1))
        let pass = [stream.next(), stream.next(), stream.next()]
        #expect(pass.map(\.count) == [4, 4, 2])
        #expect(pass.flatMap { $0 }.sorted() == Array(0..<10), "each pass is a permutation")
        #expect(stream.next().count == 4, "a new pass starts after the partial batch")
    }
}

/// End-to-end training on a tiny synthetic set with random base weights (the real weights are not needed to
/// check the mechanics): both phases run on the right layers, and the result is reproducible bit for bit.
@Suite struct TrainerTests {
    static func dataset() -> DataDirectory {
        let dir = DataDirectory()
        for i in 0..<6 {
            dir.write("train/dog/\(i).jpg", DataDirectory.image(positive: true, variant: i))
            dir.write("train/other/\(i).jpg", DataDirectory.image(positive: false, variant: i))
        }
        for i in 6..<8 {
            dir.write("valid/dog/\(i).jpg", DataDirectory.image(positive: true, variant: i))
            dir.write("valid/other/\(i).jpg", DataDirectory.image(positive: false, variant: i))
        }
        return dir
    }

    /// `start` cut down to a few steps of small batches, fine-tuning block 5 only.
    static func small(_ start: TrainingRecipe, seed: UInt64) -> TrainingRecipe {
        var recipe = start
        recipe.batchSize = 4
        recipe.stepsPerEpoch = 3
        recipe.epochs = 3
        recipe.fineTuneEpochs = 1
        recipe.fineTuneFrom = "block5_conv1"
        recipe.seed = seed
        return recipe
    }

    static func train(_ dir: DataDirectory, seed: UInt64, threads: Int) throws -> TrainingResult {
        try train(dir, recipe: small(.tutorial, seed: seed), threads: threads)
    }

    static func train(_ dir: DataDirectory, recipe: TrainingRecipe, threads: Int) throws -> TrainingResult {
        let layout = try DatasetLayout.discover(directory: dir.path, positive: "dog")
        let preprocessor = Preprocessor(side: 64)
        let pool = ComputeThreads(threads)
        let trainer = Trainer(
            recipe: recipe, preprocessor: preprocessor,
            training: ImageSet(layout.training, preprocessor: preprocessor, threads: pool),
            validation: ImageSet(layout.validation, preprocessor: preprocessor, threads: pool),
            base: VGG16Parameters.seededRandom(seed: 7), threads: pool)
        return try trainer.run(observer: nil)
    }

    @Test func trainsBothPhasesReproducibly() throws {
        let dir = Self.dataset()
        let first = try Self.train(dir, seed: 5, threads: 2)
        #expect(first.epochs.map(\.phase) == ["frozen", "frozen", "frozen", "fine-tune"])
        #expect(first.epochs.allSatisfy { $0.loss.isFinite && $0.validationLoss.isFinite })
        #expect(first.validation.count == 4)
        // Fine-tuning from block5 changed block5 and nothing before it.
        let base = VGG16Parameters.seededRandom(seed: 7)
        #expect(first.parameters.conv[12].kernel.toArray() != base.conv[12].kernel.toArray())
        #expect(first.parameters.conv[9].kernel.toArray() == base.conv[9].kernel.toArray())
        let again = try Self.train(dir, seed: 5, threads: 2)
        #expect(again.parameters.head == first.parameters.head)
        #expect(again.parameters.conv[12].kernel.toArray() == first.parameters.conv[12].kernel.toArray())
        #expect(again.epochs.map(\.loss) == first.epochs.map(\.loss))
        let other = try Self.train(dir, seed: 6, threads: 2)
        #expect(other.parameters.head != first.parameters.head)
    }

    /// The stable recipe: the weights kept are the averages, and the validation scores returned are those of
    /// the weights kept (not of the last epoch), so the report and the calibration judge the model written.
    @Test func stableRecipeScoresTheWeightsItKeeps() throws {
        let dir = Self.dataset()
        var recipe = Self.small(.stable, seed: 5)
        recipe.averageLastEpochs = 2
        recipe.fineTuneAverageLastEpochs = 1
        let result = try Self.train(dir, recipe: recipe, threads: 2)
        #expect(result.selection.contains("phase 1: the head averaged over epochs 2-3"))
        #expect(result.selection.contains("phase 2: the weights after its last epoch"))
        let again = try Self.train(dir, recipe: recipe, threads: 2)
        #expect(again.parameters.head == result.parameters.head)

        // Score the validation images with the kept weights through the inference extractor.
        let layout = try DatasetLayout.discover(directory: dir.path, positive: "dog")
        let preprocessor = Preprocessor(side: 64)
        let validation = ImageSet(layout.validation, preprocessor: preprocessor, threads: ComputeThreads(1))
        let extractor = try VGG16FeatureExtractor(
            weights: result.parameters, plan: .inference, threads: ComputeThreads(1))
        let input = FloatBuffer(count: preprocessor.valueCount)
        var features = [Float](repeating: 0, count: VGG16.featureCount)
        for (i, scored) in result.validation.enumerated() {
            validation.writeInput(i, augmentation: nil, centering: preprocessor.centering, into: input.pointer)
            features.withUnsafeMutableBufferPointer {
                extractor.extract(input.pointer, batch: 1, side: 64, features: $0.baseAddress!)
            }
            let logit = Double(result.parameters.head.logit(features))
            // Training and inference plans sum in different orders: float32 agreement, relative 1e-3.
            #expect(abs(logit - scored.logit) <= 1e-3 * max(1, abs(logit)), "\(scored.path)")
        }

        // With phase 2 averaged over 2 epochs the result differs from keeping the last epoch's weights.
        recipe.fineTuneEpochs = 2
        recipe.fineTuneAverageLastEpochs = 2
        let averaged = try Self.train(dir, recipe: recipe, threads: 2)
        recipe.fineTuneAverageLastEpochs = 0
        let last = try Self.train(dir, recipe: recipe, threads: 2)
        #expect(averaged.selection.contains("phase 2: the weights averaged over epochs 1-2"))
        let sameKernel = averaged.parameters.conv[12].kernel.toArray() == last.parameters.conv[12].kernel.toArray()
        let sameEarlierLayer =
            averaged.parameters.conv[9].kernel.toArray() == last.parameters.conv[9].kernel.toArray()
        #expect(!sameKernel, "the average of epochs 1 and 2 is not epoch 2's weights")
        #expect(sameEarlierLayer, "only block 5 trains: block4_conv3 stays as it was")
        #expect(averaged.epochs.map(\.loss) == last.epochs.map(\.loss), "averaging does not change the training path")
    }
}
