"""Plain answers: the SDK's handshake-era transport answers a POST with one `application/json` body when
nothing has to stream before the response, and with its SSE stream otherwise (see `PostResponse`).

`answer_plainly()` installs `PostResponse` in place of the `EventSourceResponse` the SDK's
`mcp.server.streamable_http` builds its responses with (process-wide, idempotent). A client whose Accept
ranks `text/event-stream` above `application/json` keeps getting a stream; the SDKs' clients list JSON
first.

Example:
    answer_plainly()
    app = server.streamable_http_app(host="127.0.0.1")
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anyio

from meta_mcp.surface.resumable import EVENT_STORE_KEY

Scope = dict[str, Any]
Receive = Any
Send = Any

_RESPONSE = re.compile(r'\{"jsonrpc":"2\.0","id":(?:-?\d+|"(?:[^"\\]|\\.)*"),"(?:result|error)":')
"""The head of a JSON-RPC response as the SDK serialises one (`model_dump_json`: fields in declaration order);
requests and notifications have `method` where a response has `result` or `error`."""
PLAIN_WAIT_S = 15.0
"""How long a POST's answer may wait, headers unsent, for its first message; then SSE is committed (with
keep-alive pings), as the SDK's 2026-era path does, so a proxy's idle timeout cannot cut a long call."""


class PostResponse:
    """Stands in for `sse_starlette.EventSourceResponse` in the SDK's handshake-era transport (see
    `answer_plainly`). Same constructor; for a POST it waits for the request's first outgoing message (past the
    priming event a resumable session's stream opens with): when that is the response itself it answers
    `application/json` with it — what the transport's `json_response` mode sends, without its loss of
    progress and server→client requests (a whole body needs no resuming: its event ids are not sent, and
    its events are dropped from the session's log, see `resumable`);
    otherwise (a notification or request first, nothing within `PLAIN_WAIT_S`) it commits to the SSE
    stream the SDK would have sent, priming event included, messages in the same order.
    Anything but a POST (the GET stream, a replay) is the SDK's SSE response unchanged."""

    def __init__(self, content: Any, *, headers: dict[str, str] | None = None, data_sender_callable: Any = None,
                 **options: Any) -> None:
        self.content = content
        self.headers = headers or {}
        self.data_sender_callable = data_sender_callable
        self.options = options

    def _sse(self, content: Any, data_sender: Any) -> Any:
        from sse_starlette import EventSourceResponse

        return EventSourceResponse(content=content, headers=self.headers, data_sender_callable=data_sender,
                                   **self.options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST" or self.data_sender_callable is None or _prefers_sse(scope):
            await self._sse(self.content, self.data_sender_callable)(scope, receive, send)
            return
        content = self.content
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.data_sender_callable)
            leading: list[Any] = []
            with anyio.move_on_after(PLAIN_WAIT_S):
                try:
                    leading.append(await content.receive())
                    if _priming(leading[0]):  # a resumable session's stream opens with its cursor: look past it
                        leading.append(await content.receive())
                except anyio.EndOfStream:  # closed unanswered (the session ended): what the SDK's SSE sends
                    content = _Ended()
            last = leading[-1] if leading else None
            if isinstance(last, dict) and _RESPONSE.match(data := last.get("data") or ""):
                body = data.encode()
                headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()
                            if k.lower() in ("mcp-session-id",)]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                _discard(scope, leading)
                # No cancel: the SDK's writer ends by itself once it has handed over the response (and
                # anyio's cancel formats a message naming the task, ~1 % of a call's CPU).
            else:
                await self._sse(_then(leading, content), None)(scope, receive, send)
                tg.cancel_scope.cancel()


def _discard(scope: Scope, sent: list[Any]) -> None:
    """Drop the events of a POST answered plainly from its session's event log: the body carried no event
    ids, so no client can resume from them, and kept they would only crowd out events that can be."""
    store = scope.get(EVENT_STORE_KEY)
    if store is not None:
        store.discard([event["id"] for event in sent if isinstance(event, dict) and isinstance(event.get("id"), str)])


def _priming(event: Any) -> bool:
    """Whether `event` is the priming event of a resumable stream (an id, no data)."""
    return isinstance(event, dict) and "id" in event and not event.get("data")


def _prefers_sse(scope: Scope) -> bool:
    """Whether the request's Accept ranks `text/event-stream` above `application/json`: a higher q, or the same
    q and listed first (clients of the SDKs list JSON first; a client that lists the stream first gets one)."""
    accept = next((v for k, v in scope.get("headers", []) if k == b"accept"), b"").decode("latin-1").lower()
    ranks: dict[str, tuple[float, int]] = {}
    for position, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    pass
        ranks.setdefault(media.strip(), (q, -position))
    sse, json_ = ranks.get("text/event-stream"), ranks.get("application/json")
    return sse is not None and (json_ is None or sse > json_)


class _Ended:
    """An event source with nothing (left) in it."""

    def __aiter__(self) -> _Ended:
        return self

    async def __anext__(self) -> Any:
        raise StopAsyncIteration


async def _then(leading: list[Any], rest: Any) -> AsyncIterator[Any]:
    for item in leading:
        yield item
    async for item in rest:
        yield item


def answer_plainly() -> None:
    """Let the SDK's handshake-era streamable-HTTP transport answer each POST with `PostResponse` (see there):
    one JSON body when nothing has to stream. Idempotent; fails loudly if the SDK no longer builds its SSE
    responses the way this relies on."""
    from mcp.server import streamable_http
    from sse_starlette import EventSourceResponse

    current = streamable_http.EventSourceResponse  # type: ignore[attr-defined]
    if current is PostResponse:
        return
    if current is not EventSourceResponse:
        raise RuntimeError("mcp.server.streamable_http no longer answers with sse_starlette's EventSourceResponse")
    streamable_http.EventSourceResponse = PostResponse  # type: ignore[attr-defined]
