"""Plan pacing: what the plan expected by a date, from its own capacity."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from plancast.forecast.pacing import plan_pacing


def test_pacing_by_days_with_a_mid_period_change_and_a_rep_leaving():
    # $365/day territory (planned 1 account x 3.65 x 1 x $100), win rate halves from 2026-05-01
    a = pd.DataFrame({"territory_id": ["T", "T"], "planned_accounts": [1.0, 1.0], "opp_rate": [3.65, 3.65],
                      "win_rate": [1.0, 0.5], "asp": [100.0, 100.0], "ramp": [1.0, 1.0],
                      "valid_from": pd.to_datetime(["2026-01-01", "2026-05-01"]),
                      "valid_to": pd.to_datetime(["2026-05-01", "2027-01-01"])})
    ra = pd.DataFrame({"rep_id": ["A", "B"], "territory_id": ["T", "T"], "share": [0.5, 0.5],
                       "valid_from": pd.to_datetime(["2025-01-01", "2025-01-01"]),
                       "valid_to": [pd.NaT, pd.Timestamp("2026-05-08")]})
    t, r = plan_pacing(a, ra, date(2026, 4, 1), date(2026, 7, 1), date(2026, 5, 15))
    # April: 30 days at $1; May 1-15: 15 days at $0.50; May 16 - June 30: 46 days at $0.50
    assert t["plan_expected_to_date"].item() == pytest.approx(30 + 7.5)
    assert t["plan_expected"].item() == pytest.approx(30 + 7.5 + 23)
    reps = r.set_index("rep_id")
    assert reps.loc["A", "plan_expected"] == pytest.approx(0.5 * 60.5)
    # B leaves on 8 May: April and May 1-7 at half share
    assert reps.loc["B", "plan_expected"] == pytest.approx(0.5 * (30 + 7 * 0.5))
    assert reps.loc["B", "plan_expected_to_date"] == reps.loc["B", "plan_expected"]
