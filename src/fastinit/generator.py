"""Counter-based generator: Philox4x32-10 streams and the uniform / normal / truncated-normal fills.

Stream format (see README, "Stream format"): a seed s in [0, 2**64) is the Philox key (s & 0xffffffff, s >> 32);
every fill call of a Generator takes the next stream id t = 0, 1, 2, ...; the words of stream t are the outputs
of blocks b = 0, 1, 2, ... at counter (b & 0xffffffff, b >> 32, t & 0xffffffff, t >> 32); element i of a fill
reads only the words fixed by i. Two calls never share words, and a fill is identical for every thread count.
"""
import math
import os
import secrets
import struct
import threading
import warnings

import numpy as np

from . import _core
from . import _validate as V

__all__ = ["Generator", "philox4x32", "uniform", "normal", "truncated_normal", "manual_seed",
           "default_generator", "set_num_threads", "get_num_threads"]

_SQRT1_2 = math.sqrt(0.5)
# Truncation bounds must keep at least this much probability: below it p and q lose their meaning in float64.
_MIN_MASS = 1e-280


def _phi_lower(x):
    """Phi(x) = P(Z <= x), accurate in the lower tail."""
    return 0.5 * math.erfc(-x * _SQRT1_2)


def _phi_upper(x):
    """Q(x) = 1 - Phi(x) = P(Z > x), accurate in the upper tail."""
    return 0.5 * math.erfc(x * _SQRT1_2)


def truncation_params(alpha, beta):
    """(p_lo, q_hi, mass) = (Phi(alpha), Q(beta), Phi(beta) - Phi(alpha)) without cancellation.

    The mass is formed from the tail on the side of the interval: for beta <= 0 both lower-tail values are
    small and accurate, for alpha >= 0 both upper-tail values are, otherwise the interval holds the centre and
    1 - Phi(alpha) - Q(beta) has nothing to cancel."""
    p_lo, q_hi = _phi_lower(alpha), _phi_upper(beta)
    if beta <= 0:
        mass = _phi_lower(beta) - p_lo
    elif alpha >= 0:
        mass = _phi_upper(alpha) - q_hi
    else:
        mass = 1.0 - p_lo - q_hi
    return p_lo, q_hi, mass


_F32 = struct.Struct("<f")
_U32 = struct.Struct("<I")
_F32_MAX = _F32.unpack(b"\xff\xff\x7f\x7f")[0]


def _nearly_flat(alpha, beta, bits):
    """Whether N(0, 1) restricted to [alpha, beta] is the uniform distribution to `bits` bits: its log-density
    varies by delta = w max(|alpha|, |beta|) + w^2 / 2 (w = beta - alpha) over the interval, so the uniform's CDF is
    within delta of the truncated normal's. Used where that is below the output's resolution, or where it is below
    what inverting Phi can resolve (mass / ulp(p) levels: a narrow interval near the mode, p ~ 1/2, leaves few)."""
    if not (math.isfinite(alpha) and math.isfinite(beta)):
        return False
    w = beta - alpha
    delta = w * max(abs(alpha), abs(beta)) + 0.5 * w * w
    if delta <= 2.0 ** -(bits + 1):
        return True
    p_lo, q_hi, mass = truncation_params(alpha, beta)
    if not mass > _MIN_MASS:
        return False   # (no probability mass at all: the caller says so)
    levels = mass / math.ulp(min(p_lo + mass, q_hi + mass, 0.5))
    return levels < 2.0 ** (bits + 2) and delta * levels < 1.0


