"""The MCP server hosts talk to: the SDK's low-level `Server`, with every handler routed to a registry.

Handlers are plain async functions passed by keyword; each asks the registry and returns wire dicts
untouched. Both protocol eras are served by the SDK's runner; change notifications reach handshake
clients on their connection (tracked from `notifications/initialized`) and modern clients through
`subscriptions/listen`. `listChanged: true` is advertised for tools, resources and prompts on every
transport — and meant: see `registry.notify`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
import pydantic_core
from mcp import MCPError
from mcp.server import Server
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.runner import ServerRunner
from mcp.shared.jsonrpc_dispatcher import (
    _JSONRPCDispatchContext,
    cancelled_request_id_from_params,
    handler_exception_to_error_data,
    progress_token_from_params,
)
from mcp.shared.transport_context import TransportContext
from mcp_types import CONNECTION_CLOSED, INVALID_PARAMS, INVALID_REQUEST, LOG_LEVEL_META_KEY, ErrorData
from mcp_types.methods import CACHEABLE_METHODS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from meta_mcp import __version__
from meta_mcp.auth.guard import identity_in
from meta_mcp.auth.policy import PolicyStore
from meta_mcp.identity import LOCAL, Identity
from meta_mcp.providers.base import CallContext, LogFn
from meta_mcp.registry.registry import Registry
from meta_mcp.registry.workspaces import DEFAULT, Workspaces
from meta_mcp.pipes import valid_id
from meta_mcp.services.telemetry import server_middleware
from meta_mcp.surface import input_bridge
from meta_mcp.surface.http import MCP_SCOPE

logger = logging.getLogger(__name__)
_ALL_CHANGES = NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)
_RESERVED_META_PREFIX = "io.modelcontextprotocol/"
_LOG_LEVEL_STATE = "meta_mcp.log_level"
_NO_CACHE = {method: CacheHint(ttl_ms=0, scope="private") for method in CACHEABLE_METHODS}
"""Everything behind us can change at any time: 2026-era clients must not cache it. The runner fills
these hints into results that lack them (an upstream's own hints win; handshake-era results drop them)."""

INSTRUCTIONS = (
    "meta-mcp aggregates MCP servers. Tools of each server appear as <server>__<tool>. "
    "Use list_servers to see the servers and their status, find_tools to search tools by what they do, "
    "and call_tool to call a tool by name if your tool list is out of date."
)


class _MetaServer(Server[Any]):
    """A low-level `Server` whose default initialization options advertise `listChanged: true`.

    The streamable-HTTP session manager calls `create_initialization_options()` without arguments, so
    the default is what HTTP clients see.
    """

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or _ALL_CHANGES, experimental_capabilities, extensions
        )


def _call_context(ctx: ServerRequestContext[Any], params: Any) -> CallContext:
    """What this request brings to the upstream call: `_meta`, progress, logs, input responses.

    The caller's `_meta` is forwarded without the progress token (the SDK mints its own upstream
    and maps progress back) and without protocol keys, except the 2026-era log-level opt-in. A
    handshake-era client's `logging/setLevel` becomes that opt-in for modern upstreams.
    """
    meta = ctx.meta or {}
    forward = {
        k: v for k, v in meta.items()
        if k not in ("progress_token", "progressToken")
        and (not k.startswith(_RESERVED_META_PREFIX) or k == LOG_LEVEL_META_KEY)
    }
    level = _connection(ctx).state.get(_LOG_LEVEL_STATE)
    if level and LOG_LEVEL_META_KEY not in forward:
        forward[LOG_LEVEL_META_KEY] = level
    wants_progress = "progress_token" in meta or "progressToken" in meta
    session = ctx.session
    request_id = ctx.request_id

    async def log(level: str, data: Any, logger_name: str | None) -> None:
        await session.send_log_message(level, data, logger_name, related_request_id=request_id)  # type: ignore[arg-type]

    logger_fn: LogFn = log

    async def ask(method: str, params: dict[str, Any]) -> dict[str, Any]:
        return await input_bridge.ask(ctx, {"method": method, "params": params})

    handshake = ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS
    return CallContext(
        meta=forward or None,
        progress=session.report_progress if wants_progress else None,
        log=logger_fn,
        input_responses=_wire(getattr(params, "input_responses", None)),
        request_state=getattr(params, "request_state", None),
        can_elicit=bool(session.client_capabilities and session.client_capabilities.elicitation),
        ask=ask if handshake and session.can_send_request else None,
        can_sample=bool(session.client_capabilities and session.client_capabilities.sampling),
        origin="http" if ctx.request is not None else "stdio",
        identity=_identity(ctx),
    )


def _identity(ctx: ServerRequestContext[Any]) -> Identity:
    """Who sent this request: over HTTP the identity the auth guard put in the scope; over stdio `LOCAL`."""
    request = ctx.request
    return identity_in(request.scope, LOCAL) if request is not None else LOCAL


