/* The portable kernels of one output type, included by kernels_generic.c once per type (as layer_impl.h is by
 * layer_kernels.c). The including file defines:
 *   FI_T               the element type (float, double)
 *   FI_N(x)            x with the type's suffix
 *   FI_PER_GROUP       elements per group of 32 words (32, 16)
 *   FI_BITS(w, i)      the integer k of uniform element i (24 bits of one word, 53 bits of two)
 *   FI_KMAX, FI_ULP    the largest k and 2**-bits
 *   FI_NORMAL_R(w, k)  the Box-Muller radius sqrt(-2 ln u1) of pair k
 *   FI_NORMAL_SC(w, k, s, c)   sin and cos of 2 pi u2 of pair k
 *   FI_REFINE          whether the truncated normal's inverse CDF gets its Newton step (float64) */

static void FI_N(uniform)(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    FI_T *out = (FI_T *)dst;
    const FI_T lo = (FI_T)p->dist.low, sc = (FI_T)p->dist.scale, up = (FI_T)p->dist.upper;
    uint32_t w[32];
    for (size_t g = 0; g < count; ++g, out += FI_PER_GROUP) {
        group_words(w, g0 + g, p);
        for (int i = 0; i < FI_PER_GROUP; ++i) {
            FI_T v = lo + sc * ((FI_T)FI_BITS(w, i) * (FI_T)FI_ULP);
            out[i] = v < up ? v : up;
        }
    }
}

static void FI_N(normal)(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    FI_T *out = (FI_T *)dst;
    const FI_T mean = (FI_T)p->dist.mean, std = (FI_T)p->dist.std;
    uint32_t w[32];
    for (size_t g = 0; g < count; ++g, out += FI_PER_GROUP) {
        group_words(w, g0 + g, p);
        for (int k = 0; k < FI_PER_GROUP / 2; ++k) {
            FI_T r = FI_NORMAL_R(w, k), s, c;
            FI_NORMAL_SC(w, k, &s, &c);
            out[2 * k] = mean + std * (r * c);
            out[2 * k + 1] = mean + std * (r * s);
        }
    }
}

/* From the midpoint uniform u = (k + 1/2) 2^-bits, never 0 or 1 (see truncnorm_value). */
static void FI_N(truncnorm)(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    FI_T *out = (FI_T *)dst;
    const FI_T lo = (FI_T)p->dist.clamp_lo, hi = (FI_T)p->dist.clamp_hi;
    uint32_t w[32];
    for (size_t g = 0; g < count; ++g, out += FI_PER_GROUP) {
        group_words(w, g0 + g, p);
        for (int i = 0; i < FI_PER_GROUP; ++i) {
            uint64_t k = FI_BITS(w, i);
            double u = ((double)k + 0.5) * FI_ULP, um = ((double)(FI_KMAX - k) + 0.5) * FI_ULP;
            FI_T v = (FI_T)truncnorm_value(u, um, p, FI_REFINE);
            out[i] = v < lo ? lo : (v > hi ? hi : v);
        }
    }
}
