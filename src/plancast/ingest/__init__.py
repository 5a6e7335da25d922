"""Read, map, parse and check import files.

``read(path, kind)`` turns a CSV / TSV / TXT, ``.xlsx`` or ``.parquet`` file into a
typed frame with the canonical columns of an import kind (:mod:`plancast.kinds`),
or raises **one** :class:`~plancast.errors.BadInput` that lists every problem
found (file, row, column, value, what to do), capped at 200 with a final
"… and N more problems". Nothing is written here; the importer writes only
what passed, in one transaction.

Steps: format by suffix and decoding (:mod:`.readers`) → columns matched through
a preset (:mod:`.presets`) and/or a mapping file (:mod:`.mapping`) →
preset value rules → every value parsed by its column type (:mod:`.values`) →
row rules (:func:`check_frame`, :mod:`.rules`). The importer then calls
:func:`check_references` with the ids the store already holds.

Rules worth knowing (each has a test and a message that says what to do):

* **Rows** are spreadsheet rows: the header is row 1, the first data row is
  row 2; blank rows are skipped but still counted. For Parquet, row 2 is the
  first record.
* **Text** is trimmed; blank or whitespace-only means missing. Salesforce's
  null id ``000000000000000AAA`` (and ``000000000000000``) means missing too.
* **Dates** are ``YYYY-MM-DD``; ``YYYY-MM-DD HH:MM:SS`` and
  ``YYYY-MM-DDTHH:MM:SSZ`` keep the date as written. ``2026-02-30`` is "not a
  real calendar date". ``date_format`` in a mapping file reads other layouts.
  ``9999-12-31`` in ``valid_to`` means open-ended.
* **Amounts** accept ``$1,200``, ``1,200.50``, ``USD 1200``. A decimal comma
  (``1.200,50``) is refused unless ``--decimal-comma`` is given, because
  ``1.200`` is 1.2 in one convention and 1200 in the other: guessing could be
  wrong by a factor of 1000. With the option, ``.`` and spaces separate
  thousands. Amounts are rounded to the cent (a warning counts those that had
  more than two decimals). Negative amounts — ``-5`` or ``(5)`` — are refused.
* **Rates** are shares in [0, 1]; ``20%`` is read as 0.2.
* **Booleans**: true/false, t/f, yes/no, y/n, 1/0.
* **Validity** is half-open ``[valid_from, valid_to)``: ``valid_to`` equal to
  ``valid_from`` is an empty interval and refused; two records of the same key
  whose intervals overlap in one file are refused, naming both rows.
* **Opportunities**: ``close_date`` before ``created_date``, a closed-won deal
  without amount, ``is_won`` without ``is_closed`` are refused; blank
  ``is_closed``/``is_won`` are filled from the stage definitions; deals without
  an account are kept and counted in a warning (they count for their owner).
  ``close_before_create="clamp"`` sets such a deal's creation date to its close
  date, ``"skip"`` leaves it out; each is counted in a warning (for exports whose
  creation dates are load times, such as Salesforce's demo org).
* **Placeholders and misspellings**: null-id cells are counted in one warning;
  a preset's known misspellings (``correct``) and "0 means unknown" values
  (``blank_when``) are rewritten and counted; accounts sharing a name are
  listed in a warning and kept apart by their ids.
* **Files without a header row** are read by position only with a preset's
  layout, and a warning says so (:mod:`.readers`).
* **Quotas by date**: a preset's ``quarter_of`` column names each quota's
  quarter by a day; :func:`check_references` resolves it to the store's quarter
  starting within 7 days of it (counted in a warning). When the store's calendar
  is what is missing (no quarters, none near the dates, or years not added), the
  file is refused with one problem naming the date range, the start month that
  fits and the fiscal years to add; a single odd date is refused by row.
* **Presets without a layout** for the kind read plancast's own column names,
  with a warning; a file without them is refused naming the kinds the preset
  lays out.
* **Countries** (accounts) are kept as written; one country spelled several
  ways (``US``/``USA``) and country names in the state column are counted
  (:mod:`.countries`).
* **History**: a deal's first history row whose close date is before the row was
  recorded is kept and counted.
* **Opportunity history**: a blank ``history_id`` is filled with a stable hash
  of (opportunity_id, changed_at, stage, amount, close_date).
* Columns that neither the kind nor the preset know are ignored, with one
  warning naming them. Problems name columns as the file names them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import BadInput, Problem
from ..kinds import DTYPES, Column, Kind, get_kind
from .columns import resolve
from .mapping import Mapping, load_mapping
from .presets import PRESETS, CrossCheck, Derive, KindSpec, Preset, StageDef, get_preset, stages_frame
from .presets import preset_names as _preset_names
from .readers import ACCEPTED_SUFFIXES, RawTable, read_raw
from .rules import LIMIT, Checker, Problems, fill_history_ids, problems_in
from .values import NULL_SENTINELS, Parsed, parse_column, text

__all__ = [
    "ACCEPTED_SUFFIXES",
    "CLOSE_BEFORE_CREATE",
    "LIMIT",
    "Loaded",
    "PRESETS",
    "check_frame",
    "check_references",
    "empty_frame",
    "load_mapping",
    "preset_names",
    "read",
]


@dataclass
class Loaded:
    """A file read into the canonical, typed columns of one kind."""

    kind: Kind
    #: canonical columns of the kind, typed (see :func:`empty_frame` for the dtypes)
    frame: pd.DataFrame
    #: the file as the user named it
    source: str
    #: int64 spreadsheet row number of each frame row
    rows: np.ndarray
    warnings: list[str] = field(default_factory=list)
    #: stage definitions a preset or mapping brings (columns of the ``stages`` kind), else None
    stages: pd.DataFrame | None = None
    #: canonical column -> the file's name for it (for messages after reading)
    labels: dict[str, str] = field(default_factory=dict)
    #: quotas read with a preset's ``quarter_of``: the date naming each row's quarter (period is blank)
    period_dates: pd.Series | None = None




def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _kind(kind: str | Kind) -> Kind:
    return kind if isinstance(kind, Kind) else get_kind(kind)


#: the cells of a preset's ``quarter_of`` column while reading (not a canonical column)
_QUARTER = "\0quarter_of"


def preset_names() -> list[str]:
    """Names accepted by ``read(..., preset=...)``."""
    return _preset_names()


def empty_frame(kind: str | Kind, n: int = 0) -> pd.DataFrame:
    """A frame of ``n`` rows with the canonical columns and dtypes of ``kind``, all defaults."""
    k = _kind(kind)
    return pd.DataFrame({c.name: _column_of(c, n) for c in k.columns})


def _column_of(col: Column, n: int, *, with_default: bool = True) -> pd.Series:
    dtype = DTYPES[col.type]
    if col.default is None or not with_default:
        if dtype == "object":
            return pd.Series([None] * n, dtype=object)
        return pd.Series([pd.NA if dtype in ("Int64", "boolean") else np.nan] * n, dtype=dtype)
    return pd.Series([col.default] * n, dtype=dtype)


def _fill_default(col: Column, values: pd.Series) -> pd.Series:
    if col.default is None:
        return values
    missing = values.isna()
    if not missing.any():
        return values
    if col.type == "str":
        out = values.copy()
        out[missing.to_numpy()] = col.default
        return out
    return values.fillna(col.default).astype(DTYPES[col.type])


# -- read ----------------------------------------------------------------------


def read(
    path: str | Path,
    kind: str | Kind,
    *,
    preset: str | None = None,
    mapping: str | Path | None = None,
    decimal_comma: bool = False,
    sheet: str | None = None,
    date_format: str | None = None,
    close_before_create: str = "refuse",
) -> Loaded:
    """Read ``path`` as ``kind``; raise :class:`BadInput` listing every problem found.

    ``date_format`` (strptime codes, e.g. ``%m/%d/%Y``) wins over a mapping file's.
    ``close_before_create`` (opportunities): what to do with deals whose close date is
    before their creation date — ``refuse`` (the default), ``clamp`` (the creation date
    becomes the close date) or ``skip`` (the deals are left out); see
    :data:`CLOSE_BEFORE_CREATE`."""
    k = _kind(kind)
    source = str(path)
    if close_before_create not in CLOSE_BEFORE_CREATE:
        raise BadInput(
            f"close-before-create policy {close_before_create!r} is not one of {', '.join(CLOSE_BEFORE_CREATE)}",
            [Problem(source, None, None, close_before_create,
                     "is not a close-before-create policy; use " + ", ".join(CLOSE_BEFORE_CREATE))],
            hint="use " + ", ".join(f"{n} ({d})" for n, d in CLOSE_BEFORE_CREATE.items()),
        )
    m = load_mapping(mapping) if mapping is not None else None
    p = get_preset(preset, source)
    base = p.spec(k.name)
    dc = bool(decimal_comma or (m is not None and m.decimal_comma))
    raw = read_raw(
        Path(path),
        source,
        delimiter=m.delimiter if m else None,
        encoding=m.encoding if m else None,
        sheet=sheet or (m.sheet if m else None),
        decimal_comma=dc,
        layouts=base.layouts,
        layout_of=f"the {p.name} preset's {k.name.replace('_', '-')}",
    )
    reader = _Reader(k, source, p, m, raw, decimal_comma=dc, spec=base.pick(raw.header),
                     close_before_create=close_before_create)
    reader.path = Path(path)
    if date_format:
        reader.date_format = date_format
    return reader.run()


#: what ``read(..., close_before_create=)`` accepts, and what each does
CLOSE_BEFORE_CREATE = {
    "refuse": "the file is refused, naming each deal",
    "clamp": "the creation date becomes the close date, counted in a warning",
    "skip": "those deals are left out, counted in a warning",
}


class _Reader:
    def __init__(self, kind: Kind, source: str, preset: Preset, mapping: Mapping | None, raw: RawTable,
                 *, decimal_comma: bool, spec: KindSpec | None = None, close_before_create: str = "refuse") -> None:
        self.kind = kind
        self.source = source
        self.preset = preset
        self.spec = spec or preset.spec(kind.name)
        self.close_before_create = close_before_create
        self.hint: str | None = None
        self.mapping = mapping
        self.raw = raw
        self.decimal_comma = decimal_comma
        self.date_format = mapping.date_format if mapping else None
        self.out = Problems()
        self.out.extend(raw.problems)
        self.warnings = list(raw.warnings)
        self.rows = raw.rows
        #: canonical column -> cells as read (text, or native Parquet values)
        self.cells: dict[str, pd.Series] = {}
        self.labels: dict[str, str] = {}
        #: the file read (for a preset's ``cross_check`` of a sibling file), else None
        self.path: Path | None = None

    @property
    def kind_label(self) -> str:
        return self.kind.name.replace("_", "-")

    def refuse_kind(self) -> BadInput:
        """The preset has no layout for the kind and the file does not have plancast's column names."""
        kinds = self.preset.kind_names()
        listing = ", ".join(kinds[:-1]) + " and " + kinds[-1] if len(kinds) > 1 else kinds[0]
        what = (f"the {self.preset.name} preset has no layout for {self.kind_label}: it lays out {listing} "
                f"only, and this file does not have the columns of {self.kind_label} under plancast's own names")
        return BadInput(
            f"{self.source} was not imported: the {self.preset.name} preset has no layout for {self.kind_label}",
            [Problem(self.source, None, None, None, what)],
            hint=f"import it as one of {listing} with --preset {self.preset.name}; or, for {self.kind_label}, "
                 f"give the file plancast's column names (plancast kinds) or map them with --mapping; nothing "
                 "was imported",
        )

    def fail(self) -> BadInput:
        n = self.out.total
        return BadInput(
            f"{self.source} was not imported: {n} problem{'s' if n != 1 else ''} found",
            self.out.result(),
            hint=self.hint or "fix the rows listed (or the file) and import it again; nothing was imported",
        )

    def keep(self, mask: np.ndarray) -> None:
        idx = np.flatnonzero(mask)
        self.cells = {c: s.iloc[idx].reset_index(drop=True) for c, s in self.cells.items()}
        self.rows = self.rows[idx]
        self.raw_columns = [s.iloc[idx].reset_index(drop=True) for s in self.raw_columns]

    def run(self) -> Loaded:
        res = resolve(self.raw.header, self.kind, self.spec, self.mapping, source=self.source,
                      preset=self.preset.name, delimiter=self.raw.delimiter,
                      delimiter_given=self.mapping is not None and self.mapping.delimiter is not None)
        no_layout = self.mapping is None and not self.preset.has_layout(self.kind.name)
        if res.problems and no_layout and any(p.row is None and p.column in self.kind.required for p in res.problems):
            raise self.refuse_kind()
        if res.problems:
            self.out.extend(res.problems)
            raise self.fail()
        if no_layout:
            self.warnings.append(
                f"{self.source}: the {self.preset.name} preset has no layout for {self.kind_label}, so the file "
                "was read with plancast's own column names")
        self.labels = dict(res.labels)
        if res.unused:
            shown = ", ".join(repr(u) for u in res.unused[:12]) + (" …" if len(res.unused) > 12 else "")
            self.warnings.append(
                f"{self.source}: ignored {len(res.unused)} column{'s' if len(res.unused) != 1 else ''} that "
                f"{self.kind.name} does not use: {shown}")
        self.raw_columns = list(self.raw.columns)
        self.cells = {c: self.raw_columns[pos] for c, pos in res.sources.items()}
        if res.quarter_of is not None:
            self.cells[_QUARTER] = self.raw_columns[res.quarter_of]
        have = {h.strip().lower() for h in self.raw.header}
        for col, note in self.spec.notes.items():
            if col.lower() in have:
                self.warnings.append(f"{self.source}: {note}")

        # preset rules on the cells as read
        for rule, pos in res.drop_when:
            hit = text(self.raw_columns[pos]).str.lower().isin([v.lower() for v in rule.values]).to_numpy(dtype=bool)
            if hit.any():
                self.keep(~hit)
                self.warnings.append(f"{self.source}: {_count(int(hit.sum()), 'row')} left out: {rule.reason}")
        for rule in res.derive:
            self.derive(rule)
        for col, sep in self.spec.first_of_list.items():
            if col in self.cells:
                t = text(self.cells[col])
                several = t.str.contains(sep, regex=False).to_numpy(dtype=bool)
                if several.any():
                    self.cells[col] = t.str.split(sep, n=1).str[0].str.strip()
                    self.warnings.append(
                        f"{self.source}: {_count(int(several.sum()), 'row')} with several values in "
                        f"{self.labels.get(col, col)!r}: the first was kept")
        for col in self.spec.collapse_spaces:
            if col in self.cells:
                t = text(self.cells[col])
                collapsed = t.str.replace(r"\s{2,}", " ", regex=True)
                n = int((collapsed != t).sum())
                if n:
                    self.warnings.append(f"{self.source}: {_count(n, 'value')} in {self.labels.get(col, col)!r} "
                                         "had runs of spaces; each run was read as one space")
                self.cells[col] = collapsed
        self.count_sentinels()

        parsed = {c: parse_column(self.cells[c], self.kind.column(c), decimal_comma=self.decimal_comma,
                                  date_format=self.date_format) for c in self.kind.column_names if c in self.cells}
        for col, factor in self.spec.scale.items():
            if col in parsed:
                parsed[col].values = parsed[col].values * factor
        # a column that must have a value cannot be left blank: the messages do not offer it
        for c, pc in parsed.items():
            if not self.kind.column(c).nullable and pc.bad.any():
                pc.messages = pc.messages.str.replace(r",? or leave it blank(?! for)", "", regex=True)
        self.apply_value_rules(parsed)

        # preset: leave out rows that cannot be kept (e.g. Maven deals with no creation date)
        drop = np.zeros(len(self.rows), dtype=bool)
        for col, reason in self.spec.drop_blank.items():
            if col in parsed:
                pc = parsed[col]
                blank = pc.values.isna().to_numpy(dtype=bool) & ~pc.bad
                if blank.any():
                    by_stage = ""
                    if "stage" in parsed:
                        counts = parsed["stage"].values[blank].value_counts(dropna=False)
                        by_stage = " (" + ", ".join(f"{s} {n:,}" for s, n in counts.items()) + ")"
                    self.warnings.append(f"{self.source}: " + reason.format(n=f"{int(blank.sum()):,}",
                                                                             by_stage=by_stage))
                    drop |= blank
        if drop.any():
            idx = np.flatnonzero(~drop)
            for pc in parsed.values():
                pc.values = pc.values.iloc[idx].reset_index(drop=True)
                pc.bad = pc.bad[idx]
                pc.messages = pc.messages.iloc[idx].reset_index(drop=True)
                if pc.currency is not None:
                    pc.currency = pc.currency.iloc[idx].reset_index(drop=True)
            self.keep(~drop)

        shown = {c: text(s) for c, s in self.cells.items()}
        skip: dict[str, np.ndarray] = {}
        quarter: Parsed | None = None
        if _QUARTER in self.cells:
            quarter = parse_column(self.cells[_QUARTER], Column("period", "date"), date_format=self.date_format)
            # rows with a date get their period when references are checked; bad dates are reported here
            skip["period"] = quarter.values.notna().to_numpy(dtype=bool) | quarter.bad
            if quarter.bad.any():
                cells = shown[_QUARTER]
                self.out.add_rows(self.source, self.rows, np.flatnonzero(quarter.bad),
                                  self.labels.get("period", "period"), lambda i, cells=cells: cells.iat[i] or None,
                                  lambda i, msgs=quarter.messages: msgs.iat[i])
        for col, pc in parsed.items():
            skip[col] = pc.bad
            if pc.bad.any():
                cells = shown[col]
                self.out.add_rows(self.source, self.rows, np.flatnonzero(pc.bad), self.labels.get(col, col),
                                  lambda i, cells=cells: cells.iat[i] or None,
                                  lambda i, msgs=pc.messages: msgs.iat[i])
        frame = self.assemble(parsed, shown)
        stages = self.stage_definitions()
        if self.kind.name == "opportunities" and stages is not None:
            fill_flags(frame, stage_flag_map(stages))
        if self.kind.name == "opportunities":
            frame, shown, skip = self.closes_before_creation(frame, shown, skip)
            if self.spec.stage_at_close:
                self.won_at_first_stage(frame, stages)
        if self.spec.recorded_by_start and self.kind.temporal:
            self.record_by_start(frame, skip)
        for col, message in self.spec.warn_blank.items():
            if col in frame.columns and col in parsed:
                blank = frame[col].isna().to_numpy(dtype=bool) & ~skip.get(col, np.zeros(len(frame), dtype=bool))
                if blank.any():
                    self.warnings.append(f"{self.source}: " + message.format(
                        by_stage=_by_stage(frame, blank), **_plural(int(blank.sum()))))
        if self.kind.name == "opportunity_history":
            filled = fill_history_ids(frame)
            if filled:
                self.warnings.append(f"{self.source}: {filled:,} history rows had no history_id; a stable id "
                                     "was derived from their values")
        if self.spec.distinct and len(frame):
            dup = frame.astype(object).duplicated().to_numpy()
            if dup.any():
                before = len(frame)
                keep = np.flatnonzero(~dup)
                frame = frame.iloc[keep].reset_index(drop=True)
                self.rows = self.rows[keep]
                shown = {c: s.iloc[keep].reset_index(drop=True) for c, s in shown.items()}
                skip = {c: s[keep] for c, s in skip.items()}
                self.warnings.append(f"{self.source}: {len(frame):,} distinct {self.kind.name} from {before:,} rows")
        Checker(self.kind, frame, source=self.source, rows=self.rows, shown=shown, skip=skip,
                names=self.labels, out=self.out).run()
        if self.out:
            raise self.fail()
        self.warnings.extend(summary_warnings(self.kind, frame, self.source, self.labels))
        for check in self.spec.cross_check:
            self.warnings.extend(self.cross_checked(check, frame))
        return Loaded(self.kind, frame, self.source, self.rows.astype(np.int64), self.warnings, stages,
                      dict(self.labels),
                      None if quarter is None else quarter.values.reset_index(drop=True).astype("datetime64[ns]"))

    def won_at_first_stage(self, frame: pd.DataFrame, stages: pd.DataFrame | None) -> None:
        """Won deals carrying the first (open) stage: the stage is where they closed; say so, per stage."""
        if stages is None or not len(stages) or not len(frame):
            return
        defs = stages.sort_values("sort_order", kind="stable")
        open_stages = defs.loc[~defs["is_closed"].fillna(False).astype(bool).to_numpy(), "stage"].astype(str).tolist()
        if not open_stages:
            return
        won = (frame["is_won"].fillna(False).astype(bool) & frame["is_closed"].fillna(False).astype(bool)).to_numpy()
        stage = frame["stage"].astype(object)
        first = open_stages[0]
        at_first = won & (stage == first).to_numpy(dtype=bool)
        if not at_first.any():
            return
        at_open = won & stage.isin(open_stages).to_numpy(dtype=bool)
        counts = stage[at_open].value_counts().reindex(open_stages).dropna().astype(int)
        listing = ", ".join(f"{st} {n:,}" for st, n in counts.items())
        n = int(at_first.sum())
        status = self.labels.get("is_won", "is_won")
        stage_l = self.labels.get("stage", "stage")
        self.warnings.append(
            f"{self.source}: {n:,} won deal{'s' if n != 1 else ''} closed at the first stage, {first!r} (won deals "
            f"by the {stage_l} they closed at: {listing}): won/lost is read from {status}; a closed deal's "
            f"{stage_l} is the stage at close, kept as such")

    def record_by_start(self, frame: pd.DataFrame, skip: dict[str, np.ndarray]) -> None:
        """recorded_at is a last-edited time: rows edited after they began are recorded at valid_from."""
        if not {"recorded_at", "valid_from"} <= set(frame.columns) or not frame["recorded_at"].notna().any():
            return
        rec = pd.to_datetime(frame["recorded_at"])
        start = pd.to_datetime(frame["valid_from"])
        ok = ~skip.get("recorded_at", np.zeros(len(frame), dtype=bool)) & ~skip.get(
            "valid_from", np.zeros(len(frame), dtype=bool))
        later = (rec > start).fillna(False).to_numpy(dtype=bool) & ok
        rec_l, start_l = self.labels.get("recorded_at", "recorded_at"), self.labels.get("valid_from", "valid_from")
        n, total = int(later.sum()), int(rec.notna().sum())
        if not n:
            self.warnings.append(f"{self.source}: each row is recorded as known at its {rec_l}")
            return
        frame["recorded_at"] = rec.where(~later, start).astype(frame["recorded_at"].dtype)
        key = self.kind.key[0]
        keys = frame.loc[later, key].astype(str)
        shown = ", ".join(keys.head(12)) + (" …" if len(keys) > 12 else "")
        end_l = self.labels.get("valid_to", "valid_to")
        ended = int((later & frame["valid_to"].notna().to_numpy(dtype=bool)).sum()) if "valid_to" in frame else 0
        with_end = (f"all with an {end_l}" if ended == n else f"{ended:,} with an {end_l}") if ended else \
            f"none with an {end_l}"
        self.warnings.append(
            f"{self.source}: each row is recorded as known at its {rec_l} (when it was last modified), except "
            f"{n:,} of {total:,} modified after their {start_l} ({self.labels.get(key, key)} {shown}; {with_end}, "
            f"so likely set by that edit): those are recorded at their {start_l}, when the record was in force and "
            "so known")

    def cross_checked(self, check: CrossCheck, frame: pd.DataFrame) -> list[str]:
        """A preset's cross-check of a column against the open rows of a sibling file (see presets)."""
        if self.path is None:
            return []
        sibling = self.path.parent / check.file
        header = {name.lower(): i for i, name in reversed(list(enumerate(self.raw.header)))}
        pos, kpos = header.get(check.column.lower()), header.get(check.key.lower())
        if pos is None or kpos is None or not sibling.is_file() or sibling.resolve() == self.path.resolve():
            return []
        try:
            other = read(sibling, check.kind, preset=self.preset.name)
        except BadInput:
            return [f"{self.source}: {check.column} was not compared with {check.file} (beside it), which cannot be "
                    f"read as {check.kind.replace('_', '-')}; import that file to see why"]
        k = other.kind.key[0]
        o = other.frame.assign(_key=other.frame[k].astype(str))
        open_rows = o[o["valid_to"].isna().to_numpy()].drop_duplicates("_key", keep="last")
        now = pd.Series(open_rows[check.against].astype(str).to_numpy(), index=open_rows["_key"].to_numpy())
        # the last day of a key's latest interval (valid_to is exclusive)
        last_end = (pd.to_datetime(o["valid_to"]) - pd.Timedelta(days=1)).groupby(o["_key"]).max()
        mine = pd.DataFrame({"key": text(self.raw_columns[kpos]), "here": text(self.raw_columns[pos])})
        mine = mine[(mine["here"] != "") & (mine["key"] != "")]
        mine = mine.assign(there=mine["key"].map(now))
        known = mine["key"].isin(set(o["_key"]))  # keys without any row in the sibling are not compared
        differ = mine[known & (mine["there"] != mine["here"])].sort_values("key", kind="stable")
        if not len(differ):
            return []
        ended = differ["key"].map(last_end).dt.strftime("%Y-%m-%d")
        parts = np.where(differ["there"].isna(),
                         differ["key"] + " (" + check.column + " " + differ["here"] + "; history: none open, the last "
                         "ended " + ended.fillna("?") + ")",
                         differ["key"] + " (" + check.column + " " + differ["here"] + "; history " +
                         differ["there"].fillna("") + ")")
        n = len(differ)
        return [f"{self.source}: " + check.message.format(
            listing=", ".join(parts), n=f"{n:,}", s="" if n == 1 else "s", file=check.file)]

    def count_sentinels(self) -> None:
        """Count the CRM null ids (read as blank) in the text columns used, for one warning."""
        found: list[str] = []
        total = 0
        for col, cells in self.cells.items():
            if col not in self.kind.column_names or self.kind.column(col).type != "str":
                continue
            n = int(text(cells).isin(NULL_SENTINELS).sum())
            if n:
                total += n
                found.append(f"{self.labels.get(col, col)!r} {n:,}")
        if total:
            self.warnings.append(
                f"{self.source}: {_count(total, 'cell')} held the null id {NULL_SENTINELS[0]} ({', '.join(found)}): "
                "read as blank")

    def apply_value_rules(self, parsed: dict[str, Parsed]) -> None:
        """The preset's corrections, blanked zeros and inclusive end dates, on parsed values."""
        for rule in self.spec.correct:
            pc = parsed.get(rule.column)
            if pc is None:
                continue
            values = pc.values
            label = self.labels.get(rule.column, rule.column)
            for wrong, right in rule.values.items():
                hit = (values == wrong).fillna(False).to_numpy(dtype=bool)
                if hit.any():
                    values = values.where(~hit, right)
                    self.warnings.append(f"{self.source}: {_count(int(hit.sum()), 'row')}: {label} {wrong!r} was "
                                         f"read as {right!r} ({rule.reason})")
            pc.values = values
        header = {name.lower(): i for i, name in reversed(list(enumerate(self.raw.header)))}
        for rule in self.spec.blank_when:
            pc, pos = parsed.get(rule.column), header.get(rule.source.lower())
            if pc is None or pos is None:
                continue
            src = text(self.raw_columns[pos]).str.lower().isin([v.lower() for v in rule.values]).to_numpy(dtype=bool)
            hit = src & (pd.to_numeric(pc.values, errors="coerce") == 0).to_numpy(dtype=bool) & ~pc.bad
            if hit.any():
                pc.values = pc.values.where(~hit)
                self.warnings.append(f"{self.source}: " + rule.reason.format(**_plural(int(hit.sum()))))
        for col in self.spec.end_inclusive:
            pc = parsed.get(col)
            if pc is None:
                continue
            given = pc.values.notna().to_numpy(dtype=bool)
            if given.any():
                pc.values = pc.values + pd.Timedelta(days=1)
                label = self.labels.get(col, col)
                self.warnings.append(
                    f"{self.source}: {_count(int(given.sum()), 'value')} in {label!r} {'is' if given.sum() == 1 else 'are'}"
                    f" the last day (inclusive); {col} is the day after, as plancast's {col} is exclusive")

    def closes_before_creation(
        self, frame: pd.DataFrame, shown: dict[str, pd.Series], skip: dict[str, np.ndarray]
    ) -> tuple[pd.DataFrame, dict[str, pd.Series], dict[str, np.ndarray]]:
        """Apply the close-before-create policy (the row rules refuse what is left)."""
        if not {"close_date", "created_date"} <= set(frame.columns):
            return frame, shown, skip
        ok = ~skip.get("close_date", np.zeros(len(frame), dtype=bool)) & ~skip.get(
            "created_date", np.zeros(len(frame), dtype=bool))
        before = (frame["close_date"] < frame["created_date"]).fillna(False).to_numpy(dtype=bool) & ok
        if not before.any():
            return frame, shown, skip
        close_l, created_l = self.labels.get("close_date", "close_date"), self.labels.get("created_date", "created_date")
        if self.close_before_create == "refuse":
            self.hint = (f"fix the dates listed and import the file again; if {created_l} is when the records "
                         "were loaded rather than when the deals began (a migrated or demo org), import with "
                         "--close-before-create clamp (the creation date becomes the close date) or skip "
                         "(those deals are left out); nothing was imported")
            return frame, shown, skip
        closed = frame["is_closed"].fillna(False).to_numpy(dtype=bool)
        split = f"{int((before & closed).sum()):,} closed, {int((before & ~closed).sum()):,} open"
        n = int(before.sum())
        deals = "deal has" if n == 1 else "deals have"
        if self.close_before_create == "clamp":
            frame = frame.copy()
            frame.loc[before, "created_date"] = frame.loc[before, "close_date"]
            self.warnings.append(
                f"{self.source}: {n:,} {deals} a {close_l} before {created_l} ({split}): {created_l} was set to "
                f"{close_l} (--close-before-create clamp), so their sales cycle reads as 0 days")
            return frame, shown, skip
        keep = np.flatnonzero(~before)
        self.warnings.append(f"{self.source}: {n:,} {deals} a {close_l} before {created_l} ({split}): left out "
                             "(--close-before-create skip)")
        self.rows = self.rows[keep]
        return (frame.iloc[keep].reset_index(drop=True),
                {c: v.iloc[keep].reset_index(drop=True) for c, v in shown.items()},
                {c: v[keep] for c, v in skip.items()})

    def derive(self, rule: Derive) -> None:
        header = {name: i for i, name in reversed(list(enumerate(self.raw.header)))}
        lower = {name.lower(): i for i, name in reversed(list(enumerate(self.raw.header)))}

        def col(name: str) -> pd.Series:
            pos = header.get(name, lower.get(name.lower()))
            return text(self.raw_columns[pos])

        if rule.template is not None:
            import string

            out = pd.Series("", index=range(len(self.rows)), dtype="str")
            any_value = np.zeros(len(self.rows), dtype=bool)
            for literal, fieldname, _, _ in string.Formatter().parse(rule.template):
                out = out + literal
                if fieldname:
                    part = col(fieldname)
                    any_value |= (part != "").to_numpy(dtype=bool)
                    out = out + part
            self.cells[rule.target] = out.str.strip().where(any_value, "")
            return
        assert rule.source is not None
        t = col(rule.source)
        low = t.str.lower()
        mapped = low.map(dict(rule.values))
        if rule.otherwise is not None:
            mapped = mapped.where(mapped.notna() | (t == ""), rule.otherwise)
        unknown = (t != "").to_numpy(dtype=bool) & mapped.isna().to_numpy(dtype=bool)
        if unknown.any():
            accepted = ", ".join(rule.values)
            already = any(p.column == rule.source and p.row is not None for p in self.out.items)
            if not already:  # one value map can feed several columns: report once
                self.out.add_rows(self.source, self.rows, np.flatnonzero(unknown), rule.source,
                                  lambda i: t.iat[i],
                                  f"is not one of {accepted} (any case); fix the value")
        self.cells[rule.target] = mapped.fillna("").astype("str")

    def assemble(self, parsed: dict[str, Parsed], shown: dict[str, pd.Series]) -> pd.DataFrame:
        n = len(self.rows)
        data: dict[str, pd.Series] = {}
        for c in self.kind.columns:
            if c.name in parsed:
                values = parsed[c.name].values.reset_index(drop=True)
                if c.type == "money":
                    values = values.round(2)
                    rounded = parsed[c.name].rounded
                    if rounded and c.name not in self.spec.scale:
                        self.warnings.append(
                            f"{self.source}: {_count(rounded, 'value')} in {self.labels.get(c.name, c.name)!r} "
                            f"had more than 2 decimals and {'was' if rounded == 1 else 'were'} rounded to the cent")
                if c.choices is not None or c.name == "currency":
                    low = values.astype("str").str.lower() if c.choices is not None else values.astype("str").str.upper()
                    values = pd.Series(low.to_numpy(dtype=object, na_value=None), dtype=object)
                data[c.name] = values.astype(DTYPES[c.type]) if c.type != "str" else values
            else:
                data[c.name] = _column_of(c, n, with_default=False)
        # currency marked on the amount ("EUR 1200"): fill a blank currency, refuse a contradiction
        if "currency" in data:
            for c in self.kind.columns:
                pc = parsed.get(c.name)
                if c.type != "money" or pc is None or pc.currency is None:
                    continue
                marked = pc.currency.reset_index(drop=True)
                cur = data["currency"]
                has_mark = marked.notna().to_numpy(dtype=bool)
                blank = cur.isna().to_numpy(dtype=bool)
                fill = has_mark & blank
                if fill.any():
                    cur = cur.copy()
                    cur[fill] = marked[fill]
                    data["currency"] = cur
                clash = has_mark & ~blank & (marked.astype("str").to_numpy() != cur.astype("str").to_numpy())
                if clash.any():
                    label = self.labels.get(c.name, c.name)
                    cur_label = self.labels.get("currency", "currency")
                    cells = shown[c.name]
                    self.out.add_rows(self.source, self.rows, np.flatnonzero(clash), label,
                                      lambda i, cells=cells: cells.iat[i] or None,
                                      lambda i, m=marked, cu=cur: f"is marked {m.iat[i]} but {cur_label} is "
                                      f"{cu.iat[i]}; fix one of them")
        for c in self.kind.columns:
            data[c.name] = _fill_default(c, data[c.name])
        return pd.DataFrame(data)

    def stage_definitions(self) -> pd.DataFrame | None:
        defs: dict[str, StageDef] = {s.stage: s for s in self.preset.stages}
        if self.mapping is not None:
            defs.update({s.stage: s for s in self.mapping.stages})
        return stages_frame(list(defs.values()))


