"""Client transports for an upstream `ServerSpec`: stdio process, streamable HTTP or legacy SSE.

Every transport is wrapped (`_UpstreamReadStream`) so that
- the provider learns the moment the upstream's stream ends (a stdio process exiting, a connection
  dropping), and why when the transport knows (`on_end`), instead of discovering it on the next call;
- nothing the upstream sends vanishes: a message that is not valid JSON-RPC reaches the SDK as an
  exception, which it only logs, so a call whose answer was malformed waited for its whole timeout.
  An invalid response (`{"id": 3, "result": "not-an-object"}`) becomes an error answer to that
  request at once (`PARSE_ERROR`, the detail as its message: calls turn it into a tool error naming
  the server); an invalid request from the upstream is answered with the JSON-RPC error it deserves;
  anything else is logged as a warning naming the server.
- what the upstream sends is bounded by `max_upstream_message_bytes` (a `MessageLimit`), in size and
  in JSON elements, before anything is parsed: stdio lines in `process.pipe_transport`; HTTP response
  bodies and each server-sent event in `_limited_http_client`. A stdio line or an event over it ends
  the connection with that reason (it is restarted); a JSON body over it fails its request.

With tracing on (`services.telemetry`), each start or restart of an upstream is a span `connect <name>`
(from opening the transport to the upstream's first message, or an error saying why the connection
ended first), and every HTTP request to a streamable-HTTP upstream carries the W3C `traceparent` of
the call it belongs to (the SDK sends the call's context as the request's context and in its
`_meta`); off, none of this costs anything.
"""

from __future__ import annotations

import functools
import logging
import re
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.shared.message import SessionMessage
from mcp_types import PARSE_ERROR, ErrorData, JSONRPCError
from pydantic_core import ValidationError

from meta_mcp.config import ServerSpec
from meta_mcp.pipes import MessageLimit, MessageTooLarge, Rejection, rejection
from meta_mcp.providers.lean import LeanChannel
from meta_mcp.providers.process import Prespawned, pipe_transport

logger = logging.getLogger(__name__)



class _UpstreamReadStream:
    """The read stream of an upstream connection, as the module docstring describes."""

    def __init__(self, inner: Any, write: Any, on_end: Callable[[str | None], None], name: str,
                 start: _StartTrace | None = None, lean: LeanChannel | None = None) -> None:
        self._inner = inner
        self._write = write
        self._on_end = on_end
        self._name = name
        self._start = start
        self.lean = lean
        """The connection's lean channel (see `LeanChannel`), or None."""

    def _ended(self) -> None:
        if self.lean is not None:
            self.lean.close()
        self._on_end(None)

    async def _vetted(self, item: Any) -> Any | None:
        """`item`, or what replaces it for the session (None: skip it) when it is a malformed message."""
        if self._start is not None:  # the upstream's first message: it is up
            self._start.answered()
            self._start = None
        if not isinstance(item, ValidationError):
            return None if self.lean is not None and self.lean.take(item) else item
        rejected: Rejection = rejection(item.errors())
        if rejected.response and rejected.id is not None:
            logger.warning("server %r: invalid response to request %r: %s", self._name, rejected.id, rejected.detail)
            error = ErrorData(code=PARSE_ERROR, message=rejected.detail)
            answer = SessionMessage(JSONRPCError(jsonrpc="2.0", id=rejected.id, error=error))
            return None if self.lean is not None and self.lean.take(answer) else answer
        logger.warning("server %r sent an invalid JSON-RPC message: %s", self._name, rejected.message)
        if rejected.id is not None and not rejected.response:  # its request deserves an answer
            error = ErrorData(code=rejected.code, message=rejected.message)
            await self._write.send(SessionMessage(JSONRPCError(jsonrpc="2.0", id=rejected.id, error=error)))
            return None
        return item

    async def receive(self) -> Any:
        try:
            while (item := await self._vetted(await self._inner.receive())) is None:
                pass
            return item
        except Exception:
            self._ended()
            raise

    async def aclose(self) -> None:
        self._ended()
        await self._inner.aclose()

    def __aiter__(self) -> _UpstreamReadStream:
        return self

    async def __anext__(self) -> Any:
        try:
            while (item := await self._vetted(await self._inner.__anext__())) is None:
                pass
            return item
        except StopAsyncIteration:
            self._ended()
            raise

    async def __aenter__(self) -> _UpstreamReadStream:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        try:
            return await self._inner.__aexit__(*exc)
        finally:
            self._ended()

    def __getattr__(self, name: str) -> Any:  # e.g. `last_context`, read by the dispatcher
        return getattr(self._inner, name)


