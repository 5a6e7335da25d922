"""Turn the cells of one column into typed values, a whole column at a time.

Every parser takes the column as read (text, ``""`` for an empty cell; or a
native typed column from Parquet) and returns the typed values, a mask of the
cells it could not parse and a message for each of those. Nothing here loops
over rows: parsing is pandas string methods, regular expressions and
``pd.to_datetime`` over the whole column; only the *failed* cells are visited
afterwards, to write their messages.

The rules (also in the module docstring of :mod:`plancast.ingest`):

text
    Trimmed (also non-breaking spaces). A blank or whitespace-only cell is
    missing. Placeholder ids that CRMs write instead of an empty cell are
    missing too: Salesforce's null id ``000000000000000AAA`` (and its 15-character
    form ``000000000000000``).
date
    ``YYYY-MM-DD``; also ``YYYY-MM-DD HH:MM[:SS[.fff]]`` and
    ``YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM]``: the date *as written* is kept, the
    time and zone are dropped (no conversion). Month and day may have one digit.
    A date that matches the form but does not exist (``2026-02-30``) is "not a
    real calendar date". Years outside 1900-2200 are refused, except that
    ``9999-12-31`` in ``valid_to`` (a common "forever" marker) means open-ended.
    A mapping file may set ``date_format`` (strptime codes, e.g. ``%d/%m/%Y``);
    ISO dates are still accepted then.
money
    ``1200``, ``1200.50``, ``1,200.50``, ``1 200.50``, ``$1,200``, ``USD 1200``,
    ``1200 EUR``, ``€1200``. A currency code or ``€``/``£`` marks the currency
    of the cell (checked against the row's ``currency``). ``1.200,50`` and
    ``1200,5`` use a decimal *comma*: they are refused unless the import runs
    with ``--decimal-comma`` (or ``decimal_comma = true`` in a mapping file),
    because ``1.200`` means 1.2 in one convention and 1200 in the other and
    guessing silently would be wrong by a factor of 1000. With the option, ``.``
    and spaces separate thousands and ``,`` is the decimal mark. Amounts with
    more than two decimals are rounded to the cent (``numpy.round``; a warning
    counts them). A leading ``-`` or accounting parentheses ``(1,200)`` make a
    negative amount, which the row rules refuse.
number / rate
    As money without currency marks; ``1e6`` is accepted. A rate may be written
    with a per-cent sign (``20%`` = 0.2).
int
    A number with no fractional part (``12`` or ``12.0``).
bool
    ``true/false``, ``t/f``, ``yes/no``, ``y/n``, ``1/0`` (any case).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..kinds import Column

#: ids that mean "no value" in CRM exports (Salesforce's null id)
NULL_SENTINELS = ("000000000000000AAA", "000000000000000")
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
MIN_YEAR, MAX_YEAR = 1900, 2200
#: amounts are stored as NUMERIC(18, 2): refuse what does not fit (and infinities)
MONEY_MAX = 1e15
FOREVER = "9999"

_CURRENCY_SYMBOLS = {"€": "EUR", "£": "GBP"}
#: ISO 4217 codes in use: three letters next to an amount are a currency only if they are one of these
ISO_4217 = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD
HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD
MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP
TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
""".split())
# no-break and narrow no-break spaces used as thousands separators (real characters, not escapes)
_ODD_SPACES = "[\u00a0\u202f]"
# a currency code or symbol in front of or behind the amount
_CUR_PREFIX = r"^(?:[$€£¥]|[A-Za-z]{3})[ \t]*"
_CUR_SUFFIX = r"[ \t]*(?:[$€£¥]|[A-Za-z]{3})$"
_DATE_RE = (
    r"^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})"
    r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?[ \t]*(?:Z|[+-][0-9]{2}:?[0-9]{2}|UTC)?)?$"
)
# bodies of numbers once sign, currency and per-cent are removed
_DOT_OK = (
    r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?|[0-9]{1,3}(?: [0-9]{3})+(?:\.[0-9]*)?"
    r"|[0-9]+(?:\.[0-9]*)?[eE][+-]?[0-9]+)$"
)
# what a decimal-comma number looks like when read without --decimal-comma
_LOOKS_COMMA = r"^(?:[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]*|[0-9]+,[0-9]{1,2}|[0-9]{1,3}(?:\.[0-9]{3}){2,}|[0-9]{1,3}(?: [0-9]{3})*,[0-9]{1,2})$"
_COMMA_OK = r"^(?:[0-9]+(?:,[0-9]*)?|,[0-9]+|[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]*)?|[0-9]{1,3}(?: [0-9]{3})+(?:,[0-9]*)?)$"

