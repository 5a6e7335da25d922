"""A period's attainment projection as of a date, from the store, written back as a forecast run.

Attainment = closed-won so far + open pipeline that closes won inside the
period + pipeline not yet created that is created and won inside the period
(docs/methodology.md §7). The steps:

1. *Org and exposure as known on the as-of date*: reps → territories (largest
   share) → regions → segments → company; available account-years per
   territory from the planning engine (exclusions pro-rated by days).
2. *Calibration* (:class:`~plancast.forecast.calibrate.Calibration`) on what was
   known by the as-of date only.
3. *Open deals*: P(closes won within the days left | stage, age), with the
   rep's own win odds relative to the company (shrunk toward its territory).
4. *New pipeline*: creation rate per available account-year × the rep's share
   of its territory's available accounts over the rest of the period ×
   ∫ P(a new deal closes won within the time left) — a Poisson count of deals
   with the region's deal size.
5. *Shared factor*: a region × quarter logit shift whose sd is fitted from past
   quarters' won amounts against their deals' expectation.
6. *Distribution* (:mod:`plancast.forecast.distribution`): ``fast`` (default) or
   Monte Carlo; roll-ups from joint outcomes, never by adding percentiles.
7. *Plan pacing* beside it: what the plan expected by the as-of date and in all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BadInput, NotFound
from ..planning.build import period_bounds
from ..planning.capacity import PeriodInputs, compute_capacity
from ..store import DEFAULT_PLAN, Store
from .calibrate import Calibration
from .distribution import fast, forecast_inputs, monte_carlo
from .pacing import plan_basis, plan_pacing

LEVELS = ("rep", "territory", "region", "segment", "company")
#: an --as-of this many days after the newest deal event is refused (the export is stale)
STALE_DAYS = 7
#: levels listed by name (the tables show their names); reps and territories are listed by id
NAMED_LEVELS = ("region", "segment", "company")
_DIGITS = re.compile(r"([0-9]+)")


def natural_key(text: object) -> tuple[Any, ...]:
    """A sort key that orders the numbers inside a text by value: ``2 < 10`` and
    ``W2 < W10``; letters case-insensitively; the text itself breaks ties."""
    s = "" if text is None else str(text)
    parts = tuple((0, int(p), "") if p.isdigit() and p.isascii() else (1, 0, p)
                  for p in _DIGITS.split(s.casefold()) if p)
    return parts, s


def entity_order(levels: Sequence[str], ids: Sequence[object],
                 names: Mapping[tuple[str, str], str] | None = None) -> list[int]:
    """Positions that list entities level by level (rep → company), each level in
    natural order: regions and segments by name, reps and territories by id."""
    rank = {lv: i for i, lv in enumerate(LEVELS)}
    names = names or {}

    def key(i: int) -> tuple[Any, ...]:
        lv, e = str(levels[i]), str(ids[i])
        label = names.get((lv, e), e) if lv in NAMED_LEVELS else e
        return rank.get(lv, len(LEVELS)), natural_key(label), natural_key(e)

    return sorted(range(len(ids)), key=key)


def region_names(store: Store) -> dict[tuple[str, str], str]:
    """(level, id) → name for the regions and segments that have one."""
    out: dict[tuple[str, str], str] = {}
    for level, key in (("region", "region_id"), ("segment", "segment_id")):
        t = store.read_table(level)
        if "name" in t:
            out.update({(level, str(i)): str(n) for i, n in zip(t[key], t["name"], strict=True)
                        if pd.notna(n) and str(n).strip()})
    return out


@dataclass
class Projection:
    period: str
    as_of: date
    results: pd.DataFrame
    calibration: Calibration
    sigma: float
    method: str
    run_id: int | None = None
    notes: list[str] = field(default_factory=list)

    def entity(self, level: str, entity_id: str) -> pd.Series:
        r = self.results
        return r[(r["level"] == level) & (r["entity_id"] == entity_id)].iloc[0]


def _org(store: Store, on: date, plan_id: str, known_at: datetime | None) -> pd.DataFrame:
    ra = store.plan_records("rep_assignments", plan_id=plan_id, valid_on=on, known_at=known_at)
    ra = ra.sort_values("share", ascending=False).drop_duplicates("rep_id")
    t = store.read_table("territory").set_index("territory_id")
    org = pd.DataFrame({"rep_id": ra["rep_id"].astype(str).to_numpy(),
                        "territory_id": ra["territory_id"].astype(str).to_numpy(),
                        "share": ra["share"].to_numpy(dtype=float)})
    org["region_id"] = org["territory_id"].map(t["region_id"]).fillna("(no region)").astype(str)
    org["segment_id"] = org["territory_id"].map(t["segment_id"]).fillna("(no segment)").astype(str)
    return org


def _exposure(store: Store, start: date, end: date, plan_id: str, known_at: datetime | None) -> pd.DataFrame:
    """Available account-years per territory over [start, end)."""
    rec = lambda k: store.plan_records(k, plan_id=plan_id, during=(start, end), known_at=known_at)  # noqa: E731
    inp = PeriodInputs(start=start, end=end, territories=store.read_table("territory")[["territory_id"]],
                       assumptions=rec("planning_assumptions"), assignments=rec("territory_assignments"),
                       exclusions=rec("account_exclusions"), rep_assignments=rec("rep_assignments").iloc[:0],
                       reps=store.read_table("rep"))
    t = compute_capacity(inp).territories
    days = (pd.Timestamp(end) - pd.Timestamp(start)).days
    return pd.DataFrame({"territory_id": t["territory_id"].astype(str),
                         "account_years": t["effective_accounts"] * days / 365.0})


def _factor_residuals(cal: Calibration, org: pd.DataFrame, before: date) -> pd.DataFrame:
    """Per (region, quarter) of closed deals before ``before``: won amount vs the company win rate."""
    d = cal.deals_
    d = d[d["closed"].to_numpy() & (d["close_day"].to_numpy() < (pd.Timestamp(before) - pd.Timestamp(0)).days)]
    if not len(d):
        return pd.DataFrame(columns=["region_id", "period", "observed", "predicted"])
    region = d["owner_id"].astype(str).map(org.set_index("rep_id")["region_id"]).fillna("(no region)")
    quarter = pd.to_datetime(d["close_day"].to_numpy().astype("datetime64[D]")).to_period("Q").astype(str)
    w = float(cal.win_rate("company", "company"))
    a = d["amount_asof"].to_numpy(dtype=float)
    # a closed deal without an amount (CRMs that record none for lost deals) counts at the mean known size,
    # so the predicted won amount is not understated and the factor not inflated
    known = np.isfinite(a) & (a > 0)
    a = np.where(known, a, a[known].mean() if known.any() else 0.0)
    f = pd.DataFrame({"region_id": region.to_numpy(), "period": np.asarray(quarter), "a": a, "a2": a * a,
                      "won": np.where(d["won"].to_numpy(), a, 0.0)})
    g = f.groupby(["region_id", "period"], as_index=False).agg(observed=("won", "sum"), s=("a", "sum"),
                                                                s2=("a2", "sum"))
    return pd.DataFrame({"region_id": g["region_id"], "period": g["period"], "observed": g["observed"],
                         "predicted": w * g["s"], "predicted_var": w * (1 - w) * g["s2"], "p_win": w})


def shared_territories(ra: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(reps who cover several territories, the territories they cover) in rep assignments ``ra``: the
    forecast places each rep in its largest-share territory, so those territories' rows mix territories."""
    per_rep = ra.groupby(ra["rep_id"].astype(str))["territory_id"].nunique()
    split = sorted(per_rep.index[per_rep > 1])
    return split, sorted(set(ra.loc[ra["rep_id"].astype(str).isin(split), "territory_id"].astype(str)))


