"""AdventureWorks (../shared/data/adventureworks_sales_quota_territory): quarterly quotas and territory
history as plan versions, on both engines.

Every expected figure is worked out here from the raw tab-separated files with plain pandas, never with
plancast code. Skipped when the shared data folder is absent.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import SHARED_DATA
from plancast.errors import BadInput
from plancast.importer import import_file
from plancast.ingest import read
from plancast.store import Store
from test_cli import run

AW = SHARED_DATA / "adventureworks_sales_quota_territory"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not AW.is_dir(), reason=f"shared data folder {AW} is absent (see SOURCE.md there)"),
]


def _raw(name: str, columns: list[str]) -> pd.DataFrame:
    return pd.read_csv(AW / name, sep="\t", header=None, names=columns, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    return {
        "territory": _raw("SalesTerritory.csv", ["TerritoryID", "Name", "CountryRegionCode", "Group", "SalesYTD",
                                                 "SalesLastYear", "CostYTD", "CostLastYear", "rowguid", "Modified"]),
        "person": _raw("SalesPerson.csv", ["BusinessEntityID", "TerritoryID", "SalesQuota", "Bonus", "Commission",
                                           "SalesYTD", "SalesLastYear", "rowguid", "Modified"]),
        "history": _raw("SalesTerritoryHistory.csv", ["serial", "BusinessEntityID", "TerritoryID", "StartDate",
                                                      "EndDate", "rowguid", "Modified"]),
        "quota": _raw("SalesPersonQuotaHistory.csv", ["serial", "BusinessEntityID", "QuotaDate", "SalesQuota",
                                                      "rowguid", "Modified"]),
    }


def _load(db: str) -> dict[str, list[str]]:
    """The documented commands: calendar with quarters from June, then the four files; returns the warnings."""
    with Store(db) as store:
        for year in (2012, 2013, 2014):
            from plancast.calendar import fiscal_year_periods

            store.add_periods(fiscal_year_periods(year, 6))
        warnings = {}
        for kind, name in (("territories", "SalesTerritory.csv"), ("reps", "SalesPerson.csv"),
                           ("rep_assignments", "SalesTerritoryHistory.csv"),
                           ("quotas", "SalesPersonQuotaHistory.csv")):
            warnings[kind] = import_file(store, kind, AW / name, preset="adventureworks").warnings
    return warnings


def test_adventureworks_quotas_and_territory_history(capsys, engine_db, raw) -> None:
    warnings = _load(engine_db)
    db = ["--db", engine_db]

    # row counts: every row of the four tables is kept
    _, out, _ = run(capsys, *db, "status", "--json")
    tables = json.loads(out)["tables"]
    assert (tables["territory"], tables["rep"], tables["rep_assignment"], tables["quota"]) == (
        len(raw["territory"]), len(raw["person"]), len(raw["history"]), len(raw["quota"])) == (10, 17, 17, 163)
    assert tables["region"] == raw["territory"]["Group"].nunique() == 3

    # one plan version per quota-setting day (ModifiedDate), and one per day the assignments were known: their
    # ModifiedDate, or their StartDate when the row was modified after it began (its end set later, D27)
    h = raw["history"]
    known = pd.to_datetime(h["Modified"]).where(pd.to_datetime(h["Modified"]) <= pd.to_datetime(h["StartDate"]),
                                                pd.to_datetime(h["StartDate"]))
    _, out, _ = run(capsys, *db, "plan", "versions", "--json")
    versions = json.loads(out)["versions"]
    assert len(versions) == known.nunique() + raw["quota"]["Modified"].nunique() == 6 + 12

    # quota count per rep
    _, out, _ = run(capsys, *db, "show", "quotas", "--limit", "0", "--json")
    quotas = pd.DataFrame(json.loads(out)["rows"])
    expected = raw["quota"]["BusinessEntityID"].value_counts().sort_index()
    assert quotas["entity_id"].value_counts().sort_index().to_dict() == expected.to_dict()
    assert quotas["amount"].sum() == pd.to_numeric(raw["quota"]["SalesQuota"]).sum()
    assert set(quotas["period"]) == {f"{y}Q{q}" for y in (2012, 2013, 2014) for q in (1, 2, 3, 4)}

    # the rep who moved: 275 Northeast (2) -> Central (3) on 2012-11-30 (EndDate 2012-11-29 is the last day)
    moved = raw["history"][raw["history"]["BusinessEntityID"] == "275"]
    assert moved[["TerritoryID", "StartDate", "EndDate"]].values.tolist() == [
        ["2", "2011-05-31 00:00:00", "2012-11-29 00:00:00"], ["3", "2012-11-30 00:00:00", ""]]
    _, out, _ = run(capsys, *db, "plan", "history", "275", "--json")
    history = json.loads(out)["records"]
    ra = [(r["valid_from"], r["valid_to"]) for r in history if r["kind"] == "rep_assignments"]
    assert ra == [("2011-05-31", "2012-11-30"), ("2012-11-30", None)]
    records = pd.DataFrame(history)
    ra = records[records["kind"] == "rep_assignments"]
    assert ra["record"].tolist() == ["territory_id=2, share=1.0", "territory_id=3, share=1.0"]
    q = records[records["kind"] == "quotas"].set_index("valid_from")["record"]
    amount = raw["quota"][raw["quota"]["BusinessEntityID"] == "275"].set_index("QuotaDate")["SalesQuota"]
    assert len(q) == len(amount) == 12
    assert q["2012-06-01"].endswith(f"carried in 2 (Northeast): ${float(amount['2012-05-30 00:00:00']):,.2f} (92 days)")
    assert q["2012-12-01"].endswith(f"carried in 3 (Central): ${float(amount['2012-11-30 00:00:00']):,.2f} (90 days)")
    # the quarter of the move (2012-09-01 .. 2012-12-01, 91 days): 90 days in Northeast, the last in Central
    a = float(amount["2012-08-30 00:00:00"])
    assert q["2012-09-01"].endswith(f"carried in 2 (Northeast): ${round(a * 90 / 91, 2):,.2f} (90 days), "
                                    f"3 (Central): ${round(a / 91, 2):,.2f} (1 day)")

    # a quarter's quota per region (Group), carried by the reps in their territory on the whole quarter:
    # FY2014 Q1 = 2013-06-01 .. 2013-09-01, QuotaDate 2013-05-30
    h = raw["history"].assign(start=pd.to_datetime(raw["history"]["StartDate"]),
                              end=pd.to_datetime(raw["history"]["EndDate"].replace("", None)))
    on = h[(h["start"] <= "2013-06-01") & (h["end"].isna() | (h["end"] >= "2013-08-31"))]
    qq = raw["quota"][raw["quota"]["QuotaDate"] == "2013-05-30 00:00:00"].merge(on, on="BusinessEntityID")
    qq = qq.merge(raw["territory"][["TerritoryID", "Group"]], on="TerritoryID")
    expected_region = qq.groupby("Group")["SalesQuota"].apply(lambda s: pd.to_numeric(s).sum()).to_dict()
    _, out, _ = run(capsys, *db, "plan", "show", "--period", "2014Q1", "--level", "rep", "--json")
    carried = pd.DataFrame(json.loads(out)["carried"])
    _, out, _ = run(capsys, *db, "show", "territories", "--json")
    region = pd.DataFrame(json.loads(out)["rows"]).set_index("territory_id")["region_id"]
    got = carried.groupby(carried["territory_id"].map(region))["carried"].sum().to_dict()
    assert got == pytest.approx(expected_region, abs=0.005)
    assert expected_region == {"Europe": 3_041_000, "North America": 9_316_000, "Pacific": 478_000}

    # what the import said, with counts
    assert any("no header row, so its 6 columns were read by position" in w for w in warnings["quotas"])
    moved_days = (pd.to_datetime(raw["quota"]["QuotaDate"]).dt.day != 1).sum()
    assert any(f"{moved_days} QuotaDate values are not the first day of a quarter" in w for w in warnings["quotas"])
    managers = sorted(raw["person"].loc[raw["person"]["TerritoryID"] == "", "BusinessEntityID"])
    assert managers == ["274", "285", "287"]
    assert any("for periods in which the rep covers no territory, by rep: 274 (12), 280 (6), 285 (4), 287 (8)" in w
               for w in warnings["quotas"])
    ends = int((raw["history"]["EndDate"] != "").sum())
    assert any(f"{ends} values in 'EndDate' are the last day (inclusive)" in w for w in warnings["rep_assignments"])
    edited = h[pd.to_datetime(h["Modified"]) > pd.to_datetime(h["StartDate"])]
    assert (edited["EndDate"] != "").all()
    assert f"{AW / 'SalesTerritoryHistory.csv'}: each row is recorded as known at its ModifiedDate (when it was " \
           f"last modified), except {len(edited)} of {len(h)} modified after their StartDate (BusinessEntityID " \
           f"{', '.join(edited['BusinessEntityID'])}; all with an EndDate, so likely set by that edit): those are " \
           "recorded at their StartDate, when the record was in force and so known" in warnings["rep_assignments"]
    assert edited["BusinessEntityID"].tolist() == ["275", "277", "280", "282"]
    _, out, _ = run(capsys, *db, "show", "reps", "--json")
    roles = pd.DataFrame(json.loads(out)["rows"]).set_index("rep_id")["role"]
    assert sorted(roles[roles == "manager"].index) == managers


def test_salesperson_territory_disagrees_with_history_and_history_wins(raw) -> None:
    """SalesPerson.TerritoryID disagrees with the open history row of four reps; the history is what is imported."""
    h = raw["history"]
    open_rows = h[h["EndDate"] == ""].set_index("BusinessEntityID")["TerritoryID"]
    person = raw["person"].set_index("BusinessEntityID")["TerritoryID"]
    both = open_rows.index.intersection(person[person != ""].index)
    # SOURCE.md names 282 and 289; the two movers (275, 277) disagree too: SalesPerson has their old territory
    assert sorted(both[open_rows[both] != person[both]]) == ["275", "277", "282", "289"]
    loaded = read(AW / "SalesTerritoryHistory.csv", "rep_assignments", preset="adventureworks")
    f = loaded.frame
    latest = f[f["valid_to"].isna()].set_index("rep_id")["territory_id"]
    assert latest[["282", "289"]].tolist() == [open_rows["282"], open_rows["289"]] == ["10", "6"]
    reps = read(AW / "SalesPerson.csv", "reps", preset="adventureworks")
    assert "territory_id" not in reps.frame.columns or reps.frame["territory_id"].isna().all()
    assert any("TerritoryID is not imported as an assignment" in w for w in reps.warnings)
    # the warning names each rep with both territory ids; 280's history has no open row (it left Northwest)
    ended = h[h["BusinessEntityID"] == "280"]
    assert ended["EndDate"].tolist() == ["2012-09-29 00:00:00"] and "280" not in open_rows.index
    assert person["280"] == "1"
    listing = ", ".join(
        f"{r} (TerritoryID {person[r]}; history {open_rows[r]})" if r in open_rows.index else
        f"{r} (TerritoryID {person[r]}; history: none open, the last ended 2012-09-29)"
        for r in ["275", "277", "280", "282", "289"])
    assert f"{AW / 'SalesPerson.csv'}: TerritoryID disagrees with the open SalesTerritoryHistory.csv row for 5 reps: " \
           f"{listing}; the history is what is imported (import SalesTerritoryHistory.csv as rep-assignments)" \
           in reps.warnings
    assert "282 (TerritoryID 6; history 10)" in listing and "289 (TerritoryID 10; history 6)" in listing


def _quota_dates(raw: dict[str, pd.DataFrame]) -> tuple[str, str, int, list[int]]:
    """First and last QuotaDate, row count, and the fiscal years (starting in June) of their quarters."""
    d = pd.to_datetime(raw["quota"]["QuotaDate"])
    # each date is within 7 days of the first day of a month: 1 June, September, December or March
    month = (d + pd.Timedelta(days=7)).dt.to_period("M").dt.to_timestamp()
    assert ((d - month).abs() <= pd.Timedelta(days=7)).all() and set(month.dt.month) == {6, 9, 12, 3}
    years = sorted(set(month.dt.year + (month.dt.month >= 6)))  # FY named by the year it ends in
    return d.min().strftime("%Y-%m-%d"), d.max().strftime("%Y-%m-%d"), len(d), years


def test_quotas_without_a_fiscal_calendar_are_refused_once(store, raw) -> None:
    """A store without quarters: one problem naming the date range, the start month and the years to add."""
    source = str(AW / "SalesPersonQuotaHistory.csv")
    import_file(store, "reps", AW / "SalesPerson.csv", preset="adventureworks")
    with pytest.raises(BadInput) as info:
        import_file(store, "quotas", source, preset="adventureworks")
    first, last, n, years = _quota_dates(raw)
    assert (first, last, n, years) == ("2011-05-31", "2014-03-01", 163, [2012, 2013, 2014])
    assert [str(p) for p in info.value.problems] == [
        f"{source}, column 'QuotaDate': no fiscal quarters in the store cover the QuotaDate dates {first} … {last} "
        f"({n} rows): they fall within 7 days of 1 June, September, December and March, the first days of the "
        "quarters of fiscal years starting in June; add fiscal years 2012, 2013 and 2014 first (plancast calendar "
        "add 2012 --start-month 6, and the same for 2013 and 2014; FY2012 runs from 2011-06-01), then import again"]
    assert info.value.hint == ("add the fiscal years first (plancast calendar add 2012 --start-month 6, and the same "
                               "for 2013 and 2014), then import again; nothing was imported")
    assert store.counts()["quota"] == 0

    # the same through the command line: one error, one "what to do", no per-row lines
    from plancast.calendar import fiscal_year_periods

    store.add_periods(fiscal_year_periods(2012, 6))  # FY2012 only: later quota dates are not covered
    with pytest.raises(BadInput) as info:
        import_file(store, "quotas", source, preset="adventureworks")
    d = pd.to_datetime(raw["quota"]["QuotaDate"])
    later = d[d >= "2012-05-01"]  # from the quarter starting 2012-06-01, FY2013
    assert [str(p) for p in info.value.problems] == [
        f"{source}, column 'QuotaDate': {len(later)} QuotaDate dates ({later.min():%Y-%m-%d} … {later.max():%Y-%m-%d})"
        " fall outside the fiscal years in the store (2012Q1 … 2012Q4); add fiscal years 2013 and 2014 first "
        "(plancast calendar add 2013 --start-month 6, and the same for 2014), then import again"]
    assert len(later) == 123
    assert store.counts()["quota"] == 0


def test_quotas_need_quarters_that_start_near_the_quota_dates(store, raw) -> None:
    source = str(AW / "SalesPersonQuotaHistory.csv")
    import_file(store, "reps", AW / "SalesPerson.csv", preset="adventureworks")
    from plancast.calendar import fiscal_year_periods

    for year in (2011, 2012, 2013, 2014):  # calendar quarters: Jan, Apr, Jul, Oct
        store.add_periods(fiscal_year_periods(year, 1))
    with pytest.raises(BadInput) as info:
        import_file(store, "quotas", source, preset="adventureworks")
    first, last, n, _ = _quota_dates(raw)
    assert [str(p) for p in info.value.problems] == [
        f"{source}, column 'QuotaDate': none of the store's fiscal quarters (starting in January, April, July, "
        f"October) starts within 7 days of the QuotaDate dates {first} … {last} ({n} rows): they fall within 7 days "
        "of 1 June, September, December and March, the first days of the quarters of fiscal years starting in June; "
        "a store's periods never change, so import into a new store after plancast calendar add 2012 --start-month "
        "6, and the same for 2013 and 2014 (FY2012 runs from 2011-06-01), or give a period column"]
    assert store.counts()["quota"] == 0


def test_quota_cli_refusal_without_a_calendar(capsys, tmp_path) -> None:
    db = ["--db", str(tmp_path / "aw.duckdb")]
    assert run(capsys, *db, "import", "reps", str(AW / "SalesPerson.csv"), "--preset", "adventureworks")[0] == 0
    code, _, err = run(capsys, *db, "import", "quotas", str(AW / "SalesPersonQuotaHistory.csv"),
                       "--preset", "adventureworks")
    assert code == 2
    text = " ".join(err.split())
    assert "1 problem found" in text and "no fiscal quarters in the store cover the QuotaDate dates" in text
    assert "is blank and so is valid_from" not in text and "missing reps" not in text
    assert text.count("--start-month") == 2  # once in the problem, once in "what to do": always 6
    assert "--start-month 6" in text and not any(f"--start-month {m}" in text for m in (3, 9, 12))


def test_a_preset_without_a_layout_for_the_kind_says_so(capsys, tmp_path) -> None:
    source = str(AW / "Store.csv")
    with pytest.raises(BadInput) as info:
        read(source, "accounts", preset="adventureworks")
    assert info.value.message == f"{source} was not imported: the adventureworks preset has no layout for accounts"
    assert [str(p) for p in info.value.problems] == [
        f"{source}: the adventureworks preset has no layout for accounts: it lays out territories, reps, "
        "rep-assignments and quotas only, and this file does not have the columns of accounts under plancast's own "
        "names"]
    assert info.value.hint == (
        "import it as one of territories, reps, rep-assignments and quotas with --preset adventureworks; or, for "
        "accounts, give the file plancast's column names (plancast kinds) or map them with --mapping; nothing was "
        "imported")
    code, _, err = run(capsys, "--db", str(tmp_path / "aw.duckdb"), "import", "accounts", source,
                       "--preset", "adventureworks")
    assert code == 2 and "add a column named" not in err and "has no layout for accounts" in err


def test_assignments_and_quotas_are_known_at_the_same_dates(capsys, engine_db, raw) -> None:
    """Territory history is recorded like the quotas, at ModifiedDate — at StartDate for rows modified after
    they began (their EndDate set later) — so as-known-at views of both agree (D27)."""
    _load(engine_db)
    db = ["--db", engine_db]
    on = pd.Timestamp("2012-10-01")
    h = raw["history"]
    start, modified = pd.to_datetime(h["StartDate"]), pd.to_datetime(h["Modified"])
    end = pd.to_datetime(h["EndDate"].replace("", None))  # inclusive last day
    known = modified.where(modified <= start, start)
    in_force = (start <= on) & (end.isna() | (end >= on))
    expected = sorted(h.loc[in_force & (known <= on), "BusinessEntityID"])
    assert len(expected) == 11 and "275" in expected and "277" in expected and "280" not in expected
    # read as ModifiedDate alone, the movers 275 and 277 would be missing (their rows were modified 2012-11-22)
    assert sorted(h.loc[in_force & (modified <= on), "BusinessEntityID"]) == sorted(set(expected) - {"275", "277"})
    _, out, _ = run(capsys, *db, "show", "rep-assignments", "--as-of", "2012-10-01", "--known-at", "2012-10-01",
                    "--limit", "0", "--json")
    got = pd.DataFrame(json.loads(out)["rows"])
    assert sorted(got["rep_id"]) == expected
    q = raw["quota"]
    qd, qm = pd.to_datetime(q["QuotaDate"]), pd.to_datetime(q["Modified"])
    # the quarter in force on 2012-10-01 is the one from 2012-09-01 (QuotaDate 2012-08-30), set 2012-07-16
    expected_q = q[(qd <= on) & (qd > on - pd.Timedelta(days=92)) & (qm <= on)]
    assert len(expected_q) == 14
    _, out, _ = run(capsys, *db, "show", "quotas", "--as-of", "2012-10-01", "--known-at", "2012-10-01",
                    "--limit", "0", "--json")
    assert sorted(pd.DataFrame(json.loads(out)["rows"])["entity_id"]) == sorted(expected_q["BusinessEntityID"])
    # before any row was known, neither shows anything
    for kind in ("rep-assignments", "quotas"):
        _, out, _ = run(capsys, *db, "show", kind, "--as-of", "2011-04-01", "--known-at", "2011-04-01", "--json")
        assert json.loads(out)["rows"] == []


def test_a_headerless_file_with_the_wrong_columns_is_refused() -> None:
    source = str(AW / "SalesTerritory.csv")
    with pytest.raises(BadInput) as info:
        read(source, "rep_assignments", preset="adventureworks")
    assert [str(p) for p in info.value.problems] == [
        f"{source}: has 10 columns and no header row that the adventureworks preset's rep-assignments knows; it "
        "reads this file without a header as 7 (serial, BusinessEntityID, TerritoryID, StartDate, EndDate, "
        "rowguid, ModifiedDate) or 6 (BusinessEntityID, TerritoryID, StartDate, EndDate, rowguid, ModifiedDate) "
        "columns — check that this is the right file for the import kind"]
