"""Every bad input in tests/fixtures/bad/cases.toml must be refused with its message.

Each case pins the exact ``str(Problem)`` lines (file, row, column, value and
the text that says what to do), so a change of wording is a reviewed diff of
the manifest, not an accident.
"""

from __future__ import annotations

import csv
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from plancast.errors import BadInput
from plancast.ingest import check_references, read

FIXTURES = Path(__file__).parent / "fixtures" / "bad"
MANIFEST = FIXTURES / "cases.toml"


def load_cases() -> list[dict[str, Any]]:
    with MANIFEST.open("rb") as fh:
        return tomllib.load(fh)["case"]


def _cell(value: str) -> object:
    """A CSV cell as Excel would hold it once typed in: number, date or text."""
    if value == "":
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def materialise(case: dict[str, Any], tmp: Path) -> Path:
    """The file read() gets: the fixture itself, or its xlsx / parquet twin in ``tmp``."""
    path = FIXTURES / case["file"]
    convert = case.get("convert")
    if convert is None:
        return path
    with path.open(newline="", encoding="utf-8") as fh:
        records = list(csv.reader(fh))
    header, body = records[0], records[1:]
    out = tmp / f"{path.stem}.{convert}"
    if convert == "xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Opportunities"
        ws.append(header)
        for rec in body:
            ws.append([_cell(v) for v in rec])
        wb.save(out)
    elif convert == "parquet":
        frame = pd.DataFrame(body, columns=header, dtype=object)
        for col, typ in case.get("parquet_types", {}).items():
            if typ == "date":
                frame[col] = pd.to_datetime(frame[col], format="%Y-%m-%d").dt.date
            elif typ == "float":
                frame[col] = pd.to_numeric(frame[col])
            elif typ == "bool":
                frame[col] = frame[col].str.lower().map({"true": True, "false": False})
        frame.to_parquet(out, index=False)
    else:  # pragma: no cover - manifest typo
        raise ValueError(f"unknown convert {convert!r}")
    return out


def run_case(case: dict[str, Any], tmp: Path) -> tuple[list[str], BadInput]:
    """Return the problem lines (placeholders put back) and the exception."""
    path = materialise(case, tmp)
    mapping = FIXTURES / case["mapping"] if "mapping" in case else None
    kwargs: dict[str, Any] = {
        "preset": case.get("preset"),
        "mapping": mapping,
        "decimal_comma": case.get("decimal_comma", False),
        "sheet": case.get("sheet"),
    }
    needs_store = any(k in case for k in ("known", "periods", "stage_flags"))
    with pytest.raises(BadInput) as info:
        loaded = read(str(path), case["kind"], **kwargs)
        if not needs_store:
            pytest.fail(f"read() accepted {case['file']}; warnings: {loaded.warnings}")
        known = {k: set(v) for k, v in case.get("known", {}).items()}
        periods = {p: (date.fromisoformat(a), date.fromisoformat(b)) for p, (a, b) in case.get("periods", {}).items()}
        flags = {s: (bool(c), bool(w)) for s, (c, w) in case.get("stage_flags", {}).items()}
        check_references(loaded, known, periods, stage_flags=flags)
    err = info.value
    lines = [str(p) for p in err.problems]
    lines = [line.replace(str(path), "{file}") for line in lines]
    if mapping is not None:
        lines = [line.replace(str(mapping), "{mapping}") for line in lines]
    return lines, err


CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input_is_refused_with_its_message(case: dict[str, Any], tmp_path: Path) -> None:
    lines, err = run_case(case, tmp_path)
    assert err.problems, "a refusal must list at least one problem"
    assert err.hint, "a refusal must say what to do next"
    if "problems" in case:
        assert sorted(lines) == sorted(case["problems"])
    for fragment in case.get("contains", []):
        assert any(fragment in line for line in lines), (fragment, lines)


def test_manifest_is_complete() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert len(CASES) >= 34
    for case in CASES:
        assert "problems" in case or "contains" in case, case["name"]
        if case["name"] != "no such file":
            assert (FIXTURES / case["file"]).exists(), case["file"]
        if "mapping" in case:
            assert (FIXTURES / case["mapping"]).exists(), case["mapping"]


def test_every_fixture_file_is_used() -> None:
    used = {c["file"] for c in CASES} | {c["mapping"] for c in CASES if "mapping" in c}
    present = {p.name for p in FIXTURES.iterdir() if p.name != "cases.toml"}
    assert present <= used, sorted(present - used)
