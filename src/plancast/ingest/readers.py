"""Read a file into a table of cells: format by suffix, decoding, delimiter.

The result is a :class:`RawTable`: the header as written and one column per
header position (text, ``""`` for an empty cell; Parquet columns keep their
native type), with the spreadsheet row number of every record. Problems that
concern the file as a whole raise :class:`~plancast.errors.BadInput` at once;
ragged rows are collected in ``RawTable.problems`` so that they are reported
together with everything else.

Text files (``.csv``, ``.txt``, ``.tsv``):

* UTF-8 (with or without a byte-order mark, which is removed) and UTF-16 with
  a byte-order mark are read as such. A file that is not valid UTF-8 is read as
  Windows-1252 (cp1252, the superset of Latin-1 that Excel writes on Western
  systems) and a warning says so; another encoding can be named with
  ``encoding`` under ``[options]`` in a mapping file. Content with NUL bytes or
  many control characters is refused as binary.
* The delimiter is the one of ``,`` ``;`` tab ``|`` that occurs most often in
  the header line (outside quotes); ``.tsv`` means tab. A mapping file may fix
  it with ``delimiter``.
* Values may be quoted with ``"`` (doubled ``""`` inside), and may then hold
  delimiters and line breaks. Rows are counted as records, so a quoted line
  break does not shift the row numbers a spreadsheet shows.
* Blank lines and rows whose cells are all blank are skipped (row numbers still
  count them). A row with more or fewer fields than the header is refused.
* Files without a header row (database dumps such as AdventureWorks'): a preset
  may give the column names by position (``layouts``, one list per accepted
  number of columns). A first row that equals one of them (ignoring case) is
  the header as usual; otherwise the first row is data (row 1) and the columns
  are named by the layout with as many columns as the file, with a warning that
  says so. A file whose column count matches no layout is refused.

``.xlsx``: the first sheet (or ``sheet``); the header is the first non-empty
row; row numbers are the sheet's own. Dates, numbers and booleans typed in
Excel are used as such. ``.parquet``: row 2 is the first record.
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import BadInput, Problem

TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
ACCEPTED_SUFFIXES = (*TEXT_SUFFIXES, ".xlsx", ".parquet")
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}

_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?); if it is a workbook, name it .xlsx"),
    (b"PAR1", "a Parquet file; name it .parquet"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook; open it in Excel and save it as .xlsx or CSV"),
    (b"%PDF", "a PDF document; export the data as CSV instead"),
    (b"\x89PNG", "a PNG image; export the data as CSV instead"),
)


@dataclass
class RawTable:
    """Cells of a file, before any mapping or parsing."""

    header: list[str]
    columns: list[pd.Series]
    rows: np.ndarray
    warnings: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: the delimiter used (text files), else None
    delimiter: str | None = None
    #: the row number of the header (1 unless blank lines precede it)
    header_row: int = 1


def _refuse(source: str, message: str, hint: str | None = None) -> BadInput:
    return BadInput(
        f"{source} was not imported",
        [Problem(source, None, None, None, message)],
        hint=hint or "fix the file as described and import it again; nothing was imported",
    )


def read_raw(
    path: Path,
    source: str,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    decimal_comma: bool = False,
    layouts: tuple[tuple[str, ...], ...] = (),
    layout_of: str = "",
) -> RawTable:
    """Read ``path`` by its suffix; raise :class:`BadInput` for file-level problems.

    ``layouts``: column names for a file without a header row, one tuple per
    accepted column count (``layout_of`` names whose layouts they are, for messages)."""
    suffix = path.suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        shown = suffix or "(none)"
        raise _refuse(
            source,
            f"files of type {shown} cannot be imported; save it as one of "
            + ", ".join(ACCEPTED_SUFFIXES),
        )
    if not path.exists():
        raise _refuse(source, "no such file; check the path")
    if path.is_dir():
        raise _refuse(source, "is a folder, not a file; give the path of the file inside it")
    if suffix == ".xlsx":
        table = _read_xlsx(path, source, sheet=sheet, decimal_comma=decimal_comma)
    elif suffix == ".parquet":
        table = _read_parquet(path, source)
    else:
        table = _read_text(path, source, delimiter=delimiter or ("\t" if suffix == ".tsv" else None),
                           encoding=encoding)
        if sheet:
            table.warnings.append(f"--sheet {sheet!r} was ignored: {source} is a text file, not a workbook")
    if layouts and suffix != ".parquet":
        _apply_layout(table, source, layouts, layout_of)
    _drop_blank_rows(table)
    if not table.columns or not len(table.rows):
        if table.problems:  # every record was ragged: report those
            return table
        raise _refuse(
            source,
            "has a header row but no data rows; export it again with the data",
        )
    return table


def _apply_layout(table: RawTable, source: str, layouts: tuple[tuple[str, ...], ...], layout_of: str) -> None:
    """Name the columns of a file without a header row (see the module docstring)."""
    if any([h.lower() for h in table.header] == [n.lower() for n in layout] for layout in layouts):
        return  # it has the header after all
    n = len(table.header)
    chosen = next((layout for layout in layouts if len(layout) == n), None)
    if chosen is None:
        expected = " or ".join(f"{len(lay)} ({', '.join(lay)})" for lay in layouts)
        raise _refuse(
            source,
            f"has {n} column{'s' if n != 1 else ''} and no header row that {layout_of} knows; it reads this "
            f"file without a header as {expected} columns — check that this is the right file for the import kind",
        )
    table.columns = [pd.concat([pd.Series([h], dtype=c.dtype), c], ignore_index=True)
                     for h, c in zip(table.header, table.columns, strict=True)]
    table.rows = np.concatenate([[table.header_row], table.rows]).astype(np.int64)
    table.header = list(chosen)
    table.warnings.append(
        f"{source}: no header row, so its {n} columns were read by position as {layout_of} lays them out: "
        + ", ".join(chosen))


def _drop_blank_rows(table: RawTable) -> None:
    if not table.columns or not len(table.rows):
        return
    filled = np.zeros(len(table.rows), dtype=bool)
    for col in table.columns:
        if col.dtype == object or isinstance(col.dtype, pd.StringDtype):
            filled |= (col.fillna("").astype("str").str.strip() != "").to_numpy()
        else:
            filled |= col.notna().to_numpy()
    if filled.all():
        return
    keep = np.flatnonzero(filled)
    table.columns = [c.iloc[keep].reset_index(drop=True) for c in table.columns]
    table.rows = table.rows[keep]


# -- text --------------------------------------------------------------------


def decode(data: bytes, source: str, encoding: str | None = None) -> tuple[str, str | None]:
    """Return (text, warning or None). Refuse binary and undecodable content."""
    if encoding:
        try:
            return data.decode(encoding), None
        except (UnicodeDecodeError, LookupError) as exc:
            raise _refuse(
                source,
                f"cannot be read as {encoding} (the encoding set in the mapping file): {exc}; "
                "fix the encoding option or re-save the file as UTF-8",
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), f"{source}: read as UTF-16 (it has a UTF-16 byte-order mark)"
        except UnicodeDecodeError:
            raise _refuse(source, "is marked as UTF-16 but is not valid UTF-16; re-save it as UTF-8 CSV") from None
    head = data[:8]
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise _refuse(source, f"is not a text file: it looks like {what}")
    if b"\x00" in data[:65536]:
        raise _refuse(
            source,
            "is not a text file (it contains binary data); export the data as CSV (UTF-8) and import that",
        )
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    if data.startswith(codecs.BOM_UTF8):  # a UTF-8 mark on a file that is not UTF-8 after all
        data = data[len(codecs.BOM_UTF8):]
    for enc, name in (("cp1252", "Windows-1252 (cp1252)"), ("latin-1", "Latin-1 (ISO-8859-1)")):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if _looks_binary(text):
            break
        return text, (
            f"{source}: not UTF-8 (first non-UTF-8 byte at offset {first_bad}), so it was read as {name}; "
            "check accented names, and re-save the file as UTF-8 or set encoding under [options] in a --mapping file"
        )
    raise _refuse(
        source,
        "cannot be decoded as text (it is not UTF-8 and looks binary); re-save the file as UTF-8 CSV",
    )


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    if not sample:
        return False
    controls = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\r\n\f") or 0x7F <= ord(ch) <= 0x9F)
    return controls > max(2, len(sample) // 200)


def sniff_delimiter(header_line: str) -> str:
    """The candidate delimiter that occurs most often outside quotes (ties: , ; tab |)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _normalise_delimiter(delimiter: str, source: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    d = named.get(delimiter.lower(), delimiter)
    if len(d) != 1 or d in "\"\r\n":
        raise _refuse(
            source,
            f"delimiter {delimiter!r} (from the mapping file) is not a single character; "
            "use one of ',', ';', '|' or 'tab'",
        )
    return d


def _read_text(path: Path, source: str, *, delimiter: str | None, encoding: str | None) -> RawTable:
    data = path.read_bytes()
    if not data:
        raise _refuse(source, "is empty (0 bytes); export it again with a header row and data rows")
    text, warning = decode(data, source, encoding)
    if not text.strip():
        raise _refuse(source, "is empty (only blank lines); export it again with a header row and data rows")
    text = text.lstrip("\ufeff")
    if "\r" in text and "\n" not in text:
        # old Mac line endings (CR only): lines are lines all the same
        text = text.replace("\r", "\n")
    # blank lines above the header are not records, but a spreadsheet still numbers them
    stripped = text.lstrip("\r\n")
    offset = text[: len(text) - len(stripped)].count("\n")
    text = stripped
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if delimiter:
        delim = _normalise_delimiter(delimiter, source)
    else:
        delim = sniff_delimiter(first_line)
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delim))
    except (csv.Error, StopIteration) as exc:
        raise _refuse(source, f"has a header row that cannot be read ({exc}); check its quotes") from None
    n = len(header)
    ragged: list[tuple[int, int, int]] = []
    blank_records: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if row.text.strip() == "":
            blank_records.append(row.number or 0)
        else:
            ragged.append((row.number or 0, row.actual_columns, row.expected_columns))
        return "skip"

    names = [f"f{i}" for i in range(n)]
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter=delim,
                quote_char='"',
                double_quote=True,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _refuse(
            source,
            f"could not be read as delimited text ({str(exc).splitlines()[0]}); "
            'check for an unclosed quote (") and re-export the file',
        ) from None
    # pyarrow numbers records from 1 (the header); skipped rows still count
    total = table.num_rows + len(ragged) + len(blank_records)
    kept = np.ones(total, dtype=bool)
    for number in blank_records:
        if 1 <= number <= total:
            kept[number - 1] = False
    problems: list[Problem] = []
    for number, actual, expected in ragged:
        if 1 <= number <= total:
            kept[number - 1] = False
        problems.append(
            Problem(
                source,
                number + offset if number else None,
                None,
                None,
                f"has {actual} fields but the header has {expected}; quote values that contain "
                f"{DELIMITER_NAMES.get(delim, repr(delim))} (\"like, this\") or fix the row",
            )
        )
    record_numbers = np.flatnonzero(kept).astype(np.int64) + 1 + offset  # 1-based, header included
    columns = [table.column(i).to_pandas() for i in range(n)]
    header_cells = [c.iloc[0] if len(c) else "" for c in columns]
    columns = [c.iloc[1:].reset_index(drop=True) for c in columns]
    rows = record_numbers[1:] if len(record_numbers) else np.zeros(0, dtype=np.int64)
    if len(rows) != (len(columns[0]) if columns else 0):  # numbering fell out of step: count records
        rows = np.arange(2 + offset, 2 + offset + (len(columns[0]) if columns else 0), dtype=np.int64)
    header_out = [str(h).strip().lstrip("\ufeff").strip() for h in header_cells]
    warnings_out = [warning] if warning else []
    header_row = int(record_numbers[0]) if len(record_numbers) else 1 + offset
    return RawTable(header_out, columns, rows, warnings_out, problems, delim, header_row)


