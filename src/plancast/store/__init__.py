"""The store: plancast's shared data layer.

Every table, every query text and every transaction lives here; nothing above
the store builds SQL. Queries are SQLAlchemy Core expressions, so they render
for DuckDB (the embedded default) and PostgreSQL alike, and user values always
travel as bound parameters. Engine differences (bulk load, fast fetch) are in
:mod:`plancast.store.engines`; the schema is built and upgraded by the ordered
migrations in :mod:`plancast.store.migrations`.

Plan records are append-only and bitemporal (see :mod:`.temporal`): no method
here updates or deletes a plan row.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..errors import HistoryViolation, NotFound, StoreError
from ..kinds import KINDS, Kind
from . import migrations, temporal
from .engines import Engine, engine_for

DEFAULT_DB = "plancast.duckdb"
DEFAULT_PLAN = "main"
PLAN_TABLES = (
    "territory_assignment", "rep_assignment", "account_exclusion", "territory_plan", "quota", "territory_capacity",
)
_TEMPORAL_COLS = ("valid_from", "valid_to", "recorded_at")
_BOOKKEEPING = ("record_id", "plan_id", "version_id", "valid_from", "valid_to", "recorded_at", "retracted")


def utcnow() -> datetime:
    """Now, as the naive UTC timestamp the store records."""
    return datetime.now(UTC).replace(tzinfo=None)


def _sqlalchemy_url(db: str) -> tuple[str, str | None, dict[str, Any]]:
    """Turn ``--db`` into (SQLAlchemy URL, PostgreSQL schema, engine kwargs)."""
    if db.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        parts = urlsplit(db)
        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", None)
        if schema is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
            raise StoreError(
                f"schema name {schema!r} in the --db URL is not a plain SQL identifier",
                hint="use letters, digits and underscores, starting with a letter",
            )
        scheme = "postgresql+psycopg"
        url = urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
        return url, schema, {}
    if db.startswith("duckdb://"):
        return db, None, {}
    if "://" in db:
        raise StoreError(
            f"--db {db!r} is neither a DuckDB file path nor a PostgreSQL URL",
            hint="give a file path such as plancast.duckdb, :memory:, or postgresql://user@host:5432/dbname",
        )
    if db == ":memory:":
        return "duckdb:///:memory:", None, {"poolclass": sa.pool.StaticPool}
    path = Path(db).expanduser()
    if path.parent and not path.parent.exists():
        raise StoreError(
            f"cannot create the store {db!r}: folder {str(path.parent)!r} does not exist",
            hint="create the folder first or give another --db path",
        )
    if path.is_dir():
        raise StoreError(f"--db {db!r} is a folder, not a plancast store",
                         hint="give a file path such as plancast.duckdb (plancast creates it)")
    if path.is_file():
        with path.open("rb") as f:
            head = f.read(12)
        if head[8:12] != b"DUCK":
            raise StoreError(
                f"--db {db!r} is not a plancast store: the file exists and is not a DuckDB database",
                hint="give a new file name (plancast creates it) or an existing store; to load a CSV or Excel "
                     "file, use plancast import KIND FILE",
            )
    return f"duckdb:///{path}", None, {}


@dataclass
class WriteResult:
    kind: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0
    restated: int = 0
    version_ids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Store:
    """A connection to one plancast store (a DuckDB file, or a PostgreSQL database/schema)."""

    def __init__(self, db: str | None = None, *, upgrade: bool = True) -> None:
        self.db = db or os.environ.get("PLANCAST_DB") or DEFAULT_DB
        url, self.schema, kw = _sqlalchemy_url(self.db)
        try:
            self.engine = sa.create_engine(url, **kw)
            if self.schema:
                self._use_schema(self.schema)
            with self.engine.connect():
                pass
        except sa.exc.OperationalError as e:  # pragma: no cover - message depends on the server
            if "lock" in str(e.orig).lower():
                raise StoreError(
                    f"the store {self.db!r} is in use by another process: {e.orig}",
                    hint="close the other plancast (or DuckDB) session, or use another --db",
                ) from e
            raise StoreError(
                f"cannot open the store {self.db!r}: {e.orig}",
                hint="check that the server is running and the URL is right",
            ) from e
        except Exception as e:
            if "lock" in str(e).lower():
                raise StoreError(
                    f"the store {self.db!r} is in use by another process",
                    hint="close the other plancast (or DuckDB) session, or use another --db",
                ) from e
            raise
        self.dialect = self.engine.dialect.name
        self.io: Engine = engine_for(self.dialect)
        self._meta: sa.MetaData | None = None
        if upgrade:
            try:
                self.upgrade()
            except Exception:
                self.engine.dispose()  # a refused store leaves no connection behind
                raise

    # ------------------------------------------------------------ schema
    def _use_schema(self, schema: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

        @sa.event.listens_for(self.engine, "connect")
        def _set_path(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f'SET search_path TO "{schema}"')
            dbapi_conn.commit()

        self.engine.dispose()

    def version(self) -> int:
        with self.engine.connect() as conn:
            return migrations.current_version(conn)

    def upgrade(self, target: int | None = None) -> list[migrations.Migration]:
        have = self.version()
        if have > migrations.HEAD:
            raise StoreError(
                f"the store {self.db!r} has schema version {have}, newer than this plancast ({migrations.HEAD})",
                hint="upgrade plancast (pip install -U plancast)",
            )
        if have == 0:
            # a database plancast did not create: never add tables to it
            with self.engine.connect() as conn:
                theirs = sorted(set(sa.inspect(conn).get_table_names()) - {"schema_migrations"})
            if theirs:
                shown = ", ".join(theirs[:5]) + (" …" if len(theirs) > 5 else "")
                raise StoreError(
                    f"--db {self.db!r} is not a plancast store: it holds {len(theirs)} table(s) of its own "
                    f"({shown}) and no plancast schema; nothing was changed",
                    hint="give a new file name (plancast creates it), or for PostgreSQL a schema of its own "
                         "(?schema=plancast)",
                )
        done = migrations.upgrade(self.engine, target)
        # read the schema now, outside any write transaction (an in-memory store
        # has a single connection, so reflecting inside a write would nest)
        self._meta = self._reflect()
        return done

    @property
    def meta(self) -> sa.MetaData:
        if self._meta is None:
            self._meta = self._reflect()
        return self._meta

    def _reflect(self) -> sa.MetaData:
        """Tables and views as the database has them, from information_schema.

        One query for columns, one for primary keys, on both engines (the
        dialects' own reflection is not portable to DuckDB)."""
        ic = sa.table(
            "columns", sa.column("table_name"), sa.column("column_name"), sa.column("data_type"),
            sa.column("ordinal_position"), sa.column("table_schema"), schema="information_schema",
        )
        tc = sa.table(
            "table_constraints", sa.column("constraint_name"), sa.column("table_name"),
            sa.column("table_schema"), sa.column("constraint_type"), schema="information_schema",
        )
        ku = sa.table(
            "key_column_usage", sa.column("constraint_name"), sa.column("table_name"),
            sa.column("table_schema"), sa.column("column_name"), schema="information_schema",
        )
        here = sa.func.current_schema()
        with self.engine.connect() as conn:
            cols = conn.execute(
                sa.select(ic.c.table_name, ic.c.column_name, ic.c.data_type)
                .where(ic.c.table_schema == here)
                .order_by(ic.c.table_name, ic.c.ordinal_position)
            ).fetchall()
            pks = conn.execute(
                sa.select(tc.c.table_name, ku.c.column_name)
                .join(ku, sa.and_(ku.c.constraint_name == tc.c.constraint_name,
                                  ku.c.table_schema == tc.c.table_schema, ku.c.table_name == tc.c.table_name))
                .where(tc.c.constraint_type == "PRIMARY KEY", tc.c.table_schema == here)
            ).fetchall()
        pk = {(t, c) for t, c in pks}
        meta = sa.MetaData()
        by_table: dict[str, list[sa.Column]] = {}
        for t, c, dt in cols:
            by_table.setdefault(t, []).append(
                sa.Column(c, _sql_type(dt), primary_key=(t, c) in pk, autoincrement=False)
            )
        for t, columns in by_table.items():
            sa.Table(t, meta, *columns)
        return meta

    def table(self, name: str) -> sa.Table:
        try:
            return self.meta.tables[name]
        except KeyError:
            raise NotFound(f"the store has no table {name!r}") from None

    def drop_schema(self) -> None:
        """Remove this store's PostgreSQL schema (tests use one schema per run)."""
        if self.schema:
            with self.engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self.engine.dispose()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ reads
    def frame(self, stmt: sa.Executable, conn: sa.Connection | None = None) -> pd.DataFrame:
        if conn is not None:
            return self.io.fetch_frame(conn, stmt)
        with self.engine.connect() as c:
            return self.io.fetch_frame(c, stmt)

    def read_table(self, name: str, *, limit: int | None = None, order: bool = True) -> pd.DataFrame:
        t = self.table(name)
        stmt = sa.select(t)
        if order and t.primary_key.columns:
            stmt = stmt.order_by(*t.primary_key.columns)
        if limit is not None:
            stmt = stmt.limit(limit)
        return self._canon(self.frame(stmt), name)

    def counts(self) -> dict[str, int]:
        views = {f"{t}_history" for t in PLAN_TABLES} | {"attainment_variance"}
        names = [n for n in self.meta.tables if n != "schema_migrations" and n not in views]
        with self.engine.connect() as conn:
            return {
                n: int(conn.execute(sa.select(sa.func.count()).select_from(self.table(n))).scalar() or 0)
                for n in sorted(names)
            }

    def known_ids_in(self, conn: sa.Connection, kind: str) -> set[str]:
        k = KINDS[kind]
        col = self.table(k.table).c[k.key[0]]
        return {str(v) for (v,) in conn.execute(sa.select(col))}

    def known_ids(self) -> dict[str, set[str]]:
        """Ids the store holds, per import kind (for reference checks)."""
        out: dict[str, set[str]] = {}
        with self.engine.connect() as conn:
            for kind in ("accounts", "reps", "territories", "stages", "opportunities"):
                k = KINDS[kind]
                col = self.table(k.table).c[k.key[0]]
                out[kind] = {str(v) for (v,) in conn.execute(sa.select(col))}
        return out

    def stage_flags(self) -> dict[str, tuple[bool, bool]]:
        t = self.table("stage")
        with self.engine.connect() as conn:
            return {s: (bool(c), bool(w)) for s, c, w in conn.execute(sa.select(t.c.stage, t.c.is_closed, t.c.is_won))}

    def periods(self) -> dict[str, tuple[date, date]]:
        df = self.read_table("period")
        return {
            r.period_id: (pd.Timestamp(r.start_date).date(), pd.Timestamp(r.end_date).date())
            for r in df.itertuples()
        }

    def plans(self) -> pd.DataFrame:
        return self.read_table("plan")

    def plan_versions(self, plan_id: str | None = None) -> pd.DataFrame:
        t = self.table("plan_version")
        stmt = sa.select(t).order_by(t.c.version_id)
        if plan_id is not None:
            stmt = stmt.where(t.c.plan_id == plan_id)
        return self.frame(stmt)

    def plan_records(
        self,
        kind: str | Kind,
        *,
        plan_id: str = DEFAULT_PLAN,
        valid_on: date | None = None,
        during: tuple[date, date] | None = None,
        known_at: datetime | None = None,
        include_retracted: bool = False,
        conn: sa.Connection | None = None,
    ) -> pd.DataFrame:
        """The plan records in force — on ``valid_on`` (or overlapping ``during``,
        end exclusive) — as they were known at ``known_at`` (default: now)."""
        k = KINDS[kind] if isinstance(kind, str) else kind
        if not k.temporal:
            raise NotFound(f"{k.name} are not plan records")
        t = self.table(k.table)
        s = self.table("supersession")
        superseded = sa.exists().where(
            s.c.table_name == k.table, s.c.record_id == t.c.record_id
        )
        stmt = sa.select(t).where(t.c.plan_id == plan_id)
        if known_at is not None:
            superseded = superseded.where(s.c.superseded_at <= known_at)
            stmt = stmt.where(t.c.recorded_at <= known_at)
        stmt = stmt.where(~superseded)
        if not include_retracted:
            stmt = stmt.where(t.c.retracted.is_(False))
        if valid_on is not None:
            stmt = stmt.where(t.c.valid_from <= valid_on, sa.or_(t.c.valid_to.is_(None), t.c.valid_to > valid_on))
        if during is not None:
            start, end = during
            stmt = stmt.where(t.c.valid_from < end, sa.or_(t.c.valid_to.is_(None), t.c.valid_to > start))
        stmt = stmt.order_by(*[t.c[c] for c in k.key], t.c.valid_from)
        return self._canon(self.frame(stmt, conn), k.table)

    def record_history(self, kind: str | Kind, *, plan_id: str = DEFAULT_PLAN) -> pd.DataFrame:
        """Every record ever written for a kind, with its ``superseded_at``."""
        k = KINDS[kind] if isinstance(kind, str) else kind
        t = self.table(f"{k.table}_history")
        stmt = sa.select(t).where(t.c.plan_id == plan_id).order_by(t.c.record_id)
        return self._canon(self.frame(stmt), k.table)

    def _canon(self, df: pd.DataFrame, table: str) -> pd.DataFrame:
        """Fetched frame → canonical dtypes (dates as datetime64, money as float)."""
        t = self.meta.tables.get(table)
        if t is None:
            return df
        for c in t.columns:
            if c.name not in df:
                continue
            if isinstance(c.type, sa.Date | sa.DateTime):
                df[c.name] = pd.to_datetime(df[c.name])
            elif isinstance(c.type, sa.Numeric) and not isinstance(c.type, sa.Float | sa.Double):
                df[c.name] = pd.to_numeric(df[c.name], errors="coerce").astype("float64")
            elif isinstance(c.type, sa.Boolean):
                df[c.name] = df[c.name].astype("boolean")
        return df

    # ------------------------------------------------------------ writes
    def _next_id(self, conn: sa.Connection, table: str, col: str) -> int:
        t = self.table(table)
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.c[col]), 0))).scalar() or 0) + 1

    def ensure_plan(
        self, conn: sa.Connection, plan_id: str, *, fiscal_year_start_month: int = 1, currency: str = "USD"
    ) -> None:
        t = self.table("plan")
        if conn.execute(sa.select(t.c.plan_id).where(t.c.plan_id == plan_id)).first() is None:
            conn.execute(
                t.insert().values(
                    plan_id=plan_id,
                    name=plan_id,
                    fiscal_year_start_month=fiscal_year_start_month,
                    currency=currency,
                    created_at=utcnow(),
                )
            )

    def add_periods(self, frame: pd.DataFrame) -> WriteResult:
        """Add fiscal periods (``period_id, period_type, fiscal_year, start_date, end_date``).

        A period that exists with other dates, or a year that overlaps another
        year, is refused: periods anchor quotas and plan records, so they never
        move, and a store has one fiscal calendar.
        """
        have = self.read_table("period")
        years = have[have["period_type"] == "year"]
        for r in frame[frame["period_type"] == "year"].itertuples():  # a year or two per call
            same = have[have["period_id"] == r.period_id]
            if len(same) and pd.Timestamp(same["start_date"].iloc[0]) != pd.Timestamp(r.start_date):
                raise HistoryViolation(
                    f"{r.period_id} already exists starting {pd.Timestamp(same['start_date'].iloc[0]):%Y-%m-%d}, "
                    f"not {pd.Timestamp(r.start_date):%Y-%m-%d}; a store has one fiscal calendar",
                    hint="add years with the store's own --start-month (plancast calendar show lists them)",
                )
            clash = years[(years["period_id"] != r.period_id) & (years["start_date"] < r.end_date)
                          & (years["end_date"] > r.start_date)]
            if len(clash):
                c = clash.iloc[0]
                raise HistoryViolation(
                    f"{r.period_id} ({pd.Timestamp(r.start_date):%Y-%m-%d} – {pd.Timestamp(r.end_date):%Y-%m-%d}) "
                    f"overlaps {c['period_id']} ({c['start_date']:%Y-%m-%d} – {c['end_date']:%Y-%m-%d}); "
                    "a store has one fiscal calendar",
                    hint="add years with the store's own --start-month (plancast calendar show lists them)",
                )
        with self.engine.begin() as conn:
            return self._upsert(conn, "period", frame, kind="periods", immutable=True)

    def write(
        self,
        kind: str | Kind,
        frame: pd.DataFrame,
        *,
        source: str,
        plan_id: str = DEFAULT_PLAN,
        reason: str | None = None,
        author: str | None = None,
        recorded_at: datetime | None = None,
        stages: pd.DataFrame | None = None,
        sha256: str | None = None,
        preset: str | None = None,
        rows_read: int | None = None,
        also: list[tuple[str, pd.DataFrame]] | None = None,
    ) -> WriteResult:
        """Write one validated, canonical frame of ``kind`` in one transaction.

        ``also`` lists more (kind, frame) pairs the same input implies (e.g. the
        rep assignments of a reps file); they are written in the same
        transaction, so either all of it lands or none of it."""
        k = KINDS[kind] if isinstance(kind, str) else kind
        try:
            return self._write(k, frame, source=source, plan_id=plan_id, reason=reason, author=author,
                               recorded_at=recorded_at, stages=stages, sha256=sha256, preset=preset,
                               rows_read=rows_read, also=also)
        except (HistoryViolation, NotFound):
            raise
        except Exception as e:
            raise StoreError(
                f"writing {source} failed in the database, so nothing of it was written: "
                f"{type(e).__name__}: {str(e).splitlines()[0]}",
                hint="this is a gap in plancast's checks; please report it with the file",
            ) from e

    def _write(
        self, k: Kind, frame: pd.DataFrame, *, source: str, plan_id: str, reason: str | None,
        author: str | None, recorded_at: datetime | None, stages: pd.DataFrame | None, sha256: str | None,
        preset: str | None, rows_read: int | None, also: list[tuple[str, pd.DataFrame]] | None,
    ) -> WriteResult:
        now = utcnow()
        with self.engine.begin() as conn:
            added = None
            if stages is not None and len(stages):
                before = set(self.known_ids_in(conn, "stages"))
                self._upsert(conn, "stage", stages[list(KINDS["stages"].column_names)], kind="stages", only_new=True)
                added = sorted(set(stages["stage"]) - before)
            res = self.write_in(conn, k, frame, plan_id=plan_id, source=source, reason=reason,
                                author=author, recorded_at=recorded_at or now)
            if added:
                res.notes.append(f"{len(added)} stage(s) the {preset or 'mapping'} layout defines were added: "
                                 + ", ".join(added))
            for other, oframe in also or []:
                sub = self.write_in(conn, KINDS[other], oframe, plan_id=plan_id, source=source, reason=reason,
                                    author=author, recorded_at=recorded_at or now)
                res.version_ids += sub.version_ids
                res.notes.append(f"{other.replace('_', ' ')}: {sub.inserted} new, {sub.updated} changed, "
                                 f"{sub.unchanged} unchanged")
            log = self.table("import_log")
            conn.execute(
                log.insert().values(
                    import_id=self._next_id(conn, "import_log", "import_id"),
                    kind=k.name, source=source, sha256=sha256, preset=preset,
                    rows_read=rows_read if rows_read is not None else len(frame),
                    inserted=res.inserted, updated=res.updated, unchanged=res.unchanged,
                    version_id=res.version_ids[-1] if res.version_ids else None, imported_at=now,
                )
            )
        return res

    def write_derived_plan(
        self,
        capacity: pd.DataFrame,
        quotas: pd.DataFrame,
        *,
        plan_id: str = DEFAULT_PLAN,
        reason: str,
        author: str | None = None,
        recorded_at: datetime | None = None,
        source: str = "plancast plan build",
    ) -> WriteResult:
        """Write derived capacity and the quotas derived from it as one plan version.

        Each quota names the ``territory_capacity`` record it came from
        (``capacity_record_id``; quotas above territory level have none), so a
        quota traces back to the assumptions that produced it."""
        when = recorded_at or utcnow()
        author = author or _default_author()
        versions: dict[datetime, int] = {}
        with self.engine.begin() as conn:
            res = self._append_plan(conn, KINDS["territory_capacity"], capacity, plan_id=plan_id, source=source,
                                    reason=reason, author=author, recorded_at=when, versions=versions)
            cap = self.plan_records("territory_capacity", plan_id=plan_id, conn=conn)
            ids = cap.set_index(["territory_id", "period"])["record_id"]
            q = quotas.copy()
            link = pd.MultiIndex.from_arrays([q["capacity_territory"].fillna(""), q["period"]])
            q["capacity_record_id"] = pd.array(ids.reindex(link).to_numpy(), dtype="Int64")
            sub = self._append_plan(conn, KINDS["derived_quotas"], q.drop(columns="capacity_territory"),
                                    plan_id=plan_id, source=source, reason=reason, author=author,
                                    recorded_at=when, versions=versions)
        res.inserted += sub.inserted
        res.unchanged += sub.unchanged
        res.superseded += sub.superseded
        res.restated += sub.restated
        res.version_ids = sorted(set(res.version_ids) | set(sub.version_ids))
        res.notes.append(f"quotas: {sub.inserted} written, {sub.unchanged} unchanged, {sub.superseded} superseded")
        return res

    def write_forecast(self, run: dict[str, Any], results: pd.DataFrame) -> int:
        """Store a forecast run and its per-entity results in one transaction; returns the run id."""
        cols = [c.name for c in self.table("forecast_result").columns if c.name != "run_id"]
        with self.engine.begin() as conn:
            run_id = self._next_id(conn, "forecast_run", "run_id")
            conn.execute(self.table("forecast_run").insert().values(run_id=run_id, created_at=utcnow(), **run))
            self.io.insert_frame(conn, self.table("forecast_result"),
                                 results.reindex(columns=cols).assign(run_id=run_id)[["run_id", *cols]])
        return run_id

    def write_diagnosis(self, diag: Any) -> int:
        """Store a diagnosis (its run, per-entity split and flags) in one transaction; returns its id."""
        import json

        res = self.table("diagnosis_result")
        cols = [c.name for c in res.columns if c.name != "diagnosis_id"]
        flags = pd.DataFrame(diag.flags, columns=["kind", "code", "severity", "level", "entity", "message", "test",
                                                  "p_value", "evidence"]).rename(columns={"entity": "entity_id"})
        flags["evidence"] = [json.dumps(e, default=str, sort_keys=True) for e in flags["evidence"]]
        with self.engine.begin() as conn:
            did = self._next_id(conn, "diagnosis_run", "diagnosis_id")
            conn.execute(self.table("diagnosis_run").insert().values(
                diagnosis_id=did, created_at=utcnow(), forecast_run_id=diag.forecast_run, period=diag.period,
                as_of=diag.as_of, plan_id=diag.plan_id, known_at=diag.known_at,
                params=json.dumps({**diag.params, "notes": diag.notes}, default=str)))
            self.io.insert_frame(conn, res, diag.rows.reindex(columns=cols).assign(diagnosis_id=did)[
                ["diagnosis_id", *cols]])
            self.io.insert_frame(conn, self.table("diagnosis_flag"), flags.assign(
                diagnosis_id=did, flag_no=np.arange(1, len(flags) + 1, dtype=np.int64))[
                ["diagnosis_id", "flag_no", *[c for c in flags.columns]]])
        return did

    def attainment_variance(self, diagnosis_id: int | None = None) -> pd.DataFrame:
        """Rows of the ``attainment_variance`` view: one diagnosis, or the latest of each (period, as-of, plan)."""
        v = self.table("attainment_variance")
        stmt = sa.select(v).where(v.c.diagnosis_id == diagnosis_id) if diagnosis_id is not None else \
            sa.select(v).where(v.c.latest)
        return self.frame(stmt.order_by(v.c.diagnosis_id, v.c.level, v.c.entity))

    def forecast_runs(self) -> pd.DataFrame:
        t = self.table("forecast_run")
        return self.frame(sa.select(t).order_by(t.c.run_id))

    def forecast_results(self, run_id: int) -> pd.DataFrame:
        t = self.table("forecast_result")
        return self._canon(self.frame(sa.select(t).where(t.c.run_id == run_id).order_by(t.c.level, t.c.entity_id)),
                           "forecast_result")

    def write_in(
        self, conn: sa.Connection, k: Kind, frame: pd.DataFrame, *, plan_id: str, source: str,
        reason: str | None, author: str | None, recorded_at: datetime,
    ) -> WriteResult:
        if k.temporal:
            return self._append_plan(conn, k, frame, plan_id=plan_id, source=source,
                                     reason=reason or f"import {source}", author=author or _default_author(),
                                     recorded_at=recorded_at)
        stored = [c for c in k.column_names if c in self.table(k.table).c]
        res = self._upsert(conn, k.table, frame[stored], kind=k.name)
        self._side_effects(conn, k, frame)
        return res

    def _side_effects(self, conn: sa.Connection, k: Kind, frame: pd.DataFrame) -> None:
        """Rows a territories import implies: its regions and segments."""
        if k.name == "territories":
            for col, table in (("segment_id", "segment"), ("region_id", "region")):
                ids = frame[col].dropna().drop_duplicates()
                if len(ids):
                    new = pd.DataFrame({col: ids, "name": ids})
                    if table == "region":
                        seg = frame.dropna(subset=["region_id"]).drop_duplicates("region_id")
                        new["segment_id"] = new[col].map(seg.set_index("region_id")["segment_id"])
                    self._upsert(conn, table, new, kind=table, only_new=True)

    def _upsert(
        self,
        conn: sa.Connection,
        table: str,
        frame: pd.DataFrame,
        *,
        kind: str,
        only_new: bool = False,
        immutable: bool = False,
    ) -> WriteResult:
        """Insert new rows, replace changed rows of a reference table (one key column)."""
        t = self.table(table)
        key = t.primary_key.columns.values()[0].name
        frame = frame.drop_duplicates(subset=[key], keep="last").reset_index(drop=True)
        existing = self._canon(self.io.fetch_frame(conn, sa.select(t)), table)
        res = WriteResult(kind=kind, rows=len(frame))
        if not len(existing):
            self.io.insert_frame(conn, t, frame)
            res.inserted = len(frame)
            return res
        merged = frame.merge(existing, on=key, how="left", suffixes=("", "__old"), indicator=True)
        is_new = (merged["_merge"] == "left_only").to_numpy()
        changed = np.zeros(len(merged), dtype=bool)
        for c in frame.columns:
            if c == key:
                continue
            changed |= ~temporal.same_values(merged[c], merged[f"{c}__old"]).to_numpy()
        changed &= ~is_new
        if immutable and changed.any():
            bad = merged.loc[changed, key].head(5).tolist()
            raise HistoryViolation(
                f"{table} {', '.join(map(str, bad))} already exist with other values",
                hint="periods never change once created; use new period ids",
            )
        if only_new:
            changed[:] = False
        res.inserted = int(is_new.sum())
        res.updated = int(changed.sum())
        res.unchanged = len(frame) - res.inserted - res.updated
        upd = frame[changed]
        if len(upd):
            conn.execute(t.delete().where(t.c[key].in_(sa.bindparam("keys", expanding=True))),
                         {"keys": upd[key].tolist()})
        self.io.insert_frame(conn, t, pd.concat([frame[is_new], upd]))
        return res

    def _append_plan(
        self,
        conn: sa.Connection,
        k: Kind,
        frame: pd.DataFrame,
        *,
        plan_id: str,
        source: str,
        reason: str,
        author: str,
        recorded_at: datetime,
        versions: dict[datetime, int] | None = None,
    ) -> WriteResult:
        """Append plan records (see :mod:`.temporal`); one plan version per record time.

        ``versions`` lets several kinds written in one transaction share their
        plan version (record time → version id)."""
        t = self.table(k.table)
        self.ensure_plan(conn, plan_id)
        key = list(k.key)
        values = [c for c in k.column_names if c not in key and c not in _TEMPORAL_COLS]
        carry = [c.name for c in t.columns if c.name not in (*key, *values, *_BOOKKEEPING)]
        versions = {} if versions is None else versions
        frame = frame.copy()
        for c in values:
            if c not in frame:
                frame[c] = None
        if "recorded_at" not in frame:
            frame["recorded_at"] = pd.NaT
        frame["recorded_at"] = pd.to_datetime(frame["recorded_at"]).fillna(pd.Timestamp(recorded_at))
        res = WriteResult(kind=k.name, rows=len(frame))
        for when, group in frame.groupby("recorded_at", sort=True):
            when = pd.Timestamp(when).to_pydatetime()
            current = self.plan_records(k, plan_id=plan_id, include_retracted=True, conn=conn)
            ap = temporal.plan_append(current, group, key, values, carry)
            res.unchanged += ap.unchanged
            # only a change can rewrite the past: identical records were dropped above
            latest = conn.execute(sa.select(sa.func.max(t.c.recorded_at)).where(t.c.plan_id == plan_id)).scalar()
            if (len(ap.inserts) or len(ap.superseded)) and latest is not None and when < latest:
                raise HistoryViolation(
                    f"{source}: {k.name.replace('_', ' ')} recorded at {when:%Y-%m-%d %H:%M} would be earlier than "
                    f"what plan {plan_id!r} already holds for them (latest recorded {latest:%Y-%m-%d %H:%M}); "
                    "reports as known between those times would change",
                    hint="leave recorded_at blank (it defaults to now); back-load history oldest first",
                )
            if not len(ap.inserts) and not len(ap.superseded):
                continue
            vid = versions.get(when)
            if vid is None:
                vid = versions[when] = self._next_id(conn, "plan_version", "version_id")
                conn.execute(
                    self.table("plan_version").insert().values(
                        version_id=vid, plan_id=plan_id, reason=reason, author=author, source=source,
                        recorded_at=when,
                    )
                )
            rows = ap.inserts.copy()
            rows.insert(0, "record_id", np.arange(len(rows)) + self._next_id(conn, k.table, "record_id"))
            rows["plan_id"] = plan_id
            rows["version_id"] = vid
            rows["recorded_at"] = pd.Timestamp(when)
            rows["retracted"] = rows["retracted"].astype(bool)
            self.io.insert_frame(conn, t, rows)
            if len(ap.superseded):
                self.io.insert_frame(
                    conn,
                    self.table("supersession"),
                    pd.DataFrame(
                        {
                            "table_name": k.table,
                            "record_id": ap.superseded.astype("int64"),
                            "superseded_at": pd.Timestamp(when),
                            "version_id": vid,
                        }
                    ),
                )
            res.inserted += len(rows) - ap.restated
            res.restated += ap.restated
            res.superseded += len(ap.superseded)
            if vid not in res.version_ids:
                res.version_ids.append(vid)
            latest = when
        return res


def _sql_type(data_type: str) -> sa.types.TypeEngine:
    d = data_type.lower()
    if d.startswith(("decimal", "numeric")):
        return sa.Numeric(18, 2)
    if d.startswith(("double", "float", "real")):
        return sa.Double()
    if d.startswith("timestamp"):
        return sa.DateTime()
    if d == "date":
        return sa.Date()
    if d in ("bigint", "int8", "hugeint"):
        return sa.BigInteger()
    if d in ("integer", "int", "int4", "smallint"):
        return sa.Integer()
    if d.startswith("bool"):
        return sa.Boolean()
    return sa.String()


def _default_author() -> str:
    import getpass

    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid
        login = ""
    return os.environ.get("PLANCAST_AUTHOR") or os.environ.get("USER") or login or "unknown"


def open_store(db: str | None = None) -> Store:
    return Store(db)
