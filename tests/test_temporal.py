"""Plan-record bookkeeping: supersede and restate, never edit (pure, no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from plancast.store.temporal import plan_append

KEY = ["account_id"]
VALUES = ["territory_id"]


def _frame(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["account_id", "territory_id", "valid_from", "valid_to"])
    df["valid_from"] = pd.to_datetime(df["valid_from"])
    df["valid_to"] = pd.to_datetime(df["valid_to"])
    df["retracted"] = False
    return df


def _current(rows: list[tuple]) -> pd.DataFrame:
    df = _frame(rows)
    df.insert(0, "record_id", np.arange(1, len(df) + 1))
    return df


def test_identical_record_is_a_no_op():
    cur = _current([("A1", "EAST", "2026-01-01", None)])
    ap = plan_append(cur, _frame([("A1", "EAST", "2026-01-01", None)]), KEY, VALUES)
    assert ap.unchanged == 1 and len(ap.inserts) == 0 and len(ap.superseded) == 0


def test_move_in_april_supersedes_and_restates_january_to_march():
    cur = _current([("A1", "EAST", "2026-01-01", None), ("A2", "EAST", "2026-01-01", None)])
    ap = plan_append(cur, _frame([("A1", "WEST", "2026-04-01", None)]), KEY, VALUES)
    assert list(ap.superseded) == [1]
    assert ap.restated == 1
    got = ap.inserts.sort_values("valid_from").reset_index(drop=True)
    assert got[["territory_id"]].to_dict("list") == {"territory_id": ["EAST", "WEST"]}
    assert got["valid_from"].tolist() == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-04-01")]
    assert got["valid_to"].iloc[0] == pd.Timestamp("2026-04-01") and pd.isna(got["valid_to"].iloc[1])


def test_new_interval_inside_old_leaves_both_sides():
    cur = _current([("A1", "EAST", "2026-01-01", "2027-01-01")])
    ap = plan_append(cur, _frame([("A1", "WEST", "2026-04-01", "2026-07-01")]), KEY, VALUES)
    got = ap.inserts.sort_values("valid_from")
    assert got["territory_id"].tolist() == ["EAST", "WEST", "EAST"]
    assert got["valid_from"].dt.strftime("%m-%d").tolist() == ["01-01", "04-01", "07-01"]
    assert got["valid_to"].dt.strftime("%m-%d").tolist() == ["04-01", "07-01", "01-01"]


def test_two_new_intervals_over_one_old_leave_the_gaps():
    cur = _current([("A1", "EAST", "2026-01-01", "2027-01-01")])
    new = _frame([("A1", "WEST", "2026-02-01", "2026-03-01"), ("A1", "WEST", "2026-05-01", "2026-06-01")])
    ap = plan_append(cur, new, KEY, VALUES)
    east = ap.inserts[ap.inserts["territory_id"] == "EAST"].sort_values("valid_from")
    assert east["valid_from"].dt.strftime("%m-%d").tolist() == ["01-01", "03-01", "06-01"]
    assert east["valid_to"].dt.strftime("%m-%d").tolist() == ["02-01", "05-01", "01-01"]


def test_non_overlapping_new_record_supersedes_nothing():
    cur = _current([("A1", "EAST", "2026-01-01", "2026-04-01")])
    ap = plan_append(cur, _frame([("A1", "WEST", "2026-04-01", None)]), KEY, VALUES)
    assert len(ap.superseded) == 0 and len(ap.inserts) == 1


# ---- property: replaying appends, the timeline in force is always what was last said for each day
DAYS = pd.date_range("2026-01-01", periods=60, freq="D")


@st.composite
def _writes(draw):
    n = draw(st.integers(1, 8))
    writes = []
    for _ in range(n):
        a = draw(st.integers(0, 58))
        b = draw(st.integers(a + 1, 59))
        open_end = draw(st.booleans())
        writes.append((draw(st.sampled_from(["EAST", "WEST", "CENTRAL"])), a, None if open_end else b))
    return writes


@settings(max_examples=60, deadline=None)
@given(_writes())
def test_timeline_is_last_word_per_day(writes):
    cur = _current([])
    next_id = 1
    truth: dict[int, str] = {}
    for terr, a, b in writes:
        new = _frame([("A1", terr, DAYS[a], DAYS[b] if b is not None else None)])
        ap = plan_append(cur, new, KEY, VALUES)
        cur = cur[~cur["record_id"].isin(ap.superseded)]
        ins = ap.inserts.copy()
        ins.insert(0, "record_id", np.arange(next_id, next_id + len(ins)))
        next_id += len(ins)
        cur = pd.concat([cur, ins], ignore_index=True)
        for d in range(a, (b if b is not None else 60)):
            truth[d] = terr
    for d in range(60):
        day = DAYS[d]
        hit = cur[(cur["valid_from"] <= day) & (cur["valid_to"].isna() | (cur["valid_to"] > day))]
        assert len(hit) <= 1, f"two records in force on {day.date()}"
        got = hit["territory_id"].iloc[0] if len(hit) else None
        assert got == truth.get(d)
