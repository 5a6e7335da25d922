"""Top-down targets: a company number allocated down the plan's own tree.

The tree is company → segment → region → territory → rep (plus each territory's
open seat), built from the store as known at a time. Leaves weigh what the
capacity model says they can close (their derived quota), or what a weights
file gives; inner nodes weigh the sum of their leaves, so every split follows
capacity. :func:`plancast.planning.allocation.allocate` conserves the target to
the cent at every level and honours pins.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BadInput
from ..store import DEFAULT_PLAN, Store
from .allocation import Allocation, allocate
from .build import build_plan

LEVELS = ("company", "segment", "region", "territory", "rep")
OPEN_SEAT = "(open)"


def plan_tree(store: Store, period: str, *, plan_id: str = DEFAULT_PLAN,
              known_at: datetime | None = None) -> pd.DataFrame:
    """Nodes ``node, parent, level, entity_id, weight`` with capacity weights on the leaves."""
    b = build_plan(store, period, plan_id=plan_id, known_at=known_at, write=False)
    t = b.capacity.territories.copy()
    t["segment_id"] = t["segment_id"].fillna("(no segment)")
    t["region_id"] = t["region_id"].fillna("(no region)")
    r = b.capacity.reps
    leaves = pd.concat([
        pd.DataFrame({"level": "rep", "entity_id": r["rep_id"], "territory_id": r["territory_id"],
                      "weight": r["quota_raw"]}),
        pd.DataFrame({"level": "rep", "entity_id": OPEN_SEAT, "territory_id": t["territory_id"],
                      "weight": np.where(t["territory_id"].isin(r["territory_id"]), t["quota_open"],
                                         t["quota_covered"])}),
    ], ignore_index=True)
    leaves = leaves[(leaves["entity_id"] != OPEN_SEAT) | (leaves["weight"] > 0)]
    leaves["node"] = "rep:" + leaves["territory_id"].astype(str) + "/" + leaves["entity_id"].astype(str)
    leaves["parent"] = "territory:" + leaves["territory_id"].astype(str)
    terr = pd.DataFrame({"node": "territory:" + t["territory_id"].astype(str), "level": "territory",
                         "entity_id": t["territory_id"], "parent": "region:" + t["region_id"].astype(str)})
    reg = t.drop_duplicates("region_id")
    regions = pd.DataFrame({"node": "region:" + reg["region_id"].astype(str), "level": "region",
                            "entity_id": reg["region_id"], "parent": "segment:" + reg["segment_id"].astype(str)})
    seg = t["segment_id"].drop_duplicates()
    segments = pd.DataFrame({"node": "segment:" + seg.astype(str), "level": "segment", "entity_id": seg,
                             "parent": "company"})
    company = pd.DataFrame({"node": ["company"], "level": ["company"], "entity_id": ["company"], "parent": [None]})
    inner = pd.concat([company, segments, regions, terr], ignore_index=True)
    tree = pd.concat([inner, leaves[["node", "parent", "level", "entity_id", "weight"]]], ignore_index=True)
    # inner nodes weigh the sum of their leaves
    w = leaves.set_index("node")["weight"]
    by_t = leaves.groupby("parent")["weight"].sum()
    t_w = by_t.reindex(terr["node"]).fillna(0.0).to_numpy()
    r_w = pd.Series(t_w, index=terr["parent"].to_numpy()).groupby(level=0).sum()
    s_w = r_w.groupby(regions.set_index("node")["parent"].reindex(r_w.index).to_numpy()).sum()
    weights = pd.concat([w, pd.Series(t_w, index=terr["node"].to_numpy()), r_w, s_w])
    tree["weight"] = tree["node"].map(weights).fillna(0.0)
    return tree


def apply_weights_file(tree: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Leaf weights from a file with ``rep_id, weight`` (or ``territory_id, weight`` for open seats)."""
    from ..ingest.readers import read_raw

    raw = read_raw(Path(path), str(path))
    if raw.problems:
        raise BadInput(f"{path} was not read", raw.problems)
    df = pd.DataFrame({h: c.to_numpy() for h, c in zip(raw.header, raw.columns, strict=True)})
    if "weight" not in df or "rep_id" not in df:
        raise BadInput(f"{path}: a weights file needs the columns rep_id and weight",
                       hint="one row per rep: rep_id,weight")
    w = pd.to_numeric(df["weight"], errors="coerce")
    bad = w.isna() | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise BadInput(f"{path}, row {int(raw.rows[i])}, column 'weight', value {df['weight'].iloc[i]!r}: "
                       "is not a weight ≥ 0",
                       hint="give a number ≥ 0 per rep")
    leaf = tree["level"] == "rep"
    by_rep = pd.Series(w.to_numpy(), index=df["rep_id"].astype(str).to_numpy())
    tree = tree.copy()
    tree.loc[leaf, "weight"] = tree.loc[leaf, "entity_id"].map(by_rep).fillna(0.0).to_numpy()
    # inner nodes: sums again (inner nodes' weights only matter through their leaves)
    for lvl in ("territory", "region", "segment"):
        sums = tree[tree["parent"].notna()].groupby("parent")["weight"].sum()
        sel = tree["level"] == lvl
        tree.loc[sel, "weight"] = tree.loc[sel, "node"].map(sums).fillna(0.0).to_numpy()
    return tree


def allocate_target(
    store: Store,
    period: str,
    target: float | Decimal,
    *,
    plan_id: str = DEFAULT_PLAN,
    known_at: datetime | None = None,
    weights_file: str | Path | None = None,
    pins: Mapping[str, float | Decimal] | None = None,
) -> tuple[Allocation, pd.DataFrame]:
    tree = plan_tree(store, period, plan_id=plan_id, known_at=known_at)
    if weights_file is not None:
        tree = apply_weights_file(tree, weights_file)
    alloc = allocate(tree, target, pins=_pin_nodes(tree, pins or {}))
    frame = alloc.to_frame().merge(tree[["node", "entity_id"]], on="node")
    return alloc, frame


def _pin_nodes(tree: pd.DataFrame, pins: Mapping[str, Any]) -> dict[str, Any]:
    """``region:West`` or ``rep:W01`` (a rep's node) → the tree's node ids."""
    out = {}
    for name, amount in pins.items():
        level, _, ident = name.partition(":")
        if level == "rep":
            hit = tree[(tree["level"] == "rep") & (tree["entity_id"] == ident)]["node"]
        else:
            hit = tree[tree["node"] == name]["node"]
        if len(hit) != 1:
            raise BadInput(f"--pin {name!r} names no node of the plan tree",
                           hint="name it as company, segment:ID, region:ID, territory:ID or rep:ID")
        out[str(hit.iloc[0])] = amount
    return out


def quota_records(frame: pd.DataFrame, period: str, start: Any, end: Any) -> pd.DataFrame:
    """Allocated amounts as quota records (open seats roll into their territory's quota)."""
    f = frame[frame["entity_id"] != OPEN_SEAT]
    return pd.DataFrame({
        "entity_type": f["level"].to_numpy(), "entity_id": f["entity_id"].astype(str).to_numpy(),
        "period": period, "amount": f["amount"].to_numpy(), "basis": "allocated", "currency": "USD",
        "derived_amount": np.nan, "valid_from": pd.Timestamp(start), "valid_to": pd.Timestamp(end),
    })
