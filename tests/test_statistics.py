"""Distribution tests with fixed seeds (deterministic, so not flaky): moments 1-4 within 5 standard errors on
10**7 draws, Kolmogorov-Smirnov on 10**6 draws, tail frequencies, truncation bounds, and the truncated normal
in every regime (from intervals where the density is flat to the tails) against its density."""
import math

import numpy as np
import pytest
from scipy import stats

import fastinit as fi

N_MOMENTS = 10**7
N_KS = 10**6


def uniform_moment(k):
    """E[Y^k] for Y uniform on [-1/2, 1/2)."""
    return 0.0 if k % 2 else 0.5**k / (k + 1)


def normal_moment(k):
    """E[Z^k] for a standard normal: (k-1)!! for even k."""
    return 0.0 if k % 2 else float(np.prod(np.arange(k - 1, 0, -2)))


def check_moments(y, moment, orders=(1, 2, 3, 4)):
    """Sample means of y^k (k = 1..4: mean, variance, skew, kurtosis of the standardized draws) within 5
    standard errors sqrt((E y^2k - (E y^k)^2) / n) of their exact values."""
    n = y.size
    power = np.ones_like(y)
    for k in range(1, max(orders) + 1):
        power *= y
        if k in orders:
            se = np.sqrt((moment(2 * k) - moment(k) ** 2) / n)
            assert abs(power.mean() - moment(k)) <= 5 * se, (k, power.mean(), moment(k), se)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform(dtype):
    x = fi.Generator(1).uniform(N_MOMENTS, low=-3.0, high=5.0, dtype=dtype)
    assert x.min() >= -3.0 and x.max() < 5.0
    check_moments((x.astype(np.float64) - 1.0) / 8.0, uniform_moment)
    assert stats.kstest(x[:N_KS], stats.uniform(-3.0, 8.0).cdf).pvalue > 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal(dtype):
    x = fi.Generator(2).normal(N_MOMENTS, mean=0.5, std=2.0, dtype=dtype)
    z = (x.astype(np.float64) - 0.5) / 2.0
    check_moments(z, normal_moment)
    assert stats.kstest(x[:N_KS], stats.norm(0.5, 2.0).cdf).pvalue > 1e-3
    # Tails: P(|Z| > 4) = 6.334e-5, so about 633 of 10**7 (Poisson, 5 SE = 126).
    expected = N_MOMENTS * 2 * stats.norm.sf(4.0)
    tail = np.count_nonzero(np.abs(z) > 4.0)
    assert abs(tail - expected) <= 5 * np.sqrt(expected)
    # Both halves of the tails are reached (the sign comes from the angle, the size from the radius).
    assert np.count_nonzero(z > 4.0) > 0.4 * expected / 2 and np.count_nonzero(z < -4.0) > 0.4 * expected / 2


def test_pairs_are_uncorrelated():
    z = fi.Generator(3).normal(N_KS).astype(np.float64)
    # cos and sin of one angle share a radius: they must still be uncorrelated, and so must neighbours.
    for lag in (1, 2, 3):
        r = np.corrcoef(z[:-lag], z[lag:])[0, 1]
        assert abs(r) < 5 / np.sqrt(N_KS)
    r2 = np.corrcoef(z[0::2] ** 2, z[1::2] ** 2)[0, 1]   # squares of a pair are independent for a normal pair
    assert abs(r2) < 5 / np.sqrt(N_KS // 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a,b", [(-2.0, 2.0), (3.0, 8.0), (-8.0, -3.0), (0.5, np.inf), (-np.inf, -5.0),
                                 (6.0, 6.5)])
def test_truncated_normal(dtype, a, b):
    mean, std = 1.0, 0.5
    x = fi.Generator(4).truncated_normal(N_MOMENTS, mean=mean, std=std, low=mean + a * std, high=mean + b * std,
                                         dtype=dtype)
    assert np.all(x >= mean + a * std) and np.all(x <= mean + b * std)
    dist = stats.truncnorm(a, b)
    m = {k: float(dist.moment(k)) for k in range(1, 9)}
    check_moments((x.astype(np.float64) - mean) / std, m.__getitem__)
    # float32 resolves a [6, 6.5] sigma band in steps of 2^-24 of its mass: KS at that resolution is fine.
    assert stats.kstest(x[:N_KS], stats.truncnorm(a, b, loc=mean, scale=std).cdf).pvalue > 1e-3


def test_float32_normal_has_no_hole_near_zero():
    """Box-Muller on 32-bit words: many exact small values and no gap at 0 (the radius reaches 1.4e-5)."""
    z = fi.Generator(5).normal(N_KS)
    assert np.count_nonzero(np.abs(z) < 1e-3) > 0.5 * N_KS * 2 * stats.norm.pdf(0) * 1e-3


def truncnorm_reference(a, b, grid=20001):
    """The CDF of N(0, 1) truncated to [a, b] as a function of t = (x - a) / (b - a) on a fine grid, and the mean and
    std of x, in float64 from the density itself (scipy's truncnorm loses its digits on intervals this narrow)."""
    t = np.linspace(0.0, 1.0, grid)
    x = a + (b - a) * t
    logd = -0.5 * x * x
    d = np.exp(logd - logd.max())
    cdf = np.concatenate([[0.0], np.cumsum((d[1:] + d[:-1]) / 2)])
    total = cdf[-1]
    cdf /= total
    pdf_t = d / (total / (grid - 1))
    mean_t = np.trapezoid(t * pdf_t, t)
    var_t = np.trapezoid((t - mean_t) ** 2 * pdf_t, t)
    return t, cdf, a + (b - a) * mean_t, (b - a) * math.sqrt(var_t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a, b", [(-1e-16, 1e-16), (0.0, 1e-14), (0.0, 1e-9), (0.0, 1e-6), (0.0, 1e-3), (1.0, 1.001),
                                  (-0.05, 0.05), (3.0, 3.5), (-2.0, 2.0), (6.0, 9.0)])
def test_truncated_normal_in_every_regime(a, b, dtype):
    """From intervals so narrow that the density is flat (the uniform is exact there, where inverting the CDF
    loses the digits: std=1e16 on [-1, 1] gave mean -0.64, [0, 1e-14] 109 distinct values) through the boundary
    between the two methods to the tails: the draws' CDF against the density's (KS) and their mean."""
    x = fi.Generator(2).truncated_normal(200_000, 0.0, 1.0, a, b, dtype=dtype).astype(np.float64)
    lo = float(np.float32(a)) if dtype == np.float32 and np.float32(a) >= a else a
    assert x.min() >= min(lo, a) - 1e-30 and x.max() <= b
    t_grid, cdf, mean, std = truncnorm_reference(a, b)
    width = b - a
    resolution = np.spacing(np.float32(max(abs(a), abs(b)))) if dtype == np.float32 else np.spacing(max(abs(a), abs(b)))
    if width > 1000 * resolution:   # (the output dtype can hold the interval's detail)
        u = np.interp((x - a) / width, t_grid, cdf)
        assert stats.kstest(u, "uniform").pvalue > 1e-3
        assert len(np.unique(x)) > min(100_000, 0.5 * width / resolution)   # no coarse quantization
    assert abs(x.mean() - mean) < 6 * std / math.sqrt(x.size) + 2 * resolution


@pytest.mark.parametrize("std", [1e16, 1e17, 1e300])
def test_truncated_normal_huge_std_is_uniform(std):
    x = fi.Generator(0).truncated_normal(10**6, 0.0, std, -1.0, 1.0, dtype=np.float32)
    assert abs(x.mean()) < 0.003 and abs(x.std() - 1 / math.sqrt(3)) < 0.003
