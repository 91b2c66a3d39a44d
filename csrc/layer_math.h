/* Branch-free float kernels for the activations, written so that compilers vectorize the loops that call them
 * (no libm calls, selects instead of branches). float64 layers use libm. Error bounds (tests/test_simulation.py,
 * against NumPy in float64): fi_expf, fi_expm1f, fi_tanhf relative < 4e-7; fi_erff absolute < 1.5e-7 (Abramowitz &
 * Stegun 7.1.26). */
#ifndef FASTINIT_LAYER_MATH_H
#define FASTINIT_LAYER_MATH_H
#include <stdint.h>

/* e^x for x in [-87, 88] (clamped there): x = n ln2 + r, |r| <= ln2/2, Cephes expf polynomial, 2^n by bits. */
static inline float fi_expf(float x)
{
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    /* n = round(x / ln2) by the 1.5 * 2^23 trick (no rounding instruction needed, so SSE2 vectorizes it too) */
    float fn = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r2 + r + 1.0f;
    union {
        int32_t i;
        float f;
    } scale;
    scale.i = ((int32_t)fn + 127) * (1 << 23);   /* 2^n as float bits */
    return y * scale.f;
}

/* erf(x), |error| <= 1.5e-7: 1 - (a1 t + ... + a5 t^5) e^{-x^2}, t = 1 / (1 + 0.3275911 |x|). */
static inline float fi_erff(float x)
{
    float a = x < 0.0f ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    float e = 1.0f - poly * fi_expf(-a * a);
    return x < 0.0f ? -e : e;
}

/* e^x - 1 without the cancellation near 0 (ELU and SELU of small negative inputs): Taylor to x^8 for
 * |x| < 0.5 (truncation < x^9 / 9! < 6e-9 relative), fi_expf(x) - 1 elsewhere. */
static inline float fi_expm1f(float x)
{
    float a = x < 0.0f ? -x : x;
    float p = 1.0f / 40320.0f;
    p = p * x + 1.0f / 5040.0f;
    p = p * x + 1.0f / 720.0f;
    p = p * x + 1.0f / 120.0f;
    p = p * x + 1.0f / 24.0f;
    p = p * x + 1.0f / 6.0f;
    p = p * x + 0.5f;
    p = p * x * x + x;
    float e = fi_expf(x) - 1.0f;
    return a < 0.5f ? p : e;
}

/* tanh x: the Cephes tanhf odd polynomial for |x| < 0.625 (relative error ~1 ulp, so a collapsing network's tiny
 * activations keep their size), else sign(x) (1 - 2 / (e^{2|x|} + 1)) with |x| clamped at 9 (tanh 9 rounds to 1
 * in float); relative error < 4e-7 everywhere. */
static inline float fi_tanhf(float x)
{
    float a = x < 0.0f ? -x : x;
    float z = x * x;
    float small =
        ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
         3.33332819422e-1f) *
            z * x +
        x;
    a = a > 9.0f ? 9.0f : a;
    float t = 1.0f - 2.0f / (fi_expf(2.0f * a) + 1.0f);
    t = x < 0.0f ? -t : t;
    return a < 0.625f ? small : t;
}

#define FI_SELU_LAMBDA 1.0507009873554804934193349852946
#define FI_SELU_ALPHA 1.6732632423543772848170429916717
#endif
