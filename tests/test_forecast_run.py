"""The projection on the worked scenario, on both engines (work in progress for issue 4)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from plancast.forecast.run import project
from plancast.scenario import load_demo


@pytest.fixture
def demo_store(store):
    load_demo(store)
    return store


def test_west_projects_below_plan_and_rolls_up(demo_store):
    p = project(demo_store, "FY2026", date(2026, 5, 15))
    r = p.results.set_index(["level", "entity_id"])
    pct = (r["mean"] / r["quota"])
    # true expectation: West 85% x 140/180 x 0.9 = 59.5%, East/Central 85%; a year's won amount
    # for ten reps has sd ~ 12-15 points of quota, so the bands are about two sd wide
    assert 0.45 < pct[("region", "West")] < 0.72
    assert 0.70 < pct[("region", "East")] < 1.00 and 0.70 < pct[("region", "Central")] < 1.00
    assert pct[("region", "West")] < min(pct[("region", "East")], pct[("region", "Central")]) - 0.1
    # quantiles are ordered and probabilities are probabilities
    assert (r["p10"] <= r["p50"]).all() and (r["p50"] <= r["p90"]).all()
    assert r["prob_quota"].between(0, 1).all()
    # means add up the hierarchy; P10s do not (roll-ups come from joint outcomes)
    reps = p.results[p.results["level"] == "rep"]
    west = reps[reps["entity_id"].str.startswith("W")]
    assert r.loc[("region", "West"), "mean"] == pytest.approx(west["mean"].sum(), rel=1e-6)
    assert r.loc[("region", "West"), "p10"] > west["p10"].sum()
    company = r.loc[("company", "company")]
    assert company["mean"] == pytest.approx(r.xs("region")["mean"].sum(), rel=1e-6)
    # the plan expected 85% of quota everywhere, and pro rata by the as-of date
    assert (r.xs("region")["plan_expected"] / r.xs("region")["quota"]).to_numpy() == pytest.approx(
        np.full(3, 0.85), abs=1e-6)
    assert r.loc[("region", "East"), "plan_expected_to_date"] == pytest.approx(4_200_000 * 135 / 365, rel=1e-9)
    # stored as a run
    runs = demo_store.forecast_runs()
    assert len(runs) == 1 and runs["period"].item() == "FY2026"
    assert len(demo_store.forecast_results(int(runs["run_id"].item()))) == len(p.results)


def test_as_of_outside_the_period_is_refused(demo_store):
    from plancast.errors import BadInput

    with pytest.raises(BadInput, match="--as-of 2027-02-01 is outside FY2026"):
        project(demo_store, "FY2026", date(2027, 2, 1), write=False)


def test_backtest_scores_both_methods(demo_store):
    from plancast.forecast.backtest import backtest

    detail, summary = backtest(demo_store, ["2025Q4"], step_days=42)
    assert set(summary["method"]) == {"plancast", "stage_weighted"}
    assert set(summary["level"]) == {"rep", "region", "company"}
    company = detail[detail["level"] == "company"]
    # the actual is the same on every date: what closed won in 2025Q4, independently summed
    o = demo_store.read_table("opportunity")
    won = o[o["is_won"].astype(bool) & (o["close_date"] >= "2025-10-01") & (o["close_date"] < "2026-01-01")]
    assert company["actual"].to_numpy() == pytest.approx(won["amount"].sum())
    assert summary["coverage_p10_p90"].dropna().between(0, 1).all()


def test_backtest_needs_finished_periods(demo_store):
    from plancast.errors import BadInput
    from plancast.forecast.backtest import backtest

    with pytest.raises(BadInput, match="2026Q3 has not ended in the data"):
        backtest(demo_store, ["2026Q3"])


def _csv(path, text: str):
    path.write_text(text.strip() + "\n")
    return path


def test_stage_weighted_without_history_counts_what_was_known_on_the_day(store, tmp_path):
    """A CRM export without stage history (Power BI's): a deal's stored stage is where it stands now, or
    where it closed; its Status gives is_closed/is_won, while the stage itself is an open stage."""
    from plancast.calendar import fiscal_year_periods
    from plancast.forecast.backtest import _stage_weighted
    from plancast.importer import import_file

    store.add_periods(fiscal_year_periods(2021, 1))
    import_file(store, "territories", _csv(tmp_path / "t.csv", "territory_id,region_id\nT,R"))
    import_file(store, "reps", _csv(tmp_path / "r.csv", "rep_id,territory_id\nA,T"), valid_from=date(2020, 1, 1))
    import_file(store, "stages", _csv(tmp_path / "s.csv", """
stage,sort_order,is_closed,is_won,probability
Qualify,1,false,false,0.1
Propose,2,false,false,0.5
"""))
    import_file(store, "opportunities", _csv(tmp_path / "o.csv", """
opportunity_id,owner_id,amount,stage,created_date,close_date,is_closed,is_won
won_before,A,100,Propose,2021-06-01,2021-07-10,true,true
lost_before,A,200,Qualify,2021-06-01,2021-07-12,true,false
won_after,A,400,Propose,2021-06-01,2021-08-20,true,true
open_now,A,800,Propose,2021-06-01,2021-09-15,false,false
open_later_q,A,1600,Qualify,2021-06-01,2021-10-15,false,false
won_last_q,A,3200,Propose,2021-04-01,2021-06-20,true,true
created_after,A,6400,Propose,2021-08-10,2021-09-01,false,false
"""))
    got = _stage_weighted(store, date(2021, 7, 1), date(2021, 10, 1), date(2021, 8, 1))
    # won in the period by the day: 100 in full; the lost deal nothing (not its stage's 10 %); the deal
    # won on 08-20 was open on the day at a stage the store does not know: nothing; the deal still
    # open at its 50 % stage, expected inside the period: 400; the rest close outside the period or
    # did not exist yet
    assert got.to_dict() == {"A": pytest.approx(100 + 0.5 * 800)}
