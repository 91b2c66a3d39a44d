/* Process-wide settings of the C core: the thread count of parallel regions and the SIMD path (chosen once from
 * the CPU's features, changeable for tests and benchmarks). Nothing else in csrc/ keeps global state. */
#include "fastinit.h"
#include "kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif
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
/* When a parallel region pays off. Waking the other threads and joining them costs time that the split of the work
 * must win back: tens of microseconds on a quiet machine, milliseconds when other processes keep the cores busy (a
 * thread the OS does not run holds the join until its turn comes). The driver reports each region's timing:
 * how long its work took and how long the master then waited at the join. The join's cost is a moving average
 * that falls faster than it rises (one slow join, the threads' creation say, does not mark the machine as
 * contended), and a fill runs on several threads only when its expected work is FI_GAIN times that cost. A fill
 * that would run serially tries threads again once FI_PROBE seconds have passed since the last parallel region,
 * so a machine that became quiet is noticed within a few tries. Numbers never depend on any of it. */
#define FI_GAIN 4.0
#define FI_PROBE 0.05
#define FI_KINDS 4
#define FI_DTYPES 5
static volatile double g_join_cost = 30e-6;                   /* seconds */
static volatile double g_last_parallel = -1e300;              /* omp_get_wtime of the last parallel region */
static volatile double g_sec_per_value[FI_KINDS][FI_DTYPES];  /* 0: not measured yet */

static double now_s(void)
{
#ifdef _OPENMP
    return omp_get_wtime();
#else
    return 0.0;
#endif
}

int fi_region_threads(void)
{
    if (g_threads > 1) g_parallel_used = 1;
    return g_threads;
}

int fi_fill_threads(int kind, int dtype, size_t n)
{
    if (g_threads <= 1) return 1;
    g_parallel_used = 1;
    const double per = g_sec_per_value[kind % FI_KINDS][dtype % FI_DTYPES];
    const double work = (double)n * (per > 0 ? per : 0.5e-9);
    if (work >= FI_GAIN * g_join_cost) return g_threads;
    return now_s() - g_last_parallel > FI_PROBE ? g_threads : 1;
}

void fi_fill_done(int kind, int dtype, size_t n, int threads, double start, double master_done, double end)
{
    volatile double *per = &g_sec_per_value[kind % FI_KINDS][dtype % FI_DTYPES];
    const double value = (master_done - start) * threads / (double)(n ? n : 1);
    *per = *per > 0 ? 0.8 * *per + 0.2 * value : value;
    if (threads > 1) {
        const double join = end - master_done;
        g_join_cost = join < g_join_cost ? 0.5 * g_join_cost + 0.5 * join : 0.7 * g_join_cost + 0.3 * join;
        g_last_parallel = end;
    }
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
