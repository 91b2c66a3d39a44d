"""The oracle: every C kernel of fastinit written again in NumPy, straight from the formulas (README, "Stream
format"). Slow and obvious; no compiled code of ours in its arithmetic. Tests compare the C core with these functions.

All functions take the seed and the stream id explicitly: a ``Generator`` call that used stream t is
reproduced by passing t.
"""
import numpy as np

from .experiment import _activations as _act

__all__ = ["M0", "M1", "W0", "W1", "MASK32", "philox4x32", "stream_words", "random_raw", "uniform", "normal",
           "truncated_normal", "spawn_seeds", "expected_std", "TORCH_GAINS", "torch_gain", "torch_fans", "torch_scheme",
           "KERAS_PRESETS", "keras_fans", "keras_variance_scaling", "householder", "haar_orthogonal", "SELU_LAMBDA",
           "SELU_ALPHA", "activation", "activation_derivative", "saturated", "array_stats", "histogram", "simulate"]

M0 = 0xD2511F53   # Philox multipliers
M1 = 0xCD9E8D57
W0 = 0x9E3779B9   # key increments
W1 = 0xBB67AE85
MASK32 = np.uint64(0xFFFFFFFF)


def philox4x32(counter, key, rounds=10):
    """Philox4x32 block function with 64-bit integer arithmetic: counter (..., 4), key (..., 2) -> (..., 4)."""
    c = np.asarray(counter, dtype=np.uint64)
    k = np.asarray(key, dtype=np.uint64)
    lead = np.broadcast_shapes(c.shape[:-1], k.shape[:-1])
    x = [np.broadcast_to(c[..., j], lead).copy() for j in range(4)]
    k0 = np.broadcast_to(k[..., 0], lead).copy()
    k1 = np.broadcast_to(k[..., 1], lead).copy()
    for r in range(rounds):
        if r > 0:
            k0 = (k0 + np.uint64(W0)) & MASK32
            k1 = (k1 + np.uint64(W1)) & MASK32
        p0 = np.uint64(M0) * x[0]   # < 2**64: exact in uint64
        p1 = np.uint64(M1) * x[2]
        x = [(p1 >> np.uint64(32)) ^ x[1] ^ k0, p1 & MASK32, (p0 >> np.uint64(32)) ^ x[3] ^ k1, p0 & MASK32]
    return np.stack(x, axis=-1).astype(np.uint32)


def stream_words(seed, stream, n, first_block=0):
    """The first n words of a stream: w[4b + j] = word j of the block at counter (b lo, b hi, s lo, s hi);
    with first_block, the n words from block first_block on."""
    nblocks = (n + 3) // 4
    b = np.arange(nblocks, dtype=np.uint64) + np.uint64(first_block)
    counter = np.stack([b & MASK32, b >> np.uint64(32),
                        np.full(nblocks, stream & 0xFFFFFFFF, np.uint64),
                        np.full(nblocks, stream >> 32, np.uint64)], axis=-1)
    key = np.array([seed & 0xFFFFFFFF, seed >> 32], dtype=np.uint64)
    return philox4x32(counter, key).reshape(-1)[:n]


def random_raw(seed, stream, n, first_block=0):
    return stream_words(seed, stream, n, first_block)


def _k53(words, pairs):
    """((w[2i+1] << 32) | w[2i]) >> 11 for i < pairs: the 53-bit integers of float64 uniforms."""
    w = words[:2 * pairs].astype(np.uint64)
    return ((w[1::2] << np.uint64(32)) | w[0::2]) >> np.uint64(11)


def _f32_ceil(x):
    f = np.float32(x)
    return np.nextafter(f, np.float32(np.inf)) if float(f) < x else f


def _f32_floor(x):
    f = np.float32(x)
    return np.nextafter(f, np.float32(-np.inf)) if float(f) > x else f


