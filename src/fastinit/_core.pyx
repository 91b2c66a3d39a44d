# cython: language_level=3
"""Thin wrapper over the C core (csrc/): buffer checks, dtype dispatch, GIL release, nothing else.

Arguments are validated by the Python layer (fastinit.generator); this module only makes sure that each
buffer is what the C function will write or read (typed memoryviews check format, contiguity, writability).
"""
from libc.stdint cimport uint16_t, uint32_t, uint64_t, int64_t
from cpython.exc cimport PyErr_CheckSignals
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
        FI_F16
        FI_BF16
    ctypedef struct fi_params:
        uint32_t key0
        uint32_t key1
        uint64_t stream
        double low, scale, upper
        double mean, std
        double p_lo, q_hi, mass, clamp_lo, clamp_hi
        uint64_t first_group
        uint32_t first_skip
        float narrow_lo, narrow_hi
        int narrow
    void fi_fill(fi_kind kind, fi_dtype dtype, void *out, size_t n, const fi_params *params)
    void fi_fill_rows(fi_kind kind, fi_dtype dtype, void *out, size_t rows, size_t row_len,
                      const uint64_t *first_draw, const fi_params *params)
    void fi_philox4x32_array(const uint32_t *counters, const uint32_t *keys, uint32_t *out, size_t n, int rounds)
    void fi_ndtri_array(const double *p, const double *q, double *out, size_t n, int refine)
    void fi_householder_f32(float *a, size_t m, size_t n, float *tau, float *sign)
    void fi_householder_f64(double *a, size_t m, size_t n, double *tau, double *sign)
    void fi_set_num_threads(int n)
    int fi_get_num_threads()
    void fi_after_fork_child()
    int fi_fork_serial()
    int fi_have_openmp()
    int fi_simd_available()
    int fi_set_simd(int path)
    int fi_get_simd()

RAW = FI_RAW
UNIFORM = FI_UNIFORM
F16 = FI_F16     # 16-bit outputs of fill(..., narrow=): IEEE half and bfloat16, as uint16 bit patterns
BF16 = FI_BF16
NORMAL = FI_NORMAL
TRUNCNORM = FI_TRUNCNORM
SIMD_NAMES = ("baseline", "avx2")


ctypedef fused fill_t:
    uint16_t
    uint32_t
    float
    double

ctypedef fused real:
    float
    double


# A long fill runs in pieces of this many elements (whole groups), checking for signals between them, so that
# Ctrl-C stops it within a piece (~2-300 ms) instead of at its end; the pieces hold the numbers of one fill.
PIECE = 1 << 22


cdef _fill_buffer(fill_t[::1] out, fi_kind kind, fi_params *p, fi_dtype narrow, object offset):
    """fi_fill over the whole of `out`, without the GIL, piece by piece (the element type chooses the C dtype;
    16-bit outputs are FI_F16 or FI_BF16 as `narrow` says). On a signal whose handler raises (Ctrl-C), the pieces
    done so far hold their draws, the rest of `out` is untouched, and the exception propagates."""
    cdef fi_dtype dtype = FI_U32 if fill_t is uint32_t else (FI_F32 if fill_t is float else FI_F64)
    cdef size_t n = out.shape[0], start = 0, count
    cdef int per_group = 16 if fill_t is double else 32
    if fill_t is uint16_t:
        dtype = narrow
    while start < n:
        count = n - start if n - start < PIECE else PIECE
        if start:
            PyErr_CheckSignals()   # raises the handler's exception (KeyboardInterrupt)
        p.first_group, p.first_skip = divmod(offset + start, per_group)
        with nogil:
            fi_fill(kind, dtype, &out[start], count, p)
        start += count


