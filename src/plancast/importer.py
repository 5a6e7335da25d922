"""Imports: read and validate a file whole, then write it in one transaction.

The order is always: read → parse and check every row (:mod:`plancast.ingest`)
→ check references against the store → write. A file with any problem raises
:class:`~plancast.errors.BadInput` listing every problem, before anything is
written; the write itself is one transaction, so the store is exactly as
before whenever an import fails.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import ingest
from .errors import BadInput, Problem
from .ingest.rules import LIMIT
from .kinds import KINDS, Kind, get_kind
from .store import DEFAULT_PLAN, Store, WriteResult

Step = Callable[[str], None]


@dataclass
class ImportReport:
    kind: str
    source: str
    rows: int
    warnings: list[str] = field(default_factory=list)
    result: WriteResult | None = None
    dry_run: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "result"}
        d["result"] = self.result.to_dict() if self.result else None
        return d


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_file(
    store: Store,
    kind: str,
    path: str | Path,
    *,
    preset: str | None = None,
    mapping: str | Path | None = None,
    decimal_comma: bool = False,
    sheet: str | None = None,
    date_format: str | None = None,
    plan_id: str = DEFAULT_PLAN,
    reason: str | None = None,
    author: str | None = None,
    recorded_at: datetime | None = None,
    valid_from: date | None = None,
    dry_run: bool = False,
    step: Step | None = None,
    close_before_create: str = "refuse",
) -> ImportReport:
    """Import one file of ``kind``; raise BadInput (and write nothing) if anything is wrong.

    ``close_before_create`` (opportunities): ``refuse`` (default), ``clamp`` or ``skip``
    deals whose close date is before their creation date (see :func:`plancast.ingest.read`)."""
    t0 = time.perf_counter()
    k = get_kind(kind)
    say = step or (lambda _msg: None)
    say(f"reading {path}")
    loaded = ingest.read(path, k, preset=preset, mapping=mapping, decimal_comma=decimal_comma, sheet=sheet,
                         date_format=date_format, close_before_create=close_before_create)
    say("checking references")
    loaded = ingest.check_references(
        loaded, store.known_ids(), store.periods(), stage_flags=store.stage_flags()
    )
    frame, also = _prepare(k, loaded.frame, loaded.rows, loaded.source, valid_from=valid_from)
    report = ImportReport(kind=k.name, source=loaded.source, rows=len(frame), warnings=list(loaded.warnings),
                          dry_run=dry_run)
    if k.name == "quotas":
        report.warnings += uncarried_quota_warnings(
            frame, store.plan_records("rep_assignments", plan_id=plan_id), loaded.source)
    if not dry_run:
        say(f"writing {len(frame):,} rows")
        report.result = store.write(
            k, frame, source=loaded.source, plan_id=plan_id, reason=reason, author=author,
            recorded_at=recorded_at, stages=loaded.stages, sha256=_sha256(Path(path)), preset=preset,
            rows_read=len(frame), also=also,
        )
    report.seconds = time.perf_counter() - t0
    return report


def import_frame(
    store: Store,
    kind: str | Kind,
    frame: pd.DataFrame,
    *,
    source: str,
    plan_id: str = DEFAULT_PLAN,
    reason: str | None = None,
    author: str | None = None,
    recorded_at: datetime | None = None,
    stages: pd.DataFrame | None = None,
    valid_from: date | None = None,
) -> WriteResult:
    """Import a canonical frame built in code (the demo, tests) through the same checks."""
    k = KINDS[kind] if isinstance(kind, str) else kind
    rows = np.arange(len(frame), dtype=np.int64) + 2
    problems = ingest.check_frame(k, frame, source=source, rows=rows)
    if problems:
        raise BadInput(f"{source}: {len(problems)} problem(s); nothing was loaded", problems)
    loaded = ingest.Loaded(kind=k, frame=frame, source=source, rows=rows, warnings=[], stages=stages)
    loaded = ingest.check_references(
        loaded, store.known_ids(), store.periods(), stage_flags=store.stage_flags()
    )
    frame, also = _prepare(k, loaded.frame, rows, source, valid_from=valid_from)
    return store.write(k, frame, source=source, plan_id=plan_id, reason=reason, author=author,
                       recorded_at=recorded_at, stages=stages, also=also)


def uncarried_quota_warnings(quotas: pd.DataFrame, assignments: pd.DataFrame, source: str) -> list[str]:
    """Rep quotas for days on which their rep covers no territory (say so: no territory carries them).

    Nothing is said when the store holds no rep assignments at all (quotas imported first)."""
    q = quotas[(quotas["entity_type"].astype(str) == "rep").to_numpy()]
    if not len(q) or not len(assignments) or q["valid_from"].isna().all():
        return []
    far = pd.Timestamp.max.normalize()
    q = pd.DataFrame({"qid": np.arange(len(q)), "rep_id": q["entity_id"].astype(str).to_numpy(),
                      "qa": pd.to_datetime(q["valid_from"]).to_numpy(),
                      "qb": pd.to_datetime(q["valid_to"]).fillna(far).to_numpy()})
    a = pd.DataFrame({"rep_id": assignments["rep_id"].astype(str).to_numpy(),
                      "aa": pd.to_datetime(assignments["valid_from"]).to_numpy(),
                      "ab": pd.to_datetime(assignments["valid_to"]).fillna(far).to_numpy()})
    m = q.merge(a, on="rep_id", how="left")
    end = np.minimum(m["qb"].to_numpy(), m["ab"].fillna(far).to_numpy())
    start = np.maximum(m["qa"].to_numpy(), m["aa"].fillna(far).to_numpy())  # no assignment: nothing covered
    overlap = pd.Series(np.clip((end - start) / np.timedelta64(1, "D"), 0, None), index=m.index)
    covered = overlap.groupby(m["qid"]).sum().reindex(q["qid"]).to_numpy()
    days = (q["qb"] - q["qa"]).dt.days.to_numpy()
    none, part = covered <= 0, (covered > 0) & (covered < days)
    if not none.any() and not part.any():
        return []
    out = []
    if none.any():
        per_rep = q.loc[none, "rep_id"].value_counts().sort_index()
        listing = ", ".join(f"{r} ({n})" for r, n in per_rep.head(12).items()) + (" …" if len(per_rep) > 12 else "")
        n = int(none.sum())
        out.append(f"{source}: {n:,} rep quota{'s are' if n != 1 else ' is'} for periods in which the rep covers "
                   f"no territory, by rep: {listing}; stored, but no territory carries them (plan show --level rep "
                   "leaves them out) — import the rep assignments if they are missing")
    if part.any():
        n = int(part.sum())
        out.append(f"{source}: {n:,} rep quota{'s' if n != 1 else ''} fall{'s' if n == 1 else ''} partly on days "
                   "the rep covers no territory: the rep carries only the covered days' part (after an assignment "
                   "ends, the territory's open seat carries the rest; plancast plan history REP shows where)")
    return out


def _prepare(
    k: Kind, frame: pd.DataFrame, rows: np.ndarray, source: str, *, valid_from: date | None
) -> tuple[pd.DataFrame, list[tuple[str, pd.DataFrame]]]:
    """Fill what the command line supplies and derive implied records.

    * plan records with a blank ``valid_from`` take ``--valid-from``; without
      it they are refused (a plan record must say when it starts);
    * a reps file with ``territory_id`` implies rep assignments from the hire
      date (or ``--valid-from``) to the departure date, the reps it names for
      one territory sharing it equally.
    """
    frame = frame.copy()
    also: list[tuple[str, pd.DataFrame]] = []
    if k.temporal:
        if valid_from is not None:
            frame["valid_from"] = frame["valid_from"].fillna(pd.Timestamp(valid_from))
        blank = frame["valid_from"].isna().to_numpy()
        if blank.any():
            problems = [
                Problem(source, int(r), "valid_from", None,
                        "valid_from is blank; give it in the file (or a period), or pass --valid-from DATE")
                for r in rows[blank][:LIMIT]
            ]
            if blank.sum() > LIMIT:
                more = int(blank.sum()) - LIMIT
                problems.append(Problem(source, None, None, None, f"… and {more} more problem{'s' if more != 1 else ''}"))
            raise BadInput(f"{source}: {int(blank.sum())} plan record(s) without a start date; nothing was loaded",
                           problems, hint="pass --valid-from DATE (when the records take effect), or give valid_from "
                                          "(or a period) in the file")
    if k.name == "reps" and frame["territory_id"].notna().any():
        has = frame["territory_id"].notna().to_numpy()
        start = pd.to_datetime(frame["hire_date"])
        if valid_from is not None:
            start = start.fillna(pd.Timestamp(valid_from))
        missing = has & start.isna().to_numpy()
        if missing.any():
            problems = [
                Problem(source, int(r), "hire_date", None,
                        "a rep with a territory_id needs a hire_date (when the assignment starts), "
                        "or pass --valid-from DATE")
                for r in rows[missing][:50]
            ]
            raise BadInput(f"{source}: {int(missing.sum())} rep(s) cannot be assigned; nothing was loaded", problems)
        also.append((
            "rep_assignments",
            pd.DataFrame({
                "rep_id": frame.loc[has, "rep_id"].to_numpy(),
                "territory_id": frame.loc[has, "territory_id"].to_numpy(),
                # the reps a file names for one territory share it equally
                "share": 1.0 / frame.loc[has].groupby("territory_id")["rep_id"].transform("size").to_numpy(),
                "valid_from": start[has].to_numpy(),
                "valid_to": pd.to_datetime(frame.loc[has, "departure_date"]).to_numpy(),
            }),
        ))
    return frame, also
