"""Forecast calibration: parameter recovery from simulated books, censoring, shrinkage, bad inputs.

Every book is drawn from ``numpy.random.default_rng(<recorded seed>)`` (STYLE.md 12).
Tolerances are 3 standard errors computed from the sample the estimate used
(the formula is next to each assertion). Where several correlated cells are
tested against the population value at once the bound is 3.5 SE (six
territories) or 4 SE (eleven stage x age cells, whose snapshot-weighted
estimates had standardised errors of sd 1.2 over seeds 0..39: 4 SE is ~3.3 sd,
~0.1% per cell). Over seeds 0..19 every other standardised error had sd
0.95-1.3 and mean within ±0.25 (no bias); the figures are in the report of
docs/methodology.md, "Forecast calibration".
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from plancast.errors import BadInput
from plancast.forecast.calibrate import AGE_BUCKETS, POOLED, Calibration
from plancast.forecast.simulate import Book, ProcessParams, factor_residuals, simulate_book

START, END = "2023-01-01", "2026-01-01"
SEED_IID, SEED_HET, SEED_FACTOR = 7, 11, 5

#: independent deals, one win rate, a quarter of every territory's accounts unavailable
IID = ProcessParams(accounts_per_rep=30, unavailable_share=0.25, sigma_factor=0.0)
#: reps differ (Beta(8, 32): κ = 40), one very large and one tiny rep
BIG, TINY = "EAST-1-R01", "EAST-1-R02"
HET = ProcessParams(
    territories_per_region=4,
    reps_per_territory=10,
    accounts_per_rep=30,
    rep_accounts=((BIG, 300), (TINY, 1)),
    rep_win_concentration=40.0,
    sigma_factor=0.0,
)


@pytest.fixture(scope="module")
def iid_book() -> Book:
    return simulate_book(IID, start=START, end=END, rng=np.random.default_rng(SEED_IID))


@pytest.fixture(scope="module")
def iid_fit(iid_book: Book) -> Calibration:
    b = iid_book
    return Calibration().fit(b.opportunities, b.history, as_of=b.as_of, accounts_available=b.exposure())


@pytest.fixture(scope="module")
def het_book() -> Book:
    return simulate_book(HET, start=START, end=END, rng=np.random.default_rng(SEED_HET))


@pytest.fixture(scope="module")
def het_fit(het_book: Book) -> Calibration:
    b = het_book
    return Calibration().fit(b.opportunities, b.history, as_of=b.as_of, accounts_available=b.exposure())


def _cluster_se(y: np.ndarray, deal: np.ndarray) -> float:
    """SE of a mean over snapshot rows, deals as clusters (a deal shows in several snapshots)."""
    r = pd.Series(y - y.mean()).groupby(deal).sum().to_numpy()
    return float(np.sqrt(np.sum(r**2)) / len(y))


# --------------------------------------------------------------------------- the simulator
def test_simulator_is_deterministic_and_cut_is_a_prefix(iid_book: Book) -> None:
    again = simulate_book(IID, start=START, end=END, rng=np.random.default_rng(SEED_IID))
    pd.testing.assert_frame_equal(again.opportunities, iid_book.opportunities)
    pd.testing.assert_frame_equal(again.history, iid_book.history)
    cols = {"opportunity_id", "account_id", "owner_id", "amount", "stage", "created_date", "close_date",
            "is_closed", "is_won"}
    assert cols <= set(iid_book.opportunities.columns)
    assert {"opportunity_id", "changed_at", "stage", "amount", "close_date"} <= set(iid_book.history.columns)
    opps, hist = iid_book.cut("2024-06-30")
    assert hist["changed_at"].max() <= pd.Timestamp("2024-06-30")
    assert (opps["created_date"] <= pd.Timestamp("2024-06-30")).all()
    full = iid_book.history.set_index("history_id")
    pd.testing.assert_frame_equal(full.loc[hist["history_id"]].reset_index(), hist[full.reset_index().columns])
    # a deal open on the cut day shows as open even if it closed later
    later = iid_book.truth.deals.set_index("opportunity_id").loc[opps["opportunity_id"], "close_date"].to_numpy()
    assert (opps["is_closed"].to_numpy() == (later <= np.datetime64("2024-06-30"))).all()
    # unavailable accounts create nothing, and the exposure leaves them out
    made = set(iid_book.opportunities["account_id"])
    off = iid_book.accounts.loc[~iid_book.accounts["available"], "account_id"]
    assert not made & set(off)
    # 150 accounts per territory, round(0.25 x 150) = 38 (half to even) unavailable
    assert int(iid_book.accounts["available"].sum()) == 6 * (150 - 38)
    assert iid_book.exposure()["account_years"].sum() == pytest.approx(6 * 112 * 1096 / 365)


def test_shared_factor_correlates_outcomes_within_region_quarter() -> None:
    params = ProcessParams(sigma_factor=0.8, accounts_per_rep=30)
    book = simulate_book(params, start=START, end=END, rng=np.random.default_rng(3))
    d = book.truth.deals.merge(book.truth.factor, on=["region_id", "period"])
    # the deal's probability is the rep's shifted by its (region, quarter) factor on the logit scale
    expected = 1 / (1 + np.exp(-(np.log(d["p_base"] / (1 - d["p_base"])) + d["z"])))
    np.testing.assert_allclose(d["p_win"], expected, rtol=1e-12)
    by_cell = d.groupby(["region_id", "period"]).agg(z=("z", "first"), won=("won", "mean"), n=("won", "size"))
    by_cell = by_cell[by_cell["n"] >= 30]
    assert np.corrcoef(by_cell["z"], by_cell["won"])[0, 1] > 0.7


# --------------------------------------------------------------------------- parameter recovery
def test_creation_rate_per_available_account_year(iid_book: Book, iid_fit: Calibration) -> None:
    t = iid_fit.creation_rate_
    company = t[t["level"] == "company"].iloc[0]
    # Poisson: SE = sqrt(r / E) with E the available account-years (~2,000 here)
    se = math.sqrt(IID.opp_rate / company["n"])
    assert abs(company["estimate"] - IID.opp_rate) < 3 * se
    terr = t[t["level"] == "territory"]
    assert len(terr) == 6
    se_t = np.sqrt(IID.opp_rate / terr["n"].to_numpy())
    assert (np.abs(terr["estimate"].to_numpy() - IID.opp_rate) < 3.5 * se_t).all()
    # per *available* account: on all accounts the rate would be a quarter lower
    assert company["events"] / (company["n"] / 0.75) < IID.opp_rate - 5 * se


def test_time_to_close_and_new_deal_win_in_time(iid_book: Book, iid_fit: Calibration) -> None:
    ttc = iid_fit.time_to_close_.set_index("outcome")
    n = ttc.loc["any", "n"]
    sd = IID.cycle_mean_days / math.sqrt(IID.cycle_shape)  # gamma: sd = mean / sqrt(shape) = 45 days
    assert abs(ttc.loc["any", "mean_days"] - IID.cycle_mean_days) < 3 * sd / math.sqrt(n)
    # moment estimator of the gamma shape k: SE ~ sqrt(2 k (k + 1) / n)
    k = IID.cycle_shape
    assert abs(ttc.loc["any", "gamma_shape"] - k) < 3 * math.sqrt(2 * k * (k + 1) / n)
    n_won = ttc.loc["won", "n"]
    assert abs(ttc.loc["won", "mean_days"] - IID.cycle_mean_days) < 3 * sd / math.sqrt(n_won)
    # P(won within d days of creation) against the truth with every outcome known
    truth = iid_book.truth.deals
    t = (truth["close_date"] - truth["created_date"]).dt.days.to_numpy()
    cohort = len(truth)
    assert iid_fit.n_new_deals_ == cohort
    for days in (30, 60, 90, 120, 180, 365):
        oracle = float(np.mean(truth["won"].to_numpy() & (t <= days)))
        se = math.sqrt(max(oracle * (1 - oracle), 1e-4) / cohort)
        assert abs(iid_fit.p_new_win_within(days) - oracle) < 3 * se, days
    assert abs(iid_fit.win_rate_ultimate_ - IID.win_rate) < 3 * math.sqrt(0.16 / n)


def test_win_in_window_per_stage_and_age_recovers_the_truth(iid_book: Book, iid_fit: Calibration) -> None:
    snaps = iid_fit.snapshots_
    truth = iid_book.truth.deals.set_index("opportunity_id")
    close_true = truth.loc[snaps["opportunity_id"], "close_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    won_true = truth.loc[snaps["opportunity_id"], "won"].to_numpy()
    days_left = close_true - snaps["snapshot_day"].to_numpy()
    cells = iid_fit.win_cells_
    assert set(cells["stage"]) - {POOLED} == set(IID.open_stages)
    for i, cell in enumerate(cells["cell"]):
        rows = (snaps["cell"] == cell).to_numpy() if cell != POOLED else np.ones(len(snaps), bool)
        deal = snaps["deal"].to_numpy()[rows]
        # every deal is eventually won with p = 0.2, whatever its stage (stages follow the cycle)
        y = won_true[rows].astype(float)
        se = max(_cluster_se(y, deal), math.sqrt(0.16 / len(np.unique(deal))))
        assert abs(iid_fit.win_curve_[i, -1] - IID.win_rate) < 4 * se, cell
        for w in (30, 90, 180, 365):
            # oracle: the same snapshots with their real (also post-as_of) outcomes
            y = (won_true[rows] & (days_left[rows] <= w)).astype(float)
            se = max(_cluster_se(y, deal), 1e-3)
            assert abs(iid_fit.win_curve_[i, w] - y.mean()) < 3 * se, (cell, w)
    # stages carry information about timing: late stages close sooner
    p30 = {s: iid_fit.p_win_within(s, "mid", 30) for s in IID.open_stages}
    assert p30["Negotiation"] > p30["Proposal"] > p30["Qualification"]


def test_deal_size_mean(iid_fit: Calibration) -> None:
    company = iid_fit.deal_size_.set_index("level").loc["company"]
    sd = IID.amount_mean * IID.amount_cv
    assert abs(company["mean"] - IID.amount_mean) < 3 * sd / math.sqrt(company["n"])
    assert abs(company["sd"] / sd - 1) < 0.2  # lognormal sd: SE of the sd ~ 7% at n ~ 500
    regions = iid_fit.deal_size_[iid_fit.deal_size_["level"] == "region"]
    assert set(regions["group"]) == set(IID.regions)
    # the bootstrap twin of the shrunk mean: E[draw] = w x group mean + (1 - w) x company mean
    east = regions.set_index("group").loc["East"]
    draws = iid_fit.sample_amounts("East", 20_000, np.random.default_rng(1))
    assert abs(draws.mean() - east["mean"]) < 4 * company["sd"] / math.sqrt(len(draws))


def test_sigma_factor_recovery_from_residuals() -> None:
    # 8 regions x 16 quarters = 128 (region, quarter) residuals of ~100 closing deals each;
    # over seeds 0..29 the estimate averaged 0.395 (sd 0.038) and its SE 0.039
    params = ProcessParams(
        regions=tuple(f"R{i}" for i in range(8)),
        territories_per_region=1,
        reps_per_territory=10,
        accounts_per_rep=30,
        sigma_factor=0.4,
    )
    book = simulate_book(params, start="2022-01-01", end=END, rng=np.random.default_rng(SEED_FACTOR))
    res = factor_residuals(book)
    assert len(res) == 128
    cal = Calibration().fit_factor(res)
    assert cal.sigma_factor_se_ is not None and 0.02 < cal.sigma_factor_se_ < 0.08
    assert abs(cal.sigma_factor_ - 0.4) < 3 * cal.sigma_factor_se_
    assert abs(cal.factor_mean_) < 0.15
    # no factor: the estimate stays near zero (over seeds: mean 0.04, sd 0.05)
    flat = simulate_book(
        ProcessParams(**{**params.__dict__, "sigma_factor": 0.0}), start="2022-01-01", end=END,
        rng=np.random.default_rng(SEED_FACTOR),
    )
    assert Calibration().fit_factor(factor_residuals(flat)).sigma_factor_ < 0.2
    # without sampling variances every residual is read as factor: exact when there is no noise
    exact = res.assign(observed=res["predicted"] * 1.0, predicted_var=0.0)
    assert Calibration().fit_factor(exact).sigma_factor_ < 1e-3


# --------------------------------------------------------------------------- shrinkage
def test_shrinkage_pulls_a_tiny_rep_and_leaves_a_large_one(het_book: Book, het_fit: Calibration) -> None:
    t = het_fit.win_rate_
    reps = t[t["level"] == "rep"].set_index("group")
    terr = t[t["level"] == "territory"].set_index("group")
    kappa = het_fit.win_prior_strength_["rep"]
    assert kappa is not None
    parent = terr.loc["EAST-1", "estimate"]
    tiny, big = reps.loc[TINY], reps.loc[BIG]
    assert tiny["n"] < 15 and big["n"] > 1000  # 1 account vs 300
    # posterior mean (k + κ m) / (n + κ): the weight on the rep's own rate is n / (n + κ)
    for r in (tiny, big):
        own = r["raw"] if r["n"] > 0 else parent  # a rep without closed deals has no rate of its own
        assert r["estimate"] == pytest.approx(parent + r["n"] / (r["n"] + kappa) * (own - parent))
    assert tiny["weight"] < 0.3
    assert abs(tiny["estimate"] - parent) <= 0.3 * abs(np.nan_to_num(tiny["raw"] - parent)) + 1e-12
    assert big["weight"] > 0.9
    assert abs(big["estimate"] - big["raw"]) <= 0.1 * abs(big["raw"] - parent) + 1e-12
    # without shrinkage every group keeps its own rate
    raw = Calibration(shrinkage=False).fit(het_book.opportunities, het_book.history, as_of=het_book.as_of)
    r2 = raw.win_rate_[(raw.win_rate_["level"] == "rep") & (raw.win_rate_["n"] > 0)]
    np.testing.assert_allclose(r2["estimate"], r2["raw"])


def test_prior_strength_recovered_from_the_spread_between_reps(het_book: Book, het_fit: Calibration) -> None:
    # 120 reps drawn from Beta(8, 32): κ = 40. Over seeds 0..19 (same design without the two
    # odd reps) the method-of-moments κ had median 41 and range 29-60.
    assert 20 < het_fit.win_prior_strength_["rep"] < 80
    # a rep without a closed deal still has a row: its territory's rate
    t = het_fit.win_rate_
    assert (t.loc[t["n"] == 0, "weight"] == 0).all()


def test_gamma_poisson_shrinkage_of_creation_rates() -> None:
    start, end = "2024-01-01", "2025-01-01"
    odd = "WEST-1"
    params = ProcessParams(territories_per_region=3, accounts_per_rep=20, sigma_factor=0.0,
                           territory_opp_rates=((odd, 3.0),))
    book = simulate_book(params, start=start, end=end, rng=np.random.default_rng(2))
    cal = Calibration().fit(book.opportunities, book.history, as_of=book.as_of, accounts_available=book.exposure())
    terr = cal.creation_rate_[cal.creation_rate_["level"] == "territory"].set_index("group")
    # the spread between territories is real (one triples the rate): the odd one keeps most of it
    assert cal.creation_prior_strength_["territory"] is not None
    assert terr.loc[odd, "estimate"] > 2.5
    assert terr.loc[odd, "weight"] > 0.8
    # homogeneous truth: the spread is noise, so the territories are pulled to their region
    flat = simulate_book(ProcessParams(territories_per_region=3, accounts_per_rep=20, sigma_factor=0.0),
                         start=start, end=end, rng=np.random.default_rng(2))
    cal2 = Calibration().fit(flat.opportunities, flat.history, as_of=flat.as_of, accounts_available=flat.exposure())
    t2 = cal2.creation_rate_[cal2.creation_rate_["level"] == "territory"]
    assert (t2["weight"] < 0.5).all()
    spread_raw, spread_est = t2["raw"].std(), t2["estimate"].std()
    assert spread_est < 0.5 * spread_raw


# --------------------------------------------------------------------------- censoring
AS_OF_MID = pd.Timestamp("2025-02-10")


def _tamper_after(opps: pd.DataFrame, hist: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rewrite everything that happened after ``as_of``: flip outcomes, move dates, change amounts."""
    o, h = opps.copy(), hist.copy()
    late = (o["close_date"] > as_of).to_numpy()
    o.loc[late, "is_won"] = ~o.loc[late, "is_won"].to_numpy(dtype=bool)
    o.loc[late, "amount"] = o.loc[late, "amount"] * 3
    o.loc[late, "close_date"] = o.loc[late, "close_date"] + pd.Timedelta(days=40)
    after = (h["changed_at"] > as_of).to_numpy()
    h.loc[after, "stage"] = np.where(h.loc[after, "stage"] == "Closed Won", "Closed Lost", "Closed Won")
    h.loc[after, "amount"] = 1.0
    h.loc[after, "changed_at"] = h.loc[after, "changed_at"] + pd.Timedelta(days=3)
    extra = o.iloc[:5].assign(  # deals created after as_of
        opportunity_id=[f"NEW-{i}" for i in range(5)], created_date=as_of + pd.Timedelta(days=1),
        close_date=as_of + pd.Timedelta(days=2), is_closed=True, is_won=True,
    )
    return pd.concat([o, extra], ignore_index=True), h


