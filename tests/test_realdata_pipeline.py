"""The main commands on two real CRM exports, end to end: import with the preset, ``plan derive``,
``plan build``, ``forecast``, ``diagnose`` and a short ``backtest`` (issue 6; docs/accuracy.md runs the
long version with bench/accuracy.py).

Every expected figure is worked out here from the raw CSVs with plain pandas: the rates each territory
achieved over the history window, the quotas they imply, a quarter's closed-won per rep and region, the
backtest's actuals and its stage-weighted baseline. Import, derive, build and forecast run on both
engines; the diagnosis and the backtest (slower) on DuckDB. Skipped when the shared data is absent.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_DATA, plancast_ok
from plancast.store import Store

MAVEN = SHARED_DATA / "maven_crm_sales_opportunities"
PBI = SHARED_DATA / "ms_powerbi_regional_sales_sample"

pytestmark = pytest.mark.realdata
need_maven = pytest.mark.skipif(not MAVEN.is_dir(), reason=f"shared data folder {MAVEN} is absent (see SOURCE.md)")
need_pbi = pytest.mark.skipif(not PBI.is_dir(), reason=f"shared data folder {PBI} is absent (see SOURCE.md)")


cli = plancast_ok


def js(db: str, *argv: str) -> dict:
    return json.loads(cli(db, *argv, "--json"))


def rows(d: dict, level: str, col: str) -> dict[str, float]:
    return {r["entity_id"]: r[col] for r in d["rows"] if r["level"] == level}


def check_diagnosis_adds_up(d: dict) -> None:
    """stretch + planning + execution = projected − quota, to the cent, on every row; regions add to
    the company."""
    assert d["rows"]
    for r in d["rows"]:
        parts = round(r["stretch"] + r["planning_variance"] + r["execution_variance"], 2)
        assert parts == pytest.approx(round(r["projected_mean"] - r["quota"], 2), abs=0.011), r["entity"]
    regions = d["summary"]["regions"]
    company = d["summary"]["company"]
    for k in ("quota", "stretch", "planning_variance", "execution_variance"):
        assert sum(v[k] for v in regions.values()) == pytest.approx(company[k], abs=0.01 * len(regions))


# ------------------------------------------------------------------------------------------------ Maven
def maven_raw() -> tuple[pd.DataFrame, pd.DataFrame]:
    pipe = pd.read_csv(MAVEN / "sales_pipeline.csv", parse_dates=["engage_date", "close_date"])
    teams = pd.read_csv(MAVEN / "sales_teams.csv")
    pipe["region"] = pipe["sales_agent"].map(teams.set_index("sales_agent")["regional_office"])
    return pipe[pipe["engage_date"].notna()].copy(), teams  # deals without engage_date are left out


def load_maven(db: str) -> None:
    for y in ("2016", "2017"):
        cli(db, "calendar", "add", y)
    cli(db, "import", "territories", str(MAVEN / "sales_teams.csv"), "--preset", "maven")
    cli(db, "import", "reps", str(MAVEN / "sales_teams.csv"), "--preset", "maven", "--valid-from", "2016-10-01")
    cli(db, "import", "accounts", str(MAVEN / "accounts.csv"), "--preset", "maven")
    cli(db, "import", "opportunities", str(MAVEN / "sales_pipeline.csv"), "--preset", "maven")


def plan_from_history(db: str, period: str, since: str, until: str) -> dict:
    """plan derive (uplift 0.15) over [since, until), then plan build; derive's JSON."""
    d = js(db, "plan", "derive", "--period", period, "--from", since, "--to", until, "--uplift", "0.15")
    js(db, "plan", "build", "--period", period, "--reason", f"{period} from history")
    return d


def maven_plan(db: str) -> dict:
    return plan_from_history(db, "FY2017", "2016-10-01", "2017-07-01")


