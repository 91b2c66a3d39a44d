# cython: language_level=3
"""Thin wrapper over the C core (csrc/): buffer checks, dtype dispatch, GIL release, nothing else.

Arguments are validated by the Python layer (fastinit.random._spec, fastinit.random._generator); this module only makes sure that each
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
    ctypedef struct fi_dist:   # mirrors fastinit.h; FillSpec.params holds these names
        double low, scale, upper
        double mean, std
        double p_lo, q_hi, mass, clamp_lo, clamp_hi
        float narrow_lo, narrow_hi
    ctypedef struct fi_spec:
        fi_kind kind
        fi_dtype dtype
        uint64_t seed
        uint64_t stream
        fi_dist dist
    unsigned fi_group_draws(fi_dtype dtype)
    void fi_fill(const fi_spec *spec, void *out, size_t n, uint64_t first_group, unsigned first_skip)
    void fi_fill_rows(const fi_spec *spec, void *out, size_t rows, size_t row_len, const uint64_t *first_draw)
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

# The C codes of a FillSpec's kind and element type names (fastinit.random._spec), and of tensor_stats' dtypes.
KIND_CODES = {"raw": FI_RAW, "uniform": FI_UNIFORM, "normal": FI_NORMAL, "truncated_normal": FI_TRUNCNORM}
DTYPE_CODES = {"float32": FI_F32, "float64": FI_F64, "uint32": FI_U32, "float16": FI_F16, "bfloat16": FI_BF16}
cdef fi_dist _dist_layout   # (static: zeros) read as a dict for its member names, so they are written only above
DIST_FIELDS = tuple(_dist_layout)   # fi_dist's fields, in order: the keys a FillSpec's params must hold
SIMD_NAMES = ("baseline", "avx2")


ctypedef fused fill_t:
    uint16_t
    uint32_t
    float
    double

ctypedef fused real:
    float
    double


# A long fill runs in pieces of this many elements, checking for signals between them, so that Ctrl-C stops it
# within a piece (~2-300 ms) instead of at its end; the pieces hold the numbers of one fill.
PIECE = 1 << 22


cdef _fill_pieces(fill_t[::1] out, const fi_spec *s, object first_draw):
    """fi_fill over the whole of `out`, draws first_draw.. (a Python int: a stream has 2**66 draws), without the
    GIL, piece by piece. On a signal whose handler raises (Ctrl-C), the pieces done so far hold their draws, the
    rest of `out` is untouched, and the exception propagates."""
    cdef size_t n = out.shape[0], start = 0, count
    cdef uint64_t group
    cdef unsigned skip
    cdef unsigned per_group = fi_group_draws(s.dtype)
    while start < n:
        count = n - start if n - start < PIECE else PIECE
        if start:
            PyErr_CheckSignals()   # raises the handler's exception (KeyboardInterrupt)
        group, skip = divmod(first_draw + start, per_group)
        with nogil:
            fi_fill(s, &out[start], count, group, skip)
        start += count


cdef _fill_rows(fill_t[::1] out, const fi_spec *s, const uint64_t[::1] row_offsets):
    """fi_fill_rows into out as len(row_offsets) rows, GIL released, in pieces of about PIECE draws like
    _fill_pieces (a row longer than that is a fill of its own, in pieces), so that a large shard stays
    interruptible."""
    cdef size_t n = out.shape[0], rows = row_offsets.shape[0], row_len, r0 = 0, per, count, r
    if rows == 0 or n == 0:
        return
    if n % rows:
        raise ValueError(f"fill: {rows} rows do not divide the buffer's {n} elements")
    row_len = n // rows
    if row_len >= PIECE:
        for r in range(rows):
            if r:
                PyErr_CheckSignals()
            _fill_pieces(out[r * row_len:(r + 1) * row_len], s, row_offsets[r])
        return
    per = PIECE // row_len
    while r0 < rows:
        count = rows - r0 if rows - r0 < per else per
        if r0:
            PyErr_CheckSignals()   # raises the handler's exception (KeyboardInterrupt)
        with nogil:
            fi_fill_rows(s, &out[r0 * row_len], count, row_len, &row_offsets[r0])
        r0 += count


cdef _fill_typed(fill_t[::1] out, const fi_spec *s, spec):
    cdef const uint64_t[::1] rows
    if spec.row_offsets is None:
        _fill_pieces(out, s, spec.offset)
    else:
        rows = spec.row_offsets
        _fill_rows(out, s, rows)


def fill(spec, out):
    """Fill the 1-D C-contiguous buffer ``out`` as the ``fastinit.random._spec.FillSpec`` says: draws spec.offset ..
    of its stream, or rows from spec.row_offsets. ``out`` holds the spec's element type (uint16 bit patterns for
    float16 / bfloat16); that is all this checks: the spec was validated when it was built."""
    cdef fi_spec s
    s.kind = KIND_CODES[spec.kind]
    s.dtype = DTYPE_CODES[spec.dtype]
    s.seed = spec.seed
    s.stream = spec.stream
    s.dist = spec.params
    if s.dtype == FI_F32:
        _fill_typed[float](out, &s, spec)
    elif s.dtype == FI_F64:
        _fill_typed[double](out, &s, spec)
    elif s.dtype == FI_U32:
        _fill_typed[uint32_t](out, &s, spec)
    else:
        _fill_typed[uint16_t](out, &s, spec)


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
        int stats
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
        int stats
        fi_stats gh_stats, gp_stats
        double gw_norm
        int status
    enum: FI_ACT_COUNT
    const char *fi_activation_names[]
    ctypedef enum fi_saturation:
        FI_SAT_NONE
        FI_SAT_ABS
        FI_SAT_UNIT
    enum: FI_MAX_BINS
    enum: FI_LAYER_OK
    double FI_SAT_ABS_LIMIT
    double FI_SAT_UNIT_LIMIT
    double FI_SAT_UNIT_CENTRE
    void fi_hist_range(double range[2], const fi_stats *s)
    void fi_layer_forward(fi_layer *L)
    void fi_layer_backward(fi_layer_back *B)
    void fi_activation_apply(int f64, int act, double alpha, const void *x, void *y, size_t n)

MAX_BINS = FI_MAX_BINS   # the most histogram bins a layer step takes

# The C layer step's activation codes by their C names (csrc/layer.c), and the saturation codes: fastinit.experiment._activations
# reads them.
ACT_CODES = {fi_activation_names[i].decode(): i for i in range(FI_ACT_COUNT)}
SAT_NONE = FI_SAT_NONE
SAT_ABS = FI_SAT_ABS
SAT_UNIT = FI_SAT_UNIT
# what the saturation rules count: |h - centre| > limit (csrc/layer.h)
SAT_ABS_LIMIT = FI_SAT_ABS_LIMIT
SAT_UNIT_LIMIT = FI_SAT_UNIT_LIMIT
SAT_UNIT_CENTRE = FI_SAT_UNIT_CENTRE

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


def hist_range(tuple given, long long count, double mn, double mx):
    """The histogram range the C kernels use (C: fi_hist_range): ``given`` (low, high), or where it is (NaN, NaN)
    the data's [mn, mx] of its count finite values, widened by 1/2 when flat, [0, 1] without finite data."""
    cdef double r[2]
    cdef fi_stats st
    r[0], r[1] = given
    st.count, st.min, st.max = count, mn, mx
    fi_hist_range(r, &st)
    return (r[0], r[1])


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
              int saturation, int bins, tuple p_range, tuple h_range, int64_t[::1] p_hist, int64_t[::1] h_hist,
              bint stats):
    cdef fi_layer L
    L.batch, L.n_in, L.n_out = h_in.shape[0], h_in.shape[1], w.shape[0]
    if stats and (p_hist is None or h_hist is None):
        raise ValueError("layer_forward: p_hist and h_hist are needed with stats")
    _check_layer(L.batch, L.n_in, L.n_out, "layer_forward", (
        ("w", (w.shape[0], w.shape[1]), (L.n_out, L.n_in)),
        ("bias", bias.shape[0] if bias is not None else L.n_out, L.n_out),
        ("p", (p.shape[0], p.shape[1]), (L.batch, L.n_out)),
        ("h_out", (h_out.shape[0], h_out.shape[1]), (L.batch, L.n_out)),
        ("bn_invstd", bn_invstd.shape[0] if batchnorm else L.n_out, L.n_out),
        ("p_hist", p_hist.shape[0] if stats else bins, bins), ("h_hist", h_hist.shape[0] if stats else bins, bins)))
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
    L.stats = stats
    L.p_hist = &p_hist[0] if stats else NULL
    L.h_hist = &h_hist[0] if stats else NULL
    with nogil:
        fi_layer_forward(&L)
    if L.status != FI_LAYER_OK:
        raise MemoryError(f"out of memory for the scratch of a layer step (statistics partials, batch-norm sums, "
                          f"histogram copies of {bins} bins); nothing was written")
    return L.p_stats, L.h_stats, (L.p_range[0], L.p_range[1]), (L.h_range[0], L.h_range[1])