@pytest.mark.parametrize("with_history", [True, False], ids=["history", "dates-only"])
def test_calibrating_as_of_a_date_never_reads_later_outcomes(iid_book: Book, with_history: bool) -> None:
    exposure = iid_book.exposure(iid_book.start, AS_OF_MID + pd.Timedelta(days=1))

    def fit(opps: pd.DataFrame, hist: pd.DataFrame) -> dict:
        cal = Calibration().fit(
            opps, hist if with_history else None, as_of=AS_OF_MID, accounts_available=exposure
        )
        return cal.to_dict()

    then = fit(*iid_book.cut(AS_OF_MID))  # the CRM as it was on the day
    now = fit(iid_book.opportunities, iid_book.history)  # today's CRM, read as of the day
    tampered = fit(*_tamper_after(iid_book.opportunities, iid_book.history, AS_OF_MID))
    assert then == now == tampered
    assert then["as_of"] == "2025-02-10"
    assert then["settings"]["used_history"] is with_history
    # and the as-of fit differs from one that sees the outcomes
    assert fit(iid_book.opportunities, iid_book.history)["n_closed"] < iid_book.opportunities["is_closed"].sum()


def test_dates_only_mode_uses_one_open_stage(iid_book: Book) -> None:
    cal = Calibration().fit(iid_book.opportunities, None, as_of=iid_book.as_of)
    assert set(cal.win_cells_["stage"]) == {POOLED, "open"}
    # the eventual win rate does not depend on how snapshots are labelled
    assert cal.p_win_within("open", "mid", 365) == pytest.approx(IID.win_rate, abs=0.03)


