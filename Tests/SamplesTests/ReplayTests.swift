import Foundation
import Imaging
import Support
import TestSupport
import Testing

@testable import Samples

/// One replay sequence written once for the whole suite (writing it takes a while) and removed afterwards.
struct ReplayFixture: SuiteTrait, TestScoping {
    static let seed: UInt64 = 2024

    struct Written: Sendable {
        var directory: String
        var manifest: ReplayManifest
    }

    @TaskLocal static var current: Written?

    var isRecursive: Bool { false }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let directory = makeTemporaryDirectory("replay")
        defer { removeTree(directory) }
        let manifest = try SampleGenerator.writeReplaySequence(to: directory, seed: Self.seed)
        try await Self.$current.withValue(Written(directory: directory, manifest: manifest)) { try await function() }
    }

    /// The sequence written for the running suite.
    static func get() throws -> (directory: String, manifest: ReplayManifest) {
        let written = try #require(current, "the replay fixture runs around the suite")
        return (written.directory, written.manifest)
    }
}

extension Trait where Self == ReplayFixture {
    static var replaySequence: Self { Self() }
}

@Suite(.replaySequence) struct ReplayTests {
    @Test func manifestMatchesTheFiles() throws {
        let (directory, manifest) = try ReplayFixture.get()
        // The visible files are exactly the frames, in play order; the manifest is hidden beside them.
        #expect(try fileNames(in: directory) == manifest.frames.map(\.file))
        #expect(FileManager.default.fileExists(atPath: "\(directory)/\(ReplayManifest.fileName)"))
        #expect(manifest.frames.map(\.index) == Array(0..<manifest.frames.count))
        #expect(manifest.width == 640 && manifest.height == 480 && manifest.fps == 5)
        #expect(try ReplayManifest.load(directory: directory) == manifest)
        for frame in manifest.frames {
            let image = try ImageDecoder.decode(file: "\(directory)/\(frame.file)")
            #expect(image.width == 640 && image.height == 480)
            if let box = frame.bounds {
                #expect(box.x0 >= 0 && box.y0 >= 0 && box.x1 <= 640 && box.y1 <= 480 && box.width > 0 && box.height > 0)
                #expect(frame.visibleFraction > 0 && frame.visibleFraction <= 1)
            } else {
                #expect(frame.subject == .nothing)
            }
        }
    }

    @Test func scriptShowsOthersThenBoAtTheDoor() throws {
        let manifest = try ReplayFixture.get().manifest
        let frames = manifest.frames
        #expect(frames.count >= 80)
        // Empty porch at the start and at the end.
        #expect(frames.prefix(8).allSatisfy { $0.subject == .nothing })
        #expect(frames.suffix(8).allSatisfy { $0.subject == .nothing })
        // Other animals pass first, several frames each, never Bo.
        let segments = manifest.segments
        let others = segments.filter { $0.subject != .bo }
        #expect(Set(others.map(\.subject)).count >= 3)
        #expect(others.allSatisfy { $0.last - $0.first + 1 >= 8 })
        #expect(others.contains { $0.subject == .blackCurlyDog } && others.contains { $0.subject == .tuxedoCat })
        // Bo appears in exactly one run, after the others, and stands fully in view for at least 10 frames.
        let bo = segments.filter { $0.subject == .bo }
        #expect(bo.count == 1)
        let run = try #require(bo.first)
        #expect(others.allSatisfy { $0.last < run.first })
        #expect(manifest.boFrames == Array(run.first...run.last))
        let fullyVisible = frames[run.first...run.last].filter { $0.visibleFraction > 0.99 }
        #expect(fullyVisible.count >= 10)
        #expect(frames.allSatisfy { $0.showsBo == manifest.boFrames.contains($0.index) })
    }

    @Test func manifestJSONRoundTrips() throws {
        let manifest = try ReplayFixture.get().manifest
        let text = manifest.json.serialized()
        #expect(try ReplayManifest(json: JSONValue.parse(text)) == manifest)
        let json = try JSONValue.parse(text)
        #expect(json["bo_frames"]?.arrayValue?.compactMap(\.intValue) == manifest.boFrames)
        #expect(throws: Failure.self) { try ReplayManifest(json: ["format": "something-else", "version": 1]) }
        // Frame names must not leave the sequence directory.
        var tampered = manifest
        tampered.frames[0].file = "../../etc/passwd"
        #expect(throws: Failure.self) { try ReplayManifest(json: tampered.json) }
    }

