"""One upstream MCP server (stdio process, streamable HTTP or SSE) as a provider.

An `UpstreamProvider` keeps one client connection to its server alive under a supervisor task:

- it connects (in "auto" mode: the modern 2026-07-28 era when the server speaks it, else the
  handshake), pages through tools, resources, templates and prompts, and marks itself `ready`;
- it refreshes a listing when the upstream says it changed — a `list_changed` notification on a
  handshake-era connection, a `subscriptions/listen` event on a modern one — and tells the registry;
- when the connection ends (a crashed process, a dropped connection) it reconnects with exponential
  backoff (`restarting`), giving up after `max_restarts` failures in a row (`failed`);
- calls carry a per-call timeout (the spec's `timeout`, else the settings default); a timed-out or
  cancelled call is cancelled upstream too; upstream progress is forwarded to the caller.

Failures of the upstream are `ToolError`s naming the server; protocol errors it answers with pass
through as `MCPError`.

Example:
    provider = UpstreamProvider(ServerSpec(name="time", command="mcp-server-time"), settings, tg)
    await provider.start()          # returns when ready, or failed with `last_error`
    result = await provider.call_tool("get_current_time", {"timezone": "Asia/Tokyo"})
"""

from __future__ import annotations

import logging
import math
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp import Client, MCPError
from mcp_types import CONNECTION_CLOSED, INVALID_REQUEST, REQUEST_TIMEOUT
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import TypeAdapter, ValidationError

from meta_mcp.config import ServerSpec
from meta_mcp.providers.base import NO_CONTEXT, AskFn, CallContext, Listing, LogFn, Provider, ToolError
from meta_mcp.providers.connect import open_transport
from meta_mcp.providers.listing import KINDS, fetch_listing
from meta_mcp.providers.process import Prespawned
from meta_mcp.settings import Settings

logger = logging.getLogger(__name__)

_RAW = TypeAdapter(dict[str, Any])
"""Results are kept as the wire dicts the upstream sent: exact passthrough, no model round trip."""


