"""Cost classes: the formula, ruptures' factory finds them by name, matrix = error."""
from __future__ import annotations

import numpy as np
import ruptures as rpt

from tipdrift.costs import CostMultinomial, CostPoisson


def test_multinomial_cost_is_the_profiled_negative_log_likelihood() -> None:
    y = np.array([[3, 1, 0], [2, 2, 0], [0, 4, 1]])
    c = CostMultinomial().fit(y)
    nk = y.sum(0).astype(float)
    n = nk.sum()
    expected = -sum(x * np.log(x / n) for x in nk if x > 0)
    assert np.isclose(c.error(0, 3), expected)
    assert np.isclose(CostMultinomial(phi=2.0).fit(y).error(0, 3), expected / 2)
    assert np.isclose(CostMultinomial(length_penalty=0.5).fit(y).error(0, 3), expected + 0.5 * np.log(3))


def test_matrix_agrees_with_error_to_the_last_bit() -> None:
    rng = np.random.default_rng(1)
    y = rng.poisson(4, size=(40, 5))
    for cost in (CostMultinomial(phi=1.37, length_penalty=0.5), CostPoisson(phi=1.2)):
        cost.fit(y)
        m = cost.matrix(3)
        for s, e in [(0, 3), (5, 40), (17, 29), (0, 40)]:
            assert m[s, e] == cost.error(s, e)
        assert np.isinf(m[4, 6])


def test_ruptures_factory_finds_the_models_by_name() -> None:
    import tipdrift.costs  # noqa: F401  (registers the classes)

    algo = rpt.Pelt(model="multinomial", jump=1, min_size=5)
    assert isinstance(algo.cost, CostMultinomial)
    assert isinstance(rpt.Pelt(model="poisson").cost, CostPoisson)


def test_poisson_cost() -> None:
    y = np.array([2, 5, 3, 0])
    c = CostPoisson().fit(y)
    n, L = 10.0, 4
    assert np.isclose(c.error(0, 4), n - n * np.log(n / L))


def test_xlogx_of_counts_matches_the_logs_to_the_last_bit() -> None:
    """The table lookup gives exactly x log x for whole counts (small, large, past the
    table's previous size) and falls back to the logs for fractions and negatives.
    Catches an off-by-one table, a stale table after growth, or fractions truncated."""
    from tipdrift.costs import xlogx, xlogx_counts

    for x in (np.array([0.0, 1.0, 2.0, 7.0]), np.arange(0.0, 5000.0), np.array([[3.0, 90000.0], [0.0, 1.0]]),
              np.array([0.5, 2.5]), np.array([-1.0, 3.0])):
        assert np.array_equal(xlogx_counts(x), xlogx(x))


def test_reductions_over_categories_match_numpys() -> None:
    """`last_sum` and `last_max` (the bootstrap's fast reductions over the category axis)
    give numpy's values: to the last bit below 8 categories and for counts, within rounding
    above; keepdims keeps the axis. Catches a loop that skips the last category, reduces
    another axis, or returns the wrong shape (every scan and draw would shift silently)."""
    from tipdrift.costs.multinomial import last_max, last_sum

    rng = np.random.default_rng(3)
    for K in (1, 2, 4, 7, 12):
        x, c = rng.random((5, 6, K)), rng.integers(0, 1000, (5, 6, K))
        assert np.array_equal(last_sum(c), c.sum(-1))
        assert np.array_equal(last_max(x, keepdims=True), x.max(-1, keepdims=True))
        assert last_sum(x, keepdims=True).shape == (5, 6, 1)
        if K < 8:
            assert np.array_equal(last_sum(x), x.sum(-1))
        assert np.allclose(last_sum(x), x.sum(-1), rtol=1e-14)
