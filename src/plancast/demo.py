"""The worked scenario, generated from known parameters.

``build_scenario(seed)`` returns every import kind of the reference case of
the design brief ("Worked scenario") as canonical frames (the columns and
types of :data:`plancast.kinds.KINDS`), plus the truth that generated them, so
the planning, forecast and diagnose layers can be tested against figures known
in advance (STYLE.md 5: each model has a simulator).

The company
    Three regions (East, Central, West), one geo territory each (``EAST``,
    ``CENTRAL``, ``WEST``) in the ``Mid-Market`` segment, ten account
    executives per region (``E01``..``E10``, ``C01``.., ``W01``..), each with
    a 0.1 share of the territory from 2024-01-01. 180 accounts per region
    (``ACC-E-001``..), owned round-robin (account *k* of a region belongs to
    rep ``(k - 1) % 10 + 1``), so every rep owns 18.

The plan for FY2026 (calendar 2026, recorded 2025-12-01)
    Per territory: 180 planned accounts, win rate 0.20, ASP $85,000, ramp 1.0
    and an opportunity rate ``r = 4.2e6 / (180 x 0.2 x 85,000) ~ 1.37255``
    qualified opportunities per account-year, so capacity is $4,200,000.
    Quota = capacity / 0.85 (uplift ``1/0.85 - 1``: the plan expects 85%
    attainment) = $4,941,176.47 per territory, split to its ten reps by share
    and to quarters by the days of each quarter (90, 91, 92, 92 of 365), both
    with largest-remainder rounding, so every level adds up to the cent.
    ``cycle_days`` is 90 (the true mean), ``coverage_ratio`` is the steady-state
    open pipeline over a quarter's quota implied by the plan's own rates:
    ``(90 / 91.25) / (0.20 x 1/0.85) = 4.19``.

What the plan missed
    40 of West's 180 accounts (4 per West rep, drawn at random) declined
    outreach for 12 months: ``account_exclusions`` valid 2026-01-01 ->
    2027-01-01, recorded 2025-11-14. Two West reps (``W03``, ``W07``) win at
    half the normal rate (0.10). So West's FY2026 expectation is
    ``0.85 x 140/180 x 0.9 = 59.5%`` of quota; East and Central 85%.

The true process (opportunities, from 2024-01-01; drawn up to 2027-01-01 and
then cut at ``as_of``)
    * Creation: a Poisson process at ``r`` per account-year (a year is 365
      days) on every account while it is available. The 40 excluded accounts
      are available in 2024-2025 only, and what they had in flight had to
      close before 2026-01-01 (a deal of theirs that would have closed later
      is never created: the process is thinned by its close date). So none of
      their deals is created, open or closed in 2026, and West's 2026 results
      come from its 140 available accounts alone.
    * Amount: lognormal with mean $85,000 and coefficient of variation 0.5,
      rounded to $100.
    * Time to close: gamma with shape 4 and mean 90 days (CV 0.5), rounded to
      whole days, at least 1.
    * Outcome: won with the owner's win rate (independent of amount and
      cycle), else lost.
    * Stages: Qualification at creation, then Discovery, Proposal and
      Negotiation after 25%, 50% and 75% of the deal's own cycle (whole days),
      then Closed Won / Closed Lost on the close date.
    * Expected close date: creation + 90 days (the plan's cycle). When that
      date passes with the deal still open, the owner pushes it out by 30
      days (the next day), as often as needed; so an open deal never shows a
      past close date, and history records each push.

``opportunity_history`` has one row per change (creation, each stage change,
each close-date push, the close), each row a snapshot of stage, amount and
expected close date; the ``opportunities`` frame is the last snapshot on or
before ``as_of``. Nothing dated after ``as_of`` exists in any CRM frame, and
the same seed with an earlier ``as_of`` gives exactly the world as it was
known then (same ids, a prefix of the history), which is what backtests need.

Everything is vectorised over accounts and opportunities and drawn from one
``numpy.random.Generator`` seeded explicitly (STYLE.md 12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_scalar

from .events import ordered_events
from .kinds import KINDS

__all__ = ["DEFAULT_SEED", "DEMO_KINDS", "Scenario", "TrueParams", "build_scenario", "canonical_frame"]

#: the kinds a scenario holds, in load order (references before what refers to them)
DEMO_KINDS: tuple[str, ...] = (
    "stages",
    "territories",
    "reps",
    "accounts",
    "territory_assignments",
    "rep_assignments",
    "account_exclusions",
    "planning_assumptions",
    "quotas",
    "opportunities",
    "opportunity_history",
)

# --------------------------------------------------------------------------- the plan's figures
REGIONS: tuple[str, ...] = ("East", "Central", "West")
SEGMENT = "Mid-Market"
CURRENCY = "USD"
ACCOUNTS_PER_REGION = 180
REPS_PER_REGION = 10
PLAN_CAPACITY = 4_200_000.0
PLAN_WIN_RATE = 0.20
PLAN_ASP = 85_000.0
PLAN_CYCLE_DAYS = 90.0
EXPECTED_ATTAINMENT = 0.85
#: qualified opportunities per account-year that make capacity exactly $4.2M
PLAN_OPP_RATE = PLAN_CAPACITY / (ACCOUNTS_PER_REGION * PLAN_WIN_RATE * PLAN_ASP)
PLAN_UPLIFT = 1.0 / EXPECTED_ATTAINMENT - 1.0
#: steady-state open pipeline / a quarter's quota under the plan's own rates
PLAN_COVERAGE = round((PLAN_CYCLE_DAYS / (365.0 / 4)) / (PLAN_WIN_RATE * (1.0 + PLAN_UPLIFT)), 2)

#: the recorded seed of the reference scenario (STYLE.md 12): a representative
#: draw — the trailing year's win rate, deal size and opportunity rate within 4 %
#: of the true process, and the mid-2026Q2 projections within one standard
#: deviation of their expectations — so the demo shows the process, not an
#: unlucky sample (docs/decisions.md D9)
DEFAULT_SEED = 9

EPOCH = date(2024, 1, 1)  # day 0: first day opportunities are created
HORIZON = date(2027, 1, 1)  # the true process is drawn up to here (exclusive)
AS_OF = date(2026, 5, 15)
PLAN_RECORDED = date(2025, 12, 1)
EXCLUSIONS_RECORDED = date(2025, 11, 14)
REFERENCE_RECORDED = date(2023, 12, 1)
EXCLUSION_FROM = date(2026, 1, 1)
EXCLUSION_TO = date(2027, 1, 1)
EXCLUSION_REASON = "declined outreach for 12 months"

# --------------------------------------------------------------------------- stages
STAGES: tuple[tuple[str, int, bool, bool, float], ...] = (
    # stage, sort_order, is_closed, is_won, CRM default probability
    ("Qualification", 1, False, False, 0.10),
    ("Discovery", 2, False, False, 0.20),
    ("Proposal", 3, False, False, 0.40),
    ("Negotiation", 4, False, False, 0.60),
    ("Closed Won", 5, True, True, 1.00),
    ("Closed Lost", 6, True, False, 0.00),
)
_WON, _LOST = 4, 5  # stage codes (index into STAGES)


@dataclass(frozen=True)
class TrueParams:
    """The parameters the generator used: the truth that fits should recover."""

    seed: int
    as_of: date = AS_OF
    start: date = EPOCH
    horizon: date = HORIZON
    regions: tuple[str, ...] = REGIONS
    accounts_per_region: int = ACCOUNTS_PER_REGION
    reps_per_region: int = REPS_PER_REGION
    days_per_year: float = 365.0
    #: qualified opportunities per available account-year
    opp_rate: float = PLAN_OPP_RATE
    win_rate: float = PLAN_WIN_RATE
    weak_reps: tuple[str, ...] = ("W03", "W07")
    weak_win_rate: float = 0.10
    #: lognormal amounts: mean, coefficient of variation, rounding step
    asp: float = PLAN_ASP
    amount_cv: float = 0.5
    amount_step: float = 100.0
    #: gamma time to close in days: mean and shape (CV = 1/sqrt(shape) = 0.5)
    cycle_mean_days: float = 90.0
    cycle_shape: float = 4.0
    #: share of a deal's cycle after which it enters Discovery, Proposal, Negotiation
    stage_fractions: tuple[float, ...] = (0.25, 0.50, 0.75)
    #: days after creation of the first expected close date, and of each push
    expected_cycle_days: int = 90
    slip_days: int = 30
    excluded_region: str = "West"
    excluded_per_rep: int = 4
    exclusion_from: date = EXCLUSION_FROM
    exclusion_to: date = EXCLUSION_TO
    plan_capacity: float = PLAN_CAPACITY
    expected_attainment_of_plan: float = EXPECTED_ATTAINMENT

    def rep_win_rate(self, rep_id: str) -> float:
        return self.weak_win_rate if rep_id in self.weak_reps else self.win_rate

    def available_accounts(self, region: str, on: date) -> int:
        """Accounts of ``region`` open to new opportunities on day ``on``."""
        n = self.accounts_per_region
        if region == self.excluded_region and self.exclusion_from <= on < self.exclusion_to:
            n -= self.excluded_per_rep * self.reps_per_region
        return n

    def mean_win_rate(self, region: str) -> float:
        """Average true win rate of the region's reps (each owns as many available accounts)."""
        prefix = region[0]
        reps = [f"{prefix}{i:02d}" for i in range(1, self.reps_per_region + 1)]
        return float(np.mean([self.rep_win_rate(r) for r in reps]))

    def expected_won(self, region: str, start: date, end: date) -> float:
        """Expected closed-won amount of ``region`` closing in ``[start, end)``.

        Steady state (the close rate equals the creation rate), exact for
        windows from mid-2024 on: deals on an account close at rate ``r`` while
        it is available (the excluded accounts' deals all close before their
        exclusion starts).
        """
        account_days = float(self.accounts_per_region * (end - start).days)
        if region == self.excluded_region:
            overlap = (min(end, self.exclusion_to) - max(start, self.exclusion_from)).days
            account_days -= self.excluded_per_rep * self.reps_per_region * max(overlap, 0)
        return account_days / self.days_per_year * self.opp_rate * self.mean_win_rate(region) * self.asp

    def expected_attainment(self, region: str, year: int = 2026) -> float:
        """Expected full-year closed-won / quota (West FY2026: 0.85 x 140/180 x 0.9 = 0.595)."""
        won = self.expected_won(region, date(year, 1, 1), date(year + 1, 1, 1))
        year_days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
        quota = self.plan_capacity * year_days / self.days_per_year / self.expected_attainment_of_plan
        return won / quota


