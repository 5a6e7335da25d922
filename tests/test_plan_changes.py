"""Mid-year changes on the worked scenario, on both engines: versioned, effective-dated, never edits."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from plancast.errors import BadInput, NotFound
from plancast.planning import changes
from plancast.planning.build import build_plan
from plancast.planning.history import diff, history
from plancast.scenario import load_demo
from plancast.store import PLAN_TABLES

DAY_RATE_WEST = 4_200_000 * 140 / 180 / 365  # West's capacity per day at full coverage


@pytest.fixture
def planned(store):
    load_demo(store)
    build_plan(store, "FY2026", reason="FY2026 plan")
    return store


def _snapshot(store):
    return {t: store.read_table(t) for t in (*PLAN_TABLES, "supersession")}


def test_changes_never_edit_and_reproduce_what_was_known(planned):
    store = planned
    before = _snapshot(store)
    t0 = datetime.now()
    changes.depart(store, "W03", date(2026, 7, 1), reason="resigned", author="Dana")
    changes.move_accounts(store, ["ACC-E-001", "ACC-E-002"], "WEST", date(2026, 4, 1), reason="rebalance")
    changes.adjust_quota(store, "W05", "FY2026", 450_000, reason="negotiated")
    changes.change_assumptions(store, "WEST", date(2026, 7, 1), {"win_rate": 0.18}, reason="mid-year review")
    after = _snapshot(store)
    for t, old in before.items():
        # every row written before is still there, every column as it was
        gone = old.merge(after[t], how="left", indicator=True).query("_merge == 'left_only'")
        assert len(gone) == 0, f"{t}: rows changed in place: {gone.head()}"
        assert len(after[t]) >= len(old)

    # departure: W03 covers West until 30 June, not after; as known before, still assigned
    ra = store.plan_records("rep_assignments", valid_on=date(2026, 8, 1))
    assert "W03" not in set(ra["rep_id"])
    assert "W03" in set(store.plan_records("rep_assignments", valid_on=date(2026, 8, 1), known_at=t0)["rep_id"])
    # the rep's reference row is not edited: the departure lives in the versioned assignments
    assert pd.isna(store.read_table("rep").set_index("rep_id").loc["W03", "departure_date"])
    # moves: East until March, West from April
    ta = lambda d: store.plan_records("territory_assignments", valid_on=d).set_index("account_id")["territory_id"]  # noqa: E731
    assert ta(date(2026, 3, 1))["ACC-E-001"] == "EAST" and ta(date(2026, 5, 1))["ACC-E-001"] == "WEST"
    # the override keeps the derived amount beside it
    q = store.plan_records("quotas").query("entity_id == 'W05' and period == 'FY2026'").iloc[0]
    assert (q["amount"], q["basis"]) == (450_000, "override")
    assert q["derived_amount"] == pytest.approx(4_200_000 * 140 / 180 / 0.85 / 10, abs=0.01)
    # assumption change from July only
    asm = store.plan_records("planning_assumptions").query("territory_id == 'WEST'").sort_values("valid_from")
    assert asm["win_rate"].tolist() == [0.2, 0.18]
    assert asm["valid_from"].tolist() == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-07-01")]


def test_rebuilding_after_a_departure_opens_the_seat(planned):
    store = planned
    changes.depart(store, "W03", date(2026, 7, 1), reason="resigned")
    b = build_plan(store, "FY2026", reason="after W03 left")
    reps = b.capacity.reps.set_index("rep_id")
    assert reps.loc["W03", "capacity"] == pytest.approx(0.1 * 181 * DAY_RATE_WEST, rel=1e-9)
    west = b.capacity.territories.set_index("territory_id").loc["WEST"]
    assert west["quota_open"] == pytest.approx(0.1 * 184 * DAY_RATE_WEST / 0.85, rel=1e-9)
    # an override survives the rebuild; its derived amount follows the model
    changes.adjust_quota(store, "W05", "FY2026", 450_000, reason="negotiated")
    build_plan(store, "FY2026", reason="rebuild")
    q = store.plan_records("quotas").query("entity_id == 'W05' and period == 'FY2026'").iloc[0]
    assert (q["amount"], q["basis"]) == (450_000, "override")


def test_a_new_hire_ramps(planned):
    store = planned
    with pytest.raises(BadInput, match="WEST is 100% covered on 2026-08-01"):
        changes.hire(store, "W11", "WEST", date(2026, 8, 1), ramp_months=4, reason="extra AE")
    changes.depart(store, "W03", date(2026, 7, 1), reason="resigned")
    changes.hire(store, "W11", "WEST", date(2026, 8, 1), ramp_months=4, reason="backfill")  # takes the open 0.1
    b = build_plan(store, "FY2026", write=False)
    w11 = b.capacity.reps.set_index("rep_id").loc["W11"]
    # hired on day 212: months [212,242) 0, [242,272) .25, [272,303) .5, [303,333) .75, [333,365) 1
    days = 30 * 0 + 30 * 0.25 + 31 * 0.5 + 30 * 0.75 + 32 * 1
    assert w11["capacity"] == pytest.approx(0.1 * days * DAY_RATE_WEST, rel=1e-9)


def test_diff_and_history(planned):
    store = planned
    v_before = str(int(store.plan_versions()["version_id"].max()))
    changes.move_accounts(store, ["ACC-E-001", "ACC-E-002"], "WEST", date(2026, 4, 1), reason="rebalance")
    changes.depart(store, "W03", date(2026, 7, 1), reason="resigned", author="Dana")
    v_after = str(int(store.plan_versions()["version_id"].max()))
    d = diff(store, v_before, v_after)
    moved = d["accounts_moved"].sort_values("account_id")
    assert moved[["account_id", "from_territory", "to_territory"]].values.tolist() == [
        ["ACC-E-001", "EAST", "WEST"], ["ACC-E-002", "EAST", "WEST"]]
    reps = d["rep_changes"]
    assert reps[["change", "rep_id", "territory_id"]].values.tolist() == [["ended", "W03", "WEST"]]
    assert d["versions"]["reason"].tolist() == ["rebalance", "resigned"]
    assert d["versions"]["author"].tolist()[-1] == "Dana"
    h = history(store, "W03")
    ended = h[h["record"].str.startswith("ENDED")]
    assert len(ended) == 1 and ended["reason"].item() == "resigned" and ended["author"].item() == "Dana"
    assert ended["valid_from"].item() == pd.Timestamp("2026-07-01")
    with pytest.raises(BadInput, match="was recorded before"):
        diff(store, v_after, v_before)


def test_changes_refuse_what_they_cannot_do(planned):
    store = planned
    with pytest.raises(BadInput, match="a plan change needs a reason"):
        changes.depart(store, "W03", date(2026, 7, 1), reason="")
    with pytest.raises(NotFound, match="unknown rep: NOPE"):
        changes.depart(store, "NOPE", date(2026, 7, 1), reason="x")
    with pytest.raises(NotFound, match="unknown territory: NORTH"):
        changes.move_accounts(store, ["ACC-E-001"], "NORTH", date(2026, 4, 1), reason="x")
    with pytest.raises(BadInput, match="2027-02-01 is outside FY2026"):
        changes.adjust_quota(store, "W05", "FY2026", 1.0, on=date(2027, 2, 1), reason="x")
    with pytest.raises(BadInput, match="unknown assumption win_rat"):
        changes.change_assumptions(store, "WEST", date(2026, 7, 1), {"win_rat": 0.1}, reason="x")
    with pytest.raises(BadInput, match="the changed assumptions are not valid"):
        changes.change_assumptions(store, "WEST", date(2026, 7, 1), {"win_rate": 1.5}, reason="x")


def test_past_reads_do_not_see_later_changes(planned):
    store = planned
    before = build_plan(store, "FY2026", write=False, known_at=datetime(2025, 12, 1)).capacity.territories
    changes.depart(store, "W03", date(2026, 7, 1), reason="resigned")
    changes.depart(store, "W04", date(2026, 9, 1), to_rep="W05", reason="handover")
    after = build_plan(store, "FY2026", write=False, known_at=datetime(2025, 12, 1)).capacity.territories
    pd.testing.assert_frame_equal(after, before)
    now = build_plan(store, "FY2026", write=False).capacity.reps.set_index("rep_id")
    # W05 carries its own 0.1 plus W04's 0.1 from September
    assert now.loc["W05", "capacity"] == pytest.approx(DAY_RATE_WEST * (0.1 * 365 + 0.1 * 122), rel=1e-9)


def test_more_refusals(planned):
    store = planned
    with pytest.raises(NotFound, match="unknown rep: W99"):
        changes.adjust_quota(store, "W99", "FY2026", 1.0, reason="x")
    with pytest.raises(BadInput, match="entity type 'planet' is not one of"):
        changes.adjust_quota(store, "W01", "FY2026", 1.0, entity_type="planet", reason="x")
    with pytest.raises(BadInput, match="rep 'W01' already exists"):
        changes.hire(store, "W01", "WEST", date(2026, 7, 1), reason="x")
    with pytest.raises(BadInput, match="--ramp-months -1 is not between 0 and 36"):
        changes.hire(store, "W12", "WEST", date(2026, 7, 1), ramp_months=-1, reason="x")
    with pytest.raises(BadInput, match="is assigned from 2024-01-01; a departure on 2020-07-01 would erase that"):
        changes.depart(store, "W03", date(2020, 7, 1), reason="x")
    with pytest.raises(BadInput, match="every account named is already in EAST"):
        changes.move_accounts(store, ["ACC-E-001"], "EAST", date(2026, 4, 1), reason="x")
    with pytest.raises(NotFound, match="unknown territory: NOPE"):
        changes.change_assumptions(store, "NOPE", date(2026, 7, 1), {"win_rate": 0.1}, reason="x")