def fill(int kind, object out, uint64_t seed, uint64_t stream, double low=0.0, double scale=1.0,
         double upper=1.0, double mean=0.0, double std=1.0, double p_lo=0.0, double q_hi=0.0,
         double mass=1.0, double clamp_lo=0.0, double clamp_hi=0.0, object offset=0, int narrow=0,
         float narrow_lo=0.0, float narrow_hi=0.0, object row_offsets=None):
    """Fill the 1-D contiguous array `out` (uint32 for RAW, else float32/float64; uint16 with narrow=F16 or BF16:
    the float32 draws held in [narrow_lo, narrow_hi] and rounded to nearest even) with draws offset ..
    offset + n - 1 of the stream (a non-negative int; the stream has 2**61 groups of 32 float32 / uint32 or 16
    float64 draws, checked here). row_offsets: a uint64 array of R draw offsets; out then holds R rows of
    len(out) / R draws, row r starting at draw row_offsets[r] (a shard made of row pieces)."""
    cdef fi_params p
    cdef size_t n = len(out)
    if n == 0:
        return
    group, skip = 0, 0
    if offset:
        per_group = 16 if kind != FI_RAW and out.dtype.itemsize == 8 else 32
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
    p.narrow_lo = narrow_lo
    p.narrow_hi = narrow_hi
    p.narrow = 0   # fi_fill sets it from the dtype
    if row_offsets is not None:
        return _fill_rows(out, <fi_kind>kind, &p, narrow, row_offsets)
    if kind == FI_RAW:
        _fill_buffer[uint32_t](out, <fi_kind>kind, &p, FI_F32, offset)
    elif narrow:
        if narrow != FI_F16 and narrow != FI_BF16:
            raise ValueError(f"narrow must be F16 or BF16, got {narrow}")
        _fill_buffer[uint16_t](out, <fi_kind>kind, &p, <fi_dtype>narrow, offset)
    elif out.dtype.itemsize == 4:
        _fill_buffer[float](out, <fi_kind>kind, &p, FI_F32, offset)
    else:
        _fill_buffer[double](out, <fi_kind>kind, &p, FI_F64, offset)


cdef _fill_rows(object out, fi_kind kind, fi_params *p, int narrow, const uint64_t[::1] row_offsets):
    """fi_fill_rows into out (1-D contiguous: float32/float64, or uint16 with narrow), GIL released, in pieces of
    about PIECE draws like _fill_buffer (rows longer than that are filled one by one, each in pieces), so that a
    large shard stays interruptible."""
    cdef float[::1] f32
    cdef double[::1] f64
    cdef uint16_t[::1] u16
    cdef char *ptr
    cdef fi_dtype dtype
    cdef size_t n = len(out), rows = row_offsets.shape[0], row_len, esize, r0 = 0, per, count
    if rows == 0 or n == 0:
        return
    if n % rows:
        raise ValueError(f"row_offsets: {rows} rows do not divide {n} draws")
    row_len = n // rows
    if narrow and narrow != FI_F16 and narrow != FI_BF16:
        raise ValueError(f"narrow must be F16 or BF16, got {narrow}")
    if row_len >= PIECE:
        for r in range(rows):
            if r:
                PyErr_CheckSignals()
            _fill_rows_long(out[r * row_len:(r + 1) * row_len], kind, p, narrow, row_offsets[r])
        return
    if narrow:
        u16 = out
        ptr = <char *>&u16[0]
        dtype = <fi_dtype>narrow
        esize = 2
    elif out.dtype.itemsize == 8:
        f64 = out
        ptr = <char *>&f64[0]
        dtype = FI_F64
        esize = 8
    else:
        f32 = out
        ptr = <char *>&f32[0]
        dtype = FI_F32
        esize = 4
    per = PIECE // row_len
    while r0 < rows:
        count = rows - r0 if rows - r0 < per else per
        if r0:
            PyErr_CheckSignals()   # raises the handler's exception (KeyboardInterrupt)
        with nogil:
            fi_fill_rows(kind, dtype, ptr + r0 * row_len * esize, count, row_len, &row_offsets[r0], p)
        r0 += count


cdef _fill_rows_long(object row, fi_kind kind, fi_params *p, int narrow, uint64_t first_draw):
    """One row of at least PIECE draws, from draw first_draw of the stream: a fill of its own, in pieces."""
    if narrow:
        _fill_buffer[uint16_t](row, kind, p, <fi_dtype>narrow, first_draw)
    elif row.dtype.itemsize == 8:
        _fill_buffer[double](row, kind, p, FI_F64, first_draw)
    else:
        _fill_buffer[float](row, kind, p, FI_F32, first_draw)


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


cdef _householder(real[::1, :] a, real[::1] tau, real[::1] sign):
    cdef size_t m = a.shape[0], n = a.shape[1]
    if m < n or tau.shape[0] != n or sign.shape[0] != n:
        raise ValueError("householder needs m >= n and tau, sign of length n")
    if n == 0:
        return
    with nogil:
        if real is float:
            fi_householder_f32(&a[0, 0], m, n, &tau[0], &sign[0])
        else:
            fi_householder_f64(&a[0, 0], m, n, &tau[0], &sign[0])