@need_maven
def test_maven_plan_from_history_and_forecast(engine_db) -> None:
    kept, teams = maven_raw()
    load_maven(engine_db)
    status = js(engine_db, "status")["tables"]
    assert (status["opportunity"], status["rep"], status["account"]) == (len(kept), len(teams), 85) == (8300, 35, 85)
    derived = maven_plan(engine_db)
    got = pd.DataFrame(derived["assumptions"]).set_index("territory_id")

    # independently: the window 2016-10-01 – 2017-07-01 (273 days); a deal belongs to its agent's office
    lo, hi, years = pd.Timestamp("2016-10-01"), pd.Timestamp("2017-07-01"), 273 / 365
    closed = kept[kept["deal_stage"].isin(["Won", "Lost"]) & (kept["close_date"] >= lo) & (kept["close_date"] < hi)]
    won = closed[closed["deal_stage"] == "Won"]
    made = kept[(kept["engage_date"] >= lo) & (kept["engage_date"] < hi)]
    # no account assignments in Maven: each account goes to the office whose agents engaged most of its deals
    n = made.dropna(subset=["account"]).groupby(["account", "region"]).size().rename("n").reset_index()
    best = n.sort_values(["account", "n", "region"], ascending=[True, False, True]).drop_duplicates("account")
    planned = best.groupby("region").size()
    assert derived["assignments_derived"] == len(best) == 85
    exp = pd.DataFrame({
        "planned_accounts": planned,
        "opp_rate": made.groupby("region").size() / (planned * years),
        "win_rate": won.groupby("region").size() / closed.groupby("region").size(),
        "asp": won.groupby("region")["close_value"].mean(),
        "cycle_days": (won["close_date"] - won["engage_date"]).dt.days.groupby(won["region"]).median().round(),
    })
    assert list(got.index) == ["Central", "East", "West"]
    for col in exp.columns:
        assert got[col].to_numpy() == pytest.approx(exp[col].reindex(got.index).to_numpy(), rel=1e-9), col
    assert exp["win_rate"].round(3).to_dict() == {"Central": 0.662, "East": 0.668, "West": 0.670}
    # agents on the team who engaged nothing in the window are named: they still get quota
    idle = sorted(set(teams["sales_agent"]) - set(made["sales_agent"]))
    assert len(idle) == 5
    assert (f"5 rep(s) on the plan created no deals from 2016-10-01 to 2017-07-01: {', '.join(idle)}; plan build "
            "still gives them their share of their territory's quota (check they are ramping or should leave the "
            "plan)") in derived["notes"]

    # the quarter's quota: capacity (accounts × opp rate × win rate × ASP for the year) × 1.15 × 92/365
    cap = exp["planned_accounts"] * exp["opp_rate"] * exp["win_rate"] * exp["asp"]
    fc = js(engine_db, "forecast", "--as-of", "2017-09-30", "--period", "2017Q3")
    quota = rows(fc, "region", "quota")
    # (the plan stores ASP to the cent, so the quota matches to a millionth, not to the cent)
    assert quota == pytest.approx((cap * 1.15 * 92 / 365).to_dict(), rel=1e-6)

    # on the quarter's last day the forecast is what closed won: per rep and per office, from the raw file
    q3 = kept[(kept["deal_stage"] == "Won") & (kept["close_date"] >= "2017-07-01") & (kept["close_date"] < "2017-10-01")]
    assert rows(fc, "region", "closed_won") == q3.groupby("region")["close_value"].sum().to_dict() == {
        "Central": 1_053_202.0, "East": 919_767.0, "West": 1_009_286.0}
    reps = rows(fc, "rep", "closed_won")
    assert {k: v for k, v in reps.items() if v} == q3.groupby("sales_agent")["close_value"].sum().to_dict()
    assert rows(fc, "company", "mean") == pytest.approx({"company": q3["close_value"].sum()})