def _plural(n: int) -> dict[str, str]:
    """Format keys for preset messages: {n} the count, {s} a plural s, {have} has/have."""
    return {"n": f"{n:,}", "s": "" if n == 1 else "s", "have": "has" if n == 1 else "have"}


def _by_stage(frame: pd.DataFrame, mask: np.ndarray) -> str:
    if "stage" not in frame.columns or not mask.any():
        return ""
    counts = frame["stage"][mask].value_counts(dropna=False)
    return " (" + ", ".join(f"{s} {n:,}" for s, n in counts.items()) + ")"


def stage_flag_map(stages: pd.DataFrame | None) -> dict[str, tuple[bool, bool]]:
    if stages is None or not len(stages):
        return {}
    closed = stages["is_closed"].fillna(False).astype(bool).tolist()
    won = stages["is_won"].fillna(False).astype(bool).tolist()
    return {str(s): (c, w) for s, c, w in zip(stages["stage"].tolist(), closed, won)}


def fill_flags(frame: pd.DataFrame, flags: dict[str, tuple[bool, bool]]) -> np.ndarray:
    """Fill blank is_closed / is_won from stage flags; return the mask of rows changed."""
    changed = np.zeros(len(frame), dtype=bool)
    if not flags or "stage" not in frame.columns:
        return changed
    stage = frame["stage"]
    for i, col in enumerate(("is_closed", "is_won")):
        if col not in frame.columns:
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="boolean")
        blank = frame[col].isna().to_numpy(dtype=bool)
        if not blank.any():
            continue
        looked_up = stage.map({s: f[i] for s, f in flags.items()})
        fill = blank & looked_up.notna().to_numpy(dtype=bool)
        if fill.any():
            values = frame[col].astype("boolean").copy()
            values[fill] = looked_up[fill].astype(bool).to_numpy()
            frame[col] = values
            changed |= fill
    return changed


