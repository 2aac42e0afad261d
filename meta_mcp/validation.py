"""Names and validation messages shared by every layer: one regex, one formatter per kind of error.

- `NAME_RE` / `NAME_PATTERN`: server, catalog-entry, prefix and workspace names (1-64 of
  `A-Z a-z 0-9 _ . -`). Exposed tool names have their own, longer rule in `registry.naming`.
- `pydantic_problems(exc)` and `schema_problems(schema, value)` turn validation errors into
  `"where: what"` lines, first problem first, so every front door reports bad input the same way.
- `did_you_mean(name, known)` is the one "close match" hint.

Example:
    schema_problems({"type": "object", "required": ["paths"]}, {})   # → ["config: 'paths' is a required property"]
    did_you_mean("tiem", ["time", "git"])                             # → " Did you mean 'time'?"
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
NAME_RE = re.compile(NAME_PATTERN)
NAME_RULE = "use 1-64 of A-Z a-z 0-9 _ . -"


def pydantic_problems(exc: ValidationError, root: str = "entry") -> list[str]:
    """One `"field.path: message"` line per error of a pydantic `ValidationError`."""
    return [f"{'.'.join(str(p) for p in err['loc']) or root}: {err['msg']}" for err in exc.errors()]


def schema_problems(schema: dict[str, Any] | None, value: Any, *, root: str = "config",
                    partial: bool = False) -> list[str]:
    """Problems of `value` against a JSON Schema, by path; with `partial`, missing top-level required
    fields are not problems (yet). jsonschema is imported on first use, off the start-up path."""
    if not schema:
        return []
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if partial:
        errors = [e for e in errors if not (e.validator == "required" and not e.path)]
    return [f"{'.'.join(map(str, e.path)) or root}: {e.message}" for e in errors]


def close_matches(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Up to `n` of `known` spelled like `name`, closest first."""
    import difflib  # only when a name is wrong: off the start-up path

    return difflib.get_close_matches(name, list(known), n=n, cutoff=0.6)


def did_you_mean(close: list[str]) -> str:
    """`" Did you mean 'a', 'b'?"` for a non-empty list of suggestions, else `""`."""
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
