"""The fill specification: one typed, validated description of a fill, handed to a backend
(``fastinit.random._backends``).

A ``FillSpec`` says everything a backend needs besides the output buffer: the kind of draws (``raw``, ``uniform``,
``normal``, ``truncated_normal``), the output element type (``uint32``, ``float32``, ``float64``, ``float16``,
``bfloat16``), the seed and stream, the distribution's parameters (``params``, the fields of the C core's
``fi_dist`` by name), and where in the stream the output starts (``offset``) or where each of its rows starts
(``row_offsets``). The builders here (``uniform``, ``normal``, ``truncated_normal``) validate the user's numbers
once and compute the parameters the kernels read (bounds rounded to the output's values, the truncated normal's
tail-safe CDF values, the regime it is drawn in); a backend only checks its buffer.

Adding a distribution parameter: a field of ``fi_dist`` (csrc/fastinit.h) and of its Cython mirror
(_core.pyx), its default in ``PARAMS`` below, the builder that sets it and the kernels that read it
(``p->dist.<name>``); tests/test_structure.py checks that PARAMS and the mirror name the same fields.
"""
import functools
import math
import types
from typing import NamedTuple

import numpy as np

from .. import _validate as V
from . import _rounding as R

__all__ = ["BoundsError", "FillSpec", "torch_uniform", "PARAMS", "KINDS", "DTYPES", "position", "check_range",
           "uniform", "normal",
           "truncated_normal", "truncation_params", "STORAGE", "FLOAT_DTYPES", "NATIVE_DTYPES", "TORCH_ELEMENT",
           "storage_dtype", "element_of_storage", "float_element", "float_dtype", "narrow_format", "out_array"]

KINDS = ("raw", "uniform", "normal", "truncated_normal")
# The output element types (fi_dtype of csrc/fastinit.h): the package's one element-type table, which the doors
# read. Each with the NumPy dtype of a buffer of it: the 16-bit ones hold the float32 draws rounded to nearest even,
# bfloat16 as its uint16 bit patterns.
STORAGE = types.MappingProxyType({"uint32": np.dtype(np.uint32), "float32": np.dtype(np.float32),
                                  "float64": np.dtype(np.float64), "float16": np.dtype(np.float16),
                                  "bfloat16": np.dtype(np.uint16)})
DTYPES = tuple(STORAGE)
FLOAT_DTYPES = DTYPES[1:]                                    # what an initializer's dtype= names
NATIVE_DTYPES = (STORAGE["float32"], STORAGE["float64"])     # computed in, and written in place without rounding
TORCH_ELEMENT = {f"torch.{name}": name for name in FLOAT_DTYPES}   # str(tensor.dtype) -> element type
# a buffer's dtype -> the element type it stores (uint16: bfloat16 bits); a dict, not dtype.name (microseconds)
_ELEMENT = {v: k for k, v in STORAGE.items()}

# fi_dist's fields (csrc/fastinit.h) and their values when a kind does not use them
_DEFAULTS = {"low": 0.0, "scale": 1.0, "upper": 1.0, "mean": 0.0, "std": 1.0, "p_lo": 0.0, "q_hi": 0.0, "mass": 1.0,
             "clamp_lo": 0.0, "clamp_hi": 0.0, "narrow_lo": -math.inf, "narrow_hi": math.inf}
PARAMS = types.MappingProxyType(_DEFAULTS)


class BoundsError(ValueError):
    """Bounds the output dtype cannot draw between (no value of it lies inside them, or their span overflows it):
    a ValueError, told apart so that a caller that computed the bounds can say what they came from."""


class FillSpec(NamedTuple):
    """One fill. ``kind`` in KINDS, ``dtype`` in DTYPES, ``seed`` and ``stream`` in [0, 2**64), ``params`` a dict
    (read-only) of every PARAMS field, ``offset`` the stream's draw that element 0 gets (element i: draw offset + i), or
    ``row_offsets`` (a uint64 array) the first draw of each of len(row_offsets) equal rows of the output."""

    kind: str
    dtype: str
    seed: int
    stream: int
    params: dict
    offset: int = 0
    row_offsets: object = None


