"""The split of a projection's gap to quota, exact to the cent (docs/methodology.md §9).

For an entity with quota ``Q``, plan expectation ``E_plan``, fair expectation
``E_fair`` and projection ``F``::

    F − Q = (E_plan − Q) + (E_fair − E_plan) + (F − E_fair)
             stretch        planning variance   execution variance

Each expectation is a product of drivers, ``E = A × r × w × s × τ`` (account-years,
opportunities per account-year, win rate, deal size, and timing — whatever of the
capacity model is not the four rates: cycle lag, ramp, coverage). A change from one
set of drivers to another is split by the Shapley value of the product, which is
exact (the parts sum to the change), symmetric, and defined when a driver is zero.
Everything here is a pure, vectorised computation over arrays (one row per entity).
"""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd

__all__ = [
    "DRIVERS", "allocate_cents", "exclusion_median", "peer_pooled_rate", "shapley_product", "split_cents", "split_change",
    "to_cents",
]

#: the drivers of an expectation, in the order of the factor columns
DRIVERS: tuple[str, ...] = ("accounts", "opportunity_rate", "win_rate", "asp", "timing")


def shapley_product(base: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Shapley decomposition of ``Π new − Π base`` over the factor columns.

    ``base`` and ``new`` are ``(n, k)``; the result is ``(n, k)`` and its rows sum
    to ``new.prod(1) − base.prod(1)``. For factor *i*::

        φ_i = Σ_{S ⊆ N∖{i}} |S|! (k − |S| − 1)! / k! · Π_{j∈S} new_j · Π_{j∉S∪{i}} base_j · (new_i − base_i)

    (2^(k−1) subsets; k = 5 drivers gives 16 vectorised products per factor)."""
    base = np.asarray(base, dtype=np.float64)
    new = np.asarray(new, dtype=np.float64)
    if base.shape != new.shape or base.ndim != 2:
        raise ValueError(f"base and new must be (n, k) arrays of one shape, got {base.shape} and {new.shape}")
    n, k = base.shape
    out = np.zeros((n, k))
    for i in range(k):
        others = [j for j in range(k) if j != i]
        acc = np.zeros(n)
        for size in range(k):
            weight = factorial(size) * factorial(k - size - 1) / factorial(k)
            for subset in combinations(others, size):
                term = np.ones(n)
                for j in others:
                    term = term * (new[:, j] if j in subset else base[:, j])
                acc += weight * term
        out[:, i] = acc * (new[:, i] - base[:, i])
    return out


def split_change(base: np.ndarray, new: np.ndarray, before: np.ndarray, after: np.ndarray,
                 residual: int = -1) -> np.ndarray:
    """Split ``after − before`` by driver: the Shapley split of the factor product,
    with whatever the product does not explain (non-finite factors, rounding) put on
    the ``residual`` column, so each row sums to ``after − before`` exactly (in floats)."""
    base = np.nan_to_num(np.asarray(base, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    new = np.nan_to_num(np.asarray(new, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    parts = shapley_product(base, new)
    total = np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64)
    parts[:, residual] += total - parts.sum(axis=1)
    return parts


def to_cents(x: np.ndarray | pd.Series) -> np.ndarray:
    """Dollars to integer cents (NaN counts as 0)."""
    return np.rint(np.nan_to_num(np.asarray(x, dtype=np.float64)) * 100).astype(np.int64)


def allocate_cents(parts: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Round each row of dollar ``parts`` (signed) to cents so the row sums to ``total`` cents exactly.

    The row's discrepancy is first spread evenly, then largest remainder: every part
    gets the floor of its cents and the cents left over go to the largest fractional
    parts (ties: first column)."""
    raw = np.nan_to_num(np.asarray(parts, dtype=np.float64)) * 100
    total = np.asarray(total, dtype=np.int64)
    k = raw.shape[1]
    raw = raw + ((total - raw.sum(axis=1)) / k)[:, None]
    floor = np.floor(raw)
    left = (total - floor.sum(axis=1)).round().astype(np.int64)
    rank = np.argsort(np.argsort(-(raw - floor), axis=1, kind="stable"), axis=1, kind="stable")
    return (floor + (rank < left[:, None])).astype(np.int64)


def split_cents(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The split of each row in integer cents: ``quota``, ``plan_expected``,
    ``fair_expected`` and ``projected_mean`` rounded, the three parts as differences
    of the rounded figures (so ``stretch + planning + execution = projected − quota``
    exactly), and each part's drivers (``planning_<driver>``, ``execution_<driver>``
    columns, in dollars) rounded to add up to their part exactly."""
    q, ep, ef, f = (to_cents(rows[c]) for c in ("quota", "plan_expected", "fair_expected", "projected_mean"))
    cents = {"quota": q, "plan_expected": ep, "fair_expected": ef, "projected_mean": f,
             "stretch": ep - q, "planning_variance": ef - ep, "execution_variance": f - ef}
    for part, total in (("planning", ef - ep), ("execution", f - ef)):
        cols = [f"{part}_{d}" for d in DRIVERS]
        alloc = allocate_cents(rows[cols].to_numpy(dtype=np.float64), total)
        for j, c in enumerate(cols):
            cents[c] = alloc[:, j]
    return cents


def exclusion_median(values: np.ndarray, groups: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """For each row, the median of ``values`` over the *other* valid rows of its group.

    Vectorised: within a sorted group of *m* valid values, leaving out the value at
    rank *i* shifts the ranks above it down by one, so the median of the remaining
    ``m − 1`` values is read from the sorted array by index arithmetic. Rows without
    another valid row in their group get NaN."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v) if valid is None else (np.asarray(valid, dtype=bool) & np.isfinite(v))
    codes, _ = pd.factorize(pd.Series(groups).astype(str), sort=False)
    codes = np.asarray(codes)
    n = len(v)
    out = np.full(n, np.nan)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return out
    order = idx[np.lexsort((v[idx], codes[idx]))]
    g = codes[order]
    sv = v[order]
    start_of = np.searchsorted(g, g, side="left")
    m = np.bincount(g, minlength=codes.max() + 1)[g]  # valid rows in the group
    rank = np.arange(len(order)) - start_of  # this row's rank in its group
    m1 = m - 1  # values left after leaving this one out

    def kth(j: np.ndarray) -> np.ndarray:  # j-th smallest of the group without this row
        j = np.clip(j, 0, np.maximum(m1 - 1, 0))
        pos = start_of + j + (j >= rank)
        return sv[np.clip(pos, 0, len(sv) - 1)]

    lo = kth((m1 - 1) // 2)
    hi = kth(m1 // 2)
    med = np.where(m1 > 0, (lo + hi) / 2, np.nan)
    out[order] = med
    # rows that are not valid themselves: the median of all valid rows of their group
    bad = np.flatnonzero(~ok)
    if len(bad):
        full = pd.Series(sv).groupby(g).median()
        out[bad] = full.reindex(codes[bad]).to_numpy()
    return out


def peer_pooled_rate(num: np.ndarray, den: np.ndarray, groups: np.ndarray, valid: np.ndarray | None = None,
                     trim: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row, the pooled rate ``Σ num / Σ den`` of the *other* rows of its group,
    after trimming the ``trim`` share of the group's rows with the lowest and with the
    highest rates (by count of rows, ``floor(trim · m)`` each side).

    A typical peer, robust to a few outliers (two weak reps do not lower everyone's
    bar) without the bias a median of small-count ratios has (the median of 4/23,
    5/23, … sits on one count). Returns (rate, pooled num, pooled den); NaN rate where
    no other row of the group is kept."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    ok = den > 0 if valid is None else (np.asarray(valid, dtype=bool) & (den > 0))
    codes = np.asarray(pd.factorize(pd.Series(groups).astype(str), sort=False)[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(ok, num / np.where(den > 0, den, 1.0), np.nan)
    frame = pd.DataFrame({"g": codes, "rate": rate, "ok": ok})
    m = frame.groupby("g")["ok"].transform("sum").to_numpy()
    rank = frame["rate"].where(ok).groupby(frame["g"]).rank(method="first").to_numpy() - 1
    cut = np.floor(trim * m)
    kept = ok & (rank >= cut) & (rank < m - cut)
    kn = np.where(kept, num, 0.0)
    kd = np.where(kept, den, 0.0)
    pn = pd.Series(kn).groupby(codes).transform("sum").to_numpy() - kn
    pd_ = pd.Series(kd).groupby(codes).transform("sum").to_numpy() - kd
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(pd_ > 0, pn / np.where(pd_ > 0, pd_, 1.0), np.nan)
    return out, pn, pd_
