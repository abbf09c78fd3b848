import Imaging
import Support
import TestSupport
import Testing

@testable import Samples

@Suite struct DatasetTests {
    @Test func writesTheKerasLayoutDeterministically() throws {
        let first = makeTemporaryDirectory("dataset-a")
        let second = makeTemporaryDirectory("dataset-b")
        defer {
            removeTree(first)
            removeTree(second)
        }
        let entries = try SampleGenerator.writeDataset(to: first, trainPerClass: 5, validPerClass: 3, seed: 77)
        #expect(entries.count == 16)
        #expect(try fileNames(in: first) == ["samples.json", "train", "valid"])
        for split in ["train", "valid"] {
            #expect(try fileNames(in: "\(first)/\(split)") == ["bo", "not_bo"])
            for sampleClass in SampleClass.allCases {
                let expected = entries.filter { $0.split == split && $0.sampleClass == sampleClass }
                #expect(expected.count == (split == "train" ? 5 : 3))
                let names = try fileNames(in: "\(first)/\(split)/\(sampleClass.rawValue)")
                #expect(names == expected.map { baseName(of: $0.file) }.sorted())
                #expect(names.allSatisfy { $0.hasSuffix(".jpg") })
            }
        }
        var digests = Set<String>()
        for entry in entries {
            #expect(entry.sampleClass == entry.subject.sampleClass)
            let image = try ImageDecoder.decode(file: "\(first)/\(entry.file)")
            #expect(image.width == entry.width && image.height == entry.height, "\(entry.file)")
            digests.insert(SHA256.hex(try readBytes("\(first)/\(entry.file)")))
        }
        #expect(digests.count == entries.count, "every image is different")

        // The description lists the same files.
        let json = try JSONValue.parse(try readBytes("\(first)/samples.json"))
        let images = try #require(json["images"]?.arrayValue)
        #expect(images.compactMap { $0["file"]?.stringValue } == entries.map(\.file))
        #expect(json["positive_class"]?.stringValue == "bo")

        // The same seed writes the same bytes.
        let again = try SampleGenerator.writeDataset(to: second, trainPerClass: 5, validPerClass: 3, seed: 77)
        #expect(again == entries)
        for entry in entries {
            #expect(try readBytes("\(first)/\(entry.file)") == readBytes("\(second)/\(entry.file)"), "\(entry.file)")
        }
    }

    @Test func rejectsEmptyRequests() throws {
        let directory = makeTemporaryDirectory("dataset-empty")
        defer { removeTree(directory) }
        #expect(throws: Failure.self) {
            try SampleGenerator.writeDataset(to: directory, trainPerClass: 0, validPerClass: 0, seed: 1)
        }
        #expect(throws: Failure.self) {
            try SampleGenerator.writeDataset(to: directory, trainPerClass: -1, validPerClass: 2, seed: 1)
        }
    }

    @Test func refusesAFileWhereADirectoryBelongs() throws {
        let directory = makeTemporaryDirectory("dataset-file")
        defer { removeTree(directory) }
        try AtomicFile.write("not a directory", to: directory + "/data")
        #expect(throws: (any Error).self) {
            try SampleGenerator.writeDataset(to: directory + "/data", trainPerClass: 1, validPerClass: 1, seed: 1)
        }
    }

    @Test func refusesAFolderWithFilesInIt() throws {
        let directory = makeTemporaryDirectory("dataset-used")
        defer { removeTree(directory) }
        _ = try SampleGenerator.writeDataset(to: directory, trainPerClass: 1, validPerClass: 1, seed: 1)
        let before = try fileNames(in: directory + "/train/bo")
        #expect(
            throws: Failure(
                "\(directory) is not empty: samples are written into a new or empty folder only "
                    + "(earlier files would mix with the new ones)")
        ) {
            try SampleGenerator.writeDataset(to: directory, trainPerClass: 2, validPerClass: 1, seed: 2)
        }
        #expect(try fileNames(in: directory + "/train/bo") == before, "nothing was added")
        #expect(throws: Failure.self) { try SampleGenerator.writeReplaySequence(to: directory, seed: 2) }
    }
}
