"""What changed between two plan versions, and the whole history of one territory or rep.

Both read only what the store recorded: the plan as known right after version
A against the plan as known right after version B (``diff``), or every record
that names an entity with the version that wrote it and when it was superseded
(``history``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ..errors import NotFound
from ..kinds import KINDS
from ..store import DEFAULT_PLAN, Store

#: plan-record kinds, and the columns that name the entity for ``history``
_ENTITY_COLS = {
    "territory_assignments": ("territory_id", "account_id"),
    "rep_assignments": ("rep_id", "territory_id"),
    "account_exclusions": ("account_id",),
    "planning_assumptions": ("territory_id",),
    "quotas": ("entity_id",),
    "territory_capacity": ("territory_id",),
}


def version_time(store: Store, version: str, plan_id: str = DEFAULT_PLAN) -> datetime:
    """A version id (``7``) or a time (``2026-04-01``, ``2026-04-01 12:00:00``) → a knowledge time."""
    v = store.plan_versions(plan_id)
    if version.isdigit():
        hit = v[v["version_id"] == int(version)]
        if not len(hit):
            raise NotFound(f"plan {plan_id!r} has no version {version}",
                           hint="list them with: plancast plan versions")
        return pd.Timestamp(hit["recorded_at"].iloc[0]).to_pydatetime()
    try:
        return pd.Timestamp(version).to_pydatetime()
    except ValueError:
        raise NotFound(f"{version!r} is neither a plan version id nor a date",
                       hint="give a version id (plancast plan versions) or a date such as 2026-04-01") from None


def diff(store: Store, a: str, b: str, *, plan_id: str = DEFAULT_PLAN) -> dict[str, Any]:
    """Plan as known after ``a`` vs after ``b``: accounts moved, quota and assumption changes, and all records."""
    ta, tb = version_time(store, a, plan_id), version_time(store, b, plan_id)
    if tb < ta:
        from ..errors import BadInput

        raise BadInput(f"{b} ({tb:%Y-%m-%d %H:%M}) was recorded before {a} ({ta:%Y-%m-%d %H:%M})",
                       hint=f"give the earlier one first: plancast plan diff {b} {a}")
    out: dict[str, Any] = {"a": a, "b": b, "known_at_a": ta, "known_at_b": tb, "changes": {}}
    for kind in _ENTITY_COLS:
        ra = store.plan_records(kind, plan_id=plan_id, known_at=ta, include_retracted=True)
        rb = store.plan_records(kind, plan_id=plan_id, known_at=tb, include_retracted=True)
        added = rb[~rb["record_id"].isin(ra["record_id"])]
        removed = ra[~ra["record_id"].isin(rb["record_id"])]
        if len(added) or len(removed):
            out["changes"][kind] = {"added": added, "removed": removed}
    out["accounts_moved"] = _moves(store, ta, tb, plan_id)
    out["rep_changes"] = _added(out, "rep_assignments", ["rep_id", "territory_id", "share"])
    out["exclusions_added"] = _added(out, "account_exclusions", ["account_id", "reason"])
    v = store.plan_versions(plan_id)
    out["versions"] = v[(v["recorded_at"] > ta) & (v["recorded_at"] <= tb)][
        ["version_id", "recorded_at", "author", "reason", "source"]].reset_index(drop=True)
    out["quota_changes"] = _value_changes(store, "quotas", ["amount", "basis"], ta, tb, plan_id)
    out["assumption_changes"] = _value_changes(
        store, "planning_assumptions",
        ["planned_accounts", "opp_rate", "win_rate", "asp", "cycle_days", "coverage_ratio", "uplift", "ramp"],
        ta, tb, plan_id)
    return out


def _added(d: dict[str, Any], kind: str, cols: list[str]) -> pd.DataFrame:
    """Records of ``kind`` new in B (not restatements of A's), with ENDED for retractions."""
    ch = d["changes"].get(kind)
    if ch is None:
        return pd.DataFrame(columns=["change", *cols, "valid_from", "valid_to"])
    added, removed = ch["added"], ch["removed"]
    # a restatement repeats a removed record's values over part of its interval: not a change
    same = added.merge(removed[[*cols]].drop_duplicates(), on=cols, how="left", indicator=True)
    keep = (same["_merge"] == "left_only").to_numpy() | added["retracted"].astype(bool).to_numpy()
    out = added[keep][[*cols, "valid_from", "valid_to", "retracted"]].copy()
    out.insert(0, "change", pd.Series(out["retracted"].astype(bool)).map({True: "ended", False: "started"}).to_numpy())
    return out.drop(columns="retracted").sort_values([cols[0], "valid_from"]).reset_index(drop=True)


def _moves(store: Store, ta: datetime, tb: datetime, plan_id: str) -> pd.DataFrame:
    """Accounts whose territory on some day differs between the two knowledge times."""
    ra = store.plan_records("territory_assignments", plan_id=plan_id, known_at=ta)
    rb = store.plan_records("territory_assignments", plan_id=plan_id, known_at=tb)
    new = rb[~rb["record_id"].isin(ra["record_id"])]
    m = new.merge(ra, on="account_id", suffixes=("", "_before"))
    to_b = m["valid_to"].fillna(pd.Timestamp.max)
    to_a = m["valid_to_before"].fillna(pd.Timestamp.max)
    m = m[(m["valid_from"] < to_a) & (m["valid_from_before"] < to_b) & (m["territory_id"] != m["territory_id_before"])]
    return m.rename(columns={"territory_id_before": "from_territory", "territory_id": "to_territory"})[
        ["account_id", "from_territory", "to_territory", "valid_from", "valid_to"]
    ].drop_duplicates().reset_index(drop=True)


def _value_changes(store: Store, kind: str, fields: list[str], ta: datetime, tb: datetime,
                   plan_id: str) -> pd.DataFrame:
    key = list(KINDS[kind].key)
    ra = store.plan_records(kind, plan_id=plan_id, known_at=ta)
    rb = store.plan_records(kind, plan_id=plan_id, known_at=tb)
    new = rb[~rb["record_id"].isin(ra["record_id"])]
    m = new.merge(ra, on=key, how="left", suffixes=("", "_before"))
    overlap = m["valid_from_before"].isna() | (
        (m["valid_from"] < m["valid_to_before"].fillna(pd.Timestamp.max))
        & (m["valid_from_before"] < m["valid_to"].fillna(pd.Timestamp.max)))
    m = m[overlap]
    rows = []
    for f in fields:  # one pass per field, vectorised over records
        before, after = m[f"{f}_before"], m[f]
        changed = ~((before == after) | (before.isna() & after.isna()))
        part = m.loc[changed, [*key, "valid_from", "valid_to"]].copy()
        part["field"] = f
        part["before"] = before[changed].to_numpy()
        part["after"] = after[changed].to_numpy()
        rows.append(part)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def history(store: Store, entity: str, *, plan_id: str = DEFAULT_PLAN) -> pd.DataFrame:
    """Every plan record that names ``entity`` (a territory, rep or account id), oldest first,
    with the version (reason, author) that wrote it and when it was superseded."""
    versions = store.plan_versions(plan_id)[["version_id", "reason", "author", "source"]]
    parts = []
    for kind, cols in _ENTITY_COLS.items():
        h = store.record_history(kind, plan_id=plan_id)
        hit = pd.Series(False, index=h.index)
        for c in cols:
            hit |= h[c].astype(str) == entity
        h = h[hit]
        if not len(h):
            continue
        value_cols = [c for c in KINDS[kind].column_names
                      if c not in ("valid_from", "valid_to", "recorded_at") and c in h]
        parts.append(pd.DataFrame({
            "kind": kind, "record_id": h["record_id"], "version_id": h["version_id"],
            "valid_from": h["valid_from"], "valid_to": h["valid_to"], "recorded_at": h["recorded_at"],
            "superseded_at": h["superseded_at"], "retracted": h["retracted"],
            "record": np.where(h["retracted"].astype(bool), "ENDED ", "") + h[value_cols].astype(str).agg(
                lambda r: ", ".join(f"{c}={v}" for c, v in zip(value_cols, r, strict=True)
                                    if v not in ("None", "nan", "<NA>", "NaT", entity)), axis=1),
        }))
    if not parts:
        raise NotFound(f"no plan records name {entity!r}",
                       hint="give a territory, rep or account id (plancast show territories lists them)")
    out = pd.concat(parts, ignore_index=True).merge(versions, on="version_id", how="left")
    out["carried"] = _carried_in(store, out, entity, plan_id)
    has = out["carried"].notna()
    out.loc[has, "record"] = out.loc[has, "record"] + " → " + out.loc[has, "carried"]
    return out.sort_values(["recorded_at", "kind", "record_id"]).reset_index(drop=True)


def _carried_in(store: Store, h: pd.DataFrame, rep: str, plan_id: str) -> pd.Series:
    """For the rep quota records in ``h``: where the quota is carried, as ``plan show --level rep`` splits it
    (by days, in the territories the rep covers then; after a departure, the territory's open seat)."""
    from .quota import OPEN, carried_quota

    out = pd.Series(None, index=h.index, dtype=object)
    quotas = h[(h["kind"] == "quotas") & ~h["retracted"].astype(bool)]
    if not len(quotas):
        return out
    records = store.record_history("quotas", plan_id=plan_id).set_index("record_id")
    records = records.loc[records.index.intersection(quotas["record_id"])]
    records = records[records["entity_type"] == "rep"]
    if not len(records):
        return out
    periods = store.periods()
    assignments = store.plan_records("rep_assignments", plan_id=plan_id)
    assignments = assignments[assignments["rep_id"].astype(str) == rep]
    reps = store.read_table("rep")
    territories = store.read_table("territory")
    names = dict(zip(territories["territory_id"].astype(str), territories["name"], strict=True))

    def where(t: str) -> str:
        name = names.get(str(t))
        return f"{t} ({name})" if isinstance(name, str) and name and name != str(t) else str(t)

    for record_id in records.index:  # one rep's quota records: a few dozen at most
        q = records.loc[[record_id]].reset_index()
        period = str(q["period"].iat[0])
        if period not in periods:
            continue
        start, end = periods[period]
        pieces = carried_quota(q, assignments, reps, start, end)
        if not len(pieces):
            text = "carried by no territory (the rep covers none then)"
        else:
            key = [pieces["rep_id"], pieces["territory_id"]]
            carried = pieces["carried"].groupby(key, sort=False).sum()
            days = (pieces["valid_to"] - pieces["valid_from"]).dt.days.groupby(key, sort=False).sum()
            text = "carried in " + ", ".join(
                f"{'open seat of ' if r == OPEN else ''}{where(t)}: ${c:,.2f} ({d} day{'s' if d != 1 else ''})"
                for (r, t), c, d in zip(carried.index, carried.to_numpy(), days.to_numpy(), strict=True))
        out[quotas.index[(quotas["record_id"] == record_id).to_numpy()]] = text
    return out
