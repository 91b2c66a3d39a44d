/* AVX2+FMA kernels: the algorithms of scalar_math.h, 8 float or 4 double lanes at a time. Compiled with
 * -mavx2 -mfma (/arch:AVX2 on MSVC) and only called after fi_simd_available() saw AVX2 and FMA at run time.
 *
 * Philox layout: 4 blocks per __m256i in 64-bit lanes, each state word in the low 32 bits, so that
 * _mm256_mul_epu32 gives hi:lo of M*x in place (8 vector ops per round for 4 blocks). Two such sets make a
 * group of 8 blocks; "f32 layout" gives the sets blocks 0,2,1,3 | 4,6,5,7 so that one blend packs them into
 * 8 x 32-bit lanes holding blocks 0,4,2,6 | 1,5,3,7: the order in which the in-lane unpacks of transpose4x8
 * put each block's 4 words in memory order, with no cross-lane permute; "f64 layout" keeps blocks 0-3 | 4-7
 * and pairs words into 64 bits. */
#include "kernels.h"
#if defined(FASTINIT_HAVE_AVX2) && (defined(__x86_64__) || defined(_M_X64) || defined(__i386__))
#include <immintrin.h>
#include "philox.h"
#include "scalar_math.h"

/* Round keys, and the first rounds with the counter words that are the same for every block of one
 * 2**32-block segment folded in: counter = (b lo, b hi, s lo, s hi), and only b lo changes inside a segment.
 * Round 0 then needs one product (M0 * b lo) instead of two, round 1 one instead of two, and round 2 one key
 * xor fewer: 14 vector ops for the three rounds instead of 25 (81 per set of 4 blocks in all -> 70). Only the
 * low 32 bits of each 64-bit lane are state words; the high halves carry garbage that _mm256_mul_epu32 and
 * the final packing ignore. */
typedef struct {
    __m256i k0[FI_PHILOX_ROUNDS], k1[FI_PHILOX_ROUNDS];  /* round keys, broadcast */
    uint32_t s_lo, s_hi;                                  /* stream words of the counter */
    __m256i r0_x2;   /* x2 after round 0 = hi(M0 b lo) ^ r0_x2 */
    __m256i r1_x0;   /* x0 after round 1 = hi(M1 x2') ^ r1_x0 */
    __m256i r1_x2;   /* x2 after round 1 = x3' ^ r1_x2, with x3' = lo(M0 b lo) */
    __m256i r2_x3k;  /* x3 after round 1 (the same for every block of the segment) ^ round 2's k1 */
} philox_keys;

static void keys_init(philox_keys *K, const fi_params *p)
{
    uint32_t k0 = p->key0, k1 = p->key1;
    for (int r = 0; r < FI_PHILOX_ROUNDS; ++r) {
        K->k0[r] = _mm256_set1_epi32((int)k0);
        K->k1[r] = _mm256_set1_epi32((int)k1);
        k0 += FI_PHILOX_W0;
        k1 += FI_PHILOX_W1;
    }
    K->s_lo = (uint32_t)p->stream;
    K->s_hi = (uint32_t)(p->stream >> 32);
}

/* The folded constants of the segment whose blocks have b >> 32 == b_hi (fi_philox_round's formulas). */
static void keys_segment(philox_keys *K, uint32_t b_hi, const fi_params *p)
{
    const uint32_t k0 = p->key0, k1 = p->key1, k0r1 = k0 + FI_PHILOX_W0, k1r1 = k1 + FI_PHILOX_W1;
    const uint64_t m1s = (uint64_t)FI_PHILOX_M1 * K->s_lo;                 /* round 0: M1 * x2 */
    const uint32_t x0 = (uint32_t)(m1s >> 32) ^ b_hi ^ k0, x1 = (uint32_t)m1s;  /* x0, x1 after round 0 */
    const uint64_t m0x = (uint64_t)FI_PHILOX_M0 * x0;                      /* round 1: M0 * x0 */
    K->r0_x2 = _mm256_set1_epi64x((long long)(K->s_hi ^ k1));
    K->r1_x0 = _mm256_set1_epi64x((long long)(x1 ^ k0r1));
    K->r1_x2 = _mm256_set1_epi64x((long long)((uint32_t)(m0x >> 32) ^ k1r1));
    K->r2_x3k = _mm256_set1_epi64x((long long)((uint32_t)m0x ^ (k1r1 + FI_PHILOX_W1)));
}

#if defined(__GNUC__)
#define FI_INLINE static inline __attribute__((always_inline))
#else
#define FI_INLINE static __forceinline
#endif

/* nsets independent sets of 4 blocks (set s: blocks base + off[s] in its 64-bit lanes, all in the segment of
 * keys_segment), 10 rounds. Several sets in flight hide the 5-cycle dependency of a round (mul, shift, xor);
 * the key is xored into x1/x3 first so that it is off that critical path. */
