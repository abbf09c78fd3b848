import CFuzzer
import FuzzEntries

#if canImport(Glibc)
import Glibc
#endif

/// One libFuzzer executable for every target: DOGDOOR_FUZZ_TARGET names the parser (Scripts/fuzz.sh sets
/// it, and prints it beside every crash so that the reproduction command is complete). With
/// DOGDOOR_FUZZ_WRITE_SEEDS=DIR the seeds of that target are written to DIR instead. Every other argument is
/// libFuzzer's.
@main
struct Fuzzer {
    nonisolated(unsafe) static var target = FuzzTarget.messages

    static func main() {
        guard let name = environment("DOGDOOR_FUZZ_TARGET"), let target = FuzzTarget(rawValue: name) else {
            fail(
                "set DOGDOOR_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))",
                status: 2)
        }
        Self.target = target
        if let directory = environment("DOGDOOR_FUZZ_WRITE_SEEDS") {
            do {
                try FuzzSeeds.write(target, to: directory)
            } catch {
                fail("\(error)", status: 1)
            }
            return  // not exit(0): LeakSanitizer would count the live strings as leaks
        }
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(
            LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                FuzzEntries.run(Fuzzer.target, UnsafeRawBufferPointer(start: data, count: size))
                return 0
            })
    }

    static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    static func fail(_ message: String, status: CInt) -> Never {
        let line = Array("dogdoor-fuzz: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(status)
    }
}