    @Test("a manifest is read strictly: unknown fields, bad boxes and frames out of order name the field")
    func manifestErrorsNameTheField() throws {
        let manifest = try ReplayFixture.get().manifest
        let empty = try #require(manifest.frames.firstIndex { $0.bounds == nil })
        let seen = try #require(manifest.frames.firstIndex { $0.bounds != nil })
        func message(_ edit: (inout JSONValue) -> Void) -> String {
            var json = manifest.json
            edit(&json)
            do {
                _ = try ReplayManifest(json: json)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        func frames(_ json: inout JSONValue, _ edit: (inout [JSONValue]) -> Void) {
            guard case .object(var object) = json, case .array(var list)? = object["frames"] else { return }
            edit(&list)
            object["frames"] = .array(list)
            json = .object(object)
        }
        func setField(_ index: Int, _ key: String, _ value: JSONValue) -> (inout JSONValue) -> Void {
            { json in
                frames(&json) { list in
                    guard case .object(var frame) = list[index] else { return }
                    frame[key] = value
                    list[index] = .object(frame)
                }
            }
        }
        #expect(message { _ in } == "accepted")
        #expect(message(setField(seen, "box", [10, 10, 5, 20])).contains("field \"frames[\(seen)].box\""))
        #expect(message(setField(empty, "visible", 0.5)).contains("field \"frames[\(empty)].visible\""))
        #expect(
            message(setField(seen, "shadow", true))
                == "replay manifest: field \"frames[\(seen)].shadow\": unknown field")
        #expect(message(setField(0, "subject", "unicorn")).contains("unknown subject \"unicorn\""))
        #expect(message { json in frames(&json) { $0.swapAt(0, 1) } }.contains("frames[0].index"))
        #expect(
            message { json in
                guard case .object(var object) = json else { return }
                object["seed"] = 42
                json = .object(object)
            }.contains("field \"seed\""))
        // A frame without a box says so with null; leaving the field out is an error, not "nothing in view".
        #expect(
            message { json in
                frames(&json) { list in
                    guard case .object(var frame) = list[empty] else { return }
                    frame["box"] = nil
                    list[empty] = .object(frame)
                }
            }.contains("frames[\(empty)].box"))
    }

    @Test func framesAreReproducible() throws {
        let (directory, manifest) = try ReplayFixture.get()
        let renderer = ReplayRenderer(seed: ReplayFixture.seed)
        for index in [0, manifest.boFrames[manifest.boFrames.count / 2], manifest.frames.count - 1] {
            let frame = renderer.frame(index)
            #expect(frame.info == manifest.frames[index])
            #expect(try renderer.generator.jpeg(frame.sample) == readBytes("\(directory)/\(frame.info.file)"))
        }
        // Another seed gives another porch.
        let other = ReplayRenderer(seed: ReplayFixture.seed + 1).frame(0).sample.image
        #expect(meanAbsoluteDifference(other, renderer.frame(0).sample.image) > 10)
    }

    @Test func animalsMoveALittleBetweenFrames() throws {
        let manifest = try ReplayFixture.get().manifest
        var moves = 0
        for (a, b) in zip(manifest.frames, manifest.frames.dropFirst()) {
            guard a.subject == b.subject, let boxA = a.bounds, let boxB = b.bounds else { continue }
            let dx = abs(Double(boxA.x0 + boxA.x1) - Double(boxB.x0 + boxB.x1)) / 2
            let dy = abs(Double(boxA.y0 + boxA.y1) - Double(boxB.y0 + boxB.y1)) / 2
            // At 5 fps an animal moves by a fraction of its body length, never jumps across the frame.
            #expect(dx < 0.2 * 640 && dy < 0.1 * 480, "frames \(a.index)-\(b.index): moved \(dx), \(dy)")
            if dx > 2 { moves += 1 }
        }
        #expect(moves >= 30)
    }

    @Test func emptyFramesDifferOnlyByNoise() throws {
        let (directory, manifest) = try ReplayFixture.get()
        let empty0 = try ImageDecoder.decode(file: "\(directory)/\(manifest.frames[0].file)")
        let empty1 = try ImageDecoder.decode(file: "\(directory)/\(manifest.frames[1].file)")
        #expect(meanAbsoluteDifference(empty0, empty1) < 4)
        // A frame with Bo standing at the door differs strongly inside his box.
        let standing = try #require(
            manifest.frames.first { $0.showsBo && $0.visibleFraction > 0.99 && $0.index > manifest.boFrames[0] + 6 })
        let image = try ImageDecoder.decode(file: "\(directory)/\(standing.file)")
        let box = try #require(standing.bounds)
        var total = 0.0
        for y in box.y0..<box.y1 {
            for x in box.x0..<box.x1 { total += abs(luma(image.pixel(x: x, y: y)) - luma(empty0.pixel(x: x, y: y))) }
        }
        #expect(total / Double(box.width * box.height) > 30)
    }
}
