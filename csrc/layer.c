/* Layer step dispatcher and the pieces of it that are not per type: statistics merging, histogram ranges,
 * thread counts. */
#include <math.h>
#include <stdlib.h>
#include "fastinit.h"
#include "layer_internal.h"
#include "kernels.h"

#define FI_LAYER_PARALLEL_MIN 32768   /* elements below which one thread is faster */

const char *const fi_activation_names[FI_ACT_COUNT] = {"linear", "sigmoid", "tanh", "relu", "leaky_relu",
                                                       "elu",    "selu",    "gelu", "silu", "softplus"};

void fi_stats_clear(fi_stats *s, size_t n)
{
    for (size_t i = 0; i < n; ++i) {
        s[i] = (fi_stats){0};
        s[i].shift = NAN;
        s[i].min = INFINITY;
        s[i].max = -INFINITY;
    }
}

fi_stats *fi_stats_alloc(size_t n)
{
    fi_stats *s = (fi_stats *)malloc((n ? n : 1) * sizeof(fi_stats));
    if (s) fi_stats_clear(s, n);
    return s;
}

/* Chan et al.'s pairwise update of (count, mean, M2), in chunk order: out has shift = mean, sum = 0,
 * sumsq = M2. */
void fi_stats_merge(const fi_stats *part, size_t n, fi_stats *out)
{
    double mean = 0.0, m2 = 0.0, mn = INFINITY, mx = -INFINITY;
    int64_t count = 0, zeros = 0, sat = 0, bad = 0;
    for (size_t i = 0; i < n; ++i) {
        const fi_stats *s = part + i;
        zeros += s->zeros;
        sat += s->saturated;
        bad += s->nonfinite;
        mn = s->min < mn ? s->min : mn;
        mx = s->max > mx ? s->max : mx;
        if (!s->count) continue;
        double nb = (double)s->count, mb = s->shift + s->sum / nb, m2b = s->sumsq - s->sum * s->sum / nb;
        double na = (double)count, delta = mb - mean;
        mean += delta * nb / (na + nb);
        m2 += m2b + delta * delta * na * nb / (na + nb);
        count += s->count;
    }
    out->count = count;
    out->zeros = zeros;
    out->saturated = sat;
    out->nonfinite = bad;
    out->shift = mean;
    out->sum = 0.0;
    /* NaN: the squares of finite values overflowed double (|x| > ~1e154, an exploding float64 network); say inf,
     * which the Python record takes from the data again, not 0, which would read as a collapsed network */
    out->sumsq = m2 > 0 ? m2 : (m2 == m2 ? 0.0 : INFINITY);
    out->min = mn;
    out->max = mx;
}

/* A NaN range becomes the data's [min, max] (widened by 1/2 when flat, [0, 1] without finite data). */
void fi_hist_range(double range[2], const fi_stats *s)
{
    if (range[0] == range[0] && range[1] == range[1]) return;
    if (s->count == 0) {
        range[0] = 0.0;
        range[1] = 1.0;
        return;
    }
    range[0] = s->min;
    range[1] = s->max;
    if (!(range[1] > range[0])) {
        range[0] -= 0.5;
        range[1] += 0.5;
    }
}

int fi_layer_threads(size_t elements) { return elements < FI_LAYER_PARALLEL_MIN ? 1 : fi_region_threads(); }

const fi_layer_kernels *fi_layer_kernels_active(void)
{
    const fi_layer_kernels *k = fi_get_simd() ? fi_layer_kernels_avx2() : 0;
    return k ? k : fi_layer_kernels_base();
}

void fi_layer_forward(fi_layer *L) { fi_layer_kernels_active()->forward[L->f64 ? 1 : 0](L); }
void fi_layer_backward(fi_layer_back *B) { fi_layer_kernels_active()->backward[B->f64 ? 1 : 0](B); }
void fi_activation_apply(int f64, int act, double alpha, const void *x, void *y, size_t n)
{ fi_layer_kernels_active()->apply[f64 ? 1 : 0](act, alpha, x, y, n); }