FI_INLINE void philox_sets(int nsets, uint64_t base, const __m256i *off, const philox_keys *K, __m256i (*X)[4])
{
    const __m256i M0 = _mm256_set1_epi64x(FI_PHILOX_M0), M1 = _mm256_set1_epi64x(FI_PHILOX_M1);
    const __m256i vb = _mm256_set1_epi64x((long long)base);
    for (int s = 0; s < nsets; ++s) {
        /* rounds 0 and 1, folded: only b lo varies */
        __m256i p0 = _mm256_mul_epu32(_mm256_add_epi64(vb, off[s]), M0);
        __m256i x2 = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), K->r0_x2);
        __m256i p1 = _mm256_mul_epu32(x2, M1);
        X[s][0] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), K->r1_x0);
        X[s][1] = p1;
        X[s][2] = _mm256_xor_si256(p0, K->r1_x2);
    }
    for (int s = 0; s < nsets; ++s) {
        /* round 2: x3 ^ k1 is a segment constant too */
        __m256i x1k = _mm256_xor_si256(X[s][1], K->k0[2]);
        __m256i p0 = _mm256_mul_epu32(X[s][0], M0), p1 = _mm256_mul_epu32(X[s][2], M1);
        X[s][0] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), x1k);
        X[s][2] = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), K->r2_x3k);
        X[s][1] = p1;
        X[s][3] = p0;
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 7
#endif
    for (int r = 3; r < FI_PHILOX_ROUNDS; ++r) {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
        for (int s = 0; s < nsets; ++s) {
            __m256i x1k = _mm256_xor_si256(X[s][1], K->k0[r]), x3k = _mm256_xor_si256(X[s][3], K->k1[r]);
            __m256i p0 = _mm256_mul_epu32(X[s][0], M0), p1 = _mm256_mul_epu32(X[s][2], M1);
            X[s][0] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), x1k);
            X[s][2] = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), x3k);
            X[s][1] = p1;
            X[s][3] = p0;
        }
    }
}

/* The kernels compute FI_STEP_GROUPS groups per step (and single groups at the end of a range), each step's
 * Philox rounds in passes of 2 groups = 4 independent sets of 4 blocks, then the conversions and stores of
 * all 8 groups. bench/kernel_speed.c (one Zen 3 core, in cache, ns per value), against 1 group per step for
 * raw words and float32 uniforms and 2 for the rest with the cross-lane transpose: raw words 0.72 -> 0.55,
 * float32 uniform 0.84 -> 0.66, normal 1.68 -> 1.48, truncated normal 1.92 -> 1.77, float64 uniform
 * 1.81 -> 1.46, float64 normal 4.0 -> 3.75. 4 groups per step gave about half of that; 12 or 16 no more than 8. */
#define FI_STEP_GROUPS 8

/* Passes of 2 groups (4 sets). Compiled with -fno-wrapv (setup.py): Python's CFLAGS carry -fwrapv, and under it
 * gcc 12 made this loop's kernels ~1.6x as slow (raw words 0.55 -> 0.90 ns each); a loop over a constant pass
 * count was immune to the flag but ~10% slower than this one without it. */
FI_INLINE void philox_groups(int ngroups, uint64_t g, const __m256i *off, const philox_keys *K, __m256i (*X)[4])
{
    for (int h = 0; h < ngroups; h += 2)
        philox_sets(2 * (ngroups - h < 2 ? ngroups - h : 2), (uint64_t)FI_GROUP_BLOCKS * g, off + 2 * h, K, X + 2 * h);
}

/* ngroups (<= FI_STEP_GROUPS) consecutive groups from g in f32 layout:
 * W[4h + j] = word j of blocks 8(g+h) + (0,4,2,6,1,5,3,7). */
FI_INLINE void group_words8(int ngroups, uint64_t g, const philox_keys *K, __m256i *W)
{
    __m256i off[2 * FI_STEP_GROUPS], X[2 * FI_STEP_GROUPS][4];
    for (int h = 0; h < ngroups; ++h) {
        off[2 * h] = _mm256_setr_epi64x(8 * h + 0, 8 * h + 2, 8 * h + 1, 8 * h + 3);
        off[2 * h + 1] = _mm256_setr_epi64x(8 * h + 4, 8 * h + 6, 8 * h + 5, 8 * h + 7);
    }
    philox_groups(ngroups, g, off, K, X);
    for (int h = 0; h < ngroups; ++h)
        for (int j = 0; j < 4; ++j)
            W[4 * h + j] = _mm256_blend_epi32(X[2 * h][j], _mm256_slli_epi64(X[2 * h + 1][j], 32), 0xAA);
}

/* ngroups (<= FI_STEP_GROUPS) consecutive groups from g in f64 layout: X[s] holds blocks 8g + 4s .. 8g + 4s + 3. */
FI_INLINE void group_words_f64(int ngroups, uint64_t g, const philox_keys *K, __m256i (*X)[4])
{
    __m256i off[2 * FI_STEP_GROUPS];
    for (int s = 0; s < 2 * ngroups; ++s) off[s] = _mm256_setr_epi64x(4 * s, 4 * s + 1, 4 * s + 2, 4 * s + 3);
    philox_groups(ngroups, g, off, K, X);
}

/* 4 x 8 transpose of the f32 layout: V[j] = word j of blocks (0,4,2,6,1,5,3,7) -> memory order out[4b + j].
 * Each 128-bit half only mixes with itself (the lane order of group_words8 is chosen for that): 8 unpacks,
 * where lanes in block order need 4 more cross-lane permutes (alone, with the old step sizes: raw words
 * 0.74 -> 0.71 ns, float32 uniforms 0.84 -> 0.81 ns on one core in cache). */
