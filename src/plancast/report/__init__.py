"""The shareable report of a diagnosis: one self-contained HTML file and its XLSX twin.

Both render the JSON-able dict the diagnosis produces (``period``, ``as_of``,
``known_at``, ``forecast_run``, ``plan_id``, ``rows``, ``summary``, ``flags``,
``notes``). Every figure is read from that dict; nothing is recomputed except
percentages of quota (``value / quota``) and the chart geometry.

The HTML file is meant to be sent by email: styles and charts are inline
(hand-built SVG), it references no network resource, and a Content-Security-Policy
forbids the browser from fetching any. Entity names are user data and are
escaped by the template engine (autoescape on). The same dict always renders
to the same bytes.

Headline (per region and for the company)::

    West: projection 60% of quota vs 85% the plan expected; of the 25-point gap
    vs plan, 74% planning (mostly territory sizing), 26% execution.

Attainment percentages are rounded to whole points and the gap is the
difference of the two rounded figures, so the sentence adds up as read. The
planning / execution shares are the diagnosis summary's (``summary.regions`` /
``summary.company``), or ``planning / (planning + execution)`` of the row when
the summary lacks them; when the two parts pull in opposite directions the
headline gives each in points instead of shares.

The waterfall reads ``F = Q + stretch + planning + execution`` in % of quota
(``docs/methodology.md``, "Variance"); a residual of more than 0.05 points
between the parts and the projection is drawn as its own "Other" step.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["render_html", "render_xlsx"]

DRIVERS: tuple[tuple[str, str], ...] = (
    ("accounts", "Accounts"),
    ("opportunity_rate", "Opp. rate"),
    ("win_rate", "Win rate"),
    ("asp", "ASP"),
    ("timing", "Timing"),
)
PARTS = ("planning", "execution")
FLAG_KINDS: tuple[tuple[str, str, str], ...] = (
    ("capacity", "Capacity signals", "the territory yields more or less than the plan assumed (planning)"),
    ("execution", "Execution signals", "the rep under-performs peers on a fair territory"),
)
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
RESIDUAL_POINTS = 0.05  # an "Other" waterfall step appears above this many points of quota
MINUS = "\u2212"
EN_DASH = "\u2013"
DASH = "\u2014"


# ---------------------------------------------------------------------------
# Reading the diagnosis
# ---------------------------------------------------------------------------


def _num(value: object) -> float | None:
    """A finite float, or None for missing, non-numeric, NaN and infinite values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _ratio(value: float | None, quota: float | None) -> float | None:
    if value is None or quota is None or quota == 0:
        return None
    return value / quota


@dataclass(frozen=True)
class Row:
    """One entity of the diagnosis, numbers cleaned (None when missing or not finite)."""

    level: str
    entity: str
    name: str
    parent: str
    quota: float | None
    closed_won: float | None
    plan_expected: float | None
    fair_expected: float | None
    projected_mean: float | None
    p10: float | None
    p50: float | None
    p90: float | None
    prob_quota: float | None
    stretch: float | None
    planning: float | None
    execution: float | None
    drivers: Mapping[str, Mapping[str, float | None]]

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> Row:
        drivers_raw = raw.get("drivers") or {}
        drivers = {
            part: {key: _num((drivers_raw.get(part) or {}).get(key)) for key, _ in DRIVERS} for part in PARTS
        }
        entity = _text(raw.get("entity"))
        return cls(
            level=_text(raw.get("level")),
            entity=entity,
            name=_text(raw.get("name")) or entity,
            parent=_text(raw.get("parent")),
            quota=_num(raw.get("quota")),
            closed_won=_num(raw.get("closed_won")),
            plan_expected=_num(raw.get("plan_expected")),
            fair_expected=_num(raw.get("fair_expected")),
            projected_mean=_num(raw.get("projected_mean")),
            p10=_num(raw.get("p10")),
            p50=_num(raw.get("p50")),
            p90=_num(raw.get("p90")),
            prob_quota=_num(raw.get("prob_quota")),
            stretch=_num(raw.get("stretch")),
            planning=_num(raw.get("planning_variance")),
            execution=_num(raw.get("execution_variance")),
            drivers=drivers,
        )

    def of_quota(self, value: float | None) -> float | None:
        """``value`` as a fraction of this entity's quota."""
        return _ratio(value, self.quota)

    @property
    def label(self) -> str:
        """How a headline names the entity: ``West``; ``territory US-WEST CA (2)``, ``rep W03``."""
        return _label(self.level, self.entity, self.name)


