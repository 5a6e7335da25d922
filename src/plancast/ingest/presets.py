"""Presets: how the exports of common CRMs map onto plancast's import kinds.

A preset is data, not code: for each kind it lists which source columns feed
each canonical column (several accepted spellings, first found wins), plus a
few declarative value rules, and the stage definitions the CRM ships with.
Kinds a preset does not list are read with canonical column names (as the
``plancast`` preset does), with a warning; a file without them is refused,
naming the kinds the preset lays out. The rules:

``columns``
    canonical column -> accepted source column names (exact match first, then
    ignoring case). One source column may feed several canonical columns. An
    empty tuple means the column is never read, not even under its canonical name.
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
``notes``
    source columns the preset deliberately does not use *and says so*: when the
    file has the column, the note is a warning (AdventureWorks
    ``SalesPerson.TerritoryID``: assignments come from the territory history).
``layouts``
    column names for files **without a header row**, by position, one tuple per
    accepted number of columns (AdventureWorks dumps; a fork added a leading
    serial column to some tables). A first row equal to a layout is a header.
``end_inclusive``
    canonical date columns the source writes as the *last* day (inclusive): the
    day after is stored, since plancast's ``valid_to`` is exclusive; a warning
    counts them.
``correct``
    known misspellings rewritten to one spelling (Maven ``GTXPro`` is
    ``GTX Pro`` in its products table), each with its reason and a warning
    counting the cells.
``blank_when``
    values that mean "unknown" in the source blanked (Maven's ``close_value``
    0 on lost deals), with a warning counting them.
``warn_blank``
    canonical columns whose blank cells are kept but counted in a warning
    (``{n}`` the count, ``{by_stage}`` their stages).
``quarter_of``
    quotas: source columns (first found) holding a *date* that names the quota's
    period instead of a period id: the quarter of the store's calendar that
    starts on that day or at most 7 days from it (AdventureWorks ``QuotaDate``
    2011-05-31 is the quarter from 2011-06-01). Resolved against the store's
    periods when references are checked; a warning counts the dates moved.
``variants`` / ``requires
    another table for the same kind, used when the file has all the
    ``requires`` columns (Salesforce reps from the ``OwnerId`` of any object
    export, rather than from a User export).
``recorded_by_start``
    temporal kinds whose ``recorded_at`` is a *last edited* time
    (AdventureWorks ``ModifiedDate``): a row edited after its ``valid_from``
    (its end date set later) is recorded at its ``valid_from`` instead, since
    the record was in force, so known, by then; a warning counts them.
``stage_at_close``
    opportunities whose won/lost comes from another column than the stage
    (Power BI ``Status``): a closed deal's stage is the stage it closed at; a
    warning counts won deals at the first stage, with the won deals per stage.
``cross_check``
    compare a column of this file with a sibling file of the same dump and
    name the rows that disagree (AdventureWorks ``SalesPerson.TerritoryID``
    against the open rows of ``SalesTerritoryHistory.csv``).
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
    #: with ``values``: the value for any other non-blank cell (None: such a cell is a problem)
    otherwise: str | None = None

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
class Correct:
    """Rewrite known misspellings of a canonical text column (exact match after trimming)."""

    column: str
    values: Mapping[str, str]
    #: why the right spelling is right, shown in the warning
    reason: str


@dataclass(frozen=True)
class BlankWhen:
    """Blank ``column`` where the source column ``source`` holds one of ``values`` (any case)
    and the parsed value is 0: the source writes 0 for "unknown"."""

    column: str
    source: str
    values: tuple[str, ...]
    #: warning text; {n} is the count ({s} a plural s, {have} has/have)
    reason: str


@dataclass(frozen=True)
class CrossCheck:
    """Compare ``column`` (a source column, per ``key``) with the open rows of a sibling file.

    The sibling (``file`` in the same folder) is read with the same preset as
    ``kind``; its rows with a blank ``valid_to`` give, per ``key``, the value of
    ``against``. A warning names each key whose ``column`` differs (or whose
    sibling has no open row). Nothing is said when the sibling is absent."""

    column: str
    key: str
    file: str
    kind: str
    against: str
    #: warning text: {listing} the keys with both values, {n} their count, {file} the sibling's name
    message: str


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
    #: source column -> warning shown when the file has it (known, not used, and worth saying why)
    notes: Mapping[str, str] = field(default_factory=dict)
    #: column names by position for files without a header row, one tuple per column count
    layouts: tuple[tuple[str, ...], ...] = ()
    #: canonical date columns written as the last day (inclusive); the day after is stored
    end_inclusive: tuple[str, ...] = ()
    correct: tuple[Correct, ...] = ()
    blank_when: tuple[BlankWhen, ...] = ()
    #: canonical column -> warning for its blank cells ({n} the count, {s}, {have}, {by_stage} their stages)
    warn_blank: Mapping[str, str] = field(default_factory=dict)
    #: quotas: source columns (first found) with a date naming the quarter (see the module docstring)
    quarter_of: tuple[str, ...] = ()
    #: other tables for the same kind, each used when the file has all its ``requires`` columns
    variants: tuple[KindSpec, ...] = ()
    requires: tuple[str, ...] = ()
    #: temporal kinds: recorded_at is a last-edited time; a row edited after valid_from is recorded at valid_from
    recorded_by_start: bool = False
    #: opportunities: won/lost is read from another column, so a closed deal's stage is the stage at close
    stage_at_close: bool = False
    cross_check: tuple[CrossCheck, ...] = ()

    def pick(self, header: list[str]) -> KindSpec:
        """The variant whose ``requires`` columns the header has (ignoring case), else this table."""
        have = {h.strip().lower() for h in header}
        for v in self.variants:
            if v.requires and all(r.lower() in have for r in v.requires):
                return v
        return self


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

    def has_layout(self, kind: str) -> bool:
        """Whether the preset lays out ``kind`` (the plancast preset lays out every kind by its own names)."""
        return not self.kinds or kind in self.kinds

    def kind_names(self) -> list[str]:
        """The kinds the preset lays out, as the command line spells them."""
        return [k.replace("_", "-") for k in self.kinds]


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
#: read from the Opportunity export for reps, every other standard column is deliberately unused
_SF_OBJECT_COLUMNS = (
    "Id", "IsDeleted", "AccountId", "IsPrivate", "Name", "Description", "StageName", "StageSortOrder", "Amount",
    "Probability", "ExpectedRevenue", "TotalOpportunityQuantity", "CloseDate", "Type", "NextStep", "LeadSource",
    "IsClosed", "IsWon", "ForecastCategory", "ForecastCategoryName", "CampaignId", "HasOpportunityLineItem",
    "Pricebook2Id", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp",
    "LastActivityDate", "LastStageChangeDate", "FiscalYear", "FiscalQuarter", "ContactId",
    "PrimaryPartnerAccountId", "ContractId", "LastAmountChangedHistoryId", "LastCloseDateChangedHistoryId",
    "CurrencyIsoCode", "LastViewedDate", "LastReferencedDate",
)

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
            warn_blank={"country": "{n} account{s} {have} no BillingCountry: kept blank (country is kept as "
                                   "written, so assignment rules on country do not place them)"},
        ),
        "reps": KindSpec(
            columns={
                "rep_id": ("Id",),
                "name": ("Name",),
                "email": ("Email",),
                "manager": ("ManagerId",),
            },
            # an Opportunity (or Account …) export instead of a User export: its owners are the reps
            variants=(
                KindSpec(
                    # the export's own Name, Type … are the object's, not the owner's
                    columns={"rep_id": ("OwnerId",), **{c: () for c in KINDS["reps"].column_names if c != "rep_id"}},
                    requires=("OwnerId",),
                    distinct=True,
                    drop_when=(_SF_DELETED,),
                    notes={"OwnerId": "reps are the distinct OwnerId values of this export (it is not a User "
                                      "export, so they have no names; import a User export to add them)"},
                    known=_SF_OBJECT_COLUMNS,
                ),
            ),
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
            correct=(Correct("product", {"GTXPro": "GTX Pro"}, "the name products.csv gives it"),),
            blank_when=(BlankWhen("amount", "deal_stage", ("Lost",),
                                  "{n} Lost deal{s} {have} close_value 0: Maven records no value for lost deals, so "
                                  "their amount is left blank (unknown), not $0"),),
            warn_blank={
                "close_date": "{n} deal{s} {have} no close_date{by_stage}: kept (Maven sets it when a deal closes; "
                              "an open deal has no expected close date)",
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
            correct=(
                Correct("industry", {"technolgy": "technology"}, "a misspelling in accounts.csv"),
                Correct("country", {"Philipines": "Philippines"}, "a misspelling in accounts.csv"),
            ),
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
            stage_at_close=True,
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

# -- AdventureWorks (Microsoft's sample OLTP database, tab-separated dumps without headers) ------

_AW_TERRITORY = ("TerritoryID", "Name", "CountryRegionCode", "Group", "SalesYTD", "SalesLastYear", "CostYTD",
                 "CostLastYear", "rowguid", "ModifiedDate")
_AW_PERSON = ("BusinessEntityID", "TerritoryID", "SalesQuota", "Bonus", "CommissionPct", "SalesYTD",
              "SalesLastYear", "rowguid", "ModifiedDate")
_AW_TERRITORY_HISTORY = ("BusinessEntityID", "TerritoryID", "StartDate", "EndDate", "rowguid", "ModifiedDate")
_AW_QUOTA_HISTORY = ("BusinessEntityID", "QuotaDate", "SalesQuota", "rowguid", "ModifiedDate")

ADVENTUREWORKS = Preset(
    "adventureworks",
    "Microsoft AdventureWorks (OLTP) Sales tables as tab-separated dumps without a header row: "
    "SalesTerritory.csv (territories; regions are the Group), SalesPerson.csv (reps), "
    "SalesTerritoryHistory.csv (rep assignments), SalesPersonQuotaHistory.csv (quarterly rep quotas, "
    "by QuotaDate; needs a calendar whose quarters start near those dates: --start-month 6). "
    "A leading serial column (added by some exports) is accepted.",
    {
        "territories": KindSpec(
            columns={"territory_id": ("TerritoryID",), "name": ("Name",), "region_id": ("Group",)},
            layouts=(_AW_TERRITORY,),
            known=("CountryRegionCode", "SalesLastYear", "CostYTD", "CostLastYear", "rowguid", "ModifiedDate"),
            notes={"SalesYTD": "SalesYTD and SalesLastYear are not imported: they are totals frozen in the "
                               "sample, not bookings plancast can date"},
        ),
        "reps": KindSpec(
            columns={"rep_id": ("BusinessEntityID",)},
            derive=(Derive("role", source="TerritoryID", values={"": "manager"}, otherwise="AE"),),
            layouts=(_AW_PERSON,),
            cross_check=(CrossCheck(
                "TerritoryID", "BusinessEntityID", "SalesTerritoryHistory.csv", "rep_assignments", "territory_id",
                "TerritoryID disagrees with the open {file} row for {n} rep{s}: {listing}; the history is what "
                "is imported (import {file} as rep-assignments)"),),
            known=("SalesQuota", "Bonus", "CommissionPct", "SalesYTD", "SalesLastYear", "rowguid", "ModifiedDate"),
            notes={"TerritoryID": "TerritoryID is not imported as an assignment: a rep's territories over time "
                                  "come from SalesTerritoryHistory.csv (TerritoryID is only the latest and can "
                                  "disagree with it); reps without one are the sales managers (role manager). "
                                  "SalesQuota is a standing figure on another scale: quotas come from "
                                  "SalesPersonQuotaHistory.csv"},
        ),
        "rep_assignments": KindSpec(
            columns={"rep_id": ("BusinessEntityID",), "territory_id": ("TerritoryID",),
                     "valid_from": ("StartDate",), "valid_to": ("EndDate",), "recorded_at": ("ModifiedDate",)},
            layouts=(("serial", *_AW_TERRITORY_HISTORY), _AW_TERRITORY_HISTORY),
            end_inclusive=("valid_to",),
            # ModifiedDate is when a row was last edited: a row edited after it began (its end date set) was
            # known by its StartDate, so it is recorded then (D27)
            recorded_by_start=True,
            known=("serial", "rowguid"),
        ),
        "quotas": KindSpec(
            columns={"entity_id": ("BusinessEntityID",), "amount": ("SalesQuota",),
                     "recorded_at": ("ModifiedDate",)},
            quarter_of=("QuotaDate",),
            layouts=(("serial", *_AW_QUOTA_HISTORY), _AW_QUOTA_HISTORY),
            known=("serial", "rowguid"),
        ),
    },
)

# -- plancast (canonical names) ---------------------------------------------------

PLANCAST = Preset("plancast", "plancast's own column names (see `plancast kinds`).", {})

PRESETS: dict[str, Preset] = {p.name: p for p in (PLANCAST, SALESFORCE, HUBSPOT, MAVEN, POWERBI, ADVENTUREWORKS)}


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
