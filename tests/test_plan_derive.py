"""plancast plan derive: planning assumptions from what each territory achieved, on both engines."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from plancast.errors import BadInput
from plancast.planning.derive import derive_assumptions, derive_rep_assignments, write_derived_assumptions
from plancast.scenario import load_demo
from plancast.store import Store


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


def test_a_rep_covering_two_territories_counts_each_deal_where_its_account_is(store, tmp_path) -> None:
    """Power BI's owners work the accounts of several states (territories): a deal counts for its
    account's territory when the owner covers it, else for the owner's own territory."""
    from plancast.calendar import fiscal_year_periods
    from plancast.importer import import_file

    def csv(name: str, text: str):
        (tmp_path / name).write_text(text.strip() + "\n")
        return tmp_path / name

    store.add_periods(fiscal_year_periods(2021, 1))
    import_file(store, "territories", csv("t.csv", "territory_id,region_id\nT1,R\nT2,R\nT3,R"))
    import_file(store, "reps", csv("r.csv", "rep_id\nA\nB"))
    import_file(store, "rep_assignments", csv("ra.csv", "rep_id,territory_id,share\nA,T1,1\nA,T2,1\nB,T3,1"),
                valid_from=date(2020, 1, 1))
    import_file(store, "accounts", csv("a.csv", "account_id\na1\na2\nb1"))
    import_file(store, "territory_assignments", csv("ta.csv", "account_id,territory_id\na1,T1\na2,T2\nb1,T3"),
                valid_from=date(2020, 1, 1))
    rows = ["opportunity_id,owner_id,account_id,amount,stage,created_date,close_date,is_closed,is_won"]
    # A: 12 deals on a1 (T1), 9 won; 12 on a2 (T2), 3 won; 12 on b1 (T3, which A does not cover), 6 won
    for acct, wins in (("a1", 9), ("a2", 3), ("b1", 6)):
        for i in range(12):
            won = i < wins
            rows.append(f"{acct}{i},A,{acct},{100 * (i + 1) if won else ''},x,2020-03-01,2020-06-01,true,"
                        f"{str(won).lower()}")
    import_file(store, "stages", csv("s.csv", "stage,sort_order,is_closed,is_won\nx,1,false,false"))
    import_file(store, "opportunities", csv("o.csv", "\n".join(rows)))
    frame, _ = derive_assumptions(store, "FY2021", date(2020, 1, 1), date(2021, 1, 1), uplift=0.1)
    got = frame.set_index("territory_id")
    # A's largest-share territory is T2 or T1 (a tie), so b1's deals go to whichever it is
    home = "T2" if got.loc["T2", "opp_rate"] > 12 else "T1"
    other = {"T1": "T2", "T2": "T1"}[home]
    assert got.loc[other, "opp_rate"] == pytest.approx(12 / (366 / 365))
    assert got.loc[home, "opp_rate"] == pytest.approx(24 / (366 / 365))
    assert got.loc["T1", "win_rate"] == pytest.approx((9 + 6 * (home == "T1")) / (12 + 12 * (home == "T1")))
    assert got.loc["T2", "win_rate"] == pytest.approx((3 + 6 * (home == "T2")) / (12 + 12 * (home == "T2")))
    assert "T3" not in got.index or got.loc["T3", "opp_rate"] == 0


def _no_rep_coverage(db: str, folder) -> None:
    """Accounts in territories, deals owned by reps, and no rep → territory table (as in Power BI's sample):
    A works T1's a1 (12 deals) and T2's a2 (4); B works a2 (6) and T3's b1 (12)."""
    from plancast.calendar import fiscal_year_periods
    from plancast.importer import import_file

    def csv(name: str, text: str):
        (folder / name).write_text(text.strip() + "\n")
        return folder / name

    rows = ["opportunity_id,owner_id,account_id,amount,stage,created_date,close_date,is_closed,is_won"]
    for owner, acct, n in (("A", "a1", 12), ("A", "a2", 4), ("B", "a2", 6), ("B", "b1", 12)):
        rows += [f"{owner}{acct}{i},{owner},{acct},{100 * (i + 1)},x,2020-03-01,2020-06-01,true,{str(i % 2 == 0).lower()}"
                 for i in range(n)]
    with Store(db) as store:
        store.add_periods(fiscal_year_periods(2021, 1))
        import_file(store, "territories", csv("t.csv", "territory_id,region_id\nT1,R\nT2,R\nT3,R"))
        import_file(store, "reps", csv("r.csv", "rep_id\nA\nB"))
        import_file(store, "accounts", csv("a.csv", "account_id\na1\na2\nb1"))
        import_file(store, "stages", csv("s.csv", "stage,sort_order,is_closed,is_won\nx,1,false,false"))
        import_file(store, "opportunities", csv("o.csv", "\n".join(rows)))
        import_file(store, "territory_assignments", csv("ta.csv", "account_id,territory_id\na1,T1\na2,T2\nb1,T3"),
                    valid_from=date(2020, 1, 1))


def test_rep_coverage_is_derived_from_the_deals_when_the_export_has_none(capsys, engine_db, tmp_path) -> None:
    from test_cli import run

    _no_rep_coverage(engine_db, tmp_path)
    argv = ("--db", engine_db, "plan", "derive", "--period", "FY2021", "--from", "2020-01-01", "--to", "2021-01-01",
            "--uplift", "0.1", "--json")
    code, out, err = run(capsys, *argv, "--dry-run")
    assert code == 0, err
    d = json.loads(out)
    assert d["rep_assignments_derived"] == 4 and d["written"] is None
    assert d["notes"][0] == ("no rep assignments in the store: 2 reps cover the territories of the accounts of the "
                             "deals they created from 2020-01-01 to 2021-01-01, each with its share of the "
                             "territory's deals (4 rep–territory pairs)")
    with Store(engine_db) as store:
        assert not len(store.plan_records("rep_assignments"))  # the dry run wrote nothing
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    d = json.loads(out)
    got = pd.DataFrame(d["assumptions"]).set_index("territory_id")
    # each deal is in its account's territory, which its owner now covers: 12, 10 and 12 deals on one account
    # each over the 366 days of 2020; half of each territory's deals won (i even: 6/12, 2/4 + 3/6, 6/12)
    assert got["opp_rate"].to_dict() == pytest.approx({"T1": 12 * 365 / 366, "T2": 10 * 365 / 366,
                                                       "T3": 12 * 365 / 366})
    assert got["win_rate"].to_dict() == pytest.approx({"T1": 0.5, "T2": 0.5, "T3": 0.5})
    with Store(engine_db) as store:
        ra = store.plan_records("rep_assignments", valid_on=date(2021, 6, 1))
    share = {(r.rep_id, r.territory_id): r.share for r in ra.itertuples()}
    assert share == pytest.approx({("A", "T1"): 1.0, ("A", "T2"): 0.4, ("B", "T2"): 0.6, ("B", "T3"): 1.0})
    assert set(pd.to_datetime(ra["valid_from"]).dt.date) == {date(2020, 1, 1)}
    # once there, they are the store's: a second derive reads them and derives nothing
    code, out, err = run(capsys, *argv, "--dry-run")
    assert code == 0, err
    assert json.loads(out)["rep_assignments_derived"] is None


def test_rep_coverage_that_cannot_be_derived_is_refused(capsys, engine_db, tmp_path) -> None:
    from test_cli import run

    _no_rep_coverage(engine_db, tmp_path)
    with Store(engine_db) as store:
        before = len(store.plan_versions())
    code, out, err = run(capsys, "--db", engine_db, "plan", "derive", "--period", "FY2021", "--from", "2020-07-01",
                         "--to", "2021-01-01", "--uplift", "0.1")
    assert code != 0 and not out
    assert ("no rep assignments overlap the history window 2020-07-01 – 2021-01-01, and none can be derived: no deal "
            "created in it is owned by a rep and on an account with a territory") in " ".join(err.split())
    with Store(engine_db) as store:
        assert len(store.plan_versions()) == before and not len(store.plan_records("rep_assignments"))


def test_without_rep_or_account_assignments_nothing_places_a_deal(store, tmp_path) -> None:
    from plancast.importer import import_file

    (tmp_path / "t.csv").write_text("territory_id,region_id\nT1,R\n")
    import_file(store, "territories", tmp_path / "t.csv")
    with pytest.raises(BadInput, match="neither rep assignments nor account assignments overlap the history window "
                                       "2020-01-01 – 2021-01-01: plancast cannot tell which territory a deal "
                                       "belongs to"):
        derive_rep_assignments(store, date(2020, 1, 1), date(2021, 1, 1))
