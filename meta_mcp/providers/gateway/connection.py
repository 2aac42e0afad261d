"""`GatewayConnection`: the one connection to the Docker MCP Gateway, shared by every workspace.

The gateway is an MCP server whose state is global: one tool registry for all its sessions, changed
by its dynamic tools (`mcp-add`, `mcp-remove`, …) and announced with `notifications/tools/list_changed`
to every session. meta-mcp keeps one client connection to it and shows each workspace only its part
through views (`views.GatewayView`): the root view (`docker__*`: the gateway's own and statically
enabled tools) and one view per server a workspace added through the gateway. Which of the gateway's
tools each view lists is kept by `added.AddedServers`.

Promises:
- The connection is an `UpstreamProvider` (connect, list, refresh on list_changed, calls with
  timeouts), supervised by the same supervisor as any upstream, which never gives up on the gateway
  (backoff capped at `restart_backoff_max`). A streamable-HTTP session does not end when the server
  goes away, so the connection is pinged every `gateway_ping_interval_s`; no answer, or a session the
  gateway no longer knows (it restarted), reconnects at once.
- While it is not connected every view lists nothing (clients are told), and views show its status
  and `last_error`: what is missing for `--gateway docker` (the docker CLI or its MCP plugin), or that
  the token is wrong or missing (a 401, probed after a failed attempt), or the transport's reason.
- After every (re)connection the servers that workspaces hold are added again (`mcp-add`, after
  re-sending the config meta-mcp set for them): a restarted gateway has forgotten them.
- A server's tools are the gateway's "Newly added tools" of `mcp-add`, under their own names (a
  gateway prefix `<server>__` is taken off; calls map back); the latest `tools/list` definitions
  are used when they are there. The root view lists the gateway's tools minus its dynamic tools and
  minus every tool of a server meta-mcp added (those belong to their workspaces): it keeps its listing
  while an `mcp-add` is in flight, and keeps a removed server's tools out until the gateway stops
  listing them, so a workspace is told only of changes it can see.
- Errors: the gateway's handler errors (JSON-RPC code 0), including its `--block-secrets` refusal, are
  `ToolError`s naming the gateway; a lost session is a `ToolError` saying it is reconnecting; other
  JSON-RPC errors pass through. The dynamic tools raise `GatewayError` (operations turn it into an outcome).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any, cast

import anyio
import anyio.abc
from mcp import MCPDeprecationWarning, MCPError
from mcp_types import INVALID_REQUEST
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from meta_mcp.config import ServerSpec
from meta_mcp.providers.base import NO_CONTEXT, CallContext, Listing, Provider, ProviderStatus, ToolError
from meta_mcp.providers.gateway.launch import docker_mcp_problem, token_message, token_refused, upstream_spec, where
from meta_mcp.providers.gateway.added import AddedServers
from meta_mcp.providers.gateway.texts import (
    AddedTools,
    AddResult,
    ConfigSet,
    describe,
    parse_add,
    parse_config_set,
    parse_find,
    text_of,
)
from meta_mcp.providers.gateway.views import ROOT_URL, SERVER_URL, GatewayView
from meta_mcp.providers.process import Prespawned
from meta_mcp.providers.upstream import UpstreamProvider
from meta_mcp.settings import Settings

logger = logging.getLogger(__name__)

NEVER_GIVE_UP = 1_000_000_000
"""`max_restarts` of the gateway connection: a gateway that is down is tried again, backoff capped."""


class GatewayError(Exception):
    """A dynamic tool of the gateway could not be used (not connected, or it failed); the message says why."""


class GatewayUpstream(UpstreamProvider):
    """The gateway's client connection: an `UpstreamProvider` that can also be pinged and told that its
    connection is gone (the two things the supervisor cannot see on a streamable-HTTP session)."""

    async def ping(self, timeout: float) -> None:
        """A `ping` over the live session (the gateway speaks the handshake era, which has it)."""
        client = self._supervisor.client
        if client is None or client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        with anyio.fail_after(timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)  # "ping is removed as of 2026-07-28"
            await client.send_ping()

    def reconnect(self) -> None:
        """The session is gone: end the connection now, so the supervisor connects again."""
        self._supervisor.mark_lost()


class GatewayConnection:
    """The shared connection to the gateway (see the module docstring)."""

    def __init__(self, settings: Settings, task_group: anyio.abc.TaskGroup, prespawned: Prespawned | None = None,
                 *, environ: Mapping[str, str] | None = None) -> None:
        assert settings.gateway, "GatewayConnection needs settings.gateway"
        self.settings = settings
        self.target = settings.gateway
        self.url = None if self.target == "docker" else self.target
        self.where = where(self.target)
        """The gateway as messages name it mid-sentence ("the Docker MCP Gateway at URL")."""
        self.subject = self.where[0].upper() + self.where[1:]
        self._token = settings.gateway_token.get_secret_value() if settings.gateway_token else None
        self._environ = environ if environ is not None else (prespawned.environ if prespawned is not None else {})
        inner = settings.model_copy(update={"max_restarts": NEVER_GIVE_UP})
        self.upstream = GatewayUpstream(upstream_spec(self.target, self._token), inner, task_group, prespawned)
        self.upstream.listeners.append(self)
        self._tg = task_group
        self._added = AddedServers()
        """The servers meta-mcp added here, and so which of the gateway's tools each view lists."""
        self._configs: dict[str, dict[str, Any]] = {}
        """Config meta-mcp set per server, sent again before a server is added again after a reconnect."""
        self._views: set[GatewayView] = set()
        self.adding = 0
        """How many `mcp-add`s are in flight: the root view keeps its listing meanwhile (the new tools are
        the server's, which is known only when mcp-add answers)."""
        self._problem: str | None = None
        self._diagnosis: str | None = None
        self._probing = False
        self._connected = False
        self._upstream_started = False
        self._started = anyio.Event()
        self._lock = anyio.Lock()
        self._life = anyio.CancelScope()

    # -- state ------------------------------------------------------------------------------------

    @property
    def status(self) -> ProviderStatus:
        return "failed" if self._problem else self.upstream.status

    @property
    def last_error(self) -> str | None:
        return self._problem or self._diagnosis or self.upstream.last_error

    @property
    def restarts(self) -> int:
        return self.upstream.restarts

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def unavailable(self) -> str:
        """Why the gateway cannot be used now, for messages."""
        reason = f": {self.last_error}" if self.last_error else ""
        return f"{self.subject} is not connected ({self.status}){reason}"

    # -- lifetime ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (first checking the docker CLI for `--gateway docker`); returns after the first attempt."""
        try:
            if self.url is None:
                self._problem = await docker_mcp_problem(self._environ)
                if self._problem is not None:
                    logger.error("%s", self._problem)
                    return
            self._tg.start_soon(self._heartbeat, name="gateway-heartbeat")
            self._upstream_started = True
            await self.upstream.start()
        finally:
            self._started.set()
            await self._sync_views()

    async def wait_started(self) -> None:
        with anyio.move_on_after(self.settings.connect_timeout + 25):
            await self._started.wait()

    async def stop(self) -> None:
        self._life.cancel()
        if self._upstream_started:  # (a supervisor that never started would be waited for in vain)
            await self.upstream.stop()

    async def _heartbeat(self) -> None:
        interval = self.settings.gateway_ping_interval_s
        with self._life:
            while True:
                await anyio.sleep(interval)
                if self.upstream.status != "ready":
                    continue
                try:
                    await self.upstream.ping(timeout=max(interval, 5.0))
                except Exception as exc:
                    if self.upstream.status == "ready":
                        logger.warning("%s did not answer a ping (%s); reconnecting", self.where,
                                       str(exc) or type(exc).__name__)
                        self.upstream.reconnect()

    # -- what the inner connection tells us (ProviderListener) --------------------------------------

    async def provider_changed(self, provider: Provider) -> None:
        status = self.upstream.status
        self._added.still_listed({t["name"] for t in self.upstream.listing.tools})
        if status == "ready":
            self._diagnosis = None
            if not self._connected:
                self._connected = True
                if any(view.server for view in self._views):
                    self._tg.start_soon(self._add_again, name="gateway-readd")
        else:
            if self._connected:  # lost: what it had is unknown until added again
                self._added.lost()
            self._connected = False
            if status == "failed" and self.url is not None and self._diagnosis is None and not self._probing:
                self._probing = True
                self._tg.start_soon(self._diagnose, name="gateway-diagnose")
        await self._sync_views()

    async def resource_updated(self, provider: Provider, uri: str) -> None:
        """The views expose no resources."""

    async def provider_log(self, provider: Provider, level: str, data: Any, logger_name: str | None) -> None:
        logger.debug("%s logged (%s): %s", self.where, level, data)

    async def _diagnose(self) -> None:
        try:
            assert self.url is not None
            if await token_refused(self.url, self._token):
                self._diagnosis = token_message(self.url, has_token=bool(self._token))
                logger.error("%s", self._diagnosis)
                await self._sync_views()
        finally:
            self._probing = False

    async def _add_again(self) -> None:
        """After a (re)connection: add the servers workspaces hold again, with the config set for them."""
        for server in sorted({view.server for view in self._views if view.server}):
            if not self.ready:
                return
            try:
                result = await self.add(server, reapply_config=True)
            except GatewayError as exc:
                result = None
                self._added.failed(server, str(exc))
            if not isinstance(result, AddedTools):
                logger.warning("%s: could not add %r again: %s", self.where, server, self._added.error(server))

    # -- views ------------------------------------------------------------------------------------

    def root_spec(self) -> ServerSpec:
        """The spec of the root view (the gateway's own tools under `gateway_prefix`)."""
        prefix = self.settings.gateway_prefix
        return ServerSpec(name=prefix or "docker", url=ROOT_URL, transport="http", prefix=prefix)

    @staticmethod
    def server_spec(server: str) -> ServerSpec:
        """The spec of the view of `server`, a server added on the gateway (tools `<server>__<tool>`)."""
        return ServerSpec(name=server, url=SERVER_URL + server, transport="http")

    def view_for(self, spec: ServerSpec) -> GatewayView | None:
        """The (new) view a view spec stands for, or None when `spec` is not one (the pool's factory hook)."""
        if spec.url == ROOT_URL:
            server = None
        elif spec.url is not None and spec.url.startswith(SERVER_URL):
            server = spec.url[len(SERVER_URL):]
        else:
            return None
        view = GatewayView(self, spec, server)
        self._views.add(view)
        return view

    def provider_factory(self, spec: ServerSpec, settings: Settings, task_group: anyio.abc.TaskGroup,
                         prespawned: Prespawned | None) -> UpstreamProvider:
        """The upstream pool's factory: a view for a view spec, else an ordinary upstream."""
        view = self.view_for(spec)
        if view is not None:
            return cast(UpstreamProvider, view)  # the pool and the registry use only the Provider contract
        return UpstreamProvider(spec, settings, task_group, prespawned)

    def forget(self, view: GatewayView) -> None:
        self._views.discard(view)

    def state_of(self, server: str | None) -> tuple[Listing, ProviderStatus, str | None]:
        """What the view of `server` (None: the root view) lists, its status and last error, now."""
        if not self.ready:
            return Listing(), self.status, self.last_error
        return self._added.listing(server, {t["name"]: t for t in self.upstream.listing.tools})

    def gateway_name(self, server: str | None, tool: str) -> str:
        """The gateway's name of view `server`'s tool `tool`."""
        return self._added.gateway_name(server, tool)

    def holds(self, server: str) -> bool:
        """Whether meta-mcp has `server` added on the gateway (in this connection)."""
        return self._added.holds(server)

    async def _sync_views(self) -> None:
        for view in list(self._views):
            await view.sync()

    # -- calls ------------------------------------------------------------------------------------

    async def call(self, tool: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                   ) -> dict[str, Any]:
        """Call the gateway's tool `tool` (a view's call); see the module docstring for errors."""
        if self._problem is not None:
            raise ToolError(f"{self.subject} is not available: {self._problem}")
        try:
            return await self.upstream.call_tool(tool, arguments, call)
        except MCPError as exc:
            raise self._tool_error(tool, exc) from None

    def _tool_error(self, tool: str, exc: MCPError) -> Exception:
        message = exc.error.message
        if exc.error.code == INVALID_REQUEST and message == "Session terminated":
            self.upstream.reconnect()
            return ToolError(f"{self.subject} no longer knows meta-mcp's session (it restarted?); reconnecting — try "
                             f"{tool!r} again shortly.")
        if exc.error.code != 0:
            return exc
        if message.startswith(("a secret is being passed to tool", "a secret is being returned by")):
            return ToolError(f"{self.subject} refused the call to {tool!r}: {message} (its --block-secrets check "
                             "blocks values that look like secrets; never pass secrets in tool arguments).")
        return ToolError(f"{self.subject} failed the call to {tool!r}: {message}")

    async def _dynamic(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call one of the gateway's dynamic tools; `GatewayError` when that is not possible."""
        if not self.ready:
            raise GatewayError(self.unavailable())
        try:
            return await self.upstream.call_tool(tool, arguments)
        except ToolError as exc:
            raise GatewayError(str(exc)) from None
        except MCPError as exc:
            error = self._tool_error(tool, exc)
            raise GatewayError(str(error) if isinstance(error, ToolError) else
                               f"{self.subject} refused {tool}: {exc.error.message} (code {exc.error.code})") from None

    async def find(self, query: str, limit: int) -> list[dict[str, Any]]:
        """`mcp-find`: the gateway catalog's servers matching `query`, best first."""
        return parse_find(text_of(await self._dynamic("mcp-find", {"query": query, "limit": limit})))

    async def add(self, server: str, *, reapply_config: bool = False) -> AddResult:
        """`mcp-add` `server`; on success its tools become its view's. With `reapply_config`, the config
        meta-mcp set for it is sent first (after a reconnect)."""
        async with self._lock:
            if reapply_config and (config := self._configs.get(server)):
                await self._set_config(server, config)
            self.adding += 1
            try:
                result = parse_add(server, text_of(await self._dynamic("mcp-add", {"name": server})))
            finally:
                self.adding -= 1
            if isinstance(result, AddedTools):
                self._added.added(server, result.tools)
            else:
                self._added.failed(server, f"the gateway did not add it: {describe(result)}")
        await self._sync_views()
        return result

    async def remove(self, server: str) -> None:
        """`mcp-remove` `server` (the last workspace let it go); a server the gateway does not have is fine."""
        async with self._lock:
            self._added.removed(server)
            self._configs.pop(server, None)
            try:
                await self._dynamic("mcp-remove", {"name": server})
            except GatewayError as exc:
                logger.warning("%s: mcp-remove %r: %s", self.where, server, exc)
        await self._sync_views()

    async def set_config(self, server: str, config: dict[str, Any]) -> ConfigSet:
        """`mcp-config-set` in the schema the gateway's own tools/list declares; remembered when accepted."""
        async with self._lock:
            return await self._set_config(server, config)

    async def _set_config(self, server: str, config: dict[str, Any]) -> ConfigSet:
        if self.config_schema_style() == "new":
            result = parse_config_set(await self._dynamic("mcp-config-set", {"server": server, "config": config}))
        else:  # ≤ v0.31: one call per key
            result = ConfigSet()
            for key, value in config.items():
                result = parse_config_set(await self._dynamic(
                    "mcp-config-set", {"server": server, "key": key, "value": value}))
                if not result.ok:
                    break
        if result.ok:
            self._configs[server] = dict(config)
        return result

    def config_schema_style(self) -> str:
        """"new" (`{server, config}`, v0.32 and later) or "old" (`{server, key, value}`), from tools/list."""
        for tool in self.upstream.listing.tools:
            if tool["name"] == "mcp-config-set":
                properties = (tool.get("inputSchema") or {}).get("properties") or {}
                return "old" if "key" in properties and "config" not in properties else "new"
        return "new"
