"""The attainment distribution of one period, per entity at every level of the hierarchy.

Attainment = closed-won so far + open deals that close-win inside the period +
pipeline not yet created that is created and won inside the period. The result
is a distribution: mean, sd, P10/P50/P90 and the probability of reaching a
target (quota) for every rep, territory, region, segment and the company.

Model (docs/methodology.md, "Forecast")
---------------------------------------
Open deal *i*: rep ``r(i)``, amount ``a_i > 0``, calibrated probability ``p_i``
that it closes won inside the period, factor group ``g(i)`` (e.g. its region).

Shared factor: ``W_g = Z_0 + Z_g`` with ``Z_0 ~ N(0, sigma_company²)`` (one
draw for the company) and ``Z_g ~ N(0, sigma_g²)`` (one per group), all
independent. Given the factor, deals are independent and deal *i* is won with
probability ``p_i' = expit(eta_i + W_g(i))``.

* ``center=True`` (default): ``eta_i = logit(p_i) + delta(p_i, s_g)`` where the
  shift ``delta`` solves ``E[expit(logit p + delta + W)] = p`` for
  ``W ~ N(0, s_g²)``, ``s_g² = sigma_company² + sigma_g²``. A calibrated ``p`` is
  a marginal frequency (history pools good and bad quarters), so the factor
  must widen the distribution without moving its mean: E[attainment] is
  exactly ``closed + Σ p·a + Σ lam·size_mean`` for any sigma.
* ``center=False``: ``eta_i = logit(p_i)``, the plain ``expit(logit p + Z)`` of
  ``plancast.forecast.calibrate.fit_factor``; the factor then also moves the
  mean (towards ``p = 1/2``).

New pipeline of rep *r*: the number of deals created *and* won inside the
period is Poisson with mean ``lam_r · m_g(W_g)``, ``g`` the rep's group, and
each such deal's size is Gamma with the rep's ``size_mean`` and ``size_sd``
(``size_sd = 0``: every deal is exactly ``size_mean``). The multiplier is the
factor's effect on a deal of reference probability ``pbar`` (``new_p``):
``m_g(w) = expit(eta_bar_g + w) / pbar``, centred like the deals, so
``E[m_g] = 1`` with ``center=True`` (and ``m_g ≡ 1`` when the factor is off).
Gamma sizes keep both methods exact and cheap: a sum of ``n`` Gamma(k, θ)
sizes is Gamma(n·k, θ) (one draw per rep and simulation), and the compound
Poisson has every cumulant in closed form, ``κ_n = lam · E[size^n]``.

Roll-ups add outcomes. An entity's outcome is the sum of its reps' outcomes in
the same simulated period; quantiles are never added.

Two methods
-----------
:func:`monte_carlo` is the reference: per simulation, one factor draw per group
shared by all its deals, one uniform per deal, Poisson/Gamma new pipeline per
rep; outcomes summed up the hierarchy, quantiles read from the simulated sums.
Vectorised and chunked (chunks of simulations × blocks of deals that fit in
cache, on ``threads`` threads, each chunk with its own spawned generator, so a
result depends on ``rng`` and ``chunk`` only, not on ``threads``). The win test
needs no exponential per deal: with odds ``o_i = exp(eta_i)`` and ``ω = exp(W)``,
``U < expit(eta + W)  ⇔  U·(1 + o·ω) < o·ω``.

:func:`fast` is semi-analytic. Given the factor, an entity's outcome is a
convolution of Bernoulli×amount terms and compound Poissons, so its cumulants
are sums of per-deal cumulants and roll up by addition. The factor enters
through one standard-normal coordinate ``u`` per group (``W_g = s_g·u``);
conditional cumulants are tabulated on a uniform grid of ``u`` (41 points,
spacing 1/3, |u| ≤ 6⅔), which is also the quadrature: the trapezoidal rule on
a uniform grid is spectrally accurate for smooth integrands against the
normal density (with r = conditional sd / the factor's effect on the mean, the
error is about exp(−2π² r²/((1 + r²)Δu²)): spacing 1/3 serves r ≥ 0.3, and
entities with r ≥ 1 (≥ 2) use every 2nd (3rd) node). Per entity, by its shape:

``lattice`` (at most ``lattice_max_deals`` open deals): exact distribution on
    an amount grid spanning [0, an amount exceeded with probability < 1e-8]
    with a step ≤ 1e-3 of the entity's scale (``lattice_points`` … 65,536
    points), per factor node: deal amounts split between the two neighbouring
    grid points so the mean is kept, the product of the deals' discrete
    Fourier transforms times the compound Poisson's ``exp(lam'(G − 1))`` (G:
    the transform of the Gamma size distribution discretised on the grid), one
    inverse FFT; the mixture over factor nodes is a weighted sum of CDFs,
    inverted on the grid. Exact in the limit of a fine grid.
``hybrid`` (many deals, factor not dominant): the up to ``big_deals`` largest
    deals with amount ≥ ``big_deal_sd`` × the entity's conditional sd are
    enumerated exactly (2^m combinations); the rest (the bulk, with the new
    pipeline) is a second-order Edgeworth expansion from its four exact
    conditional cumulants. Mixture CDF = Σ nodes Σ combinations; quantiles by
    vectorised safeguarded Newton from a Cornish–Fisher start.
``sharp`` (conditional sd < 0.3 × the factor's effect — regions, segments): the
    mixture CDF is integrated the other way round, ``F(x) = Σ_ζ w_ζ Φ(u*(ζ, x))``
    where ``u*`` solves ``x_ζ(u) = x`` for the conditional (Cornish–Fisher)
    quantile at level ``Φ(ζ)``; smooth in ζ exactly when the u-integral is not.
``multi`` (deals in several factor groups — usually only the company): the
    factor is multi-dimensional; antithetic normal draws of ``(Z_0, Z_g)``
    (``factor_points``, fewer — at least 1,024 — when many entities are
    multi); at each, the conditional cumulants are the sum of the groups'
    tabulated cumulants (cubic interpolation in u) and the conditional is the
    ``hybrid`` one (with up to 6 deals enumerated when the entity has few);
    mixture by averaging. Mean and sd exact by nested quadrature.
``const``: no open deals and no new pipeline: the closed amount.

Entities are the integers ``0..n-1`` of each level; names belong to the caller.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss

from ..errors import BadInput, Problem

__all__ = [
    "DEFAULT_LEVELS",
    "ForecastInputs",
    "fast",
    "forecast_inputs",
    "monte_carlo",
    "simulate",
    "summarize",
]

DEFAULT_LEVELS = ("rep", "territory", "region", "segment", "company")
QUANTILES = (0.1, 0.5, 0.9)

_LOGIT_CLIP = 36.0  # |logit p| ≤ 36: p = 1 - 2e-16 is "certain"
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# the u-grid: quadrature nodes and interpolation table (see the module docstring)
_U_STEP = 1.0 / 3.0
_U = np.arange(-20, 21) * _U_STEP
_UW = np.exp(-0.5 * _U * _U)
_UW /= _UW.sum()
_SHARP_RATIO = 0.3  # below: integrate over ζ (conditional level) instead of u
_FINE = 10  # the sharp method refines the u-table 10x by cubic interpolation


# ----------------------------------------------------------------------------- numerics
def _erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function, fractional error < 1.2e-7 (Numerical Recipes ``erfcc``)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    ans = t * np.exp(np.maximum(poly, -745.0))
    return np.where(x >= 0, ans, 2.0 - ans)


def _ndtr(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF."""
    return 0.5 * _erfc(-np.asarray(x, dtype=float) / _SQRT2)


def _npdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * np.minimum(x * x, 1400.0)) * _INV_SQRT_2PI


