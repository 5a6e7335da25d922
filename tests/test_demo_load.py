"""The worked scenario loaded into a store (both engines) reads back as designed."""

from __future__ import annotations

import pytest

from plancast.scenario import load_demo, review


@pytest.fixture
def demo_store(store):
    load_demo(store)
    return store


def test_review_tells_the_scenario(demo_store):
    rev = review(demo_store)
    by = {r["region"]: r for r in rev["regions"]}
    assert set(by) == {"East", "Central", "West"}
    for region in ("East", "Central", "West"):
        r = by[region]
        assert r["reps"] == 10
        assert r["accounts_assigned"] == 180
        assert r["planned_accounts"] == 180
        # 180 x (4.2M / (180 x 0.2 x 85,000)) x 0.2 x 85,000 x ramp 1 = $4.2M
        assert r["plan_capacity"] == pytest.approx(4_200_000, abs=0.01)
        # quota = plan / 0.85, to the cent: 4,200,000 / 0.85 = 4,941,176.47
        assert r["quota"] == pytest.approx(4_941_176.47, abs=0.005)
    assert by["West"]["accounts_excluded"] == 40 and by["West"]["accounts_available"] == 140
    assert by["East"]["accounts_excluded"] == by["Central"]["accounts_excluded"] == 0


def test_loading_twice_changes_nothing(demo_store):
    before = demo_store.counts()
    again = load_demo(demo_store)
    after = demo_store.counts()
    # only the audit trail grows: one import_log row per kind loaded
    assert after.pop("import_log") == before.pop("import_log") + len(again["writes"])
    assert after == before
    assert all(w["inserted"] == 0 and w["updated"] == 0 for w in again["writes"].values())


def test_exclusions_were_known_before_the_plan_year(demo_store):
    from datetime import date, datetime

    # as known on 2025-11-30 (after field marketing recorded them), in force on 2026-05-15
    excl = demo_store.plan_records("account_exclusions", valid_on=date(2026, 5, 15), known_at=datetime(2025, 11, 30))
    assert len(excl) == 40 and set(excl["reason"]) == {"declined outreach for 12 months"}
    # as known before they were recorded: none
    assert len(demo_store.plan_records("account_exclusions", valid_on=date(2026, 5, 15),
                                       known_at=datetime(2025, 11, 13))) == 0
