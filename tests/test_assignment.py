"""Accounts to territories by rules: hand-made cases with exact answers, refusals, and a property test.

The property test compares :func:`plancast.planning.assignment.assign` with a
plain per-account reference written from the module docstring, on random
accounts, families and rules (also with tiny chunks and without lookup tables,
so every code path of the vectorised matcher is exercised).
"""

from __future__ import annotations

import math
import tomllib
import unicodedata
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plancast.errors import BadInput
from plancast.planning import assignment as asg
from plancast.planning.assignment import AssignmentResult, Rule, assign, load_rules

RULES = Path(__file__).parent / "fixtures" / "rules"
COLS = ["account_id", "name", "parent_account_id", "country", "state", "industry", "size_band", "employees"]


def frame(*rows: tuple[Any, ...]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows), columns=COLS)
    df["employees"] = pd.array(df["employees"], dtype="Int64")
    return df


def got(result: AssignmentResult) -> dict[str, str]:
    return dict(zip(result.assignment["account_id"], result.assignment["territory_id"]))


def lost(result: AssignmentResult) -> dict[str, tuple[str, list[str], str]]:
    o = result.overridden
    return {a: (t, list(l), r) for a, t, l, r in zip(o["account_id"], o["territory_id"], o["lost_to"], o["reason"])}


def conflicts(result: AssignmentResult) -> dict[str, tuple[int, list[str]]]:
    c = result.conflicts
    return {a: (int(p), list(t)) for a, p, t in zip(c["account_id"], c["precedence"], c["territories"])}


# A small book of accounts used by most cases
BOOK = frame(
    ("A01", "Acme", None, "US", "CA", "Software", "Enterprise", 5000),
    ("A02", "Beta", None, "US", "OR", "Retail", "SMB", 40),
    ("A03", "Gamma", None, "US", "NY", "Finance", "Mid", 300),
    ("A04", "Delta", None, "US", "NJ", "Finance", "Enterprise", 12000),
    ("A05", "Epsilon", None, "US", "TX", "Retail", "SMB", 15),
    ("A06", "Zeta", None, "CA", "ON", "Software", "Mid", None),
    ("A07", "Eta", None, "US", "WA", "Finance", "SMB", 99),
    ("A08", "Theta", None, "US", None, "Software", "Mid", 250),
)
WEST = Rule("T-WEST", country={"US"}, state={"CA", "OR", "WA"}, name="West")
EAST = Rule("T-EAST", country={"US"}, state={"NY", "NJ", "FL"}, name="East")


# -- hand-made cases -----------------------------------------------------------------


def test_geography_by_state_lists() -> None:
    r = assign(BOOK, [WEST, EAST])
    assert got(r) == {"A01": "T-WEST", "A02": "T-WEST", "A07": "T-WEST", "A03": "T-EAST", "A04": "T-EAST"}
    a = r.assignment.set_index("account_id")
    assert a.loc["A03", "rule"] == "East" and a.loc["A03", "rule_number"] == 2 and a.loc["A03", "precedence"] == 0
    assert list(r.unassigned["account_id"]) == ["A05", "A06", "A08"]
    assert r.conflicts.empty and r.overridden.empty


def test_industry_and_size_band_and_within_or_across() -> None:
    rules = [
        Rule("T-FIN", industry={"Finance"}, size_band={"Mid", "Enterprise"}),  # AND across, OR within
        Rule("T-SW", industry={"Software"}),
        Rule("T-SMB", size_band={"SMB"}),
    ]
    r = assign(BOOK, rules)
    # A07 is Finance but SMB: T-SMB only, not T-FIN
    assert got(r) == {"A01": "T-SW", "A02": "T-SMB", "A03": "T-FIN", "A04": "T-FIN", "A05": "T-SMB",
                      "A06": "T-SW", "A07": "T-SMB", "A08": "T-SW"}
    assert r.conflicts.empty and r.unassigned.empty and r.overridden.empty
    r = assign(BOOK, rules[:1])
    assert got(r) == {"A03": "T-FIN", "A04": "T-FIN"}


