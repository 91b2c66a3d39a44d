"""Generator semantics (streams, seeds, spawn, module-level API, threads), pickling, outputs that share memory, the
rule that a failed call consumes no stream, and every bad input."""
import copy
import math
import multiprocessing as mp
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastinit as fi
from fastinit import reference as R

SEED = 0x243F6A8885A308D3


def test_each_call_takes_the_next_stream():
    g = fi.Generator(7)
    assert g.seed == 7 and g.next_stream == 0
    a = g.uniform(10)
    b = g.normal(10, dtype=np.float64)
    c = g.random_raw(6)
    d = g.random_raw(6, stream=0)           # an explicit stream does not advance the counter
    assert g.next_stream == 3
    np.testing.assert_array_equal(a, R.uniform(7, 0, 10))
    np.testing.assert_allclose(b, R.normal(7, 1, 10, dtype=np.float64), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(c, R.random_raw(7, 2, 6))
    np.testing.assert_array_equal(d, R.random_raw(7, 0, 6))


def test_seed_key_mapping_uses_both_halves():
    lo, hi = fi.Generator(1).random_raw(8), fi.Generator(1 << 32).random_raw(8)
    assert not np.array_equal(lo, hi)
    np.testing.assert_array_equal(fi.Generator(2**64 - 1).random_raw(8), R.random_raw(2**64 - 1, 0, 8))
    np.testing.assert_array_equal(fi.Generator(np.uint64(2**63)).random_raw(8), R.random_raw(2**63, 0, 8))


def test_none_seed_draws_entropy():
    seeds = {fi.Generator().seed for _ in range(8)}
    assert len(seeds) == 8 and all(0 <= s < 2**64 for s in seeds)


def test_concurrent_calls_get_distinct_streams():
    g = fi.Generator(11)
    results = [[] for _ in range(8)]
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        for _ in range(200):
            results[i].append(tuple(g.random_raw(4)))

    workers = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    got = {r for rs in results for r in rs}
    assert g.next_stream == 1600
    assert len(got) == 1600
    assert got == {tuple(g.random_raw(4, stream=t)) for t in range(1600)}


def test_spawn():
    g = fi.Generator(99)
    g.normal(3)
    kids = g.spawn(4)
    assert g.next_stream == 5
    assert [k.seed for k in kids] == R.spawn_seeds(99, 1, 4)
    assert len({k.seed for k in kids}) == 4 and all(k.next_stream == 0 for k in kids)
    assert g.spawn(0) == []
    # children of the same parent state are reproducible
    again = fi.Generator(99)
    again.normal(3)
    assert [k.seed for k in again.spawn(4)] == [k.seed for k in kids]


def test_module_level_functions():
    np.testing.assert_array_equal(fi.uniform(5, seed=3), fi.Generator(3).uniform(5))
    np.testing.assert_array_equal(fi.normal((2, 3), seed=3), fi.Generator(3).normal((2, 3)))
    np.testing.assert_array_equal(fi.truncated_normal(9, seed=3, dtype=np.float64),
                                  fi.Generator(3).truncated_normal(9, dtype=np.float64))
    gen = fi.manual_seed(123)
    assert fi.default_generator() is gen
    first = fi.normal(4)
    second = fi.uniform(4)
    fi.manual_seed(123)
    np.testing.assert_array_equal(fi.normal(4), first)
    np.testing.assert_array_equal(fi.uniform(4), second)


def test_threads_setting(threads):
    fi.set_num_threads(3)
    assert fi.get_num_threads() == 3
    for bad, exc in [(0, ValueError), (-2, ValueError), (1.5, TypeError), ("2", TypeError)]:
        with pytest.raises(exc, match="n"):
            fi.set_num_threads(bad)


def test_thread_default_from_environment():
    code = "import fastinit as fi; print(fi.get_num_threads())"
    env = dict(os.environ, FASTINIT_NUM_THREADS="3")
    env.pop("OMP_NUM_THREADS", None)   # (the default honours it too: tests/test_threads.py)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"
    env.pop("FASTINIT_NUM_THREADS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout) == len(os.sched_getaffinity(0))


def test_std_zero():
    assert np.all(fi.normal(10, mean=2.5, std=0.0, seed=1) == 2.5)
    assert np.all(fi.truncated_normal(10, mean=2.5, std=0.0, seed=1) == 2.5)
    with pytest.raises(ValueError, match="no probability mass"):
        fi.truncated_normal(10, mean=2.5, std=0.0, low=3.0, high=4.0)


def test_extreme_but_valid_parameters():
    x = fi.uniform(1000, low=-3e38, high=3e38, dtype=np.float64, seed=1)
    assert x.min() >= -3e38 and x.max() < 3e38
    x = fi.truncated_normal(1000, low=30.0, high=31.0, seed=1)        # mass 5e-198: the upper tail form holds it
    assert np.all((x >= 30.0) & (x <= 31.0))
    x = fi.truncated_normal(1000, low=-np.inf, high=np.inf, seed=1, dtype=np.float64)
    assert np.all(np.isfinite(x))


# ------------------------------------------------------------------------------------------ bad input

FILLS = {"uniform": fi.Generator(0).uniform, "normal": fi.Generator(0).normal,
         "truncated_normal": fi.Generator(0).truncated_normal}


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("size,exc,word", [
    (-1, ValueError, "size"), ((3, -2), ValueError, "size"), (2.0, TypeError, "size"), ("3", TypeError, "size"),
    ((2, 1.5), TypeError, r"size\[1\]"), (True, TypeError, "size"), ((2**40, 2**40), ValueError, "size"),
])
def test_bad_size(fill, size, exc, word):
    with pytest.raises(exc, match=word):
        FILLS[fill](size)


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.complex64, np.uint16, "float128x", object, bool])
def test_bad_dtype(fill, dtype):   # (float16 is a valid dtype since the 16-bit fills: tests/test_fill16.py)
    with pytest.raises(TypeError, match="dtype"):
        FILLS[fill](4, dtype=dtype)