class UpstreamProvider(Provider):
    """A supervised client connection to one upstream MCP server (see the module docstring)."""

    def __init__(self, spec: ServerSpec, settings: Settings, task_group: anyio.abc.TaskGroup,
                 prespawned: Prespawned | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.name = spec.name
        self.prefix = spec.effective_prefix
        self.transport = spec.transport
        self.status = "starting"
        self.protocol_version: str | None = None
        self.restarts = 0
        self._settings = settings
        self._tg = task_group
        self._prespawned = prespawned
        self._timeout = spec.timeout or settings.call_timeout
        self._client: Client | None = None
        self._ready = anyio.Event()
        self._first_attempt = anyio.Event()
        self._started = False
        self._lost = anyio.Event()
        self._stopping = False
        self._stopped = anyio.Event()
        self._life = anyio.CancelScope()
        self._dirty: set[str] = set()
        self._dirty_event = anyio.Event()
        self._inflight_logs: dict[object, LogFn] = {}
        self._inflight_askers: dict[object, AskFn] = {}
        self._log_level: str | None = None
        self._subscriptions: set[str] = set()
        self._resubscribe = anyio.Event()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the supervisor (once; later calls only wait) and wait for its first attempt."""
        if not self._started:
            self._started = True
            self._tg.start_soon(self._supervise, name=f"upstream:{self.name}")
        await self._first_attempt.wait()

    async def stop(self) -> None:
        self._stopping = True
        self._life.cancel()
        with anyio.move_on_after(10):
            await self._stopped.wait()
        self.status = "stopped"
        self.listing = Listing()

    async def _supervise(self) -> None:
        failures = 0
        try:
            with self._life:
                while not self._stopping:
                    was_ready = False
                    try:
                        was_ready = await self._run_connection()
                    except Exception as exc:  # any failure of one upstream stays inside this provider
                        self.last_error = _describe(exc)
                        logger.warning("server %r: %s", self.name, self.last_error)
                    self._client = None
                    self._ready = anyio.Event()
                    failures = 0 if was_ready else failures + 1
                    if was_ready and self.last_error is None:
                        self.last_error = "the connection to the server ended"
                    # "restarting": it was serving and dropped — its tools stay listed and calls wait for
                    # the restart; "failed": the last attempt to start failed — nothing is listed.
                    self.status = "restarting" if was_ready else "failed"
                    if self.status == "failed":
                        self.listing = Listing()
                    self._first_attempt.set()
                    await self.changed()
                    if self.status == "failed" and failures > self._settings.max_restarts:
                        return
                    delay = self._settings.restart_backoff_initial * 2 ** max(failures - 1, 0)
                    await anyio.sleep(min(delay, self._settings.restart_backoff_max))
                    self.restarts += 1
        finally:
            self._first_attempt.set()
            self._stopped.set()

    async def _run_connection(self) -> bool:
        """Connect, serve until the connection is lost or stop is asked; return whether it got ready."""
        self._lost = anyio.Event()
        became_ready = False
        deadline = anyio.current_time() + self._settings.connect_timeout
        with anyio.CancelScope(deadline=deadline) as scope:
            async with AsyncExitStack() as stack:
                transport = open_transport(self.spec, on_eof=self._lost.set, prespawned=self._prespawned,
                                           connect_timeout=self._settings.connect_timeout)
                client = Client(transport, mode="auto", cache=None, message_handler=self._on_message,
                                logging_callback=self._on_log_message, sampling_callback=self._on_sampling,
                                elicitation_callback=self._on_elicitation)
                await stack.enter_async_context(client)
                self.protocol_version = client.protocol_version
                await self._restore_session_state(client)
                self.listing = await fetch_listing(client, KINDS, self.listing)
                tg = await stack.enter_async_context(anyio.create_task_group())
                tg.start_soon(self._refresher, client)
                if self.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    tg.start_soon(self._listen, client)
                scope.deadline = math.inf
                self._client = client
                self.status = "ready"
                self.last_error = None
                became_ready = True
                self._ready.set()
                self._first_attempt.set()
                await self.changed()
                await self._lost.wait()
                tg.cancel_scope.cancel()
        if scope.cancelled_caught and not self._stopping and not became_ready:
            raise TimeoutError(f"did not start within {self._settings.connect_timeout:g} s")
        return became_ready

    # -- listings ----------------------------------------------------------------------------------

    def _mark_dirty(self, kind: str) -> None:
        self._dirty.add(kind)
        self._dirty_event.set()

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._mark_dirty("tools")
        elif isinstance(message, types.ResourceListChangedNotification):
            self._mark_dirty("resources")
        elif isinstance(message, types.PromptListChangedNotification):
            self._mark_dirty("prompts")
        elif isinstance(message, types.ResourceUpdatedNotification):
            await self._resource_updated(str(message.params.uri))
        elif isinstance(message, Exception):
            logger.debug("server %r: stream error: %s", self.name, message)

    async def _listen(self, client: Client) -> None:
        """Modern upstreams announce changes only on a `subscriptions/listen` stream.

        The stream is reopened whenever the set of subscribed resources changes; a dropped stream has
        no replay, so everything is refetched after it.
        """
        from mcp.shared.subscriptions import (
            PromptsListChanged,
            ResourcesListChanged,
            ResourceUpdated,
            ToolsListChanged,
        )

        caps = client.server_capabilities
        want_tools = bool(caps.tools and caps.tools.list_changed)
        want_prompts = bool(caps.prompts and caps.prompts.list_changed)
        want_resources = bool(caps.resources and caps.resources.list_changed)
        kinds = {ToolsListChanged: "tools", PromptsListChanged: "prompts", ResourcesListChanged: "resources"}
        while True:
            self._resubscribe = anyio.Event()
            uris = tuple(sorted(self._subscriptions))
            if not (want_tools or want_prompts or want_resources or uris):
                await self._resubscribe.wait()
                continue
            async with anyio.create_task_group() as tg:

                async def reopen(scope: anyio.CancelScope = tg.cancel_scope) -> None:
                    await self._resubscribe.wait()
                    scope.cancel()

                tg.start_soon(reopen)
                try:
                    async with client.listen(tools_list_changed=want_tools, prompts_list_changed=want_prompts,
                                             resources_list_changed=want_resources,
                                             resource_subscriptions=uris) as sub:
                        async for event in sub:
                            if isinstance(event, ResourceUpdated):
                                await self._resource_updated(event.uri)
                            elif (kind := kinds.get(type(event))) is not None:
                                self._mark_dirty(kind)
                except Exception as exc:
                    logger.debug("server %r: listen stream ended: %s", self.name, exc)
                if not self._resubscribe.is_set():
                    for kind in KINDS:
                        self._mark_dirty(kind)
                    await anyio.sleep(1)
                tg.cancel_scope.cancel()

    async def _resource_updated(self, uri: str) -> None:
        for listener in list(self.listeners):
            await listener.resource_updated(self, uri)

    async def _on_log_message(self, params: types.LoggingMessageNotificationParams) -> None:
        """Route an upstream log message to the calls in flight, else to the listeners."""
        try:
            if self._inflight_logs:
                for target in list(self._inflight_logs.values()):
                    await target(params.level, params.data, params.logger)
            else:
                for listener in list(self.listeners):
                    await listener.provider_log(self, params.level, params.data, params.logger)
        except Exception as exc:  # a caller gone away must not break the upstream connection
            logger.debug("server %r: dropping a log message: %s", self.name, exc)

    async def _forward_request(self, method: str, params: Any) -> dict[str, Any] | types.ErrorData:
        """A handshake-era upstream's own server→client request, passed to the client whose call is in
        flight (the most recent one: JSON-RPC over stdio does not say which call a request belongs to)."""
        askers = list(self._inflight_askers.values())
        if not askers:
            return types.ErrorData(code=INVALID_REQUEST, message=(
                f"meta-mcp: no client can answer {method} for server {self.name!r} now (it is asked only "
                "during a call from a client of the 2025 protocol era that supports it)"))
        try:
            return await askers[-1](method, params.model_dump(by_alias=True, mode="json", exclude_none=True))
        except MCPError as exc:
            return exc.error

    async def _on_sampling(self, context: Any, params: types.CreateMessageRequestParams) -> Any:
        answer = await self._forward_request("sampling/createMessage", params)
        if isinstance(answer, types.ErrorData):
            return answer
        try:
            return types.CreateMessageResult.model_validate(answer)
        except ValidationError:  # a reply with tool use (the caller's host supports sampling tools)
            return types.CreateMessageResultWithTools.model_validate(answer)

    async def _on_elicitation(self, context: Any, params: types.ElicitRequestParams) -> Any:
        answer = await self._forward_request("elicitation/create", params)
        return answer if isinstance(answer, types.ErrorData) else types.ElicitResult.model_validate(answer)

    async def _restore_session_state(self, client: Client) -> None:
        """After (re)connecting, re-apply what clients asked of this server: log level, subscriptions."""
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        caps = client.server_capabilities
        if self._log_level and caps.logging:
            await client.session.set_logging_level(self._log_level)  # type: ignore[arg-type]
        if caps.resources and caps.resources.subscribe:
            for uri in self._subscriptions:
                await client.session.subscribe_resource(uri)

    async def _refresher(self, client: Client) -> None:
        """Refetch what changed, one batch at a time, so a burst of notifications costs one refetch."""
        while True:
            await self._dirty_event.wait()
            self._dirty_event = anyio.Event()
            kinds, self._dirty = tuple(self._dirty), set()
            try:
                with anyio.fail_after(self._timeout):
                    self.listing = await fetch_listing(client, kinds, self.listing)
            except Exception as exc:
                logger.warning("server %r: refreshing %s failed: %s", self.name, ", ".join(kinds), _describe(exc))
                continue
            await self.changed()

    # -- calls -------------------------------------------------------------------------------------

    async def _connected(self, what: str) -> Client:
        """The live client; while the server (re)starts, wait for it, bounded by the call timeout."""
        if self._client is not None and not self._lost.is_set():
            return self._client
        deadline = anyio.current_time() + min(self._timeout, self._settings.connect_timeout)
        while self.status in ("starting", "restarting") or (self._lost.is_set() and self.status == "ready"):
            ready = self._ready
            with anyio.move_on_at(deadline):
                await ready.wait()
            if self._client is not None and not self._lost.is_set():
                return self._client
            if anyio.current_time() >= deadline:
                break
            if ready is self._ready:
                await anyio.sleep(0.01)  # the supervisor has not replaced the event yet
        reason = f": {self.last_error}" if self.last_error else ""
        raise ToolError(f"Server {self.name!r} is not available ({self.status}){reason}; cannot {what}.")

    async def _request(self, request: Any, what: str, call: CallContext = NO_CONTEXT) -> dict[str, Any]:
        client = await self._connected(what)
        token = object()
        if call.log is not None:
            self._inflight_logs[token] = call.log
        if call.ask is not None:
            self._inflight_askers[token] = call.ask
        try:
            return await client.session.send_request(
                request, _RAW, request_read_timeout_seconds=self._timeout, progress_callback=call.progress
            )
        except MCPError as exc:
            if exc.error.code == REQUEST_TIMEOUT:
                raise ToolError(
                    f"Server {self.name!r} timed out: no answer to {what} within {self._timeout:g} s; "
                    "the request was cancelled upstream."
                ) from None
            if exc.error.code == CONNECTION_CLOSED:
                self._lost.set()  # calls from now on wait for the restart instead of using this client
                raise ToolError(
                    f"Server {self.name!r} closed the connection (crashed or exited) during {what}; "
                    "it is being restarted — try again shortly."
                ) from None
            raise
        finally:
            self._inflight_logs.pop(token, None)
            self._inflight_askers.pop(token, None)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]:
        params = types.CallToolRequestParams(
            name=name, arguments=arguments, _meta=call.meta or None,
            input_responses=call.input_responses, request_state=call.request_state,
        )
        return await self._request(types.CallToolRequest(params=params), f"tools/call {name!r}", call)

    async def read_resource(self, uri: str, call: CallContext = NO_CONTEXT) -> dict[str, Any]:
        params = types.ReadResourceRequestParams(
            uri=uri, _meta=call.meta or None, input_responses=call.input_responses, request_state=call.request_state
        )
        return await self._request(types.ReadResourceRequest(params=params), f"resources/read {uri!r}", call)

    async def get_prompt(self, name: str, arguments: dict[str, str] | None, call: CallContext = NO_CONTEXT
                         ) -> dict[str, Any]:
        params = types.GetPromptRequestParams(
            name=name, arguments=arguments, _meta=call.meta or None,
            input_responses=call.input_responses, request_state=call.request_state,
        )
        return await self._request(types.GetPromptRequest(params=params), f"prompts/get {name!r}", call)

    async def complete(self, params: dict[str, Any]) -> dict[str, Any]:
        request = types.CompleteRequest(params=types.CompleteRequestParams.model_validate(params))
        return await self._request(request, "completion/complete")

    async def set_log_level(self, level: str) -> None:
        self._log_level = level
        client = self._client
        if client is not None and client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            if client.server_capabilities.logging:
                await client.session.set_logging_level(level)  # type: ignore[arg-type]

    async def subscribe(self, uri: str) -> None:
        await self._change_subscription(uri, add=True)

    async def unsubscribe(self, uri: str) -> None:
        await self._change_subscription(uri, add=False)

    async def _change_subscription(self, uri: str, *, add: bool) -> None:
        client = await self._connected("resources/subscribe" if add else "resources/unsubscribe")
        if add:
            self._subscriptions.add(uri)
        else:
            self._subscriptions.discard(uri)
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            self._resubscribe.set()
            return
        caps = client.server_capabilities
        if not (caps.resources and caps.resources.subscribe):
            raise ToolError(f"Server {self.name!r} does not support resource subscriptions")
        session = client.session
        await (session.subscribe_resource(uri) if add else session.unsubscribe_resource(uri))


def _describe(exc: BaseException) -> str:
    """A one-line reason for a failure; exception groups are unwrapped to their first cause."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        return f"{exc.error.message} (code {exc.error.code})"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
