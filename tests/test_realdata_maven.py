"""Maven CRM Sales Opportunities (../shared/data/maven_crm_sales_opportunities): import with the maven
preset and read back through the main commands, on both engines.

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

MAVEN = SHARED_DATA / "maven_crm_sales_opportunities"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not MAVEN.is_dir(), reason=f"shared data folder {MAVEN} is absent (see SOURCE.md there)"),
]


def test_maven_import_and_main_commands(capsys, engine_db) -> None:
    pipeline = pd.read_csv(MAVEN / "sales_pipeline.csv")
    teams = pd.read_csv(MAVEN / "sales_teams.csv")
    accounts = pd.read_csv(MAVEN / "accounts.csv")
    with Store(engine_db) as store:
        store.add_periods(fiscal_year_periods(2017, 1))
        import_file(store, "territories", MAVEN / "sales_teams.csv", preset="maven")
        import_file(store, "reps", MAVEN / "sales_teams.csv", preset="maven", valid_from=date(2016, 10, 1))
        import_file(store, "accounts", MAVEN / "accounts.csv", preset="maven")
        report = import_file(store, "opportunities", MAVEN / "sales_pipeline.csv", preset="maven")
    db = ["--db", engine_db]

    # row counts after cleaning: deals without engage_date (no creation date) are left out
    kept = pipeline[pipeline["engage_date"].notna()]
    _, out, _ = run(capsys, *db, "status", "--json")
    tables = json.loads(out)["tables"]
    assert (tables["opportunity"], tables["rep"], tables["account"], tables["territory"]) == (
        len(kept), len(teams), len(accounts), teams["regional_office"].nunique()) == (8300, 35, 85, 3)
    assert report.rows == 8300

    # overall win rate on closed deals
    _, out, _ = run(capsys, *db, "show", "opportunities", "--limit", "0", "--json")
    opps = pd.DataFrame(json.loads(out)["rows"])
    won, lost = (pipeline["deal_stage"] == "Won").sum(), (pipeline["deal_stage"] == "Lost").sum()
    assert opps["is_won"].sum() / opps["is_closed"].sum() == won / (won + lost) == pytest.approx(0.6315, abs=1e-4)
    # lost deals' close_value 0 is "not recorded"; the products differing by a space are one product
    assert opps.loc[opps["stage"] == "Lost", "amount"].isna().all()
    assert set(opps["product"].dropna()) == set(pd.read_csv(MAVEN / "products.csv")["product"])

    # a quarter's closed-won per region (the reps' regional office): 2017Q4, from the forecast run as of its
    # last day, when everything in it has closed
    q4 = kept[(kept["deal_stage"] == "Won") & (kept["close_date"] >= "2017-10-01") & (kept["close_date"] <= "2017-12-31")]
    expected = q4.merge(teams, on="sales_agent").groupby("regional_office")["close_value"].sum()
    assert expected.to_dict() == {"Central": 987_782.0, "East": 824_853.0, "West": 989_861.0}
    code, out, err = run(capsys, *db, "forecast", "--as-of", "2017-12-31", "--period", "2017Q4", "--json")
    assert code == 0, err
    rows = pd.DataFrame(json.loads(out)["rows"])
    region = rows[rows["level"] == "region"].set_index("entity_id")["closed_won"]
    assert region.to_dict() == expected.to_dict()