@pytest.mark.parametrize("fill", FILLS)
def test_bad_out(fill):
    f = FILLS[fill]
    for out in (np.zeros(4, np.uint16), np.zeros(4, np.int64), np.zeros(4, np.complex128)):
        with pytest.raises(TypeError, match="out"):
            f(out=out)
    with pytest.raises(TypeError, match="out"):
        f(out=[0.0, 0.0])
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        f(out=ro)
    with pytest.raises(ValueError, match="shape"):
        f(5, out=np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="shape"):
        f((2, 2), out=np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="dtype"):
        f(4, dtype=np.float64, out=np.zeros(4, np.float32))


@pytest.mark.parametrize("call,exc,word", [
    (lambda g: g.uniform(3, low=np.nan), ValueError, "low"),
    (lambda g: g.uniform(3, high=np.inf), ValueError, "high"),
    (lambda g: g.uniform(3, low=1.0, high=1.0), ValueError, "low must be < high"),
    (lambda g: g.uniform(3, low=2.0, high=1.0), ValueError, "low must be < high"),
    (lambda g: g.uniform(3, low=-3e38, high=3e38), ValueError, "overflows float32"),
    (lambda g: g.uniform(3, low=-1e308, high=1e308, dtype=np.float64), ValueError, "overflows float64"),
    (lambda g: g.uniform(3, low=0.1, high=0.1 + 1e-12), ValueError, "no float32"),
    (lambda g: g.uniform(3, low="0"), TypeError, "low"),
    (lambda g: g.uniform(3, low=1j), TypeError, "low"),
    (lambda g: g.normal(3, mean=np.inf), ValueError, "mean"),
    (lambda g: g.normal(3, std=np.nan), ValueError, "std"),
    (lambda g: g.normal(3, std=-1.0), ValueError, "std"),
    (lambda g: g.normal(3, std=None), TypeError, "std"),
    (lambda g: g.truncated_normal(3, std=-0.5), ValueError, "std"),
    (lambda g: g.truncated_normal(3, mean=np.nan), ValueError, "mean"),
    (lambda g: g.truncated_normal(3, low=np.nan), ValueError, "low"),
    (lambda g: g.truncated_normal(3, low=1.0, high=-1.0), ValueError, "low must be < high"),
    (lambda g: g.truncated_normal(3, low=40.0, high=50.0), ValueError, "no probability mass"),
    (lambda g: g.truncated_normal(3, low=-np.inf, high=-40.0), ValueError, "no probability mass"),
    (lambda g: g.truncated_normal(3, low=np.inf, high=np.inf), ValueError, "low must be < high"),
    (lambda g: g.random_raw(3, stream=-1), ValueError, "stream"),
    (lambda g: g.random_raw(3, stream=2**64), ValueError, "stream"),
    (lambda g: g.random_raw(3, stream=1.0), TypeError, "stream"),
    (lambda g: g.random_raw(-3), ValueError, "size"),
    (lambda g: g.spawn(-1), ValueError, "n"),
    (lambda g: g.spawn(2.0), TypeError, "n"),
])
def test_bad_parameters(call, exc, word):
    g = fi.Generator(0)
    with pytest.raises(exc, match=word):
        call(g)
    assert g.next_stream == 0          # a rejected call uses no stream


