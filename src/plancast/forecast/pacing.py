"""What the plan expected by a date: the plan's own capacity, paced day by day.

The plan expects each territory to close, on each day *d* of the period,
``planned_accounts × r × w × ASP × ramp / 365`` (its assumptions in force that
day; docs/methodology.md §4). A rep's share of that is its share of the
territory on that day. Summed to the as-of date this is *expected closed to
date*; summed over the period, *expected final*. Together with the quota this
gives "pipeline implies 71 % against the 85 % the plan expected".
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ..planning.capacity import DAYS_PER_YEAR, _daily, _day_index, _grid_add


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
