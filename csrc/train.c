/* SGD with momentum and weight decay (train.h). One pass over the parameters; the arithmetic is in the buffers'
 * type, as torch's is, so a float32 step rounds where torch's rounds. Element-wise, so splitting it over threads
 * changes no value. */
#include "train.h"
#include "layer_internal.h"

#ifdef _OPENMP
#define FI_SGD_PARALLEL _Pragma("omp parallel for schedule(static) num_threads(threads) if (threads > 1)")
#else
#define FI_SGD_PARALLEL
#endif

#define FI_SGD_BODY(T)                                                    \
    do {                                                                  \
        T *W = (T *)w, *V = (T *)v;                                       \
        const T *G = (const T *)g;                                        \
        const T rate = (T)lr, mom = (T)momentum, decay = (T)weight_decay; \
        const int threads = fi_layer_threads(n);                          \
        (void)threads;                                                    \
        FI_SGD_PARALLEL                                                   \
        for (long long i = 0; i < (long long)n; ++i) {                    \
            T d = decay != 0 ? G[i] + decay * W[i] : G[i];                \
            if (V) {                                                      \
                V[i] = mom * V[i] + d;                                    \
                d = V[i];                                                 \
            }                                                             \
            W[i] = W[i] - rate * d;                                       \
        }                                                                 \
    } while (0)

void fi_sgd_step(int f64, void *w, const void *g, void *v, size_t n, double lr, double momentum, double weight_decay)
{
    if (momentum == 0) v = 0;
    if (f64) FI_SGD_BODY(double);
    else FI_SGD_BODY(float);
}
