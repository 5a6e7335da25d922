"""Row rules on typed canonical frames, and checks against what the store knows.

The rules are vectorised masks over whole columns; only rows that break a rule
are visited, to write their :class:`~plancast.errors.Problem`. Row numbers are
the spreadsheet rows the frame came from (``rows``), or 2, 3, … for a frame
built in code.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import Problem
from ..kinds import Kind

LIMIT = 200
_NAT_MAX = np.iinfo(np.int64).max
_HEX = np.array(list("0123456789abcdef"))


class Problems:
    """Collects problems, keeping at most ``limit`` of them in row order (and the total)."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.items: list[Problem] = []
        self.total = 0

    def __bool__(self) -> bool:
        return self.total > 0

    def add(self, problem: Problem) -> None:
        self.items.append(problem)
        self.total += 1

    def extend(self, problems: Sequence[Problem]) -> None:
        for p in problems:
            self.add(p)

    def add_rows(
        self,
        source: str,
        rows: np.ndarray,
        positions: np.ndarray,
        column: str | None,
        value: Callable[[int], str | None],
        message: Callable[[int], str] | str,
    ) -> None:
        """One problem per position (the first ``limit`` by row; the rest are only counted)."""
        positions = np.asarray(positions)
        if not len(positions):
            return
        self.total += len(positions)
        order = np.argsort(rows[positions], kind="stable")[: self.limit]
        for k in order:
            pos = int(positions[k])
            msg = message(pos) if callable(message) else message
            self.items.append(Problem(source, int(rows[pos]), column, value(pos), msg))

    def result(self) -> list[Problem]:
        items = sorted(self.items, key=lambda p: (p.row is not None, p.row or 0))
        kept = items[: self.limit]
        more = self.total - len(kept)
        if more > 0:
            source = kept[-1].file if kept else ""
            kept.append(Problem(source, None, None, None, f"… and {more} more problem{'s' if more != 1 else ''}"))
        return kept


def fmt(value: object) -> str | None:
    """A typed value as text for a message."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.10g}"
    return str(value)


def default_rows(n: int) -> np.ndarray:
    return np.arange(2, 2 + n, dtype=np.int64)


def _isna(s: pd.Series) -> np.ndarray:
    return s.isna().to_numpy(dtype=bool)


def _floats(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _dates(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s, errors="coerce").to_numpy(dtype="datetime64[ns]")


def _bools(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(true mask, false mask) of a boolean-ish column; NA is neither."""
    b = s.astype("boolean")
    return b.fillna(False).to_numpy(dtype=bool), (~b).fillna(False).to_numpy(dtype=bool)


