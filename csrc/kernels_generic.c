/* Portable baseline kernels: scalar C, one element at a time, the algorithms of scalar_math.h. The per-type
 * bodies come from one template, kernels_generic_impl.h. */
#include "kernels.h"
#include "philox.h"
#include "scalar_math.h"

static void group_words(uint32_t w[32], uint64_t group, const fi_params *p)
{
    for (int b = 0; b < FI_GROUP_BLOCKS; ++b)
        fi_philox_stream_block(w + 4 * b, (uint64_t)FI_GROUP_BLOCKS * group + (uint64_t)b, p->stream, p->key0, p->key1);
}

/* The 53-bit integer of float64 element i: ((w[2i+1] << 32) | w[2i]) >> 11. */
static inline uint64_t word_pair53(const uint32_t *w) { return (((uint64_t)w[1] << 32) | w[0]) >> 11; }

static void raw_u32(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    uint32_t *out = (uint32_t *)dst;
    for (size_t g = 0; g < count; ++g) group_words(out + FI_GROUP_F32 * g, g0 + g, p);
}

/* Truncated normal from the midpoint uniform u = (k + 1/2) 2^-bits, so that u is never 0 or 1:
 * p = Phi(alpha) + u mass and q = 1 - p = Q(beta) + (1 - u) mass, both sums of non-negative terms. */
static inline double truncnorm_value(double u, double um, const fi_params *p, int refine)
{
    double pp = p->dist.p_lo + u * p->dist.mass, qq = p->dist.q_hi + um * p->dist.mass;
    double z = refine ? fi_ndtri_refined(pp, qq) : fi_ndtri_acklam(pp, qq);
    return p->dist.mean + p->dist.std * z;
}

#define FI_T float
#define FI_N(x) x##_f32
#define FI_PER_GROUP FI_GROUP_F32
#define FI_BITS(w, i) ((uint64_t)((w)[i] >> 8))
#define FI_KMAX 0xFFFFFFull
#define FI_ULP 0x1p-24
#define FI_NORMAL_R(w, k) sqrtf(fi_neg2log_f((w)[2 * (k)]))
#define FI_NORMAL_SC(w, k, s, c) fi_sincos_2pi_f((w)[2 * (k) + 1], s, c)
#define FI_REFINE 0
#include "kernels_generic_impl.h"
#undef FI_T
#undef FI_N
#undef FI_PER_GROUP
#undef FI_BITS
#undef FI_KMAX
#undef FI_ULP
#undef FI_NORMAL_R
#undef FI_NORMAL_SC
#undef FI_REFINE

#define FI_T double
#define FI_N(x) x##_f64
#define FI_PER_GROUP FI_GROUP_F64
#define FI_BITS(w, i) word_pair53((w) + 2 * (i))
#define FI_KMAX 0x1FFFFFFFFFFFFFull
#define FI_ULP 0x1p-53
#define FI_NORMAL_R(w, k) sqrt(fi_neg2log_d(word_pair53((w) + 4 * (k))))
#define FI_NORMAL_SC(w, k, s, c) fi_sincos_2pi_d(word_pair53((w) + 4 * (k) + 2), s, c)
#define FI_REFINE 1
#include "kernels_generic_impl.h"

fi_group_fn fi_generic_kernel(fi_kind kind, fi_dtype dtype)
{
    int f64 = dtype == FI_F64;
    switch (kind) {
    case FI_RAW: return raw_u32;
    case FI_UNIFORM: return f64 ? uniform_f64 : uniform_f32;
    case FI_NORMAL: return f64 ? normal_f64 : normal_f32;
    case FI_TRUNCNORM: return f64 ? truncnorm_f64 : truncnorm_f32;
    }
    return 0;
}

static void narrow_bf16(uint16_t *dst, const float *src, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; ++i) {
        float v = src[i] < lo ? lo : (src[i] > hi ? hi : src[i]);
        dst[i] = fi_bf16_rne(v);
    }
}

static void narrow_f16(uint16_t *dst, const float *src, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; ++i) {
        float v = src[i] < lo ? lo : (src[i] > hi ? hi : src[i]);
        dst[i] = fi_f16_rne(v);
    }
}

fi_narrow_fn fi_generic_narrow(fi_dtype dtype) { return dtype == FI_F16 ? narrow_f16 : narrow_bf16; }

void fi_widen16_generic(int bf16, const uint16_t *x, float *out, size_t n)
{
    if (bf16)
        for (size_t i = 0; i < n; ++i) out[i] = fi_bits_f32((uint32_t)x[i] << 16);
    else
        for (size_t i = 0; i < n; ++i) out[i] = fi_f16_value(x[i]);
}