def test_hierarchy_from_an_org_frame_and_closes_missing_from_history(iid_book: Book, iid_fit: Calibration) -> None:
    b = iid_book
    base = iid_fit.to_dict()
    # levels the opportunities lack come from the org frame (rep -> territory -> region)
    bare = b.opportunities.drop(columns=["territory_id", "region_id"])
    via_org = Calibration().fit(bare, b.history, as_of=b.as_of, accounts_available=b.exposure(), org=b.reps)
    assert via_org.to_dict() == base
    # a rep of the org without any deal yet gets its territory's rate
    hire = pd.concat([b.reps, pd.DataFrame({"rep_id": ["EAST-1-R99"], "territory_id": ["EAST-1"],
                                            "region_id": ["East"]})], ignore_index=True)
    with_hire = Calibration().fit(bare, b.history, as_of=b.as_of, org=hire)
    assert with_hire.win_rate("rep", "EAST-1-R99") == with_hire.win_rate("territory", "EAST-1")
    # without any level above the rep, those levels are dropped (and said so)
    flat = Calibration().fit(bare, b.history, as_of=b.as_of)
    assert flat.levels_ == ("rep", "company") and flat.dropped_levels_ == ("territory", "region")
    # a history export without the closing rows: each close comes from the deal's own close date
    no_close = b.history[~b.history["stage"].isin([IID.won_stage, IID.lost_stage])]
    again = Calibration().fit(b.opportunities, no_close, as_of=b.as_of, accounts_available=b.exposure())
    assert again.to_dict() == base