_EVENT_END = re.compile(rb"(?>\r\n|\r|\n)(?>\r\n|\r|\n)")
"""The blank line that ends a server-sent event (atomic groups: a lone CRLF is one line end, not two)."""


def _limited_http_client(limit: MessageLimit, on_end: Callable[[str | None], None], *, trace: bool = False,
                         **kwargs: Any) -> Any:
    """An `httpx2.AsyncClient` whose response bodies are checked against `limit` as they arrive.

    An event hook wraps every response's byte stream, whatever transport or proxy served it: a JSON
    body is checked whole, an event stream one event at a time, each before the SDK parses it. With
    `trace`, a request hook adds the current trace context (`traceparent`) to every request.
    """
    import httpx2

    class LimitedBody(httpx2.AsyncByteStream):
        def __init__(self, inner: Any, events: bool) -> None:
            self._inner = inner
            self._events = events

        def _refuse(self, exc: MessageTooLarge) -> Exception:
            if self._events:  # the SDK fails the request with "SSE stream failed: …"; we restart, saying why
                on_end(f"sent {exc}")
                return httpx2.SSEError(f"meta-mcp refused {exc}")
            return httpx2.StreamError(f"meta-mcp refused {exc}")  # the SDK answers the request with it

        async def __aiter__(self) -> AsyncIterator[bytes]:
            pending = bytearray()  # the message arriving: the whole body, or the current event
            async for chunk in self._inner:
                scan_from = max(len(pending) - 3, 0)
                pending += chunk
                try:
                    while self._events and (end := _EVENT_END.search(pending, scan_from)) is not None:
                        limit.check(pending[:end.end()])
                        del pending[:end.end()]
                        scan_from = 0
                    if len(pending) > limit.max_bytes:
                        raise limit.too_long()
                except MessageTooLarge as exc:
                    raise self._refuse(exc) from None
                yield chunk
            if not self._events:
                try:
                    limit.check(pending)
                except MessageTooLarge as exc:
                    raise self._refuse(exc) from None

        async def aclose(self) -> None:
            await self._inner.aclose()

    async def limit_body(response: Any) -> None:
        events = response.headers.get("content-type", "").lower().startswith("text/event-stream")
        response.stream = LimitedBody(response.stream, events)

    hooks: dict[str, list[Any]] = {"response": [limit_body]}
    if trace:
        from opentelemetry import propagate

        async def traceparent(request: Any) -> None:
            propagate.inject(request.headers)

        hooks["request"] = [traceparent]
    return httpx2.AsyncClient(event_hooks=hooks, **kwargs)


@functools.cache
def _trusted_tls() -> ssl.SSLContext:
    """The TLS context of every HTTP upstream's client: httpx's default (certifi's CAs, SSL_CERT_FILE /
    SSL_CERT_DIR honoured), built once: building it loads the CA bundle, ~50 ms, which httpx would pay
    per client. Plain-HTTP upstreams get it too: the SDK follows a redirect from http to https on the
    same host."""
    import httpcore2

    return httpcore2.default_ssl_context(_trust_env=True)


def _raw_transport(spec: ServerSpec, *, connect_timeout: float, launcher: Prespawned, limit: MessageLimit,
                   on_end: Callable[[str | None], None], direct: bool = False) -> Any:
    """A context manager yielding (read, write), or with `direct` (read, write, poster) for a stdio or
    streamable-HTTP upstream: its lean requests are written (`process._Pipe`) or POSTed
    (`lean_http.DirectPost`) by their callers."""
    if spec.transport == "stdio":
        assert spec.command is not None
        return pipe_transport(launcher.launch(spec.command, spec.args, spec.env, spec.cwd), limit, on_end,
                              direct=direct)
    assert spec.url is not None
    if spec.transport == "sse":
        from mcp.client.sse import sse_client

        def sse_http_client(headers: Any = None, timeout: Any = None, auth: Any = None) -> Any:
            return _limited_http_client(limit, on_end, headers=headers, timeout=timeout, auth=auth,
                                        verify=_trusted_tls())

        return sse_client(spec.url, headers=spec.headers or None, timeout=connect_timeout,
                          httpx_client_factory=sse_http_client)
    import urllib.request

    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    # No read timeout on the HTTP client: per-call timeouts are ours, and SSE responses are long-lived.
    # Keep-alive for as many connections as concurrent calls: httpx's default of 20 makes every call
    # beyond 20 in flight open a new TCP connection to the upstream. Idle connections are dropped after 4 s,
    # before the servers' own keep-alive timeout (uvicorn's and Node's 5 s): a request sent on a connection
    # the server is closing at that moment fails (ReadError; the server sees ClientDisconnect), and the SDK
    # then ends the whole upstream connection, failing every call in flight (seen under 50 callers).
    limits = httpx2.Limits(max_connections=256, max_keepalive_connections=256, keepalive_expiry=4)
    transport: dict[str, Any] = {}
    proxies = urllib.request.getproxies()  # what httpx reads too (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY)
    if direct and not any(proxies.get(scheme) for scheme in ("http", "https", "all")):  # else httpx's own transport
        from meta_mcp.providers.post_transport import PostTransport

        fallback = httpx2.AsyncHTTPTransport(verify=_trusted_tls(), limits=limits)
        transport["transport"] = PostTransport(_trusted_tls(), fallback=fallback, keepalive_expiry=4)
    http = _limited_http_client(limit, on_end, trace=_tracing(), headers=spec.headers, limits=limits,
                                timeout=httpx2.Timeout(connect_timeout, read=None), verify=_trusted_tls(),
                                **transport)
    # The SDK's own cap on one event (1 MiB by default) becomes ours; LimitedBody checks it first.
    if direct:
        from meta_mcp.providers.lean_http import streamable_http

        return _owning(streamable_http(spec.url, http, max_sse_event_size=limit.max_bytes + 1024), http)
    transport = streamable_http_client(spec.url, http_client=http, max_sse_event_size=limit.max_bytes + 1024)
    return _owning(transport, http)