def summary_warnings(kind: Kind, frame: pd.DataFrame, source: str, labels: dict[str, str]) -> list[str]:
    out: list[str] = []
    if kind.name == "accounts" and len(frame) and frame["name"].notna().any():
        names = frame["name"].dropna().astype(str)
        shared = names[names.str.casefold().duplicated(keep=False)]
        if len(shared):
            counts = shared.groupby(shared.str.casefold()).agg(["first", "size"])
            listing = ", ".join(f"{f!r} ({n})" for f, n in zip(counts["first"][:8], counts["size"][:8], strict=True))
            more = " …" if len(counts) > 8 else ""
            label = labels.get("name", "name")
            out.append(f"{source}: {len(shared):,} accounts have the same {label} as another account: {listing}{more}; "
                       f"kept apart by their {labels.get('account_id', 'account_id')} (merge them in the CRM if "
                       "they are one company)")
    if kind.name == "accounts" and len(frame):
        out += _country_warnings(frame, source, labels)
    if kind.name == "opportunity_history" and len(frame):
        out += _first_history_close_warnings(frame, source, labels)
    if kind.name == "opportunities" and len(frame):
        no_account = frame["account_id"].isna().to_numpy(dtype=bool)
        if no_account.any():
            # is_closed may be blank here (the stage decides it when the file has none)
            known = frame["is_closed"].notna().to_numpy(dtype=bool)
            closed = frame["is_closed"].fillna(False).to_numpy(dtype=bool)
            open_n = int((no_account & known & ~closed).sum())
            closed_n = int((no_account & known & closed).sum())
            some_n = int((no_account & ~known).sum())
            for n, what in ((open_n, "open "), (closed_n, "closed "), (some_n, "")):
                if n:
                    verb = "deals have" if n != 1 else "deal has"
                    them = "they count" if n != 1 else "it counts"
                    out.append(f"{source}: {n:,} {what}{verb} no account_id (kept; {them} for the owner only)")
        if "currency" in frame:
            cur = frame["currency"].fillna("USD").astype(str).str.upper()
            other = cur.value_counts()
            other = other[other.index != "USD"]
            if len(other):
                listing = ", ".join(f"{c} {n:,}" for c, n in other.items())
                n = int(other.sum())
                out.append(f"{source}: {n:,} {'deals are' if n != 1 else 'deal is'} not in USD ({listing}): kept as "
                           "written; "
                           "plancast does not convert currencies, so forecasts and diagnoses in USD leave them out "
                           "(import their amounts converted to USD to count them)")
    return out


