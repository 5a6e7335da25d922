"""Mapping files: say which column of your file is which plancast column.

A mapping file is TOML (``.toml``) or YAML (``.yaml``/``.yml``)::

    [columns]                    # source column in the file = canonical column
    "Deal ID" = "opportunity_id"
    "Owner"   = "owner_id"

    [options]                    # all optional
    delimiter = ";"              # , ; | or "tab"
    decimal_comma = true         # 1.200,50 = 1200.50
    date_format = "%d/%m/%Y"     # strptime codes; ISO dates are still accepted
    encoding = "cp1252"          # when the file is not UTF-8
    sheet = "Deals"              # .xlsx: which sheet

    [stages."Closed Won"]        # optional stage definitions
    is_closed = true
    is_won = true
    sort_order = 9
    probability = 1.0

It can be combined with a preset; the mapping wins. Source names are matched
exactly (ignoring surrounding spaces), then ignoring case. A source column that
is not in the file, or a target that is not a column of the kind, is an error.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..configfile import load_config_file
from ..errors import BadInput, Problem
from .presets import StageDef

OPTIONS: dict[str, type | tuple[type, ...]] = {
    "delimiter": str,
    "decimal_comma": bool,
    "date_format": str,
    "encoding": str,
    "sheet": str,
}
STAGE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "sort_order": int,
    "is_closed": bool,
    "is_won": bool,
    "probability": (int, float),
}


@dataclass(frozen=True)
class Mapping:
    source: str
    columns: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    decimal_comma: bool | None = None
    date_format: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    stages: tuple[StageDef, ...] = ()


def _bad(source: str, problems: list[Problem]) -> BadInput:
    return BadInput(
        f"mapping file {source} cannot be used",
        problems,
        hint="fix the mapping file; its shape is [columns] \"Your column\" = \"canonical_column\", "
        "optional [options] and [stages.\"Name\"] tables",
    )


def load_mapping(path: str | Path) -> Mapping:
    return _from_data(str(path), load_config_file(path, "mapping file", _bad))


def _from_data(source: str, data: Any) -> Mapping:
    problems: list[Problem] = []

    def bad(where: str | None, value: Any, message: str) -> None:
        problems.append(Problem(source, None, where, None if value is None else str(value), message))

    if data is None:
        data = {}
    if not isinstance(data, dict):
        bad(None, None, "must be a table with [columns] (and optionally [options], [stages])")
        raise _bad(source, problems)
    for key in data:
        if key not in ("columns", "options", "stages"):
            bad(str(key), None, "is not a section of a mapping file; use [columns], [options] or [stages]")
    columns: dict[str, str] = {}
    raw_columns = data.get("columns", {})
    if not isinstance(raw_columns, dict):
        bad("columns", None, 'must be a table of "source column" = "canonical_column"')
    else:
        targets: dict[str, str] = {}
        for src, tgt in raw_columns.items():
            if not isinstance(tgt, str) or not tgt.strip():
                bad(f"columns.{src}", tgt, "must name a canonical column as text (e.g. \"owner_id\")")
                continue
            tgt = tgt.strip()
            if tgt in targets:
                bad(f"columns.{src}", tgt, f"maps to {tgt!r} like {targets[tgt]!r}; map one source column per target")
                continue
            targets[tgt] = str(src)
            columns[str(src).strip()] = tgt
    options = data.get("options", {})
    opts: dict[str, Any] = {}
    if not isinstance(options, dict):
        bad("options", None, "must be a table (delimiter, decimal_comma, date_format, encoding, sheet)")
    else:
        for key, value in options.items():
            if key not in OPTIONS:
                bad(f"options.{key}", None, "is not an option; use one of: " + ", ".join(OPTIONS))
                continue
            want = OPTIONS[key]
            if not isinstance(value, want) or (want is str and not value):
                bad(f"options.{key}", value, f"must be {'true or false' if want is bool else 'text'}")
                continue
            opts[key] = value
        if "encoding" in opts:
            try:
                codecs.lookup(opts["encoding"])
            except LookupError:
                bad("options.encoding", opts.pop("encoding"), "is not an encoding Python knows; e.g. cp1252, latin-1, utf-16")
        if "date_format" in opts and "%" not in opts["date_format"]:
            bad("options.date_format", opts.pop("date_format"), "has no strptime codes; write it like \"%d/%m/%Y\"")
    stages: list[StageDef] = []
    raw_stages = data.get("stages", {})
    if not isinstance(raw_stages, dict):
        bad("stages", None, 'must be a table of [stages."Stage name"] tables')
    else:
        for order, (name, spec) in enumerate(raw_stages.items(), start=1):
            where = f"stages.{name}"
            if not isinstance(spec, dict):
                bad(where, None, "must be a table with is_closed, is_won, sort_order, probability")
                continue
            ok = True
            for key, value in spec.items():
                if key not in STAGE_FIELDS:
                    bad(f"{where}.{key}", None, "is not a stage field; use " + ", ".join(STAGE_FIELDS))
                    ok = False
                elif not isinstance(value, STAGE_FIELDS[key]) or (key != "is_closed" and key != "is_won" and isinstance(value, bool)):
                    bad(f"{where}.{key}", value, "has the wrong type; is_closed/is_won are true or false, "
                        "sort_order a whole number, probability a number in [0, 1]")
                    ok = False
            if not ok:
                continue
            prob = spec.get("probability")
            if prob is not None and not 0 <= prob <= 1:
                bad(f"{where}.probability", prob, "must be between 0 and 1 (a share, 0.9 for 90%)")
                continue
            is_closed = bool(spec.get("is_closed", False))
            is_won = bool(spec.get("is_won", False))
            if is_won and not is_closed:
                bad(f"{where}.is_won", "true", "is true but is_closed is false; a won stage is closed — set is_closed = true")
                continue
            stages.append(StageDef(str(name), int(spec.get("sort_order", order)), is_closed, is_won,
                                   None if prob is None else float(prob)))
    if problems:
        raise _bad(source, problems)
    return Mapping(source, columns, stages=tuple(stages), **opts)