@dataclass
class Scenario:
    """The worked scenario: canonical frames per kind, and what generated them."""

    #: kind name -> canonical frame (columns and dtypes of ``KINDS[kind]``)
    frames: dict[str, pd.DataFrame]
    #: kind name -> when its records were known (record time)
    recorded_at: dict[str, pd.Timestamp]
    #: (period_id, start, end_exclusive): FY2024..FY2026 and their quarters
    periods: list[tuple[str, date, date]]
    as_of: date
    truth: TrueParams
    #: account_id -> owning rep_id (accounts have no owner column; opportunities inherit it)
    account_owner: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))


# --------------------------------------------------------------------------- canonical frames
def _missing(kind_type: str) -> Any:
    return {"str": None, "date": pd.NaT, "int": pd.NA, "bool": pd.NA}.get(kind_type, np.nan)


def canonical_frame(kind: str, data: dict[str, Any], n: int | None = None) -> pd.DataFrame:
    """A frame with exactly the canonical columns of ``kind``, in order, typed.

    ``data`` maps column names to values (array-likes or scalars); absent
    columns are all blank. Types: str -> object with None for blank; date ->
    datetime64[ns] at midnight; money -> float64 rounded to the cent;
    number/rate -> float64; int -> Int64; bool -> boolean.
    """
    spec = KINDS[kind]
    unknown = set(data) - set(spec.column_names)
    if unknown:
        raise KeyError(f"{kind}: not canonical columns: {sorted(unknown)}")
    if n is None:
        lengths = {len(v) for v in data.values() if not is_scalar(v)}
        n = lengths.pop() if lengths else 0
    cols: dict[str, pd.Series] = {}
    for col in spec.columns:
        raw = data.get(col.name, _missing(col.type))
        if is_scalar(raw):
            raw = [raw] * n
        if col.type == "str":
            vals = np.asarray(raw, dtype=object)
            blank = pd.isna(vals)
            text = np.full(len(vals), None, dtype=object)
            text[~blank] = vals[~blank].astype(str).tolist()  # plain Python str, None for blank
            s = pd.Series(text, dtype=object)
        elif col.type == "date":
            s = pd.to_datetime(pd.Series(raw)).astype("datetime64[ns]").dt.normalize()
        elif col.type == "money":
            s = pd.Series(np.round(np.asarray(raw, dtype=float), 2), dtype="float64")
        elif col.type in ("number", "rate"):
            s = pd.Series(np.asarray(raw, dtype=float), dtype="float64")
        elif col.type == "int":
            s = pd.Series(pd.array(raw, dtype="Int64"))
        elif col.type == "bool":
            s = pd.Series(pd.array(raw, dtype="boolean"))
        else:  # pragma: no cover - kinds.py declares the types
            raise TypeError(col.type)
        if len(s) != n:
            raise ValueError(f"{kind}.{col.name}: {len(s)} values, expected {n}")
        cols[col.name] = s.reset_index(drop=True)
    return pd.DataFrame(cols, columns=list(spec.column_names))


