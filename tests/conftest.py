"""One suite, every engine: the ``store`` fixture runs each test on DuckDB and PostgreSQL.

PostgreSQL must be reachable (CI starts it): a test that needs it fails, it
does not skip. Each PostgreSQL store lives in its own schema, dropped after
the test, so runs never collide and leave nothing behind.
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from plancast.store import Store

PG_URL = os.environ.get("PLANCAST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _pg_store(upgrade: bool = True) -> Store:
    schema = f"plancast_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in PG_URL else "?"
    try:
        return Store(f"{PG_URL}{sep}schema={schema}", upgrade=upgrade)
    except Exception as e:  # pragma: no cover - only when the server is down
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable ({e}); start it (see .ci/run) or set PLANCAST_TEST_PG")


def make_store(engine: str, tmp_path: Path, *, upgrade: bool = True) -> Store:
    if engine == "duckdb":
        return Store(str(tmp_path / f"{uuid.uuid4().hex[:8]}.duckdb"), upgrade=upgrade)
    return _pg_store(upgrade)


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = make_store(request.param, tmp_path)
    try:
        yield s
    finally:
        s.drop_schema()


@pytest.fixture(params=["duckdb", "postgresql"])
def engine_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A --db string for CLI tests, on each engine."""
    if request.param == "duckdb":
        yield str(tmp_path / "cli.duckdb")
        return
    schema = f"plancast_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}schema={schema}"
    yield url
    Store(url, upgrade=False).drop_schema()


def plancast_ok(db: str, *argv: str) -> str:
    """Run a plancast command in this process; its stdout (JSON for --json). Fails the test, with what the
    command printed, on an error exit."""
    from plancast.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--db", db, *argv])
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
    assert code == 0, f"plancast {' '.join(argv)}: {err.getvalue()}{out.getvalue()}"
    return out.getvalue()
