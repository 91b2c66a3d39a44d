/* The training step's update: stochastic gradient descent with momentum and weight decay, in place, in one pass.
 * Plain C, no Python; the caller validates the buffers. */
#ifndef FASTINIT_TRAIN_H
#define FASTINIT_TRAIN_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* torch.optim.SGD's step (dampening 0, not Nesterov), element by element in torch's order of operations:
 *     d = g + weight_decay * w;   v = momentum * v + d;   w = w - lr * v
 * (v = d when momentum is 0; v may then be NULL). Buffers of n floats (f64 = 0) or doubles (f64 = 1). */
void fi_sgd_step(int f64, void *w, const void *g, void *v, size_t n, double lr, double momentum, double weight_decay);

#ifdef __cplusplus
}
#endif
#endif