def _days_to_dates(days: np.ndarray) -> np.ndarray:
    """Day numbers since EPOCH -> datetime64[ns] at midnight."""
    return (np.datetime64(EPOCH.isoformat(), "D") + np.asarray(days, dtype="int64").astype("timedelta64[D]")).astype(
        "datetime64[ns]"
    )


def _day(d: date) -> int:
    return (d - EPOCH).days


def _largest_remainder(total_cents: int, weights: np.ndarray) -> np.ndarray:
    """Split integer cents in proportion to ``weights``; ties go to the earlier item."""
    weights = np.asarray(weights, dtype=float)
    exact = total_cents * weights / weights.sum()
    base = np.floor(exact).astype(np.int64)
    left = int(total_cents - base.sum())
    order = np.lexsort((np.arange(len(exact)), -(exact - base)))
    base[order[:left]] += 1
    return base


def _periods() -> list[tuple[str, date, date]]:
    out: list[tuple[str, date, date]] = []
    for y in (2024, 2025, 2026):
        out.append((f"FY{y}", date(y, 1, 1), date(y + 1, 1, 1)))
        for q in range(4):
            end = date(y + 1, 1, 1) if q == 3 else date(y, 3 * q + 4, 1)
            out.append((f"{y}Q{q + 1}", date(y, 3 * q + 1, 1), end))
    return out


