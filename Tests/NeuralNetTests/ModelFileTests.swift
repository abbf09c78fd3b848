import Foundation
import NeuralNet
import Support
import TestSupport
import Testing

@Suite struct ModelFileTests {
    static func manifest(side: Int = 64) -> ModelManifest {
        var m = ModelManifest(
            resize: "area", centering: "samplewise", positiveClass: "bo", negativeClass: "not_bo",
            threshold: 0.8, training: ["note": "unit test"])
        m.inputSize = side
        return m
    }

    /// Rewrites a model file with its tensors unchanged and the manifest edited by `edit`. With `reseal`
    /// (the default) the manifest's checksum is recomputed as docs/model-format.md defines it (SHA-256 of the
    /// manifest without `integrity`, keys sorted), as a writer that means the edit would; without it, the edit
    /// is what tampering looks like.
    static func rewrite(
        _ path: String, to newPath: String, reseal: Bool = true, edit: (inout JSONObject) -> Void,
        tensors transform: (String, inout [Float]) -> Void = { _, _ in }
    ) throws {
        let file = try SafetensorsFile(path: path)
        var manifest = try JSONValue.parse(file.metadata[ModelFile.manifestKey]!).objectValue!
        edit(&manifest)
        if reseal, var integrity = manifest["integrity"]?.objectValue {
            var content = manifest
            content["integrity"] = nil
            integrity["manifest_sha256"] = .string(
                SHA256.hex(Array(JSONValue.object(content).serialized(sortedKeys: true).utf8)))
            manifest["integrity"] = .object(integrity)
        }
        // Float tensors go through `transform`; others (a model's int8 form) are copied byte for byte.
        var buffers: [FloatBuffer] = []
        let tensors = try file.tensors.map { info -> SafetensorsWriter.Tensor in
            guard info.dtype == .f32 else {
                return .init(name: info.name, shape: info.shape, dtype: info.dtype, bytes: file.bytes(of: info))
            }
            var values = try file.floats(info.name)
            transform(info.name, &values)
            let b = FloatBuffer(values)
            buffers.append(b)
            return .init(name: info.name, shape: info.shape, data: UnsafeBufferPointer(b.buffer))
        }
        var metadata = file.metadata
        metadata[ModelFile.manifestKey] = JSONValue.object(manifest).serialized()
        try SafetensorsWriter.write(tensors, metadata: metadata, to: newPath)
        withExtendedLifetime((buffers, file)) {}
    }

    static func loadError(_ path: String, trust: ModelTrust = .none) -> ModelError.Problem? {
        do {
            _ = try DogDoorModel(path: path, threads: ComputeThreads(2), trust: trust)
            return nil
        } catch {
            return error.problem
        }
    }

