"""The change feed between replicas as one subscriber sees it, and its in-process fan-out.

- `Subscription`: an async iterator of event dicts and an async context manager; what every store's
  `subscribe()` returns (a backend implements `_next` and `_close`, and `_start` when subscribing takes
  a round trip).
- `QueueSubscription` and `Fanout`: a feed within this process (the memory and SQLite stores). A
  publisher is never blocked: a subscriber whose queue is full loses its backlog and gets `RESYNC`.
- `event_text(event, origin)`: an event as it is published, JSON with the publishing store's origin.

Example:
    fanout = Fanout()
    async with fanout.subscribe() as feed:
        fanout.deliver(event_text({"workspace": "w", "kind": "servers"}, origin))
        await anext(feed)     # → {"origin": origin, "workspace": "w", "kind": "servers"}
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Self

RESYNC = {"kind": "resync", "origin": None}
"""Event a subscription yields after it missed events (reconnected, or fell behind): reload everything."""


class Subscription(ABC):
    """The change feed as seen by one subscriber: an async iterator of event dicts, and an async context
    manager. Events published after `start()` (or entering `async with`) are delivered; iterating starts
    it too. It ends when it or its store is closed."""

    def __init__(self) -> None:
        self.closed = False
        self._started = False
        self._on_close: list[Callable[[], None]] = []

    def held_in(self, holders: set[Subscription]) -> Self:
        """Add this subscription to `holders`, which it leaves when it is closed."""
        holders.add(self)
        self._on_close.append(lambda: holders.discard(self))
        return self

    async def start(self) -> None:
        if not self._started:
            await self._start()
            self._started = True

    async def _start(self) -> None:
        """Subscribe for real (backends that need a round trip)."""

    @abstractmethod
    async def _next(self) -> dict[str, Any] | None:
        """The next event, or None once closed."""

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            for forget in self._on_close:
                forget()
            await self._close()

    @abstractmethod
    async def _close(self) -> None: ...

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> dict[str, Any]:
        await self.start()
        event = await self._next()
        if event is None:
            raise StopAsyncIteration
        return event

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class QueueSubscription(Subscription):
    """A subscription fed in this process (by a `Fanout`). Never blocks a publisher: when a slow
    subscriber's queue is full its backlog is dropped and it gets `RESYNC` instead."""

    def __init__(self, maxsize: int = 1000) -> None:
        super().__init__()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize)

    def deliver(self, text: str | None) -> None:
        if not self.closed:
            self._put(text)

    def _put(self, text: str | None) -> None:
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(json.dumps(RESYNC) if text is not None else None)

    async def _next(self) -> dict[str, Any] | None:
        if self.closed and self._queue.empty():
            return None
        text = await self._queue.get()
        return None if text is None else json.loads(text)

    async def _close(self) -> None:
        self._put(None)


class Fanout:
    """In-process fan-out of change-feed events to `QueueSubscription`s."""

    def __init__(self) -> None:
        self._subscribers: set[QueueSubscription] = set()

    def subscribe(self) -> QueueSubscription:
        return QueueSubscription().held_in(self._subscribers)

    def deliver(self, text: str) -> None:
        for subscription in list(self._subscribers):
            subscription.deliver(text)


def event_text(event: dict[str, Any], origin: str) -> str:
    """`event` as the feed carries it: compact JSON, `origin` first (an `origin` in `event` wins)."""
    if not isinstance(event, dict):
        raise TypeError(f"a change-feed event is a dict, not {type(event).__name__}")
    return json.dumps({"origin": origin, **event}, separators=(",", ":"), ensure_ascii=False)
