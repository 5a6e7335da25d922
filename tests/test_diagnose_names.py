"""How the diagnosis names reps and territories, and the order it lists them in.

A flag or headline names a rep or territory with its kind, its name and its id
(``territory US-WEST CA (1): …``, ``rep Alan Steiner (2): …``; ``rep W03: …``
without a name), so a reader can tell a territory from a rep when both have
numeric ids. Ids that look like numbers are listed by value (2 before 10), and
``forecast`` lists regions in the order ``diagnose`` does (by name).
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from conftest import SHARED_DATA, plancast_ok
from plancast.diagnose import diagnose
from plancast.diagnose.labels import entity_label, name_and_id, relabel
from plancast.diagnose.render import headline, render_diagnosis
from plancast.forecast.run import entity_order, natural_key, project
from plancast.report import render_html
from plancast.store import Store

PBI = SHARED_DATA / "ms_powerbi_regional_sales_sample"


# ------------------------------------------------------------------------------- labels
def test_a_rep_or_territory_is_named_with_its_kind_name_and_id() -> None:
    names = {("territory", "2"): "US-WEST CA", ("rep", "2"): "Alicia Thomber", ("rep", "W04"): "W04",
             ("region", "West"): "West", ("rep", "W05"): "  "}
    assert entity_label("territory", "2", names) == "territory US-WEST CA (2)"
    assert entity_label("rep", 2, names) == "rep Alicia Thomber (2)"
    assert entity_label("rep", "W03", names) == "rep W03"  # no name: the kind and the id
    assert entity_label("rep", "W04", names) == "rep W04"  # the name is the id
    assert entity_label("rep", "W05", names) == "rep W05"  # a blank name is no name
    assert entity_label("region", "West", names) == "West"  # regions go by their name, as in the tables
    assert name_and_id("2", "US-WEST CA") == "US-WEST CA (2)" and name_and_id("W03", None) == "W03"


def test_a_message_led_by_a_bare_name_or_id_is_relabelled() -> None:
    names = {("territory", "WEST"): "West Mid-Market"}
    label = "territory West Mid-Market (WEST)"
    for message in ("West Mid-Market: 140 effective accounts", "WEST: 140 effective accounts",
                    f"{label}: 140 effective accounts", "140 effective accounts"):
        assert relabel(message, "territory", "WEST", names) == f"{label}: 140 effective accounts"


def test_numbers_in_ids_sort_by_value() -> None:
    ids = ["6", "51", "5", "50", "49", "10", "1", "2"]
    assert sorted(ids, key=natural_key) == ["1", "2", "5", "6", "10", "49", "50", "51"]
    assert sorted(["W10", "w2", "W01", "E3"], key=natural_key) == ["E3", "W01", "w2", "W10"]
    assert sorted(["10", "A", "9"], key=natural_key) == ["9", "10", "A"]  # never compares a number with text
    # level by level; regions by name, reps and territories by id
    levels = ["company", "region", "region", "rep", "rep", "territory", "territory", "rep"]
    ids = ["company", "R2", "R1", "10", "9", "12", "3", "W1"]
    names = {("region", "R2"): "Central", ("region", "R1"): "West", ("rep", "10"): "Aaron", ("rep", "9"): "Zoe"}
    order = entity_order(levels, ids, names)
    assert [(levels[i], ids[i]) for i in order] == [
        ("rep", "9"), ("rep", "10"), ("rep", "W1"), ("territory", "3"), ("territory", "12"), ("region", "R2"),
        ("region", "R1"), ("company", "company")]


def _row(level: str, entity: str, name: str) -> dict:
    drivers = {d: 0.0 for d in ("accounts", "opportunity_rate", "win_rate", "asp", "timing")}
    return {"level": level, "entity": entity, "name": name, "parent": None, "quota": 100.0, "projected_mean": 90.0,
            "p10": 70.0, "p90": 110.0, "plan_expected": 85.0, "fair_expected": 80.0, "planning_variance": -5.0,
            "execution_variance": 10.0, "drivers": {"planning": {**drivers, "asp": -5.0}, "execution": {**drivers, "timing": 10.0}}}


def test_headlines_name_a_rep_with_its_kind_and_a_region_by_its_name() -> None:
    summary = {"variance_vs_plan": 5.0, "planning_variance": -5.0, "execution_variance": 10.0,
               "planning_share": 1 / 3, "execution_share": 2 / 3}
    assert headline(_row("rep", "2", "Alicia Thomber"), summary).startswith("rep Alicia Thomber (2): projection 90%")
    assert headline(_row("territory", "7", "7"), summary).startswith("territory 7: projection 90%")
    assert headline(_row("region", "West", "West"), summary).startswith("West: projection 90%")


def test_the_rep_table_shows_names_beside_ids() -> None:
    rows = [_row("rep", "2", "Alicia Thomber"), _row("rep", "W03", "W03"), _row("territory", "7", "US-WEST CA")]
    rows[0]["parent"] = rows[1]["parent"] = "7"
    d = {"period": "2021Q3", "as_of": "2021-08-15", "forecast_run": 1, "rows": rows,
         "summary": {"company": None, "regions": {}}, "flags": [], "notes": []}
    console = Console(record=True, width=200, file=io.StringIO())
    render_diagnosis(d, console, flags=False)
    text = console.export_text()
    assert re.search(r"│ Alicia Thomber \(2\) +│ US-WEST CA \(7\) +│", text)
    assert re.search(r"│ W03 +│ US-WEST CA \(7\) +│", text)


# ------------------------------------------------------------------------------- the worked scenario
def test_the_scenario_sizing_flag_names_the_territory(store) -> None:
    from plancast.scenario import load_demo

    load_demo(store)
    d = diagnose(store, "2026Q2", date(2026, 5, 15), write=False)
    sizing = next(f for f in d.flags if f["code"] == "territory_sizing")
    assert sizing["message"].startswith("territory West Mid-Market (WEST): 140 effective accounts of 180 planned "
                                        "(180 assigned, 40 unavailable) — capacity at most 77.8% of plan")
    regions = d.rows[d.rows["level"] == "region"]["entity_id"].tolist()
    assert regions == ["Central", "East", "West"]
    fc = project(store, "2026Q2", date(2026, 5, 15), write=False).results
    assert fc[fc["level"] == "region"]["entity_id"].tolist() == regions


# ------------------------------------------------------------------------------- numeric ids with names
_cli = plancast_ok


@pytest.mark.realdata
@pytest.mark.skipif(not PBI.is_dir(), reason=f"shared data folder {PBI} is absent (see SOURCE.md)")
def test_powerbi_flags_say_rep_or_territory_with_name_and_id(tmp_path: Path) -> None:
    """The Power BI sample numbers its territories and reps (1, 2, …) and names them in the store:
    a flag says which kind it is about and who ("rep Alan Steiner (2): …"), and every list is in the
    ids' numeric order."""
    db = str(tmp_path / "pbi.duckdb")
    for y in ("2020", "2021"):
        _cli(db, "calendar", "add", y)
    for kind, file in (("territories", "Territories.csv"), ("reps", "Owners.csv"), ("accounts", "Accounts.csv")):
        _cli(db, "import", kind, str(PBI / file), "--preset", "powerbi")
    _cli(db, "import", "territory-assignments", str(PBI / "Accounts.csv"), "--preset", "powerbi",
         "--valid-from", "2019-06-01")
    _cli(db, "import", "opportunities", str(PBI / "Opportunities.csv"), "--preset", "powerbi")
    _cli(db, "plan", "derive", "--period", "FY2021", "--from", "2020-04-01", "--to", "2021-04-01", "--uplift", "0.15")
    _cli(db, "plan", "build", "--period", "FY2021")
    with Store(db) as store:
        d = diagnose(store, "2021Q3", date(2021, 8, 15))
        fc = store.forecast_results(d.forecast_run)
        reps = dict(zip(store.read_table("rep")["rep_id"].astype(str), store.read_table("rep")["name"], strict=True))
        terrs = store.read_table("territory")
        terrs = dict(zip(terrs["territory_id"].astype(str), terrs["name"], strict=True))
    assert (reps["2"], terrs["1"]) == ("Alan Steiner", "US-WEST CA")
    by_code: dict[str, list[dict]] = {}
    for f in d.flags:
        by_code.setdefault(f["code"], []).append(f)
    # pinned: rep 2 wins 224 of 591 closed deals, far below its peers
    win = {f["entity"]: f["message"] for f in by_code["win_rate_below_peers"]}
    assert win["2"].startswith("rep Alan Steiner (2): won 224 of 591 closed deals (37.9%) vs ")
    # owners who cover several states count whole in one: the states they cover get no territory rows or
    # signals; those left are the states whose owners work only there, and their rates are the state's own
    mixed = set(d.params["mixed_territories"])
    assert mixed and any("cover several territories and count whole in their largest-share one" in n for n in d.notes)
    assert not mixed & set(d.rows.loc[d.rows["level"] == "territory", "entity_id"].astype(str))
    assert not [f for f in d.flags if f["level"] == "territory" and f["code"] != "territory_sizing"
                and f["entity"] in mixed]
    opps = pd.read_csv(PBI / "Opportunities.csv", parse_dates=["Opportunity Created On"])
    accounts = pd.read_csv(PBI / "Accounts.csv")
    opps = opps.merge(accounts[["AccountSeq", "TerritorySeq"]], on="AccountSeq")
    made = opps[opps["Opportunity Created On"].between("2020-08-16", "2021-08-15")]
    rate = made.groupby("TerritorySeq").size() / accounts.groupby("TerritorySeq").size()  # a 365-day window
    opp = {f["entity"]: f["message"] for f in by_code["opportunity_rate"]}
    assert opp and all(m.startswith(f"territory {terrs[t]} ({t}): {rate[int(t)]:.2f} opportunities per available "
                                    "account-year") for t, m in opp.items())
    assert opp["2"].startswith("territory US-SOUTH TX (2): 39.61 opportunities per available account-year")
    for f in d.flags:
        names = reps if f["level"] == "rep" else terrs
        assert f["message"].startswith(f"{f['level']} {names[f['entity']]} ({f['entity']}): "), f["message"]
    # each signal's flags in the ids' numeric order (1, 2, 3, 5, 9, 14, …, not 1, 14, 18, 2)
    for flags in by_code.values():
        ids = [int(f["entity"]) for f in flags]
        assert ids == sorted(ids)
    # rows: reps and territories by id, numerically; regions by name, as forecast lists them
    rows = d.rows
    for level in ("rep", "territory"):
        ids = rows[rows["level"] == level]["entity_id"].astype(int).tolist()
        assert ids == sorted(ids)
    regions = rows[rows["level"] == "region"]["name"].tolist()
    assert regions == sorted(regions) == ["US-MIDWEST", "US-NORTHEAST", "US-SOUTH", "US-WEST"]
    with Store(db) as store:
        again = project(store, "2021Q3", date(2021, 8, 15), write=False).results
    assert again[again["level"] == "region"]["entity_id"].tolist() == regions
    assert set(fc["entity_id"]) == set(again["entity_id"])
    # the report shows the labelled messages as they are
    html = render_html(d.to_dict(), tmp_path / "pbi.html").read_text(encoding="utf-8")
    assert '<span class="message">rep Alan Steiner (2): won 224 of 591 closed deals' in html
