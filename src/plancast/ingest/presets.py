"""Presets: how the exports of common CRMs map onto plancast's import kinds.

A preset is data, not code: for each kind it lists which source columns feed
each canonical column (several accepted spellings, first found wins), plus a
few declarative value rules, and the stage definitions the CRM ships with.
Kinds a preset does not list are read with canonical column names (as the
``plancast`` preset does). The rules:

``columns``
    canonical column -> accepted source column names (exact match first, then
    ignoring case). One source column may feed several canonical columns.
``derive``
    a canonical column built from source columns: a ``template`` such as
    ``"{Territory} {State Or Province}"``, or a value map on one source column
    (``Status`` Won/Lost/Open -> ``is_closed``); a value outside the map is a
    problem naming the values accepted.
``scale``
    multiply a numeric column after parsing (Salesforce ``Probability`` 0-100 ->
    0.01; Maven ``revenue`` in millions -> 1e6).
``first_of_list``
    keep the first item of a list cell (HubSpot ``Associated Company IDs``
    ``"123;456"`` -> ``"123"``); a warning counts the cells shortened.
``collapse_spaces``
    runs of spaces in these text columns become one space.
``drop_when``
    leave out rows whose source column holds one of the values (Salesforce
    ``IsDeleted`` = 1); a warning counts them.
``drop_blank``
    leave out rows where a canonical column is blank after parsing, with the
    reason in a warning (Maven ``Prospecting`` deals have no ``engage_date``).
``distinct``
    keep one row per distinct set of values (Maven territories come from the
    ``regional_office`` of each rep).
``known``
    source columns the preset knows and deliberately does not use: they are
    ignored without a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from ..errors import BadInput, Problem
from ..kinds import KINDS

@dataclass(frozen=True)
class Derive:
    """Build ``target`` from source columns."""

    target: str
    #: e.g. "{Territory} {State Or Province}" (source column names in braces)
    template: str | None = None
    #: with ``values``: the source column whose (case-insensitive) values are mapped
    source: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        if self.template is not None:
            import string

            return tuple(f for _, f, _, _ in string.Formatter().parse(self.template) if f)
        return (self.source,) if self.source else ()


@dataclass(frozen=True)
class DropWhen:
    """Leave out rows whose ``source`` column holds one of ``values`` (case-insensitive)."""

    source: str
    values: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class KindSpec:
    columns: Mapping[str, tuple[str, ...]]
    derive: tuple[Derive, ...] = ()
    scale: Mapping[str, float] = field(default_factory=dict)
    first_of_list: Mapping[str, str] = field(default_factory=dict)
    collapse_spaces: tuple[str, ...] = ()
    drop_when: tuple[DropWhen, ...] = ()
    #: canonical column -> reason shown with the count ({n} is the count)
    drop_blank: Mapping[str, str] = field(default_factory=dict)
    distinct: bool = False
    known: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageDef:
    stage: str
    sort_order: int
    is_closed: bool
    is_won: bool
    probability: float | None = None


@dataclass(frozen=True)
class Preset:
    name: str
    doc: str
    kinds: Mapping[str, KindSpec]
    stages: tuple[StageDef, ...] = ()

    def spec(self, kind: str) -> KindSpec:
        """The preset's table for ``kind``, or canonical names when it has none."""
        return self.kinds.get(kind) or identity_spec(kind)


def identity_spec(kind: str) -> KindSpec:
    return KindSpec(columns={c: (c,) for c in KINDS[kind].column_names})


def stages_frame(stages: tuple[StageDef, ...] | list[StageDef]) -> pd.DataFrame | None:
    """Stage definitions as a frame with the columns (and dtypes) of the ``stages`` kind."""
    if not stages:
        return None
    return pd.DataFrame(
        {
            "stage": pd.Series([s.stage for s in stages], dtype=object),
            "sort_order": pd.Series([s.sort_order for s in stages], dtype="Int64"),
            "is_closed": pd.Series([s.is_closed for s in stages], dtype="boolean"),
            "is_won": pd.Series([s.is_won for s in stages], dtype="boolean"),
            "probability": pd.Series(
                [float("nan") if s.probability is None else s.probability for s in stages], dtype="float64"
            ),
        }
    )


# -- Salesforce ---------------------------------------------------------------

_SF_DELETED = DropWhen("IsDeleted", ("1", "true"), "deleted in Salesforce (IsDeleted = 1)")