def test_a_field_a_rule_gives_never_matches_a_missing_value() -> None:
    r = assign(BOOK, [Rule("T-ANY-STATE", state={"CA", "OR", "WA", "NY", "NJ", "TX", "ON"})])
    assert "A08" not in got(r)  # state missing
    r = assign(BOOK, [Rule("T-ALL")])  # no field given: a catch-all, matches missing values too
    assert set(got(r)) == set(BOOK["account_id"])


def test_employee_bounds_are_inclusive_and_missing_employees_never_match() -> None:
    rules = [Rule("T-MID", min_employees=99, max_employees=300), Rule("T-BIG", min_employees=5000)]
    r = assign(BOOK, rules)
    assert got(r) == {"A03": "T-MID", "A07": "T-MID", "A08": "T-MID", "A01": "T-BIG", "A04": "T-BIG"}
    assert "A06" in set(r.unassigned["account_id"])  # employees missing


def test_named_accounts_beat_geo_by_precedence_and_geo_sees_what_it_lost() -> None:
    named = Rule("T-NAMED", precedence=20, accounts={"A01", "A03", "NOT-AN-ACCOUNT"}, name="Strategic")
    r = assign(BOOK, [WEST, EAST, named])
    assert got(r) == {"A01": "T-NAMED", "A02": "T-WEST", "A07": "T-WEST", "A03": "T-NAMED", "A04": "T-EAST"}
    a = r.assignment.set_index("account_id")
    assert (a.loc["A01", "rule"], a.loc["A01", "rule_number"], a.loc["A01", "precedence"]) == ("Strategic", 3, 20)
    assert lost(r) == {"A01": ("T-NAMED", ["T-WEST"], "precedence"), "A03": ("T-NAMED", ["T-EAST"], "precedence")}
    # what each geo territory lost, the input to its effective account count
    lost_by = r.overridden.explode("lost_to").groupby("lost_to")["account_id"].apply(list).to_dict()
    assert lost_by == {"T-EAST": ["A03"], "T-WEST": ["A01"]}


def test_equal_precedence_overlap_is_a_conflict_listing_the_accounts() -> None:
    vertical = Rule("T-FIN-EAST", industry={"Finance"}, state={"NY", "NJ", "WA"}, name="Fin vertical")
    r = assign(BOOK, [WEST, EAST, vertical])
    assert conflicts(r) == {
        "A03": (0, ["T-EAST", "T-FIN-EAST"]),
        "A04": (0, ["T-EAST", "T-FIN-EAST"]),
        "A07": (0, ["T-FIN-EAST", "T-WEST"]),
    }
    assert list(r.conflicts.columns) == ["account_id", "name", "precedence", "territories"]
    assert list(r.conflicts["name"]) == ["Gamma", "Delta", "Eta"]
    assert not set(got(r)) & set(conflicts(r))  # never silently assigned
    assert got(r) == {"A01": "T-WEST", "A02": "T-WEST"}
    # raising the vertical's precedence settles it
    r = assign(BOOK, [WEST, EAST, Rule("T-FIN-EAST", precedence=1, industry={"Finance"}, state={"NY", "NJ", "WA"})])
    assert conflicts(r) == {} and got(r)["A07"] == "T-FIN-EAST"


def test_several_rules_of_the_same_territory_are_not_a_conflict() -> None:
    r = assign(BOOK, [Rule("T-WEST", state={"CA"}, name="CA"), Rule("T-WEST", industry={"Software"}, name="SW")])
    assert got(r) == {"A01": "T-WEST", "A06": "T-WEST", "A08": "T-WEST"}
    assert r.assignment.set_index("account_id").loc["A01", "rule"] == "CA"  # lowest-numbered rule at the top
    assert r.conflicts.empty and r.overridden.empty


def test_a_conflict_below_the_top_precedence_is_not_a_conflict() -> None:
    rules = [WEST, Rule("T-SW", industry={"Software"}), Rule("T-ACME", precedence=5, accounts={"A01"})]
    r = assign(BOOK, rules)
    assert got(r)["A01"] == "T-ACME"
    assert lost(r)["A01"] == ("T-ACME", ["T-SW", "T-WEST"], "precedence")


