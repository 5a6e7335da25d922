"""The store on both engines: append-only plan history, as-of reads, idempotency, all-or-nothing writes."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from plancast.errors import HistoryViolation, StoreError
from plancast.store import PLAN_TABLES, Store


def _territories() -> pd.DataFrame:
    return pd.DataFrame({
        "territory_id": ["EAST", "WEST"], "name": ["East", "West"], "region_id": ["East", "West"],
        "segment_id": ["MM", "MM"], "territory_type": ["geo", "geo"], "precedence": [0, 0],
    })


def _accounts(n: int) -> pd.DataFrame:
    df = pd.DataFrame({"account_id": [f"A{i}" for i in range(n)], "name": [f"Acct {i}" for i in range(n)]})
    for c in ["parent_account_id", "country", "state", "city", "postal_code", "industry", "size_band", "segment_id"]:
        df[c] = None
    df["employees"] = pd.array(range(n), dtype="Int64")
    df["annual_revenue"] = 1000.5
    return df


def _assign(ids: list[str], territory: str, start: str, end: str | None = None) -> pd.DataFrame:
    return pd.DataFrame({"account_id": ids, "territory_id": territory, "valid_from": pd.Timestamp(start),
                         "valid_to": pd.Timestamp(end) if end else pd.NaT})


def _seed(store: Store) -> None:
    store.write("territories", _territories(), source="t")
    store.write("accounts", _accounts(6), source="a")


def _all_plan_rows(store: Store) -> dict[str, pd.DataFrame]:
    return {t: store.read_table(t) for t in (*PLAN_TABLES, "supersession", "plan_version")}


T1, T2, T3 = datetime(2025, 12, 1), datetime(2026, 3, 20), datetime(2026, 6, 1)


def test_reference_import_is_idempotent_and_counts_changes(store):
    first = store.write("accounts", _accounts(4), source="a.csv")
    again = store.write("accounts", _accounts(4), source="a.csv")
    changed = _accounts(5)
    changed.loc[1, "name"] = "Renamed"
    third = store.write("accounts", changed, source="a.csv")
    assert (first.inserted, first.updated, first.unchanged) == (4, 0, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert (third.inserted, third.updated, third.unchanged) == (1, 1, 3)
    got = store.read_table("account")
    assert got.loc[got.account_id == "A1", "name"].item() == "Renamed"
    assert got["annual_revenue"].tolist() == [1000.5] * 5


def test_territories_create_their_regions_and_segments(store):
    store.write("territories", _territories(), source="t")
    assert store.read_table("region")["region_id"].tolist() == ["East", "West"]
    assert store.read_table("segment")["segment_id"].tolist() == ["MM"]


def test_plan_rows_are_never_changed_in_place(store):
    """Every row ever written stays exactly as written, through moves and corrections."""
    _seed(store)
    store.write("territory_assignments", _assign(["A0", "A1", "A2"], "EAST", "2026-01-01"),
                source="v1", recorded_at=T1)
    before = _all_plan_rows(store)
    store.write("territory_assignments", _assign(["A1"], "WEST", "2026-04-01"), source="move", recorded_at=T2)
    store.write("territory_assignments", _assign(["A1"], "EAST", "2026-04-01"), source="undo", recorded_at=T3)
    after = _all_plan_rows(store)
    for table, old in before.items():
        new = after[table]
        kept = new[new.iloc[:, 0].isin(old.iloc[:, 0])].reset_index(drop=True)
        pd.testing.assert_frame_equal(kept, old.reset_index(drop=True), check_dtype=False)
        assert len(new) >= len(old)
    assert len(after["supersession"]) == 2


def test_as_of_reads_reproduce_what_was_known(store):
    _seed(store)
    store.write("territory_assignments", _assign(["A0", "A1"], "EAST", "2026-01-01"), source="v1", recorded_at=T1)
    store.write("territory_assignments", _assign(["A1"], "WEST", "2026-04-01"), source="move", recorded_at=T2)

    def terr(valid_on: date, known_at: datetime | None) -> dict[str, str]:
        df = store.plan_records("territory_assignments", valid_on=valid_on, known_at=known_at)
        return dict(zip(df.account_id, df.territory_id, strict=True))

    # known now: A1 is East until April, West from April
    assert terr(date(2026, 2, 1), None) == {"A0": "EAST", "A1": "EAST"}
    assert terr(date(2026, 5, 1), None) == {"A0": "EAST", "A1": "WEST"}
    # as known before the move was recorded: East all year
    assert terr(date(2026, 5, 1), datetime(2026, 3, 1)) == {"A0": "EAST", "A1": "EAST"}
    # as known before anything was recorded: nothing
    assert terr(date(2026, 5, 1), datetime(2025, 1, 1)) == {}
    # during: both records of A1 overlap Q2 ∪ Q1
    both = store.plan_records("territory_assignments", during=(date(2026, 3, 1), date(2026, 5, 1)))
    assert sorted(both[both.account_id == "A1"].territory_id) == ["EAST", "WEST"]


def test_reimporting_plan_records_writes_no_version(store):
    _seed(store)
    a = store.write("territory_assignments", _assign(["A0", "A1"], "EAST", "2026-01-01"), source="x")
    b = store.write("territory_assignments", _assign(["A0", "A1"], "EAST", "2026-01-01"), source="x")
    assert (a.inserted, len(a.version_ids)) == (2, 1)
    assert (b.inserted, b.unchanged, b.version_ids) == (0, 2, [])
    assert len(store.plan_versions()) == 1


def test_recording_into_the_past_is_refused(store):
    _seed(store)
    store.write("territory_assignments", _assign(["A0"], "EAST", "2026-01-01"), source="x", recorded_at=T2)
    with pytest.raises(HistoryViolation, match="y: territory assignments recorded at 2025-12-01 00:00 would be earlier"):
        store.write("territory_assignments", _assign(["A1"], "EAST", "2026-01-01"), source="y", recorded_at=T1)


def test_a_failed_write_leaves_the_store_exactly_as_before(store):
    _seed(store)
    store.write("territory_assignments", _assign(["A0"], "EAST", "2026-01-01"), source="x", recorded_at=T1)
    before = {t: store.read_table(t) for t in store.counts()}
    bad_reps = pd.DataFrame({"rep_id": ["R1"], "territory_id": [None], "share": [1.0],
                             "valid_from": [pd.Timestamp("2026-01-01")], "valid_to": [pd.NaT]})
    with pytest.raises(StoreError, match="failed in the database, so nothing of it was written"):
        # the assignment is written first, then the NOT NULL territory_id of the rep assignment fails
        store.write("territory_assignments", _assign(["A1"], "WEST", "2026-04-01"), source="y",
                    recorded_at=T2, also=[("rep_assignments", bad_reps)])
    after = {t: store.read_table(t) for t in store.counts()}
    for t in before:
        pd.testing.assert_frame_equal(after[t], before[t], check_dtype=False)


def test_periods_never_move(store):
    from plancast.calendar import fiscal_year_periods

    store.add_periods(fiscal_year_periods(2026))
    moved = fiscal_year_periods(2026, start_month=10)
    with pytest.raises(HistoryViolation, match="FY2026 already exists starting 2026-01-01, not 2025-10-01"):
        store.add_periods(moved)
    with pytest.raises(HistoryViolation, match=r"FY2027 \(2026-10-01 – 2027-10-01\) overlaps FY2026"):
        store.add_periods(fiscal_year_periods(2027, start_month=10))
    assert store.periods()["2026Q2"] == (date(2026, 4, 1), date(2026, 7, 1))


def test_bad_db_argument_says_what_to_give():
    with pytest.raises(StoreError, match="neither a DuckDB file path nor a PostgreSQL URL"):
        Store("mysql://x@y/z")
    with pytest.raises(StoreError, match="folder '/nonexistent/dir' does not exist"):
        Store("/nonexistent/dir/p.duckdb")


def test_frames_built_by_concat_load_intact(store):
    """pandas string columns from concat arrive in several Arrow chunks; the bulk load must not mangle them."""
    a = _accounts(3)
    b = _accounts(5).iloc[3:]
    both = pd.concat([a, b]).astype({"name": "str", "account_id": "str"})
    store.write("accounts", both, source="concat")
    got = store.read_table("account")
    assert got["name"].tolist() == [f"Acct {i}" for i in range(5)]
