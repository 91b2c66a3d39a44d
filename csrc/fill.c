/* Fill driver: picks the kernel of the SIMD path in use, splits the groups of a fill over OpenMP threads in
 * fixed chunks, and computes a partial last group into a scratch buffer. Every element is computed by the
 * kernel of its own group, so the output does not depend on the thread count or the chunking. */
#include <string.h>
#include "fastinit.h"
#include "kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define FI_CHUNK_GROUPS 256                 /* 8192 float32 per task: small enough to balance, large enough to amortise */
#define FI_PARALLEL_MIN (1u << 16)          /* below this many elements one thread is faster */
#define FI_STREAM_STORE_MIN ((size_t)8 << 20) /* bytes above which stores bypass the cache */

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
    int threads = n < FI_PARALLEL_MIN ? 1 : fi_get_num_threads();
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