@need_maven
def test_maven_diagnosis_and_backtest(tmp_path) -> None:
    kept, _ = maven_raw()
    db = str(tmp_path / "maven.duckdb")
    load_maven(db)
    maven_plan(db)
    d = js(db, "diagnose", "--as-of", "2017-11-15", "--period", "2017Q4")
    check_diagnosis_adds_up(d)
    assert set(d["summary"]["regions"]) == {"Central", "East", "West"}
    # what closed won by the day, as the diagnosis's forecast read it
    won = kept[kept["deal_stage"] == "Won"]
    so_far = won[(won["close_date"] >= "2017-10-01") & (won["close_date"] <= "2017-11-15")]
    got = {r["entity"]: r["closed_won"] for r in d["rows"] if r["level"] == "region"}
    assert got == so_far.groupby("region")["close_value"].sum().to_dict()

    bt = js(db, "backtest", "--periods", "2017Q4", "--step-days", "28")
    detail = pd.DataFrame(bt["detail"])
    assert sorted(detail["as_of"].str[:10].unique()) == ["2017-10-28", "2017-11-25", "2017-12-23"]
    q4 = won[(won["close_date"] >= "2017-10-01") & (won["close_date"] < "2018-01-01")]
    region = detail[detail["level"] == "region"]
    for _, r in region.iterrows():
        assert r["actual"] == q4.loc[q4["region"] == r["entity_id"], "close_value"].sum()
        # Maven's stages carry no probabilities and open deals no close date: the stage-weighted
        # pipeline is what closed won by the day
        by_then = q4[(q4["region"] == r["entity_id"]) & (q4["close_date"] <= r["as_of"][:10])]
        assert r["stage_weighted"] == pytest.approx(by_then["close_value"].sum())
    assert region.groupby("as_of")["actual"].sum().tolist() == [2_802_496.0] * 3
    s = pd.DataFrame(bt["summary"]).set_index(["level", "method"])
    assert set(s.index) == {(lv, m) for lv in ("rep", "region", "company") for m in ("plancast", "stage_weighted")}
    assert s.loc[("company", "plancast"), "n"] == 3 and s.loc[("region", "plancast"), "n"] == 9
    assert s["mape"].between(0, 1).all() and s["coverage_p10_p90"].dropna().between(0, 1).all()


# --------------------------------------------------------------------------------------------- Power BI
def pbi_raw() -> tuple[pd.DataFrame, pd.DataFrame]:
    opps = pd.read_csv(PBI / "Opportunities.csv", parse_dates=["Opportunity Created On", "CloseDate"])
    accounts = pd.read_csv(PBI / "Accounts.csv")
    territories = pd.read_csv(PBI / "Territories.csv")
    accounts = accounts.merge(territories[["TerritorySeq", "Territory"]], on="TerritorySeq")
    opps = opps.merge(accounts[["AccountSeq", "TerritorySeq", "Territory"]], on="AccountSeq", how="left")
    return opps, accounts


def load_pbi(db: str) -> None:
    for y in ("2020", "2021"):
        cli(db, "calendar", "add", y)
    cli(db, "import", "territories", str(PBI / "Territories.csv"), "--preset", "powerbi")
    cli(db, "import", "reps", str(PBI / "Owners.csv"), "--preset", "powerbi")
    cli(db, "import", "accounts", str(PBI / "Accounts.csv"), "--preset", "powerbi")
    cli(db, "import", "territory-assignments", str(PBI / "Accounts.csv"), "--preset", "powerbi",
        "--valid-from", "2019-06-01")
    cli(db, "import", "opportunities", str(PBI / "Opportunities.csv"), "--preset", "powerbi")


def pbi_plan(db: str) -> dict:
    return plan_from_history(db, "FY2021", "2020-04-01", "2021-04-01")