def _country_warnings(frame: pd.DataFrame, source: str, labels: dict[str, str]) -> list[str]:
    """One country written several ways; country names in the state column (both kept as written)."""
    from .countries import IN_STATE, SPELLINGS

    out: list[str] = []
    country_l, state_l = labels.get("country", "country"), labels.get("state", "state")
    country = frame["country"].astype(object)
    written = country.dropna().astype(str)
    canon = written.str.casefold().map(SPELLINGS)
    known = canon.notna().to_numpy(dtype=bool)
    if known.any():
        counts = written[known].groupby([canon[known], written[known]], sort=True).size()
        per_country = counts.groupby(level=0).size()
        several = per_country[per_country > 1].index
        if len(several):
            listing = "; ".join(", ".join(f"{w} {n:,}" for (_, w), n in counts.loc[[c]].items()) for c in several)
            what = "one country" if len(several) == 1 else f"{len(several)} countries"
            out.append(f"{source}: {country_l} spells {what} several ways ({listing}): kept as written; assignment "
                       "rules on country must list each spelling")
    state = frame["state"].astype(object)
    has_state = state.notna().to_numpy(dtype=bool)
    if has_state.any():
        st = state[has_state].astype(str)
        in_state = st.str.casefold().map(IN_STATE)
        own = country[has_state].astype(str).str.casefold().map(SPELLINGS)
        blank = country[has_state].isna().to_numpy(dtype=bool)
        # a state column naming a country, where the country column is blank or names another one
        hit = in_state.notna().to_numpy(dtype=bool) & (blank | (own != in_state).to_numpy(dtype=bool))
        if hit.any():
            n, no_country = int(hit.sum()), int((hit & blank).sum())
            counts = st[hit].value_counts()
            counts = counts.sort_index().sort_values(ascending=False, kind="stable")
            listing = ", ".join(f"{v} {c:,}" for v, c in counts.items())
            them = "them" if n != 1 else "it"
            if no_country == n:
                tail = f" and no {country_l}: kept as written; assignment rules on country do not place {them}"
            else:
                tail = (f" ({no_country:,} without {country_l}, {n - no_country:,} with another country there): "
                        f"kept as written; assignment rules on country read only {country_l}")
            out.append(f"{source}: {n:,} account{'s have' if n != 1 else ' has'} a country name in {state_l} "
                       f"({listing}){tail} (set {country_l} in the CRM)")
    return out


