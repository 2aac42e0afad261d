"""Curation: which of a server's tools a workspace exposes, under which names and descriptions.

Two levels, both applied whenever the snapshot is built (so a change of the upstream's list is curated
in the same step, atomically, and nothing ever routes to a hidden tool):
- the server's own (`ServerSpec.curation` from its config entry or add_server spec, overlaid by the
  options given to add_server / configure_server): globs and keys are the tool's own name;
- the workspace-wide one (the `curation` setting): globs and keys are `<server>__<tool>`.
A tool is hidden when either level hides it (`deny` wins over `allow`). A rename gives the tool a new
own name (the prefix still applies; the server entry's rename wins over the workspace's), a
description override replaces what the model reads. Hidden tools are refused by every call path with
the reason (`Snapshot.hidden`).

Example:
    plan = curate("gh", [{"name": "delete_repo", …}, {"name": "search_code", …}],
                  Curation(tools=ToolFilter(deny=("delete_*",)), rename={"search_code": "code_search"}), None)
    plan.tools   → [Curated("search_code", "code_search", {…}, {…})]
    plan.denied  → [("delete_repo", "hidden by the server's curation (tools.deny 'delete_*')")]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from meta_mcp.config import Curation
from meta_mcp.registry.naming import SEPARATOR


@dataclass(frozen=True, slots=True)
class Curated:
    """One tool to expose: its own name at the server, its name after renames, its wire definition
    (with any description override; `name` is still the server's) and the server's own definition."""

    original: str
    display: str
    wire: dict[str, Any]
    source: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Plan:
    tools: list[Curated] = field(default_factory=list)
    denied: list[tuple[str, str]] = field(default_factory=list)
    """(tool's own name, why it is hidden)."""


def qualified(server: str, tool: str) -> str:
    """The workspace-wide curation's key of a tool: `<server>__<tool>` (the original names)."""
    return f"{server}{SEPARATOR}{tool}"


def curate(server: str, tools: Iterable[dict[str, Any]], own: Curation | None, workspace: Curation | None) -> Plan:
    """Apply the server's own and the workspace-wide curation to the server's listed tools."""
    plan = Plan()
    for tool in tools:
        name = tool["name"]
        key = qualified(server, name)
        why = None
        if own is not None and own.tools is not None and (rule := own.tools.refusal(name)) is not None:
            why = f"hidden by the server's curation ({rule})"
        elif workspace is not None and workspace.tools is not None and (rule := workspace.tools.refusal(key)):
            why = f"hidden by the workspace's curation ({rule})"
        if why is not None:
            plan.denied.append((name, why))
            continue
        display = (own.rename.get(name) if own is not None else None) or (
            workspace.rename.get(key) if workspace is not None else None) or name
        description = (own.descriptions.get(name) if own is not None else None) or (
            workspace.descriptions.get(key) if workspace is not None else None)
        wire = tool if description is None else {**tool, "description": description}
        plan.tools.append(Curated(name, display, wire, tool))
    return plan
