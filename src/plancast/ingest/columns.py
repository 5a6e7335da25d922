"""Match the columns of a file to the canonical columns of a kind.

Order of precedence for each canonical column: the mapping file, then the
preset's accepted names (first found), then the canonical name itself (matched
ignoring case, surrounding spaces, and with spaces or hyphens read as ``_``).
Columns nobody claims are ignored with one warning; a mapping entry that names
a column the file does not have, or a target the kind does not have, is an
error, as is a used column name that appears twice in the header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import Problem
from ..kinds import Kind
from .mapping import Mapping
from .presets import Derive, DropWhen, KindSpec
from .readers import DELIMITER_NAMES, DELIMITERS


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    out = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


class Header:
    """Look up header positions by exact name, then ignoring case."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.exact: dict[str, list[int]] = {}
        self.lower: dict[str, list[int]] = {}
        self.norm: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            self.exact.setdefault(name, []).append(i)
            self.lower.setdefault(name.lower(), []).append(i)
            self.norm.setdefault(normalise(name), []).append(i)

    def find(self, name: str) -> int | None:
        name = name.strip()
        hits = self.exact.get(name) or self.lower.get(name.lower())
        return hits[0] if hits else None

    def find_canonical(self, canonical: str) -> int | None:
        hits = self.norm.get(canonical)
        return hits[0] if hits else None

    def twins(self, pos: int) -> list[int]:
        return self.exact.get(self.names[pos], [pos])


@dataclass
class Resolution:
    #: canonical column -> header position
    sources: dict[str, int] = field(default_factory=dict)
    derive: list[Derive] = field(default_factory=list)
    drop_when: list[tuple[DropWhen, int]] = field(default_factory=list)
    #: canonical column -> the name shown in messages (the file's own column name)
    labels: dict[str, str] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: header position of the date that names a quota's quarter (``KindSpec.quarter_of``), else None
    quarter_of: int | None = None


def resolve(
    header_names: list[str],
    kind: Kind,
    spec: KindSpec,
    mapping: Mapping | None,
    *,
    source: str,
    preset: str,
    delimiter: str | None,
    delimiter_given: bool = False,
) -> Resolution:
    res = Resolution()
    header = Header(header_names)
    wanted = set(kind.column_names)

    # a header that is one column holding another delimiter: the wrong delimiter was used
    if len(header_names) == 1 and len(kind.columns) > 1:
        only = header_names[0]
        others = [d for d in DELIMITERS if d != delimiter and d in only]
        if others and normalise(only) not in wanted:
            d = max(others, key=only.count)
            name = DELIMITER_NAMES[d]
            shown = "\\t" if d == "\t" else d
            if delimiter is None:
                advice = "split it into columns (Excel: Data > Text to Columns) or save the data as CSV"
            elif delimiter_given:
                advice = (f'set delimiter = "{shown}" under [options] in the --mapping file, or leave the '
                          "delimiter option out so plancast detects it")
            else:
                advice = (f'set delimiter = "{shown}" under [options] in a --mapping file (plancast detected '
                          f"{DELIMITER_NAMES.get(delimiter, repr(delimiter))})")
            res.problems.append(Problem(source, 1, None, only,
                                        f"the header is a single column, but the file looks like it is delimited "
                                        f"by {name}; {advice}"))
            return res

    used: set[int] = set()
    if mapping is not None:
        for src, target in mapping.columns.items():
            if target not in wanted:
                res.problems.append(Problem(
                    mapping.source, None, src, target,
                    f"maps to {target!r}, which is not a column of {kind.name}; use one of: "
                    + ", ".join(kind.column_names)))
                continue
            pos = header.find(src)
            if pos is None:
                res.problems.append(Problem(
                    mapping.source, None, src, None,
                    f"is not a column of {source}; its columns are: " + ", ".join(repr(h) for h in header_names)
                    + " — fix the name in the mapping file"))
                continue
            res.sources[target] = pos
    # preset names, then canonical names
    for col in kind.column_names:
        if col in res.sources or spec.columns.get(col, None) == ():  # () = never read, not even by its own name
            continue
        for name in spec.columns.get(col, ()):
            pos = header.find(name)
            if pos is not None:
                res.sources[col] = pos
                break
        else:
            pos = header.find_canonical(col)
            if pos is not None and pos not in res.sources.values():
                res.sources[col] = pos
    for rule in spec.derive:
        if rule.target in res.sources:
            continue
        positions = [header.find(s) for s in rule.sources]
        if all(p is not None for p in positions):
            res.derive.append(rule)
            used.update(p for p in positions if p is not None)
            res.labels[rule.target] = header_names[positions[0]] if positions else rule.target
    for rule in spec.drop_when:
        pos = header.find(rule.source)
        if pos is not None:
            res.drop_when.append((rule, pos))
            used.add(pos)
    if "period" not in res.sources:
        for name in spec.quarter_of:
            pos = header.find(name)
            if pos is not None:
                res.quarter_of = pos
                res.labels["period"] = header_names[pos]
                used.add(pos)
                break
    used.update(res.sources.values())
    for col, pos in res.sources.items():
        res.labels[col] = header_names[pos]

    # a used column must be unambiguous
    reported: set[str] = set()
    for pos in sorted(used):
        twins = header.twins(pos)
        name = header_names[pos]
        if len(twins) > 1 and name not in reported:
            reported.add(name)
            letters = [column_letter(i) for i in twins]
            letters = ", ".join(letters[:-1]) + " and " + letters[-1]
            res.problems.append(Problem(
                source, 1, name, None,
                f"appears {len(twins)} times in the header (columns {letters}); rename or remove the extra "
                "one so plancast knows which to use"))

    derived = {r.target for r in res.derive} | ({"period"} if res.quarter_of is not None else set())
    for col in kind.required:
        if col in res.sources or col in derived:
            continue
        looks = [n for n in spec.columns.get(col, ()) if n != col]
        extra = f" (the {preset} preset looks for {' or '.join(repr(n) for n in looks)})" if looks else ""
        res.problems.append(Problem(
            source, None, col, None,
            f"required column is missing{extra}; add a column named {col!r} or map yours with --mapping "
            f'([columns] "Your column" = "{col}")'))

    known = {n.lower() for n in (*spec.known, *spec.notes)}
    res.unused = [h for i, h in enumerate(header_names)
                  if i not in used and h.lower() not in known and h.strip()]
    return res