DECIMAL_COMMA_HINT = (
    "looks like a decimal comma (1.200,50 = 1200.50); re-run with --decimal-comma "
    "(or set decimal_comma = true in a --mapping file)"
)


@dataclass
class Parsed:
    """One parsed column."""

    values: pd.Series
    #: cells that had a value but could not be parsed
    bad: np.ndarray
    #: message for each bad cell (aligned with the column; only read where ``bad``)
    messages: pd.Series
    #: money only: currency the cell was marked with ("EUR 5" -> "EUR"), else None
    currency: pd.Series | None = None
    #: money only: cells with more than two decimals (rounded to the cent)
    rounded: int = 0


def text(raw: pd.Series) -> pd.Series:
    """The column as trimmed text (pandas ``str``), ``""`` for an empty cell."""
    if isinstance(raw.dtype, pd.StringDtype) or raw.dtype == object:
        s = raw.astype("str")
    elif pd.api.types.is_bool_dtype(raw.dtype):
        s = raw.map({True: "true", False: "false"}).astype("str")
    elif pd.api.types.is_datetime64_any_dtype(raw.dtype):
        s = pd.Series(raw.dt.strftime("%Y-%m-%d %H:%M:%S").str.replace(" 00:00:00", "", regex=False), index=raw.index)
    else:
        s = raw.astype("str")
    return s.fillna("").str.strip()


def _messages(index: pd.Index, default: str) -> pd.Series:
    return pd.Series(default, index=index, dtype=object)


def parse_column(
    raw: pd.Series, col: Column, *, decimal_comma: bool = False, date_format: str | None = None
) -> Parsed:
    """Parse one column by ``col.type``."""
    kind = col.type
    if kind == "str":
        return parse_text(raw)
    if kind == "date":
        return parse_date(raw, date_format=date_format, forever_is_open=col.name == "valid_to")
    if kind == "bool":
        return parse_bool(raw)
    if kind == "money":
        return parse_money(raw, decimal_comma=decimal_comma)
    if kind in ("number", "rate", "int"):
        return parse_number(raw, decimal_comma=decimal_comma, integer=kind == "int", percent=kind == "rate")
    raise ValueError(f"unknown column type {kind!r}")  # pragma: no cover - kinds.py is fixed


def parse_text(raw: pd.Series) -> Parsed:
    s = text(raw)
    missing = (s == "") | s.isin(NULL_SENTINELS)
    values = pd.Series(s.to_numpy(dtype=object), index=s.index, dtype=object)
    values[missing.to_numpy()] = None
    return Parsed(values, np.zeros(len(s), dtype=bool), _messages(s.index, ""))


def parse_bool(raw: pd.Series) -> Parsed:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return Parsed(raw.astype("boolean"), np.zeros(len(raw), dtype=bool), _messages(raw.index, ""))
    s = text(raw).str.lower()
    is_true = s.isin(TRUE_WORDS).to_numpy()
    is_false = s.isin(FALSE_WORDS).to_numpy()
    blank = (s == "").to_numpy()
    bad = ~(is_true | is_false | blank)
    arr = pd.array(np.where(is_true, True, False), dtype="boolean")
    arr[~(is_true | is_false)] = pd.NA
    msg = "is not true or false; use true/false, yes/no, y/n or 1/0, or leave it blank"
    return Parsed(pd.Series(arr, index=raw.index), bad, _messages(raw.index, msg))