def test_unassigned_accounts_are_listed_with_their_names() -> None:
    r = assign(BOOK, [WEST])
    assert list(r.unassigned.columns) == ["account_id", "name"]
    assert r.unassigned.values.tolist() == [["A03", "Gamma"], ["A04", "Delta"], ["A05", "Epsilon"],
                                            ["A06", "Zeta"], ["A08", "Theta"]]
    r = assign(BOOK.drop(columns=["name"]), [WEST])
    assert list(r.unassigned.columns) == ["account_id"]
    r = assign(BOOK, [])
    assert len(r.unassigned) == len(BOOK) and r.assignment.empty
    r = assign(BOOK.drop(columns=["parent_account_id"]), [WEST])  # no families at all
    assert got(r) == {"A01": "T-WEST", "A02": "T-WEST", "A07": "T-WEST"}
    r = assign(BOOK.iloc[:0], [WEST])
    assert r.assignment.empty and r.unassigned.empty and r.conflicts.empty and r.overridden.empty


FAMILY = frame(
    ("P1", "Parent Co", None, "US", "CA", "Software", "Enterprise", 9000),
    ("C1", "Child in NY", "P1", "US", "NY", "Software", "Mid", 200),
    ("G1", "Grandchild in TX", "C1", "US", "TX", "Retail", "SMB", 20),
    ("C2", "Child, no match", "P1", "DE", None, None, None, None),
    ("P2", "Orphan parent", None, "FR", None, None, None, None),
    ("C3", "Child of unassigned", "P2", "US", "NJ", "Retail", "SMB", 10),
    ("S1", "Solo", None, "US", "NY", "Retail", "SMB", 5),
)


def test_families_follow_the_ultimate_parent() -> None:
    r = assign(FAMILY, [WEST, EAST])
    assert got(r) == {"P1": "T-WEST", "C1": "T-WEST", "G1": "T-WEST", "C2": "T-WEST", "C3": "T-EAST",
                      "S1": "T-EAST"}
    a = r.assignment.set_index("account_id")
    assert a.loc["C1", "inherited_from"] == "P1" and a.loc["G1", "inherited_from"] == "P1"
    assert pd.isna(a.loc["P1", "inherited_from"]) and pd.isna(a.loc["C3", "inherited_from"])
    assert a.loc["G1", "rule"] == "West" and a.loc["G1", "precedence"] == 0
    # the child in NY matched East on its own: East lost it to the family
    assert lost(r) == {"C1": ("T-WEST", ["T-EAST"], "family")}
    assert r.summary() == {"assigned": 6, "inherited": 3, "conflicts": 0, "unassigned": 1, "overridden": 1}
    assert list(r.unassigned["account_id"]) == ["P2"]


def test_a_family_beats_the_childs_own_higher_precedence_and_conflicts() -> None:
    rules = [WEST, EAST, Rule("T-NY-NAMED", precedence=9, accounts={"C1"}),
             Rule("T-RETAIL", industry={"Retail"}), Rule("T-TX", state={"TX"})]
    r = assign(FAMILY, rules)
    assert got(r)["C1"] == "T-WEST" and got(r)["G1"] == "T-WEST"  # G1 alone would be a T-RETAIL/T-TX conflict
    assert lost(r)["C1"] == ("T-WEST", ["T-EAST", "T-NY-NAMED"], "family")
    assert lost(r)["G1"] == ("T-WEST", ["T-RETAIL", "T-TX"], "family")
    assert "G1" not in conflicts(r)


def test_split_family_lets_children_be_assigned_by_their_own_matches() -> None:
    west_split = Rule("T-WEST", country={"US"}, state={"CA", "OR", "WA"}, split_family=True)
    r = assign(FAMILY, [west_split, EAST])
    assert got(r) == {"P1": "T-WEST", "C1": "T-EAST", "C3": "T-EAST", "S1": "T-EAST"}
    assert set(r.unassigned["account_id"]) == {"G1", "C2", "P2"}
    assert r.assignment["inherited_from"].isna().all()
    # only the rule that assigned the ultimate parent decides: a split rule assigning a child does not matter
    r = assign(FAMILY, [WEST, Rule("T-EAST", state={"NY"}, split_family=True)])
    assert got(r)["C1"] == "T-WEST" and got(r)["G1"] == "T-WEST"


def test_a_child_whose_ultimate_parent_is_in_conflict_uses_its_own_matches() -> None:
    rules = [Rule("T-A", state={"CA"}), Rule("T-B", min_employees=5000), EAST]
    r = assign(FAMILY, rules)
    assert conflicts(r) == {"P1": (0, ["T-A", "T-B"])}
    assert got(r) == {"C1": "T-EAST", "C3": "T-EAST", "S1": "T-EAST"}
    assert set(r.unassigned["account_id"]) == {"G1", "C2", "P2"}