# --------------------------------------------------------------------------- reference data
_FIRST = (
    "Olivia", "Liam", "Maya", "Noah", "Priya", "Ethan", "Sofia", "Marcus", "Hannah", "Diego",
    "Grace", "Owen", "Aisha", "Lucas", "Chloe", "Mateo", "Nora", "Julian", "Leah", "Caleb",
    "Zoe", "Andre", "Ruby", "Samuel", "Elena", "Isaac", "Tessa", "Victor", "Naomi", "Henry",
    "Claire", "Rafael", "Ivy", "Gabriel", "Jasmine", "Miles", "Fiona", "Theo", "Alicia", "Dominic",
)
_LAST = (
    "Bennett", "Okafor", "Castillo", "Whitaker", "Nakamura", "Delgado", "Sullivan", "Patel",
    "Hoffman", "Brennan", "Lindqvist", "Morales", "Chen", "Abernathy", "Kowalski", "Reyes",
    "Fitzgerald", "Haddad", "Novak", "Thornton", "Adeyemi", "Larsen", "Vasquez", "Donovan",
    "Iyer", "Gallagher", "Moreau", "Sato", "Harrington", "Ramirez", "Osei", "Keller",
    "Lindgren", "Ortega", "Mbeki", "Caldwell", "Romano", "Tanaka", "Ashford", "Quinlan",
)
_EMAIL_DOMAIN = "meridian-advisory.example"

_STEMS = (
    "Alder", "Beacon", "Cedar", "Harbor", "Summit", "Granite", "Juniper", "Keystone", "Lakeshore",
    "Maple", "Northfield", "Oakridge", "Pinnacle", "Quarry", "Redwood", "Silverline", "Tidewater",
    "Union", "Vantage", "Westbrook", "Aspen", "Bluestem", "Copperleaf", "Driftwood", "Evergreen",
    "Fairview", "Goldcrest", "Highland", "Ironwood", "Jasper", "Kingsley", "Larkspur", "Meridian",
    "Northstar", "Orchard", "Prairie", "Ridgeline", "Sterling", "Trailhead", "Upland", "Valley",
    "Willow", "Yardley", "Anchor", "Bridgewater", "Crestview", "Dunmore", "Eastgate", "Foxhall",
    "Greystone", "Hawthorne", "Inlet", "Lighthouse", "Millbrook", "Newbury", "Oakmont", "Pioneer",
    "Riverside", "Stonebridge", "Timberline",
)
_INDUSTRY_NOUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Healthcare", ("Health", "Medical", "Care Partners")),
    ("Manufacturing", ("Manufacturing", "Industries", "Fabrication")),
    ("Financial Services", ("Financial", "Capital", "Bancorp")),
    ("Retail", ("Retail", "Outfitters", "Markets")),
    ("Technology", ("Systems", "Software", "Analytics")),
    ("Logistics", ("Logistics", "Freight", "Distribution")),
    ("Energy", ("Energy", "Power", "Utilities")),
)
_LEGAL = ("Inc.", "LLC", "Corp.", "Group", "Co.", "Holdings")
_PRODUCTS = ("Advisory", "Implementation", "Managed Services", "Training")
_SIZE_BANDS = (("100-249", 100, 249, 0.40), ("250-499", 250, 499, 0.35), ("500-999", 500, 999, 0.25))
_PLACES: dict[str, tuple[tuple[str, str, str], ...]] = {
    # region -> (state, city, postal code)
    "East": (
        ("NY", "New York", "10001"), ("NY", "Buffalo", "14202"), ("MA", "Boston", "02110"),
        ("MA", "Worcester", "01608"), ("PA", "Philadelphia", "19103"), ("PA", "Pittsburgh", "15222"),
        ("NJ", "Newark", "07102"), ("CT", "Hartford", "06103"), ("VA", "Richmond", "23219"),
        ("NC", "Charlotte", "28202"), ("NC", "Raleigh", "27601"), ("GA", "Atlanta", "30303"),
        ("FL", "Miami", "33131"), ("FL", "Tampa", "33602"), ("MD", "Baltimore", "21202"),
    ),
    "Central": (
        ("IL", "Chicago", "60601"), ("OH", "Columbus", "43215"), ("OH", "Cleveland", "44113"),
        ("MI", "Detroit", "48226"), ("MI", "Grand Rapids", "49503"), ("TX", "Dallas", "75201"),
        ("TX", "Houston", "77002"), ("TX", "Austin", "78701"), ("MN", "Minneapolis", "55402"),
        ("MO", "St. Louis", "63101"), ("MO", "Kansas City", "64105"), ("WI", "Milwaukee", "53202"),
        ("IN", "Indianapolis", "46204"), ("TN", "Nashville", "37203"),
    ),
    "West": (
        ("CA", "San Francisco", "94105"), ("CA", "Los Angeles", "90017"), ("CA", "San Diego", "92101"),
        ("CA", "Sacramento", "95814"), ("WA", "Seattle", "98101"), ("WA", "Spokane", "99201"),
        ("OR", "Portland", "97204"), ("AZ", "Phoenix", "85004"), ("CO", "Denver", "80202"),
        ("NV", "Las Vegas", "89101"), ("UT", "Salt Lake City", "84111"), ("ID", "Boise", "83702"),
    ),
}


