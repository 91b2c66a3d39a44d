"""Error bounds of the vector math kernels (csrc/scalar_math.h), measured through the fills they serve and on
the inverse normal CDF kernel directly."""
import numpy as np
import pytest
from scipy import special

import fastinit as fi
from fastinit import _core, reference as R

SEED = 20261122


@pytest.mark.parametrize("dtype,rel_r,abs_tangential", [(np.float32, 3e-7, 6e-7), (np.float64, 1e-15, 1e-14)])
def test_box_muller_radius_and_angle(simd, dtype, rel_r, abs_tangential):
    """Each output pair is (r cos t, r sin t): r = sqrt(-2 ln u1) tests the log kernel, the angle t = 2 pi u2
    the sincos kernel, against float64 values of the same words (output rounding included in the bounds)."""
    n = 2**20
    z = fi.Generator(SEED).normal(n, dtype=dtype).astype(np.float64)
    if dtype == np.float32:
        w = R.stream_words(SEED, 0, n)
        k1, k2, bits = w[0::2], w[1::2], 32
    else:
        k = R._k53(R.stream_words(SEED, 0, 2 * n), n)
        k1, k2, bits = k[0::2], k[1::2], 53
    r = np.sqrt(R._neg2log(k1, bits))
    theta = 2 * np.pi * ((k2.astype(np.float64) + 0.5) * 2.0 ** -bits)
    assert np.max(np.abs(np.hypot(z[0::2], z[1::2]) / r - 1)) <= rel_r
    dtheta = np.angle(np.exp(1j * (np.arctan2(z[1::2], z[0::2]) - theta)))
    assert np.max(np.abs(dtheta) * r) <= abs_tangential


def test_normal_range_reaches_6_6_sigma():
    """The smallest u1 is 2^-33 (float32) and 2^-54 (float64): |z| can reach 6.77 and 8.68."""
    k = np.array([0], dtype=np.uint32)
    assert np.sqrt(R._neg2log(k, 32))[0] > 6.6
    assert np.sqrt(R._neg2log(np.array([0], np.uint64), 53))[0] > 8.6


@pytest.mark.parametrize("refine,bound", [(False, 1.2e-9), (True, 2e-15)])
def test_ndtri_kernel_error_bound(refine, bound):
    # p across the whole double range, q = 1 - p formed exactly where it matters (the smaller of the two).
    t = np.concatenate([np.logspace(-300, np.log10(0.5), 20000), np.linspace(1e-3, 0.5, 20000)])
    p = np.concatenate([t, 1 - t])
    q = np.concatenate([1 - t, t])
    out = np.empty_like(p)
    _core.ndtri(p, q, out, refine)
    want = np.where(p < q, special.ndtri(p), -special.ndtri(q))
    # relative error for |z| >= 1, absolute below (near z = 0 the rounding of p and q themselves dominates)
    err = np.abs(out - want) / np.maximum(np.abs(want), 1.0)
    assert np.max(err) <= bound