#: levels named with their kind and id, as the diagnosis's flags name them
KIND_LEVELS = ("rep", "territory")


def _label(level: str, entity: str, name: str) -> str:
    """``territory US-WEST CA (2)``, ``rep W03`` (no name, or the name is the id); a region by its name."""
    if level not in KIND_LEVELS:
        return name or entity
    named = name and name.casefold() != entity.casefold()
    return f"{level} {name} ({entity})" if named else f"{level} {entity}"


@dataclass(frozen=True)
class Flag:
    kind: str
    code: str
    severity: str
    level: str
    entity: str
    name: str
    message: str
    test: str
    p_value: float | None
    evidence: tuple[tuple[str, str], ...]

    @classmethod
    def read(cls, raw: Mapping[str, Any], names: Mapping[tuple[str, str], str]) -> Flag:
        level, entity = _text(raw.get("level")), _text(raw.get("entity"))
        evidence = raw.get("evidence") or {}
        return cls(
            kind=_text(raw.get("kind")),
            code=_text(raw.get("code")),
            severity=_text(raw.get("severity")).lower(),
            level=level,
            entity=entity,
            name=names.get((level, entity), entity),
            message=_text(raw.get("message")),
            test=_text(raw.get("test")),
            p_value=_num(raw.get("p_value")),
            evidence=tuple((str(k), _evidence_value(v)) for k, v in evidence.items())
            if isinstance(evidence, Mapping)
            else (("evidence", _evidence_value(evidence)),),
        )

    @property
    def label(self) -> str:
        """``territory US-WEST CA (2)``; the kind, name and id of the flagged entity."""
        if self.level in KIND_LEVELS:
            return _label(self.level, self.entity, self.name)
        return f"{self.level} {self.name}" + (f" ({self.entity})" if self.name != self.entity else "")

    @property
    def names_itself(self) -> bool:
        """The message already leads with the entity's label (the diagnosis's flags do)."""
        return self.message.startswith(f"{self.label}:")


def _evidence_value(value: object) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return DASH
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"  # never 1.047e+06
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class Headline:
    level: str
    entity: str
    label: str
    projected_pct: int | None
    plan_pct: int | None
    planning_share: float | None
    execution_share: float | None
    text: str  # the sentence after "label: "


def _headline(row: Row, summary: Mapping[str, Any] | None) -> Headline:
    projected, plan = row.of_quota(row.projected_mean), row.of_quota(row.plan_expected)
    p_share, e_share = _shares(row, summary or {})
    if projected is None or plan is None:
        text = "projection or plan expectation not available."
        return Headline(row.level, row.entity, row.label, None, None, p_share, e_share, text)
    proj_pct, plan_pct = round(100 * projected), round(100 * plan)
    gap = _gap_text(row, plan_pct - proj_pct, p_share, e_share)
    text = f"projection {proj_pct}% of quota vs {plan_pct}% the plan expected; {gap}"
    return Headline(row.level, row.entity, row.label, proj_pct, plan_pct, p_share, e_share, text)


#: what a planning variance led by each driver is, in a headline
_PLANNING_CAUSE = {"accounts": "territory sizing", "opportunity_rate": "opportunity rate", "win_rate": "win rate",
                   "asp": "deal size", "timing": "timing and ramp"}


