"""Plan-vs-projection diagnosis: stretch, planning variance and execution variance.

:func:`diagnose` reads one stored forecast run (or makes one) and the plan as
known at a time, and for every rep, territory, region, segment and the company
splits the projection's gap to quota (docs/methodology.md §9)::

    F − Q = (E_plan − Q) + (E_fair − E_plan) + (F − E_fair)

* ``E_plan`` — the plan's expectation for the period (its own capacity model,
  paced by day with the versions in force each day; stored with the forecast).
* ``E_fair`` — the same model re-run with the territory's real conditions:
  effective accounts (assignments, exclusions, cycle lag and the reps' real ramp,
  day by day) and the rates the rep's *peers* actually achieved over the trailing
  window — the median peer in the segment, the rep itself left out, shrunk toward
  the plan's assumption when the peers' evidence is thin.
* ``F`` — the forecast's mean.

Planning and execution variance are split by driver with the Shapley value of
the capacity product (:mod:`.variance`); every part is rounded to cents so the
parts add up to the whole exactly. Rows are computed per rep and summed up the
hierarchy the forecast used, so every level's parts add up too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BadInput, NotFound
from ..forecast.pacing import plan_basis
from ..planning.build import gather
from ..planning.capacity import PeriodInputs, compute_capacity
from ..store import DEFAULT_PLAN, Store
from .variance import DRIVERS, exclusion_median, peer_pooled_rate, split_cents, split_change

__all__ = ["LEVELS", "Diagnosis", "diagnose", "peer_rates"]

LEVELS = ("rep", "territory", "region", "segment", "company")
#: default pseudo-observations of the shrinkage toward the plan's (peers) or the peers' (own) rate
PRIOR_STRENGTH = 30.0
#: the trailing window the achieved rates are measured over
WINDOW_DAYS = 365
RATES = ("opp_rate", "win_rate", "asp", "cycle_days")


@dataclass
class Diagnosis:
    period: str
    as_of: date
    plan_id: str
    known_at: datetime | None
    forecast_run: int
    rows: pd.DataFrame  # one row per (level, entity_id), money in dollars (exact cents)
    rates: pd.DataFrame  # per rep: plan, fair (peers) and own rates with their evidence
    flags: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    diagnosis_id: int | None = None

    def row(self, level: str, entity_id: str) -> pd.Series:
        r = self.rows
        hit = r[(r["level"] == level) & (r["entity_id"] == entity_id)]
        if not len(hit):
            raise NotFound(f"no {level} {entity_id!r} in the diagnosis")
        return hit.iloc[0]

    def summary(self) -> dict[str, Any]:
        """Per region and for the company: the share of the variance against plan
        that is planning vs execution (shares of |planning| + |execution|)."""
        def one(r: pd.Series) -> dict[str, Any]:
            p, e = float(r["planning_variance"]), float(r["execution_variance"])
            gross = abs(p) + abs(e)
            q = float(r["quota"]) if float(r["quota"]) else None
            return {
                "quota": float(r["quota"]), "variance_vs_plan": round(p + e, 2), "stretch": float(r["stretch"]),
                "planning_variance": p, "execution_variance": e,
                "planning_share": abs(p) / gross if gross else None,
                "execution_share": abs(e) / gross if gross else None,
                "plan_expected_pct": float(r["plan_expected"]) / q if q else None,
                "fair_expected_pct": float(r["fair_expected"]) / q if q else None,
                "projected_pct": float(r["projected_mean"]) / q if q else None,
            }
        rows = self.rows
        company = rows[rows["level"] == "company"]
        return {
            "company": one(company.iloc[0]) if len(company) else None,
            "regions": {str(r["entity_id"]): one(r) for _, r in rows[rows["level"] == "region"].iterrows()},
        }

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for r in self.rows.to_dict("records"):
            out = {
                "level": r["level"], "entity": r["entity_id"], "name": r["name"], "parent": r["parent_id"],
                **{k: _num(r[k]) for k in ("quota", "plan_expected", "fair_expected", "projected_mean", "p10",
                                           "p50", "p90", "prob_quota", "closed_won", "stretch",
                                           "planning_variance", "execution_variance")},
                "drivers": {part: {d: _num(r[f"{part}_{d}"]) for d in DRIVERS} for part in ("planning", "execution")},
            }
            rows.append(out)
        rates = self.rates.replace({np.nan: None}).to_dict("records")
        return {
            "diagnosis_id": self.diagnosis_id, "period": self.period, "as_of": self.as_of.isoformat(),
            "plan_id": self.plan_id, "known_at": self.known_at.isoformat() if self.known_at else None,
            "forecast_run": self.forecast_run, "rows": rows, "summary": self.summary(), "rates": rates,
            "flags": self.flags, "notes": self.notes, "params": self.params,
        }


def _num(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(f) else f


# ------------------------------------------------------------------------------- the forecast run
def _forecast_run(store: Store, period: str, as_of: date, plan_id: str, known_at: datetime | None,
                  run_id: int | None) -> tuple[int, list[str]]:
    runs = store.forecast_runs()
    if run_id is not None:
        hit = runs[runs["run_id"] == run_id]
        if not len(hit):
            raise NotFound(f"forecast run {run_id} does not exist",
                           hint="stored runs: " + (", ".join(map(str, runs["run_id"])) or "none")
                           + " (see plancast forecast explain --run N)")
        r = hit.iloc[0]
        if str(r["period"]) != period or pd.Timestamp(r["as_of"]).date() != as_of:
            raise BadInput(f"forecast run {run_id} is for {r['period']} as of {pd.Timestamp(r['as_of']).date()}, "
                           f"not {period} as of {as_of}", hint="give the run's own --period and --as-of, or no --run")
        return int(run_id), []
    if len(runs):
        known = pd.to_datetime(runs["known_at"])
        same_known = known.isna() if known_at is None else (known == pd.Timestamp(known_at))
        hit = runs[(runs["period"].astype(str) == period) & (pd.to_datetime(runs["as_of"]).dt.date == as_of)
                   & (runs["plan_id"].astype(str) == plan_id) & same_known.to_numpy()]
        if known_at is None and len(hit):  # "as known now": not from before the plan's latest version
            versions = store.plan_versions(plan_id)
            if len(versions):
                hit = hit[pd.to_datetime(hit["created_at"]) >= pd.to_datetime(versions["recorded_at"]).max()]
        if len(hit):
            return int(hit["run_id"].max()), []
    from ..forecast.run import project

    stale = len(runs) and ((runs["period"].astype(str) == period)
                           & (pd.to_datetime(runs["as_of"]).dt.date == as_of)).any()
    p = project(store, period, as_of, plan_id=plan_id, known_at=known_at)
    assert p.run_id is not None
    why = "the stored ones predate the plan's latest version or another --as-known-at" if stale else "none stored"
    return p.run_id, [f"forecast {period} as of {as_of} made now (run {p.run_id}): {why}", *p.notes]


# ------------------------------------------------------------------------------- capacity pieces
def _unit_assumptions(asm: pd.DataFrame, *, cycle: pd.Series | None = None, keep_attrition: bool) -> pd.DataFrame:
    """The plan's assumption records with the rates set to 1: the capacity model then
    returns account-years (× timing, ramp and coverage) instead of dollars."""
    a = asm.copy()
    for c in ("opp_rate", "win_rate", "asp", "ramp"):
        a[c] = 1.0
    a["uplift"] = 0.0
    if cycle is None:
        a["cycle_days"] = 0.0
    else:
        a["cycle_days"] = a["territory_id"].astype(str).map(cycle).fillna(a["cycle_days"]).astype(float)
    if not keep_attrition:
        a["attrition_rate"] = 0.0
    return a


def _rep_capacity(inp: PeriodInputs, asm: pd.DataFrame, *, real_ramp: bool) -> pd.Series:
    reps = inp.reps if real_ramp else inp.reps.assign(ramp_months=0)
    cap = compute_capacity(PeriodInputs(start=inp.start, end=inp.end, territories=inp.territories, assumptions=asm,
                                        assignments=inp.assignments, exclusions=inp.exclusions,
                                        rep_assignments=inp.rep_assignments, reps=reps))
    r = cap.reps
    return r.groupby([r["rep_id"].astype(str), r["territory_id"].astype(str)])["capacity"].sum()


def _plan_pieces(inp: PeriodInputs, as_of: date) -> pd.DataFrame:
    """Per (rep, territory): planned account-years and the plan's rates over the rep's days,
    such that ``A × r × w × s × τ`` is the plan's expectation (τ carries the ramp assumption)."""
    from ..forecast.pacing import plan_pacing

    a = inp.assumptions
    num = {c: pd.to_numeric(a[c], errors="coerce").fillna(0.0) for c in ("opp_rate", "win_rate", "asp")}
    ramp = pd.to_numeric(a["ramp"], errors="coerce").fillna(1.0)
    cum = {
        "A": a.assign(opp_rate=1.0, win_rate=1.0, asp=1.0, ramp=1.0),
        "Ar": a.assign(opp_rate=num["opp_rate"], win_rate=1.0, asp=1.0, ramp=1.0),
        "Arw": a.assign(opp_rate=num["opp_rate"], win_rate=num["win_rate"], asp=1.0, ramp=1.0),
        "Arws": a.assign(opp_rate=num["opp_rate"], win_rate=num["win_rate"], asp=num["asp"], ramp=1.0),
        "E": a.assign(ramp=ramp),
    }
    out = None
    for name, frame in cum.items():
        _, reps = plan_pacing(frame, inp.rep_assignments, inp.start, inp.end, as_of)
        s = reps.set_index(["rep_id", "territory_id"])["plan_expected"].rename(name)
        out = s.to_frame() if out is None else out.join(s, how="outer")
    assert out is not None
    out = out.fillna(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["r"] = out["Ar"] / out["A"]
        out["w"] = out["Arw"] / out["Ar"]
        out["s"] = out["Arws"] / out["Arw"]
        out["tau"] = out["E"] / out["Arws"]
    # the cycle assumption of each piece's territory, averaged over its records' days
    cyc = (a.assign(c=pd.to_numeric(a["cycle_days"], errors="coerce"))
           .groupby(a["territory_id"].astype(str))["c"].mean())
    out = out.reset_index()
    out["cycle_days"] = out["territory_id"].map(cyc)
    return out


# ------------------------------------------------------------------------------- achieved rates
def _achieved(store: Store, org: pd.DataFrame, ws: date, as_of: date, plan_id: str,
              known_at: datetime | None) -> pd.DataFrame:
    """Per rep of the org, over [ws, as_of]: opportunities created, available account-years,
    deals closed and won, won amount and median days to close a won deal."""
    opp = store.read_table("opportunity")
    created = pd.to_datetime(opp["created_date"])
    close = pd.to_datetime(opp["close_date"])
    lo, hi = pd.Timestamp(ws), pd.Timestamp(as_of)
    is_closed = opp["is_closed"].fillna(False).astype(bool) & (close <= hi) & (created <= hi)
    in_w = is_closed & (close >= lo)
    won = in_w & opp["is_won"].fillna(False).astype(bool)
    owner = opp["owner_id"].astype(str)
    f = pd.DataFrame({
        "rep_id": owner,
        "created": ((created >= lo) & (created <= hi)).astype(float),
        "closed": in_w.astype(float),
        "won": won.astype(float),
        "won_amount": np.where(won, pd.to_numeric(opp["amount"], errors="coerce").fillna(0.0), 0.0),
    })
    g = f.groupby("rep_id")[["created", "closed", "won", "won_amount"]].sum()
    cycle = ((close - created).dt.days[won]).groupby(owner[won]).median().rename("cycle_median")
    # available account-years over the window, each rep its share of its territories' days
    inp = gather(store, ws, as_of + timedelta(days=1), plan_id=plan_id, known_at=known_at)
    terr = inp.territories["territory_id"].astype(str)
    unit = pd.DataFrame({"territory_id": terr, "valid_from": pd.Timestamp(ws),
                         "valid_to": pd.Timestamp(as_of + timedelta(days=1)), "opp_rate": 1.0, "win_rate": 1.0,
                         "asp": 1.0, "cycle_days": 0.0, "ramp": 1.0, "uplift": 0.0, "planned_accounts": np.nan})
    expo = _rep_capacity(inp, unit, real_ramp=False).groupby(level=0).sum().rename("exposure")
    out = org[["rep_id"]].set_index("rep_id").join(g).join(cycle).join(expo).fillna(
        {"created": 0.0, "closed": 0.0, "won": 0.0, "won_amount": 0.0, "exposure": 0.0})
    return out.reset_index()


def peer_rates(ach: pd.DataFrame, groups: np.ndarray) -> pd.DataFrame:
    """Each rep's own rates and its peers' (same group, the rep left out): the pooled rate
    of the peers after trimming the extreme tenth on each side (:func:`peer_pooled_rate`);
    for the cycle, the median of the peers' median days to close. ``peer_n_*`` is the
    peers' evidence (created, closed or won deals) behind each."""
    g = pd.Series(groups).astype(str).to_numpy()
    out = pd.DataFrame({"rep_id": ach["rep_id"].to_numpy()})
    # (numerator, denominator, trials) per rate; a rep with almost no exposure says little per account-year
    spec = {"opp_rate": ("created", "exposure", "created"), "win_rate": ("won", "closed", "closed"),
            "asp": ("won_amount", "won", "won")}
    for rate, (num, den, n) in spec.items():
        nu, de = ach[num].to_numpy(dtype=float), ach[den].to_numpy(dtype=float)
        valid = (de >= 0.5) if rate == "opp_rate" else (de > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"own_{rate}"] = np.where(de > 0, nu / np.where(de > 0, de, 1.0), np.nan)
        out[f"own_n_{rate}"] = ach[n].to_numpy(dtype=float)
        peer, pn, pdn = peer_pooled_rate(nu, de, g, valid)
        out[f"peer_{rate}"] = peer
        out[f"peer_n_{rate}"] = pn if n == num else pdn
        out[f"peers_{rate}"] = pd.Series(valid.astype(float)).groupby(g).transform("sum").to_numpy() - valid
    cyc = ach["cycle_median"].to_numpy(dtype=float)
    out["own_cycle_days"] = cyc
    out["own_n_cycle_days"] = ach["won"].to_numpy(dtype=float)
    out["peer_cycle_days"] = exclusion_median(cyc, g, np.isfinite(cyc))
    out["peer_n_cycle_days"] = pd.Series(ach["won"].to_numpy(dtype=float)).groupby(g).transform("sum").to_numpy() \
        - ach["won"].to_numpy(dtype=float)
    return out


def _shrink(target: np.ndarray, value: np.ndarray, n: np.ndarray, k: float) -> np.ndarray:
    """``target + n/(n+k) · (value − target)``; the target where there is no value."""
    w = np.where(n > 0, n / (n + k), 0.0)
    v = np.where(np.isfinite(value), value, target)
    return np.where(np.isfinite(target), target + w * (v - target), v)


# ------------------------------------------------------------------------------- the diagnosis
def diagnose(
    store: Store,
    period: str,
    as_of: date,
    *,
    plan_id: str = DEFAULT_PLAN,
    known_at: datetime | None = None,
    run_id: int | None = None,
    window_days: int = WINDOW_DAYS,
    prior_strength: float = PRIOR_STRENGTH,
    write: bool = True,
) -> Diagnosis:
    """Split every entity's gap to quota into stretch, planning and execution (see the module)."""
    from ..forecast.run import _org, bounds_with, shared_territories

    start, end = bounds_with(store, period, as_of)
    if not 28 <= window_days <= 3660:
        raise BadInput(f"the rates window of {window_days} days is "
                       f"{'too short to measure a rate' if window_days < 28 else 'longer than ten years'}",
                       hint="use 28 to 3660 days (default 365)")
    quotas = store.plan_records("quotas", plan_id=plan_id, during=(start, end), known_at=known_at)
    if not (quotas["period"].astype(str) == period).any():
        ever = store.record_history("quotas", plan_id=plan_id)  # superseded records too: when the first came
        ever = ever[ever["period"].astype(str) == period]
        first = f"; the first were recorded {pd.Timestamp(ever['recorded_at'].min()):%Y-%m-%d %H:%M}" if len(ever) else ""
        known = f" as known at {known_at:%Y-%m-%d %H:%M}" if known_at else ""
        raise NotFound(f"plan {plan_id!r} has no quotas for {period}{known}{first}",
                       hint="give a later --as-known-at" if len(ever) else
                       f"set quotas first (plancast plan build --period {period}, or plancast import quotas FILE)")
    run_id, notes = _forecast_run(store, period, as_of, plan_id, known_at, run_id)
    res = store.forecast_results(run_id)
    org = _org(store, as_of, plan_id, known_at)
    rep_res = res[res["level"] == "rep"].set_index("entity_id")
    org = org[org["rep_id"].isin(rep_res.index)].reset_index(drop=True)
    if not len(org):
        raise NotFound(f"forecast run {run_id} has no reps on the plan on {as_of}",
                       hint="check the plan's rep assignments (plancast plan show)")

    # ---------------------------------------------------------------- plan and fair, per (rep, territory)
    inp = gather(store, start, end, plan_id=plan_id, known_at=known_at)
    inp.assumptions = plan_basis(store, period, start, end, plan_id=plan_id, known_at=known_at)
    inp.rep_assignments = inp.rep_assignments[inp.rep_assignments["rep_id"].astype(str).isin(org["rep_id"])]
    pieces = _plan_pieces(inp, as_of)
    ws = as_of - timedelta(days=window_days - 1)
    ach = _achieved(store, org, ws, as_of, plan_id, known_at)
    peers = peer_rates(ach, org["segment_id"].to_numpy()).set_index("rep_id")
    pr = peers.reindex(pieces["rep_id"])
    k = prior_strength
    fair = {}
    for rate, plan_col in (("opp_rate", "r"), ("win_rate", "w"), ("asp", "s"), ("cycle_days", "cycle_days")):
        fair[rate] = _shrink(pieces[plan_col].to_numpy(dtype=float), pr[f"peer_{rate}"].to_numpy(),
                             pr[f"peer_n_{rate}"].to_numpy(), k)
    pieces["fair_r"], pieces["fair_w"], pieces["fair_s"] = fair["opp_rate"], fair["win_rate"], fair["asp"]
    pieces["fair_cycle"] = fair["cycle_days"]
    terr_cycle = pieces.groupby("territory_id")["fair_cycle"].mean().round()
    a_f = _rep_capacity(inp, _unit_assumptions(inp.assumptions, keep_attrition=False), real_ramp=False)
    x_f = _rep_capacity(inp, _unit_assumptions(inp.assumptions, cycle=terr_cycle, keep_attrition=True),
                        real_ramp=True)
    key = pd.MultiIndex.from_frame(pieces[["rep_id", "territory_id"]])
    pieces["A_f"] = a_f.reindex(key).fillna(0.0).to_numpy()
    pieces["X_f"] = x_f.reindex(key).fillna(0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        pieces["tau_f"] = np.where(pieces["A_f"] > 0, pieces["X_f"] / pieces["A_f"], 0.0)
    pieces["E_fair"] = pieces["X_f"] * pieces["fair_r"] * pieces["fair_w"] * pieces["fair_s"]
    base = pieces[["A", "r", "w", "s", "tau"]].to_numpy()
    new = pieces[["A_f", "fair_r", "fair_w", "fair_s", "tau_f"]].to_numpy()
    plan_parts = split_change(base, new, pieces["E"].to_numpy(), pieces["E_fair"].to_numpy())

    # ---------------------------------------------------------------- per rep: fair vs own
    reps = org["rep_id"].to_numpy()
    by_rep = pd.DataFrame(plan_parts, columns=list(DRIVERS)).groupby(pieces["rep_id"].to_numpy()).sum()
    agg = pieces.assign(Xr=pieces["X_f"] * pieces["fair_r"], Xrw=pieces["X_f"] * pieces["fair_r"] * pieces["fair_w"]
                        ).groupby("rep_id")[["A_f", "X_f", "Xr", "Xrw", "E_fair", "E"]].sum().reindex(reps).fillna(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f_tau = np.where(agg["A_f"] > 0, agg["X_f"] / agg["A_f"], 0.0)
        f_r = np.where(agg["X_f"] > 0, agg["Xr"] / agg["X_f"], np.nan)
        f_w = np.where(agg["Xr"] > 0, agg["Xrw"] / agg["Xr"], np.nan)
        f_s = np.where(agg["Xrw"] > 0, agg["E_fair"] / agg["Xrw"], np.nan)
    by = pieces.groupby("rep_id")
    plan_r, plan_w, plan_s = (by[c].mean().reindex(reps).to_numpy() for c in ("r", "w", "s"))
    # a rep without productive account-years (no accounts): its pieces' fair rates, unweighted
    f_r, f_w, f_s = (np.where(np.isfinite(f), f, by[c].mean().reindex(reps).to_numpy())
                     for f, c in ((f_r, "fair_r"), (f_w, "fair_w"), (f_s, "fair_s")))
    pe = peers.reindex(reps)
    o_r = _shrink(f_r, pe["own_opp_rate"].to_numpy(), pe["own_n_opp_rate"].to_numpy(), k)
    o_w = _shrink(f_w, pe["own_win_rate"].to_numpy(), pe["own_n_win_rate"].to_numpy(), k)
    o_s = _shrink(f_s, pe["own_asp"].to_numpy(), pe["own_n_asp"].to_numpy(), k)
    F = rep_res["mean"].reindex(reps).to_numpy(dtype=float)
    A = agg["A_f"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = A * o_r * o_w * o_s
        o_tau = np.where(denom > 0, F / denom, 0.0)
    exec_parts = split_change(np.column_stack([A, f_r, f_w, f_s, f_tau]), np.column_stack([A, o_r, o_w, o_s, o_tau]),
                              agg["E_fair"].to_numpy(), F)
    rep_rates = pd.DataFrame({
        "rep_id": reps, "territory_id": org["territory_id"].to_numpy(), "segment_id": org["segment_id"].to_numpy(),
        "plan_opp_rate": plan_r, "plan_win_rate": plan_w, "plan_asp": plan_s,
        "fair_opp_rate": f_r, "fair_win_rate": f_w, "fair_asp": f_s,
        "own_opp_rate": o_r, "own_win_rate": o_w, "own_asp": o_s,
        "raw_opp_rate": pe["own_opp_rate"].to_numpy(), "raw_win_rate": pe["own_win_rate"].to_numpy(),
        "raw_asp": pe["own_asp"].to_numpy(),
        "created": ach.set_index("rep_id")["created"].reindex(reps).to_numpy(),
        "exposure_account_years": ach.set_index("rep_id")["exposure"].reindex(reps).to_numpy(),
        "closed": ach.set_index("rep_id")["closed"].reindex(reps).to_numpy(),
        "won": ach.set_index("rep_id")["won"].reindex(reps).to_numpy(),
        "peers": pe["peers_win_rate"].to_numpy(),
        "effective_account_years": A, "timing_fair": f_tau,
    })

    # ---------------------------------------------------------------- roll up and round to cents
    rows = _assemble(store, res, org, agg["E_fair"].to_numpy(), by_rep.reindex(reps).fillna(0.0).to_numpy(),
                     exec_parts)
    # a rep who covers several territories counts whole in its largest-share one (the forecast places each rep
    # in one territory), so the rows of the territories such reps cover would mix in other territories' deals:
    # they are left out, and said; their regions and reps stay
    ra = store.plan_records("rep_assignments", plan_id=plan_id, during=(start, end), known_at=known_at)
    split, mixed = shared_territories(ra)
    if mixed:
        rows = rows[~((rows["level"] == "territory") & rows["entity_id"].astype(str).isin(mixed))].reset_index(
            drop=True)
        notes.append(f"{len(split)} rep(s) cover several territories and count whole in their largest-share one, "
                     f"so the {len(mixed)} territories they cover get no territory rows or territory signals here "
                     "(their regions, reps and the company do)")
    params = {"window_days": window_days, "window": [ws.isoformat(), as_of.isoformat()],
              "prior_strength": prior_strength, "peer_group": "segment", "drivers": list(DRIVERS),
              "mixed_territories": mixed}
    diag = Diagnosis(period=period, as_of=as_of, plan_id=plan_id, known_at=known_at, forecast_run=run_id, rows=rows,
                     rates=rep_rates, notes=notes, params=params)
    from .signals import signals

    diag.flags = signals(store, diag, inp, ach, peers, pieces, ws=ws, start=start, end=end)
    if write:
        diag.diagnosis_id = store.write_diagnosis(diag)
    return diag


def _assemble(store: Store, res: pd.DataFrame, org: pd.DataFrame, e_fair: np.ndarray, plan_parts: np.ndarray,
              exec_parts: np.ndarray) -> pd.DataFrame:
    """Per-rep fair expectations and driver parts summed up the forecast's hierarchy,
    joined to the forecast's rows, and rounded to cents so every row adds up."""
    from ..forecast.run import entity_order

    frame = pd.DataFrame(np.column_stack([e_fair, plan_parts, exec_parts]),
                         columns=["fair_expected", *[f"planning_{d}" for d in DRIVERS],
                                  *[f"execution_{d}" for d in DRIVERS]])
    ids = {"rep": org["rep_id"], "territory": org["territory_id"], "region": org["region_id"],
           "segment": org["segment_id"], "company": pd.Series(["company"] * len(org))}
    parents = {"rep": org["territory_id"], "territory": org["region_id"], "region": org["segment_id"],
               "segment": pd.Series(["company"] * len(org)), "company": pd.Series([None] * len(org))}
    parts = []
    for level in LEVELS:
        g = frame.groupby(ids[level].astype(str).to_numpy()).sum()
        par = pd.Series(parents[level].to_numpy(), index=ids[level].astype(str).to_numpy())
        g.insert(0, "parent_id", par[~par.index.duplicated()].reindex(g.index).to_numpy())
        g.insert(0, "entity_id", g.index.to_numpy())
        g.insert(0, "level", level)
        parts.append(g.reset_index(drop=True))
    sums = pd.concat(parts, ignore_index=True)
    out = res.merge(sums, on=["level", "entity_id"], how="inner")
    out = out.rename(columns={"mean": "projected_mean"})
    for c, v in split_cents(out).items():
        out[c] = v / 100.0
    names = _names(store)
    out["name"] = [names.get((lv, e), e) for lv, e in zip(out["level"], out["entity_id"], strict=True)]
    # regions and segments by name, reps and territories by id; numbers by value (2 before 10)
    out = out.iloc[entity_order(out["level"].tolist(), out["entity_id"].tolist(), names)]
    cols = ["level", "entity_id", "name", "parent_id", "quota", "plan_expected", "fair_expected", "projected_mean",
            "p10", "p50", "p90", "prob_quota", "closed_won", "stretch", "planning_variance", "execution_variance",
            *[f"{p}_{d}" for p in ("planning", "execution") for d in DRIVERS]]
    return out[cols].reset_index(drop=True)


def _names(store: Store) -> dict[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {("company", "company"): "Company"}
    for level, table, key in (("rep", "rep", "rep_id"), ("territory", "territory", "territory_id"),
                              ("region", "region", "region_id"), ("segment", "segment", "segment_id")):
        t = store.read_table(table)
        if "name" in t:
            names.update({(level, str(i)): str(n) for i, n in zip(t[key], t["name"], strict=True)
                          if pd.notna(n) and str(n).strip()})
    return names


def params_json(diag: Diagnosis) -> str:
    return json.dumps({**diag.params, "notes": diag.notes}, default=str)
