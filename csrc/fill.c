/* Fill driver: picks the kernel of the SIMD path in use, splits the groups of a fill over OpenMP threads in
 * fixed chunks, and computes a partial last group into a scratch buffer. Every element is computed by the
 * kernel of its own group, so the output does not depend on the thread count or the chunking. */
#include <string.h>
#include "fastinit.h"
#include "kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#endif

#define FI_CHUNK_GROUPS 256                 /* 8192 float32 per task: small enough to balance, large enough to amortise */
#define FI_PARALLEL_MIN (1u << 16)          /* below this many elements one thread is faster */
#define FI_STREAM_STORE_MIN ((size_t)8 << 20) /* bytes above which stores bypass the cache */

static int g_threads = 1;
static int g_simd = -1;   /* -1: not chosen yet */

void fi_set_num_threads(int n) { g_threads = n < 1 ? 1 : n; }
int fi_get_num_threads(void) { return g_threads; }
int fi_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

static int cpu_has_avx2_fma(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    int r[4];
    __cpuid(r, 0);
    if (r[0] < 7) return 0;
    __cpuid(r, 1);
    int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    if ((_xgetbv(0) & 6) != 6) return 0;   /* the OS saves the YMM state */
    __cpuidex(r, 7, 0);
    return (r[1] >> 5) & 1;
#else
    return 0;
#endif
}

int fi_simd_available(void) { return fi_avx2_compiled() && cpu_has_avx2_fma() ? 1 : 0; }

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

void fi_fill(fi_kind kind, fi_dtype dtype, void *out, size_t n, const fi_params *params)
{
    if (n == 0) return;
    fi_group_fn fn = fi_get_simd() ? fi_avx2_kernel(kind, dtype) : fi_generic_kernel(kind, dtype);
    const size_t esize = dtype == FI_F64 ? 8 : 4;
    const size_t per_group = dtype == FI_F64 ? FI_GROUP_F64 : FI_GROUP_F32;
    char *base = (char *)out;
    uint64_t first = params->first_group;
    const size_t skip = params->first_skip;
    double scratch[FI_GROUP_F64];   /* 128 bytes: one group of any dtype */
    if (skip) {   /* a start inside a group: that group whole into scratch, its draws from the start copied */
        const size_t take = per_group - skip < n ? per_group - skip : n;
        fn(scratch, first, 1, params, 0);
        memcpy(base, (char *)scratch + skip * esize, take * esize);
        base += take * esize;
        n -= take;
        first += 1;
    }
    const size_t full = n / per_group, rem = n % per_group;
    const int ss = n * esize >= FI_STREAM_STORE_MIN && ((uintptr_t)base % 32) == 0;
    const long long nchunks = (long long)((full + FI_CHUNK_GROUPS - 1) / FI_CHUNK_GROUPS);
    const size_t chunk_bytes = (size_t)FI_CHUNK_GROUPS * per_group * esize;
#ifdef _OPENMP
    int threads = n < FI_PARALLEL_MIN ? 1 : g_threads;
    if ((long long)threads > nchunks) threads = nchunks > 0 ? (int)nchunks : 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
#endif
    for (long long c = 0; c < nchunks; ++c) {
        size_t g0 = (size_t)c * FI_CHUNK_GROUPS;
        size_t count = full - g0 < FI_CHUNK_GROUPS ? full - g0 : FI_CHUNK_GROUPS;
        fn(base + (size_t)c * chunk_bytes, first + g0, count, params, ss);
    }
    if (rem) {
        fn(scratch, first + full, 1, params, 0);
        memcpy(base + full * per_group * esize, scratch, rem * esize);
    }
}
