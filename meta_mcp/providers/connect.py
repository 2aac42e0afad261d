"""Client transports for an upstream `ServerSpec`: stdio process, streamable HTTP or legacy SSE.

Every transport is wrapped so the provider learns the moment the upstream's stream ends (a stdio
process exiting, a connection dropping) instead of discovering it on the next call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from meta_mcp.config import ServerSpec
from meta_mcp.providers.process import Prespawned, pipe_transport, spawn


class _WatchedReadStream:
    """A read stream that calls `on_eof` once when the wrapped stream ends or is closed."""

    def __init__(self, inner: Any, on_eof: Callable[[], None]) -> None:
        self._inner = inner
        self._on_eof = on_eof

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except Exception:
            self._on_eof()
            raise

    async def aclose(self) -> None:
        self._on_eof()
        await self._inner.aclose()

    def __aiter__(self) -> _WatchedReadStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self._inner.__anext__()
        except StopAsyncIteration:
            self._on_eof()
            raise

    async def __aenter__(self) -> _WatchedReadStream:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        try:
            return await self._inner.__aexit__(*exc)
        finally:
            self._on_eof()

    def __getattr__(self, name: str) -> Any:  # e.g. `last_context`, read by the dispatcher
        return getattr(self._inner, name)


def _raw_transport(spec: ServerSpec, *, connect_timeout: float, prespawned: Prespawned | None) -> Any:
    if spec.transport == "stdio":
        assert spec.command is not None
        key = Prespawned.key(spec.command, spec.args, spec.env, spec.cwd)
        proc = prespawned.claim(key) if prespawned is not None else None
        environ = prespawned.environ if prespawned is not None else {}  # nothing below the CLI reads os.environ
        return pipe_transport(proc or spawn([spec.command, *spec.args], spec.env, spec.cwd, environ))
    assert spec.url is not None
    if spec.transport == "sse":
        from mcp.client.sse import sse_client

        return sse_client(spec.url, headers=spec.headers or None, timeout=connect_timeout)
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    # No read timeout on the HTTP client: per-call timeouts are ours, and SSE responses are long-lived.
    # Keep-alive for as many connections as concurrent calls: httpx's default of 20 makes every call
    # beyond 20 in flight open a new TCP connection to the upstream.
    limits = httpx2.Limits(max_connections=256, max_keepalive_connections=256, keepalive_expiry=30)
    http = httpx2.AsyncClient(headers=spec.headers, timeout=httpx2.Timeout(connect_timeout, read=None), limits=limits)
    return _owning(streamable_http_client(spec.url, http_client=http), http)


@asynccontextmanager
async def _owning(transport: Any, http: Any) -> AsyncIterator[Any]:
    async with http, transport as streams:
        yield streams


@asynccontextmanager
async def open_transport(spec: ServerSpec, *, on_eof: Callable[[], None], connect_timeout: float,
                         prespawned: Prespawned | None = None) -> AsyncIterator[Any]:
    """Open the transport for `spec`, yielding (read, write) streams whose end calls `on_eof`.

    A stdio server adopts its process from `prespawned` when the CLI started it ahead of time.
    """
    async with _raw_transport(spec, connect_timeout=connect_timeout, prespawned=prespawned) as (read, write):
        yield _WatchedReadStream(read, on_eof), write
