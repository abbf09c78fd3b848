import Foundation
import Support
import Testing

@Suite struct SupportTests {
    @Test func sha256KnownVectors() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var h = SHA256()
        h.update("ab")
        h.update("c")
        #expect(h.finalizeHex() == SHA256.hex(Array("abc".utf8)))
    }

    @Test func seededRandomIsReproducibleAndUniform() {
        var a = SeededRandom(seed: 42)
        var b = SeededRandom(seed: 42)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var r = SeededRandom(seed: 1)
        let n = 100_000
        let mean = (0..<n).reduce(0.0) { s, _ in s + r.nextDouble() } / Double(n)
        #expect(abs(mean - 0.5) < 0.01)
        let perm = r.permutation(50)
        #expect(perm.sorted() == Array(0..<50))
        #expect(perm != Array(0..<50))
    }

    @Test func atomicWriteReplacesWholeFiles() throws {
        let dir = NSTemporaryDirectory() + "dogdoor-atomic-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/f.txt"
        try AtomicFile.write("one", to: path)
        try AtomicFile.write("two", to: path)
        #expect(try readFile(path) == Array("two".utf8))
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try AtomicFile.write(to: path) { append in
                try [UInt8]("partial".utf8).withUnsafeBytes { try append($0) }
                throw Boom()
            }
        }
        #expect(try readFile(path) == Array("two".utf8), "a failed write leaves the old file")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["f.txt"], "no temporary file left behind")
    }

    @Test func readFileNamesTheFile() {
        do {
            _ = try readFile("/nonexistent/x.jpg")
            Issue.record("no error")
        } catch {
            #expect(error.description == "/nonexistent/x.jpg: open failed: No such file or directory")
        }
    }
}
