# cython: language_level=3
"""Thin wrapper over the C core (csrc/): buffer checks, dtype dispatch, GIL release, nothing else.

Arguments are validated by the Python layer (fastinit.generator); this module only makes sure that each
buffer is what the C function will write or read (typed memoryviews check format, contiguity, writability).
"""
from libc.stdint cimport uint32_t, uint64_t, int64_t
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer

cdef extern from "fastinit.h" nogil:
    ctypedef enum fi_kind:
        FI_RAW
        FI_UNIFORM
        FI_NORMAL
        FI_TRUNCNORM
    ctypedef enum fi_dtype:
        FI_F32
        FI_F64
        FI_U32
    ctypedef struct fi_params:
        uint32_t key0
        uint32_t key1
        uint64_t stream
        double low, scale, upper
        double mean, std
        double p_lo, q_hi, mass, clamp_lo, clamp_hi
        uint64_t first_group
        uint32_t first_skip
    void fi_fill(fi_kind kind, fi_dtype dtype, void *out, size_t n, const fi_params *params)
    void fi_philox4x32_array(const uint32_t *counters, const uint32_t *keys, uint32_t *out, size_t n, int rounds)
    void fi_ndtri_array(const double *p, const double *q, double *out, size_t n, int refine)
    void fi_householder_f32(float *a, size_t m, size_t n, float *tau, float *sign)
    void fi_householder_f64(double *a, size_t m, size_t n, double *tau, double *sign)
    void fi_set_num_threads(int n)
    int fi_get_num_threads()
    int fi_have_openmp()
    int fi_simd_available()
    int fi_set_simd(int path)
    int fi_get_simd()

RAW = FI_RAW
UNIFORM = FI_UNIFORM
NORMAL = FI_NORMAL
TRUNCNORM = FI_TRUNCNORM
SIMD_NAMES = ("baseline", "avx2")


def fill(int kind, object out, uint64_t seed, uint64_t stream, double low=0.0, double scale=1.0,
         double upper=1.0, double mean=0.0, double std=1.0, double p_lo=0.0, double q_hi=0.0,
         double mass=1.0, double clamp_lo=0.0, double clamp_hi=0.0, object offset=0):
    """Fill the 1-D contiguous array `out` (uint32 for RAW, else float32/float64) with draws offset ..
    offset + n - 1 of the stream (a non-negative int; the stream has 2**61 groups of 32 float32 / uint32 or 16
    float64 draws, checked here)."""
    cdef float[::1] f32
    cdef double[::1] f64
    cdef uint32_t[::1] u32
    cdef void *ptr = NULL
    cdef size_t n
    cdef fi_dtype dtype
    cdef fi_params p
    if kind == FI_RAW:
        u32 = out
        n = u32.shape[0]
        dtype = FI_U32
        if n:
            ptr = &u32[0]
    elif out.dtype.itemsize == 4:
        f32 = out
        n = f32.shape[0]
        dtype = FI_F32
        if n:
            ptr = &f32[0]
    else:
        f64 = out
        n = f64.shape[0]
        dtype = FI_F64
        if n:
            ptr = &f64[0]
    if n == 0:
        return
    group, skip = 0, 0
    if offset:
        per_group = 16 if dtype == FI_F64 else 32
        if offset < 0 or offset + n > (1 << 61) * per_group:
            raise ValueError(f"offset {offset} + {n} draws is outside the stream's {(1 << 61) * per_group} draws")
        group, skip = divmod(offset, per_group)
    p.key0 = <uint32_t>(seed & 0xffffffffu)
    p.key1 = <uint32_t>(seed >> 32)
    p.stream = stream
    p.low = low; p.scale = scale; p.upper = upper
    p.mean = mean; p.std = std
    p.p_lo = p_lo; p.q_hi = q_hi; p.mass = mass; p.clamp_lo = clamp_lo; p.clamp_hi = clamp_hi
    p.first_group = group
    p.first_skip = skip
    with nogil:
        fi_fill(<fi_kind>kind, dtype, ptr, n, &p)


