/* Internals shared by the layer kernels (layer_kernels.c, compiled once per ISA) and the dispatcher (layer.c). */
#ifndef FASTINIT_LAYER_INTERNAL_H
#define FASTINIT_LAYER_INTERNAL_H
#include <stddef.h>
#include "layer.h"

#define FI_CHUNK_ELEMS 16384   /* elements per row chunk: fits L1/L2 with its output */
#define FI_BN_BLOCK 64          /* features per batch-norm block */
#define FI_GEMM_ROWS 64 /* rows per block of the fused pass: fixed, so results do not depend on the thread count */

/* Row chunk c of a total-row array cut in chunks of rows: rows [c rows, fi_chunk_end(c, rows, total)). */
static inline size_t fi_chunk_end(long long c, size_t rows, size_t total)
{
    size_t end = ((size_t)c + 1) * rows;
    return end < total ? end : total;
}

typedef struct {
    void (*forward[2])(fi_layer *);
    void (*backward[2])(fi_layer_back *);
    void (*apply[2])(int act, double alpha, const void *x, void *y, size_t n);
    /* one contiguous piece of float (0) / double (1) values: statistics into a partial, counts into a histogram
     * table of FI_HIST_COPIES x (bins + 1) (entry bins: outside or not finite) */
    void (*stats_piece[2])(fi_stats *s, const void *x, size_t n, int saturation);
    void (*hist_piece[2])(const void *x, size_t n, double lo, double hi, int bins, int64_t *h);
} fi_layer_kernels;

#define FI_HIST_COPIES 4

/* float16 / bfloat16 bits -> float, n values (exact), on the SIMD path in use (kernels_*.c). */
void fi_widen16(int bf16, const uint16_t *x, float *out, size_t n);

const fi_layer_kernels *fi_layer_kernels_base(void);
const fi_layer_kernels *fi_layer_kernels_avx2(void); /* NULL when not compiled in */
const fi_layer_kernels *fi_layer_kernels_active(void); /* those of the SIMD path in use (layer.c) */

fi_stats *fi_stats_alloc(size_t n); /* n empty partials (at least one), or NULL when out of memory */
void fi_stats_clear(fi_stats *s, size_t n); /* make n partials empty */
void fi_stats_merge(const fi_stats *part, size_t n, fi_stats *out);
int fi_layer_threads(size_t elements);
#endif
