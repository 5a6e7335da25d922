"""The worked scenario end to end: load it into a store, and review what is stored.

:func:`load_demo` takes the generated scenario (:mod:`plancast.demo`) through
the same checks and writes as any import, kind by kind, each with the record
time the scenario says it was known. :func:`review` reads the store back —
nothing here comes from the generator's memory — and summarises it per
region, as of the scenario's date.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from .calendar import parse_period_id
from .demo import DEFAULT_SEED, DEMO_KINDS, build_scenario
from .diagnose import diagnose
from .diagnose.render import render_diagnosis
from .forecast.run import project
from .errors import BadInput
from .importer import import_frame
from .planning.build import build_plan
from .planning.checks import check_plan
from .store import Store

DEMO_PERIOD = "FY2026"
#: the quarter the demo diagnoses, mid-way, as of the scenario's date
DEMO_QUARTER = "2026Q2"
#: when the FY2026 plan (assumptions and quotas) was recorded: the check runs as known then
PLAN_MADE_AT = datetime(2025, 12, 1)


def plan_flags(store: Store, period: str, *, known_at: datetime) -> list[dict[str, Any]]:
    """``plancast plan check`` as it would have run at ``known_at``."""
    build = build_plan(store, period, known_at=known_at, write=False)
    return check_plan(build, current_quotas=store.plan_records("quotas", known_at=known_at))


def load_demo(
    store: Store, *, seed: int = DEFAULT_SEED, step: Callable[[str, int, int], None] | None = None
) -> dict[str, Any]:
    """Build the scenario and write it; returns per-kind write results. Idempotent.

    Refused on a store that holds anything but an earlier demo: the scenario is
    written kind by kind and must not mix with other data."""
    log = store.read_table("import_log")
    versions = store.plan_versions()
    foreign = (~log["source"].astype(str).str.startswith("demo:")).any() or (
        ~versions["source"].astype(str).str.startswith("demo:")).any()
    if foreign or (store.counts()["account"] and not len(log)):
        raise BadInput(
            f"the store {store.db!r} already holds other data; the demo builds its own scenario into an empty store",
            hint="give the demo a store of its own, e.g. plancast --db demo.duckdb demo",
        )
    scn = build_scenario(seed)
    periods = pd.DataFrame(
        [(pid, parse_period_id(pid)[0], parse_period_id(pid)[1], s, e) for pid, s, e in scn.periods],
        columns=["period_id", "period_type", "fiscal_year", "start_date", "end_date"],
    )
    periods["start_date"] = pd.to_datetime(periods["start_date"])
    periods["end_date"] = pd.to_datetime(periods["end_date"])
    store.add_periods(periods)
    results = {}
    for i, kind in enumerate(DEMO_KINDS):
        if step:
            step(f"loading {kind.replace('_', ' ')}", i, len(DEMO_KINDS))
        rec = scn.recorded_at.get(kind)
        results[kind] = import_frame(
            store, kind, scn.frames[kind], source=f"demo:{kind}",
            reason=f"worked scenario: {kind.replace('_', ' ')}", author="plancast demo",
            recorded_at=rec.to_pydatetime() if rec is not None else None,
        ).to_dict()
    meta = {"as_of": scn.as_of.isoformat(), "period": DEMO_PERIOD, "seed": seed}
    return {"scenario": meta, "writes": results}


def review(store: Store, *, as_of: date = date(2026, 5, 15), period: str = DEMO_PERIOD,
           quarter: str | None = DEMO_QUARTER) -> dict[str, Any]:
    """What the store holds, per region, for ``period`` as of ``as_of``; with ``quarter``,
    also the forecast and the plan-vs-execution diagnosis of that quarter (both stored)."""
    periods = store.periods()
    start, end = periods[period]
    on = min(max(as_of, start), end)
    terr = store.read_table("territory")
    assign = store.plan_records("territory_assignments", valid_on=on)
    excl = store.plan_records("account_exclusions", valid_on=on)
    reps = store.plan_records("rep_assignments", valid_on=on)
    plan = store.plan_records("planning_assumptions", valid_on=on)
    quota = store.plan_records("quotas", valid_on=on)
    opps = store.read_table("opportunity")

    region_of_t = terr.set_index("territory_id")["region_id"]
    t_of_account = assign.set_index("account_id")["territory_id"]
    t_of_rep = reps.drop_duplicates("rep_id").set_index("rep_id")["territory_id"]
    excluded = excl["account_id"].drop_duplicates()

    quota_y = quota[(quota["period"] == period) & (quota["entity_type"] == "rep")]
    opps = opps.assign(territory_id=opps["owner_id"].map(t_of_rep))
    is_open = ~opps["is_closed"].astype(bool)
    won_ytd = opps["is_won"].astype(bool) & (opps["close_date"] >= pd.Timestamp(start)) & (
        opps["close_date"] <= pd.Timestamp(as_of))

    rows = []
    for tid, region in region_of_t.sort_index().items():
        accts = t_of_account.index[t_of_account == tid]
        n_excl = int(excluded.isin(accts).sum())
        p = plan[plan["territory_id"] == tid]
        planned = float(p["planned_accounts"].iloc[0]) if len(p) else float("nan")
        capacity = float((p["planned_accounts"] * p["opp_rate"] * p["win_rate"] * p["asp"] * p["ramp"]).iloc[0]) \
            if len(p) else float("nan")
        rep_ids = t_of_rep.index[t_of_rep == tid]
        in_t = opps["territory_id"] == tid
        rows.append({
            "region": region,
            "territory": tid,
            "reps": len(rep_ids),
            "accounts_assigned": len(accts),
            "accounts_excluded": n_excl,
            "accounts_available": len(accts) - n_excl,
            "planned_accounts": planned,
            "plan_capacity": round(capacity, 2),
            "quota": round(float(quota_y[quota_y["entity_id"].isin(rep_ids)]["amount"].sum()), 2),
            "open_deals": int((in_t & is_open).sum()),
            "open_pipeline": round(float(opps.loc[in_t & is_open, "amount"].sum()), 2),
            "closed_won_to_date": round(float(opps.loc[in_t & won_ytd, "amount"].sum()), 2),
        })
    return {
        "as_of": as_of.isoformat(),
        "period": period,
        "plan_checked_at": PLAN_MADE_AT.isoformat(),
        "flags": plan_flags(store, period, known_at=PLAN_MADE_AT),
        "regions": rows,
        "plan_versions": len(store.plan_versions()),
        "counts": store.counts(),
        "diagnosis": _diagnosis(store, quarter, as_of) if quarter else None,
    }


def _diagnosis(store: Store, quarter: str, as_of: date) -> dict[str, Any]:
    """``plancast forecast`` then ``plancast diagnose`` of the quarter, both stored."""
    project(store, quarter, as_of)
    return diagnose(store, quarter, as_of).to_dict()


def render_review(rev: dict[str, Any], console: Console) -> None:
    console.print(f"[bold]Worked scenario[/] — {rev['period']}, as of {rev['as_of']}")
    t = Table(header_style="bold")
    cols = [("region", "Region"), ("reps", "Reps"), ("accounts_assigned", "Assigned"),
            ("accounts_excluded", "Excluded"), ("accounts_available", "Available"),
            ("plan_capacity", "Plan capacity"), ("quota", "Quota"), ("open_deals", "Open deals"),
            ("open_pipeline", "Open pipeline"), ("closed_won_to_date", "Won to date")]
    for _, label in cols:
        t.add_column(label, justify="left" if label == "Region" else "right")
    money = {"plan_capacity", "quota", "open_pipeline", "closed_won_to_date"}
    for r in rev["regions"]:
        t.add_row(*[f"${r[c] / 1e6:,.2f}M" if c in money else f"{r[c]:,}" if isinstance(r[c], int) else str(r[c])
                    for c, _ in cols])
    console.print(t)
    console.print(f"\n[bold]Plan check[/] for {rev['period']} as known on {rev['plan_checked_at'][:10]}, "
                  "when the plan was made (plancast plan check):")
    flagged = {f["entity"] for f in rev["flags"] if f["kind"] == "territory_sizing"}
    for f in rev["flags"]:
        console.print(f"  {f['severity']:>6} {f['kind']:<17} {f['message']}", soft_wrap=True)
        if f["kind"] == "territory_sizing":
            ev = f["evidence"]
            console.print(f"         evidence: effective_accounts={ev['effective_accounts']:g} "
                          f"planned_accounts={ev['planned_accounts']:g} capacity_ratio={ev['capacity_ratio']:.4f}")
    clean = [r["region"] for r in rev["regions"] if r["territory"] not in flagged]
    if clean:
        console.print(f"  no sizing flag: {', '.join(clean)}")
    console.print(f"{rev['plan_versions']} plan versions recorded; nothing is overwritten "
                  "(see: plancast plan versions).")
    d = rev.get("diagnosis")
    if d:
        console.print(f"\n[bold]Forecast and diagnosis[/] of {d['period']} as of {d['as_of']} "
                      "(plancast forecast, plancast diagnose):")
        render_diagnosis(d, console, reps=False)
        console.print(f"The same rows: SELECT * FROM attainment_variance WHERE diagnosis_id = {d['diagnosis_id']}",
                      soft_wrap=True)