def test_worked_scenario_weak_reps() -> None:
    from plancast.demo import build_scenario

    sc = build_scenario()
    f = sc.frames
    org = f["rep_assignments"][["rep_id", "territory_id"]].merge(f["territories"][["territory_id", "region_id"]])
    cal = Calibration().fit(f["opportunities"], f["opportunity_history"], as_of=sc.as_of, org=org, stages=f["stages"])
    t = cal.win_rate_
    company = t[t["level"] == "company"].iloc[0]
    truth = (28 * 0.20 + 2 * 0.10) / 30  # every rep owns as many accounts
    assert abs(company["estimate"] - truth) < 3 * math.sqrt(truth * (1 - truth) / company["n"])
    reps = t[t["level"] == "rep"].set_index("group")["estimate"]
    west = t[(t["level"] == "territory") & (t["group"] == "WEST")]["estimate"].iloc[0]
    # the two weak reps' pooled raw win rate (true 10 %, ~100 closed deals, sd ≈ 3 points) is
    # below West's (true 18 %); shrinkage never lifts them above their territory
    raw = t[t["level"] == "rep"].set_index("group")
    weak = raw.loc[["W03", "W07"], "events"].sum() / raw.loc[["W03", "W07"], "n"].sum()
    assert weak < t[(t["level"] == "territory") & (t["group"] == "WEST")]["raw"].iloc[0] - 0.03
    assert reps["W03"] <= west + 1e-12 and reps["W07"] <= west + 1e-12
    assert set(cal.win_cells_["stage"]) - {POOLED} == {"Qualification", "Discovery", "Proposal", "Negotiation"}