def philox4x32(const uint32_t[:, ::1] counters, const uint32_t[:, ::1] keys, uint32_t[:, ::1] out, int rounds):
    """The raw block function, row by row: counters (n, 4), keys (n, 2) -> out (n, 4)."""
    cdef size_t n = counters.shape[0]
    if counters.shape[1] != 4 or keys.shape[1] != 2 or out.shape[1] != 4 or keys.shape[0] != n or out.shape[0] != n:
        raise ValueError("philox4x32 buffers must be (n, 4), (n, 2), (n, 4)")
    if n == 0:
        return
    with nogil:
        fi_philox4x32_array(&counters[0, 0], &keys[0, 0], &out[0, 0], n, rounds)


def ndtri(const double[::1] p, const double[::1] q, double[::1] out, bint refine):
    """The C inverse normal CDF kernel (Phi(z) = p, q = 1 - p), exposed to test its stated error bound."""
    cdef size_t n = p.shape[0]
    if q.shape[0] != n or out.shape[0] != n:
        raise ValueError("ndtri buffers must have one length")
    if n == 0:
        return
    with nogil:
        fi_ndtri_array(&p[0], &q[0], &out[0], n, refine)


def householder(object a, object tau, object sign):
    """Householder reflectors of the columns of a (Fortran-contiguous (m, n), m >= n), in place; tau and sign
    (length n) receive the scalars and the signs of R's diagonal. float32 or float64, one dtype for all."""
    cdef float[::1, :] a32
    cdef double[::1, :] a64
    cdef float[::1] t32, s32
    cdef double[::1] t64, s64
    cdef size_t m, n
    if a.dtype.itemsize == 4:
        a32 = a; t32 = tau; s32 = sign
        m = a32.shape[0]; n = a32.shape[1]
        if m < n or t32.shape[0] != n or s32.shape[0] != n:
            raise ValueError("householder needs m >= n and tau, sign of length n")
        if n:
            with nogil:
                fi_householder_f32(&a32[0, 0], m, n, &t32[0], &s32[0])
    else:
        a64 = a; t64 = tau; s64 = sign
        m = a64.shape[0]; n = a64.shape[1]
        if m < n or t64.shape[0] != n or s64.shape[0] != n:
            raise ValueError("householder needs m >= n and tau, sign of length n")
        if n:
            with nogil:
                fi_householder_f64(&a64[0, 0], m, n, &t64[0], &s64[0])


def set_num_threads(int n):
    fi_set_num_threads(n)


def get_num_threads():
    return fi_get_num_threads()


def have_openmp():
    return bool(fi_have_openmp())


def simd_available():
    """Names of the SIMD paths this build and CPU can run, best last."""
    return SIMD_NAMES[:fi_simd_available() + 1]


def set_simd(str name):
    """Choose the SIMD path ('baseline' or 'avx2'); returns the name of the path now in use."""
    if name not in SIMD_NAMES:
        raise ValueError(f"simd path must be one of {SIMD_NAMES}, got {name!r}")
    return SIMD_NAMES[fi_set_simd(SIMD_NAMES.index(name))]


def get_simd():
    return SIMD_NAMES[fi_get_simd()]


# ------------------------------------------------------------------------------------------ layer step

