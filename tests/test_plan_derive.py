"""plancast plan derive: planning assumptions from what each territory achieved, on both engines."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from plancast.errors import BadInput
from plancast.planning.derive import derive_assumptions, write_derived_assumptions
from plancast.scenario import load_demo


@pytest.fixture
def demo_store(store):
    load_demo(store)
    return store


def test_rates_are_what_each_territory_achieved(demo_store) -> None:
    frame, notes = derive_assumptions(demo_store, "FY2026", date(2025, 1, 1), date(2026, 1, 1), uplift=0.15)
    got = frame.set_index("territory_id")
    # independently, from the opportunities: every rep owns one territory, named by the rep id's first letter
    o = demo_store.read_table("opportunity")
    o["t"] = o["owner_id"].str[0].map({"E": "EAST", "C": "CENTRAL", "W": "WEST"})
    lo, hi = pd.Timestamp("2025-01-01"), pd.Timestamp("2026-01-01")
    made = o[(o["created_date"] >= lo) & (o["created_date"] < hi)]
    closed = o[o["is_closed"].astype(bool) & (o["close_date"] >= lo) & (o["close_date"] < hi)]
    won = closed[closed["is_won"].astype(bool)]
    for t in ("EAST", "CENTRAL", "WEST"):
        # 180 accounts each, all available in 2025 (West's exclusions start in 2026)
        assert got.loc[t, "planned_accounts"] == 180
        assert got.loc[t, "opp_rate"] == pytest.approx((made["t"] == t).sum() / 180, rel=1e-9)
        assert got.loc[t, "win_rate"] == pytest.approx((won["t"] == t).sum() / (closed["t"] == t).sum(), rel=1e-9)
        assert got.loc[t, "asp"] == pytest.approx(won.loc[won["t"] == t, "amount"].mean(), rel=1e-9)
        w = won[won["t"] == t]
        assert got.loc[t, "cycle_days"] == round((w["close_date"] - w["created_date"]).dt.days.median())
        assert got.loc[t, "coverage_ratio"] == pytest.approx(
            round(got.loc[t, "cycle_days"] / (365 / 4) / (got.loc[t, "win_rate"] * 1.15), 2))
    # the process's truth (opp rate 1.37/account-year, win 20 % but 10 % for two West reps, ASP $85K)
    # within sampling noise of a year: ≈ 250 deals, ≈ 50 wins per territory
    assert got["opp_rate"].between(1.0, 1.75).all() and got["win_rate"].between(0.10, 0.30).all()
    assert got["asp"].between(65_000, 105_000).all()
    assert notes == []
    res = write_derived_assumptions(demo_store, frame, reason="FY2026 from 2025", author="test")
    assert res.inserted == 3 and res.superseded == 3  # the plan's own assumptions are superseded, not lost
    hist = demo_store.record_history("planning_assumptions")
    assert len(hist) == 6


def test_bad_windows_and_uplifts_are_refused(demo_store) -> None:
    with pytest.raises(BadInput, match="the history window 2025-06-01 – 2025-01-01 is empty"):
        derive_assumptions(demo_store, "FY2026", date(2025, 6, 1), date(2025, 1, 1), uplift=0.1)
    with pytest.raises(BadInput, match="--uplift 12.0 is outside -0.99 … 10"):
        derive_assumptions(demo_store, "FY2026", date(2025, 1, 1), date(2026, 1, 1), uplift=12.0)
    with pytest.raises(BadInput, match="no rep assignments overlap the history window 2010-01-01 – 2011-01-01"):
        derive_assumptions(demo_store, "FY2026", date(2010, 1, 1), date(2011, 1, 1), uplift=0.1)


def test_cli_dry_run_writes_nothing(capsys, engine_db) -> None:
    from test_cli import run

    code, _, err = run(capsys, "--db", engine_db, "demo", "--json")
    assert code == 0, err
    code, out, err = run(capsys, "--db", engine_db, "plan", "versions", "--json")
    before = out
    code, out, err = run(capsys, "--db", engine_db, "plan", "derive", "--period", "FY2026", "--uplift", "0.15",
                         "--dry-run")
    assert code == 0, err
    assert "dry run: nothing written" in out
    code, out, err = run(capsys, "--db", engine_db, "plan", "derive", "--period", "FY2026", "--uplift", "0.15",
                         "--dry-run", "--json")
    d = json.loads(out)
    assert [a["territory_id"] for a in d["assumptions"]] == ["CENTRAL", "EAST", "WEST"] and d["written"] is None
    _, after, _ = run(capsys, "--db", engine_db, "plan", "versions", "--json")
    assert after == before
