"""What differs between engines, in one place.

The store speaks SQLAlchemy Core for every query, so query texts are portable
and values are bound parameters. Two things are engine-specific because the
portable way is slow: loading a frame in bulk, and fetching a result as a
frame. Each engine says how in a small class.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa


def _arrow(df: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(df, preserve_index=False)
    # microsecond timestamps: what both engines store
    fields = []
    for f in table.schema:
        if pa.types.is_timestamp(f.type):
            fields.append(pa.field(f.name, pa.timestamp("us")))
        else:
            fields.append(f)
    # one chunk per column: pyarrow 26's CSV writer has been seen to write raw
    # memory for a table whose columns are chunked differently (pandas string
    # columns built by concat arrive in several chunks)
    return table.cast(pa.schema(fields)).combine_chunks()


class Engine:
    name: ClassVar[str] = "generic"

    def insert_frame(self, conn: sa.Connection, table: sa.Table, df: pd.DataFrame) -> None:
        """Append every row of ``df`` (columns named like the table's) to ``table``."""
        if len(df):
            conn.execute(table.insert(), df.astype(object).where(df.notna(), None).to_dict("records"))

    def fetch_frame(self, conn: sa.Connection, stmt: sa.Executable) -> pd.DataFrame:
        res = conn.execute(stmt)
        return pd.DataFrame(res.fetchall(), columns=list(res.keys()))


def _duck(conn: sa.Connection) -> Any:
    """The DuckDB connection under SQLAlchemy's, with any half-read result finished.

    (DuckDB 2 refuses new work while a result SQLAlchemy read only partly,
    e.g. with ``.scalar()``, is pending; ``complete()`` runs it to its end.)"""
    raw: Any = conn.connection.driver_connection
    if hasattr(raw, "complete"):
        raw.complete()
    return raw


class DuckDBEngine(Engine):
    name = "duckdb"

    def insert_frame(self, conn: sa.Connection, table: sa.Table, df: pd.DataFrame) -> None:
        if not len(df):
            return
        raw = _duck(conn)
        view = f"_plancast_load_{table.name}"
        raw.register(view, _arrow(df))
        try:
            cols = ", ".join(f'"{c}"' for c in df.columns)
            raw.execute(f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM {view}')
        finally:
            try:
                raw.unregister(view)
            except Exception:  # noqa: S110 - the aborted transaction is reported by the insert
                pass

    def fetch_frame(self, conn: sa.Connection, stmt: sa.Executable) -> pd.DataFrame:
        compiled = stmt.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
        params = [compiled.params[name] for name in (compiled.positiontup or [])]
        return _duck(conn).sql(compiled.string, params=params).to_arrow_table().to_pandas()


class PostgresEngine(Engine):
    name = "postgresql"

    def insert_frame(self, conn: sa.Connection, table: sa.Table, df: pd.DataFrame) -> None:
        if not len(df):
            return
        buf = io.BytesIO()
        pacsv.write_csv(_arrow(df), buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        raw: Any = conn.connection.driver_connection
        cols = ", ".join(f'"{c}"' for c in df.columns)
        with raw.cursor() as cur:
            with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN (FORMAT csv)') as copy:
                copy.write(buf.getvalue())


def engine_for(dialect_name: str) -> Engine:
    return {"duckdb": DuckDBEngine, "postgresql": PostgresEngine}.get(dialect_name, Engine)()
