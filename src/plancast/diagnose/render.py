"""The diagnosis as rich tables (``plancast diagnose`` and the demo share them)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .labels import entity_label, name_and_id
from .variance import DRIVERS

_DRIVER_LABEL = {"accounts": "accounts", "opportunity_rate": "opp. rate", "win_rate": "win rate", "asp": "ASP",
                 "timing": "timing"}
_TIMING_NOTE = ("timing: in planning, cycle lag and ramp; in execution, also what the rates do not explain — "
                "deals already won, the pipeline in hand and when it closes")


def _pts(x: float | None, q: float) -> str:
    return "" if x is None or not q else f"{100 * x / q:+.1f}"


def _pct(x: float | None, q: float, digits: int = 1) -> str:
    return "" if x is None or not q else f"{100 * x / q:.{digits}f}"


def _share(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.0f}%"


def _top_driver(drivers: dict[str, float | None]) -> tuple[str, float]:
    name = max(DRIVERS, key=lambda d: abs(drivers.get(d) or 0.0))
    return _DRIVER_LABEL[name], float(drivers.get(name) or 0.0)


def headline(row: dict[str, Any], summary: dict[str, Any]) -> str:
    """"West: projection 59% of quota (P10–P90 …) vs the 85% the plan expected; of the
    26-point gap to plan, 74% is planning (accounts −19 pts) and 26% execution (win rate −5 pts)"."""
    q = row["quota"] or 0.0
    level, entity = str(row.get("level") or ""), str(row.get("entity") or row.get("name") or "")
    who = entity_label(level, entity, {(level, entity): row.get("name")})  # "West"; "rep Alicia Thomber (1)"
    if not q:
        return f"{who}: no quota in the period"
    gap = summary["variance_vs_plan"]
    pd_name, pd_val = _top_driver(row["drivers"]["planning"])
    ed_name, ed_val = _top_driver(row["drivers"]["execution"])
    text = (f"{who}: projection {row['projected_mean'] / q:.0%} of quota "
            f"(P10–P90 {row['p10'] / q:.0%}–{row['p90'] / q:.0%}) vs the {row['plan_expected'] / q:.0%} "
            f"the plan expected; fair expectation {row['fair_expected'] / q:.0%}")
    if summary["planning_share"] is None:
        return text + "; no variance against plan"
    p, e = summary["planning_variance"], summary["execution_variance"]
    if p * e < 0:  # pulling apart: shares of the net would mislead, so give both in points
        return (text + f"; variance against plan {100 * gap / q:+.1f} points: planning {100 * p / q:+.1f} "
                f"({pd_name} {100 * pd_val / q:+.1f} pts) and execution {100 * e / q:+.1f} "
                f"({ed_name} {100 * ed_val / q:+.1f} pts) pull apart")
    return (text + f"; of the {100 * gap / q:+.1f}-point variance against plan, "
            f"{summary['planning_share']:.0%} is planning ({pd_name} {100 * pd_val / q:+.1f} pts) and "
            f"{summary['execution_share']:.0%} execution ({ed_name} {100 * ed_val / q:+.1f} pts)")


def render_diagnosis(d: dict[str, Any], console: Console, *, reps: bool = True, flags: bool = True) -> None:
    rows = d["rows"]
    summary = d["summary"]
    top = [r for r in rows if r["level"] in ("region", "company")]
    t = Table(title=f"{d['period']} as of {d['as_of']}: % of quota; variance in points of quota "
                    f"(forecast run {d['forecast_run']})", header_style="bold")
    for col in ("entity", "quota", "plan", "fair", "proj.", "P10–P90", "stretch", "planning", "execution",
                "planning share", "exec. share"):
        t.add_column(col, justify="left" if col == "entity" else "right", no_wrap=True, overflow="fold")
    for r in top:
        q = r["quota"] or 0.0
        s = summary["company"] if r["level"] == "company" else summary["regions"].get(r["entity"], {})
        t.add_row(escape(str(r["name"])), f"${q / 1e6:,.2f}M", _pct(r["plan_expected"], q), _pct(r["fair_expected"], q),
                  _pct(r["projected_mean"], q), f"{_pct(r['p10'], q, 0)}–{_pct(r['p90'], q, 0)}", _pts(r["stretch"], q),
                  _pts(r["planning_variance"], q), _pts(r["execution_variance"], q),
                  _share(s.get("planning_share")), _share(s.get("execution_share")))
    console.print(t)
    for r in top:
        s = summary["company"] if r["level"] == "company" else summary["regions"].get(r["entity"])
        if s:
            console.print(escape(headline(r, s)), soft_wrap=True)
    if reps:
        rt = Table(title="per rep: % of the rep's quota; variance in points", header_style="bold")
        names = {(r["level"], str(r["entity"])): r["name"] for r in rows}
        for col in ("rep", "territory", "quota", "plan", "fair", "proj.", "P10–P90", "planning", "execution",
                    "planning by", "execution by"):
            text = col in ("rep", "territory") or col.endswith(" by")
            rt.add_column(col, justify="left" if text else "right", no_wrap=not text, min_width=len(col))
        for r in (x for x in rows if x["level"] == "rep"):
            q = r["quota"] or 0.0
            pn, pv = _top_driver(r["drivers"]["planning"])
            en, ev = _top_driver(r["drivers"]["execution"])
            terr = names.get(("territory", str(r["parent"])))
            rt.add_row(escape(name_and_id(r["entity"], r["name"])), escape(name_and_id(r["parent"], terr)),
                       f"${q / 1e3:,.0f}k",
                       _pct(r["plan_expected"], q), _pct(r["fair_expected"], q), _pct(r["projected_mean"], q),
                       f"{_pct(r['p10'], q, 0)}–{_pct(r['p90'], q, 0)}",
                       _pts(r["planning_variance"], q), _pts(r["execution_variance"], q),
                       f"{pn} {_pts(pv, q)}", f"{en} {_pts(ev, q)}")
        console.print(rt)
        console.print(f"[dim]{escape(_TIMING_NOTE)}[/]", soft_wrap=True)
    if flags:
        for kind, title in (("capacity", "capacity signals"), ("execution", "execution flags")):
            fl = [f for f in d["flags"] if f["kind"] == kind]
            console.print(f"[bold]{title}[/]: " + ("none significant" if not fl else f"{len(fl)}"))
            for f in fl:
                p = f" (p={f['p_value']:.3g}, {f['test']})" if f.get("p_value") is not None else ""
                console.print(f"  {f['severity']:>6} {escape(f['code'])}  {escape(f['message'])}{escape(p)}",
                              soft_wrap=True)
    for n in d.get("notes", []):
        console.print(f"[yellow]note:[/] {escape(n)}", soft_wrap=True)
