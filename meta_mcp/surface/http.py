"""What every HTTP request must pass before the SDK's `/mcp` app (or the chat API) sees it.

`HttpGuard` (pure ASGI, so streaming responses pass through untouched) enforces:
- `Accept`: a POST to the MCP endpoint must accept both `application/json` and `text/event-stream`
  (or a wildcard), a GET `text/event-stream` — else 406, as the streamable-HTTP transport says (the
  SDK checks this only for requests inside a session);
- a request body (POST, PUT, PATCH, or any request that declares one; any path) is read whole before the
  app sees it, within `http_body_timeout` seconds and with no pause over `http_idle_timeout`, at most
  `http_max_body_bytes`: a client that trickles its body is answered 408, one that sends too much
  413, instead of holding a connection and a task forever.

Below the app, `header_timeout_protocol` is uvicorn's h11 protocol with a deadline for each request's
head (`http_header_timeout`): uvicorn itself has none (its keep-alive timeout starts only after a first
response), so a client that opens a connection and trickles its headers (slowloris) would hold it
forever. The head's size is bounded by uvicorn (`h11_max_incomplete_event_size`, `http_max_header_bytes`).

Example:
    app = HttpGuard(Dispatch(server.streamable_http_app(host=settings.host), api_app), settings)
    uvicorn.Config(app, http=header_timeout_protocol(settings.http_header_timeout), …)
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio

from meta_mcp.settings import Settings

Scope = dict[str, Any]
Receive = Any
Send = Any
logger = logging.getLogger(__name__)


LOOPBACK = ("127.0.0.1", "localhost", "::1")
_LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _rebinding(scope: Scope) -> str | None:
    """"host" or "origin" when a request to a loopback server names a non-local one, else None."""
    headers = {k.decode(): v.decode("latin-1") for k, v in scope.get("headers", []) if k in (b"host", b"origin")}
    host = headers.get("host", "")
    if host.rsplit(":", 1)[0] not in _LOCAL_NAMES:
        return "host"
    origin = headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1].rsplit(":", 1)[0] not in _LOCAL_NAMES:
        return "origin"
    return None


def _accepts(accept: str, *wanted: str) -> bool:
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if "*/*" in types:
        return True
    return all(w in types or f"{w.split('/')[0]}/*" in types for w in wanted)


async def _reject(send: Send, status: int, message: str) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class HttpGuard:
    """ASGI middleware in front of the MCP endpoint (see the module docstring)."""

    def __init__(self, app: Any, settings: Settings, path: str = "/mcp") -> None:
        self.app = app
        self.settings = settings
        self.path = path
        self.loopback = settings.host in LOOPBACK
        """On loopback, every other route gets the DNS-rebinding checks the SDK applies to `/mcp`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope.get("method")
        is_mcp = scope.get("path", "").rstrip("/") == self.path
        if not is_mcp and self.loopback and (why := _rebinding(scope)) is not None:
            await _reject(send, 421 if why == "host" else 403, f"Invalid {why.title()} header (DNS-rebinding "
                          "protection: meta-mcp on loopback answers only local hosts and origins)")
            return
        if is_mcp:
            accept = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept"), "")
            if method == "POST" and not _accepts(accept, "application/json", "text/event-stream"):
                await _reject(send, 406, "Not Acceptable: the client must accept application/json and "
                              "text/event-stream")
                return
            if method == "GET" and not _accepts(accept, "text/event-stream"):
                await _reject(send, 406, "Not Acceptable: the client must accept text/event-stream")
                return
        if method in ("POST", "PUT", "PATCH") or _declares_body(scope):
            body = await self._read_body(receive, send)
            if body is None:
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_body(self, receive: Receive, send: Send) -> bytes | None:
        """The whole request body, or None after answering 408 (too slow) or 413 (too large)."""
        settings = self.settings
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(settings.http_body_timeout):
            while True:
                with anyio.move_on_after(settings.http_idle_timeout) as idle:
                    message = await receive()
                if idle.cancelled_caught:
                    break
                if message["type"] != "http.request":
                    return None  # the client went away
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > settings.http_max_body_bytes:
                    await _reject(send, 413, f"Payload Too Large: the body exceeds {settings.http_max_body_bytes} "
                                  "bytes (META_MCP_HTTP_MAX_BODY_BYTES)")
                    return None
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        await _reject(send, 408, "Request Timeout: the request body arrived too slowly")
        return None


def _declares_body(scope: Scope) -> bool:
    for key, value in scope.get("headers", []):
        if key == b"transfer-encoding" or (key == b"content-length" and value.strip() not in (b"", b"0")):
            return True
    return False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields `body` whole, then whatever the connection says next (a disconnect)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class Dispatch:
    """`/mcp` (and its lifespan) to the MCP app; every other path to `other` (the chat API), if any."""

    def __init__(self, mcp_app: Any, other: Any | None, path: str = "/mcp") -> None:
        self.mcp_app = mcp_app
        self.other = other
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.other is None or scope["type"] == "lifespan" or scope.get("path", "").rstrip("/") == self.path:
            await self.mcp_app(scope, receive, send)
        else:
            await self.other(scope, receive, send)


def header_timeout_protocol(seconds: float) -> type:
    """uvicorn's h11 protocol, closing a connection whose request head has not fully arrived within `seconds`
    of its first byte (or of the connection, for its first request); see the module docstring."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        _head_timer: Any = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            if self._head_timer is None and (before is None or before.response_complete):
                self._arm()  # the first bytes of the next request's head
            super().data_received(data)
            if self.cycle is not before:  # a head arrived whole: a request cycle started
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _expired(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                logger.info("HTTP: closing a connection from %s: its request head did not arrive within %gs "
                            "(META_MCP_HTTP_HEADER_TIMEOUT)", self.client[0] if self.client else "?", seconds)
                self.transport.close()

    return HeaderTimeoutProtocol


def uvicorn_limits(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config keywords for the transport limits: the head's deadline and size, keep-alive, connections."""
    return {"http": header_timeout_protocol(settings.http_header_timeout),
            "h11_max_incomplete_event_size": settings.http_max_header_bytes,
            "timeout_keep_alive": settings.http_keep_alive_s, "limit_concurrency": settings.http_max_connections}