def test_case_and_whitespace_do_not_matter_in_text_fields() -> None:
    messy = frame(
        ("X1", None, None, " us ", "  ca", "SOFTWARE ", "enterprise", 10),
        ("X2", None, None, "Us", "New  York", "\u00a0Software\u00a0", "Mid", 10),
        ("X3", None, None, "US", "   ", "Software", "Mid", 10),  # blank state is missing
    )
    rules = [Rule("T-WEST", country={"US"}, state={"Ca"}), Rule("T-NY", state={" new york "}),
             Rule("T-SOFT", precedence=-1, industry={"software"}, size_band={"MID", "Enterprise"})]
    r = assign(messy, rules)
    assert got(r) == {"X1": "T-WEST", "X2": "T-NY", "X3": "T-SOFT"}
    assert lost(r) == {"X1": ("T-WEST", ["T-SOFT"], "precedence"), "X2": ("T-NY", ["T-SOFT"], "precedence")}


def test_account_ids_are_trimmed_but_case_sensitive() -> None:
    ids = frame(("001ABC", None, None, None, None, None, None, None),
                ("001abc", None, " 001ABC ", None, None, None, None, None))
    r = assign(ids, [Rule("T-N", accounts={" 001abc"})])
    assert got(r) == {"001abc": "T-N"}
    assert r.unassigned["account_id"].tolist() == ["001ABC"]


def test_categorical_and_arrow_string_columns() -> None:
    book = BOOK.copy()
    book["state"] = book["state"].astype("category")
    book["industry"] = book["industry"].astype("string[pyarrow]")
    r = assign(book, [WEST, EAST, Rule("T-FIN", precedence=1, industry={"finance"})])
    assert got(r) == {"A01": "T-WEST", "A02": "T-WEST", "A07": "T-FIN", "A03": "T-FIN", "A04": "T-FIN"}


# -- refusals ------------------------------------------------------------------------


def test_cycles_in_parent_links_are_refused_naming_the_accounts() -> None:
    cyc = frame(
        ("A1", None, "A2", "US", "CA", None, None, None),
        ("A2", None, "A3", "US", "CA", None, None, None),
        ("A3", None, "A1", "US", "CA", None, None, None),
        ("A4", None, "A3", "US", "CA", None, None, None),
        ("A5", None, None, "US", "CA", None, None, None),
    )
    with pytest.raises(BadInput) as e:
        assign(cyc, [WEST])
    assert e.value.message == ("parent_account_id links form a cycle (account -> its parent): A1 -> A2 -> A3 -> A1 "
                               "(3 account(s) on the cycle; 4 account(s) on or under a cycle)")
    assert e.value.hint == ("an account cannot be its own ancestor; blank or correct parent_account_id of 'A1' "
                            "(or of another account on the cycle)")
    self_loop = frame(("B1", None, None, None, None, None, None, None),
                      ("B2", None, "B2", None, None, None, None, None))
    with pytest.raises(BadInput, match=r"cycle \(account -> its parent\): B2 -> B2 \(1 account\(s\) on the cycle; 1 "):
        assign(self_loop, [WEST])
    long = frame(*[(f"L{i:02d}", None, f"L{(i + 1) % 20:02d}", None, None, None, None, None) for i in range(20)])
    with pytest.raises(BadInput) as e:
        assign(long, [])
    assert e.value.message == ("parent_account_id links form a cycle (account -> its parent): L00 -> L01 -> L02 -> "
                               "L03 -> L04 -> L05 -> L06 -> L07 -> ... (20 account(s) on the cycle; "
                               "20 account(s) on or under a cycle)")


