"""Mid-year plan changes, each a new effective-dated plan version with who and why.

Nothing is edited: every change appends plan records from its effective date
(``on``) and the store supersedes and restates what they overlap. Ending a
record from a date appends a *retracted* record over ``[on, …)`` — "from this
day there is no such assignment" — so the part before ``on`` stays as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pandas as pd

from ..errors import BadInput, NotFound
from ..kinds import KINDS
from ..store import DEFAULT_PLAN, Store, WriteResult

_ASSUMPTION_FIELDS = ("planned_accounts", "opp_rate", "win_rate", "asp", "cycle_days", "coverage_ratio", "uplift",
                      "ramp", "attrition_rate", "backfill_days")


def _need_reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise BadInput("a plan change needs a reason", hint="say why with --reason \"…\" (it is kept with the version)")
    return reason.strip()


def _ts(d: date | None) -> pd.Timestamp:
    return pd.Timestamp(d) if d is not None else pd.NaT


def _known(store: Store, kind: str, ids: Iterable[str], what: str, hint: str) -> None:
    known = store.known_ids()[kind]
    missing = sorted({str(i) for i in ids} - known)
    if missing:
        raise NotFound(f"unknown {what}: {', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}", hint=hint)


def _end_from(current: pd.DataFrame, on: date, key: list[str]) -> pd.DataFrame:
    """Retracted records over [on, end) for current records still in force on or after ``on``."""
    on_ts = pd.Timestamp(on)
    live = current[(current["valid_to"].isna()) | (current["valid_to"] > on_ts)].copy()
    live["valid_from"] = live["valid_from"].where(live["valid_from"] > on_ts, on_ts)
    live["retracted"] = True
    return live


def depart(store: Store, rep_id: str, on: date, *, to_rep: str | None = None, plan_id: str = DEFAULT_PLAN,
           reason: str | None = None, author: str | None = None) -> WriteResult:
    """A rep leaves on ``on``: their assignments end that day; their share goes to
    ``to_rep`` from that day, or stays open (the open seat carries its quota)."""
    reason = _need_reason(reason)
    _known(store, "reps", [rep_id] + ([to_rep] if to_rep else []), "rep",
           "import the rep first (plancast import reps FILE) or check the id")
    ra = store.plan_records("rep_assignments", plan_id=plan_id)
    mine = ra[ra["rep_id"] == rep_id]
    first = mine["valid_from"].min()
    if len(mine) and pd.Timestamp(on) <= first:
        raise BadInput(f"rep {rep_id!r} is assigned from {first:%Y-%m-%d}; a departure on {on} would erase that",
                       hint="give the last day's successor: --on a date after the rep started")
    ended = _end_from(mine, on, ["rep_id", "territory_id"])
    if not len(ended):
        raise BadInput(f"rep {rep_id!r} has no territory assignment in force on or after {on}",
                       hint="check the rep id and the date (plancast plan history REP)")
    frames = ended[["rep_id", "territory_id", "share", "valid_from", "valid_to", "retracted"]]
    if to_rep:
        # the successor takes the share over: added to a share it already has there
        theirs = ra[(ra["rep_id"] == to_rep) & ra["territory_id"].isin(ended["territory_id"])
                    & (ra["valid_to"].isna() | (ra["valid_to"] > pd.Timestamp(on)))]
        have = theirs.groupby("territory_id")["share"].max()
        gain = ended.assign(rep_id=to_rep, retracted=False,
                            share=ended["share"] + ended["territory_id"].map(have).fillna(0.0).to_numpy())
        if (gain["share"] > 1 + 1e-9).any():
            raise BadInput(f"rep {to_rep!r} would carry more than the whole territory",
                           hint="check the shares (plancast show rep-assignments)")
        frames = pd.concat([frames, gain[frames.columns]], ignore_index=True)
    # the departure is the end of the rep's (versioned) assignments; the rep's
    # reference row is not edited, so earlier reads stay as they were
    return store.write("rep_assignments", frames, source="plancast plan change depart", plan_id=plan_id,
                       reason=reason, author=author)


def hire(store: Store, rep_id: str, territory_id: str, on: date, *, share: float | None = None,
         ramp_months: int | None = None, name: str | None = None, plan_id: str = DEFAULT_PLAN,
         reason: str | None = None, author: str | None = None) -> WriteResult:
    """A new rep starts on ``on`` covering ``share`` of a territory (default: what no rep covers that
    day), ramping over ``ramp_months``. A territory is never covered more than 100 %."""
    reason = _need_reason(reason)
    _known(store, "territories", [territory_id], "territory",
           "import it first (plancast import territories FILE) or check the id")
    if ramp_months is not None and not 0 <= ramp_months <= 36:
        raise BadInput(f"--ramp-months {ramp_months} is not between 0 and 36", hint="give the months to full productivity")
    reps = store.read_table("rep")
    if rep_id in set(reps["rep_id"]):
        hired = reps.set_index("rep_id").loc[rep_id, "hire_date"]
        raise BadInput(f"rep {rep_id!r} already exists" + (f" (hired {hired:%Y-%m-%d})" if pd.notna(hired) else ""),
                       hint="a new hire needs a new rep id; to give an existing rep a territory, import "
                            "rep-assignments")
    ra = store.plan_records("rep_assignments", plan_id=plan_id, valid_on=on)
    taken = float(ra.loc[ra["territory_id"] == territory_id, "share"].sum())
    free = round(1.0 - taken, 9)
    if share is None:
        share = free if free > 1e-9 else 1.0  # a full territory: the coverage check below says so
    if not 0 < share <= 1:
        raise BadInput(f"share {share:g} is not in (0, 1]", hint="give the share of the territory, e.g. 0.5")
    if share > free + 1e-9:
        raise BadInput(
            f"{territory_id} is {taken:.0%} covered on {on}; a share of {share:g} would cover it {taken + share:.0%}",
            hint=f"give --share {free:g} or less, or depart or reduce another rep first" if free > 0 else
            "depart or reduce another rep first (plancast plan change depart REP --on DATE)")
    row = pd.DataFrame([{c: None for c in KINDS["reps"].column_names}])
    row["rep_id"] = rep_id
    row["hire_date"] = pd.Timestamp(on)
    row["departure_date"] = pd.NaT
    row["ramp_months"] = ramp_months
    row["name"] = name
    row["role"] = "AE"
    ra_new = pd.DataFrame({"rep_id": [rep_id], "territory_id": [territory_id], "share": [float(share)],
                           "valid_from": [pd.Timestamp(on)], "valid_to": [pd.NaT]})
    # the rep row goes first (the assignment refers to it), in the same transaction
    return store.write("reps", row, source="plancast plan change hire", plan_id=plan_id, reason=reason,
                       author=author, also=[("rep_assignments", ra_new)])


def move_accounts(store: Store, account_ids: list[str], territory_id: str, on: date, *,
                  plan_id: str = DEFAULT_PLAN, reason: str | None = None, author: str | None = None) -> WriteResult:
    """Accounts belong to ``territory_id`` from ``on`` (before that, as they were)."""
    reason = _need_reason(reason)
    if not account_ids:
        raise BadInput("no accounts to move", hint="name account ids, or --file with an account_id column")
    _known(store, "accounts", account_ids, "account", "import the accounts first or check the ids")
    _known(store, "territories", [territory_id], "territory", "import it first or check the id")
    cur = store.plan_records("territory_assignments", plan_id=plan_id, valid_on=on)
    there = set(cur.loc[(cur["territory_id"] == territory_id) & cur["valid_to"].isna(), "account_id"])
    moving = [a for a in dict.fromkeys(account_ids) if a not in there]
    if not moving:
        raise BadInput(f"every account named is already in {territory_id} from {on}", hint="nothing to move")
    frame = pd.DataFrame({"account_id": moving, "territory_id": territory_id,
                          "valid_from": pd.Timestamp(on), "valid_to": pd.NaT})
    return store.write("territory_assignments", frame, source="plancast plan change move", plan_id=plan_id,
                       reason=reason, author=author)


def adjust_quota(store: Store, entity_id: str, period: str, amount: float, *, entity_type: str = "rep",
                 on: date | None = None, plan_id: str = DEFAULT_PLAN, reason: str | None = None,
                 author: str | None = None) -> WriteResult:
    """Set an override quota for ``entity`` in ``period`` from ``on`` (default: the whole period)."""
    reason = _need_reason(reason)
    from ..kinds import ENTITY_TYPES

    if entity_type not in ENTITY_TYPES:
        raise BadInput(f"entity type {entity_type!r} is not one of {', '.join(ENTITY_TYPES)}",
                       hint="use --entity-type rep, territory, region, segment or company")
    if entity_type in ("rep", "territory"):
        _known(store, f"{entity_type}s" if entity_type == "rep" else "territories", [entity_id], entity_type,
               "check the id (plancast show reps / territories)")
    elif entity_type in ("region", "segment"):
        ids = set(store.read_table(entity_type)[f"{entity_type}_id"].astype(str))
        if entity_id not in ids:
            raise NotFound(f"unknown {entity_type}: {entity_id}", hint=f"known: {', '.join(sorted(ids)) or 'none'}")
    elif entity_id != "company":
        raise BadInput("the company's id is 'company'", hint="use --entity-type company company")
    periods = store.periods()
    if period not in periods:
        raise NotFound(f"period {period!r} does not exist", hint="known periods: " + ", ".join(sorted(periods)))
    if amount < 0 or amount != amount:
        raise BadInput(f"quota amount {amount} is negative or not a number", hint="give an amount ≥ 0")
    start, end = periods[period]
    frm = on or start
    if not start <= frm < end:
        raise BadInput(f"{frm} is outside {period} ({start} – {end}, end exclusive)",
                       hint="give --on a day inside the period")
    cur = store.plan_records("quotas", plan_id=plan_id)
    cur = cur[(cur["entity_type"] == entity_type) & (cur["entity_id"] == entity_id) & (cur["period"] == period)]
    derived = cur["derived_amount"].dropna()
    frame = pd.DataFrame({
        "entity_type": [entity_type], "entity_id": [entity_id], "period": [period], "amount": [round(amount, 2)],
        "basis": ["override"], "currency": [cur["currency"].iloc[0] if len(cur) else "USD"],
        "derived_amount": [float(derived.iloc[-1]) if len(derived) else None],
        "valid_from": [pd.Timestamp(frm)], "valid_to": [pd.Timestamp(end)],
    })
    return store.write("derived_quotas", frame, source="plancast plan change quota", plan_id=plan_id,
                       reason=reason, author=author)


def change_assumptions(store: Store, territory_id: str, on: date, changes: Mapping[str, Any], *,
                       plan_id: str = DEFAULT_PLAN, reason: str | None = None,
                       author: str | None = None) -> WriteResult:
    """New planning assumptions for a territory from ``on``: the values in force then, with ``changes``."""
    reason = _need_reason(reason)
    bad = sorted(set(changes) - set(_ASSUMPTION_FIELDS))
    if bad:
        raise BadInput(f"unknown assumption {', '.join(bad)}", hint="change one of: " + ", ".join(_ASSUMPTION_FIELDS))
    _known(store, "territories", [territory_id], "territory", "check the id (plancast show territories)")
    cur = store.plan_records("planning_assumptions", plan_id=plan_id, valid_on=on)
    cur = cur[cur["territory_id"] == territory_id]
    if not len(cur):
        raise NotFound(f"no planning assumptions for {territory_id!r} in force on {on}",
                       hint="import planning assumptions for it first (plancast import planning-assumptions FILE)")
    # the values in force, not their bookkeeping: this change is known now, not when they were
    keep = [c for c in KINDS["planning_assumptions"].column_names if c in cur and c != "recorded_at"]
    row = cur.iloc[[0]][keep].copy()
    for k, v in changes.items():
        row[k] = float(v)
    row["valid_from"] = pd.Timestamp(on)
    from ..ingest import check_frame

    problems = check_frame(KINDS["planning_assumptions"], row, source="--set")
    if problems:
        raise BadInput("the changed assumptions are not valid", problems)
    return store.write("planning_assumptions", row, source="plancast plan change assumption", plan_id=plan_id,
                       reason=reason, author=author)


def add_exclusion(store: Store, account_ids: list[str], why: str, valid_from: date, valid_to: date | None, *,
                  plan_id: str = DEFAULT_PLAN, reason: str | None = None, author: str | None = None) -> WriteResult:
    """Accounts unavailable over [valid_from, valid_to)."""
    reason = _need_reason(reason)
    _known(store, "accounts", account_ids, "account", "import the accounts first or check the ids")
    if valid_to is not None and valid_to <= valid_from:
        raise BadInput(f"valid_to {valid_to} is not after valid_from {valid_from}",
                       hint="the exclusion covers [from, to): give a later --to, or none for open-ended")
    frame = pd.DataFrame({"account_id": account_ids, "reason": why, "valid_from": pd.Timestamp(valid_from),
                          "valid_to": _ts(valid_to)})
    return store.write("account_exclusions", frame, source="plancast plan change exclude", plan_id=plan_id,
                       reason=reason, author=author)