def layer_forward(h_in, w, bias, p, h_out, bint batchnorm, double bn_eps, bn_invstd, int act, double alpha,
                  int saturation, int bins, tuple p_range, tuple h_range, p_hist, h_hist, bint stats=True):
    """One layer: P = h_in w^T (+ bias), [batch norm], H = act(P), statistics and histograms (C: fi_layer_forward).
    Every buffer C-contiguous, of h_in's dtype (bn_invstd float64, the histograms int64). Returns (p_stats,
    h_stats, p_range_used, h_range_used): the statistics as the C struct fi_stats (a dict: count, zeros, saturated,
    nonfinite, shift, sum, sumsq, min, max; fastinit.experiment._stats makes the record of it). stats=False: P and H only (the
    histograms may be None; the statistics returned are empty)."""
    if h_in.dtype.itemsize == 8:
        return _forward[double](h_in, w, bias, p, h_out, batchnorm, bn_eps, bn_invstd, act, alpha, saturation, bins,
                                p_range, h_range, p_hist, h_hist, stats)
    return _forward[float](h_in, w, bias, p, h_out, batchnorm, bn_eps, bn_invstd, act, alpha, saturation, bins,
                           p_range, h_range, p_hist, h_hist, stats)


cdef _backward(const real[:, ::1] h_in, const real[:, ::1] w, const real[:, ::1] p, const real[:, ::1] h_out,
               bint batchnorm, const double[::1] bn_invstd, int act, double alpha, real[:, ::1] g,
               real[:, ::1] g_in, real[:, ::1] g_w, bint stats):
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
    B.stats = stats
    with nogil:
        fi_layer_backward(&B)
    if B.status != FI_LAYER_OK:
        raise MemoryError("out of memory for the statistics partials of a backward layer step; nothing was written")
    return B.gh_stats, B.gp_stats, B.gw_norm