static inline void transpose4x8(__m256i V[4])
{
    /* per 128-bit half: t0 = words 0,1 of blocks 0,4 | 1,5; t1 = of 2,6 | 3,7; t2, t3 the same for words 2,3 */
    __m256i t0 = _mm256_unpacklo_epi32(V[0], V[1]), t1 = _mm256_unpackhi_epi32(V[0], V[1]);
    __m256i t2 = _mm256_unpacklo_epi32(V[2], V[3]), t3 = _mm256_unpackhi_epi32(V[2], V[3]);
    V[0] = _mm256_unpacklo_epi64(t0, t2);   /* blocks 0 | 1 */
    V[1] = _mm256_unpacklo_epi64(t1, t3);   /* blocks 2 | 3 */
    V[2] = _mm256_unpackhi_epi64(t0, t2);   /* blocks 4 | 5 */
    V[3] = _mm256_unpackhi_epi64(t1, t3);   /* blocks 6 | 7 */
}

static inline __m256i bf16_rne8(__m256 v)
{
    const __m256i u = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    return _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7FFF), odd)), 16);
}

/* The 32 float32 of a group (in memory order) held in [narrow_lo, narrow_hi] and stored as 32 float16 or
 * bfloat16 (p->narrow), rounded to nearest even: 64 bytes. */
static inline void store_group16(char *dst, __m256i V[4], int ss, const fi_params *p)
{
    __m256 v[4];
    for (int j = 0; j < 4; ++j) v[j] = _mm256_castsi256_ps(V[j]);
    if (p->dist.narrow_lo > -INFINITY || p->dist.narrow_hi < INFINITY) {   /* a normal fill has no bounds to hold */
        const __m256 lo = _mm256_set1_ps(p->dist.narrow_lo), hi = _mm256_set1_ps(p->dist.narrow_hi);
        /* v < lo ? lo : v > hi ? hi : v, exactly: maxps / minps return their second operand on a tie (a zero
         * against a zero of the other sign), so v goes second and keeps its sign (-tiny held at -0 stays -0) */
        for (int j = 0; j < 4; ++j) v[j] = _mm256_min_ps(hi, _mm256_max_ps(lo, v[j]));
    }
    if (p->narrow == FI_F16) {
        for (int j = 0; j < 4; ++j) {
            __m128i h = _mm256_cvtps_ph(v[j], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            if (ss) _mm_stream_si128((__m128i *)dst + j, h);
            else _mm_storeu_si128((__m128i *)dst + j, h);
        }
        return;
    }
    for (int j = 0; j < 2; ++j) {
        /* packus works per 128-bit lane: one 64-bit permute restores the order */
        __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi32(bf16_rne8(v[2 * j]), bf16_rne8(v[2 * j + 1])), 0xD8);
        if (ss) _mm256_stream_si256((__m256i *)dst + j, b);
        else _mm256_storeu_si256((__m256i *)dst + j, b);
    }
}

/* Group `group` of a fill into out: 32 words or float32 (128 bytes), or their 16-bit roundings (p->narrow). */
static inline void store_group32(char *out, size_t group, __m256i V[4], int ss, const fi_params *p)
{
    transpose4x8(V);
    if (p->narrow) {
        store_group16(out + 64 * group, V, ss, p);
        return;
    }
    __m256i *d = (__m256i *)(out + 128 * group);
    if (ss)
        for (int j = 0; j < 4; ++j) _mm256_stream_si256(d + j, V[j]);
    else
        for (int j = 0; j < 4; ++j) _mm256_storeu_si256(d + j, V[j]);
}

/* Element pairs of the f64 layout: E lane b = element 2b, O lane b = element 2b+1 -> 8 doubles in order. */
static inline void store_pairs_f64(double *dst, __m256d E, __m256d O, int ss)
{
    __m256d lo = _mm256_unpacklo_pd(E, O), hi = _mm256_unpackhi_pd(E, O);
    __m256d o0 = _mm256_permute2f128_pd(lo, hi, 0x20), o1 = _mm256_permute2f128_pd(lo, hi, 0x31);
    if (ss) {
        _mm256_stream_pd(dst, o0);
        _mm256_stream_pd(dst + 4, o1);
    } else {
        _mm256_storeu_pd(dst, o0);
        _mm256_storeu_pd(dst + 4, o1);
    }
}

static inline void fence(int ss)
{
    if (ss) _mm_sfence();
}

/* ---------------- float32 math ---------------- */
#define F8(c) _mm256_set1_ps(c)

