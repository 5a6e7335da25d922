"""One exception tree for plancast.

Every error a user can act on derives from :class:`PlancastError`; each also
mixes in the built-in it resembles, so callers can catch ``ValueError`` or
``LookupError`` without knowing plancast. The CLI turns these into one error
shape (text on stderr, or a JSON object with ``--json``) in one place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class PlancastError(Exception):
    """Root of every error plancast raises on purpose."""

    #: what the user can do next; shown under the message
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input row (or with the file as a whole).

    ``row`` is the 1-based line number in the file as a spreadsheet shows it
    (the header is row 1, the first data row is row 2); ``None`` means the
    file as a whole.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        if self.value is not None:
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            where += f", value {shown!r}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class BadInput(PlancastError, ValueError):
    """Input that plancast refuses; nothing of it was written."""

    def __init__(
        self, message: str, problems: list[Problem] | None = None, *, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems: list[Problem] = list(problems or [])

    def __str__(self) -> str:
        lines = [self.message]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["problems"] = [p.to_dict() for p in self.problems]
        return d


class StoreError(PlancastError, RuntimeError):
    """The store cannot be opened, upgraded or written."""


class NotFound(PlancastError, LookupError):
    """A named thing (plan, period, territory, rep …) does not exist."""


class HistoryViolation(PlancastError, ValueError):
    """A write that would rewrite what was already recorded."""
