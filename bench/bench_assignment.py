"""Assignment throughput: accounts/s for rule-based territory assignment, with a row-by-row baseline.

    python bench/bench_assignment.py [--accounts 2000000] [--sample 20000] [--seed 7] [--repeat 3] [--no-10k]

Builds a seeded synthetic book of --accounts accounts (US states and other
countries, 20 industries, 5 size bands, employees, ~5% children of other
accounts, a little case/whitespace noise) and runs
:func:`plancast.planning.assignment.assign` on it with

* **300 rules**: geo by state and size band, international geo, vertical
  overlays (some overlapping at equal precedence, so there are conflicts),
  employee-based strategic rules and named-account lists (some split_family);
* **10,000 rules over 10,000 territories** (unless --no-10k): state × industry ×
  size band geo cells, 4,000 named-account territories and overlays.

For each it prints the time (best of --repeat runs), accounts/s, peak memory (tracemalloc peak of a
second, traced run — numpy buffers included, Arrow string buffers not — and the
process's max RSS) and the assigned / inherited / conflict / unassigned /
overridden counts. Then, in the same run, a baseline — a plain pandas
``DataFrame.apply`` over rows that checks every rule for each account (no
families) — on a --sample account sample with the 300 rules, its agreement
with plancast on that sample (families switched off), and the per-account
speed ratio.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd

from plancast.planning.assignment import Rule, assign

STATES = np.array("AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
                  "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split(), dtype=object)
REGIONS = {  # four US regions for overlays
    "WEST": STATES[[2, 4, 5, 10, 11, 26, 27, 31, 37, 43, 46, 49]],
    "CENTRAL": STATES[[12, 13, 14, 15, 21, 22, 24, 25, 33, 34, 40, 48]],
    "SOUTH": STATES[[0, 3, 8, 9, 16, 17, 23, 32, 35, 39, 41, 42, 45, 47]],
    "EAST": STATES[[6, 7, 18, 19, 20, 28, 29, 30, 36, 38, 44]],
}
COUNTRIES = np.array(["CA", "GB", "DE", "FR", "NL", "SE", "ES", "IT", "AU", "JP"], dtype=object)
INDUSTRIES = np.array(["Software", "Finance", "Insurance", "Healthcare", "Retail", "Manufacturing", "Energy",
                       "Education", "Government", "Media", "Telecom", "Transport", "Hospitality", "Legal",
                       "Real Estate", "Construction", "Agriculture", "Pharma", "Logistics", "Nonprofit"], dtype=object)
BANDS = np.array(["Micro", "SMB", "Mid", "Enterprise", "Strategic"], dtype=object)
SMALL, LARGE = frozenset({"Micro", "SMB"}), frozenset({"Mid", "Enterprise", "Strategic"})


def synthetic_accounts(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.char.add("A", np.char.zfill(np.arange(n).astype(str), 8)).astype(object)
    us = rng.random(n) < 0.85
    country = np.where(us, "US", rng.choice(COUNTRIES, n)).astype(object)
    state = np.where(us, rng.choice(STATES, n), None).astype(object)
    state[us & (rng.random(n) < 0.01)] = None  # no state recorded: unassigned unless named or in a family
    noisy = rng.random(n) < 0.02  # CRM noise: lower case and stray spaces
    state[noisy & us] = np.char.add(" ", np.char.lower(state[noisy & us].astype(str))).astype(object)
    band = rng.choice(BANDS, n, p=[0.3, 0.3, 0.2, 0.15, 0.05])
    employees = np.round(rng.lognormal(4.5, 1.8, n)).astype(np.int64)
    emp = pd.array(employees, dtype="Int64")
    emp[rng.random(n) < 0.03] = pd.NA
    child = rng.random(n) < 0.05
    parent = np.full(n, None, dtype=object)
    idx = np.flatnonzero(child & (np.arange(n) > 0))
    parent[idx] = ids[(rng.random(len(idx)) * idx).astype(np.int64)]  # a parent earlier in the book: no cycles
    return pd.DataFrame({
        "account_id": ids,
        "name": np.char.add("Account ", np.arange(n).astype(str)).astype(object),
        "parent_account_id": parent,
        "country": country,
        "state": state,
        "industry": rng.choice(INDUSTRIES, n),
        "size_band": band,
        "employees": emp,
    })


def rules_300(ids: np.ndarray, seed: int) -> list[Rule]:
    rng = np.random.default_rng(seed + 1)
    rules: list[Rule] = []
    for s in STATES:  # 100 geo: state × small/large
        rules.append(Rule(f"GEO-{s}-SMB", country={"US"}, state={s}, size_band=SMALL, name=f"geo {s} small"))
        rules.append(Rule(f"GEO-{s}-ENT", country={"US"}, state={s}, size_band=LARGE, name=f"geo {s} large"))
    for c in COUNTRIES:  # 20 international
        rules.append(Rule(f"INTL-{c}-SMB", country={c}, size_band=SMALL))
        rules.append(Rule(f"INTL-{c}-ENT", country={c}, size_band=LARGE))
    for region, states in REGIONS.items():  # 70 vertical overlays (precedence 10), large accounts
        for ind in INDUSTRIES[:17] if region != "EAST" else INDUSTRIES[:19]:
            rules.append(Rule(f"VERT-{region}-{ind}", precedence=10, country={"US"}, state=frozenset(states),
                              industry={ind}, size_band={"Enterprise", "Strategic"}))
    for ind in INDUSTRIES[:10]:  # 10 metro overlays overlapping the verticals at equal precedence → conflicts
        rules.append(Rule(f"METRO-NY-{ind}", precedence=10, state={"NY", "NJ"}, industry={ind},
                          min_employees=2000))
    for s in STATES[:40]:  # 40 strategic by employees
        rules.append(Rule(f"STRAT-{s}", precedence=20, country={"US"}, state={s}, min_employees=5000))
    for k in range(60):  # 60 named-account lists, 200 accounts each
        named = frozenset(rng.choice(ids, 200, replace=False).tolist())
        rules.append(Rule(f"NAMED-{k:02d}", precedence=30, accounts=named, split_family=k % 3 == 0))
    assert len(rules) == 300, len(rules)
    return rules


def rules_10k(ids: np.ndarray, seed: int) -> list[Rule]:
    rng = np.random.default_rng(seed + 2)
    rules: list[Rule] = []
    for s in STATES:  # 5,000 geo cells: state × industry × size band, each its own territory
        for ind in INDUSTRIES:
            for b in BANDS:
                rules.append(Rule(f"CELL-{s}-{ind}-{b}", country={"US"}, state={s}, industry={ind}, size_band={b}))
    for c in COUNTRIES:  # 1,000 overlays: country × industry × employee range
        for ind in INDUSTRIES:
            for lo, hi in ((0, 49), (50, 499), (500, 4999), (5000, None), (0, None)):
                rules.append(Rule(f"OVL-{c}-{ind}-{lo}-{hi or 'up'}", precedence=10 if hi else 5, country={c},
                                  industry={ind}, min_employees=lo, max_employees=hi))
    named = rng.choice(ids, 4000 * 25, replace=False).reshape(4000, 25)
    for k in range(4000):  # 4,000 named-account territories, 25 accounts each
        rules.append(Rule(f"NAMED-{k:04d}", precedence=30, accounts=frozenset(named[k].tolist())))
    assert len(rules) == 10_000 and len({r.territory_id for r in rules}) == 10_000
    return rules


def _norm(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    s = " ".join(str(v).split()).casefold()
    return s or None


def baseline(sample: pd.DataFrame, rules: list[Rule]) -> pd.Series:
    """The straightforward way: for each account (DataFrame.apply over rows), test every rule."""
    prepared = [(r.territory_id, r.precedence,
                 {f: {_norm(v) for v in getattr(r, f)} for f in ("country", "state", "industry", "size_band")
                  if getattr(r, f) is not None},
                 r.accounts, r.min_employees, r.max_employees) for r in rules]

    def one(row: pd.Series) -> str | None:
        matches = []
        for tid, prec, sets, accounts, lo, hi in prepared:
            if any(_norm(row[f]) not in allowed for f, allowed in sets.items()):
                continue
            if accounts is not None and row["account_id"] not in accounts:
                continue
            emp = row["employees"]
            if (lo is not None or hi is not None) and pd.isna(emp):
                continue
            if (lo is not None and emp < lo) or (hi is not None and emp > hi):
                continue
            matches.append((prec, tid))
        if not matches:
            return None
        top = max(p for p, _ in matches)
        terrs = {t for p, t in matches if p == top}
        return terrs.pop() if len(terrs) == 1 else "<conflict>"

    return sample.apply(one, axis=1)


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run(label: str, accounts: pd.DataFrame, rules: list[Rule], repeat: int) -> float:
    n = len(accounts)
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        result = assign(accounts, rules)
        times.append(time.perf_counter() - t)
        del result
    secs = min(times)
    rss = maxrss_mb()
    gc.collect()
    tracemalloc.start()
    result = assign(accounts, rules)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    s = result.summary()
    print(f"{label}: {n:,} accounts x {len(rules):,} rules ({len({r.territory_id for r in rules}):,} territories)")
    print(f"  time {secs:7.2f} s (best of {repeat}: {', '.join(f'{x:.2f}' for x in times)})"
          f"   {n / secs:>12,.0f} accounts/s   peak traced {peak / 2**20:,.0f} MiB"
          f"   process max RSS {rss:,.0f} MiB")
    print(f"  assigned {s['assigned']:,} (inherited from family {s['inherited']:,})   conflicts {s['conflicts']:,}"
          f"   unassigned {s['unassigned']:,}   overridden {s['overridden']:,}")
    return n / secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=2_000_000)
    ap.add_argument("--sample", type=int, default=20_000, help="accounts for the row-by-row baseline")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-10k", action="store_true", help="skip the 10,000-rule run")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of assign; the best is reported")
    args = ap.parse_args()

    t = time.perf_counter()
    accounts = synthetic_accounts(args.accounts, args.seed)
    ids = accounts["account_id"].to_numpy()
    r300 = rules_300(ids, args.seed)
    print(f"synthetic book: {len(accounts):,} accounts ({accounts['parent_account_id'].notna().sum():,} children), "
          f"seed {args.seed}, built in {time.perf_counter() - t:.1f} s")
    speed = run("300 rules", accounts, r300, args.repeat)
    if not args.no_10k:
        run("10k territories", accounts, rules_10k(ids, args.seed), args.repeat)

    sample = accounts.sample(args.sample, random_state=np.random.default_rng(args.seed))
    t = time.perf_counter()
    base = baseline(sample, r300)
    base_secs = time.perf_counter() - t
    mine = assign(sample.drop(columns=["parent_account_id"]), r300)
    ours = pd.Series(None, index=sample["account_id"].to_numpy(), dtype=object)
    ours[mine.assignment["account_id"].to_numpy()] = mine.assignment["territory_id"].to_numpy()
    ours[mine.conflicts["account_id"].to_numpy()] = "<conflict>"
    agree = np.mean(base.fillna("<none>").to_numpy() == ours.fillna("<none>").to_numpy())
    base_speed = len(sample) / base_secs
    print(f"baseline (DataFrame.apply, every rule per row, no families): {len(sample):,} accounts x {len(r300)} rules"
          f"  {base_secs:7.2f} s   {base_speed:>10,.0f} accounts/s   agrees with plancast on {agree:.2%} of them")
    print(f"per-account speed ratio (plancast on {len(accounts):,} / baseline on {len(sample):,}): "
          f"{speed / base_speed:,.0f}x")


if __name__ == "__main__":
    main()