static inline __m256 log1p_reduced_f8(__m256 f, __m256 e)
{
    __m256 z = _mm256_mul_ps(f, f);
    __m256 p = F8(FI_LOGF_P8);
    p = _mm256_fmadd_ps(p, f, F8(FI_LOGF_P7));
    p = _mm256_fmadd_ps(p, f, F8(FI_LOGF_P6));
    p = _mm256_fmadd_ps(p, f, F8(FI_LOGF_P5));
    p = _mm256_fmadd_ps(p, f, F8(FI_LOGF_P4));
    p = _mm256_fmadd_ps(p, f, F8(FI_LOGF_P3));
    p = _mm256_fmadd_ps(p, f, F8(FI_LOGF_P2));
    p = _mm256_fmadd_ps(p, f, F8(FI_LOGF_P1));
    p = _mm256_fmadd_ps(p, f, F8(FI_LOGF_P0));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(f, z), p);
    y = _mm256_fmadd_ps(e, F8(FI_LN2_LO_F), y);
    y = _mm256_fnmadd_ps(F8(0.5f), z, y);
    return _mm256_fmadd_ps(e, F8(FI_LN2_HI_F), _mm256_add_ps(f, y));
}

static inline __m256 neg2log_f8(__m256i w)
{
    __m256i upper = _mm256_srai_epi32(w, 31);
    __m256i m = _mm256_xor_si256(w, upper);
    __m256 x = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), F8(0x1p-32f), F8(0x1p-33f));
    __m256 small = _mm256_cmp_ps(x, F8(FI_ONE_MINUS_SQRT1_2_F), _CMP_LE_OQ);
    __m256 f_up =
        _mm256_blendv_ps(_mm256_fnmadd_ps(F8(2.0f), x, F8(1.0f)), _mm256_sub_ps(_mm256_setzero_ps(), x), small);
    __m256 e_up = _mm256_andnot_ps(small, F8(-1.0f));
    __m256i b = _mm256_castps_si256(x);
    __m256i ex = _mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(126));
    __m256 mant = _mm256_castsi256_ps(
        _mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F000000)));
    __m256 lt = _mm256_cmp_ps(mant, F8(FI_SQRT1_2_F), _CMP_LT_OQ);
    mant = _mm256_blendv_ps(mant, _mm256_add_ps(mant, mant), lt);
    ex = _mm256_add_epi32(ex, _mm256_castps_si256(lt));
    __m256 f_lo = _mm256_sub_ps(mant, F8(1.0f)), e_lo = _mm256_cvtepi32_ps(ex);
    __m256 up = _mm256_castsi256_ps(upper);
    __m256 f = _mm256_blendv_ps(f_lo, f_up, up), e = _mm256_blendv_ps(e_lo, e_up, up);
    return _mm256_mul_ps(F8(-2.0f), log1p_reduced_f8(f, e));
}

static inline void sincos_2pi_f8(__m256i w, __m256 *s, __m256 *c)
{
    __m256i q = _mm256_srli_epi32(_mm256_add_epi32(w, _mm256_set1_epi32(0x20000000)), 30);
    __m256 r = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(_mm256_slli_epi32(w, 2)), F8(2.0f)),
                             F8((float)(FI_PI_2 * 0x1p-32)));
    __m256 z = _mm256_mul_ps(r, r);
    __m256 sp = _mm256_fmadd_ps(F8(FI_SINF_S3), z, F8(FI_SINF_S2));
    sp = _mm256_fmadd_ps(sp, z, F8(FI_SINF_S1));
    __m256 sr = _mm256_fmadd_ps(_mm256_mul_ps(r, z), sp, r);
    __m256 cp = _mm256_fmadd_ps(F8(FI_COSF_C3), z, F8(FI_COSF_C2));
    cp = _mm256_fmadd_ps(cp, z, F8(FI_COSF_C1));
    __m256 cr = _mm256_fmadd_ps(_mm256_mul_ps(z, z), cp, _mm256_fnmadd_ps(F8(0.5f), z, F8(1.0f)));
    const __m256i one = _mm256_set1_epi32(1), two = _mm256_set1_epi32(2);
    __m256 swap = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(q, one), one));
    __m256 so = _mm256_blendv_ps(sr, cr, swap), co = _mm256_blendv_ps(cr, sr, swap);
    __m256 sign_s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(q, two), 30));
    __m256 sign_c = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(_mm256_add_epi32(q, one), two), 30));
    *s = _mm256_xor_ps(so, sign_s);
    *c = _mm256_xor_ps(co, sign_c);
}

/* ---------------- float64 math ---------------- */
#define D4(c) _mm256_set1_pd(c)
#define I4(c) _mm256_set1_epi64x((long long)(c))
#define MAGIC52 0x4330000000000000ull  /* bits of 2^52: or-ing an integer < 2^52 in gives 2^52 + it */

/* Exact double of non-negative integers < 2^52 in 64-bit lanes. */
static inline __m256d u52_to_pd(__m256i v)
{ return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, I4(MAGIC52))), D4(0x1p52)); }

/* The 53-bit integers ((hi << 32) | lo) >> 11 from two word vectors of the f64 layout. */
static inline __m256i k53(__m256i lo, __m256i hi)
{ return _mm256_srli_epi64(_mm256_blend_epi32(lo, _mm256_slli_epi64(hi, 32), 0xAA), 11); }

