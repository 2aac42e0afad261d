"""Exposed names: `<prefix>__<name>`, always valid for the configured budget, deterministic and collision-free.

Model APIs are stricter than MCP: OpenAI and Anthropic take tool names matching `^[A-Za-z0-9_-]{1,64}$`
and hosts prepend their own prefix (Claude Code: `mcp__<server>__<tool>`). A `NamePolicy` says what an
exposed name may be: at most `max_length` characters (default 48) of a charset — `llm` (`A-Z a-z 0-9 _ -`,
the default) or `mcp` (the spec's set, dots too).

Rules (who wins, how clashes degrade):
- the exposed name is `prefix + "__" + name` (just `name` when the prefix is `""`), with every
  character outside the charset replaced by `_`;
- a name that is then longer than `max_length`, or that is already taken, becomes
  `<head>-<8 hex of sha1(server NUL name)>`: the hash is a stable function of the server and the
  original name, so it is the same on every start and never the same for two tools; the head keeps
  as much of the prefix and of the tool's name as fits (the prefix at most a third of it when the
  tool's name needs the room), so it stays readable;
- a name once given keeps being given while both exist: the assignment made first wins, so adding a
  server never renames a tool another server already exposes.

Examples (default policy, 48 characters, `llm`):
    >>> names = NameTable()
    >>> names.assign([("time", "time", "get_current_time")], reserved={"call_tool": "meta-mcp"})
    {('time', 'get_current_time'): 'time__get_current_time'}
    >>> base_name("aws", "s3.list_buckets")
    'aws__s3_list_buckets'
    >>> hashed_name("github", "github", "create_or_update_file_contents_in_a_repository_branch")
    'github__create_or_update_file_contents_-792c501f'
    >>> # too long: the server ...-us gets the same head and its own hash
    >>> hashed_name("analytics-warehouse-production-eu", "analytics-warehouse-production-eu", "run_query")
    'analytics-warehouse-producti__run_query-6f63d050'
    >>> # a long tool name: the prefix keeps a third of the head
    >>> hashed_name("analytics-warehouse-production-eu", "analytics-warehouse-production-eu",
    ...             "run_query_against_the_primary_replica_now")
    'analytics-wa__run_query_against_the_pri-f8a2dfb1'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
"""The MCP rule every exposed name satisfies under any policy."""
SEPARATOR = "__"
DIGEST_LEN = 8

Charset = Literal["llm", "mcp"]
_INVALID: dict[str, re.Pattern[str]] = {"llm": re.compile(r"[^A-Za-z0-9_-]"), "mcp": re.compile(r"[^A-Za-z0-9_.-]")}
_CLASS = {"llm": "A-Za-z0-9_-", "mcp": "A-Za-z0-9_.-"}

Key = tuple[str, str]
"""(server, the tool's own name — after curation's rename, if any)."""


@dataclass(frozen=True, slots=True)
class NamePolicy:
    """What an exposed name may be: `max_length` characters of `charset`."""

    max_length: int = 48
    charset: Charset = "llm"

    @property
    def pattern(self) -> re.Pattern[str]:
        """The regex every name this policy gives matches."""
        return re.compile(f"^[{_CLASS[self.charset]}]{{1,{self.max_length}}}$")

    def clean(self, text: str) -> str:
        return _INVALID[self.charset].sub("_", text)


MCP_POLICY = NamePolicy(128, "mcp")
"""The MCP spec's own limits (used for prompt names, which no model API constrains)."""


def base_name(prefix: str, name: str, policy: NamePolicy = NamePolicy()) -> str:
    """The preferred exposed name before length and collision handling."""
    raw = f"{prefix}{SEPARATOR}{name}" if prefix else name
    return policy.clean(raw) or "_"


def digest(server: str, name: str) -> str:
    return hashlib.sha1(f"{server}\0{name}".encode()).hexdigest()[:DIGEST_LEN]


def hashed_name(prefix: str, server: str, name: str, policy: NamePolicy = NamePolicy()) -> str:
    """The fallback name: a readable head plus a digest of (server, name), `policy.max_length` at most."""
    budget = policy.max_length - DIGEST_LEN - 1
    own = policy.clean(name) or "_"
    if not prefix:
        head = own[:budget]
    else:
        cleaned = policy.clean(prefix)
        room = budget - len(SEPARATOR)
        keep = min(len(cleaned), max(room - len(own), room // 3))
        head = f"{cleaned[:keep]}{SEPARATOR}{own[:room - keep]}"
    return f"{head}-{digest(server, name)}"


class NameTable:
    """Remembers which exposed name each (server, name) got, so names stay stable."""

    def __init__(self, policy: NamePolicy = NamePolicy()) -> None:
        self.policy = policy
        self._given: dict[Key, str] = {}

    def assign(
        self, entries: Iterable[tuple[str, str, str]], *, reserved: Mapping[str, str] | None = None
    ) -> dict[Key, str]:
        """Give each `(server, prefix, name)` an exposed name; earlier assignments keep theirs.

        Entries are processed in order, so among new names the earlier entry wins a clash.
        `reserved` maps names (the meta tools) to the one server that may have them.
        """
        policy = self.policy
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
                exposed = base_name(prefix, name, policy)
                if reserved.get(exposed) == server:
                    pass
                elif len(exposed) > policy.max_length or exposed in taken:
                    exposed = hashed_name(prefix, server, name, policy)
                    counter = 1
                    while exposed in taken:  # only on a digest clash: astronomically rare
                        exposed = f"{hashed_name(prefix, server, name, policy)[: policy.max_length - 4]}-{counter}"
                        counter += 1
                taken.add(exposed)
            result[key] = exposed
        self._given = result
        return result
