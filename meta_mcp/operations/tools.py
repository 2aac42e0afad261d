"""Tool operations: search the workspace's tools, call one by name, pin tools, approve changed definitions.

`call_tool` goes through the registry's one call path, exactly like a client's `tools/call`, so
naming, curation, timeouts and error shaping apply the same way; it takes an exposed name or the
original `<server>__<tool>` form. `visible_tools` is the one place that filters the current snapshot's
callable tools by owner: the sandbox, the agent and `find_tools` all choose their tools with it — every
callable tool, whether `tools/list` shows it or not (see `registry.exposure`); hidden tools are never
among them. `find_tools` ranks with find_servers' ranker (`services/ranking.py`: BM25F, query expansion,
name bonus) over each tool's name, title, server, description and parameters (`tool_index`), one index
per workspace snapshot; what a caller may use is filtered per call. With `catalog_ranker=hybrid` (and
the embeddings extra) it adds the embedding model's similarities, as find_servers does (`catalog/hybrid.py`).

Pins (`pin_tools` / `unpin_tools`) put tools in the listing when exposure shows only the meta tools;
`approve_tool_change` pins the new definition of a tool that changed since it was first seen (see
`registry.pinning`). All three are kept in the state store (`bind_records`).

Example:
    await find_tools(ws, "current time in Tokyo", limit=3)
    → [ToolMatch(name="time__get_current_time", server="time", description="…", score=2.31,
                 input_schema={…}, listed=True)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from meta_mcp.auth.context import current_caller
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import NO_CONTEXT, CallContext
from meta_mcp.services.state import StateError

if TYPE_CHECKING:
    from meta_mcp.operations.tool_ranking import ToolRanker

META_SERVER = "meta-mcp"
"""The name of the provider serving the meta tools."""


@dataclass(frozen=True, slots=True)
class VisibleTool:
    """A callable tool of the current snapshot: who serves it, its own name there, its exposed definition."""

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
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    title: str | None = None
    listed: bool = True
    """Whether the client's tools/list shows it (else call it with call_tool, or pin it)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "server": self.server, "description": self.description,
                               "score": self.score, "inputSchema": self.input_schema, "listed": self.listed}
        if self.title:
            out["title"] = self.title
        if self.output_schema is not None:
            out["outputSchema"] = self.output_schema
        return out


def visible_tools(ws: Workspace, keep: Callable[[str, str], bool], *, policy: bool = True) -> list[VisibleTool]:
    """The snapshot's callable tools, in listing order, for which `keep(server, original_name)` holds and
    which the policy lets the current caller use (`auth.context.current_caller`: the request's identity
    over HTTP; no policy over stdio). `policy=False`: every callable tool (for the workspace's shared index)."""
    snapshot = ws.registry.snapshot
    allowed = _allowed(ws) if policy else (lambda name: True)
    out = []
    for tool in snapshot.all_tools:
        provider, original = snapshot.tool_routes[tool["name"]]
        if keep(provider.name, original) and allowed(tool["name"]):
            out.append(VisibleTool(provider.name, original, tool["name"], tool))
    return out


def _allowed(ws: Workspace) -> Callable[[str], bool]:
    rules = current_caller().rules(ws.name)
    return (lambda name: True) if rules is None else rules.tool_allowed


def _proxied(ws: Workspace) -> tuple[list[VisibleTool], ToolRanker]:
    from meta_mcp.operations.tool_ranking import tool_index

    tools = visible_tools(ws, lambda server, _: server != META_SERVER, policy=False)
    return tools, tool_index(tools, ws.settings.catalog_ranker, ws.services.vectors)


async def find_tools(ws: Workspace, query: str, limit: int = 10) -> list[ToolMatch]:
    """The workspace's callable proxied tools ranked for `query`, best first, with their full schemas. A
    query that is a tool's name (exposed, or the original `<server>__<tool>`) puts that tool first."""
    registry = ws.registry
    snapshot = registry.snapshot

    def rank() -> tuple[list[VisibleTool], list[tuple[int, float]]]:
        tools, index = ws.services.tool_index.get(ws.name, snapshot, lambda: _proxied(ws))
        return tools, index.rank(query, limit=len(tools))

    # The hybrid embeds new tools and every query with a model: off the event loop.
    hybrid = ws.settings.catalog_ranker == "hybrid"
    tools, everything = await anyio.to_thread.run_sync(rank) if hybrid else rank()
    listed = {t["name"] for t in snapshot.tools}
    allowed = _allowed(ws)  # the index is the workspace's; what this caller may use is filtered here
    ranked = [(i, round(score, 4)) for i, score in everything if allowed(tools[i].exposed)][:limit]
    named = registry.resolve_tool(query.strip())
    if named is not None and named[0] is not None and named[1] != META_SERVER:
        exact = next((i for i, t in enumerate(tools) if t.exposed == named[0]), None)
        if exact is not None and allowed(tools[exact].exposed):
            top = max((score for _, score in ranked), default=0.0)
            ranked = [(exact, round(top + 1.0, 4))] + [(i, s) for i, s in ranked if i != exact][: limit - 1]
    return [_match(tools[i], score, tools[i].exposed in listed) for i, score in ranked]


