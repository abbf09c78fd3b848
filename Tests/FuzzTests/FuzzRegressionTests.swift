import FuzzEntries
import Imaging
import Support
import Testing

/// Every input that ever made a fuzzer fail, and every seed, run through the same entry points the fuzzer
/// calls (`FuzzEntries`), in the ordinary test run: a fix that regresses traps here.
@Suite struct FuzzRegressionTests {
    /// `Tests/FuzzRegressions/<target>/`: Scripts/fuzz.sh copies each crash there, named by its hash.
    static func regressions(_ target: FuzzTarget) -> [(name: String, bytes: [UInt8])] {
        regressions(directory: target.rawValue)
    }

    static func regressions(directory name: String) -> [(name: String, bytes: [UInt8])] {
        let directory =
            String(
                #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(2)
                    .joined(separator: "/")) + "/FuzzRegressions/" + name
        guard let names = try? directoryEntries(directory) else { return [] }
        return names.sorted().compactMap { name in (try? readFile(directory + "/" + name)).map { (name, $0) } }
    }

    /// Findings of the C codec fuzzer (`Fuzz/C/codecs_fuzz.c`) replay through the Swift image decoders, which
    /// call the same shim: without the byte that chose the codec.
    @Test func codecFindingsPassThroughTheImageDecoders() {
        for (_, bytes) in Self.regressions(directory: "codecs-c") where !bytes.isEmpty {
            FuzzEntries.run(.image, Array(bytes.dropFirst()))
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func regressionsAndSeedsPass(target: FuzzTarget) {
        let inputs = Self.regressions(target) + FuzzSeeds.seeds(for: target)
        #expect(!inputs.isEmpty)
        for (_, bytes) in inputs {
            FuzzEntries.run(target, bytes)
        }
    }

    /// The seeds are what the parsers accept; a seed that stopped parsing would leave the fuzzer starting from
    /// the rejection path.
    @Test(arguments: FuzzTarget.allCases)
    func seedsAreAccepted(target: FuzzTarget) {
        let seeds = FuzzSeeds.seeds(for: target)
        #expect(seeds.count >= 3, "\(target): \(seeds.count) seeds")
        for (name, bytes) in seeds {
            #expect(FuzzEntries.run(target, bytes) == !FuzzSeeds.isNearMiss(target, name), "\(target) seed \(name)")
        }
    }
}
