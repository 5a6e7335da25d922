"""Bitemporal bookkeeping for plan records, as pure vectorised frame code.

A plan record says: for this *key* (an account's territory, a territory's
assumptions, a rep's quota for a period …), over the valid-time interval
``[valid_from, valid_to)``, this is the plan — as recorded at ``recorded_at``.

Appending new records for some keys never edits an old row. Instead:

* a new record identical to a current one (same key, interval and values) is a
  no-op, so re-importing a file changes nothing;
* every current record whose interval overlaps a new record of the same key is
  *superseded* as a whole (a row in ``supersession``), and the parts of its
  interval that the new records do not cover are *restated*: appended again
  with the old values and the new record time.

So "the plan in force on day D as known at time K" is always: the records
recorded at or before K, not superseded at or before K, whose interval
contains D — and that set never has two records of one key covering the same
day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: stands for an open-ended ``valid_to`` inside computations
OPEN_END = pd.Timestamp("2262-04-01")


@dataclass
class AppendPlan:
    """What to write: new rows (with values), and the ids of superseded rows."""

    inserts: pd.DataFrame  # key + value + valid_from/valid_to/retracted columns; record ids not yet assigned
    superseded: np.ndarray  # record_id of current rows to supersede
    unchanged: int  # new rows dropped because an identical record is current
    restated: int  # of the inserts, how many are restated remainders of superseded rows


def _norm_to(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).fillna(OPEN_END)


def same_values(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise equality where two missing values count as equal (and 1 == 1.0)."""
    both_na = a.isna().to_numpy() & b.isna().to_numpy()
    eq = np.asarray(a.to_numpy(dtype=object, na_value=None) == b.to_numpy(dtype=object, na_value=None), dtype=bool)
    return pd.Series(both_na | eq, index=a.index)


def plan_append(
    current: pd.DataFrame, new: pd.DataFrame, key: list[str], values: list[str], carry: list[str] | None = None
) -> AppendPlan:
    """Work out the rows to append and the records to supersede.

    ``current`` holds the current (not superseded) records with ``record_id``,
    key, value, ``valid_from``, ``valid_to`` and ``retracted`` columns. ``new``
    holds the incoming records (key, value, ``valid_from``, ``valid_to``); its
    intervals must not overlap within one key (the import checks refuse that).
    ``carry`` names more columns that are not compared but are kept on restated
    remainders (and written as given, or blank, on new records).
    """
    carry = [c for c in (carry or []) if c not in values]
    cols = [*key, *values, *carry, "valid_from", "valid_to", "retracted"]
    new = new.copy()
    if "retracted" not in new:
        new["retracted"] = False
    for c in carry:
        if c not in new:
            new[c] = np.nan
        if c not in current:
            current = current.assign(**{c: np.nan})
    new = new[cols].reset_index(drop=True)
    new["_nid"] = np.arange(len(new))
    new["_from"] = pd.to_datetime(new["valid_from"])
    new["_to"] = _norm_to(new["valid_to"])
    cur = current.copy()
    cur["_from"] = pd.to_datetime(cur["valid_from"])
    cur["_to"] = _norm_to(cur["valid_to"])

    # 1. identical records already current: nothing to do for them
    same = new.merge(cur, on=key, suffixes=("", "_c"))
    eq = (same["_from"] == same["_from_c"]) & (same["_to"] == same["_to_c"])
    for v in [*values, "retracted"]:
        eq &= same_values(same[v], same[f"{v}_c"])
    dup_ids = same.loc[eq, "_nid"].unique()
    new = new[~new["_nid"].isin(dup_ids)]
    unchanged = len(dup_ids)

    # 2. overlaps between the remaining new records and current ones
    pairs = new[[*key, "_nid", "_from", "_to"]].merge(
        cur[[*key, "record_id", "_from", "_to"]], on=key, suffixes=("", "_c")
    )
    pairs = pairs[(pairs["_from"] < pairs["_to_c"]) & (pairs["_from_c"] < pairs["_to"])]
    superseded = np.sort(pairs["record_id"].unique())

    # 3. remainders: each superseded interval minus the union of the new
    #    intervals of its key (new intervals of a key never overlap)
    pieces = []
    if len(pairs):
        p = pairs.sort_values(["record_id", "_from"]).reset_index(drop=True)
        first = ~p["record_id"].duplicated()
        prev_end = p.groupby("record_id")["_to"].shift(1)
        start = prev_end.where(~first, p["_from_c"])
        gap = p[p["_from"] > start].assign(p_from=lambda d: start[d.index], p_to=lambda d: d["_from"])
        last = p[~p["record_id"].duplicated(keep="last")]
        tail = last[last["_to"] < last["_to_c"]].assign(p_from=lambda d: d["_to"], p_to=lambda d: d["_to_c"])
        g = pd.concat([gap, tail])[["record_id", "p_from", "p_to", "_from_c"]]
        g["p_from"] = np.maximum(g["p_from"], g["_from_c"])
        g = g[g["p_from"] < g["p_to"]]
        if len(g):
            old = cur.set_index("record_id").loc[g["record_id"].to_numpy(), [*key, *values, *carry, "retracted"]]
            old = old.reset_index(drop=True)
            old["valid_from"] = g["p_from"].to_numpy()
            old["valid_to"] = g["p_to"].to_numpy()
            old.loc[old["valid_to"] >= OPEN_END, "valid_to"] = pd.NaT
            pieces.append(old)
    restated = sum(len(x) for x in pieces)
    inserts = pd.concat([new[cols], *[x[cols] for x in pieces]], ignore_index=True) if pieces else new[cols]
    return AppendPlan(
        inserts=inserts.reset_index(drop=True), superseded=superseded, unchanged=unchanged, restated=restated
    )
