/* Fill driver: picks the kernel of the SIMD path in use, splits the groups of a fill over OpenMP threads in
 * fixed chunks (handed out dynamically), and computes a partial last group into a scratch buffer. Every element is computed by the
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

/* Runs body(c) for the chunks c of a fill of n values, on several threads when runtime.c says the work pays for
 * them, dynamically, in runs of about a quarter of a thread's share: a thread the OS does not run right away (other
 * processes on the cores) leaves its runs to the others, and big fills still write long contiguous runs. Which
 * thread computes a chunk never changes its numbers. The timing goes back to runtime.c: the work per value, and
 * how long the master waited at the join for the others. */
typedef void (*chunk_fn)(long long c, void *ctx);

static void run_chunks(long long nchunks, size_t n, fi_kind kind, fi_dtype dtype, chunk_fn body, void *ctx,
                       int serial)
{
#ifdef _OPENMP
    if (!serial && n >= FI_PARALLEL_MIN) {   /* (short and serial fills skip the clock: it costs a row piece) */
        int threads = fi_fill_threads((int)kind, (int)dtype, n);
        if ((long long)threads > nchunks) threads = nchunks > 0 ? (int)nchunks : 1;
        const double start = omp_get_wtime();
        double master_done = start;
        if (threads > 1) {
            const long long run = nchunks / (4LL * threads) > 0 ? nchunks / (4LL * threads) : 1;
#pragma omp parallel num_threads(threads)
            {
#pragma omp for schedule(dynamic, run) nowait
                for (long long c = 0; c < nchunks; ++c) body(c, ctx);
                if (omp_get_thread_num() == 0) master_done = omp_get_wtime();
            }
        } else {
            for (long long c = 0; c < nchunks; ++c) body(c, ctx);
            master_done = omp_get_wtime();
        }
        fi_fill_done((int)kind, (int)dtype, n, threads, start, master_done, omp_get_wtime());
        return;
    }
#endif
    (void)n; (void)kind; (void)dtype; (void)serial;
    for (long long c = 0; c < nchunks; ++c) body(c, ctx);
}

typedef struct {
    fi_group_fn fn;
    const fi_params *p;
    char *base;
    size_t chunk_bytes;
    uint64_t first;
    size_t full;
    int ss;
} fill_chunks;

static void fill_chunk(long long c, void *ctx)
{
    const fill_chunks *f = (const fill_chunks *)ctx;
    size_t g0 = (size_t)c * FI_CHUNK_GROUPS;
    size_t count = f->full - g0 < FI_CHUNK_GROUPS ? f->full - g0 : FI_CHUNK_GROUPS;
    f->fn(f->base + (size_t)c * f->chunk_bytes, f->first + g0, count, f->p, f->ss);
}

/* FI_F16 / FI_BF16 on the portable path: the float32 draws of a chunk go through a scratch buffer of the thread,
 * FI_NARROW_GROUPS groups at a time (4 KiB: it stays in L1 between the kernel's stores and the narrowing's loads),
 * and are narrowed from there. (The AVX2 kernels narrow in their stores: fi_fill.) */
#define FI_NARROW_GROUPS 32

typedef struct {
    fi_group_fn fn;
    fi_narrow_fn narrow;
    const fi_params *p;
    uint16_t *out;
    uint64_t first;
    size_t full;
    float lo, hi;
} narrow_chunks;

static void narrow_chunk(long long c, void *ctx)
{
    const narrow_chunks *f = (const narrow_chunks *)ctx;
    float buf[FI_NARROW_GROUPS * FI_GROUP_F32];
    const size_t c0 = (size_t)c * FI_CHUNK_GROUPS;
    const size_t end = f->full - c0 < FI_CHUNK_GROUPS ? f->full : c0 + FI_CHUNK_GROUPS;
    for (size_t g0 = c0; g0 < end; g0 += FI_NARROW_GROUPS) {
        size_t count = end - g0 < FI_NARROW_GROUPS ? end - g0 : FI_NARROW_GROUPS;
        f->fn(buf, f->first + g0, count, f->p, 0);
        f->narrow(f->out + g0 * FI_GROUP_F32, buf, count * FI_GROUP_F32, f->lo, f->hi);
    }
}

