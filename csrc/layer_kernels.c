/* Layer kernels for float and double, instantiated from layer_impl.h. Compiled as is for the portable baseline;
 * layer_kernels_avx2.c compiles it again with AVX2+FMA code generation (FI_LAYER_ISA=avx2). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "layer_internal.h"
#include "layer_math.h"

#ifndef FI_LAYER_ISA
#define FI_LAYER_ISA base
#endif
#define FI_CAT3_(a, b, c) a##_##b##_##c
#define FI_CAT3(a, b, c) FI_CAT3_(a, b, c)
#define FI_CAT2_(a, b) a##_##b
#define FI_CAT2(a, b) FI_CAT2_(a, b)

#define FI_T float
#define FI_N(x) FI_CAT3(x, f32, FI_LAYER_ISA)
#define FI_GEMM fi_sgemm_fn
#define FI_EXP fi_expf
#define FI_TANH fi_tanhf
#define FI_ERF fi_erff
#define FI_LOG1P log1pf
#define FI_NEXTAFTER nextafterf
#define FI_EXPM1 fi_expm1f
#include "layer_impl.h"
#undef FI_T
#undef FI_N
#undef FI_GEMM
#undef FI_EXP
#undef FI_TANH
#undef FI_ERF
#undef FI_LOG1P
#undef FI_NEXTAFTER
#undef FI_EXPM1

#define FI_T double
#define FI_N(x) FI_CAT3(x, f64, FI_LAYER_ISA)
#define FI_GEMM fi_dgemm_fn
#define FI_EXP exp
#define FI_TANH tanh
#define FI_ERF erf
#define FI_LOG1P log1p
#define FI_NEXTAFTER nextafter
#define FI_EXPM1 expm1
#include "layer_impl.h"

static const fi_layer_kernels kernels = {
    {FI_CAT3(forward, f32, FI_LAYER_ISA), FI_CAT3(forward, f64, FI_LAYER_ISA)},
    {FI_CAT3(backward, f32, FI_LAYER_ISA), FI_CAT3(backward, f64, FI_LAYER_ISA)},
    {FI_CAT3(activation_apply, f32, FI_LAYER_ISA), FI_CAT3(activation_apply, f64, FI_LAYER_ISA)},
    {FI_CAT3(stats_piece, f32, FI_LAYER_ISA), FI_CAT3(stats_piece, f64, FI_LAYER_ISA)},
    {FI_CAT3(hist_piece, f32, FI_LAYER_ISA), FI_CAT3(hist_piece, f64, FI_LAYER_ISA)},
};

const fi_layer_kernels *FI_CAT2(fi_layer_kernels, FI_LAYER_ISA)(void) { return &kernels; }
