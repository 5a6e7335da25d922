"""Assign accounts to territories by rules — vectorised, with precedence and account families.

A :class:`Rule` says which accounts belong to one territory: by country, state,
industry, size band, a named-account list and/or a range of employees. Rules are
written in code or loaded from a TOML or YAML file with :func:`load_rules`;
:func:`assign` applies them to an accounts frame (the ``accounts`` kind) and
returns an :class:`AssignmentResult`.

Matching
    A rule matches an account when *every* field the rule gives matches (AND
    across fields) and, within a field, the account's value is *one of* the
    rule's values (OR within a set). A field the rule leaves out (``None``)
    matches any account, including accounts where that value is missing; a
    field the rule gives never matches an account where the value is missing.
    A rule that gives no field at all matches every account (a catch-all,
    useful at a low precedence).

    Text fields (country, state, industry, size band) are compared after the
    same normalisation on both sides: Unicode NFKC, surrounding whitespace
    trimmed, runs of inner whitespace collapsed to one space, then case-folded
    — so ``" new  york "`` matches ``"New York"``. A value that is blank after
    trimming is missing. Named-account ids (``accounts``) are trimmed but
    compared **case-sensitively**, like every id in plancast: CRM ids can differ
    only by case (Salesforce's 15-character ids do).

    ``min_employees`` / ``max_employees`` are inclusive bounds; an account
    whose ``employees`` is missing does not match a rule that gives a bound.

Precedence
    Among the rules that match an account, the highest ``precedence`` wins.
    When rules of two or more *different* territories match at that highest
    precedence, the account is a **conflict**: it is not assigned, and it is
    listed in :attr:`AssignmentResult.conflicts` with the territories involved,
    so someone decides (raise one rule's precedence or narrow a rule). Several
    rules of the *same* territory matching is fine; the lowest-numbered of them
    is reported as the rule. Territories that matched an assigned account at a
    lower precedence are listed in :attr:`AssignmentResult.overridden` — the
    accounts "claimed by a higher-precedence overlapping territory" that the
    losing territory must not count in its effective accounts.

Account families
    ``parent_account_id`` links a child account to its parent; the *ultimate
    parent* of an account is the ancestor reached by following parent links
    until an account with no parent (an account without a parent is its own
    ultimate parent). Parent links are resolved for all accounts at once by
    pointer jumping (each step replaces every account's ancestor by that
    ancestor's ancestor, so a chain of depth *d* takes about log2(*d*) steps).
    A parent id that is not an account of the frame, or parent links that form
    a cycle, are refused with :class:`~plancast.errors.BadInput`.

    Each account is first resolved on its own matches as above (assigned,
    conflict or unassigned). Then a child account (one with a parent) whose
    ultimate parent was **assigned** by its own matches takes the ultimate
    parent's territory, rule and precedence — whatever the child's own matches
    were, and whatever the child's own state (a subsidiary in another state
    stays with its group) — unless the rule that assigned the ultimate parent
    has ``split_family = true``; then the child keeps the result of its own
    matches. A child whose ultimate parent is not assigned (no match, or a
    conflict) keeps the result of its own matches. Only the ultimate parent
    decides: intermediate parents are not consulted. An inherited assignment
    names the ultimate parent in ``inherited_from``; the territories the
    child matched on its own are then listed in ``overridden`` with reason
    ``"family"``.

Every account ends in exactly one of ``assignment``, ``conflicts`` and
``unassigned``.

Speed
    Text fields are encoded once as integer codes (only their distinct values
    are normalised); account ids, parent ids and named-account ids are resolved
    in one Arrow hash pass. Rules are grouped by the set of fields they give,
    and each group is *joined* with the accounts on a composite key: the
    named-account list when the rules have one, else the most selective fields
    (as many as keep the rules' value combinations under ``_EXPLODE_LIMIT``
    rows). Accounts sorted by that key give, for each combination, a run of
    candidate accounts (binary search); fields left out of the key and employee
    bounds are checked on those candidate pairs with a rule × code lookup
    table. The work is proportional to accounts plus candidate pairs: there is
    no Python loop per account, and no pass over all accounts per rule (except
    for rules that give no set field). Precedence, conflicts and families are
    resolved with ``ufunc.at`` reductions and gathers over the matched pairs.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..configfile import load_config_file
from ..errors import BadInput, Problem

__all__ = ["Rule", "AssignmentResult", "load_rules", "assign", "RULE_KEYS", "TEXT_FIELDS"]

#: rule fields compared as normalised text (and the accounts column each reads)
TEXT_FIELDS = ("country", "state", "industry", "size_band")
#: every rule field that holds a set of values
SET_FIELDS = (*TEXT_FIELDS, "accounts")
#: rule → code lookup tables up to this many cells; larger ones use a sorted-key search
_LUT_LIMIT = 1 << 25
#: candidate (account, rule) pairs built at once, to bound memory
_CHUNK = 1 << 22
#: most rows of rule value combinations a group of rules is joined on
_EXPLODE_LIMIT = 1 << 20


@dataclass(frozen=True)
class Rule:
    """Accounts that belong to ``territory_id``; see the module docstring for the semantics.

    Set fields (``country``, ``state``, ``industry``, ``size_band``,
    ``accounts``) take any iterable of text, or one text value, and are stored
    as frozensets; ``None`` means "any".
    """

    territory_id: str
    precedence: int = 0
    country: frozenset[str] | None = None
    state: frozenset[str] | None = None
    industry: frozenset[str] | None = None
    size_band: frozenset[str] | None = None
    accounts: frozenset[str] | None = None
    min_employees: int | None = None
    max_employees: int | None = None
    split_family: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        label = f"rule {self.name!r}" if self.name else f"rule for territory {self.territory_id!r}"
        if not isinstance(self.territory_id, str) or not self.territory_id.strip():
            raise BadInput(f"{label}: territory_id must be non-blank text (got {self.territory_id!r})",
                           hint="give the id of the territory the rule assigns to")
        if isinstance(self.precedence, bool) or not isinstance(self.precedence, (int, np.integer)):
            raise BadInput(f"{label}: precedence must be a whole number (got {self.precedence!r})",
                           hint="higher precedence wins; e.g. geo 0, overlay 10, named accounts 20")
        object.__setattr__(self, "precedence", int(self.precedence))
        for name in SET_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            items = (value,) if isinstance(value, str) else value
            try:
                values = frozenset(items)
            except TypeError:
                raise BadInput(f"{label}: {name} must be a set of text values (got {value!r})",
                               hint="write it as a list, e.g. state=[\"CA\", \"OR\"]") from None
            if not values:
                raise BadInput(f"{label}: {name} is empty, so the rule can match no account",
                               hint=f"leave {name} out (None) to match any {name}")
            bad = [v for v in values if not isinstance(v, str) or not v.strip()]
            if bad:
                raise BadInput(f"{label}: {name} must hold non-blank text values (got {bad[0]!r})",
                               hint="quote ids and codes so they are text, e.g. \"001234\"")
            object.__setattr__(self, name, values)
        for name in ("min_employees", "max_employees"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
                raise BadInput(f"{label}: {name} must be a whole number ≥ 0 (got {value!r})",
                               hint="employee bounds are inclusive head counts")
        if (self.min_employees is not None and self.max_employees is not None
                and self.min_employees > self.max_employees):
            raise BadInput(f"{label}: min_employees {self.min_employees} is above max_employees {self.max_employees}",
                           hint="swap them; both bounds are inclusive")
        if not isinstance(self.split_family, bool):
            raise BadInput(f"{label}: split_family must be true or false (got {self.split_family!r})")
        if not isinstance(self.name, str):
            raise BadInput(f"rule for territory {self.territory_id!r}: name must be text (got {self.name!r})")


#: keys of a rule table in a rules file, and what each must be
RULE_KEYS: dict[str, str] = {
    "territory_id": "text (required)",
    "precedence": "a whole number",
    "country": "a list of text values",
    "state": "a list of text values",
    "industry": "a list of text values",
    "size_band": "a list of text values",
    "accounts": "a list of account ids (text)",
    "min_employees": "a whole number ≥ 0",
    "max_employees": "a whole number ≥ 0",
    "split_family": "true or false",
    "name": "text",
}
assert set(RULE_KEYS) == {f.name for f in fields(Rule)}


@dataclass
class AssignmentResult:
    """What :func:`assign` decided, as four frames.

    ``assignment``
        One row per assigned account, in input order: ``account_id``,
        ``territory_id``, ``rule`` (the rule's name, or ``"rule N"``),
        ``rule_number`` (1-based position in the rules), ``precedence``,
        ``inherited_from`` (the ultimate parent's account id when the
        territory came from the family, else missing).
    ``conflicts``
        Accounts matched by two or more territories at the same highest
        precedence, not assigned: ``account_id``, ``name`` (when the accounts
        have one), ``precedence``, ``territories`` (the sorted territory ids).
    ``unassigned``
        Accounts matched by no rule (and not taken by their family):
        ``account_id``, ``name`` (when the accounts have one).
    ``overridden``
        Assigned accounts that other territories also matched: ``account_id``,
        ``territory_id`` (the winner), ``lost_to`` (the sorted ids of the other
        territories that matched the account and lost it to the winner),
        ``reason`` (``"precedence"``: they matched at a lower precedence;
        ``"family"``: the account went with its ultimate parent). What a
        territory lost: ``overridden.explode("lost_to")``.

    Text columns are pandas ``str`` (Arrow-backed); ``territories`` and
    ``lost_to`` are Arrow list columns whose cells read as Python lists.
    """

    assignment: pd.DataFrame
    conflicts: pd.DataFrame
    unassigned: pd.DataFrame
    overridden: pd.DataFrame

    def summary(self) -> dict[str, int]:
        """Counts of each outcome (``inherited`` is included in ``assigned``)."""
        return {
            "assigned": len(self.assignment),
            "inherited": int(self.assignment["inherited_from"].notna().sum()),
            "conflicts": len(self.conflicts),
            "unassigned": len(self.unassigned),
            "overridden": len(self.overridden),
        }


# -- rules files ---------------------------------------------------------------------


def _bad_file(source: str, problems: list[Problem]) -> BadInput:
    return BadInput(
        f"rules file {source} cannot be used",
        problems,
        hint="each [[rule]] table needs territory_id and may have: "
        + ", ".join(k for k in RULE_KEYS if k != "territory_id"),
    )


def load_rules(path: str | Path) -> list[Rule]:
    """Read rules from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file.

    The file holds an array of ``rule`` tables, in TOML::

        [[rule]]
        name = "West enterprise"
        territory_id = "T-WEST-ENT"
        precedence = 10
        country = ["US"]
        state = ["CA", "OR", "WA"]
        size_band = ["Enterprise"]

        [[rule]]
        territory_id = "T-NAMED-1"
        precedence = 20
        accounts = ["0015g00000ABCDE", "0015g00000FGHIJ"]
        split_family = true

    and in YAML ``rule:`` followed by a list of mappings with the same keys.
    Set fields take a list of text values (one text value is accepted too).
    Values must be text: write ``"001234"`` and ``"NO"`` in quotes, because YAML
    reads the bare words as the number 1234 and as false. Every problem in the
    file is reported at once, as a :class:`~plancast.errors.BadInput` naming the
    file, the rule number (1-based, in file order) and the key.
    """
    source = str(path)
    data = load_config_file(path, "rules file", _bad_file)
    return _rules_from_data(source, data)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a true/false value)"
    if isinstance(value, (int, float)):
        return f"{value!r} (a number)"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    return repr(value)


def _rules_from_data(source: str, data: Any) -> list[Rule]:
    problems: list[Problem] = []

    def bad(where: str | None, message: str) -> None:
        problems.append(Problem(source, None, None, None, f"{where}: {message}" if where else message))

    if data is None or data == {}:
        bad(None, "has no rules; add [[rule]] tables (YAML: a 'rule:' list)")
        raise _bad_file(source, problems)
    if not isinstance(data, dict):
        bad(None, "must hold [[rule]] tables (YAML: a 'rule:' list of mappings)")
        raise _bad_file(source, problems)
    for key in data:
        if key != "rule":
            hint = " (did you mean 'rule'?)" if str(key).lower() in ("rules", "rule") else ""
            bad(f"key {key!r}", f"is not a section of a rules file{hint}; write each rule as a [[rule]] table")
    raw = data.get("rule")
    if raw is None:
        if not problems:
            bad(None, "has no rules; add [[rule]] tables (YAML: a 'rule:' list)")
        raise _bad_file(source, problems)
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        bad("key 'rule'", "must be a list of rule tables ([[rule]], not [rule] = ...)")
        raise _bad_file(source, problems)
    rules: list[Rule] = []
    for number, spec in enumerate(raw, start=1):
        label = f"rule {number}"
        if not isinstance(spec, dict):
            bad(label, f"must be a table of keys, got {_describe(spec)}")
            continue
        if isinstance(spec.get("name"), str) and spec["name"].strip():
            label += f" ({spec['name'].strip()})"
        kwargs: dict[str, Any] = {}
        ok = True
        for key, value in spec.items():
            where = f"{label}, key {key!r}"
            if key not in RULE_KEYS:
                close = difflib.get_close_matches(str(key), list(RULE_KEYS), n=1, cutoff=0.75)
                guess = f"did you mean {close[0]!r}? " if close else ""
                bad(where, f"is not a rule key; {guess}use one of: " + ", ".join(RULE_KEYS))
                ok = False
                continue
            msg = _check_value(key, value)
            if msg:
                bad(where, msg)
                ok = False
                continue
            if key in SET_FIELDS:
                value = frozenset([value] if isinstance(value, str) else value)
            elif isinstance(value, str):
                value = value.strip()
            kwargs[key] = value
        if "territory_id" not in spec:
            bad(label, "has no territory_id; add territory_id = \"...\" (the territory this rule assigns to)")
            ok = False
        lo, hi = kwargs.get("min_employees"), kwargs.get("max_employees")
        if lo is not None and hi is not None and lo > hi:
            bad(f"{label}, key 'min_employees'", f"is {lo}, above max_employees {hi}; swap them (both are inclusive)")
            ok = False
        if ok:
            rules.append(Rule(**kwargs))
    if problems:
        raise _bad_file(source, problems)
    return rules


def _check_value(key: str, value: Any) -> str | None:
    """What is wrong with ``value`` for ``key``, or None."""
    if key in SET_FIELDS:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            return f"must be a list of text values, got {_describe(value)}"
        if not items:
            return f"is an empty list, which matches no account; leave {key} out to match any {key}"
        for item in items:
            if isinstance(item, bool):
                return (f"holds {_describe(item)}; every value must be text — quote it "
                        "(YAML reads bare NO, YES, ON, OFF as true/false: write \"NO\")")
            if not isinstance(item, str):
                return (f"holds {_describe(item)}; every value must be text — quote it "
                        "(a bare number loses leading zeros: write \"001234\")")
            if not item.strip():
                return "holds a blank value; remove it"
        return None
    if key in ("territory_id", "name"):
        if not isinstance(value, str):
            return f"must be text, got {_describe(value)}; quote it"
        if key == "territory_id" and not value.strip():
            return "is blank; give the id of the territory the rule assigns to"
        return None
    if key == "split_family":
        return None if isinstance(value, bool) else f"must be true or false, got {_describe(value)}"
    # precedence, min_employees, max_employees
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number, got {_describe(value)}"
    if key != "precedence" and value < 0:
        return f"must be ≥ 0, got {value}"
    return None


# -- encoding ----------------------------------------------------------------------


#: pandas' "str" dtype (Arrow storage): what ids are trimmed, hashed and returned as
try:
    _STR = pd.StringDtype("pyarrow", na_value=np.nan)
except TypeError:  # pragma: no cover - pandas < 2.3
    _STR = pd.StringDtype("pyarrow")


def _normalise_text(values: Iterable[Any]) -> pd.Index:
    """NFKC, trim, collapse inner whitespace, case-fold; blank becomes missing.

    Applied to the *distinct* values of an accounts column (after factorizing)
    and to the rules' values, never once per account.
    """
    out = []
    for v in values:
        t = " ".join(unicodedata.normalize("NFKC", str(v)).split()).casefold()
        out.append(t or None)
    return pd.Index(out, dtype=object)


def _as_str(column: pd.Series) -> pd.Series:
    """The column as Arrow-backed text (no copy when it already is)."""
    return column if column.dtype == _STR else column.astype(_STR)


def _ids(column: pd.Series) -> pd.Series:
    """Ids as Arrow-backed text, trimmed (case kept); blank becomes missing."""
    s = _as_str(column).str.strip()
    return s.where(s != "")


@dataclass
class _Field:
    """One accounts column as integer codes (``-1`` = missing) over ``n`` normalised categories.

    For the named-account field the codes are the account positions themselves.
    """

    codes: np.ndarray
    n: int
    categories: pd.Index | None = None
    identity: bool = False
    _counts: np.ndarray | None = field(default=None, repr=False)

    @property
    def counts(self) -> np.ndarray:
        """Accounts per code."""
        if self._counts is None:
            if self.identity:
                self._counts = np.ones(self.n, dtype=np.int64)
            else:
                self._counts = np.bincount(self.codes[self.codes >= 0], minlength=self.n).astype(np.int64)
        return self._counts

    def codes_for(self, value_sets: Sequence[Iterable[str] | None]) -> list[np.ndarray | None]:
        """For each rule's values, the codes present among the accounts (absent values are dropped).

        All rules' values are normalised in one call, the same way as the accounts' values.
        """
        assert self.categories is not None
        lists = [None if v is None else list(v) for v in value_sets]
        flat = [x for v in lists if v is not None for x in v]
        return _split(self.categories.get_indexer(_normalise_text(flat)), lists)


class _Keys:
    """Accounts sorted by a composite key over some fields (mixed radix of their codes), cached.

    An account missing any of the fields gets key -1, which no rule value has.
    """

    def __init__(self, encoded: dict[str, _Field], n: int) -> None:
        self.encoded = encoded
        self.n = n
        self.cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}

    def sorted(self, fields: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Account positions in key order, and the keys in that order."""
        if fields not in self.cache:
            if fields == ("accounts",):
                order = np.arange(self.n, dtype=np.int64)
                self.cache[fields] = (order, order)
            else:
                key = np.zeros(self.n, dtype=np.int64)
                valid = np.ones(self.n, dtype=bool)
                span = 1
                for f in fields:
                    c = self.encoded[f].codes
                    valid &= c >= 0
                    key = key * self.encoded[f].n + c
                    span *= self.encoded[f].n
                key[~valid] = -1
                # small key spans sort as int16 (numpy's radix sort)
                order = np.argsort(key.astype(np.int16) if span < 32_000 else key, kind="stable")
                self.cache[fields] = (order, key[order])
        return self.cache[fields]


def _split(found: np.ndarray, lists: list[list[str] | None]) -> list[np.ndarray | None]:
    """Cut the codes of the flattened values back into one sorted, distinct array per rule (one sort)."""
    lens = [0 if v is None else len(v) for v in lists]
    rule_of = np.repeat(np.arange(len(lists), dtype=np.int64), lens)
    ok = found >= 0
    width = int(found.max()) + 1 if ok.any() else 1
    key = np.unique(rule_of[ok] * width + found[ok])
    owner, code = np.divmod(key, width)
    bounds = np.searchsorted(owner, np.arange(len(lists) + 1)).tolist()
    return [None if v is None else code[bounds[i]:bounds[i + 1]] for i, v in enumerate(lists)]


def _encode_text(column: pd.Series) -> _Field:
    """Codes over the normalised distinct values; only those distinct values are normalised."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        uniques = pd.Index(column.cat.categories, dtype=object)
    else:
        enc = pc.dictionary_encode(pa.array(_as_str(column).array))
        codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
        uniques = pd.Index(enc.dictionary.to_pylist(), dtype=object)
    ncodes, cats = pd.factorize(_normalise_text(uniques), use_na_sentinel=True)
    remap = np.append(ncodes, -1).astype(np.int32)  # index -1 (missing) → -1
    return _Field(remap[codes], len(cats), categories=pd.Index(cats, dtype=object))


def _resolve_ids(accounts: pd.DataFrame, named: list[str]) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Trimmed account ids; the position of each account's parent (-1: none); the positions of ``named``.

    Uniqueness, parent look-ups and named-account look-ups share one hash pass:
    the ids, the parent ids and the named ids are dictionary-encoded together;
    the dictionary is in order of first appearance, so when the ids are unique
    the code of each id is its own position, and a parent or named id whose
    code is below the number of accounts is that account.
    """
    if "account_id" not in accounts.columns:
        raise BadInput("the accounts have no 'account_id' column",
                       hint="pass the accounts frame (the 'accounts' kind) with its account_id column")
    ids = _ids(accounts["account_id"]).reset_index(drop=True)
    n = len(ids)
    blank = ids.isna().to_numpy()
    if blank.any():
        raise BadInput(f"{int(blank.sum())} account(s) have a blank account_id "
                       f"(first at position {int(np.argmax(blank))})",
                       hint="every account needs a unique id; drop or fill those rows")
    if "parent_account_id" in accounts.columns:
        parents = _ids(accounts["parent_account_id"]).reset_index(drop=True)
        has_parent = parents.notna().to_numpy()
        parent_ids = parents[has_parent]
    else:
        parents = parent_ids = pd.Series([], dtype=_STR)
        has_parent = np.zeros(n, dtype=bool)
    chunks: list[pa.Array] = []
    for part in (ids, parent_ids, _ids(pd.Series(named, dtype=object))):
        arr = pa.array(part.array)
        chunks += arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    probe = pa.chunked_array([c.cast(pa.large_string()) for c in chunks], type=pa.large_string())
    code = pc.dictionary_encode(probe).combine_chunks().indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if not np.array_equal(code[:n], np.arange(n)):
        dup_mask = pd.Series(code[:n]).duplicated().to_numpy()
        dup = pd.unique(ids[dup_mask].to_numpy(dtype=object))
        shown = ", ".join(repr(d) for d in dup[:5])
        raise BadInput(f"account_id is not unique: {len(dup)} id(s) appear more than once ({shown})",
                       hint="each account must appear once; remove the duplicates")
    k = int(has_parent.sum())
    parent = np.full(n, -1, dtype=np.int64)
    parent[has_parent] = code[n:n + k]
    unknown = parent >= n
    if unknown.any():
        first = int(np.argmax(unknown))
        raise BadInput(
            f"{int(unknown.sum())} account(s) name a parent_account_id that is not among the accounts "
            f"(first: account {ids[first]!r} → parent {parents[first]!r})",
            hint="pass the parent accounts too, or blank parent_account_id where the parent is unknown",
        )
    found = code[n + k:]
    return ids, parent, np.where(found < n, found, -1)


def _ultimate_parents(parent: np.ndarray, ids: pd.Series) -> np.ndarray:
    """Ultimate parent of each account (itself when it has no parent), by pointer jumping.

    Refuses parent links that form a cycle, naming the accounts on one.
    """
    n = len(parent)
    anc = np.where(parent >= 0, parent, np.arange(n, dtype=np.int64))
    for _ in range(max(1, math.ceil(math.log2(max(n, 2)))) + 1):
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            break
        anc = nxt
    on_root = parent[anc] < 0
    if not on_root.all():
        # anc of a non-rooted account, after ≥ n steps, lies on a cycle: walk that cycle
        bad = np.flatnonzero(~on_root)
        start = int(anc[bad[0]])
        cycle = [start]
        node = int(parent[start])
        while node != start and len(cycle) < 10_000:
            cycle.append(node)
            node = int(parent[node])
        first = cycle.index(min(cycle))  # begin at the member that comes first in the accounts
        cycle = cycle[first:] + cycle[:first]
        shown = cycle if len(cycle) <= 8 else cycle[:8]
        path = " -> ".join(str(ids[i]) for i in shown)
        path += f" -> {ids[cycle[0]]}" if len(cycle) <= 8 else " -> ..."
        length = f"{len(cycle)}" if len(cycle) < 10_000 else "10,000 or more"
        raise BadInput(
            f"parent_account_id links form a cycle (account -> its parent): {path} "
            f"({length} account(s) on the cycle; {len(bad)} account(s) on or under a cycle)",
            hint=f"an account cannot be its own ancestor; blank or correct parent_account_id of {ids[cycle[0]]!r} "
            "(or of another account on the cycle)",
        )
    return anc


# -- matching ----------------------------------------------------------------------


def _member(rule_of_pair: np.ndarray, codes: np.ndarray, value_rule: np.ndarray,
            value_code: np.ndarray, n_rules: int, n_cat: int) -> np.ndarray:
    """True where ``codes[i]`` is one of the values of rule ``rule_of_pair[i]`` (code -1 never is)."""
    if n_rules * (n_cat + 1) <= _LUT_LIMIT:
        lut = np.zeros((n_rules, n_cat + 1), dtype=bool)  # last column: missing (-1), always False
        lut[value_rule, value_code] = True
        return lut[rule_of_pair, codes]
    width = np.int64(n_cat + 1)
    keys = np.sort(value_rule.astype(np.int64) * width + value_code)
    probe = rule_of_pair.astype(np.int64) * width + codes  # -1 lands in the previous rule's unused slot n_cat
    pos = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
    return keys[pos] == probe


@dataclass
class _Prepared:
    """The rules as arrays, and each rule's value codes per set field."""

    terr_ids: np.ndarray  # sorted unique territory ids (so code order = text order)
    terr: np.ndarray  # territory code of each rule
    prec: np.ndarray
    split: np.ndarray
    lo: np.ndarray  # employee bounds (±inf when not given)
    hi: np.ndarray
    bounded: np.ndarray
    labels: np.ndarray  # name, or "rule N"
    values: list[dict[str, np.ndarray]]  # per rule: field → codes (only the fields it gives)
    dead: np.ndarray  # a field's values match no account → the rule matches nothing


def _prepare(rules: Sequence[Rule], encoded: dict[str, _Field], named: list[np.ndarray | None]) -> _Prepared:
    tids = [r.territory_id.strip() for r in rules]
    terr_ids, terr = np.unique(np.array(tids, dtype=object), return_inverse=True)
    values: list[dict[str, np.ndarray]] = [{} for _ in rules]
    dead = np.zeros(len(rules), dtype=bool)
    for f in SET_FIELDS:
        if f == "accounts":
            per_rule = named
        elif f in encoded:
            per_rule = encoded[f].codes_for([getattr(r, f) for r in rules])
        else:
            continue
        for i, codes in enumerate(per_rule):
            if codes is not None:
                values[i][f] = codes
                dead[i] |= len(codes) == 0
    lo = np.array([-np.inf if r.min_employees is None else r.min_employees for r in rules], dtype=float)
    hi = np.array([np.inf if r.max_employees is None else r.max_employees for r in rules], dtype=float)
    return _Prepared(
        terr_ids=terr_ids,
        terr=terr.astype(np.int64),
        prec=np.array([r.precedence for r in rules], dtype=np.int64),
        split=np.array([r.split_family for r in rules], dtype=bool),
        lo=lo,
        hi=hi,
        bounded=np.isfinite(lo) | np.isfinite(hi),
        labels=np.array([r.name.strip() or f"rule {i + 1}" for i, r in enumerate(rules)], dtype=object),
        values=values,
        dead=dead,
    )


def _key_fields(sig: tuple[str, ...], members: list[int], prep: _Prepared, encoded: dict[str, _Field]
                ) -> tuple[str, ...]:
    """The fields a group of rules is joined on; the rest are checked on the candidate pairs.

    A named-account list alone (each value is one account). Otherwise fields in
    order of selectivity (fewest candidate accounts first), as long as the
    rules' value combinations stay few (≤ ``_EXPLODE_LIMIT`` rows) and the key fits in 62 bits.
    """
    if "accounts" in sig:
        return ("accounts",)
    cost = {f: sum(int(encoded[f].counts[prep.values[i][f]].sum()) for i in members) for f in sig}
    ordered = sorted(sig, key=lambda f: (cost[f], SET_FIELDS.index(f)))
    chosen = [ordered[0]]
    rows = np.array([len(prep.values[i][ordered[0]]) for i in members], dtype=np.int64)
    span = encoded[ordered[0]].n
    for f in ordered[1:]:
        more = rows * np.array([len(prep.values[i][f]) for i in members], dtype=np.int64)
        if int(more.sum()) > _EXPLODE_LIMIT or span * encoded[f].n >= 1 << 62:
            break
        chosen.append(f)
        rows, span = more, span * encoded[f].n
    return tuple(chosen)


def _explode(members: list[int], fields: tuple[str, ...], prep: _Prepared, encoded: dict[str, _Field]
             ) -> tuple[np.ndarray, np.ndarray]:
    """Every combination of each rule's values over ``fields``: (member position, composite key) rows."""
    row_m = np.arange(len(members), dtype=np.int64)
    row_key = np.zeros(len(members), dtype=np.int64)
    for f in fields:
        lists = [prep.values[i][f] for i in members]
        lens = np.array([len(x) for x in lists], dtype=np.int64)
        flat = np.concatenate(lists).astype(np.int64)
        offs = np.cumsum(lens) - lens
        k = lens[row_m]
        within = np.arange(int(k.sum()), dtype=np.int64) - np.repeat(np.cumsum(k) - k, k)
        row_m = np.repeat(row_m, k)
        row_key = np.repeat(row_key, k) * encoded[f].n + flat[offs[row_m] + within]
    return row_m, row_key


def _match(n: int, prep: _Prepared, encoded: dict[str, _Field], employees: np.ndarray | None
           ) -> tuple[np.ndarray, np.ndarray]:
    """All matching (account position, rule index) pairs."""
    out_acct: list[np.ndarray] = []
    out_rule: list[np.ndarray] = []
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, v in enumerate(prep.values):
        if not prep.dead[i]:
            groups.setdefault(tuple(v), []).append(i)
    keys = _Keys(encoded, n)

    for sig, members in groups.items():
        if not sig:  # no set field: a pass over all accounts per rule
            for i in members:
                if prep.bounded[i]:
                    assert employees is not None
                    acct = np.flatnonzero((employees >= prep.lo[i]) & (employees <= prep.hi[i]))
                else:
                    acct = np.arange(n)
                out_acct.append(acct.astype(np.int32))
                out_rule.append(np.full(len(acct), i, dtype=np.int32))
            continue
        # join: the rules' value combinations over the key fields against the accounts sorted by that key
        kfields = _key_fields(sig, members, prep, encoded)
        others = [f for f in sig if f not in kfields]
        order, sorted_keys = keys.sorted(kfields)
        row_m, row_key = _explode(members, kfields, prep, encoded)
        lo = np.searchsorted(sorted_keys, row_key, side="left")
        lengths = np.searchsorted(sorted_keys, row_key, side="right") - lo
        hit = lengths > 0
        row_m, lo, lengths = row_m[hit], lo[hit], lengths[hit]
        # chunks of whole rules so that at most about _CHUNK candidate pairs exist at once
        per_member = np.bincount(row_m, weights=lengths, minlength=len(members)).astype(np.int64)
        bounds = [0]
        acc = 0
        for j, size in enumerate(per_member.tolist()):
            if acc and acc + size > _CHUNK:
                bounds.append(j)
                acc = 0
            acc += size
        bounds.append(len(members))
        row_bounds = np.searchsorted(row_m, bounds).tolist()
        for (a, b), (ra, rb) in zip(zip(bounds[:-1], bounds[1:]), zip(row_bounds[:-1], row_bounds[1:])):
            if ra == rb:
                continue
            chunk = np.array(members[a:b], dtype=np.int64)
            m = len(chunk)
            c_lo, c_len = lo[ra:rb], lengths[ra:rb]
            local = np.repeat(row_m[ra:rb] - a, c_len)
            total = len(local)
            if rb - ra <= 4096:  # few rows: copy their runs of accounts
                acct = np.concatenate([order[x:x + k] for x, k in zip(c_lo.tolist(), c_len.tolist())])
            else:  # many: one gather
                at = np.repeat(c_lo - (np.cumsum(c_len) - c_len), c_len)
                at += np.arange(total, dtype=np.int64)
                acct = order[at]
            keep = np.ones(total, dtype=bool)
            for f in others:
                ov = [prep.values[i][f] for i in chunk]
                keep &= _member(local, encoded[f].codes[acct], np.repeat(np.arange(m), [len(x) for x in ov]),
                                np.concatenate(ov), m, encoded[f].n)
            rule = chunk[local]
            if prep.bounded[chunk].any():
                assert employees is not None
                e = employees[acct]
                keep &= ~prep.bounded[rule] | ((e >= prep.lo[rule]) & (e <= prep.hi[rule]))
            out_acct.append(acct[keep].astype(np.int32))
            out_rule.append(rule[keep].astype(np.int32))
    if not out_acct:
        return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)
    return np.concatenate(out_acct), np.concatenate(out_rule)


