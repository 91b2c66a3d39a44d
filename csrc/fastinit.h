/* fastinit C core: public interface. Plain C, no Python headers; the callers validate every argument. */
#ifndef FASTINIT_H
#define FASTINIT_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a fill draws. */
typedef enum { FI_RAW = 0, FI_UNIFORM = 1, FI_NORMAL = 2, FI_TRUNCNORM = 3 } fi_kind;
/* Element type of the output buffer (FI_RAW always writes uint32). FI_F16 / FI_BF16: IEEE half and bfloat16,
 * written as 16-bit patterns: the float32 draw, held inside [dist.narrow_lo, dist.narrow_hi] and rounded to
 * nearest even. */
typedef enum { FI_F32 = 0, FI_F64 = 1, FI_U32 = 2, FI_F16 = 3, FI_BF16 = 4 } fi_dtype;

/* The distribution's parameters, by kind (the fields of fastinit.fillspec.FillSpec.params, by these names):
 *   FI_UNIFORM:   low, scale = high - low, upper = the largest value of the dtype below high (clamp)
 *   FI_NORMAL:    mean, std
 *   FI_TRUNCNORM: mean, std, clamp_lo/clamp_hi (the bounds in output units),
 *                 p_lo = Phi(alpha), q_hi = 1 - Phi(beta), mass = Phi(beta) - Phi(alpha), each computed
 *                 without cancellation by the caller
 *   FI_F16 / FI_BF16 outputs: narrow_lo, narrow_hi, values of the 16-bit type that the float32 draws are held in
 *                 before rounding (rounding is monotonic, so the rounded values stay inside: a uniform never
 *                 reaches high); -inf / +inf when there is nothing to hold. */
typedef struct {
    double low, scale, upper;
    double mean, std;
    double p_lo, q_hi, mass, clamp_lo, clamp_hi;
    float narrow_lo, narrow_hi;
} fi_dist;

/* A fill: what to draw (kind, dist), into which element type (dtype: FI_RAW writes FI_U32), from which stream of
 * which seed (the Philox key is (seed & 0xffffffff, seed >> 32)). Built and validated by the Python layer. */
typedef struct {
    fi_kind kind;
    fi_dtype dtype;
    uint64_t seed;
    uint64_t stream;
    fi_dist dist;
} fi_spec;

/* Draws come in groups of fi_group_draws(dtype): 32 float32 / uint32 / 16-bit, 16 float64 (8 Philox blocks). */
unsigned fi_group_draws(fi_dtype dtype);

/* Fill n elements of out (contiguous, of the spec's dtype) with consecutive draws of the spec's stream, from draw
 * first_skip (< fi_group_draws) of group first_group on (a stream has 2**66 float32 draws: more than a uint64
 * counts). The caller keeps them within the stream (2**61 groups). */
void fi_fill(const fi_spec *spec, void *out, size_t n, uint64_t first_group, unsigned first_skip);

/* rows pieces of row_len draws each: row r holds draws first_draw[r] .. first_draw[r] + row_len - 1 of the stream,
 * written one after the other into out. What a shard of a tensor holds when it is not one contiguous piece of the
 * whole (a column shard: one piece per row). */
void fi_fill_rows(const fi_spec *spec, void *out, size_t rows, size_t row_len, const uint64_t *first_draw);

/* The raw block function over n blocks: counters (n x 4), keys (n x 2) -> out (n x 4). */
void fi_philox4x32_array(const uint32_t *counters, const uint32_t *keys, uint32_t *out, size_t n, int rounds);

/* Inverse standard normal CDF given p and q = 1 - p (both accurate), float64; for tests of the kernel. */
void fi_ndtri_array(const double *p, const double *q, double *out, size_t n, int refine);

/* Householder reflectors (LAPACK larfg convention) of the columns of a column-major m x n matrix, m >= n, in
 * place: below the diagonal of column k the vector v_k (v_k[0] = 1 implied), tau[k], and sign[k] = sign(beta_k)
 * = sign(R_kk). With a Gaussian input, orgqr(a, tau) * diag(sign) is a Haar-distributed orthogonal matrix. */
void fi_householder_f32(float *a, size_t m, size_t n, float *tau, float *sign);
void fi_householder_f64(double *a, size_t m, size_t n, double *tau, double *sign);

/* Threads (OpenMP; 1 and ignored in a serial build). */
void fi_set_num_threads(int n);
int fi_get_num_threads(void);
/* Called in the child of a fork: if the parent ever ran a parallel region, the child stays serial (1 thread,
 * and fi_set_num_threads cannot raise it): its OpenMP runtime's threads did not survive the fork. */
void fi_after_fork_child(void);
int fi_fork_serial(void);
int fi_have_openmp(void);

/* SIMD path: 0 = portable baseline, 1 = AVX2+FMA. fi_simd_available() says what this CPU and build allow;
 * fi_set_simd() chooses (clamped to what is available) and returns the path now in use. */
int fi_simd_available(void);
int fi_set_simd(int path);
int fi_get_simd(void);

#ifdef __cplusplus
}
#endif
#endif