def test_snapshot_rows_by_hand() -> None:
    ts = pd.Timestamp
    opps = pd.DataFrame(
        {
            "opportunity_id": ["A", "B"],
            "owner_id": ["R1", "R1"],
            "amount": [100.0, 50.0],
            "stage": ["Closed Won", "Closed Lost"],
            "created_date": [ts("2024-01-01"), ts("2024-01-05")],
            "close_date": [ts("2024-01-20"), ts("2024-02-20")],
            "is_closed": [True, True],
            "is_won": [True, False],
        }
    )
    hist = pd.DataFrame(
        {
            "opportunity_id": ["A", "A", "A"],
            "changed_at": [ts("2024-01-01"), ts("2024-01-10"), ts("2024-01-20")],
            "stage": ["Qualification", "Discovery", "Closed Won"],
            "amount": [100.0, 100.0, 100.0],
        }
    )
    cal = Calibration(min_deals=1).fit(opps, hist, as_of="2024-01-31")
    s = cal.snapshots_.sort_values(["opportunity_id", "snapshot_day"])
    a = s[s["opportunity_id"] == "A"]
    # weekly back from as_of: Jan 31, 24 (closed by then), 17, 10, 3
    assert list(a["snapshot_date"].dt.day) == [3, 10, 17]
    assert list(a["stage"]) == ["Qualification", "Discovery", "Discovery"]
    assert list(a["age_days"]) == [2, 9, 16]
    assert list(a["days_to_close"]) == [17, 10, 3] and a["won"].all()
    # B has no history: stage "open"; it closes after as_of, so it is censored (still open, observed 0-21 days)
    b = s[s["opportunity_id"] == "B"]
    assert list(b["snapshot_date"].dt.day) == [10, 17, 24, 31]
    assert set(b["stage"]) == {"open"} and not b["closed"].any()
    assert list(b["observed_days"]) == [21, 14, 7, 0]
    assert cal.n_closed_ == 1


