"""The ``plancast`` command line: parse, call one core function, render.

Every read has ``--json``; every domain error becomes one error shape here
(text with a hint on stderr, or ``{"error": …}`` on stdout with ``--json``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from .errors import BadInput, HistoryViolation, NotFound, PlancastError

app = typer.Typer(
    name="plancast",
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Territory planning and attainment forecasting as one system.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
calendar_app = typer.Typer(help="Fiscal periods (years and quarters).", no_args_is_help=True)
plan_app = typer.Typer(help="Plans and their versions.", no_args_is_help=True)
db_app = typer.Typer(help="The store itself: schema version and upgrades.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
app.add_typer(plan_app, name="plan")
app.add_typer(db_app, name="db")
forecast_app = typer.Typer(help="Attainment forecast: projection with intervals against quota and plan.")
app.add_typer(forecast_app, name="forecast")

def _console(stderr: bool = False) -> Console:
    """Rich console; when piped (not a terminal) it is 120 columns wide unless COLUMNS says otherwise."""
    probe = Console(stderr=stderr)
    width = None if probe.is_terminal or os.environ.get("COLUMNS") else 120
    return Console(stderr=stderr, highlight=False, width=width)


out = _console()
err = _console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]


class _State:
    db: str | None = None
    opened: list[Any] = []


state = _State()


def _store(*, upgrade: bool = True, create: bool = True) -> Any:
    """The store --db names; closed by main() when the command ends.

    Reads pass ``create=False``: a DuckDB path that does not exist is an error
    (a typo), not a new empty store."""
    from .store import DEFAULT_DB, Store

    db = state.db or os.environ.get("PLANCAST_DB") or DEFAULT_DB
    if not create and "://" not in db and db != ":memory:" and not Path(db).expanduser().exists():
        from .errors import NotFound

        raise NotFound(f"there is no store at {db!r}",
                       hint="check --db (or PLANCAST_DB); a store is created by plancast demo, "
                            "plancast import or plancast calendar add")
    s = Store(db, upgrade=upgrade)
    state.opened.append(s)
    return s


def _jsonable(o: Any) -> Any:
    if isinstance(o, pd.Timestamp):
        return None if pd.isna(o) else (o.date().isoformat() if o == o.normalize() else o.isoformat())
    if isinstance(o, datetime | date):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    if o is pd.NaT or o is pd.NA:
        return None
    return str(o)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=_jsonable, indent=2, ensure_ascii=False) + "\n")


#: money columns of forecast results, shown to the cent in JSON (the store keeps full precision)
MONEY_COLUMNS = ("quota", "closed_won", "mean", "p10", "p50", "p90", "plan_expected_to_date", "plan_expected")


def frame_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    df = df.astype(object).where(df.notna(), None)
    return df.to_dict("records")


def render_frame(df: pd.DataFrame, title: str | None = None, *, money: tuple[str, ...] = ()) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[c])
        # numbers are never cut short; text may be
        t.add_column(str(c), justify="right" if numeric else "left", no_wrap=numeric,
                     overflow="fold" if numeric or c == df.columns[-1] else "ellipsis")
    for row in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, row, strict=True):
            if isinstance(v, list | tuple | dict | np.ndarray):
                cells.append(json.dumps(v if not isinstance(v, np.ndarray) else v.tolist(), default=str))
            elif v is None or (not isinstance(v, str) and pd.isna(v)):
                cells.append("")
            elif c in money:
                cells.append(f"${v:,.0f}")
            elif isinstance(v, float) and not np.isfinite(v):
                cells.append("∞" if v > 0 else "-∞")
            elif isinstance(v, float):
                cells.append(f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.2f}" if v != round(v) else f"{v:,.0f}")
            elif isinstance(v, pd.Timestamp):
                cells.append(v.date().isoformat() if v == v.normalize() else f"{v:%Y-%m-%d %H:%M}")
            else:
                cells.append(str(v))
        t.add_row(*cells)
    out.print(t)


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="PLANCAST_DB",
            help="The store: a DuckDB file (default ./plancast.duckdb), :memory:, or a PostgreSQL URL "
            "(postgresql://user@host:5432/db, optional ?schema=name).",
        ),
    ] = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Territory planning and attainment forecasting as one system."""
    if version:
        out.print(f"plancast {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())
        raise typer.Exit()
    state.db = db


# ---------------------------------------------------------------- import
@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help="What the file holds: accounts, reps, territories, "
                                        "territory-assignments, rep-assignments, account-exclusions, "
                                        "planning-assumptions, quotas, stages, opportunities, opportunity-history.")],
    file: Annotated[Path, typer.Argument(help="A .csv, .tsv, .txt, .xlsx or .parquet file.")],
    preset: Annotated[str | None, typer.Option(help="Column layout: plancast, salesforce, hubspot, maven, powerbi, adventureworks.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="A TOML or YAML file mapping your columns to plancast's.")] = None,
    decimal_comma: Annotated[bool, typer.Option("--decimal-comma", help="Amounts use ',' as the decimal mark (1.200,50).")] = False,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet to read (default: the first).")] = None,
    date_format: Annotated[str | None, typer.Option(help="Dates not in YYYY-MM-DD, e.g. '%d/%m/%Y' or '%m/%d/%Y'.")] = None,
    plan: Annotated[str, typer.Option(help="Plan the records belong to.")] = "main",
    reason: Annotated[str | None, typer.Option(help="Why (kept with the plan version).")] = None,
    author: Annotated[str | None, typer.Option(help="Who (default: $PLANCAST_AUTHOR or $USER).")] = None,
    valid_from: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Start date for plan records whose valid_from is blank.")] = None,
    recorded_at: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"], help="When this was known, for back-loading history (default: now).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the file and report; write nothing.")] = False,
    close_before_create: Annotated[str, typer.Option(
        "--close-before-create", help="Opportunities closing before they were created: refuse (default), "
        "clamp (creation date := close date) or skip (leave them out); each counted in a warning.")] = "refuse",
    as_json: JsonOpt = False,
) -> None:
    """Import a file: every row is checked first; a file with problems loads nothing."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .importer import import_file

    store = _store()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=as_json or not err.is_terminal) as progress:
        task = progress.add_task(f"import {kind}", total=None)
        report = import_file(
            store, kind, file, preset=preset, mapping=mapping, decimal_comma=decimal_comma, sheet=sheet,
            date_format=date_format,
            plan_id=plan, reason=reason, author=author, valid_from=valid_from.date() if valid_from else None,
            recorded_at=recorded_at, dry_run=dry_run, close_before_create=close_before_create,
            step=lambda m: progress.update(task, description=m),
        )
    if as_json:
        emit_json(report.to_dict())
        return
    for w in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)
    r = report.result
    if r is None:
        out.print(f"{report.source}: {report.rows:,} {report.kind.replace('_', ' ')} rows checked, no problems "
                  "(dry run: nothing written)")
        return
    parts = [f"{r.inserted:,} new", f"{r.updated:,} changed", f"{r.unchanged:,} unchanged"]
    if r.superseded:
        parts.append(f"{r.superseded:,} superseded ({r.restated:,} restated)")
    ver = f"; plan version {', '.join(map(str, r.version_ids))}" if r.version_ids else ""
    out.print(f"{report.source}: {report.rows:,} {report.kind.replace('_', ' ')} rows: {', '.join(parts)}{ver} "
              f"({report.seconds:.2f} s)", soft_wrap=True)
    for n in r.notes:
        out.print(f"  {n}")


# ---------------------------------------------------------------- reads
@app.command()
def status(as_json: JsonOpt = False) -> None:
    """What the store holds: its schema version and row counts."""
    store = _store(create=False)
    info = {"db": store.db, "engine": store.dialect, "schema_version": store.version(), "tables": store.counts()}
    if as_json:
        emit_json(info)
        return
    out.print(f"store {info['db']} ({info['engine']}, schema version {info['schema_version']})")
    render_frame(pd.DataFrame(sorted(info["tables"].items()), columns=["table", "rows"]))


@app.command()
def show(
    what: Annotated[str, typer.Argument(help="A kind (accounts, quotas, …) or a table name.")],
    as_of: Annotated[datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Plan records in force on this day.")] = None,
    known_at: Annotated[datetime | None, typer.Option("--known-at", formats=["%Y-%m-%d", "%Y-%m-%d %H:%M:%S"], help="As they were known at this time.")] = None,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    limit: Annotated[int, typer.Option(help="At most this many rows (0 = all).")] = 50,
    output: Annotated[Path | None, typer.Option("--out", help="Write all rows to a .csv, .xlsx or .parquet file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show stored rows; for plan records, the ones in force (as known at a time)."""
    from .views import read_what, write_frame

    if limit < 0:
        raise BadInput(f"--limit {limit} is negative", hint="give 0 for all rows or a positive number")
    df = read_what(_store(create=False), what, plan_id=plan, as_of=as_of.date() if as_of else None, known_at=known_at)
    if output is not None:
        write_frame(df, output)
        out.print(f"wrote {len(df):,} rows to {output}")
        return
    shown = df if limit == 0 else df.head(limit)
    if as_json:
        emit_json({"what": what, "rows": frame_records(shown), "total": len(df)})
        return
    # bookkeeping columns stay in --json and --out; the table shows what a person reads
    shown = shown.drop(columns=[c for c in ("record_id", "plan_id", "retracted") if c in shown])
    render_frame(shown, title=f"{what} ({len(df):,} rows{'' if len(shown) == len(df) else f', first {len(shown)}'})")


@app.command()
def presets(
    name: Annotated[str | None, typer.Argument(help="Show one preset's column mapping.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The column layouts --preset understands, and what each maps."""
    from .ingest.presets import PRESETS, get_preset

    chosen = [get_preset(name, "--preset")] if name else [PRESETS[n] for n in sorted(PRESETS)]
    data = [{
        "preset": p.name, "doc": p.doc,
        "kinds": {k: {canon: list(src) for canon, src in spec.columns.items()} for k, spec in p.kinds.items()},
        "stages": [st.stage for st in p.stages],
    } for p in chosen]
    if as_json:
        emit_json({"presets": data})
        return
    for d in data:
        out.print(f"[bold]{d['preset']}[/]: {escape(d['doc'])}", soft_wrap=True)
        if name:
            for kind, cols in d["kinds"].items():
                out.print(f"  {kind}:")
                for canon, src in cols.items():
                    out.print(f"    {' | '.join(src):<40} → {canon}", markup=False)
        elif d["kinds"]:
            out.print(f"  kinds: {', '.join(d['kinds'])}   (plancast presets {d['preset']} shows the columns)",
                      soft_wrap=True)


@app.command()
def kinds(as_json: JsonOpt = False) -> None:
    """What each import kind holds: its columns, types and whether they are required."""
    from .kinds import KINDS

    data = [{"kind": k.name.replace("_", "-"), "doc": k.doc, "key": list(k.key), "plan_record": k.temporal,
             "columns": [{"name": c.name, "type": c.type, "required": c.required, "doc": c.doc,
                          "choices": list(c.choices) if c.choices else None, "default": c.default}
                         for c in k.columns]} for k in KINDS.values() if k.importable]
    if as_json:
        emit_json({"kinds": data})
        return
    for d in data:
        out.print(f"[bold]{d['kind']}[/] — {d['doc']}" + (" (plan records)" if d["plan_record"] else ""))
        for c in d["columns"]:
            req = "required" if c["required"] else ""
            extra = f" one of {', '.join(c['choices'])}" if c["choices"] else ""
            out.print(f"    {c['name']:<20} {c['type']:<7} {req:<9} {c['doc']}{extra}", markup=False, soft_wrap=True)


PeriodOpt = Annotated[str, typer.Option("--period", help="A period id, e.g. FY2026 or 2026Q2.")]
KnownAtOpt = Annotated[datetime | None, typer.Option("--known-at", formats=["%Y-%m-%d", "%Y-%m-%d %H:%M:%S",
                                                                          "%Y-%m-%d %H:%M"],
                                                     help="Use what the store knew at this time (default: now).")]


@plan_app.command("build")
def plan_build(
    period: PeriodOpt,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    known_at: KnownAtOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute and show; write nothing.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (kept with the plan version).")] = None,
    author: Annotated[str | None, typer.Option(help="Who (default: $PLANCAST_AUTHOR or $USER).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Derive capacity and quotas for a period and record them as a plan version."""
    from .planning.build import build_plan

    b = build_plan(_store(), period, plan_id=plan, known_at=known_at, write=not dry_run, reason=reason,
                   author=author)
    if as_json:
        emit_json(b.to_dict())
        return
    _render_capacity(b)
    for n in b.notes + b.capacity.notes:
        err.print(f"[yellow]note:[/] {escape(n)}", soft_wrap=True)
    if b.written is not None:
        w = b.written
        ver = f"plan version {', '.join(map(str, w.version_ids))}" if w.version_ids else "nothing changed"
        out.print(f"{ver}: {w.notes[-1] if w.notes else ''}")
    else:
        out.print("dry run: nothing written")


@plan_app.command("derive")
def plan_derive(
    period: PeriodOpt,
    uplift: Annotated[float, typer.Option(help="Quota above capacity, e.g. 0.15 for quota = capacity × 1.15.")],
    since: Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"],
                                                   help="History window start (default: a year before the period).")] = None,
    until: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"],
                                                   help="History window end, exclusive (default: the period's start).")] = None,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    known_at: KnownAtOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute and show; write nothing.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (kept with the plan version).")] = None,
    author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Planning assumptions for a period from what each territory achieved over a history window."""
    from .planning.build import period_bounds
    from .planning.derive import (default_window, derive_assignments, derive_assumptions, derive_rep_assignments,
                                  write_derived_assumptions)

    store = _store(create=False)
    start, _ = period_bounds(store, period)
    ws, we = default_window(start)
    ws = since.date() if since else ws
    we = until.date() if until else we
    if we <= ws:
        raise BadInput(f"the history window {ws} – {we} is empty", hint="give --from before --to")
    assignments = rep_assignments = None
    if not len(store.plan_records("rep_assignments", plan_id=plan, during=(ws, we), known_at=known_at)):
        rep_assignments = derive_rep_assignments(store, ws, we, plan_id=plan, known_at=known_at)
    elif not len(store.plan_records("territory_assignments", plan_id=plan, during=(ws, we), known_at=known_at)):
        assignments = derive_assignments(store, ws, we, plan_id=plan, known_at=known_at)
    frame, notes = derive_assumptions(store, period, ws, we, uplift=uplift, plan_id=plan, known_at=known_at,
                                      assignments=assignments, rep_assignments=rep_assignments)
    if assignments is not None:
        notes.insert(0, f"no account assignments in the store: {len(assignments)} accounts assigned to the "
                        f"territory whose reps created most of their deals from {ws} to {we}")
    if rep_assignments is not None:
        notes.insert(0, f"no rep assignments in the store: {rep_assignments['rep_id'].nunique()} reps cover the "
                        f"territories of the accounts of the deals they created from {ws} to {we}, each with its "
                        f"share of the territory's deals ({len(rep_assignments)} rep–territory pairs)")
    written = None
    if not dry_run:
        if rep_assignments is not None:
            store.write("rep_assignments", rep_assignments, source="plancast plan derive", plan_id=plan,
                        reason=f"reps to the territories of the accounts they worked, {ws} – {we}", author=author)
        if assignments is not None:
            store.write("territory_assignments", assignments, source="plancast plan derive", plan_id=plan,
                        reason=f"accounts to the territories that worked them, {ws} – {we}", author=author)
        written = write_derived_assumptions(store, frame, plan_id=plan, author=author,
                                            reason=reason or f"{period} assumptions from {ws} – {we} history, "
                                                             f"uplift {uplift:g}")
    if as_json:
        emit_json({"period": period, "window": [ws, we], "assumptions": frame_records(frame), "notes": notes,
                   "assignments_derived": None if assignments is None else len(assignments),
                   "rep_assignments_derived": None if rep_assignments is None else len(rep_assignments),
                   "written": written.to_dict() if written else None})
        return
    view = frame[["territory_id", "planned_accounts", "opp_rate", "win_rate", "asp", "cycle_days", "coverage_ratio",
                  "uplift"]].round({"opp_rate": 3, "win_rate": 3, "asp": 0})
    render_frame(view, title=f"{period} assumptions from what was achieved {ws} – {we} (end exclusive)",
                 money=("asp",))
    for n in notes:
        err.print(f"[yellow]note:[/] {escape(n)}", soft_wrap=True)
    if written is None:
        out.print("dry run: nothing written")
    else:
        out.print(f"plan version {', '.join(map(str, written.version_ids)) or '(none)'}: {written.inserted} "
                  f"written, {written.unchanged} unchanged, {written.superseded} superseded; next: plancast plan "
                  f"build --period {period}")


def _render_capacity(b: Any) -> None:
    t = b.capacity.territories
    view = pd.DataFrame({
        "territory": t["territory_id"], "region": t["region_id"],
        "planned accts": t["planned_accounts"].round(1), "effective accts": t["effective_accounts"].round(1),
        "coverage": t["coverage"].round(3), "plan capacity": t["plan_capacity"], "capacity": t["capacity"],
        "ceiling": (t["capacity_ratio"] * 100).round(1).astype(str) + "%",
        "quota": t["quota_covered"] + t["quota_open"],
    })
    render_frame(view, title=f"capacity {b.period} ({b.start} – {b.end}, end exclusive)",
                 money=("plan capacity", "capacity", "quota"))


@plan_app.command("allocate")
def plan_allocate(
    period: PeriodOpt,
    target: Annotated[str, typer.Option(help="Company target, e.g. 15000000 or 123456789.01.")],
    weights: Annotated[Path | None, typer.Option(help="CSV/Excel with rep_id,weight (default: capacity).")] = None,
    pin: Annotated[list[str] | None, typer.Option(help="Fix an amount on a node: region:West=4000000 (repeatable).")] = None,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    known_at: KnownAtOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the allocation; write nothing.")] = False,
    reason: ReasonOpt = None, author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Allocate a company target down company → segment → region → territory → rep, to the cent."""
    from .planning.build import period_bounds
    from .planning.targets import allocate_target, quota_records

    store = _store()
    pins = {}
    for item in pin or []:
        node, sep, amount = item.rpartition("=")
        if not sep or not node:
            raise BadInput(f"--pin {item!r} is not NODE=AMOUNT", hint="e.g. --pin region:West=4000000")
        pins[node] = amount
    if not dry_run and not (reason and reason.strip()):
        raise BadInput("writing an allocation needs a reason", hint='say why with --reason "…", or use --dry-run')
    alloc, frame = allocate_target(store, period, target, plan_id=plan, known_at=known_at, weights_file=weights,
                                   pins=pins)
    written = None
    if not dry_run:
        start, end = period_bounds(store, period)
        recs = quota_records(frame, period, start, end)
        written = store.write("derived_quotas", recs, source="plancast plan allocate", plan_id=plan,
                              reason=reason or f"allocate {target} over {period}", author=author)
    if as_json:
        emit_json({"period": period, "target": target, "nodes": frame_records(frame),
                   "written": written.to_dict() if written else None})
        return
    show = frame[frame["level"] != "rep"][["level", "entity_id", "weight", "amount", "pinned"]]
    render_frame(show, title=f"{period}: ${float(target):,.2f} allocated by {'weights' if weights else 'capacity'}",
                 money=("amount",))
    out.print(f"reps' amounts: --json, or after writing: plancast plan show --period {period} --level rep")
    if written is not None:
        _say_written(written, False)
    else:
        out.print("dry run: nothing written")


@plan_app.command("assign")
def plan_assign(
    rules: Annotated[Path, typer.Argument(help="A TOML or YAML rules file (one table per rule; see docs).")],
    on: DateArg,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the result; write nothing.")] = False,
    reason: ReasonOpt = None, author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Assign accounts to territories by rules from a day; conflicts and unassigned accounts are listed, and
    the sizing check runs at once."""
    from .planning.apply_rules import assign_by_rules

    if not dry_run and not (reason and reason.strip()):
        raise BadInput("writing an assignment needs a reason", hint='say why with --reason "…", or use --dry-run')
    res, written, flags = assign_by_rules(_store(), rules, on.date(), plan_id=plan, write=not dry_run,
                                          reason=reason, author=author)
    if as_json:
        emit_json({"summary": res.summary(), "conflicts": frame_records(res.conflicts.astype(str)),
                   "unassigned": frame_records(res.unassigned), "overridden": frame_records(res.overridden.astype(str)),
                   "written": written.to_dict() if written else None, "flags": flags})
        return
    out.print(", ".join(f"{k}: {v:,}" for k, v in res.summary().items()))
    if len(res.conflicts):
        render_frame(res.conflicts.astype(str).head(50), title=f"conflicts ({len(res.conflicts):,}): equal precedence, "
                     "not assigned — give one rule a higher precedence")
    if len(res.unassigned):
        render_frame(res.unassigned.head(50), title=f"unassigned ({len(res.unassigned):,}): no rule matches")
    if written is not None:
        _say_written(written, False)
    elif dry_run:
        out.print("dry run: nothing written")
    for f in flags:
        out.print(f"{f['severity']:>6} {f['kind']} {f['message']}", soft_wrap=True)


@plan_app.command("check")
def plan_check(
    period: PeriodOpt,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    known_at: KnownAtOpt = None,
    target: Annotated[float | None, typer.Option(help="Company target to compare with total capacity.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Flag sizing shortfalls, headcount gaps and inconsistent assumptions (writes nothing)."""
    from .planning.build import build_plan
    from .planning.checks import check_plan

    store = _store(create=False)
    b = build_plan(store, period, plan_id=plan, known_at=known_at, write=False)
    if not (b.capacity.territories["plan_capacity"] > 0).any():
        raise NotFound(f"no planning assumptions are in force in {period}"
                       + (f" as known at {known_at:%Y-%m-%d %H:%M}" if known_at else "") + "; nothing to check",
                       hint="import planning assumptions first, or check --period / --known-at")
    flags = check_plan(b, target=target, current_quotas=store.plan_records("quotas", plan_id=plan,
                                                                           known_at=known_at))
    if as_json:
        emit_json({"period": period, "known_at": known_at, "flags": flags})
        return
    if not flags:
        out.print(f"{period}: no flags")
        return
    colour = {"high": "red", "medium": "yellow", "low": "cyan"}
    for f in flags:
        out.print(f"[{colour[f['severity']]}]{f['severity']:>6}[/] {f['kind']:<24} {f['message']}", soft_wrap=True)


change_app = typer.Typer(help="Mid-year changes, each a new effective-dated plan version.", no_args_is_help=True)
plan_app.add_typer(change_app, name="change")
DateArg = Annotated[datetime, typer.Option("--on", formats=["%Y-%m-%d"], help="The day the change takes effect.")]
ReasonOpt = Annotated[str | None, typer.Option(help="Why (required; kept with the plan version).")]
AuthorOpt = Annotated[str | None, typer.Option(help="Who (default: $PLANCAST_AUTHOR or $USER).")]


def _say_written(res: Any, as_json: bool) -> None:
    if as_json:
        emit_json(res.to_dict())
        return
    ver = f"plan version {', '.join(map(str, res.version_ids))}" if res.version_ids else "nothing changed"
    out.print(f"{ver}: {res.inserted} record(s) written, {res.superseded} superseded"
              + (f" ({res.restated} restated)" if res.restated else ""))
    for n in res.notes:
        out.print(f"  {n}")


@change_app.command("depart")
def change_depart(
    rep: Annotated[str, typer.Argument(help="Rep id.")], on: DateArg,
    to: Annotated[str | None, typer.Option(help="Rep who takes over the share (default: the seat stays open).")] = None,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main", reason: ReasonOpt = None, author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A rep leaves: assignments end on the day; the share goes to --to or stays open."""
    from .planning.changes import depart

    _say_written(depart(_store(), rep, on.date(), to_rep=to, plan_id=plan, reason=reason, author=author), as_json)


@change_app.command("hire")
def change_hire(
    rep: Annotated[str, typer.Argument(help="Rep id.")], on: DateArg,
    territory: Annotated[str, typer.Option(help="Territory the rep covers.")],
    share: Annotated[float | None, typer.Option(help="Share of the territory (default: what no rep covers).")] = None,
    ramp_months: Annotated[int | None, typer.Option(help="Months to full productivity.")] = None,
    name: Annotated[str | None, typer.Option(help="Name.")] = None,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main", reason: ReasonOpt = None, author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A new rep starts, ramping."""
    from .planning.changes import hire

    _say_written(hire(_store(), rep, territory, on.date(), share=share, ramp_months=ramp_months, name=name,
                      plan_id=plan, reason=reason, author=author), as_json)


@change_app.command("move")
def change_move(
    accounts: Annotated[list[str], typer.Argument(help="Account ids.")], on: DateArg,
    to: Annotated[str, typer.Option(help="Territory the accounts move to.")],
    plan: Annotated[str, typer.Option(help="Plan.")] = "main", reason: ReasonOpt = None, author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Accounts move to another territory from a day."""
    from .planning.changes import move_accounts

    _say_written(move_accounts(_store(), accounts, to, on.date(), plan_id=plan, reason=reason, author=author),
                 as_json)


@change_app.command("quota")
def change_quota(
    entity: Annotated[str, typer.Argument(help="Rep id (or territory/region id with --entity-type).")],
    period: PeriodOpt, amount: Annotated[float, typer.Option(help="The quota amount.")],
    entity_type: Annotated[str, typer.Option(help="rep, territory, region, segment or company.")] = "rep",
    on: Annotated[datetime | None, typer.Option("--on", formats=["%Y-%m-%d"],
                                                help="From this day (default: the whole period).")] = None,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main", reason: ReasonOpt = None, author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Override a quota (the derived amount is kept beside it)."""
    from .planning.changes import adjust_quota

    _say_written(adjust_quota(_store(), entity, period, amount, entity_type=entity_type,
                              on=on.date() if on else None, plan_id=plan, reason=reason, author=author), as_json)


@change_app.command("assumption")
def change_assumption(
    territory: Annotated[str, typer.Argument(help="Territory id.")], on: DateArg,
    set_: Annotated[list[str], typer.Option("--set", help="field=value, e.g. --set win_rate=0.18 (repeatable).")],
    plan: Annotated[str, typer.Option(help="Plan.")] = "main", reason: ReasonOpt = None, author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change planning assumptions of a territory from a day."""
    from .planning.changes import change_assumptions

    changes = {}
    for item in set_:
        field, sep, value = item.partition("=")
        try:
            changes[field.strip()] = float(value)
        except ValueError:
            raise BadInput(f"--set {item!r} is not field=number", hint="e.g. --set win_rate=0.18") from None
        if not sep:
            raise BadInput(f"--set {item!r} is not field=number", hint="e.g. --set win_rate=0.18")
    _say_written(change_assumptions(_store(), territory, on.date(), changes, plan_id=plan, reason=reason,
                                    author=author), as_json)


@change_app.command("exclude")
def change_exclude(
    accounts: Annotated[list[str], typer.Argument(help="Account ids.")],
    why: Annotated[str, typer.Option("--why", help="The exclusion's own reason, e.g. 'declined outreach'.")],
    valid_from: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day excluded.")],
    valid_to: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"],
                                                      help="First day available again (default: open-ended).")] = None,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main", reason: ReasonOpt = None, author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Exclude accounts for a stretch of time."""
    from .planning.changes import add_exclusion

    _say_written(add_exclusion(_store(), accounts, why, valid_from.date(), valid_to.date() if valid_to else None,
                               plan_id=plan, reason=reason, author=author), as_json)


@plan_app.command("diff")
def plan_diff(
    a: Annotated[str, typer.Argument(help="A plan version id or a date/time.")],
    b: Annotated[str, typer.Argument(help="A later plan version id or date/time.")],
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    as_json: JsonOpt = False,
) -> None:
    """What changed between two plan versions: accounts moved, quota and assumption changes."""
    from .planning.history import diff

    d = diff(_store(create=False), a, b, plan_id=plan)
    if as_json:
        emit_json({
            "a": a, "b": b, "known_at_a": d["known_at_a"], "known_at_b": d["known_at_b"],
            "versions": frame_records(d["versions"]),
            "accounts_moved": frame_records(d["accounts_moved"]),
            "rep_changes": frame_records(d["rep_changes"]),
            "exclusions_added": frame_records(d["exclusions_added"]),
            "quota_changes": frame_records(d["quota_changes"]),
            "assumption_changes": frame_records(d["assumption_changes"]),
            "records": {k: {"added": len(v["added"]), "removed": len(v["removed"])} for k, v in d["changes"].items()},
        })
        return
    out.print(f"plan as known after {a} ({d['known_at_a']:%Y-%m-%d %H:%M}) → after {b} "
              f"({d['known_at_b']:%Y-%m-%d %H:%M})")
    for title, key in (("versions (who, why)", "versions"), ("accounts moved", "accounts_moved"),
                       ("rep assignments", "rep_changes"), ("exclusions added", "exclusions_added"),
                       ("quota changes", "quota_changes"), ("assumption changes", "assumption_changes")):
        df = d[key]
        if len(df):
            render_frame(df, title=f"{title} ({len(df)})")
        else:
            out.print(f"{title}: none")


@plan_app.command("history")
def plan_history(
    entity: Annotated[str, typer.Argument(help="A territory, rep or account id.")],
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    as_json: JsonOpt = False,
) -> None:
    """Every plan record naming a territory, rep or account, with who, why and when."""
    from .planning.history import history

    h = history(_store(create=False), entity, plan_id=plan)
    if as_json:
        emit_json({"entity": entity, "records": frame_records(h)})
        return
    render_frame(h[["recorded_at", "version_id", "kind", "valid_from", "valid_to", "superseded_at", "reason",
                    "author", "record"]], title=f"history of {entity}")


@plan_app.command("show")
def plan_show(
    period: PeriodOpt,
    level: Annotated[str, typer.Option(help="rep, territory, region or company.")] = "territory",
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    known_at: KnownAtOpt = None,
    weights: Annotated[str | None, typer.Option(help="Quarter seasonality weights for carried quota, e.g. 20,20,20,40.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Quotas of a period with their capacity; at rep level, the quota each rep carries where."""
    from .planning.build import period_bounds
    from .planning.quota import carried_quota

    store = _store(create=False)
    start, end = period_bounds(store, period)
    q = store.plan_records("quotas", plan_id=plan, during=(start, end), known_at=known_at)
    q = q[(q["period"] == period) & (q["entity_type"] == level)]
    if level == "rep":
        try:
            w = [float(x) for x in weights.split(",")] if weights else None
        except ValueError:
            raise BadInput(f"--weights {weights!r} is not four numbers", hint="e.g. --weights 20,20,20,40") from None
        carried = carried_quota(q, store.plan_records("rep_assignments", plan_id=plan, during=(start, end),
                                                      known_at=known_at), store.read_table("rep"), start, end,
                                quarter_weights=w)
        if as_json:
            emit_json({"period": period, "level": level, "quotas": frame_records(q), "carried": frame_records(carried)})
            return
        render_frame(carried, title=f"rep quota carried in {period}", money=("amount", "carried"))
        return
    cap = store.plan_records("territory_capacity", plan_id=plan, during=(start, end), known_at=known_at)
    cap = cap[cap["period"] == period]
    if as_json:
        emit_json({"period": period, "level": level, "quotas": frame_records(q), "capacity": frame_records(cap)})
        return
    view = q[["entity_id", "amount", "basis", "derived_amount", "valid_from", "valid_to", "version_id"]]
    if level == "territory" and len(cap):
        view = view.merge(cap[["territory_id", "effective_accounts", "planned_accounts", "capacity"]]
                          .rename(columns={"territory_id": "entity_id"}), on="entity_id", how="left")
    render_frame(view, title=f"{level} quotas {period}", money=("amount", "derived_amount", "capacity"))


@plan_app.command("versions")
def plan_versions(plan: Annotated[str | None, typer.Option(help="Only this plan.")] = None,
                  as_json: JsonOpt = False) -> None:
    """Every plan version: why, who, when. Nothing is ever overwritten."""
    store = _store(create=False)
    df = store.plan_versions(plan)
    if plan is not None and not len(df) and plan not in set(store.plans()["plan_id"]):
        from .errors import NotFound

        raise NotFound(f"there is no plan {plan!r}", hint="plans: " + (", ".join(store.plans()["plan_id"]) or "none"))
    if as_json:
        emit_json({"versions": frame_records(df)})
        return
    render_frame(df, title="plan versions")


# ---------------------------------------------------------------- calendar
@calendar_app.command("add")
def calendar_add(
    fiscal_year: Annotated[int, typer.Argument(help="Fiscal year, named by the year it ends in (e.g. 2026).")],
    start_month: Annotated[int, typer.Option(help="Month the fiscal year starts (1 = January, 10 = October).")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Add a fiscal year and its quarters as periods."""
    from .calendar import fiscal_year_periods

    periods = fiscal_year_periods(fiscal_year, start_month)
    res = _store().add_periods(periods)
    if as_json:
        emit_json({"periods": frame_records(periods), "inserted": res.inserted})
        return
    out.print(f"FY{fiscal_year}: {res.inserted} period(s) added, {res.unchanged} already there")


@calendar_app.command("show")
def calendar_show(as_json: JsonOpt = False) -> None:
    """List the periods."""
    df = _store(create=False).read_table("period")
    if as_json:
        emit_json({"periods": frame_records(df)})
        return
    render_frame(df, title="periods")


# ---------------------------------------------------------------- db
@db_app.command("status")
def db_status(as_json: JsonOpt = False) -> None:
    """Schema version of the store and of this plancast."""
    from .store import migrations

    s = _store(upgrade=False)
    info = {"db": s.db, "engine": s.dialect, "schema_version": s.version(), "head": migrations.HEAD}
    if as_json:
        emit_json(info)
        return
    out.print(f"{info['db']} ({info['engine']}): schema version {info['schema_version']} of {info['head']}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the store to this plancast's schema (stores are also upgraded when opened)."""
    s = _store(upgrade=False)
    done = s.upgrade()
    out.print("already current" if not done else "applied: " + "; ".join(f"{m.version} {m.name}" for m in done))


# ---------------------------------------------------------------- forecast
@forecast_app.callback(invoke_without_command=True)
def forecast_cmd(
    ctx: typer.Context,
    as_of: Annotated[datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Project as of this day.")] = None,
    period: Annotated[str | None, typer.Option("--period", help="A period id, e.g. 2026Q2 or FY2026.")] = None,
    method: Annotated[str, typer.Option(help="fast (semi-analytic) or monte_carlo.")] = "fast",
    sims: Annotated[int, typer.Option(help="Simulations for --method monte_carlo.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (reproducible runs).")] = 2026,
    level: Annotated[str, typer.Option(help="Level to show: rep, territory, region, segment, company.")] = "region",
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    known_at: KnownAtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Project attainment for a period as of a day (stored as a forecast run)."""
    if ctx.invoked_subcommand is not None:
        return
    if as_of is None or period is None:
        raise BadInput("plancast forecast needs --as-of DATE and --period P",
                       hint="e.g. plancast forecast --as-of 2026-05-15 --period 2026Q2")
    from .forecast.run import LEVELS

    if level not in LEVELS:
        raise BadInput(f"--level {level!r} is not a level", hint="use one of: " + ", ".join(LEVELS))
    if method == "monte_carlo" and sims < 1:
        raise BadInput(f"--sims {sims} is not a positive number of simulations", hint="e.g. --sims 10000")
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .forecast.run import project

    store = _store(create=False)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                  transient=True, disable=as_json or not err.is_terminal) as progress:
        progress.add_task(f"forecasting {period} as of {as_of:%Y-%m-%d}", total=None)
        p = project(store, period, as_of.date(), plan_id=plan, known_at=known_at, method=method, sims=sims,
                    seed=seed)
    if as_json:
        emit_json({"run_id": p.run_id, "period": period, "as_of": p.as_of, "method": method,
                   "sigma_factor": round(p.sigma, 4), "notes": p.notes,
                   "rows": frame_records(p.results.round({**dict.fromkeys(MONEY_COLUMNS, 2), "prob_quota": 4}))})
        return
    r = p.results[p.results["level"] == level]
    pct = lambda c: (r[c] / r["quota"].where(r["quota"] > 0) * 100).round(1)  # noqa: E731 (no quota: blank)
    if (r["quota"].fillna(0) > 0).any():
        view = pd.DataFrame({level: r["entity_id"], "quota": r["quota"], "won %": pct("closed_won"),
                             "proj. %": pct("mean"), "P10 %": pct("p10"), "P50 %": pct("p50"), "P90 %": pct("p90"),
                             "plan %": pct("plan_expected"), "plan by now %": pct("plan_expected_to_date"),
                             "P(quota)": r["prob_quota"].round(3)})
        render_frame(view, title=f"{period} as of {as_of:%Y-%m-%d}: attainment of quota (run {p.run_id}, "
                                 f"shared factor sd {p.sigma:.2f})", money=("quota",))
    else:  # no quotas: the amounts
        view = pd.DataFrame({level: r["entity_id"], "won": r["closed_won"], "projected": r["mean"], "P10": r["p10"],
                             "P50": r["p50"], "P90": r["p90"]})
        render_frame(view, title=f"{period} as of {as_of:%Y-%m-%d}: projected closed-won, no quotas (run "
                                 f"{p.run_id}, shared factor sd {p.sigma:.2f})",
                     money=("won", "projected", "P10", "P50", "P90"))
    from .diagnose.labels import entity_label
    from .diagnose.run import _names

    names = _names(store)
    for _, x in r.iterrows():
        if x["quota"] > 0:
            out.print(f"{entity_label(level, x['entity_id'], names)}: pipeline implies {x['mean'] / x['quota']:.0%} "
                      f"(P10–P90 {x['p10'] / x['quota']:.0%}–{x['p90'] / x['quota']:.0%}) vs the "
                      f"{x['plan_expected'] / x['quota']:.0%} the plan expected", soft_wrap=True)
    for n in p.notes:
        err.print(f"[yellow]note:[/] {escape(n)}", soft_wrap=True)


@forecast_app.command("explain")
def forecast_explain(
    run: Annotated[int | None, typer.Option(help="Forecast run id (default: the latest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The fitted parameters behind a stored forecast run."""
    store = _store(create=False)
    runs = store.forecast_runs()
    if not len(runs):
        raise NotFound("no forecast runs in the store", hint="run plancast forecast --as-of DATE --period P first")
    row = runs.iloc[-1] if run is None else runs[runs["run_id"] == run].iloc[0] if (runs["run_id"] == run).any() \
        else None
    if row is None:
        raise NotFound(f"there is no forecast run {run}", hint="runs: " + ", ".join(map(str, runs["run_id"])))
    params = json.loads(row["params"] or "{}")
    if as_json:
        emit_json({"run_id": int(row["run_id"]), "as_of": row["as_of"], "period": row["period"],
                   "method": row["method"], "params": params})
        return
    out.print(f"run {int(row['run_id'])}: {row['period']} as of {pd.Timestamp(row['as_of']):%Y-%m-%d}, "
              f"{row['method']}; shared factor sd {params.get('sigma_factor', 0):.3f}; "
              f"{params.get('open_deals', 0)} open deals, {params.get('window_days', 0)} days left")
    cal = params.get("calibration", {})
    for key in ("win_rate", "creation_rate", "deal_size"):
        rows = cal.get(key) or []
        if rows:
            render_frame(pd.DataFrame(rows).head(40), title=key.replace("_", " "))


@app.command("backtest")
def backtest_cmd(
    periods: Annotated[str, typer.Option("--periods", help="Finished periods, comma-separated, e.g. 2025Q3,2025Q4.")],
    step_days: Annotated[int, typer.Option(help="Days between replayed as-of dates.")] = 7,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    as_json: JsonOpt = False,
) -> None:
    """Replay the forecast as of past dates; error, bias and P10–P90 coverage per level, beside the
    stage-weighted pipeline."""
    from rich.progress import Progress

    from .forecast.backtest import backtest

    if not [p for p in periods.split(",") if p.strip()]:
        raise BadInput("--periods names no period", hint="e.g. --periods 2025Q3,2025Q4")
    store = _store(create=False)
    with Progress(console=err, transient=True, disable=as_json or not err.is_terminal) as progress:
        task = progress.add_task("backtest", total=None)
        detail, summary = backtest(store, [p.strip() for p in periods.split(",") if p.strip()], step_days=step_days,
                                   plan_id=plan, step=lambda m, i, n: progress.update(task, description=m,
                                                                                     completed=i, total=n))
    if as_json:
        emit_json({"summary": frame_records(summary), "detail": frame_records(detail)})
        return
    render_frame(summary, title=f"backtest {periods} every {step_days} days")


# ---------------------------------------------------------------- diagnose and report
def _diagnosis(as_of: datetime, period: str, plan: str, known_at: datetime | None, run: int | None,
               window_days: int, quiet: bool) -> Any:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .diagnose import diagnose

    store = _store(create=False)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                  transient=True, disable=quiet or not err.is_terminal) as progress:
        progress.add_task(f"diagnosing {period} as of {as_of:%Y-%m-%d}", total=None)
        return diagnose(store, period, as_of.date(), plan_id=plan, known_at=known_at, run_id=run,
                        window_days=window_days)


AsOfOpt = Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Diagnose as of this day.")]
RunOpt = Annotated[int | None, typer.Option("--run", help="Forecast run to diagnose (default: the latest for "
                                                          "the period and day; one is made if there is none).")]
AsKnownAtOpt = Annotated[datetime | None, typer.Option(
    "--as-known-at", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"],
    help="The plan as it was known at this time: reproduces a past diagnosis.")]
WindowOpt = Annotated[int, typer.Option("--window-days", help="Trailing days the achieved rates are measured over.")]


@app.command("diagnose")
def diagnose_cmd(
    as_of: AsOfOpt,
    period: PeriodOpt,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    as_known_at: AsKnownAtOpt = None,
    run: RunOpt = None,
    window_days: WindowOpt = 365,
    reps: Annotated[bool, typer.Option("--reps/--no-reps", help="Show the per-rep table.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Split each entity's gap to quota into stretch, planning variance and execution variance
    (also stored: the attainment_variance view)."""
    from .diagnose.render import render_diagnosis

    d = _diagnosis(as_of, period, plan, as_known_at, run, window_days, as_json).to_dict()
    if as_json:
        emit_json(d)
        return
    render_diagnosis(d, out, reps=reps)
    out.print(f"stored as diagnosis {d['diagnosis_id']}: SELECT * FROM attainment_variance "
              f"WHERE diagnosis_id = {d['diagnosis_id']}", soft_wrap=True)


def _writable(path: Path, suffixes: tuple[str, ...], opt: str) -> None:
    """Refuse an output path before any work is done (nothing is stored for a report that cannot be written)."""
    if path.suffix.lower() not in suffixes:
        raise BadInput(f"{opt} {path}: the file name should end in {' or '.join(suffixes)}",
                       hint=f"e.g. {opt} {path.with_suffix(suffixes[0]).name}")
    if path.is_dir():
        raise BadInput(f"{opt} {path} is a directory", hint=f"give a file name, e.g. {opt} {path / ('report' + suffixes[0])}")
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise BadInput(f"{opt} {path}: the folder {parent} does not exist", hint="create it first, or write elsewhere")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadInput(f"{opt} {path}: not allowed to write there", hint="choose a folder you can write to")


@app.command("report")
def report_cmd(
    as_of: AsOfOpt,
    period: PeriodOpt,
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="Write the same tables as an Excel workbook here.")] = None,
    plan: Annotated[str, typer.Option(help="Plan.")] = "main",
    as_known_at: AsKnownAtOpt = None,
    run: RunOpt = None,
    window_days: WindowOpt = 365,
    as_json: JsonOpt = False,
) -> None:
    """A report people can share: variance table, fan chart, waterfalls and flags (HTML and/or XLSX)."""
    if html is None and xlsx is None:
        raise BadInput("plancast report needs --html FILE and/or --xlsx FILE",
                       hint="e.g. plancast report --as-of 2026-05-15 --period 2026Q2 --html west.html")
    for path, suffixes, opt in ((html, (".html", ".htm"), "--html"), (xlsx, (".xlsx",), "--xlsx")):
        if path is not None:
            _writable(path, suffixes, opt)
    from .report import render_html, render_xlsx

    d = _diagnosis(as_of, period, plan, as_known_at, run, window_days, as_json).to_dict()
    written = []
    if html is not None:
        written.append(str(render_html(d, html)))
    if xlsx is not None:
        written.append(str(render_xlsx(d, xlsx)))
    if as_json:
        emit_json({"diagnosis_id": d["diagnosis_id"], "written": written})
        return
    for w in written:
        out.print(f"wrote {w}")


# ---------------------------------------------------------------- demo
@app.command()
def demo(
    seed: Annotated[int | None, typer.Option(help="Random seed of the scenario (default: the reference seed).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the worked scenario (East / Central / West) into the store and review it."""
    from rich.progress import Progress

    from .demo import DEFAULT_SEED
    from .scenario import load_demo, review

    store = _store()
    with Progress(console=err, transient=True, disable=as_json or not err.is_terminal) as progress:
        task = progress.add_task("building the worked scenario", total=None)
        load_demo(store, seed=DEFAULT_SEED if seed is None else seed, step=lambda m, n, total: progress.update(task, description=m, completed=n,
                                                                              total=total))
    rev = review(store)
    if as_json:
        emit_json(rev)
        return
    from .scenario import render_review

    render_review(rev, out)


# ---------------------------------------------------------------- errors
#: problems printed for a refused input (all of them are in --json)
MAX_PROBLEMS_SHOWN = 10


def _wants_json(argv: list[str]) -> bool:
    return "--json" in argv


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _run(argv)
    finally:
        while state.opened:
            state.opened.pop().close()


def _run(argv: list[str]) -> None:
    try:
        app(args=argv, standalone_mode=False)
    except PlancastError as e:
        if _wants_json(argv):
            emit_json(e.to_dict())
        else:
            err.print(f"[bold red]error:[/] {escape(e.message)}", soft_wrap=True)
            problems = list(getattr(e, "problems", []))
            # a long list arrives capped, its last entry counting the rest ("… and N more problems")
            capped = re.fullmatch(r"… and (\d+) more problems?", problems[-1].message) if problems else None
            listed = problems[:-1] if capped else problems
            for p in listed[:MAX_PROBLEMS_SHOWN]:
                err.print(f"  {p}", markup=False, soft_wrap=True)
            hidden = max(len(listed) - MAX_PROBLEMS_SHOWN, 0) + (int(capped.group(1)) if capped else 0)
            if hidden:
                which = f"the first {len(listed)}" if capped else "every one"
                err.print(f"  … and {hidden:,} more (--json lists {which})", markup=False, soft_wrap=True)
            if e.hint:
                err.print(f"[dim]what to do:[/] {escape(e.hint)}", soft_wrap=True)
        raise SystemExit(2 if isinstance(e, BadInput | HistoryViolation | NotFound) else 1) from None
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except typer.Abort:
        err.print("aborted")
        raise SystemExit(1) from None
    except typer.TyperException as e:  # usage errors: unknown option, missing argument, a malformed date …
        if _wants_json(argv) and hasattr(e, "format_message"):
            ctx, names = getattr(e, "ctx", None), []
            while ctx is not None and ctx.parent is not None:
                names.insert(0, ctx.info_name)
                ctx = ctx.parent
            emit_json({"error": "UsageError", "message": e.format_message(),
                       "hint": f"see {' '.join(['plancast', *names])} --help"})
        else:
            show = getattr(e, "show", None)
            if show is not None:
                show()
        raise SystemExit(getattr(e, "exit_code", 2)) from None
