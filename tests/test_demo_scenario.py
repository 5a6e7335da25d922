"""The worked scenario (plancast.demo): structure, plan identities, and the truth.

Expected figures are worked out by hand from the scenario's definition, not
read back from the generator:

* opportunity rate r = 4,200,000 / (180 x 0.20 x 85,000) = 4.2e6 / 3.06e6
  = 1.372549... qualified opportunities per account-year (a year is 365 days);
* territory quota = 4,200,000 / 0.85 = 4,941,176.470588 -> 4,941,176.47,
  i.e. 494,117,647 cents over ten 0.1 shares: 49,411,764.7 cents each, so
  seven reps get 494,117.65 and three 494,117.64 (largest remainder, ties to
  the earlier rep);
* 2026 quarters have 90, 91, 92, 92 days (365 in all);
* 2024-01-01 .. 2025-12-31 is 731 days; 2026-01-01 .. 2026-05-15 is 135 days.

Statistical checks use the seed-2026 draw and a tolerance of three standard
errors of the sampling noise (Poisson counts, binomial win rates, the amount's
CV of 0.5, the gamma cycle's CV of 0.5).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from plancast.demo import DEFAULT_SEED, DEMO_KINDS, build_scenario
from plancast.kinds import DTYPES, KINDS

AS_OF = pd.Timestamp("2026-05-15")
FY26 = pd.Timestamp("2026-01-01")
R = 4_200_000 / (180 * 0.20 * 85_000)
DAYS_2024_25 = 731
DAYS_2026_YTD = 135
WEAK = ("W03", "W07")
REGION_OF_PREFIX = {"E": "East", "C": "Central", "W": "West"}



@pytest.fixture(scope="module")
def sc():
    return build_scenario()


@pytest.fixture(scope="module")
def opps(sc):
    return sc.frames["opportunities"]


@pytest.fixture(scope="module")
def hist(sc):
    return sc.frames["opportunity_history"]


def _cents(x) -> np.ndarray:
    return np.rint(np.asarray(x, dtype=float) * 100).astype(np.int64)


# ----------------------------------------------------------------------------- shape and types


def test_every_kind_is_present_with_exactly_its_canonical_columns(sc):
    assert set(sc.frames) == set(DEMO_KINDS)
    assert set(DEMO_KINDS) <= set(KINDS)
    for kind, frame in sc.frames.items():
        assert tuple(frame.columns) == KINDS[kind].column_names, kind
        assert len(frame) > 0, kind


def test_every_column_has_its_canonical_dtype(sc):
    for kind, frame in sc.frames.items():
        for col in KINDS[kind].columns:
            s = frame[col.name]
            assert str(s.dtype) == DTYPES[col.type], (kind, col.name, s.dtype)
            if col.type == "str":
                values = s.tolist()
                assert all(v is None or type(v) is str for v in values), (kind, col.name)
                assert all(v is None or v == v.strip() and v != "" for v in values), (kind, col.name)
            elif col.type == "date":
                d = s.dropna()
                assert (d == d.dt.normalize()).all(), (kind, col.name)
            elif col.type == "money":
                x = s.dropna().to_numpy()
                assert np.array_equal(np.round(x, 2), x), (kind, col.name)
            elif col.type == "rate":
                x = s.dropna()
                assert x.between(0, 1).all(), (kind, col.name)


def test_required_columns_are_filled_and_keys_unique(sc):
    for kind, frame in sc.frames.items():
        spec = KINDS[kind]
        for col in spec.columns:
            if col.required and not col.nullable:
                assert frame[col.name].notna().all(), (kind, col.name)
        assert not frame.duplicated(list(spec.key)).any(), kind


def test_references_resolve(sc):
    f = sc.frames
    ids = {
        "accounts": set(f["accounts"]["account_id"]),
        "reps": set(f["reps"]["rep_id"]),
        "territories": set(f["territories"]["territory_id"]),
        "stages": set(f["stages"]["stage"]),
        "opportunities": set(f["opportunities"]["opportunity_id"]),
    }
    for kind, frame in f.items():
        for ref in KINDS[kind].references:
            used = set(frame[ref.column].dropna())
            assert used <= ids[ref.kind], (kind, ref.column, sorted(used - ids[ref.kind])[:5])
    assert set(f["quotas"]["entity_id"]) <= ids["reps"]
    assert set(f["quotas"]["period"]) <= {p for p, _, _ in sc.periods}
    assert set(f["planning_assumptions"]["period"]) <= {p for p, _, _ in sc.periods}


def test_currency_is_usd_everywhere(sc):
    assert set(sc.frames["opportunities"]["currency"]) == {"USD"}
    assert set(sc.frames["quotas"]["currency"]) == {"USD"}


# ----------------------------------------------------------------------------- reference data


def test_thirty_reps_ten_per_region_fully_ramped(sc):
    reps = sc.frames["reps"]
    assert len(reps) == 30
    expected_ids = [f"{p}{i:02d}" for p in "ECW" for i in range(1, 11)]
    assert reps["rep_id"].tolist() == expected_ids
    assert reps["name"].is_unique and reps["email"].is_unique
    assert set(reps["role"]) == {"AE"}
    assert (reps["ramp_months"] == 3).all()
    # hired before 2024 and fully ramped (3 months) by 2024-01-01
    assert (reps["hire_date"] <= pd.Timestamp("2023-10-01")).all()
    assert reps["departure_date"].isna().all()
    # one manager per region, not shared across regions
    managers = reps.groupby(reps["rep_id"].str[0])["manager"].unique()
    assert all(len(m) == 1 for m in managers)
    assert len({m[0] for m in managers}) == 3


def test_three_territories_one_per_region(sc):
    t = sc.frames["territories"]
    assert t["territory_id"].tolist() == ["EAST", "CENTRAL", "WEST"]
    assert t["region_id"].tolist() == ["East", "Central", "West"]
    assert set(t["segment_id"]) == {"Mid-Market"}
    assert set(t["territory_type"]) == {"geo"}


def test_540_accounts_180_per_region_in_their_states(sc):
    acc = sc.frames["accounts"]
    assert len(acc) == 540
    assert acc["account_id"].is_unique and acc["name"].is_unique
    assert acc["account_id"].str[4].value_counts().to_dict() == {"E": 180, "C": 180, "W": 180}
    assert acc[acc["account_id"].str[4] == "E"]["account_id"].iloc[[0, -1]].tolist() == ["ACC-E-001", "ACC-E-180"]
    states = acc.groupby(acc["account_id"].str[4])["state"].agg(set)
    assert not (states["E"] & states["C"]) and not (states["E"] & states["W"]) and not (states["C"] & states["W"])
    assert {"CA", "WA", "OR"} <= states["W"]
    assert set(acc["country"]) == {"US"}
    assert set(acc["segment_id"]) == {"Mid-Market"}
    assert acc[["name", "industry", "size_band", "city", "state"]].notna().all().all()


def test_accounts_are_owned_round_robin_18_per_rep(sc, opps):
    own = sc.account_owner
    assert len(own) == 540
    assert own.value_counts().eq(18).all() and own.nunique() == 30
    assert own["ACC-E-001"] == "E01" and own["ACC-E-011"] == "E01" and own["ACC-E-010"] == "E10"
    assert own["ACC-W-180"] == "W10" and own["ACC-C-003"] == "C03"
    assert (own.index.str[4] == own.str[0]).all()  # owner is in the account's region
    # the opportunity owner is the account owner
    assert (opps["owner_id"] == opps["account_id"].map(own)).all()


def test_stages_cover_every_stage_used(sc, opps, hist):
    st = sc.frames["stages"]
    assert st["stage"].tolist() == [
        "Qualification", "Discovery", "Proposal", "Negotiation", "Closed Won", "Closed Lost",
    ]
    assert st["sort_order"].is_monotonic_increasing
    assert st.loc[st["is_won"].astype(bool), "stage"].tolist() == ["Closed Won"]
    assert st.loc[st["is_closed"].astype(bool), "stage"].tolist() == ["Closed Won", "Closed Lost"]
    assert set(opps["stage"]) | set(hist["stage"]) == set(st["stage"])


# ----------------------------------------------------------------------------- plan records


def test_assignments_from_2024_recorded_2023_12_01(sc):
    ta = sc.frames["territory_assignments"]
    assert len(ta) == 540
    assert (ta["territory_id"] == ta["account_id"].str[4].map({"E": "EAST", "C": "CENTRAL", "W": "WEST"})).all()
    ra = sc.frames["rep_assignments"]
    assert len(ra) == 30
    assert (ra["territory_id"] == ra["rep_id"].str[0].map({"E": "EAST", "C": "CENTRAL", "W": "WEST"})).all()
    assert (ra["share"] == 0.1).all()
    assert np.allclose(ra.groupby("territory_id")["share"].sum(), 1.0)
    for f in (ta, ra):
        assert (f["valid_from"] == pd.Timestamp("2024-01-01")).all()
        assert f["valid_to"].isna().all()
        assert (f["recorded_at"] == pd.Timestamp("2023-12-01")).all()


def test_exactly_40_exclusions_all_west_4_per_rep_recorded_2025_11_14(sc):
    ex = sc.frames["account_exclusions"]
    assert len(ex) == 40 and ex["account_id"].is_unique
    assert ex["account_id"].str.startswith("ACC-W-").all()
    per_rep = ex["account_id"].map(sc.account_owner).value_counts()
    assert per_rep.to_dict() == {f"W{i:02d}": 4 for i in range(1, 11)}
    assert set(ex["reason"]) == {"declined outreach for 12 months"}
    assert (ex["valid_from"] == pd.Timestamp("2026-01-01")).all()
    assert (ex["valid_to"] == pd.Timestamp("2027-01-01")).all()
    assert (ex["recorded_at"] == pd.Timestamp("2025-11-14")).all()
    assert sc.recorded_at["account_exclusions"] == pd.Timestamp("2025-11-14")


def test_capacity_identity_to_the_cent(sc):
    pa = sc.frames["planning_assumptions"]
    assert pa["territory_id"].tolist() == ["EAST", "CENTRAL", "WEST"]
    assert (pa["period"] == "FY2026").all()
    assert (pa["valid_from"] == pd.Timestamp("2026-01-01")).all()
    assert (pa["valid_to"] == pd.Timestamp("2027-01-01")).all()
    assert (pa["recorded_at"] == pd.Timestamp("2025-12-01")).all()
    for row in pa.itertuples():
        assert row.planned_accounts == 180 and row.win_rate == 0.20 and row.asp == 85_000
        assert row.ramp == 1.0 and row.cycle_days == 90
        assert row.opp_rate == pytest.approx(1.37254902, abs=1e-8)
        capacity = row.planned_accounts * row.opp_rate * row.win_rate * row.asp * 1.0 * row.ramp
        assert round(capacity, 2) == 4_200_000.00
        assert 1 + row.uplift == pytest.approx(1 / 0.85, rel=1e-15)
        assert round(capacity * (1 + row.uplift), 2) == 4_941_176.47
        # steady-state open pipeline / quarter quota under the plan's own rates
        assert row.coverage_ratio == round((90 / (365 / 4)) / (0.20 / 0.85), 2) == 4.19


def test_rep_quotas_add_up_to_plan_over_085_to_the_cent(sc):
    q = sc.frames["quotas"]
    assert len(q) == 30 * 5
    assert set(q["entity_type"]) == {"rep"} and set(q["basis"]) == {"derived"}
    assert (q["recorded_at"] == pd.Timestamp("2025-12-01")).all()
    fy = q[q["period"] == "FY2026"].set_index("entity_id")["amount"]
    assert len(fy) == 30
    region_cents = pd.Series(_cents(fy), index=fy.index).groupby(fy.index.str[0]).sum()
    assert (region_cents == 494_117_647).all()  # 4,200,000 / 0.85 = 4,941,176.47
    for p in "ECW":
        assert [fy[f"{p}{i:02d}"] for i in range(1, 11)] == [494_117.65] * 7 + [494_117.64] * 3


def test_quarter_quotas_split_by_days_and_sum_to_annual_to_the_cent(sc):
    q = sc.frames["quotas"]
    wide = q.pivot(index="entity_id", columns="period", values="amount")
    qcols = ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert (_cents(wide[qcols]).sum(axis=1) == _cents(wide["FY2026"])).all()
    share = np.array([90, 91, 92, 92]) / 365
    exact = wide[["FY2026"]].to_numpy() * share
    assert np.abs(wide[qcols].to_numpy() - exact).max() <= 0.01 + 1e-9
    periods = {p: (s, e) for p, s, e in sc.periods}
    for row in q.itertuples():
        s, e = periods[row.period]
        assert (row.valid_from, row.valid_to) == (pd.Timestamp(s), pd.Timestamp(e))


def test_periods(sc):
    ids = [p for p, _, _ in sc.periods]
    for y in (2024, 2025, 2026):
        assert f"FY{y}" in ids and all(f"{y}Q{i}" in ids for i in range(1, 5))
    per = {p: (s, e) for p, s, e in sc.periods}
    assert per["FY2026"] == (date(2026, 1, 1), date(2027, 1, 1))
    assert per["2026Q2"] == (date(2026, 4, 1), date(2026, 7, 1))
    assert [(per[f"2026Q{i}"][1] - per[f"2026Q{i}"][0]).days for i in range(1, 5)] == [90, 91, 92, 92]
    assert (per["FY2024"][1] - per["FY2024"][0]).days == 366
    assert sc.as_of == date(2026, 5, 15)


def test_recorded_at_per_kind(sc):
    ra = sc.recorded_at
    assert set(ra) == set(DEMO_KINDS)
    assert ra["planning_assumptions"] == ra["quotas"] == pd.Timestamp("2025-12-01")
    assert ra["territory_assignments"] == ra["rep_assignments"] == pd.Timestamp("2023-12-01")
    assert ra["opportunities"] == ra["opportunity_history"] == AS_OF
    for kind, frame in sc.frames.items():
        if "recorded_at" in frame:
            assert set(frame["recorded_at"]) == {ra[kind]}, kind


# ----------------------------------------------------------------------------- the CRM facts


def test_nothing_after_as_of(opps, hist):
    assert (opps["created_date"] <= AS_OF).all()
    assert (hist["changed_at"] <= AS_OF).all()
    closed = opps["is_closed"].astype(bool)
    assert (opps.loc[closed, "close_date"] <= AS_OF).all()
    # an open deal is still open on as_of, and shows no lapsed expected date
    assert (opps.loc[~closed, "close_date"] >= AS_OF).all()
    assert opps["close_date"].notna().all()


def test_close_date_never_before_created(opps, hist):
    assert (opps["close_date"] >= opps["created_date"]).all()
    created = hist["opportunity_id"].map(opps.set_index("opportunity_id")["created_date"])
    assert (hist["close_date"] >= created).all()
    assert (hist["changed_at"] >= created).all()


def test_closed_flags_match_stages(sc, opps):
    st = sc.frames["stages"].set_index("stage")
    assert (opps["is_closed"] == opps["stage"].map(st["is_closed"])).all()
    assert (opps["is_won"] == opps["stage"].map(st["is_won"])).all()
    assert (opps["probability"] == opps["stage"].map(st["probability"])).all()
    assert opps["amount"].notna().all() and (opps["amount"] > 0).all()


def test_history_is_consistent_with_the_opportunities(opps, hist):
    assert hist["history_id"].is_unique and opps["opportunity_id"].is_unique
    assert set(hist["opportunity_id"]) == set(opps["opportunity_id"])
    o = opps.set_index("opportunity_id")
    first = hist.groupby("opportunity_id", sort=False).head(1).set_index("opportunity_id")
    assert (first["stage"] == "Qualification").all()
    assert (first["changed_at"] == o.loc[first.index, "created_date"]).all()
    # the first expected close is created + 90 days (the plan's cycle)
    assert ((first["close_date"] - first["changed_at"]).dt.days == 90).all()
    last = hist.groupby("opportunity_id", sort=False).tail(1).set_index("opportunity_id")
    for col in ("stage", "amount", "close_date"):
        assert (last[col] == o.loc[last.index, col]).all(), col
    # rows are in time order and stages only move forward
    order = hist["stage"].map({"Qualification": 1, "Discovery": 2, "Proposal": 3, "Negotiation": 4,
                               "Closed Won": 5, "Closed Lost": 5})
    g = hist.assign(order=order).groupby("opportunity_id", sort=False)
    assert (g["changed_at"].diff().dropna() >= pd.Timedelta(0)).all()
    assert (g["order"].diff().dropna() >= 0).all()
    # every closed deal has exactly one closing row, dated its close date
    closing = hist[hist["stage"].isin(["Closed Won", "Closed Lost"])].set_index("opportunity_id")
    assert closing.index.is_unique
    assert set(closing.index) == set(o.index[o["is_closed"].astype(bool)])
    assert (closing["changed_at"] == o.loc[closing.index, "close_date"]).all()


def test_an_earlier_as_of_sees_a_prefix_of_the_same_world(sc):
    early = build_scenario(DEFAULT_SEED, as_of=date(2026, 3, 31))
    cut = pd.Timestamp("2026-03-31")
    h_late, h_early = sc.frames["opportunity_history"], early.frames["opportunity_history"]
    pd.testing.assert_frame_equal(h_early, h_late[h_late["changed_at"] <= cut].reset_index(drop=True))
    o_late, o_early = sc.frames["opportunities"], early.frames["opportunities"]
    assert set(o_early["opportunity_id"]) == set(o_late.loc[o_late["created_date"] <= cut, "opportunity_id"])
    fixed = ["opportunity_id", "account_id", "owner_id", "amount", "created_date", "product"]
    merged = o_early[fixed].merge(o_late[fixed], on="opportunity_id", suffixes=("_e", "_l"))
    for c in fixed[1:]:
        assert (merged[f"{c}_e"] == merged[f"{c}_l"]).all(), c
    for kind in DEMO_KINDS[:-2]:  # the plan records do not depend on as_of
        pd.testing.assert_frame_equal(early.frames[kind], sc.frames[kind])


def test_no_excluded_account_has_a_deal_in_2026(sc, opps):
    excluded = set(sc.frames["account_exclusions"]["account_id"])
    on_excluded = opps[opps["account_id"].isin(excluded)]
    assert len(on_excluded) > 0  # they were worked in 2024-2025
    assert (on_excluded["created_date"] < FY26).all()
    # nothing of theirs is open in 2026 or closes in it: West's 2026 comes from 140 accounts
    assert (on_excluded["close_date"] < FY26).all() and on_excluded["is_closed"].all()
    west_2026 = opps[(opps["created_date"] >= FY26) & opps["account_id"].str.startswith("ACC-W-")]
    assert west_2026["account_id"].nunique() <= 140


# ----------------------------------------------------------------------------- determinism and speed


def test_same_seed_same_frames_other_seed_other_opportunities(sc):
    again = build_scenario(DEFAULT_SEED)
    for kind in DEMO_KINDS:
        pd.testing.assert_frame_equal(again.frames[kind], sc.frames[kind])
    pd.testing.assert_series_equal(again.account_owner, sc.account_owner)
    other = build_scenario(7)
    assert not other.frames["opportunities"].equals(sc.frames["opportunities"])
    assert not other.frames["account_exclusions"].equals(sc.frames["account_exclusions"])
    # the plan itself does not depend on the seed
    for kind in ("planning_assumptions", "quotas", "rep_assignments", "territories", "stages"):
        pd.testing.assert_frame_equal(other.frames[kind], sc.frames[kind])


def test_global_random_state_is_untouched():
    np.random.seed(12345)
    before = np.random.get_state()
    build_scenario(3)
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]




# ----------------------------------------------------------------------------- the truth, recovered


def _history_2024_25(opps):
    return opps[opps["created_date"] < FY26]


def test_opportunity_rate_2024_25_within_3_se(opps):
    made = _history_2024_25(opps)
    # 540 accounts x 731 days, less the excluded accounts' deals thinned out because they would
    # have closed in 2026: 40 accounts x r/365 x E[cycle] = 40 x r/365 x 90 days
    account_days = 540 * DAYS_2024_25 - 40 * 90
    expected = R / 365 * account_days
    assert abs(len(made) - expected) <= 3 * np.sqrt(expected), (len(made), expected)
    rate = len(made) / (account_days / 365)
    assert abs(rate - R) <= 3 * np.sqrt(expected) / (account_days / 365)


def test_win_rates_2024_25_within_3_se(opps):
    closed = _history_2024_25(opps)
    closed = closed[closed["is_closed"].astype(bool)]
    weak = closed["owner_id"].isin(WEAK)
    for mask, p in ((~weak, 0.20), (weak, 0.10)):
        won = closed.loc[mask, "is_won"].astype(bool)
        n = len(won)
        assert n > 50
        assert abs(won.mean() - p) <= 3 * np.sqrt(p * (1 - p) / n), (p, won.mean(), n)


def test_mean_amount_and_cycle_2024_25_within_3_se(opps):
    made = _history_2024_25(opps)
    n = len(made)
    assert abs(made["amount"].mean() - 85_000) <= 3 * 0.5 * 85_000 / np.sqrt(n)
    assert (made["amount"] % 100 == 0).all()
    cv = made["amount"].std() / made["amount"].mean()
    assert 0.4 < cv < 0.6
    # every 2024 deal has closed by as_of: an uncensored sample of the cycle (gamma, mean 90, CV 0.5)
    y24 = opps[opps["created_date"] < pd.Timestamp("2025-01-01")]
    assert y24["is_closed"].all()
    cycle = (y24["close_date"] - y24["created_date"]).dt.days
    assert abs(cycle.mean() - 90) <= 3 * 45 / np.sqrt(len(cycle))


@pytest.mark.parametrize(
    ("prefix", "accounts", "win_rate"),
    [("E", 180, 0.20), ("C", 180, 0.20), ("W", 140, 0.18)],  # West: 8 reps at 0.20, 2 at 0.10
)
def test_fy2026_closed_won_so_far_within_3_sd(opps, prefix, accounts, win_rate):
    won = opps[opps["is_won"].astype(bool) & (opps["close_date"] >= FY26) & (opps["owner_id"].str[0] == prefix)]
    # steady state: deals close at the rate they are created; 135 days of 2026 by as_of
    wins = accounts * R * DAYS_2026_YTD / 365 * win_rate
    expected = wins * 85_000
    # compound Poisson: var = E[wins] x E[amount^2] = E[wins] x ASP^2 x (1 + CV^2)
    sd = np.sqrt(wins * 85_000**2 * 1.25)
    assert abs(won["amount"].sum() - expected) <= 3 * sd, (won["amount"].sum(), expected, sd)


def test_truth_gives_the_known_results(sc):
    t = sc.truth
    assert t.weak_reps == WEAK and t.rep_win_rate("W03") == 0.10 and t.rep_win_rate("E03") == 0.20
    assert t.available_accounts("West", date(2026, 5, 15)) == 140
    assert t.available_accounts("West", date(2025, 12, 31)) == 180
    assert t.available_accounts("East", date(2026, 5, 15)) == 180
    assert t.expected_attainment("East") == pytest.approx(0.85)
    assert t.expected_attainment("Central") == pytest.approx(0.85)
    assert t.expected_attainment("West") == pytest.approx(0.85 * 140 / 180 * 0.9)  # 0.595
    assert t.expected_won("East", date(2026, 1, 1), date(2026, 5, 16)) == pytest.approx(4_200_000 * 135 / 365)
    west_ytd = 4_200_000 * 140 / 180 * 0.9 * 135 / 365  # 1,087,397.26
    assert t.expected_won("West", date(2026, 1, 1), date(2026, 5, 16)) == pytest.approx(west_ytd)
    assert t.expected_won("West", date(2025, 1, 1), date(2026, 1, 1)) == pytest.approx(4_200_000 * 0.9)
    assert t.opp_rate == pytest.approx(R)
