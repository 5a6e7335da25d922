"""Top-down allocation: hand-worked cents, conservation properties, refusals pinned by text."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plancast.errors import BadInput
from plancast.planning.allocation import MAX_CENTS, Allocation, ConservationError, allocate, format_cents, to_cents


def tree(rows: list[tuple], levels: bool = True) -> pd.DataFrame:
    """rows of (node, parent, weight[, level])."""
    df = pd.DataFrame(rows, columns=["node", "parent", "weight", "level"][: len(rows[0])])
    return df if levels else df.drop(columns="level", errors="ignore")


def cents(a: Allocation) -> dict:
    return {k: int(v) for k, v in a.amounts.items()}


# acme ($1,000,000.01) → ent (3), mid (2)
# ent → east (1), west (2);  mid → central, north, south (1 each);  west → w1, w2, w3 (1 each)
PLAN = tree([
    ("acme", None, None, "company"),
    ("ent", "acme", 3, "segment"),
    ("mid", "acme", 2, "segment"),
    ("east", "ent", 1, "region"),
    ("west", "ent", 2, "region"),
    ("south", "mid", 1, "region"),
    ("north", "mid", 1, "region"),
    ("central", "mid", 1, "region"),
    ("w1", "west", 1, "rep"),
    ("w2", "west", 1, "rep"),
    ("w3", "west", 1, "rep"),
])


# --------------------------------------------------------------------------- worked examples


def test_hundred_dollars_over_three_equal_weights():
    a = allocate(tree([("co", None, None), ("a", "co", 1), ("b", "co", 1), ("c", "co", 1)]), 100).check()
    assert cents(a) == {"co": 10000, "a": 3334, "b": 3333, "c": 3333}
    assert a.dollars().to_dict() == {"co": 100.0, "a": 33.34, "b": 33.33, "c": 33.33}
    assert a.amounts.dtype == np.int64


def test_tie_goes_to_smaller_id_whatever_the_row_order():
    df = tree([("co", None, None), ("c", "co", 1), ("b", "co", 1), ("a", "co", 1)])
    assert cents(allocate(df, 100)) == {"co": 10000, "c": 3333, "b": 3333, "a": 3334}


def test_equal_remainders_go_to_the_larger_weight():
    # 9 cents over 1:2:3 → exact 1.5, 3, 4.5; the spare cent goes to weight 3, not weight 1
    df = tree([("co", None, None), ("x", "co", 1), ("y", "co", 2), ("z", "co", 3)])
    assert cents(allocate(df, Decimal("0.09"))) == {"co": 9, "x": 1, "y": 3, "z": 5}


def test_three_levels_exact_cents():
    a = allocate(PLAN, 1_000_000.01).check()
    assert cents(a) == {
        "acme": 100_000_001,
        "ent": 60_000_001,  # 60,000,000.6 → the spare cent (remainder .6 beats .4)
        "mid": 40_000_000,
        "east": 20_000_000,  # 20,000,000.33
        "west": 40_000_001,  # 40,000,000.67 → spare cent
        "central": 13_333_334,  # three equal remainders: smallest id first
        "north": 13_333_333,
        "south": 13_333_333,
        "w1": 13_333_334,  # 40,000,001 / 3 = 13,333,333.67 → two spare cents
        "w2": 13_333_334,
        "w3": 13_333_333,
    }


def test_target_with_cents_as_float_decimal_and_string_agree():
    for t in (123_456_789.01, Decimal("123456789.01"), "123456789.01", Decimal("123456789.010")):
        assert allocate(PLAN, t).target_cents == 12_345_678_901


def test_pin_on_a_region_and_on_a_rep_inside_it():
    a = allocate(PLAN, 1_000_000.01, pins={"west": 450_000, "w1": Decimal("100000.00")}).check()
    got = cents(a)
    assert got["west"] == 45_000_000 and got["east"] == 15_000_001  # east takes ent's remainder
    assert (got["w1"], got["w2"], got["w3"]) == (10_000_000, 17_500_000, 17_500_000)
    assert got["mid"] == 40_000_000  # pins below ent do not move mid
    assert a.pins.to_dict() == {"west": 45_000_000, "w1": 10_000_000}
    frame = a.to_frame()
    assert list(frame.columns[:5]) == ["node", "parent", "level", "weight", "amount"]
    assert frame.set_index("node").loc["west", "pinned"]


def test_every_child_pinned_exactly():
    a = allocate(PLAN, 1_000_000.01, pins={"east": 200_000.01, "west": 400_000}).check()
    assert cents(a)["east"] == 20_000_001 and cents(a)["west"] == 40_000_000


def test_pinned_zero_leaves_siblings_all_the_money():
    a = allocate(PLAN, 1_000_000.01, pins={"east": 0}).check()
    assert cents(a)["east"] == 0 and cents(a)["west"] == 60_000_001


def test_zero_weight_siblings_fine_when_nothing_is_left_to_split():
    df = PLAN.copy()
    df.loc[df.node.isin(["north", "south"]), "weight"] = 0
    a = allocate(df, 1_000_000.01, pins={"central": 400_000}).check()
    assert (cents(a)["north"], cents(a)["south"]) == (0, 0)


def test_zero_weight_child_gets_nothing():
    df = tree([("co", None, None), ("a", "co", 0), ("b", "co", 1), ("c", "co", 1)])
    assert cents(allocate(df, "0.01")) == {"co": 1, "a": 0, "b": 1, "c": 0}


def test_root_only_and_zero_target():
    assert cents(allocate(tree([("co", None, None)]), 5)) == {"co": 500}
    assert set(cents(allocate(PLAN, 0)).values()) == {0}


def test_root_selects_a_subtree_of_a_forest():
    df = pd.concat([PLAN, tree([("other", None, None, "company"), ("o1", "other", 1, "segment")])])
    a = allocate(df, 90, root="west").check()
    assert cents(a) == {"west": 9000, "w1": 3000, "w2": 3000, "w3": 3000}
    with pytest.raises(BadInput, match="2 roots"):
        allocate(df, 90)


def test_other_weight_column_and_integer_ids():
    df = pd.DataFrame({"node": [1, 2, 3], "parent": [None, 1, 1], "capacity": [0.0, 1.0, 3.0]})
    assert cents(allocate(df, 1, weight_col="capacity")) == {1: 100, 2: 25, 3: 75}


def test_very_unequal_weights():
    df = tree([("co", None, None), ("big", "co", 1e12), ("tiny", "co", 1e-12)])
    assert cents(allocate(df, 123_456_789.01)) == {"co": 12_345_678_901, "big": 12_345_678_901, "tiny": 0}


def test_check_catches_a_tampered_allocation():
    a = allocate(PLAN, 1_000_000.01)
    amounts = a.amounts.copy()
    amounts.loc["w1"] += 1
    with pytest.raises(ConservationError, match=r"children of region 'west' sum to \$400,000.02, not its \$400,000.01"):
        dataclasses.replace(a, amounts=amounts).check()
    amounts.loc["west"] += 1
    amounts.loc["east"] -= 1
    with pytest.raises(ConservationError, match="pinned at"):
        dataclasses.replace(a, amounts=amounts, pins=pd.Series({"east": 20_000_000})).check()


def test_money_helpers():
    assert format_cents(12_345_678_901) == "$123,456,789.01" and format_cents(-5) == "-$0.05"
    assert to_cents(0.1) == 10 and to_cents(Decimal("1.50")) == 150 and to_cents(7) == 700


# --------------------------------------------------------------------------- properties


@st.composite
def plans(draw):
    """A random tree (depth 1–4), weights with zeros and huge spreads, a target with cents."""
    depth = draw(st.integers(1, 4))
    weight = st.one_of(
        st.just(0.0),
        st.sampled_from([1.0, 2.0, 3.0]),
        st.floats(1e-9, 1e9, allow_nan=False, allow_infinity=False),
    )
    rows = [("n0", None, np.nan, 0)]
    frontier = ["n0"]
    for d in range(1, depth + 1):
        nxt = []
        for parent in frontier:
            k = draw(st.integers(1 if d == 1 else 0, 4))
            ws = [draw(weight) for _ in range(k)]
            if k and max(ws) == 0:
                ws[0] = draw(st.floats(1e-6, 1e6))  # a set with money to split needs a positive weight
            for w in ws:
                name = f"n{len(rows)}"
                rows.append((name, parent, w, d))
                nxt.append(name)
        frontier = nxt
    df = pd.DataFrame(rows, columns=["node", "parent", "weight", "depth"])
    df = df.sample(frac=1.0, random_state=draw(st.integers(0, 2**32 - 1))).reset_index(drop=True)
    target_cents = draw(st.one_of(st.integers(0, 10**4), st.integers(0, 10**13)))
    target = draw(st.sampled_from(["decimal", "float"]))
    return df, (Decimal(target_cents) / 100 if target == "decimal" else target_cents / 100), target_cents


def fitting_pins(df: pd.DataFrame, target, data) -> dict:
    """Pins chosen depth by depth, each within what its parent has left, so they always fit."""
    non_root = df[df.depth > 0]
    chosen = data.draw(st.lists(st.sampled_from(list(non_root.node)), max_size=4, unique=True), label="pinned")
    pins: dict = {}
    weight = df.set_index("node")["weight"]
    parent = df.set_index("node")["parent"]
    depth = df.set_index("node")["depth"]
    for node in sorted(chosen, key=lambda n: depth[n]):
        got = allocate(df, target, pins=pins).amounts
        p = parent[node]
        sibs = list(parent.index[parent == p])
        left = int(got[p]) - sum(to_cents(pins[s]) for s in sibs if s in pins)
        others = [s for s in sibs if s != node and s not in pins]
        if not others or max(weight[s] for s in others) == 0:
            amount = left
        else:
            amount = data.draw(st.integers(0, left), label=f"pin {node}")
        pins[node] = Decimal(amount) / 100
    return pins


def exact_shares(df: pd.DataFrame, amounts: pd.Series, pins: dict) -> list[tuple]:
    """(parent, child, exact share as a Fraction, weight) for every unpinned child."""
    out = []
    for p, kids in df[df.parent.notna()].groupby("parent"):
        pinned = kids.node.isin(list(pins))
        left = int(amounts[p]) - sum(to_cents(pins[k]) for k in kids.node[pinned])
        free = kids[~pinned]
        total = sum(Fraction(w) for w in free.weight)
        for node, w in zip(free.node, free.weight):
            share = Fraction(left) * Fraction(w) / total if total else Fraction(0)
            out.append((p, node, share, w))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans(), data=st.data())
def test_conservation_properties(plan, data):
    df, target, target_cents = plan
    pins = fitting_pins(df, target, data)
    a = allocate(df, target, pins=pins)
    amounts = a.amounts
    assert a.check() is a
    assert amounts.dtype == np.int64 and set(amounts.index) == set(df.node)
    # children sum to their parent to the cent, at every level (independently of check())
    kids = df[df.parent.notna()]
    sums = amounts[kids.node.to_numpy()].groupby(kids.parent.to_numpy()).sum()
    assert (amounts[sums.index].to_numpy() == sums.to_numpy()).all()
    assert int(amounts["n0"]) == target_cents
    assert (amounts >= 0).all()
    for node, amount in pins.items():
        assert int(amounts[node]) == to_cents(amount)
    # each unpinned child within a cent of its exact share; bigger weights never get less
    shares = exact_shares(df, amounts, pins)
    for _, node, share, _ in shares:
        assert abs(Fraction(int(amounts[node])) - share) <= 1
    by_parent: dict = {}
    for p, node, _, w in shares:
        by_parent.setdefault(p, []).append((w, int(amounts[node])))
    for sibs in by_parent.values():
        for w1, a1 in sibs:
            for w2, a2 in sibs:
                if w1 > w2:
                    assert a1 >= a2 - 1
    # deterministic, and independent of row order
    again = allocate(df.iloc[::-1].reset_index(drop=True), target, pins=dict(reversed(list(pins.items()))))
    assert again.amounts.sort_index().equals(amounts.sort_index())


def hamilton(total: int, weights: list, ids: list) -> list[int]:
    """Fraction-exact largest remainder; ties: larger weight, then smaller id."""
    W = sum(Fraction(w) for w in weights)
    q = [total * Fraction(w) / W for w in weights]
    floors = [x.numerator // x.denominator for x in q]
    order = sorted(range(len(q)), key=lambda i: (-(q[i] - floors[i]), -weights[i], ids[i]))
    out = floors[:]
    for i in order[: total - sum(floors)]:
        out[i] += 1
    return out


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    total=st.one_of(st.integers(0, 10**6), st.integers(0, MAX_CENTS)),
    scale=st.sampled_from([1.0, 0.25, 1000.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_two_levels_match_exact_hamilton(sizes, total, scale, seed):
    """Small integer weights make exact ties common: each set must match the exact method."""
    rng = np.random.default_rng(seed)
    rows, sets = [("root", None, np.nan)], {}
    for gi, n in enumerate(sizes):
        w = rng.integers(0, 6, n) * scale
        w[0] = max(w[0], scale)
        group = f"g{gi}"
        rows.append((group, "root", float(rng.integers(1, 4))))
        sets[group] = [(f"{group}-{rng.integers(0, 1000):03d}-{i}", float(x)) for i, x in enumerate(w)]
        rows += [(k, group, x) for k, x in sets[group]]
    df = pd.DataFrame(rows, columns=["node", "parent", "weight"]).sample(frac=1.0, random_state=seed)
    got = allocate(df, Decimal(total) / 100).amounts
    groups = list(sets)
    assert [int(got[g]) for g in groups] == hamilton(total, [df.set_index("node").weight[g] for g in groups], groups)
    for g, kids in sets.items():
        ids = [k for k, _ in kids]
        assert [int(got[k]) for k in ids] == hamilton(int(got[g]), [x for _, x in kids], ids)


# --------------------------------------------------------------------------- refusals


def refused(df, target=1_000_000.01, **kw) -> BadInput:
    with pytest.raises(BadInput) as info:
        allocate(df, target, **kw)
    assert info.value.hint, "every refusal says what to do next"
    return info.value


def test_refuses_zero_weight_sibling_set():
    df = PLAN.copy()
    df.loc[df.parent == "mid", "weight"] = 0
    e = refused(df)
    assert e.message == (
        "every child of segment 'mid' has weight 0 ('south', 'north', 'central'), so its $400,000.00 cannot be split"
    )
    assert "positive weight" in e.hint


def test_refuses_zero_weight_unpinned_siblings_with_money_left():
    df = PLAN.copy()
    df.loc[df.node.isin(["north", "south"]), "weight"] = 0
    e = refused(df, pins={"central": 100_000})
    assert e.message.startswith("every unpinned child of segment 'mid' has weight 0 ('south', 'north')")
    assert "$300,000.00 left after pins" in e.message


def test_refuses_nan_weight():
    df = PLAN.copy()
    df.loc[df.node == "w2", "weight"] = np.nan
    assert refused(df).message == "weight of rep 'w2' is missing (NaN)"


def test_refuses_negative_and_infinite_and_text_weights():
    df = PLAN.copy()
    df["weight"] = df["weight"].astype(object)
    df.loc[df.node == "east", "weight"] = -2.0
    assert refused(df).message == "weight of region 'east' is negative (-2.0)"
    df.loc[df.node == "east", "weight"] = np.inf
    assert refused(df).message == "weight of region 'east' is infinite (inf)"
    df.loc[df.node == "east", "weight"] = "lots"
    assert refused(df).message == "weight of region 'east' is not a number ('lots')"


def test_refuses_cycle_naming_a_node_on_it():
    df = tree([("co", None, 0), ("a", "co", 1), ("b", "c", 1), ("c", "d", 1), ("d", "b", 1), ("e", "d", 1)], levels=False)
    e = refused(df)
    assert e.message == "node 'b' is on a cycle of parents: 'b' → 'c' → 'd' → 'b'"
    assert "correct the parent" in e.hint
    self_loop = tree([("co", None, 0), ("a", "a", 1)], levels=False)
    assert refused(self_loop).message == "node 'a' is on a cycle of parents: 'a' → 'a'"


def test_refuses_two_parents_and_duplicates():
    df = pd.concat([PLAN, tree([("w2", "east", 1, "rep")])], ignore_index=True)
    assert refused(df).message == "rep 'w2' has two parents: 'west' and 'east'"
    df = pd.concat([PLAN, tree([("w2", "west", 1, "rep")])], ignore_index=True)
    assert refused(df).message == "rep 'w2' is listed 2 times"


def test_refuses_unknown_parent():
    df = pd.concat([PLAN, tree([("w9", "wets", 1, "rep")])], ignore_index=True)
    e = refused(df)
    assert e.message == "parent 'wets' of rep 'w9' is not a node"
    assert "Add a row for 'wets'" in e.hint


def test_refuses_several_roots_and_unknown_root():
    df = pd.concat([PLAN, tree([("acme2", None, None, "company")])], ignore_index=True)
    assert refused(df).message == "nodes has 2 roots (nodes without a parent): 'acme', 'acme2'"
    assert "root '" in refused(PLAN, root="nowhere").message


def test_refuses_sibling_pins_exceeding_parent():
    e = refused(PLAN, pins={"east": 400_000, "west": 250_000})
    assert e.message == (
        "pins under segment 'ent' total $650,000.00, more than its $600,000.01 "
        "(pinned: region 'east' $400,000.00, region 'west' $250,000.00)"
    )
    assert "Lower or remove pins under 'ent'" in e.hint


def test_refuses_pins_exceeding_the_target():
    e = refused(PLAN, pins={"ent": 600_000, "mid": 500_000})
    assert e.message.startswith("pins under company 'acme' total $1,100,000.00, more than the target $1,000,000.01")


def test_refuses_deep_pins_exceeding_an_unpinned_node():
    e = refused(PLAN, pins={"w1": 500_000})
    assert e.message == (
        "pins under region 'west' total $500,000.00, more than its $400,000.01 (pinned: rep 'w1' $500,000.00)"
    )
    assert "pin 'west' (or raise its weight)" in e.hint


def test_refuses_pins_inside_a_pinned_node_that_exceed_it():
    e = refused(PLAN, pins={"west": 100_000, "w1": 60_000, "w2": 50_000})
    assert e.message.startswith("pins under region 'west' total $110,000.00, more than its $100,000.00")


def test_refuses_all_children_pinned_not_adding_up():
    e = refused(PLAN, pins={"east": 200_000, "west": 300_000})
    assert e.message == "every child of segment 'ent' is pinned, but the pins total $500,000.00, not its $600,000.01"
    assert "Unpin one child of 'ent'" in e.hint


def test_refuses_unknown_pin_node_and_bad_pin_amount():
    assert refused(PLAN, pins={"wset": 1}).message == "pin on 'wset': there is no such node"
    assert refused(PLAN, pins={"west": 1.005}).message == "pin on 'west' 1.005 has more than 2 decimals (cents)"
    assert refused(PLAN, pins={"acme": 5}).message.startswith("pin on root company 'acme' is $5.00")


@pytest.mark.parametrize(
    "target, message",
    [
        (123.456, "target 123.456 has more than 2 decimals (cents)"),
        (-1, "target is negative (-1)"),
        (float("nan"), "target is NaN, not an amount of money"),
        (Decimal("NaN"), "target is NaN, not an amount of money"),
        (float("inf"), "target is infinite"),
        ("12,000", "target '12,000' is not a number"),
        (True, "target is True, not an amount of money"),
        (1e17, "target 1E+17 is too large (at most $90,071,992,547,409.92)"),
    ],
)
def test_refuses_bad_target(target, message):
    e = refused(PLAN, target)
    assert e.message == message
    assert "at most 2 decimals" in e.hint


def test_refuses_missing_columns_and_empty_frames():
    assert refused(PLAN.drop(columns="weight")).message.startswith("nodes has no column 'weight'")
    assert "weight_col=" in refused(PLAN.drop(columns="weight")).hint
    assert refused(PLAN.iloc[:0]).message == "nodes is empty: there is nothing to allocate to"
    assert refused(pd.concat([PLAN, tree([(None, "acme", 1, "x")])], ignore_index=True)).message.startswith(
        "the row at index 11 has no node id"
    )


def test_bad_input_is_a_value_error_with_json_shape():
    e = refused(PLAN, pins={"w1": 500_000})
    assert isinstance(e, ValueError)
    assert e.to_dict()["error"] == "BadInput" and e.to_dict()["hint"] == e.hint
