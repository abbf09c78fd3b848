import NeuralNet
import Support

/// How the test process's OpenBLAS kernel was chosen (set before any test runs).
public nonisolated(unsafe) var testProcessKernelChoice: BLASRuntime.Choice?

/// Called by the test executable's constructor (`CTestBootstrap`): the same kernel selection as the programs'
/// `main`, restart included, so that every test runs the kernel the programs would run on this CPU, or the one
/// `OPENBLAS_CORETYPE` names (the test matrix of `Scripts/test.sh` sets it). A kernel that computes wrong
/// results ends the run with the reason.
@_cdecl("dogdoor_tests_select_blas_kernel")
public func selectBLASKernelForTests(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) {
    let arguments = (0..<Int(argc)).map { String(cString: argv[$0]!) }
    do {
        testProcessKernelChoice = try BLASRuntime.ensureBestKernel(arguments: arguments)
    } catch {
        printError("DogDoor tests: \(error)")
        exit(70)
    }
}
