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

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from meta_mcp.auth.context import current_caller
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import NO_CONTEXT, CallContext
from meta_mcp.services.bm25 import CAMEL, tokenize
from meta_mcp.services.catalog.intents import expansions
from meta_mcp.services.catalog.search import Ranker
from meta_mcp.services.ranking import Document, PhraseTable, RankedIndex, squash
from meta_mcp.services.state import StateError

if TYPE_CHECKING:
    from meta_mcp.services.catalog.hybrid import HybridRanker

    ToolRanker = RankedIndex | HybridRanker

logger = logging.getLogger(__name__)

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


#: find_tools' field weights and length-normalisation strengths (b) of BM25F (`services/ranking.py`).
TOOL_FIELDS: dict[str, tuple[float, float]] = {
    "name": (3.0, 0.3),
    "title": (2.5, 0.3),
    "server": (1.5, 0.3),
    "description": (1.0, 0.75),
    "params": (0.8, 0.6),
}
TOOL_NAME_BONUS = 1.0
INTENT_WEIGHT = 0.2
"""The catalog's intent table (`catalog/intents.py`): it reaches servers' words, which most of a
server's tools share, so it counts less here than in find_servers."""
VOCABULARY_WEIGHT = 1.0

#: What people say → the words tool names, descriptions and parameters use (a `PhraseTable`: words
#: stemmed, phrases after `|`). General API vocabulary: verbs of the usual operations and a few nouns.
TOOL_VOCABULARY = PhraseTable([
    # verbs
    ("make build generate insert register start|set up", "create"),
    ("new", "create"),
    ("remove erase drop destroy forget discard purge wipe|get rid of|throw away", "delete remove"),
    ("edit modify alter patch rename", "update edit"),
    ("view display inspect print see contents|what's in|what is in|look at", "read contents"),
    ("browse enumerate|what are the|which are", "list"),
    ("lookup locate seek grep|look for|look up|search for", "search"),
    ("save store write overwrite persist record put", "write save create"),
    ("send post publish say notify broadcast|let know", "post send message"),
    ("download retrieve grab", "fetch download"),
    ("upload", "upload push"),
    ("compare difference differences|what changed", "diff compare"),
    ("approve approval reject|request changes|sign off", "review approve"),
    ("run execute exec invoke", "run execute"),
    # nouns
    ("several multiple many batch bulk|at once|more than one", "multiple"),
    ("folder folders dir directories", "directory"),
    ("person people someone somebody individual", "entity user people"),
    ("link links connect connection relationship relationships related", "relation"),
    ("history past previous|what happened", "log history"),
    ("now|what time|time is it|right now|current time", "current"),
    ("local locally|my machine|on disk|working copy|this repo|my repo", "git local"),
    ("gps coordinate coordinates lat lng|lat long", "latitude longitude coordinates"),
    ("altitude high height|sea level", "elevation"),
    ("restaurant restaurants cafe cafes bar bars shop shops store stores business businesses|opening hours",
     "place places business local"),
])


def _whole_words(query: str, stems: set[str]) -> set[str]:
    """Words the tokenizer splits at a capital ("GitHub" → git, hub), also as written, lower-cased
    ("github"): a product name matches the server named after it either way."""
    return {w.lower() for w in re.findall(r"[A-Za-z0-9]+", query) if CAMEL.search(w)}


def _schema_words(schema: object, depth: int = 3) -> list[str]:
    """Parameter names of an input schema and their enum values, with those of nested objects and array
    items down to `depth` levels (an upstream's schema can nest without end)."""
    out: list[str] = []
    if not isinstance(schema, dict) or depth <= 0:
        return out
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            out += tokenize(str(name))
            out += _schema_words(sub, depth - 1)
    enum = schema.get("enum")
    if isinstance(enum, list):
        out += [w for v in enum[:50] if isinstance(v, str) for w in tokenize(v)]
    out += _schema_words(schema.get("items"), depth - 1)
    return out


def tool_document(tool: VisibleTool) -> Document:
    """A tool as the ranker sees it: its name (exposed without the server's prefix, and the original; less
    the server's own words, which all its tools share: `slack_post_message` is named "post message"),
    title, server, description, and parameters (names and enum values)."""
    d = tool.definition
    short = tool.exposed.removeprefix(f"{tool.server}__")
    server = tokenize(tool.server)
    words = tokenize(short)
    words += [w for w in tokenize(tool.original) if w not in words]
    name = [w for w in words if w not in server] or words
    title = tokenize(d.get("title") or "")
    fields = {"name": name, "title": title, "server": server, "description": tokenize(d.get("description") or ""),
              "params": _schema_words(d.get("inputSchema"))}
    return Document(fields, key=tool.exposed, names=(frozenset(name), frozenset(title)), squashed=squash(short))


def tool_text(tool: VisibleTool) -> str:
    """What a tool's embedding is made from (the hybrid ranker): "<server> <name words>: <title>. <description>"."""
    d = tool.definition
    name = tool.original.replace("_", " ").replace("-", " ")
    return f"{tool.server} {name}: {d.get('title') or ''}. {d.get('description') or ''}"


def tool_index(tools: Sequence[VisibleTool], ranker: Ranker = "lexical") -> ToolRanker:
    """find_tools' ranker over `tools`: find_servers' (`services/ranking.py`) with the intent table, the
    tool vocabulary, these field weights and the name bonus; with `ranker="hybrid"` and the embeddings
    extra, fused with the model's similarity to `tool_text` (`catalog/hybrid.py`; seconds to build for
    a hundred new tools: build it off the event loop). Without the extra: the lexical one (logged)."""
    lexical = RankedIndex([tool_document(t) for t in tools], TOOL_FIELDS, name_bonus=TOOL_NAME_BONUS,
                          expansions=[(expansions, INTENT_WEIGHT), (TOOL_VOCABULARY, VOCABULARY_WEIGHT),
                                      (_whole_words, 1.0)],
                          expanded_names=True)
    if ranker == "hybrid":
        from meta_mcp.services.catalog.embedding import EmbeddingUnavailable
        from meta_mcp.services.catalog.hybrid import HybridRanker

        try:
            return HybridRanker(lexical, [tool_text(t) for t in tools])
        except EmbeddingUnavailable as exc:
            logger.warning("find_tools ranks lexically: %s", exc)
    return lexical


def _proxied(ws: Workspace) -> tuple[list[VisibleTool], ToolRanker]:
    tools = visible_tools(ws, lambda server, _: server != META_SERVER, policy=False)
    return tools, tool_index(tools, ws.settings.catalog_ranker)


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
