"""The attainment distribution: the simulator is the reference, ``fast`` must agree with it.

Every fixture draws from an explicit, seeded ``numpy.random.Generator``
(STYLE.md 12); the model's identities (the mean, roll-ups by sum, interval
coverage) are checked against simulated truth (STYLE.md 5).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from plancast.errors import BadInput
from plancast.forecast.distribution import (
    ForecastInputs,
    fast,
    forecast_inputs,
    monte_carlo,
    simulate,
)

LEVELS = ("rep", "territory", "region", "segment", "company")


def book(seed: int, *, n_reps: int = 24, deals: tuple[int, int] = (8, 70), sigma: float = 0.3,
         sigma_company: float = 0.15, center: bool = True, cross_groups: bool = False) -> ForecastInputs:
    """reps → territories of 2 → 4 regions (the factor groups) → 2 segments → company."""
    rng = np.random.default_rng(seed)
    rep_terr = np.arange(n_reps) // 2
    n_terr = rep_terr.max() + 1
    terr_reg = np.arange(n_terr) % 4
    reg_seg = np.array([0, 0, 1, 1])
    seg_co = np.zeros(2, dtype=np.int64)
    counts = rng.integers(*deals, n_reps)
    rep = np.repeat(np.arange(n_reps), counts)
    n = len(rep)
    region_of_rep = terr_reg[rep_terr]
    amount = np.round(rng.lognormal(np.log(40_000), 0.9, n), 2)
    p = rng.beta(2, 5, n)
    random_group = rng.integers(0, 4, n)  # drawn either way: the rest of the book must not depend on it
    d = {"rep": rep, "amount": amount, "p": p, "group": random_group if cross_groups else region_of_rep[rep]}
    r = {
        "lam": rng.uniform(0.3, 3.0, n_reps),
        "size_mean": rng.uniform(30e3, 70e3, n_reps),
        "size_sd": rng.uniform(10e3, 50e3, n_reps),
        "closed": rng.uniform(0, 2e5, n_reps),
        "group": region_of_rep,
    }
    expected = np.bincount(rep, d["p"] * d["amount"], minlength=n_reps) + r["lam"] * r["size_mean"] + r["closed"]
    quota = {"rep": np.round(expected * rng.uniform(0.8, 1.3, n_reps), 2),
             "region": np.bincount(region_of_rep, expected, minlength=4) * 1.05}
    return forecast_inputs(d, r, [rep_terr, terr_reg, reg_seg, seg_co], sigma=sigma, sigma_company=sigma_company,
                           center=center, quota=quota)


def expected_mean(inp: ForecastInputs) -> list[np.ndarray]:
    """closed + Σ p·amount + lam·size_mean per rep, summed up the hierarchy."""
    rep = (np.bincount(inp.deal_rep, inp.deal_p * inp.deal_amount, minlength=inp.n_reps)
           + inp.rep_lam * inp.rep_size_mean + inp.rep_closed)
    return [np.bincount(anc, rep, minlength=n) for anc, n in zip(inp.ancestors, inp.sizes)]


def at(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    return frame[frame["level"] == level].set_index("entity")


@pytest.fixture(scope="module")
def inputs() -> ForecastInputs:
    return book(11)


@pytest.fixture(scope="module")
def reference(inputs: ForecastInputs) -> pd.DataFrame:
    return monte_carlo(inputs, sims=400_000, rng=np.random.default_rng(20240601))


@pytest.fixture(scope="module")
def fast_frame(inputs: ForecastInputs) -> pd.DataFrame:
    return fast(inputs)


# ----------------------------------------------------------------------------- the simulator
@pytest.mark.parametrize("sigma", [0.0, 0.4])
def test_simulated_mean_is_closed_plus_expected_wins_plus_new_pipeline(sigma: float) -> None:
    inp = book(3, sigma=sigma, sigma_company=sigma / 2)
    sims = 40_000
    out = simulate(inp, sims, np.random.default_rng(5))
    for k, name in enumerate(LEVELS):
        got = out[name].mean(axis=0)
        se = out[name].std(axis=0) / np.sqrt(sims)
        z = (got - expected_mean(inp)[k]) / se
        assert np.all(np.abs(z) < 4.5), (name, z)


def test_simulated_outcomes_add_up_the_hierarchy(inputs: ForecastInputs) -> None:
    out = simulate(inputs, 500, np.random.default_rng(1))
    for k in range(1, len(LEVELS)):
        child, parent = out[LEVELS[k - 1]], out[LEVELS[k]]
        summed = np.stack([np.bincount(inputs.parents[k - 1], row, minlength=inputs.sizes[k]) for row in child])
        np.testing.assert_allclose(parent, summed, rtol=1e-12)


def test_simulation_depends_on_the_seed_not_on_threads(inputs: ForecastInputs) -> None:
    a = simulate(inputs, 300, np.random.default_rng(7), threads=1, chunk=64)
    b = simulate(inputs, 300, np.random.default_rng(7), threads=2, chunk=64)
    c = simulate(inputs, 300, np.random.default_rng(8), threads=2, chunk=64)
    np.testing.assert_array_equal(a["company"], b["company"])
    assert not np.array_equal(a["company"], c["company"])


# ----------------------------------------------------------------------------- fast vs the reference
def test_fast_mean_is_exact(inputs: ForecastInputs, fast_frame: pd.DataFrame) -> None:
    for k, name in enumerate(LEVELS):
        np.testing.assert_allclose(at(fast_frame, name)["mean"].to_numpy(), expected_mean(inputs)[k], rtol=1e-6)


@pytest.mark.parametrize("level", ["rep", "territory", "region", "segment", "company"])
def test_fast_quantiles_within_half_a_percent_of_high_sim_monte_carlo(
        fast_frame: pd.DataFrame, reference: pd.DataFrame, level: str) -> None:
    # 400k simulations: the reference's own s.e. is ≤ ~0.1% of the mean at every level
    f, m = at(fast_frame, level), at(reference, level)
    err = (f[["p10", "p50", "p90"]] - m[["p10", "p50", "p90"]]).abs().div(m["mean"], axis=0)
    assert err.to_numpy().max() < 0.005, err.max()
    np.testing.assert_allclose(f["sd"], m["sd"], rtol=0.01)
    reach = (f["p_reach"] - m["p_reach"]).abs().dropna()
    assert reach.empty or reach.max() < 0.005


def test_fast_uses_every_method_on_this_book(fast_frame: pd.DataFrame) -> None:
    kinds = fast_frame.attrs["methods"]
    assert set(kinds["rep"]) == {"lattice", "hybrid"}  # reps with ≤ 32 deals and more
    assert kinds["company"] == {"multi": 1}  # its deals span the four factor groups


def test_a_region_is_not_the_sum_of_its_reps_percentiles(
        inputs: ForecastInputs, fast_frame: pd.DataFrame, reference: pd.DataFrame) -> None:
    rep_f, reg_f, reg_m = at(fast_frame, "rep"), at(fast_frame, "region"), at(reference, "region")
    region_of_rep = inputs.ancestors[2]
    summed = {q: np.bincount(region_of_rep, rep_f[q].to_numpy(), minlength=4) for q in ("p10", "p90")}
    mean = reg_m["mean"].to_numpy()
    # adding percentiles overstates the spread: the sum of P10s is far below the region's P10 ...
    assert np.all(summed["p10"] < reg_m["p10"].to_numpy() - 0.05 * mean)
    assert np.all(summed["p90"] > reg_m["p90"].to_numpy() + 0.05 * mean)
    # ... while the joint result (simulated sums) and fast agree
    assert np.all(np.abs(reg_f["p10"].to_numpy() - reg_m["p10"].to_numpy()) < 0.005 * mean)
    # and means do add
    np.testing.assert_allclose(np.bincount(region_of_rep, rep_f["mean"].to_numpy(), minlength=4),
                               reg_f["mean"].to_numpy(), rtol=1e-9)


def test_without_the_factor_intervals_are_narrower_and_groups_do_not_matter() -> None:
    with_factor = fast(book(21, sigma=0.4, sigma_company=0.2))
    without = fast(book(21, sigma=0.0, sigma_company=0.0))
    regrouped = fast(book(21, sigma=0.0, sigma_company=0.0, cross_groups=True))
    for level in LEVELS:
        w, o = at(with_factor, level), at(without, level)
        np.testing.assert_allclose(w["mean"], o["mean"], rtol=1e-6)  # centred: the factor keeps the mean
        assert np.all((w["p90"] - w["p10"]) > (o["p90"] - o["p10"])), level
        # sigma = 0: the factor groups no longer matter
        np.testing.assert_allclose(at(regrouped, level)[["p10", "p50", "p90"]], o[["p10", "p50", "p90"]], rtol=1e-6)
    assert without.attrs["methods"]["company"] != {"multi": 1}


def test_interval_coverage_with_and_without_the_factor() -> None:
    """Periods drawn with the factor: nominal 80% intervals cover ~80% only when the forecast models it."""
    cover: dict[tuple[bool, str], list[float]] = {}
    for seed in range(5):
        truth = book(100 + seed, sigma=0.45, sigma_company=0.25)
        blind = book(100 + seed, sigma=0.0, sigma_company=0.0)
        periods = simulate(truth, 800, np.random.default_rng(1000 + seed))
        for modelled, inp in ((True, truth), (False, blind)):
            f = fast(inp)
            for level in ("rep", "region", "company"):
                lo, hi = at(f, level)["p10"].to_numpy(), at(f, level)["p90"].to_numpy()
                hit = (periods[level] >= lo) & (periods[level] <= hi)
                cover.setdefault((modelled, level), []).append(hit.mean())
    got = {key: float(np.mean(v)) for key, v in cover.items()}
    for level in ("rep", "region", "company"):
        assert 0.75 <= got[(True, level)] <= 0.85, (level, got)
        assert got[(False, level)] < got[(True, level)] - 0.03, (level, got)
    assert got[(False, "company")] < 0.6, got


# ----------------------------------------------------------------------------- the methods, one by one
def test_lattice_is_exact_for_a_few_deals() -> None:
    amounts = np.array([10_000.0, 25_000.0, 40_000.0])
    p = np.array([0.5, 0.3, 0.2])
    inp = forecast_inputs({"rep": [0, 0, 0], "amount": amounts, "p": p}, {"closed": [5_000.0]},
                          [np.array([0])], levels=("rep", "company"), quota={"rep": [30_000.0]})
    frame = fast(inp)
    assert frame.attrs["methods"]["rep"] == {"lattice": 1}
    f = at(frame, "rep").iloc[0]
    outcomes = np.array([5_000 + amounts @ np.array(c) for c in itertools.product([0, 1], repeat=3)])
    probs = np.array([np.prod(np.where(np.array(c) == 1, p, 1 - p)) for c in itertools.product([0, 1], repeat=3)])
    order = np.argsort(outcomes)
    cdf = np.cumsum(probs[order])
    for q, col in ((0.1, "p10"), (0.5, "p50"), (0.9, "p90")):
        exact = outcomes[order][np.searchsorted(cdf, q)]
        assert abs(f[col] - exact) < 0.002 * f["mean"], (col, f[col], exact)
    assert f["p_reach"] == pytest.approx(probs[outcomes >= 30_000].sum(), abs=1e-6)


def test_a_dominant_deal_is_enumerated_not_smoothed() -> None:
    rng = np.random.default_rng(4)
    amount = np.r_[rng.uniform(5e3, 15e3, 150), 600_000.0]
    p = np.r_[rng.uniform(0.1, 0.5, 150), 0.35]
    inp = forecast_inputs({"rep": np.zeros(151, dtype=int), "amount": amount, "p": p}, 1, [np.array([0])],
                          levels=("rep", "company"), sigma=0.2)
    ref = at(monte_carlo(inp, sims=300_000, rng=np.random.default_rng(9)), "rep").iloc[0]
    errs = {}
    for big in (0, 3):
        got = at(fast(inp, big_deals=big), "rep").iloc[0]
        errs[big] = max(abs(got[c] - ref[c]) for c in ("p10", "p50", "p90")) / ref["mean"]
    assert errs[3] < 0.005 < errs[0], errs


def test_groups_that_cut_across_reps_use_factor_points() -> None:
    inp = book(31, n_reps=8, deals=(40, 80), cross_groups=True)
    f = fast(inp, factor_points=1 << 14)
    assert f.attrs["methods"]["rep"] == {"multi": 8}
    m = monte_carlo(inp, sims=200_000, rng=np.random.default_rng(3))
    for level in ("rep", "region", "company"):
        a, b = at(f, level), at(m, level)
        err = (a[["p10", "p50", "p90"]] - b[["p10", "p50", "p90"]]).abs().div(b["mean"], axis=0)
        assert err.to_numpy().max() < 0.01, (level, err.max())


def test_uncentred_factor_moves_the_mean_like_the_simulator() -> None:
    inp = book(41, sigma=0.6, sigma_company=0.0, center=False)
    f = at(fast(inp), "company").iloc[0]
    out = simulate(inp, 60_000, np.random.default_rng(2), levels=["company"])["company"][:, 0]
    assert abs(f["mean"] - out.mean()) < 4 * out.std() / np.sqrt(len(out))
    plain = expected_mean(inp)[-1][0]
    assert abs(f["mean"] - plain) > 10 * out.std() / np.sqrt(len(out))  # p ≈ 0.29 < 1/2: the mean rises
    assert f["mean"] > plain


def test_quantiles_are_ordered_and_probabilities_valid(fast_frame: pd.DataFrame, reference: pd.DataFrame) -> None:
    for frame in (fast_frame, reference):
        assert (frame["p10"] <= frame["p50"]).all() and (frame["p50"] <= frame["p90"]).all()
        reach = frame["p_reach"].dropna()
        assert len(reach) == 24 + 4 and reach.between(0, 1).all()
        assert list(frame["level"].cat.categories) == list(LEVELS)


def test_an_entity_with_nothing_open_is_its_closed_amount() -> None:
    inp = forecast_inputs({"rep": [0], "amount": [1000.0], "p": [0.5]}, {"closed": [10.0, 20.0]},
                          [np.array([0, 0])], levels=("rep", "company"), quota={"rep": [5.0, 25.0]}, sigma=0.3)
    f = at(fast(inp), "rep").loc[1]
    assert (f["mean"], f["sd"], f["p10"], f["p90"], f["p_reach"]) == (20.0, 0.0, 20.0, 20.0, 0.0)


# ----------------------------------------------------------------------------- bad input
BAD = [
    ({"rep": [0], "amount": [-5.0], "p": [0.5]}, {}, "amount must be a positive number (position 0; 1 such)"),
    ({"rep": [0], "amount": [5.0], "p": [1.5]}, {}, "p must be a probability in [0, 1] (position 0; 1 such)"),
    ({"rep": [3], "amount": [5.0], "p": [0.5]}, {}, "must be in 0..1 (position 0; 1 out of range)"),
    ({"rep": [0], "amount": [5.0]}, {}, "deals: the column 'p' is required"),
    ({"rep": [0], "amount": [5.0], "p": [0.5]}, {"lam": [1.0, 0.0]}, "size_mean must be > 0 where lam > 0"),
    ({"rep": [0], "amount": [5.0], "p": [0.5]}, {"sigma": -1}, "sigma and sigma_company must be numbers >= 0"),
]


@pytest.mark.parametrize(("deals", "extra", "message"), BAD)
def test_bad_inputs_are_refused_with_the_reason(deals: dict, extra: dict, message: str) -> None:
    kwargs = {"sigma": extra.pop("sigma")} if "sigma" in extra else {}
    reps = extra or 2
    with pytest.raises(BadInput) as info:
        forecast_inputs(deals, reps, [np.array([0, 0])], levels=("rep", "company"), **kwargs)
    assert message in str(info.value)


def test_hierarchy_shape_is_checked() -> None:
    with pytest.raises(BadInput, match=r"parents\[0\] must have one entry per entity of level 0 \(3\)"):
        forecast_inputs({"rep": [0], "amount": [1.0], "p": [0.5]}, 3, [np.array([0, 0])])


def test_quantiles_must_be_probabilities(inputs: ForecastInputs) -> None:
    with pytest.raises(BadInput, match="quantiles must be probabilities strictly between 0 and 1"):
        fast(inputs, quantiles=(0.1, 1.0))
