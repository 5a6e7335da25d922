"""The split's arithmetic: exact Shapley parts, cents that add up, peers without the rep itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from plancast.diagnose.variance import (
    DRIVERS,
    allocate_cents,
    exclusion_median,
    peer_pooled_rate,
    shapley_product,
    split_cents,
    split_change,
)

factor = st.floats(min_value=0.0, max_value=1e3, allow_nan=False, allow_infinity=False)


def test_shapley_two_factors_by_hand() -> None:
    # (2 × 3) → (4 × 5): Δ = 14; φ1 = ½[(4−2)·3 + (4−2)·5] = 8, φ2 = ½[(5−3)·2 + (5−3)·4] = 6
    phi = shapley_product(np.array([[2.0, 3.0]]), np.array([[4.0, 5.0]]))
    np.testing.assert_allclose(phi, [[8.0, 6.0]])


def test_shapley_single_changed_factor_takes_it_all() -> None:
    base = np.array([[180.0, 1.37, 0.2, 85_000.0, 1.0]])
    new = base.copy()
    new[0, 0] = 140.0  # only the accounts change: the whole change is the accounts'
    phi = shapley_product(base, new)
    whole = new.prod() - base.prod()
    np.testing.assert_allclose(phi[0], [whole, 0, 0, 0, 0], atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, (7, 5), elements=factor), hnp.arrays(np.float64, (7, 5), elements=factor))
def test_shapley_parts_sum_to_the_change(base: np.ndarray, new: np.ndarray) -> None:
    phi = shapley_product(base, new)
    whole = new.prod(axis=1) - base.prod(axis=1)
    scale = np.prod(np.maximum(np.abs(base), np.abs(new)) + 1, axis=1)  # the size of the terms that cancel
    np.testing.assert_allclose(phi.sum(axis=1), whole, rtol=1e-9, atol=1e-12 * scale.max())


def test_shapley_is_symmetric_in_the_order_of_factors() -> None:
    rng = np.random.default_rng(3)
    base, new = rng.uniform(0.5, 2, (4, 5)), rng.uniform(0.5, 2, (4, 5))
    perm = np.array([3, 0, 4, 1, 2])
    np.testing.assert_allclose(shapley_product(base[:, perm], new[:, perm]), shapley_product(base, new)[:, perm])


def test_split_change_puts_what_the_product_misses_on_timing() -> None:
    base = np.array([[1.0, 2.0, 3.0, 4.0, np.nan]])  # a factor that could not be measured
    new = np.array([[1.0, 2.0, 3.0, 4.0, 1.0]])
    parts = split_change(base, new, np.array([10.0]), np.array([25.0]))
    assert parts.sum() == pytest.approx(15.0)
    assert parts[0, -1] == pytest.approx(15.0)  # timing: the whole unexplained change


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, (9, 5), elements=st.floats(-1e7, 1e7, allow_nan=False)),
       hnp.arrays(np.int64, 9, elements=st.integers(-10**9, 10**9)))
def test_allocate_cents_hits_each_total_exactly(parts: np.ndarray, total: np.ndarray) -> None:
    c = allocate_cents(parts, total)
    assert c.dtype == np.int64
    np.testing.assert_array_equal(c.sum(axis=1), total)


def test_allocate_cents_moves_each_part_by_its_share_of_the_discrepancy() -> None:
    c = allocate_cents(np.array([[1.004, 2.004, -3.003]]), np.array([1]))  # raw sum 0.005 $ = 0.5 ¢ → 1 ¢
    assert c.sum() == 1 and np.abs(c - np.array([100.4, 200.4, -300.3]) - 1 / 3 * 0.5).max() < 1


money = st.floats(min_value=-5e6, max_value=5e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(*[money] * 14), min_size=1, max_size=20))
def test_parts_sum_to_the_whole_to_the_cent(values: list[tuple[float, ...]]) -> None:
    """On random inputs: stretch + planning + execution = projection − quota, and each
    part's drivers add up to it, in exact cents."""
    cols = ["quota", "plan_expected", "fair_expected", "projected_mean",
            *[f"planning_{d}" for d in DRIVERS], *[f"execution_{d}" for d in DRIVERS]]
    rows = pd.DataFrame(values, columns=cols)
    c = split_cents(rows)
    np.testing.assert_array_equal(c["stretch"] + c["planning_variance"] + c["execution_variance"],
                                  c["projected_mean"] - c["quota"])
    for part in ("planning", "execution"):
        total = sum(c[f"{part}_{d}"] for d in DRIVERS)
        np.testing.assert_array_equal(total, c[f"{part}_variance"])
    np.testing.assert_array_equal(c["quota"], np.rint(rows["quota"].to_numpy() * 100).astype(np.int64))