def test_a_close_recorded_after_the_close_date_is_dated_by_the_close_date() -> None:
    """Salesforce's demo org wrote every history row on the day it was loaded: a deal that closed won on
    2023-08-28 has its Closed Won row dated 2023-10-28. The close is the deal's, not the row's."""
    ts = pd.Timestamp
    opps = pd.DataFrame({
        "opportunity_id": ["A", "B"], "owner_id": ["R1", "R1"], "amount": [100.0, 40.0],
        "stage": ["Closed Won", "Closed Won"], "created_date": [ts("2023-06-01"), ts("2023-06-01")],
        "close_date": [ts("2023-08-28"), ts("2023-10-20")], "is_closed": [True, True], "is_won": [True, True]})
    hist = pd.DataFrame({
        "opportunity_id": ["A", "B", "B"],
        "changed_at": [ts("2023-10-28"), ts("2023-06-01"), ts("2023-10-20")],
        "stage": ["Closed Won", "Prospecting", "Closed Won"], "amount": [100.0, 40.0, 40.0]})
    d = Calibration(min_deals=1).fit(opps, hist, as_of="2023-10-28").deals_.set_index("opportunity_id")
    day = pd.to_datetime(d["close_day"].astype("int64"), unit="D")
    assert day.to_dict() == {"A": ts("2023-08-28"), "B": ts("2023-10-20")}
    # before its row was written, A has no history and its own dates say it closed on 2023-08-28
    d = Calibration(min_deals=1).fit(opps, hist, as_of="2023-09-30").deals_.set_index("opportunity_id")
    assert d.loc["A", "closed"] and d.loc["A", "close_day"] == (ts("2023-08-28") - ts(0)).days