def _params(**given):
    params = dict(_DEFAULTS)
    params.update(given)
    return types.MappingProxyType(params)


def position(stream, offset, row_offsets=None):
    """(stream or None, offset, row_offsets) checked: which stream, and its first draw (or each row's)."""
    if stream is not None:
        stream = V.uint64(stream, "stream")
    offset = V.integer(offset, "offset")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    if row_offsets is not None and offset:
        raise ValueError("give offset or row_offsets, not both")
    return stream, offset, row_offsets


def check_range(offset, count, dtype):
    """A stream has 2**64 Philox blocks: 2**66 float32 / uint32 / 16-bit draws, 2**65 float64 draws."""
    limit = (1 << 65) if dtype == "float64" else (1 << 66)
    if offset + count > limit:
        raise ValueError(f"offset {offset} + {count} draws is past the end of the stream ({limit} draws)")


# ------------------------------------------------------------------------------------------ 16-bit bounds

def _interval(names, low, high, open_high):
    """'[a, b) = [0.5, 0.25)': the interval as the caller named its bounds, for error messages."""
    close = ")" if open_high else "]"
    return f"[{names[0]}, {names[1]}{close} = [{low}, {high}{close}"


def _narrow(dtype, low, high, open_high, names):
    """narrow_lo / narrow_hi of a 16-bit output: the values of the format the float32 draws are held in,
    [low, high) or [low, high]."""
    if open_high:
        _in_range16(dtype, (low, high), names)
    lo, hi = R.at_least16(low, dtype), R.at_most16(high, dtype)
    if open_high and hi >= high:
        hi = R.step16(hi, False, dtype)
    if not lo <= hi or math.isinf(lo) and lo > 0 or math.isinf(hi) and hi < 0:
        raise BoundsError(f"no {dtype} value lies in {_interval(names, low, high, open_high)}")
    return {"narrow_lo": lo, "narrow_hi": hi}


def _uniform_bounds(low, high, dtype, names):
    """low rounded up to the draw's dtype, scale = high - low, upper = the largest value of it below high."""
    if dtype != "float64":   # float32 draws, also under 16-bit outputs
        lo, up = R.f32_at_least(low), R.f32_at_most(high)
        if up >= high:
            up = R.f32_step(up, False)
        if not (math.isfinite(lo) and math.isfinite(up) and lo <= up):
            raise BoundsError(f"no float32 value lies in {_interval(names, low, high, True)}")
        scale = high - low
        if not math.isfinite(R.f32_nearest(scale)):
            raise BoundsError(f"{names[1]} - {names[0]} = {scale} overflows float32; use dtype=float64")
        return {"low": lo, "scale": scale, "upper": up}
    scale = high - low
    if not math.isfinite(scale):
        raise BoundsError(f"{names[1]} - {names[0]} = {scale} overflows float64")
    return {"low": low, "scale": scale, "upper": math.nextafter(high, -math.inf)}


# ------------------------------------------------------------------------------------------ builders

def _ordered(low, high, names):
    if not low < high:
        raise ValueError(f"{names[0]} must be < {names[1]}, got {names[0]}={low}, {names[1]}={high}")


def uniform(low, high, dtype, names=("low", "high")):
    """(kind, params) of U[low, high) in the output dtype: every value in [low, high) as the dtype holds them.
    ``names``: what the caller calls the bounds (torch's ``a``, ``b``), for the error messages."""
    low, high = V.real(low, names[0]), V.real(high, names[1])
    _ordered(low, high, names)
    # the signs of zero are part of the key: a cache keyed by the floats alone would take -0.0 for 0.0
    return _uniform(low, high, dtype, math.copysign(1.0, low), math.copysign(1.0, high), names)


