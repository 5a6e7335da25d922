"""How a diagnosis names an entity in its flags and headlines.

A rep or territory is named with its kind, its name and its id — ``territory
US-WEST CA (2)``, ``rep Alicia Thomber (2)`` — so a reader can tell a territory
from a rep and find it in the store; ``rep W03`` when there is no name (or the
name is the id). Regions, segments and the company go by their name, as in the
tables.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["KIND_LEVELS", "entity_label", "name_and_id", "relabel"]

#: levels named with their kind and id (their ids are what the tables and commands use)
KIND_LEVELS = ("rep", "territory")


def name_and_id(entity: object, name: object = None) -> str:
    """``US-WEST CA (2)``; just the id without a name or when the name is the id."""
    e = "" if entity is None else str(entity)
    n = "" if name is None else str(name).strip()
    return f"{n} ({e})" if n and n.casefold() != e.casefold() else e


def entity_label(level: str, entity: object, names: Mapping[tuple[str, str], str] | None = None) -> str:
    """``territory US-WEST CA (2)``; ``rep W03`` without a name; ``West`` for a region."""
    e = "" if entity is None else str(entity)
    name = str((names or {}).get((level, e)) or "").strip()
    if level not in KIND_LEVELS:
        return name or e
    return f"{level} {name_and_id(e, name)}"


def relabel(message: str, level: str, entity: object, names: Mapping[tuple[str, str], str] | None = None) -> str:
    """``message`` led by the entity's label, in place of a bare name or id before the first ``": "``
    (``"WEST: …"`` or ``"West Mid-Market: …"`` → ``"territory West Mid-Market (WEST): …"``)."""
    label = entity_label(level, entity, names)
    e = "" if entity is None else str(entity)
    for bare in (label, str((names or {}).get((level, e)) or "").strip(), e):
        if bare and message.startswith(f"{bare}: "):
            return f"{label}: {message[len(bare) + 2:]}"
    return f"{label}: {message}"
