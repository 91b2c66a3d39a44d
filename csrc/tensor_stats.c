/* Statistics and histogram of one tensor (the probe of a real model's layers): float32, float64, float16 or
 * bfloat16 values, contiguous, in chunks of FI_CHUNK_ELEMS on the layer kernels' passes (the same statistics as the
 * simulation engine's: mean and M2 merged in chunk order, exact zeros, saturation, non-finite count; histogram
 * bins as there). 16-bit values are widened chunk by chunk into a buffer of the thread: no copy of the tensor.
 * Results do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fastinit.h"
#include "kernels.h"
#include "layer_internal.h"
#include "scalar_math.h"
#include "tensor_stats.h"
#ifdef _OPENMP
#include <omp.h>
#endif

void fi_widen16(int bf16, const uint16_t *x, float *out, size_t n)
{
    if (fi_get_simd()) fi_widen16_avx2(bf16, x, out, n);
    else fi_widen16_generic(bf16, x, out, n);
}

/* Chunk c of the tensor as a pointer to float / double values: 16-bit ones widened into buf. */
static const void *chunk_values(const fi_tensor_stats *T, size_t c, size_t len, float *buf)
{
    const size_t at = c * FI_CHUNK_ELEMS;
    switch (T->dtype) {
    case FI_F64: return (const double *)T->x + at;
    case FI_F16:
    case FI_BF16: fi_widen16(T->dtype == FI_BF16, (const uint16_t *)T->x + at, buf, len); return buf;
    default: return (const float *)T->x + at;
    }
}

typedef struct {
    const fi_tensor_stats *T;
    const fi_layer_kernels *K;
    int f64;
    fi_stats *part;     /* the statistics pass: one partial per chunk */
    int64_t *tmp;       /* the histogram pass: one table per thread */
    size_t stride;
} pass_ctx;

/* One pass over the chunks of the tensor on `threads` threads, each widening 16-bit chunks into its own buffer. */
static void run_pass(const pass_ctx *P, int threads, float *bufs, int histogram)
{
    const fi_tensor_stats *T = P->T;
    const size_t n = T->n, nchunks = (n + FI_CHUNK_ELEMS - 1) / FI_CHUNK_ELEMS;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        float *buf = bufs ? bufs + (size_t)tid * FI_CHUNK_ELEMS : NULL;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (long long c = 0; c < (long long)nchunks; ++c) {
            const size_t len = (size_t)c + 1 < nchunks ? FI_CHUNK_ELEMS : n - (size_t)c * FI_CHUNK_ELEMS;
            const void *x = chunk_values(T, (size_t)c, len, buf);
            if (histogram)
                P->K->hist_piece[P->f64](x, len, T->range[0], T->range[1], T->bins, P->tmp + (size_t)tid * P->stride);
            else P->K->stats_piece[P->f64](P->part + c, x, len, T->saturation);
        }
    }
    (void)threads;
}

void fi_tensor_stats_run(fi_tensor_stats *T)
{
    const size_t n = T->n, nchunks = (n + FI_CHUNK_ELEMS - 1) / FI_CHUNK_ELEMS;
    const int threads = fi_layer_threads(n);
    const int widen = T->dtype == FI_F16 || T->dtype == FI_BF16;
    pass_ctx P = {T, fi_layer_kernels_active(), T->dtype == FI_F64, NULL, NULL, ((size_t)T->bins + 1) * FI_HIST_COPIES};
    P.part = fi_stats_alloc(nchunks);
    P.tmp = T->hist ? (int64_t *)calloc((size_t)threads * P.stride, sizeof(int64_t)) : NULL;
    float *bufs = widen ? (float *)malloc((size_t)threads * FI_CHUNK_ELEMS * sizeof(float)) : NULL;
    T->status = !P.part || (T->hist && !P.tmp) || (widen && !bufs) ? 1 : 0;
    if (!T->status) {
        run_pass(&P, threads, bufs, 0);   /* the statistics, */
        fi_stats_merge(P.part, nchunks, &T->stats);
        if (T->hist) {                    /* then the histogram on the range given, or the data's */
            fi_hist_range(T->range, &T->stats);
            run_pass(&P, threads, bufs, 1);
            for (int t = 0; t < threads; ++t)
                for (int copy = 0; copy < FI_HIST_COPIES; ++copy)
                    for (int k = 0; k < T->bins; ++k)
                        T->hist[k] += P.tmp[(size_t)t * P.stride + (size_t)copy * ((size_t)T->bins + 1) + (size_t)k];
        }
    }
    free(P.part);
    free(P.tmp);
    free(bufs);
}