@pytest.mark.parametrize("seed,exc", [(-1, ValueError), (2**64, ValueError), (1.0, TypeError), ("1", TypeError),
                                      (True, TypeError), (np.float64(3), TypeError), ([1], TypeError)])
def test_bad_seed(seed, exc):
    with pytest.raises(exc, match="seed"):
        fi.Generator(seed)
    with pytest.raises(exc, match="seed"):
        fi.manual_seed(seed)
    with pytest.raises(exc, match="seed"):
        fi.normal(3, seed=seed)


def test_rejected_out_is_untouched():
    out = np.full(6, 5.0, np.float32)
    with pytest.raises(ValueError):
        fi.normal(out=out, std=-1)
    with pytest.raises(ValueError):
        fi.truncated_normal(out=out, low=50, high=60)
    assert np.all(out == 5.0)


def test_zero_size_requests():
    g = fi.Generator(0)
    assert g.uniform(0).shape == (0,)
    assert g.normal((3, 0)).shape == (3, 0)
    assert g.truncated_normal(0, dtype=np.float64).dtype == np.float64
    assert g.random_raw(0).shape == (0,)
    assert g.normal(out=np.empty((0, 4), np.float32)).shape == (0, 4)


def test_impossible_allocation_is_a_memory_error():
    with pytest.raises(MemoryError):
        fi.normal(2**42)   # 16 TiB


_F32_EDGES = [0.0, -0.0, 1.0, -1.0, 0.1, -0.1, 1e-45, -1e-45, 1.4e-45, 2.0 ** -149, 2.0 ** -126, 1e-40,
              3.4028234663852886e38, -3.4028234663852886e38, 3.4028235e38, 3.5e38, -3.5e38, 1e300, -1e300,
              math.inf, -math.inf, 16777217.0, 0.30000000000000004]


@pytest.mark.parametrize("x", _F32_EDGES + list(np.random.default_rng(5).standard_normal(200)
                                                 * 10.0 ** np.random.default_rng(6).integers(-40, 39, 200)))
def test_float32_bound_rounding_matches_numpy(x):
    """The struct-based float32 rounding of uniform/truncated-normal bounds equals NumPy's nextafter logic
    (reference._f32_ceil / _f32_floor) on ordinary, subnormal, overflowing and infinite values."""
    from fastinit.random import _rounding as G
    x = float(x)
    with np.errstate(over="ignore"):
        want_lo, want_hi = float(R._f32_ceil(x)), float(R._f32_floor(x))
    got_lo, got_hi = G.f32_at_least(x), G.f32_at_most(x)
    signed = lambda v: (v, math.copysign(1.0, v))  # noqa: E731 -- -0.0 and 0.0 must match too
    assert signed(got_lo) == signed(want_lo) and signed(got_hi) == signed(want_hi)
    with np.errstate(over="ignore"):
        f = float(np.float32(x))
    for up in (True, False):
        with np.errstate(over="ignore"):
            want = float(np.nextafter(np.float32(f), np.float32(math.inf if up else -math.inf)))
        assert G.f32_step(f, up) == want


