"""Quota over a period that spans plan versions: who carries which part, where.

A rep's quota record for a period (e.g. $100,000 for FY2026) is carried by the
rep only for the days the rep is on the plan, in the territory the rep covers on
each day, and at the amount in force on each day (a mid-year adjustment is its
own record). The part of a day's quota is its *weight*:

* by default every day of the period weighs the same (time-weighted by days);
* with seasonality weights per quarter (e.g. 20/20/20/40), each quarter's weight
  is spread equally over its three months and each month's over its days — so a
  rep starting on 1 March carries ``0.2 × 1/3 + 0.2 + 0.2 + 0.4 = 86.67 %``.

A rep whose assignment ends (a departure) stops carrying quota that day; the
rest of the period's quota goes to the territory's *open seat* (``rep_id``
``(open)``). Quotas with basis ``derived`` (from ``plan build``) already are
what the rep carries — the capacity model counted presence, ramp and open seats
— so they are only spread over the rep's territories, never cut again.
Amounts are rounded to cents per rep record by largest remainder, so a rep's
pieces add up to what the rep carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from ..errors import BadInput
from .build import round_within_groups

OPEN = "(open)"


def day_weights(start: date, end: date, quarter_weights: Sequence[float] | None = None,
                fiscal_start: date | None = None) -> np.ndarray:
    """Weight of each day of [start, end), summing to the period's share of the fiscal year
    (1 for a whole year); without quarter weights every day of the year weighs 1/365 (or 1/366)."""
    days = pd.date_range(start, end, inclusive="left")
    fy0 = pd.Timestamp(fiscal_start or start)
    if quarter_weights is None:
        year_days = (fy0 + pd.DateOffset(years=1) - fy0).days
        return np.full(len(days), 1.0 / year_days)
    w = np.asarray(quarter_weights, dtype=np.float64)
    if w.shape != (4,) or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise BadInput(f"seasonality weights {list(quarter_weights)} are not four non-negative numbers",
                       hint="give one weight per quarter, e.g. --weights 20,20,20,40")
    w = w / w.sum()
    months = (days.year - fy0.year) * 12 + (days.month - fy0.month)
    if (months < 0).any() or (months >= 12).any():
        raise BadInput("the period is not inside one fiscal year", hint="give a year or a quarter")
    per_month = w[months // 3] / 3
    return per_month / days.days_in_month.to_numpy()


def carried_quota(
    quotas: pd.DataFrame,
    rep_assignments: pd.DataFrame,
    reps: pd.DataFrame,
    start: date,
    end: date,
    *,
    quarter_weights: Sequence[float] | None = None,
    fiscal_start: date | None = None,
) -> pd.DataFrame:
    """Pieces ``rep_id, territory_id, valid_from, valid_to, amount, weight, carried`` for rep quota
    records of one period. ``quotas`` are the rep quota records (``entity_id`` = rep) in force."""
    S, E = pd.Timestamp(start), pd.Timestamp(end)
    L = (E - S).days
    w = day_weights(start, end, quarter_weights, fiscal_start)
    cum = np.concatenate([[0.0], np.cumsum(w)])
    scale = 1.0 / cum[-1]  # the period's own quota is spread over the period's days

    def idx(s: pd.Series, fill: int) -> np.ndarray:
        d = ((pd.to_datetime(s) - S) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64)
        return np.clip(np.nan_to_num(d, nan=fill), 0, L).astype(np.int64)

    q = quotas[quotas["entity_type"] == "rep"].reset_index(drop=True)
    q = q.assign(qid=np.arange(len(q)), qa=idx(q["valid_from"], 0), qb=idx(q["valid_to"], L))
    ra = rep_assignments.assign(a=idx(rep_assignments["valid_from"], 0), b=idx(rep_assignments["valid_to"], L))
    rp = reps.set_index("rep_id")
    # presence comes from the rep's (versioned) assignments; the hire date bounds it below
    x = q.merge(ra[["rep_id", "territory_id", "share", "a", "b"]], left_on="entity_id", right_on="rep_id")
    hire = idx(rp["hire_date"].reindex(x["entity_id"]).reset_index(drop=True), 0)
    x = x.assign(pa=np.maximum.reduce([x["qa"].to_numpy(), x["a"].to_numpy(), hire]),
                 pb=np.minimum(x["qb"].to_numpy(), x["b"].to_numpy()))
    x = x[x["pb"] > x["pa"]]
    pieces = pd.DataFrame({
        "qid": x["qid"], "rep_id": x["entity_id"], "territory_id": x["territory_id"],
        "pa": x["pa"], "pb": x["pb"], "amount": x["amount"], "basis": x.get("basis", "override"),
        "weight": (cum[x["pb"]] - cum[x["pa"]]) * scale, "share": pd.to_numeric(x["share"]).fillna(1.0),
    })
    # a rep covering two territories on the same days splits by share
    tot = pieces.groupby("qid")["share"].transform("sum")
    multi = pieces.groupby("qid")["territory_id"].transform("nunique") > 1
    pieces["weight"] = np.where(multi & (tot > 0), pieces["weight"] * pieces["share"] / tot * _overlap_fix(pieces),
                                pieces["weight"])
    # the rest of a record after the rep's last assignment ends goes to that territory's open seat
    last = pieces.sort_values("pb").groupby("qid").tail(1)
    gap = last[last["pb"] < q.set_index("qid").loc[last["qid"], "qb"].to_numpy()]
    qb = q.set_index("qid").loc[gap["qid"], "qb"].to_numpy()
    open_rows = pd.DataFrame({
        "qid": gap["qid"], "rep_id": OPEN, "territory_id": gap["territory_id"], "pa": gap["pb"], "pb": qb,
        "amount": gap["amount"], "basis": gap["basis"], "weight": (cum[qb] - cum[gap["pb"].to_numpy()]) * scale,
        "share": 1.0,
    })
    pieces = pd.concat([pieces, open_rows], ignore_index=True)
    # derived quotas already are what the rep carries (the capacity model counted presence
    # and open seats): spread them over the rep's own pieces, nothing to an open seat
    derived = (pieces["basis"] == "derived").to_numpy()
    pieces = pieces[~(derived & (pieces["rep_id"] == OPEN).to_numpy())].reset_index(drop=True)
    derived = (pieces["basis"] == "derived").to_numpy()
    norm = pieces.groupby("qid")["weight"].transform("sum").to_numpy()
    pieces["weight"] = np.where(derived, pieces["weight"] / np.where(norm > 0, norm, 1.0), pieces["weight"])
    raw = pieces["amount"] * pieces["weight"]
    pieces["carried"] = round_within_groups(raw.to_numpy(), pieces["qid"].to_numpy()) / 100.0
    pieces["valid_from"] = S + pd.to_timedelta(pieces["pa"], unit="D")
    pieces["valid_to"] = S + pd.to_timedelta(pieces["pb"], unit="D")
    return pieces[["rep_id", "territory_id", "valid_from", "valid_to", "amount", "weight", "carried"]]


def _overlap_fix(pieces: pd.DataFrame) -> np.ndarray:
    # shares only split days two territories share; a rep moving (no overlap) keeps its full weight
    g = pieces.groupby("qid")
    overlapping = (g["pa"].transform("max") < g["pb"].transform("min")).to_numpy()
    tot = g["share"].transform("sum").to_numpy()
    return np.where(overlapping, 1.0, tot / pieces["share"].to_numpy())
