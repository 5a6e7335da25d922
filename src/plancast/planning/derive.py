"""Planning assumptions from history: each territory's achieved rates over a window.

``derive_assumptions(store, period, start, end, uplift=…)`` measures, per
territory, what its reps achieved over ``[start, end)`` (docs/methodology.md §11):

* opportunities created per available account-year (``opp_rate``): deals created in
  the window by the territory's reps, over the territory's available account-years
  (assignments minus exclusions, day by day); a territory without account
  assignments counts the distinct accounts its reps worked in the window instead;
* ``win_rate`` = won / closed and ``asp`` = mean won amount, of deals closed in the
  window; ``cycle_days`` = median days from creation to a won close;
* ``planned_accounts`` = accounts assigned to the territory on the period's first day
  (or, without assignments, the accounts worked in the window);
* ``coverage_ratio`` = (cycle ÷ a quarter's days) ÷ (win rate × (1 + uplift)): the
  open pipeline a quarter's quota needs in steady state.

A deal belongs to its account's territory when its owner covers that territory (a rep
may cover several); otherwise to the territory its owner was assigned to at the end of
the window (the largest share). Territories with too few deals to measure a rate take the
company's rate for it, and say so. The result is a frame of ``planning_assumptions``
for the period, written as a plan version by :func:`write_derived_assumptions`.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from ..errors import BadInput
from ..store import DEFAULT_PLAN, Store, WriteResult
from .build import period_bounds

__all__ = ["MIN_DEALS", "derive_assignments", "derive_assumptions", "derive_rep_assignments",
           "write_derived_assumptions"]

#: fewest closed (or won, for size and cycle) deals a territory needs for its own rate
MIN_DEALS = 10
QUARTER_DAYS = 365.0 / 4


def _rep_assignments(store: Store, start: date, end: date, plan_id: str, known_at: datetime | None,
                     derived: pd.DataFrame | None = None) -> pd.DataFrame:
    ra = derived if derived is not None else store.plan_records("rep_assignments", plan_id=plan_id,
                                                                during=(start, end), known_at=known_at)
    if not len(ra):
        raise BadInput(f"no rep assignments overlap the history window {start} – {end}",
                       hint="import which reps cover which territories (plancast import rep-assignments FILE "
                            "--valid-from DATE, or reps with a territory column), or give a later window")
    return ra


def _rep_territory(store: Store, start: date, end: date, plan_id: str, known_at: datetime | None,
                   derived: pd.DataFrame | None = None) -> pd.Series:
    ra = _rep_assignments(store, start, end, plan_id, known_at, derived)
    ra = ra.sort_values(["valid_from", "share"], ascending=False).drop_duplicates("rep_id")
    return ra.set_index(ra["rep_id"].astype(str))["territory_id"].astype(str)


def _deal_territory(store: Store, opp: pd.DataFrame, start: date, end: date, plan_id: str,
                    known_at: datetime | None, assignments: pd.DataFrame | None,
                    rep_assignments: pd.DataFrame | None = None) -> pd.Series:
    """Each deal's territory: its account's (the last assignment in the window) when the owner covers
    that territory in the window, else the owner's own (largest share at the window's end)."""
    owner = opp["owner_id"].astype(str)
    t_of = owner.map(_rep_territory(store, start, end, plan_id, known_at, rep_assignments))
    asg = assignments if assignments is not None else store.plan_records(
        "territory_assignments", plan_id=plan_id, during=(start, end), known_at=known_at)
    if not len(asg):
        return t_of
    asg = asg.sort_values("valid_from", ascending=False).drop_duplicates("account_id")
    acc_t = opp["account_id"].astype(str).map(asg.set_index(asg["account_id"].astype(str))["territory_id"].astype(str))
    ra = _rep_assignments(store, start, end, plan_id, known_at, rep_assignments)
    covers = pd.MultiIndex.from_arrays([ra["rep_id"].astype(str), ra["territory_id"].astype(str)])
    own = pd.MultiIndex.from_arrays([owner, acc_t.fillna("")]).isin(covers) & opp["account_id"].notna().to_numpy()
    return acc_t.where(own, t_of)


def derive_assignments(store: Store, start: date, end: date, *, plan_id: str = DEFAULT_PLAN,
                       known_at: datetime | None = None) -> pd.DataFrame:
    """Accounts to territories for a CRM export that has none: each account goes to the
    territory whose reps created most of its deals over ``[start, end)`` (ties: the
    territory id first in order), from ``start`` on. Accounts without deals stay unassigned."""
    rep_terr = _rep_territory(store, start, end, plan_id, known_at)
    opp = store.read_table("opportunity")
    created = pd.to_datetime(opp["created_date"])
    t = opp["owner_id"].astype(str).map(rep_terr)
    ok = (created >= pd.Timestamp(start)) & (created < pd.Timestamp(end)) & t.notna() & opp["account_id"].notna()
    n = pd.DataFrame({"account_id": opp.loc[ok, "account_id"].astype(str), "territory_id": t[ok]}).value_counts()
    n = n.rename("deals").reset_index().sort_values(["account_id", "deals", "territory_id"],
                                                     ascending=[True, False, True])
    best = n.drop_duplicates("account_id")[["account_id", "territory_id"]].reset_index(drop=True)
    best["valid_from"] = pd.Timestamp(start)
    best["valid_to"] = pd.NaT
    return best


def derive_rep_assignments(store: Store, start: date, end: date, *, plan_id: str = DEFAULT_PLAN,
                           known_at: datetime | None = None) -> pd.DataFrame:
    """Reps to territories for a CRM export that has none (its owners own accounts, and the
    accounts sit in territories): each rep covers the territories of the accounts of the
    deals it created over ``[start, end)``, carrying its share of each territory's deals,
    from ``start`` on. Deals owned by ids that are not reps in the store are left out."""
    asg = store.plan_records("territory_assignments", plan_id=plan_id, during=(start, end), known_at=known_at)
    if not len(asg):
        raise BadInput(f"neither rep assignments nor account assignments overlap the history window {start} – {end}: "
                       "plancast cannot tell which territory a deal belongs to",
                       hint="import which reps cover which territories (plancast import rep-assignments FILE "
                            "--valid-from DATE) or which accounts are in them (plancast import "
                            "territory-assignments FILE --valid-from DATE)")
    asg = asg.sort_values("valid_from", ascending=False).drop_duplicates("account_id")
    opp = store.read_table("opportunity")
    created = pd.to_datetime(opp["created_date"])
    t = opp["account_id"].astype(str).map(asg.set_index(asg["account_id"].astype(str))["territory_id"].astype(str))
    reps = store.read_table("rep")["rep_id"].astype(str)
    owner = opp["owner_id"].astype(str)
    ok = (created >= pd.Timestamp(start)) & (created < pd.Timestamp(end)) & t.notna() & owner.isin(reps)
    if not ok.any():
        raise BadInput(f"no rep assignments overlap the history window {start} – {end}, and none can be derived: "
                       "no deal created in it is owned by a rep and on an account with a territory",
                       hint="import which reps cover which territories (plancast import rep-assignments FILE "
                            "--valid-from DATE), or give a window with deals (--from/--to)")
    n = pd.DataFrame({"rep_id": owner[ok], "territory_id": t[ok]}).value_counts().rename("deals").reset_index()
    n["share"] = n["deals"] / n.groupby("territory_id")["deals"].transform("sum")
    n = n.sort_values(["rep_id", "territory_id"]).reset_index(drop=True)
    n["valid_from"] = pd.Timestamp(start)
    n["valid_to"] = pd.NaT
    return n[["rep_id", "territory_id", "share", "valid_from", "valid_to"]]


def derive_assumptions(store: Store, period: str, start: date, end: date, *, uplift: float,
                       plan_id: str = DEFAULT_PLAN, known_at: datetime | None = None,
                       assignments: pd.DataFrame | None = None,
                       rep_assignments: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[str]]:
    """(assumptions frame, notes) for ``period`` from what was achieved over ``[start, end)``.

    ``assignments`` (from :func:`derive_assignments`, not yet written) stand in for the
    store's account assignments: each account in its territory over the whole window;
    ``rep_assignments`` (from :func:`derive_rep_assignments`) likewise for the reps'."""
    if end <= start:
        raise BadInput(f"the history window {start} – {end} is empty", hint="give --from before --to")
    if not -0.99 <= uplift <= 10:
        raise BadInput(f"--uplift {uplift} is outside -0.99 … 10", hint="e.g. --uplift 0.15 for quota = capacity × 1.15")
    p_start, p_end = period_bounds(store, period)
    notes: list[str] = []
    terr = store.read_table("territory")["territory_id"].astype(str)
    if not len(terr):
        raise BadInput("the store has no territories", hint="import territories first (plancast import territories FILE)")
    opp = store.read_table("opportunity")
    created = pd.to_datetime(opp["created_date"])
    close = pd.to_datetime(opp["close_date"])
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    t_of = _deal_territory(store, opp, start, end, plan_id, known_at, assignments, rep_assignments)
    made = (created >= lo) & (created < hi) & t_of.notna()
    closed = opp["is_closed"].fillna(False).astype(bool) & (close >= lo) & (close < hi) & t_of.notna()
    won = closed & opp["is_won"].fillna(False).astype(bool)
    amount = pd.to_numeric(opp["amount"], errors="coerce")
    days = (close - created).dt.days
    g = pd.DataFrame({
        "created": made.groupby(t_of).sum(), "closed": closed.groupby(t_of).sum(), "won": won.groupby(t_of).sum(),
        "won_amount": amount.where(won).groupby(t_of).sum(), "sized": (won & amount.notna()).groupby(t_of).sum(),
        "cycle_days": days.where(won).groupby(t_of).median(),
        "accounts_worked": opp["account_id"].where(made).groupby(t_of).nunique(),
    }).reindex(terr).fillna({"created": 0, "closed": 0, "won": 0, "won_amount": 0.0, "sized": 0,
                             "accounts_worked": 0})

    # accounts: assigned on the period's first day, and available account-years over the window
    years = (hi - lo).days / 365.0
    if assignments is not None:
        assigned = assignments.groupby(assignments["territory_id"].astype(str))["account_id"].nunique()
        assigned = assigned.reindex(terr).fillna(0)
        expo = assigned * years
    else:
        asg = store.plan_records("territory_assignments", plan_id=plan_id, valid_on=p_start, known_at=known_at)
        assigned = asg.groupby(asg["territory_id"].astype(str))["account_id"].nunique().reindex(terr).fillna(0)
        from ..forecast.run import _exposure

        expo = _exposure(store, start, end, plan_id, known_at).set_index("territory_id")["account_years"]
        expo = expo.reindex(terr).fillna(0.0)
    no_asg = (assigned == 0) | (expo == 0)
    if no_asg.any():
        notes.append(f"{int(no_asg.sum())} territories without account assignments: planned accounts are the "
                     f"accounts their reps worked from {start} to {end}")
    g["planned_accounts"] = np.where(no_asg, g["accounts_worked"], assigned)
    g["account_years"] = np.where(no_asg, g["accounts_worked"] * years, expo)

    company = {
        "opp_rate": g["created"].sum() / max(g["account_years"].sum(), 1e-12),
        "win_rate": g["won"].sum() / max(g["closed"].sum(), 1),
        "asp": g["won_amount"].sum() / max(g["sized"].sum(), 1),
        "cycle_days": float(days.where(won).median()) if won.any() else np.nan,
    }
    if not g["closed"].sum() or not g["sized"].sum():
        raise BadInput(f"no deals closed (won, with an amount) between {start} and {end} by reps on the plan",
                       hint="give a history window with closed deals (--from/--to)")
    with np.errstate(divide="ignore", invalid="ignore"):
        own = {
            "opp_rate": (g["created"] / g["account_years"]).where(g["account_years"] > 0),
            "win_rate": (g["won"] / g["closed"]).where(g["closed"] >= MIN_DEALS),
            "asp": (g["won_amount"] / g["sized"]).where(g["sized"] >= MIN_DEALS),
            "cycle_days": g["cycle_days"].where(g["won"] >= MIN_DEALS),
        }
    for name, s in own.items():
        thin = s.isna() & (g["planned_accounts"] > 0)
        if thin.any():
            notes.append(f"{name}: {', '.join(s.index[thin])} had too few deals (< {MIN_DEALS}) and take the "
                         f"company's {company[name]:.4g}")
    # reps on the plan who created nothing in the window (new hires, or names without deals) still get quota
    ra = _rep_assignments(store, start, end, plan_id, known_at, rep_assignments)
    idle = sorted(set(ra["rep_id"].astype(str)) - set(opp.loc[made, "owner_id"].astype(str)))
    if idle:
        names = store.read_table("rep").set_index(store.read_table("rep")["rep_id"].astype(str))["name"]
        shown = [f"{names.get(r)} ({r})" if isinstance(names.get(r), str) and names.get(r) not in ("", r) else r
                 for r in idle]
        notes.append(f"{len(idle)} rep(s) on the plan created no deals from {start} to {end}: "
                     f"{', '.join(shown[:8])}{' …' if len(shown) > 8 else ''}; plan build still gives them their "
                     "share of their territory's quota (check they are ramping or should leave the plan)")
    out = pd.DataFrame({"territory_id": terr.to_numpy(), "period": period,
                        "planned_accounts": g["planned_accounts"].to_numpy(dtype=float)})
    for name, s in own.items():
        out[name] = s.fillna(company[name]).to_numpy(dtype=float)
    out["cycle_days"] = out["cycle_days"].fillna(90.0).round()
    out["uplift"] = float(uplift)
    out["coverage_ratio"] = ((out["cycle_days"] / QUARTER_DAYS) / (out["win_rate"] * (1 + uplift))).round(2)
    out["ramp"] = 1.0
    out["valid_from"] = pd.Timestamp(p_start)
    out["valid_to"] = pd.Timestamp(p_end)
    out = out[out["planned_accounts"] > 0].reset_index(drop=True)
    if not len(out):
        with_account = int((made & opp["account_id"].notna()).sum())
        raise BadInput(f"no territory has accounts to plan: there are no account assignments, and of the "
                       f"{int(made.sum()):,} deals created from {start} to {end}, {with_account:,} name an account",
                       hint="capacity is planned per account: import accounts and which territory each is in "
                            "(plancast import territory-assignments FILE --valid-from DATE), or deals with an "
                            "account_id; or give the period's assumptions yourself (plancast import "
                            "planning-assumptions FILE)")
    return out, notes


def write_derived_assumptions(store: Store, frame: pd.DataFrame, *, plan_id: str = DEFAULT_PLAN,
                              reason: str, author: str | None = None) -> WriteResult:
    """Write derived assumptions as a plan version (checked like an import)."""
    from ..ingest import check_frame
    from ..kinds import KINDS

    problems = check_frame(KINDS["planning_assumptions"], frame, source="plancast plan derive")
    if problems:
        raise BadInput("the derived assumptions are not valid", problems)
    return store.write("planning_assumptions", frame, source="plancast plan derive", plan_id=plan_id, reason=reason,
                       author=author)


def default_window(start: date) -> tuple[date, date]:
    """The year before a period starts (same day a year earlier; 28 February for 29 February)."""
    year_before = start.replace(year=start.year - 1, day=min(start.day, 28) if start.month == 2 else start.day)
    return year_before, start