static inline __m256d log1p_reduced_d4(__m256d f, __m256d e)
{
    __m256d s = _mm256_div_pd(f, _mm256_add_pd(D4(2.0), f));
    __m256d z = _mm256_mul_pd(s, s), w = _mm256_mul_pd(z, z);
    __m256d t1 = _mm256_mul_pd(w, _mm256_fmadd_pd(w, _mm256_fmadd_pd(w, D4(FI_LG6), D4(FI_LG4)), D4(FI_LG2)));
    __m256d t2 = _mm256_mul_pd(
        z, _mm256_fmadd_pd(w, _mm256_fmadd_pd(w, _mm256_fmadd_pd(w, D4(FI_LG7), D4(FI_LG5)), D4(FI_LG3)), D4(FI_LG1)));
    __m256d R = _mm256_add_pd(t2, t1);
    __m256d hfsq = _mm256_mul_pd(_mm256_mul_pd(D4(0.5), f), f);
    __m256d inner = _mm256_fmadd_pd(s, _mm256_add_pd(hfsq, R), _mm256_mul_pd(e, D4(FI_LN2_LO)));
    return _mm256_fmsub_pd(e, D4(FI_LN2_HI), _mm256_sub_pd(_mm256_sub_pd(hfsq, inner), f));
}

/* x = 2^e (1+f), 1+f in [sqrt(1/2), sqrt(2)), for normal x > 0. */
static inline __m256d reduce_d4(__m256d x, __m256d *e)
{
    __m256i b = _mm256_castpd_si256(x);
    __m256d ex = _mm256_sub_pd(u52_to_pd(_mm256_srli_epi64(b, 52)), D4(1022.0));
    __m256d mant =
        _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(b, I4(0x000FFFFFFFFFFFFFull)), I4(0x3FE0000000000000ull)));
    __m256d lt = _mm256_cmp_pd(mant, D4(FI_SQRT1_2), _CMP_LT_OQ);
    mant = _mm256_blendv_pd(mant, _mm256_add_pd(mant, mant), lt);
    *e = _mm256_add_pd(ex, _mm256_and_pd(lt, D4(-1.0)));
    return _mm256_sub_pd(mant, D4(1.0));
}

static inline __m256d log_d4(__m256d x)
{
    __m256d e, f = reduce_d4(x, &e);
    return log1p_reduced_d4(f, e);
}

static inline __m256d neg2log_d4(__m256i k)
{
    __m256i upper = _mm256_sub_epi64(_mm256_setzero_si256(), _mm256_srli_epi64(k, 52));
    __m256i m = _mm256_xor_si256(k, _mm256_and_si256(upper, I4(0x1FFFFFFFFFFFFFull)));
    __m256d x = _mm256_fmadd_pd(u52_to_pd(m), D4(0x1p-53), D4(0x1p-54));
    __m256d small = _mm256_cmp_pd(x, D4(FI_ONE_MINUS_SQRT1_2), _CMP_LE_OQ);
    __m256d f_up =
        _mm256_blendv_pd(_mm256_fnmadd_pd(D4(2.0), x, D4(1.0)), _mm256_sub_pd(_mm256_setzero_pd(), x), small);
    __m256d e_up = _mm256_andnot_pd(small, D4(-1.0));
    __m256d e_lo, f_lo = reduce_d4(x, &e_lo);
    __m256d up = _mm256_castsi256_pd(upper);
    __m256d f = _mm256_blendv_pd(f_lo, f_up, up), e = _mm256_blendv_pd(e_lo, e_up, up);
    return _mm256_mul_pd(D4(-2.0), log1p_reduced_d4(f, e));
}

static inline void sincos_2pi_d4(__m256i k, __m256d *s, __m256d *c)
{
    __m256i shifted = _mm256_add_epi64(k, I4(1ull << 50));
    __m256i q = _mm256_srli_epi64(shifted, 51);
    /* residual + 2^50 = (k + 2^50) mod 2^51, in [0, 2^51) */
    __m256d d = _mm256_sub_pd(u52_to_pd(_mm256_and_si256(shifted, I4((1ull << 51) - 1))), D4(0x1p50));
    __m256d r = _mm256_mul_pd(_mm256_add_pd(d, D4(0.5)), D4(FI_PI_2 * 0x1p-51));
    __m256d z = _mm256_mul_pd(r, r);
    __m256d sp = _mm256_fmadd_pd(D4(FI_S6), z, D4(FI_S5));
    sp = _mm256_fmadd_pd(sp, z, D4(FI_S4));
    sp = _mm256_fmadd_pd(sp, z, D4(FI_S3));
    sp = _mm256_fmadd_pd(sp, z, D4(FI_S2));
    sp = _mm256_fmadd_pd(sp, z, D4(FI_S1));
    __m256d sr = _mm256_fmadd_pd(_mm256_mul_pd(r, z), sp, r);
    __m256d cp = _mm256_fmadd_pd(D4(FI_C6), z, D4(FI_C5));
    cp = _mm256_fmadd_pd(cp, z, D4(FI_C4));
    cp = _mm256_fmadd_pd(cp, z, D4(FI_C3));
    cp = _mm256_fmadd_pd(cp, z, D4(FI_C2));
    cp = _mm256_fmadd_pd(cp, z, D4(FI_C1));
    __m256d cr = _mm256_fmadd_pd(_mm256_mul_pd(z, z), cp, _mm256_fnmadd_pd(D4(0.5), z, D4(1.0)));
    const __m256i one = I4(1), two = I4(2);
    __m256d swap = _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(q, one), one));
    __m256d so = _mm256_blendv_pd(sr, cr, swap), co = _mm256_blendv_pd(cr, sr, swap);
    __m256d sign_s = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_and_si256(q, two), 62));
    __m256d sign_c = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_and_si256(_mm256_add_epi64(q, one), two), 62));
    *s = _mm256_xor_pd(so, sign_s);
    *c = _mm256_xor_pd(co, sign_c);
}