static void fill_narrow_generic(fi_kind kind, fi_dtype dtype, uint16_t *out, size_t n, const fi_params *params,
                                int serial)
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
    narrow_chunks ctx = {fn, narrow, params, out, first, full, lo, hi};
    run_chunks(nchunks, n, kind, dtype, narrow_chunk, &ctx, serial);
    if (rem) {
        fn(scratch, first + full, 1, params, 0);
        narrow(out + full * FI_GROUP_F32, scratch, rem, lo, hi);
    }
}

/* n draws from the one params names into out; serial: on this thread only (the caller runs pieces in parallel). */
static void fill_range(fi_kind kind, fi_dtype dtype, void *out, size_t n, const fi_params *params, int serial)
{
    if (n == 0) return;
    const int simd = fi_get_simd(), narrow16 = dtype == FI_F16 || dtype == FI_BF16;
    fi_params p = *params;
    p.narrow = 0;
    if (narrow16) {
        if (!simd) {
            fill_narrow_generic(kind, dtype, (uint16_t *)out, n, &p, serial);
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
    fill_chunks ctx = {fn, &p, base, (size_t)FI_CHUNK_GROUPS * per_group * esize, first, full, ss};
    run_chunks(nchunks, n, kind, dtype, fill_chunk, &ctx, serial);
    if (rem) {
        fn(scratch, first + full, 1, &p, 0);
        memcpy(base + full * per_group * esize, scratch, rem * esize);
    }
}

void fi_fill(fi_kind kind, fi_dtype dtype, void *out, size_t n, const fi_params *params)
{
    fill_range(kind, dtype, out, n, params, 0);
}

void fi_fill_rows(fi_kind kind, fi_dtype dtype, void *out, size_t rows, size_t row_len, const uint64_t *first_draw,
                  const fi_params *params)
{
    const int narrow16 = dtype == FI_F16 || dtype == FI_BF16, simd = fi_get_simd();
    const size_t esize = dtype == FI_F64 ? 8 : (narrow16 ? 2 : 4);
    const uint64_t per_group = dtype == FI_F64 ? FI_GROUP_F64 : FI_GROUP_F32;
    if (rows == 0 || row_len == 0) return;
    if (rows < 8 || row_len >= FI_PARALLEL_MIN) {   /* few long rows: each row's fill is parallel itself */
        for (size_t r = 0; r < rows; ++r) {
            fi_params p = *params;
            p.first_group = first_draw[r] / per_group;
            p.first_skip = (uint32_t)(first_draw[r] % per_group);
            fill_range(kind, dtype, (char *)out + r * row_len * esize, row_len, &p, 0);
        }
        return;
    }
    /* rows that start and end on group boundaries (the usual shard) go straight to the kernel: a short row
     * costs little more than its draws */
    const int direct = row_len % per_group == 0 && (!narrow16 || simd);
    const fi_dtype kdtype = narrow16 ? FI_F32 : dtype;
    fi_group_fn fn = simd ? fi_avx2_kernel(kind, kdtype) : fi_generic_kernel(kind, kdtype);
    fi_params base = *params;
    base.narrow = narrow16 ? (int)dtype : 0;
#ifdef _OPENMP
    const int threads = rows * row_len < FI_PARALLEL_MIN ? 1 : fi_region_threads();
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads) if (threads > 1)
#endif
    for (long long r = 0; r < (long long)rows; ++r) {
        char *dst = (char *)out + (size_t)r * row_len * esize;
        if (direct && first_draw[r] % per_group == 0) {
            fn(dst, first_draw[r] / per_group, row_len / per_group, &base, 0);
            continue;
        }
        fi_params p = *params;
        p.first_group = first_draw[r] / per_group;
        p.first_skip = (uint32_t)(first_draw[r] % per_group);
        fill_range(kind, dtype, dst, row_len, &p, 1);
    }
}