def test_unknown_parents_duplicates_blank_ids_and_missing_columns_are_refused() -> None:
    orphan = frame(("A1", None, "ZZ", None, None, None, None, None))
    with pytest.raises(BadInput) as e:
        assign(orphan, [])
    assert e.value.message == ("1 account(s) name a parent_account_id that is not among the accounts "
                               "(first: account 'A1' → parent 'ZZ')")
    assert e.value.hint == "pass the parent accounts too, or blank parent_account_id where the parent is unknown"
    dup = frame(("A1", None, None, None, None, None, None, None), (" A1", None, None, None, None, None, None, None))
    with pytest.raises(BadInput, match=r"^account_id is not unique: 1 id\(s\) appear more than once \('A1'\)$"):
        assign(dup, [])
    blank = frame(("A1", None, None, None, None, None, None, None), (" ", None, None, None, None, None, None, None))
    with pytest.raises(BadInput, match=r"^1 account\(s\) have a blank account_id \(first at position 1\)$"):
        assign(blank, [])
    with pytest.raises(BadInput) as e:
        assign(BOOK.drop(columns=["state", "employees"]), [WEST, Rule("T-BIG", max_employees=10), EAST])
    assert e.value.message == ("the rules use 'employees', 'state' but the accounts have no such column "
                               "(rules 1, 2, 3)")
    with pytest.raises(BadInput, match="no 'account_id' column"):
        assign(BOOK.drop(columns=["account_id"]), [])
    with pytest.raises(BadInput, match=r"^rule 2 is a dict, not a Rule$"):
        assign(BOOK, [WEST, {"territory_id": "T"}])  # type: ignore[list-item]


def test_rules_made_in_code_are_checked() -> None:
    assert Rule("T", state="CA").state == frozenset({"CA"})  # one value, not the letters C and A
    assert Rule("T", state=["CA", "OR"]).state == frozenset({"CA", "OR"})  # type: ignore[arg-type]
    with pytest.raises(BadInput, match=r"^rule 'x': state is empty, so the rule can match no account$"):
        Rule("T", state=frozenset(), name="x")
    with pytest.raises(BadInput, match=r"territory_id must be non-blank text"):
        Rule(" ")
    with pytest.raises(BadInput, match=r"min_employees 10 is above max_employees 5"):
        Rule("T", min_employees=10, max_employees=5)
    with pytest.raises(BadInput, match=r"precedence must be a whole number"):
        Rule("T", precedence=1.5)  # type: ignore[arg-type]
    with pytest.raises(BadInput, match=r"accounts must hold non-blank text values \(got 1234\)"):
        Rule("T", accounts=[1234])  # type: ignore[arg-type]


def test_good_rules_files_in_toml_and_yaml_are_the_same_rules() -> None:
    toml_rules = load_rules(RULES / "good.toml")
    assert toml_rules == load_rules(RULES / "good.yaml")
    assert [r.name for r in toml_rules] == ["West", "East", "Fintech overlay", "Strategic named"]
    assert toml_rules[2] == Rule("T-FIN", precedence=10, industry=frozenset({"Finance"}),
                                 size_band=frozenset({"Enterprise", "Mid"}), min_employees=100, name="Fintech overlay")
    assert toml_rules[3].split_family is True and toml_rules[3].accounts == frozenset({"A03", "A04"})
    r = assign(BOOK, toml_rules)
    assert got(r) == {"A01": "T-WEST", "A02": "T-WEST", "A07": "T-WEST", "A03": "T-NAMED", "A04": "T-NAMED"}
    assert lost(r) == {"A03": ("T-NAMED", ["T-EAST", "T-FIN"], "precedence"),
                       "A04": ("T-NAMED", ["T-EAST", "T-FIN"], "precedence")}


