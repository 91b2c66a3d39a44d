"""Rounding of bounds to the values an output format holds: float32, float16 and bfloat16.

A fill keeps every value inside its distribution's bounds as the output's dtype represents them (a uniform on
[low, high) never returns high, a truncated normal never leaves [low, high]); these helpers give the dtype's
values next to a bound. They work on Python floats through ``struct`` (not NumPy scalars, whose ``errstate`` costs
microseconds that small tensors notice): they run on every float32 uniform and truncated-normal call.

float16 and bfloat16 outputs hold the float32 draws, kept inside the bounds (values of the 16-bit format) and
rounded to nearest even; bfloat16 has no NumPy dtype, so its values travel as their bit patterns (uint16).
"""
import math
import struct

import numpy as np

__all__ = ["NARROW_FORMATS", "f32_nearest", "f32_step", "f32_at_least", "f32_at_most", "at_least16", "at_most16",
           "step16"]

NARROW_FORMATS = ("float16", "bfloat16")

_F32 = struct.Struct("<f")
_U32 = struct.Struct("<I")
_F32_MAX = _F32.unpack(b"\xff\xff\x7f\x7f")[0]


def f32_nearest(x):
    """x rounded to the nearest float32 (as a Python float), +-inf past the float32 range."""
    try:
        return _F32.unpack(_F32.pack(x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def f32_step(f, up):
    """The float32 next to the float32 value f towards +inf (up) or -inf, like numpy.nextafter."""
    if f == 0.0:
        return math.ldexp(1.0 if up else -1.0, -149)
    if math.isinf(f):
        return f if (f > 0) == up else math.copysign(_F32_MAX, f)
    bits = _U32.unpack(_F32.pack(f))[0]
    # Float32 bit patterns are sign-magnitude: one more away from zero, one less towards it.
    bits += 1 if (f > 0) == up else -1
    return _F32.unpack(_U32.pack(bits))[0]


def f32_at_least(x):
    """The smallest float32 >= x (x finite or infinite), as a Python float."""
    f = f32_nearest(x)
    return f32_step(f, True) if f < x else f


def f32_at_most(x):
    """The largest float32 <= x, as a Python float."""
    f = f32_nearest(x)
    return f32_step(f, False) if f > x else f


def _bits16(x, fmt):
    """The 16-bit pattern of a value of the format (x exactly representable, or rounded to nearest even)."""
    if fmt == "float16":
        with np.errstate(over="ignore"):
            return int(np.array(x, np.float16).view(np.uint16))
    u = _U32.unpack(_F32.pack(f32_nearest(x)))[0]
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF


def _value16(bits, fmt):
    if fmt == "float16":
        return float(np.array(bits, np.uint16).view(np.float16))
    return _F32.unpack(_U32.pack(bits << 16))[0]


def nearest16(x, fmt):
    """x cast to the 16-bit format as torch casts a bound (double to float32, then to nearest even)."""
    return _value16(_bits16(f32_nearest(x), fmt), fmt)


def max16(fmt):
    """The largest finite value of the 16-bit format (float16 65504, bfloat16 3.3895e38)."""
    return _value16(0x7BFF if fmt == "float16" else 0x7F7F, fmt)


def step16(x, up, fmt):
    """The value of the 16-bit format next to x (a value of it) towards +inf (up) or -inf."""
    if x == 0.0:
        return _value16(0x0001 if up else 0x8001, fmt)
    if math.isinf(x):
        return x if (x > 0) == up else _value16(_bits16(x, fmt) - 1, fmt)
    return _value16(_bits16(x, fmt) + (1 if (x > 0) == up else -1), fmt)


def at_least16(x, fmt):
    """The smallest value of the 16-bit format >= x."""
    f = _value16(_bits16(x, fmt), fmt)
    return step16(f, True, fmt) if f < x else f


def at_most16(x, fmt):
    """The largest value of the 16-bit format <= x."""
    f = _value16(_bits16(x, fmt), fmt)
    return step16(f, False, fmt) if f > x else f
