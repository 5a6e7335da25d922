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

    # one plan version per quota-setting day (ModifiedDate), plus the assignments' version
    _, out, _ = run(capsys, *db, "plan", "versions", "--json")
    versions = json.loads(out)["versions"]
    assert len(versions) == 1 + raw["quota"]["Modified"].nunique() == 13

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


def test_quotas_need_quarters_that_start_near_the_quota_dates(store) -> None:
    source = str(AW / "SalesPersonQuotaHistory.csv")
    import_file(store, "reps", AW / "SalesPerson.csv", preset="adventureworks")
    with pytest.raises(BadInput) as info:
        import_file(store, "quotas", source, preset="adventureworks")
    assert str(info.value.problems[0]) == (
        f"{source}, row 1, column 'QuotaDate', value '2011-05-31': names a quarter by its first day, but the store "
        "has no quarters; add the fiscal years first (plancast calendar add 2012 --start-month 6), then import again")
    from plancast.calendar import fiscal_year_periods

    for year in (2011, 2012, 2013, 2014):  # calendar quarters: Jan, Apr, Jul, Oct
        store.add_periods(fiscal_year_periods(year, 1))
    with pytest.raises(BadInput) as info:
        import_file(store, "quotas", source, preset="adventureworks")
    assert str(info.value.problems[0]) == (
        f"{source}, row 1, column 'QuotaDate', value '2011-05-31': is not within 7 days of the first day of a "
        "quarter in the store's calendar (nearest: 2011Q3 from 2011-07-01); quotas dated by quarter need quarters "
        "that start near their dates — add the fiscal years with plancast calendar add YEAR --start-month 6 (in a "
        "new store), or give a period column")
    assert info.value.problems[-1].message.startswith("… and")  # 163 rows refused, listed up to the limit
    assert store.counts()["quota"] == 0


def test_a_headerless_file_with_the_wrong_columns_is_refused() -> None:
    source = str(AW / "SalesTerritory.csv")
    with pytest.raises(BadInput) as info:
        read(source, "rep_assignments", preset="adventureworks")
    assert [str(p) for p in info.value.problems] == [
        f"{source}: has 10 columns and no header row that the adventureworks preset's rep-assignments knows; it "
        "reads this file without a header as 7 (serial, BusinessEntityID, TerritoryID, StartDate, EndDate, "
        "rowguid, ModifiedDate) or 6 (BusinessEntityID, TerritoryID, StartDate, EndDate, rowguid, ModifiedDate) "
        "columns — check that this is the right file for the import kind"]
