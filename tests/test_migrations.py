"""A fresh store and one made by an older plancast both reach the current schema."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from conftest import make_store
from plancast.errors import StoreError
from plancast.store import Store, migrations


def _schema(store: Store) -> dict[str, list[tuple[str, str]]]:
    meta = store._reflect()
    return {name: [(c.name, type(c.type).__name__) for c in t.columns] for name, t in sorted(meta.tables.items())}


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_fresh_and_upgraded_stores_have_the_same_schema(engine, tmp_path):
    fresh = make_store(engine, tmp_path)
    old = make_store(engine, tmp_path, upgrade=False)
    try:
        # what plancast's first schema version made
        migrations.upgrade(old.engine, target=1)
        assert old.version() == 1
        with old.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO account (account_id, name) VALUES (:i, :n)"), {"i": "A1", "n": "Acme"})
        done = old.upgrade()
        assert [m.version for m in done] == [m.version for m in migrations.MIGRATIONS[1:]]
        assert old.version() == fresh.version() == migrations.HEAD
        assert _schema(old) == _schema(fresh)
        assert old.read_table("account")["name"].tolist() == ["Acme"]
        assert old.upgrade() == []  # idempotent
    finally:
        fresh.drop_schema()
        old.drop_schema()


def test_every_migration_is_numbered_in_order():
    assert [m.version for m in migrations.MIGRATIONS] == list(range(1, len(migrations.MIGRATIONS) + 1))


def test_a_store_from_a_newer_plancast_is_refused(tmp_path):
    s = Store(str(tmp_path / "new.duckdb"))
    with s.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO schema_migrations VALUES (:v, 'future', :t)"),
                     {"v": migrations.HEAD + 1, "t": pd.Timestamp("2030-01-01").to_pydatetime()})
    s.close()
    with pytest.raises(StoreError, match=rf"schema version {migrations.HEAD + 1}, newer than this plancast"):
        Store(str(tmp_path / "new.duckdb"))