# -- Excel -------------------------------------------------------------------


def _cell_text(value: object, decimal_comma: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return ""
        out = str(int(value)) if value.is_integer() and abs(value) < 1e15 else np.format_float_positional(value, trim="-")
        return out.replace(".", ",") if decimal_comma else out
    return str(value)


def _read_xlsx(path: Path, source: str, *, sheet: str | None, decimal_comma: bool) -> RawTable:
    import openpyxl
    from openpyxl.utils import get_column_letter

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise _refuse(
            source,
            f"cannot be opened as an Excel workbook ({type(exc).__name__}: {exc}); "
            "open it in Excel and save it again as .xlsx, or export CSV",
        ) from None
    try:
        names = wb.sheetnames
        if sheet is not None:
            if sheet not in names:
                raise _refuse(source, f"has no sheet {sheet!r}; its sheets are: " + ", ".join(repr(n) for n in names))
            ws = wb[sheet]
        else:
            ws = wb[names[0]]
        notes: list[str] = []
        if sheet is None and len(names) > 1:
            notes.append(f"{source}: read sheet {names[0]!r} (the first of {len(names)}); choose another with --sheet")
        records: list[tuple[int, list[str]]] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
                cells = [_cell_text(v, decimal_comma) for v in values]
                if records or any(c.strip() for c in cells):
                    records.append((number, cells))
    finally:
        wb.close()
    if not records:
        raise _refuse(source, "is empty (the sheet has no cells); put a header row and data rows on the first sheet")
    header_number, header = records[0]
    while header and not header[-1].strip():
        header.pop()
    n = len(header)
    problems: list[Problem] = []
    body: list[list[str]] = []
    numbers: list[int] = []
    for number, cells in records[1:]:
        extra = [i for i, c in enumerate(cells[n:], start=n) if c.strip()]
        if extra:
            problems.append(
                Problem(
                    source,
                    number,
                    None,
                    None,
                    f"has a value in column {get_column_letter(extra[0] + 1)}, beyond the {n} header columns; "
                    "give that column a header or clear the cell",
                )
            )
            continue
        body.append((cells + [""] * n)[:n])
        numbers.append(number)
    columns = [pd.Series([r[i] for r in body], dtype="str") for i in range(n)]
    rows = np.asarray(numbers, dtype=np.int64)
    return RawTable([h.strip() for h in header], columns, rows, notes, problems, None, header_number)


# -- Parquet -----------------------------------------------------------------


def _read_parquet(path: Path, source: str) -> RawTable:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError …
        raise _refuse(
            source,
            f"cannot be read as Parquet ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "write it again, or export CSV",
        ) from None
    columns: list[pd.Series] = []
    for i in range(table.num_columns):
        arr = table.column(i)
        t = arr.type
        if pa.types.is_dictionary(t):
            arr = arr.cast(t.value_type)
            t = arr.type
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            s = arr.to_pandas().astype("str").fillna("")
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            s = pd.Series(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")
        elif pa.types.is_boolean(t):
            s = arr.to_pandas().astype("boolean")
        elif pa.types.is_date(t) or pa.types.is_timestamp(t):
            if pa.types.is_timestamp(t) and t.tz is not None:
                arr = arr.cast(pa.timestamp(t.unit))
            s = pd.Series(pd.to_datetime(arr.cast(pa.timestamp("us")).to_pandas()), dtype="datetime64[us]")
        else:
            s = arr.cast(pa.string()).to_pandas().astype("str").fillna("")
        columns.append(s.reset_index(drop=True))
    rows = np.arange(2, 2 + table.num_rows, dtype=np.int64)
    return RawTable([str(c).strip() for c in table.column_names], columns, rows, [], [], None)
