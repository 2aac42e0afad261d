"""Exposed names: `<prefix>__<name>`, always valid, deterministic and collision-free.

Rules (who wins, how clashes degrade):
- the exposed name is `prefix + "__" + name` (just `name` when the prefix is `""`), with every
  character outside `[A-Za-z0-9_.-]` replaced by `_`;
- a name that is then longer than 128 characters, or that is already taken, becomes
  `<first up to 119 characters>-<8 hex of sha1(server, name)>` — a stable function of the server and
  the original name;
- a name once given keeps being given while both exist: the assignment made first wins, so adding a
  server never renames a tool another server already exposes.

Example:
    >>> names = NameTable()
    >>> names.assign([("time", "time", "get_current_time")], reserved={"call_tool": "meta-mcp"})
    {('time', 'get_current_time'): 'time__get_current_time'}
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_INVALID = re.compile(r"[^A-Za-z0-9_.-]")
MAX_LEN = 128
SEPARATOR = "__"

Key = tuple[str, str]
"""(server, original name)."""


def base_name(prefix: str, name: str) -> str:
    """The preferred exposed name before length and collision handling."""
    raw = f"{prefix}{SEPARATOR}{name}" if prefix else name
    return _INVALID.sub("_", raw) or "_"


def hashed_name(prefix: str, server: str, name: str) -> str:
    """The fallback name: a readable head plus a digest of (server, name)."""
    digest = hashlib.sha1(f"{server}\0{name}".encode()).hexdigest()[:8]
    return f"{base_name(prefix, name)[: MAX_LEN - 9]}-{digest}"


class NameTable:
    """Remembers which exposed name each (server, original name) got, so names stay stable."""

    def __init__(self) -> None:
        self._given: dict[Key, str] = {}

    def assign(
        self, entries: Iterable[tuple[str, str, str]], *, reserved: Mapping[str, str] | None = None
    ) -> dict[Key, str]:
        """Give each `(server, prefix, name)` an exposed name; earlier assignments keep theirs.

        Entries are processed in order, so among new names the earlier entry wins a clash.
        `reserved` maps names (the meta tools) to the one server that may have them.
        """
        wanted = [(server, prefix, name) for server, prefix, name in entries]
        live = {(server, name) for server, _, name in wanted}
        kept = {key: exposed for key, exposed in self._given.items() if key in live}
        reserved = reserved or {}
        taken = set(reserved) | set(kept.values())
        result: dict[Key, str] = {}
        for server, prefix, name in wanted:
            key = (server, name)
            if key in result:
                continue
            exposed = kept.get(key)
            if exposed is None:
                exposed = base_name(prefix, name)
                if reserved.get(exposed) == server:
                    pass
                elif len(exposed) > MAX_LEN or exposed in taken:
                    exposed = hashed_name(prefix, server, name)
                    counter = 1
                    while exposed in taken:  # only on a digest clash: astronomically rare
                        exposed = f"{hashed_name(prefix, server, name)[: MAX_LEN - 4]}-{counter}"
                        counter += 1
                taken.add(exposed)
            result[key] = exposed
        self._given = result
        return result
