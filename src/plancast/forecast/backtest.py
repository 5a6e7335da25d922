"""Backtests: replay the projection as of past dates and score it against what closed.

For each past period and each as-of date in it (weekly by default), the
projection is run with only what was known on that date (the calibration reads
history up to it). It is scored against the amount that actually closed won in
the period, per level: absolute percentage error (MAPE), bias (mean signed
error / actual) and interval coverage (share of actuals inside P10–P90). The
plain *stage-weighted pipeline* is scored on the same dates: closed-won so far
+ Σ amount × the stage's CRM probability over open deals whose expected close
date falls inside the period.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ..errors import BadInput
from ..planning.build import period_bounds
from ..store import DEFAULT_PLAN, Store
from .run import project

Step = Callable[[str, int, int], None]


def _actuals(store: Store, start: date, end: date, org: pd.DataFrame) -> pd.Series:
    """Won amount closed in [start, end) per rep, as the store knows it now."""
    o = store.read_table("opportunity")
    won = o[o["is_won"].fillna(False).astype(bool) & (o["close_date"] >= pd.Timestamp(start))
            & (o["close_date"] < pd.Timestamp(end))]
    return won.groupby(won["owner_id"].astype(str))["amount"].sum()


def _stage_weighted(store: Store, start: date, end: date, as_of: date) -> pd.Series:
    """closed-won so far + Σ amount × stage probability of open deals expected to close in the period,
    per rep, as known on ``as_of`` (stage, amount and close date from history).

    A deal without history rows by ``as_of`` is closed (won) then if its own flags say so and it closed
    by ``as_of``. If it was still open, its stored stage and close date are what it shows *now*: they
    count only if it is still open now (its current stage and expected close); a deal that closed
    later shows where it closed, which was not known on ``as_of``, so it adds nothing."""
    o = store.read_table("opportunity")
    h = store.read_table("opportunity_history")
    prob = store.read_table("stage").set_index("stage")["probability"].fillna(0.0)
    cut = pd.Timestamp(as_of)
    h = h[h["changed_at"] <= cut].sort_values(["opportunity_id", "changed_at"])
    last = h.groupby("opportunity_id").tail(1).set_index("opportunity_id")
    o = o[o["created_date"] <= cut].set_index("opportunity_id")
    stage = last["stage"].reindex(o.index).fillna(o["stage"])
    amount = last["amount"].reindex(o.index).fillna(o["amount"])
    close = last["close_date"].reindex(o.index).fillna(o["close_date"])
    flags = store.read_table("stage").set_index("stage")
    closed = stage.map(flags["is_closed"]).fillna(False).astype(bool)
    won = stage.map(flags["is_won"]).fillna(False).astype(bool)
    known = pd.Series(o.index.isin(last.index), index=o.index)
    o_closed = o["is_closed"].fillna(False).astype(bool)
    by_then = o_closed & (o["close_date"] <= cut)
    closed = closed.where(known, by_then)
    won = won.where(known, by_then & o["is_won"].fillna(False).astype(bool))
    # open on as_of but closed since, without history: where it stood on as_of is not in the store
    unknown = ~known & o_closed & ~by_then
    in_period = (close >= pd.Timestamp(start)) & (close < pd.Timestamp(end))
    so_far = (won & closed & in_period & (close <= cut)) * amount
    weighted = (~closed & ~unknown & in_period) * amount * stage.map(prob).fillna(0.0)
    return (so_far + weighted).groupby(o["owner_id"].astype(str)).sum()


def backtest(
    store: Store,
    periods: Sequence[str],
    *,
    step_days: int = 7,
    plan_id: str = DEFAULT_PLAN,
    step: Step | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-date results, summary per level and method)."""
    if step_days < 1:
        raise BadInput(f"--step-days {step_days} is not a positive number of days", hint="e.g. --step-days 7")
    opps = store.read_table("opportunity")
    last_data = pd.Series([pd.to_datetime(store.read_table("opportunity_history")["changed_at"]).max(),
                           pd.to_datetime(opps["created_date"]).max(), pd.to_datetime(opps["close_date"]).max()]).max()
    jobs: list[tuple[str, date, date, date]] = []
    for period in periods:
        start, end = period_bounds(store, period)
        if pd.isna(last_data):
            raise BadInput("the store has no opportunities to backtest against",
                           hint="import opportunities first (plancast import opportunities FILE)")
        if pd.Timestamp(end) > last_data + pd.Timedelta(days=1):
            raise BadInput(f"{period} has not ended in the data (last change {last_data:%Y-%m-%d}); "
                           "a backtest needs a finished period", hint="choose periods that ended before the data")
        d = start + timedelta(days=step_days - 1)
        while d < end - timedelta(days=1):
            jobs.append((period, start, end, d))
            d += timedelta(days=step_days)
    rows = []
    for i, (period, start, end, as_of) in enumerate(jobs):
        if step:
            step(f"{period} as of {as_of}", i, len(jobs))
        p = project(store, period, as_of, plan_id=plan_id, write=False)
        reps = p.results[p.results["level"] == "rep"][["entity_id", "mean", "p10", "p90"]]
        org = store.plan_records("rep_assignments", plan_id=plan_id, valid_on=as_of)
        org = org.sort_values("share", ascending=False).drop_duplicates("rep_id")
        terr = store.read_table("territory").set_index("territory_id")
        region_of = org.set_index("rep_id")["territory_id"].map(terr["region_id"])
        actual = _actuals(store, start, end, org).reindex(reps["entity_id"]).fillna(0.0).to_numpy()
        naive = _stage_weighted(store, start, end, as_of).reindex(reps["entity_id"]).fillna(0.0).to_numpy()
        base = pd.DataFrame({"rep": reps["entity_id"].to_numpy(),
                             "region": region_of.reindex(reps["entity_id"]).to_numpy(),
                             "actual": actual, "stage_weighted": naive})
        full = p.results.set_index(["level", "entity_id"])
        for level, key in (("rep", "rep"), ("region", "region"), ("company", None)):
            g = base.groupby(key if key else np.zeros(len(base), dtype=int))[["actual", "stage_weighted"]].sum()
            ids = g.index.astype(str) if key else pd.Index(["company"])
            fc = full.loc[level].reindex(ids)
            rows.append(pd.DataFrame({
                "period": period, "as_of": pd.Timestamp(as_of), "level": level, "entity_id": ids,
                "actual": g["actual"].to_numpy(), "forecast": fc["mean"].to_numpy(), "p10": fc["p10"].to_numpy(),
                "p90": fc["p90"].to_numpy(), "stage_weighted": g["stage_weighted"].to_numpy(),
            }))
    detail = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return detail, summarize_backtest(detail)


def summarize_backtest(detail: pd.DataFrame) -> pd.DataFrame:
    if not len(detail):
        return pd.DataFrame()
    d = detail[detail["actual"] > 0].copy()
    out = []
    for method, col in (("plancast", "forecast"), ("stage_weighted", "stage_weighted")):
        err = (d[col] - d["actual"]) / d["actual"]
        g = pd.DataFrame({"level": d["level"], "ape": err.abs(), "bias": err})
        if method == "plancast":
            g["covered"] = ((d["actual"] >= d["p10"]) & (d["actual"] <= d["p90"])).astype(float)
        s = g.groupby("level").agg(mape=("ape", "mean"), bias=("bias", "mean"), n=("ape", "size"))
        s["coverage_p10_p90"] = g.groupby("level")["covered"].mean() if method == "plancast" else np.nan
        s.insert(0, "method", method)
        out.append(s.reset_index())
    return pd.concat(out, ignore_index=True).sort_values(["level", "method"]).reset_index(drop=True)
