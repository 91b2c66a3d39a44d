"""float16 and bfloat16 fills: the float32 draws, held inside the distribution's bounds and rounded to nearest
even, written by the C core on both SIMD paths."""
import re

import numpy as np
import pytest

import fastinit as fi
from fastinit import _core
from fastinit.random import _spec

N = 100_003   # not a multiple of a group: the partial last group is narrowed too


def bf16_round(x32):
    """float32 -> bfloat16 bit patterns, round to nearest even (the reference for the C conversion)."""
    u = np.ascontiguousarray(x32, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_values(bits):
    return (np.asarray(bits, np.uint32) << 16).view(np.float32)


def f16_inside(low, high, open_high):
    """The smallest and largest float16 in [low, high) or [low, high] (NumPy's own rounding and nextafter)."""
    lo, hi = np.float16(low), np.float16(high)
    if float(lo) < low:   # (a float16 compared with a Python float would round the float to float16)
        lo = np.nextafter(lo, np.float16(np.inf))
    if float(hi) > high or (open_high and float(hi) >= high):
        hi = np.nextafter(hi, np.float16(-np.inf))
    return np.float32(lo), np.float32(hi)


def bf16_inside(low, high, open_high):
    """The smallest and largest bfloat16 in [low, high) or [low, high], from a sorted table of every bfloat16."""
    table = bf16_values(np.arange(1 << 16, dtype=np.uint32))
    table = np.sort(table[np.isfinite(table)])
    lo = table[np.searchsorted(table, low, side="left")]
    hi = table[np.searchsorted(table, high, side="left" if open_high else "right") - 1]
    return lo, hi


def bounds(method, kw):
    if method == "uniform":
        return kw["low"], kw["high"], True
    if method == "truncated_normal":
        mean, std = kw.get("mean", 0.0), kw["std"]
        return kw.get("low", mean - 2 * std), kw.get("high", mean + 2 * std), False
    return -np.inf, np.inf, False


def draw(method, fmt, seed=3, **kw):
    g = getattr(fi.Generator(seed), method)
    if fmt == "float32":
        return g(N, dtype=np.float32, **kw)
    return g(N, dtype=fmt, **kw)


@pytest.fixture(params=["baseline", "avx2"])
def simd(request):
    if request.param not in _core.simd_available():
        pytest.skip("no AVX2 on this CPU / build")
    before = _core.get_simd()
    _core.set_simd(request.param)
    yield request.param
    _core.set_simd(before)


@pytest.mark.parametrize("method, kw", [("normal", dict(mean=0.5, std=2.0)),
                                        ("normal", dict(std=1e-5)),         # float16 subnormals
                                        ("normal", dict(std=20000.0)),      # float16 overflow to inf
                                        ("truncated_normal", dict(std=0.02)),
                                        ("truncated_normal", dict(std=1.0, low=-0.3, high=0.7)),
                                        ("uniform", dict(low=-3.0, high=5.0))])
def test_equal_to_the_float32_draws_held_and_rounded(simd, method, kw):
    x32 = draw(method, "float32", **kw)
    low, high, open_high = bounds(method, kw)
    with np.errstate(over="ignore"):
        want16 = np.clip(x32, *f16_inside(low, high, open_high)).astype(np.float16)
    np.testing.assert_array_equal(draw(method, "float16", **kw).view(np.uint16), want16.view(np.uint16))
    want_bf16 = bf16_round(np.clip(x32, *bf16_inside(low, high, open_high)))
    np.testing.assert_array_equal(draw(method, "bfloat16", **kw), want_bf16)


def test_overflow_and_subnormals_are_exercised():
    big = draw("normal", "float16", std=20000.0)
    tiny = draw("normal", "float16", std=1e-5)
    assert np.isinf(big).any() and (np.abs(tiny) < 2.0 ** -14).any() and (tiny != 0).any()


@pytest.mark.parametrize("fmt", ["float16", "bfloat16"])
@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-0.1, 0.1), (0.3, 0.3027)])
def test_uniform_never_reaches_high(simd, fmt, low, high):
    """A float32 draw just below high rounds up to high in 16 bits: it is held at the largest value below."""
    x = draw("uniform", fmt, low=low, high=high)
    v = bf16_values(x) if fmt == "bfloat16" else x.astype(np.float64)
    assert v.min() >= low and v.max() < high


@pytest.mark.parametrize("fmt", ["float16", "bfloat16"])
def test_truncated_normal_inside_its_bounds(simd, fmt):
    x = draw("truncated_normal", fmt, mean=0.0, std=1.0, low=-0.3, high=0.7)
    v = bf16_values(x) if fmt == "bfloat16" else x.astype(np.float64)
    assert v.min() >= -0.3 and v.max() <= 0.7


def test_no_value_in_the_interval():
    with pytest.raises(ValueError, match="no bfloat16 value lies in"):
        fi.Generator(0).uniform(4, 1.001, 1.002, dtype="bfloat16")
    with pytest.raises(ValueError, match="no float16 value lies in"):
        fi.Generator(0).uniform(4, 2.0001, 2.0002, dtype="float16")
    with pytest.raises(ValueError, match="low=70000.0 is beyond the float16 range"):
        fi.Generator(0).uniform(4, 70000.0, 80000.0, dtype="float16")