@functools.lru_cache(maxsize=1024)
def _uniform(low, high, dtype, low_sign, high_sign, names):
    """The parameters of a valid uniform, cached: model code asks for the same bounds layer after layer, and
    rounding them to the dtype is most of a small tensor's cost."""
    narrow = _narrow(dtype, low, high, True, names) if dtype in R.NARROW_FORMATS else {}
    return "uniform", _params(**_uniform_bounds(low, high, dtype, names), **narrow)


def torch_uniform(low, high, dtype, names=("a", "b")):
    """(kind, params) of torch's ``uniform_(a, b)``: ``uniform`` for float32 / float64; for float16 and bfloat16 the
    bounds cast to the format first, as torch does (``static_cast<scalar_t>(from)``), so every value lies in
    [dtype(a), dtype(b)), and ``a == b`` (or bounds that cast to one value) fills that value."""
    low, high = V.real(low, names[0]), V.real(high, names[1])
    if not low <= high:
        raise ValueError(f"{names[0]} must be <= {names[1]}, got {names[0]}={low}, {names[1]}={high}")
    if dtype == "float32" and not (-_FLOAT32_MAX <= low and high <= _FLOAT32_MAX):   # torch: "out of bounds"
        _in_range(dtype, _FLOAT32_MAX, (low, high), names)
    if dtype in R.NARROW_FORMATS:
        _in_range16(dtype, (low, high), names)
        if high - low > R.max16(dtype):   # torch: "uniform_ expects to-from <= std::numeric_limits<Half>::max()"
            raise BoundsError(f"{names[1]} - {names[0]} = {high - low} exceeds the largest {dtype} value")
        low, high = R.nearest16(low, dtype), R.nearest16(high, dtype)
    if low == high:   # one value: torch's from + (to - from) * u
        narrow = {"narrow_lo": low, "narrow_hi": low} if dtype in R.NARROW_FORMATS else {}
        return "normal", _params(mean=low, std=0.0, **narrow)
    return _uniform(low, high, dtype, math.copysign(1.0, low), math.copysign(1.0, high), names)   # (checked above)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _in_range16(dtype, bounds, names):
    """A uniform's bounds must be values of the 16-bit format's range, as torch requires ("to is out of bounds")."""
    _in_range(dtype, R.max16(dtype), bounds, names)


def _in_range(dtype, largest, bounds, names):
    for name, bound in zip(names, bounds):
        if not -largest <= bound <= largest:
            raise BoundsError(f"{name}={bound} is beyond the {dtype} range [-{largest:g}, {largest:g}]")


def _mean_std(mean, std):
    mean, std = V.real(mean, "mean"), V.real(std, "std")
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return mean, std


def normal(mean, std, dtype):
    """(kind, params) of N(mean, std^2)."""
    mean, std = _mean_std(mean, std)
    return "normal", _params(mean=mean, std=std)


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