@need_pbi
def test_powerbi_plan_from_history_and_forecast(engine_db) -> None:
    opps, accounts = pbi_raw()
    load_pbi(engine_db)
    status = js(engine_db, "status")["tables"]
    assert (status["opportunity"], status["account"], status["territory"]) == (20_000, 300, 51)
    derived = pbi_plan(engine_db)
    assert derived["assignments_derived"] is None  # the sample says which state each account is in
    # ...but not which states each owner covers: derived from the deals each owner created in the window,
    # with its share of the state's deals
    lo, hi = pd.Timestamp("2020-04-01"), pd.Timestamp("2021-04-01")
    made = opps[(opps["Opportunity Created On"] >= lo) & (opps["Opportunity Created On"] < hi)]
    n = made.groupby([made["SystemUserSeq"].astype(str), made["TerritorySeq"].astype(str)]).size()
    share = (n / n.groupby(level=1).transform("sum")).sort_index()
    assert derived["rep_assignments_derived"] == len(share) == 51
    assert any("no rep assignments in the store: 19 reps cover" in x for x in derived["notes"])
    with Store(engine_db) as st:
        ra = st.plan_records("rep_assignments", valid_on=hi.date())
    got_share = ra.set_index([ra["rep_id"].astype(str), ra["territory_id"].astype(str)])["share"].sort_index()
    assert got_share.to_numpy() == pytest.approx(share.to_numpy(), rel=1e-9)
    assert list(got_share.index) == list(share.index)
    got = pd.DataFrame(derived["assumptions"]).set_index("territory_id")

    # independently: every owner owns its deals' accounts, so a deal belongs to its account's state; the
    # window 2020-04-01 – 2021-04-01 is 365 days, so account-years = accounts
    st = opps["TerritorySeq"].astype(str)
    closed = opps[opps["Status"].isin(["Won", "Lost"]) & (opps["CloseDate"] >= lo) & (opps["CloseDate"] < hi)]
    won = closed[closed["Status"] == "Won"]
    planned = accounts.groupby(accounts["TerritorySeq"].astype(str)).size()
    n_closed = closed.groupby(st).size().reindex(planned.index).fillna(0)
    n_won = won.groupby(st).size().reindex(planned.index).fillna(0)
    company_w = len(won) / len(closed)
    exp = pd.DataFrame({
        "planned_accounts": planned,
        "opp_rate": made.groupby(st).size().reindex(planned.index).fillna(0) / planned,
        # fewer than 10 closed (won, for size) deals: the company's rate
        "win_rate": np.where(n_closed >= 10, n_won / n_closed.where(n_closed > 0), company_w),
        "asp": np.where(n_won >= 10, won.groupby(st)["Value"].mean().reindex(planned.index), won["Value"].mean()),
    })
    assert sorted(got.index) == sorted(planned.index) and len(got) == 48  # 3 states have no account
    for col in exp.columns:
        assert got[col].to_numpy() == pytest.approx(exp[col].reindex(got.index).to_numpy(), rel=1e-9), col
    assert company_w == pytest.approx(0.5477, abs=1e-4)

    # the quarter's quota per region: Σ over its states of capacity × 1.15 × 92/365
    cap = exp["planned_accounts"] * exp["opp_rate"] * exp["win_rate"] * exp["asp"]
    region_of = accounts.drop_duplicates("TerritorySeq").set_index(accounts.drop_duplicates("TerritorySeq")[
        "TerritorySeq"].astype(str))["Territory"]
    fc = js(engine_db, "forecast", "--as-of", "2021-09-30", "--period", "2021Q3")
    # owners working several states are said to count whole in one (one of them, owner 2, spans two regions)
    several = int((share.groupby(level=0).size() > 1).sum())
    assert any(n.startswith(f"{several} rep(s) cover several territories: each counts whole in its largest-share "
                            "territory") and n.endswith("1 of them span regions, so their regions' rows do too")
               for n in fc["notes"]), fc["notes"]
    assert rows(fc, "region", "quota") == pytest.approx((cap.groupby(region_of).sum() * 1.15 * 92 / 365).to_dict(),
                                                      rel=1e-6)

    # on the quarter's last day the forecast is what closed won, per owner and in all
    q3 = opps[(opps["Status"] == "Won") & (opps["CloseDate"] >= "2021-07-01") & (opps["CloseDate"] < "2021-10-01")]
    by_owner = q3.groupby(q3["SystemUserSeq"].astype(str))["Value"].sum()
    assert {k: v for k, v in rows(fc, "rep", "closed_won").items() if v} == by_owner.to_dict()
    assert rows(fc, "company", "mean") == pytest.approx({"company": 8_402_513.0}) and q3["Value"].sum() == 8_402_513
    # per region: an owner counts in the region of its (largest-share) territory; the owner whose accounts
    # span two regions (US-MIDWEST and US-NORTHEAST) counts whole in one of them
    owner_regions = accounts.groupby(accounts["AccountOwnerSeq"].astype(str))["Territory"].unique()
    single = owner_regions[owner_regions.map(len) == 1].map(lambda r: r[0])
    split = owner_regions[owner_regions.map(len) > 1]
    assert list(split.index) == ["2"]
    expected = by_owner.reindex(single.index).fillna(0).groupby(single).sum()
    extra = pd.Series(rows(fc, "region", "closed_won")) - expected
    assert sorted(extra.round(2).tolist()) == [0, 0, 0, by_owner["2"]]
    assert extra[extra > 0].index.item() in split["2"]