/* The truncated normal's z = Phi^-1(p) for p = p_lo + u mass, u = (k + 1/2) 2^-24, by Acklam's rational
 * approximation. The central branch (most draws) needs only x = p - 1/2, formed in one FMA from k (absolute
 * error ~1e-17, as good as 0.5 (p - q)); the tail branch, only when a lane needs it, forms p and q = 1 - p as
 * sums of non-negative terms (accurate in far tails such as [3, 8] std) and takes min(p, q). */
typedef struct {
    __m256d a, c, plo, qhi, mass, rmax;
} trunc_consts;

static trunc_consts trunc_init(const fi_params *p)
{
    trunc_consts T;
    const double a = p->dist.mass * 0x1p-24;
    T.a = D4(a);
    T.c = D4((p->dist.p_lo - 0.5) + 0.5 * a);      /* x = k a + c */
    T.plo = D4(p->dist.p_lo);
    T.qhi = D4(p->dist.q_hi);
    T.mass = D4(p->dist.mass);
    T.rmax = D4((0.5 - FI_ACK_PLOW) * (0.5 - FI_ACK_PLOW));  /* central iff x^2 <= (1/2 - p_low)^2,
                                                                 i.e. min(p, q) >= p_low */
    return T;
}

/* Acklam's tail branch for the lanes of kd that are not central: blends its num/den into *num, *den. */
static inline void ndtri_tail_d4(__m256d kd, __m256d central, const trunc_consts *T, __m256d *num, __m256d *den)
{
    __m256d u = _mm256_mul_pd(_mm256_add_pd(kd, D4(0.5)), D4(0x1p-24));
    __m256d um = _mm256_mul_pd(_mm256_sub_pd(D4(16777215.5), kd), D4(0x1p-24));
    __m256d p = _mm256_fmadd_pd(u, T->mass, T->plo), q = _mm256_fmadd_pd(um, T->mass, T->qhi);
    __m256d t = _mm256_min_pd(p, q);
    __m256d s = _mm256_sqrt_pd(_mm256_mul_pd(D4(-2.0), log_d4(t)));
    __m256d tn = _mm256_fmadd_pd(D4(FI_ACK_C1), s, D4(FI_ACK_C2));
    tn = _mm256_fmadd_pd(tn, s, D4(FI_ACK_C3));
    tn = _mm256_fmadd_pd(tn, s, D4(FI_ACK_C4));
    tn = _mm256_fmadd_pd(tn, s, D4(FI_ACK_C5));
    tn = _mm256_fmadd_pd(tn, s, D4(FI_ACK_C6));
    __m256d td = _mm256_fmadd_pd(D4(FI_ACK_D1), s, D4(FI_ACK_D2));
    td = _mm256_fmadd_pd(td, s, D4(FI_ACK_D3));
    td = _mm256_fmadd_pd(td, s, D4(FI_ACK_D4));
    td = _mm256_fmadd_pd(td, s, D4(1.0));
    __m256d lower = _mm256_cmp_pd(p, q, _CMP_LT_OQ);
    tn = _mm256_blendv_pd(_mm256_sub_pd(_mm256_setzero_pd(), tn), tn, lower);
    *num = _mm256_blendv_pd(tn, *num, central);
    *den = _mm256_blendv_pd(td, *den, central);
}

/* z for M vectors of k at once: the central rational for all of them, then one test for a tail lane among
 * all M (rare), then the divisions. One straight run of code for M independent chains lets the compiler
 * interleave them (a branch per vector cut the code into short blocks; M = 8: 2.11 -> 1.92 ns per value on
 * one core). */
FI_INLINE void ndtri_trunc_d4xM(int m, const __m256d *kd, const trunc_consts *T, __m256d *z)
{
    __m256d num[8], den[8], central[8];
    int all = 0xF;
    for (int i = 0; i < m; ++i) {
        __m256d x = _mm256_fmadd_pd(kd[i], T->a, T->c), r = _mm256_mul_pd(x, x);
        central[i] = _mm256_cmp_pd(r, T->rmax, _CMP_LE_OQ);
        __m256d n = _mm256_fmadd_pd(D4(FI_ACK_A1), r, D4(FI_ACK_A2));
        n = _mm256_fmadd_pd(n, r, D4(FI_ACK_A3));
        n = _mm256_fmadd_pd(n, r, D4(FI_ACK_A4));
        n = _mm256_fmadd_pd(n, r, D4(FI_ACK_A5));
        n = _mm256_fmadd_pd(n, r, D4(FI_ACK_A6));
        num[i] = _mm256_mul_pd(n, x);
        __m256d d = _mm256_fmadd_pd(D4(FI_ACK_B1), r, D4(FI_ACK_B2));
        d = _mm256_fmadd_pd(d, r, D4(FI_ACK_B3));
        d = _mm256_fmadd_pd(d, r, D4(FI_ACK_B4));
        d = _mm256_fmadd_pd(d, r, D4(FI_ACK_B5));
        den[i] = _mm256_fmadd_pd(d, r, D4(1.0));
        all &= _mm256_movemask_pd(central[i]);
    }
    if (all != 0xF)
        for (int i = 0; i < m; ++i)
            if (_mm256_movemask_pd(central[i]) != 0xF) ndtri_tail_d4(kd[i], central[i], T, &num[i], &den[i]);
    for (int i = 0; i < m; ++i) z[i] = _mm256_div_pd(num[i], den[i]);
}