# --------------------------------------------------------------------------- invariants
@pytest.mark.parametrize(
    "as_of, group_cols",
    [("2023-03-15", ("stage",)), ("2024-06-30", ("stage", "region_id")), ("2025-12-31", ("stage",))],
)
def test_probabilities_are_in_unit_interval_and_monotone_in_the_window(
    iid_book: Book, as_of: str, group_cols: tuple[str, ...]
) -> None:
    cal = Calibration(min_deals=40).fit(iid_book.opportunities, iid_book.history, as_of=as_of, group_cols=group_cols)
    curves = [cal.win_curve_, cal.lost_curve_, cal.new_won_curve_[None, :], cal.new_lost_curve_[None, :]]
    for c in curves:
        assert ((c >= 0) & (c <= 1)).all()
        assert (np.diff(c, axis=1) >= 0).all()
    assert (cal.win_curve_ + cal.lost_curve_ <= 1 + 1e-12).all()
    windows = np.arange(0, 500, 7)
    if group_cols == ("stage",):
        p = cal.p_win_within(np.asarray(["Proposal", "Negotiation", "Nonexistent"])[:, None], "old", windows[None, :])
    else:
        groups = pd.DataFrame({"stage": ["Proposal", "Discovery"], "region_id": ["East", "Nowhere"]})
        p = np.stack([cal.p_win_within(groups, AGE_BUCKETS[0], w) for w in windows], axis=1)
    assert ((p >= 0) & (p <= 1)).all() and (np.diff(p, axis=1) >= 0).all()
    new = cal.p_new_win_within(windows)
    assert ((new >= 0) & (new <= 1)).all() and (np.diff(new) >= 0).all()
    scaled = cal.p_new_win_within(windows, win_rate=0.5)
    assert scaled[-1] == pytest.approx(0.5) and (np.diff(scaled) >= 0).all()


def test_unknown_groups_fall_back_to_all_snapshots(iid_fit: Calibration) -> None:
    pooled = iid_fit.win_curve_[0]
    assert iid_fit.p_win_within("Stage nobody uses", "young", 90) == pytest.approx(pooled[90])
    assert iid_fit.p_win_within("Proposal", "mid", 10_000) == iid_fit.p_win_within("Proposal", "mid", 365)
    ages = np.asarray([0, iid_fit.age_bucket_days_[0] + 1, iid_fit.age_bucket_days_[1] + 1])
    assert list(iid_fit.age_bucket(ages)) == list(AGE_BUCKETS)
    np.testing.assert_allclose(
        iid_fit.p_win_within_age("Proposal", ages, 60), iid_fit.p_win_within("Proposal", list(AGE_BUCKETS), 60)
    )


def test_summary_and_to_dict(iid_fit: Calibration) -> None:
    s = iid_fit.summary()
    assert list(s.columns) == ["parameter", "group", "estimate", "n"]
    params = set(s["parameter"])
    assert {"win_rate", "creation_rate", "deal_size_mean", "p_win_within_90d", "p_new_win_within_90d",
            "median_cycle_days", "prior_strength.win_rate"} <= params
    probs = s[s["parameter"].str.startswith("p_")]["estimate"]
    assert probs.between(0, 1).all()
    d = iid_fit.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    assert len(d["win_curves"][0]["p_win_within"]) == iid_fit.max_window_days + 1
    assert set(d["prior_strength"]) == {"win_rate", "creation_rate", "deal_size"}