def _value_listing(values: pd.Series, limit: int = 3) -> str:
    """'2018-10-01 on all 31' for one value, else the commonest values with their counts."""
    counts = values.value_counts().sort_index().sort_values(ascending=False, kind="stable")
    if len(counts) == 1:
        n = int(counts.iloc[0])
        return f"{counts.index[0]} on {'all ' if n > 1 else ''}{n:,}"
    shown = ", ".join(f"{v} {int(c):,}" for v, c in counts.head(limit).items())
    return shown + (f" … ({len(counts)} values)" if len(counts) > limit else "")


def _first_history_close_warnings(frame: pd.DataFrame, source: str, labels: dict[str, str]) -> list[str]:
    """A deal's first history row whose close date is before the row itself was recorded."""
    f = frame[["opportunity_id", "changed_at", "close_date"]].reset_index(drop=True)
    f = f[f["opportunity_id"].notna().to_numpy()]
    order = f.sort_values("changed_at", kind="stable")
    first = order[~order["opportunity_id"].astype(str).duplicated()]
    changed = pd.to_datetime(first["changed_at"])
    close = pd.to_datetime(first["close_date"])
    early = (close < changed.dt.normalize()).fillna(False).to_numpy(dtype=bool)
    if not early.any():
        return []
    ids = first.loc[early, "opportunity_id"].astype(str)
    n = len(ids)
    # later rows of the same deals that carry another close date
    later = order.drop(index=first.index)
    later = later[later["opportunity_id"].astype(str).isin(set(ids))]
    moved = later.merge(pd.DataFrame({"opportunity_id": first.loc[early, "opportunity_id"].to_numpy(),
                                      "first_close": close[early].to_numpy()}), on="opportunity_id")
    changed_deals = moved.loc[(pd.to_datetime(moved["close_date"]) != moved["first_close"]).to_numpy(),
                              "opportunity_id"].nunique()
    close_l, changed_l = labels.get("close_date", "close_date"), labels.get("changed_at", "changed_at")
    closes = _value_listing(close[early].dt.strftime("%Y-%m-%d"))
    recorded = _value_listing(changed[early].dt.strftime("%Y-%m-%d"))
    rows = "history rows, the first of each of" if n != 1 else "history row, the first of"
    deals = f"{n:,} deals, carry" if n != 1 else "its deal, carries"
    tail = ""
    if changed_deals:
        tail = (f"; a later row changes the {close_l} of "
                + ("all of these deals" if changed_deals == n else f"{changed_deals:,} of these deals"))
    return [f"{source}: {n:,} {rows} {deals} a {close_l} before the row's {changed_l} ({close_l} {closes}; "
            f"{changed_l} {recorded}): kept as recorded, as the {close_l} the CRM showed when the deal was first "
            f"recorded{tail}"]