def uniform(seed, stream, n, low=0.0, high=1.0, dtype=np.float32, first_block=0):
    """low + (high - low) u in the output dtype, u = (w >> 8) 2^-24 (float32) or k53 2^-53 (float64);
    low rounded up to the dtype and the result kept below high."""
    if np.dtype(dtype) == np.float32:
        k = stream_words(seed, stream, n, first_block) >> np.uint32(8)
        u = k.astype(np.float32) * np.float32(2.0 ** -24)
        lo = _f32_ceil(low)
        up = _f32_floor(high)
        if float(up) >= high:
            up = np.nextafter(up, np.float32(-np.inf))
        v = lo + np.float32(high - low) * u          # float32 arithmetic, one rounding per operation
        return np.minimum(v, up)
    u = _k53(stream_words(seed, stream, 4 * ((n + 1) // 2), first_block), n).astype(np.float64) * 2.0 ** -53
    return np.minimum(low + (high - low) * u, np.nextafter(high, -np.inf))


def _neg2log(k, bits):
    """-2 ln u for u = (k + 1/2) 2^-bits, evaluated as -2 log1p(-(1 - u)) above 1/2 so that it keeps its
    relative accuracy as u -> 1 (1 - u = (2^bits - k - 1/2) 2^-bits is exact)."""
    k = k.astype(np.float64)
    scale = 2.0 ** -bits
    u = (k + 0.5) * scale
    v = (2.0 ** bits - k - 0.5) * scale
    with np.errstate(divide="ignore"):
        return np.where(u > 0.5, -2.0 * np.log1p(-v), -2.0 * np.log(u))


def normal(seed, stream, n, mean=0.0, std=1.0, dtype=np.float32, first_block=0):
    """Box-Muller: r = sqrt(-2 ln u1), z = (r cos 2 pi u2, r sin 2 pi u2) per pair, value = mean + std z.
    float32: u1, u2 = w * 2^-32 + 2^-33 from words (2k, 2k+1); float64: k53 * 2^-53 + 2^-54 from words
    (4k, 4k+1) and (4k+2, 4k+3). Computed in float64 and rounded once to the dtype."""
    pairs = (n + 1) // 2
    if np.dtype(dtype) == np.float32:
        w = stream_words(seed, stream, 2 * pairs, first_block)
        k1, k2, bits = w[0::2], w[1::2], 32
    else:
        k = _k53(stream_words(seed, stream, 4 * pairs, first_block), 2 * pairs)
        k1, k2, bits = k[0::2], k[1::2], 53
    r = np.sqrt(_neg2log(k1, bits))
    theta = 2.0 * np.pi * ((k2.astype(np.float64) + 0.5) * 2.0 ** -bits)
    z = np.empty(2 * pairs)
    z[0::2] = r * np.cos(theta)
    z[1::2] = r * np.sin(theta)
    return (mean + std * z[:n]).astype(dtype)


def truncated_normal(seed, stream, n, mean=0.0, std=1.0, low=None, high=None, dtype=np.float32, first_block=0):
    """Inverse CDF: z = Phi^-1(Phi(alpha) + u (Phi(beta) - Phi(alpha))), u = (k + 1/2) 2^-bits, with
    p = Phi(alpha) + u mass and q = Q(beta) + (1 - u) mass, z = ndtri(p) if p < q else -ndtri(q);
    value = mean + std z clamped to [low, high] (to the dtype values inside it)."""
    from scipy import special

    low = mean - 2 * std if low is None else low
    high = mean + 2 * std if high is None else high
    alpha, beta = (low - mean) / std, (high - mean) / std
    p_lo, q_hi = special.ndtr(alpha), special.ndtr(-beta)
    if beta <= 0:
        mass = special.ndtr(beta) - p_lo
    elif alpha >= 0:
        mass = special.ndtr(-alpha) - q_hi
    else:
        mass = 1.0 - p_lo - q_hi
    if np.dtype(dtype) == np.float32:
        k, bits = (stream_words(seed, stream, n, first_block) >> np.uint32(8)).astype(np.float64), 24
    else:
        k, bits = _k53(stream_words(seed, stream, 2 * n, first_block), n).astype(np.float64), 53
    u = (k + 0.5) * 2.0 ** -bits
    um = (2.0 ** bits - k - 0.5) * 2.0 ** -bits
    p = p_lo + u * mass
    q = q_hi + um * mass
    z = np.where(p < q, special.ndtri(p), -special.ndtri(q))
    v = (mean + std * z).astype(dtype)
    if np.dtype(dtype) == np.float32:
        return np.clip(v, _f32_ceil(low), _f32_floor(high))
    return np.clip(v, low, high)


def spawn_seeds(seed, first_stream, n):
    """Child seeds of Generator.spawn: words 0, 1 of block (2^64 - 1) of streams first_stream .. + n - 1."""
    s = np.arange(first_stream, first_stream + n, dtype=np.uint64)
    counter = np.stack([np.full(n, 0xFFFFFFFF, np.uint64), np.full(n, 0xFFFFFFFF, np.uint64),
                        s & MASK32, s >> np.uint64(32)], axis=-1)
    w = philox4x32(counter, np.array([seed & 0xFFFFFFFF, seed >> 32], dtype=np.uint64))
    return [int(a) | (int(b) << 32) for a, b in w[:, :2]]


# ------------------------------------------------------------------------------------------ initializer formulas
# What each scheme should draw, from the papers' formulas and each framework's fan convention: (kind, a, b)
# with kind "uniform" (support [a, b)), "normal" (mean a, std b) or "truncnorm" (std a, support [-b, b]).

TORCH_GAINS = {"linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "conv_transpose1d": 1.0,
               "conv_transpose2d": 1.0, "conv_transpose3d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3,
               "relu": 2.0 ** 0.5, "selu": 0.75}


def torch_gain(nonlinearity, param=None):
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return (2.0 / (1.0 + slope**2)) ** 0.5
    return TORCH_GAINS[nonlinearity]


def torch_fans(shape):
    """(out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel)."""
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def keras_fans(shape):
    """(..., in, out): fan_in = in * prod(...), fan_out = out * prod(...); 1-D: (n, n); 0-D: (1, 1)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def torch_scheme(name, shape, gain=1.0, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    fan_in, fan_out = torch_fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    if name == "xavier_uniform":
        bound = gain * (6.0 / (fan_in + fan_out)) ** 0.5
        return "uniform", -bound, bound
    if name == "xavier_normal":
        return "normal", 0.0, gain * (2.0 / (fan_in + fan_out)) ** 0.5
    if name == "kaiming_uniform":
        bound = torch_gain(nonlinearity, a) * (3.0 / fan) ** 0.5
        return "uniform", -bound, bound
    if name == "kaiming_normal":
        return "normal", 0.0, torch_gain(nonlinearity, a) / fan**0.5
    if name == "lecun_uniform":
        bound = (3.0 / fan_in) ** 0.5
        return "uniform", -bound, bound
    if name == "lecun_normal":
        return "normal", 0.0, 1.0 / fan_in**0.5
    raise KeyError(name)


def keras_variance_scaling(shape, scale, mode, distribution):
    fan_in, fan_out = keras_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    s = scale / max(1.0, n)
    if distribution == "truncated_normal":
        sigma = s**0.5 / 0.87962566103423978
        return "truncnorm", sigma, 2 * sigma
    if distribution == "untruncated_normal":
        return "normal", 0.0, s**0.5
    return "uniform", -((3 * s) ** 0.5), (3 * s) ** 0.5


KERAS_PRESETS = {"GlorotNormal": (1.0, "fan_avg", "truncated_normal"), "GlorotUniform": (1.0, "fan_avg", "uniform"),
                 "HeNormal": (2.0, "fan_in", "truncated_normal"), "HeUniform": (2.0, "fan_in", "uniform"),
                 "LecunNormal": (1.0, "fan_in", "truncated_normal"), "LecunUniform": (1.0, "fan_in", "uniform")}


def expected_std(kind, a, b):
    """The standard deviation of (kind, a, b)."""
    from scipy import stats

    if kind == "uniform":
        return (b - a) / 12**0.5
    if kind == "normal":
        return b
    return a * stats.truncnorm.std(-b / a, b / a)


def householder(a):
    """LAPACK larfg reflectors of the columns of a (m x n, m >= n), one column at a time: for x = a[k:, k],
    beta = -sign(alpha) |x| (alpha = x[0], sign(0) = +), tau = (beta - alpha) / beta, v = x[1:] / (alpha - beta).
    Returns (a with v below the diagonal, tau, sign(beta))."""
    a = np.array(a, dtype=np.float64)
    m, n = a.shape
    tau, sign = np.zeros(n), np.ones(n)
    for k in range(n):
        x = a[k:, k]
        norm = np.sqrt(np.sum(x * x))
        if norm == 0:
            continue
        beta = -norm if x[0] >= 0 else norm
        tau[k] = (beta - x[0]) / beta
        x[1:] /= x[0] - beta
        sign[k] = 1.0 if beta >= 0 else -1.0
    return a, tau, sign


def haar_orthogonal(a):
    """Q with orthonormal columns from the reflectors of householder(a): Q = H_1 ... H_n [I; 0] diag(sign)."""
    v, tau, sign = householder(a)
    m, n = v.shape
    q = np.eye(m, n)
    for k in reversed(range(n)):
        w = np.concatenate([[1.0], v[k + 1:, k]])
        q[k:, :] -= tau[k] * np.outer(w, w @ q[k:, :])
    return q * sign


# ---------------------------------------------------------------------------------------------------------------
# The simulation engine (csrc/layer_impl.h), in float64, one layer at a time, from the formulas.

# phi and phi' are the activation table's (fastinit.experiment._activations), the same NumPy formulas that the
# mean-field theory evaluates: one definition of what each activation is.
SELU_LAMBDA = _act.SELU_LAMBDA
SELU_ALPHA = _act.SELU_ALPHA


def activation(name, x, alpha=0.0):
    """phi(x) for the engine's activations (prelu = leaky_relu with its fixed slope)."""
    return _act.get(name).phi(x, alpha)


def activation_derivative(name, x, alpha=0.0):
    """phi'(x), differentiated by hand from ``activation``."""
    return _act.get(name).dphi(x, alpha)


def saturated(name, h):
    """The saturation test of the statistics: |tanh| > 0.99, sigmoid outside [0.01, 0.99]."""
    return _act.get(name).saturated(h)


def array_stats(x, sat=None):
    """mean, std (population), min, max over the finite values; exact zeros and non-finite counts."""
    x = np.asarray(x, dtype=np.float64).ravel()
    fin = np.isfinite(x)
    v = x[fin]
    out = {"count": v.size, "zeros": int(np.count_nonzero(x == 0)), "nonfinite": int(x.size - v.size),
           "mean": v.mean() if v.size else np.nan, "std": v.std() if v.size else np.nan,
           "min": v.min() if v.size else np.nan, "max": v.max() if v.size else np.nan}
    if sat is not None:
        out["saturated"] = int(np.count_nonzero(np.ravel(sat) & fin))
    return out


def histogram(x, bins, lo=None, hi=None, precision=np.float64):
    """Counts of bins equal bins over [lo, hi] (the last bin closed; outside and non-finite values dropped):
    bin k = floor((x - lo) * (bins / (hi - lo))), the subtraction and product rounded to ``precision`` (the C
    kernels compute in the data's type: float32 for float32 and 16-bit data, so a value within an ulp of an edge
    lands where float32 puts it). lo/hi None: the finite data's [min, max] (+-1/2 when flat, [0, 1] without
    finite data). Returns (counts, (lo, hi))."""
    x = np.asarray(x, dtype=np.float64).ravel()
    if lo is None:
        v = x[np.isfinite(x)]
        if v.size == 0:
            lo, hi = 0.0, 1.0
        else:
            lo, hi = v.min(), v.max()
            if not hi > lo:
                lo, hi = lo - 0.5, hi + 0.5
    inside = (x >= lo) & (x <= hi)
    f = np.dtype(precision).type
    k = np.floor((x[inside].astype(f) - f(lo)) * f(bins / (hi - lo))).astype(np.int64)
    return np.bincount(np.minimum(k, bins - 1), minlength=bins), (lo, hi)


def simulate(x, weights, activation_name, alpha=0.0, bias=0.0, batchnorm=False, bn_eps=1e-5, bins=50,
             hist_range=None, h_natural_range=None, top_gradient=None):
    """The engine's forward (and, given top_gradient, backward) pass in float64.

    Layer l: P = H_{l-1} W_l^T + bias; with batchnorm P = (P - mean_batch P) / sqrt(var_batch P + eps) per
    feature; H_l = phi(P). Backward from G = dL/dH_depth: dL/dP = G phi'(P); through batch norm
    dL/dP_raw = invstd (g - mean(g) - p_hat mean(g p_hat)); dL/dW = (dL/dP)^T H_{l-1}; dL/dH_{l-1} = dL/dP W.
    Returns {"p": [stats], "h": [stats], "p_hist", "h_hist", "p_range", "h_range", and with backward
    "grad_h": [stats], "grad_p": [stats], "grad_w_norm"}."""
    h = np.asarray(x, dtype=np.float64)
    out = {k: [] for k in ("p", "h", "p_hist", "h_hist", "p_range", "h_range")}
    saved = []
    for W in weights:
        W = np.asarray(W, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            p = h @ W.T + bias
            invstd = None
            if batchnorm:
                mean = p.mean(axis=0)
                invstd = 1.0 / np.sqrt(p.var(axis=0) + bn_eps)
                p = (p - mean) * invstd
        hn = activation(activation_name, p, alpha)
        out["p"].append(array_stats(p))
        out["h"].append(array_stats(hn, saturated(activation_name, hn)))
        prange = hist_range or (None, None)
        hrange = hist_range or h_natural_range or (None, None)
        for name, arr, r in (("p", p, prange), ("h", hn, hrange)):
            counts, used = histogram(arr, bins, *r)
            out[name + "_hist"].append(counts)
            out[name + "_range"].append(used)
        saved.append((h, W, p, invstd))
        h = hn
    if top_gradient is None:
        return out
    g = np.asarray(top_gradient, dtype=np.float64)
    out.update(grad_h=[], grad_p=[], grad_w_norm=[])
    for h_in, W, p, invstd in reversed(saved):
        out["grad_h"].append(array_stats(g))
        with np.errstate(over="ignore", invalid="ignore"):
            g = g * activation_derivative(activation_name, p, alpha)
            if batchnorm:
                g = invstd * (g - g.mean(axis=0) - p * (g * p).mean(axis=0))
            out["grad_p"].append(array_stats(g))
            out["grad_w_norm"].append(np.linalg.norm(g.T @ h_in))
            g = g @ W
    for k in ("grad_h", "grad_p", "grad_w_norm"):
        out[k].reverse()
    return out
