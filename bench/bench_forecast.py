"""Attainment distribution at scale: 1,000,000 open deals, 10,000 reps, 10,000 simulations.

    python bench/bench_forecast.py [--deals 1000000] [--reps 10000] [--sims 10000]
        [--ref-sims 50000] [--ref-reps 200] [--ref-rep-sims 1000000] [--seed 20240601] [--quick]

Builds one seeded book (``make_book``): reps spread over ~1,000 territories →
50 regions → 5 segments → company; each deal's rep uniform at random (so ~100
open deals per rep), lognormal amounts (median $40K, log-sd 1), win
probabilities Beta(1.5, 4.5); per rep new pipeline (lam 0.5–6 deals, Gamma
sizes) and closed-won so far; the shared factor per segment (sd 0.25 on the
logit scale) plus a company-wide component (sd 0.15). Then, in the same run:

* ``fast`` (plancast.forecast.distribution.fast): time (best of two) and peak
  memory (tracemalloc of a separate run — numpy buffers included — and the
  process's max RSS);
* ``monte_carlo`` (plancast's reference simulator) at ``--sims``: time and peak;
* a straightforward numpy Monte Carlo at ``--sims`` (``straightforward_mc``:
  one float64 uniform per deal per simulation, ``expit(logit + factor)`` per
  deal and simulation, chunks of 8 simulations, same new-pipeline draws and
  roll-up): time and peak;
* the accuracy of each: max over entities of |P_q − reference P_q| / reference
  mean for q = 10, 50, 90, at rep, region and company level.

The reference. Region/segment/company: ``monte_carlo`` on the full book with
``--ref-sims`` simulations (their P10 standard error is ~0.01 sd, printed).
Rep: a rep's distribution depends only on its own deals and its group's factor,
so the reference is ``monte_carlo`` with ``--ref-rep-sims`` simulations on the
``--ref-reps`` reps drawn at random (their deals only, the same factor model);
every method's rep-level figures are compared on those reps. The reference's
own standard error (from its simulated density) is printed beside each level,
so an error can be read against it.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from plancast.forecast.distribution import ForecastInputs, fast, forecast_inputs, monte_carlo, simulate, summarize

QS = (0.1, 0.5, 0.9)
COLS = ["p10", "p50", "p90"]


def make_book(n_deals: int, n_reps: int, seed: int, n_terr: int = 1000, n_reg: int = 50,
              n_seg: int = 5) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    n_terr = min(n_terr, n_reps)
    rep_terr = np.sort(np.r_[np.arange(n_terr), rng.integers(0, n_terr, n_reps - n_terr)])
    terr_reg = np.arange(n_terr) % n_reg
    reg_seg = np.arange(n_reg) % n_seg
    seg_co = np.zeros(n_seg, dtype=np.int64)
    rep = rng.integers(0, n_reps, n_deals)
    deals = {
        "rep": rep,
        "amount": np.round(rng.lognormal(np.log(40_000), 1.0, n_deals), 2),
        "p": rng.beta(1.5, 4.5, n_deals),
        "group": reg_seg[terr_reg[rep_terr[rep]]],
    }
    reps = {
        "lam": rng.uniform(0.5, 6.0, n_reps),
        "size_mean": rng.uniform(30e3, 90e3, n_reps),
        "size_sd": rng.uniform(15e3, 80e3, n_reps),
        "closed": rng.uniform(0, 5e5, n_reps),
        "group": reg_seg[terr_reg[rep_terr]],
    }
    return deals, reps, [rep_terr, terr_reg, reg_seg, seg_co]


SIGMA, SIGMA_COMPANY = 0.25, 0.15


def build(deals: dict[str, np.ndarray], reps: dict[str, np.ndarray], parents: list[np.ndarray]) -> ForecastInputs:
    return forecast_inputs(deals, reps, parents, sigma=SIGMA, sigma_company=SIGMA_COMPANY)


def rep_subsample(deals: dict[str, np.ndarray], reps: dict[str, np.ndarray], chosen: np.ndarray,
                  n_groups: int) -> ForecastInputs:
    """The chosen reps alone (their deals, their own new pipeline), each its own territory → one company."""
    index = np.full(len(reps["lam"]), -1)
    index[chosen] = np.arange(len(chosen))
    keep = index[deals["rep"]] >= 0
    sub_deals = {k: v[keep] for k, v in deals.items()}
    sub_deals["rep"] = index[deals["rep"][keep]]
    sub_reps = {k: v[chosen] for k, v in reps.items()}
    k = len(chosen)
    return forecast_inputs(sub_deals, sub_reps, [np.arange(k), np.zeros(k, dtype=np.int64)],
                           sigma=np.full(n_groups, SIGMA), sigma_company=SIGMA_COMPANY,
                           levels=("rep", "territory", "company"))


def straightforward_mc(inputs: ForecastInputs, sims: int, rng: np.random.Generator, chunk: int = 8) -> pd.DataFrame:
    """One uniform per deal per simulation, win probability expit(logit + factor) per deal and simulation."""
    live = np.flatnonzero(inputs.deal_p > 0)
    order = live[np.argsort(inputs.deal_rep[live], kind="stable")]
    rep = inputs.deal_rep[order]
    starts = np.flatnonzero(np.r_[True, rep[1:] != rep[:-1]])
    owners = rep[starts]
    eta, amount, group = inputs.deal_eta[order], inputs.deal_amount[order], inputs.deal_group[order]
    R, G = inputs.n_reps, inputs.n_groups
    outs = {name: np.empty((sims, n)) for name, n in zip(inputs.levels, inputs.sizes)}
    np_reps = np.flatnonzero(inputs.rep_lam > 0)
    shape = (inputs.rep_size_mean[np_reps] / inputs.rep_size_sd[np_reps]) ** 2
    scale = inputs.rep_size_sd[np_reps] ** 2 / inputs.rep_size_mean[np_reps]
    for s0 in range(0, sims, chunk):
        S = min(chunk, sims - s0)
        W = rng.standard_normal((S, G)) * inputs.sigma + inputs.sigma_company * rng.standard_normal((S, 1))
        u = rng.random((S, len(order)))
        p = 1.0 / (1.0 + np.exp(-(eta[None, :] + W[:, group])))
        won = (u < p) * amount[None, :]
        rep_out = np.zeros((S, R))
        rep_out[:, owners] = np.add.reduceat(won, starts, axis=1)
        lam = inputs.rep_lam[np_reps] * inputs.new_multiplier(W[:, inputs.rep_group[np_reps]],
                                                              inputs.rep_group[np_reps])
        rep_out[:, np_reps] += rng.gamma(rng.poisson(lam) * shape, 1.0) * scale
        rep_out += inputs.rep_closed
        cur = rep_out
        for k, name in enumerate(inputs.levels):
            if k:
                n_k = inputs.sizes[k]
                flat = (np.arange(S)[:, None] * n_k + inputs.parents[k - 1][None, :]).ravel()
                cur = np.bincount(flat, weights=cur.ravel(), minlength=S * n_k).reshape(S, n_k)
            outs[name][s0:s0 + S] = cur
    return summarize(inputs, outs, QS)


def timed(fn: Callable[[], Any], *, trace: bool) -> tuple[Any, float, float]:
    """(result, seconds, peak traced GiB); tracemalloc only hooks allocations, numpy kernels run untouched."""
    if trace:
        tracemalloc.start()
    t = time.perf_counter()
    res = fn()
    secs = time.perf_counter() - t
    peak = 0.0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return res, secs, peak / 2**30


def level_rows(frame: pd.DataFrame, level: str, entities: np.ndarray | None = None) -> pd.DataFrame:
    f = frame[frame["level"] == level].set_index("entity")
    return f if entities is None else f.loc[entities]


def max_err(got: pd.DataFrame, ref: pd.DataFrame) -> np.ndarray:
    rel = np.abs(got[COLS].to_numpy() - ref[COLS].to_numpy()) / ref["mean"].to_numpy()[:, None]
    return 100 * rel.max(axis=0)


def ref_se(outcomes: np.ndarray) -> np.ndarray:
    """Standard error of each entity's simulated P10/P50/P90, % of its mean (density from nearby quantiles)."""
    n = len(outcomes)
    out = []
    for q in QS:
        lo, hi = np.quantile(outcomes, [q - 0.01, q + 0.01], axis=0)
        dens = 0.02 / np.maximum(hi - lo, 1e-300)
        out.append(np.sqrt(q * (1 - q) / n) / dens / outcomes.mean(axis=0))
    return 100 * np.median(np.array(out), axis=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--sims", type=int, default=10_000)
    ap.add_argument("--ref-sims", type=int, default=50_000)
    ap.add_argument("--ref-reps", type=int, default=200)
    ap.add_argument("--ref-rep-sims", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.deals, args.reps, args.sims, args.ref_sims, args.ref_reps, args.ref_rep_sims = (
            100_000, 1_000, 2_000, 5_000, 50, 100_000)

    deals, reps, parents = make_book(args.deals, args.reps, args.seed)
    inputs = build(deals, reps, parents)
    print(f"{args.deals:,} open deals, {args.reps:,} reps → {inputs.sizes[1]:,} territories → {inputs.sizes[2]} regions"
          f" → {inputs.sizes[3]} segments → company; factor sd {SIGMA} per segment + {SIGMA_COMPANY} company-wide")

    # ---- fast
    f1, t1, _ = timed(lambda: fast(inputs), trace=False)
    _, t2, _ = timed(lambda: fast(inputs), trace=False)
    _, _, fpeak = timed(lambda: fast(inputs), trace=True)
    t_fast = min(t1, t2)
    print(f"fast                          {t_fast:8.2f} s   peak traced {fpeak:5.2f} GiB")
    print(f"  entities by method: {f1.attrs['methods']}")

    # ---- plancast Monte Carlo
    mc, t_mc, mpeak = timed(lambda: monte_carlo(inputs, sims=args.sims, rng=np.random.default_rng(args.seed + 1)),
                            trace=True)
    print(f"monte_carlo ({args.sims:,} sims)      {t_mc:8.2f} s   peak traced {mpeak:5.2f} GiB")

    # ---- straightforward
    sf, t_sf, speak = timed(lambda: straightforward_mc(inputs, args.sims, np.random.default_rng(args.seed + 2)),
                            trace=True)
    print(f"straightforward MC ({args.sims:,} sims) {t_sf:8.2f} s   peak traced {speak:5.2f} GiB")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"process max RSS so far {rss:5.2f} GiB")

    # ---- references
    t = time.perf_counter()
    ref_out = simulate(inputs, args.ref_sims, np.random.default_rng(args.seed + 3),
                       levels=["region", "segment", "company"])
    ref = summarize(inputs, ref_out, QS)
    t_ref = time.perf_counter() - t
    chosen = np.sort(np.random.default_rng(args.seed + 4).choice(args.reps, args.ref_reps, replace=False))
    sub = rep_subsample(deals, reps, chosen, inputs.n_groups)
    t = time.perf_counter()
    sub_out = simulate(sub, args.ref_rep_sims, np.random.default_rng(args.seed + 5), levels=["rep"])
    ref_rep = summarize(sub, sub_out, QS)
    t_ref_rep = time.perf_counter() - t
    se = {"rep": ref_se(sub_out["rep"]), "region": ref_se(ref_out["region"]), "company": ref_se(ref_out["company"])}
    print(f"reference: {args.ref_sims:,} sims on the full book ({t_ref:.0f} s) for region/segment/company; "
          f"{args.ref_rep_sims:,} sims on {args.ref_reps} random reps ({t_ref_rep:.0f} s) for reps")

    # ---- accuracy
    print("\nmax |P_q − reference| / reference mean, %      P10     P50     P90    (reference s.e., median entity)")
    for level in ("rep", "region", "company"):
        if level == "rep":
            r = level_rows(ref_rep, "rep")
            rows = {name: level_rows(fr, "rep", chosen) for name, fr in
                    (("fast", f1), ("monte_carlo", mc), ("straightforward", sf))}
        else:
            r = level_rows(ref, level)
            rows = {name: level_rows(fr, level) for name, fr in
                    (("fast", f1), ("monte_carlo", mc), ("straightforward", sf))}
        for name, got in rows.items():
            e = max_err(got, r)
            extra = "   ±" + " ".join(f"{x:.3f}" for x in se[level]) if name == "fast" else ""
            print(f"  {level:8s} {name:28s} {e[0]:7.3f} {e[1]:7.3f} {e[2]:7.3f}{extra}")
    print(f"\nspeed: fast is {t_sf / t_fast:,.0f}x the straightforward MC and {t_mc / t_fast:,.0f}x plancast's "
          f"monte_carlo at {args.sims:,} sims")


if __name__ == "__main__":
    main()