# -- check_frame ------------------------------------------------------------------


def check_frame(kind: str | Kind, frame: pd.DataFrame, *, source: str, rows: np.ndarray | None = None) -> list[Problem]:
    """The row rules on an already-typed canonical frame (e.g. one built in code).

    Returns the problems (at most 200, then "… and N more"); an empty list means
    the frame passes. Rows are numbered from ``rows`` (default 2, 3, …, as if
    the frame had been a file with a header). For ``opportunity_history`` a
    blank ``history_id`` is filled **in place** with its stable hash.
    """
    k = _kind(kind)
    return problems_in(k, frame, source=source, rows=rows).result()


# -- check_references --------------------------------------------------------------

_REFERENCE_TEXT = {
    "reps": ("rep", "plancast import reps FILE"),
    "accounts": ("account", "plancast import accounts FILE"),
    "territories": ("territory", "plancast import territories FILE"),
    "opportunities": ("opportunity", "plancast import opportunities FILE"),
}
_ENTITY_KINDS = {"rep": "reps", "territory": "territories", "region": "regions", "segment": "segments"}


def _listing(values: list[str], limit: int = 12) -> str:
    values = sorted(values)
    shown = ", ".join(values[:limit])
    return shown + (f" … ({len(values)} in all)" if len(values) > limit else "") if values else "none yet"