_PIECE_KINDS = [("random_raw", {}), ("uniform", {"low": -3.0, "high": 5.0}), ("normal", {"mean": 1.0, "std": 2.0}),
                ("truncated_normal", {}), ("truncated_normal", {"low": 3.0, "high": 8.0})]


def _draw(g, kind, n, dtype, **kw):
    if kind == "random_raw":
        return g.random_raw(n, **kw)
    return getattr(g, kind)(n, dtype=dtype, **kw)


@pytest.mark.parametrize("kind,kw", _PIECE_KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pieces_at_their_offsets_equal_the_whole(simd, kind, kw, dtype):
    """offset= fills a piece of a larger tensor (a shard) with exactly the numbers one fill of the whole gives
    it: cuts inside and at group boundaries, one-element pieces, and a piece large enough for the threaded,
    streaming-store path after a start inside a group."""
    g = fi.Generator(SEED)
    n = 3 * 2**20 + 37
    whole = _draw(g, kind, n, dtype, stream=9, **kw)
    cuts = [0, 1, 2, 3, 16, 31, 32, 33, 47, 64, 1000, 1001, 5000, 2**20 + 17, n - 1, n]
    pieces = [_draw(g, kind, b - a, dtype, stream=9, offset=a, **kw) for a, b in zip(cuts, cuts[1:])]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert g.next_stream == 0           # an explicit stream leaves the generator's counter alone


def test_offset_into_any_layout_and_scalar():
    g = fi.Generator(SEED)
    whole = g.normal(40 * 30, stream=2).reshape(40, 30)
    out = np.zeros((30, 40), np.float32).T           # Fortran-ordered view: element order is C order of out
    g.normal(out=out[5:, :], stream=2, offset=5 * 30)
    np.testing.assert_array_equal(out[5:, :], whole[5:, :])
    assert np.all(out[:5, :] == 0)
    assert g.uniform(stream=4, offset=77) == g.uniform(100, stream=4)[77]


@pytest.mark.parametrize("offset,exc", [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("3", TypeError),
                                        (2**66, ValueError), (2**66 - 9, ValueError)])
def test_bad_offset(offset, exc):
    """A bad offset names the argument, takes no stream and leaves out untouched; 2**66 - 9 + 10 draws run past
    the stream's 2**66 float32 draws."""
    g = fi.Generator(SEED)
    out = np.full(10, 7.0, np.float32)
    for call in (lambda: g.normal(out=out, offset=offset), lambda: g.uniform(out=out, offset=offset),
                 lambda: g.truncated_normal(out=out, offset=offset), lambda: g.random_raw(10, offset=offset)):
        with pytest.raises(exc, match="offset"):
            call()
    assert g.next_stream == 0 and np.all(out == 7.0)


def test_offset_at_the_end_of_the_stream():
    """The last draws of a stream (float32: 2**66 of them, float64: 2**65) are reachable and agree with the
    whole-group fill of the C core."""
    g = fi.Generator(SEED)
    last32 = g.normal(5, stream=1, offset=2**66 - 5)
    group = g.normal(32, stream=1, offset=2**66 - 32)
    np.testing.assert_array_equal(last32, group[-5:])
    np.testing.assert_allclose(group, R.normal(SEED, 1, 32, first_block=2**64 - 8), rtol=0, atol=2e-6)
    assert g.normal(3, dtype=np.float64, stream=1, offset=2**65 - 3).shape == (3,)
    with pytest.raises(ValueError, match="offset"):
        g.normal(3, dtype=np.float64, stream=1, offset=2**65 - 2)


def _draw_from(gen):
    return gen.normal(8)


def test_generator_pickles_and_deep_copies():
    g = fi.Generator(11)
    g.normal(5)
    for clone in (pickle.loads(pickle.dumps(g)), copy.deepcopy(g)):
        assert (clone.seed, clone.next_stream) == (g.seed, g.next_stream)
    expected = copy.deepcopy(g).normal(8)
    with mp.get_context("spawn").Pool(1) as pool:
        np.testing.assert_array_equal(pool.apply(_draw_from, (g,)), expected)
    # what the simulation engine did with an initializer seeded by a Generator
    res = fi.simulate(depth=2, width=16, batch=8, init=fi.initializers.HeNormal(seed=fi.Generator(11)))
    assert np.isfinite(res.layers["h_std"]).all()


def test_outputs_with_shared_elements_are_refused():
    base = np.zeros(4, np.float32)
    zero_stride = np.lib.stride_tricks.as_strided(base, (4, 3), (4, 0))
    for fill in (lambda o: fi.Generator(0).normal(out=o), lambda o: fi.init.uniform_(o)):
        with pytest.raises(ValueError, match="share memory"):
            fill(zero_stride)
    assert not base.any()
    m = np.matrix(np.zeros((2, 3), np.float32))   # an ndarray subclass: filled like an array
    fi.Generator(0).normal(out=m)
    np.testing.assert_array_equal(np.asarray(m).ravel(), fi.Generator(0).normal(6))


def test_a_failed_call_consumes_no_stream():
    g = fi.Generator(0)
    for call in (lambda: g.normal(2**60), lambda: g.random_raw(2**60), lambda: g.uniform(2**60, dtype="bfloat16")):
        with pytest.raises((MemoryError, ValueError)):
            call()
        assert g.next_stream == 0


def test_outputs_whose_elements_overlap_through_non_zero_strides_are_refused():
    """as_strided(shape=(4, 4), strides=(8, 4)) on float32 makes rows that share half their elements: accepted
    before (only zero strides were refused)."""
    base = np.zeros(20, np.float32)
    rows_overlap = np.lib.stride_tricks.as_strided(base, (4, 4), (8, 4))
    with pytest.raises(ValueError, match="share memory"):
        fi.Generator(0).normal(out=rows_overlap)
    with pytest.raises(ValueError, match="share memory"):
        fi.init.uniform_(rows_overlap)
    assert not base.any()
    interleaved = np.lib.stride_tricks.as_strided(base, (3, 4), (4, 12))   # odd, but distinct: filled
    fi.Generator(0).normal(out=interleaved)
    np.testing.assert_array_equal(interleaved.ravel(), fi.Generator(0).normal(12))


@pytest.mark.parametrize("spelling", ["e", "f2", "half", "float16", np.float16])
def test_every_numpy_spelling_of_float16(spelling):
    """'e', 'f2' and 'half' were refused with 'dtype must be float32 or float64, got float16'."""
    np.testing.assert_array_equal(fi.Generator(3).normal(50, dtype=spelling),
                                  fi.Generator(3).normal(50, dtype="float16"))
    with pytest.raises(TypeError, match="float32, float64, float16 or 'bfloat16', got 'nope'"):
        fi.Generator(3).normal(5, dtype="nope")


def test_spawn_that_runs_out_of_memory_takes_no_streams():
    g = fi.Generator(0)
    with pytest.raises(MemoryError):
        g.spawn(2**40)
    assert g.next_stream == 0


def test_row_offsets_past_two_to_the_64_are_refused_by_name():
    """offset= reaches the whole stream; a row offset is a uint64: 2**64 gave an OverflowError without the
    argument's name."""
    out = np.empty((2, 3), np.float32)
    g = fi.Generator(1)
    with pytest.raises(ValueError, match=r"row_offsets must be in \[0, 2\*\*64\)"):
        g.normal(out=out, row_offsets=[0, 2 ** 64])
    with pytest.raises(ValueError, match="row_offsets must be in"):
        g.normal(out=out, row_offsets=[-1, 3])
    with pytest.raises(TypeError, match="row_offsets must be integers"):
        g.normal(out=out, row_offsets=[0.0, 3.0])
    g.normal(out=out, row_offsets=np.array([0, 2 ** 64 - 4], np.uint64), stream=0)
    np.testing.assert_array_equal(out[1], g.normal(3, stream=0, offset=2 ** 64 - 4))
