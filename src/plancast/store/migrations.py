"""Schema migrations: an ordered, append-only list of steps.

Each migration is a function of an Alembic :class:`~alembic.operations.Operations`
object, so its DDL is written once and rendered for every engine by Alembic
(DuckDB uses Alembic's default implementation registered below). The list is
frozen history: a released migration is never edited; a change to the schema is
a new migration at the end. ``schema_migrations`` records which have run; each
migration runs in its own transaction, so a failure leaves the previous
version intact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.ddl.impl import DefaultImpl
from alembic.migration import MigrationContext
from alembic.operations import Operations


class DuckDBImpl(DefaultImpl):
    """Lets Alembic's operations run on DuckDB (it has transactional DDL)."""

    __dialect__ = "duckdb"
    transactional_ddl = True


MONEY = sa.Numeric(18, 2)
ID = sa.String(200)


def _c(name: str, type_: sa.types.TypeEngine | type, **kw: object) -> sa.Column:
    return sa.Column(name, type_, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- 1
def m0001_reference_and_crm(op: Operations) -> None:
    """Reference data, the fiscal calendar, CRM facts and the import log."""
    op.create_table(
        "segment",
        _c("segment_id", ID, primary_key=True),
        _c("name", sa.String),
    )
    op.create_table(
        "region",
        _c("region_id", ID, primary_key=True),
        _c("name", sa.String),
        _c("segment_id", ID),
    )
    op.create_table(
        "territory",
        _c("territory_id", ID, primary_key=True),
        _c("name", sa.String),
        _c("region_id", ID),
        _c("segment_id", ID),
        _c("territory_type", sa.String(20), nullable=False),
        _c("precedence", sa.Integer, nullable=False),
    )
    op.create_table(
        "rep",
        _c("rep_id", ID, primary_key=True),
        _c("name", sa.String),
        _c("email", sa.String),
        _c("manager", sa.String),
        _c("role", sa.String(40)),
        _c("hire_date", sa.Date),
        _c("departure_date", sa.Date),
        _c("ramp_months", sa.Integer),
    )
    op.create_table(
        "account",
        _c("account_id", ID, primary_key=True),
        _c("name", sa.String),
        _c("parent_account_id", ID),
        _c("country", sa.String),
        _c("state", sa.String),
        _c("city", sa.String),
        _c("postal_code", sa.String),
        _c("industry", sa.String),
        _c("size_band", sa.String),
        _c("employees", sa.BigInteger),
        _c("annual_revenue", MONEY),
        _c("segment_id", ID),
    )
    op.create_table(
        "stage",
        _c("stage", ID, primary_key=True),
        _c("sort_order", sa.Integer, nullable=False),
        _c("is_closed", sa.Boolean, nullable=False),
        _c("is_won", sa.Boolean, nullable=False),
        _c("probability", sa.Double),
    )
    op.create_table(
        "opportunity",
        _c("opportunity_id", ID, primary_key=True),
        _c("name", sa.String),
        _c("account_id", ID),
        _c("owner_id", ID, nullable=False),
        _c("amount", MONEY),
        _c("currency", sa.String(3), nullable=False),
        _c("stage", ID, nullable=False),
        _c("created_date", sa.Date, nullable=False),
        _c("close_date", sa.Date),
        _c("is_closed", sa.Boolean, nullable=False),
        _c("is_won", sa.Boolean, nullable=False),
        _c("product", sa.String),
        _c("probability", sa.Double),
    )
    op.create_table(
        "opportunity_history",
        _c("history_id", ID, primary_key=True),
        _c("opportunity_id", ID, nullable=False),
        _c("changed_at", sa.Date, nullable=False),
        _c("stage", ID),
        _c("amount", MONEY),
        _c("close_date", sa.Date),
    )
    op.create_index("ix_opportunity_history_opp", "opportunity_history", ["opportunity_id", "changed_at"])
    op.create_table(
        "period",
        _c("period_id", sa.String(20), primary_key=True),
        _c("period_type", sa.String(10), nullable=False),
        _c("fiscal_year", sa.Integer, nullable=False),
        _c("start_date", sa.Date, nullable=False),
        _c("end_date", sa.Date, nullable=False),
    )
    op.create_table(
        "import_log",
        _c("import_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _c("kind", sa.String(40), nullable=False),
        _c("source", sa.String, nullable=False),
        _c("sha256", sa.String(64)),
        _c("preset", sa.String(40)),
        _c("rows_read", sa.BigInteger, nullable=False),
        _c("inserted", sa.BigInteger, nullable=False),
        _c("updated", sa.BigInteger, nullable=False),
        _c("unchanged", sa.BigInteger, nullable=False),
        _c("version_id", sa.BigInteger),
        _c("imported_at", sa.DateTime, nullable=False),
    )


# --------------------------------------------------------------------------- 2
_TEMPORAL_TAIL = (
    ("valid_from", sa.Date, False),
    ("valid_to", sa.Date, True),
    ("recorded_at", sa.DateTime, False),
    ("retracted", sa.Boolean, False),
)


def _plan_table(op: Operations, name: str, *cols: sa.Column) -> None:
    op.create_table(
        name,
        _c("record_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _c("plan_id", ID, nullable=False),
        _c("version_id", sa.BigInteger, nullable=False),
        *cols,
        *(_c(n, t, nullable=nullable) for n, t, nullable in _TEMPORAL_TAIL),
    )


def m0002_plan_records(op: Operations) -> None:
    """Plans, plan versions and the bitemporal, append-only plan records."""
    op.create_table(
        "plan",
        _c("plan_id", ID, primary_key=True),
        _c("name", sa.String),
        _c("fiscal_year_start_month", sa.Integer, nullable=False),
        _c("currency", sa.String(3), nullable=False),
        _c("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "plan_version",
        _c("version_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _c("plan_id", ID, nullable=False),
        _c("reason", sa.String, nullable=False),
        _c("author", sa.String, nullable=False),
        _c("source", sa.String),
        _c("recorded_at", sa.DateTime, nullable=False),
    )
    _plan_table(
        op,
        "territory_assignment",
        _c("account_id", ID, nullable=False),
        _c("territory_id", ID, nullable=False),
    )
    _plan_table(
        op,
        "rep_assignment",
        _c("rep_id", ID, nullable=False),
        _c("territory_id", ID, nullable=False),
        _c("share", sa.Double, nullable=False),
    )
    _plan_table(
        op,
        "account_exclusion",
        _c("account_id", ID, nullable=False),
        _c("reason", sa.String, nullable=False),
    )
    _plan_table(
        op,
        "territory_plan",
        _c("territory_id", ID, nullable=False),
        _c("period", sa.String(20)),
        _c("planned_accounts", sa.Double, nullable=False),
        _c("opp_rate", sa.Double, nullable=False),
        _c("win_rate", sa.Double, nullable=False),
        _c("asp", MONEY, nullable=False),
        _c("cycle_days", sa.Double),
        _c("coverage_ratio", sa.Double),
        _c("uplift", sa.Double),
        _c("ramp", sa.Double),
    )
    _plan_table(
        op,
        "quota",
        _c("entity_type", sa.String(20), nullable=False),
        _c("entity_id", ID, nullable=False),
        _c("period", sa.String(20), nullable=False),
        _c("amount", MONEY, nullable=False),
        _c("basis", sa.String(20), nullable=False),
        _c("currency", sa.String(3), nullable=False),
    )
    op.create_table(
        "supersession",
        _c("table_name", sa.String(40), primary_key=True),
        _c("record_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _c("superseded_at", sa.DateTime, nullable=False),
        _c("version_id", sa.BigInteger, nullable=False),
    )
    for t in ("territory_assignment", "rep_assignment", "account_exclusion", "territory_plan", "quota"):
        op.create_index(f"ix_{t}_valid", t, ["plan_id", "valid_from"])
        _history_view(op, t)


def _history_view(op: Operations, table: str, *, replace: bool = False) -> None:
    """Every record with its record time; ``superseded_at`` comes from the
    append-only supersession table, so the rows themselves never change."""
    if replace:
        op.execute(f"DROP VIEW IF EXISTS {table}_history")
    op.execute(
        f"CREATE VIEW {table}_history AS SELECT t.*, s.superseded_at "
        f"FROM {table} t LEFT JOIN supersession s "
        f"ON s.table_name = '{table}' AND s.record_id = t.record_id"
    )


# --------------------------------------------------------------------------- 3
def m0003_forecast_results(op: Operations) -> None:
    """Forecast runs and their per-entity results."""
    op.create_table(
        "forecast_run",
        _c("run_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _c("created_at", sa.DateTime, nullable=False),
        _c("as_of", sa.Date, nullable=False),
        _c("period", sa.String(20), nullable=False),
        _c("method", sa.String(40), nullable=False),
        _c("simulations", sa.Integer),
        _c("seed", sa.BigInteger),
        _c("plan_id", ID),
        _c("known_at", sa.DateTime),
        _c("params", sa.Text),
    )
    op.create_table(
        "forecast_result",
        _c("run_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _c("level", sa.String(20), primary_key=True),
        _c("entity_id", ID, primary_key=True),
        _c("quota", MONEY),
        _c("closed_won", MONEY),
        _c("mean", sa.Double),
        _c("p10", sa.Double),
        _c("p50", sa.Double),
        _c("p90", sa.Double),
        _c("prob_quota", sa.Double),
        _c("plan_expected_to_date", sa.Double),
        _c("plan_expected", sa.Double),
    )


# --------------------------------------------------------------------------- 4
def m0004_capacity(op: Operations) -> None:
    """Attrition inputs, derived capacity as plan records, quotas traced to their capacity."""
    op.add_column("territory_plan", _c("attrition_rate", sa.Double))
    op.add_column("territory_plan", _c("backfill_days", sa.Double))
    op.add_column("quota", _c("derived_amount", MONEY))
    op.add_column("quota", _c("capacity_record_id", sa.BigInteger))
    _plan_table(
        op,
        "territory_capacity",
        _c("territory_id", ID, nullable=False),
        _c("period", sa.String(20), nullable=False),
        _c("assumption_record_id", sa.BigInteger),
        _c("planned_accounts", sa.Double),
        _c("assigned_accounts", sa.Double),
        _c("effective_accounts", sa.Double),
        _c("productive_account_years", sa.Double),
        _c("opp_rate", sa.Double),
        _c("win_rate", sa.Double),
        _c("asp", sa.Double),
        _c("cycle_days", sa.Double),
        _c("uplift", sa.Double),
        _c("coverage", sa.Double),
        _c("attrition_factor", sa.Double),
        _c("plan_capacity", MONEY),
        _c("effective_capacity", MONEY),
        _c("capacity", MONEY),
        _c("quota", MONEY),
        _c("quota_open", MONEY),
    )
    op.create_index("ix_territory_capacity_valid", "territory_capacity", ["plan_id", "valid_from"])
    _history_view(op, "territory_capacity")
    # views written as t.* list their columns when created: make them again
    _history_view(op, "territory_plan", replace=True)
    _history_view(op, "quota", replace=True)


# --------------------------------------------------------------------------- 5
_DRIVERS = ("accounts", "opportunity_rate", "win_rate", "asp", "timing")


def m0005_diagnosis(op: Operations) -> None:
    """Diagnosis runs, their per-entity split and flags, and the attainment_variance view."""
    op.create_table(
        "diagnosis_run",
        _c("diagnosis_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _c("created_at", sa.DateTime, nullable=False),
        _c("forecast_run_id", sa.BigInteger, nullable=False),
        _c("period", sa.String(20), nullable=False),
        _c("as_of", sa.Date, nullable=False),
        _c("plan_id", ID),
        _c("known_at", sa.DateTime),
        _c("params", sa.Text),
    )
    op.create_table(
        "diagnosis_result",
        _c("diagnosis_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _c("level", sa.String(20), primary_key=True),
        _c("entity_id", ID, primary_key=True),
        _c("parent_id", ID),
        _c("name", sa.String),
        _c("quota", MONEY),
        _c("plan_expected", MONEY),
        _c("fair_expected", MONEY),
        _c("projected_mean", MONEY),
        *[_c(f"{part}_{d}", MONEY) for part in ("planning", "execution") for d in _DRIVERS],
    )
    op.create_table(
        "diagnosis_flag",
        _c("diagnosis_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _c("flag_no", sa.Integer, primary_key=True, autoincrement=False),
        _c("kind", sa.String(20), nullable=False),
        _c("code", sa.String(60), nullable=False),
        _c("severity", sa.String(10)),
        _c("level", sa.String(20)),
        _c("entity_id", ID),
        _c("message", sa.Text),
        _c("test", sa.Text),
        _c("p_value", sa.Double),
        _c("evidence", sa.Text),
    )
    drivers = ", ".join(f"d.{part}_{x}" for part in ("planning", "execution") for x in _DRIVERS)
    pv = "(d.fair_expected - d.plan_expected)"
    ev = "(d.projected_mean - d.fair_expected)"
    gross = f"(ABS{pv} + ABS{ev})"
    op.execute(
        "CREATE VIEW attainment_variance AS SELECT "
        "r.diagnosis_id, r.forecast_run_id, r.period, r.as_of, r.plan_id, r.known_at, "
        "r.diagnosis_id = MAX(r.diagnosis_id) OVER (PARTITION BY r.period, r.as_of, r.plan_id, r.known_at) AS latest, "
        "d.level, d.entity_id AS entity, d.name, d.parent_id AS parent, "
        "d.quota, d.plan_expected, d.fair_expected, d.projected_mean, f.p10, f.p50, f.p90, f.prob_quota, "
        "f.closed_won, "
        "d.plan_expected - d.quota AS stretch, "
        f"{pv} AS planning_variance, {ev} AS execution_variance, "
        f"CASE WHEN {gross} > 0 THEN ABS{pv} / {gross} END AS planning_share, "
        f"CASE WHEN {gross} > 0 THEN ABS{ev} / {gross} END AS execution_share, "
        f"{drivers} "
        "FROM diagnosis_result d JOIN diagnosis_run r ON r.diagnosis_id = d.diagnosis_id "
        "LEFT JOIN forecast_result f ON f.run_id = r.forecast_run_id AND f.level = d.level "
        "AND f.entity_id = d.entity_id"
    )


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Operations], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "reference data, calendar, CRM facts, import log", m0001_reference_and_crm),
    Migration(2, "plans, versions, bitemporal plan records", m0002_plan_records),
    Migration(3, "forecast runs and results", m0003_forecast_results),
    Migration(4, "capacity records, attrition inputs, quota derivation", m0004_capacity),
    Migration(5, "diagnosis runs, results, flags and the attainment_variance view", m0005_diagnosis),
)
HEAD = MIGRATIONS[-1].version

_LOG = sa.Table(
    "schema_migrations",
    sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)


def current_version(conn: sa.Connection) -> int:
    if not sa.inspect(conn).has_table("schema_migrations"):
        return 0
    v = conn.execute(sa.select(sa.func.max(_LOG.c.version))).scalar()
    return int(v or 0)


def upgrade(engine: sa.Engine, target: int | None = None) -> list[Migration]:
    """Run every migration above the store's version up to ``target`` (default: head)."""
    target = HEAD if target is None else target
    with engine.begin() as conn:
        _LOG.create(conn, checkfirst=True)
        have = current_version(conn)
    applied = []
    for m in MIGRATIONS:
        if have < m.version <= target:
            with engine.begin() as conn:
                m.apply(Operations(MigrationContext.configure(conn)))
                conn.execute(
                    _LOG.insert().values(
                        version=m.version, name=m.name, applied_at=datetime.now(UTC).replace(tzinfo=None)
                    )
                )
            applied.append(m)
    return applied
