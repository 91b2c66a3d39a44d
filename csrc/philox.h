/* Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
 * The whole algorithm on one screen, as in Random123's philox.h. Plain C99, no Python. */
#ifndef FASTINIT_PHILOX_H
#define FASTINIT_PHILOX_H
#include <stdint.h>

#define FI_PHILOX_M0 0xD2511F53u  /* multiplier of word 0 */
#define FI_PHILOX_M1 0xCD9E8D57u  /* multiplier of word 2 */
#define FI_PHILOX_W0 0x9E3779B9u  /* key increment, golden ratio */
#define FI_PHILOX_W1 0xBB67AE85u  /* key increment, sqrt(3) - 1 */
#define FI_PHILOX_ROUNDS 10

/* One round: (hi0,lo0) = M0*x0, (hi1,lo1) = M1*x2; x = (hi1^x1^k0, lo1, hi0^x3^k1, lo0). */
static inline void fi_philox_round(uint32_t x[4], uint32_t k0, uint32_t k1)
{
    uint64_t p0 = (uint64_t)FI_PHILOX_M0 * x[0];
    uint64_t p1 = (uint64_t)FI_PHILOX_M1 * x[2];
    uint32_t x1 = x[1], x3 = x[3];
    x[0] = (uint32_t)(p1 >> 32) ^ x1 ^ k0;
    x[1] = (uint32_t)p1;
    x[2] = (uint32_t)(p0 >> 32) ^ x3 ^ k1;
    x[3] = (uint32_t)p0;
}

/* The block function: x is the counter on entry and the output on return; the key is bumped between rounds. */
static inline void fi_philox4x32(uint32_t x[4], uint32_t k0, uint32_t k1, int rounds)
{
    for (int r = 0; r < rounds; ++r) {
        if (r > 0) {
            k0 += FI_PHILOX_W0;
            k1 += FI_PHILOX_W1;
        }
        fi_philox_round(x, k0, k1);
    }
}

/* Block b of stream s under key (k0,k1): counter = (b lo, b hi, s lo, s hi), the mapping of
 * the README's "Stream format" section. */
static inline void fi_philox_stream_block(uint32_t out[4], uint64_t block, uint64_t stream, uint32_t k0, uint32_t k1)
{
    out[0] = (uint32_t)block;
    out[1] = (uint32_t)(block >> 32);
    out[2] = (uint32_t)stream;
    out[3] = (uint32_t)(stream >> 32);
    fi_philox4x32(out, k0, k1, FI_PHILOX_ROUNDS);
}
#endif
