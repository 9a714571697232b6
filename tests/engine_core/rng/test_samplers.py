"""Samplers against exact distributions (scipy) and their known answers."""

import numpy as np
import pytest
from scipy import special, stats

from engine_core.rng import as241, box_muller, nb2, poisson_inv, uniform01
from engine_core.rng.streams import Stream

N = 1_000_000


def words(n, key=11, seed_ctr=0):
    return Stream(key=key, ctr_hi=seed_ctr, ctr_lo=12345).words(n)


def g_test_poisson(counts: np.ndarray, mu: float) -> tuple[float, int]:
    """G-test p-value against the exact Poisson pmf, bins merged so each expects ≥ 5."""
    n = counts.shape[0]
    dist = stats.poisson(mu)
    lo_k, hi_k = int(dist.ppf(1e-15)), int(dist.isf(1e-15)) + 1
    ks = np.arange(lo_k, hi_k + 1)
    pmf = dist.pmf(ks)
    ok = np.nonzero(pmf * n >= 5)[0]
    k0, k1 = ks[ok[0]], ks[ok[-1]]
    edges_k = np.arange(k0, k1 + 1)
    expected = dist.pmf(edges_k) * n
    expected[0] = dist.cdf(k0) * n
    expected[-1] = dist.sf(k1 - 1) * n
    clipped = np.clip(counts, k0, k1)
    observed = np.bincount(clipped - k0, minlength=edges_k.shape[0]).astype(float)
    if observed.shape[0] < 2:
        return 1.0, 0
    mask = observed > 0
    g = 2.0 * np.sum(observed[mask] * np.log(observed[mask] / expected[mask]))
    df = observed.shape[0] - 1
    return float(stats.chi2.sf(g, df)), df


@pytest.mark.parametrize("mu", [1e-6, 0.3, 5.0, 37.0, 1e3, 1e5])
def test_poisson_inversion_g_test(mu):
    u = uniform01(words(N, key=int(mu * 1000) + 1))
    k = poisson_inv(u, mu)  # one uniform per draw: the law reads u[i] only
    p, df = g_test_poisson(k, mu)
    assert p > 1e-4, (mu, p, df)
    if mu == 1e-6:  # the G-test has one bin there; test P(X ≥ 1) directly
        assert stats.binomtest(int((k > 0).sum()), N, -np.expm1(-mu)).pvalue > 1e-4
    else:
        assert df >= 1
    assert abs(k.mean() - mu) < 6 * np.sqrt(mu / N) + 1e-12


@pytest.mark.parametrize("mu", [1e-6, 0.3, 5.0, 29.999, 30.0, 37.0, 1e3, 1e5])
def test_poisson_inversion_is_the_exact_quantile(mu):
    u = uniform01(words(20_000, key=7))
    u[:4] = [2.0**-53, 1 - 2.0**-53, 0.5, 1e-12]
    k = poisson_inv(u, mu)
    cdf_k = special.pdtr(k, mu)  # exact-ish reference (regularised gamma)
    cdf_km1 = np.where(k > 0, special.pdtr(k - 1, mu), 0.0)
    tol = 1e-9
    assert np.all(cdf_k >= u * (1 - tol)), mu
    assert np.all(cdf_km1 < u * (1 + tol) + 1e-300), mu
    # inversion is monotone in u
    order = np.argsort(u, kind="stable")
    assert np.all(np.diff(k[order]) >= 0)


def test_poisson_far_tails_at_1e5_known_answers():
    # layer2 §3.4: naive float evaluations return 97 537 and 102 654 here
    assert poisson_inv(np.array([2.0**-53]), 1e5)[0] == 97_415
    assert poisson_inv(np.array([1 - 1e-12]), 1e5)[0] == 102_233


def test_poisson_zero_mean_and_no_clamping():
    assert poisson_inv(np.array([1 - 2.0**-53]), 1e-9)[0] == 0
    assert poisson_inv(np.array([2.0**-53]), 0.0)[0] == 0


@pytest.mark.parametrize(("mu", "kappa"), [(20.0, 5.0), (3.0, 10.0), (200.0, 2.0), (50.0, 20.0)])
def test_nb2_mean_and_variance(mu, kappa):
    w = words(2 * N, key=int(mu * 7 + kappa))
    k = nb2(w[0::2], w[1::2], mu, kappa)  # two words per draw
    var = mu + mu * mu / kappa
    assert abs(k.mean() - mu) / mu < 0.01
    assert abs(k.var() - var) / var < 0.01


def test_as241_against_scipy():
    u = uniform01(words(200_000, key=3))
    u = np.concatenate([u, [2.0**-53, 1 - 2.0**-53, 0.5, 0.075, 0.925, 1e-10]])
    z = as241(u)
    ref = special.ndtri(u)
    assert np.allclose(z, ref, rtol=1e-14, atol=1e-15)
    assert as241(np.array([0.5]))[0] == 0.0


def test_box_muller_is_standard_normal():
    w = words(2 * N, key=99)
    z = box_muller(w[0::2], w[1::2])
    assert stats.kstest(z, "norm").pvalue > 1e-4
    assert abs(z.mean()) < 5 / np.sqrt(N) and abs(z.var() - 1) < 0.01


# --- layer2 §8: Poisson inversion equals a 60-digit decimal CDF, exactly --------------------
def _decimal_quantile(mu: float, u: float) -> int:
    """Smallest k with F(k; μ) ≥ u, the CDF summed in Python decimal at 60 digits."""
    from decimal import Decimal, localcontext

    with localcontext() as c:
        c.prec = 60
        m, target = Decimal(mu), Decimal(u)  # the exact binary values
        p = (-m).exp()
        acc, k = p, 0
        while acc < target:
            k += 1
            p = p * m / k
            acc += p
        return k


@pytest.mark.parametrize("mu", [1e-6, 0.5, 29.9, 30.0, 1e3, 1e5])
def test_poisson_inversion_matches_decimal_cdf(mu):
    us = [2.0**-53, 1e-12, 0.5, 1 - 1e-12, 1 - 2.0**-53]
    got = poisson_inv(np.array(us), mu).tolist()
    assert got == [_decimal_quantile(mu, u) for u in us]