def test_pieces_threads_and_strided_outputs():
    """Offsets, thread counts and strided outputs give the same 16-bit values as one fill."""
    whole = fi.Generator(5).normal(N, dtype="bfloat16")
    piece = fi.Generator(5).normal(1000, dtype="bfloat16", stream=0, offset=12_345)
    np.testing.assert_array_equal(piece, whole[12_345:13_345])
    before = fi.get_num_threads()
    try:
        fi.set_num_threads(1)
        one = fi.Generator(5).normal(1 << 18, dtype="float16")
        fi.set_num_threads(2)
        two = fi.Generator(5).normal(1 << 18, dtype="float16")
    finally:
        fi.set_num_threads(before)
    np.testing.assert_array_equal(one, two)
    out = np.zeros((600, 400), np.float16)[:, ::2]
    fi.Generator(5).normal(out=out)
    np.testing.assert_array_equal(out.ravel(), fi.Generator(5).normal(out.size, dtype="float16"))


def test_bfloat16_out_must_be_uint16():
    with pytest.raises(TypeError, match="uint16"):
        fi.Generator(0).normal(out=np.zeros(4, np.float32), dtype="bfloat16")


@pytest.mark.parametrize("dtype, high", [("float16", 1e5), ("float16", 65505.0), ("bfloat16", 3.4e38)])
def test_uniform_bounds_beyond_the_16_bit_range_are_refused(dtype, high):
    """They were clamped: uniform(0, 1e5, dtype="float16") put 35% of the values at 65504. torch refuses such
    bounds ("to is out of bounds for c10::Half"); fastinit's API says which bound, fast_init passes the call to
    torch for torch's error."""
    with pytest.raises(ValueError, match=re.escape(f"high={high} is beyond the {dtype} range")):
        fi.Generator(0).uniform(10, 0.0, high, dtype=dtype)
    with pytest.raises(ValueError, match=re.escape(f"low=-{high} is beyond")):
        fi.Generator(0).uniform(10, -high, 0.0, dtype=dtype)
    if dtype == "float16":   # a NumPy array: fastinit's error, naming the bound
        with pytest.raises(ValueError, match=re.escape(f"b={high} is beyond")):
            fi.init.uniform_(np.zeros(10, np.float16), 0.0, high)
    torch = pytest.importorskip("torch")
    t = torch.zeros(10, dtype=getattr(torch, dtype))
    with pytest.raises(RuntimeError, match="out of bounds"):   # a torch tensor: torch's rule and error
        fi.init.uniform_(t, 0.0, high)
    with fi.fast_init(seed=0) as mode:
        with pytest.raises(RuntimeError, match="out of bounds"):
            t.uniform_(0.0, high)
    assert mode.fills == 0 and not t.any()
    largest = 65504.0 if dtype == "float16" else float(torch.finfo(torch.bfloat16).max)
    x = fi.Generator(0).uniform(10_000, 0.0, largest, dtype=dtype)   # the largest value itself is a fine bound
    values = x.astype(np.float32) if dtype == "float16" else (x.astype(np.uint32) << 16).view(np.float32)
    assert np.isfinite(values).all() and values.max() < largest


def test_16_bit_normals_across_paths_are_at_most_one_step_apart_and_the_readme_says_so():
    """The float32 tolerance between SIMD paths becomes, after rounding, one 16-bit step where a value straddles a
    rounding boundary (4 in 4.2 million float16 normals); the stream format promised the same numbers."""
    import os

    if "avx2" not in _core.simd_available():
        pytest.skip("one SIMD path only")
    before = _core.get_simd()
    try:
        draws = {}
        for path in ("baseline", "avx2"):
            _core.set_simd(path)
            draws[path] = {t: fi.Generator(9).normal(1 << 22, dtype=t) for t in ("float16", "bfloat16")}
    finally:
        _core.set_simd(before)
    for t in ("float16", "bfloat16"):
        a, b = draws["baseline"][t], draws["avx2"][t]
        bits_a, bits_b = (x.view(np.uint16).astype(np.int32) for x in (a, b))
        assert np.abs(bits_a - bits_b).max() <= 1, t   # (same signs: the bit patterns are one apart)
    page = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "sampling.md")
    if os.path.exists(page):   # (the stream format's page says so)
        text = open(page, encoding="utf-8").read()
        section = text[text.index("## Stream format"):]
        end = section.find("\n## ", 5)
        assert "one step of the format apart" in section[:end if end > 0 else None]


def exact_clamp(x, lo, hi):
    """v < lo ? lo : v > hi ? hi : v (np.clip may hand back a bound's zero for a zero of the other sign)."""
    return np.where(x < lo, lo, np.where(x > hi, hi, x)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["float16", "bfloat16"])
def test_values_that_round_to_zero_keep_their_sign_on_every_path(simd, fmt):
    """U[-1e-9, 1e-9) holds its float32 draws in [-0, 0]: a negative draw is -0, as IEEE rounding and torch give it.
    The AVX2 path wrote +0 (maxps / minps hand back their second operand on a zero tie) where the portable one
    wrote -0; the device kernels and JAX clamp the same way now (tests/test_device_kernels.py, test_jax.py)."""
    kw = dict(low=-1e-9 if fmt == "float16" else -1e-42, high=1e-9 if fmt == "float16" else 1e-42)
    x32 = draw("uniform", "float32", **kw)
    params = _spec.uniform(kw["low"], kw["high"], fmt)[1]
    lo, hi = np.float32(params["narrow_lo"]), np.float32(params["narrow_hi"])
    assert np.signbit(lo) and not np.signbit(hi)   # [-0, 0]: the format's values in [low, high)
    held = exact_clamp(x32, lo, hi)
    got = draw("uniform", fmt, **kw)
    want = held.astype(np.float16).view(np.uint16) if fmt == "float16" else bf16_round(held)
    np.testing.assert_array_equal(got.view(np.uint16), want)
    negative = np.count_nonzero(x32 < 0)
    assert 0 < negative < N and np.count_nonzero(got.view(np.uint16) == 0x8000) == negative
