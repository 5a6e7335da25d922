"""Capacity signals and execution flags, each raised only when statistically significant.

Capacity signals (is the territory as big as the plan assumed?) and execution
flags (is the rep doing what its peers do on such a territory?) are kept apart
by their ``kind``. Every statistical flag names its exact test, carries its
evidence and is raised when its Benjamini–Hochberg adjusted p-value (over all
entities tested for the same signal) is below ``ALPHA``, so a large org does not
flag reps by chance (docs/methodology.md §10).

* ``territory_sizing`` (capacity): the plan check's deterministic finding —
  effective accounts below the planned accounts.
* ``opportunity_rate`` (capacity): opportunities created per available
  account-year over the trailing window vs the planned rate; two-sided exact
  Poisson test, with the exact (Garwood) 95 % interval of the rate.
* ``pipeline_coverage`` (capacity): open deals on the as-of date vs the count the
  planned coverage ratio needs (coverage × the quota still to close in the next
  quarter ÷ planned ASP);
  one-sided exact Poisson test.
* ``deal_aging`` (capacity): open deals older than the cycle assumption vs the
  share a steady flow of deals with the window's real cycle lengths would show,
  ``E[(D − c)+] / E[D]``; one-sided exact binomial test.
* ``win_rate_below_peers`` / ``opportunity_rate_below_peers`` (execution): the
  rep's won / closed deals vs the median peer's win rate (exact binomial), the
  rep's created deals vs the median peer's rate × its exposure (exact Poisson).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..planning.capacity import PeriodInputs
from .labels import entity_label, relabel

if TYPE_CHECKING:
    from ..store import Store
    from .run import Diagnosis

__all__ = ["ALPHA", "signals"]

#: the false-discovery rate at which a signal is raised
ALPHA = 0.05


def _bh(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    out = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out


def _poisson_two_sided(k: np.ndarray, mu: np.ndarray) -> np.ndarray:
    lo = stats.poisson.cdf(k, mu)
    hi = stats.poisson.sf(k - 1, mu)
    return np.minimum(1.0, 2 * np.minimum(lo, hi))


def _garwood(k: np.ndarray, exposure: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    a = (1 - level) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, stats.chi2.ppf(a, 2 * k) / 2, 0.0) / exposure
        hi = stats.chi2.ppf(1 - a, 2 * k + 2) / 2 / exposure
    return lo, hi


def _excess_share(dur: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``E[(D − c)+] / E[D]`` for each cycle *c*: the share of a steady flow's open deals
    older than *c* when deals last ``dur`` days (sorted sums, no loop)."""
    d = np.sort(dur)
    tail = np.concatenate([np.cumsum(d[::-1])[::-1], [0.0]])  # sum of d[i:]
    i = np.searchsorted(d, c, side="right")
    return (tail[i] - c * (len(d) - i)) / d.sum()


def _severity(p: float) -> str:
    return "high" if p < 0.001 else "medium"


def _flag(kind: str, code: str, level: str, entity: str, message: str, test: str | None, p: float | None,
          evidence: dict[str, Any]) -> dict[str, Any]:
    ev = {k: (round(float(v), 4) if isinstance(v, float | np.floating) else v) for k, v in evidence.items()}
    return {"kind": kind, "code": code, "severity": "high" if p is None else _severity(p), "level": level,
            "entity": entity, "message": message, "test": test,
            "p_value": None if p is None else float(p), "evidence": ev}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def signals(store: Store, diag: Diagnosis, inp: PeriodInputs, ach: pd.DataFrame, peers: pd.DataFrame,
            pieces: pd.DataFrame, *, ws: date, start: date, end: date) -> list[dict[str, Any]]:
    """Every signal raised; each message is led by its entity's kind, name and id
    (``territory US-WEST CA (2): …``, ``rep W03: …``), and each signal's flags are listed in
    the natural order of their entities' ids (2 before 10)."""
    from ..forecast.run import natural_key
    from .run import _names

    names = _names(store)
    flags: list[dict[str, Any]] = []
    flags += _sizing(store, diag, inp, names)
    rates = diag.rates
    terr = rates.assign(created=rates["created"], exposure=rates["exposure_account_years"]).groupby("territory_id")[
        ["created", "exposure"]].sum()
    plan = pieces.groupby("territory_id")[["r", "w", "s", "cycle_days"]].mean()
    terr = terr.join(plan, how="left")
    # territories whose reps also cover others: their reps' deals are not theirs alone (see diagnose)
    terr = terr[~terr.index.astype(str).isin(diag.params.get("mixed_territories", []))]
    flags += _opportunity_rate(terr, ws, diag.as_of, names)
    opp = store.read_table("opportunity")
    flags += _coverage_and_aging(diag, inp, opp, terr, end, names)
    flags += _execution(rates, names)
    codes = list(dict.fromkeys(f["code"] for f in flags))  # each signal where it was raised
    return sorted(flags, key=lambda f: (codes.index(f["code"]), natural_key(f["entity"])))


