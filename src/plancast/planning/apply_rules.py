"""Assign the store's accounts by rules, record the assignment, and check it the same day.

Sizing is checked when the assignment is made, not at quarter close: after
writing, the plan of the fiscal year containing ``on`` is checked as known
right then (so exclusions recorded earlier already count).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import NotFound
from ..store import DEFAULT_PLAN, Store, WriteResult
from .assignment import AssignmentResult, assign, load_rules


def assign_by_rules(
    store: Store, rules_path: str | Path, on: date, *, plan_id: str = DEFAULT_PLAN, write: bool = True,
    reason: str | None = None, author: str | None = None,
) -> tuple[AssignmentResult, WriteResult | None, list[dict[str, Any]]]:
    rules = load_rules(rules_path)
    known = store.known_ids()["territories"]
    missing = sorted({r.territory_id for r in rules} - known)
    if missing:
        raise NotFound(f"{rules_path}: rules name territories the store does not have: {', '.join(missing[:10])}",
                       hint="import them first (plancast import territories FILE) or fix the rules")
    result = assign(store.read_table("account"), rules)
    written = None
    flags: list[dict[str, Any]] = []
    if write and len(result.assignment):
        frame = pd.DataFrame({"account_id": result.assignment["account_id"].to_numpy(),
                              "territory_id": result.assignment["territory_id"].to_numpy(),
                              "valid_from": pd.Timestamp(on), "valid_to": pd.NaT})
        written = store.write("territory_assignments", frame, source=f"rules {rules_path}", plan_id=plan_id,
                              reason=reason or f"assignment by rules in {rules_path}", author=author)
        flags = _check_on(store, on, plan_id)
    return result, written, flags


def _check_on(store: Store, on: date, plan_id: str) -> list[dict[str, Any]]:
    from .build import build_plan
    from .checks import check_plan

    years = [p for p, (s, e) in store.periods().items() if p.startswith("FY") and s <= on < e]
    flags: list[dict[str, Any]] = []
    for period in years:
        b = build_plan(store, period, plan_id=plan_id, write=False)
        flags += [f for f in check_plan(b) if f["kind"] == "territory_sizing"]
    return flags