def _planning_cause(row: Row) -> str:
    """The driver behind most of the row's planning variance, in words."""
    parts = row.drivers.get("planning") or {}
    sized = {k: abs(v) for k, v in parts.items() if v is not None}
    if not sized or max(sized.values()) == 0:
        return "territory sizing"
    return _PLANNING_CAUSE.get(max(sized, key=lambda k: sized[k]), "territory sizing")


def _gap_text(row: Row, gap: int, p_share: float | None, e_share: float | None) -> str:
    """The second half of a headline: the gap vs plan (in rounded points) and how it splits."""
    if gap == 0:
        return "on plan."
    what = f"{gap}-point gap vs plan" if gap > 0 else f"{-gap}-point lead over plan"
    apart = row.planning is not None and row.execution is not None and row.planning * row.execution < 0
    if not apart and p_share is not None and e_share is not None and 0 <= p_share <= 1 and 0 <= e_share <= 1:
        return (f"of the {what}, {round(100 * p_share)}% planning (mostly {_planning_cause(row)}), "
                f"{round(100 * e_share)}% execution.")
    p_pts, e_pts = row.of_quota(row.planning), row.of_quota(row.execution)
    if p_pts is None or e_pts is None:
        return f"a {what}."
    return (
        f"of the {what}, planning {_signed_int(100 * p_pts)} points (mostly {_planning_cause(row)}), "
        f"execution {_signed_int(100 * e_pts)} points."
    )


def _shares(row: Row, summary: Mapping[str, Any]) -> tuple[float | None, float | None]:
    p_share, e_share = _num(summary.get("planning_share")), _num(summary.get("execution_share"))
    if p_share is not None and e_share is not None:
        return p_share, e_share
    if row.planning is None or row.execution is None or row.planning + row.execution == 0:
        return None, None
    total = row.planning + row.execution
    return row.planning / total, row.execution / total


def _signed_int(x: float) -> str:
    n = round(x)
    return f"+{n}" if n > 0 else (f"{MINUS}{-n}" if n < 0 else "0")


class Diagnosis:
    """The diagnosis dict, read once: rows by level, regions of every entity, flags, headlines."""

    def __init__(self, diag: Mapping[str, Any]) -> None:
        self.period = _text(diag.get("period"))
        self.as_of = _text(diag.get("as_of"))
        self.known_at = _text(diag.get("known_at"))
        self.forecast_run = _text(diag.get("forecast_run"))
        self.plan_id = _text(diag.get("plan_id"))
        self.notes = [_text(n) for n in diag.get("notes") or []]
        self.rows = [Row.read(r) for r in diag.get("rows") or []]
        self.company = next((r for r in self.rows if r.level == "company"), None)
        self.regions = [r for r in self.rows if r.level == "region"]
        self.region_of = self._regions_of_entities()
        self.reps = [r for r in self.rows if r.level == "rep"]
        names = {(r.level, r.entity): r.name for r in self.rows}
        self.flags = [Flag.read(f, names) for f in diag.get("flags") or []]
        summary = diag.get("summary") or {}
        region_summary = summary.get("regions") or {}
        self.headlines = [_headline(self.company, summary.get("company"))] if self.company else []
        self.headlines += [_headline(r, region_summary.get(r.entity)) for r in self.regions]

    def _regions_of_entities(self) -> dict[tuple[str, str], str | None]:
        """(level, entity) → the region it rolls up to, walking ``parent`` links (None above regions)."""
        region_ids = {r.entity for r in self.regions}
        up: dict[str, str] = {}
        for level in ("territory", "segment"):
            for r in self.rows:
                if r.level == level:
                    up.setdefault(r.entity, r.parent)
        found: dict[tuple[str, str], str | None] = {}
        for r in self.rows:
            if r.level == "region":
                found[(r.level, r.entity)] = r.entity
                continue
            node: str | None = r.parent
            for _ in range(len(self.rows) + 1):
                if node is None or node in region_ids:
                    break
                node = up.get(node)
            found[(r.level, r.entity)] = node if node in region_ids else None
        return found

    def reps_in(self, region: str | None) -> list[Row]:
        return [r for r in self.reps if self.region_of[(r.level, r.entity)] == region]

    def flags_in(self, region: str) -> list[Flag]:
        return [f for f in self.flags if self.region_of.get((f.level, f.entity)) == region]

    def headline(self, row: Row) -> Headline:
        return next(h for h in self.headlines if (h.level, h.entity) == (row.level, row.entity))