def parse_date(raw: pd.Series, *, date_format: str | None = None, forever_is_open: bool = False) -> Parsed:
    idx = raw.index
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        values = raw
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        values = values.dt.normalize()
        s = text(raw)
        blank = values.isna().to_numpy()
        real = ~blank
        matched = real.copy()
    else:
        s = text(raw)
        blank = (s == "").to_numpy()
        matched = s.str.fullmatch(_DATE_RE).to_numpy(dtype=bool)
        part = s.str.replace(r"[ T].*", "", regex=True).where(matched, "")
        values = pd.to_datetime(part, format="%Y-%m-%d", errors="coerce")
        if date_format:
            custom = pd.to_datetime(s.where(~matched, ""), format=date_format, errors="coerce").dt.normalize()
            use = (~matched) & custom.notna().to_numpy()
            values = values.where(~use, custom)
            matched = matched | use
        real = values.notna().to_numpy()

    years = values.dt.year.to_numpy(dtype="float64", na_value=np.nan)
    forever = real & (years >= 9999) if forever_is_open else np.zeros(len(idx), dtype=bool)
    out_of_range = real & ~forever & ((years < MIN_YEAR) | (years > MAX_YEAR))
    keep = real & ~forever & ~out_of_range
    values = values.where(keep).astype("datetime64[ns]")

    bad = ~blank & ~keep & ~forever
    msgs = _messages(idx, "")
    if bad.any():
        if date_format:
            msgs[bad] = (
                f"does not match date_format {date_format!r} or YYYY-MM-DD; "
                "fix the date or leave it blank"
            )
        else:
            msgs[bad] = "is not a date; write it as YYYY-MM-DD (e.g. 2026-03-31), or leave it blank"
            slashed = s.str.fullmatch(r"[0-9]{1,2}[/.][0-9]{1,2}[/.][0-9]{2,4}").to_numpy()
            msgs[bad & slashed] = (
                "is not a YYYY-MM-DD date; fix the date, or for day/month/year dates pass "
                '--date-format "%d/%m/%Y" (or date_format in a --mapping file)'
            )
            # month first is certain when the second number is over 12 (3/15/2026)
            us = s.str.fullmatch(r"(?:0?[1-9]|1[0-2])([/.])(1[3-9]|2[0-9]|3[01])[/.][0-9]{2,4}").to_numpy()
            sep = s.str.extract(r"^[0-9]{1,2}([/.])", expand=False).fillna("/")
            msgs[bad & us] = (
                "is not a YYYY-MM-DD date; for month/day/year dates pass --date-format \"%m" + sep[bad & us]
                + "%d" + sep[bad & us] + "%Y\" (or date_format in a --mapping file)"
            )
            dotted = s.str.fullmatch(r"(0?[1-9]|[12][0-9]|3[01])\.(0?[1-9]|1[0-2])\.[0-9]{4}").to_numpy()
            msgs[bad & dotted] = (
                'is not a YYYY-MM-DD date; for day.month.year dates pass --date-format "%d.%m.%Y" '
                "(or date_format in a --mapping file)"
            )
        msgs[bad & matched & ~real] = "is not a real calendar date; fix the date or leave it blank"
        msgs[out_of_range] = f"has a year outside {MIN_YEAR}-{MAX_YEAR}; fix the date or leave it blank" + (
            " (9999-12-31 is accepted as open-ended)" if forever_is_open else ""
        )
    return Parsed(values, bad, msgs)


