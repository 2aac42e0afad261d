"""Server-sent event streams of chat runs, with replay for `Last-Event-ID` reconnection.

A run streams into a `ChatStream`: numbered events (`id: <stream>:<n>`, `event: <type>`, `data: <json>`)
kept in memory (at most `MAX_EVENTS`; older ones are dropped first) until `KEEP_S` after the run ended.
A client that reconnects with `Last-Event-ID` gets every kept event after that id, then the live ones.
When no client has been attached for `grace_s`, the run is cancelled (with its in-flight tool calls) and
the stream ends with an `error` event; a stream always ends with `done` or `error`.

Example:
    stream = hub.open()
    tg.start_soon(stream.run, produce)           # produce(emit) runs the chat, emitting events
    return StreamingResponse(stream.follow(after=None), media_type="text/event-stream")
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

MAX_EVENTS = 10_000
KEEP_S = 300.0
MAX_STREAMS = 1_000

Emit = Callable[[dict[str, Any]], Awaitable[None]]


class ChatStream:
    """One run's events (see the module docstring)."""

    def __init__(self, stream_id: str, grace_s: float) -> None:
        self.id = stream_id
        self.grace_s = grace_s
        self.events: deque[tuple[int, str]] = deque(maxlen=MAX_EVENTS)
        self.next = 1
        self.ended_at: float | None = None
        self.followers = 0
        self._changed = anyio.Event()
        self._scope: anyio.CancelScope | None = None

    async def emit(self, event: dict[str, Any]) -> None:
        if self.ended_at is not None:
            return
        kind = str(event.get("type", "status"))
        data = json.dumps(event, ensure_ascii=False, default=str)
        self.events.append((self.next, f"id: {self.id}:{self.next}\nevent: {kind}\ndata: {data}\n\n"))
        self.next += 1
        if kind in ("done", "error"):
            self.ended_at = time.monotonic()
        self._changed.set()
        self._changed = anyio.Event()

    async def run(self, produce: Callable[[Emit], Awaitable[None]]) -> None:
        """Run `produce(emit)`, cancelled when no client follows for `grace_s`; always end the stream."""
        with anyio.CancelScope() as self._scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._watch_followers, tg.cancel_scope)
                try:
                    await produce(self.emit)
                finally:
                    tg.cancel_scope.cancel()
        if self.ended_at is None:
            await self.emit({"type": "error", "error": "cancelled: the client went away", "status": 499})

    async def _watch_followers(self, scope: anyio.CancelScope) -> None:
        alone_since: float | None = None
        while self.ended_at is None:
            if self.followers > 0:
                alone_since = None
            elif alone_since is None:
                alone_since = time.monotonic()
            elif time.monotonic() - alone_since >= self.grace_s:
                if self._scope is not None:
                    self._scope.cancel()
                return
            await anyio.sleep(min(0.1, self.grace_s / 4))

    async def follow(self, after: int | None = None) -> AsyncIterator[str]:
        """The SSE text of every event after `after`, then live ones, until the stream ends."""
        self.followers += 1
        try:
            sent = after or 0
            while True:
                changed = self._changed
                for number, text in list(self.events):
                    if number > sent:
                        sent = number
                        yield text
                if self.ended_at is not None:
                    return
                await changed.wait()
        finally:
            self.followers -= 1


class StreamHub:
    """The live and recently ended chat streams of this process, by id."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._streams: OrderedDict[str, ChatStream] = OrderedDict()

    def open(self) -> ChatStream:
        self._forget_old()
        stream = ChatStream(uuid.uuid4().hex[:16], self.grace_s)
        self._streams[stream.id] = stream
        return stream

    def resume(self, last_event_id: str) -> tuple[ChatStream, int] | None:
        """The stream a `Last-Event-ID` names and the number after which to continue, if it is kept."""
        stream_id, _, number = last_event_id.partition(":")
        stream = self._streams.get(stream_id)
        if stream is None or not number.isdigit():
            return None
        return stream, int(number)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for stream_id in [s.id for s in self._streams.values() if s.ended_at is not None and now - s.ended_at > KEEP_S]:
            del self._streams[stream_id]
        while len(self._streams) >= MAX_STREAMS:
            self._streams.popitem(last=False)