/* ---------------- kernels ----------------
 * Each kernel body handles NG = FI_STEP_GROUPS groups per step and 1 for each of the last groups of a range;
 * the lane arithmetic is the same either way, so the output does not depend on the grouping. */
#define FI_SEGMENT_GROUPS ((uint64_t)1 << 29)  /* 2**32 blocks / 8: groups whose blocks share b >> 32 */
#define FI_KERNEL_SEGMENTS(inner)                                                                    \
    for (size_t g = 0; g < count;) {                                                                 \
        const uint64_t first = g0 + g, left = FI_SEGMENT_GROUPS - (first & (FI_SEGMENT_GROUPS - 1)); \
        const size_t end = left < count - g ? g + (size_t)left : count;                              \
        keys_segment(&K, (uint32_t)(first >> 29), p);                                                \
        inner;                                                                                       \
    }                                                                                                \
    fence(ss)
#define FI_KERNEL_LOOP(body)             \
    FI_KERNEL_SEGMENTS(while (g < end) { \
        if (end - g >= FI_STEP_GROUPS) { \
            body(FI_STEP_GROUPS);        \
            g += FI_STEP_GROUPS;         \
        } else {                         \
            body(1);                     \
            g += 1;                      \
        }                                \
    })

static void raw_u32(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    philox_keys K;
    keys_init(&K, p);
    char *out = (char *)dst;
#define RAW_BODY(NG)                                                              \
    do {                                                                          \
        __m256i W[4 * FI_STEP_GROUPS];                                            \
        group_words8(NG, g0 + g, &K, W);                                          \
        for (int h = 0; h < NG; ++h) store_group32(out, g + h, W + 4 * h, ss, p); \
    } while (0)
    FI_KERNEL_LOOP(RAW_BODY);
}

static void uniform_f32(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    philox_keys K;
    keys_init(&K, p);
    const __m256 lo = F8((float)p->dist.low), sc = F8((float)p->dist.scale), up = F8((float)p->dist.upper);
    char *out = (char *)dst;
#define UNIFORM_BODY(NG)                                                                            \
    do {                                                                                            \
        __m256i W[4 * FI_STEP_GROUPS];                                                              \
        group_words8(NG, g0 + g, &K, W);                                                            \
        for (int j = 0; j < 4 * NG; ++j) {                                                          \
            __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(W[j], 8)), F8(0x1p-24f)); \
            /* no FMA: bit-exact with the reference */                                              \
            W[j] = _mm256_castps_si256(_mm256_min_ps(_mm256_add_ps(lo, _mm256_mul_ps(sc, u)), up)); \
        }                                                                                           \
        for (int h = 0; h < NG; ++h) store_group32(out, g + h, W + 4 * h, ss, p);                   \
    } while (0)
    FI_KERNEL_LOOP(UNIFORM_BODY);
}

static void normal_f32(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    philox_keys K;
    keys_init(&K, p);
    const __m256 mean = F8((float)p->dist.mean), sd = F8((float)p->dist.std);
    char *out = (char *)dst;
#define NORMAL_BODY(NG)                                                                     \
    do {                                                                                    \
        __m256i W[4 * FI_STEP_GROUPS];                                                      \
        group_words8(NG, g0 + g, &K, W);                                                    \
        for (int j = 0; j < 4 * NG; j += 2) {                                               \
            __m256 r = _mm256_sqrt_ps(neg2log_f8(W[j])), s, c;                              \
            sincos_2pi_f8(W[j + 1], &s, &c);                                                \
            W[j] = _mm256_castps_si256(_mm256_fmadd_ps(sd, _mm256_mul_ps(r, c), mean));     \
            W[j + 1] = _mm256_castps_si256(_mm256_fmadd_ps(sd, _mm256_mul_ps(r, s), mean)); \
        }                                                                                   \
        for (int h = 0; h < NG; ++h) store_group32(out, g + h, W + 4 * h, ss, p);           \
    } while (0)
    FI_KERNEL_LOOP(NORMAL_BODY);
}