SALESFORCE = Preset(
    "salesforce",
    "Salesforce data exports (Data Loader / Data Export, API field names): Opportunity, "
    "OpportunityHistory, Account, User.",
    {
        "opportunities": KindSpec(
            columns={
                "opportunity_id": ("Id",),
                "name": ("Name",),
                "account_id": ("AccountId",),
                "owner_id": ("OwnerId",),
                "amount": ("Amount",),
                "currency": ("CurrencyIsoCode",),
                "stage": ("StageName",),
                "created_date": ("CreatedDate",),
                "close_date": ("CloseDate",),
                "is_closed": ("IsClosed",),
                "is_won": ("IsWon",),
                "probability": ("Probability",),
            },
            scale={"probability": 0.01},
            drop_when=(_SF_DELETED,),
            known=("IsDeleted",),
        ),
        "opportunity_history": KindSpec(
            columns={
                "history_id": ("Id",),
                "opportunity_id": ("OpportunityId",),
                "changed_at": ("CreatedDate",),
                "stage": ("StageName",),
                "amount": ("Amount",),
                "close_date": ("CloseDate",),
            },
            drop_when=(_SF_DELETED,),
            known=("IsDeleted",),
        ),
        "accounts": KindSpec(
            columns={
                "account_id": ("Id",),
                "name": ("Name",),
                "parent_account_id": ("ParentId",),
                "country": ("BillingCountry",),
                "state": ("BillingState",),
                "city": ("BillingCity",),
                "postal_code": ("BillingPostalCode",),
                "industry": ("Industry",),
                "employees": ("NumberOfEmployees",),
                "annual_revenue": ("AnnualRevenue",),
            },
            drop_when=(_SF_DELETED,),
            known=("IsDeleted",),
        ),
        "reps": KindSpec(
            columns={
                "rep_id": ("Id",),
                "name": ("Name",),
                "email": ("Email",),
                "manager": ("ManagerId",),
            },
        ),
    },
    stages=(
        StageDef("Prospecting", 1, False, False, 0.10),
        StageDef("Qualification", 2, False, False, 0.10),
        StageDef("Needs Analysis", 3, False, False, 0.20),
        StageDef("Value Proposition", 4, False, False, 0.50),
        StageDef("Id. Decision Makers", 5, False, False, 0.60),
        StageDef("Perception Analysis", 6, False, False, 0.70),
        StageDef("Proposal/Price Quote", 7, False, False, 0.75),
        StageDef("Negotiation/Review", 8, False, False, 0.90),
        StageDef("Closed Won", 9, True, True, 1.00),
        StageDef("Closed Lost", 10, True, False, 0.00),
    ),
)

# -- HubSpot ------------------------------------------------------------------

_HUBSPOT_STAGES = (
    # internal id, display label, probability
    ("appointmentscheduled", "Appointment Scheduled", 0.20),
    ("qualifiedtobuy", "Qualified To Buy", 0.40),
    ("presentationscheduled", "Presentation Scheduled", 0.60),
    ("decisionmakerboughtin", "Decision Maker Bought-In", 0.80),
    ("contractsent", "Contract Sent", 0.90),
    ("closedwon", "Closed Won", 1.00),
    ("closedlost", "Closed Lost", 0.00),
)

HUBSPOT = Preset(
    "hubspot",
    "HubSpot deal exports (CRM > Deals > Export). Stages may be internal ids "
    "(closedwon) or display labels (Closed Won); both are defined.",
    {
        "opportunities": KindSpec(
            columns={
                "opportunity_id": ("Record ID", "Deal ID"),
                "name": ("Deal Name",),
                "owner_id": ("Deal owner", "Deal Owner"),
                "amount": ("Amount", "Amount in company currency"),
                "stage": ("Deal Stage",),
                "created_date": ("Create Date",),
                "close_date": ("Close Date",),
                "account_id": (
                    "Associated Company IDs",
                    "Associated Company ID",
                    "Associated Company IDs (Primary)",
                    "Associated Company",
                ),
                "currency": ("Currency", "Deal currency code"),
            },
            first_of_list={"account_id": ";"},
            known=("Pipeline",),
        ),
    },
    stages=tuple(
        StageDef(name, order, stage_id.startswith("closed"), stage_id == "closedwon", p)
        for order, (stage_id, label, p) in enumerate(_HUBSPOT_STAGES, start=1)
        for name in (stage_id, label)
    ),
)

# -- Maven Analytics CRM Sales Opportunities ------------------------------------