# --------------------------------------------------------------------------- bad input
def _bad(iid_book: Book, what: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    o, h = iid_book.cut("2024-03-31")
    o, h, kw = o.copy(), h.copy(), {"as_of": "2024-03-31"}
    if what == "no history":
        kw["as_of"] = "2022-12-31"
    elif what == "negative amount":
        o.loc[0, "amount"] = -5.0
    elif what == "negative history amount":
        h.loc[3, "amount"] = -1.0
    elif what == "close before create":
        o.loc[2, "close_date"] = pd.Timestamp("2022-12-01")
    elif what == "missing column":
        o = o.drop(columns=["owner_id"])
    elif what == "duplicate id":
        o.loc[1, "opportunity_id"] = o.loc[0, "opportunity_id"]
    elif what == "nothing closed":
        kw.update(as_of="2023-01-05", since="2023-01-01")
    elif what == "bad exposure":
        kw["accounts_available"] = pd.DataFrame({"territory_id": ["EAST-1"], "account_years": [-1.0]})
    elif what == "snapshot days":
        kw["snapshot_days"] = 0
    elif what == "bad as_of":
        kw["as_of"] = "someday"
    elif what == "unknown group column":
        kw["group_cols"] = ("stage", "segment_id")
    return o, h, kw


BAD_INPUTS = [
    ("no history", "no opportunity was created on or before as_of 2022-12-31: there is no history to calibrate from"),
    ("negative amount", "opportunities: 1 negative amount(s) (first: 'OPP-000001' at -5.00); amounts must be >= 0"),
    ("negative history amount", "history: 1 negative amount(s) (first: 'OPP-000001' at -1.00); amounts must be >= 0"),
    ("close before create",
     "opportunities: 1 deal(s) close before they were created "
     "(first: 'OPP-000003', created 2023-01-03, closed 2022-12-01)"),
    ("missing column", "opportunities is missing columns ['owner_id']"),
    ("duplicate id", "opportunities: 1 duplicate opportunity_id (first: 'OPP-000001'); keep one row per deal"),
    ("nothing closed",
     "no opportunity created since 2023-01-01 closed on or before as_of 2023-01-05: "
     "win rates and times to close cannot be estimated"),
    ("bad exposure", "accounts_available: account_years must be a number >= 0 on every row"),
    ("snapshot days", "snapshot_days must be a whole number of days >= 1, got 0"),
    ("bad as_of", "as_of must be a date (YYYY-MM-DD), got 'someday'"),
    ("unknown group column", "group_cols: 'segment_id' is not a column of opportunities (nor 'stage')"),
]


@pytest.mark.parametrize("what, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_with_a_clear_message(iid_book: Book, what: str, message: str) -> None:
    o, h, kw = _bad(iid_book, what)
    with pytest.raises(BadInput) as e:
        Calibration().fit(o, h, **kw)
    assert e.value.message == message


BAD_RESIDUALS = [
    (pd.DataFrame({"region_id": ["E"], "observed": [1.0], "predicted": [1.0]}),
     "fit_factor: residuals is missing columns ['period']"),
    (pd.DataFrame({"region_id": ["E", "W"], "period": ["Q1", "Q1"], "observed": [1.0, -1.0], "predicted": [1.0, 1.0],
                   "p_win": 0.2}),
     "fit_factor: observed must be >= 0 and predicted > 0 on every row"),
    (pd.DataFrame({"region_id": ["E"], "period": ["Q1"], "observed": [1.0], "predicted": [1.0], "p_win": 0.2}),
     "fit_factor: at least two (region, period) rows are needed to fit sigma_factor"),
    (pd.DataFrame({"region_id": ["E", "W"], "period": ["Q1", "Q1"], "observed": [1.0, 1.0], "predicted": [1.0, 1.0]}),
     "fit_factor: give residuals a p_win column, or fit() the calibration first"),
]


@pytest.mark.parametrize("frame, message", BAD_RESIDUALS)
def test_bad_residuals_are_refused(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(BadInput) as e:
        Calibration().fit_factor(frame)
    assert e.value.message == message


def test_unfitted_calibration_says_what_to_do() -> None:
    with pytest.raises(BadInput, match=r"not fitted yet: call fit\(opportunities, history, as_of=...\) first"):
        Calibration().p_win_within("Proposal", "mid", 30)
