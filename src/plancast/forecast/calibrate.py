"""Calibrate the forecast's rates from CRM history as it was known on a date.

``Calibration().fit(opportunities, history, as_of=...)`` estimates, from what
the CRM held on ``as_of`` (nothing later is read), every rate the forecast
needs (docs/methodology.md, "Forecast calibration"):

Snapshots
    Every ``snapshot_days`` back from ``as_of`` (``d = as_of − k·snapshot_days``),
    each deal open on *d* (created ≤ d < close) gives one row: its stage on *d*
    (the last history row on or before *d*; without history the stage is
    ``"open"``), its age (days since created) and its outcome as known on
    ``as_of``: closed won, closed lost, or still open (right-censored after
    ``as_of − d`` days).
Win in a window (``p_win_within``)
    P(the deal closes won within *w* days of the snapshot | stage, age bucket),
    for every *w* in 0..``max_window_days``: the Aalen–Johansen cumulative
    incidence of "won" with "lost" as the competing event. With ``R(u)`` the
    snapshots still open and still observed ``u`` days after their date,
    ``W(u)``/``L(u)`` those closing won/lost on day *u* and ``S`` the
    Kaplan–Meier probability of still being open,
    ``P_won(w) = Σ_{u ≤ w} S(u − 1) · W(u) / R(u)``, ``S(u) = Π_{v ≤ u} (1 − (W(v) + L(v)) / R(v))``.
    A snapshot counts only for the days it was observed (``d + u ≤ as_of``);
    when every snapshot is observed for *w* days this is the plain share won
    within *w*. It is non-decreasing in *w* and in [0, 1] by construction. Age
    buckets are relative to the median time to close *m*: ``young`` (age <
    0.5 m), ``mid`` and ``old`` (age > 1.5 m); a bucket with fewer than
    ``min_deals`` distinct deals is merged with its neighbour, and a group
    with fewer in all falls back to the curve of all snapshots.
New deals (``p_new_win_within``)
    The same estimator from the creation date of every deal created since
    ``since``: P(won within *w* days of creation) = win rate × the
    time-to-close distribution of won deals, censoring handled.
Win rate, creation rate, deal size, with empirical-Bayes shrinkage
    Per group along ``hierarchy`` (rep → territory → region → company), each
    group's estimate is pulled toward its parent's by a prior whose strength is
    fitted by the method of moments from the spread between groups
    (beta-binomial for win rates, gamma-Poisson for creation rates per
    available account-year, normal-normal for mean deal size).
Shared factor (``fit_factor``)
    The standard deviation of a (region, period) logit-scale shift of win
    probabilities, by maximum likelihood from observed vs predicted won amounts.

The estimator contract (STYLE.md 4): ``fit`` returns ``self``, fitted state
ends in ``_``, ``summary()`` is a tidy frame, ``to_dict()`` is JSON-able and one
``_check_inputs`` validates. Everything is vectorised over deals and snapshots;
Python loops run over levels and groups only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BadInput

__all__ = ["AGE_BUCKETS", "POOLED", "Calibration"]

#: age bucket labels, youngest first
AGE_BUCKETS: tuple[str, ...] = ("young", "mid", "old")
#: the cell every unknown or too-small group falls back to: all snapshots
POOLED = "*"
_OPEN = "open"  # the stage of a deal without history
_SEP, _BSEP = "\x1f", "\x1e"
_REQUIRED_OPP = ("opportunity_id", "owner_id", "amount", "created_date", "close_date", "is_closed", "is_won")
_REQUIRED_HIST = ("opportunity_id", "changed_at", "stage")
_REQUIRED_RESID = ("region_id", "period", "observed", "predicted")


# --------------------------------------------------------------------------- small helpers
def _as_day(value: Any, what: str) -> int:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as e:
        raise BadInput(f"{what} must be a date (YYYY-MM-DD), got {value!r}") from e
    if ts is pd.NaT or pd.isna(ts):
        raise BadInput(f"{what} must be a date (YYYY-MM-DD), got {value!r}")
    return int(np.datetime64(ts.normalize().date(), "D").astype(np.int64))


def _days(values: pd.Series) -> np.ndarray:
    """Dates -> day numbers since 1970-01-01 as float (NaN for blanks)."""
    ts = pd.to_datetime(values, errors="coerce")
    out = ts.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64).astype(float)
    out[ts.isna().to_numpy()] = np.nan
    return out


def _iso(day: float | int | None) -> str | None:
    if day is None or (isinstance(day, float) and math.isnan(day)):
        return None
    return str(np.datetime64(int(day), "D"))


def _bool(values: pd.Series) -> np.ndarray:
    return values.astype("boolean").fillna(False).to_numpy(dtype=bool)


def _ids(values: pd.Series) -> np.ndarray:
    """Ids as an object array of str, blanks as '(none)'."""
    s = values.astype(object)
    return np.where(pd.isna(s).to_numpy(), "(none)", s.astype(str).to_numpy(dtype=object)).astype(object)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return None if not math.isfinite(v) else round(v, 10)
    if isinstance(x, (pd.Timestamp, date)):
        return x.isoformat()[:10]
    if x is None or isinstance(x, str):
        return x
    if pd.isna(x):
        return None
    return str(x)


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    if frame is None:
        return None
    return [_jsonable(r) for r in frame.to_dict(orient="records")]


# --------------------------------------------------------------------------- cumulative incidence
def _cumulative_incidence(
    group: np.ndarray, time: np.ndarray, event: np.ndarray, n_groups: int, max_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aalen–Johansen cumulative incidence of won (event 1) and lost (event 2), per group.

    ``time`` is whole days to the event, or to the last day observed when
    ``event`` is 0 (censored). Returns ``(won, lost, at_risk)``, each
    ``(n_groups, max_days + 1)``: column *w* is the value at *w* days.
    """
    width = max_days + 2  # the last column collects everything beyond max_days (censored there)
    t = np.minimum(np.asarray(time, dtype=np.int64), max_days + 1)
    ev = np.where(np.asarray(time) > max_days, 0, event)
    flat = np.asarray(group, dtype=np.int64) * width + t
    size = n_groups * width
    exits = np.bincount(flat, minlength=size).reshape(n_groups, width)
    won = np.bincount(flat[ev == 1], minlength=size).reshape(n_groups, width)[:, : max_days + 1]
    lost = np.bincount(flat[ev == 2], minlength=size).reshape(n_groups, width)[:, : max_days + 1]
    at_risk = np.cumsum(exits[:, ::-1], axis=1)[:, ::-1][:, : max_days + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        h_won = np.where(at_risk > 0, won / np.maximum(at_risk, 1), 0.0)
        h_lost = np.where(at_risk > 0, lost / np.maximum(at_risk, 1), 0.0)
    surv = np.cumprod(1.0 - h_won - h_lost, axis=1)
    before = np.concatenate([np.ones((n_groups, 1)), surv[:, :-1]], axis=1)
    cif_won = np.clip(np.cumsum(before * h_won, axis=1), 0.0, 1.0)
    cif_lost = np.clip(np.cumsum(before * h_lost, axis=1), 0.0, 1.0)
    # guard against rounding: non-decreasing exactly
    return np.maximum.accumulate(cif_won, axis=1), np.maximum.accumulate(cif_lost, axis=1), at_risk


def _moments_from_cdf(cdf: np.ndarray) -> tuple[float, float, float]:
    """Mean, variance and median of a distribution on 0..W days given its CDF there."""
    if cdf[-1] <= 0:
        return math.nan, math.nan, math.nan
    f = cdf / cdf[-1]
    tail = 1.0 - f[:-1]  # P(T > u), u = 0..W-1
    u = np.arange(len(tail))
    mean = float(tail.sum())
    var = float(((2 * u + 1) * tail).sum() - mean**2)
    median = float(np.argmax(f >= 0.5))
    return mean, max(var, 0.0), median


# --------------------------------------------------------------------------- empirical Bayes
def _rho_binomial(k: np.ndarray, n: np.ndarray, parent: np.ndarray) -> float:
    """Method-of-moments intra-class correlation ρ = 1/(κ + 1) of a beta-binomial.

    Per parent *p* with children *i*: ``E[Σ n_i (y_i − μ_p)² / V_p] = (G_p − 1) +
    ρ (N_p − G_p + 1 − Σ n_i² / N_p)``, μ_p = Σk/Σn, V_p = μ_p(1 − μ_p);
    summed over parents and solved for ρ. NaN when no parent has two children.
    """
    keep = n > 0
    k, n, parent = k[keep], n[keep], parent[keep]
    if len(n) == 0:
        return math.nan
    m = int(parent.max()) + 1
    big_n = np.bincount(parent, n, minlength=m)
    mu = np.bincount(parent, k, minlength=m) / np.maximum(big_n, 1e-300)
    g = np.bincount(parent, minlength=m)
    v = mu * (1 - mu)
    ss = np.bincount(parent, n * (k / n - mu[parent]) ** 2, minlength=m)
    s2 = np.bincount(parent, n**2, minlength=m)
    ok = (g >= 2) & (v > 0)
    if not ok.any():
        return math.nan
    num = float(np.sum(ss[ok] / v[ok] - (g[ok] - 1)))
    den = float(np.sum(big_n[ok] - g[ok] + 1 - s2[ok] / big_n[ok]))
    return num / den if den > 0 else math.nan


def _inv_shape_poisson(c: np.ndarray, e: np.ndarray, parent: np.ndarray) -> float:
    """Method-of-moments ``1/α`` of a gamma-Poisson (squared CV of the group rates).

    Per parent: ``E[Σ e_i (y_i − λ_p)²] = (G_p − 1) λ_p + (λ_p² / α)(E_p − Σ e_i² / E_p)``,
    y_i = c_i / e_i, λ_p = Σc/Σe; summed over parents and solved for 1/α.
    """
    keep = e > 0
    c, e, parent = c[keep], e[keep], parent[keep]
    if len(e) == 0:
        return math.nan
    m = int(parent.max()) + 1
    big_e = np.bincount(parent, e, minlength=m)
    lam = np.bincount(parent, c, minlength=m) / np.maximum(big_e, 1e-300)
    g = np.bincount(parent, minlength=m)
    ss = np.bincount(parent, e * (c / e - lam[parent]) ** 2, minlength=m)
    s2 = np.bincount(parent, e**2, minlength=m)
    ok = (g >= 2) & (lam > 0)
    if not ok.any():
        return math.nan
    num = float(np.sum(ss[ok] - (g[ok] - 1) * lam[ok]))
    den = float(np.sum(lam[ok] ** 2 * (big_e[ok] - s2[ok] / big_e[ok])))
    return num / den if den > 0 else math.nan


def _shrink_tree(
    units: pd.DataFrame, levels: list[tuple[str, str]], kind: str, shrink: bool
) -> tuple[pd.DataFrame, dict[str, float | None]]:
    """Shrink a rate down the hierarchy, coarse to fine.

    ``units`` has one row per unit with the level id columns and ``num`` (wins,
    creations) and ``den`` (closed deals, account-years); ``levels`` is
    ``[(level name, column), ...]`` coarse → fine (company excluded). ``kind`` is
    ``"binomial"`` (beta-binomial, prior strength κ in pseudo-deals:
    ``(k + κ m) / (n + κ)``) or ``"poisson"`` (gamma prior with shape α and the
    parent's mean *m*: ``(c + α) / (e + α / m)``). Returns the table (level,
    group, parent, n, events, raw, estimate, weight) and the fitted strength
    per level (None = infinite: complete pooling).
    """
    tot_num, tot_den = float(units["num"].sum()), float(units["den"].sum())
    company = tot_num / tot_den if tot_den > 0 else math.nan
    rows = [
        pd.DataFrame(
            {
                "level": ["company"],
                "group": ["company"],
                "parent": [None],
                "n": [tot_den],
                "events": [tot_num],
                "raw": [company],
                "estimate": [company],
                "weight": [1.0],
            }
        )
    ]
    strengths: dict[str, float | None] = {}
    units = units.assign(_company="company")
    prev_cols = ["_company"]
    prev = pd.DataFrame({"_company": ["company"], "estimate": [company]})
    for name, col in levels:
        cols = [*prev_cols, col]
        g = units.groupby(cols, sort=True, as_index=False, dropna=False)[["num", "den"]].sum()
        g = g.merge(prev[[*prev_cols, "estimate"]].rename(columns={"estimate": "_m"}), on=prev_cols, how="left")
        parent_code = g.groupby(prev_cols, sort=False, dropna=False).ngroup().to_numpy()
        num, den, m = g["num"].to_numpy(float), g["den"].to_numpy(float), g["_m"].to_numpy(float)
        if kind == "binomial":
            rho = _rho_binomial(num, den, parent_code)
            strength = math.inf if not (rho > 0) else (0.0 if rho >= 1 else 1.0 / rho - 1.0)
        else:
            inv = _inv_shape_poisson(num, den, parent_code)
            strength = math.inf if not (inv > 0) else 1.0 / inv
        if not shrink:
            strength = 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
            if math.isinf(strength):
                est, weight = m.copy(), np.zeros_like(m)
            elif kind == "binomial":
                est = (num + strength * m) / (den + strength)
                weight = den / (den + strength)
            else:
                prior_e = np.where(m > 0, strength / np.where(m > 0, m, 1.0), 0.0)
                est = np.where(m > 0, (num + strength) / (den + prior_e), raw)
                weight = den / (den + prior_e)
            bad = ~np.isfinite(est)
            est[bad] = m[bad]
            weight = np.where(np.isfinite(weight), weight, 0.0)
        strengths[name] = None if math.isinf(strength) else strength
        parent_id = g[prev_cols[-1]].to_numpy(dtype=object)
        rows.append(
            pd.DataFrame(
                {
                    "level": name,
                    "group": g[col].to_numpy(dtype=object),
                    "parent": parent_id,
                    "n": den,
                    "events": num,
                    "raw": raw,
                    "estimate": est,
                    "weight": weight,
                }
            )
        )
        prev = g.assign(estimate=est)
        prev_cols = cols
    table = pd.concat(rows, ignore_index=True)
    table["parent"] = table["parent"].astype(object)
    return table, strengths


# --------------------------------------------------------------------------- checked inputs
@dataclass
class _Inputs:
    as_of: int
    since: int
    step: int
    deals: pd.DataFrame  # one row per deal known on as_of (created <= as_of), index 0..n-1
    #: history rows (known deals, dated <= as_of, plus rows made from dates for deals without history)
    h_deal: np.ndarray
    h_day: np.ndarray
    h_stage: np.ndarray
    h_closed: np.ndarray
    h_won: np.ndarray
    h_amount: np.ndarray
    has_history: bool
    levels: list[tuple[str, str]]  # (name, deal column), fine -> coarse, company excluded
    dropped_levels: list[str]
    group_cols: tuple[str, ...]
    exposure: pd.DataFrame | None
    size_col: str | None
    #: the org's paths (one row per rep, the level columns), when an org frame names every level
    org_paths: pd.DataFrame | None = None


class Calibration:
    """Rates for the attainment forecast, calibrated from history as of a date.

    Parameters
    ----------
    shrinkage:
        Pull small groups toward their parent (empirical Bayes). ``False``
        keeps every group's own (raw) estimate; a group without data takes its
        parent's.
    max_window_days:
        The longest window the win-in-window curves cover (0..this many days).
    min_deals:
        Fewest distinct deals an age bucket (or a group) needs before it is
        merged with its neighbour (or falls back to all snapshots).
    age_edges:
        Age bucket edges as multiples of the median time to close.
    size_by:
        The hierarchy level (or any ``<name>_id`` column, e.g. ``"segment"``)
        whose deal sizes are shrunk toward the company's.
    """

    def __init__(
        self,
        shrinkage: bool = True,
        *,
        max_window_days: int = 365,
        min_deals: int = 30,
        age_edges: tuple[float, float] = (0.5, 1.5),
        size_by: str | None = "region",
    ) -> None:
        self.shrinkage = bool(shrinkage)
        self.max_window_days = int(max_window_days)
        self.min_deals = int(min_deals)
        self.age_edges = (float(age_edges[0]), float(age_edges[1]))
        self.size_by = size_by
        if self.max_window_days < 1 or self.min_deals < 1 or not 0 < self.age_edges[0] < self.age_edges[1]:
            raise BadInput(
                "Calibration: max_window_days and min_deals must be >= 1 and 0 < age_edges[0] < age_edges[1]"
            )
        self.sigma_factor_: float | None = None
        self.sigma_factor_se_: float | None = None
        self.factor_table_: pd.DataFrame | None = None
        self.factor_mean_: float | None = None

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        opportunities: pd.DataFrame,
        history: pd.DataFrame | None = None,
        *,
        as_of: Any,
        snapshot_days: int = 7,
        group_cols: tuple[str, ...] = ("stage",),
        hierarchy: tuple[str, ...] = ("rep", "territory", "region", "company"),
        accounts_available: pd.DataFrame | None = None,
        org: pd.DataFrame | None = None,
        stages: pd.DataFrame | None = None,
        since: Any = None,
    ) -> Calibration:
        """Fit every rate from what was known at the end of ``as_of``.

        ``opportunities``: opportunity_id, owner_id, amount, created_date,
        close_date, is_closed, is_won (+ stage; + ``territory_id``,
        ``region_id``, ``segment_id`` … for the hierarchy and groups).
        ``history``: opportunity_id, changed_at, stage (+ amount); empty or
        None means snapshots come from created/close dates alone. Only rows
        dated on or before ``as_of`` are read, and the ``opportunities`` frame's
        close/outcome only for deals closed on or before ``as_of`` (for deals
        without history, or whose history ends open although the deal closed
        by then).
        ``accounts_available``: available account-years per ``territory_id``
        (or ``rep_id`` / ``region_id``) over ``[since, as_of]`` (both days
        included; ``since`` defaults to the first creation date) — needed for
        creation rates. ``org``: rep_id + ``<level>_id`` columns, used for
        levels the opportunities frame lacks. ``stages``: stage, is_closed,
        is_won (default: read from the opportunities frame).
        """
        inp = self._check_inputs(
            opportunities,
            history,
            as_of=as_of,
            snapshot_days=snapshot_days,
            group_cols=group_cols,
            hierarchy=hierarchy,
            accounts_available=accounts_available,
            org=org,
            stages=stages,
            since=since,
        )
        self.as_of_ = pd.Timestamp(_iso(inp.as_of))
        self.since_ = pd.Timestamp(_iso(inp.since))
        self.snapshot_days_ = inp.step
        self.group_cols_ = inp.group_cols
        self.levels_ = tuple(name for name, _ in inp.levels) + ("company",)
        self.dropped_levels_ = tuple(inp.dropped_levels)
        self.used_history_ = inp.has_history

        deals = self._outcomes(inp)
        self._fit_new_deals(inp, deals)
        snaps = self._snapshots(inp, deals)
        self._fit_curves(snaps)
        self._fit_win_rates(inp, deals)
        self._fit_creation(inp, deals)
        self._fit_sizes(inp, deals)
        self.n_deals_ = int(len(deals))
        self.n_closed_ = int(deals["closed"].sum())
        #: every deal as known on as_of (closed, won, close_day, amount_asof, created, hierarchy ids)
        self.deals_ = deals
        return self

    # ------------------------------------------------------------------ validation
    def _check_inputs(
        self,
        opportunities: pd.DataFrame,
        history: pd.DataFrame | None,
        *,
        as_of: Any,
        snapshot_days: int,
        group_cols: tuple[str, ...],
        hierarchy: tuple[str, ...],
        accounts_available: pd.DataFrame | None,
        org: pd.DataFrame | None,
        stages: pd.DataFrame | None,
        since: Any,
    ) -> _Inputs:
        as_day = _as_day(as_of, "as_of")
        if not isinstance(snapshot_days, (int, np.integer)) or isinstance(snapshot_days, bool) or snapshot_days < 1:
            raise BadInput(f"snapshot_days must be a whole number of days >= 1, got {snapshot_days!r}")
        if not isinstance(opportunities, pd.DataFrame):
            raise BadInput("opportunities must be a pandas DataFrame (the opportunities import kind)")
        missing = [c for c in _REQUIRED_OPP if c not in opportunities.columns]
        if missing:
            raise BadInput(
                f"opportunities is missing columns {missing}",
                hint="pass the canonical opportunities frame (plancast kinds opportunities lists its columns)",
            )
        if history is None:
            history = pd.DataFrame(columns=list(_REQUIRED_HIST))
        if not isinstance(history, pd.DataFrame):
            raise BadInput("history must be a pandas DataFrame (the opportunity_history import kind) or None")
        missing = [c for c in _REQUIRED_HIST if c not in history.columns]
        if missing and len(history):
            raise BadInput(f"history is missing columns {missing}")
        opp = opportunities
        if opp["opportunity_id"].isna().any():
            raise BadInput("opportunities: opportunity_id is blank on some rows; every deal needs an id")
        dup = opp["opportunity_id"].duplicated()
        if dup.any():
            raise BadInput(
                f"opportunities: {int(dup.sum())} duplicate opportunity_id "
                f"(first: {opp['opportunity_id'][dup].iloc[0]!r}); keep one row per deal"
            )
        created = _days(opp["created_date"])
        if np.isnan(created).any():
            first = opp["opportunity_id"].to_numpy(dtype=object)[np.isnan(created)][0]
            raise BadInput(f"opportunities: created_date is blank or not a date (first: {first!r})")
        amount = pd.to_numeric(opp["amount"], errors="coerce").to_numpy(dtype=float)
        neg = amount < 0
        if neg.any():
            first = opp["opportunity_id"].to_numpy(dtype=object)[neg][0]
            raise BadInput(
                f"opportunities: {int(neg.sum())} negative amount(s) (first: {first!r} at {amount[neg][0]:,.2f}); "
                "amounts must be >= 0",
                hint="fix the amounts in the CRM export and import it again",
            )
        close = _days(opp["close_date"])
        before = close < created
        if before.any():
            i = int(np.flatnonzero(before)[0])
            raise BadInput(
                f"opportunities: {int(before.sum())} deal(s) close before they were created "
                f"(first: {opp['opportunity_id'].iloc[i]!r}, created {_iso(created[i])}, closed {_iso(close[i])})",
                hint="correct created_date or close_date in the CRM export",
            )
        if len(history):
            if "amount" in history.columns:
                h_amt = pd.to_numeric(history["amount"], errors="coerce").to_numpy(dtype=float)
                hneg = h_amt < 0
                if hneg.any():
                    first = history["opportunity_id"].to_numpy(dtype=object)[hneg][0]
                    raise BadInput(
                        f"history: {int(hneg.sum())} negative amount(s) (first: {first!r} at {h_amt[hneg][0]:,.2f}); "
                        "amounts must be >= 0"
                    )
            if pd.to_datetime(history["changed_at"], errors="coerce").isna().any():
                raise BadInput("history: changed_at is blank or not a date on some rows")

        known = created <= as_day
        if not known.any():
            raise BadInput(
                f"no opportunity was created on or before as_of {_iso(as_day)}: there is no history to calibrate from",
                hint="choose a later as_of, or import opportunities created before it",
            )
        since_day = int(created[known].min()) if since is None else _as_day(since, "since")
        if since_day > as_day:
            raise BadInput(f"since {_iso(since_day)} is after as_of {_iso(as_day)}")

        # levels: rep = owner_id; company = everything; other L = L_id on the deals or via org
        hierarchy = tuple(hierarchy)
        if not hierarchy or any(not isinstance(h, str) for h in hierarchy):
            raise BadInput("hierarchy must name levels, finest first, e.g. ('rep', 'territory', 'region', 'company')")
        org_map = None
        if org is not None:
            rep_col = "rep_id" if "rep_id" in org.columns else "owner_id" if "owner_id" in org.columns else None
            if rep_col is None:
                raise BadInput("org needs a rep_id column (with territory_id, region_id, ...)")
            org_map = org.drop_duplicates(rep_col).set_index(rep_col)
        d = pd.DataFrame(
            {
                "opportunity_id": opp["opportunity_id"].astype(str).to_numpy(dtype=object),
                "created": created.astype(np.int64),
                "owner_id": _ids(opp["owner_id"]),
                "amount": amount,
                "opp_closed": _bool(opp["is_closed"]),
                "opp_won": _bool(opp["is_won"]),
                "opp_close": close,
                "opp_stage": _ids(opp["stage"]) if "stage" in opp.columns else np.full(len(opp), "(closed)", object),
            }
        )
        levels: list[tuple[str, str]] = []
        dropped: list[str] = []
        for name in hierarchy:
            if name == "company":
                continue
            col = "owner_id" if name == "rep" else f"{name}_id"
            if name == "rep":
                levels.append((name, col))
            elif col in opp.columns:
                d[col] = _ids(opp[col])
                levels.append((name, col))
            elif org_map is not None and col in org_map.columns:
                d[col] = _ids(pd.Series(d["owner_id"]).map(org_map[col]))
                levels.append((name, col))
            else:
                dropped.append(name)
        if isinstance(group_cols, str) or not group_cols:
            raise BadInput("group_cols must name at least one column, e.g. ('stage',) or ('stage', 'segment_id')")
        for col in group_cols:
            if col == "stage":
                continue
            if col not in opp.columns:
                raise BadInput(f"group_cols: {col!r} is not a column of opportunities (nor 'stage')")
            if col not in d.columns:
                d[col] = _ids(opp[col])
        size_col = None
        if self.size_by is not None:
            name = self.size_by
            col = "owner_id" if name == "rep" else f"{name}_id" if not name.endswith("_id") else name
            if col in d.columns:
                size_col = col
            elif col in opp.columns:
                d[col] = _ids(opp[col])
                size_col = col
        d = d[known].reset_index(drop=True)

        # stage flags
        closed_map: dict[str, bool] = {}
        won_map: dict[str, bool] = {}
        if stages is not None:
            if not {"stage", "is_closed", "is_won"} <= set(stages.columns):
                raise BadInput("stages needs columns stage, is_closed, is_won")
            names = stages["stage"].astype(str)
            for s, c, w in zip(names, _bool(stages["is_closed"]), _bool(stages["is_won"]), strict=True):
                closed_map[s], won_map[s] = bool(c), bool(w)
        elif "stage" in opp.columns:
            flags = pd.DataFrame(
                {"stage": _ids(opp["stage"]), "c": _bool(opp["is_closed"]), "w": _bool(opp["is_won"])}
            ).drop_duplicates("stage")
            closed_map = dict(zip(flags["stage"], flags["c"], strict=True))
            won_map = dict(zip(flags["stage"], flags["w"], strict=True))

        # history rows known on as_of, for known deals
        pos = pd.Index(d["opportunity_id"])
        has_history = len(history) > 0
        if has_history:
            h = history
            hday = _days(h["changed_at"])
            hdeal = pos.get_indexer(h["opportunity_id"].astype(str).to_numpy(dtype=object))
            keep = (hdeal >= 0) & (hday <= as_day)
            h_deal = hdeal[keep].astype(np.int64)
            h_day = hday[keep].astype(np.int64)
            stage_raw = h["stage"].astype(object).to_numpy()[keep]
            h_amount = (
                pd.to_numeric(h["amount"], errors="coerce").to_numpy(dtype=float)[keep]
                if "amount" in h.columns
                else np.full(keep.sum(), np.nan)
            )
            # blank stages carry the previous row's stage (within the deal)
            order = np.lexsort((np.arange(len(h_deal)), h_day, h_deal))
            h_deal, h_day, stage_raw, h_amount = h_deal[order], h_day[order], stage_raw[order], h_amount[order]
            st = pd.Series(stage_raw, dtype=object)
            st = st.groupby(h_deal, sort=False).ffill()
            st = st.groupby(h_deal, sort=False).bfill()
            h_stage = np.where(st.isna().to_numpy(), _OPEN, st.astype(str).to_numpy(dtype=object)).astype(object)
            uniq = pd.unique(h_stage)
            c_u = np.asarray([closed_map.get(s, _looks_closed(s)) for s in uniq], dtype=bool)
            w_u = np.asarray([won_map.get(s, _looks_won(s)) for s in uniq], dtype=bool)
            code = pd.Index(uniq).get_indexer(h_stage)
            h_closed, h_won = c_u[code], w_u[code] & c_u[code]
        else:
            h_deal = h_day = np.zeros(0, np.int64)
            h_stage = np.zeros(0, object)
            h_closed = h_won = np.zeros(0, bool)
            h_amount = np.zeros(0)
        # deals without history rows: rows from their dates ("open" from creation; the close if known on as_of);
        # deals whose history ends open although the deal closed on or before as_of: the close from its date
        bare = np.ones(len(d), bool)
        bare[h_deal] = False
        bi = np.flatnonzero(bare)
        closed_known = d["opp_closed"].to_numpy() & (d["opp_close"].to_numpy() <= as_day)
        ends_open = np.zeros(len(d), bool)
        last_seen = np.full(len(d), -np.inf)
        if len(h_deal):
            last = np.flatnonzero(np.r_[h_deal[1:] != h_deal[:-1], True])
            ends_open[h_deal[last]] = ~h_closed[last]
            last_seen[h_deal[last]] = h_day[last]
        unrecorded = ends_open & closed_known & (d["opp_close"].to_numpy() >= last_seen)
        bc = np.flatnonzero((bare & closed_known) | unrecorded)
        h_deal = np.concatenate([h_deal, bi, bc])
        created_d = d["created"].to_numpy()
        close_bc = np.maximum(d["opp_close"].to_numpy()[bc], created_d[bc]).astype(np.int64)
        h_day = np.concatenate([h_day, created_d[bi], close_bc])
        h_stage = np.concatenate([h_stage, np.full(len(bi), _OPEN, object), d["opp_stage"].to_numpy()[bc]])
        h_closed = np.concatenate([h_closed, np.zeros(len(bi), bool), np.ones(len(bc), bool)])
        h_won = np.concatenate([h_won, np.zeros(len(bi), bool), d["opp_won"].to_numpy()[bc]])
        h_amount = np.concatenate([h_amount, d["amount"].to_numpy()[bi], d["amount"].to_numpy()[bc]])
        order = np.lexsort((np.arange(len(h_deal)), h_closed, h_day, h_deal))
        h_deal, h_day, h_stage, h_closed, h_won, h_amount = (
            a[order] for a in (h_deal, h_day, h_stage, h_closed, h_won, h_amount)
        )

        exposure = None
        if accounts_available is not None:
            exposure = self._check_exposure(accounts_available, d, levels)
        org_paths = None
        if org_map is not None:
            cols = {c: (org_map.index if c == "owner_id" else org_map.get(c)) for _, c in levels}
            if all(v is not None for v in cols.values()):
                org_paths = pd.DataFrame({c: _ids(pd.Series(np.asarray(v, dtype=object))) for c, v in cols.items()})

        return _Inputs(
            as_of=as_day,
            since=since_day,
            step=int(snapshot_days),
            deals=d,
            h_deal=h_deal,
            h_day=h_day,
            h_stage=h_stage,
            h_closed=h_closed,
            h_won=h_won,
            h_amount=h_amount,
            has_history=has_history,
            levels=levels,
            dropped_levels=dropped,
            group_cols=tuple(group_cols),
            exposure=exposure,
            size_col=size_col,
            org_paths=org_paths,
        )

    @staticmethod
    def _check_exposure(frame: pd.DataFrame, deals: pd.DataFrame, levels: list[tuple[str, str]]) -> pd.DataFrame:
        if not isinstance(frame, pd.DataFrame) or "account_years" not in frame.columns:
            raise BadInput(
                "accounts_available needs columns territory_id (or rep_id / region_id) and account_years",
                hint="compute available account-years from assignments minus exclusions over [since, as_of]",
            )
        e = frame.rename(columns={"rep_id": "owner_id"}).copy()
        years = pd.to_numeric(e["account_years"], errors="coerce").to_numpy(dtype=float)
        if np.isnan(years).any() or (years < 0).any():
            raise BadInput("accounts_available: account_years must be a number >= 0 on every row")
        e["account_years"] = years
        present = [(n, c) for n, c in levels if c in e.columns]
        if not present:
            raise BadInput(
                "accounts_available needs a column naming the group: "
                + " or ".join("rep_id" if c == "owner_id" else c for _, c in levels)
            )
        finest = present[0]
        start = [n for n, _ in levels].index(finest[0])
        used = levels[start:]  # the finest level present and every coarser one
        for col in [c for _, c in used]:
            if col in e.columns:
                e[col] = _ids(e[col])
        for _, col in used[1:]:
            if col not in e.columns:
                paths = deals.drop_duplicates(finest[1]).set_index(finest[1])[col]
                e[col] = _ids(e[finest[1]].map(paths))
        return e.groupby([c for _, c in used], as_index=False, sort=True)["account_years"].sum()

    # ------------------------------------------------------------------ deal outcomes as known on as_of
    def _outcomes(self, inp: _Inputs) -> pd.DataFrame:
        d = inp.deals.copy()
        n = len(d)
        deal, closed = inp.h_deal, inp.h_closed
        rowpos = np.arange(len(deal))
        last = np.flatnonzero(np.r_[deal[1:] != deal[:-1], True])
        first = np.flatnonzero(np.r_[True, deal[1:] != deal[:-1]])
        last_row = np.empty(n, np.int64)
        last_row[deal[last]] = last
        first_row = np.empty(n, np.int64)
        first_row[deal[first]] = first
        last_open = np.full(n, -1, np.int64)
        np.maximum.at(last_open, deal[~closed], rowpos[~closed])
        is_closed = closed[last_row]
        close_row = np.where(last_open >= 0, last_open + 1, first_row)
        close_row = np.minimum(close_row, last_row)
        created = d["created"].to_numpy()
        # the close is dated by the history row that closed the deal, unless that row was recorded after the
        # deal's own close date (entered late, or every row written when the CRM was loaded): then by that date
        h_close = inp.h_day[close_row]
        opp_close = d["opp_close"].to_numpy()
        late = is_closed & d["opp_closed"].to_numpy() & (opp_close < h_close)
        dated = np.where(late, np.nan_to_num(opp_close, nan=0.0), h_close).astype(np.int64)
        close_day = np.where(is_closed, np.maximum(dated, created), -1)
        # amount as known on as_of: the last non-blank amount in history, else the opportunities frame's
        amt = pd.Series(inp.h_amount).groupby(deal, sort=False).ffill().to_numpy()
        amount = amt[last_row]
        amount = np.where(np.isnan(amount), d["amount"].to_numpy(), amount)
        # the stage a deal shows before its first history row: its first open stage
        first_open = np.full(n, len(deal), np.int64)
        np.minimum.at(first_open, deal[~closed], rowpos[~closed])
        stage_pad = np.r_[inp.h_stage, np.asarray([_OPEN], object)]
        d["closed"] = is_closed
        d["won"] = is_closed & inp.h_won[last_row]
        d["close_day"] = close_day
        d["amount_asof"] = amount
        d["first_stage"] = stage_pad[first_open]
        return d

    # ------------------------------------------------------------------ snapshots
    def _snapshots(self, inp: _Inputs, deals: pd.DataFrame) -> pd.DataFrame:
        as_of, step = inp.as_of, inp.step
        created = deals["created"].to_numpy()
        closed = deals["closed"].to_numpy()
        end_open = np.where(closed, deals["close_day"].to_numpy(), as_of + 1)  # exclusive
        lo = np.maximum(created, inp.since)
        hi = end_open - 1
        k_min = -((hi - as_of) // step)  # ceil((as_of - hi) / step)
        k_max = (as_of - lo) // step
        count = np.where(hi >= lo, np.maximum(k_max - k_min + 1, 0), 0)
        sd = np.repeat(np.arange(len(deals)), count)
        k = np.repeat(k_min, count) + (np.arange(len(sd)) - np.repeat(np.cumsum(count) - count, count))
        day = as_of - k * step
        # stage on the day: the last open history row on or before it
        o = ~inp.h_closed
        od, oday, ostage = inp.h_deal[o], inp.h_day[o], inp.h_stage[o]
        base = int(min(oday.min() if len(oday) else as_of, created.min(), day.min() if len(day) else as_of))
        width = int(as_of - base + 2)
        key_o = od * width + (oday - base)
        key_s = sd * width + (day - base)
        p = np.searchsorted(key_o, key_s, side="right") - 1
        ok = (p >= 0) & (od[np.maximum(p, 0)] == sd) if len(od) else np.zeros(len(sd), bool)
        stage = np.where(ok, ostage[np.maximum(p, 0)] if len(od) else _OPEN, deals["first_stage"].to_numpy()[sd])
        won = deals["won"].to_numpy()[sd]
        is_closed = closed[sd]
        observed = as_of - day
        to_close = deals["close_day"].to_numpy()[sd] - day
        snaps = pd.DataFrame(
            {
                "opportunity_id": deals["opportunity_id"].to_numpy()[sd],
                "deal": sd,
                "snapshot_day": day,
                "stage": stage.astype(object),
                "age_days": day - created[sd],
                "closed": is_closed,
                "won": won,
                "days_to_close": np.where(is_closed, to_close, -1),
                "observed_days": observed,
            }
        )
        for col in inp.group_cols:
            if col != "stage":
                snaps[col] = deals[col].to_numpy()[sd]
        return snaps

    # ------------------------------------------------------------------ new deals and cycle
    def _fit_new_deals(self, inp: _Inputs, deals: pd.DataFrame) -> None:
        created = deals["created"].to_numpy()
        cohort = created >= inp.since
        closed = deals["closed"].to_numpy()[cohort]
        won = deals["won"].to_numpy()[cohort]
        t = np.where(closed, deals["close_day"].to_numpy()[cohort] - created[cohort], inp.as_of - created[cohort])
        event = np.where(closed, np.where(won, 1, 2), 0)
        if not closed.any():
            raise BadInput(
                f"no opportunity created since {_iso(inp.since)} closed on or before as_of {_iso(inp.as_of)}: "
                "win rates and times to close cannot be estimated",
                hint="choose a later --as-of, when deals created in the history have closed",
            )
        cw, cl, risk = _cumulative_incidence(np.zeros(len(t), np.int64), t, event, 1, self.max_window_days)
        self.new_won_curve_ = cw[0]
        self.new_lost_curve_ = cl[0]
        self.new_at_risk_ = risk[0]
        self.n_new_deals_ = int(cohort.sum())
        won_mean, won_var, won_median = _moments_from_cdf(cw[0])
        all_mean, all_var, all_median = _moments_from_cdf(cw[0] + cl[0])
        self.win_rate_ultimate_ = float(cw[0][-1])
        self.close_rate_ultimate_ = float(cw[0][-1] + cl[0][-1])
        self.time_to_close_ = pd.DataFrame(
            {
                "outcome": ["won", "any"],
                "mean_days": [won_mean, all_mean],
                "sd_days": [math.sqrt(won_var), math.sqrt(all_var)],
                "median_days": [won_median, all_median],
                "gamma_shape": [won_mean**2 / won_var if won_var > 0 else math.nan,
                                all_mean**2 / all_var if all_var > 0 else math.nan],
                "n": [int((event == 1).sum()), int((event > 0).sum())],
            }
        )
        self.median_cycle_days_ = max(all_median, 1.0)
        m = self.median_cycle_days_
        self.age_bucket_days_ = (self.age_edges[0] * m, self.age_edges[1] * m)

    # ------------------------------------------------------------------ win-in-window curves
    def age_bucket(self, age_days: Any) -> np.ndarray:
        """Age in days -> ``"young"`` / ``"mid"`` / ``"old"`` (relative to the median cycle)."""
        self._require_fitted()
        return self._bucket(age_days)

    def _bucket(self, age_days: Any) -> np.ndarray:
        a = np.asarray(age_days, dtype=float)
        lo, hi = self.age_bucket_days_
        return np.select([a < lo, a > hi], [AGE_BUCKETS[0], AGE_BUCKETS[2]], AGE_BUCKETS[1]).astype(object)

    def _fit_curves(self, snaps: pd.DataFrame) -> None:
        snaps["age_bucket"] = self._bucket(snaps["age_days"].to_numpy())
        gkey = self._key_strings(snaps[list(self.group_cols_)])
        snaps["_gkey"] = gkey
        bcode = pd.Index(AGE_BUCKETS).get_indexer(snaps["age_bucket"].to_numpy())
        # distinct deals per (group, bucket); merging runs per group (a loop over groups, not deals)
        pairs = snaps[["_gkey", "deal"]].assign(b=bcode).drop_duplicates()
        n_gb = pairs.groupby(["_gkey", "b"]).size()
        n_g = pairs.drop_duplicates(["_gkey", "deal"]).groupby("_gkey").size()
        cell_of: dict[tuple[str, int], int] = {}
        cells: list[dict[str, Any]] = [{"cell": POOLED, "gkey": POOLED, "buckets": "all"}]
        for g, total in n_g.items():
            if total < self.min_deals:
                continue  # falls back to the pooled cell
            present = [b for b in range(3) if (g, b) in n_gb.index]
            blocks = [[b] for b in present]
            counts = [int(n_gb[(g, b)]) for b in present]
            while len(blocks) > 1 and min(counts) < self.min_deals:
                i = int(np.argmin(counts))
                if i == 0:
                    j = 1
                elif i == len(blocks) - 1:
                    j = i - 1
                else:
                    j = i - 1 if counts[i - 1] <= counts[i + 1] else i + 1
                a, b = min(i, j), max(i, j)
                merged = blocks[a] + blocks[b]
                n_merged = int(pairs.loc[(pairs["_gkey"] == g) & pairs["b"].isin(merged), "deal"].nunique())
                blocks[a:b + 1] = [merged]
                counts[a:b + 1] = [n_merged]
            for block in blocks:
                idx = len(cells)
                label = "+".join(AGE_BUCKETS[b] for b in block) if len(block) < 3 else "all"
                cells.append({"cell": f"{g.replace(_SEP, '/')}|{label}", "gkey": g, "buckets": label})
                for b in block:
                    cell_of[(g, b)] = idx
            # buckets of this group never seen: nearest present block (so the group's own data is used)
            for b in range(3):
                if (g, b) not in cell_of:
                    nearest = min(present, key=lambda x: (abs(x - b), x))
                    cell_of[(g, b)] = cell_of[(g, nearest)]
        lookup = pd.Index([f"{g}{_BSEP}{b}" for g, b in cell_of])
        code = lookup.get_indexer(gkey + _BSEP + bcode.astype(str).astype(object))
        codes = np.asarray(list(cell_of.values()), np.int64)
        cell = np.where(code >= 0, codes[np.maximum(code, 0)] if len(codes) else 0, 0)
        # every snapshot feeds its cell and the pooled cell
        n = len(snaps)
        closed = snaps["closed"].to_numpy()
        t_one = np.where(closed, snaps["days_to_close"].to_numpy(), snaps["observed_days"].to_numpy())
        e_one = np.where(snaps["closed"].to_numpy(), np.where(snaps["won"].to_numpy(), 1, 2), 0)
        own = cell > 0
        g_all = np.concatenate([cell[own], np.zeros(n, np.int64)])
        t_all = np.concatenate([t_one[own], t_one])
        e_all = np.concatenate([e_one[own], e_one])
        cw, cl, risk = _cumulative_incidence(g_all, t_all, e_all, len(cells), self.max_window_days)
        info = pd.DataFrame(cells)
        deals_all = np.concatenate([snaps["deal"].to_numpy()[own], snaps["deal"].to_numpy()])
        per = pd.DataFrame({"c": g_all, "deal": deals_all})
        info["n_snapshots"] = np.bincount(g_all, minlength=len(cells))
        info["n_deals"] = per.drop_duplicates().groupby("c").size().reindex(range(len(cells)), fill_value=0).to_numpy()
        groups = pd.DataFrame(
            [g.split(_SEP) if g != POOLED else [POOLED] * len(self.group_cols_) for g in info["gkey"]],
            columns=list(self.group_cols_),
        )
        self.win_cells_ = pd.concat([info.drop(columns=["gkey"]), groups], axis=1)
        self.win_curve_ = cw
        self.lost_curve_ = cl
        self.at_risk_ = risk
        self._cell_lookup = lookup
        self._cell_codes = np.asarray(list(cell_of.values()), np.int64)
        snaps["cell"] = np.asarray(self.win_cells_["cell"], dtype=object)[cell]
        self.snapshots_ = snaps.drop(columns=["_gkey"])
        self.snapshots_["snapshot_date"] = self.snapshots_["snapshot_day"].to_numpy().astype("datetime64[D]").astype(
            "datetime64[ns]"
        )

    def _key_strings(self, frame: pd.DataFrame) -> np.ndarray:
        cols = list(frame.columns)
        out = frame[cols[0]].astype(str).astype(object)
        for c in cols[1:]:
            out = out + _SEP + frame[c].astype(str).astype(object)
        return out.to_numpy(dtype=object)

    def _cells_for(self, stage: Any, age_bucket: Any) -> np.ndarray:
        cols = list(self.group_cols_)
        if isinstance(stage, pd.DataFrame):
            missing = [c for c in cols if c not in stage.columns]
            if missing:
                raise BadInput(f"p_win_within: the frame of groups lacks columns {missing}")
            keys = self._key_strings(stage[cols])
        elif isinstance(stage, tuple) and len(cols) > 1:
            keys = np.asarray([_SEP.join(str(v) for v in stage)], dtype=object).reshape(())
        else:
            if len(cols) > 1:
                raise BadInput(
                    f"p_win_within: with group_cols {tuple(cols)} pass a tuple or a DataFrame with those columns"
                )
            keys = np.asarray(pd.Series(np.asarray(stage, dtype=object).ravel()).astype(str), dtype=object).reshape(
                np.shape(stage)
            )
        b = np.asarray(age_bucket, dtype=object)
        kb, bb = np.broadcast_arrays(keys, b)
        flat_b = pd.Index(AGE_BUCKETS).get_indexer(bb.ravel().astype(str))
        if (flat_b < 0).any():
            bad = bb.ravel()[flat_b < 0][0]
            raise BadInput(f"age bucket {bad!r} is not one of {AGE_BUCKETS}; use Calibration.age_bucket(age_days)")
        q = pd.Series(kb.ravel(), dtype=object) + _BSEP + pd.Series(flat_b.astype(str), dtype=object)
        if len(self._cell_lookup):
            code = self._cell_lookup.get_indexer(q.to_numpy(dtype=object))
        else:
            code = np.full(len(q), -1)
        cell = np.where(code >= 0, self._cell_codes[np.maximum(code, 0)] if len(self._cell_codes) else 0, 0)
        return cell.reshape(kb.shape)

    def _window_index(self, window_days: Any) -> np.ndarray:
        w = np.asarray(window_days, dtype=float)
        if np.isnan(w).any() or (w < 0).any():
            raise BadInput("window_days must be >= 0 days")
        return np.minimum(np.floor(w).astype(np.int64), self.max_window_days)

    def p_win_within(self, stage: Any, age_bucket: Any, window_days: Any) -> Any:
        """P(closes won within ``window_days`` of a snapshot | group, age bucket).

        ``stage``: the group value(s) — a stage name or an array of them when
        ``group_cols=("stage",)``; a tuple or a DataFrame with the group columns
        otherwise. Groups not seen in history, or too small, get the curve of
        all snapshots. Windows beyond ``max_window_days`` get its value.
        Arguments broadcast; a float for scalars, else an array.
        """
        self._require_fitted()
        cell = self._cells_for(stage, age_bucket)
        w = self._window_index(window_days)
        cb, wb = np.broadcast_arrays(cell, w)
        out = self.win_curve_[cb, wb]
        return float(out) if out.ndim == 0 else out

    def p_win_within_age(self, stage: Any, age_days: Any, window_days: Any) -> Any:
        """:meth:`p_win_within` with the deal's age in days instead of its bucket."""
        return self.p_win_within(stage, self.age_bucket(age_days), window_days)

    def p_new_win_within(self, days: Any, *, win_rate: Any = None) -> Any:
        """P(a deal created today closes won within ``days``).

        By default the cumulative incidence of won deals from creation; with
        ``win_rate`` (e.g. a rep's shrunk rate) it is ``win_rate × F(days)``,
        F the time-to-close distribution of won deals.
        """
        self._require_fitted()
        w = self._window_index(days)
        if win_rate is None:
            out = self.new_won_curve_[w]
        else:
            total = self.new_won_curve_[-1]
            f = self.new_won_curve_[w] / total if total > 0 else np.zeros_like(w, dtype=float)
            out = np.clip(np.asarray(win_rate, dtype=float) * f, 0.0, 1.0)
        return float(out) if np.ndim(out) == 0 else out

    # ------------------------------------------------------------------ win rates
    def _fit_win_rates(self, inp: _Inputs, deals: pd.DataFrame) -> None:
        # every known deal names its groups (so a rep with only open deals gets its parent's rate);
        # the closed ones since `since` are the trials
        closed = deals["closed"].to_numpy() & (deals["close_day"].to_numpy() >= inp.since)
        units = deals[[c for _, c in inp.levels]].copy()
        units["num"] = (closed & deals["won"].to_numpy()).astype(float)
        units["den"] = closed.astype(float)
        if inp.org_paths is not None:  # reps of the org without any deal yet: their parent's rate
            units = pd.concat([units, inp.org_paths.assign(num=0.0, den=0.0)], ignore_index=True)
        table, strengths = _shrink_tree(units, list(reversed(inp.levels)), "binomial", self.shrinkage)
        self.win_rate_ = table
        self.win_prior_strength_ = strengths

    def win_rate(self, level: str, group: Any) -> Any:
        """The shrunk closed-deal win rate of ``group`` (an id or ids) at ``level``; unknown ids get the company's."""
        return self._lookup(self.win_rate_, level, group)

    @staticmethod
    def _lookup(table: pd.DataFrame, level: str, group: Any) -> Any:
        t = table[table["level"] == level]
        company = float(table.loc[table["level"] == "company", "estimate"].iloc[0])
        # a group under two parents (a rep who moved territory): its estimates weighted by n
        w = t["n"].where(t["n"] > 0, 1e-12)
        est = (t["estimate"] * w).groupby(t["group"]).sum() / w.groupby(t["group"]).sum()
        g = np.asarray(group, dtype=object)
        vals = est.reindex(pd.Series(g.ravel()).astype(str)).fillna(company).to_numpy(dtype=float).reshape(g.shape)
        return float(vals) if vals.ndim == 0 else vals

    # ------------------------------------------------------------------ creation rates
    def _fit_creation(self, inp: _Inputs, deals: pd.DataFrame) -> None:
        self.creation_window_ = (pd.Timestamp(_iso(inp.since)), pd.Timestamp(_iso(inp.as_of)))
        if inp.exposure is None:
            self.creation_rate_ = None
            self.creation_prior_strength_ = None
            self.creation_unmatched_ = None
            return
        e = inp.exposure
        cols = [c for c in e.columns if c != "account_years"]
        made = deals["created"].to_numpy() >= inp.since
        counts = deals.loc[made].groupby(cols, as_index=False).size().rename(columns={"size": "num"})
        units = e.merge(counts, on=cols, how="left").rename(columns={"account_years": "den"})
        units["num"] = units["num"].fillna(0).astype(float)
        self.creation_unmatched_ = int(made.sum() - units["num"].sum())
        col_level = {c: n for n, c in inp.levels}
        levels = [(col_level[c], c) for c in reversed(cols)]
        table, strengths = _shrink_tree(units[[*cols, "num", "den"]], levels, "poisson", self.shrinkage)
        self.creation_rate_ = table
        self.creation_prior_strength_ = strengths

    def creation_rate(self, level: str, group: Any) -> Any:
        """Shrunk opportunities per available account-year of ``group`` at ``level``."""
        self._require_fitted()
        if self.creation_rate_ is None:
            raise BadInput("creation rates need accounts_available (available account-years per territory) in fit()")
        return self._lookup(self.creation_rate_, level, group)

    # ------------------------------------------------------------------ deal sizes
    def _fit_sizes(self, inp: _Inputs, deals: pd.DataFrame) -> None:
        ok = (
            deals["won"].to_numpy()
            & (deals["close_day"].to_numpy() >= inp.since)
            & np.isfinite(deals["amount_asof"].to_numpy())
        )
        amt = deals.loc[ok, "amount_asof"].to_numpy(dtype=float)
        col = inp.size_col
        level = "company" if col is None else (self.size_by or "company")
        grp = deals.loc[ok, col].to_numpy(dtype=object) if col is not None else np.full(len(amt), "company", object)
        n_all = len(amt)
        mu = float(amt.mean()) if n_all else math.nan
        var_c = float(amt.var(ddof=1)) if n_all > 1 else math.nan
        frame = pd.DataFrame({"g": grp, "a": amt})
        st = frame.groupby("g", sort=True)["a"].agg(["size", "mean", "var"]).reset_index()
        n = st["size"].to_numpy(float)
        m = st["mean"].to_numpy(float)
        v = st["var"].fillna(0.0).to_numpy(float)
        k = math.inf
        if col is not None and len(st) >= 2 and n.sum() > len(st):
            s_w = float(np.sum((n - 1) * v) / np.sum(n - 1))
            if s_w > 0:
                q = float(np.sum(n * (m - mu) ** 2) / s_w)
                tau2 = s_w * (q - (len(st) - 1)) / (n.sum() - np.sum(n**2) / n.sum())
                k = s_w / tau2 if tau2 > 0 else math.inf
        if not self.shrinkage:
            k = 0.0
        if math.isinf(k):
            mean_s, var_s, weight = np.full(len(st), mu), np.full(len(st), var_c), np.zeros(len(st))
        else:
            mean_s = (n * m + k * mu) / (n + k)
            with np.errstate(divide="ignore", invalid="ignore"):
                var_s = np.where(n - 1 + k > 0, ((n - 1) * v + k * var_c) / (n - 1 + k), var_c)
            weight = n / (n + k)
        sd_c = math.sqrt(var_c) if n_all > 1 else math.nan
        company = pd.DataFrame(
            {"level": ["company"], "group": ["company"], "n": [n_all], "raw_mean": [mu], "mean": [mu],
             "raw_sd": [sd_c], "sd": [sd_c],
             "weight": [1.0]}
        )
        groups = pd.DataFrame(
            {"level": level, "group": st["g"].to_numpy(dtype=object), "n": n, "raw_mean": m, "mean": mean_s,
             "raw_sd": np.sqrt(v), "sd": np.sqrt(np.maximum(var_s, 0.0)), "weight": weight}
        )
        self.deal_size_ = pd.concat([company, groups if col is not None else groups.iloc[:0]], ignore_index=True)
        self.size_prior_strength_ = None if math.isinf(k) else k
        self._amounts = amt
        self._amount_groups = grp

    def sample_amounts(self, group: Any, size: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``size`` deal amounts for ``group`` (of ``size_by``): the group's won amounts with
        probability ``n / (n + k)``, the company's otherwise (the bootstrap twin of the shrunk mean)."""
        self._require_fitted()
        if not isinstance(rng, np.random.Generator):
            raise BadInput("sample_amounts: rng must be a numpy.random.Generator")
        if len(self._amounts) == 0:
            raise BadInput("sample_amounts: no won deal with an amount closed by as_of")
        own = np.flatnonzero(self._amount_groups == str(group))
        k = self.size_prior_strength_  # None: infinite (complete pooling)
        w = 0.0 if len(own) == 0 or k is None else len(own) / (len(own) + k)
        pick_own = rng.random(size) < w
        from_own = self._amounts[own[rng.integers(0, max(len(own), 1), size=size)]] if len(own) else np.zeros(size)
        from_all = self._amounts[rng.integers(0, len(self._amounts), size=size)]
        return np.where(pick_own, from_own, from_all)

    # ------------------------------------------------------------------ the shared factor
    def fit_factor(self, residuals: pd.DataFrame) -> Calibration:
        """Fit ``sigma_factor``: the sd of a (region, period) logit-scale shift of win probabilities.

        ``residuals``: one row per (region_id, period) of past periods, with
        ``observed`` and ``predicted`` won amounts (predicted by the model
        without the factor, e.g. from backtests), ``predicted_var`` (the won
        amount's variance if deals were independent given the model; default
        0) and ``p_win`` (the amount-weighted mean win probability behind
        ``predicted``; default the fitted company win rate).

        Model: row *i* shares ``Z_i ~ N(0, σ²)``, which moves every deal's win
        probability from *p* to ``q(Z) = expit(logit p + Z)``; given Z the won
        amount is ``O ~ N(P·q/p, V·q(1 − q)/(p(1 − p)))``. σ maximises the
        marginal likelihood ``Σ_i log ∫ N(O_i; ·, ·) φ(Z; 0, σ²) dZ`` (the integral
        on a fixed grid of 801 standard-normal points, σ by grid search on
        [0, 3] refined by golden section). Rows with ``predicted_var = 0`` have
        no sampling noise: their shift is read off exactly,
        ``ẑ = logit(p·O/P) − logit p``, and enter as ``ẑ ~ N(0, σ²)``. The
        standard error is from the observed information. ``factor_table_``
        keeps each row's ``ẑ`` and its delta-method noise sd
        ``√V / (P (1 − p))``; ``factor_mean_`` (mean ẑ) should be near 0 when the
        model is unbiased.
        """
        if not isinstance(residuals, pd.DataFrame):
            raise BadInput("fit_factor: residuals must be a DataFrame")
        missing = [c for c in _REQUIRED_RESID if c not in residuals.columns]
        if missing:
            raise BadInput(f"fit_factor: residuals is missing columns {missing}")
        obs = pd.to_numeric(residuals["observed"], errors="coerce").to_numpy(dtype=float)
        pred = pd.to_numeric(residuals["predicted"], errors="coerce").to_numpy(dtype=float)
        if np.isnan(obs).any() or np.isnan(pred).any() or (obs < 0).any() or (pred <= 0).any():
            raise BadInput("fit_factor: observed must be >= 0 and predicted > 0 on every row")
        if len(obs) < 2:
            raise BadInput("fit_factor: at least two (region, period) rows are needed to fit sigma_factor")
        if "p_win" in residuals.columns:
            p = pd.to_numeric(residuals["p_win"], errors="coerce").to_numpy(dtype=float)
        elif getattr(self, "win_rate_ultimate_", None) is not None:
            p = np.full(len(obs), float(self.win_rate_ultimate_))
        else:
            raise BadInput("fit_factor: give residuals a p_win column, or fit() the calibration first")
        if np.isnan(p).any() or (p <= 0).any() or (p >= 1).any():
            raise BadInput("fit_factor: p_win must be in (0, 1) on every row")
        var = (
            pd.to_numeric(residuals["predicted_var"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
            if "predicted_var" in residuals.columns
            else np.zeros(len(obs))
        )
        if (var < 0).any():
            raise BadInput("fit_factor: predicted_var must be >= 0 on every row")
        eps = 1e-3
        target = np.clip(p * obs / pred, eps, 1 - eps)
        logit_p = np.log(p) - np.log1p(-p)
        z = np.log(target) - np.log1p(-target) - logit_p
        s2 = var / (pred**2 * (1 - p) ** 2)

        noisy = var > 0
        x = np.linspace(-6.0, 6.0, 801)
        log_phi = -0.5 * x**2
        o_n, p_n, v_n, pw, lp = obs[noisy], pred[noisy], var[noisy], p[noisy], logit_p[noisy]
        z_exact = z[~noisy]

        def loglik(sig: float) -> float:
            total = 0.0
            if len(o_n):
                q = _expit(lp[:, None] + sig * x[None, :])
                mu = p_n[:, None] * q / pw[:, None]
                v = v_n[:, None] * q * (1 - q) / (pw * (1 - pw))[:, None]
                a = -0.5 * np.log(v) - 0.5 * (o_n[:, None] - mu) ** 2 / v + log_phi[None, :]
                m = a.max(axis=1, keepdims=True)
                total += float(np.sum(m[:, 0] + np.log(np.exp(a - m).sum(axis=1))))
            if len(z_exact):
                s = max(sig, 1e-6)
                total += float(np.sum(-np.log(s) - 0.5 * z_exact**2 / s**2))
            return total

        grid = np.linspace(0.0, 3.0, 61)
        ll = np.asarray([loglik(float(g)) for g in grid])  # a loop over 61 values of sigma, not over rows
        i = int(np.argmax(ll))
        lo, hi = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)])
        golden = (math.sqrt(5) - 1) / 2
        for _ in range(40):  # golden-section refinement inside the bracket
            a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
            if loglik(a) >= loglik(b):
                hi = b
            else:
                lo = a
        sigma = (lo + hi) / 2
        if len(z_exact) == 0 and loglik(0.0) >= loglik(sigma):
            sigma = 0.0
        se = None
        if sigma > 1e-3:
            h = max(1e-4, sigma * 1e-2)
            curv = -(loglik(sigma - h) - 2 * loglik(sigma) + loglik(sigma + h)) / h**2
            se = float(1.0 / math.sqrt(curv)) if curv > 0 else None
        self.sigma_factor_ = float(sigma)
        self.sigma_factor_se_ = se
        self.factor_mean_ = float(np.mean(z))
        self.factor_table_ = pd.DataFrame(
            {
                "region_id": residuals["region_id"].to_numpy(dtype=object),
                "period": residuals["period"].to_numpy(dtype=object),
                "z_hat": z,
                "noise_sd": np.sqrt(s2),
            }
        )
        return self

    # ------------------------------------------------------------------ reports
    def _require_fitted(self) -> None:
        if not hasattr(self, "win_curve_"):
            raise BadInput("this Calibration is not fitted yet: call fit(opportunities, history, as_of=...) first")

    def summary(self, windows: tuple[int, ...] = (30, 90, 365)) -> pd.DataFrame:
        """Tidy table: parameter, group, estimate, n (one row per fitted figure)."""
        self._require_fitted()
        rows: list[tuple[str, str, float, float]] = []
        n_new = float(self.n_new_deals_)
        rows.append(("median_cycle_days", "company", self.median_cycle_days_, n_new))
        for r in self.time_to_close_.itertuples():
            rows.append((f"cycle_mean_days.{r.outcome}", "company", r.mean_days, r.n))
            rows.append((f"cycle_gamma_shape.{r.outcome}", "company", r.gamma_shape, r.n))
        rows.append(("win_rate_ultimate", "company", self.win_rate_ultimate_, n_new))
        for w in windows:
            rows.append((f"p_new_win_within_{w}d", "company", self.p_new_win_within(w), n_new))
        for c, r in enumerate(self.win_cells_.itertuples()):
            label = "all snapshots" if r.cell == POOLED else (
                " ".join(f"{col}={getattr(r, col)}" for col in self.group_cols_) + f" age={r.buckets}"
            )
            for w in windows:
                p = float(self.win_curve_[c, min(w, self.max_window_days)])
                rows.append((f"p_win_within_{w}d", label, p, r.n_deals))
        for name, table in (("win_rate", self.win_rate_), ("creation_rate", self.creation_rate_)):
            if table is None:
                continue
            for r in table.itertuples():
                grp = "company" if r.level == "company" else f"{r.level}:{r.group}"
                rows.append((name, grp, r.estimate, r.n))
        for r in self.deal_size_.itertuples():
            grp = "company" if r.level == "company" else f"{r.level}:{r.group}"
            rows.append(("deal_size_mean", grp, r.mean, r.n))
            rows.append(("deal_size_sd", grp, r.sd, r.n))
        for level, s in self.win_prior_strength_.items():
            rows.append(("prior_strength.win_rate", level, math.inf if s is None else s, math.nan))
        for level, s in (self.creation_prior_strength_ or {}).items():
            rows.append(("prior_strength.creation_rate", level, math.inf if s is None else s, math.nan))
        rows.append(("prior_strength.deal_size", self.size_by or "company",
                     math.inf if self.size_prior_strength_ is None else self.size_prior_strength_, math.nan))
        if self.sigma_factor_ is not None:
            rows.append(("sigma_factor", "company", self.sigma_factor_, float(len(self.factor_table_))))
        return pd.DataFrame(rows, columns=["parameter", "group", "estimate", "n"])

    def to_dict(self) -> dict[str, Any]:
        """Everything fitted, JSON-able (infinite prior strengths are null: complete pooling)."""
        self._require_fitted()
        curves = []
        for c, r in enumerate(self.win_cells_.itertuples()):
            curves.append(
                {
                    "cell": r.cell,
                    "group": {col: getattr(r, col) for col in self.group_cols_},
                    "age_buckets": r.buckets,
                    "n_deals": r.n_deals,
                    "n_snapshots": r.n_snapshots,
                    "p_win_within": np.round(self.win_curve_[c], 6),
                }
            )
        sizes = self.deal_size_.copy()
        qs = np.linspace(0, 1, 21)
        quant = []
        for r in sizes.itertuples():
            sel = self._amounts if r.level == "company" else self._amounts[self._amount_groups == r.group]
            quant.append(np.quantile(sel, qs) if len(sel) else None)
        sizes["quantiles_5pct"] = quant
        out = {
            "version": 1,
            "as_of": self.as_of_,
            "since": self.since_,
            "settings": {
                "shrinkage": self.shrinkage,
                "max_window_days": self.max_window_days,
                "min_deals": self.min_deals,
                "age_edges": self.age_edges,
                "size_by": self.size_by,
                "snapshot_days": self.snapshot_days_,
                "group_cols": self.group_cols_,
                "levels": self.levels_,
                "dropped_levels": self.dropped_levels_,
                "used_history": self.used_history_,
            },
            "n_deals": self.n_deals_,
            "n_closed": self.n_closed_,
            "median_cycle_days": self.median_cycle_days_,
            "age_bucket_days": self.age_bucket_days_,
            "time_to_close": _records(self.time_to_close_),
            "win_rate_ultimate": self.win_rate_ultimate_,
            "new_deal": {"n": self.n_new_deals_, "p_won_within": np.round(self.new_won_curve_, 6),
                          "p_lost_within": np.round(self.new_lost_curve_, 6)},
            "win_curves": curves,
            "win_rate": _records(self.win_rate_),
            "creation_window": self.creation_window_,
            "creation_rate": _records(self.creation_rate_),
            "creation_unmatched": self.creation_unmatched_,
            "deal_size": _records(sizes),
            "prior_strength": {
                "win_rate": self.win_prior_strength_,
                "creation_rate": self.creation_prior_strength_,
                "deal_size": self.size_prior_strength_,
            },
            "factor": None
            if self.sigma_factor_ is None
            else {"sigma": self.sigma_factor_, "se": self.sigma_factor_se_, "mean_z": self.factor_mean_,
                  "n": len(self.factor_table_)},
        }
        return _jsonable(out)


def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def _looks_closed(stage: str) -> bool:
    s = stage.lower()
    return "closed" in s or s in {"won", "lost"}


def _looks_won(stage: str) -> bool:
    s = stage.lower()
    return "won" in s and "not won" not in s
