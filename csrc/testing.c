/* Entry points for the tests only: the raw Philox block function and the inverse normal CDF kernel, exposed so
 * that tests can check them against known answers and their stated error bound. No fill uses them. */
#include <string.h>
#include "fastinit.h"
#include "philox.h"
#include "scalar_math.h"

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
