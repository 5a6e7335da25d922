"""What the plan expected by a date: the plan's own capacity, paced day by day.

The plan expects each territory to close, on each day *d* of the period,
``planned_accounts × r × w × ASP × ramp / 365`` (its assumptions in force that
day; docs/methodology.md §4). A rep's share of that is its share of the
territory on that day. Summed to the as-of date this is *expected closed to
date*; summed over the period, *expected final*. Together with the quota this
gives "pipeline implies 71 % against the 85 % the plan expected".
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..planning.capacity import DAYS_PER_YEAR, _daily, _day_index, _grid_add

if TYPE_CHECKING:
    from ..store import Store


def plan_pacing(assumptions: pd.DataFrame, rep_assignments: pd.DataFrame, start: date, end: date,
                as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(territories, reps) frames with ``plan_expected_to_date`` and ``plan_expected``."""
    S = pd.Timestamp(start)
    L = int((pd.Timestamp(end) - S) / pd.Timedelta(days=1))
    k = int(np.clip((pd.Timestamp(as_of) - S) / pd.Timedelta(days=1) + 1, 0, L))  # days up to and including as_of
    terr = pd.Index(pd.concat([assumptions["territory_id"], rep_assignments["territory_id"]]).astype(str).unique())
    a = assumptions
    rate = (pd.to_numeric(a["planned_accounts"]) * pd.to_numeric(a["opp_rate"]) * pd.to_numeric(a["win_rate"])
            * pd.to_numeric(a["asp"]) * pd.to_numeric(a["ramp"]).fillna(1.0)).to_numpy() / DAYS_PER_YEAR
    grid = np.zeros((len(terr), L + 1))
    _grid_add(grid, terr.get_indexer(a["territory_id"].astype(str)), _day_index(a["valid_from"], S, fill=0),
              _day_index(a["valid_to"], S, fill=L), rate)
    daily = _daily(grid)
    cum = np.concatenate([np.zeros((len(terr), 1)), np.cumsum(daily, axis=1)], axis=1)
    t_out = pd.DataFrame({"territory_id": terr, "plan_expected_to_date": cum[:, k], "plan_expected": cum[:, L]})
    r = rep_assignments
    row = terr.get_indexer(r["territory_id"].astype(str))
    ra = np.clip(_day_index(r["valid_from"], S, fill=0), 0, L)
    rb = np.clip(_day_index(r["valid_to"], S, fill=L), 0, L)
    share = pd.to_numeric(r["share"]).fillna(1.0).to_numpy()
    to_date = share * (cum[row, np.minimum(rb, k)] - cum[row, np.minimum(ra, k)])
    final = share * (cum[row, rb] - cum[row, ra])
    r_out = pd.DataFrame({"rep_id": r["rep_id"].astype(str).to_numpy(), "territory_id": terr[row],
                          "plan_expected_to_date": to_date, "plan_expected": final})
    r_out = r_out.groupby(["rep_id", "territory_id"], as_index=False).sum()
    return t_out, r_out


def plan_basis(store: Store, period: str, start: date, end: date, *, plan_id: str,
               known_at: datetime | None) -> pd.DataFrame:
    """The assumptions the plan's expectation rests on, per territory and stretch of days.

    Where ``plancast plan build`` derived the period's capacity (``territory_capacity``
    records), the plan expected that capacity — its effective accounts, rates, coverage
    and cycle as the plan saw them — so those records stand in for the assumptions:
    ``planned_accounts`` = the record's effective accounts, the rates as recorded, and
    ``ramp`` = capacity ÷ (effective accounts × r × w × ASP × days/365) (coverage,
    attrition and cycle lag). A record of the period itself is used; else one of a
    longer period covering it (its capacity spread evenly over its days). Territories
    without a derived record keep their assumption records (quotas set by hand from
    planned accounts)."""
    asm = store.plan_records("planning_assumptions", plan_id=plan_id, during=(start, end), known_at=known_at)
    cap = store.plan_records("territory_capacity", plan_id=plan_id, during=(start, end), known_at=known_at)
    if not len(cap):
        return asm
    cap = cap.assign(days=(cap["valid_to"] - cap["valid_from"]).dt.days.clip(lower=1))
    own = cap[cap["period"].astype(str) == period]
    longer = cap[(cap["period"].astype(str) != period) & ~cap["territory_id"].isin(own["territory_id"])]
    longer = longer.sort_values("days").drop_duplicates(["territory_id", "valid_from"])  # the shortest covering
    use = pd.concat([own, longer], ignore_index=True)
    use = use[use["effective_accounts"] > 0]
    if not len(use):
        return asm
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = (use["effective_accounts"] * use["opp_rate"] * use["win_rate"] * use["asp"] * use["days"]
                / DAYS_PER_YEAR)
        ramp = np.where(unit > 0, use["capacity"] / unit, 0.0)
    extra = asm.drop_duplicates("territory_id").set_index("territory_id")
    rows = pd.DataFrame({
        "territory_id": use["territory_id"].to_numpy(), "period": use["period"].to_numpy(),
        "planned_accounts": use["effective_accounts"].to_numpy(dtype=float),
        "opp_rate": use["opp_rate"].to_numpy(dtype=float), "win_rate": use["win_rate"].to_numpy(dtype=float),
        "asp": use["asp"].to_numpy(dtype=float), "cycle_days": use["cycle_days"].to_numpy(dtype=float),
        "uplift": use["uplift"].to_numpy(dtype=float), "ramp": ramp,
        "valid_from": use["valid_from"].to_numpy(), "valid_to": use["valid_to"].to_numpy(),
    })
    for col in ("coverage_ratio", "attrition_rate", "backfill_days"):
        rows[col] = rows["territory_id"].map(extra[col]) if col in extra else np.nan
    kept = asm[~asm["territory_id"].isin(rows["territory_id"])]
    return pd.concat([kept, rows], ignore_index=True)
