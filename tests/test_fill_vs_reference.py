"""The C fills against reference.py: raw words and uniforms bit-exact, normal and truncated normal within
2e-6 (float32, |z| < 6) and 1e-12 (float64) absolute, on every SIMD path and for every thread count."""
import numpy as np
import pytest

import fastinit as fi
from fastinit import reference as R

SIZES = [0, 1, 2, 3, 5, 31, 32, 33, 1001, 65537, 2**20 + 3]
DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-12}
SEED = 0x9E3779B97F4A7C15


def draw(kind, gen, n, dtype, **kw):
    return getattr(gen, kind)(n, dtype=dtype, **kw)


def reference(kind, stream, n, dtype, **kw):
    return getattr(R, kind)(SEED, stream, n, dtype=dtype, **kw)


@pytest.mark.parametrize("n", SIZES)
def test_raw_bit_exact(simd, n):
    g = fi.Generator(SEED)
    np.testing.assert_array_equal(g.random_raw(n), R.random_raw(SEED, 0, n))
    np.testing.assert_array_equal(g.random_raw(n, stream=2**64 - 1), R.random_raw(SEED, 2**64 - 1, n))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("low,high", [(0.0, 1.0), (-1.5, 2.5), (-1e-3, 1e-3), (3.0, 3.0000005)])
