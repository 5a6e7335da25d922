"""The generating process behind the forecast, with known parameters.

``simulate_book(params, start=..., end=..., rng=...)`` draws a book of
business (reps, territories, regions, accounts, opportunities and their stage
history) from :class:`ProcessParams`, and returns it with the truth that made
it, so :mod:`plancast.forecast.calibrate` can be tested by parameter recovery
(STYLE.md 5). The process (docs/methodology.md, "Forecast calibration"):

Organisation
    ``regions`` x ``territories_per_region`` territories (``EAST-1``, ...),
    each with ``reps_per_territory`` reps (``EAST-1-R01``, ...), each owning
    ``accounts_per_rep`` accounts (``EAST-1-A0001``, ...). A share
    ``unavailable_share`` of each territory's accounts (drawn at random) is
    unavailable for the whole book: they never create pipeline.
Creation
    On every available account of territory *t*, opportunities arrive as a
    Poisson process at ``r_t`` per account-year (a year is ``days_per_year``
    days) over ``[start, end)``; creation days are uniform. ``r_t =
    opp_rate``, or gamma-distributed across territories with mean
    ``opp_rate`` and coefficient of variation ``territory_opp_rate_cv``;
    ``territory_opp_rates`` overrides single territories.
Amount
    Lognormal with mean ``amount_mean`` and coefficient of variation
    ``amount_cv``, rounded to ``amount_step`` (at least one step).
Time to close
    Gamma with shape ``cycle_shape`` and mean ``cycle_mean_days``, rounded to
    whole days, at least 1. Every deal closes (won or lost).
Outcome and the shared factor
    Rep *i* has a base win probability ``p_i`` (``win_rate``; or
    Beta(κ·w, κ·(1 − w)) across reps with κ = ``rep_win_concentration``;
    ``rep_win_rates`` overrides single reps). Each (region, calendar quarter)
    draws ``Z ~ N(0, sigma_factor²)``; a deal of region *g* closing in quarter
    *q* is won with probability ``expit(logit(p_i) + Z[g, q])``. Deals closing
    in the same region and quarter are therefore correlated.
Stages
    The first of ``open_stages`` at creation, the next ones after
    ``stage_fractions`` of the deal's own cycle (whole days), then
    ``won_stage`` / ``lost_stage`` on the close date (as in ``plancast.demo``).
    The expected close date starts at creation + ``expected_cycle_days`` and
    is pushed by ``slip_days`` the day after it lapses while the deal is open.

The frames are the CRM as known at the end of the last simulated day
(``end − 1 day``); :meth:`Book.cut` gives the view as of any earlier day (a
prefix of the same history), and the truth keeps every deal's real outcome,
also those closing after ``end``. Everything is vectorised over accounts and
deals and drawn from the one ``numpy.random.Generator`` passed in (STYLE.md 12).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..events import ordered_events
from ..errors import BadInput

__all__ = ["Book", "BookTruth", "ProcessParams", "factor_residuals", "simulate_book"]

DateLike = date | str | pd.Timestamp | np.datetime64


# --------------------------------------------------------------------------- helpers
def _to_day(d: Any) -> int:
    """A date-like -> day number since 1970-01-01."""
    return int(np.datetime64(pd.Timestamp(d).normalize().date(), "D").astype(np.int64))


def _day_dates(days: np.ndarray) -> np.ndarray:
    """Day numbers since 1970-01-01 -> datetime64[ns] at midnight."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")


