/* Scalar math kernels of the portable baseline: the exact algorithms that the AVX2 path runs 8 (float) or 4
 * (double) lanes at a time in kernels_avx2.c. Short polynomials with stated error bounds (Cephes / fdlibm
 * coefficients; Acklam's inverse normal CDF). Plain C99.
 *
 * Error bounds (measured against libm / scipy in tests/test_vmath.py, through the fills and on ndtri directly):
 *   fi_neg2log_f: relative error of -2 ln(u1) < 3e-7 (Cephes logf polynomial, |f| <= 0.415)
 *   fi_sincos_2pi_f: absolute error < 1.2e-7 (Cephes sinf/cosf on [-pi/4, pi/4])
 *   fi_neg2log_d: relative error < 4e-16 (fdlibm log kernel); fi_sincos_2pi_d: absolute error < 3e-16
 *   fi_ndtri_acklam: error < 1.2e-9 max(1, abs(z)); fi_ndtri_refined: < 2e-15 max(1, abs(z)) (one Halley step)
 */
#ifndef FASTINIT_SCALAR_MATH_H
#define FASTINIT_SCALAR_MATH_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#define FI_PI_2 1.57079632679489661923

/* ---------- float32: Cephes logf, sinf, cosf ---------- */
#define FI_LOGF_P8 7.0376836292E-2f
#define FI_LOGF_P7 -1.1514610310E-1f
#define FI_LOGF_P6 1.1676998740E-1f
#define FI_LOGF_P5 -1.2420140846E-1f
#define FI_LOGF_P4 1.4249322787E-1f
#define FI_LOGF_P3 -1.6668057665E-1f
#define FI_LOGF_P2 2.0000714765E-1f
#define FI_LOGF_P1 -2.4999993993E-1f
#define FI_LOGF_P0 3.3333331174E-1f
#define FI_LN2_HI_F 0.693359375f
#define FI_LN2_LO_F -2.12194440e-4f
#define FI_SINF_S3 -1.9515295891E-4f
#define FI_SINF_S2 8.3321608736E-3f
#define FI_SINF_S1 -1.6666654611E-1f
#define FI_COSF_C3 2.443315711809948E-5f
#define FI_COSF_C2 -1.388731625493765E-3f
#define FI_COSF_C1 4.166664568298827E-2f
#define FI_SQRT1_2_F 0.70710678118654752f
#define FI_ONE_MINUS_SQRT1_2_F 0.29289321881345248f

