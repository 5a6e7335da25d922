"""Import throughput: rows per second, with a row-by-row baseline in the same run.

    python bench/bench_import.py [--rows 100000] [--pg postgresql://postgres@127.0.0.1:5432/test]

Prints, for a synthetic opportunities CSV of --rows rows (plancast columns):
plancast's import (read, parse, check every row and reference, write in one
transaction) on DuckDB (and PostgreSQL with --pg), and a baseline that does
the plain thing — csv module, per-row parsing, SQLAlchemy executemany — into
the same table, with the ratio. Then the real Maven pipeline (8,800 rows) from
../shared/data if it is there.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from plancast.importer import import_file
from plancast.store import Store

ROOT = Path(__file__).resolve().parent.parent
MAVEN = ROOT.parent / "shared" / "data" / "maven_crm_sales_opportunities"

STAGES = pd.DataFrame({
    "stage": ["Qualification", "Discovery", "Proposal", "Negotiation", "Closed Won", "Closed Lost"],
    "sort_order": [1, 2, 3, 4, 5, 6],
    "is_closed": [False, False, False, False, True, True],
    "is_won": [False, False, False, False, True, False],
    "probability": [0.1, 0.2, 0.4, 0.6, 1.0, 0.0],
})


def synthetic(n: int, folder: Path, seed: int = 7) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    n_reps, n_accounts = 1_000, 20_000
    reps = pd.DataFrame({"rep_id": [f"R{i:04d}" for i in range(n_reps)], "name": [f"Rep {i}" for i in range(n_reps)]})
    accounts = pd.DataFrame({"account_id": [f"A{i:06d}" for i in range(n_accounts)],
                             "name": [f"Account {i}" for i in range(n_accounts)]})
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    stage = rng.choice(STAGES["stage"].to_numpy(), n)
    closed = np.isin(stage, ["Closed Won", "Closed Lost"])
    close = created + pd.to_timedelta(rng.integers(1, 200, n), unit="D")
    opps = pd.DataFrame({
        "opportunity_id": [f"O{i:07d}" for i in range(n)],
        "account_id": rng.choice(accounts["account_id"].to_numpy(), n),
        "owner_id": rng.choice(reps["rep_id"].to_numpy(), n),
        "amount": np.round(rng.lognormal(11, 0.5, n), 2),
        "stage": stage,
        "created_date": created.strftime("%Y-%m-%d"),
        "close_date": close.strftime("%Y-%m-%d"),
        "is_closed": np.where(closed, "true", "false"),
        "is_won": np.where(stage == "Closed Won", "true", "false"),
    })
    paths = {}
    for name, df in (("stages", STAGES), ("reps", reps), ("accounts", accounts), ("opportunities", opps)):
        p = folder / f"{name}.csv"
        df.to_csv(p, index=False)
        paths[name] = p
    return paths


def plancast_import(db: str, paths: dict[str, Path]) -> tuple[float, float, int]:
    store = Store(db)
    for kind in ("stages", "reps", "accounts"):
        import_file(store, kind, paths[kind])
    t = time.perf_counter()
    rep = import_file(store, "opportunities", paths["opportunities"])
    secs = time.perf_counter() - t
    assert rep.result is not None and rep.result.inserted == rep.rows
    t = time.perf_counter()
    again = import_file(store, "opportunities", paths["opportunities"])
    resecs = time.perf_counter() - t
    assert again.result is not None and again.result.unchanged == rep.rows
    store.drop_schema()
    return secs, resecs, rep.rows


def baseline_import(db: str, paths: dict[str, Path]) -> tuple[float, int]:
    """The plain way: csv rows, per-row parsing, SQLAlchemy executemany."""
    store = Store(db)
    table = store.table("opportunity")
    t = time.perf_counter()
    rows = []
    with paths["opportunities"].open(newline="") as f:
        for r in csv.DictReader(f):
            rows.append({
                "opportunity_id": r["opportunity_id"], "account_id": r["account_id"], "owner_id": r["owner_id"],
                "amount": float(r["amount"]), "currency": "USD", "stage": r["stage"],
                "created_date": date.fromisoformat(r["created_date"]),
                "close_date": date.fromisoformat(r["close_date"]),
                "is_closed": r["is_closed"] == "true", "is_won": r["is_won"] == "true",
            })
    with store.engine.begin() as conn:
        conn.execute(table.insert(), rows)
    secs = time.perf_counter() - t
    store.drop_schema()
    return secs, len(rows)


def maven(db: str) -> None:
    if not MAVEN.exists():
        print(f"maven: skipped ({MAVEN} not found)")
        return
    store = Store(db)
    import_file(store, "territories", MAVEN / "sales_teams.csv", preset="maven")
    import_file(store, "reps", MAVEN / "sales_teams.csv", preset="maven", valid_from=date(2016, 10, 1))
    import_file(store, "accounts", MAVEN / "accounts.csv", preset="maven")
    t = time.perf_counter()
    rep = import_file(store, "opportunities", MAVEN / "sales_pipeline.csv", preset="maven")
    secs = time.perf_counter() - t
    print(f"maven sales_pipeline.csv   {rep.rows:>9,} rows  {secs:7.3f} s  {rep.rows / secs:>12,.0f} rows/s"
          f"  ({len(rep.warnings)} warnings)")
    store.drop_schema()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--pg", default=None, help="also run on this PostgreSQL URL (a throwaway schema is used)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = synthetic(args.rows, folder)
        engines = [("duckdb", lambda: str(folder / f"{uuid.uuid4().hex}.duckdb"))]
        if args.pg:
            engines.append(("postgresql", lambda: f"{args.pg}?schema=bench_{uuid.uuid4().hex[:10]}"))
        print(f"synthetic opportunities: {args.rows:,} rows, {paths['opportunities'].stat().st_size / 1e6:.1f} MB CSV")
        for name, make_db in engines:
            secs, resecs, n = plancast_import(make_db(), paths)
            base, _ = baseline_import(make_db(), paths)
            print(f"{name:10} plancast import  {n:>9,} rows  {secs:7.3f} s  {n / secs:>12,.0f} rows/s"
                  "  (read + check every row and reference + write, one transaction)")
            print(f"{name:10} re-import        {n:>9,} rows  {resecs:7.3f} s  {n / resecs:>12,.0f} rows/s"
                  "  (same file again: compared with the store, nothing written)")
            print(f"{name:10} baseline         {n:>9,} rows  {base:7.3f} s  {n / base:>12,.0f} rows/s"
                  f"  (csv + per-row parse + executemany, no checks)   ratio {base / secs:6.1f}x")
        maven(str(folder / "maven.duckdb"))


if __name__ == "__main__":
    main()