def layer_backward(h_in, w, p, h_out, bint batchnorm, bn_invstd, int act, double alpha, g, g_in, g_w,
                   bint stats=True):
    """Backward step (C: fi_layer_backward): g holds dL/dH_out on entry and dL/dP on return; g_in receives
    dL/dH_in unless None. Returns (gh_stats, gp_stats, |dL/dW|_F), the statistics as in layer_forward (stats=False:
    empty, and NaN for the norm)."""
    if h_in.dtype.itemsize == 8:
        return _backward[double](h_in, w, p, h_out, batchnorm, bn_invstd, act, alpha, g, g_in, g_w, stats)
    return _backward[float](h_in, w, p, h_out, batchnorm, bn_invstd, act, alpha, g, g_in, g_w, stats)


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


# ------------------------------------------------------------------------------------------ training update

cdef extern from "train.h" nogil:
    void fi_sgd_step(int f64, void *w, const void *g, void *v, size_t n, double lr, double momentum,
                     double weight_decay)


cdef _sgd(real[::1] w, const real[::1] g, real[::1] v, double lr, double momentum, double weight_decay):
    cdef size_t n = w.shape[0]
    if g.shape[0] != n or (v is not None and v.shape[0] != n):
        raise ValueError(f"sgd_step: g and v must have w's {n} elements")
    if n:
        with nogil:
            fi_sgd_step(real is double, &w[0], &g[0], &v[0] if v is not None else NULL, n, lr, momentum,
                        weight_decay)


def sgd_step(w, g, v, double lr, double momentum, double weight_decay):
    """torch.optim.SGD's step in place (C: fi_sgd_step): d = g + weight_decay w, v = momentum v + d, w -= lr v;
    w, g, v 1-D contiguous of one float dtype (v None when momentum is 0)."""
    if w.dtype.itemsize == 8:
        _sgd[double](w, g, v, lr, momentum, weight_decay)
    else:
        _sgd[float](w, g, v, lr, momentum, weight_decay)


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
    with nogil:
        fi_tensor_stats_run(&T)
    if T.status:
        raise MemoryError("out of memory for the statistics scratch of a tensor; nothing was computed")
    return T.stats, (T.range[0], T.range[1])


def tensor_stats(x, str dtype, int saturation, int bins, tuple hist_range, hist):
    """Statistics (one pass) and, when hist is given, a histogram of bins over hist_range (NaN: the data's
    [min, max]) of the 1-D contiguous buffer x: float32, float64, or the uint16 bits of float16 / bfloat16 values
    (dtype names them), C: fi_tensor_stats_run, GIL released. Without hist no histogram pass runs. Returns
    (statistics as in layer_forward, range used)."""
    cdef double lo = hist_range[0], hi = hist_range[1]
    cdef int code = DTYPE_CODES[dtype]
    if code == FI_F64:
        return _tensor_stats[double](x, code, saturation, bins, lo, hi, hist)
    if code == FI_F16 or code == FI_BF16:
        return _tensor_stats[uint16_t](x, code, saturation, bins, lo, hi, hist)
    return _tensor_stats[float](x, FI_F32, saturation, bins, lo, hi, hist)
