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


def test_west_is_flagged_when_the_plan_is_made(demo_store):
    from datetime import datetime

    from plancast.scenario import plan_flags

    flags = plan_flags(demo_store, "FY2026", known_at=datetime(2025, 12, 1))
    sizing = [f for f in flags if f["kind"] == "territory_sizing"]
    assert [f["entity"] for f in sizing] == ["WEST"]
    ev = sizing[0]["evidence"]
    assert (ev["effective_accounts"], ev["planned_accounts"]) == (140.0, 180.0)
    assert ev["capacity_ratio"] == pytest.approx(140 / 180, abs=1e-6)
    assert ev["effective_capacity"] == pytest.approx(4_200_000 * 140 / 180, abs=0.01)
    assert sizing[0]["severity"] == "high" and "77.8% of plan" in sizing[0]["message"]
    # the quotas were set on 180 accounts: the company is short 40/180 of West's quota capacity
    gap = next(f for f in flags if f["kind"] == "headcount_gap")
    assert gap["evidence"]["gap"] == pytest.approx(4_941_176.47 * 40 / 180, abs=0.05)


def test_no_sizing_flag_before_the_exclusions_were_recorded(demo_store):
    from datetime import datetime

    from plancast.planning.build import build_plan
    from plancast.planning.checks import check_plan

    # planning assumptions as recorded on 2025-12-01, exclusions as known on 2025-11-13: none yet
    build = build_plan(demo_store, "FY2026", write=False, known_at=datetime(2025, 11, 13))
    assert build.capacity.territories["plan_capacity"].sum() == 0  # the plan itself was not recorded yet
    assert [f for f in check_plan(build) if f["kind"] == "territory_sizing"] == []


def test_plan_build_writes_capacity_and_traceable_quotas(demo_store):
    from plancast.planning.build import build_plan

    b = build_plan(demo_store, "FY2026")
    q = demo_store.plan_records("quotas")
    q = q[q["period"] == "FY2026"].set_index(["entity_type", "entity_id"])
    # West: 140/180 of $4.2M capacity, x 1/0.85 — to the cent, reps add up to the territory
    west = 4_200_000 * 140 / 180 / 0.85
    assert q.loc[("territory", "WEST"), "amount"] == pytest.approx(west, abs=0.01)
    west_reps = q.loc["rep"].loc[[f"W{i:02d}" for i in range(1, 11)], "amount"]
    assert round(west_reps.sum() * 100) == round(q.loc[("territory", "WEST"), "amount"] * 100)
    assert round(q.loc[("company", "company"), "amount"] * 100) == round(q.loc["region", "amount"].sum() * 100)
    # each territory quota points at its capacity record, which points at its assumptions
    cap = demo_store.plan_records("territory_capacity").set_index("record_id")
    rec = cap.loc[int(q.loc[("territory", "WEST"), "capacity_record_id"])]
    assert rec["territory_id"] == "WEST" and rec["effective_accounts"] == pytest.approx(140)
    asm = demo_store.plan_records("planning_assumptions").set_index("record_id")
    assert asm.loc[int(rec["assumption_record_id"]), "territory_id"] == "WEST"
    # building again changes nothing
    again = build_plan(demo_store, "FY2026")
    assert again.written.version_ids == [] and b.written.version_ids


def test_building_a_year_builds_its_quarters_to_the_cent(demo_store):
    from plancast.planning.build import build_plan

    build_plan(demo_store, "FY2026")
    q = demo_store.plan_records("quotas")
    pivot = q.pivot_table(index=["entity_type", "entity_id"], columns="period", values="amount", aggfunc="sum")
    quarters = [f"2026Q{i}" for i in range(1, 5)]
    cents = (pivot * 100).round().astype("int64")
    assert (cents[quarters].sum(axis=1) == cents["FY2026"]).all()
    # West reps: quarters follow the quarters' capacity (days), e.g. Q2 = 91 of 365 days
    w01 = pivot.loc[("rep", "W01")]
    assert w01["2026Q2"] == pytest.approx(w01["FY2026"] * 91 / 365, abs=0.02)


def test_building_without_assumptions_is_refused(demo_store):
    from datetime import datetime

    from plancast.errors import NotFound
    from plancast.planning.build import build_plan

    with pytest.raises(NotFound, match="no planning assumptions are in force in FY2026 as known at 2025-11-15"):
        build_plan(demo_store, "FY2026", known_at=datetime(2025, 11, 15))
    with pytest.raises(NotFound, match="no planning assumptions are in force in FY2025"):
        build_plan(demo_store, "FY2025")
