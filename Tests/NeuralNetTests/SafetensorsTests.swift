import Foundation
import NeuralNet
import Support
import TestSupport
import Testing

@Suite struct SafetensorsTests {
    /// Builds a file image from a header text and data bytes.
    static func image(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        let n = declaredLength ?? UInt64(h.count)
        return (0..<8).map { UInt8((n >> (8 * UInt64($0))) & 0xFF) } + h + data
    }

    static func problem(_ bytes: [UInt8]) -> SafetensorsError.Problem? {
        bytes.withUnsafeBytes { raw -> SafetensorsError.Problem? in
            do {
                _ = try SafetensorsFile.parseHeader(raw, path: "x.safetensors")
                return nil
            } catch let error as SafetensorsError {
                return error.problem
            } catch {
                return nil
            }
        }
    }

    @Test func roundTripsThroughTheWriter() throws {
        let dir = TemporaryDirectory()
        let a: [Float] = [1, -2, 3.5, 4, 5, 6]
        let b: [Float] = [0.25]
        let path = dir.file("t.safetensors")
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                try SafetensorsWriter.write(
                    [.init(name: "a", shape: [2, 3], data: pa), .init(name: "b", shape: [1], data: pb)],
                    metadata: ["k": "v"], to: path)
            }
        }
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == ["k": "v"])
        #expect(file.tensors.map(\.name) == ["a", "b"])
        #expect(file.info("a")?.shape == [2, 3])
        #expect(try file.floats("a") == a)
        #expect(try file.floats("b") == b)
        #expect(file.dataOffset % 8 == 0, "writer aligns the data area")
    }

    @Test func rejectsMalformedFiles() {
        let f32x2 = #""dtype":"F32","shape":[2]"#
        #expect(Self.problem([1, 2, 3]) == .tooShort(size: 3))
        #expect(
            Self.problem(Self.image(header: "{}", declaredLength: 1000))
                == .headerBeyondFile(headerLength: 1000, fileSize: 10))
        #expect(
            Self.problem(Self.image(header: "{}", declaredLength: (4 << 20) + 1))
                == .headerTooLarge(headerLength: (4 << 20) + 1))
        // Text given as a model: its first 8 bytes make an absurd length, and the error says what it is.
        let text = Array("# A note, not a model\n".utf8)
        #expect(Self.problem(text) == .notSafetensors(firstBytes: Array(text.prefix(8))))
        #expect(
            SafetensorsError(file: "notes.txt", problem: .notSafetensors(firstBytes: Array(text.prefix(8)))).description
                == "notes.txt: not a safetensors file (it begins \"# A note\", not with an 8-byte header length)")
        if case .invalidJSON = Self.problem(Self.image(header: "{\"a\": ")) {
        } else {
            Issue.record("truncated JSON accepted")
        }
        #expect(Self.problem(Self.image(header: "[1,2]")) == .headerNotObject)
        #expect(
            Self.problem(Self.image(header: #"{"__metadata__": {"k": 1}}"#))
                == .invalidMetadata("value of \"k\" is not a string"))
        #expect(
            Self.problem(
                Self.image(header: #"{"t": {"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
                == .unknownDType(tensor: "t", dtype: "Q7"))
        #expect(
            Self.problem(
                Self.image(header: "{\"t\": {\(f32x2),\"data_offsets\":[0,4]}}", data: [UInt8](repeating: 0, count: 4)))
                == .sizeMismatch(tensor: "t", expected: 8, actual: 4))
        #expect(
            Self.problem(
                Self.image(header: "{\"t\": {\(f32x2),\"data_offsets\":[0,8]}}", data: [UInt8](repeating: 0, count: 4)))
                == .outOfBounds(tensor: "t", end: 8, dataSize: 4))
        #expect(
            Self.problem(
                Self.image(
                    header: "{\"a\": {\(f32x2),\"data_offsets\":[0,8]}, \"b\": {\(f32x2),\"data_offsets\":[4,12]}}",
                    data: [UInt8](repeating: 0, count: 12)))
                == .overlap(tensor: "b", other: "a"))
        #expect(
            Self.problem(
                Self.image(
                    header: "{\"a\": {\(f32x2),\"data_offsets\":[0,8]}, \"b\": {\(f32x2),\"data_offsets\":[12,20]}}",
                    data: [UInt8](repeating: 0, count: 20)))
                == .hole(offset: 8, size: 4))
        #expect(
            Self.problem(
                Self.image(header: "{\"a\": {\(f32x2),\"data_offsets\":[0,8]}}", data: [UInt8](repeating: 0, count: 9)))
                == .hole(offset: 8, size: 1))
        if case .invalidJSON(let e) = Self.problem(
            Self.image(
                header: "{\"a\": {\(f32x2),\"data_offsets\":[0,8]}, \"a\": {\(f32x2),\"data_offsets\":[8,16]}}",
                data: [UInt8](repeating: 0, count: 16)))
        {
            #expect(e.reason.contains("duplicate key \"a\""))
        } else {
            Issue.record("duplicate tensor names accepted")
        }
        #expect(
            Self.problem(Self.image(header: #"{"t": {"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#))
                == .invalidEntry(tensor: "t", reason: "shape has a dimension that is not a non-negative integer"))
        #expect(
            Self.problem(Self.image(header: #"{"t": {"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#))
                == .invalidEntry(tensor: "t", reason: "data_offsets must be [begin, end] with 0 <= begin <= end"))
        #expect(
            Self.problem(
                Self.image(
                    header: #"{"t": {"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}"#, data: [0, 0, 0, 0]))
                == .invalidEntry(tensor: "t", reason: "unexpected key \"x\""))
    }

    /// Random corruption of a valid file never crashes or reads out of bounds: it parses or throws.
    @Test func survivesRandomCorruption() throws {
        let header =
            #"{"__metadata__":{"a":"b"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[3],"data_offsets":[16,22]}}"#
        let valid = Self.image(header: header, data: [UInt8](repeating: 7, count: 22))
        #expect(Self.problem(valid) == nil)
        var rng = SeededRandom(seed: 99)
        var rejected = 0
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<(1 + rng.nextInt(below: 4)) {
                let i = rng.nextInt(below: bytes.count)
                bytes[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.nextInt(below: 4) == 0 { bytes.removeLast(rng.nextInt(below: bytes.count)) }
            if Self.problem(bytes) != nil { rejected += 1 }
        }
        #expect(rejected > 1000)
    }

    @Test func reportsTheFileName() {
        #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: "/nonexistent/model.safetensors") }
        do {
            _ = try SafetensorsFile(path: "/nonexistent/model.safetensors")
        } catch {
            #expect(error.description.hasPrefix("/nonexistent/model.safetensors: "))
        }
    }
}