def check_references(
    loaded: Loaded,
    known: dict[str, set[str]],
    periods: dict[str, tuple[date, date]],
    *,
    stage_flags: dict[str, tuple[bool, bool]] | None = None,
) -> Loaded:
    """Check ids against the store; fill validity from periods and deal flags from stages.

    ``known`` maps a kind name (``"reps"``, ``"accounts"``, ``"territories"``,
    ``"stages"``, ``"opportunities"``; also ``"regions"``/``"segments"`` for
    quotas of those levels) to the ids the store holds; ids in the same file
    count for self-references. Stages from ``loaded.stages`` count as known.
    ``periods`` maps a period id to ``(start, end)``, end exclusive: blank
    ``valid_from``/``valid_to`` of a row with a period are filled from it.
    ``stage_flags`` maps a stage to ``(is_closed, is_won)``; blank flags of
    opportunities are filled from it (and from ``loaded.stages``).

    Returns a new :class:`Loaded` with the filled frame, or raises
    :class:`BadInput` listing every unknown id.
    """
    k = loaded.kind
    frame = loaded.frame.copy()
    out = Problems()
    checker = Checker(k, frame, source=loaded.source, rows=loaded.rows, names=loaded.labels, out=out)
    brought = stage_flag_map(loaded.stages)
    flags = {**brought, **(stage_flags or {})}
    known_str = {name: {str(v) for v in ids} for name, ids in known.items()}

    for ref in k.references:
        if ref.column not in frame.columns:
            continue
        ids = set(known_str.get(ref.kind, set()))
        if ref.kind == k.name:
            ids |= set(frame[k.key[0]].dropna().astype(str))
        if ref.kind == "stages":
            ids |= set(flags)
        _unknown_ids(checker, frame, ref.column, ref.kind, ids)
    if k.name == "quotas" and {"entity_type", "entity_id"} <= set(frame.columns):
        et = frame["entity_type"].astype("str").str.lower()
        for entity, kind_name in _ENTITY_KINDS.items():
            if kind_name not in known_str:
                continue
            subset = (et == entity).to_numpy(dtype=bool)
            if subset.any():
                _unknown_ids(checker, frame, "entity_id", kind_name, known_str[kind_name], subset=subset)

    warnings = list(loaded.warnings)
    dated = np.zeros(len(frame), dtype=bool)
    dates_hint: str | None = None
    dates_problems = 0
    if loaded.period_dates is not None and "period" in frame.columns:
        before = out.total
        found, dated, dates_hint = _quarters_of_dates(checker, frame, loaded.period_dates, periods)
        dates_problems = out.total - before
        warnings += found
    filled = np.zeros(len(frame), dtype=bool)
    if "period" in frame.columns and k.temporal:
        filled = _fill_periods(checker, frame, periods, dated=dated)
    if k.temporal and filled.any():
        checker.validity(filled=filled)
    if k.name == "opportunities":
        changed = fill_flags(frame, flags)
        if changed.any():
            checker.opportunities(subset=changed)
    if out:
        n = out.total
        only_dates = dates_hint is not None and dates_problems == n
        raise BadInput(
            f"{loaded.source} was not imported: {n} problem{'s' if n != 1 else ''} found",
            out.result(),
            hint=dates_hint if only_dates else
            "import the missing reps / accounts / territories / stages first (periods: plancast calendar add "
            "YEAR), or fix the ids; nothing was imported",
        )
    return dataclasses.replace(loaded, frame=frame, warnings=warnings)


#: how far (days) a quota's date may be from the first day of the quarter it names
QUARTER_SLACK_DAYS = 7


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _years(years: list[int]) -> str:
    years = sorted(set(years))
    if len(years) == 1:
        return str(years[0])
    if len(years) > 4 and years == list(range(years[0], years[-1] + 1)):
        return f"{years[0]} to {years[-1]}"
    return ", ".join(map(str, years[:-1])) + f" and {years[-1]}"


def _fiscal_year(month_start: pd.Series, start_month: int) -> pd.Series:
    """The fiscal year (named by the year it ends in) holding each month, for years starting in ``start_month``."""
    return month_start.dt.year + ((month_start.dt.month >= start_month) & (start_month != 1)).astype(int)


def _calendar_add(years: list[int], start_month: int) -> str:
    years = sorted(set(years))
    first = f"plancast calendar add {years[0]} --start-month {start_month}"
    if len(years) == 1:
        return first
    return f"{first}, and the same for {_years(years[1:])}"