def _cases() -> list[dict[str, Any]]:
    with (RULES / "cases.toml").open("rb") as fh:
        return tomllib.load(fh)["case"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_bad_rules_files_are_refused_with_their_messages(case: dict[str, Any]) -> None:
    path = str(RULES / case["file"])
    with pytest.raises(BadInput) as e:
        load_rules(path)
    assert e.value.message == f"rules file {path} cannot be used"
    assert [str(p) for p in e.value.problems] == [line.format(file=path) for line in case["problems"]]
    assert e.value.hint is not None and e.value.hint.startswith("each [[rule]] table needs territory_id")


def test_every_bad_rules_fixture_has_a_case() -> None:
    named = {c["file"] for c in _cases()}
    files = {p.name for p in RULES.iterdir()} - {"cases.toml", "good.toml", "good.yaml"}
    assert files <= named


# -- property test against a per-account reference -----------------------------------------


def _norm(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    s = " ".join(unicodedata.normalize("NFKC", str(v)).split()).casefold()
    return s or None


def _matches(row: dict[str, Any], r: Rule) -> bool:
    for f in asg.TEXT_FIELDS:
        given = getattr(r, f)
        if given is not None and (_norm(row[f]) is None or _norm(row[f]) not in {_norm(x) for x in given}):
            return False
    if r.accounts is not None and row["account_id"].strip() not in {x.strip() for x in r.accounts}:
        return False
    emp = row["employees"]
    if r.min_employees is not None and (pd.isna(emp) or emp < r.min_employees):
        return False
    if r.max_employees is not None and (pd.isna(emp) or emp > r.max_employees):
        return False
    return True


def reference(df: pd.DataFrame, rules: list[Rule]) -> dict[str, Any]:
    rows = df.to_dict("records")
    own: dict[str, tuple] = {}
    matched: dict[str, set[str]] = {}
    for row in rows:
        aid = row["account_id"]
        ms = [(i, r) for i, r in enumerate(rules) if _matches(row, r)]
        matched[aid] = {r.territory_id for _, r in ms}
        if not ms:
            own[aid] = ("none",)
            continue
        top = max(r.precedence for _, r in ms)
        terrs = sorted({r.territory_id for _, r in ms if r.precedence == top})
        if len(terrs) > 1:
            own[aid] = ("conflict", top, terrs)
        else:
            i = min(i for i, r in ms if r.precedence == top)
            own[aid] = ("assigned", i)
    parent = {row["account_id"]: None if pd.isna(row["parent_account_id"]) else row["parent_account_id"].strip()
              for row in rows}
    out: dict[str, Any] = {"assignment": {}, "conflicts": {}, "unassigned": set(), "overridden": {}}
    for row in rows:
        aid = row["account_id"]
        root = aid
        while parent[root] is not None:
            root = parent[root]
        status, inherited = own[aid], None
        if root != aid and own[root][0] == "assigned" and not rules[own[root][1]].split_family:
            status, inherited = own[root], root
        if status[0] == "assigned":
            rule = rules[status[1]]
            out["assignment"][aid] = (rule.territory_id, status[1] + 1, rule.precedence, inherited)
            others = sorted(matched[aid] - {rule.territory_id})
            if others:
                out["overridden"][aid] = (rule.territory_id, others, "family" if inherited else "precedence")
        elif status[0] == "conflict":
            out["conflicts"][aid] = (status[1], status[2])
        else:
            out["unassigned"].add(aid)
    return out


STATES = ["CA", " ca", "Ca ", "NY", "ny", "TX", None, ""]
INDUSTRIES = ["Tech", "tech ", "TECH", "Retail", None]
BANDS = ["S", "m", "M", "L", None]
TERRS = ["T1", "T2", "T3", "T4"]


@st.composite
def books(draw: st.DrawFn) -> tuple[pd.DataFrame, list[Rule]]:
    n = draw(st.integers(0, 30))
    ids = [f"A{i:02d}" for i in range(n)]
    parents = [None if i == 0 or draw(st.booleans()) else ids[draw(st.integers(0, i - 1))] for i in range(n)]
    perm = draw(st.permutations(range(n)))  # parents need not come first
    rows = [(ids[i], None, parents[i], "US", draw(st.sampled_from(STATES)), draw(st.sampled_from(INDUSTRIES)),
             draw(st.sampled_from(BANDS)), draw(st.one_of(st.none(), st.integers(0, 60))))
            for i in range(n)]
    df = frame(*[rows[i] for i in perm])

    def subset(values: list[Any]) -> frozenset[str] | None:
        pool = [v for v in values if v]
        if draw(st.booleans()):
            return None
        return frozenset(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3)))

    rules = []
    for _ in range(draw(st.integers(0, 8))):
        lo = draw(st.one_of(st.none(), st.integers(0, 40)))
        hi = draw(st.one_of(st.none(), st.integers(lo or 0, 60)))
        named = None
        if n and draw(st.integers(0, 3)) == 0:
            named = frozenset(draw(st.lists(st.sampled_from(ids + ["NOPE"]), min_size=1, max_size=5)))
        rules.append(Rule(draw(st.sampled_from(TERRS)), precedence=draw(st.integers(0, 2)), state=subset(STATES),
                          industry=subset(INDUSTRIES), size_band=subset(BANDS), accounts=named,
                          min_employees=lo, max_employees=hi, split_family=draw(st.booleans())))
    return df, rules


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books(), st.booleans())
def test_assign_agrees_with_a_per_account_reference(book: tuple[pd.DataFrame, list[Rule]], tiny: bool) -> None:
    df, rules = book
    if tiny:  # one rule per chunk, a one-field join key, sorted-key membership instead of lookup tables
        with mock.patch.object(asg, "_CHUNK", 1), mock.patch.object(asg, "_LUT_LIMIT", 0), \
                mock.patch.object(asg, "_EXPLODE_LIMIT", 0):
            result = assign(df, rules)
    else:
        result = assign(df, rules)
    ref = reference(df, rules)

    a = result.assignment
    inherited = [None if pd.isna(x) else x for x in a["inherited_from"]]
    assert {k: v for k, *v in zip(a["account_id"], a["territory_id"], a["rule_number"], a["precedence"], inherited)
            } == {k: list(v) for k, v in ref["assignment"].items()}
    assert conflicts(result) == ref["conflicts"]
    assert set(result.unassigned["account_id"]) == ref["unassigned"]
    assert lost(result) == ref["overridden"]

    # every account in exactly one of the three lists
    ids = list(df["account_id"])
    seen = list(a["account_id"]) + list(result.conflicts["account_id"]) + list(result.unassigned["account_id"])
    assert sorted(seen) == sorted(ids)
    # an assigned account's territory has a matching rule at the top precedence of its matches, or came from the family
    rows = df.set_index("account_id", drop=False).to_dict("index")
    for aid, terr, inh in zip(a["account_id"], a["territory_id"], inherited):
        if inh is not None:
            continue
        ms = [r for r in rules if _matches(rows[aid], r)]
        top = max(r.precedence for r in ms)
        assert terr in {r.territory_id for r in ms if r.precedence == top}


