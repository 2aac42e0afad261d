"""`PostTransport`: the HTTP/1.1 POSTs to a streamable-HTTP upstream over keep-alive connections of our own.

Every call to an HTTP upstream is one POST. Through httpx's default transport (httpcore) a POST costs
a connection-pool pass, a readability poll of the socket, a cancel scope and timer per read and per
write, and the request line, headers and body written as two sends: about a fifth of meta-mcp's CPU per
HTTP call. `PostTransport` is an `httpx.AsyncBaseTransport` that sends a POST whose body is already in
memory (the SDK's JSON-RPC messages) as one write on an asyncio connection it keeps alive, and parses
the answer with httptools (the C parser uvicorn uses); everything else — GET event streams, DELETE,
streamed bodies — goes to the fallback transport (httpx's own). Above the transport nothing changes: the
SDK's client, httpx's redirects, headers and content decoding, and our body limits see an ordinary
`httpx.Response`, streamed as it arrives (an event-stream answer is read chunk by chunk).

Promises, as httpcore keeps them:
- a connection is reused only once its previous answer was read to the end, the server did not say
  `Connection: close`, it is not closed, and it was idle less than `keepalive_expiry`;
- errors are httpx's: `ConnectError` / `ConnectTimeout` opening a connection, `RemoteProtocolError` for a
  malformed answer or one cut short, `ReadTimeout` past the request's read timeout; a POST is never
  retried (it may not be idempotent);
- a caller cancelled mid-answer, or a body closed before its end, closes that connection.

Not used when a proxy is configured in the environment (httpx's own transport honours it).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx2

_PAUSE_AT = 1 << 20
"""Bytes of an answer buffered before the connection stops reading (until the reader catches up)."""
MAX_HEAD_BYTES = 100 * 1024
"""The most an answer's status line and headers may take (h11's limit, which httpcore applies): an upstream
that sends more, or never ends its head, is a protocol error, not memory meta-mcp keeps growing."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: its answer's head, body chunks, end, or why it failed."""

    def __init__(self, key: tuple[str, str, int]) -> None:
        self.key = key
        self.transport: Any = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self.head: asyncio.Future[None] | None = None
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._until_close = False  # the body ends when the connection does (no length, not chunked)
        self._keep_alive = False
        self._head_bytes = 0
        self._paused = False

    def start(self) -> None:
        """Get ready for the answer to a request about to be written."""
        self.head = asyncio.get_running_loop().create_future()
        self.status, self.reason, self.headers = 0, b"", []
        self.complete, self.error, self._until_close, self._keep_alive = False, None, False, False
        self._head_bytes = 0

    # asyncio's callbacks
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.head is None or self.complete:
            self.close()  # bytes nobody asked for: the connection cannot be trusted any more
            return
        try:
            self._parser.feed_data(data)
        except httpx2.RemoteProtocolError as exc:  # raised by a callback (see `_count_head`)
            self._fail(exc)
            self.close()
        except httptools.HttpParserError as exc:
            cause = exc.__context__ if isinstance(exc.__context__, httpx2.RemoteProtocolError) else None
            self._fail(cause or httpx2.RemoteProtocolError(f"malformed HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head is not None and not self.complete and self.error is None:
            if self._until_close and self.head.done():
                self.complete = True
                self._wake()
            elif not self.head.done():
                self._fail(httpx2.RemoteProtocolError("Server disconnected without sending a response."))
            else:
                self._fail(httpx2.RemoteProtocolError("peer closed connection without sending complete message body"))

    # httptools' callbacks
    def on_status(self, reason: bytes) -> None:
        self.reason += reason
        self._count_head(len(reason))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        self._count_head(len(name) + len(value) + 4)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise httpx2.RemoteProtocolError(f"the answer's head is over {MAX_HEAD_BYTES} bytes")

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            self.headers, self.reason, self._head_bytes = [], b"", 0
            return
        self.status = status
        names = {name.lower() for name, _ in self.headers}
        self._until_close = b"content-length" not in names and b"transfer-encoding" not in names
        if self.head is not None and not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(bytes(body))
        self.buffered += len(body)
        if self.buffered > _PAUSE_AT and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.status:  # not the end of an interim answer
            self.complete = True
            self._keep_alive = self._parser.should_keep_alive()  # only known here: the parser then resets
            self._wake()

    # the reader's side
    def _fail(self, error: Exception) -> None:
        self.error = error
        if self.head is not None and not self.head.done():
            self.head.set_result(None)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_chunk(self, timeout: float | None) -> bytes | None:
        """The answer's next body chunk; None at its end."""
        while not self.chunks:
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            self._waiter = asyncio.get_running_loop().create_future()
            await _within(self._waiter, timeout)
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self._paused and self.buffered <= _PAUSE_AT // 2 and not self.closed:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    def reusable(self) -> bool:
        return self.complete and self._keep_alive and not self.closed and not self.chunks

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


async def _within(future: asyncio.Future[None], timeout: float | None) -> None:
    if timeout is None:
        await future
        return
    try:
        async with asyncio.timeout(timeout):
            await future
    except TimeoutError:
        raise httpx2.ReadTimeout("timed out waiting for the answer") from None


class _Body(httpx2.AsyncByteStream):
    """An answer's body as it arrives; read to its end, the connection goes back to the pool."""

    def __init__(self, pool: PostTransport, conn: _Connection, timeout: float | None) -> None:
        self._pool, self._conn, self._timeout = pool, conn, timeout
        self._settled = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while (chunk := await self._conn.next_chunk(self._timeout)) is not None:
                yield chunk
        except BaseException:
            self._settle(reuse=False)
            raise
        self._settle(reuse=True)

    def _settle(self, *, reuse: bool) -> None:
        if not self._settled:
            self._settled = True
            self._pool.release(self._conn, reuse=reuse and self._conn.reusable())

    async def aclose(self) -> None:
        self._settle(reuse=False)  # a no-op once read to the end


class PostTransport(httpx2.AsyncBaseTransport):
    """POSTs over keep-alive connections of its own; any other request to `fallback` (see the module).

    Example:
        transport = PostTransport(tls_context, fallback=httpx.AsyncHTTPTransport(verify=tls_context))
        client = httpx.AsyncClient(transport=transport)
    """

    def __init__(self, tls: ssl.SSLContext, *, fallback: httpx2.AsyncBaseTransport, keepalive_expiry: float = 4.0,
                 max_idle: int = 256) -> None:
        self._tls = tls
        self._fallback = fallback
        self._expiry = keepalive_expiry
        self._max_idle = max_idle
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if request.method != "POST" or url.scheme not in ("http", "https") or not isinstance(
                request.stream, httpx2.ByteStream):
            return await self._fallback.handle_async_request(request)
        body = request.content
        timeouts = request.extensions.get("timeout") or {}
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        conn = self._reuse(key) or await self._connect(key, timeouts.get("connect"))
        head = [b"POST ", url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            head += (name, b": ", value, b"\r\n")
        head.append(b"\r\n")
        conn.start()
        try:
            conn.transport.write(b"".join(head) + body)
            assert conn.head is not None
            await _within(conn.head, timeouts.get("read"))
            if conn.error is not None:
                raise conn.error
        except BaseException:
            self.release(conn, reuse=False)
            raise
        return httpx2.Response(conn.status, headers=conn.headers, stream=_Body(self, conn, timeouts.get("read")),
                               extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason.strip()})

    def _reuse(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self._expiry:
                return conn
            self._discard(conn)
        return None

    async def _connect(self, key: tuple[str, str, int], timeout: float | None) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        tls = {"ssl": self._tls, "server_hostname": host} if scheme == "https" else {}
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(lambda: _Connection(key), host, port, **tls)
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:  # refused, unreachable, a TLS failure (ssl.SSLError is an OSError)
            raise httpx2.ConnectError(str(exc)) from exc
        self._open.add(conn)
        return conn

    def release(self, conn: _Connection, *, reuse: bool) -> None:
        """`conn`'s answer is done with: back to the idle connections, or closed."""
        idle = self._idle.setdefault(conn.key, [])
        if reuse and len(idle) < self._max_idle:
            conn.head = None
            conn.idle_since = time.monotonic()
            idle.append(conn)
        else:
            self._discard(conn)

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._open.discard(conn)

    async def aclose(self) -> None:
        for conn in list(self._open):
            self._discard(conn)
        self._idle.clear()
        await self._fallback.aclose()
