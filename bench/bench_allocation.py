"""Top-down allocation: $123,456,789.01 over company → 5 segments → 50 regions → 100,000 reps.

    python bench/bench_allocation.py [--reps 100000] [--repeat 5] [--their-repeat 3] [--seed 20240601]

Builds one tree (reps spread over the regions at random, lognormal rep weights,
seeded; a region's weight is the sum of its reps', a segment's the sum of its
regions', so every level splits in proportion to the reps' weights) and times:

* plancast's ``allocate`` (validation included), best of ``--repeat``;
* side by side, on the SAME tree and weights, the PyPI package
  ``b2b-revenue-forecasting`` (``pip install -e '.[bench]'``):
  ``QuotaCascader(SalesHierarchy.from_dataframe(...)).cascade_proportional(
  root, target, metric="weight")``, best of ``--their-repeat`` (building its
  hierarchy is timed once, separately, and not counted).

For each it prints the time and the largest deviation from exact conservation
after rounding its amounts to cents: the max over parents of
|sum(children) − parent| in cents, plus how many parents are off. Then the
ratio of the times and the largest difference between the two allocations.
"""

from __future__ import annotations

import argparse
import time
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd

from plancast.planning.allocation import allocate, format_cents, to_cents

TARGET = Decimal("123456789.01")


def build_tree(n_reps: int, seed: int, n_segments: int = 5, n_regions: int = 50) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(nodes for plancast, one row per rep with its path for the other package)."""
    rng = np.random.default_rng(seed)
    segments = np.array([f"SEG-{i + 1}" for i in range(n_segments)], dtype=object)
    regions = np.array([f"REG-{i + 1:02d}" for i in range(n_regions)], dtype=object)
    region_segment = segments[np.arange(n_regions) % n_segments]
    reps = np.array([f"rep-{i:06d}" for i in range(n_reps)], dtype=object)
    rep_region_idx = rng.integers(0, n_regions, n_reps)
    rep_weight = rng.lognormal(mean=0.0, sigma=1.0, size=n_reps)
    region_weight = np.bincount(rep_region_idx, weights=rep_weight, minlength=n_regions)
    seg_idx = np.arange(n_regions) % n_segments
    segment_weight = np.bincount(seg_idx, weights=region_weight, minlength=n_segments)
    nodes = pd.DataFrame({
        "node": np.concatenate([["ACME"], segments, regions, reps]),
        "parent": np.concatenate([[None], ["ACME"] * n_segments, region_segment, regions[rep_region_idx]]),
        "weight": np.concatenate([[np.nan], segment_weight, region_weight, rep_weight]),
        "level": ["company"] + ["segment"] * n_segments + ["region"] * n_regions + ["rep"] * n_reps,
    })
    flat = pd.DataFrame({
        "company": "ACME",
        "segment": region_segment[rep_region_idx],
        "region": regions[rep_region_idx],
        "rep": reps,
        "weight": rep_weight,
    })
    return nodes, flat


def conservation(nodes: pd.DataFrame, cents: pd.Series) -> tuple[int, str, int]:
    """(max over parents of |Σ children − parent| in cents, "k of n parents off", |root − target|)."""
    kids = nodes[nodes["parent"].notna()]
    sums = pd.Series(cents.loc[kids["node"]].to_numpy()).groupby(kids["parent"].to_numpy()).sum()
    dev = np.abs(sums.to_numpy() - cents.loc[sums.index].to_numpy())
    root_off = abs(int(cents.loc["ACME"]) - to_cents(TARGET))
    return int(dev.max()), f"{int((dev != 0).sum())} of {len(dev)} parents off", root_off


def best_of(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--their-repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()

    nodes, flat = build_tree(args.reps, args.seed)
    print(f"tree: 1 company → 5 segments → 50 regions → {args.reps:,} reps "
          f"({len(nodes):,} nodes, lognormal weights, seed {args.seed}); target {format_cents(to_cents(TARGET))}")
    print(f"numpy {np.__version__}, pandas {pd.__version__}")

    ours_t, ours = best_of(lambda: allocate(nodes, TARGET), args.repeat)
    ours.check()
    ours_cents = ours.amounts
    dev, off, root_off = conservation(nodes, ours_cents)
    print(f"plancast allocate:          {ours_t * 1e3:9.1f} ms (best of {args.repeat}); "
          f"max |Σchildren − parent| = {dev} cents ({off}); root − target = {root_off} cents")

    try:
        import b2b_revenue_forecasting as brf
        from b2b_revenue_forecasting import QuotaCascader, SalesHierarchy
    except ImportError as e:
        print(f"b2b-revenue-forecasting is not importable ({e}); comparison skipped. "
              f"Install it with: pip install -e '.[bench]'")
        return

    t = time.perf_counter()
    hierarchy = SalesHierarchy()
    hierarchy.from_dataframe(flat, path_cols=["company", "segment", "region", "rep"], metrics_cols=["weight"])
    build_t = time.perf_counter() - t

    def theirs_run() -> dict:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return QuotaCascader(hierarchy).cascade_proportional(
                "ACME", float(TARGET), metric="weight", verbose=False, new_ic_rule="none"
            )

    their_t, theirs = best_of(theirs_run, args.their_repeat)
    their_amounts = pd.Series(theirs).reindex(nodes["node"].to_numpy())
    missing = int(their_amounts.isna().sum())
    their_cents = pd.Series(np.rint(their_amounts.to_numpy() * 100).astype(np.int64), index=their_amounts.index)
    tdev, toff, troot = conservation(nodes, their_cents)
    print(f"b2b-revenue-forecasting {brf.__version__} cascade_proportional: {their_t * 1e3:9.1f} ms "
          f"(best of {args.their_repeat}; building its SalesHierarchy took {build_t:.1f} s more, not counted); "
          f"after rounding to cents: max |Σchildren − parent| = {tdev} cents ({toff}); "
          f"root − target = {troot} cents" + (f"; {missing} nodes missing" if missing else ""))
    print(f"ratio: plancast is {their_t / ours_t:,.0f}× faster")
    diff = np.abs(ours_cents.to_numpy() - their_cents.loc[ours_cents.index].to_numpy())
    print(f"same split: the two allocations differ by at most {int(diff.max())} cent(s) on any node "
          f"({int((diff != 0).sum()):,} nodes differ)")


if __name__ == "__main__":
    main()
