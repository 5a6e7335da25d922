"""Build a period's plan from the store: capacity per territory and rep, quotas to the cent.

``gather`` reads what the model needs, as it was known at a time; ``derive``
turns the capacity into quota records (rep, territory, region, company) that add
up to the cent at every level; ``build_plan`` writes both back as one plan
version, so each quota can be traced to the capacity and the assumptions behind
it. A quota imported as an *override* keeps its amount; the model's figure is
stored beside it as ``derived_amount``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from ..errors import NotFound
from ..store import DEFAULT_PLAN, Store, WriteResult
from .capacity import CapacityResult, PeriodInputs, compute_capacity


@dataclass
class PlanBuild:
    period: str
    start: date
    end: date
    known_at: datetime | None
    capacity: CapacityResult
    quotas: pd.DataFrame  # entity_type, entity_id, period, amount, basis, derived_amount, …
    written: WriteResult | None = None
    notes: list[str] = field(default_factory=list)

    def territories(self) -> pd.DataFrame:
        return self.capacity.territories

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "known_at": self.known_at.isoformat() if self.known_at else None,
            "territories": self.capacity.territories.to_dict("records"),
            "reps": self.capacity.reps.to_dict("records"),
            "quotas": self.quotas.to_dict("records"),
            "written": self.written.to_dict() if self.written else None,
            "notes": self.notes + self.capacity.notes,
        }


def period_bounds(store: Store, period: str) -> tuple[date, date]:
    periods = store.periods()
    if period not in periods:
        import re

        year = re.search(r"(\d{4})", period)
        raise NotFound(
            f"period {period!r} does not exist in the store",
            hint="known periods: " + (", ".join(sorted(periods)) or "none")
            + f"; add a fiscal year with: plancast calendar add {year.group(1) if year else 'YEAR'}",
        )
    return periods[period]


def gather(store: Store, start: date, end: date, *, plan_id: str = DEFAULT_PLAN,
           known_at: datetime | None = None) -> PeriodInputs:
    """The plan records overlapping [start, end), as known at ``known_at``."""
    def rec(kind: str) -> pd.DataFrame:
        return store.plan_records(kind, plan_id=plan_id, during=(start, end), known_at=known_at)

    return PeriodInputs(
        start=start,
        end=end,
        territories=store.read_table("territory")[["territory_id", "name", "region_id", "segment_id", "precedence"]],
        assumptions=rec("planning_assumptions"),
        assignments=rec("territory_assignments"),
        exclusions=rec("account_exclusions"),
        rep_assignments=rec("rep_assignments"),
        reps=store.read_table("rep"),
    )


def _cents(x: pd.Series | np.ndarray) -> np.ndarray:
    return np.rint(np.nan_to_num(np.asarray(x, dtype=np.float64)) * 100).astype(np.int64)


def round_within_groups(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Round dollar ``values`` to cents so each group's cents equal its rounded total.

    Largest remainder: every member gets the floor of its cents, and the cents
    left over go to the members with the largest fractional parts (ties: first
    member). Vectorised with a group-wise rank."""
    raw = np.nan_to_num(np.asarray(values, dtype=np.float64)) * 100
    floor = np.floor(raw)
    frac = raw - floor
    df = pd.DataFrame({"g": groups, "floor": floor, "frac": frac, "raw": raw})
    target = np.rint(df.groupby("g")["raw"].transform("sum").to_numpy())
    left = target - df.groupby("g")["floor"].transform("sum").to_numpy()
    rank = df.groupby("g")["frac"].rank(method="first", ascending=False).to_numpy()
    return (floor + (rank <= left)).astype(np.int64)


