"""Unit tests of plancast.ingest: parsers, row rules on frames built in code, references, limits."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plancast.errors import BadInput
from plancast.ingest import (
    ACCEPTED_SUFFIXES,
    Loaded,
    check_frame,
    check_references,
    empty_frame,
    preset_names,
    read,
)
from plancast.ingest.presets import PRESETS
from plancast.ingest.values import parse_bool, parse_date, parse_money, parse_number
from plancast.kinds import KINDS


def lines(problems: list) -> list[str]:
    return [str(p) for p in problems]


# -- parsers -------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("1200", 1200.0), ("1200.50", 1200.5), ("$1,200", 1200.0), ("1,200.50", 1200.5), ("USD 1200", 1200.0),
    ("1200 EUR", 1200.0), ("€1200", 1200.0), ("1 200.5", 1200.5), ("1e6", 1_000_000.0), ("-5", -5.0),
    ("(1,200)", -1200.0), ("$-3", -3.0), ("0", 0.0), (".5", 0.5),
])
def test_money_accepted(text: str, expected: float) -> None:
    p = parse_money(pd.Series([text]))
    assert not p.bad.any()
    assert p.values.iloc[0] == expected


@pytest.mark.parametrize("text", ["1.200,50", "1200,5", "1.000.000", "12,34"])
def test_money_decimal_comma_refused_without_the_option(text: str) -> None:
    p = parse_money(pd.Series([text]))
    assert p.bad.tolist() == [True]
    assert "re-run with --decimal-comma" in p.messages.iloc[0]


@pytest.mark.parametrize("text,expected", [
    ("1.200,50", 1200.5), ("1200,5", 1200.5), ("1.000.000", 1_000_000.0), ("12 345,67 EUR", 12345.67),
    ("1200", 1200.0), ("1,234", 1.234),
])
def test_money_with_decimal_comma(text: str, expected: float) -> None:
    p = parse_money(pd.Series([text]), decimal_comma=True)
    assert not p.bad.any()
    assert p.values.iloc[0] == pytest.approx(expected)


def test_money_currency_marks() -> None:
    p = parse_money(pd.Series(["EUR 5", "5 gbp", "£5", "$5", "5", ""]))
    assert p.currency.tolist() == ["EUR", "GBP", "GBP", None, None, None]


def test_dates() -> None:
    s = pd.Series(["2026-01-05", "2026-3-5", "2026-01-05 23:59:59", "2026-01-05T23:30:00Z",
                   "2026-01-05T10:00:00.123+02:00", "2026-01-05 10:23", "", "2026-02-29", "2024-02-29"])
    p = parse_date(s)
    assert p.values.dtype == np.dtype("datetime64[ns]")
    got = [None if pd.isna(v) else v.date().isoformat() for v in p.values]
    assert got == ["2026-01-05", "2026-03-05", "2026-01-05", "2026-01-05", "2026-01-05", "2026-01-05", None,
                   None, "2024-02-29"]
    assert p.bad.tolist() == [False] * 7 + [True, False]
    assert p.messages.iloc[7] == "is not a real calendar date; fix the date or leave it blank"


def test_bools_and_rates() -> None:
    b = parse_bool(pd.Series(["TRUE", "f", "Yes", "n", "1", "0", "t", "", "maybe"]))
    assert b.values.tolist()[:7] == [True, False, True, False, True, False, True]
    assert b.bad.tolist() == [False] * 8 + [True]
    r = parse_number(pd.Series(["20%", "0.2", " 12.5 % ", "1,5"]), percent=True)
    assert r.values.tolist()[:3] == [0.2, 0.2, 0.125]
    assert r.bad.tolist() == [False, False, False, True]


# -- presets and API surface -------------------------------------------------------------


def test_preset_names() -> None:
    assert preset_names() == ["plancast", "salesforce", "hubspot", "maven", "powerbi", "adventureworks"]


def test_preset_tables_name_real_columns() -> None:
    for preset in PRESETS.values():
        for kind_name, spec in preset.kinds.items():
            kind = KINDS[kind_name]
            assert set(spec.columns) <= set(kind.column_names), (preset.name, kind_name)
            assert {r.target for r in spec.derive} <= set(kind.column_names)
            assert set(spec.scale) <= set(kind.column_names)
        for stage in preset.stages:
            assert not (stage.is_won and not stage.is_closed), stage
            assert stage.probability is None or 0 <= stage.probability <= 1


def test_empty_frame_dtypes() -> None:
    frame = empty_frame("opportunities", 2)
    assert frame["opportunity_id"].dtype == object
    assert frame["amount"].dtype == np.float64
    assert frame["created_date"].dtype == np.dtype("datetime64[ns]")
    assert str(frame["is_won"].dtype) == "boolean"
    assert frame["currency"].tolist() == ["USD", "USD"]
    assert str(empty_frame("stages")["sort_order"].dtype) == "Int64"


def test_kind_aliases(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("opportunity_id,owner_id,stage,created_date\nO1,R1,Open,2026-01-05\n", encoding="utf-8")
    assert read(path, "deals").kind.name == "opportunities"


def test_accepted_suffixes_are_named_in_the_refusal(tmp_path: Path) -> None:
    path = tmp_path / "d.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(BadInput) as info:
        read(path, "opportunities")
    assert all(s in str(info.value) for s in ACCEPTED_SUFFIXES)


def test_bad_input_to_dict_shape(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("opportunity_id,owner_id,stage,created_date\nO1,,Open,2026-01-05\n", encoding="utf-8")
    with pytest.raises(BadInput) as info:
        read(path, "opportunities")
    d = info.value.to_dict()
    assert d["error"] == "BadInput"
    assert d["problems"] == [{"file": str(path), "row": 2, "column": "owner_id", "value": None,
                              "message": "is blank but required; fill it in (or remove the row)"}]
    assert "nothing was imported" in d["hint"]


def test_problems_are_capped_at_200_with_a_count(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    rows = "".join(f"O{i},R1,abc,Open,2026-01-05\n" for i in range(250))
    path.write_text("opportunity_id,owner_id,amount,stage,created_date\n" + rows, encoding="utf-8")
    with pytest.raises(BadInput) as info:
        read(path, "opportunities")
    problems = info.value.problems
    assert len(problems) == 201
    assert [p.row for p in problems[:3]] == [2, 3, 4]
    assert str(problems[-1]) == f"{path}: … and 50 more problems"
    assert "250 problems found" in info.value.message


def test_all_problems_are_collected_not_only_the_first(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "opportunity_id,owner_id,amount,stage,created_date\n"
        "O1,R1,abc,Open,2026-13-01\n"
        "O1,,5,Open,2026-01-05\n", encoding="utf-8")
    with pytest.raises(BadInput) as info:
        read(path, "opportunities")
    assert [(p.row, p.column) for p in info.value.problems] == [
        (2, "amount"), (2, "created_date"), (3, "owner_id"), (3, "opportunity_id")]


def test_xlsx_value_beyond_the_header(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "d.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["opportunity_id", "owner_id", "stage", "created_date"])
    ws.append(["O1", "R1", "Open", "2026-01-05", None, "note"])
    wb.save(path)
    with pytest.raises(BadInput) as info:
        read(path, "opportunities")
    assert lines(info.value.problems) == [
        f"{path}, row 2: has a value in column F, beyond the 4 header columns; give that column a header "
        "or clear the cell"]


def test_mapping_file_errors(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("opportunity_id,owner_id,stage,created_date\nO1,R1,Open,2026-01-05\n", encoding="utf-8")
    for name, content, expected in [
        ("m.json", "{}", "is not a mapping file: name it .toml or .yaml (got .json)"),
        ("m.toml", "[colums]\n", "column 'colums': is not a section of a mapping file; use [columns], "
                                 "[options] or [stages]"),
        ("m.yaml", "- a\n- b\n", "must be a table with [columns] (and optionally [options], [stages])"),
        ("m2.toml", '[options]\nencoding = "klingon"\n', "is not an encoding Python knows"),
        ("m3.toml", '[options]\ndate_format = "dd/mm/yyyy"\n', "has no strptime codes"),
        ("m4.toml", "[stages.Won]\nprobability = 100\n", "must be between 0 and 1"),
    ]:
        mapping = tmp_path / name
        mapping.write_text(content, encoding="utf-8")
        with pytest.raises(BadInput) as info:
            read(data, "opportunities", mapping=mapping)
        assert any(expected in line for line in lines(info.value.problems)), (name, lines(info.value.problems))
        assert all(p.file == str(mapping) for p in info.value.problems)
    with pytest.raises(BadInput) as info:
        read(data, "opportunities", mapping=tmp_path / "absent.toml")
    assert "no such mapping file" in str(info.value)


def test_mapping_encoding_option(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_bytes("account_id,name\nA1,Øresund\n".encode("cp865"))
    mapping = tmp_path / "m.toml"
    mapping.write_text('[options]\nencoding = "cp865"\n', encoding="utf-8")
    loaded = read(data, "accounts", mapping=mapping)
    assert loaded.frame["name"].tolist() == ["Øresund"]
    assert loaded.warnings == []


# -- check_frame on frames built in code ---------------------------------------------------


def opportunities_frame() -> pd.DataFrame:
    f = empty_frame("opportunities", 3)
    f["opportunity_id"] = pd.Series(["O1", "O2", "O3"], dtype=object)
    f["owner_id"] = pd.Series(["R1", "R1", "R2"], dtype=object)
    f["stage"] = pd.Series(["Won", "Open", "Won"], dtype=object)
    f["created_date"] = pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-07"])
    f["close_date"] = pd.to_datetime(["2026-02-01", None, "2026-01-01"])
    f["amount"] = [1000.0, np.nan, np.nan]
    f["is_closed"] = pd.array([True, False, True], dtype="boolean")
    f["is_won"] = pd.array([True, False, True], dtype="boolean")
    return f


def test_check_frame_passes_a_clean_frame() -> None:
    f = opportunities_frame().iloc[:2].copy()
    assert check_frame("opportunities", f, source="demo") == []


def test_check_frame_reports_rows_from_2() -> None:
    f = opportunities_frame()
    f.loc[1, "amount"] = -5.0
    assert lines(check_frame("opportunities", f, source="demo")) == [
        "demo, row 3, column 'amount', value '-5': is negative; amounts must be 0 or more — correct it or "
        "leave it blank",
        "demo, row 4, column 'close_date', value '2026-01-01': is before created_date 2026-01-07; a deal cannot "
        "close before it was created — fix either date",
        "demo, row 4, column 'amount': is blank on a closed-won deal; fill in the amount won",
    ]


def test_check_frame_with_row_numbers_and_missing_required_column() -> None:
    f = opportunities_frame().drop(columns=["owner_id"])
    problems = check_frame("opportunities", f, source="demo", rows=np.array([10, 11, 12]))
    assert lines(problems) == [
        "demo, column 'owner_id': required column is missing; add the column or map it with --mapping",
        "demo, row 12, column 'close_date', value '2026-01-01': is before created_date 2026-01-07; a deal "
        "cannot close before it was created — fix either date",
        "demo, row 12, column 'amount': is blank on a closed-won deal; fill in the amount won",
    ]


def test_check_frame_temporal_rules() -> None:
    f = empty_frame("territory_assignments", 4)
    f["account_id"] = pd.Series(["A1", "A1", "A1", "A2"], dtype=object)
    f["territory_id"] = pd.Series(["T1", "T2", "T3", "T1"], dtype=object)
    f["valid_from"] = pd.to_datetime(["2026-01-01", "2026-04-01", "2026-03-01", "2026-01-01"])
    f["valid_to"] = pd.to_datetime(["2026-04-01", None, "2026-03-15", "2026-01-01"])
    assert lines(check_frame("territory_assignments", f, source="demo")) == [
        "demo, row 4, column 'valid_from', value '2026-03-01': overlaps row 2 for the same account_id 'A1' "
        "(2026-01-01 to 2026-04-01); each account_id can have only one record at a time — end the other on or "
        "before 2026-03-01 (valid_to is exclusive)",
        "demo, row 5, column 'valid_to', value '2026-01-01': is the same day as valid_from; validity is "
        "[valid_from, valid_to), so this interval is empty — make valid_to later, or leave it blank for "
        "open-ended",
    ]


def test_adjacent_intervals_do_not_overlap() -> None:
    f = empty_frame("rep_assignments", 3)
    f["rep_id"] = pd.Series(["R1"] * 3, dtype=object)
    f["territory_id"] = pd.Series(["T1"] * 3, dtype=object)
    f["valid_from"] = pd.to_datetime(["2026-01-01", "2026-04-01", "2026-07-01"])
    f["valid_to"] = pd.to_datetime(["2026-04-01", "2026-07-01", None])
    assert check_frame("rep_assignments", f, source="demo") == []


def test_check_frame_fills_history_ids_in_place() -> None:
    f = empty_frame("opportunity_history", 2)
    f["opportunity_id"] = pd.Series(["O1", "O1"], dtype=object)
    f["changed_at"] = pd.to_datetime(["2026-01-05", "2026-02-05"])
    f["stage"] = pd.Series(["Open", "Won"], dtype=object)
    f["amount"] = [100.0, 120.0]
    assert check_frame("opportunity_history", f, source="demo") == []
    ids = f["history_id"].tolist()
    assert all(isinstance(i, str) and i.startswith("h") for i in ids) and ids[0] != ids[1]
    g = f.copy()
    g["history_id"] = pd.Series([None, None], dtype=object)
    check_frame("opportunity_history", g, source="demo")
    assert g["history_id"].tolist() == ids  # stable


# -- check_references ------------------------------------------------------------------------


def loaded_of(kind: str, frame: pd.DataFrame, stages: pd.DataFrame | None = None) -> Loaded:
    return Loaded(KINDS[kind], frame, "demo.csv", np.arange(2, 2 + len(frame), dtype=np.int64), [], stages)


def test_self_reference_within_the_file_counts() -> None:
    f = empty_frame("accounts", 3)
    f["account_id"] = pd.Series(["A1", "A2", "A3"], dtype=object)
    f["parent_account_id"] = pd.Series([None, "A1", "A9"], dtype=object)
    with pytest.raises(BadInput) as info:
        check_references(loaded_of("accounts", f), {"accounts": set()}, {})
    assert lines(info.value.problems) == [
        "demo.csv, row 4, column 'parent_account_id', value 'A9': no account with this id in the store or in "
        "this file; import the accounts first (plancast import accounts FILE) or fix the id"]
    ok = check_references(loaded_of("accounts", f), {"accounts": {"A9"}}, {})
    assert ok.frame["parent_account_id"].tolist() == [None, "A1", "A9"]


def test_stages_brought_by_the_preset_are_known() -> None:
    from plancast.ingest.presets import MAVEN, stages_frame

    f = opportunities_frame().iloc[:2].copy()
    f["is_closed"] = pd.array([pd.NA, pd.NA], dtype="boolean")
    f["is_won"] = pd.array([pd.NA, pd.NA], dtype="boolean")
    f["stage"] = pd.Series(["Won", "Engaging"], dtype=object)
    checked = check_references(loaded_of("opportunities", f, stages_frame(MAVEN.stages)),
                               {"reps": {"R1"}, "accounts": set(), "stages": set()}, {})
    assert checked.frame["is_closed"].tolist() == [True, False]
    assert checked.frame["is_won"].tolist() == [True, False]


def test_stage_flags_fill_reveals_closed_won_without_amount() -> None:
    f = opportunities_frame().iloc[:2].copy()
    f["amount"] = [np.nan, np.nan]
    f["is_closed"] = pd.array([pd.NA, False], dtype="boolean")
    f["is_won"] = pd.array([pd.NA, False], dtype="boolean")
    with pytest.raises(BadInput) as info:
        check_references(loaded_of("opportunities", f), {"reps": {"R1"}, "stages": {"Won", "Open"}}, {},
                         stage_flags={"Won": (True, True), "Open": (False, False)})
    assert lines(info.value.problems) == [
        "demo.csv, row 2, column 'amount': is blank on a closed-won deal; fill in the amount won"]


def test_quota_entities_are_checked_by_type() -> None:
    f = empty_frame("quotas", 3)
    f["entity_type"] = pd.Series(["rep", "territory", "company"], dtype=object)
    f["entity_id"] = pd.Series(["R9", "West", "ACME"], dtype=object)
    f["period"] = pd.Series(["FY2026"] * 3, dtype=object)
    f["amount"] = [1.0, 2.0, 3.0]
    periods = {"FY2026": (date(2026, 1, 1), date(2027, 1, 1))}
    with pytest.raises(BadInput) as info:
        check_references(loaded_of("quotas", f), {"reps": {"R1"}, "territories": {"West"}}, periods)
    assert lines(info.value.problems) == [
        "demo.csv, row 2, column 'entity_id', value 'R9': no rep with this id in the store; import the reps "
        "first (plancast import reps FILE) or fix the id"]


def test_given_validity_is_kept_and_checked_against_the_period() -> None:
    f = empty_frame("quotas", 2)
    f["entity_id"] = pd.Series(["R1", "R2"], dtype=object)
    f["period"] = pd.Series(["FY2026", "FY2026"], dtype=object)
    f["amount"] = [1.0, 2.0]
    f["valid_from"] = pd.to_datetime(["2026-04-01", "2027-02-01"])
    periods = {"FY2026": (date(2026, 1, 1), date(2027, 1, 1))}
    with pytest.raises(BadInput) as info:
        check_references(loaded_of("quotas", f), {"reps": {"R1", "R2"}}, periods)
    assert lines(info.value.problems) == [
        "demo.csv, row 3, column 'valid_to', value '2027-01-01': is before valid_from 2027-02-01; make valid_to "
        "later than valid_from, or leave it blank for open-ended"]
    f.loc[1, "valid_from"] = pd.Timestamp("2026-06-01")
    checked = check_references(loaded_of("quotas", f), {"reps": {"R1", "R2"}}, periods)
    assert checked.frame["valid_from"].dt.date.tolist() == [date(2026, 4, 1), date(2026, 6, 1)]
    assert checked.frame["valid_to"].dt.date.tolist() == [date(2027, 1, 1)] * 2


# -- speed ---------------------------------------------------------------------------------------


def test_100k_rows_read_whole_and_exact(tmp_path: Path) -> None:
    """Large files go through the same vectorised path (speed is measured in bench/)."""
    rng = np.random.default_rng(20260101)
    n = 100_000
    created = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    close = created + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
    stage = rng.choice(np.array(["Prospecting", "Closed Won", "Closed Lost"]), n)
    ids = pd.Series(np.arange(n)).astype(str)
    frame = pd.DataFrame({
        "opportunity_id": "O" + ids,
        "account_id": "A" + (pd.Series(np.arange(n)) % 5000).astype(str),
        "owner_id": "R" + (pd.Series(np.arange(n)) % 300).astype(str),
        "amount": np.round(rng.gamma(2.0, 20000, n), 2),
        "stage": stage,
        "created_date": created.strftime("%Y-%m-%d"),
        "close_date": close.strftime("%Y-%m-%d %H:%M:%S"),
        "is_closed": np.where(stage != "Prospecting", "true", "false"),
        "is_won": np.where(stage == "Closed Won", "1", "0"),
    })
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    loaded = read(path, "opportunities")
    assert len(loaded.frame) == n
    assert loaded.rows[-1] == n + 1
    assert loaded.frame["amount"].sum() == pytest.approx(frame["amount"].sum(), abs=0.01)
    assert (loaded.frame["is_won"] == (stage == "Closed Won")).all()
    assert (loaded.frame["close_date"] == close.normalize()).all()


def test_quoted_single_column_header_names_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('"opportunity_id;owner_id;stage;created_date"\n"O1;R1;Open;2026-01-05"\n', encoding="utf-8")
    with pytest.raises(BadInput) as info:
        read(path, "opportunities")
    assert lines(info.value.problems) == [
        f"{path}, row 1, value 'opportunity_id;owner_id;stage;created_date': the header is a single column, "
        "but the file looks like it is delimited by ';'; set delimiter = \";\" under [options] in a --mapping "
        "file (plancast detected ',')"]


# -- countries, presets without a layout, quotas named by date --------------------------------------


def test_country_spellings_and_country_names_in_state(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text(
        "account_id,country,state\n"
        "A1,US,TX\nA2,USA,CA\nA3,United States,IN\nA4,usa,GA\nA5,UK,\nA6,United Kingdom,\n"
        "A7,,Singapore\nA8,France,UK\nA9,,Georgia\nA10,Singapore,Singapore\nA11,Japan,\n")
    loaded = read(path, "accounts")
    assert loaded.frame["country"].tolist()[:4] == ["US", "USA", "United States", "usa"]  # kept as written
    # spellings per country, in sorted order; codes in the state column (CA, IN, GA) are states, and so is Georgia;
    # Singapore in the state of a Singapore account is not a misplaced country
    assert loaded.warnings == [
        f"{path}: country spells 2 countries several ways (UK 1, United Kingdom 1; US 1, USA 1, United States 1, "
        "usa 1): kept as written; assignment rules on country must list each spelling",
        f"{path}: 2 accounts have a country name in state (Singapore 1, UK 1) (1 without country, 1 with another "
        "country there): kept as written; assignment rules on country read only country (set country in the CRM)",
    ]


def test_one_spelling_per_country_is_not_warned(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,country,state\nA1,United States,CA\nA2,United States,NY\nA3,Korea,\n")
    assert read(path, "accounts").warnings == []


def test_a_preset_without_a_layout_reads_canonical_names_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,name\nA1,Acme\n")
    loaded = read(path, "accounts", preset="maven")  # maven lays out accounts: no warning
    assert not any("no layout" in w for w in loaded.warnings)
    loaded = read(path, "accounts", preset="adventureworks")
    assert loaded.frame["account_id"].tolist() == ["A1"]
    assert loaded.warnings == [f"{path}: the adventureworks preset has no layout for accounts, so the file was read "
                               "with plancast's own column names"]
    path.write_text("Id,Company\nA1,Acme\n")
    with pytest.raises(BadInput) as info:
        read(path, "accounts", preset="maven")  # a layout, but the wrong file: the usual missing-column problem
    assert "required column is missing" in info.value.problems[0].message
    with pytest.raises(BadInput) as info:
        read(path, "stages", preset="powerbi")
    assert lines(info.value.problems) == [
        f"{path}: the powerbi preset has no layout for stages: it lays out opportunities, reps, accounts, "
        "territory-assignments and territories only, and this file does not have the columns of stages under "
        "plancast's own names"]


def _aw_quotas(tmp_path: Path, *dates: str) -> Path:
    path = tmp_path / "SalesPersonQuotaHistory.csv"
    path.write_text("".join(f"{274 + i}\t{d} 00:00:00\t1000\t{{G{i}}}\t2012-04-15 00:00:00\n"
                            for i, d in enumerate(dates)))
    return path


def _fy_periods(*years: int, start_month: int) -> dict:
    from plancast.calendar import fiscal_year_periods

    out = {}
    for y in years:
        p = fiscal_year_periods(y, start_month)
        out.update({r.period_id: (r.start_date.date(), r.end_date.date()) for r in p.itertuples()})
    return out


def test_a_quota_date_far_from_every_quarter_start_of_a_fitting_calendar_is_listed_by_row(tmp_path: Path) -> None:
    path = _aw_quotas(tmp_path, "2012-05-30", "2012-07-15", "2012-08-30")
    loaded = read(path, "quotas", preset="adventureworks")
    with pytest.raises(BadInput) as info:
        check_references(loaded, {"reps": {"274", "275", "276"}}, _fy_periods(2013, start_month=6))
    assert lines(info.value.problems) == [
        f"{path}, row 2, column 'QuotaDate', value '2012-07-15': is not within 7 days of the first day of a quarter "
        "in the store's calendar (nearest: 2013Q1 from 2012-06-01); quotas dated by quarter must fall within 7 days "
        "of the quarter's first day — fix the date, or give a period column"]
    assert info.value.hint == "fix the dates listed, or give a period column, then import again; nothing was imported"
    ok = check_references(read(_aw_quotas(tmp_path, "2012-05-30", "2012-08-30"), "quotas", preset="adventureworks"),
                          {"reps": {"274", "275"}}, _fy_periods(2013, start_month=6))
    assert ok.frame["period"].tolist() == ["2013Q1", "2013Q2"]


def test_quota_dates_of_no_one_calendar_without_quarters_are_refused_once(tmp_path: Path) -> None:
    path = _aw_quotas(tmp_path, "2012-06-01", "2012-07-01")  # June and July cannot both start quarters
    loaded = read(path, "quotas", preset="adventureworks")
    with pytest.raises(BadInput) as info:
        check_references(loaded, {"reps": {"274", "275"}}, {})
    assert lines(info.value.problems) == [
        f"{path}, column 'QuotaDate': no fiscal quarters in the store cover the QuotaDate dates 2012-06-01 … "
        "2012-07-01 (2 rows), and the dates do not fall near the quarter starts of any one calendar (nearest first "
        "days of a month: 2012-06-01 1, 2012-07-01 1); give a period column"]
