import NeuralNet
import Testing

@Suite struct KernelAdvisorTests {
    static let skylakeX: CPUFeatures = [.sse3, .ssse3, .sse41, .sse42, .avx, .avx2, .fma, .avx512f, .avx512dq, .avx512bw, .avx512vl, .avx512cd]
    static let haswell: CPUFeatures = [.sse3, .ssse3, .sse41, .sse42, .avx, .avx2, .fma]

    @Test func correctsPrescottOnAnAVX512Machine() {
        #expect(KernelAdvisor.recommendedCore(detected: "Prescott", features: Self.skylakeX) == "SkylakeX")
        #expect(KernelAdvisor.recommendedCore(detected: "Haswell", features: Self.skylakeX) == "SkylakeX")
        #expect(KernelAdvisor.recommendedCore(detected: "Prescott", features: Self.haswell) == "Haswell")
        #expect(KernelAdvisor.recommendedCore(detected: "Nehalem", features: [.sse3, .avx]) == "Sandybridge")
    }

    @Test func keepsCorrectOrUnknownChoices() {
        #expect(KernelAdvisor.recommendedCore(detected: "SkylakeX", features: Self.skylakeX) == nil)
        #expect(KernelAdvisor.recommendedCore(detected: "Cooperlake", features: Self.skylakeX) == nil)
        #expect(KernelAdvisor.recommendedCore(detected: "Haswell", features: Self.haswell) == nil)
        #expect(KernelAdvisor.recommendedCore(detected: "Prescott", features: [.sse3, .ssse3]) == nil)
        // Names the table does not know (ARM boards, future x86 names) are never second-guessed.
        #expect(KernelAdvisor.recommendedCore(detected: "CORTEXA72", features: []) == nil)
        #expect(KernelAdvisor.recommendedCore(detected: "FutureLake", features: Self.skylakeX) == nil)
        // AVX-512 without the BW/VL subsets SkylakeX kernels use (Knights Landing) gets AVX2 kernels.
        #expect(KernelAdvisor.recommendedCore(detected: "Prescott", features: Self.haswell.union([.avx512f, .avx512cd])) == "Haswell")
    }

    @Test func readsTheRunningLibrary() {
        #expect(!BLASRuntime.coreName.isEmpty)
        #expect(BLASRuntime.configuration.contains("OpenBLAS"))
    }

    /// The engine's own loops must run the vector build the CPU supports. (They once named exact CPU models,
    /// so every other CPU, including this one under its hypervisor, silently ran the SSE2 baseline.)
    @Test func engineLoopsUseTheCPUsVectorUnit() {
        #if arch(x86_64)
        if CPUFeatures.current.isSuperset(of: [.avx2, .fma]) {
            #expect(EngineLoops.fusedMultiplyAdd, "AVX2+FMA CPU left on the SSE2 build: \(EngineLoops.description)")
            #expect(EngineLoops.description.contains("x86-64-v"))
        } else {
            #expect(!EngineLoops.fusedMultiplyAdd)
        }
        #else
        #expect(!EngineLoops.description.isEmpty)
        #endif
    }
}
