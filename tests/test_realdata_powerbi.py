"""Microsoft Power BI Regional Sales Sample (../shared/data/ms_powerbi_regional_sales_sample): import with
the powerbi preset and read back through the main commands, on both engines.

Expected figures are worked out here from the raw CSVs with plain pandas. Skipped when the shared data
folder is absent.
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from conftest import SHARED_DATA
from plancast.calendar import fiscal_year_periods
from plancast.importer import import_file
from plancast.store import Store
from test_cli import run

PBI = SHARED_DATA / "ms_powerbi_regional_sales_sample"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not PBI.is_dir(), reason=f"shared data folder {PBI} is absent (see SOURCE.md there)"),
]


def test_powerbi_import_and_main_commands(capsys, engine_db) -> None:
    opps = pd.read_csv(PBI / "Opportunities.csv")
    accounts = pd.read_csv(PBI / "Accounts.csv")
    territories = pd.read_csv(PBI / "Territories.csv")
    with Store(engine_db) as store:
        for year in (2020, 2021):
            store.add_periods(fiscal_year_periods(year, 1))
        import_file(store, "territories", PBI / "Territories.csv", preset="powerbi")
        import_file(store, "reps", PBI / "Owners.csv", preset="powerbi")
        acc = import_file(store, "accounts", PBI / "Accounts.csv", preset="powerbi")
        import_file(store, "territory_assignments", PBI / "Accounts.csv", preset="powerbi",
                    valid_from=date(2019, 1, 1))
        import_file(store, "opportunities", PBI / "Opportunities.csv", preset="powerbi")
    db = ["--db", engine_db]

    _, out, _ = run(capsys, *db, "status", "--json")
    tables = json.loads(out)["tables"]
    assert (tables["opportunity"], tables["account"], tables["territory"], tables["territory_assignment"]) == (
        len(opps), len(accounts), len(territories), len(accounts)) == (20000, 300, 51, 300)

    # duplicate account names are kept apart (and said so); runs of spaces collapsed (and said so)
    dup = accounts["Account Name"].str.replace(r"\s{2,}", " ", regex=True)
    assert dup[dup.duplicated(keep=False)].tolist() == ["Fay Inc", "Fay Inc"]
    source = str(PBI / "Accounts.csv")
    assert acc.warnings == [
        f"{source}: 4 values in 'Account Name' had runs of spaces; each run was read as one space",
        f"{source}: 2 accounts have the same Account Name as another account: 'Fay Inc' (2); kept apart by their "
        "AccountSeq (merge them in the CRM if they are one company)",
    ]

    # win rate on closed deals: Status, not the stage (the stage of a closed deal is where it closed)
    _, out, _ = run(capsys, *db, "show", "opportunities", "--limit", "0", "--json")
    stored = pd.DataFrame(json.loads(out)["rows"])
    won, lost = (opps["Status"] == "Won").sum(), (opps["Status"] == "Lost").sum()
    assert stored["is_won"].sum() / stored["is_closed"].sum() == won / (won + lost) == pytest.approx(0.4965, abs=1e-4)

    # a quarter's closed-won per region (Power BI's Territory: US-WEST …), through the account's territory
    w = opps[(opps["Status"] == "Won") & (opps["CloseDate"] >= "2021-07-01") & (opps["CloseDate"] < "2021-10-01")]
    w = w.merge(accounts[["AccountSeq", "TerritorySeq"]], on="AccountSeq").merge(
        territories[["TerritorySeq", "Territory"]], on="TerritorySeq")
    expected = w.groupby("Territory")["Value"].sum().to_dict()
    _, out, _ = run(capsys, *db, "show", "territory-assignments", "--as-of", "2021-07-01", "--limit", "0", "--json")
    ta = pd.DataFrame(json.loads(out)["rows"]).set_index("account_id")["territory_id"]
    _, out, _ = run(capsys, *db, "show", "territories", "--limit", "0", "--json")
    region = pd.DataFrame(json.loads(out)["rows"]).set_index("territory_id")["region_id"]
    closed = pd.to_datetime(stored["close_date"])
    q = stored[stored["is_won"] & (closed >= "2021-07-01") & (closed < "2021-10-01")]
    got = q.groupby(q["account_id"].map(ta).map(region))["amount"].sum().to_dict()
    assert got == expected
    assert sum(expected.values()) == w["Value"].sum() and len(expected) == 4