# ---------------------------------------------------------------------------
# Charts: geometry here, SVG markup in templates/charts.html.j2
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Linear map from data units (points of quota) to pixels."""

    lo: float
    hi: float
    px0: float
    px1: float

    def __call__(self, value: float) -> float:
        return round(self.px0 + (value - self.lo) / (self.hi - self.lo) * (self.px1 - self.px0), 1)


Domain = tuple[float, float, list[float]]  # low, high, ticks (points of quota)


def _nice_domain(values: Iterable[float], floor: float, ceiling: float, max_ticks: int) -> Domain:
    """A domain covering ``values``, ``floor`` and ``ceiling`` with round tick steps (1, 2, 2.5, 5 × 10^k)."""
    vals = [floor, ceiling, *values]
    lo, hi = min(vals), max(vals)
    raw = (hi - lo) / max_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    ticks = [lo + i * step for i in range(round((hi - lo) / step) + 1)]
    return lo, hi, ticks


def _tick_label(value: float) -> str:
    text = f"{value:g}%"
    return text.replace("-", MINUS)


@dataclass(frozen=True)
class FanRow:
    label: str
    sublabel: str
    total: bool  # the parent entity, drawn last under a rule
    y: float
    x10: float | None
    band_width: float | None
    x50: float | None
    xmean: float | None
    xplan: float | None
    value: str
    band: str


@dataclass(frozen=True)
class Fan:
    entity: str
    title: str
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    row_height: float
    x_quota: float
    ticks: list[tuple[float, str]]
    rows: list[FanRow]


FAN_WIDTH, FAN_LEFT, FAN_RIGHT, FAN_ROW, FAN_TOP, FAN_BOTTOM = 1160, 230, 1000, 30, 40, 30


def _fan_domain(rows: Sequence[Row]) -> Domain:
    values = [
        100 * v
        for r in rows
        for v in (r.of_quota(r.p10), r.of_quota(r.p90), r.of_quota(r.projected_mean), r.of_quota(r.plan_expected))
        if v is not None
    ]
    return _nice_domain(values, 0.0, 100.0, 10)


def _fan(entity: str, title: str, rows: Sequence[Row], domain: Domain, sub: Callable[[Row], str]) -> Fan:
    lo, hi, ticks = domain
    height = FAN_TOP + FAN_ROW * len(rows) + FAN_BOTTOM
    x = Scale(lo, hi, FAN_LEFT, FAN_RIGHT)

    def pos(row: Row, value: float | None) -> float | None:
        frac = row.of_quota(value)
        return None if frac is None else x(100 * frac)

    fan_rows = []
    for i, r in enumerate(rows):
        p10, p90 = r.of_quota(r.p10), r.of_quota(r.p90)
        x10, x90 = pos(r, r.p10), pos(r, r.p90)
        fan_rows.append(
            FanRow(
                label=r.name,
                sublabel=sub(r),
                total=r.entity == entity and r.level in ("company", "region"),
                y=FAN_TOP + FAN_ROW * (i + 0.5),
                x10=x10,
                band_width=round(max(x90 - x10, 1.0), 1) if x10 is not None and x90 is not None else None,
                x50=pos(r, r.p50),
                xmean=pos(r, r.projected_mean),
                xplan=pos(r, r.plan_expected),
                value=_pct(r.of_quota(r.projected_mean)),
                band=f"{_pct(p10)} {EN_DASH} {_pct(p90)}" if p10 is not None and p90 is not None else "",
            )
        )
    return Fan(
        entity=entity,
        title=title,
        width=FAN_WIDTH,
        height=height,
        plot_left=FAN_LEFT,
        plot_right=FAN_RIGHT,
        plot_top=FAN_TOP - 6,
        plot_bottom=height - FAN_BOTTOM + 6,
        row_height=FAN_ROW,
        x_quota=x(100.0),
        ticks=[(x(t), _tick_label(t)) for t in ticks],
        rows=fan_rows,
    )


@dataclass(frozen=True)
class Bar:
    kind: str  # total | stretch | planning | execution | other
    label: str
    sublabel: str
    x: float
    cx: float
    width: float
    y: float
    height: float
    value: str
    value_y: float


@dataclass(frozen=True)
class Waterfall:
    entity: str
    title: str
    width: int
    height: int
    plot_left: float
    plot_right: float
    y_zero: float
    ticks: list[tuple[float, str]]
    bars: list[Bar]
    connectors: list[tuple[float, float, float]]
    whisker: tuple[float, float, float, float, float] | None  # x, cap from x, cap to x, y(P10), y(P90)


WF_WIDTH, WF_HEIGHT, WF_LEFT, WF_RIGHT, WF_TOP, WF_BOTTOM = 600, 330, 52, 588, 26, 52


def _waterfall_steps(row: Row) -> list[tuple[str, str, str, float, float]] | None:
    """(kind, label, sublabel, start, end) in points of quota, or None without a quota."""
    if row.quota is None or row.quota == 0:
        return None
    level = 100.0
    steps: list[tuple[str, str, str, float, float]] = [("total", "Quota", _money(row.quota), 0.0, level)]
    parts = (
        ("stretch", "Stretch", f"to plan {_pct(row.of_quota(row.plan_expected), digits=0)}", row.stretch),
        ("planning", "Planning", f"to fair {_pct(row.of_quota(row.fair_expected), digits=0)}", row.planning),
        ("execution", "Execution", "rep vs peers", row.execution),
    )
    for kind, label, sub, value in parts:
        if value is not None:
            delta = 100 * value / row.quota
            steps.append((kind, label, sub, level, level + delta))
            level += delta
    projected = row.of_quota(row.projected_mean)
    if projected is not None:
        if abs(100 * projected - level) > RESIDUAL_POINTS:
            steps.append(("other", "Other", "unexplained", level, 100 * projected))
        steps.append(("total", "Projection", f"mean, P10{EN_DASH}P90", 0.0, 100 * projected))
    return steps


def _waterfall_domain(rows: Sequence[Row]) -> Domain:
    values: list[float] = []
    for r in rows:
        for _, _, _, start, end in _waterfall_steps(r) or []:
            values += [start, end]
        values += [100 * v for v in (r.of_quota(r.p10), r.of_quota(r.p90)) if v is not None]
    return _nice_domain(values, 0.0, 100.0, 6)


def _waterfall(row: Row, domain: Domain) -> Waterfall | None:
    steps = _waterfall_steps(row)
    if steps is None:
        return None
    lo, hi, ticks = domain
    y = Scale(lo, hi, WF_HEIGHT - WF_BOTTOM, WF_TOP)
    slot = (WF_RIGHT - WF_LEFT) / len(steps)
    bar_w = round(slot * 0.62, 1)
    bars: list[Bar] = []
    connectors: list[tuple[float, float, float]] = []
    for i, (kind, label, sub, start, end) in enumerate(steps):
        x0 = round(WF_LEFT + slot * i + (slot - bar_w) / 2, 1)
        top, bottom = y(max(start, end)), y(min(start, end))
        value = _pct(end / 100) if kind == "total" else f"{_points(end - start)} pts"
        cx = round(x0 + bar_w / 2, 1)
        height = round(max(bottom - top, 1.0), 1)
        bars.append(Bar(kind, label, sub, x0, cx, bar_w, top, height, value, round(top - 6, 1)))
        if i + 1 < len(steps):
            connectors.append((round(x0 + bar_w, 1), round(x0 + slot, 1), y(end)))
    whisker = None
    p10, p90 = row.of_quota(row.p10), row.of_quota(row.p90)
    if steps[-1][1] == "Projection" and p10 is not None and p90 is not None:
        last = bars[-1]
        y10, y90 = y(100 * p10), y(100 * p90)
        whisker = (last.cx, round(last.cx - 6, 1), round(last.cx + 6, 1), y10, y90)
        bars[-1] = replace(last, value_y=round(min(y10, y90, last.y) - 6, 1))
    return Waterfall(
        entity=row.entity,
        title=f"{row.name}: quota to projection",
        width=WF_WIDTH,
        height=WF_HEIGHT,
        plot_left=WF_LEFT,
        plot_right=WF_RIGHT,
        y_zero=y(0.0),
        ticks=[(y(t), _tick_label(t)) for t in ticks],
        bars=bars,
        connectors=connectors,
        whisker=whisker,
    )


# ---------------------------------------------------------------------------
# Formatting (template filters)
# ---------------------------------------------------------------------------


def _money(value: float | None, signed: bool = False) -> str:
    if value is None:
        return DASH
    n = round(value)
    if n < 0:
        return f"{MINUS}${-n:,}"
    return f"+${n:,}" if signed and n > 0 else f"${n:,}"


def _pct(fraction: float | None, signed: bool = False, digits: int = 1) -> str:
    if fraction is None:
        return DASH
    text = f"{100 * fraction:.{digits}f}"
    if float(text) == 0:
        text = f"{0:.{digits}f}"
    elif text.startswith("-"):
        text = MINUS + text[1:]
    elif signed:
        text = "+" + text
    return text + "%"


def _points(points: float) -> str:
    text = f"{points:+.1f}"
    return "0.0" if float(text) == 0 else text.replace("-", MINUS)


def _tone(value: float | None) -> str:
    if value is None or round(value) == 0:
        return "zero"
    return "neg" if value < 0 else "pos"


def _p_value(p: float | None) -> str:
    if p is None:
        return ""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def _humanize(key: str) -> str:
    return re.sub(r"[_\s]+", " ", key).strip()


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("plancast.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=_money, pct=_pct, tone=_tone, p_value=_p_value, humanize=_humanize)
    return env


@dataclass(frozen=True)
class Section:
    """The company or one region: its headline, waterfall, fan chart of its children and their tables."""

    row: Row
    headline: Headline
    waterfall: Waterfall | None
    fan: Fan
    rows: list[Row]  # the children, then the entity itself as the total
    child_label: str
    flags: list[Flag]


def _html(diag: Mapping[str, Any]) -> str:
    d = Diagnosis(diag)
    totals = [*d.regions, *([d.company] if d.company else [])]
    fan_domain = _fan_domain([*totals, *d.reps])
    wf_domain = _waterfall_domain(totals)

    def sub(r: Row) -> str:
        return r.entity if r.name.casefold() != r.entity.casefold() else ""

    def section(row: Row, children: list[Row], child_label: str, flags: list[Flag]) -> Section:
        rows = [*children, row]
        return Section(
            row=row,
            headline=d.headline(row),
            waterfall=_waterfall(row, wf_domain),
            fan=_fan(row.entity, f"{row.name}: projected attainment per {child_label.lower()}", rows, fan_domain, sub),
            rows=rows,
            child_label=child_label,
            flags=flags,
        )

    sections = [section(d.company, d.regions, "Region", d.flags)] if d.company else []
    sections += [section(r, d.reps_in(r.entity), "Rep", d.flags_in(r.entity)) for r in d.regions]
    flag_groups = [
        (title, blurb, sorted((f for f in d.flags if f.kind == kind), key=lambda f: SEVERITY_ORDER.get(f.severity, 3)))
        for kind, title, blurb in FLAG_KINDS
    ]
    known = {kind for kind, _, _ in FLAG_KINDS}
    other = [f for f in d.flags if f.kind not in known]
    if other:
        flag_groups.append(("Other signals", "", other))
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            d=d,
            sections=sections,
            unassigned=d.reps_in(None),
            flag_groups=flag_groups,
            drivers=DRIVERS,
        )
    )


def render_html(diag: dict[str, Any], path: str | Path) -> Path:
    """Write the diagnosis as one self-contained HTML file (no network resources); return its path."""
    out = Path(path)
    out.write_bytes(_html(diag).encode("utf-8"))
    return out


# ---------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------

MONEY_FMT = '"$"#,##0;[Red]-"$"#,##0'
PCT_FMT = "0.0%"
HEADER_FILL = PatternFill("solid", fgColor="F1F5F9")


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    fmt: str | None
    get: Callable[[Any], object]


def _row_columns() -> list[Column]:
    """Numeric columns shared by the Variance and Reps sheets."""
    cols = [
        Column("Quota", 14, MONEY_FMT, lambda r: r.quota),
        Column("Closed won", 14, MONEY_FMT, lambda r: r.closed_won),
        Column("Plan expected", 14, MONEY_FMT, lambda r: r.plan_expected),
        Column("Fair expected", 14, MONEY_FMT, lambda r: r.fair_expected),
        Column("Projected mean", 15, MONEY_FMT, lambda r: r.projected_mean),
        Column("P10", 13, MONEY_FMT, lambda r: r.p10),
        Column("P50", 13, MONEY_FMT, lambda r: r.p50),
        Column("P90", 13, MONEY_FMT, lambda r: r.p90),
        Column("P(quota)", 10, PCT_FMT, lambda r: r.prob_quota),
        Column("Projected % of quota", 12, PCT_FMT, lambda r: r.of_quota(r.projected_mean)),
        Column("Plan % of quota", 11, PCT_FMT, lambda r: r.of_quota(r.plan_expected)),
        Column("Stretch", 13, MONEY_FMT, lambda r: r.stretch),
        Column("Planning variance", 14, MONEY_FMT, lambda r: r.planning),
        Column("Execution variance", 14, MONEY_FMT, lambda r: r.execution),
    ]
    for part in PARTS:
        for key, label in DRIVERS:
            cols.append(
                Column(f"{part.capitalize()}: {label.lower()}", 13, MONEY_FMT, lambda r, p=part, k=key: r.drivers[p][k])
            )
    return cols


def _write_table(
    ws: Worksheet, columns: Sequence[Column], items: Iterable[Any], freeze: str, autofilter: bool = True
) -> None:
    ws.append([c.header for c in columns])
    ws.row_dimensions[1].height = 30  # two lines of wrapped header text
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="bottom")
    for item in items:
        _append(ws, [c.get(item) for c in columns], [c.fmt for c in columns])
    for i, c in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = c.width
    ws.freeze_panes = freeze
    if autofilter and ws.max_row > 1:
        ws.auto_filter.ref = ws.dimensions


def _append(ws: Worksheet, values: Sequence[object], formats: Sequence[str | None]) -> None:
    ws.append([_cell(v) for v in values])
    for cell, fmt in zip(ws[ws.max_row], formats, strict=False):
        if cell.data_type == "f":  # user text that starts with "=" stays text, never a formula
            cell.data_type = "s"
        if fmt and isinstance(cell.value, (int, float)):
            cell.number_format = fmt


def _cell(value: object) -> object:
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def _summary_sheet(ws: Worksheet, d: Diagnosis) -> None:
    rows = {(r.level, r.entity): r for r in d.rows}

    def row_of(h: Headline) -> Row:
        return rows[(h.level, h.entity)]

    columns = [
        Column("Entity", 16, None, lambda h: h.label),
        Column("Quota", 14, MONEY_FMT, lambda h: row_of(h).quota),
        Column("Plan expected", 14, MONEY_FMT, lambda h: row_of(h).plan_expected),
        Column("Projected mean", 15, MONEY_FMT, lambda h: row_of(h).projected_mean),
        Column("Projected % of quota", 12, PCT_FMT, lambda h: row_of(h).of_quota(row_of(h).projected_mean)),
        Column("Plan % of quota", 11, PCT_FMT, lambda h: row_of(h).of_quota(row_of(h).plan_expected)),
        Column("Stretch", 13, MONEY_FMT, lambda h: row_of(h).stretch),
        Column("Planning variance", 14, MONEY_FMT, lambda h: row_of(h).planning),
        Column("Execution variance", 14, MONEY_FMT, lambda h: row_of(h).execution),
        Column("Planning share", 10, PCT_FMT, lambda h: h.planning_share),
        Column("Execution share", 10, PCT_FMT, lambda h: h.execution_share),
        Column("Headline", 100, None, lambda h: f"{h.label}: {h.text}"),
    ]
    _write_table(ws, columns, d.headlines, "B2", autofilter=False)
    ws.append([])
    for label, value in (
        ("Period", d.period),
        ("As of", d.as_of),
        ("Known at", d.known_at),
        ("Forecast run", int(d.forecast_run) if d.forecast_run.isdigit() else d.forecast_run),
        ("Plan", d.plan_id),
        *(("Note", n) for n in d.notes),
    ):
        _append(ws, [label, value], [None, None])
        ws.cell(ws.max_row, 1).font = Font(bold=True)


def _flags_sheet(ws: Worksheet, d: Diagnosis) -> None:
    columns = [
        Column("Kind", 11, None, lambda f: f.kind),
        Column("Severity", 10, None, lambda f: f.severity),
        Column("Code", 22, None, lambda f: f.code),
        Column("Level", 10, None, lambda f: f.level),
        Column("Entity", 14, None, lambda f: f.entity),
        Column("Name", 22, None, lambda f: f.name),
        Column("Message", 60, None, lambda f: f.message),
        Column("Test", 36, None, lambda f: f.test or None),
        Column("p-value", 9, "0.0000", lambda f: f.p_value),
        Column("Evidence", 60, None, lambda f: "; ".join(f"{_humanize(k)}: {v}" for k, v in f.evidence) or None),
    ]
    _write_table(ws, columns, d.flags, "A2")


def render_xlsx(diag: dict[str, Any], path: str | Path) -> Path:
    """Write the report's tables to an XLSX workbook (Summary, Variance, Reps, Flags); return its path."""
    d = Diagnosis(diag)
    numeric = _row_columns()

    def region(r: Row) -> str | None:
        return d.region_of[(r.level, r.entity)]

    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    _summary_sheet(summary, d)
    variance_cols = [
        Column("Level", 10, None, lambda r: r.level),
        Column("Entity", 14, None, lambda r: r.entity),
        Column("Name", 22, None, lambda r: r.name),
        Column("Parent", 14, None, lambda r: r.parent or None),
        Column("Region", 12, None, region),
        *numeric,
    ]
    _write_table(wb.create_sheet("Variance"), variance_cols, d.rows, "D2")
    rep_cols = [
        Column("Region", 12, None, region),
        Column("Rep", 10, None, lambda r: r.entity),
        Column("Name", 22, None, lambda r: r.name),
        Column("Territory", 14, None, lambda r: r.parent or None),
        *numeric,
    ]
    _write_table(wb.create_sheet("Reps"), rep_cols, d.reps, "D2")
    _flags_sheet(wb.create_sheet("Flags"), d)
    wb.properties.title = f"plancast diagnosis {d.period}".strip()
    out = Path(path)
    wb.save(out)
    return out
