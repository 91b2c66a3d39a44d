/* Statistics and histogram of one tensor (tensor_stats.c): what fastinit's probe records per module output. */
#ifndef FASTINIT_TENSOR_STATS_H
#define FASTINIT_TENSOR_STATS_H
#include <stddef.h>
#include <stdint.h>
#include "layer.h"

typedef struct {
    int dtype;          /* FI_F32, FI_F64, FI_F16, FI_BF16 (fastinit.h) */
    const void *x;      /* n contiguous values */
    size_t n;
    int saturation;     /* fi_saturation */
    int bins;           /* histogram bins, or 0 with hist NULL: statistics only */
    double range[2];    /* histogram range; NaN: the data's [min, max] (written back) */
    int64_t *hist;      /* bins counts, added to */
    fi_stats stats;     /* out: merged (shift = mean, sumsq = M2) */
    int status;         /* out: 0, or 1 when scratch could not be allocated (nothing was computed) */
} fi_tensor_stats;

void fi_tensor_stats_run(fi_tensor_stats *T);

#endif
