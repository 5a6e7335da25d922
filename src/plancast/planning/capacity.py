"""Territory and rep capacity for a period, computed day by day, vectorised.

For a territory *t* and a period ``[S, E)`` of *L* days (docs/methodology.md §4):

* **Effective accounts.** Each account's assignment to *t* is cut to the period,
  minus the days an exclusion covers. ``A_eff = Σ available account-days / L``
  (an exclusion covering half the period removes half an account).
* **Timing (cycle).** An account's pipeline takes ``c = cycle_days`` to close. An
  account that becomes available to *t* inside the period (a move, a new
  assignment, an exclusion ending) produces its first closes *c* days later; an
  account that moves out inside the period keeps closing what it created for *c*
  days (the pipeline stays with the territory that made it), while an account
  that becomes excluded stops at once (its open pipeline is unavailable too).
  Accounts available from before the period start are in steady state. The *productive*
  account-days are the available days so shifted, cut to the period.
* **Daily capacity rate** ``R_t(d) = productive accounts on d × r × w × ASP / 365``
  with the planning assumptions in force on day *d* (they may change mid-period).
* **Coverage.** Rep *i* covering *t* with share ``s_i`` contributes
  ``s_i × p_i(d)`` on each day it is assigned (never before its hire date), where
  ``p_i`` is its ramp: productivity by month of tenure (default linear over the
  rep's ``ramp_months``: 0, 1/m, 2/m, … then 1 — with m = 4 that is 0/25/50/75/100%).
  A territory without rep assignments is covered at its assumption ``ramp``.
* **Attrition and backfill.** With planned annual attrition *a*, backfill taking
  *b* days and a replacement's ramp losing ``λ = Σ_k (1 − p_k) × 30.4375`` days, the
  expected share of seat-time lost is ``a × (b + λ) / 365``; capacity is
  multiplied by ``1 − that``.
* **Capacity and quota.** ``capacity_i = Σ_d s_i p_i(d) R_t(d) × attrition``;
  a territory's capacity is the sum over its reps (or ``Σ_d ramp × R_t(d)``
  without reps). Quota = capacity × (1 + uplift). Shares a territory's reps do
  not cover (an open seat, a rep who left) carry an *open* quota at full
  productivity: ``Σ_d (1 − Σ_i s_i(d))⁺ × R_t(d) × (1 + uplift)``.
* **Plan capacity** is what the assumptions alone promise:
  ``planned_accounts × r × w × ASP × T × ramp``, *T* = L/365.

No Python loop runs per account, per rep or per day: intervals become
difference arrays over a (territory × day) grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = 365.25 / 12
#: months a backfilled rep takes to ramp, for the planned-attrition loss
REPLACEMENT_RAMP_MONTHS = 4


@dataclass
class PeriodInputs:
    """Everything the capacity model needs for one period, as frames from the store."""

    start: date
    end: date  # exclusive
    territories: pd.DataFrame  # territory_id (+ region_id, segment_id, precedence)
    assumptions: pd.DataFrame  # territory_id, valid_from, valid_to, planned_accounts, opp_rate, win_rate, asp,
    #                            cycle_days, uplift, ramp (+ attrition_rate, backfill_days, record_id)
    assignments: pd.DataFrame  # account_id, territory_id, valid_from, valid_to
    exclusions: pd.DataFrame  # account_id, valid_from, valid_to
    rep_assignments: pd.DataFrame  # rep_id, territory_id, share, valid_from, valid_to
    reps: pd.DataFrame  # rep_id, hire_date, ramp_months (presence comes from rep_assignments)


@dataclass
class CapacityResult:
    territories: pd.DataFrame
    reps: pd.DataFrame
    days: int
    notes: list[str] = field(default_factory=list)


def _day_index(s: pd.Series, start: pd.Timestamp, *, fill: int) -> np.ndarray:
    """Dates → day offsets from ``start`` (NaT → ``fill``)."""
    d = pd.to_datetime(s)
    out = np.array(((d - start) / pd.Timedelta(days=1)).to_numpy(dtype="float64"), copy=True)
    out[np.isnan(out)] = fill
    return out.astype(np.int64)


def _grid_add(grid: np.ndarray, row: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray | float) -> None:
    """Add weight ``w`` on days [a, b) of ``row`` of a (rows × L+1) difference grid."""
    L = grid.shape[1] - 1
    a = np.clip(a, 0, L)
    b = np.clip(b, 0, L)
    keep = b > a
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), a.shape)[keep]
    width = L + 1
    flat = grid.reshape(-1)
    n = flat.size
    flat += np.bincount(row[keep] * width + a[keep], weights=w, minlength=n)
    flat -= np.bincount(row[keep] * width + b[keep], weights=w, minlength=n)


def _daily(grid: np.ndarray) -> np.ndarray:
    return np.cumsum(grid, axis=1)[:, :-1]


def _subtract_intervals(
    pieces: pd.DataFrame, holes: pd.DataFrame, key: str
) -> pd.DataFrame:
    """``pieces`` (key, a, b, …) minus the union of ``holes`` (key, a, b), by an event sweep.

    Only pieces whose key has a hole go through the sweep (keys are factorised to
    integers first); the others pass through untouched."""
    if not len(holes) or not len(pieces):
        return pieces
    codes, uniq = pd.factorize(pd.concat([pieces[key], holes[key]], ignore_index=True))
    p_code, h_code = codes[: len(pieces)], codes[len(pieces):]
    touched = np.isin(p_code, h_code)
    if not touched.any():
        return pieces
    untouched = pieces[~touched]
    pieces = pieces[touched].assign(**{key: p_code[touched]})
    holes = holes.assign(**{key: h_code})
    done = _sweep(pieces, holes, key)
    done[key] = uniq[done[key].to_numpy()]
    return pd.concat([untouched, done], ignore_index=True)


def _sweep(pieces: pd.DataFrame, holes: pd.DataFrame, key: str) -> pd.DataFrame:
    p = pieces.reset_index(drop=True).copy()
    p["_pid"] = np.arange(len(p))
    h = holes[[key, "a", "b"]].merge(p[[key, "_pid", "a", "b"]], on=key, suffixes=("", "_p"))
    h = h[(h["a"] < h["b_p"]) & (h["a_p"] < h["b"])]
    if not len(h):
        return pieces
    # events per piece: its own start/end (+1/-1 on "in"), holes' start/end (+1/-1 on "out")
    ev = pd.concat([
        pd.DataFrame({"_pid": p["_pid"], "t": p["a"], "din": 1, "dout": 0}),
        pd.DataFrame({"_pid": p["_pid"], "t": p["b"], "din": -1, "dout": 0}),
        pd.DataFrame({"_pid": h["_pid"], "t": np.maximum(h["a"], h["a_p"]), "din": 0, "dout": 1}),
        pd.DataFrame({"_pid": h["_pid"], "t": np.minimum(h["b"], h["b_p"]), "din": 0, "dout": -1}),
    ])
    ev = ev.groupby(["_pid", "t"], as_index=False)[["din", "dout"]].sum().sort_values(["_pid", "t"])
    ev["in"] = ev.groupby("_pid")["din"].cumsum()
    ev["out"] = ev.groupby("_pid")["dout"].cumsum()
    ev["t_next"] = ev.groupby("_pid")["t"].shift(-1)
    seg = ev[(ev["in"] > 0) & (ev["out"] == 0) & ev["t_next"].notna()]
    seg = seg[seg["t_next"] > seg["t"]]
    out = p.drop(columns=["a", "b"]).merge(
        pd.DataFrame({"_pid": seg["_pid"], "a": seg["t"].astype(np.int64), "b": seg["t_next"].astype(np.int64)}),
        on="_pid",
    )
    # merge adjacent segments of a piece back together
    out = out.sort_values(["_pid", "a"])
    new = out["a"].ne(out.groupby("_pid")["b"].shift(1)) | out["_pid"].ne(out["_pid"].shift(1))
    out["_grp"] = new.cumsum()
    agg = out.groupby("_grp").agg(_pid=("_pid", "first"), a=("a", "min"), b=("b", "max"))
    out = p.drop(columns=["a", "b"]).merge(agg, on="_pid").drop(columns="_pid")
    return out[pieces.columns]


def ramp_levels(months: int) -> np.ndarray:
    """Productivity by month of tenure for a linear ramp over ``months`` (then 1)."""
    if months <= 0:
        return np.array([1.0])
    return np.append(np.arange(months) / months, 1.0)


def compute_capacity(inp: PeriodInputs) -> CapacityResult:
    S = pd.Timestamp(inp.start)
    L = int((pd.Timestamp(inp.end) - S) / pd.Timedelta(days=1))
    terr = inp.territories["territory_id"].astype(str).drop_duplicates().reset_index(drop=True)
    tix = pd.Series(np.arange(len(terr)), index=terr)
    nT = len(terr)
    notes: list[str] = []

    # ---------------------------------------------------------------- assumptions per day
    asm = inp.assumptions[inp.assumptions["territory_id"].isin(tix.index)].copy()
    params = ["opp_rate", "win_rate", "asp", "cycle_days", "uplift", "ramp", "planned_accounts",
              "attrition_rate", "backfill_days", "coverage_ratio"]
    defaults = {"cycle_days": 0.0, "uplift": 0.0, "ramp": 1.0, "attrition_rate": 0.0, "backfill_days": 0.0}
    for p in params:
        if p not in asm:
            asm[p] = np.nan
        asm[p] = pd.to_numeric(asm[p], errors="coerce").astype("float64")
        if p in defaults:
            asm[p] = asm[p].fillna(defaults[p])
    a_row = tix[asm["territory_id"].astype(str)].to_numpy()
    a0 = _day_index(asm["valid_from"], S, fill=0)
    a1 = _day_index(asm["valid_to"], S, fill=L)
    has_plan = np.zeros((nT, L + 1))
    _grid_add(has_plan, a_row, a0, a1, 1.0)
    has_plan_d = _daily(has_plan) > 0.5
    daily = {}
    for p in params:
        g = np.zeros((nT, L + 1))
        _grid_add(g, a_row, a0, a1, asm[p].to_numpy())
        daily[p] = _daily(g)
    no_plan = ~has_plan_d.any(axis=1)
    if no_plan.any():
        notes.append(f"{int(no_plan.sum())} territories have no planning assumptions in force in the period")

    # ---------------------------------------------------------------- available accounts
    asg = inp.assignments[inp.assignments["territory_id"].astype(str).isin(tix.index)]
    pieces = pd.DataFrame({
        "account_id": asg["account_id"].astype(str).to_numpy(),
        "t": tix[asg["territory_id"].astype(str)].to_numpy(),
        "a": _day_index(asg["valid_from"], S, fill=0),
        "b": _day_index(asg["valid_to"], S, fill=10 * L + 10_000),
    })
    assigned = np.zeros((nT, L + 1))
    _grid_add(assigned, pieces["t"].to_numpy(), pieces["a"].to_numpy(), pieces["b"].to_numpy(), 1.0)
    ex = inp.exclusions
    holes = pd.DataFrame({
        "account_id": ex["account_id"].astype(str).to_numpy(),
        "a": _day_index(ex["valid_from"], S, fill=0),
        "b": _day_index(ex["valid_to"], S, fill=10 * L + 10_000),
    })
    pieces["assign_end"] = pieces["b"]
    avail = _subtract_intervals(pieces, holes, "account_id")
    available = np.zeros((nT, L + 1))
    _grid_add(available, avail["t"].to_numpy(), avail["a"].to_numpy(), avail["b"].to_numpy(), 1.0)

    # productive window: shifted by the cycle where availability starts / ends inside the period
    cyc = daily["cycle_days"]
    t_av = avail["t"].to_numpy()
    a_av, b_av = avail["a"].to_numpy(), avail["b"].to_numpy()
    c_at_a = np.rint(cyc[t_av, np.clip(a_av, 0, L - 1)]).astype(np.int64) if L else a_av
    c_at_b = np.rint(cyc[t_av, np.clip(b_av - 1, 0, L - 1)]).astype(np.int64) if L else b_av
    pa = np.where(a_av > 0, a_av + c_at_a, a_av)
    # a move keeps closing what was created before it; an exclusion stops that pipeline too
    moved_out = (b_av < L) & (b_av == avail["assign_end"].to_numpy())
    pb = np.where(moved_out, b_av + c_at_b, b_av)
    productive = np.zeros((nT, L + 1))
    _grid_add(productive, t_av, pa, pb, 1.0)

    assigned_d, available_d, productive_d = _daily(assigned), _daily(available), _daily(productive)
    rate = productive_d * daily["opp_rate"] * daily["win_rate"] * daily["asp"] / DAYS_PER_YEAR  # $ per day
    # planned attrition: a replacement is assumed to ramp over REPLACEMENT_RAMP_MONTHS
    attr = 1.0 - daily["attrition_rate"] * (daily["backfill_days"] + _ramp_loss_days(REPLACEMENT_RAMP_MONTHS)) \
        / DAYS_PER_YEAR
    attr = np.clip(attr, 0.0, 1.0)

    # ---------------------------------------------------------------- reps and coverage
    ra = inp.rep_assignments[inp.rep_assignments["territory_id"].astype(str).isin(tix.index)]
    reps = inp.reps.set_index(inp.reps["rep_id"].astype(str))
    rp = pd.DataFrame({
        "rep_id": ra["rep_id"].astype(str).to_numpy(),
        "t": tix[ra["territory_id"].astype(str)].to_numpy(),
        "share": pd.to_numeric(ra["share"]).fillna(1.0).to_numpy(dtype=np.float64),
        "a": _day_index(ra["valid_from"], S, fill=0),
        "b": _day_index(ra["valid_to"], S, fill=L),
    })
    # presence comes from the (versioned) rep assignments alone; the hire date only
    # starts the ramp clock (a departure ends the assignment, not a reference field)
    hire = _day_index(reps["hire_date"].reindex(rp["rep_id"]).reset_index(drop=True), S, fill=-10**6)
    months = pd.to_numeric(reps["ramp_months"].reindex(rp["rep_id"]), errors="coerce").fillna(0).to_numpy()
    rp["a"] = np.maximum(rp["a"].to_numpy(), hire)
    rp["hire"] = hire
    rp["months"] = months.astype(np.int64)
    rp = rp[(rp["b"] > rp["a"]) & (rp["b"] > 0) & (rp["a"] < L)].reset_index(drop=True)
    rp["pid"] = np.arange(len(rp))

    # split each rep piece by tenure month: sub-pieces with constant productivity
    max_m = int(rp["months"].max()) if len(rp) else 0
    k = np.arange(max_m + 1)
    sub = rp.loc[rp.index.repeat(max_m + 1)].reset_index(drop=True)
    sub["k"] = np.tile(k, len(rp))
    sub = sub[sub["k"] <= sub["months"]]
    m_start = sub["hire"] + np.floor(sub["k"] * DAYS_PER_MONTH).astype(np.int64)
    m_end = np.where(sub["k"] < sub["months"],
                     sub["hire"] + np.floor((sub["k"] + 1) * DAYS_PER_MONTH).astype(np.int64), 10**7)
    sub["prod"] = np.where(sub["months"] > 0, np.minimum(sub["k"] / sub["months"].clip(lower=1), 1.0), 1.0)
    sub["sa"] = np.clip(np.maximum(sub["a"], m_start), 0, L)
    sub["sb"] = np.clip(np.minimum(sub["b"], m_end), 0, L)
    sub = sub[sub["sb"] > sub["sa"]]

    cover = np.zeros((nT, L + 1))
    seat = np.zeros((nT, L + 1))
    _grid_add(cover, sub["t"].to_numpy(), sub["sa"].to_numpy(), sub["sb"].to_numpy(),
              (sub["share"] * sub["prod"]).to_numpy())
    _grid_add(seat, rp["t"].to_numpy(), np.clip(rp["a"].to_numpy(), 0, L), np.clip(rp["b"].to_numpy(), 0, L),
              rp["share"].to_numpy())
    cover_d, seat_d = _daily(cover), _daily(seat)
    has_reps = np.zeros(nT, dtype=bool)
    has_reps[inp.rep_assignments["territory_id"].astype(str).map(tix).dropna().astype(int).unique()] = True
    coverage_d = np.where(has_reps[:, None], cover_d, daily["ramp"])
    open_d = np.where(has_reps[:, None], np.clip(1.0 - seat_d, 0.0, None), 0.0)

    cap_rate = rate * attr  # $ per day at full coverage, after attrition
    cum = np.concatenate([np.zeros((nT, 1)), np.cumsum(cap_rate, axis=1)], axis=1)
    cum_q = np.concatenate([np.zeros((nT, 1)), np.cumsum(cap_rate * (1 + daily["uplift"]), axis=1)], axis=1)

    # rep capacity: Σ over sub-pieces share × prod × (cum[b] − cum[a])
    st, sa_, sb_ = sub["t"].to_numpy(), sub["sa"].to_numpy(), sub["sb"].to_numpy()
    w = (sub["share"] * sub["prod"]).to_numpy()
    sub = sub.assign(capacity=w * (cum[st, sb_] - cum[st, sa_]), quota=w * (cum_q[st, sb_] - cum_q[st, sa_]))
    rep_out = sub.groupby(["rep_id", "t"], as_index=False).agg(capacity=("capacity", "sum"),
                                                               quota_raw=("quota", "sum"))
    days_in = rp.assign(days=np.clip(rp["b"], 0, L) - np.clip(rp["a"], 0, L)).groupby(
        ["rep_id", "t"], as_index=False).agg(days=("days", "sum"), share=("share", "max"))
    rep_out = rep_out.merge(days_in, on=["rep_id", "t"], how="right").fillna({"capacity": 0.0, "quota_raw": 0.0})
    rep_out["territory_id"] = terr.to_numpy()[rep_out["t"].to_numpy()]
    prod_w = sub.assign(pd_=w * (sb_ - sa_)).groupby(["rep_id", "t"])["pd_"].sum()
    rep_out["ramp"] = (prod_w.reindex(pd.MultiIndex.from_frame(rep_out[["rep_id", "t"]])).fillna(0).to_numpy()
                       / (rep_out["share"] * rep_out["days"]).where(rep_out["days"] > 0).to_numpy())

    # ---------------------------------------------------------------- territory roll-up
    T_years = L / DAYS_PER_YEAR
    with np.errstate(invalid="ignore", divide="ignore"):
        plan_cap = (daily["planned_accounts"] * daily["opp_rate"] * daily["win_rate"] * daily["asp"]
                    * daily["ramp"]).sum(axis=1) / DAYS_PER_YEAR
        full_cov_cap = rate.sum(axis=1)  # effective accounts at full coverage, no attrition
        eff_cap_at_plan = (available_d * daily["opp_rate"] * daily["win_rate"] * daily["asp"]
                           * daily["ramp"]).sum(axis=1) / DAYS_PER_YEAR
    capacity = (coverage_d * cap_rate).sum(axis=1)
    quota_cov = (coverage_d * cap_rate * (1 + daily["uplift"])).sum(axis=1)
    open_quota = (open_d * cap_rate * (1 + daily["uplift"])).sum(axis=1)
    tout = pd.DataFrame({
        "territory_id": terr.to_numpy(),
        "days": L,
        "planned_accounts": daily["planned_accounts"].sum(axis=1) / max(L, 1),
        "assigned_accounts": assigned_d.sum(axis=1) / max(L, 1),
        "effective_accounts": available_d.sum(axis=1) / max(L, 1),
        "productive_account_years": productive_d.sum(axis=1) / DAYS_PER_YEAR,
        "opp_rate": _wmean(daily["opp_rate"], has_plan_d),
        "win_rate": _wmean(daily["win_rate"], has_plan_d),
        "asp": _wmean(daily["asp"], has_plan_d),
        "cycle_days": _wmean(daily["cycle_days"], has_plan_d),
        "uplift": _wmean(daily["uplift"], has_plan_d),
        "coverage_ratio": _wmean(daily["coverage_ratio"], has_plan_d),
        "coverage": coverage_d.sum(axis=1) / max(L, 1),
        "attrition_factor": attr.sum(axis=1) / max(L, 1),
        "plan_capacity": plan_cap,
        "effective_capacity": eff_cap_at_plan,
        "full_coverage_capacity": full_cov_cap,
        "capacity": capacity,
        "quota_covered": quota_cov,
        "quota_open": open_quota,
        "years": T_years,
    })
    with np.errstate(invalid="ignore", divide="ignore"):
        tout["capacity_ratio"] = tout["effective_capacity"] / tout["plan_capacity"]
    tout = tout.merge(inp.territories.drop_duplicates("territory_id"), on="territory_id", how="left")
    return CapacityResult(territories=tout, reps=rep_out.drop(columns="t"), days=L, notes=notes)


def _wmean(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (x * mask).sum(axis=1) / np.maximum(n, 1), np.nan)


def _ramp_loss_days(months: int) -> float:
    """Days of full productivity a replacement loses while ramping (linear ramp)."""
    lv = ramp_levels(months)[:-1]
    return float((1.0 - lv).sum() * DAYS_PER_MONTH)
