"""The lean path: calls and list pages of a handshake-era stdio connection, past the SDK's dispatcher.

Only an optimisation: what a client receives is what the SDK's dispatcher would have sent — the same
result or error, after the same progress, logs and requests to the client — just without the
dispatcher's per-message overhead (see `LeanCalls`). Whatever it is not sure of goes to the SDK.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
import pydantic_core
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.runner import ServerRunner
from mcp.shared.jsonrpc_dispatcher import (
    _JSONRPCDispatchContext,
    cancelled_request_id_from_params,
    handler_exception_to_error_data,
    progress_token_from_params,
)
from mcp.shared.transport_context import TransportContext
from mcp_types import CONNECTION_CLOSED, ErrorData
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from meta_mcp.pipes import valid_id
from meta_mcp.surface.context import connection

logger = logging.getLogger(__name__)

_LEAN_METHODS = frozenset({"tools/call", "tools/list", "resources/list", "resources/templates/list", "prompts/list"})
"""What the lean path serves: the call, and the list pages."""
_LEAN_MARK = re.compile(b'"(?:' + b"|".join(re.escape(m.encode()) for m in [*_LEAN_METHODS, "notifications/cancelled"])
                        + b')"')
_MODERN_ENVELOPE = b"io.modelcontextprotocol/protocolVersion"
_STDIO = TransportContext(kind="jsonrpc", can_send_request=True)
_FIELDS = frozenset({"jsonrpc", "id", "method", "params"})


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
"""Built once: `json.loads` with an argument builds a decoder per call."""


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
        runner = ServerRunner(self.server, connection(ctx), ctx.lifespan_context)
        self._bound = _Bound(runner, dispatcher)

    def cancel_all(self) -> None:
        for scope, _ in list(self._in_flight.values()):
            scope.cancel()

    def offer(self, line: bytes) -> bool:
        """Take `line` (already within the message limits) if it is for the lean path; False: the SDK's."""
        bound = self._bound
        if bound is None or bound.runner.server.middleware or _LEAN_MARK.search(line) is None:
            return False
        if _MODERN_ENVELOPE in line:
            return False
        try:
            message = _DECODER.decode(line.decode())  # not UTF-8 (UnicodeDecodeError is a ValueError): the SDK's
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