class Checker:
    """Runs the row rules of one kind over one typed frame."""

    def __init__(
        self,
        kind: Kind,
        frame: pd.DataFrame,
        *,
        source: str,
        rows: np.ndarray | None,
        shown: dict[str, pd.Series] | None = None,
        skip: dict[str, np.ndarray] | None = None,
        names: dict[str, str] | None = None,
        out: Problems | None = None,
    ) -> None:
        self.kind = kind
        self.names = names or {}
        self.frame = frame
        self.source = source
        self.n = len(frame)
        self.rows = default_rows(self.n) if rows is None else np.asarray(rows, dtype=np.int64)
        self.shown = shown or {}
        self.skip = skip or {}
        self.out = out if out is not None else Problems()

    # -- helpers -----------------------------------------------------------
    def label(self, col: str) -> str:
        """The column as the file names it (``col`` for canonical files and frames built in code)."""
        return self.names.get(col, col)

    def ok(self, col: str) -> np.ndarray:
        bad = self.skip.get(col)
        return np.ones(self.n, dtype=bool) if bad is None else ~bad

    def value(self, col: str) -> Callable[[int], str | None]:
        shown = self.shown.get(col)
        series = self.frame[col] if col in self.frame else None

        def get(pos: int) -> str | None:
            if shown is not None:
                v = shown.iat[pos]
                return None if v is None or v == "" else str(v)
            return None if series is None else fmt(series.iat[pos])

        return get

    def report(self, positions: np.ndarray, col: str | None, message: Callable[[int], str] | str,
               value: Callable[[int], str | None] | None = None) -> None:
        get = value or (self.value(col) if col else (lambda pos: None))
        self.out.add_rows(self.source, self.rows, np.flatnonzero(positions) if positions.dtype == bool else positions,
                          self.label(col) if col else None, get, message)

    def key_label(self, key: tuple[str, ...]) -> str:
        return self.label(key[0]) if len(key) == 1 else "(" + ", ".join(self.label(k) for k in key) + ")"

    def has(self, *cols: str) -> bool:
        return all(c in self.frame.columns for c in cols)

    # -- rules -------------------------------------------------------------
    def run(self) -> Problems:
        self.columns()
        if self.kind.temporal:
            self.validity()
        else:
            self.duplicates()
        if self.kind.name == "opportunities":
            self.opportunities()
        if self.kind.name == "reps" and self.has("hire_date", "departure_date"):
            self.before("departure_date", "hire_date", "a rep cannot leave before joining — fix either date")
        return self.out

    def columns(self) -> None:
        for c in self.kind.columns:
            if c.name not in self.frame.columns:
                if c.required:
                    self.out.add(Problem(self.source, None, c.name, None,
                                         "required column is missing; add the column or map it with --mapping"))
                continue
            s = self.frame[c.name]
            ok = self.ok(c.name)
            null = _isna(s) & ok
            if not c.nullable:
                self.report(null, c.name, "is blank but required; fill it in (or remove the row)", lambda pos: None)
            if c.type in ("money", "number", "int", "rate"):
                self.bounds(c.name, c.type, c.min, c.max, s, ok)
            if c.choices is not None:
                allowed = {x.lower() for x in c.choices}
                low = s.astype("str").str.lower()
                bad = ok & ~null & ~low.isin(allowed).to_numpy(dtype=bool)
                if bad.any():
                    default = f" (leave it blank for {c.default})" if c.default is not None else ""
                    self.report(bad, c.name, f"is not one of {', '.join(c.choices)}; use one of those{default}")
            if c.name == "currency":
                text = s.astype("str")
                bad = ok & ~null & ~text.str.fullmatch(r"[A-Za-z]{3}").fillna(False).to_numpy(dtype=bool)
                self.report(bad, c.name, "is not a 3-letter currency code (ISO 4217, e.g. USD, EUR); "
                            "fix it or leave it blank for USD")

    def bounds(self, col: str, ctype: str, lo: float | None, hi: float | None, s: pd.Series, ok: np.ndarray) -> None:
        vals = _floats(s)
        known = ok & ~np.isnan(vals)
        if ctype == "rate":
            lo = 0.0 if lo is None else lo
            hi = 1.0 if hi is None else hi
            out = known & ((vals < lo) | (vals > hi))
            self.report(out, col, "is not between 0 and 1; write a rate as a share (0.2) or with a per-cent "
                        "sign (20%)")
            return
        if ctype == "money":
            lo = 0.0 if lo is None else lo
            if lo == 0:
                self.report(known & (vals < 0), col, "is negative; amounts must be 0 or more — correct it "
                            "or leave it blank")
                lo = None
        if lo is not None:
            self.report(known & (vals < lo), col, f"is below the minimum {lo:g}; correct it")
        if hi is not None:
            self.report(known & (vals > hi), col, f"is above the maximum {hi:g}; correct it")

    def duplicates(self, subset: np.ndarray | None = None, key: tuple[str, ...] | None = None,
                   note: str = "") -> None:
        key = key or self.kind.key
        if not self.has(*key):
            return
        mask = np.ones(self.n, dtype=bool) if subset is None else subset.copy()
        for k in key:
            mask &= ~_isna(self.frame[k]) & self.ok(k)
        pos = np.flatnonzero(mask)
        if len(pos) < 2:
            return
        sub = self.frame.iloc[pos][list(key)].astype(object)
        dup = sub.duplicated(keep=False).to_numpy()
        if not dup.any():
            return
        first: dict[tuple, int] = {}
        later: list[int] = []
        for p, values in zip(pos[dup], sub[dup].itertuples(index=False, name=None)):
            if values in first:
                later.append(int(p))
            else:
                first[values] = int(p)
        keytxt = self.key_label(key)
        vals = self.frame[list(key)]
        col = key[-1] if len(key) > 1 else key[0]

        def message(p: int) -> str:
            other = first[tuple(vals.iloc[p].astype(object))]
            one = self.label(key[0]) if len(key) == 1 else "combination"
            return (f"duplicate {keytxt}: row {self.rows[other]} has the same{note}; keep one row per {one} "
                    f"(remove or merge the other)")

        self.report(np.asarray(later, dtype=np.int64), col, message,
                    value=lambda p: " / ".join(fmt(v) or "" for v in vals.iloc[p]))

    def before(self, later: str, earlier: str, advice: str, *, subset: np.ndarray | None = None) -> None:
        a, b = _dates(self.frame[later]), _dates(self.frame[earlier])
        bad = ~np.isnat(a) & ~np.isnat(b) & (a < b) & self.ok(later) & self.ok(earlier)
        if subset is not None:
            bad &= subset
        dates_b = self.frame[earlier]
        self.report(bad, later, lambda p: f"is before {self.label(earlier)} {fmt(dates_b.iat[p])}; {advice}")

    def validity(self, filled: np.ndarray | None = None) -> None:
        """valid_to after valid_from; no overlapping intervals per key; duplicates without dates."""
        if not self.has("valid_from", "valid_to"):
            return
        vf, vt = _dates(self.frame["valid_from"]), _dates(self.frame["valid_to"])
        ok = self.ok("valid_from") & self.ok("valid_to")
        both = ~np.isnat(vf) & ~np.isnat(vt) & ok
        same = both & (vt == vf)
        early = both & (vt < vf)
        if filled is not None:
            same &= filled
            early &= filled
        vf_name, vt_name = self.label("valid_from"), self.label("valid_to")
        self.report(same, "valid_to", f"is the same day as {vf_name}; validity is [{vf_name}, {vt_name}), so this "
                    f"interval is empty — make {vt_name} later, or leave it blank for open-ended")
        vf_series = self.frame["valid_from"]
        self.report(early, "valid_to", lambda p: f"is before {vf_name} {fmt(vf_series.iat[p])}; make {vt_name} "
                    f"later than {vf_name}, or leave it blank for open-ended")
        if not self.has(*self.kind.key):
            return
        usable = ~np.isnat(vf) & ok & ~same & ~early
        for k in self.kind.key:
            usable &= ~_isna(self.frame[k]) & self.ok(k)
        self.overlaps(vf, vt, usable, filled)
        if filled is None:
            key = self.kind.key
            if "period" in self.frame.columns and "period" not in key:
                key = (*key, "period")
            self.duplicates(subset=np.isnat(vf) & ok, key=key, note=" and neither row has a valid_from")

    def overlaps(self, vf: np.ndarray, vt: np.ndarray, usable: np.ndarray, filled: np.ndarray | None) -> None:
        idx = np.flatnonzero(usable)
        if len(idx) < 2:
            return
        keys = self.frame.iloc[idx][list(self.kind.key)].astype(object)
        group = keys.groupby(list(self.kind.key), sort=False, dropna=False).ngroup().to_numpy()
        start = vf[idx].astype(np.int64)
        end = np.where(np.isnat(vt[idx]), _NAT_MAX, vt[idx].astype(np.int64))
        order = np.lexsort((start, group))
        g, s, e = group[order], start[order], end[order]
        prev_max = pd.Series(e).groupby(g).cummax().groupby(g).shift(1).to_numpy(dtype="float64", na_value=np.nan)
        hit = np.flatnonzero(~np.isnan(prev_max) & (s < prev_max))
        pairs: list[tuple[int, int]] = []
        for k in hit:
            m = k - 1
            while m >= 0 and g[m] == g[k] and not e[m] > s[k]:
                m -= 1
            i, j = int(idx[order[k]]), int(idx[order[m]])
            if filled is not None and not (filled[i] or filled[j]):
                continue
            pairs.append((i, j))
        if not pairs:
            return
        other = dict(pairs)
        vf_s, vt_s = self.frame["valid_from"], self.frame["valid_to"]
        key_cols = list(self.kind.key)
        keytxt = self.key_label(self.kind.key)

        def message(i: int) -> str:
            j = other[i]
            keyval = " / ".join(fmt(v) or "" for v in self.frame[key_cols].iloc[i])
            end_j = fmt(vt_s.iat[j]) or "open-ended"
            return (f"overlaps row {self.rows[j]} for the same {keytxt} {keyval!r} ({fmt(vf_s.iat[j])} to {end_j}); "
                    f"each {keytxt} can have only one record at a time — end the other on or before "
                    f"{fmt(vf_s.iat[i])} ({self.label('valid_to')} is exclusive)")

        self.report(np.asarray([i for i, _ in pairs], dtype=np.int64), "valid_from", message)

    def opportunities(self, subset: np.ndarray | None = None) -> None:
        f = self.frame
        every = np.ones(self.n, dtype=bool) if subset is None else subset
        if self.has("close_date", "created_date") and subset is None:
            self.before("close_date", "created_date", "a deal cannot close before it was created — fix either date")
        if self.has("is_won", "is_closed"):
            won, _ = _bools(f["is_won"])
            _, not_closed = _bools(f["is_closed"])
            bad = won & not_closed & every & self.ok("is_won") & self.ok("is_closed")
            won_name, closed_name = self.label("is_won"), self.label("is_closed")
            if won_name == closed_name:  # both derived from one column (e.g. Status)
                message = "marks a won deal that is not closed; fix the value"
            else:
                message = (f"is true but {closed_name} is false; a won deal is closed — set {closed_name} to "
                           f"true (or {won_name} to false)")
            self.report(bad, "is_won", message)
        if self.has("is_won", "amount"):
            won, _ = _bools(f["is_won"])
            bad = won & _isna(f["amount"]) & self.ok("amount") & self.ok("is_won") & every
            self.report(bad, "amount", "is blank on a closed-won deal; fill in the amount won", lambda p: None)


