/* Householder reflectors for the orthogonal initializer (Stewart 1980): column k of a Gaussian matrix, from row k
 * down, becomes the k-th reflector of a Haar-distributed Q, in LAPACK's larfg convention so that orgqr can form Q.
 * Plain C99, no Python. Accumulates in double: the reflector is exactly orthogonal only when tau matches v. */
#include <math.h>
#include "fastinit.h"

#define FI_HOUSEHOLDER(NAME, T)                                                               \
    void NAME(T *a, size_t m, size_t n, T *tau, T *sign)                                      \
    {                                                                                         \
        for (size_t k = 0; k < n; ++k) {                                                      \
            T *x = a + k * m + k;                /* column k, rows k .. m-1 (column-major) */ \
            size_t len = m - k;                                                               \
            double alpha = x[0], ss = 0.0;                                                    \
            for (size_t i = 0; i < len; ++i) ss += (double)x[i] * (double)x[i];               \
            double norm = sqrt(ss);                                                           \
            if (norm == 0.0) {                                                                \
                tau[k] = 0;                                                                   \
                sign[k] = 1;                                                                  \
                continue;                                                                     \
            }   /* H_k = I */                                                                 \
            double beta = alpha >= 0 ? -norm : norm;                                          \
            double scale = 1.0 / (alpha - beta);                                              \
            for (size_t i = 1; i < len; ++i) x[i] = (T)(x[i] * scale);                        \
            tau[k] = (T)((beta - alpha) / beta);                                              \
            sign[k] = beta >= 0 ? 1 : -1;                                                     \
        }                                                                                     \
    }

FI_HOUSEHOLDER(fi_householder_f32, float)
FI_HOUSEHOLDER(fi_householder_f64, double)
