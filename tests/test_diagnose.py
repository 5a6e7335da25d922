"""The diagnosis on the worked scenario, on both engines: the split, its view, versions, flags."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from test_cli import run

from plancast.diagnose import DRIVERS, diagnose
from plancast.errors import BadInput, NotFound
from plancast.planning.changes import change_assumptions
from plancast.scenario import load_demo
from plancast.store import Store

AS_OF = date(2026, 5, 15)


@pytest.fixture
def demo_store(store):
    load_demo(store)
    return store


@pytest.fixture
def diag(demo_store):
    return diagnose(demo_store, "2026Q2", AS_OF)


def _pct(row: pd.Series, col: str) -> float:
    return 100 * float(row[col]) / float(row["quota"])


def test_west_story_planning_is_most_of_the_gap(diag) -> None:
    """The scenario's figures, known in advance (DESIGN.md): quota = plan / 0.85, West's
    effective accounts 140 of 180, two of ten West reps win at half the rate."""
    west, east, central = (diag.row("region", r) for r in ("West", "East", "Central"))
    for r in (west, east, central):
        assert _pct(r, "plan_expected") == pytest.approx(85.0, abs=0.01)  # by construction
        assert _pct(r, "stretch") == pytest.approx(-15.0, abs=0.01)
    # the accounts driver is the sizing: exactly zero where nothing is excluded; for West
    # it is −85 × 40/180 = −18.9 points scaled by the fair rates' product (Shapley splits
    # the interaction evenly), so within ±1.5 points when the rates are within ±8 % of plan
    assert east["planning_accounts"] == 0 and central["planning_accounts"] == 0
    assert _pct(west, "planning_accounts") == pytest.approx(-85 * 40 / 180, abs=1.5)
    # fair = the plan's model with real accounts and peers' rates: the rates product of the
    # trailing year has a relative sd of about 8 % (≈ 700 opportunities, 130 wins, deal-size
    # cv 0.5), so fair is 85 × 140/180 ≈ 66 ± 2 sd (± 11 points) and East/Central 85 ± 14
    assert 55 < _pct(west, "fair_expected") < 77
    for r in (east, central):
        assert abs(_pct(r, "planning_variance")) < 14  # "within noise of zero"
    # planning is about three quarters of West's variance against plan; the split is
    # of |planning| + |execution|, both negative here
    s = diag.summary()["regions"]["West"]
    assert west["planning_variance"] < 0 and s["planning_share"] > 0.5
    assert s["planning_share"] + s["execution_share"] == pytest.approx(1.0)
    assert _pct(west, "planning_variance") < min(_pct(east, "planning_variance"),
                                                 _pct(central, "planning_variance")) - 10


def test_every_row_adds_up_to_the_cent_and_rolls_up(diag) -> None:
    r = diag.rows
    c = lambda col: np.rint(r[col].to_numpy() * 100).astype(np.int64)  # noqa: E731
    np.testing.assert_array_equal(c("stretch") + c("planning_variance") + c("execution_variance"),
                                  c("projected_mean") - c("quota"))
    for part in ("planning", "execution"):
        np.testing.assert_array_equal(sum(c(f"{part}_{d}") for d in DRIVERS), c(f"{part}_variance"))
    # the fair expectation rolls up (sums of reps), like the forecast's means
    reps = r[r["level"] == "rep"]
    west_reps = reps[reps["parent_id"] == "WEST"]
    assert diag.row("territory", "WEST")["fair_expected"] == pytest.approx(west_reps["fair_expected"].sum(), abs=0.1)
    assert diag.row("company", "company")["fair_expected"] == pytest.approx(reps["fair_expected"].sum(), abs=0.5)
    # execution has no accounts part: the rep and its peers are judged on the same accounts
    assert (r["execution_accounts"] == 0).all()


def test_view_and_command_agree(capsys, engine_db) -> None:
    """`plancast diagnose --json` and the attainment_variance view hold the same numbers."""
    code, _, err = run(capsys, "--db", engine_db, "demo", "--json")
    assert code == 0, err
    code, out, err = run(capsys, "--db", engine_db, "diagnose", "--as-of", "2026-05-15", "--period", "2026Q2",
                         "--json")
    assert code == 0, err
    d = json.loads(out)
    assert set(d) >= {"rows", "summary"}
    assert set(d["summary"]["regions"]) == {"East", "Central", "West"}
    keys = {"level", "entity", "quota", "plan_expected", "fair_expected", "projected_mean", "p10", "p50", "p90",
            "stretch", "planning_variance", "execution_variance", "drivers"}
    assert all(keys <= set(row) for row in d["rows"])
    demo_store = Store(engine_db, upgrade=False)
    view = demo_store.attainment_variance(d["diagnosis_id"]).set_index(["level", "entity"])
    assert len(view) == len(d["rows"])
    for row in d["rows"]:
        v = view.loc[(row["level"], row["entity"])]
        for col in ("quota", "plan_expected", "fair_expected", "projected_mean", "stretch", "planning_variance",
                    "execution_variance"):
            assert float(v[col]) == pytest.approx(row[col], abs=0.005), (row["entity"], col)
        for col in ("p10", "p50", "p90"):
            assert float(v[col]) == pytest.approx(row[col], rel=1e-9)
        for part, drivers in row["drivers"].items():
            for name, value in drivers.items():
                assert float(v[f"{part}_{name}"]) == pytest.approx(value, abs=0.005)
    for region, s in d["summary"]["regions"].items():
        v = view.loc[("region", region)]
        assert float(v["planning_share"]) == pytest.approx(s["planning_share"], abs=1e-9)
        assert float(v["execution_share"]) == pytest.approx(s["execution_share"], abs=1e-9)
    # the view's `latest` marks the newest diagnosis of a (period, as-of, plan)
    latest = demo_store.attainment_variance()
    assert set(latest["diagnosis_id"]) == {d["diagnosis_id"]}  # the demo's own diagnosis 1 is older
    demo_store.close()


def test_a_mid_quarter_change_is_judged_by_days_and_the_past_is_reproducible(demo_store) -> None:
    """West's planned accounts corrected to 140 from 2026-05-01 (recorded later): the plan
    expectation is 85 % of quota for Apr 1 – Apr 30 (30 days) and 85 % × 140/180 for May 1 –
    Jun 30 (61 days); as known before the change, the first diagnosis comes back exactly."""
    first = diagnose(demo_store, "2026Q2", AS_OF)
    known = datetime.now()
    change_assumptions(demo_store, "WEST", date(2026, 5, 1), {"planned_accounts": 140.0},
                       reason="resized to the available accounts", author="test")
    after = diagnose(demo_store, "2026Q2", AS_OF)
    q = float(after.row("region", "West")["quota"])
    daily = 0.85 * q / 91  # the plan's dollars per day at 180 accounts (quota = plan / 0.85)
    expect = daily * 30 + daily * 140 / 180 * 61
    assert float(after.row("region", "West")["plan_expected"]) == pytest.approx(expect, abs=1.0)
    assert float(after.row("region", "West")["fair_expected"]) == pytest.approx(
        float(first.row("region", "West")["fair_expected"]), abs=1.0)  # the real conditions did not change
    assert after.row("region", "East")["plan_expected"] == first.row("region", "East")["plan_expected"]
    again = diagnose(demo_store, "2026Q2", AS_OF, known_at=known)
    cols = ["quota", "plan_expected", "fair_expected", "stretch", "planning_variance"]
    pd.testing.assert_frame_equal(again.rows[["level", "entity_id", *cols]], first.rows[["level", "entity_id", *cols]])


def test_flags_are_apart_and_the_sizing_flag_is_west_only(diag) -> None:
    kinds = {f["kind"] for f in diag.flags}
    assert kinds <= {"capacity", "execution"}
    sizing = [f for f in diag.flags if f["code"] == "territory_sizing"]
    assert [f["entity"] for f in sizing] == ["WEST"]
    for f in diag.flags:
        if f["p_value"] is not None:
            assert 0 <= f["p_value"] < 0.05 and f["test"]


def test_bad_requests_say_what_to_do(demo_store) -> None:
    with pytest.raises(BadInput, match=r"--as-of 2026-07-01 is outside 2026Q2 \(2026-04-01 – 2026-07-01, end exclusive\)"):
        diagnose(demo_store, "2026Q2", date(2026, 7, 1))
    with pytest.raises(BadInput, match="the rates window of 7 days is too short to measure a rate"):
        diagnose(demo_store, "2026Q2", AS_OF, window_days=7)
    with pytest.raises(NotFound, match="forecast run 99 does not exist"):
        diagnose(demo_store, "2026Q2", AS_OF, run_id=99)
    with pytest.raises(NotFound, match="period '2031Q1' does not exist in the store"):
        diagnose(demo_store, "2031Q1", AS_OF)
    run = diagnose(demo_store, "2026Q2", AS_OF).forecast_run
    with pytest.raises(BadInput, match=f"forecast run {run} is for 2026Q2 as of 2026-05-15, not 2026Q2 as of 2026-05-14"):
        diagnose(demo_store, "2026Q2", date(2026, 5, 14), run_id=run)


BAD_REQUESTS = [
    (["diagnose", "--as-of", "2026-05-15", "--period", "2026Q2", "--window-days", "1000000"],
     "error: the rates window of 1000000 days is longer than ten years"),
    (["report", "--as-of", "2026-05-15", "--period", "2026Q2", "--html", "/nonexistent-dir/r.html"],
     "error: --html /nonexistent-dir/r.html: the folder /nonexistent-dir does not exist"),
    (["report", "--as-of", "2026-05-15", "--period", "2026Q2", "--xlsx", "r.html"],
     "error: --xlsx r.html: the file name should end in .xlsx"),
    (["report", "--as-of", "2026-05-15", "--period", "2026Q2"],
     "error: plancast report needs --html FILE and/or --xlsx FILE"),
    (["diagnose", "--as-of", "2026-05-15", "--period", "2026Q2", "--as-known-at", "2025-11-01"],
     "error: plan 'main' has no quotas for 2026Q2 as known at 2025-11-01 00:00; the first were recorded "
     "2025-12-01 00:00"),
    (["forecast", "--as-of", "2026-06-30", "--period", "2026Q2"],
     "error: --as-of 2026-06-30 is 46 days after the newest deal data in the store (2026-05-15)"),
    (["diagnose", "--as-of", "2026-05-15", "--period", "2026Q2", "--plan", "nope"],
     "error: plan 'nope' has no quotas for 2026Q2"),
    (["forecast", "--as-of", "2026-05-15", "--period", "2026Q2", "--level", "bogus"],
     "error: --level 'bogus' is not a level"),
    (["backtest", "--periods", ","], "error: --periods names no period"),
    (["diagnose", "--as-of", "2026-05-15", "--period", "2026Q2", "--run", "99"],
     "error: forecast run 99 does not exist"),
]


def test_bad_cli_requests_are_refused_before_anything_is_stored(capsys, engine_db, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "--db", engine_db, "demo", "--json")
    assert code == 0, err
    with Store(engine_db, upgrade=False) as s:
        before = len(s.read_table("diagnosis_run")), len(s.read_table("forecast_run"))
    for argv, message in BAD_REQUESTS:
        code, _, err = run(capsys, "--db", engine_db, *argv)
        assert code == 2, (argv, err)
        assert message in " ".join(err.split()), (argv, err)
    with Store(engine_db, upgrade=False) as s:
        assert (len(s.read_table("diagnosis_run")), len(s.read_table("forecast_run"))) == before
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".html", ".xlsx")]


def test_after_quotas_are_rebuilt_on_effective_capacity_the_sizing_gap_is_gone(demo_store) -> None:
    """`plan build` sets West's quota from its 140 effective accounts: the plan then expects
    85 % of the new quota, West's planning variance is near zero and its sizing flag is gone."""
    from plancast.planning.build import build_plan

    build_plan(demo_store, "FY2026", write=True, reason="quotas from effective capacity", author="test")
    d = diagnose(demo_store, "2026Q2", AS_OF)
    west = d.row("region", "West")
    assert _pct(west, "plan_expected") == pytest.approx(85.0, abs=0.05)
    assert abs(_pct(west, "planning_accounts")) < 0.5  # the accounts are in the quota now
    assert abs(_pct(west, "planning_variance")) < 14  # rates noise only, as for East and Central
    assert not [f for f in d.flags if f["code"] == "territory_sizing"]
    assert "made now" in " ".join(d.notes)  # the forecast before the rebuild was not reused
