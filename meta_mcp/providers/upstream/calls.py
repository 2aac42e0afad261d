"""Calls to one upstream, and the session state clients set on it that a reconnect must replay.

Promises:
- a call made while the server (re)starts waits for it, bounded by the call timeout (and the connect
  timeout); a server that does not come back is a `ToolError` naming it and its last error;
- every request carries the per-call timeout (the spec's `timeout`, else the settings default); while the
  caller asked for progress, each progress report of the server for it allows that long again, up to
  `call_max_timeout` in all (`providers/deadline.py`); on timeout the request is cancelled upstream and
  the caller gets a `ToolError` that says which limit it hit;
- a connection that closes during a call is a `ToolError` saying why when the transport knows (a
  stdio server's exit code and last stderr lines, a message over `max_upstream_message_bytes`) and
  that it is "being restarted — try again shortly"; calls after it wait for the restart instead of
  using the dead client;
- an answer that is not valid JSON-RPC (`PARSE_ERROR`, made by `providers/connect.py` or the SDK's
  HTTP transport) is a `ToolError` at once: "sent an invalid response to …" and what was wrong;
- any other JSON-RPC error the upstream answers with passes through unchanged as `MCPError`;
- results are the wire dicts the upstream sent (exact passthrough, no model round trip); progress
  goes to the caller, log messages and server→client requests through the back-channel;
- the log level and resource subscriptions clients asked for are remembered (`SessionState`) and
  re-applied to a handshake-era upstream after every reconnect; a modern upstream gets its
  subscriptions through the watcher's listen stream and has no session-wide log level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp import Client, MCPError
from mcp.client.session import _clamp_inbound_ttl, _later_revision_fields
from mcp.shared.inbound import MCP_NAME_HEADER, encode_header_value
from mcp_types import CONNECTION_CLOSED, PARSE_ERROR, REQUEST_TIMEOUT
from mcp_types import methods as _methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import TypeAdapter

from meta_mcp.providers.base import NO_CONTEXT, CallContext, Provider, ToolError
from meta_mcp.providers.deadline import Deadline
from meta_mcp.providers.upstream.backchannel import BackChannel
from meta_mcp.providers.upstream.supervisor import Supervisor

_RAW = TypeAdapter(dict[str, Any])
"""Results are kept as the wire dicts the upstream sent: exact passthrough, no model round trip."""


def _lean_channel(client: Client) -> Any:
    """The connection's `LeanChannel` when it has a live one (see `providers.connect.open_transport`)."""
    dispatcher = getattr(client.session, "_dispatcher", None)
    channel = getattr(getattr(dispatcher, "_read_stream", None), "lean", None)
    return channel if channel is not None and not channel.closed and hasattr(client.session, "_stamp") else None


class SessionState:
    """What clients asked of this server that a new connection must be told again."""

    def __init__(self) -> None:
        self.log_level: str | None = None
        self.subscriptions: set[str] = set()

    async def restore(self, client: Client) -> None:
        """After (re)connecting, re-apply what clients asked of this server: log level, subscriptions."""
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        caps = client.server_capabilities
        if self.log_level and caps.logging:
            await client.session.set_logging_level(self.log_level)  # type: ignore[arg-type]
        if caps.resources and caps.resources.subscribe:
            for uri in self.subscriptions:
                await client.session.subscribe_resource(uri)


