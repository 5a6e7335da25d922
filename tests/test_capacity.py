"""Capacity, effective accounts, cycle timing, ramp and attrition — values worked out by hand.

The cases use a daily rate of exactly $1 per available account (opp_rate 3.65 per
account-year x win rate 1 x ASP $100 / 365 days), so capacity in dollars equals
productive account-days and every expected value below is a count of days.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from plancast.planning.build import derive_quotas
from plancast.planning.capacity import PeriodInputs, compute_capacity, ramp_levels

S, E = date(2026, 1, 1), date(2027, 1, 1)


def _ts(d):
    return pd.Timestamp(d) if d is not None else pd.NaT


def inputs(assign, excl=(), reps=(), rep_assign=(), cycle=0.0, uplift=0.0, planned=None, territories=("T", "U"),
           attrition=0.0, backfill=0.0):
    asm = pd.DataFrame({
        "territory_id": list(territories), "valid_from": pd.Timestamp(S), "valid_to": pd.Timestamp(E),
        "planned_accounts": planned if planned is not None else 1.0, "opp_rate": 3.65, "win_rate": 1.0,
        "asp": 100.0, "cycle_days": cycle, "uplift": uplift, "ramp": 1.0, "attrition_rate": attrition,
        "backfill_days": backfill,
    })
    return PeriodInputs(
        start=S, end=E,
        territories=pd.DataFrame({"territory_id": list(territories), "name": list(territories),
                                  "region_id": ["R"] * len(territories), "segment_id": "S", "precedence": 0}),
        assumptions=asm,
        assignments=pd.DataFrame([(a, t, _ts(f), _ts(to)) for a, t, f, to in assign],
                                 columns=["account_id", "territory_id", "valid_from", "valid_to"]),
        exclusions=pd.DataFrame([(a, _ts(f), _ts(to)) for a, f, to in excl],
                                columns=["account_id", "valid_from", "valid_to"]),
        rep_assignments=pd.DataFrame([(r, t, s, _ts(f), _ts(to)) for r, t, s, f, to in rep_assign],
                                     columns=["rep_id", "territory_id", "share", "valid_from", "valid_to"]),
        reps=pd.DataFrame([(r, _ts(h), _ts(d), m) for r, h, d, m in reps],
                          columns=["rep_id", "hire_date", "departure_date", "ramp_months"]),
    )


def terr(res, tid):
    return res.territories.set_index("territory_id").loc[tid]


def test_exclusion_is_prorated_by_the_days_it_covers():
    # A2 is excluded for Q2 (91 days): 365 + 274 available account-days
    res = compute_capacity(inputs(
        [("A1", "T", "2025-01-01", None), ("A2", "T", "2025-01-01", None)],
        excl=[("A2", "2026-04-01", "2026-07-01")], planned=2.0))
    t = terr(res, "T")
    assert t["effective_accounts"] == pytest.approx(639 / 365)
    assert t["capacity"] == pytest.approx(639.0)
    assert t["plan_capacity"] == pytest.approx(730.0)
    assert t["capacity_ratio"] == pytest.approx(639 / 730)


def test_pipeline_needs_a_cycle_after_an_account_becomes_available():
    # 30-day cycle: A2 back on day 181 closes from day 211; the exclusion stops its pipeline at once
    res = compute_capacity(inputs(
        [("A1", "T", "2025-01-01", None), ("A2", "T", "2025-01-01", None)],
        excl=[("A2", "2026-04-01", "2026-07-01")], cycle=30))
    t = terr(res, "T")
    assert t["effective_accounts"] == pytest.approx(639 / 365)  # availability itself is not shifted
    assert t["capacity"] == pytest.approx(365 + 90 + (365 - 211))


def test_a_move_keeps_pipeline_with_the_territory_that_made_it():
    # A6 moves from T to U on 2026-10-01 (day 273) with a 30-day cycle:
    # T closes days [0, 303), U closes [303, 365): the account's year is conserved
    res = compute_capacity(inputs(
        [("A6", "T", "2025-01-01", "2026-10-01"), ("A6", "U", "2026-10-01", None)], cycle=30))
    assert terr(res, "T")["capacity"] == pytest.approx(303)
    assert terr(res, "U")["capacity"] == pytest.approx(62)
    assert terr(res, "T")["effective_accounts"] == pytest.approx(273 / 365)
    assert terr(res, "U")["effective_accounts"] == pytest.approx(92 / 365)


def test_new_account_mid_period_starts_closing_one_cycle_later():
    res = compute_capacity(inputs([("A5", "T", "2026-04-01", None)], cycle=30))
    assert terr(res, "T")["capacity"] == pytest.approx(365 - 120)


def test_ramp_schedule_0_25_50_75_100_by_month_of_tenure():
    assert ramp_levels(4).tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    # R hired 2026-03-01 (day 59), ramp 4 months; months start at hire + floor(k x 30.4375) days:
    # [59,89) 0, [89,119) .25, [119,150) .5, [150,180) .75, [180,365) 1  ->  230.5 productive days
    res = compute_capacity(inputs(
        [("A1", "T", "2025-01-01", None)],
        reps=[("R", "2026-03-01", None, 4)], rep_assign=[("R", "T", 1.0, "2026-03-01", None)],
        uplift=0.2, territories=("T",)))
    rep = res.reps.set_index("rep_id").loc["R"]
    assert rep["capacity"] == pytest.approx(230.5)
    assert rep["quota_raw"] == pytest.approx(230.5 * 1.2)
    assert rep["ramp"] == pytest.approx(230.5 / 306)
    t = terr(res, "T")
    assert t["capacity"] == pytest.approx(230.5)
    # before the hire the seat is open: its quota runs at full productivity for 59 days
    assert t["quota_open"] == pytest.approx(59 * 1.2)


def test_departed_reps_quota_stops_and_the_open_seat_starts():
    # two reps share T; B leaves on 2026-07-01 (day 181): B carries days [0,181) at .5, the open seat [181,365) at .5
    res = compute_capacity(inputs(
        [("A1", "T", "2025-01-01", None)],
        reps=[("A", "2020-01-01", None, 0), ("B", "2020-01-01", None, 0)],
        rep_assign=[("A", "T", 0.5, "2024-01-01", None), ("B", "T", 0.5, "2024-01-01", "2026-07-01")],
        territories=("T",)))
    reps = res.reps.set_index("rep_id")
    assert reps.loc["A", "capacity"] == pytest.approx(182.5)
    assert reps.loc["B", "capacity"] == pytest.approx(90.5)
    assert terr(res, "T")["quota_open"] == pytest.approx(92.0)


def test_planned_attrition_and_backfill():
    # 20% attrition, 60 days to backfill, a 4-month ramp loses (1+.75+.5+.25) x 30.4375 days
    res = compute_capacity(inputs([("A1", "T", "2025-01-01", None)], attrition=0.2, backfill=60, territories=("T",)))
    factor = 1 - 0.2 * (60 + 2.5 * 30.4375) / 365
    assert terr(res, "T")["attrition_factor"] == pytest.approx(factor)
    assert terr(res, "T")["capacity"] == pytest.approx(365 * factor)


def test_assumption_change_mid_period_is_time_weighted():
    inp = inputs([("A1", "T", "2025-01-01", None)], territories=("T",))
    a = inp.assumptions
    second = a.copy()
    a["valid_to"] = pd.Timestamp("2026-07-01")
    second["valid_from"] = pd.Timestamp("2026-07-01")
    second["win_rate"] = 0.5
    inp.assumptions = pd.concat([a, second], ignore_index=True)
    res = compute_capacity(inp)
    assert terr(res, "T")["capacity"] == pytest.approx(181 + 184 * 0.5)
    assert terr(res, "T")["win_rate"] == pytest.approx((181 * 1 + 184 * 0.5) / 365)


def test_quotas_add_up_to_the_cent_at_every_level():
    rng = np.random.default_rng(4)
    n = 7
    reps = [(f"R{i}", "2020-01-01", None, 0) for i in range(n)]
    shares = rng.dirichlet(np.ones(n))
    res = compute_capacity(inputs(
        [("A1", "T", "2025-01-01", None), ("A2", "U", "2025-01-01", None)], reps=reps,
        rep_assign=[(f"R{i}", "T", float(s), "2024-01-01", None) for i, s in enumerate(shares)], uplift=1 / 0.85 - 1))
    q = derive_quotas(res, "FY2026", S, E)
    cents = (q.set_index(["entity_type", "entity_id"])["amount"] * 100).round().astype(int)
    assert cents["territory"]["T"] == cents["rep"].sum()
    assert cents["region"]["R"] == cents["territory"].sum()
    assert cents["company"]["company"] == cents["region"].sum()
    assert cents["territory"]["U"] == round(365 / 0.85 * 100)