@need_pbi
def test_powerbi_diagnosis_and_backtest(tmp_path) -> None:
    opps, accounts = pbi_raw()
    db = str(tmp_path / "powerbi.duckdb")
    load_pbi(db)
    pbi_plan(db)
    d = js(db, "diagnose", "--as-of", "2021-08-15", "--period", "2021Q3")
    check_diagnosis_adds_up(d)
    assert set(d["summary"]["regions"]) == {"US-MIDWEST", "US-NORTHEAST", "US-SOUTH", "US-WEST"}
    won = opps[opps["Status"] == "Won"]
    so_far = won[(won["CloseDate"] >= "2021-07-01") & (won["CloseDate"] <= "2021-08-15")]
    company = next(r for r in d["rows"] if r["level"] == "company")
    assert company["closed_won"] == so_far["Value"].sum()

    bt = js(db, "backtest", "--periods", "2021Q3", "--step-days", "28")
    detail = pd.DataFrame(bt["detail"])
    assert sorted(detail["as_of"].str[:10].unique()) == ["2021-07-28", "2021-08-25", "2021-09-22"]
    q3 = won[(won["CloseDate"] >= "2021-07-01") & (won["CloseDate"] < "2021-10-01")]
    reps = detail[detail["level"] == "rep"]
    by_owner = q3.groupby(q3["SystemUserSeq"].astype(str))["Value"].sum()
    for _, r in reps.iterrows():
        assert r["actual"] == by_owner.get(r["entity_id"], 0.0)
        # no stage history: a deal open on the day shows the stage it closed at, which was not known
        # then, so the stage-weighted pipeline is what closed won by the day (no open deal is expected
        # to close in a past quarter)
        mine = q3[(q3["SystemUserSeq"].astype(str) == r["entity_id"]) & (q3["CloseDate"] <= r["as_of"][:10])]
        assert r["stage_weighted"] == pytest.approx(mine["Value"].sum())
    comp = detail[detail["level"] == "company"]
    assert comp["actual"].tolist() == [8_402_513.0] * 3
    assert detail[detail["level"] == "region"].groupby("as_of")["actual"].sum().tolist() == [8_402_513.0] * 3
    s = pd.DataFrame(bt["summary"]).set_index(["level", "method"])
    assert s.loc[("company", "plancast"), "n"] == 3 and s.loc[("region", "plancast"), "n"] == 12
    assert s["mape"].between(0, 1).all() and s["coverage_p10_p90"].dropna().between(0, 1).all()
