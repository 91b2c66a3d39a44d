/* Group kernels: a group is the 8 Philox blocks 8g..8g+7 of one stream, i.e. 32 words, which make
 * FI_GROUP_F32 = 32 float32 / uint32 elements or FI_GROUP_F64 = 16 float64 elements. Element i of a fill is
 * always computed by the kernel of group i / G with the same operations, whatever the thread, the chunking
 * or the buffer's alignment: that is what makes fills thread-count invariant. */
#ifndef FASTINIT_KERNELS_H
#define FASTINIT_KERNELS_H
#include "fastinit.h"

#define FI_GROUP_BLOCKS 8
#define FI_GROUP_F32 32
#define FI_GROUP_F64 16

/* What a group kernel reads: the key and stream of the fill, its distribution, and (the driver's) first group and
 * the skip into it where a fill starts inside a group; narrow: FI_F16 / FI_BF16 when the AVX2 float32 kernels
 * store 16-bit roundings, else 0. */
typedef struct {
    uint32_t key0, key1;
    uint64_t stream;
    fi_dist dist;
    uint64_t first_group;
    uint32_t first_skip;
    int narrow;
} fi_params;

/* Compute groups g0 .. g0+count-1 into dst (contiguous). stream_store: dst is 32-byte aligned and the
 * caller wants non-temporal stores (large buffers: skips the read-for-ownership of each cache line). The AVX2
 * float32 kernels store 16-bit roundings instead when p->narrow is FI_F16 / FI_BF16 (64 bytes a group). */
typedef void (*fi_group_fn)(void *dst, uint64_t g0, size_t count, const fi_params *p, int stream_store);

/* Hold n float32 values in [lo, hi] and round them to FI_F16 / FI_BF16 bits (nearest even): the portable path's
 * narrowing (the AVX2 kernels narrow in their stores when fi_params.narrow is set). */
typedef void (*fi_narrow_fn)(uint16_t *dst, const float *src, size_t n, float lo, float hi);

/* The thread count for a parallel region about to start (runtime.c; it remembers that one ran). */
int fi_region_threads(void);
/* The thread count for a fill of n values of this kind and dtype: 1 when its expected work would not pay for
 * waking and joining the other threads (runtime.c), and the report of a fill's timing: started, when the master
 * had finished its share, when the join returned (omp_get_wtime seconds). */
int fi_fill_threads(int kind, int dtype, size_t n);
void fi_fill_done(int kind, int dtype, size_t n, int threads, double start, double master_done, double end);

fi_group_fn fi_generic_kernel(fi_kind kind, fi_dtype dtype);
fi_narrow_fn fi_generic_narrow(fi_dtype dtype);
fi_group_fn fi_avx2_kernel(fi_kind kind, fi_dtype dtype);   /* NULL when not compiled in */
int fi_avx2_compiled(void);

/* n float16 (bf16 = 0) or bfloat16 (bf16 = 1) bit patterns widened to float32 (exact): the probe's and the
 * training's 16-bit tensors, read through a float32 buffer (tensor_stats.c's fi_widen16 picks the path). */
void fi_widen16_generic(int bf16, const uint16_t *x, float *out, size_t n);
void fi_widen16_avx2(int bf16, const uint16_t *x, float *out, size_t n);   /* the generic one without AVX2 */
#endif