def truncated_normal(mean, std, low, high, dtype, names=("low", "high")):
    """(kind, params) of N(mean, std^2) truncated to [low, high] (default mean -/+ 2 std): the inverse CDF, or
    where that would lose digits the distribution it equals there (a point mass for std 0, the uniform where the
    density is flat to the output's precision). ``names``: the caller's names of the bounds, for messages."""
    mean, std = _mean_std(mean, std)
    low = mean - 2.0 * std if low is None else V.real(low, names[0], finite=False)
    high = mean + 2.0 * std if high is None else V.real(high, names[1], finite=False)
    narrow16 = dtype in R.NARROW_FORMATS
    if std == 0.0:
        if not low <= mean <= high:
            raise ValueError(f"std is 0 and mean={mean} is outside {_interval(names, low, high, False)}: "
                             "the truncated distribution has no probability mass")
        # A point mass: the normal fill with std 0 writes mean everywhere.
        narrow = _narrow(dtype, low, high, False, names) if narrow16 else {}
        return "normal", _params(mean=mean, std=0.0, **narrow)
    if low == high and math.isfinite(low):   # torch's trunc_normal_(a == b): every value a
        narrow = _narrow(dtype, low, high, False, names) if narrow16 else {}
        return "normal", _params(mean=low, std=0.0, **narrow)
    _ordered(low, high, names)
    narrow = _narrow(dtype, low, high, False, names) if narrow16 else {}
    if dtype != "float64":
        clamp_lo, clamp_hi = R.f32_at_least(low), R.f32_at_most(high)
        if clamp_lo > clamp_hi:
            raise BoundsError(f"no float32 value lies in {_interval(names, low, high, False)}")
    else:
        clamp_lo, clamp_hi = low, high
    alpha, beta = (low - mean) / std, (high - mean) / std
    if _nearly_flat(alpha, beta, 53 if dtype == "float64" else 24):
        # the density is constant over [low, high] to the output's precision: the truncated normal is the
        # uniform distribution there, and the uniform is exact where inverting the CDF would lose the digits
        if dtype != "float64":
            up = R.f32_at_most(high)
            if up >= high:
                up = R.f32_step(up, False)
            lo = clamp_lo
        else:
            lo, up = low, math.nextafter(high, -math.inf)
        if lo > up:
            up = lo   # (a single representable value)
        return "uniform", _params(low=lo, scale=high - low, upper=up, **narrow)
    p_lo, q_hi, mass = truncation_params(alpha, beta)
    if not mass > _MIN_MASS:
        raise ValueError(f"the bounds {_interval(names, low, high, False)} leave no probability mass "
                         f"({alpha:.6g} to {beta:.6g} standard deviations from the mean)")
    return "truncated_normal", _params(mean=mean, std=std, p_lo=p_lo, q_hi=q_hi, mass=mass, clamp_lo=clamp_lo,
                                       clamp_hi=clamp_hi, **narrow)


def storage_dtype(dtype):
    """The NumPy dtype of a buffer of the output element type (bfloat16: its uint16 bit patterns)."""
    return STORAGE[dtype]


def element_of_storage(storage):
    """The output element type a buffer of this NumPy dtype holds (a uint16 buffer holds bfloat16 bits)."""
    return _ELEMENT[storage]


def float_element(dtype, name="dtype"):
    """The float element type a dtype names: 'float32' (None), 'float64', 'float16' or 'bfloat16', from a string,
    a NumPy dtype or scalar type, ml_dtypes.bfloat16 / jnp.bfloat16, or a Keras dtype string."""
    if dtype is None:
        return "float32"
    try:
        key = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    except TypeError:
        key = None
    if key not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32, float64, float16 or bfloat16, got {dtype!r}")
    return key


def float_dtype(dtype, name="dtype", narrow=False):
    """float32 or float64 as a np.dtype (narrow=True: the caller also takes float16 and 'bfloat16', and says so)."""
    valid = "float32, float64, float16 or 'bfloat16'" if narrow else "float32 or float64"
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be {valid}, got {dtype!r}") from exc
    if dt not in NATIVE_DTYPES:
        raise TypeError(f"{name} must be {valid}, got {dt}")
    return dt


def narrow_format(dtype):
    """'float16' / 'bfloat16' when dtype names a 16-bit output (any spelling NumPy takes for float16: np.float16,
    'e', 'f2', 'half'), else None."""
    if isinstance(dtype, str) and dtype == "bfloat16":
        return dtype
    if dtype is None:
        return None
    try:
        return "float16" if np.dtype(dtype) == np.float16 else None
    except TypeError:
        return None   # (not a dtype at all: float_dtype says so)


def out_array(out, size, dtype, name="out", storage=False):
    """Check out (a writable float32/float64 ndarray whose shape matches size when both are given; storage=True:
    any dtype, the caller checked it)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if not storage and out.dtype not in NATIVE_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only; pass a writable array")
    if dtype is not None and float_dtype(dtype) != out.dtype:
        raise TypeError(f"dtype {np.dtype(dtype)} does not match {name}.dtype {out.dtype}")
    if size is not None and V.shape(size) != out.shape:
        raise ValueError(f"{name} has shape {out.shape} but size is {V.shape(size)}")
    V.overlapping(out, name)
    return out
