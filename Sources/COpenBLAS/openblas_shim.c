#include "dd_openblas.h"

#include <errno.h>

#include <unistd.h>

extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int);

const char *dd_openblas_corename(void) { return openblas_get_corename(); }
const char *dd_openblas_config(void) { return openblas_get_config(); }
int dd_openblas_num_threads(void) { return openblas_get_num_threads(); }
void dd_openblas_set_num_threads(int threads) { openblas_set_num_threads(threads); }

// LAPACK (Fortran interface; Debian's OpenBLAS exports it). Matrices are column-major there: a row-major
// symmetric matrix is the same array, and LAPACK's lower triangle is the row-major upper one.
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

int dd_inverse_cholesky_upper(double *a, int n) {
    int info = 0;
    const char lower = 'L';
    // a = L L^T, then a^-1 from L; both touch only LAPACK's lower (our upper) triangle.
    dpotrf_(&lower, &n, a, &n, &info);
    if (info != 0) return info;
    dpotri_(&lower, &n, a, &n, &info);
    if (info != 0) return info;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) a[(size_t)j * n + i] = a[(size_t)i * n + j];
    // a^-1 = L' L'^T with L' lower in LAPACK's terms: row-major, that is U^T U with U = L'^T upper.
    dpotrf_(&lower, &n, a, &n, &info);
    if (info != 0) return info;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) a[(size_t)i * n + j] = 0;
    return 0;
}

unsigned dd_cpu_features(void) {
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse3")) f |= DD_CPU_SSE3;
    if (__builtin_cpu_supports("ssse3")) f |= DD_CPU_SSSE3;
    if (__builtin_cpu_supports("sse4.1")) f |= DD_CPU_SSE41;
    if (__builtin_cpu_supports("sse4.2")) f |= DD_CPU_SSE42;
    if (__builtin_cpu_supports("avx")) f |= DD_CPU_AVX;
    if (__builtin_cpu_supports("avx2")) f |= DD_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) f |= DD_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) f |= DD_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512dq")) f |= DD_CPU_AVX512DQ;
    if (__builtin_cpu_supports("avx512bw")) f |= DD_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) f |= DD_CPU_AVX512VL;
    if (__builtin_cpu_supports("avx512cd")) f |= DD_CPU_AVX512CD;
    if (__builtin_cpu_supports("avx512bf16")) f |= DD_CPU_AVX512BF16;
#endif
    return f;
}

int dd_online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int dd_reexec_self(char *const argv[]) {
    extern char **environ;
    // Execute the binary by its real path rather than /proc/self/exe, so that the process keeps its name
    // (ps, pkill and journald show "dogdoord", not "exe").
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0 || (size_t)n >= sizeof path - 1) {
        execve("/proc/self/exe", argv, environ);
        return -errno;
    }
    path[n] = 0;
    execve(path, argv, environ);
    return -errno;
}

// MARK: - GEMM check

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int trans_a, m, n, k, extra_ld;
    float beta;
} gemm_case;

// The engine's products: im2col forward (NN, K = 9 * cin, a column slice of the weights: ldb = ldc > n),
// Winograd products (NN, K = cin), weight gradients (TN over pixels or tiles, beta 0 then 1). Sizes straddle
// the small-matrix limits and leave remainders for every register blocking (1, 3, 7, 13, 17, 31, 65 ...).
static const gemm_case cases[] = {
    {0, 7, 13, 9, 0, 0.0f},     {0, 96, 64, 27, 0, 0.0f},   {0, 65, 48, 576, 16, 0.0f}, {0, 130, 67, 64, 0, 0.0f},
    {0, 33, 130, 256, 0, 0.0f}, {0, 3, 1, 17, 0, 0.0f},     {1, 27, 64, 96, 0, 0.0f},   {1, 64, 31, 130, 0, 1.0f},
    {1, 130, 64, 33, 0, 0.0f},  {1, 17, 13, 300, 0, 1.0f},  {1, 1, 3, 5, 0, 0.0f},
};
enum { case_count = sizeof cases / sizeof cases[0] };

static float check_value(unsigned *state) {
    *state = *state * 1664525u + 1013904223u;
    return (float)((int)(*state >> 8) - (1 << 23)) / (float)(1 << 23);  // uniform in [-1, 1)
}