# -- resolution --------------------------------------------------------------------


def _lists(owner: np.ndarray, terr: np.ndarray, n_terr: int, terr_text: pa.Array
           ) -> tuple[np.ndarray, pd.arrays.ArrowExtensionArray]:
    """Distinct sorted territory lists per owner: the owners (ascending) and an Arrow list column."""
    width = max(n_terr, 1)
    key = np.sort(owner.astype(np.int64) * width + terr)
    key = key[np.diff(key, prepend=-1) != 0]  # distinct (owner, territory)
    own, code = np.divmod(key, width)
    first = np.flatnonzero(np.diff(own, prepend=-1))
    offsets = pa.array(np.append(first, len(own)).astype(np.int64))
    lists = pa.LargeListArray.from_arrays(offsets, terr_text.take(pa.array(code)))
    return own[first], pd.arrays.ArrowExtensionArray(lists)


def _text(values: Any) -> pd.Series:
    return pd.Series(values, dtype=_STR)


def assign(accounts: pd.DataFrame, rules: Sequence[Rule]) -> AssignmentResult:
    """Assign each account to a territory by ``rules``; see the module docstring for the semantics.

    ``accounts`` needs ``account_id`` (unique), plus the columns the rules use
    (``country``, ``state``, ``industry``, ``size_band``, ``employees``);
    ``parent_account_id`` (optional) links account families and ``name``
    (optional) is carried into the conflict and unassigned lists. Id and
    territory columns of the result are pandas text (``str``, Arrow-backed).
    """
    rules = list(rules)
    for i, r in enumerate(rules, start=1):
        if not isinstance(r, Rule):
            raise BadInput(f"rule {i} is a {type(r).__name__}, not a Rule",
                           hint="build rules with Rule(...) or read them with load_rules(path)")

    def uses(r: Rule, c: str) -> bool:
        if c == "employees":
            return r.min_employees is not None or r.max_employees is not None
        return getattr(r, c) is not None

    needed = [c for c in (*TEXT_FIELDS, "employees") if any(uses(r, c) for r in rules)]
    missing = sorted(c for c in needed if c not in accounts.columns)
    if missing:
        users = [f"{i}" for i, r in enumerate(rules, start=1) if any(uses(r, c) for c in missing)]
        raise BadInput(f"the rules use {', '.join(repr(c) for c in missing)} but the accounts have no such column "
                       f"(rules {', '.join(users[:10])}{' …' if len(users) > 10 else ''})",
                       hint="add the column to the accounts (see `plancast import accounts`) or drop it from the rules")

    named_lists = [None if r.accounts is None else list(r.accounts) for r in rules]
    named_flat = [x for v in named_lists if v is not None for x in v]
    ids, parent, named_pos = _resolve_ids(accounts, named_flat)
    root = _ultimate_parents(parent, ids)
    n = len(ids)
    names = _as_str(accounts["name"]).reset_index(drop=True) if "name" in accounts.columns else None

    def listed(pos: np.ndarray) -> dict[str, pd.Series]:
        out = {"account_id": ids.take(pos).reset_index(drop=True)}
        if names is not None:
            out["name"] = names.take(pos).reset_index(drop=True)
        return out

    encoded = {f: _encode_text(accounts[f].reset_index(drop=True)) for f in TEXT_FIELDS if f in needed}
    if named_flat:
        encoded["accounts"] = _Field(np.arange(n, dtype=np.int64), n, identity=True)
    employees = None
    if "employees" in needed:
        employees = pd.to_numeric(accounts["employees"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    prep = _prepare(rules, encoded, _split(named_pos, named_lists))
    m_acct, m_rule = _match(n, prep, encoded, employees)

    # each account on its own matches: top precedence, distinct territories there, the winning rule
    m_prec = prep.prec[m_rule]
    m_terr = prep.terr[m_rule]
    top = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(top, m_acct, m_prec)
    at_top = m_prec == top[m_acct]
    t_acct, t_terr, t_rule = m_acct[at_top], m_terr[at_top], m_rule[at_top]
    n_terr = len(prep.terr_ids)
    tmin = np.full(n, n_terr, dtype=np.int64)
    tmax = np.full(n, -1, dtype=np.int64)
    np.minimum.at(tmin, t_acct, t_terr)
    np.maximum.at(tmax, t_acct, t_terr)
    matched = tmax >= 0
    own_conflict = matched & (tmin != tmax)
    own_assigned = matched & ~own_conflict
    own_rule = np.full(n, len(rules), dtype=np.int64)  # len(rules): no rule
    # the lowest-numbered rule at the top (all of one territory when the account is assigned)
    np.minimum.at(own_rule, t_acct, t_rule.astype(np.int64))

    # families: a child follows its ultimate parent when a rule without split_family assigned that parent
    split_rule = np.append(prep.split, False)
    inherit = (root != np.arange(n)) & own_assigned[root] & ~split_rule[own_rule[root]]
    src = np.where(inherit, root, np.arange(n))
    assigned = own_assigned[src]
    conflict = ~inherit & own_conflict
    final_rule = own_rule[src]
    final_terr = np.append(prep.terr, -1)[final_rule]

    terr_text = _text(prep.terr_ids).array
    terr_arrow = pa.array(prep.terr_ids.tolist(), type=pa.large_string())
    a = np.flatnonzero(assigned)
    fr = final_rule[a]
    inherited_from = ids.take(root[a]).reset_index(drop=True).where(inherit[a])
    assignment = pd.DataFrame({
        "account_id": ids.take(a).reset_index(drop=True),
        "territory_id": terr_text.take(final_terr[a]),
        "rule": _text(prep.labels).array.take(fr),
        "rule_number": fr + 1,
        "precedence": prep.prec[fr],
        "inherited_from": inherited_from,
    })

    c = np.flatnonzero(conflict)
    c_owner, c_lists = _lists(t_acct[conflict[t_acct]], t_terr[conflict[t_acct]], n_terr, terr_arrow)
    assert np.array_equal(c_owner, c)
    conflicts = pd.DataFrame({**listed(c), "precedence": top[c], "territories": c_lists})

    unassigned = pd.DataFrame(listed(np.flatnonzero(~assigned & ~conflict)))

    lost = assigned[m_acct] & (m_terr != final_terr[m_acct])
    o_owner, o_lists = _lists(m_acct[lost], m_terr[lost], n_terr, terr_arrow)
    overridden = pd.DataFrame({
        "account_id": ids.take(o_owner).reset_index(drop=True),
        "territory_id": terr_text.take(final_terr[o_owner]),
        "lost_to": o_lists,
        "reason": _text(np.where(inherit[o_owner], "family", "precedence")),
    })
    return AssignmentResult(assignment, conflicts, unassigned, overridden)
