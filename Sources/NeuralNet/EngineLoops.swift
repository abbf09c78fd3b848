import CKernels

/// The vector code the engine's own loops (Winograd transforms, pooling, epilogues) run.
///
/// On x86-64 those loops are compiled for three feature levels and the loader picks one for the CPU at
/// start-up (see `kernels.c`); OpenBLAS chooses its matrix kernels separately (see `BLASRuntime`).
public enum EngineLoops {
    /// True when the loops run with fused multiply-add: the AVX2 or AVX-512 build on x86-64, or aarch64.
    /// False means the SSE2 baseline, which a CPU with AVX2 and FMA should never be left on.
    public static var fusedMultiplyAdd: Bool { dd_kernels_fused_multiply_add() != 0 }

    /// The feature level in use, for logs and benchmarks.
    public static var description: String {
        #if arch(x86_64)
        guard fusedMultiplyAdd else { return "SSE2 (x86-64 baseline)" }
        return CPUFeatures.current.isSuperset(of: .avx512Set) ? "AVX-512 (x86-64-v4)" : "AVX2+FMA (x86-64-v3)"
        #elseif arch(arm64)
        return "NEON (aarch64)"
        #else
        return fusedMultiplyAdd ? "native, fused multiply-add" : "native"
        #endif
    }
}