def _quarter_index(days: np.ndarray) -> np.ndarray:
    """Day numbers -> calendar quarter index ``year × 4 + quarter − 1``."""
    months = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return (months // 12 + 1970) * 4 + (months % 12) // 3


def _quarter_label(qidx: np.ndarray) -> np.ndarray:
    qidx = np.asarray(qidx, dtype=np.int64)
    return np.char.add(np.char.add((qidx // 4).astype(str), "Q"), (qidx % 4 + 1).astype(str)).astype(object)


def _quarter_start(qidx: np.ndarray) -> np.ndarray:
    qidx = np.asarray(qidx, dtype=np.int64)
    months = (qidx // 4 - 1970) * 12 + (qidx % 4) * 3
    return months.astype("datetime64[M]").astype("datetime64[D]").astype("datetime64[ns]")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class ProcessParams:
    """The parameters of the generating process (see the module docstring)."""

    regions: tuple[str, ...] = ("East", "Central", "West")
    territories_per_region: int = 2
    reps_per_territory: int = 5
    accounts_per_rep: int = 20
    #: (rep_id, accounts) overrides of accounts_per_rep for single reps (at least 1)
    rep_accounts: tuple[tuple[str, int], ...] = ()
    #: share of each territory's accounts unavailable for the whole book
    unavailable_share: float = 0.0
    #: qualified opportunities per available account-year
    opp_rate: float = 1.4
    territory_opp_rate_cv: float = 0.0
    territory_opp_rates: tuple[tuple[str, float], ...] = ()
    #: base (factor-free) win probability per rep
    win_rate: float = 0.2
    rep_win_concentration: float | None = None
    rep_win_rates: tuple[tuple[str, float], ...] = ()
    amount_mean: float = 85_000.0
    amount_cv: float = 0.5
    amount_step: float = 100.0
    cycle_mean_days: float = 90.0
    cycle_shape: float = 4.0
    open_stages: tuple[str, ...] = ("Qualification", "Discovery", "Proposal", "Negotiation")
    #: share of the deal's cycle after which it enters open_stages[1:]
    stage_fractions: tuple[float, ...] = (0.25, 0.50, 0.75)
    won_stage: str = "Closed Won"
    lost_stage: str = "Closed Lost"
    expected_cycle_days: int = 90
    slip_days: int = 30
    #: standard deviation of the (region, quarter) logit-scale shift of win probabilities
    sigma_factor: float = 0.3
    days_per_year: float = 365.0

    def __post_init__(self) -> None:
        problems = []
        if not self.regions:
            problems.append("regions must not be empty")
        if min(self.territories_per_region, self.reps_per_territory, self.accounts_per_rep) < 1:
            problems.append("territories_per_region, reps_per_territory and accounts_per_rep must be >= 1")
        if not 0.0 <= self.unavailable_share < 1.0:
            problems.append("unavailable_share must be in [0, 1)")
        if self.opp_rate <= 0 or self.territory_opp_rate_cv < 0:
            problems.append("opp_rate must be > 0 and territory_opp_rate_cv >= 0")
        if not 0.0 < self.win_rate < 1.0:
            problems.append("win_rate must be in (0, 1)")
        if any(not 0.0 < p < 1.0 for _, p in self.rep_win_rates):
            problems.append("rep_win_rates must be in (0, 1)")
        if self.rep_win_concentration is not None and self.rep_win_concentration <= 0:
            problems.append("rep_win_concentration must be > 0")
        if self.amount_mean <= 0 or self.amount_cv < 0 or self.amount_step <= 0:
            problems.append("amount_mean and amount_step must be > 0, amount_cv >= 0")
        if self.cycle_mean_days <= 0 or self.cycle_shape <= 0:
            problems.append("cycle_mean_days and cycle_shape must be > 0")
        if len(self.stage_fractions) != len(self.open_stages) - 1 or any(
            not 0.0 < f < 1.0 for f in self.stage_fractions
        ):
            problems.append("stage_fractions needs one fraction in (0, 1) per open stage after the first")
        if self.sigma_factor < 0:
            problems.append("sigma_factor must be >= 0")
        if self.expected_cycle_days < 1 or self.slip_days < 1:
            problems.append("expected_cycle_days and slip_days must be >= 1")
        if problems:
            raise BadInput("ProcessParams: " + "; ".join(problems))

    @property
    def stages(self) -> tuple[str, ...]:
        """Every stage in order: the open ones, then won, then lost."""
        return (*self.open_stages, self.won_stage, self.lost_stage)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class BookTruth:
    """What generated a book: the figures a calibration should recover."""

    params: ProcessParams
    #: base (factor-free) win probability per rep_id
    rep_win_rate: pd.Series
    #: creation rate per available account-year, per territory_id
    territory_opp_rate: pd.Series
    #: the shared factor: region_id, period ("2025Q3"), period_start, z
    factor: pd.DataFrame
    #: every deal ever created in the book, with its real (possibly future) outcome:
    #: opportunity_id, account_id, owner_id, territory_id, region_id, amount,
    #: created_date, close_date, cycle_days, period (of the close), p_base, p_win, won
    deals: pd.DataFrame

    def marginal_win_rate(self, p_base: float | None = None) -> float:
        """``E_Z[expit(logit(p) + Z)]``, Z ~ N(0, sigma_factor²): the win rate a fit without
        the factor sees (Gauss–Hermite, 64 nodes). ``p_base`` defaults to ``params.win_rate``."""
        p = self.params.win_rate if p_base is None else p_base
        x, w = np.polynomial.hermite_e.hermegauss(64)
        return float(np.sum(w * _expit(_logit(p) + self.params.sigma_factor * x)) / np.sqrt(2 * np.pi))


@dataclass(frozen=True)
class Book:
    """A simulated book of business and the truth behind it."""

    params: ProcessParams
    start: pd.Timestamp
    end: pd.Timestamp  # exclusive
    #: rep_id, territory_id, region_id
    reps: pd.DataFrame
    #: account_id, owner_id, territory_id, region_id, available
    accounts: pd.DataFrame
    #: canonical opportunity columns (+ territory_id, region_id), as known at ``as_of``
    opportunities: pd.DataFrame
    #: opportunity_id, changed_at, stage, amount, close_date (+ history_id), up to ``as_of``
    history: pd.DataFrame
    truth: BookTruth

    @property
    def as_of(self) -> pd.Timestamp:
        """The day the frames are known at: the last simulated day (``end − 1 day``)."""
        return self.end - pd.Timedelta(days=1)

    def stages(self) -> pd.DataFrame:
        """stage, sort_order, is_closed, is_won (the ``stages`` import kind)."""
        names = self.params.stages
        k = len(self.params.open_stages)
        return pd.DataFrame(
            {
                "stage": list(names),
                "sort_order": np.arange(1, len(names) + 1),
                "is_closed": np.arange(len(names)) >= k,
                "is_won": np.arange(len(names)) == k,
            }
        )

    def cut(self, as_of: DateLike) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(opportunities, history) as the CRM knew them at the end of ``as_of``.

        History rows dated after ``as_of`` do not exist yet; each deal created by
        then shows its last state on or before ``as_of``.
        """
        day = _to_day(as_of)
        if day > _to_day(self.as_of):
            raise BadInput(f"cut: as_of {pd.Timestamp(as_of).date()} is after the book's last day {self.as_of.date()}")
        h = self.history
        h = h[h["changed_at"].to_numpy() <= _day_dates(np.asarray([day]))[0]]
        last = h.drop_duplicates("opportunity_id", keep="last").set_index("opportunity_id")
        o = self.opportunities
        o = o[o["opportunity_id"].isin(last.index)].copy()
        state = last.loc[o["opportunity_id"].to_numpy()]
        o["amount"] = state["amount"].to_numpy()
        o["stage"] = state["stage"].to_numpy()
        o["close_date"] = state["close_date"].to_numpy()
        o["is_closed"] = np.isin(o["stage"].to_numpy(), [self.params.won_stage, self.params.lost_stage])
        o["is_won"] = o["stage"].to_numpy() == self.params.won_stage
        return o.reset_index(drop=True), h.reset_index(drop=True)

    def exposure(
        self, start: DateLike | None = None, end: DateLike | None = None, *, by: str = "territory"
    ) -> pd.DataFrame:
        """Available account-years over ``[start, end)`` (default: the whole book).

        ``by="territory"``: territory_id, region_id, account_years;
        ``by="rep"``: rep_id, territory_id, region_id, account_years.
        """
        s = _to_day(self.start if start is None else start)
        e = _to_day(self.end if end is None else end)
        s, e = max(s, _to_day(self.start)), min(e, _to_day(self.end))
        years = max(e - s, 0) / self.params.days_per_year
        acc = self.accounts
        keys = ["owner_id", "territory_id", "region_id"] if by == "rep" else ["territory_id", "region_id"]
        out = (
            acc.assign(account_years=acc["available"].to_numpy(dtype=float) * years)
            .groupby(keys, sort=False, as_index=False)["account_years"]
            .sum()
        )
        return out.rename(columns={"owner_id": "rep_id"})


# --------------------------------------------------------------------------- the process
def simulate_book(
    params: ProcessParams, *, start: DateLike, end: DateLike, rng: np.random.Generator
) -> Book:
    """Draw a book of business from ``params`` over ``[start, end)`` with ``rng``."""
    if not isinstance(rng, np.random.Generator):
        raise BadInput("simulate_book: rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(42))")
    s_day, e_day = _to_day(start), _to_day(end)
    if e_day <= s_day:
        raise BadInput(
            f"simulate_book: end {pd.Timestamp(end).date()} must be after start {pd.Timestamp(start).date()}"
        )
    span = e_day - s_day
    p = params
    n_reg, n_ter, n_rep_t, n_acc_r = len(p.regions), p.territories_per_region, p.reps_per_territory, p.accounts_per_rep

    # organisation
    ter_region = np.repeat(np.arange(n_reg), n_ter)
    ter_ids = np.asarray(
        [f"{p.regions[g].upper()}-{k + 1}" for g in range(n_reg) for k in range(n_ter)], dtype=object
    )
    n_t = len(ter_ids)
    rep_ter = np.repeat(np.arange(n_t), n_rep_t)
    rep_no = np.char.zfill((np.arange(len(rep_ter)) % n_rep_t + 1).astype(str), 2)
    rep_ids = np.char.add(ter_ids[rep_ter].astype(str), np.char.add("-R", rep_no)).astype(object)
    n_r = len(rep_ids)
    n_acc_rep = _override(np.full(n_r, n_acc_r, np.int64), rep_ids, p.rep_accounts, "rep_accounts")
    if (n_acc_rep < 1).any():
        raise BadInput("simulate_book: rep_accounts must give every rep at least 1 account")
    acc_rep = np.repeat(np.arange(n_r), n_acc_rep)
    acc_ter = rep_ter[acc_rep]
    n_a = len(acc_rep)
    acc_in_ter = np.arange(n_a) - np.searchsorted(acc_ter, acc_ter, side="left")
    acc_ids = np.char.add(
        ter_ids[acc_ter].astype(str), np.char.add("-A", np.char.zfill((acc_in_ter + 1).astype(str), 4))
    ).astype(object)
    region_names = np.asarray(p.regions, dtype=object)

    # rep win rates, territory creation rates
    if p.rep_win_concentration is not None:
        k = p.rep_win_concentration
        rep_p = rng.beta(k * p.win_rate, k * (1.0 - p.win_rate), size=n_r)
    else:
        rep_p = np.full(n_r, p.win_rate)
    rep_p = _override(rep_p, rep_ids, p.rep_win_rates, "rep_win_rates")
    if p.territory_opp_rate_cv > 0:
        shape = 1.0 / p.territory_opp_rate_cv**2
        ter_r = rng.gamma(shape, p.opp_rate / shape, size=n_t)
    else:
        ter_r = np.full(n_t, p.opp_rate)
    ter_r = _override(ter_r, ter_ids, p.territory_opp_rates, "territory_opp_rates")

    # availability: the first round(share x n) accounts of each territory by a random key
    key = rng.random(n_a)
    order = np.lexsort((key, acc_ter))
    rank = np.empty(n_a, np.int64)
    rank[order] = np.arange(n_a) - np.searchsorted(acc_ter[order], acc_ter[order], side="left")
    per_ter = np.bincount(acc_ter, minlength=n_t)
    n_off = np.rint(p.unavailable_share * per_ter).astype(np.int64)
    available = rank >= n_off[acc_ter]

    # creation
    counts = rng.poisson(ter_r[acc_ter] / p.days_per_year * span * available)
    acc = np.repeat(np.arange(n_a), counts)
    n = len(acc)
    t = rng.random(n) * span
    created = s_day + np.floor(t).astype(np.int64)
    sigma2 = np.log1p(p.amount_cv**2)
    amount = rng.lognormal(np.log(p.amount_mean) - sigma2 / 2, np.sqrt(sigma2), size=n)
    amount = np.maximum(np.round(amount / p.amount_step), 1) * p.amount_step
    cycle = np.maximum(np.rint(rng.gamma(p.cycle_shape, p.cycle_mean_days / p.cycle_shape, size=n)), 1).astype(
        np.int64
    )
    close = created + cycle
    rep = acc_rep[acc]
    ter = acc_ter[acc]
    reg = ter_region[ter]

    # the shared factor per (region, quarter of the close), and the outcomes
    q0 = int(_quarter_index(np.asarray([s_day]))[0])
    q1 = int(_quarter_index(np.asarray([close.max() if n else s_day]))[0])
    n_q = q1 - q0 + 1
    z = rng.normal(0.0, 1.0, size=(n_reg, n_q)) * p.sigma_factor
    q_close = _quarter_index(close)
    p_base = rep_p[rep]
    p_win = _expit(_logit(p_base) + z[reg, q_close - q0])
    won = rng.random(n) < p_win

    # deal order: by creation day, then account, then continuous time
    srt = np.lexsort((t, acc, created))
    acc, created, amount, cycle, close, rep, ter, reg, q_close, p_base, p_win, won = (
        a[srt] for a in (acc, created, amount, cycle, close, rep, ter, reg, q_close, p_base, p_win, won)
    )
    opp_ids = np.char.add("OPP-", np.char.zfill(np.arange(1, n + 1).astype(str), 6)).astype(object)

    history = _history(p, opp_ids, created, cycle, close, won, amount, last_day=e_day - 1)
    last = history.drop_duplicates("opportunity_id", keep="last")
    last_stage = last["stage"].to_numpy(dtype=object)
    opportunities = pd.DataFrame(
        {
            "opportunity_id": opp_ids,
            "account_id": acc_ids[acc],
            "owner_id": rep_ids[rep],
            "amount": amount,
            "stage": last_stage,
            "created_date": _day_dates(created),
            "close_date": last["close_date"].to_numpy(),
            "is_closed": np.isin(last_stage, [p.won_stage, p.lost_stage]),
            "is_won": last_stage == p.won_stage,
            "territory_id": ter_ids[ter],
            "region_id": region_names[reg],
        }
    )

    qs = np.arange(q0, q1 + 1)
    factor = pd.DataFrame(
        {
            "region_id": np.repeat(region_names, n_q),
            "period": np.tile(_quarter_label(qs), n_reg),
            "period_start": np.tile(_quarter_start(qs), n_reg),
            "z": z.ravel(),
        }
    )
    deals = pd.DataFrame(
        {
            "opportunity_id": opp_ids,
            "account_id": acc_ids[acc],
            "owner_id": rep_ids[rep],
            "territory_id": ter_ids[ter],
            "region_id": region_names[reg],
            "amount": amount,
            "created_date": _day_dates(created),
            "close_date": _day_dates(close),
            "cycle_days": cycle,
            "period": _quarter_label(q_close),
            "p_base": p_base,
            "p_win": p_win,
            "won": won,
        }
    )
    truth = BookTruth(
        params=p,
        rep_win_rate=pd.Series(rep_p, index=pd.Index(rep_ids, name="rep_id"), name="win_rate"),
        territory_opp_rate=pd.Series(ter_r, index=pd.Index(ter_ids, name="territory_id"), name="opp_rate"),
        factor=factor,
        deals=deals,
    )
    reps = pd.DataFrame(
        {"rep_id": rep_ids, "territory_id": ter_ids[rep_ter], "region_id": region_names[ter_region[rep_ter]]}
    )
    accounts = pd.DataFrame(
        {
            "account_id": acc_ids,
            "owner_id": rep_ids[acc_rep],
            "territory_id": ter_ids[acc_ter],
            "region_id": region_names[ter_region[acc_ter]],
            "available": available,
        }
    )
    return Book(
        params=p,
        start=pd.Timestamp(_day_dates(np.asarray([s_day]))[0]),
        end=pd.Timestamp(_day_dates(np.asarray([e_day]))[0]),
        reps=reps,
        accounts=accounts,
        opportunities=opportunities,
        history=history,
        truth=truth,
    )


def _override(values: np.ndarray, ids: np.ndarray, pairs: tuple[tuple[str, float], ...], what: str) -> np.ndarray:
    if not pairs:
        return values
    out = values.copy()
    pos = pd.Index(ids).get_indexer([k for k, _ in pairs])
    if (pos < 0).any():
        unknown = [k for (k, _), i in zip(pairs, pos, strict=True) if i < 0]
        raise BadInput(f"simulate_book: {what} names unknown ids {unknown}; ids look like {ids[0]!r}")
    out[pos] = [v for _, v in pairs]
    return out


def _history(
    p: ProcessParams,
    opp_ids: np.ndarray,
    created: np.ndarray,
    cycle: np.ndarray,
    close: np.ndarray,
    won: np.ndarray,
    amount: np.ndarray,
    *,
    last_day: int,
) -> pd.DataFrame:
    """One row per change (creation, stage changes, close-date pushes, the close) up to ``last_day``."""
    n = len(opp_ids)
    k_open = len(p.open_stages)
    idx = np.arange(n)
    first_expected = created + p.expected_cycle_days
    ev_opp, ev_day, ev_ord, ev_stage, ev_close = [idx], [created], [np.zeros(n, np.int64)], [np.zeros(n)], [
        first_expected.astype(float)
    ]
    for k, f in enumerate(p.stage_fractions, start=1):  # one stage change per later open stage
        ev_opp.append(idx)
        ev_day.append(created + np.floor(cycle * f).astype(np.int64))
        ev_ord.append(np.full(n, k, np.int64))
        ev_stage.append(np.full(n, float(k)))
        ev_close.append(np.full(n, np.nan))
    # pushes: the day after the expected date lapses, while the deal is open
    last = np.minimum(close - 1, last_day)
    n_push = np.where(last >= first_expected + 1, (last - (first_expected + 1)) // p.slip_days + 1, 0)
    p_opp = np.repeat(idx, n_push)
    p_j = np.arange(len(p_opp)) - np.repeat(np.cumsum(n_push) - n_push, n_push)
    ev_opp.append(p_opp)
    ev_day.append(first_expected[p_opp] + 1 + p.slip_days * p_j)
    ev_ord.append(np.full(len(p_opp), k_open, np.int64))
    ev_stage.append(np.full(len(p_opp), np.nan))
    ev_close.append((first_expected[p_opp] + p.slip_days * (p_j + 1)).astype(float))
    ev_opp.append(idx)
    ev_day.append(close)
    ev_ord.append(np.full(n, k_open + 1, np.int64))
    ev_stage.append(np.where(won, k_open, k_open + 1).astype(float))
    ev_close.append(close.astype(float))

    e_opp, e_day, e_stage, e_close, seq = ordered_events(ev_opp, ev_day, ev_ord, ev_stage, ev_close, last_day)
    names = np.asarray(p.stages, dtype=object)
    return pd.DataFrame(
        {
            "history_id": np.char.add(
                opp_ids[e_opp].astype(str), np.char.add("-", np.char.zfill(seq.astype(str), 2))
            ).astype(object),
            "opportunity_id": opp_ids[e_opp],
            "changed_at": _day_dates(e_day),
            "stage": names[e_stage],
            "amount": amount[e_opp],
            "close_date": _day_dates(e_close),
        }
    )


# --------------------------------------------------------------------------- factor residuals
def factor_residuals(book: Book, *, start: DateLike | None = None, end: DateLike | None = None) -> pd.DataFrame:
    """Observed vs predicted won amounts per (region, quarter of close), from the truth.

    For the deals closing in ``[start, end)`` (default: the whole book; only whole
    quarters are kept): ``observed = Σ amount × won``, ``predicted = Σ amount × p_base``
    (the model without the factor), ``predicted_var = Σ amount² × p_base × (1 − p_base)``
    (the variance if deals were independent) and ``p_win = predicted / Σ amount``.
    This is what a perfect backtest would hand :meth:`Calibration.fit_factor`.
    """
    d = book.truth.deals
    s = _to_day(book.start if start is None else start)
    e = _to_day(book.end if end is None else end)
    close = d["close_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    q = _quarter_index(close)
    # whole quarters inside [s, e)
    q_s = int(_quarter_index(np.asarray([s]))[0])
    q_first = q_s if s == _quarter_day(q_s) else q_s + 1
    q_last = int(_quarter_index(np.asarray([e]))[0]) - 1
    keep = (q >= q_first) & (q <= q_last)
    d = d[keep]
    a = d["amount"].to_numpy()
    pb = d["p_base"].to_numpy()
    frame = pd.DataFrame(
        {
            "region_id": d["region_id"].to_numpy(),
            "period": d["period"].to_numpy(),
            "observed": a * d["won"].to_numpy(),
            "predicted": a * pb,
            "predicted_var": a**2 * pb * (1 - pb),
            "pipeline": a,
        }
    )
    out = frame.groupby(["region_id", "period"], sort=True, as_index=False).sum()
    out["p_win"] = out["predicted"] / out["pipeline"]
    return out.drop(columns="pipeline")


def _quarter_day(qidx: int) -> int:
    return int(_quarter_start(np.asarray([qidx])).astype("datetime64[D]").astype(np.int64)[0])