def derive_quotas(cap: CapacityResult, period: str, start: date, end: date,
                  currency: str = "USD") -> pd.DataFrame:
    """Quota records for reps, territories, regions and the company, exact to the cent.

    Reps' quotas are rounded to cents; a territory's quota is its reps' quotas
    plus its open (uncovered) quota, or its own capacity × (1 + uplift) when it
    has no reps; regions and the company add those up, so every level sums."""
    t = cap.territories.copy()
    r = cap.reps.copy()
    has_reps = t["territory_id"].isin(r["territory_id"]).to_numpy()
    # a territory's quota is its exact total rounded once; its reps and its open
    # seat share those cents by largest remainder
    members = np.concatenate([r["quota_raw"].to_numpy(dtype=np.float64),
                              np.where(has_reps, t["quota_open"], t["quota_covered"]).astype(np.float64)])
    group = np.concatenate([r["territory_id"].astype(str).to_numpy(), t["territory_id"].astype(str).to_numpy()])
    cents = round_within_groups(members, group)
    r_c = cents[: len(r)]
    t_c = pd.Series(cents, index=group).groupby(level=0).sum().reindex(t["territory_id"].astype(str)).to_numpy()
    t["quota_cents"] = t_c
    region = t.groupby(t["region_id"].fillna("(no region)"))["quota_cents"].sum()
    frames = [
        pd.DataFrame({"entity_type": "rep", "entity_id": r["rep_id"], "cents": r_c,
                      "capacity_territory": r["territory_id"]}),
        pd.DataFrame({"entity_type": "territory", "entity_id": t["territory_id"], "cents": t_c,
                      "capacity_territory": t["territory_id"]}),
        pd.DataFrame({"entity_type": "region", "entity_id": region.index, "cents": region.to_numpy(),
                      "capacity_territory": None}),
        pd.DataFrame({"entity_type": "company", "entity_id": ["company"], "cents": [int(t_c.sum())],
                      "capacity_territory": [None]}),
    ]
    q = pd.concat(frames, ignore_index=True)
    # a rep covering two territories in the period carries the sum
    q = q.groupby(["entity_type", "entity_id"], as_index=False, sort=False).agg(
        cents=("cents", "sum"), capacity_territory=("capacity_territory", "first"))
    q["amount"] = q["cents"] / 100.0
    q["derived_amount"] = q["amount"]
    q["basis"] = "derived"
    q["currency"] = currency
    q["period"] = period
    q["valid_from"] = pd.Timestamp(start)
    q["valid_to"] = pd.Timestamp(end)
    return q.drop(columns="cents")


