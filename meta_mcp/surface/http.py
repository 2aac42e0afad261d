"""What every HTTP request must pass before the SDK's `/mcp` app (or the chat API) sees it.

`HttpGuard` (pure ASGI, so streaming responses pass through untouched) enforces:
- `Accept`: a POST to the MCP endpoint must accept both `application/json` and `text/event-stream`
  (or a wildcard), a GET `text/event-stream` — else 406, as the streamable-HTTP transport says (the
  SDK checks this only for requests inside a session);
- a request body (POST, PUT, PATCH, or any request that declares one; any path) is read whole before the
  app sees it, within `http_body_timeout` seconds and with no pause over `http_idle_timeout`, at most
  `http_max_body_bytes`: a client that trickles its body is answered 408, one that sends too much
  413, instead of holding a connection and a task forever;
- `Last-Event-ID` on a GET to the MCP endpoint: at most 64 characters, in the format of this server's event
  ids (`resumable.check_last_event_id`), else 400 — before the SDK looks it up.

Below the app, `http_limits.header_timeout_protocol` bounds each request's head in time and size
(slowloris).

`answer_plainly()` (from `plain_answers`) makes the SDK answer a handshake-era POST with one
`application/json` body when the request's first message out is its response — the usual tools/call — and
with an SSE stream otherwise. Worker processes (`Worker`, `SessionRouter`) are at the end of this module.

Example:
    answer_plainly()
    app = HttpGuard(Dispatch(server.streamable_http_app(host=settings.host), api_app), settings)
    uvicorn.Config(app, host=settings.host, port=settings.port, **uvicorn_limits(settings))
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio

from meta_mcp.settings import Settings
from meta_mcp.surface.http_limits import header_timeout_protocol as header_timeout_protocol
from meta_mcp.surface.http_limits import uvicorn_limits as uvicorn_limits
from meta_mcp.surface.plain_answers import PostResponse as PostResponse
from meta_mcp.surface.plain_answers import answer_plainly as answer_plainly
from meta_mcp.surface.resumable import check_last_event_id, make_resumable, session_manager_of

Scope = dict[str, Any]
Receive = Any
Send = Any
logger = logging.getLogger(__name__)


MCP_SCOPE: ContextVar[Scope | None] = ContextVar("meta_mcp_mcp_scope", default=None)
"""The ASGI scope of the MCP request being served (set by `HttpGuard`), for the SDK's callbacks that get no
request (`surface.handlers`' tool input schema lookup)."""

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
            MCP_SCOPE.set(scope)
            accept = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept"), "")
            if method == "POST" and not _accepts(accept, "application/json", "text/event-stream"):
                await _reject(send, 406, "Not Acceptable: the client must accept application/json and "
                              "text/event-stream")
                return
            if method == "GET":
                if not _accepts(accept, "text/event-stream"):
                    await _reject(send, 406, "Not Acceptable: the client must accept text/event-stream")
                    return
                resume = next((v for k, v in scope.get("headers", []) if k == b"last-event-id"), b"")
                if resume and (why := check_last_event_id(resume)) is not None:
                    await _reject(send, 400, why)
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
        now = anyio.current_time()
        end = now + settings.http_body_timeout
        # one scope for both deadlines (the whole body's, and the idle one moved on by every chunk)
        with anyio.CancelScope(deadline=min(end, now + settings.http_idle_timeout)) as deadline:
            while True:
                message = await receive()
                deadline.deadline = min(end, anyio.current_time() + settings.http_idle_timeout)
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
    """`/mcp` (and its lifespan) to the MCP app; every other path to `other` (the chat API), if any.

    With `resumable` (the default), the MCP app's handshake-era sessions are made resumable
    (`resumable.make_resumable`: each session its own event store, `Last-Event-ID` replays only its events)."""

    def __init__(self, mcp_app: Any, other: Any | None, path: str = "/mcp", *, resumable: bool = True) -> None:
        self.mcp_app = mcp_app
        self.other = other
        self.path = path
        manager = session_manager_of(mcp_app) if resumable else None
        if manager is not None and not manager.stateless:
            make_resumable(manager)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.other is None or scope["type"] == "lifespan" or scope.get("path", "").rstrip("/") == self.path:
            await self.mcp_app(scope, receive, send)
        else:
            await self.other(scope, receive, send)


# -- worker processes (`--workers N`) ------------------------------------------------------------------------

WORKER_ENV = "META_MCP_WORKER"
"""`index/count/listen_fd/socket_dir` of a worker process, set by the parent (`meta_mcp.cli_workers`) for each worker."""
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade",
                         b"proxy-connection"})