def test_vectorised_paths_agree_on_a_larger_book() -> None:
    rng = np.random.default_rng(20260101)
    n = 5000
    ids = np.array([f"A{i:05d}" for i in range(n)], dtype=object)
    up = rng.integers(0, n, n)
    parent = np.where((rng.random(n) < 0.1) & (up < np.arange(n)), ids[up], None)  # parents come earlier: no cycles
    df = pd.DataFrame({
        "account_id": ids, "name": None, "parent_account_id": parent, "country": "US",
        "state": rng.choice(np.array(STATES, dtype=object), n),
        "industry": rng.choice(np.array(INDUSTRIES, dtype=object), n),
        "size_band": rng.choice(np.array(BANDS, dtype=object), n),
        "employees": pd.array(rng.integers(0, 60, n), dtype="Int64"),
    }).sample(frac=1.0, random_state=rng)  # shuffled: children before parents, and an index that is not 0..n-1
    rules = [Rule(str(rng.choice(TERRS)), precedence=int(rng.integers(0, 12)),
                  state=frozenset(rng.choice(STATES[:6], 2)),
                  industry=None if i % 2 else frozenset(rng.choice(INDUSTRIES[:4], 2)),
                  accounts=frozenset(rng.choice(ids, 50)) if i % 5 == 0 else None,
                  min_employees=int(rng.integers(0, 30)) if i % 3 == 0 else None, split_family=bool(i % 4 == 0))
             for i in range(40)]
    base = assign(df, rules)
    with mock.patch.object(asg, "_CHUNK", 3), mock.patch.object(asg, "_LUT_LIMIT", 0), \
            mock.patch.object(asg, "_EXPLODE_LIMIT", 0):
        other = assign(df, rules)
    for name in ("assignment", "conflicts", "unassigned", "overridden"):
        pd.testing.assert_frame_equal(getattr(base, name), getattr(other, name))
    ref = reference(df, rules)
    assert got(base) == {k: v[0] for k, v in ref["assignment"].items()}
    assert conflicts(base) == ref["conflicts"]
    assert lost(base) == ref["overridden"]
    assert set(base.unassigned["account_id"]) == ref["unassigned"]
    s = base.summary()
    assert s["inherited"] > 100 and s["conflicts"] > 10 and s["overridden"] > 100  # the book exercises every path