def _match(tool: VisibleTool, score: float, listed: bool) -> ToolMatch:
    d = tool.definition
    return ToolMatch(tool.exposed, tool.server, d.get("description") or "", score,
                     input_schema=d.get("inputSchema") or {"type": "object"}, output_schema=d.get("outputSchema"),
                     title=d.get("title"), listed=listed)


async def call_tool(ws: Workspace, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                    ) -> dict[str, Any]:
    """Call a tool (exposed name or `<server>__<tool>`) through the one call path; returns its
    `CallToolResult` wire dict."""
    return await ws.registry.call_tool(name, arguments or {}, call)


# -- pins and approvals ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PinOutcome:
    """What pin_tools / unpin_tools did: the tools now (un)pinned by exposed name, names not known, and
    whether the listing shows only the meta tools and pins (else pins change nothing you can see)."""

    changed: tuple[str, ...]
    unknown: tuple[str, ...]
    pinned: tuple[str, ...]
    """Every pinned tool of the workspace now (exposed names of those that exist)."""
    listing_is_narrowed: bool
    saved: bool = True
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.saved and not self.unknown

    def data(self) -> dict[str, Any]:
        out = {"changed": list(self.changed), "unknown": list(self.unknown), "pinned": list(self.pinned),
               "listing_is_narrowed": self.listing_is_narrowed}
        if not self.saved:
            out["error"] = f"the state store is unavailable ({self.reason}); nothing changed"
        return out


def _pinned_names(ws: Workspace) -> tuple[str, ...]:
    snapshot = ws.registry.snapshot
    pins = ws.registry.pins
    return tuple(t["name"] for t in snapshot.all_tools
                 if (snapshot.tool_routes[t["name"]][0].name, snapshot.tool_routes[t["name"]][1]) in pins)


async def pin_tools(ws: Workspace, names: Iterable[str], *, pin: bool = True) -> PinOutcome:
    """Pin (or unpin) tools by exposed name or `<server>__<tool>`; clients are told when the listing changes."""
    registry = ws.registry
    await registry.wait_preloaded()
    keys: list[tuple[str, str]] = []
    changed: list[str] = []
    unknown: list[str] = []
    for name in names:
        found = registry.resolve_tool(name)
        if found is None or found[1] == META_SERVER:
            unknown.append(name)
            continue
        keys.append((found[1], found[2]))
        changed.append(found[0] or name)
    pins = set(registry.pins)
    new = pins | set(keys) if pin else pins - set(keys)
    narrowed = not registry.summary.listed_all
    if new != pins:
        try:
            await registry.set_pins(new)
        except StateError as exc:
            return PinOutcome((), tuple(unknown), _pinned_names(ws), narrowed, saved=False, reason=str(exc))
        await ws.announce("surface")
    return PinOutcome(tuple(changed), tuple(unknown), _pinned_names(ws), narrowed)


@dataclass(frozen=True, slots=True)
class Approval:
    name: str
    server: str | None = None
    tool: str | None = None
    approved: bool = False
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.approved

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "server": self.server, "tool": self.tool, "approved": self.approved}
        if self.reason:
            out["message"] = self.reason
        return out


async def approve_tool_change(ws: Workspace, name: str) -> Approval:
    """Accept the changed definition of tool `name` (exposed, `<server>__<tool>`, or the name of a
    quarantined tool): it is pinned as approved and the tool is callable and listed again."""
    registry = ws.registry
    await registry.wait_preloaded()
    found = registry.resolve_tool(name)
    if found is None:
        return Approval(name, reason=f"no tool is known as {name!r}")
    _, server, tool = found
    if not await registry.approve_tool_change(server, tool):
        hidden = registry.hidden_tool(name)
        why = f"it is hidden: {hidden.reason}" if hidden is not None else "its definition has not changed"
        return Approval(name, server, tool, reason=f"nothing to approve for {name!r}: {why}")
    await ws.announce("surface")
    return Approval(name, server, tool, approved=True, reason="the new definition is approved; clients were told")


# -- where a workspace keeps pins, pinned definitions and curation -------------------------------------


class StoreRecords:
    """`registry.exposure.SurfaceRecords` over the state store's config records of one workspace (keys
    contain ':', which no server name does, so they never meet a server's config)."""

    def __init__(self, ws: Workspace) -> None:
        self._store = ws.services.state
        self._workspace = ws.name

    async def load(self, key: str) -> dict[str, Any]:
        return await self._store.get_config(self._workspace, key)

    async def save(self, key: str, value: dict[str, Any]) -> None:
        await self._store.set_config(self._workspace, key, value)


def bind_records(ws: Workspace) -> None:
    """Keep the workspace's pins, pinned definitions and stored curation in the state store."""
    ws.registry.bind_records(StoreRecords(ws))


_RANKING = frozenset({"TOOL_FIELDS", "TOOL_NAME_BONUS", "INTENT_WEIGHT", "VOCABULARY_WEIGHT", "TOOL_VOCABULARY",
                      "tool_document", "tool_text", "tool_index"})


def __getattr__(name: str) -> Any:
    """find_tools' ranker (`tool_ranking`) is imported when first asked for, off the start-up path."""
    if name in _RANKING:
        from meta_mcp.operations import tool_ranking

        return getattr(tool_ranking, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
