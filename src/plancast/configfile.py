"""Reading the small TOML/YAML files users write (mappings, assignment rules)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import BadInput, Problem

SUFFIXES = (".toml", ".yaml", ".yml")


def load_config_file(path: str | Path, what: str, fail: Callable[[str, list[Problem]], BadInput]) -> Any:
    """Parse ``path`` by its suffix; any problem is raised as ``fail(source, [problem])``.

    ``what`` names the file in messages ("mapping file", "rules file")."""
    source = str(path)
    p = Path(path)
    suffix = p.suffix.lower()

    def refuse(message: str) -> BadInput:
        return fail(source, [Problem(source, None, None, None, message)])

    if suffix not in SUFFIXES:
        raise refuse(f"is not a {what}: name it .toml or .yaml (got {suffix or 'no suffix'})")
    if not p.is_file():
        raise refuse(f"no such {what}; check the path")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise refuse("is not UTF-8 text; re-save it as UTF-8") from None
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise refuse(f"is not valid TOML ({exc}); fix the syntax") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise refuse(f"is not valid YAML ({' '.join(str(exc).split())}); fix the syntax") from None
