/* The speed floor of Philox4x32-10 with AVX2 on one core: rounds only, no conversion, no stores.
 * Explains bench/RESULTS.md: a fill cannot be faster than generating its words.
 *   gcc -O3 -mavx2 -mfma bench/philox_floor.c -o /tmp/philox_floor && /tmp/philox_floor
 * Prints ns per 32-bit word for 1..6 independent sets of 4 blocks in flight (64-bit lanes, the layout of
 * csrc/kernels_avx2.c: 2 vpmuludq + 2 vpsrlq + 4 vpxor per set and round), in the plain form (every round
 * computed) and with rounds 0 and 1 folded as the kernels do (the counter words that are constant within a
 * fill precomputed: 7 ops instead of 17 for the two rounds; see philox_keys in csrc/kernels_avx2.c). */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec a;
    clock_gettime(CLOCK_MONOTONIC, &a);
    return a.tv_sec + a.tv_nsec * 1e-9;
}

#define RUN(NS, FOLD)                                                                                  \
    static double run##NS##_##FOLD(uint64_t nblk, __m256i *acc)                                        \
    {                                                                                                  \
        const __m256i M0 = _mm256_set1_epi64x(0xD2511F53), M1 = _mm256_set1_epi64x(0xCD9E8D57);        \
        const __m256i C0 = _mm256_set1_epi64x(0x1234567), C1 = _mm256_set1_epi64x(0x2345678);          \
        const __m256i C2 = _mm256_set1_epi64x(0x3456789);                                              \
        double t = now();                                                                              \
        for (uint64_t b = 0; b < nblk; b += 4 * NS) {                                                  \
            __m256i X[NS][4];                                                                          \
            for (int s = 0; s < NS; s++) {                                                             \
                X[s][0] = _mm256_set1_epi64x(b + 4 * s); X[s][1] = _mm256_setzero_si256();             \
                X[s][2] = _mm256_set1_epi64x(7); X[s][3] = _mm256_setzero_si256();                     \
                if (FOLD) { /* rounds 0 and 1 folded: 2 products, 2 shifts, 3 xors (the kernels' form) */ \
                    __m256i p0 = _mm256_mul_epu32(X[s][0], M0);                                        \
                    __m256i x2 = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), C0);                      \
                    __m256i p1 = _mm256_mul_epu32(x2, M1);                                             \
                    X[s][0] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), C1);                         \
                    X[s][1] = p1; X[s][2] = _mm256_xor_si256(p0, C2); X[s][3] = C0;                    \
                }                                                                                      \
            }                                                                                          \
            uint32_t k0 = 1, k1 = 2;                                                                   \
            for (int r = FOLD ? 2 : 0; r < 10; r++) {                                                  \
                __m256i K0 = _mm256_set1_epi32(k0), K1 = _mm256_set1_epi32(k1);                        \
                for (int s = 0; s < NS; s++) {                                                         \
                    __m256i x1k = _mm256_xor_si256(X[s][1], K0), x3k = _mm256_xor_si256(X[s][3], K1);  \
                    __m256i p0 = _mm256_mul_epu32(X[s][0], M0), p1 = _mm256_mul_epu32(X[s][2], M1);    \
                    X[s][0] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), x1k);                        \
                    X[s][2] = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), x3k);                        \
                    X[s][1] = p1; X[s][3] = p0;                                                        \
                }                                                                                      \
                k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;                                                  \
            }                                                                                          \
            for (int s = 0; s < NS; s++)                                                               \
                for (int j = 0; j < 4; j++) *acc = _mm256_add_epi32(*acc, X[s][j]);                    \
        }                                                                                              \
        return (now() - t) / (double)(nblk * 4) * 1e9;                                                 \
    }
RUN(1, 0) RUN(2, 0) RUN(3, 0) RUN(4, 0) RUN(6, 0)
RUN(1, 1) RUN(2, 1) RUN(3, 1) RUN(4, 1) RUN(6, 1)

int main(void)
{
    __m256i acc = _mm256_setzero_si256();
    uint64_t nblk = 12ull << 21;   /* divisible by 4 * NS for every NS */
    printf("sets  ns/word (plain)  ns/word (folded)\n");
    printf("1     %.3f          %.3f\n", run1_0(nblk, &acc), run1_1(nblk, &acc));
    printf("2     %.3f          %.3f\n", run2_0(nblk, &acc), run2_1(nblk, &acc));
    printf("3     %.3f          %.3f\n", run3_0(nblk, &acc), run3_1(nblk, &acc));
    printf("4     %.3f          %.3f\n", run4_0(nblk, &acc), run4_1(nblk, &acc));
    printf("6     %.3f          %.3f\n", run6_0(nblk, &acc), run6_1(nblk, &acc));
    return _mm256_extract_epi32(acc, 0) == 42;
}