def _quarters_of_dates(checker: Checker, frame: pd.DataFrame, dates: pd.Series,
                       periods: dict[str, tuple[date, date]]) -> tuple[list[str], np.ndarray, str | None]:
    """Fill blank ``period`` with the quarter whose first day is within QUARTER_SLACK_DAYS of the date.

    Returns (warnings, the rows whose period is named by a date, what to do when these are the only
    problems). When the store has no quarters, or none starts near any of the dates, or the dates fall
    outside the fiscal years it holds, the file is refused with **one** problem that names the date range,
    the start month whose quarters fit the dates and the fiscal years to add; only dates that the store's
    calendar should fit but does not (a day far from every quarter start) are listed row by row."""
    from ..calendar import parse_period_id

    quarters = sorted((pd.Timestamp(v[0]), str(p)) for p, v in periods.items()
                      if _is_quarter(str(p), parse_period_id))
    d = pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]")
    todo = frame["period"].isna().to_numpy(dtype=bool) & ~np.isnat(d)
    if not todo.any():
        return [], todo, None
    label = checker.label("period")
    ts = pd.Series(d)
    shown_date = ts.dt.strftime("%Y-%m-%d")
    # the first day of the month nearest each date: where a quarter would have to start
    month_start = ts.dt.to_period("M").dt.to_timestamp()
    nearest_month = month_start.where((ts - month_start).dt.days < 16, month_start + pd.offsets.MonthBegin(1))
    # the start month whose quarters fit every date: one phase of three months, first quarter at the earliest
    phases = set((nearest_month[todo].dt.month % 3).tolist())
    fit = int(nearest_month[todo].iloc[int(np.argmin(d[todo]))].month) if len(phases) == 1 else None

    if quarters:
        starts = np.array([q[0] for q in quarters], dtype="datetime64[ns]")
        ids = np.array([q[1] for q in quarters], dtype=object)
        i = np.clip(np.searchsorted(starts, d), 1, len(starts) - 1) if len(starts) > 1 else np.zeros(len(d), dtype=int)
        if len(starts) > 1:  # the nearer of the neighbouring starts
            left_closer = np.abs(d - starts[i - 1]) <= np.abs(starts[i] - d)
            i = np.where(left_closer, i - 1, i)
        off = ((d - starts[i]) / np.timedelta64(1, "D"))
        near = todo & (np.abs(off) <= QUARTER_SLACK_DAYS)
    else:
        starts, ids, i, off = np.array([], dtype="datetime64[ns]"), np.array([], dtype=object), None, None
        near = np.zeros(len(d), dtype=bool)
    far = todo & ~near

    if far.any():
        q_months = sorted({pd.Timestamp(s).month for s in starts})
        store_phase = {m % 3 for m in q_months}
        # the store's fiscal year start: the month its first quarters start in
        q1 = [pd.Timestamp(v[0]).month for p, v in periods.items() if str(p).upper().endswith("Q1")]
        store_start = q1[0] if q1 else (q_months[0] if q_months else None)
        in_phase = far & (nearest_month.dt.month % 3).isin(store_phase).to_numpy(dtype=bool)
        have = set(starts.astype("datetime64[D]").tolist()) if len(starts) else set()
        uncovered = in_phase & ~nearest_month.dt.date.isin(have).to_numpy(dtype=bool)
        first_d, last_d = shown_date[todo].min(), shown_date[todo].max()
        n_rows = int(todo.sum())
        if not near.any() and not uncovered.any() and fit is not None:
            # no quarter of the store starts near any date: the dates need another calendar
            years = _fiscal_year(nearest_month[todo], fit).tolist()
            months = ", ".join(_MONTHS[(fit - 1 + 3 * q) % 12] for q in range(3)) + " and " + _MONTHS[(fit + 8) % 12]
            need = (f"they fall within {QUARTER_SLACK_DAYS} days of 1 {months}, the first days of the quarters of "
                    f"fiscal years starting in {_MONTHS[fit - 1]}")
            fy0 = min(years)
            first_fy = (f"FY{fy0} runs from {pd.Timestamp(fy0 - (fit != 1), fit, 1):%Y-%m-%d}")
            if not quarters:
                what = (f"no fiscal quarters in the store cover the {label} dates {first_d} … {last_d} ({n_rows:,} "
                        f"rows): {need}; add fiscal years {_years(years)} first ({_calendar_add(years, fit)}; "
                        f"{first_fy}), then import again")
                hint = (f"add the fiscal years first ({_calendar_add(years, fit)}), then import again; nothing was "
                        "imported")
            else:
                have_months = ", ".join(_MONTHS[m - 1] for m in q_months)
                what = (f"none of the store's fiscal quarters (starting in {have_months}) starts within "
                        f"{QUARTER_SLACK_DAYS} days of the {label} dates {first_d} … {last_d} ({n_rows:,} rows): "
                        f"{need}; a store's periods never change, so import into a new store after "
                        f"{_calendar_add(years, fit)} ({first_fy}), or give a period column")
                hint = (f"use a new store (--db) with {_calendar_add(years, fit)}, or give a period column; "
                        "nothing was imported")
            checker.out.add(Problem(checker.source, None, label, None, what))
            return [], todo, hint
        if not quarters:
            checker.out.add(Problem(
                checker.source, None, label, None,
                f"no fiscal quarters in the store cover the {label} dates {first_d} … {last_d} ({n_rows:,} rows), "
                "and the dates do not fall near the quarter starts of any one calendar (nearest first days of a "
                f"month: {_value_listing(nearest_month[todo].dt.strftime('%Y-%m-%d'))}); give a period column"))
            return [], todo, None
        hint = None
        if uncovered.any():
            # the calendar fits, but lacks the fiscal years of some dates
            assert store_start is not None
            years = _fiscal_year(nearest_month[uncovered], store_start).tolist()
            n = int(uncovered.sum())
            checker.out.add(Problem(
                checker.source, None, label, None,
                f"{n:,} {label} date{'s' if n != 1 else ''} ({shown_date[uncovered].min()} … "
                f"{shown_date[uncovered].max()}) fall{'s' if n == 1 else ''} outside the fiscal years in the store "
                f"({ids[0]} … {ids[-1]}); add fiscal years {_years(years)} first "
                f"({_calendar_add(years, store_start)}), then import again"))
            hint = (f"add the fiscal years first ({_calendar_add(years, store_start)}), then import again; nothing "
                    "was imported")
        odd = far & ~uncovered
        if odd.any():
            if hint is None:
                hint = "fix the dates listed, or give a period column, then import again; nothing was imported"
            shown_start = pd.Series(starts[i]).dt.strftime("%Y-%m-%d")
            checker.report(odd, "period", value=lambda p: shown_date.iat[p], message=lambda p: (
                f"is not within {QUARTER_SLACK_DAYS} days of the first day of a quarter in the store's calendar "
                f"(nearest: {ids[i[p]]} from {shown_start.iat[p]}); quotas dated by quarter must fall within "
                f"{QUARTER_SLACK_DAYS} days of the quarter's first day — fix the date, or give a period column"))
        return [], todo, hint

    values = frame["period"].astype(object).to_numpy(copy=True)
    values[near] = ids[i[near]]
    frame["period"] = pd.Series(values, index=frame.index, dtype=object)
    moved = near & (off != 0)
    if not moved.any():
        return [], todo, None
    shown_start = pd.Series(starts[i]).dt.strftime("%Y-%m-%d")
    first = int(np.flatnonzero(moved)[0])
    day = pd.Timestamp(d[first]).strftime("%Y-%m-%d")
    n = int(moved.sum())
    return [f"{checker.source}: {n:,} {label} value{'s are' if n != 1 else ' is'} not the first day of a quarter: "
            f"each was read as the quarter that starts nearest to it, at most {QUARTER_SLACK_DAYS} days away "
            f"(e.g. {day} → {ids[i[first]]} from {shown_start.iat[first]}); {int((near & ~moved).sum()):,} "
            "fell on a quarter's first day"], todo, None


def _is_quarter(period_id: str, parse: Callable[[str], tuple[str, int, int | None]]) -> bool:
    try:
        return parse(period_id)[0] == "quarter"
    except BadInput:
        return False


def _unknown_ids(checker: Checker, frame: pd.DataFrame, column: str, ref_kind: str, ids: set[str],
                 subset: np.ndarray | None = None) -> None:
    s = frame[column]
    present = s.notna().to_numpy(dtype=bool)
    unknown = present & ~s.astype(object).astype(str).isin(list(ids)).to_numpy(dtype=bool)
    if subset is not None:
        unknown &= subset
    if not unknown.any():
        return
    lower: dict[str, str] = {}
    for i in ids:
        lower.setdefault(i.lower(), i)

    def did_you_mean(pos: int) -> str:
        v = str(s.iat[pos])
        match = lower.get(v.lower())
        return f" (did you mean {match!r}?)" if match else ""

    if ref_kind == "stages":
        listing = _listing(list(ids))
        message = lambda pos: (  # noqa: E731
            f"is not a known stage{did_you_mean(pos)}; known stages: {listing} — define it (plancast import "
            "stages FILE, or a [stages] table in a --mapping file) or fix the name")
    else:
        noun, command = _REFERENCE_TEXT.get(ref_kind, (ref_kind.rstrip("s"), f"plancast import {ref_kind} FILE"))
        if ref_kind == checker.kind.name:
            where = "in the store or in this file"
        else:
            where = "in the store"
        message = lambda pos: (  # noqa: E731
            f"no {noun} with this id{did_you_mean(pos)} {where}; import the {ref_kind} first ({command}) "
            "or fix the id")
    checker.report(unknown, column, message)


def _fill_periods(checker: Checker, frame: pd.DataFrame, periods: dict[str, tuple[date, date]],
                  dated: np.ndarray | None = None) -> np.ndarray:
    """Fill blank validity from known periods; ``dated`` rows name their period by a date (reported there)."""
    period = frame["period"]
    present = period.notna().to_numpy(dtype=bool)
    names = [str(p) for p in periods]
    known = period.astype(object).astype(str).isin(names).to_numpy(dtype=bool) & present
    unknown = present & ~known
    listing = _listing(names)
    checker.report(unknown, "period", f"is not a period plancast knows (known: {listing}); add its fiscal year "
                   "with plancast calendar add YEAR, or fix the id")
    starts = {str(p): pd.Timestamp(v[0]) for p, v in periods.items()}
    ends = {str(p): pd.Timestamp(v[1]) for p, v in periods.items()}
    filled = np.zeros(len(frame), dtype=bool)
    for col, table in (("valid_from", starts), ("valid_to", ends)):
        blank = frame[col].isna().to_numpy(dtype=bool) & known
        if blank.any():
            values = frame[col].astype("datetime64[ns]").copy()
            mapped = period.astype(object).astype(str).map(table)
            values[blank] = pd.to_datetime(mapped[blank]).astype("datetime64[ns]").to_numpy()
            frame[col] = values
            filled |= blank
    no_when = ~present & frame["valid_from"].isna().to_numpy(dtype=bool)
    if dated is not None:
        no_when &= ~dated
    checker.report(no_when, "period", f"is blank and so is {checker.label('valid_from')}; give a period "
                   f"(known: {listing}) or a valid_from", value=lambda pos: None)
    return filled