@asynccontextmanager
async def _owning(transport: Any, http: Any) -> AsyncIterator[Any]:
    async with http, transport as streams:
        yield streams


@asynccontextmanager
async def open_transport(spec: ServerSpec, *, on_end: Callable[[str | None], None], connect_timeout: float,
                         limit: MessageLimit, launcher: Prespawned, lean: bool | None = None) -> AsyncIterator[Any]:
    """Open the transport for `spec`, yielding (read, write) streams whose end calls `on_end`.

    `on_end(reason)` may be called more than once: with what the transport knows ("exited with code
    3; …", "sent a message of … bytes, over …"), then with None as the stream ends. A stdio server
    is started by `launcher`, which adopts a process the CLI started ahead of time. With `lean` (and
    tracing off: the SDK's client spans and trace context stay on its own path; None: the `lean_calls`
    setting of the launcher's settings, else on) the read stream carries a `LeanChannel` (`read.lean`)
    for requests past the SDK client's dispatcher.
    """
    if lean is None:  # the setting, as the CLI gave it to the launcher (on when none was given)
        lean = getattr(launcher.settings, "lean_calls", True)
    start = _StartTrace(spec) if _tracing() else None
    if start is None:
        async with _raw_transport(spec, connect_timeout=connect_timeout, launcher=launcher, limit=limit,
                                  on_end=on_end, direct=lean) as streams:
            read, write, *direct = streams
            if not lean:
                yield _UpstreamReadStream(read, write, on_end, spec.name), write
                return
            channel = LeanChannel(write, direct[0] if direct else None)
            try:
                yield _UpstreamReadStream(read, write, on_end, spec.name, lean=channel), write
            finally:
                channel.close()
        return
    on_end = start.ending(on_end)
    try:
        with start.current():  # the handshake and listings the supervisor sends are its children
            async with _raw_transport(spec, connect_timeout=connect_timeout, launcher=launcher, limit=limit,
                                      on_end=on_end) as (read, write):
                yield _UpstreamReadStream(read, write, on_end, spec.name, start), write
    except BaseException as exc:
        start.failed(f"{type(exc).__name__}: {exc}")
        raise


def _tracing() -> bool:
    """Whether a tracer provider is installed (`services.telemetry` started one)."""
    from opentelemetry import trace

    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


class _StartTrace:
    """The span of one upstream (re)start: open until the upstream's first message, or its failure."""

    def __init__(self, spec: ServerSpec) -> None:
        from opentelemetry import trace

        self._span: Any = trace.get_tracer("meta_mcp").start_span(
            f"connect {spec.name}", attributes={"meta_mcp.server": spec.name, "meta_mcp.transport": spec.transport})

    def current(self) -> Any:
        from opentelemetry import trace

        return trace.use_span(self._span, end_on_exit=False, record_exception=False, set_status_on_exception=False)

    def answered(self) -> None:
        if self._span is not None:
            self._span.end()
            self._span = None

    def failed(self, reason: str) -> None:
        if self._span is not None:
            from opentelemetry.trace import StatusCode

            self._span.set_attribute("error.type", "connection_ended")
            self._span.set_status(StatusCode.ERROR, reason)
            self._span.end()
            self._span = None

    def ending(self, on_end: Callable[[str | None], None]) -> Callable[[str | None], None]:
        """`on_end`, which first fails the span if the upstream never answered."""

        def ended(reason: str | None) -> None:
            self.failed(reason or "the connection ended before the upstream answered")
            on_end(reason)

        return ended