def _wire(responses: dict[str, Any] | None) -> dict[str, Any] | None:
    """Input responses as wire dicts (the SDK hands them over as models)."""
    if not responses:
        return None
    return {
        key: value.model_dump(by_alias=True, mode="json", exclude_none=True) if hasattr(value, "model_dump") else value
        for key, value in responses.items()
    }


def _complete(result: dict[str, Any]) -> dict[str, Any]:
    """Mark a passed-through result complete: 2026-era results need `resultType`; older upstreams omit it."""
    result.setdefault("resultType", "complete")
    return result


async def _interactive(
    ctx: ServerRequestContext[Any], params: Any, invoke: Callable[[CallContext], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Run a call that may answer `input_required`; resolve that for handshake-era clients."""
    call = _call_context(ctx, params)
    first = await invoke(call)

    async def retry(responses: dict[str, Any] | None, state: str | None) -> dict[str, Any]:
        return await invoke(replace(call, input_responses=responses, request_state=state))

    return _complete(await input_bridge.resolve(ctx, first, retry))


def _connection(ctx: ServerRequestContext[Any]) -> Any:
    # The SDK exposes the connection only privately on the per-request session; it is the one
    # handle that outlives the request and can notify the client later.
    return ctx.session._connection  # noqa: SLF001


_LEAN_METHODS = frozenset({"tools/call", "tools/list", "resources/list", "resources/templates/list", "prompts/list"})
"""What the lean path serves: the call, and the list pages."""
_LEAN_MARKS = tuple(f'"{m}"'.encode() for m in _LEAN_METHODS) + (b'"notifications/cancelled"',)
_MODERN_ENVELOPE = b"io.modelcontextprotocol/protocolVersion"
_STDIO = TransportContext(kind="jsonrpc", can_send_request=True)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _LeanContext(_JSONRPCDispatchContext[TransportContext]):
    """The SDK's per-request dispatch context, noting whether anything went out through the dispatcher's queue
    (progress, logs, requests to the client): the response must then follow the same queue, to stay after them."""

    queued = False

    async def notify(self, method: str, params: Any, opts: Any = None) -> None:
        self.queued = True
        await super().notify(method, params, opts)

    async def send_raw_request(self, method: str, params: Any, opts: Any = None) -> dict[str, Any]:
        self.queued = True
        return await super().send_raw_request(method, params, opts)


@dataclass
class _Bound:
    """The handshake-era connection the lean path serves, as the SDK set it up at `notifications/initialized`."""

    runner: ServerRunner[Any]
    dispatcher: Any


class LeanCalls:
    """The lean path for a stdio connection of the handshake era (see `surface.stdio`).

    Calls and list pages skip the SDK's JSON-RPC dispatcher: the stdio reader hands their lines here
    (`offer`), each is parsed once and served in a task of its own by the SDK's own request kernel
    (`ServerRunner.on_request`: validation, the initialization gate, middleware, our handler, the result's
    serialisation for the negotiated version) with the SDK's own dispatch context, so progress, logs and
    requests to the client (the input bridge, a back-channel request) go out as they do on the full path.
    The response is written to the wire directly — or through the dispatcher's queue when the request
    sent anything before it, so it stays after those. `notifications/cancelled` for a lean request cancels
    it, and nothing is answered, as the dispatcher does. Anything else — a line that is not plainly one of
    these requests, a modern-era envelope, a duplicate id, a connection not yet initialized, tracing on
    (the SDK's span middleware) — goes to the SDK unchanged.
    """

    def __init__(self) -> None:
        self.server: Server[Any] | None = None
        """The server whose requests these are (`build_server` sets it)."""
        self._bound: _Bound | None = None
        self._in_flight: dict[Any, tuple[anyio.CancelScope, _LeanContext]] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._write: Callable[[bytes], Awaitable[None]] | None = None

    def attach(self, task_group: anyio.abc.TaskGroup, write: Callable[[bytes], Awaitable[None]]) -> None:
        """Serve lean requests in `task_group`, writing their responses with `write` (one whole line per call)."""
        self._tg, self._write = task_group, write

    def bind(self, ctx: ServerRequestContext[Any]) -> None:
        """The connection is initialized (handshake era): from now on its lean requests may be taken."""
        if self._tg is None or ctx.protocol_version in MODERN_PROTOCOL_VERSIONS or ctx.request is not None:
            return
        dispatcher = getattr(ctx.session._request_outbound, "_dispatcher", None)  # noqa: SLF001
        if dispatcher is None or not hasattr(dispatcher, "_write_result"):
            return
        if self.server is None:
            return
        runner = ServerRunner(self.server, _connection(ctx), ctx.lifespan_context)
        self._bound = _Bound(runner, dispatcher)

    def cancel_all(self) -> None:
        for scope, _ in list(self._in_flight.values()):
            scope.cancel()

    def offer(self, line: bytes) -> bool:
        """Take `line` (already within the message limits) if it is for the lean path; False: the SDK's."""
        bound = self._bound
        if bound is None or bound.runner.server.middleware or not any(mark in line for mark in _LEAN_MARKS):
            return False
        if _MODERN_ENVELOPE in line:
            return False
        try:
            message = json.loads(line, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return False
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not message.keys() <= _FIELDS:
            return False
        method, params = message.get("method"), message.get("params")
        if params is not None and not isinstance(params, dict):
            return False
        if "id" not in message:
            if method != "notifications/cancelled":
                return False
            taken = self._in_flight.get(cancelled_request_id_from_params(params))
            if taken is None:
                return False  # not ours: the dispatcher's (or nobody's)
            scope, dctx = taken
            dctx.cancel_requested.set()
            scope.cancel()
            return True
        request_id = message["id"]
        if method not in _LEAN_METHODS or not valid_id(request_id) or request_id in self._in_flight:
            return False
        assert self._tg is not None
        dctx = _LeanContext(transport=_STDIO, _dispatcher=bound.dispatcher, _request_id=request_id,
                            _progress_token=progress_token_from_params(params))
        scope = anyio.CancelScope()
        self._in_flight[request_id] = (scope, dctx)
        self._tg.start_soon(self._serve, bound, request_id, method, params, scope, dctx, name=f"lean {method}")
        return True

    async def _serve(self, bound: _Bound, request_id: Any, method: str, params: dict[str, Any] | None,
                     scope: anyio.CancelScope, dctx: _LeanContext) -> None:
        """What the dispatcher's `_handle_request` does for one request, answering on the wire."""
        answered = False
        try:
            with scope:
                try:
                    result = await bound.runner.on_request(dctx, method, params)
                finally:
                    dctx.close()
                    if (entry := self._in_flight.get(request_id)) is not None and entry[1] is dctx:
                        del self._in_flight[request_id]
                if not dctx.cancel_requested.is_set():
                    answered = True
                    await self._answer(bound, dctx, request_id, result)
        except anyio.get_cancelled_exc_class():
            if not answered and not dctx.cancel_requested.is_set():  # shutdown: the peer is not left waiting
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    await bound.dispatcher._write_error(  # noqa: SLF001
                        request_id, ErrorData(code=CONNECTION_CLOSED, message="Connection closed"))
            raise
        except Exception as exc:
            error = handler_exception_to_error_data(exc)
            if error is None:
                logger.exception("handler for %r raised", method)
                error = ErrorData(code=0, message=str(exc))  # the dispatcher's catch-all, kept the same
            if not dctx.cancel_requested.is_set():
                await bound.dispatcher._write_error(request_id, error)  # noqa: SLF001

    async def _answer(self, bound: _Bound, dctx: _LeanContext, request_id: Any, result: dict[str, Any]) -> None:
        if dctx.queued or self._write is None:
            await bound.dispatcher._write_result(request_id, result)  # noqa: SLF001
            return
        try:
            line = pydantic_core.to_json({"jsonrpc": "2.0", "id": request_id, "result": result})
        except pydantic_core.PydanticSerializationError:
            await bound.dispatcher._write_result(request_id, result)  # noqa: SLF001 - fails the SDK's way
            return
        try:
            await self._write(line + b"\n")
        except OSError as exc:  # the client closed stdout: nothing more can reach it
            logger.debug("stdout closed: %s", exc)


_FIELDS = frozenset({"jsonrpc", "id", "method", "params"})


def build_server(workspaces: Workspaces, policy: PolicyStore | None = None, lean: LeanCalls | None = None
                 ) -> Server[Any]:
    """The MCP server in front of `workspaces`: each request is served by its workspace's registry.

    Over HTTP the workspace header only chooses among the identity's workspaces (default: its own);
    with a `policy`, `tools/list` shows each identity only the tools the policy makes available to it
    (calls are refused on the call path, see `meta_mcp.auth.enforce`)."""
    header = workspaces.settings.workspace_header

    def ws(ctx: ServerRequestContext[Any]) -> Registry:
        request = ctx.request
        if request is None:
            name = DEFAULT
        else:
            identity = _identity(ctx)
            name = request.headers.get(header) or identity.default_workspace
            if not identity.may_use(name):  # the HTTP guard answers 403 first; kept for apps built without it
                raise MCPError(INVALID_REQUEST, f"{header}: {identity.subject} may not use workspace {name!r}")
        try:
            return workspaces.get(name)
        except ValueError as exc:
            raise MCPError(INVALID_PARAMS, f"{header}: {exc}") from None

    def visible(ctx: ServerRequestContext[Any], registry: Registry, items: list[dict[str, Any]]) -> list[dict]:
        """The tools of `items` the policy lets this request's identity see."""
        rules = policy.rules(_identity(ctx), registry.workspace) if policy is not None else None
        return items if rules is None else [t for t in items if rules.tool_allowed(t["name"])]

    def lister(key: str, attr: str) -> Callable[[ServerRequestContext[Any], Any], Awaitable[dict]]:
        """A `*/list` handler: the workspace's current surface, after preloaded servers' first try."""

        async def handler(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> dict:
            registry = ws(ctx)
            await registry.wait_preloaded()
            items, next_cursor = registry.list_page(attr, params.cursor if params is not None else None)
            if attr == "tools":
                items = visible(ctx, registry, items)
            result: dict[str, Any] = {key: items, "resultType": "complete"}
            if next_cursor is not None:
                result["nextCursor"] = next_cursor
            return result

        return handler

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> dict:
        registry = ws(ctx)
        return await _interactive(ctx, params, lambda call: registry.call_tool(params.name, params.arguments, call))

    async def read_resource(ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams) -> dict:
        registry = ws(ctx)
        return await _interactive(ctx, params, lambda call: registry.read_resource(str(params.uri), call))

    async def get_prompt(ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams) -> dict:
        registry = ws(ctx)
        return await _interactive(ctx, params, lambda call: registry.get_prompt(params.name, params.arguments, call))

    async def complete(ctx: ServerRequestContext[Any], params: types.CompleteRequestParams) -> dict:
        wire = params.model_dump(by_alias=True, mode="json", exclude_none=True)
        wire.pop("_meta", None)
        return _complete(await ws(ctx).complete(wire))

    async def subscribe(ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams) -> dict:
        registry = ws(ctx)
        await registry.subscribe(str(params.uri))
        registry.notifier.subscribe(_connection(ctx), str(params.uri))
        return {}

    async def unsubscribe(ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams) -> dict:
        registry = ws(ctx)
        registry.notifier.subscribe(_connection(ctx), str(params.uri), add=False)
        await registry.subscribe(str(params.uri), add=False)
        return {}

    async def set_level(ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams) -> dict:
        _connection(ctx).state[_LOG_LEVEL_STATE] = params.level
        await ws(ctx).set_log_level(params.level)
        return {}

    async def initialized(ctx: ServerRequestContext[Any], params: types.NotificationParams) -> None:
        ws(ctx).notifier.track(_connection(ctx))
        if lean is not None:
            lean.bind(ctx)

    async def listen(ctx: ServerRequestContext[Any], params: types.SubscriptionsListenRequestParams) -> Any:
        return await ws(ctx).notifier.listen(ctx, params)

    def tool_input_schema(name: str) -> Any:
        """The inputSchema tools/list shows this request's caller for tool `name` (None: not listed to it). The
        SDK checks a 2026-era call's Mcp-Param-* headers against it; without this it runs our whole tools/list
        for every such call to find it."""
        scope = MCP_SCOPE.get()
        if scope is None:
            registry, identity = workspaces.get(DEFAULT), LOCAL
        else:
            identity = identity_in(scope, LOCAL)
            wanted = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == header_key), None)
            workspace = wanted or identity.default_workspace
            if not identity.may_use(workspace):
                return None
            try:
                registry = workspaces.get(workspace)
            except ValueError:
                return None
        schema = registry.snapshot.listed_schema(name)
        if schema is not None and policy is not None:
            rules = policy.rules(identity, registry.workspace)
            if rules is not None and not rules.tool_allowed(name):
                return None
        return schema

    header_key = header.lower().encode("latin-1")

    server = _MetaServer(
        "meta-mcp",
        version=__version__,
        title="meta-mcp",
        description="An MCP server that aggregates MCP servers",
        instructions=INSTRUCTIONS,
        cache_hints=_NO_CACHE,
        on_list_tools=lister("tools", "tools"),
        on_call_tool=call_tool,
        on_list_resources=lister("resources", "resources"),
        on_list_resource_templates=lister("resourceTemplates", "resource_templates"),
        on_read_resource=read_resource,
        on_list_prompts=lister("prompts", "prompts"),
        on_get_prompt=get_prompt,
        on_completion=complete,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_subscriptions_listen=listen,
    )
    server.add_notification_handler("notifications/initialized", types.NotificationParams, initialized)
    # Handshake-era logging; added by method so the constructor's deprecation warning stays quiet.
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    # The SDK's OpenTelemetry middleware opens a span per message even with no exporter: 2-4 % of a proxied
    # call, for nothing. With tracing on it is kept, behind the one that takes the trace context from HTTP
    # headers, so its server span starts each request's trace (or continues the caller's); off, none.
    server.middleware = server_middleware()
    server.get_tool_input_schema = tool_input_schema
    if lean is not None:
        lean.server = server
    return server