cdef extern from "layer.h" nogil:
    ctypedef struct fi_stats:
        int64_t count, zeros, saturated, nonfinite
        double shift, sum, sumsq, min, max
    ctypedef struct fi_layer:
        int f64
        void *gemm
        size_t batch, n_in, n_out
        const void *h_in
        const void *w
        const void *bias
        void *p
        void *h_out
        int batchnorm
        double bn_eps
        double *bn_invstd
        int act
        double alpha
        int saturation
        int bins
        double p_range[2]
        double h_range[2]
        fi_stats p_stats, h_stats
        int64_t *p_hist
        int64_t *h_hist
        int status
    ctypedef struct fi_layer_back:
        int f64
        void *gemm
        size_t batch, n_in, n_out
        const void *h_in
        const void *w
        const void *p
        const void *h_out
        int batchnorm
        const double *bn_invstd
        int act
        double alpha
        void *g
        void *g_in
        void *g_w
        fi_stats gh_stats, gp_stats
        double gw_norm
        int status
    enum: FI_MAX_BINS
    enum: FI_LAYER_OK
    void fi_layer_forward(fi_layer *L)
    void fi_layer_backward(fi_layer_back *B)
    void fi_activation_apply(int f64, int act, double alpha, const void *x, void *y, size_t n)

MAX_BINS = FI_MAX_BINS   # the most histogram bins a layer step takes

cdef void *_gemm_pointers[2]
_gemm_pointers[0] = NULL
_gemm_pointers[1] = NULL


def _load_scipy_blas():
    """Import scipy.linalg.cython_blas. When that first loads SciPy's OpenBLAS, ask it (unless the user chose) to
    put its threads to sleep right after each product instead of spinning for ~0.1 s: on a small machine the
    spinning threads take the cores from the fused pass that follows every product (measured on 2 cores:
    depth 10 x width 500 simulate 67 -> 48 ms). OpenBLAS reads the variable once, when it loads."""
    import os
    import sys
    unset = "scipy.linalg.cython_blas" not in sys.modules and not any(
        k in os.environ for k in ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT"))
    if unset:
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = "4"   # 2**4 cycles, OpenBLAS's minimum
    try:
        from scipy.linalg import cython_blas
    finally:
        if unset:
            del os.environ["OPENBLAS_THREAD_TIMEOUT"]
    return cython_blas


cdef void *_gemm(bint f64) except NULL:
    """sgemm / dgemm of the BLAS that SciPy ships, from scipy.linalg.cython_blas's C-API capsules."""
    if _gemm_pointers[f64] == NULL:
        cython_blas = _load_scipy_blas()
        capsule = cython_blas.__pyx_capi__["dgemm" if f64 else "sgemm"]
        _gemm_pointers[f64] = PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))
    return _gemm_pointers[f64]


cdef void *_addr(object a, object dtype, Py_ssize_t size) except NULL:
    """The data pointer of a C-contiguous array of this dtype and size (the Python layer made it so)."""
    if a.dtype != dtype or not a.flags.c_contiguous or a.size != size or (size and not a.flags.aligned):
        raise ValueError(f"layer buffer must be a C-contiguous {dtype} array of {size} elements")
    return <void *><size_t>a.ctypes.data if size else <void *>1


cdef dict _stats(fi_stats s):
    return {"count": s.count, "zeros": s.zeros, "saturated": s.saturated, "nonfinite": s.nonfinite,
            "mean": s.shift + (s.sum / s.count if s.count else 0.0),
            "m2": s.sumsq - (s.sum * s.sum / s.count if s.count else 0.0), "min": s.min, "max": s.max}


def _layer_shape(h_in, w, what):
    """(is float64, dtype, batch, n_in, n_out) of a layer call; the sizes must be non-zero."""
    import numpy as np
    batch, n_in, n_out = h_in.shape[0], h_in.shape[1], w.shape[0]
    if batch == 0 or n_in == 0 or n_out == 0:
        raise ValueError(f"{what} needs non-empty shapes")
    return h_in.dtype == np.float64, h_in.dtype, batch, n_in, n_out


