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

/* FI_F16 / FI_BF16 on the portable path: the float32 draws of a chunk go through a scratch buffer of the thread,
 * FI_NARROW_GROUPS groups at a time (4 KiB: it stays in L1 between the kernel's stores and the narrowing's loads),
 * and are narrowed from there. (The AVX2 kernels narrow in their stores: fi_fill.) */
#define FI_NARROW_GROUPS 32

static void fill_narrow_generic(fi_kind kind, fi_dtype dtype, uint16_t *out, size_t n, const fi_params *params)
{
    fi_group_fn fn = fi_generic_kernel(kind, FI_F32);
    fi_narrow_fn narrow = fi_generic_narrow(dtype);
    const float lo = params->narrow_lo, hi = params->narrow_hi;
    uint64_t first = params->first_group;
    const size_t skip = params->first_skip;
    float scratch[FI_GROUP_F32];
    if (skip) {
        const size_t take = FI_GROUP_F32 - skip < n ? FI_GROUP_F32 - skip : n;
        fn(scratch, first, 1, params, 0);
        narrow(out, scratch + skip, take, lo, hi);
        out += take;
        n -= take;
        first += 1;
    }
    const size_t full = n / FI_GROUP_F32, rem = n % FI_GROUP_F32;
    const long long nchunks = (long long)((full + FI_CHUNK_GROUPS - 1) / FI_CHUNK_GROUPS);
#ifdef _OPENMP
    int threads = n < FI_PARALLEL_MIN ? 1 : fi_region_threads();
    if ((long long)threads > nchunks) threads = nchunks > 0 ? (int)nchunks : 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
#endif
    for (long long c = 0; c < nchunks; ++c) {
        float buf[FI_NARROW_GROUPS * FI_GROUP_F32];
        const size_t c0 = (size_t)c * FI_CHUNK_GROUPS;
        const size_t end = full - c0 < FI_CHUNK_GROUPS ? full : c0 + FI_CHUNK_GROUPS;
        for (size_t g0 = c0; g0 < end; g0 += FI_NARROW_GROUPS) {
            size_t count = end - g0 < FI_NARROW_GROUPS ? end - g0 : FI_NARROW_GROUPS;
            fn(buf, first + g0, count, params, 0);
            narrow(out + g0 * FI_GROUP_F32, buf, count * FI_GROUP_F32, lo, hi);
        }
    }
    if (rem) {
        fn(scratch, first + full, 1, params, 0);
        narrow(out + full * FI_GROUP_F32, scratch, rem, lo, hi);
    }
}

void fi_fill(fi_kind kind, fi_dtype dtype, void *out, size_t n, const fi_params *params)
{
    if (n == 0) return;
    const int simd = fi_get_simd(), narrow16 = dtype == FI_F16 || dtype == FI_BF16;
    fi_params p = *params;
    p.narrow = 0;
    if (narrow16) {
        if (!simd) {
            fill_narrow_generic(kind, dtype, (uint16_t *)out, n, &p);
            return;
        }
        p.narrow = (int)dtype;   /* the AVX2 float32 kernels store 16-bit roundings */
    }
    const fi_dtype kdtype = narrow16 ? FI_F32 : dtype;
    fi_group_fn fn = simd ? fi_avx2_kernel(kind, kdtype) : fi_generic_kernel(kind, kdtype);
    const size_t esize = narrow16 ? 2 : (dtype == FI_F64 ? 8 : 4);
    const size_t per_group = dtype == FI_F64 ? FI_GROUP_F64 : FI_GROUP_F32;
    char *base = (char *)out;
    uint64_t first = p.first_group;
    const size_t skip = p.first_skip;
    double scratch[FI_GROUP_F64];   /* 128 bytes: one group of any dtype */
    if (skip) {   /* a start inside a group: that group whole into scratch, its draws from the start copied */
        const size_t take = per_group - skip < n ? per_group - skip : n;
        fn(scratch, first, 1, &p, 0);
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
    int threads = n < FI_PARALLEL_MIN ? 1 : fi_region_threads();
    if ((long long)threads > nchunks) threads = nchunks > 0 ? (int)nchunks : 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
#endif
    for (long long c = 0; c < nchunks; ++c) {
        size_t g0 = (size_t)c * FI_CHUNK_GROUPS;
        size_t count = full - g0 < FI_CHUNK_GROUPS ? full - g0 : FI_CHUNK_GROUPS;
        fn(base + (size_t)c * chunk_bytes, first + g0, count, &p, ss);
    }
    if (rem) {
        fn(scratch, first + full, 1, &p, 0);
        memcpy(base + full * per_group * esize, scratch, rem * esize);
    }
}
