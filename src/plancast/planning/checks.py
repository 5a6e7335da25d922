"""Checks on a plan, raised when the plan is made (not at quarter close).

Each flag is a dict ``{kind, entity, severity, message, evidence}``:

``territory_sizing``
    effective accounts (assigned, minus exclusions pro-rated by days) fall
    short of the accounts the plan was sized on. The capacity ceiling is
    ``effective capacity / plan capacity``: even perfect execution cannot reach
    more of the plan. Severity ``high`` below 90 %, ``medium`` below 97 %,
    ``low`` otherwise (a shortfall of at least half an account).
``headcount_gap``
    the target (``--target``, else the company quota for the period, else the
    sum of the reps' quotas) exceeds total quota capacity (capacity × (1 +
    uplift) over all territories); the gap in fully ramped reps is
    ``gap / (mean fully ramped rep capacity × (1 + uplift))``.
``coverage_inconsistent``
    the planned pipeline coverage ratio differs by more than 25 % from what the
    plan's own win rate and cycle imply for a quarter:
    ``(cycle_days / 91.3125) / (win_rate × (1 + uplift))`` (steady-state open
    pipeline over a quarter's quota).
``cycle_vs_period``
    the sales cycle is longer than the period (nothing created inside it can
    close inside it).
``uplift_band``
    uplift outside the usual 10–20 % band.
``ramping_rep_full_quota``
    a rep whose ramp over the period is below 99 % carries a quota at least as
    high as a fully ramped rep's derived quota on the same share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .build import PlanBuild

UPLIFT_BAND = (0.10, 0.20)
QUARTER_DAYS = 365.25 / 4


def _severity(ratio: float) -> str:
    return "high" if ratio < 0.90 else "medium" if ratio < 0.97 else "low"


def _n(x: float) -> str:
    """An account count: whole when it is, else one decimal (pro-rated days)."""
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def _m(x: float) -> str:
    return f"${x / 1e6:,.2f}M" if abs(x) >= 1e6 else f"${x:,.0f}"


def check_plan(build: PlanBuild, *, target: float | None = None,
               current_quotas: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    t = build.capacity.territories
    flags: list[dict[str, Any]] = []
    label = t["name"].fillna(t["territory_id"]) if "name" in t else t["territory_id"]

    # ---------------------------------------------------------------- sizing
    short = (t["planned_accounts"] - t["effective_accounts"] >= 0.5) & (t["plan_capacity"] > 0)
    # a territory whose quota in force is no more than what its effective capacity supports (a plan rebuilt
    # on the accounts it really has) needs no action: said, at low severity
    in_force = pd.Series(dtype=float)
    if current_quotas is not None and len(current_quotas):
        cq = current_quotas[(current_quotas["period"] == build.period)
                            & (current_quotas["entity_type"] == "territory")]
        in_force = cq.groupby(cq["entity_id"].astype(str))["amount"].sum()
    bq = build.quotas[build.quotas["entity_type"] == "territory"]
    supported = bq.groupby(bq["entity_id"].astype(str))["amount"].sum()
    for i in np.flatnonzero(short.to_numpy()):
        r = t.iloc[i]
        ratio = float(r["effective_capacity"] / r["plan_capacity"])
        tid = str(r["territory_id"])
        follows = tid in in_force.index and tid in supported.index and in_force[tid] <= supported[tid] * 1.005
        action = (f"its quota ({_m(float(in_force[tid]))}) already follows the effective capacity" if follows
                  else "resize the territory or lower its quota")
        flags.append({
            "kind": "territory_sizing",
            "entity": r["territory_id"],
            "severity": "low" if follows else _severity(ratio),
            "message": (
                f"{label.iloc[i]}: {_n(r['effective_accounts'])} effective accounts of {_n(r['planned_accounts'])} "
                f"planned ({_n(r['assigned_accounts'])} assigned, "
                f"{_n(r['assigned_accounts'] - r['effective_accounts'])} unavailable) — capacity at most "
                f"{ratio:.1%} of plan ({_m(r['effective_capacity'])} of {_m(r['plan_capacity'])}) in "
                f"{build.period}; {action}"
            ),
            "evidence": {
                "effective_accounts": round(float(r["effective_accounts"]), 4),
                "planned_accounts": round(float(r["planned_accounts"]), 4),
                "assigned_accounts": round(float(r["assigned_accounts"]), 4),
                "capacity_ratio": round(ratio, 6),
                "plan_capacity": round(float(r["plan_capacity"]), 2),
                "effective_capacity": round(float(r["effective_capacity"]), 2),
                "period": build.period,
            },
        })

    # ---------------------------------------------------------------- over-covered territories
    over = t["coverage"] > 1.0 + 1e-6
    for i in np.flatnonzero(over.to_numpy()):
        r = t.iloc[i]
        flags.append({
            "kind": "over_covered", "entity": r["territory_id"], "severity": "high",
            "message": (f"{label.iloc[i]}: reps' shares cover {r['coverage']:.0%} of the territory on average in "
                        f"{build.period}; capacity counts the accounts once — fix the rep shares"),
            "evidence": {"coverage": round(float(r["coverage"]), 6)},
        })

    # ---------------------------------------------------------------- headcount gap
    total_quota_capacity = float((t["quota_covered"] + t["quota_open"]).sum())
    source = "--target"
    if target is None and current_quotas is not None:
        cq = current_quotas[current_quotas["period"] == build.period]
        co = cq[cq["entity_type"] == "company"]
        if len(co):
            target, source = float(co["amount"].iloc[0]), "company quota"
        elif (cq["entity_type"] == "rep").any():
            target, source = float(cq.loc[cq["entity_type"] == "rep", "amount"].sum()), "sum of rep quotas"
    reps = build.capacity.reps
    if target is not None and target > total_quota_capacity + 0.5:
        full = reps[reps["ramp"] >= 0.99]
        per_rep = float(full["quota_raw"].mean()) if len(full) else float("nan")
        missing = (target - total_quota_capacity) / per_rep if per_rep and per_rep > 0 else float("nan")
        flags.append({
            "kind": "headcount_gap",
            "entity": "company",
            "severity": "high" if total_quota_capacity < 0.9 * target else "medium",
            "message": (f"target {_m(target)} exceeds quota capacity {_m(total_quota_capacity)} by "
                        f"{_m(target - total_quota_capacity)} — the output of about {missing:.1f} fully ramped reps "
                        "(with the accounts to keep them busy)"),
            "evidence": {"target": target, "target_source": source, "quota_capacity": round(total_quota_capacity, 2),
                         "gap": round(target - total_quota_capacity, 2),
                         "fully_ramped_rep_quota": None if np.isnan(per_rep) else round(float(per_rep), 2),
                         "reps_missing": None if np.isnan(missing) else round(float(missing), 2)},
        })

    # ---------------------------------------------------------------- assumption consistency
    asm = build_assumptions(build)
    for _, r in asm.iterrows():  # one row per territory: a handful of checks each
        tid = r["territory_id"]
        w, c, u, cov = r["win_rate"], r["cycle_days"], r["uplift"], r["coverage_ratio"]
        if pd.notna(cov) and w > 0:
            implied = (c / QUARTER_DAYS) / (w * (1 + u))
            if implied > 0 and abs(cov - implied) / implied > 0.25:
                flags.append({
                    "kind": "coverage_inconsistent", "entity": tid, "severity": "medium",
                    "message": (f"{tid}: planned coverage {cov:.2f}x but a {w:.0%} win rate and a {c:.0f}-day cycle "
                                f"imply {implied:.2f}x open pipeline per quarter's quota; align the two"),
                    "evidence": {"coverage_ratio": cov, "implied_coverage": round(implied, 4), "win_rate": w,
                                 "cycle_days": c, "uplift": u},
                })
        days = build.capacity.days
        if c > days:
            flags.append({
                "kind": "cycle_vs_period", "entity": tid, "severity": "high",
                "message": (f"{tid}: the {c:.0f}-day sales cycle is longer than {build.period} ({days} days): "
                            "nothing created in the period can close in it"),
                "evidence": {"cycle_days": c, "period_days": days},
            })
        if not UPLIFT_BAND[0] - 1e-9 <= u <= UPLIFT_BAND[1] + 1e-9:
            flags.append({
                "kind": "uplift_band", "entity": tid, "severity": "low",
                "message": f"{tid}: uplift {u:.1%} is outside the usual 10–20% band",
                "evidence": {"uplift": u, "band": list(UPLIFT_BAND)},
            })

    # ---------------------------------------------------------------- ramping reps with full quota
    if current_quotas is not None and len(reps):
        rq = current_quotas[(current_quotas["entity_type"] == "rep") & (current_quotas["period"] == build.period)]
        amt = rq.set_index("entity_id")["amount"]
        ramping = reps[(reps["ramp"] < 0.99) & reps["rep_id"].isin(amt.index)]
        full = reps[reps["ramp"] >= 0.99]
        if len(ramping) and len(full):
            per_share = float((full["quota_raw"] / full["share"]).median())
            for _, r in ramping.iterrows():  # one row per ramping rep
                q = float(amt[r["rep_id"]])
                if q >= 0.99 * per_share * r["share"]:
                    flags.append({
                        "kind": "ramping_rep_full_quota", "entity": r["rep_id"], "severity": "medium",
                        "message": (f"{r['rep_id']} ramps at {r['ramp']:.0%} over {build.period} but carries "
                                    f"{_m(q)}, a fully ramped rep's quota; derived quota {_m(r['quota_raw'])}"),
                        "evidence": {"ramp": round(float(r["ramp"]), 4), "quota": q,
                                     "derived_quota": round(float(r["quota_raw"]), 2)},
                    })
    return flags


def build_assumptions(build: PlanBuild) -> pd.DataFrame:
    """Per territory, the assumptions the checks look at (time-weighted over the period)."""
    t = build.capacity.territories
    cols = ["territory_id", "win_rate", "cycle_days", "uplift"]
    a = t[cols].copy()
    a["coverage_ratio"] = t["coverage_ratio"] if "coverage_ratio" in t else np.nan
    return a[t["plan_capacity"] > 0]
