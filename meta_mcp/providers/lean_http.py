"""Lean requests to a streamable-HTTP upstream: POSTed from the caller's task, a plain JSON answer taken as is.

Through the SDK's client transport a request crosses two memory streams and two spawned tasks (its
writer loop, then one task per POST) and its answer is validated into a message model and handed back
through the read stream: about a third of meta-mcp's cost per call on HTTP. `streamable_http` opens the
SDK's own transport (`StreamableHTTPTransport`, the same writer loop, GET stream and session
termination as `mcp.client.streamable_http.streamable_http_client`) and also yields a `DirectPost`,
with which `LeanChannel` sends its requests:

- the POST is the transport's own (`_handle_post_request`: headers, session id, redirects within the
  origin, 202 / 4xx / 404-session answers, SSE answers with progress, server requests and resumption), run
  in the caller's task, so cancelling the caller or its timeout aborts the POST;
- a `200 application/json` answer that is a well-formed success for that request is given to the
  channel as it came (`LeanChannel.deliver`); anything else goes the SDK's way (validated, errors
  answered with `PARSE_ERROR`) through the read stream, where the channel takes it as before;
- an exception from the POST (the upstream unreachable, a reset connection) ends the connection, as it
  does when the SDK's own POST task raises: every request in flight fails with `CONNECTION_CLOSED`
  and the supervisor reconnects.

Not used with tracing on (the SDK's spans and trace headers stay on its own path).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc


@functools.cache
def _transport_class() -> type:
    from mcp.client.streamable_http import StreamableHTTPTransport

    class LeanHttpTransport(StreamableHTTPTransport):
        """The SDK's transport, whose JSON answers to lean requests skip the message model."""

        lean: Any = None  # the connection's LeanChannel, once it exists

        async def _handle_json_response(self, response: Any, read_stream_writer: Any, *, request_id: Any) -> None:
            lean = self.lean
            if lean is not None and lean.expects(request_id):
                try:
                    content = await response.aread()
                except Exception as exc:  # noqa: BLE001 - a refused body (StreamError): answered the SDK's way
                    response = _Unreadable(exc)
                else:
                    if lean.deliver_line(content, request_id):
                        return
            await super()._handle_json_response(response, read_stream_writer, request_id=request_id)

    return LeanHttpTransport


class _Unreadable:
    """A response whose body failed to read: reading it again raises the same error (for the SDK's handler)."""

    def __init__(self, exc: Exception) -> None:
        self._exc = exc

    async def aread(self) -> bytes:
        raise self._exc


class DirectPost:
    """Sends one request of a `LeanChannel` as the transport's own POST, in the caller's task (see the module)."""

    def __init__(self, transport: Any, client: Any, read_stream_writer: Any, task_group: anyio.abc.TaskGroup) -> None:
        self._transport = transport
        self._client = client
        self._read_stream_writer = read_stream_writer
        self._tg = task_group

    def attach(self, lean: Any) -> None:
        """Deliver plain JSON answers of `lean`'s requests straight to it."""
        self._transport.lean = lean

    async def post(self, message: Any) -> None:
        """POST `message` (a `SessionMessage` holding a request); its answer reaches the channel."""
        from mcp.client.streamable_http import RequestContext

        ctx = RequestContext(client=self._client, session_id=self._transport.session_id, session_message=message,
                             metadata=message.metadata, read_stream_writer=self._read_stream_writer)
        try:
            await self._transport._handle_post_request(ctx)  # noqa: SLF001 - the SDK's POST, answers included
        except Exception as exc:  # noqa: BLE001 - as the SDK's POST task failing: the connection ends
            self._tg.start_soon(_raise, exc)  # the channel then fails this request with CONNECTION_CLOSED


async def _raise(exc: Exception) -> None:
    raise exc


@asynccontextmanager
async def streamable_http(url: str, client: Any, *, max_sse_event_size: int) -> AsyncIterator[tuple[Any, Any, DirectPost]]:
    """(read, write, direct): the SDK's streamable-HTTP client transport over `client` (which the caller
    owns and closes), and a `DirectPost` for lean requests; the session is terminated on exit."""
    import httpx2
    from mcp.shared._context_streams import create_context_streams
    from mcp.shared.message import SessionMessage

    transport = _transport_class()(url, max_sse_event_size=max_sse_event_size)
    transport.url = httpx2.URL(url)  # parsed once: httpx parses a str URL on every request (~13 µs)
    read_writer, read = create_context_streams[SessionMessage | Exception](0)
    write, write_reader = create_context_streams[SessionMessage](0)
    async with read_writer, read, write, write_reader, anyio.create_task_group() as tg:

        def start_get_stream() -> None:
            tg.start_soon(transport.handle_get_stream, client, read_writer)

        tg.start_soon(transport.post_writer, client, write_reader, read_writer, write, start_get_stream, tg)
        try:
            yield read, write, DirectPost(transport, client, read_writer, tg)
        finally:
            if transport.session_id:
                await transport.terminate_session(client)
            tg.cancel_scope.cancel()