// 1 when the case computes correctly; else fills *failure.
static int check_case(const gemm_case *c, dd_gemm_check_failure *failure) {
    const int m = c->m, n = c->n, k = c->k;
    const int lda = c->trans_a ? m : k, ldb = n + c->extra_ld, ldc = n + c->extra_ld;
    const size_t aCount = (size_t)m * k, bCount = (size_t)k * ldb, cCount = (size_t)m * ldc;
    float *a = malloc(aCount * sizeof(float)), *b = malloc(bCount * sizeof(float)), *out = malloc(cCount * sizeof(float));
    float *initial = malloc(cCount * sizeof(float));
    int ok = a && b && out && initial;
    if (ok) {
        unsigned state = (unsigned)(m * 131 + n * 17 + k);
        for (size_t i = 0; i < aCount; i++) a[i] = check_value(&state);
        for (size_t i = 0; i < bCount; i++) b[i] = check_value(&state);
        for (size_t i = 0; i < cCount; i++) initial[i] = c->beta == 0.0f ? NAN : check_value(&state);
        memcpy(out, initial, cCount * sizeof(float));
        cblas_sgemm(CblasRowMajor, c->trans_a ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb,
                    c->beta, out, ldc);
        double worst = 0;
        int worstRow = 0, worstColumn = 0;
        for (int i = 0; i < m && ok; i++) {
            for (int j = 0; j < ldc; j++) {
                const float got = out[(size_t)i * ldc + j];
                if (j >= n) {  // outside the product: must be untouched
                    if (memcmp(&got, &initial[(size_t)i * ldc + j], sizeof got) != 0) {
                        worst = NAN, worstRow = i, worstColumn = j, ok = 0;
                        break;
                    }
                    continue;
                }
                double sum = 0, magnitude = 0;
                for (int p = 0; p < k; p++) {
                    const double product = (double)(c->trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
                                           (double)b[(size_t)p * ldb + j];
                    sum += product;
                    magnitude += fabs(product);
                }
                if (c->beta != 0.0f) {
                    sum += (double)c->beta * initial[(size_t)i * ldc + j];
                    magnitude += fabs((double)c->beta * initial[(size_t)i * ldc + j]);
                }
                const double error = fabs((double)got - sum) / (magnitude > 0 ? magnitude : 1);
                if (!isfinite(got)) {
                    worst = NAN, worstRow = i, worstColumn = j, ok = 0;
                    break;
                }
                if (error > worst) worst = error, worstRow = i, worstColumn = j;
            }
        }
        // float32 sums of k products: rounding grows at worst like k * 2^-24 of the magnitudes; wrong kernels
        // are off by order 1.
        const double tolerance = 2e-7 * (k + 4);
        if (ok && worst > tolerance) ok = 0;
        if (!ok) {
            *failure = (dd_gemm_check_failure){c->trans_a, m, n, k, lda, ldb, ldc, c->beta, worst, worstRow, worstColumn};
        }
    } else {
        *failure = (dd_gemm_check_failure){c->trans_a, m, n, k, lda, ldb, ldc, c->beta, NAN, -1, -1};
    }
    free(a), free(b), free(out), free(initial);
    return ok;
}

typedef struct {
    int failures;
    dd_gemm_check_failure first;
} check_result;

static void *check_all(void *argument) {
    check_result *result = argument;
    for (int i = 0; i < case_count; i++) {
        dd_gemm_check_failure failure;
        if (!check_case(&cases[i], &failure)) {
            if (result->failures++ == 0) result->first = failure;
        }
    }
    return NULL;
}

int dd_blas_check_gemm(int threads, dd_gemm_check_failure *first_failure) {
    if (threads < 1) threads = 1;
    if (threads > 8) threads = 8;
    check_result results[8];
    pthread_t ids[8];
    int started[8] = {0};
    memset(results, 0, sizeof results);
    for (int t = 1; t < threads; t++) started[t] = pthread_create(&ids[t], NULL, check_all, &results[t]) == 0;
    check_all(&results[0]);
    int failures = 0;
    for (int t = 0; t < threads; t++) {
        if (t > 0 && started[t]) pthread_join(ids[t], NULL);
        if (results[t].failures && failures == 0 && first_failure) *first_failure = results[t].first;
        failures += results[t].failures;
    }
    return failures;
}
