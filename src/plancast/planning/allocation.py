"""Top-down target allocation, exact to the cent.

A target (dollars, with cents) is cascaded down a tree — company → segment →
region → territory → rep, or any depth — in proportion to each node's weight
(its capacity, or given weights). Everything is done in **integer cents**:

* The target, and every pin, is converted to cents exactly (``Decimal``; more
  than two decimals, a negative, a NaN or an infinite amount is refused).
* Each parent's cents are split over its children by **largest remainder
  (Hamilton)**: every child gets the floor of its exact share, and the cents
  left over go one each to the children with the largest fractional parts.
  Ties in the fractional part go to the larger weight, then to the smaller node
  id, so the result never depends on row order. Children therefore sum to
  their parent **exactly**, at every level, and no child is more than one cent
  from its exact share. A bigger weight never gets less than a smaller one.
* **Pins** fix a node's amount. Its unpinned siblings share what the parent has
  left after the pins, by weight; a pinned node's own children split its pin
  the same way (pins inside a pinned subtree are honoured too).

Refused, with a message naming the node and a hint: a node listed twice (or
with two parents), a parent that is not a node, a cycle of parents, more than
one root (or none), a NaN / infinite / negative / non-numeric weight (the
root's weight is never used and may be missing), a sibling set whose weights
are all zero under a parent with money to split, pins under a node that total
more than the node gets (whether they sit on its children or deeper), a sibling
set that is all pinned but does not add up to its parent, a pin on an unknown
node, and a bad target.

The work is vectorised: one pass of pointer jumping (O(n log n)) finds every
node's depth and detects cycles, then one numpy step per tree *level* splits
all parents of that level at once. No Python loop runs per node.

Floating point enters only in the shares ``w_i / Σw``, and is kept exact where
it matters: weights are rescaled by a power of two, ``Σw`` is summed error-free
(double-double), and each floor and fractional part is taken from the residual
``R·w_i − floor·Σw`` computed with error-free products, so they are those of
exact arithmetic on the given float weights. Fractional parts closer than
2**-32 of a cent count as a tie (so weights like 0.1 and 0.4, exactly 1:4 in
decimal, tie as they should). The cents are integers throughout: leftover cents
are counted exactly, so conservation never depends on float accuracy. Amounts
are exact up to 2**53 cents (about $90 trillion); larger amounts are refused.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from plancast.errors import BadInput, PlancastError

__all__ = ["MAX_CENTS", "Allocation", "ConservationError", "allocate", "format_cents", "to_cents"]

#: the largest amount handled exactly, in cents (float64 holds every integer up to it)
MAX_CENTS = 2**53
_EPS = 2.0**-52
_TIE = 2.0**-32  # fractional parts of a cent closer than this count as equal
_SPLIT = 134217729.0  # 2**27 + 1, Dekker's splitter
_SHOW = 5  # how many names a message lists before "and N more"


class ConservationError(PlancastError, ArithmeticError):
    """An allocation whose children do not add up to their parent (a plancast bug)."""


# --------------------------------------------------------------------------- money


def format_cents(cents: int) -> str:
    """``1234567`` → ``'$12,345.67'`` (negative amounts as ``'-$1.00'``)."""
    c = int(cents)
    sign = "-" if c < 0 else ""
    c = abs(c)
    return f"{sign}${c // 100:,}.{c % 100:02d}"


def to_cents(value: Any, *, what: str = "amount") -> int:
    """Convert a dollar amount (int, float, Decimal or decimal string) to integer cents, exactly.

    A float is read by its shortest decimal representation (``0.1`` is
    ten cents, not its binary expansion). Refuses booleans, NaN, infinities,
    negatives, more than two decimals and amounts above ``MAX_CENTS``.
    """
    hint = f"Give the {what.split(' ')[0]} in dollars, at least 0, with at most 2 decimals, e.g. 123456789.01."
    if isinstance(value, (bool, np.bool_)):
        raise BadInput(f"{what} is {value!r}, not an amount of money", hint=hint)
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, (float, np.floating)):
        f = float(value)
        if f != f:
            raise BadInput(f"{what} is NaN, not an amount of money", hint=hint)
        if f in (float("inf"), float("-inf")):
            raise BadInput(f"{what} is infinite", hint=hint)
        d = Decimal(repr(f))
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise BadInput(f"{what} {value!r} is not a number", hint=hint) from None
    else:
        raise BadInput(f"{what} is a {type(value).__name__} ({value!r}), not an amount of money", hint=hint)
    if d.is_nan():
        raise BadInput(f"{what} is NaN, not an amount of money", hint=hint)
    if d.is_infinite():
        raise BadInput(f"{what} is infinite", hint=hint)
    if d < 0:
        raise BadInput(f"{what} is negative ({d})", hint=hint)
    if d.adjusted() > 16:
        raise BadInput(f"{what} {d} is too large (at most {format_cents(MAX_CENTS)})", hint=hint)
    _, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    mantissa = int("".join(map(str, digits)) or "0")
    shift = exp + 2  # cents = mantissa * 10**shift
    if shift >= 0:
        cents = mantissa * 10**shift
    else:
        cents, rest = divmod(mantissa, 10**-shift)
        if rest:
            raise BadInput(f"{what} {d} has more than 2 decimals (cents)", hint=hint)
    if cents > MAX_CENTS:
        raise BadInput(f"{what} {d} is too large (at most {format_cents(MAX_CENTS)})", hint=hint)
    return cents


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class Allocation:
    """The result of :func:`allocate`: one amount in cents per node of the tree.

    ``amounts`` is indexed by node id (rows in the order of the input frame),
    int64 cents. ``parent``, ``weight`` and ``level`` share that index
    (``level`` is ``None`` when the frame had no ``level`` column); ``pins`` holds
    the pinned nodes' amounts in cents.
    """

    amounts: pd.Series
    parent: pd.Series
    weight: pd.Series
    level: pd.Series | None
    pins: pd.Series
    target_cents: int
    root: Hashable

    def dollars(self) -> pd.Series:
        """The amounts in dollars (float64, each the nearest float to the exact cents)."""
        return (self.amounts / 100.0).rename("amount")

    def _name(self, node: Hashable) -> str:
        if self.level is not None:
            lv = self.level.get(node)
            if lv is not None and not pd.isna(lv):
                return f"{lv} '{node}'"
        return f"node '{node}'"

    def check(self) -> Allocation:
        """Re-verify the allocation: every parent equals the sum of its children in cents,
        the root carries the target, pins are honoured and no amount is negative.

        Returns ``self``; raises :class:`ConservationError` naming the first node that fails.
        """
        amt = self.amounts
        if amt.dtype != np.int64:
            raise ConservationError(f"amounts are {amt.dtype}, not int64 cents")
        if int(amt.loc[self.root]) != self.target_cents:
            raise ConservationError(
                f"{self._name(self.root)} has {format_cents(int(amt.loc[self.root]))}, "
                f"not the target {format_cents(self.target_cents)}"
            )
        neg = amt < 0
        if neg.any():
            node = amt.index[np.flatnonzero(neg.to_numpy())[0]]
            raise ConservationError(f"{self._name(node)} has a negative amount {format_cents(int(amt.loc[node]))}")
        n = len(amt)
        codes, _ = pd.factorize(
            pd.concat([pd.Series(amt.index.array), pd.Series(self.parent.array)], ignore_index=True)
        )
        codes = np.asarray(codes, dtype=np.int64)
        root_pos = int(np.flatnonzero(amt.index == self.root)[0])
        pc = codes[n:]
        below = (pc >= 0) & (pc < n)
        below[root_pos] = False
        kids = np.flatnonzero(below)
        ps = pc[kids]
        order = np.argsort(ps, kind="stable")
        ps, kid_amounts = ps[order], amt.to_numpy()[kids[order]]
        if len(ps):
            starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
            sums = np.add.reduceat(kid_amounts, starts)
            have = amt.to_numpy()[ps[starts]]
            bad = np.flatnonzero(have != sums)
            if len(bad):
                node = amt.index[ps[starts[bad[0]]]]
                raise ConservationError(
                    f"children of {self._name(node)} sum to {format_cents(int(sums[bad[0]]))}, "
                    f"not its {format_cents(int(have[bad[0]]))}"
                )
        if len(self.pins):
            got = amt.loc[self.pins.index].to_numpy()
            off = np.flatnonzero(got != self.pins.to_numpy())
            if len(off):
                node = self.pins.index[off[0]]
                raise ConservationError(
                    f"{self._name(node)} is pinned at {format_cents(int(self.pins.iloc[off[0]]))} "
                    f"but has {format_cents(int(got[off[0]]))}"
                )
        return self

    def to_frame(self) -> pd.DataFrame:
        """One row per node: node, parent, level, weight, amount (dollars), amount_cents, pinned."""
        idx = self.amounts.index
        return pd.DataFrame(
            {
                "node": idx.to_numpy(),
                "parent": self.parent.to_numpy(),
                "level": self.level.to_numpy() if self.level is not None else np.full(len(idx), None, dtype=object),
                "weight": self.weight.to_numpy(),
                "amount": self.amounts.to_numpy() / 100.0,
                "amount_cents": self.amounts.to_numpy(),
                "pinned": idx.isin(self.pins.index),
            }
        )


# --------------------------------------------------------------------------- helpers


def _more(items: list[str], total: int | None = None) -> str:
    total = len(items) if total is None else total
    shown = ", ".join(items[:_SHOW])
    return shown + (f" and {total - _SHOW} more" if total > _SHOW else "")


class _Names:
    """Node labels for messages: "region 'West'" when a level is known, else "node 'West'"."""

    def __init__(self, ids: pd.Index, levels: Any | None) -> None:
        self.ids = ids
        self.levels = levels

    def __call__(self, i: int) -> str:
        if self.levels is not None:
            lv = self.levels[i]
            if lv is not None and not pd.isna(lv) and str(lv) != "":
                return f"{lv} '{self.ids[i]}'"
        return f"node '{self.ids[i]}'"

    def q(self, i: int) -> str:
        return f"'{self.ids[i]}'"


def _sort_rank(values: pd.Index) -> np.ndarray:
    """Rank of each value in ascending order (ids of mixed types fall back to their text)."""
    try:
        order = np.asarray(values.argsort(), dtype=np.int64)
    except TypeError:
        order = np.asarray(values.astype(str).argsort(), dtype=np.int64)
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values), dtype=np.int64)
    return rank


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a*b`` as a float and its exact rounding error (Dekker), element-wise."""
    p = a * b
    t = _SPLIT * a
    ahi = t - (t - a)
    alo = a - ahi
    t = _SPLIT * b
    bhi = t - (t - b)
    blo = b - bhi
    return p, ((ahi * bhi - p) + ahi * blo + alo * bhi) + alo * blo


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a+b`` as a float and its exact rounding error (Knuth), element-wise."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _group_sum_dd(x: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums of the contiguous groups of ``x`` as double-doubles ``(hi, lo)``, error-free
    up to ~1e-32 relative: one running sum, the exact error of each of its additions,
    and the exact difference of the running sum at each group's ends."""
    run = np.cumsum(x)
    before = np.empty_like(run)
    before[0] = 0.0
    before[1:] = run[:-1]
    _, err = _two_sum(before, x)  # before + x == run + err exactly
    ends = np.append(starts[1:], len(x)) - 1
    hi, lo = _two_sum(run[ends], -before[starts])
    lo = lo + np.add.reduceat(err, starts)
    total = hi + lo
    return total, lo - (total - hi)


