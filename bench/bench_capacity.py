"""Capacity at scale: 2M accounts, 10k territories, 30k reps, one fiscal year.

    python bench/bench_capacity.py [--accounts 2000000] [--territories 10000]

Prints the time and peak memory of ``compute_capacity`` (day-grid, vectorised)
and, in the same run, a straightforward baseline that loops over territories
computing effective account-days with per-territory pandas filters, on a
sample of territories, extrapolated — with the speed ratio. Also checks the two
agree on the sample.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from datetime import date

import numpy as np
import pandas as pd

from plancast.planning.capacity import PeriodInputs, compute_capacity

S, E = date(2026, 1, 1), date(2027, 1, 1)


def make_inputs(n_acc: int, n_terr: int, seed: int = 11) -> PeriodInputs:
    rng = np.random.default_rng(seed)
    terr = np.array([f"T{i:05d}" for i in range(n_terr)], dtype=object)
    acc = np.array([f"A{i:07d}" for i in range(n_acc)], dtype=object)
    t_of = rng.integers(0, n_terr, n_acc)
    # 3% of accounts move mid-year
    moves = rng.random(n_acc) < 0.03
    move_day = pd.Timestamp(S) + pd.to_timedelta(rng.integers(30, 330, n_acc), unit="D")
    base = pd.DataFrame({"account_id": acc, "territory_id": terr[t_of], "valid_from": pd.Timestamp("2024-01-01"),
                         "valid_to": pd.Series(move_day).where(moves, pd.NaT).to_numpy()})
    moved = pd.DataFrame({"account_id": acc[moves], "territory_id": terr[rng.integers(0, n_terr, moves.sum())],
                          "valid_from": move_day[moves], "valid_to": pd.NaT})
    ex = rng.random(n_acc) < 0.05
    ex_from = pd.Timestamp(S) + pd.to_timedelta(rng.integers(-60, 300, ex.sum()), unit="D")
    exclusions = pd.DataFrame({"account_id": acc[ex], "valid_from": ex_from,
                               "valid_to": ex_from + pd.to_timedelta(rng.integers(30, 365, ex.sum()), unit="D")})
    n_reps = 3 * n_terr
    reps = pd.DataFrame({"rep_id": [f"R{i:06d}" for i in range(n_reps)],
                         "hire_date": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(-2000, 200, n_reps),
                                                                                    unit="D"),
                         "departure_date": pd.NaT, "ramp_months": rng.integers(0, 7, n_reps)})
    rep_assign = pd.DataFrame({"rep_id": reps["rep_id"], "territory_id": terr[np.arange(n_reps) % n_terr],
                               "share": 1 / 3, "valid_from": pd.Timestamp("2024-01-01"), "valid_to": pd.NaT})
    asm = pd.DataFrame({"territory_id": terr, "valid_from": pd.Timestamp(S), "valid_to": pd.Timestamp(E),
                        "planned_accounts": n_acc / n_terr, "opp_rate": rng.uniform(0.5, 2, n_terr),
                        "win_rate": rng.uniform(0.1, 0.3, n_terr), "asp": rng.uniform(2e4, 2e5, n_terr),
                        "cycle_days": rng.uniform(30, 120, n_terr), "uplift": 0.15, "ramp": 1.0,
                        "attrition_rate": 0.1, "backfill_days": 45.0})
    return PeriodInputs(start=S, end=E, territories=pd.DataFrame({"territory_id": terr, "region_id": "R"}),
                        assumptions=asm, assignments=pd.concat([base, moved], ignore_index=True),
                        exclusions=exclusions, rep_assignments=rep_assign, reps=reps)


def baseline_effective_days(inp: PeriodInputs, territories: list[str]) -> dict[str, float]:
    """Per territory: filter its assignments, subtract each account's exclusions day by day."""
    out = {}
    days = pd.date_range(S, E, inclusive="left")
    ex = inp.exclusions.groupby("account_id")
    ex_keys = set(ex.groups)
    for t in territories:
        a = inp.assignments[inp.assignments["territory_id"] == t]
        total = 0
        for r in a.itertuples():
            lo = max(pd.Timestamp(r.valid_from), days[0])
            hi = min(pd.Timestamp(r.valid_to) if pd.notna(r.valid_to) else days[-1] + pd.Timedelta(days=1),
                     days[-1] + pd.Timedelta(days=1))
            on = (days >= lo) & (days < hi)
            if r.account_id in ex_keys:
                for e in ex.get_group(r.account_id).itertuples():
                    on &= ~((days >= e.valid_from) & (days < e.valid_to))
            total += int(on.sum())
        out[t] = total / len(days)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=2_000_000)
    ap.add_argument("--territories", type=int, default=10_000)
    args = ap.parse_args()
    inp = make_inputs(args.accounts, args.territories)
    print(f"{args.accounts:,} accounts ({len(inp.assignments):,} assignment records, {len(inp.exclusions):,} "
          f"exclusions), {args.territories:,} territories, {len(inp.reps):,} reps, {S} – {E}")
    t = time.perf_counter()
    res = compute_capacity(inp)
    secs = time.perf_counter() - t
    tracemalloc.start()  # a second run for memory: tracing slows numpy down
    compute_capacity(inp)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"plancast compute_capacity  {secs:7.2f} s   peak traced {peak / 2**30:5.2f} GiB   max RSS {rss / 1024:5.2f} GiB"
          f"   total capacity ${res.territories['capacity'].sum() / 1e9:,.2f}B")
    sample = list(res.territories["territory_id"].iloc[:20])
    t = time.perf_counter()
    base = baseline_effective_days(inp, sample)
    bsecs = (time.perf_counter() - t) / len(sample) * args.territories
    got = res.territories.set_index("territory_id").loc[sample, "effective_accounts"]
    worst = max(abs(got[k] - v) for k, v in base.items())
    print(f"baseline (loop per territory and account, {len(sample)} territories, extrapolated)  {bsecs:9.1f} s"
          f"   ratio {bsecs / secs:7.1f}x   largest difference in effective accounts {worst:.2e}")


if __name__ == "__main__":
    main()
