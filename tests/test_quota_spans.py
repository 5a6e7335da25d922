"""Quota over periods that span versions: the issue's three examples, by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from plancast.calendar import fiscal_year_periods
from plancast.planning.quota import OPEN, carried_quota, day_weights


def _q(rep, amount, start, end):
    return pd.DataFrame({"entity_type": ["rep"], "entity_id": [rep], "period": ["FY"], "amount": [amount],
                         "valid_from": [pd.Timestamp(start)], "valid_to": [pd.Timestamp(end)]})


def _ra(rows):
    return pd.DataFrame([(r, t, 1.0, pd.Timestamp(f), pd.Timestamp(to) if to else pd.NaT) for r, t, f, to in rows],
                        columns=["rep_id", "territory_id", "share", "valid_from", "valid_to"])


def _reps(rows):
    return pd.DataFrame([(r, pd.Timestamp(h), pd.Timestamp(d) if d else pd.NaT) for r, h, d in rows],
                        columns=["rep_id", "hire_date", "departure_date"])


def test_rep_starting_1_march_with_seasonality_carries_86667():
    # 20/20/20/40: 0.2 x 1/3 (March of Q1) + 0.2 + 0.2 + 0.4 = 0.866667 of $100,000
    got = carried_quota(_q("R", 100_000, "2026-01-01", "2027-01-01"), _ra([("R", "T", "2026-03-01", None)]),
                        _reps([("R", "2026-03-01", None)]), date(2026, 1, 1), date(2027, 1, 1),
                        quarter_weights=[20, 20, 20, 40])
    assert got["carried"].sum() == pytest.approx(86_666.67, abs=0.005)
    # time-weighted by days instead: 306 of 365 days
    plain = carried_quota(_q("R", 100_000, "2026-01-01", "2027-01-01"), _ra([("R", "T", "2026-03-01", None)]),
                          _reps([("R", "2026-03-01", None)]), date(2026, 1, 1), date(2027, 1, 1))
    assert plain["carried"].sum() == pytest.approx(round(100_000 * 306 / 365, 2), abs=0.005)


def test_rep_moving_in_april_splits_an_october_fiscal_year():
    fy = fiscal_year_periods(2026, start_month=10).set_index("period_id")
    start, end = fy.loc["FY2026", "start_date"].date(), fy.loc["FY2026", "end_date"].date()
    assert (start, end) == (date(2025, 10, 1), date(2026, 10, 1))
    got = carried_quota(_q("R", 100_000, start, end),
                        _ra([("R", "OLD", "2024-01-01", "2026-04-01"), ("R", "NEW", "2026-04-01", None)]),
                        _reps([("R", "2020-01-01", None)]), start, end)
    by = got.set_index("territory_id")["carried"]
    # October–March is 182 days, April–September 183
    assert by["OLD"] == pytest.approx(round(100_000 * 182 / 365, 2), abs=0.005)
    assert by["NEW"] == pytest.approx(round(100_000 * 183 / 365, 2), abs=0.005)
    assert round(by.sum() * 100) == 100_000 * 100


def test_departed_reps_quota_stops_and_the_open_seat_starts():
    # the departure ends the rep's assignment on 2026-07-01
    got = carried_quota(_q("R", 100_000, "2026-01-01", "2027-01-01"),
                        _ra([("R", "T", "2024-01-01", "2026-07-01")]),
                        _reps([("R", "2020-01-01", None)]), date(2026, 1, 1), date(2027, 1, 1))
    by = got.set_index("rep_id")
    assert by.loc["R", "carried"] == pytest.approx(round(100_000 * 181 / 365, 2), abs=0.005)
    assert by.loc[OPEN, "carried"] == pytest.approx(round(100_000 * 184 / 365, 2), abs=0.005)
    assert by.loc[OPEN, "territory_id"] == "T"
    assert by.loc[OPEN, "valid_from"] == pd.Timestamp("2026-07-01")


def test_mid_year_quota_adjustment_is_time_weighted():
    q = pd.concat([_q("R", 100_000, "2026-01-01", "2026-07-01"), _q("R", 120_000, "2026-07-01", "2027-01-01")])
    got = carried_quota(q, _ra([("R", "T", "2024-01-01", None)]), _reps([("R", "2020-01-01", None)]),
                        date(2026, 1, 1), date(2027, 1, 1))
    assert got["carried"].sum() == pytest.approx(round(100_000 * 181 / 365, 2) + round(120_000 * 184 / 365, 2),
                                                 abs=0.011)


def test_day_weights_sum_to_one_over_a_year_and_refuse_bad_seasonality():
    assert day_weights(date(2026, 1, 1), date(2027, 1, 1), [1, 1, 1, 2]).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="are not four non-negative numbers"):
        day_weights(date(2026, 1, 1), date(2027, 1, 1), [1, 2, 3])


def test_derived_quotas_are_not_cut_again():
    q = _q("R", 50_000, "2026-01-01", "2027-01-01").assign(basis="derived")
    got = carried_quota(q, _ra([("R", "T", "2024-01-01", "2026-07-01")]), _reps([("R", "2020-01-01", None)]),
                        date(2026, 1, 1), date(2027, 1, 1))
    assert got["carried"].tolist() == [50_000.0] and got["rep_id"].tolist() == ["R"]