def fill_history_ids(frame: pd.DataFrame) -> int:
    """Fill blank ``history_id`` with a stable hash of the change; return how many were filled.

    The id is ``"h"`` + 16 hex digits of a 64-bit hash (pandas' fixed-key SipHash,
    ``pd.util.hash_pandas_object``) of ``opportunity_id|changed_at|stage|amount|close_date``,
    so the same change row gets the same id on every import.
    """
    if "history_id" not in frame.columns:
        frame["history_id"] = pd.Series([None] * len(frame), dtype=object, index=frame.index)
    blank = frame["history_id"].isna().to_numpy(dtype=bool)
    if not blank.any():
        return 0
    sub = frame.loc[blank]

    def part(col: str, kind: str) -> pd.Series:
        if col not in sub.columns:
            return pd.Series("", index=sub.index, dtype="str")
        s = sub[col]
        if kind == "date":
            out = pd.to_datetime(s, errors="coerce").dt.strftime("%Y-%m-%d")
        elif kind == "money":
            out = pd.to_numeric(s, errors="coerce").round(2).astype("str")
        else:
            out = s.astype("str")
        return out.astype("str").fillna("")

    combined = part("opportunity_id", "str")
    for col, kind in (("changed_at", "date"), ("stage", "str"), ("amount", "money"), ("close_date", "date")):
        combined = combined.str.cat(part(col, kind), sep="|")
    hashed = pd.util.hash_pandas_object(combined.astype(object), index=False, categorize=False).to_numpy()
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = ((hashed.astype(np.uint64)[:, None] >> shifts) & np.uint64(0xF)).astype(np.intp)
    hexes = np.ascontiguousarray(_HEX[nibbles]).view("<U16").ravel()
    ids = np.char.add("h", hexes)
    values = frame["history_id"].astype(object).to_numpy(copy=True)
    values[blank] = ids.astype(object)
    frame["history_id"] = pd.Series(values, index=frame.index, dtype=object)
    return int(blank.sum())


def problems_in(kind: Kind, frame: pd.DataFrame, *, source: str, rows: np.ndarray | None,
                shown: dict[str, pd.Series] | None = None, skip: dict[str, np.ndarray] | None = None,
                names: dict[str, str] | None = None, out: Problems | None = None) -> Problems:
    if kind.name == "opportunity_history":
        fill_history_ids(frame)
    return Checker(kind, frame, source=source, rows=rows, shown=shown, skip=skip, names=names, out=out).run()
