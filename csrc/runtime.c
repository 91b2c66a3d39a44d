/* Process-wide settings of the C core: the thread count of parallel regions and the SIMD path (chosen once from
 * the CPU's features, changeable for tests and benchmarks). Nothing else in csrc/ keeps global state. */
#include "fastinit.h"
#include "kernels.h"
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#endif

static int g_threads = 1;
static int g_simd = -1;   /* -1: not chosen yet */
/* A process forked after a parallel region cannot run OpenMP threads (libgomp's pool of the parent is gone and
 * the child would wait for it forever): such a child runs every fill serially. */
static int g_parallel_used = 0, g_fork_serial = 0;

void fi_set_num_threads(int n) { g_threads = g_fork_serial || n < 1 ? 1 : n; }
int fi_get_num_threads(void) { return g_threads; }
int fi_region_threads(void)
{
    if (g_threads > 1) g_parallel_used = 1;
    return g_threads;
}
void fi_after_fork_child(void)
{
    if (g_parallel_used) {
        g_fork_serial = 1;
        g_threads = 1;
    }
}
int fi_fork_serial(void) { return g_fork_serial; }
int fi_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

static int cpu_has_avx2_fma_f16c(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    int r[4];
    __cpuid(r, 0);
    if (r[0] < 7) return 0;
    __cpuid(r, 1);
    int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, f16c = (r[2] >> 29) & 1;
    if (!(fma && osxsave && avx && f16c)) return 0;
    if ((_xgetbv(0) & 6) != 6) return 0;   /* the OS saves the YMM state */
    __cpuidex(r, 7, 0);
    return (r[1] >> 5) & 1;
#else
    return 0;
#endif
}

int fi_simd_available(void) { return fi_avx2_compiled() && cpu_has_avx2_fma_f16c() ? 1 : 0; }

int fi_set_simd(int path)
{
    g_simd = (path >= 1 && fi_simd_available()) ? 1 : 0;
    return g_simd;
}

int fi_get_simd(void)
{
    if (g_simd < 0) fi_set_simd(1);
    return g_simd;
}

