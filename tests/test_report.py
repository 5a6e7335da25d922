"""The shareable report: one self-contained HTML file and its XLSX twin, from a diagnosis dict.

Expected figures are worked out here from the fixture's numbers, not read back
from the renderer.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from plancast.report import render_html, render_xlsx

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "report" / "diagnosis.json"
EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def diag() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def html(diag: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    path = render_html(diag, tmp_path_factory.mktemp("html") / "report.html")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def workbook(diag: dict[str, Any], tmp_path_factory: pytest.TempPathFactory):
    return load_workbook(render_xlsx(diag, tmp_path_factory.mktemp("xlsx") / "report.xlsx"))


def _row(diag: dict[str, Any], level: str, entity: str) -> dict[str, Any]:
    return next(r for r in diag["rows"] if r["level"] == level and r["entity"] == entity)


def _svg(html: str, kind: str, entity: str) -> str:
    found = re.findall(rf'<svg class="chart {kind}" data-entity="{re.escape(entity)}".*?</svg>', html, re.S)
    assert len(found) == 1, f"{len(found)} {kind} charts for {entity}"
    return found[0]


def test_html_needs_no_network(html: str) -> None:
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"\b(src|href)\s*=", html, re.I)
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # the browser may not fetch anything either


def test_title_block(html: str) -> None:
    for label, value in (("Period", "2026Q2"), ("As of", "2026-05-15"), ("Known at", "2026-05-15T23:59:59"),
                         ("Forecast run", "1"), ("Plan", "FY2026")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in html


def test_headline_per_region_and_company(diag: dict[str, Any], html: str) -> None:
    # pinned: West projects 732,986 / 1,231,910 = 59.5% -> 60%, the plan 85%, so a 25-point gap,
    # 74% / 26% by the diagnosis summary
    assert ("<strong>West:</strong> projection 60% of quota vs 85% the plan expected; of the 25-point gap vs plan, "
            "74% planning (mostly territory sizing), 26% execution.") in html
    assert "<strong>East:</strong> projection 85% of quota vs 85% the plan expected; on plan." in html
    summaries = {**diag["summary"]["regions"], "company": diag["summary"]["company"]}
    for entity, s in summaries.items():
        row = _row(diag, "company" if entity == "company" else "region", entity)
        projected = round(100 * row["projected_mean"] / row["quota"])
        plan = round(100 * row["plan_expected"] / row["quota"])
        gap = plan - projected
        if gap == 0:
            continue
        what = f"{gap}-point gap vs plan" if gap > 0 else f"{-gap}-point lead over plan"
        expected = (f"<strong>{row['name']}:</strong> projection {projected}% of quota vs {plan}% the plan expected; "
                    f"of the {what}, {round(100 * s['planning_share'])}% planning (mostly territory sizing), "
                    f"{round(100 * s['execution_share'])}% execution.")
        assert expected in html


def test_one_fan_chart_and_one_waterfall_per_region(diag: dict[str, Any], html: str) -> None:
    regions = [r["entity"] for r in diag["rows"] if r["level"] == "region"]
    assert regions == ["East", "Central", "West"]
    for entity in [*regions, "company"]:
        _svg(html, "fan", entity)
        _svg(html, "waterfall", entity)
    assert html.count("<svg") == 2 * (len(regions) + 1)
    # a region's fan has a row per rep and one for the region; the company's, one per region and its own
    west_reps = [r for r in diag["rows"] if r["level"] == "rep" and r["parent"] == "West-MM"]
    assert _svg(html, "fan", "West").count('class="fan-row') == len(west_reps) + 1
    assert _svg(html, "fan", "company").count('class="fan-row') == len(regions) + 1


def test_waterfall_steps_are_the_variance_parts(diag: dict[str, Any], html: str) -> None:
    west = _row(diag, "region", "West")
    q = west["quota"]
    svg = _svg(html, "waterfall", "West")
    labels = re.findall(r'class="bar-value"[^>]*>([^<]*)<', svg)
    parts = [f"{100 * west[k] / q:+.1f} pts" for k in ("stretch", "planning_variance", "execution_variance")]
    expected = ["100.0%", *(p.replace("-", "\u2212") for p in parts), f"{100 * west['projected_mean'] / q:.1f}%"]
    assert labels == expected == ["100.0%", "\u221215.0 pts", "\u221218.9 pts", "\u22126.6 pts", "59.5%"]


def test_waterfall_shows_what_the_parts_leave_unexplained(diag: dict[str, Any], tmp_path: Path) -> None:
    d = copy.deepcopy(diag)
    west = _row(d, "region", "West")
    west["projected_mean"] += 0.02 * west["quota"]  # the parts no longer add up to the projection
    svg = _svg(render_html(d, tmp_path / "r.html").read_text(encoding="utf-8"), "waterfall", "West")
    labels = re.findall(r'class="bar-value"[^>]*>([^<]*)<', svg)
    assert labels == ["100.0%", "\u221215.0 pts", "\u221218.9 pts", "\u22126.6 pts", "+2.0 pts", "61.5%"]
    assert svg.count('class="step step-other"') == 1


def test_headline_in_points_when_the_parts_pull_apart(diag: dict[str, Any], tmp_path: Path) -> None:
    d = copy.deepcopy(diag)
    del d["summary"]  # shares then come from the row: -30 / -25 and +5 / -25 are not shares
    west = _row(d, "region", "West")
    q = west["quota"]
    west["planning_variance"], west["execution_variance"] = -0.30 * q, 0.05 * q
    west["projected_mean"] = west["plan_expected"] - 0.25 * q
    text = render_html(d, tmp_path / "r.html").read_text(encoding="utf-8")
    assert ("<strong>West:</strong> projection 60% of quota vs 85% the plan expected; of the 25-point gap vs plan, "
            "planning \u221230 points (mostly territory sizing), execution +5 points.") in text


def test_money_and_percent_of_quota(diag: dict[str, Any], html: str) -> None:
    assert "$1,231,910" in html  # East's quota 1,231,909.77
    assert "\u2212$232,831" in html  # West's planning variance, with a real minus sign
    west = _row(diag, "region", "West")
    assert f"{100 * west['fair_expected'] / west['quota']:.1f}%" == "66.1%"
    assert '<span class="m">$814,292</span><span class="q">66.1%</span>' in html


def test_flags_grouped_with_test_and_evidence(html: str) -> None:
    flags = html[html.index('<section id="flags">'):]
    capacity, execution = flags.index("Capacity signals"), flags.index("Execution signals")
    assert capacity < flags.index("140 effective accounts of 180 planned") < execution
    assert execution < flags.index("W03 wins 14% of closed deals")
    assert "Test: Fisher exact test, one-sided, p = 0.004" in flags
    assert "<dt>peer closed</dt><dd>410</dd>" in flags
    assert "Test: none" in flags  # the sizing flag is a count, not a test


def test_a_flag_says_who_it_is_about_once(diag: dict[str, Any], tmp_path: Path) -> None:
    """A message the diagnosis led with the entity's kind, name and id ("rep Ann Lee (W03): …") is not
    followed by the same label again; a bare message gets it beside."""
    flag = next(f for f in diag["flags"] if f["level"] == "rep" and f["entity"] == "W03")
    name = _row(diag, "rep", "W03")["name"]
    where = f'<span class="where">rep {name} (W03) \u00b7 <span class="code">{flag["code"]}</span></span>'
    assert where in render_html(diag, tmp_path / "bare.html").read_text(encoding="utf-8")
    d = copy.deepcopy(diag)
    f = next(f for f in d["flags"] if f["level"] == "rep" and f["entity"] == "W03")
    f["message"] = f"rep {name} (W03): {f['message']}"
    html = render_html(d, tmp_path / "labelled.html").read_text(encoding="utf-8")
    assert f'<span class="message">rep {name} (W03): {flag["message"]}</span>' in html
    assert where not in html and f'<span class="where"><span class="code">{flag["code"]}</span></span>' in html


def test_same_dict_same_bytes(diag: dict[str, Any], tmp_path: Path) -> None:
    a, b = render_html(diag, tmp_path / "a.html"), render_html(copy.deepcopy(diag), tmp_path / "b.html")
    assert a.read_bytes() == b.read_bytes()


def test_user_text_is_escaped(diag: dict[str, Any], tmp_path: Path) -> None:
    d = copy.deepcopy(diag)
    _row(d, "rep", "W03")["name"] = EVIL
    _row(d, "region", "West")["name"] = EVIL
    d["flags"][0]["message"] = EVIL
    d["notes"] = [EVIL]
    text = render_html(d, tmp_path / "evil.html").read_text(encoding="utf-8")
    assert "<script" not in text
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


def test_tolerates_missing_keys_and_nan(diag: dict[str, Any], tmp_path: Path) -> None:
    d = copy.deepcopy(diag)
    del d["notes"]
    for r in d["rows"]:
        r.pop("name"), r.pop("parent")
    w01 = _row(d, "rep", "W01")
    w01["p10"], w01["p90"], w01["fair_expected"] = math.nan, None, "n/a"
    w01["drivers"] = {}
    for f in d["flags"]:
        for key in ("p_value", "test", "evidence"):
            f.pop(key)
    text = render_html(d, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "projection 60% of quota vs 85% the plan expected" in text
    wb = load_workbook(render_xlsx(d, tmp_path / "r.xlsx"))
    reps = wb["Reps"]
    header = [c.value for c in reps[1]]
    w01_row = next(row for row in reps.iter_rows(min_row=2) if row[1].value == "W01")
    assert w01_row[header.index("P10")].value is None and w01_row[header.index("Fair expected")].value is None


def test_xlsx_sheets_rows_and_values(diag: dict[str, Any], workbook) -> None:
    assert workbook.sheetnames == ["Summary", "Variance", "Reps", "Flags"]
    variance, reps, flags = workbook["Variance"], workbook["Reps"], workbook["Flags"]
    assert variance.max_row == 1 + len(diag["rows"])
    assert reps.max_row == 1 + sum(r["level"] == "rep" for r in diag["rows"])
    assert flags.max_row == 1 + len(diag["flags"])
    for ws in (variance, reps, flags):
        assert ws.freeze_panes is not None and ws.freeze_panes.endswith("2")
        assert all(c.font.bold for c in ws[1])

    header = [c.value for c in variance[1]]
    west = _row(diag, "region", "West")
    cells = next(row for row in variance.iter_rows(min_row=2) if row[0].value == "region" and row[1].value == "West")
    quota = cells[header.index("Quota")]
    assert quota.value == west["quota"] and "#,##0" in quota.number_format
    # Excel keeps 15 significant digits
    accounts = west["drivers"]["planning"]["accounts"]
    assert cells[header.index("Planning: accounts")].value == pytest.approx(accounts, rel=1e-14)
    assert cells[header.index("Projected % of quota")].value == pytest.approx(west["projected_mean"] / west["quota"])
    assert cells[header.index("Region")].value == "West"
    # reps carry their region, found through their territory
    rep_header = [c.value for c in reps[1]]
    w03 = next(row for row in reps.iter_rows(min_row=2) if row[rep_header.index("Rep")].value == "W03")
    assert w03[rep_header.index("Region")].value == "West"

    summary = workbook["Summary"]
    s_header = [c.value for c in summary[1]]
    s_west = next(row for row in summary.iter_rows(min_row=2) if row[0].value == "West")
    assert s_west[s_header.index("Planning share")].value == diag["summary"]["regions"]["West"]["planning_share"]
    assert s_west[s_header.index("Headline")].value.startswith("West: projection 60% of quota vs 85%")


def test_xlsx_user_text_is_never_a_formula(diag: dict[str, Any], tmp_path: Path) -> None:
    d = copy.deepcopy(diag)
    _row(d, "rep", "W03")["name"] = '=HYPERLINK("x","y")'
    ws = load_workbook(render_xlsx(d, tmp_path / "f.xlsx"))["Reps"]
    cell = next(row[2] for row in ws.iter_rows(min_row=2) if row[1].value == "W03")
    assert cell.value == '=HYPERLINK("x","y")' and cell.data_type == "s"


def test_headline_names_the_driver_behind_the_planning_variance(diag: dict[str, Any], tmp_path: Path) -> None:
    d = json.loads(json.dumps(diag))
    west = next(r for r in d["rows"] if r["level"] == "region" and r["entity"] == "West")
    west["drivers"]["planning"] = {"accounts": -1000.0, "opportunity_rate": 0.0, "win_rate": 0.0, "asp": -90_000.0,
                                   "timing": 0.0}
    html = render_html(d, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "74% planning (mostly deal size), 26% execution." in html


def test_points_not_shares_when_the_parts_pull_apart_even_with_a_summary(diag: dict[str, Any],
                                                                          tmp_path: Path) -> None:
    d = copy.deepcopy(diag)
    west = _row(d, "region", "West")
    q = west["quota"]
    west["planning_variance"], west["execution_variance"] = -0.30 * q, 0.05 * q
    west["projected_mean"] = west["plan_expected"] - 0.25 * q
    d["summary"]["regions"]["West"].update(planning_share=30 / 35, execution_share=5 / 35)  # shares of the gross
    text = render_html(d, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "planning \u221230 points (mostly territory sizing), execution +5 points." in text
    assert "86% planning" not in text


def test_large_evidence_numbers_are_written_out() -> None:
    from plancast.report import _evidence_value

    assert _evidence_value(1_047_123.29) == "1,047,123"
    assert _evidence_value(0.77777) == "0.7778"
    assert _evidence_value(140.0) == "140"