def _group_sum_clipped(x: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Exact int64 segment sums, clipped at 2**62 instead of wrapping around."""
    isum = np.add.reduceat(x, starts)
    fsum = np.add.reduceat(x.astype(np.float64), starts)
    return np.where(fsum > 2.0**61, np.int64(2**62), isum)


def _structure(nodes: Any, weight_col: str):
    """Read and check the frame: ids, parents (as row positions), weights, levels."""
    hint_cols = f"Give a frame with columns 'node', 'parent' and {weight_col!r} (and optionally 'level')."
    if not isinstance(nodes, pd.DataFrame):
        raise BadInput(f"nodes must be a pandas DataFrame, not {type(nodes).__name__}", hint=hint_cols)
    for col in ("node", "parent", weight_col):
        if col not in nodes.columns:
            raise BadInput(
                f"nodes has no column {col!r} (columns: {', '.join(map(repr, nodes.columns))})",
                hint=hint_cols + (" Pass weight_col= to use another weight column." if col == weight_col else ""),
            )
    if len(nodes) == 0:
        raise BadInput("nodes is empty: there is nothing to allocate to", hint="Give at least the root node.")

    node_s = nodes["node"]
    null_id = node_s.isna().to_numpy()
    if null_id.any():
        pos = int(np.flatnonzero(null_id)[0])
        raise BadInput(
            f"the row at index {nodes.index[pos]!r} has no node id ({int(null_id.sum())} such row(s))",
            hint="Give every row a node id, or drop the empty rows.",
        )
    index = pd.Index(node_s.array, name="node")
    ids = index
    levels = nodes["level"].array if "level" in nodes.columns else None
    names = _Names(index, levels)

    parent_s = nodes["parent"]
    no_parent = parent_s.isna().to_numpy().copy()
    if parent_s.dtype == object or pd.api.types.is_string_dtype(parent_s.dtype):
        no_parent |= (parent_s == "").to_numpy(dtype=bool, na_value=False)
    parents = parent_s.array

    # One hashing pass over ids and parents together: with unique ids, row i gets
    # code i, and a parent's code is its row (a code >= n is a parent that is no node).
    n = len(index)
    codes, _ = pd.factorize(pd.concat([node_s, parent_s], ignore_index=True))
    codes = np.asarray(codes, dtype=np.int64)
    if not np.array_equal(codes[:n], np.arange(n, dtype=np.int64)):
        dup_mask = index.duplicated(keep=False)
        first = ids[np.flatnonzero(dup_mask)[0]]
        rows = np.flatnonzero(dup_mask & (index == first))
        their_parents = list(dict.fromkeys(None if no_parent[r] else parents[r] for r in rows))
        n_dup = int(pd.Index(ids[dup_mask]).nunique())
        others = f" ({n_dup - 1} other node(s) are repeated too)" if n_dup > 1 else ""
        if len(their_parents) > 1:
            shown = " and ".join("no parent" if p is None else f"'{p}'" for p in their_parents[:3])
            msg = f"{names(int(rows[0]))} has two parents: {shown}{others}"
        else:
            msg = f"{names(int(rows[0]))} is listed {len(rows)} times{others}"
        raise BadInput(msg, hint="Give each node exactly one row, with its one parent.")

    has_parent = ~no_parent
    pcode = codes[n:]
    par = np.where(has_parent & (pcode >= 0) & (pcode < n), pcode, -1)
    unknown = has_parent & (par < 0)
    if unknown.any():
        bad = np.flatnonzero(unknown)
        i = int(bad[0])
        more = f" ({len(bad) - 1} more node(s) have a parent that is not a node)" if len(bad) > 1 else ""
        raise BadInput(
            f"parent '{parents[i]}' of {names(i)} is not a node{more}",
            hint=f"Add a row for '{parents[i]}', or correct the parent of '{ids[i]}'.",
        )

    # Pointer jumping: after k rounds, anc is the 2**k-th ancestor (stopping at a root)
    # and dist the number of steps taken. A node still not at a root after 2**k >= n
    # steps lies on a cycle or below one, and its anc is then on the cycle.
    anc = np.where(par < 0, np.arange(n, dtype=np.int64), par)
    dist = (par >= 0).astype(np.int64)
    for _ in range(max(1, n.bit_length())):
        dist = dist + dist[anc]
        anc = anc[anc]
    cyclic = par[anc] >= 0
    if cyclic.any():
        start = int(anc[np.flatnonzero(cyclic)[0]])
        ring = [start]
        j = int(par[start])
        while j != start:
            ring.append(j)
            j = int(par[j])
        first = ring.index(min(ring))  # name the cycle from its first row in the frame
        ring = ring[first:] + ring[:first]
        start = ring[0]
        shown = [names.q(k) for k in ring[:6]]
        path = " → ".join(shown + (["…"] if len(ring) > 6 else []) + [names.q(start)])
        raise BadInput(
            f"{names(start)} is on a cycle of parents: {path}",
            hint=f"Following parents from any node must reach the root; correct the parent of one node on the cycle (e.g. '{ids[start]}').",
        )

    raw_w = nodes[weight_col]
    num = pd.to_numeric(raw_w, errors="coerce")
    weights = np.asarray(pd.Series(num).to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    not_numeric = np.asarray(raw_w.notna().to_numpy() & np.isnan(weights))
    return ids, index, par, dist, raw_w, weights, not_numeric, levels, names


def _check_weights(raw: pd.Series, weights, not_numeric, keep, root_pos, names, weight_col) -> None:
    """Refuse non-numeric, missing, infinite and negative weights (the root's is never used)."""
    hint = (
        f"Weights ({weight_col!r}) must be finite numbers, 0 or more (a capacity, a headcount, a share); "
        "fix the row or drop it."
    )
    w = weights[keep]
    used = keep != root_pos
    nan = np.isnan(w)
    for mask, what in (
        (not_numeric[keep] & used, "is not a number ({!r})"),
        (nan & ~not_numeric[keep] & used, "is missing (NaN)"),
        (np.isinf(w) & used, "is infinite ({!r})"),
        ((w < 0) & used, "is negative ({!r})"),
    ):
        bad = np.flatnonzero(mask)
        if len(bad):
            i = int(keep[bad[0]])
            more = f"; so are {len(bad) - 1} more" if len(bad) > 1 else ""
            raise BadInput(f"weight of {names(i)} {what.format(raw.iloc[i])}{more}", hint=hint)


# --------------------------------------------------------------------------- allocate


def allocate(
    nodes: pd.DataFrame,
    target: int | float | Decimal,
    *,
    root: str | None = None,
    weight_col: str = "weight",
    pins: Mapping[str, float | Decimal] | None = None,
) -> Allocation:
    """Allocate ``target`` dollars down the tree in ``nodes``, exact to the cent.

    ``nodes`` has one row per node: ``node`` (id), ``parent`` (None/NaN/empty for
    the root), the weight column (``weight``; capacity or a given weight; the
    root's is not used) and optionally ``level`` (used in messages and in
    :meth:`Allocation.to_frame`). With ``root=`` only that node's subtree is
    allocated (the frame may then hold other trees); without it the frame must
    hold exactly one root. ``pins`` maps node ids to fixed dollar amounts.

    See the module docstring for the method and for what is refused.
    """
    total = to_cents(target, what="target")
    ids, index, par, dist, raw_w, weights, not_numeric, levels, names = _structure(nodes, weight_col)
    n = len(ids)

    # ---- the root and the subtree it spans
    if root is None:
        roots = np.flatnonzero(par < 0)
        if len(roots) != 1:
            raise BadInput(
                f"nodes has {len(roots)} roots (nodes without a parent): {_more([names.q(int(r)) for r in roots])}",
                hint="A tree has one root: give every other node a parent, or pass root= to allocate one of the trees.",
            )
        root_pos = int(roots[0])
        keep = np.arange(n, dtype=np.int64)
    else:
        hits = np.flatnonzero(index == root)
        root_pos = int(hits[0]) if len(hits) else -1
        if root_pos < 0:
            raise BadInput(f"root '{root}' is not a node", hint="Pass root= the id of a node in nodes, or leave it out.")
        if par[root_pos] < 0 and int((par < 0).sum()) == 1:
            keep = np.arange(n, dtype=np.int64)
        else:
            inside = np.zeros(n, dtype=bool)
            inside[root_pos] = True
            by_depth = np.argsort(dist, kind="stable")
            bounds = np.searchsorted(dist[by_depth], np.arange(dist.max() + 2))
            for d in range(int(dist[root_pos]) + 1, int(dist.max()) + 1):
                lv = by_depth[bounds[d] : bounds[d + 1]]
                inside[lv] = inside[par[lv]]
            keep = np.flatnonzero(inside)

    _check_weights(raw_w, weights, not_numeric, keep, root_pos, names, weight_col)

    # ---- compact arrays over the subtree (positions 0..m-1 in frame order)
    m = len(keep)
    newpos = np.full(n, -1, dtype=np.int64)
    newpos[keep] = np.arange(m, dtype=np.int64)
    r = int(newpos[root_pos])
    pk = par[keep]
    p = np.where(pk >= 0, newpos[np.maximum(pk, 0)], -1)
    p[r] = -1
    depth = dist[keep] - dist[root_pos]
    w = weights[keep].copy()
    w[r] = 0.0 if not np.isfinite(w[r]) else w[r]
    whole = m == n
    sub_ids = ids if whole else ids.take(keep)
    sub_levels = (levels if whole else levels.take(keep)) if levels is not None else None
    sn = _Names(sub_ids, sub_levels)

    # ---- pins
    pin_c = np.full(m, -1, dtype=np.int64)
    pin_series = pd.Series([], dtype=np.int64)
    if pins:
        keys = list(pins.keys())
        kc, _ = pd.factorize(pd.concat([nodes["node"], pd.Series(keys, dtype=object)], ignore_index=True))
        where = np.where(kc[n:] < n, kc[n:], -1)
        for k, pos in zip(keys, where):
            if pos < 0:
                raise BadInput(
                    f"pin on '{k}': there is no such node",
                    hint=f"Pin only nodes listed in nodes (check the spelling of '{k}').",
                )
            if newpos[pos] < 0:
                raise BadInput(
                    f"pin on '{k}', which is not under root '{ids[root_pos]}'",
                    hint="Pin only nodes of the tree being allocated.",
                )
        for k, pos in zip(keys, where):
            pin_c[newpos[pos]] = to_cents(pins[k], what=f"pin on '{k}'")
        if pin_c[r] >= 0 and pin_c[r] != total:
            raise BadInput(
                f"pin on root {sn(r)} is {format_cents(int(pin_c[r]))}, but the target is {format_cents(total)}",
                hint="Drop the pin on the root, or make it equal the target.",
            )
        pin_series = pd.Series(pin_c[pinned_at := np.flatnonzero(pin_c >= 0)], index=sub_ids.take(pinned_at), dtype=np.int64)
    pinned = pin_c >= 0
    has_pins = bool(pinned.any())

    # ---- levels: children sorted by (depth, parent), each sibling set contiguous
    order = np.lexsort((p, depth))
    max_depth = int(depth.max()) if m else 0
    bounds = np.searchsorted(depth[order], np.arange(max_depth + 2))

    def level(d: int):
        c = order[bounds[d] : bounds[d + 1]]
        pc = p[c]
        new = np.empty(len(c), dtype=bool)
        new[0] = True
        new[1:] = pc[1:] != pc[:-1]
        starts = np.flatnonzero(new)
        g = np.cumsum(new) - 1
        return c, starts, g, pc[starts]

    # ---- bottom-up: cents reserved by pins inside each subtree (topmost pins only)
    reserved = np.where(pinned, pin_c, 0)
    if has_pins:
        for d in range(max_depth, 0, -1):
            c, starts, g, gp = level(d)
            sums = _group_sum_clipped(reserved[c], starts)
            reserved[gp] = np.where(pinned[gp], pin_c[gp], sums)

    # ---- top-down: split each level's parents over their children
    amount = np.zeros(m, dtype=np.int64)
    amount[r] = total
    for d in range(1, max_depth + 1):
        c, starts, g, gp = level(d)
        A = amount[gp]
        pm = pinned[c]
        if has_pins:
            below = _group_sum_clipped(reserved[c], starts)
            over = np.flatnonzero(below > A)
            if len(over):
                _refuse_overpinned(int(gp[over[0]]), int(below[over[0]]), int(A[over[0]]), r, p, pinned, pin_c, sn)
            pin_sum = np.add.reduceat(np.where(pm, pin_c[c], 0), starts)
            R = A - pin_sum
            n_free = np.add.reduceat((~pm).astype(np.int64), starts)
            stuck = np.flatnonzero((n_free == 0) & (R != 0))
            if len(stuck):
                k = int(stuck[0])
                q = int(gp[k])
                raise BadInput(
                    f"every child of {sn(q)} is pinned, but the pins total {format_cents(int(pin_sum[k]))}, "
                    f"not its {format_cents(int(A[k]))}",
                    hint=f"Unpin one child of '{sub_ids[q]}' so it takes the remaining {format_cents(int(R[k]))}, "
                    f"or make the pins add up to {format_cents(int(A[k]))}.",
                )
            wf = np.where(pm, 0.0, w[c])
        else:
            R = A
            wf = w[c]
        wmax = np.maximum.reduceat(wf, starts)
        dead = np.flatnonzero((R > 0) & (wmax <= 0))
        if len(dead):
            k = int(dead[0])
            q = int(gp[k])
            kids = c[g == k]
            free = kids[~pinned[kids]]
            what = "child" if not pinned[kids].any() else "unpinned child"
            left = "its" if what == "child" else "the"
            tail = "" if what == "child" else " left after pins"
            raise BadInput(
                f"every {what} of {sn(q)} has weight 0 ({_more([sn.q(int(i)) for i in free])}), "
                f"so {left} {format_cents(int(R[k]))}{tail} cannot be split",
                hint=f"Give at least one child of '{sub_ids[q]}' a positive weight, or pin its children.",
            )
        # Exact shares R·w/Σw, floored. Weights are scaled by a power of two (exact) so sums
        # never overflow; Σw is summed error-free (double-double), and each floor is checked
        # against its residual R·w − floor·Σw, computed with error-free products. So floors
        # and fractional parts are those of exact arithmetic (to ~1e-16 of a cent).
        _, ex = np.frexp(np.where(wmax > 0, wmax, 1.0))
        wn = np.ldexp(wf, -ex[g])
        W_hi, W_lo = _group_sum_dd(wn, starts)
        Wg = np.where(W_hi > 0, W_hi, 1.0)[g]
        Wl = np.where(W_hi > 0, W_lo, 0.0)[g]
        Rg = R.astype(np.float64)[g]
        pos_w = wf > 0  # only positive-weight unpinned children share the remainder
        f = np.where(pos_w, np.floor((Rg * wn) / Wg), 0.0)
        p1, e1 = _two_prod(Rg, wn)
        for _ in range(2):
            p2, e2 = _two_prod(f, Wg)
            num = (p1 - p2) + ((e1 - e2) - f * Wl)
            f = np.where(pos_w, np.maximum(f + np.floor(num / Wg), 0.0), 0.0)
        p2, e2 = _two_prod(f, Wg)
        frac = np.where(pos_w, np.clip(((p1 - p2) + ((e1 - e2) - f * Wl)) / Wg, 0.0, 1.0 - _EPS), -1.0)
        f = f.astype(np.int64)
        leftover = R - np.add.reduceat(f, starts)
        while (leftover < 0).any():  # pragma: no cover - only if float error ever overshoots
            # give back a cent from every floor >= 1 of those sets; they then rank first for it
            back = (leftover < 0)[g] & (f > 0)
            f = f - back
            frac = frac + back
            leftover = R - np.add.reduceat(f, starts)
        n_pos = np.add.reduceat(pos_w.astype(np.int64), starts)
        base, extra = np.divmod(leftover, np.maximum(n_pos, 1))
        # Rank within each sibling set: larger fraction first, then larger weight, then
        # smaller id. Fractions closer than _TIE (well above their float error) tie, so
        # fractions equal in exact arithmetic tie too and the weight decides; bigger weights
        # stay first either way. One float key sorts by sibling set, then by fraction.
        if frac.max(initial=-1.0) < 2.0:
            sorted_ = np.argsort(g * 4.0 + (2.0 - frac), kind="stable")
        else:  # pragma: no cover - after the give-back above
            sorted_ = np.lexsort((-frac, g))
        sf, sg = frac[sorted_], g[sorted_]
        near = (sg[1:] == sg[:-1]) & (np.abs(sf[:-1] - sf[1:]) <= _TIE) & (sf[1:] >= 0)
        if near.any():
            cluster = np.empty(len(c), dtype=np.int64)
            cluster[sorted_] = np.cumsum(np.r_[True, ~near])
            sorted_ = np.lexsort((-wf, cluster))
            sc, sw = cluster[sorted_], wf[sorted_]
            if ((sc[1:] == sc[:-1]) & (sw[1:] == sw[:-1]) & (frac[sorted_][1:] >= 0)).any():
                sorted_ = np.lexsort((_sort_rank(sub_ids.take(c)), -wf, cluster))
        rank = np.empty(len(c), dtype=np.int64)
        rank[sorted_] = np.arange(len(c), dtype=np.int64)
        rank -= starts[g]
        bonus = np.where(pos_w, base[g] + (rank < extra[g]), 0)
        amount[c] = np.where(pm, pin_c[c], f + bonus) if has_pins else f + bonus

    idx = sub_ids
    parents_kept = nodes["parent"].array if whole else nodes["parent"].array.take(keep)
    return Allocation(
        amounts=pd.Series(amount, index=idx, name="amount_cents"),
        parent=pd.Series(parents_kept, index=idx, name="parent"),
        weight=pd.Series(weights if whole else weights[keep], index=idx, name="weight"),
        level=pd.Series(sub_levels, index=idx, name="level") if sub_levels is not None else None,
        pins=pin_series,
        target_cents=total,
        root=ids[root_pos],
    )


def _refuse_overpinned(q: int, below: int, have: int, r: int, p, pinned, pin_c, sn: _Names) -> None:
    """Pins under node q need more than q gets: name q, the topmost pins under it and both amounts."""
    under: list[int] = []
    for i in np.flatnonzero(pinned):  # error path only: walk up from each pin
        j = int(p[i])
        hit = False
        while j >= 0:
            if j == q:
                hit = True
                break
            if pinned[j]:
                break
            j = int(p[j])
        if hit:
            under.append(int(i))
    listed = _more([f"{sn(i)} {format_cents(int(pin_c[i]))}" for i in under])
    whose = "the target" if q == r else "its"
    raise BadInput(
        f"pins under {sn(q)} total {format_cents(below)}, more than {whose} {format_cents(have)} (pinned: {listed})",
        hint=(
            f"Lower or remove pins under '{sn.ids[q]}'"
            + (", or raise the target." if q == r else f", or pin '{sn.ids[q]}' (or raise its weight) so it gets at least {format_cents(below)}.")
        ),
    )