def householder(object a, object tau, object sign):
    """Householder reflectors of the columns of a (Fortran-contiguous (m, n), m >= n), in place; tau and sign
    (length n) receive the scalars and the signs of R's diagonal. float32 or float64, one dtype for all."""
    if a.dtype.itemsize == 4:
        _householder[float](a, tau, sign)
    else:
        _householder[double](a, tau, sign)


def set_num_threads(int n):
    fi_set_num_threads(n)


def get_num_threads():
    return fi_get_num_threads()


def after_fork_child():
    """In a forked child: serial from now on if the parent ran parallel regions (OpenMP cannot run there)."""
    fi_after_fork_child()


def fork_serial():
    return bool(fi_fork_serial())


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
    ctypedef enum fi_activation:
        FI_ACT_LINEAR
        FI_ACT_SIGMOID
        FI_ACT_TANH
        FI_ACT_RELU
        FI_ACT_LEAKY_RELU
        FI_ACT_ELU
        FI_ACT_SELU
        FI_ACT_GELU
        FI_ACT_SILU
        FI_ACT_SOFTPLUS
    ctypedef enum fi_saturation:
        FI_SAT_NONE
        FI_SAT_ABS
        FI_SAT_UNIT
    enum: FI_MAX_BINS
    enum: FI_LAYER_OK
    void fi_layer_forward(fi_layer *L)
    void fi_layer_backward(fi_layer_back *B)
    void fi_activation_apply(int f64, int act, double alpha, const void *x, void *y, size_t n)

MAX_BINS = FI_MAX_BINS   # the most histogram bins a layer step takes

# The C layer step's activation and saturation codes (csrc/layer.h), by name: fastinit.activations reads them.
ACT_LINEAR = FI_ACT_LINEAR
ACT_SIGMOID = FI_ACT_SIGMOID
ACT_TANH = FI_ACT_TANH
ACT_RELU = FI_ACT_RELU
ACT_LEAKY_RELU = FI_ACT_LEAKY_RELU
ACT_ELU = FI_ACT_ELU
ACT_SELU = FI_ACT_SELU
ACT_GELU = FI_ACT_GELU
ACT_SILU = FI_ACT_SILU
ACT_SOFTPLUS = FI_ACT_SOFTPLUS
SAT_NONE = FI_SAT_NONE
SAT_ABS = FI_SAT_ABS
SAT_UNIT = FI_SAT_UNIT

cdef void *_gemm_pointers[2]
_gemm_pointers[0] = NULL
_gemm_pointers[1] = NULL


def load_scipy_blas():
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
        cython_blas = load_scipy_blas()
        capsule = cython_blas.__pyx_capi__["dgemm" if f64 else "sgemm"]
        _gemm_pointers[f64] = PyCapsule_GetPointer(capsule, PyCapsule_GetName(capsule))
    return _gemm_pointers[f64]


cdef dict _stats(fi_stats s):
    return {"count": s.count, "zeros": s.zeros, "saturated": s.saturated, "nonfinite": s.nonfinite,
            "mean": s.shift + (s.sum / s.count if s.count else 0.0),
            "m2": s.sumsq - (s.sum * s.sum / s.count if s.count else 0.0), "min": s.min, "max": s.max}


cdef _check_layer(Py_ssize_t batch, Py_ssize_t n_in, Py_ssize_t n_out, what, shapes):
    """Non-empty sizes, and each named buffer of the shape the step reads or writes."""
    if batch == 0 or n_in == 0 or n_out == 0:
        raise ValueError(f"{what} needs non-empty shapes")
    for name, got, want in shapes:
        if got != want:
            raise ValueError(f"{what}: {name} must have shape {want}, got {got}")


cdef const void *_at(const real[:, ::1] a):
    return &a[0, 0]


cdef void *_at_mut(real[:, ::1] a):
    return &a[0, 0]