def _people(rng: np.random.Generator, n: int) -> list[tuple[str, str]]:
    """``n`` distinct (first, last) names."""
    pick = rng.choice(len(_FIRST) * len(_LAST), size=n, replace=False)
    return [(_FIRST[i // len(_LAST)], _LAST[i % len(_LAST)]) for i in pick]


@dataclass
class _Reference:
    frames: dict[str, pd.DataFrame]
    account_owner: pd.Series
    #: per account: index of the owning rep in the reps frame, and whether it is excluded in FY2026
    owner_idx: np.ndarray
    excluded: np.ndarray


def _reference(rng: np.random.Generator, truth: TrueParams) -> _Reference:
    n_reg, n_rep, n_acc = len(REGIONS), truth.reps_per_region, truth.accounts_per_region
    prefixes = [r[0] for r in REGIONS]

    stages = canonical_frame(
        "stages",
        {
            "stage": [s[0] for s in STAGES],
            "sort_order": [s[1] for s in STAGES],
            "is_closed": [s[2] for s in STAGES],
            "is_won": [s[3] for s in STAGES],
            "probability": [s[4] for s in STAGES],
        },
    )
    territories = canonical_frame(
        "territories",
        {
            "territory_id": [r.upper() for r in REGIONS],
            "name": [f"{r} {SEGMENT}" for r in REGIONS],
            "region_id": list(REGIONS),
            "segment_id": SEGMENT,
            "territory_type": "geo",
            "precedence": 0,
        },
    )

    # reps (30) and their managers (3): distinct names
    people = _people(rng, n_reg * n_rep + n_reg)
    rep_people, managers = people[: n_reg * n_rep], people[n_reg * n_rep :]
    rep_ids = [f"{p}{i:02d}" for p in prefixes for i in range(1, n_rep + 1)]
    rep_region = np.repeat(np.arange(n_reg), n_rep)
    # hired 2019-01-01 .. 2023-06-30: fully ramped (3 months) before 2024
    hire_lo, hire_hi = date(2019, 1, 1), date(2023, 6, 30)
    hire_days = rng.integers(0, (hire_hi - hire_lo).days + 1, size=len(rep_ids))
    hire = np.datetime64(hire_lo.isoformat(), "D") + hire_days.astype("timedelta64[D]")
    reps = canonical_frame(
        "reps",
        {
            "rep_id": rep_ids,
            "name": [f"{f} {l}" for f, l in rep_people],
            "email": [f"{f}.{l}@{_EMAIL_DOMAIN}".lower() for f, l in rep_people],
            "manager": [f"{managers[g][0]} {managers[g][1]}" for g in rep_region],
            "role": "AE",
            "hire_date": hire,
            "departure_date": pd.NaT,
            "ramp_months": 3,
            # left blank on purpose: rep_assignments carries the 0.1 shares from 2024-01-01
            "territory_id": None,
        },
    )

    # accounts: 180 per region, owned round-robin by the region's reps
    n_all = n_reg * n_acc
    acc_region = np.repeat(np.arange(n_reg), n_acc)
    acc_k = np.tile(np.arange(n_acc), n_reg)  # 0-based index within region
    acc_ids = pd.Series([f"ACC-{p}-" for p in prefixes]).repeat(n_acc).to_numpy(dtype=object) + pd.Series(
        acc_k + 1
    ).map("{:03d}".format).to_numpy(dtype=object)
    owner_idx = acc_region * n_rep + acc_k % n_rep
    owner = np.asarray(rep_ids, dtype=object)[owner_idx]

    nouns = [(ind, noun) for ind, ns in _INDUSTRY_NOUNS for noun in ns]
    pair = rng.choice(len(_STEMS) * len(nouns), size=n_all, replace=False)
    stem = np.asarray(_STEMS, dtype=object)[pair // len(nouns)]
    noun = np.asarray([n for _, n in nouns], dtype=object)[pair % len(nouns)]
    industry = np.asarray([i for i, _ in nouns], dtype=object)[pair % len(nouns)]
    legal = np.asarray(_LEGAL, dtype=object)[rng.integers(0, len(_LEGAL), size=n_all)]
    names = stem + " " + noun + " " + legal

    place_u = rng.random(n_all)
    state = np.empty(n_all, dtype=object)
    city = np.empty(n_all, dtype=object)
    postal = np.empty(n_all, dtype=object)
    for g, region in enumerate(REGIONS):  # per region, vectorised over its accounts
        places = _PLACES[region]
        m = acc_region == g
        pick = np.floor(place_u[m] * len(places)).astype(int)
        state[m] = np.asarray([p[0] for p in places], dtype=object)[pick]
        city[m] = np.asarray([p[1] for p in places], dtype=object)[pick]
        postal[m] = np.asarray([p[2] for p in places], dtype=object)[pick]

    band_p = np.asarray([b[3] for b in _SIZE_BANDS])
    band = rng.choice(len(_SIZE_BANDS), size=n_all, p=band_p)
    lo = np.asarray([b[1] for b in _SIZE_BANDS])[band]
    hi = np.asarray([b[2] for b in _SIZE_BANDS])[band]
    employees = lo + np.floor(rng.random(n_all) * (hi - lo + 1)).astype(np.int64)
    revenue_per_head = rng.lognormal(np.log(180_000.0), 0.35, size=n_all)
    revenue = np.round(employees * revenue_per_head, -3)

    accounts = canonical_frame(
        "accounts",
        {
            "account_id": acc_ids,
            "name": names,
            "parent_account_id": None,
            "country": "US",
            "state": state,
            "city": city,
            "postal_code": postal,
            "industry": industry,
            "size_band": np.asarray([b[0] for b in _SIZE_BANDS], dtype=object)[band],
            "employees": employees,
            "annual_revenue": revenue,
            "segment_id": SEGMENT,
        },
    )
    account_owner = pd.Series(owner, index=pd.Index(acc_ids, name="account_id"), name="owner_id", dtype=object)

    # exclusions: 4 random accounts of each West rep (its 18 accounts ranked by a random key)
    west = REGIONS.index(truth.excluded_region)
    key = rng.random(n_all)
    excluded = np.zeros(n_all, dtype=bool)
    for r in range(n_rep):  # per rep of the region, vectorised over its accounts
        idx = np.flatnonzero((acc_region == west) & (acc_k % n_rep == r))
        excluded[idx[np.argsort(key[idx], kind="stable")[: truth.excluded_per_rep]]] = True

    frames = {"stages": stages, "territories": territories, "reps": reps, "accounts": accounts}
    return _Reference(frames, account_owner, owner_idx, excluded)


def _plan(frames: dict[str, pd.DataFrame], excluded: np.ndarray, truth: TrueParams) -> dict[str, pd.DataFrame]:
    acc = frames["accounts"]
    terr_of_region = {r: r.upper() for r in REGIONS}
    region_of_acc = np.repeat(np.asarray([terr_of_region[r] for r in REGIONS], dtype=object), truth.accounts_per_region)
    territory_assignments = canonical_frame(
        "territory_assignments",
        {
            "account_id": acc["account_id"].to_numpy(),
            "territory_id": region_of_acc,
            "valid_from": pd.Timestamp(EPOCH),
            "valid_to": pd.NaT,
            "recorded_at": pd.Timestamp(REFERENCE_RECORDED),
        },
    )
    reps = frames["reps"]
    rep_terr = np.repeat(np.asarray(list(terr_of_region.values()), dtype=object), truth.reps_per_region)
    share = 1.0 / truth.reps_per_region
    rep_assignments = canonical_frame(
        "rep_assignments",
        {
            "rep_id": reps["rep_id"].to_numpy(),
            "territory_id": rep_terr,
            "share": share,
            "valid_from": pd.Timestamp(EPOCH),
            "valid_to": pd.NaT,
            "recorded_at": pd.Timestamp(REFERENCE_RECORDED),
        },
    )
    account_exclusions = canonical_frame(
        "account_exclusions",
        {
            "account_id": acc["account_id"].to_numpy()[excluded],
            "reason": EXCLUSION_REASON,
            "valid_from": pd.Timestamp(truth.exclusion_from),
            "valid_to": pd.Timestamp(truth.exclusion_to),
            "recorded_at": pd.Timestamp(EXCLUSIONS_RECORDED),
        },
    )
    n_t = len(REGIONS)
    planning_assumptions = canonical_frame(
        "planning_assumptions",
        {
            "territory_id": list(terr_of_region.values()),
            "period": "FY2026",
            "planned_accounts": float(truth.accounts_per_region),
            "opp_rate": PLAN_OPP_RATE,
            "win_rate": PLAN_WIN_RATE,
            "asp": PLAN_ASP,
            "cycle_days": PLAN_CYCLE_DAYS,
            "coverage_ratio": PLAN_COVERAGE,
            "uplift": PLAN_UPLIFT,
            "ramp": 1.0,
            "valid_from": pd.Timestamp(date(2026, 1, 1)),
            "valid_to": pd.Timestamp(date(2027, 1, 1)),
            "recorded_at": pd.Timestamp(PLAN_RECORDED),
        },
        n=n_t,
    )

    # quotas: territory quota = capacity x (1 + uplift) to the cent -> reps by share -> quarters by days
    capacity = (
        truth.accounts_per_region * PLAN_OPP_RATE * PLAN_WIN_RATE * PLAN_ASP * 1.0 * 1.0
    )  # A x r x w x ASP x T(=1 year) x ramp
    territory_cents = int(round(capacity * (1.0 + PLAN_UPLIFT) * 100))
    rep_cents = _largest_remainder(territory_cents, np.full(truth.reps_per_region, share))
    quarters = [p for p in _periods() if p[0].startswith("2026Q")]
    q_days = np.asarray([(e - s).days for _, s, e in quarters], dtype=float)
    q_cents = np.stack([_largest_remainder(int(c), q_days) for c in rep_cents])  # (reps, 4)
    rows_rep, rows_period, rows_cents, rows_from, rows_to = [], [], [], [], []
    fy = ("FY2026", date(2026, 1, 1), date(2027, 1, 1))
    for g in range(n_t):  # per territory
        for i in range(truth.reps_per_region):  # per rep (30 in all)
            rid = reps["rep_id"].iat[g * truth.reps_per_region + i]
            for (pid, s, e), cents in zip([fy, *quarters], [rep_cents[i], *q_cents[i]], strict=True):
                rows_rep.append(rid)
                rows_period.append(pid)
                rows_cents.append(int(cents))
                rows_from.append(pd.Timestamp(s))
                rows_to.append(pd.Timestamp(e))
    quotas = canonical_frame(
        "quotas",
        {
            "entity_type": "rep",
            "entity_id": rows_rep,
            "period": rows_period,
            "amount": np.asarray(rows_cents, dtype=np.int64) / 100.0,
            "basis": "derived",
            "currency": CURRENCY,
            "valid_from": rows_from,
            "valid_to": rows_to,
            "recorded_at": pd.Timestamp(PLAN_RECORDED),
        },
    )
    return {
        "territory_assignments": territory_assignments,
        "rep_assignments": rep_assignments,
        "account_exclusions": account_exclusions,
        "planning_assumptions": planning_assumptions,
        "quotas": quotas,
    }


# --------------------------------------------------------------------------- the CRM process
def _crm(
    rng: np.random.Generator,
    frames: dict[str, pd.DataFrame],
    owner_idx: np.ndarray,
    excluded: np.ndarray,
    truth: TrueParams,
    as_of: date,
) -> dict[str, pd.DataFrame]:
    accounts, reps = frames["accounts"], frames["reps"]
    n_acc = len(accounts)
    horizon = _day(truth.horizon)
    excl_from = _day(truth.exclusion_from)
    as_of_day = _day(as_of)

    # creation: Poisson at r per account-year over each account's window (continuous time)
    window = np.where(excluded, excl_from, horizon).astype(float)
    counts = rng.poisson(truth.opp_rate / truth.days_per_year * window)
    acc = np.repeat(np.arange(n_acc), counts)
    n = len(acc)
    t = rng.random(n) * window[acc]
    created = np.floor(t).astype(np.int64)
    sigma2 = np.log1p(truth.amount_cv**2)
    amount = rng.lognormal(np.log(truth.asp) - sigma2 / 2, np.sqrt(sigma2), size=n)
    amount = np.maximum(np.round(amount / truth.amount_step), 1) * truth.amount_step
    scale = truth.cycle_mean_days / truth.cycle_shape
    cycle = np.maximum(np.rint(rng.gamma(truth.cycle_shape, scale, size=n)), 1).astype(np.int64)
    rep_rates = np.asarray([truth.rep_win_rate(r) for r in reps["rep_id"]])
    owner = owner_idx[acc]
    won = rng.random(n) < rep_rates[owner]
    product = rng.integers(0, len(_PRODUCTS), size=n)
    close = created + cycle
    # the excluded accounts' deals must close while the account is available
    keep = ~(excluded[acc] & (close >= excl_from))
    order = np.lexsort((t, acc, created))
    order = order[keep[order]]
    acc, t, created, amount, cycle, won, product, close, owner = (
        a[order] for a in (acc, t, created, amount, cycle, won, product, close, owner)
    )
    n = len(acc)
    opp_ids = np.char.add("OPP-", np.char.zfill(np.arange(1, n + 1).astype(str), 5)).astype(object)

    # history events over the whole horizon: (opp, day, kind order, stage code, expected close)
    first_expected = created + truth.expected_cycle_days
    ev_opp = [np.arange(n)]
    ev_day = [created]
    ev_ord = [np.zeros(n, np.int64)]
    ev_stage = [np.zeros(n)]
    ev_close = [first_expected.astype(float)]
    for k, q in enumerate(truth.stage_fractions, start=1):  # three stage changes
        ev_opp.append(np.arange(n))
        ev_day.append(created + np.floor(cycle * q).astype(np.int64))
        ev_ord.append(np.full(n, k, np.int64))
        ev_stage.append(np.full(n, float(k)))
        ev_close.append(np.full(n, np.nan))
    # pushes: the day after the expected date lapses, while the deal is open (and within the horizon)
    last = np.minimum(close - 1, horizon - 1)
    n_push = np.where(last >= first_expected + 1, (last - (first_expected + 1)) // truth.slip_days + 1, 0)
    p_opp = np.repeat(np.arange(n), n_push)
    p_j = np.arange(len(p_opp)) - np.repeat(np.cumsum(n_push) - n_push, n_push)
    ev_opp.append(p_opp)
    ev_day.append(first_expected[p_opp] + 1 + truth.slip_days * p_j)
    ev_ord.append(np.full(len(p_opp), 4, np.int64))
    ev_stage.append(np.full(len(p_opp), np.nan))
    ev_close.append((first_expected[p_opp] + truth.slip_days * (p_j + 1)).astype(float))
    # the close
    ev_opp.append(np.arange(n))
    ev_day.append(close)
    ev_ord.append(np.full(n, 5, np.int64))
    ev_stage.append(np.where(won, _WON, _LOST).astype(float))
    ev_close.append(close.astype(float))

    # the cut: nothing after as_of exists
    e_opp, e_day, e_stage, e_close, seq = ordered_events(ev_opp, ev_day, ev_ord, ev_stage, ev_close, as_of_day)
    stage_names = np.asarray([s[0] for s in STAGES], dtype=object)
    stage_prob = np.asarray([s[4] for s in STAGES])
    history = canonical_frame(
        "opportunity_history",
        {
            "history_id": opp_ids[e_opp] + np.char.add("-", np.char.zfill(seq.astype(str), 2)).astype(object),
            "opportunity_id": opp_ids[e_opp],
            "changed_at": _days_to_dates(e_day),
            "stage": stage_names[e_stage],
            "amount": amount[e_opp],
            "close_date": _days_to_dates(e_close),
        },
    )

    # the opportunities as of: each one's last snapshot on or before as_of
    last_row = np.flatnonzero(np.r_[e_opp[1:] != e_opp[:-1], True]) if len(e_opp) else np.array([], np.int64)
    o = e_opp[last_row]
    st = e_stage[last_row]
    acc_names = accounts["name"].to_numpy(dtype=object)
    products = np.asarray(_PRODUCTS, dtype=object)
    opportunities = canonical_frame(
        "opportunities",
        {
            "opportunity_id": opp_ids[o],
            "name": acc_names[acc[o]] + " - " + products[product[o]],
            "account_id": accounts["account_id"].to_numpy(dtype=object)[acc[o]],
            "owner_id": reps["rep_id"].to_numpy(dtype=object)[owner[o]],
            "amount": amount[o],
            "currency": CURRENCY,
            "stage": stage_names[st],
            "created_date": _days_to_dates(created[o]),
            "close_date": _days_to_dates(e_close[last_row]),
            "is_closed": st >= _WON,
            "is_won": st == _WON,
            "product": products[product[o]],
            "probability": stage_prob[st],
        },
    )
    return {"opportunities": opportunities, "opportunity_history": history}


def build_scenario(seed: int = DEFAULT_SEED, *, as_of: date = AS_OF) -> Scenario:
    """The worked scenario, drawn from ``numpy.random.default_rng(seed)``.

    ``as_of`` (default 2026-05-15) only cuts the CRM frames: the same seed
    gives the same world at every ``as_of``, seen up to that day. Plan records
    are always all included; their ``recorded_at`` says when each was known.
    """
    if not (EPOCH <= as_of < HORIZON):
        raise ValueError(f"as_of must be in [{EPOCH}, {HORIZON}), got {as_of}")
    truth = TrueParams(seed=seed, as_of=as_of)
    rng = np.random.default_rng(seed)
    ref = _reference(rng, truth)
    frames = dict(ref.frames)
    frames.update(_plan(frames, ref.excluded, truth))
    frames.update(_crm(rng, frames, ref.owner_idx, ref.excluded, truth, as_of))
    frames = {k: frames[k] for k in DEMO_KINDS}

    ts = pd.Timestamp
    recorded_at = {
        "stages": ts(REFERENCE_RECORDED),
        "territories": ts(REFERENCE_RECORDED),
        "reps": ts(REFERENCE_RECORDED),
        "accounts": ts(REFERENCE_RECORDED),
        "territory_assignments": ts(REFERENCE_RECORDED),
        "rep_assignments": ts(REFERENCE_RECORDED),
        "account_exclusions": ts(EXCLUSIONS_RECORDED),
        "planning_assumptions": ts(PLAN_RECORDED),
        "quotas": ts(PLAN_RECORDED),
        "opportunities": ts(as_of),
        "opportunity_history": ts(as_of),
    }
    return Scenario(
        frames=frames,
        recorded_at=recorded_at,
        periods=_periods(),
        as_of=as_of,
        truth=truth,
        account_owner=ref.account_owner,
    )