MAVEN = Preset(
    "maven",
    "Maven Analytics 'CRM Sales Opportunities': sales_pipeline.csv (opportunities), "
    "sales_teams.csv (reps; also territories from regional_office), accounts.csv (accounts).",
    {
        "opportunities": KindSpec(
            columns={
                "opportunity_id": ("opportunity_id",),
                "owner_id": ("sales_agent",),
                "product": ("product",),
                "account_id": ("account",),
                "stage": ("deal_stage",),
                "created_date": ("engage_date",),
                "close_date": ("close_date",),
                "amount": ("close_value",),
            },
            drop_blank={
                "created_date": (
                    "{n} deals have no engage_date and so no creation date (Maven leaves it blank on "
                    "Prospecting deals): left out{by_stage}"
                ),
            },
        ),
        "reps": KindSpec(
            columns={
                "rep_id": ("sales_agent",),
                "name": ("sales_agent",),
                "manager": ("manager",),
                "territory_id": ("regional_office",),
            },
        ),
        "territories": KindSpec(
            columns={
                "territory_id": ("regional_office",),
                "name": ("regional_office",),
                "region_id": ("regional_office",),
            },
            distinct=True,
            known=("sales_agent", "manager"),
        ),
        "accounts": KindSpec(
            columns={
                "account_id": ("account",),
                "name": ("account",),
                "industry": ("sector",),
                "annual_revenue": ("revenue",),
                "employees": ("employees",),
                "country": ("office_location",),
                "parent_account_id": ("subsidiary_of",),
            },
            scale={"annual_revenue": 1e6},
            known=("year_established",),
        ),
    },
    stages=(
        StageDef("Prospecting", 1, False, False),
        StageDef("Engaging", 2, False, False),
        StageDef("Won", 3, True, True),
        StageDef("Lost", 4, True, False),
    ),
)

# -- Microsoft Power BI Regional Sales Sample -----------------------------------

POWERBI = Preset(
    "powerbi",
    "Microsoft Power BI 'Regional Sales Sample' model tables (Dynamics 365 style): "
    "Opportunities.csv, Owners.csv, Accounts.csv (accounts and territory assignments), Territories.csv.",
    {
        "opportunities": KindSpec(
            columns={
                "opportunity_id": ("OpportunitySeq",),
                "account_id": ("AccountSeq",),
                "owner_id": ("SystemUserSeq",),
                "amount": ("Value",),
                "stage": ("Sales Stage",),
                "created_date": ("Opportunity Created On",),
                "close_date": ("CloseDate",),
                "probability": ("Probability",),
                "product": ("ProductSeq",),
            },
            derive=(
                Derive("is_closed", source="Status", values={"won": "true", "lost": "true", "open": "false"}),
                Derive("is_won", source="Status", values={"won": "true", "lost": "false", "open": "false"}),
            ),
            known=(
                "Status", "Purchase Process", "Decision Maker Identified", "Weeks Open", "DaysToClose",
                "Discount", "Rating", "Days Remaining In Pipeline", "Probability (raw)", "CampaignSeq",
                "Blank", "DateDiff-Days", "Days Remaining In Pipeline (bins)",
            ),
        ),
        "reps": KindSpec(
            columns={"rep_id": ("SystemUserSeq",), "name": ("Owner",), "manager": ("Manager",)},
            known=("systemuserid",),
        ),
        "accounts": KindSpec(
            columns={
                "account_id": ("AccountSeq",),
                "name": ("Account Name",),
                "state": ("State or Province",),
                "country": ("Country",),
            },
            collapse_spaces=("name",),
            known=("AccountID", "IndustrySeq", "AccountOwnerSeq", "Account Number", "TerritorySeq"),
        ),
        "territory_assignments": KindSpec(
            columns={"account_id": ("AccountSeq",), "territory_id": ("TerritorySeq",)},
            known=(
                "Account Name", "State or Province", "Country", "AccountID", "IndustrySeq",
                "AccountOwnerSeq", "Account Number",
            ),
        ),
        "territories": KindSpec(
            columns={
                "territory_id": ("TerritorySeq",),
                "region_id": ("Territory",),
                "segment_id": ("Region",),
            },
            derive=(Derive("name", template="{Territory} {State Or Province}"),),
            known=("Country", "State Or Province"),
        ),
    },
    stages=(
        StageDef("1-Qualify", 1, False, False, 0.1),
        StageDef("2-Develop", 2, False, False, 0.3),
        StageDef("3-Propose", 3, False, False, 0.5),
        StageDef("4-Close", 4, False, False, 0.9),
    ),
)

# -- plancast (canonical names) ---------------------------------------------------

PLANCAST = Preset("plancast", "plancast's own column names (see `plancast kinds`).", {})

PRESETS: dict[str, Preset] = {p.name: p for p in (PLANCAST, SALESFORCE, HUBSPOT, MAVEN, POWERBI)}


def get_preset(name: str | None, source: str) -> Preset:
    if name is None:
        return PLANCAST
    wanted = name.strip().lower().replace("-", "").replace("_", "")
    for p in PRESETS.values():
        if p.name == wanted:
            return p
    raise BadInput(
        f"unknown preset {name!r}",
        [Problem(source, None, None, name, "is not a preset; use one of: " + ", ".join(PRESETS))],
        hint="use one of: " + ", ".join(PRESETS),
    )


def preset_names() -> list[str]:
    return list(PRESETS)