/* the four bit casts, one a line */
/* clang-format off */
static inline uint32_t fi_f32_bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float fi_bits_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static inline uint64_t fi_f64_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double fi_bits_f64(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
/* clang-format on */

/* IEEE half bits -> float (exact, every value, what F16C's vcvtph2ps computes). */
static inline float fi_f16_value(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0) {
        const float f = (float)m * 0x1p-24f;   /* zero or subnormal */
        return sign ? -f : f;
    }
    if (e == 31) return fi_bits_f32(sign | 0x7F800000u | (m << 13));   /* inf, NaN */
    return fi_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

/* float32 -> bfloat16 bits, round to nearest even (x is never NaN here). */
static inline uint16_t fi_bf16_rne(float x)
{
    uint32_t u = fi_f32_bits(x);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* float32 -> IEEE half bits, round to nearest even, overflow to infinity, subnormals exact (x never NaN):
 * what the F16C instruction vcvtps2ph computes. */
static inline uint16_t fi_f16_rne(float x)
{
    uint32_t u = fi_f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    u &= 0x7FFFFFFFu;
    if (u >= 0x47800000u) return sign | 0x7C00u;        /* >= 2**16: infinity */
    if (u >= 0x38800000u) {                              /* a normal half: rebias, round the 13 dropped bits */
        uint32_t r = u - 0x38000000u;
        return sign | (uint16_t)((r + 0xFFFu + ((r >> 13) & 1u)) >> 13);   /* a carry into inf is right */
    }
    /* subnormal or zero: adding 0.5 puts |x| 2**24 rounded to nearest even in the low mantissa bits */
    float t = fi_bits_f32(u) + 0.5f;
    return sign | (uint16_t)(fi_f32_bits(t) - 0x3F000000u);
}

/* ln(1+f) for f in [sqrt(1/2)-1, sqrt(2)-1], plus e*ln 2 (split in two for accuracy). */
static inline float fi_log1p_reduced_f(float f, float e)
{
    float z = f * f;
    float p = FI_LOGF_P8;
    p = p * f + FI_LOGF_P7;
    p = p * f + FI_LOGF_P6;
    p = p * f + FI_LOGF_P5;
    p = p * f + FI_LOGF_P4;
    p = p * f + FI_LOGF_P3;
    p = p * f + FI_LOGF_P2;
    p = p * f + FI_LOGF_P1;
    p = p * f + FI_LOGF_P0;
    float y = f * z * p;
    y = y + e * FI_LN2_LO_F;
    y = y - 0.5f * z;
    return (f + y) + e * FI_LN2_HI_F;
}

/* -2 ln(u1) for u1 = w 2^-32 + 2^-33, accurate at both ends: when u1 >= 1/2 the log is taken of 1 - v with
 * v = (~w) 2^-32 + 2^-33 formed exactly from the word, so u1 -> 1 (r -> 0) keeps its relative precision. */
static inline float fi_neg2log_f(uint32_t w)
{
    int upper = (w >> 31) != 0;
    uint32_t m = upper ? ~w : w;                      /* < 2^31 */
    float x = (float)(int32_t)m * 0x1p-32f + 0x1p-33f; /* u1 (lower half) or 1 - u1 (upper half), <= 1/2 */
    float f, e;
    if (upper) {
        if (x <= FI_ONE_MINUS_SQRT1_2_F) {
            f = -x;
            e = 0.0f;
        } else {
            f = 1.0f - 2.0f * x;
            e = -1.0f;
        }
    } else {
        uint32_t b = fi_f32_bits(x);
        int ex = (int)(b >> 23) - 126;                /* x = mant * 2^ex, mant in [1/2, 1) */
        float mant = fi_bits_f32((b & 0x007FFFFFu) | 0x3F000000u);
        if (mant < FI_SQRT1_2_F) {
            mant = mant + mant;
            ex -= 1;
        }
        f = mant - 1.0f;
        e = (float)ex;
    }
    return -2.0f * fi_log1p_reduced_f(f, e);
}

/* sin and cos of 2 pi u2, u2 = w 2^-32 + 2^-33: the quadrant comes exactly from the word's top bits and the
 * residual angle from its low 30 bits, so no floating-point range reduction error. */
static inline void fi_sincos_2pi_f(uint32_t w, float *s, float *c)
{
    uint32_t quadrant = ((w + 0x20000000u) >> 30) & 3u;
    float r = ((float)(int32_t)(w << 2) + 2.0f) * (float)(FI_PI_2 * 0x1p-32);
    float z = r * r;
    float sp = FI_SINF_S3;
    sp = sp * z + FI_SINF_S2;
    sp = sp * z + FI_SINF_S1;
    float sr = r + r * z * sp;
    float cp = FI_COSF_C3;
    cp = cp * z + FI_COSF_C2;
    cp = cp * z + FI_COSF_C1;
    float cr = 1.0f - 0.5f * z + z * z * cp;
    float so = (quadrant & 1u) ? cr : sr, co = (quadrant & 1u) ? sr : cr;
    if (quadrant & 2u) so = -so;
    if ((quadrant + 1u) & 2u) co = -co;
    *s = so;
    *c = co;
}

/* ---------- float64: fdlibm log and sin/cos kernels ---------- */
#define FI_LG1 6.666666666666735130e-01
#define FI_LG2 3.999999999940941908e-01
#define FI_LG3 2.857142874366239149e-01
#define FI_LG4 2.222219843214978396e-01
#define FI_LG5 1.818357216161805012e-01
#define FI_LG6 1.531383769920937332e-01
#define FI_LG7 1.479819860511658591e-01
#define FI_LN2_HI 6.93147180369123816490e-01
#define FI_LN2_LO 1.90821492927058770002e-10
#define FI_S1 -1.66666666666666324348e-01
#define FI_S2 8.33333333332248946124e-03
#define FI_S3 -1.98412698298579493134e-04
#define FI_S4 2.75573137070700676789e-06
#define FI_S5 -2.50507602534068634195e-08
#define FI_S6 1.58969099521155010221e-10
#define FI_C1 4.16666666666666019037e-02
#define FI_C2 -1.38888888888741095749e-03
#define FI_C3 2.48015872894767294178e-05
#define FI_C4 -2.75573143513906633035e-07
#define FI_C5 2.08757232129817482790e-09
#define FI_C6 -1.13596475577881948265e-11
#define FI_SQRT1_2 0.70710678118654752440
#define FI_ONE_MINUS_SQRT1_2 0.29289321881345247560

/* ln(1+f) + e ln 2 for f in [sqrt(1/2)-1, sqrt(2)-1] (fdlibm __ieee754_log after reduction). */
static inline double fi_log1p_reduced_d(double f, double e)
{
    double s = f / (2.0 + f);
    double z = s * s, w = z * z;
    double t1 = w * (FI_LG2 + w * (FI_LG4 + w * FI_LG6));
    double t2 = z * (FI_LG1 + w * (FI_LG3 + w * (FI_LG5 + w * FI_LG7)));
    double R = t2 + t1;
    double hfsq = 0.5 * f * f;
    return e * FI_LN2_HI - ((hfsq - (s * (hfsq + R) + e * FI_LN2_LO)) - f);
}

/* Split x > 0 (normal) into e and f with x = 2^e (1+f), 1+f in [sqrt(1/2), sqrt(2)). */
static inline double fi_reduce_d(double x, double *e)
{
    uint64_t b = fi_f64_bits(x);
    int ex = (int)(b >> 52) - 1022;
    double mant = fi_bits_f64((b & 0x000FFFFFFFFFFFFFull) | 0x3FE0000000000000ull); /* [1/2, 1) */
    if (mant < FI_SQRT1_2) {
        mant = mant + mant;
        ex -= 1;
    }
    *e = (double)ex;
    return mant - 1.0;
}

static inline double fi_log_d(double x)
{
    double e, f = fi_reduce_d(x, &e);
    return fi_log1p_reduced_d(f, e);
}

/* -2 ln(u1), u1 = k 2^-53 + 2^-54 for a 53-bit k; as fi_neg2log_f, exact 1 - u1 for the upper half. */
static inline double fi_neg2log_d(uint64_t k)
{
    int upper = (k >> 52) != 0;
    uint64_t m = upper ? (k ^ 0x1FFFFFFFFFFFFFull) : k;  /* < 2^52 */
    double x = (double)m * 0x1p-53 + 0x1p-54;           /* exact */
    double f, e;
    if (upper) {
        if (x <= FI_ONE_MINUS_SQRT1_2) {
            f = -x;
            e = 0.0;
        } else {
            f = 1.0 - 2.0 * x;
            e = -1.0;
        }
    } else {
        f = fi_reduce_d(x, &e);
    }
    return -2.0 * fi_log1p_reduced_d(f, e);
}

/* sin and cos of 2 pi u2, u2 = k 2^-53 + 2^-54: quadrant and residual straight from the 53-bit integer. */
static inline void fi_sincos_2pi_d(uint64_t k, double *s, double *c)
{
    uint64_t quadrant = ((k + (1ull << 50)) >> 51) & 3u;
    int64_t d = (int64_t)(k << 13) >> 13;           /* low 51 bits as a signed number: k - quadrant 2^51 */
    double r = ((double)d + 0.5) * (FI_PI_2 * 0x1p-51);
    double z = r * r;
    double sr = r + r * z * (FI_S1 + z * (FI_S2 + z * (FI_S3 + z * (FI_S4 + z * (FI_S5 + z * FI_S6)))));
    double cr = 1.0 - 0.5 * z + z * z * (FI_C1 + z * (FI_C2 + z * (FI_C3 + z * (FI_C4 + z * (FI_C5 + z * FI_C6)))));
    double so = (quadrant & 1u) ? cr : sr, co = (quadrant & 1u) ? sr : cr;
    if (quadrant & 2u) so = -so;
    if ((quadrant + 1u) & 2u) co = -co;
    *s = so;
    *c = co;
}

/* ---------- inverse normal CDF (Acklam's rational approximation + optional Halley step) ---------- */
#define FI_ACK_A1 -3.969683028665376e+01
#define FI_ACK_A2 2.209460984245205e+02
#define FI_ACK_A3 -2.759285104469687e+02
#define FI_ACK_A4 1.383577518672690e+02
#define FI_ACK_A5 -3.066479806614716e+01
#define FI_ACK_A6 2.506628277459239e+00
#define FI_ACK_B1 -5.447609879822406e+01
#define FI_ACK_B2 1.615858368580409e+02
#define FI_ACK_B3 -1.556989798598866e+02
#define FI_ACK_B4 6.680131188771972e+01
#define FI_ACK_B5 -1.328068155288572e+01
#define FI_ACK_C1 -7.784894002430293e-03
#define FI_ACK_C2 -3.223964580411365e-01
#define FI_ACK_C3 -2.400758277161838e+00
#define FI_ACK_C4 -2.549732539343734e+00
#define FI_ACK_C5 4.374664141464968e+00
#define FI_ACK_C6 2.938163982698783e+00
#define FI_ACK_D1 7.784695709041462e-03
#define FI_ACK_D2 3.224671290700398e-01
#define FI_ACK_D3 2.445134137142996e+00
#define FI_ACK_D4 3.754408661907416e+00
#define FI_ACK_PLOW 0.02425

/* z with Phi(z) = p, given p and q = 1 - p each to full relative precision: the tails use min(p, q), so far
 * tails on either side never suffer the cancellation of 1 - p. */
static inline double fi_ndtri_acklam(double p, double q)
{
    double t = p < q ? p : q;
    if (t >= FI_ACK_PLOW) {
        double x = 0.5 * (p - q), r = x * x;   /* p - 1/2 without rounding p first */
        double num =
            (((((FI_ACK_A1 * r + FI_ACK_A2) * r + FI_ACK_A3) * r + FI_ACK_A4) * r + FI_ACK_A5) * r + FI_ACK_A6) * x;
        double den = ((((FI_ACK_B1 * r + FI_ACK_B2) * r + FI_ACK_B3) * r + FI_ACK_B4) * r + FI_ACK_B5) * r + 1.0;
        return num / den;
    }
    double s = sqrt(-2.0 * fi_log_d(t));
    double num = ((((FI_ACK_C1 * s + FI_ACK_C2) * s + FI_ACK_C3) * s + FI_ACK_C4) * s + FI_ACK_C5) * s + FI_ACK_C6;
    double den = (((FI_ACK_D1 * s + FI_ACK_D2) * s + FI_ACK_D3) * s + FI_ACK_D4) * s + 1.0;
    double z = num / den;                       /* Phi^-1(t) <= 0 */
    return p < q ? z : -z;
}

/* One Halley step on the tail that is small: brings Acklam's 1.2e-9 to double precision. */
static inline double fi_ndtri_refined(double p, double q)
{
    double z = fi_ndtri_acklam(p, q);
    double a = p < q ? z : -z;                  /* work in the lower tail: Phi(a) = t */
    double t = p < q ? p : q;
    double err = 0.5 * erfc(-a * 0.70710678118654752440) - t;
    double u = err * 2.50662827463100050242 * exp(0.5 * a * a);
    a = a - u / (1.0 + 0.5 * a * u);
    return p < q ? a : -a;
}
#endif