def _sizing(store: Store, diag: Diagnosis, inp: PeriodInputs,
            names: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    """The plan check's sizing flags — for territories whose plan still expects more
    accounts than are available (a plan rebuilt on effective capacity has no gap)."""
    from ..planning.build import build_plan
    from ..planning.checks import check_plan

    build = build_plan(store, diag.period, plan_id=diag.plan_id, known_at=diag.known_at, write=False)
    expects = pd.to_numeric(inp.assumptions["planned_accounts"], errors="coerce").groupby(
        inp.assumptions["territory_id"].astype(str)).mean()
    out = []
    for f in check_plan(build, current_quotas=store.plan_records("quotas", plan_id=diag.plan_id,
                                                                  known_at=diag.known_at)):
        effective = float((f.get("evidence") or {}).get("effective_accounts", np.nan))
        if f.get("kind") == "territory_sizing" and not expects.get(str(f.get("entity")), np.inf) <= effective + 0.5:
            tid = str(f.get("entity"))
            flag = _flag("capacity", "territory_sizing", "territory", tid,
                         relabel(str(f.get("message")), "territory", tid, names),
                         "capacity model (deterministic)", None, dict(f.get("evidence") or {}))
            flag["severity"] = str(f.get("severity") or flag["severity"])
            out.append(flag)
    return out


def _opportunity_rate(terr: pd.DataFrame, ws: date, as_of: date,
                      names: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    t = terr[(terr["exposure"] > 0) & terr["r"].notna()]
    if not len(t):
        return []
    k, e, r = t["created"].to_numpy(), t["exposure"].to_numpy(), t["r"].to_numpy()
    p = _poisson_two_sided(k, r * e)
    adj = _bh(p)
    lo, hi = _garwood(k, e)
    out = []
    for i in np.flatnonzero(adj < ALPHA):
        obs = k[i] / e[i]
        direction = "below" if obs < r[i] else "above"
        who = entity_label("territory", t.index[i], names)
        out.append(_flag(
            "capacity", "opportunity_rate", "territory", str(t.index[i]),
            f"{who}: {obs:.2f} opportunities per available account-year from {ws} to {as_of}, "
            f"{direction} the planned {r[i]:.2f} (95% interval {lo[i]:.2f}–{hi[i]:.2f})",
            "exact Poisson test, two-sided; Garwood 95% interval; Benjamini-Hochberg", float(adj[i]),
            {"created": int(k[i]), "account_years": e[i], "observed_rate": obs, "planned_rate": r[i],
             "ci_low": lo[i], "ci_high": hi[i], "p_raw": p[i]}))
    return out


def _coverage_and_aging(diag: Diagnosis, inp: PeriodInputs, opp: pd.DataFrame, terr: pd.DataFrame, end: date,
                        names: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    as_of = pd.Timestamp(diag.as_of)
    created = pd.to_datetime(opp["created_date"])
    close = pd.to_datetime(opp["close_date"])
    closed_by = opp["is_closed"].fillna(False).astype(bool) & (close <= as_of)
    open_ = (created <= as_of) & ~closed_by
    rep_terr = diag.rates.set_index("rep_id")["territory_id"]
    o = pd.DataFrame({"territory_id": opp["owner_id"].astype(str).map(rep_terr),
                      "amount": pd.to_numeric(opp["amount"], errors="coerce").fillna(0.0),
                      "age": (as_of - created).dt.days})[open_.to_numpy()].dropna(subset=["territory_id"])
    # the window's real cycle lengths: share of a steady flow's open deals older than c
    done = closed_by & (created >= as_of - pd.Timedelta(days=int(diag.params["window_days"])))
    dur = (close - created).dt.days[done].to_numpy(dtype=float)
    out: list[dict[str, Any]] = []
    rows = diag.rows[diag.rows["level"] == "territory"].set_index("entity_id")
    asm = inp.assumptions
    cov_ratio = pd.to_numeric(asm["coverage_ratio"], errors="coerce").groupby(asm["territory_id"].astype(str)).mean()
    g = o.groupby("territory_id").agg(n=("amount", "size"), amount=("amount", "sum"))
    # pipeline coverage
    t = terr.join(g, how="left").fillna({"n": 0, "amount": 0.0})
    t["coverage_ratio"] = cov_ratio.reindex(t.index)
    # the coverage ratio is pipeline for a quarter's quota: over a longer rest of the period, the next quarter's share
    days_left = max((pd.Timestamp(end) - as_of).days - 1, 1)
    t["remaining"] = (rows["quota"] - rows["closed_won"]).reindex(t.index).clip(lower=0) * min(
        1.0, (365.0 / 4) / days_left)
    t = t[t["coverage_ratio"].notna() & (t["remaining"] > 0) & (t["s"] > 0)]
    if len(t):
        mu = (t["coverage_ratio"] * t["remaining"] / t["s"]).to_numpy()
        n = t["n"].to_numpy()
        p = stats.poisson.cdf(n, mu)
        adj = _bh(p)
        for i in np.flatnonzero(adj < ALPHA):
            tid = t.index[i]
            need = t["coverage_ratio"].iloc[i] * t["remaining"].iloc[i]
            who = entity_label("territory", tid, names)
            out.append(_flag(
                "capacity", "pipeline_coverage", "territory", str(tid),
                f"{who}: {int(n[i])} open deals (${t['amount'].iloc[i]:,.0f}) against the about {mu[i]:.0f} "
                f"(${need:,.0f}) that {t['coverage_ratio'].iloc[i]:.2f}× coverage of the "
                f"${t['remaining'].iloc[i]:,.0f} of quota to close in the next quarter needs",
                "exact Poisson test, one-sided (fewer); Benjamini-Hochberg", float(adj[i]),
                {"open_deals": int(n[i]), "expected_deals": mu[i], "open_pipeline": float(t["amount"].iloc[i]),
                 "needed_pipeline": float(need), "coverage_ratio": float(t["coverage_ratio"].iloc[i]),
                 "p_raw": p[i]}))
    # aging past the cycle assumption
    if len(dur) >= 10 and dur.mean() > 0:
        t = terr[terr["cycle_days"].notna()]
        cyc = t["cycle_days"].to_numpy()
        p0 = np.clip(_excess_share(dur, cyc), 1e-9, 1 - 1e-9)
        old = o.assign(c=o["territory_id"].map(t["cycle_days"]))
        old = old[old["c"].notna()]
        k = (old["age"] > old["c"]).groupby(old["territory_id"]).sum().reindex(t.index).fillna(0).to_numpy(int)
        n = old.groupby("territory_id").size().reindex(t.index).fillna(0).to_numpy(int)
        p = np.where(n > 0, stats.binom.sf(k - 1, n, p0), np.nan)  # P(X >= k)
        adj = _bh(p)
        for i in np.flatnonzero(adj < ALPHA):
            tid = t.index[i]
            who = entity_label("territory", tid, names)
            out.append(_flag(
                "capacity", "deal_aging", "territory", str(tid),
                f"{who}: {k[i]} of {n[i]} open deals ({_pct(k[i] / n[i])}) are older than the {cyc[i]:.0f}-day cycle "
                f"assumption; deals closing at the window's pace would leave about {_pct(p0[i])}",
                "exact binomial test, one-sided (more); Benjamini-Hochberg", float(adj[i]),
                {"old_deals": int(k[i]), "open_deals": int(n[i]), "expected_share": p0[i], "cycle_days": cyc[i],
                 "p_raw": p[i]}))
    return out


def _execution(rates: pd.DataFrame, names: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    r = rates
    ok = (r["closed"] > 0) & r["fair_win_rate"].between(0, 1, inclusive="neither")
    if ok.any():
        sub = r[ok]
        p = stats.binom.cdf(sub["won"].to_numpy(), sub["closed"].to_numpy(), sub["fair_win_rate"].to_numpy())
        adj = _bh(p)
        for i in np.flatnonzero(adj < ALPHA):
            x = sub.iloc[i]
            who = entity_label("rep", x["rep_id"], names)
            out.append(_flag(
                "execution", "win_rate_below_peers", "rep", str(x["rep_id"]),
                f"{who}: won {int(x['won'])} of {int(x['closed'])} closed deals ({_pct(x['won'] / x['closed'])}) "
                f"vs {_pct(x['fair_win_rate'])} for the median of {int(x['peers'])} peers",
                "exact binomial test, one-sided (fewer); Benjamini-Hochberg", float(adj[i]),
                {"won": int(x["won"]), "closed": int(x["closed"]), "peer_win_rate": float(x["fair_win_rate"]),
                 "p_raw": p[i]}))
    ok = (r["exposure_account_years"] > 0) & (r["fair_opp_rate"] > 0)
    if ok.any():
        sub = r[ok]
        mu = (sub["fair_opp_rate"] * sub["exposure_account_years"]).to_numpy()
        p = stats.poisson.cdf(sub["created"].to_numpy(), mu)
        adj = _bh(p)
        for i in np.flatnonzero(adj < ALPHA):
            x = sub.iloc[i]
            who = entity_label("rep", x["rep_id"], names)
            out.append(_flag(
                "execution", "opportunity_rate_below_peers", "rep", str(x["rep_id"]),
                f"{who}: created {int(x['created'])} opportunities on "
                f"{x['exposure_account_years']:.1f} available account-years vs about {mu[i]:.0f} at the median "
                f"peer's rate ({x['fair_opp_rate']:.2f} per account-year)",
                "exact Poisson test, one-sided (fewer); Benjamini-Hochberg", float(adj[i]),
                {"created": int(x["created"]), "expected": mu[i], "peer_rate": float(x["fair_opp_rate"]),
                 "p_raw": p[i]}))
    return out