class Calls:
    """Serves the provider's calls over the supervisor's live client (see the module docstring).

    `resubscribe` is called after a modern upstream's subscriptions change (the watcher reopens its
    listen stream).
    """

    def __init__(self, provider: Provider, supervisor: Supervisor, backchannel: BackChannel,
                 session: SessionState, resubscribe: Callable[[], None], timeout: float,
                 max_timeout: float | None = None) -> None:
        self._provider = provider
        self._supervisor = supervisor
        self._backchannel = backchannel
        self._session = session
        self._resubscribe = resubscribe
        self._timeout = timeout
        self._max_timeout = max_timeout

    def _deadline(self, call: CallContext) -> Deadline:
        """A request's wait: progress extends it only when the caller receives progress (else none is asked for)."""
        return Deadline(self._timeout, self._max_timeout if call.progress is not None else None)

    async def request(self, request: Any, what: str, call: CallContext = NO_CONTEXT) -> dict[str, Any]:
        """Send `request` (described as `what` in errors) and return its result as a wire dict."""
        client = await self._supervisor.live_client(what, self._timeout)
        deadline = self._deadline(call)
        progress = deadline.extended_by(call.progress)
        with self._backchannel.serving(call), deadline.scope():  # the SDK cancels the request upstream
            try:
                return await client.session.send_request(request, _RAW, progress_callback=progress)
            except MCPError as exc:
                raise self._tool_error(exc, what, deadline) from None
        raise self._tool_error(MCPError(code=REQUEST_TIMEOUT, message="timed out"), what, deadline)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext) -> dict[str, Any]:
        client = await self._supervisor.live_client(f"tools/call {name!r}", self._timeout)
        lean = _lean_channel(client)
        if lean is not None:
            return await self._lean_call(client, lean, name, arguments, call)
        params = types.CallToolRequestParams(
            name=name, arguments=arguments, _meta=call.meta or None,
            input_responses=call.input_responses, request_state=call.request_state,
        )
        return await self.request(types.CallToolRequest(params=params), f"tools/call {name!r}", call)

    async def _lean_call(self, client: Client, lean: Any, name: str, arguments: dict[str, Any] | None,
                         call: CallContext) -> dict[str, Any]:
        """`tools/call` on the connection's lean channel (`providers.lean.LeanChannel`): what
        `ClientSession.send_request` does — the request as the SDK would dump and stamp it for the negotiated
        version, its result clamped, checked against that version's result type and sieved of later
        revisions' fields — without a request model, the dispatcher's clock and queue, or a result model."""
        what = f"tools/call {name!r}"
        params: dict[str, Any] = {"name": name}
        if arguments is not None:
            params["arguments"] = arguments
        if call.meta:
            params["_meta"] = dict(call.meta)
        if call.input_responses is not None:
            params["inputResponses"] = call.input_responses
        if call.request_state is not None:
            params["requestState"] = call.request_state
        data: dict[str, Any] = {"method": "tools/call", "params": params}
        opts: dict[str, Any] = {}
        client.session._stamp(data, opts)  # noqa: SLF001 - the SDK's own envelope and headers for this version
        headers = opts.get("headers") or {}
        if MCP_NAME_HEADER not in headers:
            headers[MCP_NAME_HEADER] = encode_header_value(name)
        deadline = self._deadline(call)
        with self._backchannel.serving(call):
            try:
                raw = await lean.request("tools/call", data["params"], deadline=deadline,
                                         progress=call.progress, headers=headers)
            except MCPError as exc:
                raise self._tool_error(exc, what, deadline) from None
        _clamp_inbound_ttl(raw)
        version = client.protocol_version or "2025-11-25"
        try:
            _methods.validate_server_result("tools/call", version, raw)
        except KeyError:
            pass
        if not (foreign := _later_revision_fields("tools/call", version)).isdisjoint(raw):
            raw = {key: value for key, value in raw.items() if key not in foreign}
        return raw

    def _tool_error(self, exc: MCPError, what: str, deadline: Deadline) -> Exception:
        """What an `MCPError` of a request becomes: a `ToolError` saying what happened, or itself."""
        name = self._provider.name
        if exc.error.code == REQUEST_TIMEOUT:
            return ToolError(f"Server {name!r} timed out: {deadline.describe(what)}; the request was cancelled "
                             "upstream.")
        if exc.error.code == CONNECTION_CLOSED:
            self._supervisor.mark_lost()  # calls from now on wait for the restart
            how = self._supervisor.end_reason or "closed the connection (crashed or exited)"
            return ToolError(f"Server {name!r} {how} during {what}; it is being restarted — try again shortly.")
        if exc.error.code == PARSE_ERROR:  # not JSON-RPC, or over the limits (see providers/connect.py)
            return ToolError(f"Server {name!r} sent an invalid response to {what}: {exc.error.message}")
        return exc

    async def read_resource(self, uri: str, call: CallContext) -> dict[str, Any]:
        params = types.ReadResourceRequestParams(
            uri=uri, _meta=call.meta or None, input_responses=call.input_responses, request_state=call.request_state
        )
        return await self.request(types.ReadResourceRequest(params=params), f"resources/read {uri!r}", call)

    async def get_prompt(self, name: str, arguments: dict[str, str] | None, call: CallContext) -> dict[str, Any]:
        params = types.GetPromptRequestParams(
            name=name, arguments=arguments, _meta=call.meta or None,
            input_responses=call.input_responses, request_state=call.request_state,
        )
        return await self.request(types.GetPromptRequest(params=params), f"prompts/get {name!r}", call)

    async def complete(self, params: dict[str, Any]) -> dict[str, Any]:
        request = types.CompleteRequest(params=types.CompleteRequestParams.model_validate(params))
        return await self.request(request, "completion/complete")

    async def set_log_level(self, level: str) -> None:
        """Remember `level` (replayed on reconnect) and send it now if connected to a handshake-era server."""
        self._session.log_level = level
        client = self._supervisor.client
        if client is not None and client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            if client.server_capabilities.logging:
                await client.session.set_logging_level(level)  # type: ignore[arg-type]

    async def change_subscription(self, uri: str, *, add: bool) -> None:
        """Subscribe to (or unsubscribe from) `uri`, remembered for replay after a reconnect."""
        client = await self._supervisor.live_client(
            "resources/subscribe" if add else "resources/unsubscribe", self._timeout)
        subscriptions = self._session.subscriptions
        if add:
            subscriptions.add(uri)
        else:
            subscriptions.discard(uri)
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            self._resubscribe()
            return
        caps = client.server_capabilities
        if not (caps.resources and caps.resources.subscribe):
            raise ToolError(f"Server {self._provider.name!r} does not support resource subscriptions")
        session = client.session
        await (session.subscribe_resource(uri) if add else session.unsubscribe_resource(uri))
