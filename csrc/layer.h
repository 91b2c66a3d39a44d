/* One layer of the simulation engine: P = H W^T (+ b) through the caller's BLAS gemm, then in row chunks, fused:
 * optional batch normalization, the activation, and the statistics and histograms of P and H; and the backward
 * step. Plain C, no Python; the caller validates every argument and passes the BLAS function pointer. */
#ifndef FASTINIT_LAYER_H
#define FASTINIT_LAYER_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fortran BLAS ?gemm, as scipy.linalg.cython_blas exports it. */
typedef void (*fi_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k, float *alpha, float *a, int *lda,
                            float *b, int *ldb, float *beta, float *c, int *ldc);
typedef void (*fi_dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k, double *alpha, double *a, int *lda,
                            double *b, int *ldb, double *beta, double *c, int *ldc);

typedef enum {
    FI_ACT_LINEAR = 0,
    FI_ACT_SIGMOID,
    FI_ACT_TANH,
    FI_ACT_RELU,
    FI_ACT_LEAKY_RELU,
    FI_ACT_ELU,
    FI_ACT_SELU,
    FI_ACT_GELU,
    FI_ACT_SILU,
    FI_ACT_SOFTPLUS,
    FI_ACT_COUNT
} fi_activation;
/* The name of each fi_activation code, in enum order (the Python layer maps its table's rows by these names). */
extern const char *const fi_activation_names[FI_ACT_COUNT];

/* The most histogram bins a layer takes (bin indices are int32 over FI_HIST_COPIES copies; float32 bin positions
 * are exact up to 2**24); the caller checks. */
#define FI_MAX_BINS (1 << 24)

/* status of a layer call: FI_LAYER_NOMEM when its scratch could not be allocated; it then wrote nothing. */
enum { FI_LAYER_OK = 0, FI_LAYER_NOMEM = 1 };

/* Saturation counted in the statistics of H: none, |h| > 0.99 (tanh), h < 0.01 or h > 0.99 (sigmoid), i.e.
 * |h - centre| > limit. The one home of these thresholds (fastinit._core exports them to the Python layer). */
typedef enum { FI_SAT_NONE = 0, FI_SAT_ABS = 1, FI_SAT_UNIT = 2 } fi_saturation;
#define FI_SAT_ABS_LIMIT 0.99
#define FI_SAT_UNIT_LIMIT 0.49
#define FI_SAT_UNIT_CENTRE 0.5

/* Statistics of one array. Sums are over the finite values, of (x - shift), shift = the first finite value
 * of the array (it keeps the variance free of cancellation). */
typedef struct {
    int64_t count, zeros, saturated, nonfinite;
    double shift, sum, sumsq, min, max;
} fi_stats;

typedef struct {
    int f64;                  /* buffers are double (1) or float (0) */
    void *gemm;               /* fi_sgemm_fn or fi_dgemm_fn */
    size_t batch, n_in, n_out;
    const void *h_in;         /* batch x n_in, row-major */
    const void *w;            /* n_out x n_in, row-major (torch Linear layout) */
    const void *bias;         /* n_out, or NULL */
    void *p;                  /* out: batch x n_out, the activation's input (batch-normalized if batchnorm) */
    void *h_out;              /* out: batch x n_out */
    int batchnorm;
    double bn_eps;
    double *bn_invstd;        /* out when batchnorm: n_out values 1 / sqrt(var + eps) */
    int act;                  /* fi_activation */
    double alpha;             /* leaky_relu / prelu slope, elu alpha */
    int saturation;           /* fi_saturation */
    int bins;                 /* histogram bins, 1 .. FI_MAX_BINS */
    double p_range[2], h_range[2];  /* in: histogram ranges, NaN = the layer's [min, max]; out: the ranges used */
    int stats;                      /* 1: the statistics and histograms below; 0: P and H only (training steps
                                       that record nothing), p_stats / h_stats cleared, histograms untouched */
    fi_stats p_stats, h_stats;      /* out */
    int64_t *p_hist, *h_hist;       /* out: bins counts each (values outside the range are not counted) */
    int status;                     /* out: FI_LAYER_OK or FI_LAYER_NOMEM */
} fi_layer;

typedef struct {
    int f64;
    void *gemm;
    size_t batch, n_in, n_out;
    const void *h_in;         /* the layer's input, batch x n_in */
    const void *w;            /* n_out x n_in */
    const void *p;            /* the layer's activation input (after batch norm) */
    const void *h_out;        /* the layer's output */
    int batchnorm;
    const double *bn_invstd;
    int act;
    double alpha;
    void *g;                  /* in: dL/dH_out (batch x n_out); out: dL/dP, P = H_in W^T + b before batch norm */
    void *g_in;               /* out: dL/dH_in (batch x n_in), or NULL to skip */
    void *g_w;                /* scratch n_out x n_in: dL/dW */
    int stats;                /* 1: the statistics below; 0: gradients only (stats cleared, gw_norm NaN) */
    fi_stats gh_stats, gp_stats;  /* out: of dL/dH_out and dL/dP */
    double gw_norm;           /* out: Frobenius norm of dL/dW */
    int status;               /* out: FI_LAYER_OK or FI_LAYER_NOMEM */
} fi_layer_back;

/* The histogram range rule: a NaN range becomes the data's [min, max] (widened by 1/2 when flat, [0, 1] without
 * finite data); a given range is kept. */
void fi_hist_range(double range[2], const fi_stats *s);

void fi_layer_forward(fi_layer *L);
void fi_layer_backward(fi_layer_back *B);
/* The activation alone, elementwise (for tests of its kernel). */
void fi_activation_apply(int f64, int act, double alpha, const void *x, void *y, size_t n);

#ifdef __cplusplus
}
#endif
#endif