cdef _forward(const real[:, ::1] h_in, const real[:, ::1] w, const real[::1] bias, real[:, ::1] p,
              real[:, ::1] h_out, bint batchnorm, double bn_eps, double[::1] bn_invstd, int act, double alpha,
              int saturation, int bins, tuple p_range, tuple h_range, int64_t[::1] p_hist, int64_t[::1] h_hist):
    cdef fi_layer L
    L.batch, L.n_in, L.n_out = h_in.shape[0], h_in.shape[1], w.shape[0]
    _check_layer(L.batch, L.n_in, L.n_out, "layer_forward", (
        ("w", (w.shape[0], w.shape[1]), (L.n_out, L.n_in)),
        ("bias", bias.shape[0] if bias is not None else L.n_out, L.n_out),
        ("p", (p.shape[0], p.shape[1]), (L.batch, L.n_out)),
        ("h_out", (h_out.shape[0], h_out.shape[1]), (L.batch, L.n_out)),
        ("bn_invstd", bn_invstd.shape[0] if batchnorm else L.n_out, L.n_out),
        ("p_hist", p_hist.shape[0], bins), ("h_hist", h_hist.shape[0], bins)))
    if bins < 1 or bins > FI_MAX_BINS:
        raise ValueError(f"layer_forward needs 1 <= bins <= {FI_MAX_BINS}, got {bins}")
    L.f64 = real is double
    L.gemm = _gemm(L.f64)
    L.h_in = _at(h_in)
    L.w = _at(w)
    L.bias = &bias[0] if bias is not None else NULL
    L.p = _at_mut(p)
    L.h_out = _at_mut(h_out)
    L.batchnorm = batchnorm
    L.bn_eps = bn_eps
    L.bn_invstd = &bn_invstd[0] if batchnorm else NULL
    L.act = act
    L.alpha = alpha
    L.saturation = saturation
    L.bins = bins
    L.p_range[0] = p_range[0]; L.p_range[1] = p_range[1]
    L.h_range[0] = h_range[0]; L.h_range[1] = h_range[1]
    L.p_hist = &p_hist[0]
    L.h_hist = &h_hist[0]
    with nogil:
        fi_layer_forward(&L)
    if L.status != FI_LAYER_OK:
        raise MemoryError(f"out of memory for the scratch of a layer step (statistics partials, batch-norm sums, "
                          f"histogram copies of {bins} bins); nothing was written")
    return _stats(L.p_stats), _stats(L.h_stats), (L.p_range[0], L.p_range[1]), (L.h_range[0], L.h_range[1])


def layer_forward(h_in, w, bias, p, h_out, bint batchnorm, double bn_eps, bn_invstd, int act, double alpha,
                  int saturation, int bins, tuple p_range, tuple h_range, p_hist, h_hist):
    """One layer: P = h_in w^T (+ bias), [batch norm], H = act(P), statistics and histograms (C: fi_layer_forward).
    Every buffer C-contiguous, of h_in's dtype (bn_invstd float64, the histograms int64). Returns (p_stats,
    h_stats, p_range_used, h_range_used)."""
    if h_in.dtype.itemsize == 8:
        return _forward[double](h_in, w, bias, p, h_out, batchnorm, bn_eps, bn_invstd, act, alpha, saturation, bins,
                                p_range, h_range, p_hist, h_hist)
    return _forward[float](h_in, w, bias, p, h_out, batchnorm, bn_eps, bn_invstd, act, alpha, saturation, bins,
                           p_range, h_range, p_hist, h_hist)


cdef _backward(const real[:, ::1] h_in, const real[:, ::1] w, const real[:, ::1] p, const real[:, ::1] h_out,
               bint batchnorm, const double[::1] bn_invstd, int act, double alpha, real[:, ::1] g,
               real[:, ::1] g_in, real[:, ::1] g_w):
    cdef fi_layer_back B
    B.batch, B.n_in, B.n_out = h_in.shape[0], h_in.shape[1], w.shape[0]
    _check_layer(B.batch, B.n_in, B.n_out, "layer_backward", (
        ("w", (w.shape[0], w.shape[1]), (B.n_out, B.n_in)),
        ("p", (p.shape[0], p.shape[1]), (B.batch, B.n_out)),
        ("h_out", (h_out.shape[0], h_out.shape[1]), (B.batch, B.n_out)),
        ("bn_invstd", bn_invstd.shape[0] if batchnorm else B.n_out, B.n_out),
        ("g", (g.shape[0], g.shape[1]), (B.batch, B.n_out)),
        ("g_w", (g_w.shape[0], g_w.shape[1]), (B.n_out, B.n_in))))
    if g_in is not None:
        _check_layer(B.batch, B.n_in, B.n_out, "layer_backward",
                     (("g_in", (g_in.shape[0], g_in.shape[1]), (B.batch, B.n_in)),))
    B.f64 = real is double
    B.gemm = _gemm(B.f64)
    B.h_in = _at(h_in)
    B.w = _at(w)
    B.p = _at(p)
    B.h_out = _at(h_out)
    B.batchnorm = batchnorm
    B.bn_invstd = &bn_invstd[0] if batchnorm else NULL
    B.act = act
    B.alpha = alpha
    B.g = _at_mut(g)
    B.g_in = _at_mut(g_in) if g_in is not None else NULL
    B.g_w = _at_mut(g_w)
    with nogil:
        fi_layer_backward(&B)
    if B.status != FI_LAYER_OK:
        raise MemoryError("out of memory for the statistics partials of a backward layer step; nothing was written")
    return _stats(B.gh_stats), _stats(B.gp_stats), B.gw_norm


