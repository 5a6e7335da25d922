"""Reading what the store holds, and writing frames out as CSV, Excel or Parquet."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd

from .errors import BadInput, NotFound
from .kinds import KINDS, get_kind
from .store import Store


def read_what(
    store: Store, what: str, *, plan_id: str = "main", as_of: date | None = None, known_at: datetime | None = None
) -> pd.DataFrame:
    """A kind (plan records in force on ``as_of`` as known at ``known_at``) or a table by name."""
    name = what.strip().lower().replace("-", "_")
    try:
        k = KINDS[name] if name in KINDS else get_kind(what)
    except NotFound:
        if name in store.meta.tables:
            return store.read_table(name)
        raise NotFound(
            f"nothing called {what!r} in the store",
            hint="name a kind (" + ", ".join(n.replace("_", "-") for n in KINDS) + ") or a table "
            "(plancast status lists them)",
        ) from None
    if k.temporal:
        return store.plan_records(k, plan_id=plan_id, valid_on=as_of, known_at=known_at)
    if as_of is not None or known_at is not None:
        raise BadInput(f"{k.name} are reference data, not plan records: --as-of/--known-at do not apply",
                       hint="drop --as-of/--known-at, or show a plan record kind such as quotas")
    return store.read_table(k.table)


def write_frame(df: pd.DataFrame, path: str | Path) -> None:
    """Write by suffix: .csv, .xlsx or .parquet."""
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.parent.exists():
        raise BadInput(f"cannot write {str(p)!r}: folder {str(p.parent)!r} does not exist",
                       hint="create the folder first or give another --out path")
    if suffix == ".csv":
        df.to_csv(p, index=False, date_format="%Y-%m-%d")
    elif suffix == ".xlsx":
        df.to_excel(p, index=False)
    elif suffix == ".parquet":
        df.to_parquet(p, index=False)
    else:
        raise BadInput(f"cannot write {str(p)!r}: unknown file type {suffix or '(none)'!r}",
                       hint="end the file name in .csv, .xlsx or .parquet")
