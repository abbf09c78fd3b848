#ifndef DD_OPENBLAS_H
#define DD_OPENBLAS_H

/// Thin shim over OpenBLAS (Debian's libopenblas0-pthread): the CBLAS interface plus the few
/// OpenBLAS extensions DogDoor needs to pick and report the compute kernel.
#include <cblas.h>

/// Name of the kernel family OpenBLAS chose at load time ("SkylakeX", "Prescott", ...).
/// The corresponding C function is `openblas_get_corename`.
const char *dd_openblas_corename(void);

/// Build configuration string of the loaded OpenBLAS. The corresponding C function is `openblas_get_config`.
const char *dd_openblas_config(void);

/// Number of threads OpenBLAS uses for one BLAS call.
int dd_openblas_num_threads(void);

/// Sets the number of threads OpenBLAS uses for one BLAS call.
void dd_openblas_set_num_threads(int threads);

/// CPU features relevant to OpenBLAS's x86-64 kernel families, as a bit set of `DD_CPU_*`.
/// Zero on other architectures.
unsigned dd_cpu_features(void);

enum {
    DD_CPU_SSE3 = 1u << 0,
    DD_CPU_SSSE3 = 1u << 1,
    DD_CPU_SSE41 = 1u << 2,
    DD_CPU_SSE42 = 1u << 3,
    DD_CPU_AVX = 1u << 4,
    DD_CPU_AVX2 = 1u << 5,
    DD_CPU_FMA = 1u << 6,
    DD_CPU_AVX512F = 1u << 7,
    DD_CPU_AVX512DQ = 1u << 8,
    DD_CPU_AVX512BW = 1u << 9,
    DD_CPU_AVX512VL = 1u << 10,
    DD_CPU_AVX512CD = 1u << 11,
    DD_CPU_AVX512BF16 = 1u << 12,
};

/// One GEMM case of the kernel check that computed wrong results.
typedef struct {
    /// Transposition of A (0 or 1; B is never transposed), sizes, leading dimensions and beta.
    int trans_a, m, n, k, lda, ldb, ldc;
    float beta;
    /// Largest error of an element, relative to the sum of the magnitudes of its products
    /// (`sum_k |a_ik * b_kj|`, plus `|beta * c_ij|`); NaN when an element was not finite.
    double relative_error;
    /// Element (row, column) of the largest error.
    int row, column;
} dd_gemm_check_failure;

/// Checks that `cblas_sgemm` computes the kinds of products DogDoor's engine uses (row-major; A plain
/// or transposed; beta 0 with C full of NaN, which must not be read, and beta 1; leading dimensions wider
/// than the product; sizes on both sides of OpenBLAS's small-matrix paths, with remainders) against a
/// double-precision reference, on `threads` threads at once (the engine calls OpenBLAS from its own
/// threads). Returns the number of failing cases (counted on every thread) and describes the first in
/// `*first_failure`.
/// Takes about 10-20 ms on a desktop x86-64 core.
int dd_blas_check_gemm(int threads, dd_gemm_check_failure *first_failure);

/// Replaces the symmetric positive definite `n` x `n` matrix `a` (row-major, both triangles) by the upper
/// triangular `U` with `U^T U = a^-1` (zeros below the diagonal), in double precision with LAPACK's
/// `dpotrf`/`dpotri` from OpenBLAS: the factor error-compensated rounding walks along. Returns 0, or the
/// LAPACK `info` (> 0: `a`, or its inverse, is not positive definite; `a` then holds partial results).
int dd_inverse_cholesky_upper(double *a, int n);

/// Number of online CPUs (sysconf), at least 1.
int dd_online_cpus(void);

/// Replaces the process image with `/proc/self/exe` and the given argument vector, keeping the
/// (already modified) environment. Returns only on failure: -errno.
int dd_reexec_self(char *const argv[]);

#endif