def _brute_exclusion_median(v: np.ndarray, g: np.ndarray, ok: np.ndarray) -> np.ndarray:
    out = np.full(len(v), np.nan)
    for i in range(len(v)):
        others = [v[j] for j in range(len(v)) if j != i and g[j] == g[i] and ok[j]]
        if not ok[i]:
            others = [v[j] for j in range(len(v)) if g[j] == g[i] and ok[j]]
        if others:
            out[i] = float(np.median(others))
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20), st.booleans()), min_size=1, max_size=25))
def test_exclusion_median_matches_a_brute_force(rows: list[tuple[int, int, bool]]) -> None:
    g = np.array([r[0] for r in rows])
    v = np.array([float(r[1]) for r in rows])
    ok = np.array([r[2] for r in rows])
    np.testing.assert_allclose(exclusion_median(v, g, ok), _brute_exclusion_median(v, g, ok), equal_nan=True)


def _brute_pooled(num: np.ndarray, den: np.ndarray, g: np.ndarray, trim: float) -> np.ndarray:
    out = np.full(len(num), np.nan)
    for grp in np.unique(g):
        idx = [i for i in range(len(num)) if g[i] == grp and den[i] > 0]
        idx = sorted(idx, key=lambda i: (num[i] / den[i], i))  # ties: first row first
        cut = int(np.floor(trim * len(idx)))
        kept = idx[cut:len(idx) - cut]
        for i in (j for j in range(len(num)) if g[j] == grp):
            others = [j for j in kept if j != i]
            d = sum(den[j] for j in others)
            if d > 0:
                out[i] = sum(num[j] for j in others) / d
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 30), st.integers(0, 40)), min_size=1, max_size=30))
def test_peer_pooled_rate_matches_a_brute_force(rows: list[tuple[int, int, int]]) -> None:
    g = np.array([r[0] for r in rows])
    den = np.array([float(r[2]) for r in rows])
    num = np.minimum(np.array([float(r[1]) for r in rows]), den)
    got, _, _ = peer_pooled_rate(num, den, g)
    np.testing.assert_allclose(got, _brute_pooled(num, den, g, 0.1), equal_nan=True, rtol=1e-12)


def test_two_weak_peers_do_not_lower_the_bar() -> None:
    """30 reps with 25 closed deals each: 28 win 5 (20%), two win 2 (8%). Trimming the
    lowest and highest 3 leaves only 20%-reps, so every rep's peer rate is 20%;
    the plain pooled rate of the others would be about 19.2%."""
    won = np.array([5.0] * 28 + [2.0, 2.0])
    closed = np.full(30, 25.0)
    rate, n_won, n_closed = peer_pooled_rate(won, closed, np.zeros(30))
    np.testing.assert_allclose(rate, 0.2)
    # 30 − 3 − 3 = 24 reps kept (ties ranked by row: rows 28, 29, 0 are the lowest three);
    # a kept rep's peers are the other 23, a trimmed rep's all 24
    assert n_closed[10] == 23 * 25 and n_closed[0] == 24 * 25 and n_closed[29] == 24 * 25


def test_headline_gives_points_when_planning_and_execution_pull_apart() -> None:
    from plancast.diagnose.render import headline

    row = {"name": "Central", "quota": 100.0, "projected_mean": 91.4, "p10": 70.0, "p90": 115.0,
           "plan_expected": 85.0, "fair_expected": 82.7,
           "drivers": {"planning": {"accounts": 0.0, "opportunity_rate": 0.3, "win_rate": 0.6, "asp": -3.2,
                                    "timing": 0.0},
                       "execution": {"accounts": 0.0, "opportunity_rate": 1.9, "win_rate": -3.0, "asp": -0.5,
                                     "timing": 10.3}}}
    summary = {"variance_vs_plan": 6.4, "planning_variance": -2.3, "execution_variance": 8.7,
               "planning_share": 2.3 / 11.0, "execution_share": 8.7 / 11.0}
    text = headline(row, summary)
    assert text.endswith("variance against plan +6.4 points: planning -2.3 (ASP -3.2 pts) and execution +8.7 "
                         "(timing +10.3 pts) pull apart")
    same = headline(row, {**summary, "variance_vs_plan": -11.0, "execution_variance": -8.7})
    assert "of the -11.0-point variance against plan, 21% is planning (ASP -3.2 pts) and 79% execution" in same