    @Test func writesAndVerifiesAModel() throws {
        let dir = TemporaryDirectory()
        let params = randomParameters(seed: 5)
        let path = dir.file("m.safetensors")
        let written = try ModelFile.write(params, manifest: Self.manifest(), to: path, threads: ComputeThreads(2))
        let model = try DogDoorModel(path: path, threads: ComputeThreads(2))
        #expect(model.manifest == written)
        #expect(model.manifest.positiveClass == "bo")
        #expect(abs(model.selfTestLogit - written.selfTest.expectedLogit) <= written.selfTest.allowedDifference)
        // Same logits under every execution plan, within the self-test's tolerance.
        let input = SelfTestInput.make(side: 64)
        for plan in [ExecutionPlan.reference, .training, .uniform(.winograd2)] {
            let other = try DogDoorModel(path: path, plan: plan, threads: ComputeThreads(1))
            let logit = input.withUnsafeBufferPointer { other.logits($0.baseAddress!, batch: 1)[0] }
            #expect(
                abs(Double(logit) - written.selfTest.expectedLogit) <= written.selfTest.allowedDifference, "\(plan)")
        }
        // Deterministic: writing again gives the identical file.
        let again = dir.file("m2.safetensors")
        try ModelFile.write(params, manifest: Self.manifest(), to: again, threads: ComputeThreads(2))
        #expect(try readFile(path) == readFile(again))
    }

    @Test func refusesCorruptedTensors() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.safetensors")
        let manifest = try ModelFile.write(
            randomParameters(seed: 6), manifest: Self.manifest(), to: path, threads: ComputeThreads(2))
        var bytes = try readFile(path)
        bytes[bytes.count - 1000] ^= 0x40
        let bad = dir.file("bad.safetensors")
        try AtomicFile.write(bytes, to: bad)
        guard case .checksumMismatch(let expected, let actual)? = Self.loadError(bad) else {
            Issue.record("corruption not detected")
            return
        }
        #expect(expected == manifest.tensorsSHA256)
        #expect(actual != expected)
    }

    @Test func refusesAFailedSelfTest() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.safetensors")
        let manifest = try ModelFile.write(
            randomParameters(seed: 7), manifest: Self.manifest(), to: path, threads: ComputeThreads(2))
        let bad = dir.file("bad.safetensors")
        try Self.rewrite(path, to: bad) { m in
            var selfTest = m["self_test"]!.objectValue!
            selfTest["expected_logit"] = .number(
                manifest.selfTest.expectedLogit + 50 * manifest.selfTest.allowedDifference + 1)
            m["self_test"] = .object(selfTest)
        }
        guard case .selfTestFailed? = Self.loadError(bad) else {
            Issue.record("self-test mismatch not detected")
            return
        }
    }

    @Test func namesTheBadManifestField() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.safetensors")
        try ModelFile.write(randomParameters(seed: 8), manifest: Self.manifest(), to: path, threads: ComputeThreads(2))
        let cases: [(String, (inout JSONObject) -> Void)] = [
            ("format_version", { $0["format_version"] = 99 }),
            ("architecture", { $0["architecture"] = "resnet50" }),
            ("decision.threshold", { $0["decision"] = ["threshold": 1.5] }),
            ("classes.positive", { $0["classes"] = ["negative": "cat"] }),
            ("tensors_sha256", { $0["tensors_sha256"] = "abc" }),
        ]
        for (field, edit) in cases {
            let bad = dir.file("bad-\(field).safetensors")
            try Self.rewrite(path, to: bad, edit: edit)
            guard case .manifest(let e)? = Self.loadError(bad) else {
                Issue.record("bad \(field) accepted")
                continue
            }
            #expect(e.field == field)
        }
    }

    @Test func refusesNonFiniteWeights() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.safetensors")
        try ModelFile.write(randomParameters(seed: 9), manifest: Self.manifest(), to: path, threads: ComputeThreads(2))
        let bad = dir.file("nan.safetensors")
        try Self.rewrite(
            path, to: bad, edit: { _ in },
            tensors: { name, values in
                if name == "block3_conv2.bias" { values[17] = .nan }
            })
        #expect(Self.loadError(bad) == .nonFinite(tensor: "block3_conv2.bias"))
    }

    @Test func refusesWeightsFilesAndWrongShapes() throws {
        let dir = TemporaryDirectory()
        let params = randomParameters(seed: 10)
        // A conv-base-only file is not a model.
        let weights = dir.file("w.safetensors")
        let tensors = params.conv.flatMap { p in
            [
                SafetensorsWriter.Tensor(
                    name: "\(p.spec.name).kernel", shape: p.spec.kernelShape, data: UnsafeBufferPointer(p.kernel.buffer)
                ),
                SafetensorsWriter.Tensor(
                    name: "\(p.spec.name).bias", shape: [p.spec.cout], data: UnsafeBufferPointer(p.bias.buffer)),
            ]
        }
        try SafetensorsWriter.write(tensors, metadata: [:], to: weights)
        #expect(Self.loadError(weights) == .notAModel)
        let loaded = try loadBaseWeights(path: weights)
        #expect(loaded.conv[4].kernel.toArray() == params.conv[4].kernel.toArray())
        // A weights file with a transposed kernel names the tensor.
        var swapped = tensors
        swapped[6] = .init(name: "block2_conv2.kernel", shape: [3, 3, 128, 128], dtype: .f32, bytes: swapped[6].bytes)
        swapped[4] = .init(name: "block2_conv1.kernel", shape: [3, 3, 128, 64], dtype: .f32, bytes: swapped[4].bytes)
        try SafetensorsWriter.write(swapped, metadata: [:], to: weights)
        #expect(
            throws: ModelError(
                file: weights,
                problem: .wrongShape(
                    tensor: "block2_conv1.kernel", expected: [3, 3, 64, 128], actual: [3, 3, 128, 64]))
        ) {
            try loadBaseWeights(path: weights)
        }
        try SafetensorsWriter.write(Array(tensors.dropLast()), metadata: [:], to: weights)
        #expect(throws: ModelError(file: weights, problem: .missingTensor("block5_conv3.bias"))) {
            try loadBaseWeights(path: weights)
        }
    }

    @Test func anEditedManifestIsRefused() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.safetensors")
        try ModelFile.write(randomParameters(seed: 11), manifest: Self.manifest(), to: path, threads: ComputeThreads(2))
        // One edited number (what would admit every animal), the tensors and their checksum untouched.
        let bad = dir.file("edited.safetensors")
        try Self.rewrite(path, to: bad, reseal: false) {
            $0["decision"] = ["threshold": 0.000001, "score": "sigmoid(logit)"]
        }
        guard case .manifest(let e)? = Self.loadError(bad) else {
            Issue.record("an edited threshold was accepted")
            return
        }
        #expect(e.field == "integrity.manifest_sha256" && e.reason.contains("edited or is corrupt"))
        // An unknown field is refused too (nobody would check it).
        let extra = dir.file("extra.safetensors")
        try Self.rewrite(path, to: extra) { $0["admit_everyone"] = true }
        #expect(Self.loadError(extra) == .manifest(ManifestError(field: "admit_everyone", reason: "unknown field")))
    }

    @Test func aManifestSizeBeyondTheEngineIsAnErrorNotACrash() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.safetensors")
        try ModelFile.write(randomParameters(seed: 12), manifest: Self.manifest(), to: path, threads: ComputeThreads(2))
        for side in [4_294_967_296, 1_024, 544, 48] {
            let bad = dir.file("side-\(side).safetensors")
            try Self.rewrite(path, to: bad) {
                $0["input"] = ["height": .number(Double(side)), "width": .number(Double(side)), "channels": 3]
            }
            guard case .manifest(let e)? = Self.loadError(bad) else {
                Issue.record("input side \(side) accepted")
                continue
            }
            #expect(e.field == "input" && e.reason.contains("from 32 to 512"), "\(e)")
        }
        // Text given as a model says what it is.
        let text = dir.file("notes.txt")
        try AtomicFile.write("This is not a model.\n", to: text)
        guard case .container(let e)? = Self.loadError(text), case .notSafetensors = e.problem else {
            Issue.record("a text file was not called what it is")
            return
        }
    }

    @Test func formatOneIsRefusedUntilUpgraded() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("m.safetensors")
        try ModelFile.write(randomParameters(seed: 13), manifest: Self.manifest(), to: path, threads: ComputeThreads(2))
        let old = dir.file("v1.safetensors")
        try Self.rewrite(path, to: old, reseal: false) { m in
            m["format_version"] = 1
            m["integrity"] = nil
        }
        guard case .manifest(let e)? = Self.loadError(old) else {
            Issue.record("a format-1 model was accepted")
            return
        }
        #expect(e.field == "format_version" && e.reason.contains("dogdoor model upgrade"))
        let upgraded = dir.file("v2.safetensors")
        let manifest = try ModelFile.rewrite(old, to: upgraded, acceptingFormat1: true, threads: ComputeThreads(2)) {
            _ in
        }
        #expect(manifest.formatVersion == 2)
        #expect(Self.loadError(upgraded) == nil)
    }

    @Test func signaturesAndTheTrustPolicy() throws {
        let dir = TemporaryDirectory()
        let key = try Ed25519.PrivateKey.generate(), other = try Ed25519.PrivateKey.generate()
        let path = dir.file("signed.safetensors")
        let written = try ModelFile.write(
            randomParameters(seed: 14), manifest: Self.manifest(), to: path,
            threads: ComputeThreads(2), signingKey: key)
        #expect(written.signature?.publicKey == key.publicKey)
        #expect(Self.loadError(path, trust: ModelTrust(trustedKeys: [key.publicKey])) == nil)
        func refusal(_ file: String, _ trust: ModelTrust) -> String? {
            if case .untrusted(let reason)? = Self.loadError(file, trust: trust) { return reason }
            return nil
        }
        #expect(refusal(path, ModelTrust(trustedKeys: [other.publicKey]))?.contains("not by the trusted key") == true)
        // Someone who edits the manifest and recomputes its checksum still cannot forge the signature.
        let forged = dir.file("forged.safetensors")
        try Self.rewrite(path, to: forged) { $0["decision"] = ["threshold": 0.01, "score": "sigmoid(logit)"] }
        #expect(
            refusal(forged, .none)?.contains("signature") == true,
            "an invalid signature is refused even when none is required")
        // Unsigned models are refused when a key is configured.
        let unsigned = dir.file("unsigned.safetensors")
        try ModelFile.write(
            randomParameters(seed: 14), manifest: Self.manifest(), to: unsigned, threads: ComputeThreads(2))
        #expect(refusal(unsigned, ModelTrust(trustedKeys: [key.publicKey]))?.contains("not signed") == true)
        // `dogdoor model sign` adds a signature to an existing model.
        let signedLater = dir.file("signed-later.safetensors")
        try ModelFile.rewrite(unsigned, to: signedLater, threads: ComputeThreads(2)) { m in
            m.signature = ModelSignature(publicKey: key.publicKey, value: key.signature(for: m.signedMessage))
        }
        #expect(Self.loadError(signedLater, trust: ModelTrust(trustedKeys: [key.publicKey])) == nil)
        // The threshold floor and the whole-file pin.
        #expect(refusal(unsigned, ModelTrust(minimumThreshold: 0.9))?.contains("minimum_threshold") == true)
        let digest = SHA256.hex(try readFile(unsigned))
        #expect(Self.loadError(unsigned, trust: ModelTrust(fileSHA256: digest)) == nil)
        #expect(refusal(signedLater, ModelTrust(fileSHA256: digest))?.contains("pinned") == true)
    }
}