static void truncnorm_f32(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    philox_keys K;
    keys_init(&K, p);
    const __m256d mean = D4(p->dist.mean), sd = D4(p->dist.std);
    const trunc_consts T = trunc_init(p);
    const __m256 lo = F8((float)p->dist.clamp_lo), hi = F8((float)p->dist.clamp_hi);
    char *out = (char *)dst;
#define TRUNC_BODY(NG)                                                                               \
    do {                                                                                             \
        __m256i W[4 * FI_STEP_GROUPS];                                                               \
        group_words8(NG, g0 + g, &K, W);                                                             \
        for (int j = 0; j < 4 * NG; j += 4) {                                                        \
            __m256d kd[8], z[8];                                                                     \
            for (int i = 0; i < 4; ++i) {                                                            \
                __m256i k = _mm256_srli_epi32(W[j + i], 8);                                          \
                kd[2 * i] = _mm256_cvtepi32_pd(_mm256_castsi256_si128(k));                           \
                kd[2 * i + 1] = _mm256_cvtepi32_pd(_mm256_extracti128_si256(k, 1));                  \
            }                                                                                        \
            ndtri_trunc_d4xM(8, kd, &T, z);                                                          \
            for (int i = 0; i < 4; ++i) {                                                            \
                __m256 v = _mm256_set_m128(_mm256_cvtpd_ps(_mm256_fmadd_pd(sd, z[2 * i + 1], mean)), \
                                           _mm256_cvtpd_ps(_mm256_fmadd_pd(sd, z[2 * i], mean)));    \
                W[j + i] = _mm256_castps_si256(_mm256_min_ps(_mm256_max_ps(v, lo), hi));             \
            }                                                                                        \
        }                                                                                            \
        for (int h = 0; h < NG; ++h) store_group32(out, g + h, W + 4 * h, ss, p);                    \
    } while (0)
    FI_KERNEL_LOOP(TRUNC_BODY);
}

static void uniform_f64(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    philox_keys K;
    keys_init(&K, p);
    const __m256d lo = D4(p->dist.low), sc = D4(p->dist.scale), up = D4(p->dist.upper);
    double *out = (double *)dst;
#define UNIFORM64_BODY(NG)                                                                                      \
    do {                                                                                                        \
        __m256i X[2 * FI_STEP_GROUPS][4];                                                                       \
        group_words_f64(NG, g0 + g, &K, X);                                                                     \
        for (int s = 0; s < 2 * NG; ++s) {                                                                      \
            __m256d v[2];                                                                                       \
            for (int h = 0; h < 2; ++h) {                                                                       \
                __m256i k = k53(X[s][2 * h], X[s][2 * h + 1]);                                                  \
                __m256d kd = _mm256_fmadd_pd(u52_to_pd(_mm256_srli_epi64(k, 32)), D4(0x1p32),                   \
                                             u52_to_pd(_mm256_and_si256(k, I4(0xFFFFFFFFull)))); /* exact */    \
                v[h] = _mm256_min_pd(_mm256_add_pd(lo, _mm256_mul_pd(sc, _mm256_mul_pd(kd, D4(0x1p-53)))), up); \
            }                                                                                                   \
            store_pairs_f64(out + 16 * g + 8 * s, v[0], v[1], ss);                                              \
        }                                                                                                       \
    } while (0)
    FI_KERNEL_LOOP(UNIFORM64_BODY);
}

static void normal_f64(void *dst, uint64_t g0, size_t count, const fi_params *p, int ss)
{
    philox_keys K;
    keys_init(&K, p);
    const __m256d mean = D4(p->dist.mean), sd = D4(p->dist.std);
    double *out = (double *)dst;
#define NORMAL64_BODY(NG)                                                                          \
    do {                                                                                           \
        __m256i X[2 * FI_STEP_GROUPS][4];                                                          \
        group_words_f64(NG, g0 + g, &K, X);                                                        \
        for (int s = 0; s < 2 * NG; ++s) {                                                         \
            __m256d r = _mm256_sqrt_pd(neg2log_d4(k53(X[s][0], X[s][1]))), sn, cs;                 \
            sincos_2pi_d4(k53(X[s][2], X[s][3]), &sn, &cs);                                        \
            store_pairs_f64(out + 16 * g + 8 * s, _mm256_fmadd_pd(sd, _mm256_mul_pd(r, cs), mean), \
                            _mm256_fmadd_pd(sd, _mm256_mul_pd(r, sn), mean), ss);                  \
        }                                                                                          \
    } while (0)
    FI_KERNEL_LOOP(NORMAL64_BODY);
}

fi_group_fn fi_avx2_kernel(fi_kind kind, fi_dtype dtype)
{
    int f64 = dtype == FI_F64;
    switch (kind) {
    case FI_RAW: return raw_u32;
    case FI_UNIFORM: return f64 ? uniform_f64 : uniform_f32;
    case FI_NORMAL: return f64 ? normal_f64 : normal_f32;
    /* float64 truncated normal needs erfc for its Halley step: the scalar kernel serves both paths. */
    case FI_TRUNCNORM: return f64 ? fi_generic_kernel(kind, dtype) : truncnorm_f32;
    }
    return 0;
}
int fi_avx2_compiled(void) { return 1; }

void fi_widen16_avx2(int bf16, const uint16_t *x, float *out, size_t n)
{
    size_t i = 0;
    if (bf16) {
        for (; i + 8 <= n; i += 8) {
            __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
            _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
        }
    } else {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    }
    if (i < n) fi_widen16_generic(bf16, x + i, out + i, n - i);
}
#else
void fi_widen16_avx2(int bf16, const uint16_t *x, float *out, size_t n) { fi_widen16_generic(bf16, x, out, n); }
fi_group_fn fi_avx2_kernel(fi_kind kind, fi_dtype dtype)
{
    (void)kind;
    (void)dtype;
    return 0;
}
int fi_avx2_compiled(void) { return 0; }
#endif