@dataclass(frozen=True)
class Worker:
    """One of `count` processes serving one port (see `docs/state.md`, "Worker processes").

    All workers accept on the listening socket the parent bound (`listen_fd`); 2026-era requests are
    stateless and served by whichever worker accepted the connection. A handshake-era session lives in
    the worker that opened it: its id names that worker (`owner`: the id's first 8 hex digits modulo
    `count`, which `mint_session_ids` makes true for the ids this worker hands out), and a request for
    another worker's session is forwarded to it over that worker's unix socket (`SessionRouter`).
    """

    index: int
    count: int
    listen_fd: int
    socket_dir: str

    @classmethod
    def from_environ(cls, environ: Any) -> Worker | None:
        value = environ.get(WORKER_ENV)
        if not value:
            return None
        index, count, fd, directory = value.split("/", 3)
        return cls(int(index), int(count), int(fd), directory)

    def describe(self) -> str:
        return f"{self.index}/{self.count}/{self.listen_fd}/{self.socket_dir}"

    def socket_path(self, index: int) -> str:
        return os.path.join(self.socket_dir, f"worker-{index}.sock")

    def owner(self, session_id: str) -> int | None:
        try:
            return int(session_id[:8], 16) % self.count
        except ValueError:
            return None

    def mint_session_ids(self) -> None:
        """Make the SDK's session manager hand out ids this worker owns (random ids, as before, drawn until
        their first 8 hex digits modulo `count` are this worker's index: `count` draws on average)."""
        import uuid

        from mcp.server import streamable_http_manager

        def uuid4() -> uuid.UUID:
            while True:
                candidate = uuid.uuid4()
                if int(candidate.hex[:8], 16) % self.count == self.index:
                    return candidate

        streamable_http_manager.uuid4 = uuid4  # type: ignore[attr-defined]

    def sockets(self) -> list[socket.socket]:
        """The shared listening socket and this worker's own unix socket (for sessions forwarded to it)."""
        shared = socket.socket(fileno=self.listen_fd)
        path = self.socket_path(self.index)
        with suppress(FileNotFoundError):
            os.unlink(path)
        own = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        own.bind(path)
        os.chmod(path, 0o600)
        own.listen(128)
        own.setblocking(False)
        return [shared, own]


class SessionRouter:
    """ASGI, outermost in a worker: a request to the MCP endpoint naming another worker's session (the
    `Mcp-Session-Id` header) is forwarded to that worker over its unix socket, streamed both ways (an SSE
    stream for as long as the client keeps it); anything else is this worker's. The owner applies every
    check (authentication, the guard, the session's owner); a worker that cannot be reached is 503."""

    def __init__(self, app: Any, worker: Worker, path: str = "/mcp") -> None:
        self.app = app
        self.worker = worker
        self.path = path
        self._clients: dict[int, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").rstrip("/") == self.path:
            session = next((v for k, v in scope.get("headers", []) if k == b"mcp-session-id"), None)
            if session is not None:
                owner = self.worker.owner(session.decode("latin-1"))
                if owner is not None and owner != self.worker.index:
                    await self._forward(owner, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _client(self, owner: int) -> Any:
        client = self._clients.get(owner)
        if client is None:
            import httpx2

            transport = httpx2.AsyncHTTPTransport(uds=self.worker.socket_path(owner))
            client = self._clients[owner] = httpx2.AsyncClient(
                transport=transport, timeout=httpx2.Timeout(None, connect=5.0),
                limits=httpx2.Limits(max_connections=None, max_keepalive_connections=64, keepalive_expiry=4))
        return client

    async def _forward(self, owner: int, scope: Scope, receive: Receive, send: Send) -> None:
        import httpx2

        body_done = anyio.Event()

        async def body() -> AsyncIterator[bytes]:
            try:
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return
                    if chunk := message.get("body", b""):
                        yield chunk
                    if not message.get("more_body", False):
                        return
            finally:
                body_done.set()

        query = scope.get("query_string", b"")
        url = "http://worker" + scope.get("raw_path", scope["path"].encode()).decode("latin-1") + (
            "?" + query.decode("latin-1") if query else "")
        headers = [(k, v) for k, v in scope.get("headers", []) if k not in _HOP_BY_HOP]
        declares_body = scope.get("method") in ("POST", "PUT", "PATCH") or _declares_body(scope)
        request = self._client(owner).build_request(scope["method"], url, headers=headers,
                                                    content=body() if declares_body else None)
        if not declares_body:
            body_done.set()
        try:
            response = await self._client(owner).send(request, stream=True)
        except httpx2.TransportError as exc:
            logger.warning("worker %d: cannot reach worker %d for a session of its own: %s", self.worker.index,
                           owner, exc)
            await _reject(send, 503, f"Service Unavailable: the worker serving this session is not reachable ({exc})")
            return
        async with anyio.create_task_group() as tg:

            async def client_gone() -> None:  # the client went away: stop relaying (an SSE stream never ends)
                await body_done.wait()
                while (await receive())["type"] != "http.disconnect":
                    pass
                tg.cancel_scope.cancel()

            tg.start_soon(client_gone)
            try:
                await send({"type": "http.response.start", "status": response.status_code,
                            "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]})
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                with anyio.CancelScope(shield=True):
                    await response.aclose()
                tg.cancel_scope.cancel()
