/* Fill driver: picks the kernel of the SIMD path in use, splits the groups of a fill over OpenMP threads in
 * fixed chunks (handed out dynamically), and computes a partial last group into a scratch buffer. Every element is computed by the
 * kernel of its own group, so the output does not depend on the thread count or the chunking. */
#include <string.h>
#include "fastinit.h"
#include "kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define FI_CHUNK_GROUPS 256 /* 8192 float32 per task: small enough to balance, large enough to amortise */
#define FI_PARALLEL_MIN (1u << 16) /* below this many elements one thread is faster */
#define FI_STREAM_STORE_MIN ((size_t)8 << 20) /* bytes above which stores bypass the cache */

/* Runs body(c) for the chunks c of a fill of n values, on several threads when runtime.c says the work pays for
 * them, dynamically, in runs of about a quarter of a thread's share: a thread the OS does not run right away (other
 * processes on the cores) leaves its runs to the others, and big fills still write long contiguous runs. Which
 * thread computes a chunk never changes its numbers. The timing goes back to runtime.c: the work per value, and
 * how long the master waited at the join for the others. */
typedef void (*chunk_fn)(long long c, void *ctx);

static void run_chunks(long long nchunks, size_t n, fi_kind kind, fi_dtype dtype, chunk_fn body, void *ctx, int serial)
{
#ifdef _OPENMP
    if (!serial && n >= FI_PARALLEL_MIN) { /* (short and serial fills skip the clock: it costs a row piece) */
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
    (void)n;
    (void)kind;
    (void)dtype;
    (void)serial;
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

/* How a fill of one kind and dtype runs on the SIMD path in use: its group kernel, the bytes of an element, the
 * draws of a group, and for 16-bit outputs who rounds (the AVX2 float32 kernels in their stores, or the portable
 * narrowing after a float32 kernel). One choice for whole fills and row pieces alike. */
typedef struct {
    fi_group_fn fn;
    fi_narrow_fn narrow; /* non-NULL: 16-bit output on the portable path (fn computes float32, narrow rounds) */
    int store16; /* FI_F16 / FI_BF16 when fn stores the 16-bit roundings itself (fi_params.narrow) */
    size_t esize, per_group;
} fill_plan;

static fill_plan plan_of(fi_kind kind, fi_dtype dtype)
{
    const int simd = fi_get_simd(), narrow16 = dtype == FI_F16 || dtype == FI_BF16;
    const fi_dtype kdtype = narrow16 ? FI_F32 : dtype;
    fill_plan pl;
    pl.fn = simd ? fi_avx2_kernel(kind, kdtype) : fi_generic_kernel(kind, kdtype);
    pl.narrow = narrow16 && !simd ? fi_generic_narrow(dtype) : 0;
    pl.store16 = narrow16 && simd ? (int)dtype : 0;
    pl.esize = narrow16 ? 2 : (dtype == FI_F64 ? 8 : 4);
    pl.per_group = fi_group_draws(dtype);
    return pl;
}

unsigned fi_group_draws(fi_dtype dtype) { return dtype == FI_F64 ? FI_GROUP_F64 : FI_GROUP_F32; }

/* The group kernels' view of a fill that starts at draw first_skip of group first_group of the spec's stream. */
static fi_params params_of(const fi_spec *spec, const fill_plan *pl, uint64_t first_group, unsigned first_skip)
{
    fi_params p;
    p.key0 = (uint32_t)(spec->seed & 0xffffffffu);
    p.key1 = (uint32_t)(spec->seed >> 32);
    p.stream = spec->stream;
    p.dist = spec->dist;
    p.first_group = first_group;
    p.first_skip = (uint32_t)first_skip;
    p.narrow = pl->store16;
    return p;
}

/* FI_F16 / FI_BF16 on the portable path: the float32 draws of a chunk go through a scratch buffer of the thread,
 * FI_NARROW_GROUPS groups at a time (4 KiB: it stays in L1 between the kernel's stores and the narrowing's loads),
 * and are narrowed from there. (The AVX2 kernels narrow in their stores: plan_of.) */
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

static void fill_narrow_generic(const fi_spec *spec, const fill_plan *pl, uint16_t *out, size_t n,
                                const fi_params *params, int serial)
{
    const fi_group_fn fn = pl->fn;
    const fi_narrow_fn narrow = pl->narrow;
    const float lo = params->dist.narrow_lo, hi = params->dist.narrow_hi;
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
    run_chunks(nchunks, n, spec->kind, spec->dtype, narrow_chunk, &ctx, serial);
    if (rem) {
        fn(scratch, first + full, 1, params, 0);
        narrow(out + full * FI_GROUP_F32, scratch, rem, lo, hi);
    }
}

/* n draws from draw first_skip of group first_group into out; serial: on this thread only (the caller runs
 * pieces in parallel). */
static void fill_range(const fi_spec *spec, const fill_plan *pl, void *out, size_t n, uint64_t first_group,
                       unsigned first_skip, int serial)
{
    if (n == 0) return;
    const fi_params p = params_of(spec, pl, first_group, first_skip);
    if (pl->narrow) {
        fill_narrow_generic(spec, pl, (uint16_t *)out, n, &p, serial);
        return;
    }
    const fi_group_fn fn = pl->fn;
    const size_t esize = pl->esize, per_group = pl->per_group;
    char *base = (char *)out;
    uint64_t first = p.first_group;
    const size_t skip = p.first_skip;
    double scratch[FI_GROUP_F64]; /* 128 bytes: one group of any dtype */
    if (skip) { /* a start inside a group: that group whole into scratch, its draws from the start copied */
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
    run_chunks(nchunks, n, spec->kind, spec->dtype, fill_chunk, &ctx, serial);
    if (rem) {
        fn(scratch, first + full, 1, &p, 0);
        memcpy(base + full * per_group * esize, scratch, rem * esize);
    }
}

void fi_fill(const fi_spec *spec, void *out, size_t n, uint64_t first_group, unsigned first_skip)
{
    const fill_plan pl = plan_of(spec->kind, spec->dtype);
    fill_range(spec, &pl, out, n, first_group, first_skip, 0);
}

void fi_fill_rows(const fi_spec *spec, void *out, size_t rows, size_t row_len, const uint64_t *first_draw)
{
    if (rows == 0 || row_len == 0) return;
    const fill_plan pl = plan_of(spec->kind, spec->dtype);
    const size_t esize = pl.esize, per_group = pl.per_group;
    if (rows < 8 || row_len >= FI_PARALLEL_MIN) { /* few long rows: each row's fill is parallel itself */
        for (size_t r = 0; r < rows; ++r)
            fill_range(spec, &pl, (char *)out + r * row_len * esize, row_len, first_draw[r] / per_group,
                       (unsigned)(first_draw[r] % per_group), 0);
        return;
    }
    /* rows that start and end on group boundaries (the usual shard) go straight to the kernel: a short row
     * costs little more than its draws */
    const int direct = row_len % per_group == 0 && !pl.narrow;
    const fi_params base = params_of(spec, &pl, 0, 0);
#ifdef _OPENMP
    const int threads = rows * row_len < FI_PARALLEL_MIN ? 1 : fi_region_threads();
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads) if (threads > 1)
#endif
    for (long long r = 0; r < (long long)rows; ++r) {
        char *dst = (char *)out + (size_t)r * row_len * esize;
        if (direct && first_draw[r] % per_group == 0)
            pl.fn(dst, first_draw[r] / per_group, row_len / per_group, &base, 0);
        else fill_range(spec, &pl, dst, row_len, first_draw[r] / per_group, (unsigned)(first_draw[r] % per_group), 1);
    }
}