def bounds_with(store: Store, period: str, as_of: date) -> tuple[date, date]:
    """The period's [start, end), refusing an as-of day outside it."""
    start, end = period_bounds(store, period)
    if not start <= as_of < end:
        raise BadInput(f"--as-of {as_of} is outside {period} ({start} – {end}, end exclusive)",
                       hint="give a day inside the period")
    return start, end


def project(
    store: Store,
    period: str,
    as_of: date,
    *,
    plan_id: str = DEFAULT_PLAN,
    known_at: datetime | None = None,
    method: str = "fast",
    sims: int = 10_000,
    seed: int = 2026,
    write: bool = True,
) -> Projection:
    start, end = bounds_with(store, period, as_of)
    if method not in ("fast", "monte_carlo"):
        raise BadInput(f"method {method!r} is not fast or monte_carlo", hint="use --method fast or monte_carlo")
    notes: list[str] = []
    org = _org(store, as_of, plan_id, known_at)
    if not len(org):
        known = f" as known at {known_at:%Y-%m-%d %H:%M}" if known_at else ""
        plans = ", ".join(map(str, store.plans()["plan_id"])) or "none"
        raise NotFound(f"plan {plan_id!r} has no reps assigned on {as_of}{known}",
                       hint=f"plans in the store: {plans}; import reps with their territories, or give a later date")
    ra_on = store.plan_records("rep_assignments", plan_id=plan_id, valid_on=as_of, known_at=known_at)
    split, _ = shared_territories(ra_on)
    if split:
        t_region = store.read_table("territory").set_index("territory_id")["region_id"]
        regions_of = ra_on["territory_id"].map(t_region).groupby(ra_on["rep_id"].astype(str)).nunique()
        across = int((regions_of > 1).sum())
        notes.append(f"{len(split)} rep(s) cover several territories: each counts whole in its "
                     "largest-share territory, so territory rows mix in their other territories' deals; "
                     + (f"{across} of them span regions, so their regions' rows do too" if across else
                        "regions, reps and the company are whole"))
    opps = store.read_table("opportunity")
    # amounts in one currency only: the quotas' (plancast does not convert)
    q_cur = store.plan_records("quotas", plan_id=plan_id, during=(start, end), known_at=known_at)["currency"]
    currency = str(q_cur.mode().iloc[0]).upper() if len(q_cur.dropna()) else "USD"
    deal_cur = opps["currency"].fillna(currency).astype(str).str.upper()
    if (deal_cur != currency).any():
        other = deal_cur[deal_cur != currency].value_counts()
        notes.append(f"{int(other.sum()):,} deal(s) not in {currency} are left out "
                     f"({', '.join(f'{c} {n:,}' for c, n in other.items())}): plancast does not convert currencies")
        opps = opps[(deal_cur == currency).to_numpy()].reset_index(drop=True)
    hist = store.read_table("opportunity_history")
    newest = pd.Series([pd.to_datetime(opps["created_date"]).max(),
                        pd.to_datetime(opps["close_date"].where(opps["is_closed"].fillna(False).astype(bool))).max(),
                        pd.to_datetime(hist["changed_at"]).max()]).max()
    if pd.notna(newest) and pd.Timestamp(as_of) > newest + pd.Timedelta(days=STALE_DAYS):
        raise BadInput(f"--as-of {as_of} is {(pd.Timestamp(as_of) - newest).days} days after the newest deal data in "
                       f"the store ({newest:%Y-%m-%d}): deals created, moved or closed since are not known, so the "
                       "projection would be wrong",
                       hint=f"give an --as-of on or before {newest:%Y-%m-%d}, or import a newer export first")
    stages = store.read_table("stage")[["stage", "is_closed", "is_won"]]
    since = min(pd.to_datetime(opps["created_date"]).min().date(), as_of) if len(opps) else as_of
    exposure = _exposure(store, since, as_of + timedelta(days=1), plan_id, known_at)
    cal = Calibration().fit(opps, hist, as_of=as_of, accounts_available=exposure,
                            org=org[["rep_id", "territory_id", "region_id"]], stages=stages)
    res = _factor_residuals(cal, org, start)
    sigma = 0.0
    if len(res) >= 4:
        cal.fit_factor(res)
        sigma = float(cal.sigma_factor_ or 0.0)
    else:
        notes.append("fewer than 4 past region-quarters: no shared factor fitted (intervals may be too narrow)")

    # hierarchy indices: rep -> territory -> region -> segment -> company
    reps = org.reset_index(drop=True)
    terr = pd.Index(reps["territory_id"].unique())
    t_region = reps.drop_duplicates("territory_id").set_index("territory_id")["region_id"].reindex(terr)
    regions = pd.Index(t_region.unique())
    r_segment = reps.drop_duplicates("region_id").set_index("region_id")["segment_id"].reindex(regions)
    segments = pd.Index(r_segment.unique())
    parents = [terr.get_indexer(reps["territory_id"]), regions.get_indexer(t_region.to_numpy()),
               segments.get_indexer(r_segment.to_numpy()), np.zeros(len(segments), dtype=np.int64)]
    rep_index = pd.Index(reps["rep_id"])
    as_day = (pd.Timestamp(as_of) - pd.Timestamp(0)).days
    start_day = (pd.Timestamp(start) - pd.Timestamp(0)).days
    window = (pd.Timestamp(end) - pd.Timestamp(as_of)).days - 1  # closes on the days after as_of

    # closed-won so far in the period
    d = cal.deals_
    won = d[d["won"].to_numpy() & (d["close_day"].to_numpy() >= start_day) & (d["close_day"].to_numpy() <= as_day)]
    closed = won.groupby(won["owner_id"].astype(str))["amount_asof"].sum().reindex(rep_index).fillna(0.0)
    lost_owner = set(won["owner_id"].astype(str)) - set(rep_index)
    if lost_owner:
        notes.append(f"closed-won deals of {len(lost_owner)} owner(s) not on the plan on {as_of} are left out")

    # open deals on as_of, with the rep's odds relative to the company
    snaps = cal.snapshots_
    now = snaps[snaps["snapshot_day"].to_numpy() == as_day]
    owner = d["owner_id"].astype(str).to_numpy()[now["deal"].to_numpy()]
    keep = rep_index.get_indexer(owner) >= 0
    now = now[keep]
    owner = owner[keep]
    p_base = np.asarray(cal.p_win_within_age(now["stage"].to_numpy(), now["age_days"].to_numpy(), window),
                        dtype=float)
    # clipped: a history without a single lost (or won) deal must not give infinite odds
    company_w = float(np.clip(cal.win_rate("company", "company"), 1e-6, 1 - 1e-6))
    rep_w = np.clip(np.asarray(cal.win_rate("rep", owner), dtype=float), 1e-6, 1 - 1e-6)
    odds = p_base / np.clip(1 - p_base, 1e-12, None) * (rep_w / (1 - rep_w)) / (company_w / (1 - company_w))
    p = np.where(p_base <= 0, 0.0, np.where(p_base >= 1, 1.0, odds / (1 + odds)))
    amount = d["amount_asof"].to_numpy(dtype=float)[now["deal"].to_numpy()]
    rep_of_deal = rep_index.get_indexer(owner)
    rep_region = regions.get_indexer(reps["region_id"])
    sizes = cal.deal_size_.set_index(["level", "group"])
    c_mean, c_sd = float(sizes.loc[("company", "company"), "mean"]), float(sizes.loc[("company", "company"), "sd"])
    region_mean = sizes["mean"].reindex(pd.MultiIndex.from_arrays([np.full(len(regions), "region"), regions]))
    region_mean = region_mean.fillna(c_mean).to_numpy(dtype=float)
    # an open deal without an amount (many CRMs fill it in at close) is worth a won deal of its region
    blank = ~(np.isfinite(amount) & (amount > 0))
    if blank.any():
        amount = np.where(blank, region_mean[rep_region[rep_of_deal]], amount)
        notes.append(f"{int(blank.sum()):,} open deals without an amount are valued at their region's mean won "
                     f"deal size")
    ok = np.isfinite(amount) & (amount > 0)
    deals = pd.DataFrame({"rep": rep_of_deal[ok], "amount": amount[ok], "p": p[ok],
                          "group": rep_region[rep_of_deal[ok]]})

    # new pipeline: created and won before the period ends
    rest = _exposure(store, as_of + timedelta(days=1), end, plan_id, known_at).set_index("territory_id")
    rest_days = max((pd.Timestamp(end) - pd.Timestamp(as_of)).days - 1, 0)
    avail = rest["account_years"].reindex(reps["territory_id"]).fillna(0.0).to_numpy() * 365.0 / max(rest_days, 1)
    rate = np.asarray(cal.creation_rate("territory", reps["territory_id"].to_numpy()), dtype=float)
    rep_rate = np.asarray(cal.win_rate("rep", reps["rep_id"].to_numpy()), dtype=float)
    u = np.arange(rest_days)
    pnew = np.asarray(cal.p_new_win_within(np.maximum(window - u, 0)[None, :], win_rate=rep_rate[:, None]),
                      dtype=float)
    lam = rate * avail * reps["share"].to_numpy() * pnew.sum(axis=1) / 365.0
    size_mean = sizes["mean"].reindex(pd.MultiIndex.from_arrays([np.full(len(reps), "region"), reps["region_id"]]))
    size_sd = sizes["sd"].reindex(pd.MultiIndex.from_arrays([np.full(len(reps), "region"), reps["region_id"]]))
    rep_frame = pd.DataFrame({"lam": lam, "size_mean": size_mean.fillna(c_mean).to_numpy(),
                              "size_sd": size_sd.fillna(c_sd).fillna(0.0).to_numpy(), "closed": closed.to_numpy(),
                              "group": rep_region})

    # quotas of the period, time-weighted over the records in force in it
    q = store.plan_records("quotas", plan_id=plan_id, during=(start, end), known_at=known_at)
    q = q[q["period"] == period]
    days = (pd.Timestamp(end) - pd.Timestamp(start)).days
    q_from = q["valid_from"].clip(lower=pd.Timestamp(start))
    q_to = q["valid_to"].fillna(pd.Timestamp(end)).clip(upper=pd.Timestamp(end))
    q = q.assign(w=(q_to - q_from).dt.days / days)
    q_amt = (q["amount"] * q["w"]).groupby([q["entity_type"], q["entity_id"].astype(str)]).sum()
    ids = {"rep": rep_index, "territory": terr, "region": regions, "segment": segments,
           "company": pd.Index(["company"])}

    def quota_of(level: str) -> np.ndarray:
        s = q_amt[level] if level in q_amt.index.get_level_values(0) else pd.Series(dtype=float)
        return s.reindex(ids[level]).to_numpy(dtype=float)

    quota = {lvl: quota_of(lvl) for lvl in LEVELS}
    if not len(q):
        notes.append(f"plan {plan_id!r} has no quotas for {period}: the projection is in amounts only, with no "
                     f"attainment or P(quota) (set quotas: plancast plan build --period {period}, or plancast import "
                     "quotas FILE)")
    # levels without their own quota records: the sum of the reps' quotas below them
    rep_q = np.nan_to_num(quota["rep"])
    rolled = [rep_q]
    for k, par in enumerate(parents):
        rolled.append(np.bincount(par, weights=rolled[-1], minlength=len(ids[LEVELS[k + 1]])))
    for k, lvl in enumerate(LEVELS[1:], start=1):
        quota[lvl] = np.where(np.isnan(quota[lvl]), rolled[k], quota[lvl])

    inputs = forecast_inputs(deals, rep_frame, parents, sigma=sigma, levels=LEVELS,
                             quota=[quota[lvl] for lvl in LEVELS])
    if method == "fast":
        frame = fast(inputs, seed=seed)
    else:
        frame = monte_carlo(inputs, sims=sims, rng=np.random.default_rng(seed))

    # ids, closed so far and plan pacing beside the projection
    frame = frame.copy()
    frame["level"] = frame["level"].astype(str)
    frame["entity_id"] = [str(ids[lv][e]) for lv, e in zip(frame["level"], frame["entity"], strict=True)]
    closed_by = [rolled_closed := closed.to_numpy()]
    for k, par in enumerate(parents):
        rolled_closed = np.bincount(par, weights=rolled_closed, minlength=len(ids[LEVELS[k + 1]]))
        closed_by.append(rolled_closed)
    asm = plan_basis(store, period, start, end, plan_id=plan_id, known_at=known_at)
    ra_all = store.plan_records("rep_assignments", plan_id=plan_id, during=(start, end), known_at=known_at)
    _, pace = plan_pacing(asm, ra_all, start, end, as_of)
    pace_rep = pace.groupby("rep_id")[["plan_expected_to_date", "plan_expected"]].sum().reindex(rep_index).fillna(0)
    pace_by = [pace_rep.to_numpy()]
    for k, par in enumerate(parents):
        prev = pace_by[-1]
        pace_by.append(np.stack([np.bincount(par, weights=prev[:, j], minlength=len(ids[LEVELS[k + 1]]))
                                 for j in range(2)], axis=1))
    lvl_k = frame["level"].map({lv: i for i, lv in enumerate(LEVELS)}).to_numpy()
    ent = frame["entity"].to_numpy()
    frame["closed_won"] = [closed_by[k][e] for k, e in zip(lvl_k, ent, strict=True)]
    # what is won stays won: no percentile below it (a normal or Cornish–Fisher tail can dip under it when one
    # huge deal dominates)
    for c in ("p10", "p50", "p90"):
        frame[c] = np.maximum(frame[c].to_numpy(dtype=float), frame["closed_won"].to_numpy(dtype=float))
    frame["plan_expected_to_date"] = [pace_by[k][e, 0] for k, e in zip(lvl_k, ent, strict=True)]
    frame["plan_expected"] = [pace_by[k][e, 1] for k, e in zip(lvl_k, ent, strict=True)]
    # no quota, no chance of reaching it to speak of
    frame["p_reach"] = frame["p_reach"].where(frame["quota"].to_numpy(dtype=float) > 0)
    results = frame.rename(columns={"p_reach": "prob_quota"})[
        ["level", "entity_id", "quota", "closed_won", "mean", "p10", "p50", "p90", "prob_quota",
         "plan_expected_to_date", "plan_expected"]]
    # listed as `plancast diagnose` lists them: regions by name, reps and territories by id, naturally
    order = entity_order(results["level"].tolist(), results["entity_id"].tolist(), region_names(store))
    results = results.iloc[order].reset_index(drop=True)
    proj = Projection(period=period, as_of=as_of, results=results, calibration=cal, sigma=sigma, method=method,
                      notes=notes)
    if write:
        params = {"sigma_factor": sigma, "window_days": window, "open_deals": int(len(deals)),
                  "calibration": cal.to_dict()}
        proj.run_id = store.write_forecast(
            {"as_of": as_of, "period": period, "method": method, "simulations": sims if method != "fast" else None,
             "seed": seed, "plan_id": plan_id, "known_at": known_at, "params": json.dumps(params, default=str)},
            results)
    return proj