def _f32_nearest(x):
    """x rounded to the nearest float32 (as a Python float), +-inf past the float32 range. struct, not a NumPy
    scalar: these helpers run on every float32 uniform / truncated-normal call, and NumPy scalars under
    errstate cost microseconds that small tensors notice."""
    try:
        return _F32.unpack(_F32.pack(x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def _f32_step(f, up):
    """The float32 next to the float32 value f towards +inf (up) or -inf, like numpy.nextafter."""
    if f == 0.0:
        return math.ldexp(1.0 if up else -1.0, -149)
    if math.isinf(f):
        return f if (f > 0) == up else math.copysign(_F32_MAX, f)
    bits = _U32.unpack(_F32.pack(f))[0]
    # Float32 bit patterns are sign-magnitude: one more away from zero, one less towards it.
    bits += 1 if (f > 0) == up else -1
    return _F32.unpack(_U32.pack(bits))[0]


def _f32_at_least(x):
    """The smallest float32 >= x (x finite or infinite), as a Python float."""
    f = _f32_nearest(x)
    return _f32_step(f, True) if f < x else f


def _f32_at_most(x):
    """The largest float32 <= x, as a Python float."""
    f = _f32_nearest(x)
    return _f32_step(f, False) if f > x else f


# ------------------------------------------------------------------------------------------ 16-bit outputs
# float16 and bfloat16 outputs hold the float32 draws, kept inside the distribution's bounds (values of the 16-bit
# format) and rounded to nearest even. bfloat16 has no NumPy dtype: its values are written as their bit patterns
# into uint16 arrays (torch's bfloat16 tensors viewed as int16 are such arrays).
NARROW_FORMATS = ("float16", "bfloat16")


def _bits16(x, fmt):
    """The 16-bit pattern of a value of the format (x exactly representable, or rounded to nearest even)."""
    if fmt == "float16":
        with np.errstate(over="ignore"):
            return int(np.array(x, np.float16).view(np.uint16))
    u = _U32.unpack(_F32.pack(_f32_nearest(x)))[0]
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF


def _value16(bits, fmt):
    if fmt == "float16":
        return float(np.array(bits, np.uint16).view(np.float16))
    return _F32.unpack(_U32.pack(bits << 16))[0]


def _step16(x, up, fmt):
    """The value of the format next to x (a value of it) towards +inf (up) or -inf."""
    if x == 0.0:
        return _value16(0x0001 if up else 0x8001, fmt)
    if math.isinf(x):
        return x if (x > 0) == up else _value16(_bits16(x, fmt) - 1, fmt)
    return _value16(_bits16(x, fmt) + (1 if (x > 0) == up else -1), fmt)


def _at_least16(x, fmt):
    """The smallest value of the format >= x."""
    f = _value16(_bits16(x, fmt), fmt)
    return _step16(f, True, fmt) if f < x else f


def _at_most16(x, fmt):
    """The largest value of the format <= x."""
    f = _value16(_bits16(x, fmt), fmt)
    return _step16(f, False, fmt) if f > x else f


def _narrow_bounds(fmt, low, high, open_high):
    """(C code, lo, hi): the 16-bit values the float32 draws are held in: [low, high) or [low, high]."""
    lo, hi = _at_least16(low, fmt), _at_most16(high, fmt)
    if open_high and hi >= high:
        hi = _step16(hi, False, fmt)
    if not lo <= hi or math.isinf(lo) and lo > 0 or math.isinf(hi) and hi < 0:
        raise ValueError(f"no {fmt} value lies in [low, high{')' if open_high else ']'} = [{low}, {high}"
                         f"{')' if open_high else ']'}")
    return (_core.F16 if fmt == "float16" else _core.BF16), lo, hi


def _prepare(size, dtype, out):
    """Validate size/dtype/out and return (shape, kernel dtype, scalar_requested, 16-bit format or None).
    16-bit formats draw float32 (the kernel dtype) and narrow it."""
    fmt = None
    if isinstance(dtype, str) and dtype in NARROW_FORMATS:
        fmt = dtype
    elif dtype is not None and not isinstance(dtype, str) and np.dtype(dtype) == np.float16:
        fmt = "float16"
    if out is not None:
        if isinstance(out, np.ndarray) and out.dtype == np.float16 and fmt in (None, "float16"):
            fmt = "float16"
            V.out_array(out.view(np.uint16), size, None, storage=True)
        elif fmt == "bfloat16":
            if not isinstance(out, np.ndarray) or out.dtype != np.uint16:
                raise TypeError("out must be a numpy.ndarray of uint16 (the bit patterns) for dtype='bfloat16', "
                                f"got {getattr(out, 'dtype', type(out).__name__)}")
            V.out_array(out, size, None, storage=True)
        else:
            V.out_array(out, size, dtype)
            return out.shape, out.dtype, False, None
        return out.shape, np.dtype(np.float32), False, fmt
    dt = np.dtype(np.float32) if fmt is not None else V.float_dtype(np.float32 if dtype is None else dtype)
    if size is None:
        return (1,), dt, True, fmt
    return V.shape(size), dt, False, fmt


def _store_view(out, fmt):
    """The array the C core writes: out as a plain ndarray (np.matrix and other subclasses: a plain view), or for
    a 16-bit format its bit patterns (uint16)."""
    return out.view(np.ndarray) if fmt is None else out.view(np.uint16)


def _where(stream, offset, row_offsets=None):
    """(stream or None, offset[, row_offsets]) checked: which stream, and its first draw (or each row's)."""
    if stream is not None:
        stream = V.uint64(stream, "stream")
    offset = V.integer(offset, "offset")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if row_offsets is None:
        return stream, offset
    if offset:
        raise ValueError("give offset or row_offsets, not both")
    return stream, offset, row_offsets


def _check_offset(offset, count, dtype):
    """A stream has 2**64 Philox blocks: 2**66 float32 / uint32 draws, 2**65 float64 draws."""
    limit = (1 << 65) if np.dtype(dtype) == np.float64 else (1 << 66)
    if offset + count > limit:
        raise ValueError(f"offset {offset} + {count} draws is past the end of the stream ({limit} draws)")


def _mean_std(mean, std):
    mean, std = V.real(mean, "mean"), V.real(std, "std")
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return mean, std


class Generator:
    """A Philox4x32-10 generator: a 64-bit seed (the key) and a counter of streams.

    Each fill call (``uniform``, ``normal``, ``truncated_normal``, ``random_raw`` without ``stream``) uses the
    next stream id, under a lock, so that calls from many threads never overlap and one call's output is
    fixed by (seed, stream id) alone.

    Args:
        seed: an int in [0, 2**64); None draws one from the operating system's entropy.
    """

    def __init__(self, seed=None):
        self._seed = secrets.randbits(64) if seed is None else V.uint64(seed, "seed")
        self._next_stream = 0
        self._lock = threading.Lock()

    @property
    def seed(self):
        """The 64-bit seed: the Philox key is (seed & 0xffffffff, seed >> 32)."""
        return self._seed

    @property
    def next_stream(self):
        """The stream id the next fill call will use."""
        return self._next_stream

    def __repr__(self):
        return f"fastinit.Generator(seed={self._seed}, next_stream={self._next_stream})"

    def __getstate__(self):
        # a pickle (or deep copy) is the seed and the position: the copy continues with the same streams
        return {"seed": self._seed, "next_stream": self._next_stream}

    def __setstate__(self, state):
        self._seed = V.uint64(state["seed"], "seed")
        self._next_stream = V.uint64(state["next_stream"], "next_stream")
        self._lock = threading.Lock()

    def take_streams(self, n=1):
        """Reserve the next n stream ids (thread-safely) and return the first: fills given ``stream=first + i``
        then draw what n fill calls in a row would have drawn, in any order."""
        return self._take_streams(V.integer(n, "n"))

    def _take_streams(self, n=1):
        with self._lock:
            first = self._next_stream
            if first + n > V.UINT64_LIMIT:
                raise OverflowError("this Generator has used all 2**64 streams")
            self._next_stream = first + n
        return first

    def _fill(self, kind, shape, dtype, out, scalar, where, fmt=None, narrow=None, **params):
        """Draw into out (or a new array) from one stream; all arguments already validated, where = (stream or
        None, offset[, row_offsets]) from _where; fmt a 16-bit format and narrow its (C code, lo, hi)."""
        stream, offset = where[0], where[1]
        row_offsets = where[2] if len(where) > 2 else None
        if fmt is not None:
            params.update(narrow=narrow[0], narrow_lo=narrow[1], narrow_hi=narrow[2])
        if row_offsets is not None:
            return self._fill_rows(kind, dtype, out, stream, row_offsets, fmt, params)
        if offset:
            _check_offset(offset, math.prod(shape) if out is None else out.size, dtype)
        if out is None:   # before the stream is taken: a call that fails before writing consumes no stream
            out = np.empty(shape, dtype=dtype if fmt is None else np.float16 if fmt == "float16" else np.uint16)
        if stream is None:
            stream = self._take_streams()
        flags = out.flags
        direct = flags.c_contiguous and flags.aligned
        store = _store_view(out, fmt)
        flat = store.reshape(-1) if direct else np.empty(out.size, dtype=store.dtype)
        _core.fill(kind, flat, self._seed, stream, offset=offset, **params)
        if not direct:
            # Element i of the stream goes to the i-th element of out in C order, whatever out's strides.
            store[...] = flat.reshape(out.shape)
        return out[0] if scalar else out

    def _fill_rows(self, kind, dtype, out, stream, row_offsets, fmt, params):
        """out (C-contiguous) as len(row_offsets) rows, row r = draws row_offsets[r] .. of the stream."""
        if out is None or not out.flags.c_contiguous:
            raise ValueError("row_offsets needs a C-contiguous out")
        rows = np.ascontiguousarray(row_offsets, dtype=np.uint64).reshape(-1)
        if rows.size and out.size % rows.size:
            raise ValueError(f"row_offsets: {rows.size} rows do not divide out's {out.size} elements")
        if rows.size:
            _check_offset(int(rows.max()), out.size // rows.size, dtype)
        if stream is None:
            stream = self._take_streams()
        _core.fill(kind, _store_view(out, fmt).reshape(-1), self._seed, stream, row_offsets=rows, **params)
        return out

    def random_raw(self, size, stream=None, *, offset=0):
        """Words of one stream as uint32: w[4b + j] = word j of Philox block b; element i is word offset + i.

        Args:
            size: number of words (int or shape tuple).
            stream: the stream id in [0, 2**64); None takes the next stream of this generator.
            offset: the first word (default 0).
        """
        shape = V.shape(size)
        stream, offset = _where(stream, offset)
        _check_offset(offset, math.prod(shape), np.uint32)
        out = np.empty(shape, dtype=np.uint32)
        if stream is None:
            stream = self._take_streams()
        _core.fill(_core.RAW, out.reshape(-1), self._seed, stream, offset=offset)
        return out

    def uniform(self, size=None, low=0.0, high=1.0, dtype=None, out=None, *, stream=None, offset=0, row_offsets=None):
        r"""Uniform draws on [low, high).

        float32: :math:`u_i = (w_i \gg 8)\,2^{-24}`; float64: :math:`u_i = ((w_{2i+1} 2^{32} + w_{2i}) \gg 11)\,2^{-53}`;
        value :math:`= \mathrm{low} + (\mathrm{high} - \mathrm{low})\,u_i`, computed in the output dtype and kept
        below high (low is first rounded up to the dtype, so every value lies in [low, high)).

        Args:
            size: int or tuple; None returns one scalar.
            low, high: finite bounds, low < high.
            dtype: float32 (default) or float64; taken from ``out`` when given.
            out: a writable float32/float64 array filled in place (any shape and strides).
            stream: the stream id in [0, 2**64); None (default) takes the next stream of this generator.
            offset: the stream's first draw to use: element i (in C order) is draw offset + i. Pieces of a large
                tensor (shards) filled with the same stream at their offsets hold exactly the numbers one fill of
                the whole tensor would give them.
            row_offsets: instead of offset, the first draw of each row of ``out`` (C-contiguous, its elements cut
                in len(row_offsets) equal rows): a shard made of row pieces, such as a column shard.
        """
        shape, dt, scalar, fmt = _prepare(size, dtype, out)
        where = _where(stream, offset, row_offsets)
        low, high = V.real(low, "low"), V.real(high, "high")
        if not low < high:
            raise ValueError(f"low must be < high, got low={low}, high={high}")
        narrow = _narrow_bounds(fmt, low, high, open_high=True) if fmt is not None else None
        if dt == np.float32:
            lo, up = _f32_at_least(low), _f32_at_most(high)
            if up >= high:
                up = _f32_step(up, False)
            if not (math.isfinite(lo) and math.isfinite(up) and lo <= up):
                raise ValueError(f"no float32 value lies in [low, high) = [{low}, {high})")
            scale = high - low
            if not math.isfinite(_f32_nearest(scale)):
                raise ValueError(f"high - low = {scale} overflows float32; use dtype=float64")
        else:
            scale = high - low
            if not math.isfinite(scale):
                raise ValueError(f"high - low = {scale} overflows float64")
            lo, up = low, math.nextafter(high, -math.inf)
        return self._fill(_core.UNIFORM, shape, dt, out, scalar, where, fmt, narrow, low=lo, scale=scale, upper=up)

    def normal(self, size=None, mean=0.0, std=1.0, dtype=None, out=None, *, stream=None, offset=0, row_offsets=None):
        r"""Normal draws N(mean, std^2) by the Box-Muller transform (Box & Muller 1958).

        For pair k, with :math:`u_1, u_2 \in (0, 1)` from words (2k, 2k+1) (float32) or from the float64 uniforms
        of words (4k..4k+3): :math:`r = \sqrt{-2 \ln u_1}`, :math:`z_{2k} = r \cos 2\pi u_2`,
        :math:`z_{2k+1} = r \sin 2\pi u_2`; value = mean + std z. float32 draws reach |z| = 6.77
        (:math:`u_1 \geq 2^{-33}`), float64 draws |z| = 8.7.

        Args:
            size: int or tuple; None returns one scalar.
            mean: finite; std: finite, >= 0.
            dtype: float32 (default) or float64; taken from ``out`` when given.
            out: a writable float32/float64 array filled in place.
            stream: the stream id in [0, 2**64); None (default) takes the next stream of this generator.
            offset: the stream's first draw to use: element i (in C order) is draw offset + i. Pieces of a large
                tensor (shards) filled with the same stream at their offsets hold exactly the numbers one fill of
                the whole tensor would give them.
            row_offsets: instead of offset, the first draw of each row of ``out`` (C-contiguous, its elements cut
                in len(row_offsets) equal rows): a shard made of row pieces, such as a column shard.
        """
        shape, dt, scalar, fmt = _prepare(size, dtype, out)
        where = _where(stream, offset, row_offsets)
        mean, std = _mean_std(mean, std)
        narrow = (_core.F16 if fmt == "float16" else _core.BF16, -math.inf, math.inf) if fmt is not None else None
        return self._fill(_core.NORMAL, shape, dt, out, scalar, where, fmt, narrow, mean=mean, std=std)

    def truncated_normal(self, size=None, mean=0.0, std=1.0, low=None, high=None, dtype=None, out=None, *,
                         stream=None, offset=0, row_offsets=None):
        r"""Normal N(mean, std^2) truncated to [low, high], by inversion of the CDF.

        With :math:`\alpha = (\mathrm{low} - \mathrm{mean})/\mathrm{std}`, :math:`\beta = (\mathrm{high} -
        \mathrm{mean})/\mathrm{std}` and the midpoint uniform :math:`u = (k + 1/2)\,2^{-24}` (float32,
        :math:`k = w_i \gg 8`) or :math:`(k + 1/2)\,2^{-53}` (float64):
        :math:`z = \Phi^{-1}(\Phi(\alpha) + u\,(\Phi(\beta) - \Phi(\alpha)))`, value = mean + std z, clamped to
        [low, high]. The CDF arithmetic is done in the tail that keeps it accurate (both :math:`p` and
        :math:`1 - p` are formed as sums of non-negative terms), so far one-sided bounds such as [3, 8] std work.

        Args:
            size: int or tuple; None returns one scalar.
            mean: finite; std: finite, >= 0.
            low, high: bounds (may be infinite); default mean - 2 std and mean + 2 std, as
                ``torch.nn.init.trunc_normal_`` and Keras's ``TruncatedNormal``.
            dtype: float32 (default) or float64; taken from ``out`` when given.
            out: a writable float32/float64 array filled in place.
            stream: the stream id in [0, 2**64); None (default) takes the next stream of this generator.
            offset: the stream's first draw to use: element i (in C order) is draw offset + i. Pieces of a large
                tensor (shards) filled with the same stream at their offsets hold exactly the numbers one fill of
                the whole tensor would give them.
            row_offsets: instead of offset, the first draw of each row of ``out`` (C-contiguous, its elements cut
                in len(row_offsets) equal rows): a shard made of row pieces, such as a column shard.
        """
        shape, dt, scalar, fmt = _prepare(size, dtype, out)
        where = _where(stream, offset, row_offsets)
        mean, std = _mean_std(mean, std)
        low = mean - 2.0 * std if low is None else V.real(low, "low", finite=False)
        high = mean + 2.0 * std if high is None else V.real(high, "high", finite=False)
        if std == 0.0:
            if not low <= mean <= high:
                raise ValueError(f"std is 0 and mean={mean} is outside [low, high] = [{low}, {high}]: "
                                 "the truncated distribution has no probability mass")
            # A point mass: the normal fill with std 0 writes mean everywhere and keeps stream accounting.
            narrow = _narrow_bounds(fmt, low, high, open_high=False) if fmt is not None else None
            return self._fill(_core.NORMAL, shape, dt, out, scalar, where, fmt, narrow, mean=mean, std=0.0)
        if not low < high:
            raise ValueError(f"low must be < high, got low={low}, high={high}")
        narrow = _narrow_bounds(fmt, low, high, open_high=False) if fmt is not None else None
        if dt == np.float32:
            clamp_lo, clamp_hi = _f32_at_least(low), _f32_at_most(high)
            if clamp_lo > clamp_hi:
                raise ValueError(f"no float32 value lies in [low, high] = [{low}, {high}]")
        else:
            clamp_lo, clamp_hi = low, high
        alpha, beta = (low - mean) / std, (high - mean) / std
        if _nearly_flat(alpha, beta, 24 if dt == np.float32 else 53):
            # the density is constant over [low, high] to the output's precision: the truncated normal is the
            # uniform distribution there, and the uniform is exact where inverting the CDF would lose the digits
            scale = high - low
            if dt == np.float32:
                up = _f32_at_most(high)
                if up >= high:
                    up = _f32_step(up, False)
                lo = clamp_lo
            else:
                lo, up = low, math.nextafter(high, -math.inf)
            if lo > up:
                up = lo   # (a single representable value)
            return self._fill(_core.UNIFORM, shape, dt, out, scalar, where, fmt, narrow, low=lo, scale=scale,
                              upper=up)
        p_lo, q_hi, mass = truncation_params(alpha, beta)
        if not mass > _MIN_MASS:
            raise ValueError(f"the bounds [low, high] = [{low}, {high}] leave no probability mass "
                             f"({alpha:.6g} to {beta:.6g} standard deviations from the mean)")
        return self._fill(_core.TRUNCNORM, shape, dt, out, scalar, where, fmt, narrow, mean=mean, std=std, p_lo=p_lo,
                          q_hi=q_hi, mass=mass, clamp_lo=clamp_lo, clamp_hi=clamp_hi)

    def spawn(self, n):
        """n independent child generators.

        Child i's seed is words 0 and 1 of the Philox block at counter (0xffffffff, 0xffffffff, t lo, t hi) under
        this generator's key, where t is the i-th of n stream ids taken from this generator (the last block of
        stream t, which no fill of a realistic size reaches): seed = w0 | w1 << 32.
        """
        n = V.integer(n, "n")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        first = self._take_streams(n)
        streams = np.arange(first, first + n, dtype=np.uint64)
        counters = np.empty((n, 4), dtype=np.uint32)
        counters[:, 0] = counters[:, 1] = 0xFFFFFFFF
        counters[:, 2] = streams & np.uint64(0xFFFFFFFF)
        counters[:, 3] = streams >> np.uint64(32)
        words = philox4x32(counters, _key_words(self._seed))
        return [Generator(int(w[0]) | (int(w[1]) << 32)) for w in words]


def _key_words(seed):
    return np.array([seed & 0xFFFFFFFF, seed >> 32], dtype=np.uint32)


def _uint32_words(a, name, last):
    arr = np.asarray(a)
    if arr.dtype.kind not in "ui":
        raise TypeError(f"{name} must be an array of unsigned 32-bit integers, got dtype {arr.dtype}")
    if arr.ndim == 0 or arr.shape[-1] != last:
        raise ValueError(f"{name} must have shape (..., {last}), got {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
        raise ValueError(f"{name} words must be in [0, 2**32)")
    return arr.astype(np.uint32, copy=False)


def philox4x32(counter, key, rounds=10):
    """The Philox4x32 block function (Salmon et al., SC 2011), broadcast over leading dimensions.

    One round: (hi0, lo0) = 0xD2511F53 x0, (hi1, lo1) = 0xCD9E8D57 x2 (32x32 -> 64-bit products);
    x = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0); the key is bumped by (0x9E3779B9, 0xBB67AE85) between rounds.

    Args:
        counter: uint32 array of shape (..., 4).
        key: uint32 array of shape (..., 2).
        rounds: number of rounds (10 is Philox4x32-10, the generator's).
    Returns:
        uint32 array of shape broadcast(...) + (4,).
    """
    c = _uint32_words(counter, "counter", 4)
    k = _uint32_words(key, "key", 2)
    rounds = V.integer(rounds, "rounds")
    if not 0 <= rounds <= 1 << 20:
        raise ValueError(f"rounds must be in [0, 2**20], got {rounds}")
    lead = np.broadcast_shapes(c.shape[:-1], k.shape[:-1])
    cb = np.ascontiguousarray(np.broadcast_to(c, lead + (4,))).reshape(-1, 4)
    kb = np.ascontiguousarray(np.broadcast_to(k, lead + (2,))).reshape(-1, 2)
    out = np.empty_like(cb)
    _core.philox4x32(cb, kb, out, rounds)
    return out.reshape(lead + (4,))


# ---------------------------------------------------------------- module-level API and threads

_default = Generator()
_default_lock = threading.Lock()


def default_generator():
    """The generator behind the module-level functions (reseed it with ``manual_seed``)."""
    return _default


def manual_seed(seed):
    """Reseed the default generator: the module-level draws that follow are reproducible. Returns it."""
    global _default
    gen = Generator(V.uint64(seed, "seed"))
    with _default_lock:
        _default = gen
    return gen


def _generator_for(seed):
    return _default if seed is None else Generator(seed)


def uniform(size=None, low=0.0, high=1.0, dtype=None, out=None, seed=None):
    """``Generator.uniform`` on the default generator, or on ``Generator(seed)`` when seed is given."""
    return _generator_for(seed).uniform(size, low, high, dtype, out)


def normal(size=None, mean=0.0, std=1.0, dtype=None, out=None, seed=None):
    """``Generator.normal`` on the default generator, or on ``Generator(seed)`` when seed is given."""
    return _generator_for(seed).normal(size, mean, std, dtype, out)


def truncated_normal(size=None, mean=0.0, std=1.0, low=None, high=None, dtype=None, out=None, seed=None):
    """``Generator.truncated_normal`` on the default generator, or on ``Generator(seed)`` when seed is given."""
    return _generator_for(seed).truncated_normal(size, mean, std, low, high, dtype, out)


# More threads than this is a mistake (libgomp exits the process when it cannot create them), not a setting.
MAX_THREADS = 1024


def set_num_threads(n):
    """Threads the C fills and the simulation's fused passes use (OpenMP). Results do not depend on it.

    n in [1, MAX_THREADS]. In a process forked after fastinit ran parallel work (multiprocessing's fork start
    method, a DataLoader worker) fastinit stays serial: OpenMP's threads do not survive a fork, and waiting for
    them would hang. Such a child warns and keeps 1 thread; the numbers are the same."""
    n = V.positive_int(n, "n")
    if n > MAX_THREADS:
        raise ValueError(f"n must be at most {MAX_THREADS} threads, got {n}")
    if n > 1 and _core.fork_serial():
        warnings.warn("fastinit runs serially in a process forked after its parallel fills (OpenMP threads do not "
                      "survive a fork); set_num_threads is ignored here", RuntimeWarning, stacklevel=2)
    _core.set_num_threads(n)


def get_num_threads():
    """Threads the C fills use (see ``default_num_threads`` for the default)."""
    return _core.get_num_threads()


def _env_threads(name):
    """A thread count from an environment variable (OMP_NUM_THREADS may be a list: its first entry), or None."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    first = text.split(",")[0].strip()
    try:
        n = int(first)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {text!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"{name} must be an integer in [1, {MAX_THREADS}], got {text!r}")
    return n


def _cgroup_cpus():
    """CPUs the cgroup (v2 cpu.max, v1 cfs quota) lets this process use, rounded up, or None without a quota."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def default_num_threads():
    """The thread count fastinit starts with, from the conventions a process already follows, first found:
    $FASTINIT_NUM_THREADS; $OMP_NUM_THREADS (torchrun sets 1 per rank); else the CPUs this process may run on
    (its affinity mask, ``os.sched_getaffinity``) capped by its cgroup's CPU quota. ``set_num_threads`` overrides
    all of them at run time."""
    n = _env_threads("FASTINIT_NUM_THREADS")
    if n is not None:
        return n
    try:
        n = _env_threads("OMP_NUM_THREADS")
    except ValueError as exc:   # not ours to refuse: other libraries read it too
        warnings.warn(f"{exc}; fastinit ignores it", RuntimeWarning, stacklevel=2)
        n = None
    if n is not None:
        return n
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpus()
    return max(1, min(cpus, quota) if quota else cpus)


_core.set_num_threads(min(default_num_threads(), MAX_THREADS))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_core.after_fork_child)
