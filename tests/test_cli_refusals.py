"""Refusals a user meets at the command line: a --db that is not a store, a locked store, a long list of
problems, a known-at before the quotas. Each names what is wrong and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from test_cli import run


def test_a_file_that_is_not_a_duckdb_database_is_refused(capsys, tmp_path) -> None:
    csv = tmp_path / "deals.csv"
    csv.write_text("a,b\n1,2\n")
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(256)) * 12)
    for path in (csv, noise):
        before = path.read_bytes()
        code, out, err = run(capsys, "--db", str(path), "calendar", "add", "2026")
        assert code == 1 and not out
        assert (f"error: --db '{path}' is not a plancast store: the file exists and is not a DuckDB database"
                in " ".join(err.split()))
        assert "to load a CSV or Excel file, use plancast import KIND FILE" in " ".join(err.split())
        assert path.read_bytes() == before
    code, out, _ = run(capsys, "--db", str(noise), "status", "--json")
    assert code == 1 and json.loads(out) == {
        "error": "StoreError",
        "message": f"--db '{noise}' is not a plancast store: the file exists and is not a DuckDB database",
        "hint": "give a new file name (plancast creates it) or an existing store; to load a CSV or Excel file, "
                "use plancast import KIND FILE"}
    code, out, err = run(capsys, "--db", str(tmp_path), "status")
    assert code == 1 and f"--db '{tmp_path}' is a folder, not a plancast store" in err


def test_a_store_held_by_another_process_says_so(tmp_path) -> None:
    db = tmp_path / "held.duckdb"
    con = duckdb.connect(str(db))  # this process holds the write lock; a second process cannot open it
    try:
        con.execute("CREATE TABLE t (a INTEGER)")
        r = subprocess.run([str(Path(sys.executable).with_name("plancast")), "--db", str(db), "status"], capture_output=True,
                           text=True, timeout=120)
    finally:
        con.close()
    err = " ".join(r.stderr.split())
    assert r.returncode == 1
    assert f"error: the store '{db}' is in use by another process:" in err and "Conflicting lock" in err
    assert "close the other plancast (or DuckDB) session, or use another --db" in err
    assert "server is running" not in err


def test_a_long_problem_list_counts_every_problem(capsys, tmp_path) -> None:
    """250 bad rows: ten shown, 240 more counted; --json lists the first 200 and counts the other 50."""
    f = tmp_path / "accounts.csv"
    f.write_text("account_id,name,employees\n" + "".join(f"a{i},Acme {i},many\n" for i in range(250)))
    db = str(tmp_path / "s.duckdb")
    code, out, err = run(capsys, "--db", db, "import", "accounts", str(f))
    assert code == 2
    assert f"error: {f} was not imported: 250 problems found" in " ".join(err.split())
    assert err.count("is not a whole number") == 10
    assert "  … and 240 more (--json lists the first 200)" in err
    code, out, _ = run(capsys, "--db", db, "import", "accounts", str(f), "--json")
    d = json.loads(out)
    assert len(d["problems"]) == 201 and d["problems"][-1]["message"] == "… and 50 more problems"
    # a short list says --json lists every one
    f.write_text("account_id,name,employees\n" + "".join(f"a{i},Acme {i},many\n" for i in range(12)))
    code, out, err = run(capsys, "--db", db, "import", "accounts", str(f))
    assert "  … and 2 more (--json lists every one)" in err


def test_known_at_before_the_quotas_names_when_the_first_were_recorded(capsys, tmp_path) -> None:
    """After a rebuild supersedes the demo's quotas, the first quotas are still the demo's (2025-12-01)."""
    db = str(tmp_path / "demo.duckdb")
    assert run(capsys, "--db", db, "demo", "--json")[0] == 0
    assert run(capsys, "--db", db, "plan", "build", "--period", "FY2026", "--reason", "rebuild")[0] == 0
    code, out, err = run(capsys, "--db", db, "diagnose", "--as-of", "2026-05-15", "--period", "2026Q2",
                         "--as-known-at", "2020-01-01")
    assert code == 2
    assert ("error: plan 'main' has no quotas for 2026Q2 as known at 2020-01-01 00:00; the first were recorded "
            "2025-12-01 00:00") in " ".join(err.split())


def test_a_malformed_option_with_json_gives_the_json_error_shape(capsys, tmp_path) -> None:
    db = str(tmp_path / "s.duckdb")
    code, out, _ = run(capsys, "--db", db, "forecast", "--as-of", "2026-15-01", "--period", "2026Q2", "--json")
    assert code == 2
    d = json.loads(out)
    assert d["error"] == "UsageError" and d["hint"] == "see plancast forecast --help"
    assert "Invalid value for '--as-of'" in d["message"] and "'2026-15-01' does not match the formats '%Y-%m-%d'" in d["message"]
    code, out, err = run(capsys, "--db", db, "forecast", "--as-of", "2026-15-01", "--period", "2026Q2")
    assert code == 2 and not out and "Invalid value for '--as-of'" in err


def test_forecast_json_gives_money_to_the_cent(capsys, tmp_path) -> None:
    db = str(tmp_path / "demo.duckdb")
    assert run(capsys, "--db", db, "demo", "--json")[0] == 0
    code, out, err = run(capsys, "--db", db, "forecast", "--as-of", "2026-05-15", "--period", "2026Q2", "--json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    for r in rows:
        for c in ("quota", "closed_won", "mean", "p10", "p50", "p90", "plan_expected_to_date", "plan_expected"):
            assert r[c] is None or round(r[c], 2) == r[c], (r["entity_id"], c, r[c])
        assert round(r["prob_quota"], 4) == r["prob_quota"]


def test_plan_records_without_a_start_date_are_all_counted(capsys, tmp_path) -> None:
    db = str(tmp_path / "s.duckdb")
    t = tmp_path / "t.csv"
    t.write_text("territory_id\nT1\n")
    a = tmp_path / "a.csv"
    a.write_text("account_id\n" + "".join(f"a{i}\n" for i in range(250)))
    ta = tmp_path / "ta.csv"
    ta.write_text("account_id,territory_id\n" + "".join(f"a{i},T1\n" for i in range(250)))
    for kind, f in (("territories", t), ("accounts", a)):
        assert run(capsys, "--db", db, "import", kind, str(f))[0] == 0
    code, out, err = run(capsys, "--db", db, "import", "territory-assignments", str(ta))
    assert code == 2
    flat = " ".join(err.split())
    assert f"{ta}: 250 plan record(s) without a start date; nothing was loaded" in flat
    assert "… and 240 more (--json lists the first 200)" in flat
    assert "what to do: pass --valid-from DATE (when the records take effect)" in flat


def test_a_reversed_history_window_is_refused_before_anything_is_derived(capsys, tmp_path) -> None:
    db = str(tmp_path / "demo.duckdb")
    assert run(capsys, "--db", db, "demo", "--json")[0] == 0
    code, out, err = run(capsys, "--db", db, "plan", "derive", "--period", "FY2026", "--uplift", "0.1",
                         "--from", "2025-06-01", "--to", "2025-01-01")
    assert code == 2 and "error: the history window 2025-06-01 – 2025-01-01 is empty" in " ".join(err.split())


def test_the_default_history_window_is_the_calendar_year_before() -> None:
    from datetime import date

    from plancast.planning.derive import default_window

    assert default_window(date(2021, 1, 1)) == (date(2020, 1, 1), date(2021, 1, 1))  # 366 days in 2020
    assert default_window(date(2025, 3, 1)) == (date(2024, 3, 1), date(2025, 3, 1))


def test_no_percentile_falls_below_what_is_already_won(tmp_path) -> None:
    """One deal a thousand times the others' size, won in West: it swells the deal-size spread behind every
    region's new pipeline, and a normal tail must not dip under the closed-won floor (it gave Central and
    East a P10 of -120 % of quota)."""
    from datetime import date

    from plancast.forecast.run import project
    from plancast.importer import import_file
    from plancast.scenario import load_demo
    from plancast.store import Store

    f = tmp_path / "big.csv"
    f.write_text("opportunity_id,owner_id,account_id,amount,stage,created_date,close_date,is_closed,is_won\n"
                 "BIG-1,W01,ACC-W-001,100000000,Closed Won,2026-04-01,2026-04-20,true,true\n")
    with Store(str(tmp_path / "s.duckdb")) as store:
        load_demo(store)
        import_file(store, "opportunities", f)
        r = project(store, "2026Q2", date(2026, 5, 15), write=False).results
    assert (r["p10"] >= r["closed_won"] - 1e-6).all() and (r["p50"] >= r["closed_won"] - 1e-6).all()
    company = r[r["level"] == "company"].iloc[0]
    assert company["closed_won"] > 1e8  # the deal is won


def test_a_duckdb_database_plancast_did_not_create_is_left_alone(capsys, tmp_path) -> None:
    for table in ("account", "sales"):  # one clashes with a plancast table name, one does not
        db = tmp_path / f"{table}.duckdb"
        con = duckdb.connect(str(db))
        con.execute(f"CREATE TABLE {table} (a INTEGER)")
        con.close()
        code, out, err = run(capsys, "--db", str(db), "calendar", "add", "2026")
        assert code == 1 and not out
        assert (f"error: --db '{db}' is not a plancast store: it holds 1 table(s) of its own ({table}) and no "
                "plancast schema; nothing was changed") in " ".join(err.split())
        con = duckdb.connect(str(db), read_only=True)
        assert [r[0] for r in con.sql("SHOW TABLES").fetchall()] == [table]
        con.close()
    empty = tmp_path / "empty.duckdb"
    empty.touch()
    code, out, err = run(capsys, "--db", str(empty), "status")
    assert code == 1 and "is not a plancast store: the file exists and is not a DuckDB database" in " ".join(err.split())


def test_amounts_in_other_currencies_are_not_added_to_dollars(capsys, tmp_path) -> None:
    """A won deal of JPY 100,000,000 made West 10,460 % of quota: plancast does not convert, so the import
    warns and the forecast leaves it out; letters that are no currency ('abc5') are not an amount."""
    db = str(tmp_path / "demo.duckdb")
    assert run(capsys, "--db", db, "demo", "--json")[0] == 0
    head = "opportunity_id,owner_id,amount,stage,created_date,close_date,is_closed,is_won\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(head + "X1,W01,abc5,Closed Won,2026-04-01,2026-04-20,true,true\n")
    code, out, err = run(capsys, "--db", db, "import", "opportunities", str(bad))
    assert code == 2 and (f"{bad}, row 2, column 'amount', value 'abc5': is not an amount: its letters are not an "
                          "ISO 4217 currency code") in " ".join(err.split())
    argv = ("--db", db, "forecast", "--as-of", "2026-05-15", "--period", "2026Q2", "--json")
    before = {r["entity_id"]: r for r in json.loads(run(capsys, *argv)[1])["rows"]}
    yen = tmp_path / "yen.csv"
    yen.write_text(head + "X2,W01,JPY 100000000,Closed Won,2026-04-01,2026-04-20,true,true\n")
    code, out, err = run(capsys, "--db", db, "import", "opportunities", str(yen))
    assert code == 0 and (f"{yen}: 1 deal is not in USD (JPY 1): kept as written; plancast does not convert "
                          "currencies") in " ".join(err.split())
    d = json.loads(run(capsys, *argv)[1])
    assert "1 deal(s) not in USD are left out (JPY 1): plancast does not convert currencies" in d["notes"]
    after = {r["entity_id"]: r for r in d["rows"]}
    assert after["West"]["closed_won"] == before["West"]["closed_won"]
    assert after["West"]["mean"] == pytest.approx(before["West"]["mean"], rel=1e-9)


def _generic_crm(capsys, db: str) -> None:
    ex = Path(__file__).resolve().parent.parent / "docs" / "examples" / "generic-crm"
    for argv in (["calendar", "add", "2026"],
                 ["import", "territories", str(ex / "offices.csv"), "--mapping", str(ex / "offices.toml")],
                 ["import", "reps", str(ex / "team.csv"), "--mapping", str(ex / "team.toml"), "--valid-from",
                  "2026-01-01"],
                 ["import", "opportunities", str(ex / "deals.csv"), "--mapping", str(ex / "deals.toml")]):
        code, _, err = run(capsys, "--db", db, *argv)
        assert code == 0, err


def test_a_forecast_without_quotas_gives_amounts_and_no_chance_of_quota(capsys, tmp_path) -> None:
    db = str(tmp_path / "crm.duckdb")
    _generic_crm(capsys, db)
    code, out, err = run(capsys, "--db", db, "forecast", "--as-of", "2026-04-15", "--period", "2026Q2", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert all(r["prob_quota"] is None for r in d["rows"])  # was 1.0: "certain" to reach a $0 quota
    assert ("plan 'main' has no quotas for 2026Q2: the projection is in amounts only, with no attainment or "
            "P(quota) (set quotas: plancast plan build --period 2026Q2, or plancast import quotas FILE)") in d["notes"]
    code, out, err = run(capsys, "--db", db, "forecast", "--as-of", "2026-04-15", "--period", "2026Q2")
    assert code == 0 and "projected closed-won, no quotas" in " ".join(out.split()) and "P(quota)" not in out


def test_derive_without_any_account_says_what_planning_needs(capsys, tmp_path) -> None:
    db = str(tmp_path / "crm.duckdb")
    _generic_crm(capsys, db)  # five deals, none with an account
    code, out, err = run(capsys, "--db", db, "plan", "derive", "--period", "FY2026", "--uplift", "0.1",
                         "--from", "2026-01-01", "--to", "2026-05-01")
    flat = " ".join(err.split())
    assert code == 2 and ("error: no territory has accounts to plan: there are no account assignments, and of the 5 "
                          "deals created from 2026-01-01 to 2026-05-01, 0 name an account") in flat
    assert "import accounts and which territory each is in" in flat
