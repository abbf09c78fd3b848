#include "dd_openblas.h"

#include <unistd.h>

extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int);

const char *dd_openblas_corename(void) { return openblas_get_corename(); }
const char *dd_openblas_config(void) { return openblas_get_config(); }
int dd_openblas_num_threads(void) { return openblas_get_num_threads(); }
void dd_openblas_set_num_threads(int threads) { openblas_set_num_threads(threads); }

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
    if (n <= 0 || (size_t)n >= sizeof path - 1) return execve("/proc/self/exe", argv, environ);
    path[n] = 0;
    return execve(path, argv, environ);
}
