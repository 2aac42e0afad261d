"""The registry: the one place that knows which tools, resources and prompts exist now.

It owns the providers of one workspace, rebuilds the exposed `Snapshot` whenever a provider's listing
changes, tells every connected client (both protocol eras) when a visible list changed, and is the
single call path: clients, `call_tool`, the sandbox and the agent all call through
`Registry.call_tool`, so naming, timeouts and error shaping apply the same way everywhere.

Semantics:
- the builtin meta tools come first and their names are reserved; servers follow in the order they
  were added (see `naming` for who wins a clash); tool names follow the settings' name budget;
- each rebuild curates every server's tools (`curation`), checks them against their pinned
  definitions (`pinning`), names them, and narrows what `tools/list` shows (`exposure`) — in one
  step, so a changed upstream list is never exposed uncurated; the meta tools are told what stands
  behind them (`surface_changed(summary)`) before they are listed;
- a tool may be called by its exposed name or by an alias (`<server>__<tool>` as the server names
  it); a hidden tool (curation, quarantine) is refused on every path with the reason; an unknown
  tool, prompt or resource is a JSON-RPC `INVALID_PARAMS` error that names it and suggests close
  matches (`routing`) — after servers still preloading have had their first attempt (`preload`);
- pins, pinned definitions and stored curation are kept in the workspace's records (`records`);
- a provider's own failure (`ToolError`: crashed, timed out, not running) becomes a tool result with
  `isError: true` naming the server; other servers and clients are not disturbed.

Example:
    async with anyio.create_task_group() as tg:
        registry = Registry(settings, UpstreamPool(settings, tg))
        await registry.add_server(ServerSpec(name="time", command="mcp-server-time"))
        result = await registry.call_tool("time__get_current_time", {"timezone": "UTC"})
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.config import Curation, ServerSpec
from meta_mcp.providers.base import NO_CONTEXT, CallContext, Provider, ToolError, tool_error
from meta_mcp.providers.upstream import UpstreamProvider
from meta_mcp.registry import exposure
from meta_mcp.registry.curation import curate
from meta_mcp.registry.exposure import SurfaceSummary
from meta_mcp.registry.naming import MCP_POLICY, NamePolicy, NameTable
from meta_mcp.registry.notify import ChangeNotifier
from meta_mcp.registry.interceptors import Interceptor, ToolCall, run_chain
from meta_mcp.registry.pages import SnapshotHistory, decode_cursor, page
from meta_mcp.registry.pinning import Change
from meta_mcp.registry.pool import UpstreamPool
from meta_mcp.registry.preload import Preloads, Specs
from meta_mcp.registry.records import KeptState, SurfaceRecords
from meta_mcp.registry.routing import find_resource, find_tool, refused, unknown
from meta_mcp.registry.snapshot import Entry, Hidden, Route, Snapshot, ToolEntry, build_snapshot
from meta_mcp.registry.uris import exposed_uri
from meta_mcp.settings import Settings

logger = logging.getLogger(__name__)


class Registry:
    """The live component set of one workspace (see the module docstring)."""

    def __init__(self, settings: Settings, pool: UpstreamPool, *, workspace: str = "default",
                 interceptors: Sequence[Interceptor] = (), scrub: Callable[[Any], Any] | None = None) -> None:
        self.settings = settings
        self.workspace = workspace
        self._interceptors = interceptors  # shared with Workspaces: interceptors added later apply too
        self._scrub = scrub or (lambda result: result)  # prompts and resources: tool results have interceptors
        self.notifier = ChangeNotifier()
        self._pool = pool
        self._builtin: list[Provider] = []
        self._servers: dict[str, UpstreamProvider] = {}
        self._prefixes: dict[str, str] = {}
        self.name_policy = NamePolicy(settings.name_max_length, settings.name_charset)
        self._tool_names = NameTable(self.name_policy)
        self._prompt_names = NameTable(MCP_POLICY)  # prompts keep the MCP rule: no model API names them
        self._curations: dict[str, Curation] = {}
        """Each server's curation from its spec (config entry, ad-hoc spec)."""
        self._kept = KeptState(settings.on_tool_change, workspace)
        """Pins, pinned definitions and stored curation (laid over the spec's), and their records."""
        self._summary = exposure.summarize({}, settings.expose, settings.expose_auto_max)
        self._snapshot = Snapshot()
        self._history = SnapshotHistory(self._snapshot)
        self._preloads = Preloads(workspace)
        self._log_level: str | None = None

    # -- what exists -------------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def servers(self) -> dict[str, Provider]:
        """Added servers by name, in the order they were added."""
        return dict(self._servers)

    def prefix_of(self, name: str) -> str:
        """The prefix server `name`'s components are exposed under in this workspace."""
        return self._prefixes.get(name, name)

    def exposed_tools_of(self, name: str) -> list[str]:
        """The exposed names of server `name`'s tools, as listed now."""
        provider = self._servers.get(name)
        return [exposed for exposed, (p, _) in self._snapshot.tool_routes.items() if p is provider]

    def list_page(self, attr: str, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the snapshot list `attr` ("tools", "resources", …) and the next page's cursor.

        A cursor continues in the snapshot it was cut from, so paging sees one consistent list."""
        if cursor is None:
            generation, offset, snapshot = self._history.generation, 0, self._snapshot
        else:
            generation, offset = decode_cursor(cursor)
            snapshot = self._history.at(generation)
            if snapshot is None:
                raise MCPError(INVALID_PARAMS, "The cursor has expired (the list changed since); list again "
                               "without a cursor.")
        return page(getattr(snapshot, attr), offset, generation, max_items=self.settings.page_max_items,
                    max_bytes=self.settings.page_max_bytes)

    def add_builtin(self, provider: Provider) -> None:
        """Add a provider whose tools are exposed unprefixed and whose names are reserved."""
        self._builtin.append(provider)
        self._rebuild()

    async def wait_preloaded(self) -> None:
        """Wait (bounded by the connect timeout) until preloaded servers have had their first try."""
        await self._preloads.wait(self.settings.connect_timeout + 1)

    # -- changing the set --------------------------------------------------------------------------

    async def add_server(self, spec: ServerSpec) -> Provider:
        """Start or connect `spec` (or share a workspace's identical one) and expose its components.

        Returns once the server is ready or its first attempt failed (see `provider.status`).
        """
        if spec.name in self._servers:
            raise ValueError(f"server {spec.name!r} is already added")
        # Taken synchronously, so servers keep the order they were added in (names stay deterministic).
        self._prefixes[spec.name] = spec.effective_prefix
        self._curations[spec.name] = spec.curation
        provider = self._pool.hold(spec)
        self._servers[spec.name] = provider
        provider.listeners.append(self)
        await self._kept.load_server(spec.name, self._servers.__contains__)
        await self._pool.ready(provider)
        if self._log_level is not None:
            await provider.set_log_level(self._log_level)
        await self._rebuild_and_notify()
        return provider

    def preload(self, specs: Specs) -> None:
        """Start `specs` (or what an async function produces: restoring from the state store) concurrently in
        the background; lists and lookups wait for their first attempt (see `registry.preload`)."""
        self._preloads.start(specs, self._add_logged, self._pool.task_group)

    async def _add_logged(self, spec: ServerSpec) -> None:
        try:
            await self.add_server(spec)
        except ValueError as exc:
            logger.error("config: %s", exc)

    async def remove_server(self, name: str, *, missing_ok: bool = False) -> None:
        """Stop or disconnect server `name` (unless another workspace shares it) and drop its components.

        An unknown `name` is an `INVALID_PARAMS` error, or nothing with `missing_ok` (a clean-up that may
        race another: a replica's change applied meanwhile)."""
        provider = self._servers.pop(name, None)
        if provider is None:
            if missing_ok:
                return
            raise unknown("server", name, self._servers)
        self._prefixes.pop(name, None)
        self._curations.pop(name, None)
        self._kept.forget(name)
        if self in provider.listeners:
            provider.listeners.remove(self)
        await self._rebuild_and_notify()
        await self._pool.release(provider)

    async def aclose(self) -> None:
        """Release every server."""
        for name in list(self._servers):
            provider = self._servers.pop(name)
            if self in provider.listeners:
                provider.listeners.remove(self)
            await self._pool.release(provider)

    # -- what providers tell us (ProviderListener) -------------------------------------------------

    async def provider_changed(self, provider: Provider) -> None:
        await self._rebuild_and_notify()

    async def resource_updated(self, provider: Provider, uri: str) -> None:
        route = self._snapshot.resource_routes.get(uri)
        exposed = uri if route is not None and route[0] is provider else exposed_uri(provider.name, uri)
        await self.notifier.resource_updated(exposed)

    async def provider_log(self, provider: Provider, level: str, data: Any, logger_name: str | None) -> None:
        await self.notifier.log(level, data, logger_name)

    def _rebuild(self) -> Snapshot:
        settings, book = self.settings, self._kept.definitions
        workspace_curation = settings.curation
        book.begin()
        servers: list[Entry] = []
        counts: dict[str, int] = {}
        for name, provider in self._servers.items():
            own = self._kept.curations.get(name, Curation()).over(self._curations.get(name, Curation()))
            plan = curate(name, provider.listing.tools, own or None, workspace_curation)
            tools = [ToolEntry(c.original, c.display, c.wire, book.check(name, c.source)) for c in plan.tools]
            counts[name] = sum(1 for t in tools if t.withheld is None)
            servers.append(Entry(provider, self.prefix_of(name), tools, plan.denied))
        summary = exposure.summarize(counts, settings.expose, settings.expose_auto_max)
        for builtin in self._builtin:
            if (told := getattr(builtin, "surface_changed", None)) is not None:
                told(summary)
        entries = [Entry(p, "", [ToolEntry(t["name"], t["name"], t) for t in p.listing.tools]) for p in self._builtin]
        reserved = {t["name"]: p.name for p in self._builtin for t in p.listing.tools}
        snapshot = build_snapshot(entries + servers, self._tool_names, self._prompt_names, reserved)
        owner = {name: (p.name, original) for name, (p, original) in snapshot.tool_routes.items()}
        always = {p.name for p in self._builtin}
        shown = exposure.listed(snapshot.all_tools, owner, always, self._kept.pins, summary.listed_all)
        self._summary = summary
        self._snapshot = replace(snapshot, tools=shown)
        self._history.push(self._snapshot)
        return self._snapshot

    async def _rebuild_and_notify(self) -> None:
        old = self._snapshot.signature()
        new = self._rebuild().signature()
        await self._kept.save_definitions()
        await self.notifier.changed(tools=old[0] != new[0], resources=old[1] != new[1], prompts=old[2] != new[2])

    # -- what a workspace keeps: pins, pinned definitions, stored curation ---------------------------

    def bind_records(self, records: SurfaceRecords) -> None:
        """Keep pins, pinned definitions and stored curation in `records` (the state store) from now
        on; the workspace's pins are loaded in the background (lists and lookups wait, like a preload)."""
        self._kept.records = records

        async def load() -> list[ServerSpec]:
            await self._kept.load_pins()
            for name in list(self._servers):
                await self._kept.load_server(name, self._servers.__contains__)
            await self._rebuild_and_notify()
            return []

        self.preload(load)

    @property
    def summary(self) -> SurfaceSummary:
        """What stands behind the meta tools now (callable tools per server, whether all are listed)."""
        return self._summary

    @property
    def pins(self) -> frozenset[tuple[str, str]]:
        """Pinned tools as (server, the tool's own name)."""
        return frozenset(self._kept.pins)

    def resolve_tool(self, name: str) -> tuple[str | None, str, str] | None:
        """(exposed name or None if hidden, server, the tool's own name) of a name a caller may use: an
        exposed name, an alias, or the name of a hidden tool. None when nothing is known by it."""
        found = find_tool(self._snapshot, name)
        if isinstance(found, Hidden):
            return found.exposed or None, found.server, found.original
        if found is None:
            return None
        exposed, (provider, original) = found
        return exposed, provider.name, original

    def hidden_tool(self, name: str) -> Hidden | None:
        return self._snapshot.hidden.get(name)

    async def set_pins(self, pins: Iterable[tuple[str, str]]) -> None:
        """Replace the workspace's pins, save them, and tell clients if the listing changed. Raises what
        the records raise when they cannot be saved (nothing changes then)."""
        await self._kept.save_pins(pins)
        await self._rebuild_and_notify()

    async def reload_kept(self) -> None:
        """Re-read pins, pinned definitions and stored curation (another replica changed them), re-applied."""
        await self._kept.reload(list(self._servers), self._servers.__contains__)
        await self._rebuild_and_notify()

    async def set_curation(self, name: str, curation: Curation) -> None:
        """Lay `curation` over server `name`'s own (for good: it is saved), re-applied at once. Raises what
        the records raise when it cannot be saved (nothing changes then)."""
        await self._kept.save_curation(name, curation)
        await self._rebuild_and_notify()

    def changed_tools(self, name: str) -> list[Change]:
        """Tools of server `name` whose listed definition differs from the pinned one."""
        return self._kept.definitions.changes(name)

    async def approve_tool_change(self, server: str, tool: str) -> bool:
        """Pin the definition listed now of a changed tool; it is callable (and listed) again."""
        if not self._kept.definitions.approve(server, tool):
            return False
        await self._rebuild_and_notify()
        return True

    # -- the one call path -------------------------------------------------------------------------

    async def _prompt_route(self, name: str) -> Route:
        """Look prompt `name` up; if unknown while preloaded servers are still starting, wait for them first."""
        route = self._snapshot.prompt_routes.get(name)
        if route is None and self._preloads.pending:
            await self.wait_preloaded()
            route = self._snapshot.prompt_routes.get(name)
        if route is None:
            raise unknown("prompt", name, self._snapshot.prompt_routes)
        return route

    async def _tool_route(self, name: str) -> tuple[str, Route]:
        """The exposed name and route of `name` (exposed or an alias); a hidden tool is refused with the
        reason; an unknown one waits for preloaded servers, then is `INVALID_PARAMS` with suggestions."""
        found = find_tool(self._snapshot, name)
        if not isinstance(found, tuple) and self._preloads.pending:
            await self.wait_preloaded()
            found = find_tool(self._snapshot, name)
        if isinstance(found, Hidden):
            raise refused(name, found)
        if found is None:
            raise unknown("tool", name, self._snapshot.tool_routes)
        return found

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]:
        """Call a tool by its exposed name or an alias; returns the `CallToolResult` wire dict (or an
        `input_required` result)."""
        route = self._snapshot.tool_routes.get(name)
        if route is None:
            name, route = await self._tool_route(name)
        provider, original = route
        if not self._interceptors:
            return await self._call_provider(provider, original, arguments, call)
        routed = ToolCall(self.workspace, name, provider.name, original, arguments, call)
        return await run_chain(self._interceptors, routed,
                               lambda: self._call_provider(provider, original, arguments, call))

    @staticmethod
    async def _call_provider(provider: Provider, original: str, arguments: dict[str, Any] | None,
                             call: CallContext) -> dict[str, Any]:
        try:
            return await provider.call_tool(original, arguments, call)
        except ToolError as exc:
            return tool_error(str(exc))

    async def get_prompt(self, name: str, arguments: dict[str, str] | None, call: CallContext = NO_CONTEXT
                         ) -> dict[str, Any]:
        provider, original = await self._prompt_route(name)
        try:
            return self._scrub(await provider.get_prompt(original, arguments, call))
        except ToolError as exc:
            raise MCPError(INVALID_PARAMS, str(exc)) from None

    async def read_resource(self, uri: str, call: CallContext = NO_CONTEXT) -> dict[str, Any]:
        provider, original = await self._resource_route(uri)
        try:
            return self._scrub(await provider.read_resource(original, call))
        except ToolError as exc:
            raise MCPError(INVALID_PARAMS, str(exc)) from None

    async def complete(self, params: dict[str, Any]) -> dict[str, Any]:
        """Route `completion/complete` by its reference (a prompt name or a resource template URI)."""
        ref = dict(params.get("ref") or {})
        if ref.get("type") == "ref/prompt":
            provider, ref["name"] = await self._prompt_route(str(ref.get("name")))
        elif ref.get("type") == "ref/resource":
            provider, ref["uri"] = await self._resource_route(str(ref.get("uri")))
        else:
            raise MCPError(INVALID_PARAMS, f"Unknown completion reference type: {ref.get('type')!r}")
        try:
            return await provider.complete({**params, "ref": ref})
        except ToolError as exc:
            raise MCPError(INVALID_PARAMS, str(exc)) from None

    async def set_log_level(self, level: str) -> None:
        """Apply a client's `logging/setLevel` to every server (and to servers added later)."""
        self._log_level = level
        for provider in list(self._servers.values()):
            try:
                await provider.set_log_level(level)
            except Exception as exc:  # one server refusing must not fail the client's request
                logger.debug("server %r: setLevel failed: %s", provider.name, exc)

    async def subscribe(self, uri: str, *, add: bool = True) -> None:
        """Forward `resources/subscribe` (or unsubscribe) to the server owning `uri`."""
        provider, original = await self._resource_route(uri)
        try:
            await (provider.subscribe(original) if add else provider.unsubscribe(original))
        except ToolError as exc:
            raise MCPError(INVALID_PARAMS, str(exc)) from None

    async def _resource_route(self, uri: str) -> Route:
        if uri not in self._snapshot.resource_routes and self._preloads.pending:
            await self.wait_preloaded()
        route = find_resource(self._snapshot, uri, self._servers)
        if route is None:
            raise unknown("resource", uri, self._snapshot.resource_routes)
        return route
