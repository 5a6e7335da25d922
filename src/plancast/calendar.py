"""Fiscal calendars: years and quarters as periods.

A fiscal year is named by the calendar year in which it *ends* (the usual
convention: with fiscal years starting in October, FY2026 runs from
2025-10-01 to 2026-09-30). Period ids: ``FY2026`` for the year and
``2026Q1`` … ``2026Q4`` for its quarters. Every period is half-open:
``[start_date, end_date)``.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

from .errors import BadInput

_FY = re.compile(r"^FY(\d{4})$")
_Q = re.compile(r"^(\d{4})Q([1-4])$")


def _add_months(d: date, months: int) -> date:
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1)


def fiscal_year_periods(fiscal_year: int, start_month: int = 1) -> pd.DataFrame:
    """The year and its four quarters as a frame of the ``period`` table."""
    if not 1 <= start_month <= 12:
        raise BadInput(f"fiscal year start month {start_month} is not a month", hint="give 1 (January) to 12")
    if not 1900 <= fiscal_year <= 2200:
        raise BadInput(f"fiscal year {fiscal_year} is out of range", hint="give a year such as 2026")
    start = date(fiscal_year if start_month == 1 else fiscal_year - 1, start_month, 1)
    rows = [(f"FY{fiscal_year}", "year", fiscal_year, start, _add_months(start, 12))]
    for q in range(4):
        rows.append((f"{fiscal_year}Q{q + 1}", "quarter", fiscal_year, _add_months(start, 3 * q),
                     _add_months(start, 3 * q + 3)))
    df = pd.DataFrame(rows, columns=["period_id", "period_type", "fiscal_year", "start_date", "end_date"])
    df["start_date"] = pd.to_datetime(df["start_date"])
    df["end_date"] = pd.to_datetime(df["end_date"])
    return df


def parse_period_id(period_id: str) -> tuple[str, int, int | None]:
    """``FY2026`` → ("year", 2026, None); ``2026Q2`` → ("quarter", 2026, 2)."""
    p = period_id.strip().upper()
    if m := _FY.match(p):
        return "year", int(m.group(1)), None
    if m := _Q.match(p):
        return "quarter", int(m.group(1)), int(m.group(2))
    raise BadInput(f"{period_id!r} is not a period id", hint="use FY2026 for a fiscal year or 2026Q2 for a quarter")
