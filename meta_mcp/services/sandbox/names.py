"""Which tools a sandbox run may call, and the JavaScript names it calls them by.

Code in the sandbox calls a tool as `await tools.<server>.<tool>(args)`. Both parts are the original
server and tool names turned into JavaScript identifiers:

- every character outside `[A-Za-z0-9_$]` becomes `_` (`my-server` → `my_server`, `get.time` →
  `get_time`); a leading digit gets a `_` in front (`2fa` → `_2fa`); an empty name is `_`;
- a name that is already a valid identifier keeps it; when two names of one level map to the same
  identifier, the one that needed no change wins and the others get `_<6 hex of sha1(name)>`
  appended (`get-time` → `get_time_3f2a1c` next to a real `get_time`); among changed names the
  lexicographically first one keeps the plain form. The mapping is a function of the set of names,
  never of the order servers were added in.

A `ToolTable` is built once per run from the workspace's surface and is the authority on what the run
may call: the bridge resolves every call message through it, whatever the code in the sandbox did.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_INVALID = re.compile(r"[^A-Za-z0-9_$]")
IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def js_identifier(name: str) -> str:
    """The plain JavaScript identifier for `name` (before collision handling)."""
    ident = _INVALID.sub("_", name) or "_"
    return "_" + ident if ident[0].isdigit() else ident


def assign_identifiers(names: Iterable[str]) -> dict[str, str]:
    """Map each distinct name to a unique identifier (see the module docstring for who wins)."""
    unique = sorted(set(names), key=lambda n: (js_identifier(n) != n, n))
    taken: set[str] = set()
    result: dict[str, str] = {}
    for name in unique:
        ident = js_identifier(name)
        if ident in taken:
            ident = f"{ident}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"
            counter = 2
            while ident in taken:  # only on a digest clash
                ident = f"{js_identifier(name)}_{hashlib.sha1(name.encode()).hexdigest()[:6]}_{counter}"
                counter += 1
        taken.add(ident)
        result[name] = ident
    return result


@dataclass(frozen=True, slots=True)
class ToolBinding:
    """One tool a run may call: where it lives, how the registry names it, how the code names it."""

    server: str
    """The server's name (the provider's name in the workspace)."""
    tool: str
    """The tool's own name at that server."""
    exposed: str
    """The tool's name on meta-mcp's surface: what the registry's call path routes."""
    definition: dict[str, Any]
    """The tool's listed definition (description, inputSchema, outputSchema …)."""
    server_id: str
    tool_id: str

    @property
    def path(self) -> str:
        """How the code calls it, e.g. `tools.time.get_current_time`."""
        return f"tools.{self.server_id}.{self.tool_id}"


@dataclass(frozen=True)
class ToolTable:
    """The tools of one run, by server identifier then tool identifier."""

    servers: dict[str, dict[str, ToolBinding]] = field(default_factory=dict)
    server_names: dict[str, str] = field(default_factory=dict)
    """Server identifier → server name."""

    @classmethod
    def build(cls, entries: Iterable[tuple[str, str, str, dict[str, Any]]]) -> ToolTable:
        """Build from `(server, tool, exposed name, definition)` entries; a repeated (server, tool) keeps the first."""
        by_server: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
        for server, tool, exposed, definition in entries:
            by_server.setdefault(server, {}).setdefault(tool, (exposed, definition))
        server_ids = assign_identifiers(by_server)
        servers: dict[str, dict[str, ToolBinding]] = {}
        for server in sorted(by_server, key=lambda s: server_ids[s]):
            tools = by_server[server]
            tool_ids = assign_identifiers(tools)
            sid = server_ids[server]
            servers[sid] = {
                tool_ids[tool]: ToolBinding(server, tool, exposed, definition, sid, tool_ids[tool])
                for tool, (exposed, definition) in sorted(tools.items(), key=lambda kv: tool_ids[kv[0]])
            }
        return cls(servers, {sid: name for name, sid in server_ids.items()})

    def lookup(self, server_id: str, tool_id: str) -> ToolBinding | None:
        """The binding the code means by `tools.<server_id>.<tool_id>`, or None if the run may not call it."""
        tools = self.servers.get(server_id)
        return None if tools is None else tools.get(tool_id)

    def manifest(self) -> dict[str, list[str]]:
        """What the prelude needs to build the `tools` object: server identifier → tool identifiers."""
        return {sid: list(tools) for sid, tools in self.servers.items()}

    def bindings(self) -> list[ToolBinding]:
        return [b for tools in self.servers.values() for b in tools.values()]

    def __len__(self) -> int:
        return sum(len(tools) for tools in self.servers.values())