def layer_forward(h_in, w, bias, p, h_out, bint batchnorm, double bn_eps, bn_invstd, int act, double alpha,
                  int saturation, int bins, tuple p_range, tuple h_range, p_hist, h_hist):
    """One layer: P = h_in w^T (+ bias), [batch norm], H = act(P), statistics and histograms (C: fi_layer_forward).
    Returns (p_stats, h_stats, p_range_used, h_range_used)."""
    import numpy as np
    cdef fi_layer L
    f64, dt, L.batch, L.n_in, L.n_out = _layer_shape(h_in, w, "layer_forward")
    if bins < 1 or bins > FI_MAX_BINS:
        raise ValueError(f"layer_forward needs 1 <= bins <= {FI_MAX_BINS}, got {bins}")
    L.f64 = f64
    L.gemm = _gemm(f64)
    L.h_in = _addr(h_in, dt, L.batch * L.n_in)
    L.w = _addr(w, dt, L.n_out * L.n_in)
    L.bias = _addr(bias, dt, L.n_out) if bias is not None else NULL
    L.p = _addr(p, dt, L.batch * L.n_out)
    L.h_out = _addr(h_out, dt, L.batch * L.n_out)
    L.batchnorm = batchnorm
    L.bn_eps = bn_eps
    L.bn_invstd = <double *>_addr(bn_invstd, np.float64, L.n_out) if batchnorm else NULL
    L.act = act
    L.alpha = alpha
    L.saturation = saturation
    L.bins = bins
    L.p_range[0] = p_range[0]; L.p_range[1] = p_range[1]
    L.h_range[0] = h_range[0]; L.h_range[1] = h_range[1]
    L.p_hist = <int64_t *>_addr(p_hist, np.int64, bins)
    L.h_hist = <int64_t *>_addr(h_hist, np.int64, bins)
    with nogil:
        fi_layer_forward(&L)
    if L.status != FI_LAYER_OK:
        raise MemoryError(f"out of memory for the scratch of a layer step (statistics partials, batch-norm sums, "
                          f"histogram copies of {bins} bins); nothing was written")
    return _stats(L.p_stats), _stats(L.h_stats), (L.p_range[0], L.p_range[1]), (L.h_range[0], L.h_range[1])


def layer_backward(h_in, w, p, h_out, bint batchnorm, bn_invstd, int act, double alpha, g, g_in, g_w):
    """Backward step (C: fi_layer_backward): g holds dL/dH_out on entry and dL/dP on return; g_in receives
    dL/dH_in unless None. Returns (gh_stats, gp_stats, |dL/dW|_F)."""
    import numpy as np
    cdef fi_layer_back B
    f64, dt, B.batch, B.n_in, B.n_out = _layer_shape(h_in, w, "layer_backward")
    B.f64 = f64
    B.gemm = _gemm(f64)
    B.h_in = _addr(h_in, dt, B.batch * B.n_in)
    B.w = _addr(w, dt, B.n_out * B.n_in)
    B.p = _addr(p, dt, B.batch * B.n_out)
    B.h_out = _addr(h_out, dt, B.batch * B.n_out)
    B.batchnorm = batchnorm
    B.bn_invstd = <double *>_addr(bn_invstd, np.float64, B.n_out) if batchnorm else NULL
    B.act = act
    B.alpha = alpha
    B.g = _addr(g, dt, B.batch * B.n_out)
    B.g_in = _addr(g_in, dt, B.batch * B.n_in) if g_in is not None else NULL
    B.g_w = _addr(g_w, dt, B.n_out * B.n_in)
    with nogil:
        fi_layer_backward(&B)
    if B.status != FI_LAYER_OK:
        raise MemoryError("out of memory for the statistics partials of a backward layer step; nothing was written")
    return _stats(B.gh_stats), _stats(B.gp_stats), B.gw_norm


def activation(int act, double alpha, x, y):
    """y = act(x) elementwise with the engine's kernel (C: fi_activation_apply); x, y contiguous, same dtype."""
    import numpy as np
    cdef bint f64 = x.dtype == np.float64
    cdef size_t n = x.size
    cdef void *px = _addr(x, x.dtype, n)
    cdef void *py = _addr(y, x.dtype, n)
    if n:
        with nogil:
            fi_activation_apply(f64, act, alpha, px, py, n)