def test_uniform_bit_exact(simd, n, dtype, low, high):
    g = fi.Generator(SEED)
    g.random_raw(1)                      # use stream 1 so that the stream id is part of what is checked
    got = g.uniform(n, low, high, dtype=dtype)
    want = R.uniform(SEED, 1, n, low, high, dtype)
    assert got.dtype == np.dtype(dtype) and got.shape == (n,)
    np.testing.assert_array_equal(got, want)
    if n:
        assert float(got.min()) >= low and float(got.max()) < high


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_normal_close(simd, n, dtype):
    g = fi.Generator(SEED)
    got = g.normal(n, dtype=dtype)
    want = R.normal(SEED, 0, n, dtype=dtype)
    assert got.dtype == np.dtype(dtype) and got.shape == (n,)
    inside = np.abs(want) < 6
    assert np.all(np.abs(got[inside].astype(np.float64) - want[inside]) <= TOL[np.dtype(dtype)])
    assert np.all(np.abs(got.astype(np.float64) - want) <= 2 * TOL[np.dtype(dtype)] * np.maximum(1, np.abs(want)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_mean_std(simd, dtype):
    g = fi.Generator(SEED)
    got = g.normal(4097, mean=-3.0, std=0.25, dtype=dtype)
    want = R.normal(SEED, 0, 4097, mean=-3.0, std=0.25, dtype=dtype)
    assert np.max(np.abs(got.astype(np.float64) - want)) <= 2 * TOL[np.dtype(dtype)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bounds", [dict(), dict(low=3.0, high=8.0), dict(low=-8.0, high=-3.0),
                                    dict(low=-np.inf, high=-1.0), dict(low=0.5, high=np.inf),
                                    dict(low=-0.1, high=0.05)])
def test_truncated_normal_close(simd, n, dtype, bounds):
    g = fi.Generator(SEED)
    got = g.truncated_normal(n, dtype=dtype, **bounds)
    want = R.truncated_normal(SEED, 0, n, dtype=dtype, **bounds)
    assert got.dtype == np.dtype(dtype) and got.shape == (n,)
    assert np.max(np.abs(got.astype(np.float64) - want), initial=0) <= TOL[np.dtype(dtype)]
    low, high = bounds.get("low", -2.0), bounds.get("high", 2.0)
    assert np.all((got >= low) & (got <= high))


@pytest.mark.parametrize("dtype", DTYPES)
def test_truncated_normal_scaled(simd, dtype):
    g = fi.Generator(SEED)
    kw = dict(mean=1.0, std=0.02, low=0.97, high=1.1)
    got = g.truncated_normal(10007, dtype=dtype, **kw)
    want = R.truncated_normal(SEED, 0, 10007, dtype=dtype, **kw)
    assert np.max(np.abs(got.astype(np.float64) - want)) <= TOL[np.dtype(dtype)]
    assert got.min() >= np.float32(0.97) and got.max() <= 1.1


KINDS = [("random_raw", {}), ("uniform", {"low": -2.0, "high": 5.0}), ("normal", {"mean": 1.0, "std": 3.0}),
         ("truncated_normal", {}), ("truncated_normal", {"low": 3.0, "high": 8.0})]


@pytest.mark.parametrize("kind,kw", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_invariance(simd, threads, kind, kw, dtype):
    n = 3 * 2**20 + 5   # many chunks and a partial last group
    results = []
    for t in (1, 2, 7):
        fi.set_num_threads(t)
        g = fi.Generator(SEED)
        results.append(g.random_raw(n) if kind == "random_raw" else draw(kind, g, n, dtype, **kw))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


@pytest.mark.parametrize("kind,kw", KINDS[1:])
@pytest.mark.parametrize("dtype", DTYPES)
def test_simd_paths_agree(kind, kw, dtype):
    """Every SIMD path gives the stream format: the same numbers within the stated tolerance."""
    from fastinit import _core
    paths = _core.simd_available()
    if len(paths) < 2:
        pytest.skip("only the baseline path exists on this CPU/build")
    before = _core.get_simd()
    out = {}
    try:
        for p in paths:
            _core.set_simd(p)
            out[p] = draw(kind, fi.Generator(SEED), 100003, dtype, **kw)
    finally:
        _core.set_simd(before)
    a, b = out["baseline"], out["avx2"]
    if kind == "uniform":
        np.testing.assert_array_equal(a, b)
    else:
        assert np.max(np.abs(a.astype(np.float64) - b)) <= 2 * TOL[np.dtype(dtype)] * 3


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_any_layout(dtype):
    """out= of any shape and strides gets stream element i at the i-th element in C order."""
    base = np.full((40, 30), -7.0, dtype=dtype)
    for out in (base, base.T, base[::3, 1::2], np.asfortranarray(base)[:, :5]):
        g = fi.Generator(SEED)
        res = g.normal(out=out)
        assert res is out
        want = R.normal(SEED, 0, out.size, dtype=dtype).reshape(out.shape)
        assert np.max(np.abs(out.astype(np.float64) - want)) <= 2 * TOL[np.dtype(dtype)]
    untouched = np.ones_like(base, dtype=bool)
    untouched[::3, 1::2] = False
    base2 = np.full((40, 30), -7.0, dtype=dtype)
    fi.Generator(SEED).uniform(out=base2[::3, 1::2])
    assert np.all(base2[untouched] == -7.0)


def test_unaligned_out():
    raw = np.zeros(4 * 1001 + 1, dtype=np.uint8)
    out = raw[1:].view(np.float32)
    assert not out.flags.aligned
    fi.Generator(SEED).uniform(out=out)
    np.testing.assert_array_equal(out, R.uniform(SEED, 0, 1001))


def test_tuple_size_and_scalar():
    g = fi.Generator(SEED)
    a = g.uniform((3, 4, 5))
    assert a.shape == (3, 4, 5) and a.dtype == np.float32
    np.testing.assert_array_equal(a.reshape(-1), R.uniform(SEED, 0, 60))
    s = g.normal()
    assert np.ndim(s) == 0 and isinstance(s, np.float32)
    assert abs(float(s) - R.normal(SEED, 1, 1)[0]) <= 2e-6
    assert g.uniform(0).shape == (0,) and g.normal((0, 5)).shape == (0, 5)


@pytest.mark.parametrize("kind", ["random_raw", "uniform", "normal", "truncated_normal"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("first_group,groups", [(2**29 - 2, 6), (2**29 - 20, 41), (2**61 - 6, 6), (2**61 - 41, 41)])
def test_skip_ahead_across_block_boundaries(simd, kind, dtype, first_group, groups):
    """Fills that start at a group (the C core's offset) and cross a 2**32-block boundary, where the
    counter's high block word changes (the AVX2 kernels fold it into their first rounds per 2**32-block
    segment), or end at the stream's last blocks, match the reference from that block on. 41 groups: 20 before
    the boundary and 21 after, so the AVX2 kernels' 8-group steps run up to it on both sides."""
    dt = np.dtype(np.uint32) if kind == "random_raw" else np.dtype(dtype)
    per_group = 16 if dt == np.float64 else 32
    n = (groups - 1) * per_group + 7    # full groups and a partial one, the last ending at block 2**64 - 1
    g = fi.Generator(SEED)
    offset = first_group * per_group
    out = g.random_raw(n, stream=3, offset=offset) if kind == "random_raw" else \
        getattr(g, kind)(n, dtype=dt, stream=3, offset=offset)
    if kind == "random_raw":
        np.testing.assert_array_equal(out, R.random_raw(SEED, 3, n, first_block=8 * first_group))
        return
    want = getattr(R, kind)(SEED, 3, n, dtype=dt, first_block=8 * first_group)
    if kind == "uniform":
        np.testing.assert_array_equal(out, want)
    else:
        assert np.max(np.abs(out.astype(np.float64) - want)) <= TOL[dt]


def test_skip_ahead_past_the_last_block_is_refused():
    """The last group of a stream is 2**61 - 1 (blocks up to 2**64 - 1): a fill that would run past it, or a
    negative offset, is a ValueError, and the buffer is left as it was."""
    g = fi.Generator(SEED)
    out = np.full(33, 7.0, np.float32)
    g.normal(out=out, stream=0, offset=2**66 - 33)
    assert np.all(np.isfinite(out)) and not np.any(out == 7.0)
    out[:] = 7.0
    for offset in (2**66 - 32, -1):
        with pytest.raises(ValueError, match="offset"):
            g.normal(out=out, stream=0, offset=offset)
    assert np.all(out == 7.0)
