import ArgumentParser
import CommandSupport
import EngineOptions
import Logging
import NeuralNet
import Support

struct BLASCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas",
        abstract: "Show which OpenBLAS kernels run, why, and whether they compute correctly on this CPU.",
        discussion: """
            Every DogDoor program picks OpenBLAS's kernel family at start: OpenBLAS's own choice, corrected when \
            it misdetects the CPU, then checked against a float64 reference on the matrix products the engine \
            uses; a family that computes wrong results is replaced by the next one down (a family named in \
            OPENBLAS_CORETYPE or --blas-core is an error instead). This command does the same and reports it.
            """
    )

    @Flag(
        help:
            "Print only the kernel families worth testing on this CPU, one per line (the detected one, the one DogDoor picks, every AVX-512/AVX2 family the CPU runs)."
    )
    var tested = false

    @OptionGroup var compute: ComputeOptions

    func run() throws {
        if tested {
            // What OpenBLAS detects by itself is known only without OPENBLAS_CORETYPE.
            if let set = getenv("OPENBLAS_CORETYPE").map({ String(cString: $0) }), !set.isEmpty {
                throw ValidationError(
                    "--tested needs OpenBLAS's own detection: run it without OPENBLAS_CORETYPE (set to \(set))")
            }
            let detected = BLASRuntime.coreName
            for name in KernelAdvisor.testedCores(detected: detected, features: .current) { print(name) }
            return
        }
        var logger = Logger(label: "dogdoor")
        let (threads, kernel) = try compute.setUp(&logger)
        let start = MonotonicClock.now()
        let failure = BLASRuntime.checkGEMM()
        let seconds = MonotonicClock.now() - start
        print("kernel:       \(kernel)")
        print("CPU features: \(CPUFeatures.current)")
        print("engine loops: \(EngineLoops.description); \(threads.count) threads")
        print("GEMM check:   \(failure.map { "FAILED: \($0)" } ?? "passed") in \(fixed(seconds * 1000, 1)) ms")
        print("library:      \(BLASRuntime.configuration)")
        if failure != nil { throw ExitCode(1) }
    }
}