def layer_backward(h_in, w, p, h_out, bint batchnorm, bn_invstd, int act, double alpha, g, g_in, g_w):
    """Backward step (C: fi_layer_backward): g holds dL/dH_out on entry and dL/dP on return; g_in receives
    dL/dH_in unless None. Returns (gh_stats, gp_stats, |dL/dW|_F)."""
    if h_in.dtype.itemsize == 8:
        return _backward[double](h_in, w, p, h_out, batchnorm, bn_invstd, act, alpha, g, g_in, g_w)
    return _backward[float](h_in, w, p, h_out, batchnorm, bn_invstd, act, alpha, g, g_in, g_w)


cdef _activation(int act, double alpha, const real[::1] x, real[::1] y):
    cdef size_t n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"activation: y must have {n} elements, got {y.shape[0]}")
    if n:
        with nogil:
            fi_activation_apply(real is double, act, alpha, &x[0], &y[0], n)


def activation(int act, double alpha, x, y):
    """y = act(x) elementwise with the engine's kernel (C: fi_activation_apply); x, y 1-D contiguous, same dtype."""
    if x.dtype.itemsize == 8:
        _activation[double](act, alpha, x, y)
    else:
        _activation[float](act, alpha, x, y)


# ------------------------------------------------------------------------------------------ tensor statistics

cdef extern from "tensor_stats.h" nogil:
    ctypedef struct fi_tensor_stats:
        int dtype
        const void *x
        size_t n
        int saturation
        int bins
        double range[2]
        int64_t *hist
        fi_stats stats
        int status
    void fi_tensor_stats_run(fi_tensor_stats *T)


ctypedef fused stat_t:
    float
    double
    uint16_t


cdef _tensor_stats(const stat_t[::1] x, int dtype, int saturation, int bins, double lo, double hi,
                   int64_t[::1] hist):
    cdef fi_tensor_stats T
    T.dtype = dtype
    T.n = x.shape[0]
    T.x = &x[0] if T.n else NULL
    T.saturation = saturation
    T.bins = bins if hist is not None else 0
    T.range[0] = lo
    T.range[1] = hi
    T.hist = &hist[0] if hist is not None else NULL
    if hist is not None and hist.shape[0] != bins:
        raise ValueError(f"tensor_stats: hist must have {bins} entries, got {hist.shape[0]}")
    if T.n == 0:
        return {"count": 0, "zeros": 0, "saturated": 0, "nonfinite": 0, "mean": float("nan"), "m2": 0.0,
                "min": float("inf"), "max": float("-inf")}, (lo, hi)
    with nogil:
        fi_tensor_stats_run(&T)
    if T.status:
        raise MemoryError("out of memory for the statistics scratch of a tensor; nothing was computed")
    return _stats(T.stats), (T.range[0], T.range[1])


def tensor_stats(x, int dtype, int saturation, int bins, tuple hist_range, hist):
    """Statistics (one pass) and, when hist is given, a histogram of bins over hist_range (NaN: the data's
    [min, max]) of the 1-D contiguous buffer x: float32 (dtype F32), float64 (F64) or the uint16 bits of float16
    (F16) / bfloat16 (BF16) values (C: fi_tensor_stats_run, GIL released). Returns (stats, range used)."""
    cdef double lo = hist_range[0], hi = hist_range[1]
    if dtype == FI_F64:
        return _tensor_stats[double](x, dtype, saturation, bins, lo, hi, hist)
    if dtype == FI_F16 or dtype == FI_BF16:
        return _tensor_stats[uint16_t](x, dtype, saturation, bins, lo, hi, hist)
    return _tensor_stats[float](x, FI_F32, saturation, bins, lo, hi, hist)


F32 = FI_F32
F64 = FI_F64