def apply_overrides(q: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Keep overridden amounts; the model's amount goes beside them."""
    ov = current[current["basis"] == "override"].set_index(["entity_type", "entity_id", "period"])["amount"]
    if not len(ov):
        return q
    idx = pd.MultiIndex.from_frame(q[["entity_type", "entity_id", "period"]])
    amt = ov.reindex(idx).to_numpy()
    has = ~np.isnan(amt.astype(np.float64))
    q = q.copy()
    q.loc[has, "amount"] = amt[has]
    q.loc[has, "basis"] = "override"
    return q


def _capacity_frame(cap: CapacityResult, period: str, start: date, end: date, asm: pd.Series) -> pd.DataFrame:
    t = cap.territories
    return pd.DataFrame({
        "territory_id": t["territory_id"],
        "period": period,
        "assumption_record_id": pd.array(t["territory_id"].map(asm).to_numpy(), dtype="Int64"),
        **{c: t[c] for c in ("planned_accounts", "assigned_accounts", "effective_accounts",
                             "productive_account_years", "opp_rate", "win_rate", "asp", "cycle_days",
                             "uplift", "coverage", "attrition_factor")},
        **{c: np.round(t[c].astype(float), 2) for c in ("plan_capacity", "effective_capacity", "capacity")},
        "quota": np.round((t["quota_covered"] + t["quota_open"]).astype(float), 2),
        "quota_open": np.round(t["quota_open"].astype(float), 2),
        "valid_from": pd.Timestamp(start),
        "valid_to": pd.Timestamp(end),
    })


def split_cents(total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split each row's ``total`` cents over its columns in proportion to ``weights``, exactly
    (largest remainder; rows whose weights are all zero split evenly)."""
    w = np.where(weights.sum(axis=1, keepdims=True) > 0, weights, 1.0)
    raw = total[:, None] * (w / w.sum(axis=1, keepdims=True))
    fl = np.floor(raw)
    left = (total - fl.sum(axis=1)).astype(np.int64)
    rank = np.argsort(np.argsort(-(raw - fl), axis=1, kind="stable"), axis=1, kind="stable")
    return (fl + (rank < left[:, None])).astype(np.int64)


def build_plan(
    store: Store,
    period: str,
    *,
    plan_id: str = DEFAULT_PLAN,
    known_at: datetime | None = None,
    write: bool = True,
    reason: str | None = None,
    author: str | None = None,
) -> PlanBuild:
    """Capacity and quotas for ``period``; a fiscal year also gets its quarters, whose quotas
    split each entity's annual quota by the quarters' capacity, exactly to the cent."""
    start, end = period_bounds(store, period)
    cap = compute_capacity(gather(store, start, end, plan_id=plan_id, known_at=known_at))
    planned = cap.territories["plan_capacity"] > 0
    if write and not planned.any():
        raise NotFound(
            f"no planning assumptions are in force in {period}"
            + (f" as known at {known_at:%Y-%m-%d %H:%M}" if known_at else ""),
            hint="import planning assumptions for the period first (plancast import planning-assumptions FILE)",
        )
    q = derive_quotas(cap, period, start, end)
    # territories without a plan get no derived quota (their capacity is unknown, not zero)
    unplanned = set(cap.territories.loc[~planned, "territory_id"])
    q = q[~((q["entity_type"].isin(["rep", "territory"])) & q["capacity_territory"].isin(unplanned))]
    current = store.plan_records("quotas", plan_id=plan_id, during=(start, end), known_at=known_at)
    build = PlanBuild(period=period, start=start, end=end, known_at=known_at, capacity=cap,
                      quotas=apply_overrides(q, current[current["period"] == period]))
    if unplanned:
        build.notes.append(f"no planning assumptions (or no capacity) in {period} for {', '.join(sorted(unplanned))}: "
                           "no quota derived for them")
    if not write:
        return build
    asm = gather_assumption_ids(store, period, start, end, plan_id=plan_id, known_at=known_at)
    caps = [_capacity_frame(cap, period, start, end, asm)[planned.to_numpy()]]
    quotas = [build.quotas]
    periods = store.read_table("period")
    this = periods[periods["period_id"] == period]
    if len(this) and this["period_type"].iloc[0] == "year":
        qs = periods[(periods["period_type"] == "quarter")
                     & (periods["fiscal_year"] == this["fiscal_year"].iloc[0])].sort_values("start_date")
        parts = []
        for row in qs.itertuples():  # four quarters
            qs_, qe = pd.Timestamp(row.start_date).date(), pd.Timestamp(row.end_date).date()
            qc = compute_capacity(gather(store, qs_, qe, plan_id=plan_id, known_at=known_at))
            caps.append(_capacity_frame(qc, row.period_id, qs_, qe, asm)[qc.territories["plan_capacity"] > 0])
            raw = derive_quotas(qc, row.period_id, qs_, qe)
            parts.append(raw.set_index(["entity_type", "entity_id"])["amount"].rename(row.period_id))
        if parts:
            w = pd.concat(parts, axis=1).reindex(pd.MultiIndex.from_frame(q[["entity_type", "entity_id"]])).fillna(0)
            cents = split_cents(np.rint(q["derived_amount"].to_numpy() * 100).astype(np.int64), w.to_numpy())
            for j, row in enumerate(qs.itertuples()):
                qq = q.copy()
                qq["period"] = row.period_id
                qq["amount"] = cents[:, j] / 100.0
                qq["derived_amount"] = qq["amount"]
                qq["valid_from"] = pd.Timestamp(row.start_date)
                qq["valid_to"] = pd.Timestamp(row.end_date)
                quotas.append(apply_overrides(qq, current[current["period"] == row.period_id]))
    build.written = store.write_derived_plan(
        pd.concat(caps, ignore_index=True), pd.concat(quotas, ignore_index=True), plan_id=plan_id,
        reason=reason or f"plan build {period}", author=author,
    )
    return build


def gather_assumption_ids(store: Store, period: str, start: date, end: date, *, plan_id: str,
                          known_at: datetime | None) -> pd.Series:
    """territory → the assumptions record in force at the period start (or the first in the period)."""
    a = store.plan_records("planning_assumptions", plan_id=plan_id, during=(start, end), known_at=known_at)
    a = a.sort_values(["territory_id", "valid_from"]).drop_duplicates("territory_id")
    return a.set_index("territory_id")["record_id"]
