"""Tool operations: search the workspace's tools, call one by its exposed name.

`call_tool` goes through the registry's one call path, exactly like a client's `tools/call`, so
naming, timeouts and error shaping apply the same way. `visible_tools` is the one place that filters
the current snapshot by owner: the sandbox, the agent and `find_tools` all choose their tools with it.

Example:
    await find_tools(ws, "current time in Tokyo", limit=3)
    → [ToolMatch(name="time__get_current_time", server="time", description="…", score=2.31)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import NO_CONTEXT, CallContext
from meta_mcp.services.bm25 import BM25Index

META_SERVER = "meta-mcp"
"""The name of the provider serving the meta tools."""


@dataclass(frozen=True, slots=True)
class VisibleTool:
    """A tool of the current snapshot: who serves it, its own name there, its exposed definition."""

    server: str
    original: str
    exposed: str
    definition: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolMatch:
    name: str
    server: str
    description: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "server": self.server, "description": self.description, "score": self.score}


def visible_tools(ws: Workspace, keep: Callable[[str, str], bool]) -> list[VisibleTool]:
    """The snapshot's tools, in listing order, for which `keep(server, original_name)` holds."""
    snapshot = ws.registry.snapshot
    out = []
    for tool in snapshot.tools:
        provider, original = snapshot.tool_routes[tool["name"]]
        if keep(provider.name, original):
            out.append(VisibleTool(provider.name, original, tool["name"], tool))
    return out


def _proxied(ws: Workspace) -> tuple[list[VisibleTool], BM25Index]:
    tools = visible_tools(ws, lambda server, _: server != META_SERVER)
    # The name counts twice: a tool's name is its most telling field.
    documents = [f"{t.exposed} {t.exposed} {t.definition.get('title') or ''} {t.definition.get('description') or ''}"
                 for t in tools]
    return tools, BM25Index(documents)


async def find_tools(ws: Workspace, query: str, limit: int = 10) -> list[ToolMatch]:
    """The workspace's proxied tools ranked for `query`, best first."""
    snapshot = ws.registry.snapshot
    tools, index = ws.services.tool_index.get(ws.name, snapshot, lambda: _proxied(ws))
    return [ToolMatch(tools[i].exposed, tools[i].server, tools[i].definition.get("description") or "", round(score, 4))
            for i, score in index.rank(query, limit=limit)]


async def call_tool(ws: Workspace, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                    ) -> dict[str, Any]:
    """Call an exposed tool through the one call path; returns its `CallToolResult` wire dict."""
    return await ws.registry.call_tool(name, arguments or {}, call)
