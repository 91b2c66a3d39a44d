/* Portable baseline kernels: scalar C, one element at a time, the algorithms of scalar_math.h. */
#include <string.h>
#include "kernels.h"
#include "philox.h"
#include "scalar_math.h"

static void group_words(uint32_t w[32], uint64_t group, const fi_params *p)
{
    for (int b = 0; b < FI_GROUP_BLOCKS; ++b)
        fi_philox_stream_block(w + 4 * b, (uint64_t)FI_GROUP_BLOCKS * group + (uint64_t)b, p->stream,
                               p->key0, p->key1);
}

/* The 53-bit integer of float64 element i: ((w[2i+1] << 32) | w[2i]) >> 11. */
static inline uint64_t word_pair53(const uint32_t *w) { return (((uint64_t)w[1] << 32) | w[0]) >> 11; }

static void raw_u32(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    uint32_t *out = (uint32_t *)dst;
    for (size_t g = 0; g < count; ++g) group_words(out + FI_GROUP_F32 * g, g0 + g, p);
}

static void uniform_f32(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    float *out = (float *)dst;
    const float lo = (float)p->low, sc = (float)p->scale, up = (float)p->upper;
    uint32_t w[32];
    for (size_t g = 0; g < count; ++g, out += FI_GROUP_F32) {
        group_words(w, g0 + g, p);
        for (int i = 0; i < 32; ++i) {
            float v = lo + sc * ((float)(w[i] >> 8) * 0x1p-24f);
            out[i] = v < up ? v : up;
        }
    }
}

static void uniform_f64(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    double *out = (double *)dst;
    uint32_t w[32];
    for (size_t g = 0; g < count; ++g, out += FI_GROUP_F64) {
        group_words(w, g0 + g, p);
        for (int i = 0; i < 16; ++i) {
            double v = p->low + p->scale * ((double)word_pair53(w + 2 * i) * 0x1p-53);
            out[i] = v < p->upper ? v : p->upper;
        }
    }
}

static void normal_f32(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    float *out = (float *)dst;
    const float mean = (float)p->mean, std = (float)p->std;
    uint32_t w[32];
    for (size_t g = 0; g < count; ++g, out += FI_GROUP_F32) {
        group_words(w, g0 + g, p);
        for (int k = 0; k < 16; ++k) {
            float r = sqrtf(fi_neg2log_f(w[2 * k])), s, c;
            fi_sincos_2pi_f(w[2 * k + 1], &s, &c);
            out[2 * k] = mean + std * (r * c);
            out[2 * k + 1] = mean + std * (r * s);
        }
    }
}

static void normal_f64(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    double *out = (double *)dst;
    uint32_t w[32];
    for (size_t g = 0; g < count; ++g, out += FI_GROUP_F64) {
        group_words(w, g0 + g, p);
        for (int k = 0; k < 8; ++k) {
            double r = sqrt(fi_neg2log_d(word_pair53(w + 4 * k))), s, c;
            fi_sincos_2pi_d(word_pair53(w + 4 * k + 2), &s, &c);
            out[2 * k] = p->mean + p->std * (r * c);
            out[2 * k + 1] = p->mean + p->std * (r * s);
        }
    }
}

/* Truncated normal from the midpoint uniform u = (k + 1/2) 2^-bits, so that u is never 0 or 1:
 * p = Phi(alpha) + u mass and q = 1 - p = Q(beta) + (1 - u) mass, both sums of non-negative terms. */
static inline double truncnorm_value(double u, double um, const fi_params *p, int refine)
{
    double pp = p->p_lo + u * p->mass, qq = p->q_hi + um * p->mass;
    double z = refine ? fi_ndtri_refined(pp, qq) : fi_ndtri_acklam(pp, qq);
    return p->mean + p->std * z;
}

static void truncnorm_f32(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    float *out = (float *)dst;
    const float lo = (float)p->clamp_lo, hi = (float)p->clamp_hi;
    uint32_t w[32];
    for (size_t g = 0; g < count; ++g, out += FI_GROUP_F32) {
        group_words(w, g0 + g, p);
        for (int i = 0; i < 32; ++i) {
            double k = (double)(w[i] >> 8);
            float v = (float)truncnorm_value((k + 0.5) * 0x1p-24, (16777215.5 - k) * 0x1p-24, p, 0);
            out[i] = v < lo ? lo : (v > hi ? hi : v);
        }
    }
}

static void truncnorm_f64(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    (void)ss;
    double *out = (double *)dst;
    uint32_t w[32];
    for (size_t g = 0; g < count; ++g, out += FI_GROUP_F64) {
        group_words(w, g0 + g, p);
        for (int i = 0; i < 16; ++i) {
            uint64_t k = word_pair53(w + 2 * i);
            double u = ((double)k + 0.5) * 0x1p-53, um = ((double)(0x1FFFFFFFFFFFFFull - k) + 0.5) * 0x1p-53;
            double v = truncnorm_value(u, um, p, 1);
            out[i] = v < p->clamp_lo ? p->clamp_lo : (v > p->clamp_hi ? p->clamp_hi : v);
        }
    }
}

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

void fi_ndtri_array(const double *p, const double *q, double *out, size_t n, int refine)
{
    for (size_t i = 0; i < n; ++i) out[i] = refine ? fi_ndtri_refined(p[i], q[i]) : fi_ndtri_acklam(p[i], q[i]);
}

void fi_philox4x32_array(const uint32_t *counters, const uint32_t *keys, uint32_t *out, size_t n, int rounds)
{
    for (size_t i = 0; i < n; ++i) {
        uint32_t x[4];
        memcpy(x, counters + 4 * i, sizeof x);
        fi_philox4x32(x, keys[2 * i], keys[2 * i + 1], rounds);
        memcpy(out + 4 * i, x, sizeof x);
    }
}