def _expit(y: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(y, -700.0, 700.0)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        out = np.log(p) - np.log1p(-p)
    return np.clip(out, -_LOGIT_CLIP, _LOGIT_CLIP)


def _edgeworth(z: np.ndarray, g1: np.ndarray, g2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Second-order Edgeworth CDF and density (per unit of ``z``) of a standardised sum.

    ``F = Φ − φ (γ1/6 He2 + γ2/24 He3 + γ1²/72 He5)``, ``f = φ (1 + γ1/6 He3 + γ2/24 He4
    + γ1²/72 He6)``; clipped to [0, 1] and ≥ 0.
    """
    z = np.clip(z, -40.0, 40.0)
    z2 = z * z
    phi = _npdf(z)
    a = g1 / 6.0
    b = g2 / 24.0
    c = g1 * g1 / 72.0
    he2 = z2 - 1.0
    he3 = z * (z2 - 3.0)
    he4 = z2 * (z2 - 6.0) + 3.0
    he5 = z * (z2 * (z2 - 10.0) + 15.0)
    he6 = z2 * (z2 * (z2 - 15.0) + 45.0) - 15.0
    F = _ndtr(z) - phi * (a * he2 + b * he3 + c * he5)
    f = phi * (1.0 + a * he3 + b * he4 + c * he6)
    return np.clip(F, 0.0, 1.0), np.maximum(f, 0.0)


def _cornish_fisher(z: np.ndarray | float, g1: np.ndarray, g2: np.ndarray) -> np.ndarray:
    """Standardised quantile at normal score ``z`` from skewness ``g1`` and excess kurtosis ``g2``."""
    z2 = z * z
    return z + (z2 - 1.0) * g1 / 6.0 + z * (z2 - 3.0) * g2 / 24.0 - z * (2.0 * z2 - 5.0) * g1 * g1 / 36.0


def _shape(k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean, sd, skewness, excess kurtosis) from cumulants ``k[..., 0:4]``; sd ≥ a tiny floor."""
    mu = k[..., 0]
    var = np.maximum(k[..., 1], 0.0)
    floor = 1e-12 * (np.abs(mu) + 1.0)
    s = np.sqrt(var)
    ok = s > floor
    s = np.where(ok, s, floor)
    g1 = np.where(ok, k[..., 2] / (s * s * s), 0.0)
    g2 = np.where(ok, k[..., 3] / (s * s * s * s), 0.0)
    # the expansion is only meaningful for moderate shape; keep it sane where a bulk is tiny
    return mu, s, np.clip(g1, -4.0, 4.0), np.clip(g2, -6.0, 24.0)


def _lagrange4(table: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Cubic (4-point Lagrange) interpolation on the u-grid.

    ``table``: (..., 41, c) values at ``_U``; ``u``: (..., n) points (clamped to the grid).
    Returns (..., n, c). The leading dimensions of ``table`` and ``u`` must match.
    """
    x = (np.clip(u, _U[0], _U[-1]) - _U[0]) / _U_STEP
    i = np.clip(np.floor(x).astype(np.intp) - 1, 0, len(_U) - 4)
    t = x - i  # in [0, 3]: nodes at 0, 1, 2, 3
    w0 = -(t - 1.0) * (t - 2.0) * (t - 3.0) / 6.0
    w1 = t * (t - 2.0) * (t - 3.0) / 2.0
    w2 = -t * (t - 1.0) * (t - 3.0) / 2.0
    w3 = t * (t - 1.0) * (t - 2.0) / 6.0
    out = 0.0
    for j, w in enumerate((w0, w1, w2, w3)):
        gathered = np.take_along_axis(table, np.broadcast_to((i + j)[..., None], u.shape + (table.shape[-1],)), axis=-2)
        out = out + w[..., None] * gathered
    return out


def _lgamma(a: np.ndarray) -> np.ndarray:
    return np.vectorize(math.lgamma, otypes=[float])(a)


def _gammainc(a: np.ndarray, x: np.ndarray, iters: int = 400) -> np.ndarray:
    """Regularised lower incomplete gamma P(a, x), vectorised (series below a+1, continued fraction above)."""
    a, x = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(x, dtype=float))
    out = np.zeros(a.shape)
    pos = x > 0
    if not pos.any():
        return out
    aa, xx = a[pos], x[pos]
    ua, inv = np.unique(aa, return_inverse=True)
    lead = np.exp(np.clip(aa * np.log(xx) - xx - _lgamma(ua)[inv], -745.0, 700.0))
    ser = xx < aa + 1.0
    res = np.empty(aa.shape)
    if ser.any():
        a1, x1 = aa[ser], xx[ser]
        term = 1.0 / a1
        total = term.copy()
        ap = a1.copy()
        for _ in range(iters):
            ap += 1.0
            term *= x1 / ap
            total += term
            if np.all(np.abs(term) < np.abs(total) * 1e-15):
                break
        res[ser] = total * lead[ser]
    cf = ~ser
    if cf.any():
        a2, x2 = aa[cf], xx[cf]
        tiny = 1e-300
        b = x2 + 1.0 - a2
        c = np.full(a2.shape, 1.0 / tiny)
        d = 1.0 / b
        h = d.copy()
        for n in range(1, iters):
            an = -n * (n - a2)
            b = b + 2.0
            d = an * d + b
            d = np.where(np.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            d = 1.0 / d
            delta = d * c
            h = h * delta
            if np.all(np.abs(delta - 1.0) < 1e-15):
                break
        res[cf] = 1.0 - lead[cf] * h
    out[pos] = np.clip(res, 0.0, 1.0)
    return out


def _centring_shift(logit_p: np.ndarray, s: float) -> np.ndarray:
    """``delta`` with ``E[expit(l + delta + s·X)] = expit(l)``, X ~ N(0, 1), for each ``l``.

    Solved by Newton on a grid of ``l`` (Gauss–Hermite, 64 nodes) and interpolated;
    ``delta(−l) = −delta(l)`` and ``delta → ∓s²/2`` as ``l → ∓∞``.
    """
    logit_p = np.asarray(logit_p, dtype=float)
    if s <= 0:
        return np.zeros(logit_p.shape)
    grid = np.linspace(-_LOGIT_CLIP, 0.0, 3601)
    x, w = hermegauss(64)
    w = w / w.sum()
    target = grid - np.log1p(np.exp(grid))  # log expit(grid), grid ≤ 0
    d = np.zeros(grid.shape)
    for _ in range(60):
        p = _expit(grid[:, None] + d[:, None] + s * x[None, :])
        m = p @ w
        mp = (p * (1.0 - p)) @ w
        step = (np.log(m) - target) * m / mp
        d -= step
        if np.max(np.abs(step)) < 1e-13:
            break
    d[np.abs(grid) < 1e-12] = 0.0
    mag = np.interp(-np.abs(logit_p), grid, d)  # delta at −|l| (≤ 0 side)
    return np.where(logit_p <= 0, mag, -mag)


# ----------------------------------------------------------------------------- inputs
@dataclass(frozen=True, eq=False)
class ForecastInputs:
    """Validated inputs of one period's attainment forecast; build with :func:`forecast_inputs`.

    Rep-indexed arrays have one entry per rep. ``parents[k]`` maps the entities
    of level ``k`` to level ``k + 1`` (level 0 is reps). ``quota[k]`` holds the
    target of each entity of level ``k`` (NaN: none).
    """

    deal_rep: np.ndarray
    deal_amount: np.ndarray
    deal_p: np.ndarray
    deal_group: np.ndarray
    rep_lam: np.ndarray
    rep_size_mean: np.ndarray
    rep_size_sd: np.ndarray
    rep_closed: np.ndarray
    rep_group: np.ndarray
    parents: tuple[np.ndarray, ...]
    levels: tuple[str, ...]
    sizes: tuple[int, ...]
    sigma: np.ndarray
    sigma_company: float
    new_p: float
    center: bool
    quota: tuple[np.ndarray, ...]
    # derived
    group_sd: np.ndarray  # s_g = sqrt(sigma_company² + sigma_g²)
    deal_eta: np.ndarray  # centred logit of each deal
    group_eta_new: np.ndarray  # centred logit of new_p, per group
    ancestors: tuple[np.ndarray, ...]  # per level: rep -> entity of that level

    @property
    def n_reps(self) -> int:
        return self.sizes[0]

    @property
    def n_groups(self) -> int:
        return len(self.sigma)

    def size_moments(self) -> np.ndarray:
        """E[size^n], n = 1..4, per rep (Gamma sizes; constant when sd = 0). Shape (reps, 4)."""
        mu = self.rep_size_mean
        cv2 = np.where(mu > 0, (self.rep_size_sd / np.where(mu > 0, mu, 1.0)) ** 2, 0.0)
        out = np.empty((len(mu), 4))
        acc = np.ones(len(mu))
        for n in range(4):
            acc = acc * (1.0 + n * cv2)
            out[:, n] = mu ** (n + 1) * acc
        return out

    def new_multiplier(self, w: np.ndarray, group: np.ndarray) -> np.ndarray:
        """The new-pipeline rate multiplier ``m_g(w)`` (broadcasts ``w`` against ``group``)."""
        return _expit(self.group_eta_new[group] + w) / self.new_p


def _column(src: Any, name: str, n: int | None, default: float | None, what: str) -> np.ndarray | None:
    if src is None:
        col = None
    elif isinstance(src, pd.DataFrame):
        col = src[name].to_numpy() if name in src.columns else None
    else:
        col = src.get(name) if isinstance(src, Mapping) else None
    if col is None:
        if default is None:
            raise BadInput(f"{what}: the column {name!r} is required",
                           hint=f"give {what} as a frame or mapping with a {name!r} column")
        if n is None:
            raise BadInput(f"{what}: the column {name!r} is required")
        return np.full(n, default, dtype=float)
    arr = np.asarray(col)
    if arr.ndim != 1:
        raise BadInput(f"{what}: {name!r} must be one-dimensional (got shape {arr.shape})")
    return arr


def _as_float(arr: np.ndarray, what: str, name: str, problems: list[Problem]) -> np.ndarray:
    try:
        out = np.asarray(arr, dtype=float)
    except (TypeError, ValueError):
        problems.append(Problem(what, None, name, None, "must be numbers"))
        return np.zeros(len(arr))
    return out


def _as_index(arr: np.ndarray, what: str, name: str, upper: int | None, problems: list[Problem]) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype.kind == "f":
        bad = ~np.isfinite(a) | (a != np.round(a))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(Problem(what, None, name, str(a[i]),
                                    f"must be whole numbers (position {i}; {int(bad.sum())} bad)"))
            return np.zeros(len(a), dtype=np.int64)
        a = a.astype(np.int64)
    elif a.dtype.kind not in "iub":
        problems.append(Problem(what, None, name, None, "must be integer indexes"))
        return np.zeros(len(a), dtype=np.int64)
    a = a.astype(np.int64)
    bad = a < 0 if upper is None else (a < 0) | (a >= upper)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rng = ">= 0" if upper is None else f"in 0..{upper - 1}"
        problems.append(Problem(what, None, name, str(a[i]),
                                f"must be {rng} (position {i}; {int(bad.sum())} out of range)"))
    return a


def _check(mask: np.ndarray, what: str, name: str, values: np.ndarray, message: str,
           problems: list[Problem]) -> None:
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        problems.append(Problem(what, None, name, str(values[i]),
                                f"{message} (position {i}; {int(mask.sum())} such)"))


def forecast_inputs(
    deals: Mapping[str, Any] | pd.DataFrame,
    reps: Mapping[str, Any] | pd.DataFrame | int,
    parents: Sequence[Any],
    *,
    sigma: float | Sequence[float] = 0.0,
    sigma_company: float = 0.0,
    levels: Sequence[str] | None = None,
    quota: Mapping[str, Any] | Sequence[Any] | None = None,
    new_p: float | None = None,
    center: bool = True,
) -> ForecastInputs:
    """Validate the inputs of a period's forecast and derive what both methods share.

    ``deals``: columns ``rep`` (rep index), ``amount`` (> 0), ``p`` (probability
    the deal closes won inside the period, in [0, 1]) and ``group`` (factor group
    index; default 0).

    ``reps``: one row per rep (or just the number of reps) with optional columns
    ``lam`` (expected number of deals created *and* won in the period; default 0),
    ``size_mean`` and ``size_sd`` (their Gamma size distribution; ``size_sd = 0``:
    constant), ``closed`` (closed-won so far; default 0) and ``group`` (the factor
    group of the rep's new pipeline; default: the group most of its deals are in).

    ``parents``: one integer array per level above reps: ``parents[0][r]`` is the
    territory of rep ``r``, ``parents[1][t]`` the region of territory ``t``, …
    Any number of levels and any fan-out; the top level has
    ``max(parents[-1]) + 1`` entities.

    ``sigma``: sd of each group's logit-scale factor (a number: the same for all
    groups); ``sigma_company``: sd of a company-wide component shared by all
    groups. ``quota``: per level (by name or position) an array of targets, NaN
    where there is none. ``new_p``: the reference win probability for the new
    pipeline's factor multiplier (default: the amount-weighted mean ``p`` of the
    open deals). ``center``: keep each deal's marginal probability at ``p`` (see
    the module docstring).
    """
    problems: list[Problem] = []

    # ---- hierarchy
    if isinstance(parents, np.ndarray) and parents.ndim == 1:
        parents = [parents]
    parents_in = list(parents)
    if isinstance(reps, (int, np.integer)):
        n_reps = int(reps)
        reps = None
    elif isinstance(reps, pd.DataFrame):
        n_reps = len(reps)
    elif isinstance(reps, Mapping):
        lens = {len(np.asarray(v)) for v in reps.values()}
        if len(lens) > 1:
            raise BadInput(f"reps: columns have different lengths {sorted(lens)}",
                           hint="give one value per rep in every column")
        n_reps = lens.pop() if lens else (len(np.asarray(parents_in[0])) if parents_in else 0)
    else:
        raise BadInput("reps must be a DataFrame, a mapping of columns or the number of reps")
    if n_reps <= 0:
        raise BadInput("there are no reps", hint="give at least one rep")
    sizes = [n_reps]
    par: list[np.ndarray] = []
    for k, raw in enumerate(parents_in):
        arr = np.asarray(raw)
        name = f"parents[{k}]"
        if arr.ndim != 1 or len(arr) != sizes[-1]:
            raise BadInput(f"{name} must have one entry per entity of level {k} ({sizes[-1]}), got shape {arr.shape}",
                           hint="parents[k][i] is the index of the parent of entity i of level k")
        upper = len(np.asarray(parents_in[k + 1])) if k + 1 < len(parents_in) else None
        idx = _as_index(arr, "hierarchy", name, upper, problems)
        par.append(idx)
        sizes.append(upper if upper is not None else (int(idx.max()) + 1 if len(idx) else 0))
    if problems:
        raise BadInput("the hierarchy is invalid", problems)
    n_levels = len(sizes)
    if levels is None:
        levels = DEFAULT_LEVELS if n_levels == len(DEFAULT_LEVELS) else ("rep",) + tuple(
            f"level{k}" for k in range(1, n_levels))
    levels = tuple(str(x) for x in levels)
    if len(levels) != n_levels or len(set(levels)) != n_levels:
        raise BadInput(f"levels must name each of the {n_levels} levels once, got {list(levels)}")

    # ---- deals
    if not isinstance(deals, (Mapping, pd.DataFrame)):
        raise BadInput("deals must be a DataFrame or a mapping of columns (rep, amount, p, group)")
    rep_col = _column(deals, "rep", None, None, "deals")
    n_deals = len(rep_col)
    amount = _as_float(_column(deals, "amount", n_deals, None, "deals"), "deals", "amount", problems)
    p = _as_float(_column(deals, "p", n_deals, None, "deals"), "deals", "p", problems)
    group_col = _column(deals, "group", n_deals, 0.0, "deals")
    for name, arr in (("amount", amount), ("p", p), ("group", group_col)):
        if len(arr) != n_deals:
            raise BadInput(f"deals: column {name!r} has {len(arr)} values, 'rep' has {n_deals}")
    deal_rep = _as_index(rep_col, "deals", "rep", n_reps, problems)
    deal_group = _as_index(group_col, "deals", "group", None, problems)
    _check(~np.isfinite(amount) | (amount <= 0), "deals", "amount", amount,
           "amount must be a positive number", problems)
    _check(~np.isfinite(p) | (p < 0) | (p > 1), "deals", "p", p,
           "p must be a probability in [0, 1]", problems)

    # ---- reps
    lam = _as_float(_column(reps, "lam", n_reps, 0.0, "reps"), "reps", "lam", problems)
    smean = _as_float(_column(reps, "size_mean", n_reps, 0.0, "reps"), "reps", "size_mean", problems)
    ssd = _as_float(_column(reps, "size_sd", n_reps, 0.0, "reps"), "reps", "size_sd", problems)
    closed = _as_float(_column(reps, "closed", n_reps, 0.0, "reps"), "reps", "closed", problems)
    _check(~np.isfinite(lam) | (lam < 0), "reps", "lam", lam, "lam must be a number >= 0", problems)
    _check(~np.isfinite(smean) | (smean < 0) | ((lam > 0) & (smean <= 0)), "reps", "size_mean", smean,
           "size_mean must be > 0 where lam > 0", problems)
    _check(~np.isfinite(ssd) | (ssd < 0), "reps", "size_sd", ssd, "size_sd must be a number >= 0", problems)
    _check(~np.isfinite(closed), "reps", "closed", closed, "closed must be a number", problems)
    rg_raw = _column(reps, "group", n_reps, np.nan, "reps")
    if problems:
        raise BadInput("the forecast inputs are invalid; nothing was computed", problems,
                       hint="fix the listed columns (positions are 0-based)")
    missing_group = np.isnan(np.asarray(rg_raw, dtype=float)) if np.asarray(rg_raw).dtype.kind == "f" else \
        np.zeros(n_reps, dtype=bool)
    if missing_group.any():
        # the group most of the rep's deals are in (0 for a rep without deals)
        default = np.zeros(n_reps, dtype=np.int64)
        if n_deals:
            n_g = int(deal_group.max()) + 1
            counts = np.bincount(deal_rep * n_g + deal_group, minlength=n_reps * n_g).reshape(n_reps, n_g)
            default = counts.argmax(axis=1)
        rg_raw = np.where(missing_group, default, np.nan_to_num(np.asarray(rg_raw, dtype=float)))
    rep_group = _as_index(rg_raw, "reps", "group", None, problems)
    if problems:
        raise BadInput("the forecast inputs are invalid; nothing was computed", problems)

    # ---- factor
    n_groups = int(max(deal_group.max(initial=-1), rep_group.max(initial=-1))) + 1
    sig = np.atleast_1d(np.asarray(sigma, dtype=float))
    if sig.ndim != 1:
        raise BadInput("sigma must be a number or one number per factor group")
    if len(sig) == 1:
        sig = np.full(max(n_groups, 1), float(sig[0]))
    elif len(sig) < n_groups:
        raise BadInput(f"sigma has {len(sig)} values but the deals and reps use {n_groups} factor groups",
                       hint="give one sigma per group, or a single number for all")
    if not np.all(np.isfinite(sig)) or np.any(sig < 0) or not math.isfinite(sigma_company) or sigma_company < 0:
        raise BadInput("sigma and sigma_company must be numbers >= 0")
    sd_g = np.sqrt(sig * sig + float(sigma_company) ** 2)

    if new_p is None:
        tot = float(amount.sum())
        new_p = float((p * amount).sum() / tot) if tot > 0 else 0.25
        new_p = min(max(new_p, 0.01), 0.99)
    if not (0.0 < float(new_p) < 1.0):
        raise BadInput(f"new_p must be a probability strictly between 0 and 1, got {new_p}")

    # ---- quota
    quotas: list[np.ndarray] = [np.full(s, np.nan) for s in sizes]
    if quota is not None:
        items = quota.items() if isinstance(quota, Mapping) else enumerate(quota)
        for key, val in items:
            k = levels.index(key) if isinstance(key, str) and key in levels else key
            if not isinstance(k, (int, np.integer)) or not 0 <= int(k) < n_levels:
                raise BadInput(f"quota: unknown level {key!r}", hint=f"use one of {list(levels)}")
            if val is None:
                continue
            q = np.asarray(val, dtype=float)
            if q.shape != (sizes[int(k)],):
                raise BadInput(f"quota[{levels[int(k)]!r}] must have {sizes[int(k)]} values, got shape {q.shape}")
            if np.any(np.isinf(q)):
                raise BadInput(f"quota[{levels[int(k)]!r}] must be finite numbers (NaN: no quota)")
            quotas[int(k)] = q

    # ---- derived
    anc = [np.arange(n_reps, dtype=np.int64)]
    for k in range(n_levels - 1):
        anc.append(par[k][anc[-1]])
    lp = _logit(p)
    eta = lp.copy()
    lbar = float(_logit(np.array([new_p]))[0])
    eta_new = np.full(len(sig), lbar)
    if center:
        for g in range(len(sig)):
            if sd_g[g] > 0:
                sel = deal_group == g
                eta[sel] = lp[sel] + _centring_shift(lp[sel], float(sd_g[g]))
                eta_new[g] = lbar + float(_centring_shift(np.array([lbar]), float(sd_g[g]))[0])
    return ForecastInputs(
        deal_rep=deal_rep, deal_amount=amount, deal_p=p, deal_group=deal_group,
        rep_lam=lam, rep_size_mean=smean, rep_size_sd=ssd, rep_closed=closed, rep_group=rep_group,
        parents=tuple(par), levels=levels, sizes=tuple(sizes), sigma=sig, sigma_company=float(sigma_company),
        new_p=float(new_p), center=bool(center), quota=tuple(quotas),
        group_sd=sd_g, deal_eta=eta, group_eta_new=eta_new, ancestors=tuple(anc),
    )


# ----------------------------------------------------------------------------- summaries
def _qname(q: float) -> str:
    return f"p{q * 100:g}"


def _frame(inputs: ForecastInputs, level_stats: list[dict[str, np.ndarray]], quantiles: Sequence[float],
           method: str) -> pd.DataFrame:
    parts = []
    for k, st in enumerate(level_stats):
        n = inputs.sizes[k]
        d: dict[str, Any] = {"level": np.full(n, inputs.levels[k], dtype=object), "entity": np.arange(n)}
        d["mean"] = st["mean"]
        d["sd"] = st["sd"]
        for j, q in enumerate(quantiles):
            d[_qname(q)] = st["q"][:, j]
        d["quota"] = inputs.quota[k]
        d["p_reach"] = st["p_reach"]
        parts.append(pd.DataFrame(d))
    out = pd.concat(parts, ignore_index=True)
    out["level"] = pd.Categorical(out["level"], categories=list(inputs.levels), ordered=True)
    out.attrs["method"] = method
    return out


def summarize(inputs: ForecastInputs, outcomes: Mapping[str, np.ndarray],
              quantiles: Sequence[float] = QUANTILES) -> pd.DataFrame:
    """The forecast frame from simulated outcomes (one ``(sims, entities)`` array per level).

    Quantiles are read from each entity's own simulated totals (linear
    interpolation between order statistics); ``p_reach = P(outcome ≥ quota)``.
    """
    stats = []
    for k, name in enumerate(inputs.levels):
        n = inputs.sizes[k]
        if name not in outcomes:
            stats.append({"mean": np.full(n, np.nan), "sd": np.full(n, np.nan),
                          "q": np.full((n, len(quantiles)), np.nan), "p_reach": np.full(n, np.nan)})
            continue
        out = outcomes[name]
        qs = np.empty((n, len(quantiles)))
        reach = np.full(n, np.nan)
        quota = inputs.quota[k]
        for c0 in range(0, n, 1024):  # column blocks bound the sorting copy
            block = out[:, c0:c0 + 1024]
            qs[c0:c0 + 1024] = np.quantile(block, list(quantiles), axis=0).T
            qb = quota[c0:c0 + 1024]
            has = ~np.isnan(qb)
            if has.any():
                reach[c0:c0 + 1024][has] = (block[:, has] >= qb[has]).mean(axis=0)
        stats.append({"mean": out.mean(axis=0), "sd": out.std(axis=0), "q": qs, "p_reach": reach})
    return _frame(inputs, stats, quantiles, "monte_carlo")


# ----------------------------------------------------------------------------- Monte Carlo
_BLOCK = 1 << 16  # deals per block: a block of chunk × block float32 fits in cache


def _mc_plan(inputs: ForecastInputs) -> dict[str, Any]:
    """Deals sorted by (group, rep), cut into cache-sized blocks on (rep, group) boundaries."""
    live = inputs.deal_p > 0
    idx = np.flatnonzero(live)
    key = inputs.deal_group[idx] * inputs.n_reps + inputs.deal_rep[idx]
    order = idx[np.argsort(key, kind="stable")]
    key = inputs.deal_group[order] * inputs.n_reps + inputs.deal_rep[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(order) else np.zeros(0, dtype=np.int64)
    blocks = []
    n = len(order)
    if n:
        part_start = starts
        b0 = 0
        while b0 < n:
            target = b0 + _BLOCK
            if target >= n:
                b1 = n
            else:
                j = np.searchsorted(part_start, target)
                b1 = int(part_start[j]) if j < len(part_start) else n
                if b1 <= b0:
                    b1 = n
            g = int(inputs.deal_group[order[b0]])
            # a block must hold one group only
            gb = inputs.deal_group[order[b0:b1]]
            if gb[-1] != g:
                b1 = b0 + int(np.searchsorted(gb, g, side="right"))
            ps = part_start[(part_start >= b0) & (part_start < b1)] - b0
            blocks.append((g, b0, b1, ps.astype(np.intp), inputs.deal_rep[order[b0 + ps]]))
            b0 = b1
    odds = np.exp(inputs.deal_eta[order]).astype(np.float32)
    amount = inputs.deal_amount[order].astype(np.float32)
    np_reps = np.flatnonzero(inputs.rep_lam > 0)
    sd = inputs.rep_size_sd[np_reps]
    mean = inputs.rep_size_mean[np_reps]
    shape = np.where(sd > 0, (mean / np.where(sd > 0, sd, 1.0)) ** 2, np.inf)
    scale = np.where(sd > 0, sd * sd / np.where(mean > 0, mean, 1.0), 0.0)
    return {"blocks": blocks, "odds": odds, "amount": amount, "np_reps": np_reps, "np_shape": shape,
            "np_scale": scale, "np_mean": mean, "max_block": max((b[2] - b[1] for b in blocks), default=0)}


def simulate(
    inputs: ForecastInputs,
    sims: int,
    rng: np.random.Generator,
    *,
    levels: Sequence[str] | None = None,
    chunk: int | None = None,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Simulate ``sims`` periods; return the outcome of every entity of each requested level.

    Returns ``{level name: array (sims, entities)}`` (float64). Each chunk of
    ``chunk`` simulations (default: about 2^20 / number of open deals, between
    16 and 2,048) uses its own generator spawned from ``rng``: results depend on
    ``rng`` and ``chunk``, not on ``threads``. Memory: the returned arrays plus
    ``threads × chunk × 65,536`` float32 work buffers.
    """
    if not isinstance(rng, np.random.Generator):
        raise BadInput("rng must be a numpy.random.Generator", hint="pass np.random.default_rng(seed)")
    if chunk is None:
        chunk = int(np.clip((1 << 20) // max(int((inputs.deal_p > 0).sum()), 1), 16, 2048))
    if sims <= 0 or chunk <= 0:
        raise BadInput("sims and chunk must be positive")
    keep = list(inputs.levels) if levels is None else list(levels)
    for name in keep:
        if name not in inputs.levels:
            raise BadInput(f"unknown level {name!r}", hint=f"use one of {list(inputs.levels)}")
    top = max(inputs.levels.index(n) for n in keep)
    plan = _mc_plan(inputs)
    out = {name: np.empty((sims, inputs.sizes[inputs.levels.index(name)])) for name in keep}
    n_chunks = -(-sims // chunk)
    children = rng.spawn(n_chunks)
    sig = inputs.sigma
    s0 = inputs.sigma_company
    G = inputs.n_groups
    R = inputs.n_reps
    local = threading.local()
    np_reps = plan["np_reps"]
    np_group = inputs.rep_group[np_reps]
    np_lam = inputs.rep_lam[np_reps]
    gamma_size = np.isfinite(plan["np_shape"])

    def run(ci: int) -> None:
        g_rng = children[ci]
        r0 = ci * chunk
        S = min(chunk, sims - r0)
        if getattr(local, "S", None) != S:
            mb = max(plan["max_block"], 1)
            local.S = S
            local.U = np.empty(S * mb, dtype=np.float32)
            local.t = np.empty(S * mb, dtype=np.float32)
            local.b = np.empty(S * mb, dtype=np.float32)
            local.w = np.empty(S * mb, dtype=bool)
        W = g_rng.standard_normal((S, G)) * sig[None, :]
        if s0 > 0:
            W += s0 * g_rng.standard_normal((S, 1))
        omega = np.exp(W).astype(np.float32)
        rep_out = np.zeros((S, R))
        for g, b0, b1, ps, part_reps in plan["blocks"]:
            nb = b1 - b0
            U, t, b, w = (buf[:S * nb].reshape(S, nb) for buf in (local.U, local.t, local.b, local.w))
            g_rng.random(out=U, dtype=np.float32)
            np.multiply(plan["odds"][None, b0:b1], omega[:, g:g + 1], out=t)
            np.add(t, 1.0, out=b)
            np.multiply(b, U, out=b)
            np.less(b, t, out=w)
            np.multiply(w, plan["amount"][None, b0:b1], out=b)
            rep_out[:, part_reps] += np.add.reduceat(b, ps, axis=1)
        if len(np_reps):
            lam = np_lam[None, :] * inputs.new_multiplier(W[:, np_group], np_group[None, :])
            n_new = g_rng.poisson(lam)
            new = np.where(gamma_size[None, :], 0.0, n_new * plan["np_mean"][None, :])
            if gamma_size.any():
                shp = n_new[:, gamma_size] * plan["np_shape"][gamma_size][None, :]
                new[:, gamma_size] = g_rng.gamma(shp, 1.0) * plan["np_scale"][gamma_size][None, :]
            rep_out[:, np_reps] += new
        rep_out += inputs.rep_closed[None, :]
        cur = rep_out
        for k in range(top + 1):
            if k > 0:
                n_k = inputs.sizes[k]
                flat = (np.arange(S)[:, None] * n_k + inputs.parents[k - 1][None, :]).ravel()
                cur = np.bincount(flat, weights=cur.ravel(), minlength=S * n_k).reshape(S, n_k)
            name = inputs.levels[k]
            if name in out:
                out[name][r0:r0 + S] = cur

    n_threads = threads if threads is not None else min(2, os.cpu_count() or 1)
    if n_threads <= 1 or n_chunks == 1:
        for ci in range(n_chunks):
            run(ci)
    else:
        with ThreadPoolExecutor(max_workers=n_threads) as ex:
            for _ in ex.map(run, range(n_chunks)):
                pass
    return out


def monte_carlo(
    inputs: ForecastInputs,
    *,
    sims: int = 10_000,
    rng: np.random.Generator,
    quantiles: Sequence[float] = QUANTILES,
    chunk: int | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """The reference forecast: simulate ``sims`` periods and read every entity's distribution.

    Returns one row per entity of every level: ``level``, ``entity``, ``mean``,
    ``sd``, one column per quantile (``p10``, ``p50``, ``p90``), ``quota`` and
    ``p_reach`` (P(outcome ≥ quota), NaN without a quota).
    """
    _check_quantiles(quantiles)
    out = simulate(inputs, sims, rng, chunk=chunk, threads=threads)
    return summarize(inputs, out, quantiles)


def _check_quantiles(quantiles: Sequence[float]) -> None:
    q = np.asarray(list(quantiles), dtype=float)
    if q.ndim != 1 or len(q) == 0 or np.any(~np.isfinite(q)) or np.any((q <= 0) | (q >= 1)):
        raise BadInput(f"quantiles must be probabilities strictly between 0 and 1, got {list(quantiles)}")


# ----------------------------------------------------------------------------- fast: tables
@dataclass
class _Parts:
    """(entity, group) parts of one level with their conditional cumulant tables on the u-grid."""

    entity: np.ndarray  # (P,)
    group: np.ndarray  # (P,)
    table: np.ndarray  # (P, 41, 4)


def _rep_parts(inputs: ForecastInputs) -> tuple[_Parts, np.ndarray]:
    """Per (rep, group): open-deal + new-pipeline cumulants at every u-node. Also the live deals."""
    live = np.flatnonzero(inputs.deal_p > 0)
    G = max(inputs.n_groups, 1)
    dkey = inputs.deal_rep[live] * G + inputs.deal_group[live]
    np_reps = np.flatnonzero(inputs.rep_lam > 0)
    nkey = np_reps * G + inputs.rep_group[np_reps]
    keys = np.unique(np.concatenate([dkey, nkey]))
    table = np.zeros((len(keys), len(_U), 4))
    if len(live):
        order = np.argsort(dkey, kind="stable")
        d = live[order]
        dk = dkey[order]
        starts = np.flatnonzero(np.r_[True, dk[1:] != dk[:-1]])
        rows = np.searchsorted(keys, dk[starts])
        a = inputs.deal_amount[d]
        eta = inputs.deal_eta[d]
        s = inputs.group_sd[inputs.deal_group[d]]
        powers = [a, a * a, a * a * a, (a * a) * (a * a)]
        for j, u in enumerate(_U):
            p = _expit(eta + s * u)
            v = p * (1.0 - p)
            terms = (p, v, v * (1.0 - 2.0 * p), v * (1.0 - 6.0 * v))
            for c in range(4):
                table[rows, j, c] = np.add.reduceat(powers[c] * terms[c], starts)
    if len(np_reps):
        mom = inputs.size_moments()[np_reps]  # (n, 4)
        g = inputs.rep_group[np_reps]
        w = inputs.group_sd[g][:, None] * _U[None, :]
        lam = inputs.rep_lam[np_reps][:, None] * inputs.new_multiplier(w, g[:, None])  # (n, 41)
        rows = np.searchsorted(keys, nkey)
        table[rows] += lam[:, :, None] * mom[:, None, :]
    return _Parts(keys // G, keys % G, table), live


def _roll_parts(parts: _Parts, parent: np.ndarray, G: int) -> _Parts:
    keys = parent[parts.entity] * G + parts.group
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]]) if len(ks) else np.zeros(0, dtype=np.intp)
    uniq = ks[starts]
    table = np.add.reduceat(parts.table[order], starts, axis=0) if len(ks) else parts.table[:0]
    return _Parts(uniq // G, uniq % G, table)


def _top_deals(inputs: ForecastInputs, live: np.ndarray, m: int) -> list[np.ndarray]:
    """Per level: (entities, m) indexes of the m largest live deals of each entity (−1 padded)."""
    out = []
    cand = live
    ent_of = inputs.deal_rep
    for k in range(len(inputs.sizes)):
        n = inputs.sizes[k]
        ent = inputs.ancestors[k][ent_of[cand]]
        order = np.lexsort((-inputs.deal_amount[cand], ent))
        cs, es = cand[order], ent[order]
        first = np.flatnonzero(np.r_[True, es[1:] != es[:-1]]) if len(es) else np.zeros(0, dtype=np.intp)
        rank = np.arange(len(es)) - np.repeat(first, np.diff(np.r_[first, len(es)]))
        keep = rank < m
        top = np.full((n, m), -1, dtype=np.int64)
        top[es[keep], rank[keep]] = cs[keep]
        out.append(top)
        cand = cs[keep]
    return out


# ----------------------------------------------------------------------------- fast: solvers
def _solve(cdf_pdf: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], q: np.ndarray,
           x0: np.ndarray, scale: np.ndarray, tol: float = 1e-7, iters: int = 100) -> np.ndarray:
    """Vectorised safeguarded Newton for ``F(x) = q``; ``x0``, ``q``, ``scale``: (E, Q).

    ``cdf_pdf(x, rows)`` evaluates F and its density for the entities ``rows``
    (x: (len(rows), Q)); only entities not yet converged are evaluated. The
    bracket [lo, hi] starts unbounded and closes as F is seen below/above q;
    a Newton step leaving it is replaced by bisection (or, while one side is
    still open, by a step of growing size towards it).
    """
    x = x0.astype(float).copy()
    lo = np.full(x.shape, -np.inf)
    hi = np.full(x.shape, np.inf)
    active = np.arange(len(x))
    for it in range(iters):
        xa, qa, sa = x[active], q[active], scale[active]
        F, f = cdf_pdf(xa, active)
        below = F < qa
        lo_a = np.where(below, xa, lo[active])
        hi_a = np.where(below, hi[active], xa)
        ok = f > 1e-300
        xn = xa - (F - qa) / np.where(ok, f, 1.0)
        fine = ok & np.isfinite(xn)
        small = fine & (np.abs(xn - xa) <= tol * sa)  # converged: the Newton step is negligible
        inside = fine & (xn > lo_a) & (xn < hi_a)
        exact = np.abs(F - qa) <= 1e-13
        both = np.isfinite(lo_a) & np.isfinite(hi_a)
        jump = sa * 2.0 ** min(it, 40)
        fix = np.where(both, 0.5 * (lo_a + hi_a), np.where(below, xa + jump, xa - jump))
        xn = np.where(exact, xa, np.where(inside | small, xn, fix))
        done = exact | small | (both & (hi_a - lo_a <= tol * sa))
        x[active], lo[active], hi[active] = xn, lo_a, hi_a
        keep = ~done.all(axis=1)
        active = active[keep]
        if not len(active):
            break
    return x


def _mixture_start(k_nodes: np.ndarray, weights: np.ndarray, qz: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                       np.ndarray]:
    """Mean, sd and Cornish–Fisher quantiles of a mixture from conditional cumulants (E, U, 4)."""
    k1, k2, k3, k4 = (k_nodes[..., i] for i in range(4))
    m1 = k1
    m2 = k2 + k1 * k1
    m3 = k3 + 3 * k2 * k1 + k1 ** 3
    m4 = k4 + 4 * k3 * k1 + 3 * k2 * k2 + 6 * k2 * k1 * k1 + k1 ** 4
    M1, M2, M3, M4 = (np.einsum("eu,u->e", m, weights) if m.ndim == 2 else m @ weights for m in (m1, m2, m3, m4))
    c2 = np.maximum(M2 - M1 * M1, 0.0)
    c3 = M3 - 3 * M2 * M1 + 2 * M1 ** 3
    c4 = M4 - 4 * M3 * M1 - 3 * M2 * M2 + 12 * M2 * M1 * M1 - 6 * M1 ** 4
    mu, s, g1, g2 = _shape(np.stack([M1, c2, c3, c4], axis=-1))
    x0 = mu[:, None] + s[:, None] * _cornish_fisher(qz[None, :], g1[:, None], g2[:, None])
    return M1, np.sqrt(c2), x0


# ----------------------------------------------------------------------------- fast: methods
def _hybrid(tot: np.ndarray, big_w: np.ndarray, w: np.ndarray, closed: np.ndarray, big_a: np.ndarray,
            big_eta: np.ndarray, qs: np.ndarray, quota: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Enumerated big deals × Edgeworth bulk, mixed over factor nodes with weights ``w`` (U,).

    ``tot``: (E, U, 4) conditional cumulants of everything uncertain at each node;
    ``big_a``, ``big_eta``: (E, m) the enumerated deals; ``big_w``: (E, U, m) the
    factor value each of them sees at each node. Returns (quantiles (E, Q), P(X ≥ quota)).
    """
    E, m = big_a.shape
    pb = _expit(big_eta[:, None, :] + big_w)  # (E, U, m)
    bulk = tot.copy()
    if m:
        a = big_a[:, None, :]
        v = pb * (1 - pb)
        bulk[..., 0] -= (a * pb).sum(-1)
        bulk[..., 1] -= (a ** 2 * v).sum(-1)
        bulk[..., 2] -= (a ** 3 * v * (1 - 2 * pb)).sum(-1)
        bulk[..., 3] -= (a ** 4 * v * (1 - 6 * v)).sum(-1)
    combos = ((np.arange(1 << m)[:, None] >> np.arange(m)[None, :]) & 1).astype(float)  # (C, m)
    P = np.ones((E, len(w), len(combos)))
    for j in range(m):
        P *= np.where(combos[None, None, :, j] > 0, pb[:, :, j:j + 1], 1.0 - pb[:, :, j:j + 1])
    P *= w[None, :, None]
    S = big_a @ combos.T  # (E, C)
    mu, s, g1, g2 = _shape(bulk)  # (E, U)
    base = closed[:, None, None] + mu[:, :, None] + S[:, None, :]  # (E, U, C)
    s4 = s[:, None, :, None]
    g14 = g1[:, None, :, None]
    g24 = g2[:, None, :, None]
    Pw = P[:, None]

    def cdf_pdf(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sr = s4[rows]
        z = (x[:, :, None, None] - base[rows][:, None]) / sr
        F, f = _edgeworth(z, g14[rows], g24[rows])
        Pr = Pw[rows]
        return (F * Pr).sum((2, 3)), (f / sr * Pr).sum((2, 3))

    return _finish(cdf_pdf, tot, w, closed, qs, quota)


def _finish(cdf_pdf: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], tot: np.ndarray, w: np.ndarray,
            closed: np.ndarray, qs: np.ndarray, quota: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles by Newton from a Cornish–Fisher start on the mixture's moments, and P(X ≥ quota)."""
    qz = np.array([NormalDist().inv_cdf(float(q)) for q in qs])
    M1, sd, x0 = _mixture_start(tot, w, qz)
    x0 = x0 + closed[:, None]
    scale = np.maximum(sd, 1e-12 * (np.abs(M1) + 1))[:, None] * np.ones((1, len(qs)))
    x = _solve(cdf_pdf, np.broadcast_to(qs, x0.shape), x0, scale)
    reach = np.full(len(closed), np.nan)
    has = np.flatnonzero(~np.isnan(quota))
    if len(has):
        F, _ = cdf_pdf(quota[has][:, None], has)
        reach[has] = 1.0 - F[:, 0]
    return x, reach


def _sharp(tot: np.ndarray, closed: np.ndarray, qs: np.ndarray, quota: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mixture integrated over the conditional level ζ: F(x) = Σ_ζ w_ζ Φ(u*(ζ, x))."""
    E = len(tot)
    fine_u = np.linspace(_U[0], _U[-1], (len(_U) - 1) * _FINE + 1)
    kf = _lagrange4(tot, np.broadcast_to(fine_u, (E, len(fine_u))))  # (E, F, 4)
    mu, s, g1, g2 = _shape(kf)
    zeta = _U
    # conditional quantile at level Φ(ζ) for each fine u: (E, Z, F)
    xt = closed[:, None, None] + mu[:, None, :] + s[:, None, :] * _cornish_fisher(
        zeta[None, :, None], g1[:, None, :], g2[:, None, :])
    xt = np.maximum.accumulate(xt, axis=2)  # increasing in u
    nF = len(fine_u)
    du = fine_u[1] - fine_u[0]

    def cdf_pdf(x: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Q = x.shape[1]
        E = len(rows)
        tab = xt[rows][:, None, :, :]  # (E, 1, Z, F)
        xx = x[:, :, None, None]  # (E, Q, 1, 1)
        lo = np.zeros((E, Q, len(zeta)), dtype=np.intp)
        hi = np.full((E, Q, len(zeta)), nF - 1, dtype=np.intp)
        tabb = np.broadcast_to(tab, (E, Q, len(zeta), nF))
        for _ in range(int(math.ceil(math.log2(nF))) + 1):
            mid = (lo + hi) // 2
            val = np.take_along_axis(tabb, mid[..., None], axis=3)[..., 0]
            go = val <= xx[..., 0]
            lo = np.where(go, mid, lo)
            hi = np.where(go, hi, mid)
        x_lo = np.take_along_axis(tabb, lo[..., None], axis=3)[..., 0]
        x_hi = np.take_along_axis(tabb, np.minimum(lo + 1, nF - 1)[..., None], axis=3)[..., 0]
        gap = x_hi - x_lo
        frac = np.where(gap > 0, (xx[..., 0] - x_lo) / np.where(gap > 0, gap, 1.0), 0.0)
        frac = np.clip(frac, 0.0, 1.0)
        ustar = fine_u[lo] + frac * du
        below = xx[..., 0] < tab[..., 0]
        above = xx[..., 0] >= tab[..., -1]
        ustar = np.where(below, -np.inf, np.where(above, np.inf, ustar))
        Phi = np.where(below, 0.0, np.where(above, 1.0, _ndtr(np.where(np.isfinite(ustar), ustar, 0.0))))
        dens = np.where(below | above | (gap <= 0), 0.0,
                        _npdf(np.where(np.isfinite(ustar), ustar, 0.0)) * du / np.where(gap > 0, gap, 1.0))
        # F(x) = P(X ≤ x) = Σ_ζ w_ζ P(U ≤ u*): X is increasing in u, so X ≤ x ⇔ U ≤ u*
        return (Phi * _UW).sum(-1), (dens * _UW).sum(-1)

    return _finish(cdf_pdf, tot, _UW, closed, qs, quota)


def _np_tail(lam_max: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """An amount the new pipeline exceeds with probability < 1e-10 (Chernoff bound), per row.

    ``lam_max``, ``mean``, ``sd``: (B, r) per component (rate at the highest factor node).
    """
    if lam_max.shape[1] == 0:
        return np.zeros(len(lam_max))
    theta = np.where(sd > 0, sd * sd / np.where(mean > 0, mean, 1.0), 0.0)
    shape = np.where(sd > 0, (mean / np.where(sd > 0, sd, 1.0)) ** 2, np.inf)
    # t on a grid below the smallest Gamma rate (or scaled by the largest constant size)
    rate = np.where(theta > 0, 1.0 / np.where(theta > 0, theta, 1.0), np.inf)
    on = lam_max > 0
    t_max = np.min(np.where(on, rate, np.inf), axis=1)
    big = np.max(np.where(on, mean, 0.0), axis=1)
    t_max = np.where(np.isfinite(t_max), t_max, 4.0 / np.maximum(big, 1e-300))
    best = np.full(len(lam_max), np.inf)
    for c in (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95):
        t = c * t_max  # (B,)
        tt = t[:, None]
        with np.errstate(over="ignore"):
            gam = lam_max * ((1.0 - theta * tt) ** np.where(np.isfinite(shape), -shape, 0.0) - 1.0)
            const = lam_max * np.expm1(np.minimum(tt * mean, 700.0))
        K = np.where(on, np.where(np.isfinite(shape), gam, const), 0.0).sum(axis=1)
        best = np.minimum(best, (K + 18.5) / np.maximum(t, 1e-300))
    return np.where(on.any(axis=1), best, 0.0)


def _size_pmf(mean: np.ndarray, sd: np.ndarray, h: np.ndarray, M: int) -> np.ndarray:
    """Each component's size distribution on the grid ``k·h`` (rows: components): (n, M)."""
    n = len(mean)
    out = np.zeros((n, M))
    if n == 0:
        return out
    narrow = sd < 2.0 * h
    if narrow.any():  # a point mass, split between neighbours so the mean is kept
        pos = mean[narrow] / h[narrow]
        j = np.minimum(np.floor(pos).astype(np.int64), M - 2)
        f = np.clip(pos - j, 0.0, 1.0)
        rows = np.flatnonzero(narrow)
        out[rows, j] += 1.0 - f
        out[rows, j + 1] += f
    wide = ~narrow
    if wide.any():
        rows = np.flatnonzero(wide)
        shape = (mean[rows] / sd[rows]) ** 2
        theta = sd[rows] ** 2 / mean[rows]
        edges = (np.arange(M + 1) - 0.5).clip(min=0.0)[None, :] * h[rows, None] / theta[:, None]
        cdf = _gammainc(np.broadcast_to(shape[:, None], edges.shape), edges)
        mass = np.diff(cdf, axis=1)
        mass[:, -1] += 1.0 - cdf[:, -1]  # the tail (negligible by construction of the grid)
        out[rows] = np.maximum(mass, 0.0)
    return out


def _lattice_span(inputs: ForecastInputs, deals: np.ndarray, np_reps: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per entity: an amount its uncertain part exceeds with probability < 1e-8 (the grid's span)."""
    has_d = deals >= 0
    a = np.where(has_d, inputs.deal_amount[np.where(has_d, deals, 0)], 0.0)
    has_r = np_reps >= 0
    ri = np.where(has_r, np_reps, 0)
    lam = np.where(has_r, inputs.rep_lam[ri], 0.0)
    rg = inputs.rep_group[ri]
    lam_max = (lam[..., None] * inputs.new_multiplier(inputs.group_sd[rg][..., None] * u, rg[..., None])).max(axis=2)
    top = a.sum(axis=1) + _np_tail(lam_max, inputs.rep_size_mean[ri], inputs.rep_size_sd[ri])
    return np.where(top > 0, top, 1.0)


def _lattice(inputs: ForecastInputs, deals: np.ndarray, np_reps: np.ndarray, closed: np.ndarray,
             u: np.ndarray, w: np.ndarray, qs: np.ndarray, quota: np.ndarray, M: int,
             top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact distribution on an amount grid of M points spanning [0, top] (FFT), mixed over the nodes.

    ``deals``, ``np_reps``: (B, ·) −1-padded indexes of each entity's open deals and new-pipeline reps.
    """
    B = len(closed)
    has_d = deals >= 0
    di = np.where(has_d, deals, 0)
    a = np.where(has_d, inputs.deal_amount[di], 0.0)
    eta = inputs.deal_eta[di]
    s = inputs.group_sd[inputs.deal_group[di]]
    has_r = np_reps >= 0
    ri = np.where(has_r, np_reps, 0)
    lam = np.where(has_r, inputs.rep_lam[ri], 0.0)
    rg = inputs.rep_group[ri]
    mult = inputs.new_multiplier(inputs.group_sd[rg][..., None] * u, rg[..., None])  # (B, r, U)
    lam_u = lam[..., None] * mult
    smean = inputs.rep_size_mean[ri]
    ssd = inputs.rep_size_sd[ri]
    h = top / (M - 2)
    F = M // 2 + 1
    omega = 2.0 * np.pi * np.arange(F) / M
    pos = a / h[:, None]
    J = np.floor(pos)
    f = pos - J
    ph = np.exp(-1j * omega[None, None, :] * J[..., None])
    D = ph * ((1.0 - f)[..., None] + f[..., None] * np.exp(-1j * omega)[None, None, :]) - 1.0  # (B, n, F)
    D[~has_d] = 0.0
    nr = np_reps.shape[1]
    if nr:
        pmf = _size_pmf(smean.ravel(), ssd.ravel(), np.repeat(h, nr), M).reshape(B, nr, M)
        Gm1 = np.fft.rfft(pmf, axis=2) - 1.0  # (B, r, F)
    cdf = np.zeros((B, M))
    for j in range(len(u)):
        p = np.where(has_d, _expit(eta + s * u[j]), 0.0)
        phi = np.ones((B, F), dtype=complex)
        for i in range(deals.shape[1]):
            phi *= 1.0 + p[:, i:i + 1] * D[:, i]
        if nr:
            phi = phi * np.exp((lam_u[:, :, j:j + 1] * Gm1).sum(axis=1))
        pmf_j = np.fft.irfft(phi, n=M, axis=1)
        cdf += w[j] * np.cumsum(np.maximum(pmf_j, 0.0), axis=1)
    cdf = np.minimum(np.maximum.accumulate(cdf / np.maximum(cdf[:, -1:], 1e-300), axis=1), 1.0)
    mass = np.diff(np.concatenate([np.zeros((B, 1)), cdf], axis=1), axis=1)
    # quantiles: mass at 0 is an atom; mass at k ≥ 1 spread evenly over [(k − ½)h, (k + ½)h]
    Q = len(qs)
    x = np.empty((B, Q))
    for i, q in enumerate(qs):
        k = np.minimum((cdf < q).sum(axis=1), M - 1)
        Fk = cdf[np.arange(B), k]
        mk = mass[np.arange(B), k]
        frac = np.where(mk > 0, 1.0 - (Fk - q) / np.where(mk > 0, mk, 1.0), 1.0)
        xq = (k - 0.5 + np.clip(frac, 0.0, 1.0)) * h
        x[:, i] = closed + np.where(k == 0, 0.0, xq)
    reach = np.full(B, np.nan)
    has = ~np.isnan(quota)
    if has.any():
        y = np.where(has, quota - closed, 0.0) / h  # in grid steps
        # P(X ≥ y): the mass at grid points ≥ floor(y), so an atom exactly at the quota (split between
        # floor(y) and floor(y) + 1) counts as reaching it; at most one cell of continuous mass is added
        k0 = np.clip(np.floor(y + 1e-9).astype(np.int64), 0, M)
        below = np.where(k0 > 0, cdf[np.arange(B), np.clip(k0 - 1, 0, M - 1)], 0.0)
        r = np.where(y <= 0, 1.0, np.where(k0 >= M, 0.0, 1.0 - below))
        reach = np.where(has, r, np.nan)
    return x, reach


def _multi_points(inputs: ForecastInputs, K: int, seed: int) -> np.ndarray:
    """K antithetic draws of the per-group factor W_g = Z_0 + Z_g, as u_g = W_g / s_g: (K, G)."""
    rng = np.random.default_rng(seed)
    half = max(K // 2, 1)
    G = inputs.n_groups
    zg = rng.standard_normal((half, G)) * inputs.sigma[None, :]
    z0 = rng.standard_normal((half, 1)) * inputs.sigma_company
    W = np.stack([z0 + zg, -(z0 + zg)], axis=1).reshape(2 * half, G)  # antithetic pairs adjacent
    sd = inputs.group_sd
    return np.where(sd[None, :] > 0, W / np.where(sd > 0, sd, 1.0)[None, :], 0.0)


def _multi_moments(inputs: ForecastInputs, table: np.ndarray, part_ent: np.ndarray, part_group: np.ndarray,
                   n_ent: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of multi-group entities.

    The mean adds over the (entity, group) parts (trapezoid over each part's u);
    the variance by nested quadrature, Z_0 outside and Z_g inside, since the
    parts covary through Z_0.
    """
    s0 = inputs.sigma_company
    outer_t = _U if s0 > 0 else np.zeros(1)
    outer_w = _UW if s0 > 0 else np.ones(1)
    sd = inputs.group_sd[part_group]  # (P,)
    sg = inputs.sigma[part_group]
    safe = np.where(sd > 0, sd, 1.0)
    # u[p, i, j] = (s0 t_i + sigma_g t_j) / s_g
    u = (s0 * outer_t[None, :, None] + sg[:, None, None] * _U[None, None, :]) / safe[:, None, None]
    u = np.where(sd[:, None, None] > 0, u, 0.0)
    P = len(part_ent)
    vals = _lagrange4(table, u.reshape(P, -1)).reshape(P, len(outer_t), len(_U), 4)
    A = vals[..., 0] @ _UW  # (P, I)
    B = (vals[..., 1] + vals[..., 0] ** 2) @ _UW
    EA = np.zeros((n_ent, len(outer_t)))
    V = np.zeros((n_ent, len(outer_t)))
    np.add.at(EA, part_ent, A)
    np.add.at(V, part_ent, B - A * A)
    mean = EA @ outer_w
    var = (V + EA * EA) @ outer_w - mean * mean
    exact_mean = np.zeros(n_ent)
    np.add.at(exact_mean, part_ent, table[:, :, 0] @ _UW)
    return exact_mean, np.maximum(var, 0.0)


# ----------------------------------------------------------------------------- fast: driver
def _nodes(stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``stride``-th node of the u-grid through u = 0 (0: the centre only), weights renormalised.

    An entity whose conditional sd is r times the factor's effect needs spacing
    Δu with exp(−2π² r²/((1 + r²)Δu²)) small: 1/3 serves r ≥ 0.3, 2/3 r ≥ 1, 1 r ≥ 2.
    """
    c = len(_U) // 2
    idx = np.array([c]) if stride == 0 else np.arange(c % stride, len(_U), stride)
    w = _UW[idx]
    return idx, w / w.sum()


def _stride(ratio: np.ndarray, flat: np.ndarray) -> np.ndarray:
    return np.where(flat, 0, np.where(ratio >= 2.0, 3, np.where(ratio >= 1.0, 2, 1)))


def _ragged(owner: np.ndarray, items: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Items grouped by owner into a (len(rows), max) −1-padded array, rows in the order of ``rows``."""
    size = max(int(owner.max(initial=-1)), int(rows.max(initial=-1))) + 2
    index = np.full(size, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    mine = index[owner] if len(owner) else np.zeros(0, dtype=np.int64)
    sel = mine >= 0
    o, it = mine[sel], items[sel]
    order = np.argsort(o, kind="stable")
    o, it = o[order], it[order]
    counts = np.bincount(o, minlength=len(rows))
    width = int(counts.max(initial=0))
    out = np.full((len(rows), width), -1, dtype=np.int64)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.arange(len(o)) - first[o]
    out[o, rank] = it
    return out


def fast(
    inputs: ForecastInputs,
    *,
    quantiles: Sequence[float] = QUANTILES,
    lattice_max_deals: int = 32,
    lattice_points: int = 2048,
    big_deals: int = 3,
    big_deal_sd: float = 0.6,
    factor_points: int = 1 << 16,
    seed: int = 0,
) -> pd.DataFrame:
    """The forecast without simulating deals: same frame as :func:`monte_carlo`.

    See the module docstring for the method of each kind of entity. The
    options trade speed for accuracy: ``lattice_max_deals`` (entities with at
    most this many open deals get the exact lattice), ``lattice_points`` (its
    grid), ``big_deals``/``big_deal_sd`` (deals enumerated exactly in the
    hybrid), ``factor_points`` and ``seed`` (the factor draws for entities whose
    deals span several factor groups). ``frame.attrs["methods"]`` counts the
    entities of each level by method.
    """
    _check_quantiles(quantiles)
    if lattice_points < 64 or lattice_points & (lattice_points - 1):
        raise BadInput("lattice_points must be a power of two >= 64")
    qs = np.asarray(list(quantiles), dtype=float)
    Q = len(qs)
    G = max(inputs.n_groups, 1)
    no_factor = not np.any(inputs.group_sd > 0)
    parts, live = _rep_parts(inputs)
    tops = _top_deals(inputs, live, max(big_deals, 6)) if big_deals > 0 else None
    live_rep = inputs.deal_rep[live]
    np_all = np.flatnonzero(inputs.rep_lam > 0)
    upts = None
    stats: list[dict[str, np.ndarray]] = []
    methods: dict[str, dict[str, int]] = {}
    centre = np.array([len(_U) // 2])
    for k in range(len(inputs.sizes)):
        if k > 0:
            parts = _roll_parts(parts, inputs.parents[k - 1], G)
        n = inputs.sizes[k]
        anc = inputs.ancestors[k]
        closed = np.bincount(anc, weights=inputs.rep_closed, minlength=n)
        quota = inputs.quota[k]
        n_deals = np.bincount(anc[live_rep], minlength=n)
        n_parts = np.bincount(parts.entity, minlength=n)
        nz = np.bincount(parts.entity, weights=(inputs.sigma[parts.group] > 0).astype(float), minlength=n)
        single = (n_parts == 1) | ((n_parts > 1) & (nz == 0))
        multi = (n_parts > 1) & ~single
        tot = np.zeros((n, len(_U), 4))
        sp = single[parts.entity]
        np.add.at(tot, parts.entity[sp], parts.table[sp])
        # the factor sd an entity sees (0: it depends on no factor)
        ent_sd = np.zeros(n)
        ent_sd[parts.entity[sp]] = inputs.group_sd[parts.group[sp]]
        M1 = tot[:, :, 0] @ _UW
        M2 = (tot[:, :, 1] + tot[:, :, 0] ** 2) @ _UW
        mean = closed + M1
        var = np.maximum(M2 - M1 * M1, 0.0)
        qx = np.repeat(closed[:, None], Q, axis=1).astype(float)
        reach = np.where(np.isnan(quota), np.nan, (closed >= quota).astype(float))
        kind = np.full(n, "const", dtype=object)
        s0 = np.sqrt(np.maximum(tot[:, len(_U) // 2, 1], 0.0))
        slope = (tot[:, len(_U) // 2 + 3, 0] - tot[:, len(_U) // 2 - 3, 0]) / 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(slope > 0, s0 / np.where(slope > 0, slope, 1.0), np.inf)
        lat = single & (n_parts > 0) & (n_deals <= lattice_max_deals)
        sharp = single & (n_parts > 0) & ~lat & (ent_sd > 0) & (ratio < _SHARP_RATIO)
        hyb = single & (n_parts > 0) & ~lat & ~sharp
        kind[lat], kind[sharp], kind[hyb], kind[multi] = "lattice", "sharp", "hybrid", "multi"

        # ---- lattice: grid fine enough that a step is ≤ 1e-3 of the entity scale
        rows = np.flatnonzero(lat)
        if len(rows):
            ent_deals = _ragged(anc[live_rep], live, rows)
            ent_np = _ragged(anc[np_all], np_all, rows)
            flat = (ent_sd[rows] == 0) | no_factor
            stride = _stride(ratio[rows], flat)
            span = np.empty(len(rows))
            for st in np.unique(stride):
                fm = stride == st
                span[fm] = _lattice_span(inputs, ent_deals[fm], ent_np[fm], _U[_nodes(int(st))[0]])
            scale = np.maximum(mean[rows] - closed[rows], np.sqrt(var[rows]))
            want = span / np.maximum(1e-3 * scale, 1e-300)
            Ms = np.clip(2 ** np.ceil(np.log2(np.maximum(want, 1.0))), lattice_points, max(lattice_points, 1 << 16))
            nd = max(ent_deals.shape[1], 1)
            for M in np.unique(Ms).astype(int):
                for st in np.unique(stride):
                    sel = np.flatnonzero((Ms == M) & (stride == st))
                    if not len(sel):
                        continue
                    idx, w = _nodes(int(st))
                    step = max(1, (1 << 21) // (nd * (M // 2 + 1)))
                    for b0 in range(0, len(sel), step):
                        sb = sel[b0:b0 + step]
                        x, r = _lattice(inputs, ent_deals[sb], ent_np[sb], closed[rows[sb]], _U[idx], w, qs,
                                        quota[rows[sb]], M, span[sb])
                        qx[rows[sb]] = x
                        reach[rows[sb]] = r

        # ---- hybrid
        rows = np.flatnonzero(hyb)
        if len(rows):
            if tops is not None:
                cand = tops[k][rows][:, :big_deals]
                ca = np.where(cand >= 0, inputs.deal_amount[np.where(cand >= 0, cand, 0)], 0.0)
                is_big = (cand >= 0) & (ca >= big_deal_sd * s0[rows, None])
                m_e = is_big.sum(axis=1)
            else:
                cand = np.zeros((len(rows), 0), dtype=np.int64)
                m_e = np.zeros(len(rows), dtype=np.int64)
            stride = _stride(ratio[rows], (ent_sd[rows] == 0) | no_factor)
            for m in np.unique(m_e):
                for st in np.unique(stride):
                    sel = np.flatnonzero((m_e == m) & (stride == st))
                    if not len(sel):
                        continue
                    u_idx, w = _nodes(int(st))
                    u = _U[u_idx]
                    step = max(1, (1 << 21) // (Q * len(u) * (1 << int(m))))
                    for b0 in range(0, len(sel), step):
                        sb = sel[b0:b0 + step]
                        rb = rows[sb]
                        bi = cand[sb, :m]
                        big_w = inputs.group_sd[inputs.deal_group[bi]][:, None, :] * u[None, :, None]
                        x, r = _hybrid(tot[rb][:, u_idx], big_w, w, closed[rb], inputs.deal_amount[bi],
                                       inputs.deal_eta[bi], qs, quota[rb])
                        qx[rb] = x
                        reach[rb] = r

        # ---- sharp
        rows = np.flatnonzero(sharp)
        step = max(1, (1 << 20) // (Q * len(_U) * len(_U) * _FINE // 4))
        for b0 in range(0, len(rows), step):
            rb = rows[b0:b0 + step]
            x, r = _sharp(tot[rb], closed[rb], qs, quota[rb])
            qx[rb] = x
            reach[rb] = r

        # ---- multi: hybrid conditional at factor points
        rows = np.flatnonzero(multi)
        if len(rows):
            mp = multi[parts.entity]
            pe, pg, pt = parts.entity[mp], parts.group[mp], parts.table[mp]
            index = np.full(n, -1, dtype=np.int64)
            index[rows] = np.arange(len(rows))
            local = index[pe]
            mmean, mvar = _multi_moments(inputs, pt, local, pg, len(rows))
            mean[rows] = closed[rows] + mmean
            var[rows] = mvar
            if upts is None:
                upts = _multi_points(inputs, factor_points, seed)
            # conditional sd at the centre, for the big-deal threshold
            centre_var = np.zeros(len(rows))
            np.add.at(centre_var, local, pt[:, len(_U) // 2, 1])
            if tops is not None:
                cand = tops[k][rows]
                ca = np.where(cand >= 0, inputs.deal_amount[np.where(cand >= 0, cand, 0)], 0.0)
                few = n_deals[rows] <= lattice_max_deals
                is_big = (cand >= 0) & ((ca >= big_deal_sd * np.sqrt(centre_var)[:, None])
                                        | few[:, None])
                is_big[:, max(big_deals, 0):] &= few[:, None]
                m_e = is_big.sum(axis=1)
            else:
                cand = np.zeros((len(rows), 0), dtype=np.int64)
                m_e = np.zeros(len(rows), dtype=np.int64)
            for m in np.unique(m_e):
                sel = np.flatnonzero(m_e == m)
                # factor points: all of them for a few entities, fewer (≥ 1,024) when many share the work
                n_pts = int(np.clip((1 << 22) // (len(sel) * Q * (1 << int(m))), 1024, len(upts))) // 2 * 2
                pts = upts[:n_pts]  # (K, G) in units of each group's sd
                Wpts = pts * inputs.group_sd[None, :]
                wk = np.full(n_pts, 1.0 / n_pts)
                per = max(1, (1 << 21) // (Q * n_pts * (1 << int(m))))
                for b0 in range(0, len(sel), per):
                    sb = sel[b0:b0 + per]
                    pm = np.isin(local, sb)
                    lp = np.searchsorted(sb, local[pm])
                    u_parts = pts[:, pg[pm]].T  # (P, K)
                    kp = _lagrange4(pt[pm], u_parts)  # (P, K, 4)
                    starts = np.flatnonzero(np.r_[True, lp[1:] != lp[:-1]])
                    tot_k = np.add.reduceat(kp, starts, axis=0)  # (E, K, 4)
                    bi = cand[sb, :m]
                    big_w = np.moveaxis(Wpts[:, inputs.deal_group[bi]], 0, -2)  # (E, K, m)
                    x, r = _hybrid(tot_k, big_w, wk, closed[rows[sb]], inputs.deal_amount[bi],
                                   inputs.deal_eta[bi], qs, quota[rows[sb]])
                    qx[rows[sb]] = x
                    reach[rows[sb]] = r

        stats.append({"mean": mean, "sd": np.sqrt(var), "q": qx, "p_reach": reach})
        methods[inputs.levels[k]] = {str(m): int(c) for m, c in zip(*np.unique(kind, return_counts=True))}
    frame = _frame(inputs, stats, qs, "fast")
    frame.attrs["methods"] = methods
    return frame
