"""What each import kind is: its canonical columns, their types and rules.

This module is the single declaration that readers, presets, validation, the
store and the docs all read. A *kind* is what ``plancast import <kind> FILE``
loads. Column types:

``str``     text, trimmed; blank means missing
``date``    a calendar date (ISO ``YYYY-MM-DD``; ``YYYY-MM-DD HH:MM:SS`` keeps the date)
``money``   an amount in the row's currency, rounded to the cent
``number``  a real number
``int``     a whole number
``rate``    a share in [0, 1]
``bool``    true/false, 1/0, yes/no, y/n (case-insensitive)

Temporal kinds are *plan records*: they carry valid time (``valid_from``
inclusive, ``valid_to`` exclusive; blank ``valid_to`` means open-ended) and are
appended with record time; they are never updated in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["str", "date", "money", "number", "int", "rate", "bool"]

#: the pandas dtype of each column type in a canonical frame
DTYPES: dict[str, str] = {
    "str": "object",
    "date": "datetime64[ns]",
    "money": "float64",
    "number": "float64",
    "rate": "float64",
    "int": "Int64",
    "bool": "boolean",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = "str"
    #: the column must be present in the file (after mapping)
    required: bool = False
    #: blank values are allowed (only meaningful when present)
    nullable: bool = True
    #: inclusive bounds for numeric types
    min: float | None = None
    max: float | None = None
    #: allowed values for text columns (case-insensitive), None = any
    choices: tuple[str, ...] | None = None
    #: value used when the column is absent or blank
    default: object = None
    doc: str = ""


@dataclass(frozen=True)
class Reference:
    """``column`` must name an existing row of ``kind`` (store or same file)."""

    column: str
    kind: str


@dataclass(frozen=True)
class Kind:
    name: str
    #: the store table the kind loads into
    table: str
    columns: tuple[Column, ...]
    #: columns that identify one row (reference kinds) or one plan record (temporal)
    key: tuple[str, ...]
    temporal: bool = False
    references: tuple[Reference, ...] = ()
    doc: str = ""
    #: alternative spellings accepted on the command line
    aliases: tuple[str, ...] = field(default=())
    #: False for records plancast derives itself (not ``plancast import``-able)
    importable: bool = True

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


_VALID = (
    Column("valid_from", "date", doc="first day the record applies (inclusive)"),
    Column("valid_to", "date", doc="first day it no longer applies (exclusive); blank = open-ended"),
)
_RECORDED = Column(
    "recorded_at",
    "date",
    doc="when this was known (defaults to the time of import); never earlier than what the store already holds",
)
ENTITY_TYPES = ("rep", "territory", "region", "segment", "company")

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "accounts",
            "account",
            (
                Column("account_id", required=True, nullable=False, doc="unique account id"),
                Column("name"),
                Column("parent_account_id", doc="account id of the parent (account families)"),
                Column("country"),
                Column("state"),
                Column("city"),
                Column("postal_code"),
                Column("industry"),
                Column("size_band"),
                Column("employees", "int", min=0),
                Column("annual_revenue", "money", min=0),
                Column("segment_id"),
            ),
            key=("account_id",),
            references=(Reference("parent_account_id", "accounts"),),
            doc="Accounts (companies you sell to).",
        ),
        Kind(
            "reps",
            "rep",
            (
                Column("rep_id", required=True, nullable=False, doc="unique rep id (CRM user id or name)"),
                Column("name"),
                Column("email"),
                Column("manager", doc="manager's name or id (free text)"),
                Column("role", default="AE"),
                Column("hire_date", "date"),
                Column("departure_date", "date"),
                Column("ramp_months", "int", min=0, max=36, doc="months to full productivity"),
                Column("territory_id", doc="territory the rep covers; creates a rep assignment from hire_date"),
            ),
            key=("rep_id",),
            references=(Reference("territory_id", "territories"),),
            doc="Sales reps (account executives) and their managers.",
        ),
        Kind(
            "territories",
            "territory",
            (
                Column("territory_id", required=True, nullable=False),
                Column("name"),
                Column("region_id", doc="region the territory belongs to (created if new)"),
                Column("segment_id", doc="segment the territory belongs to (created if new)"),
                Column("territory_type", default="geo", choices=("geo", "named", "overlay")),
                Column("precedence", "int", default=0, doc="higher wins when territories overlap"),
            ),
            key=("territory_id",),
            doc="Territories, each in a region and a segment.",
        ),
        Kind(
            "territory_assignments",
            "territory_assignment",
            (
                Column("account_id", required=True, nullable=False),
                Column("territory_id", required=True, nullable=False),
                *_VALID,
                _RECORDED,
            ),
            key=("account_id",),
            temporal=True,
            references=(Reference("account_id", "accounts"), Reference("territory_id", "territories")),
            doc="Which territory each account belongs to, over time.",
            aliases=("assignments",),
        ),
        Kind(
            "rep_assignments",
            "rep_assignment",
            (
                Column("rep_id", required=True, nullable=False),
                Column("territory_id", required=True, nullable=False),
                Column("share", "rate", default=1.0, doc="share of the territory the rep carries"),
                *_VALID,
                _RECORDED,
            ),
            key=("rep_id", "territory_id"),
            temporal=True,
            references=(Reference("rep_id", "reps"), Reference("territory_id", "territories")),
            doc="Which reps cover which territory, over time.",
        ),
        Kind(
            "account_exclusions",
            "account_exclusion",
            (
                Column("account_id", required=True, nullable=False),
                Column("reason", required=True, nullable=False),
                *_VALID,
                _RECORDED,
            ),
            key=("account_id", "reason"),
            temporal=True,
            references=(Reference("account_id", "accounts"),),
            doc="Accounts unavailable for a stretch of time (e.g. declined outreach for 12 months).",
            aliases=("exclusions",),
        ),
        Kind(
            "planning_assumptions",
            "territory_plan",
            (
                Column("territory_id", required=True, nullable=False),
                Column("period", doc="a period id (e.g. FY2026, 2026Q2); sets valid_from/valid_to"),
                Column("planned_accounts", "number", required=True, nullable=False, min=0),
                Column("opp_rate", "number", required=True, nullable=False, min=0,
                       doc="qualified opportunities per account-year"),
                Column("win_rate", "rate", required=True, nullable=False),
                Column("asp", "money", required=True, nullable=False, min=0, doc="average selling price"),
                Column("cycle_days", "number", min=0, default=90.0, doc="sales-cycle length in days"),
                Column("coverage_ratio", "number", min=0, doc="planned pipeline / quota"),
                Column("uplift", "number", min=-0.99, max=10.0, default=0.0,
                       doc="quota = capacity x (1 + uplift)"),
                Column("ramp", "rate", default=1.0, doc="average productivity of the covering reps"),
                Column("attrition_rate", "rate", default=0.0, doc="planned share of reps leaving per year"),
                Column("backfill_days", "number", min=0, default=0.0, doc="days to hire a replacement"),
                *_VALID,
                _RECORDED,
            ),
            key=("territory_id",),
            temporal=True,
            references=(Reference("territory_id", "territories"),),
            doc="The planning inputs behind each territory's capacity and quota.",
            aliases=("assumptions", "territory_plans"),
        ),
        Kind(
            "quotas",
            "quota",
            (
                Column("entity_type", default="rep", choices=ENTITY_TYPES),
                Column("entity_id", required=True, nullable=False, doc="rep, territory, region, segment id"),
                Column("period", required=True, nullable=False, doc="a period id that exists in the store"),
                Column("amount", "money", required=True, nullable=False, min=0),
                Column("basis", default="override", choices=("derived", "override")),
                Column("currency", default="USD"),
                *_VALID,
                _RECORDED,
            ),
            key=("entity_type", "entity_id", "period"),
            temporal=True,
            doc="Quotas per rep (or territory, region …) and period.",
        ),
        Kind(
            "stages",
            "stage",
            (
                Column("stage", required=True, nullable=False),
                Column("sort_order", "int", default=0),
                Column("is_closed", "bool", default=False),
                Column("is_won", "bool", default=False),
                Column("probability", "rate", doc="the CRM's default probability for the stage"),
            ),
            key=("stage",),
            doc="Opportunity stages: order, closed, won.",
        ),
        Kind(
            "opportunities",
            "opportunity",
            (
                Column("opportunity_id", required=True, nullable=False),
                Column("name"),
                Column("account_id", doc="blank is allowed for open deals and counted in a warning"),
                Column("owner_id", required=True, nullable=False, doc="rep id of the owner"),
                Column("amount", "money", min=0, doc="required on closed-won deals"),
                Column("currency", default="USD"),
                Column("stage", required=True, nullable=False),
                Column("created_date", "date", required=True, nullable=False),
                Column("close_date", "date", doc="actual close date when closed, expected when open"),
                Column("is_closed", "bool", doc="defaults from the stage"),
                Column("is_won", "bool", doc="defaults from the stage"),
                Column("product"),
                Column("probability", "rate", doc="the CRM's probability, kept for comparison"),
            ),
            key=("opportunity_id",),
            references=(
                Reference("account_id", "accounts"),
                Reference("owner_id", "reps"),
                Reference("stage", "stages"),
            ),
            doc="Opportunities (deals), open and closed.",
            aliases=("opps", "deals"),
        ),
        Kind(
            "opportunity_history",
            "opportunity_history",
            (
                Column("history_id", doc="id of the change row; derived from the other columns when blank"),
                Column("opportunity_id", required=True, nullable=False),
                Column("changed_at", "date", required=True, nullable=False),
                Column("stage"),
                Column("amount", "money", min=0),
                Column("close_date", "date"),
            ),
            key=("history_id",),
            references=(Reference("opportunity_id", "opportunities"), Reference("stage", "stages")),
            doc="Stage, amount and close-date changes of opportunities over time.",
            aliases=("history",),
        ),
    )
}


_QUOTAS = KINDS["quotas"]
#: derived records the planning engine writes (not importable)
KINDS["derived_quotas"] = Kind(
    "derived_quotas",
    "quota",
    (
        *_QUOTAS.columns,
        Column("derived_amount", "money", doc="the amount the capacity model derived"),
        Column("capacity_record_id", "int", doc="the territory_capacity record it came from"),
    ),
    key=_QUOTAS.key,
    temporal=True,
    doc="Quotas with the capacity they were derived from.",
    importable=False,
)
KINDS["territory_capacity"] = Kind(
    "territory_capacity",
    "territory_capacity",
    (
        Column("territory_id", required=True, nullable=False),
        Column("period", required=True, nullable=False),
        Column("assumption_record_id", "int"),
        *(Column(c, "number") for c in (
            "planned_accounts", "assigned_accounts", "effective_accounts", "productive_account_years",
            "opp_rate", "win_rate", "asp", "cycle_days", "uplift", "coverage", "attrition_factor")),
        *(Column(c, "money") for c in ("plan_capacity", "effective_capacity", "capacity", "quota", "quota_open")),
        *_VALID,
        _RECORDED,
    ),
    key=("territory_id", "period"),
    temporal=True,
    doc="Capacity the planning engine derived per territory and period, with its inputs.",
    importable=False,
)


def get_kind(name: str) -> Kind:
    """Look a kind up by name or alias (``-`` and ``_`` are interchangeable)."""
    from .errors import NotFound

    wanted = name.strip().lower().replace("-", "_")
    for k in KINDS.values():
        if k.importable and (wanted == k.name or wanted in k.aliases):
            return k
    raise NotFound(
        f"unknown import kind {name!r}",
        hint="use one of: " + ", ".join(n.replace("_", "-") for n, k in KINDS.items() if k.importable),
    )