def _numeric(body: pd.Series, *, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse number bodies (no sign). Returns (values, ok mask, looks-like-decimal-comma mask)."""
    if decimal_comma:
        ok = body.str.fullmatch(_COMMA_OK).to_numpy()
        clean = body.str.replace(r"[. ]", "", regex=True).str.replace(",", ".", regex=False)
        looks_comma = np.zeros(len(body), dtype=bool)
    else:
        ok = body.str.fullmatch(_DOT_OK).to_numpy()
        clean = body.str.replace(r"[, ]", "", regex=True)
        looks_comma = ~ok & body.str.fullmatch(_LOOKS_COMMA).to_numpy()
    vals = pd.to_numeric(clean.where(ok, ""), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    ok = ok & ~np.isnan(vals)
    return vals, ok, looks_comma


def parse_money(raw: pd.Series, *, decimal_comma: bool = False) -> Parsed:
    idx = raw.index
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        vals = raw.to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            rounded = int(np.count_nonzero(~np.isnan(vals) & (np.abs(np.round(vals, 2) - vals) > 1e-9)))
            huge = ~np.isnan(vals) & ~(np.abs(vals) < MONEY_MAX)
        msgs = _messages(idx, "")
        msgs[huge] = f"is too large for an amount (plancast stores up to {MONEY_MAX:,.0f}); fix the amount"
        return Parsed(
            pd.Series(vals, index=idx),
            huge,
            msgs,
            pd.Series(None, index=idx, dtype=object),
            rounded,
        )
    s = text(raw)
    blank = (s == "").to_numpy()
    # accounting parentheses, then a sign before or after the currency mark
    paren = s.str.fullmatch(r"\(.*\)").to_numpy()
    inner = s.str.replace(r"^\([ \t]*|[ \t]*\)$", "", regex=True).str.replace(_ODD_SPACES, " ", regex=True)
    neg = inner.str.startswith("-").to_numpy()
    inner = inner.str.replace(r"^-[ \t]*", "", regex=True)
    # which currency the cell names: a code, or an unambiguous symbol ($ and ¥ are not)
    marked = inner.str.contains("[A-Za-z€£]", regex=True).to_numpy(dtype=bool)
    code = pd.Series([None] * len(idx), index=idx, dtype=object)
    if marked.any():
        sub = inner[marked]
        prefix = sub.str.extract(r"^([A-Za-z]{3}|[€£])", expand=False)
        suffix = sub.str.extract(r"([A-Za-z]{3}|[€£])$", expand=False)
        found = prefix.fillna(suffix).str.upper().replace(_CURRENCY_SYMBOLS)
        code[marked] = found.to_numpy(dtype=object, na_value=None)
    inner = inner.str.replace(_CUR_PREFIX, "", regex=True).str.replace(_CUR_SUFFIX, "", regex=True)
    neg = neg | inner.str.startswith("-").to_numpy()
    inner = inner.str.replace(r"^-[ \t]*", "", regex=True).str.strip()
    vals, ok, looks_comma = _numeric(inner, decimal_comma=decimal_comma)
    vals = np.where(neg | paren, -vals, vals)
    # "1.200" is 1,200 with '.' separating thousands, or 1.2 written with three decimals
    ambiguous = ok & ~np.asarray(decimal_comma, dtype=bool) & inner.str.fullmatch(r"[0-9]{1,3}\.[0-9]{3}").to_numpy()
    huge = ok & ~(np.abs(np.nan_to_num(vals, nan=0.0)) < MONEY_MAX)
    ok = ok & ~ambiguous & ~huge
    # three letters that are not a currency ("abc5") make the cell not an amount
    unknown = ok & code.notna().to_numpy() & ~code.isin(ISO_4217 | set(_CURRENCY_SYMBOLS.values())).to_numpy()
    ok = ok & ~unknown
    bad = ~blank & ~ok
    code[~ok] = None
    currency = code
    with np.errstate(invalid="ignore"):
        many = ok & (np.abs(np.round(vals, 2) - vals) > 1e-9)
    msgs = _messages(idx, "")
    if bad.any():
        msgs[bad] = (
            "is not an amount; write a number like 1200 or 1200.50 (a currency sign and "
            "thousands commas are allowed), or leave it blank"
        )
        if decimal_comma:
            dotted = bad & inner.str.fullmatch(r"[0-9]+\.[0-9]{1,2}|[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?").to_numpy()
            msgs[dotted] = (
                "uses '.' as the decimal mark, but --decimal-comma is on (',' is the decimal mark, "
                "'.' separates thousands); re-run without --decimal-comma or fix the amount"
            )
        msgs[bad & looks_comma] = DECIMAL_COMMA_HINT
        msgs[unknown] = ("is not an amount: its letters are not an ISO 4217 currency code (USD, EUR, JPY …); "
                         "write a number like 1200 or USD 1200, or leave it blank")
        msgs[ambiguous] = (
            "is ambiguous: '.' before three digits may separate thousands (1.200 = 1200; re-run with "
            "--decimal-comma) or be a decimal point (write 1.2)"
        )
        msgs[huge] = f"is too large for an amount (plancast stores up to {MONEY_MAX:,.0f}); fix the amount"
    return Parsed(pd.Series(vals, index=idx, dtype="float64"), bad, msgs, currency, int(np.count_nonzero(many)))


def parse_number(
    raw: pd.Series, *, decimal_comma: bool = False, integer: bool = False, percent: bool = False
) -> Parsed:
    idx = raw.index
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        vals = raw.to_numpy(dtype="float64", na_value=np.nan)
        ok = ~np.isnan(vals)
        blank = ~ok
        s = text(raw)
    else:
        s = text(raw)
        blank = (s == "").to_numpy()
        body = s.str.replace(_ODD_SPACES, " ", regex=True)
        pct = np.zeros(len(s), dtype=bool)
        if percent:
            pct = s.str.endswith("%").to_numpy()
            body = s.str.replace(r"[ \t]*%$", "", regex=True)
        neg = body.str.startswith("-").to_numpy()
        body = body.str.replace(r"^[-+][ \t]*", "", regex=True)
        vals, ok, looks_comma = _numeric(body, decimal_comma=decimal_comma)
        vals = np.where(neg, -vals, vals)
        vals = np.where(pct, vals / 100.0, vals)
    msgs = _messages(idx, "")
    whole = np.ones(len(idx), dtype=bool)
    if integer:
        whole = ~ok | (np.round(vals) == vals)
    bad = ~blank & (~ok | ~whole)
    if bad.any():
        if integer:
            msgs[bad] = "is not a whole number; write digits only (e.g. 12), or leave it blank"
        elif percent:
            msgs[bad] = "is not a number; write a share like 0.25 or 25%, or leave it blank"
        else:
            msgs[bad] = "is not a number; write it like 12 or 0.25, or leave it blank"
        if not (pd.api.types.is_numeric_dtype(raw.dtype)):
            if not decimal_comma:
                msgs[bad & looks_comma] = DECIMAL_COMMA_HINT
        if integer:
            msgs[bad & ok & ~whole] = "is not a whole number; write it without decimals, or leave it blank"
    vals = np.where(bad, np.nan, vals)
    if integer:
        series = pd.Series(np.round(vals), index=idx).astype("Int64")
    else:
        series = pd.Series(vals, index=idx, dtype="float64")
    return Parsed(series, bad, msgs)
