"""`MemoryStore`: the state in this process's memory. Lost on exit — for tests and throwaway runs.

Several `MemoryStore` handles built on one `MemoryHub` share their data and change feed, the way
replicas share one Redis (tests use that to exercise the replica paths without Redis).

Example:
    store = MemoryStore()
    await store.put_server("default", ServerRecord(name="time", source="catalog"))
    await store.servers("default")   # → {"time": ServerRecord(...)}
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from meta_mcp.services.state.base import (
    DEFAULT_MAX_CONVERSATIONS,
    Fanout,
    Limits,
    QueueSubscription,
    StoreBase,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack


@dataclass
class _Stream:
    events: deque[tuple[int, str | None]]
    last_write: float


@dataclass
class MemoryHub:
    """The data of one in-memory store, shared by the `MemoryStore` handles built on it."""

    servers: dict[str, dict[str, str]] = field(default_factory=dict)
    config: dict[str, dict[str, str]] = field(default_factory=dict)
    conversations: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per workspace, in write order (the first is evicted first)."""
    interrupts: dict[str, tuple[float, str]] = field(default_factory=dict)
    """id → (monotonic expiry, record)."""
    refs: dict[str, int] = field(default_factory=dict)
    streams: dict[str, _Stream] = field(default_factory=dict)
    event_streams: dict[int, str] = field(default_factory=dict)
    """Event id → its stream, for every event kept."""
    event_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    feed: Fanout = field(default_factory=Fanout)


class MemoryStore(StoreBase):
    """`StateStore` in this process's memory (lost on exit); `hub` shares one store between handles."""

    def __init__(self, max_conversations: int = DEFAULT_MAX_CONVERSATIONS, *, hub: MemoryHub | None = None,
                 **limits: Unpack[Limits]) -> None:
        super().__init__(max_conversations=max_conversations, **limits)
        self.hub = hub if hub is not None else MemoryHub()

    # -- servers and config --
    async def _servers_raw(self, workspace: str) -> dict[str, str]:
        return dict(self.hub.servers.get(workspace, {}))

    async def _put_server_raw(self, workspace: str, name: str, text: str) -> None:
        self.hub.servers.setdefault(workspace, {})[name] = text

    async def delete_server(self, workspace: str, name: str) -> None:
        kept = self.hub.servers.get(workspace, {})
        kept.pop(name, None)
        if not kept:
            self.hub.servers.pop(workspace, None)

    async def workspaces(self) -> list[str]:
        return sorted(self.hub.servers)

    async def _get_config_raw(self, workspace: str, name: str) -> str | None:
        return self.hub.config.get(workspace, {}).get(name)

    async def _set_config_raw(self, workspace: str, name: str, text: str) -> None:
        self.hub.config.setdefault(workspace, {})[name] = text

    # -- conversations --
    async def _get_conversation_raw(self, workspace: str, conversation_id: str) -> str | None:
        return self.hub.conversations.get(workspace, {}).get(conversation_id)

    async def _put_conversation_raw(self, workspace: str, conversation_id: str, text: str) -> None:
        kept = self.hub.conversations.setdefault(workspace, {})
        kept.pop(conversation_id, None)  # re-insert: dict order is the eviction order
        kept[conversation_id] = text
        while len(kept) > self.max_conversations:
            kept.pop(next(iter(kept)))

    # -- interrupts --
    async def _put_interrupt_raw(self, interrupt_id: str, text: str, ttl_s: float) -> None:
        now = time.monotonic()
        for expired in [k for k, (until, _) in self.hub.interrupts.items() if until <= now]:
            del self.hub.interrupts[expired]
        self.hub.interrupts[interrupt_id] = (now + ttl_s, text)

    async def _get_interrupt_raw(self, interrupt_id: str) -> str | None:
        until, text = self.hub.interrupts.get(interrupt_id, (0.0, None))
        return text if until > time.monotonic() else None

    async def delete_interrupt(self, interrupt_id: str) -> None:
        self.hub.interrupts.pop(interrupt_id, None)

    # -- refcounts --
    async def incr_ref(self, key: str) -> int:
        self.hub.refs[key] = self.hub.refs.get(key, 0) + 1
        return self.hub.refs[key]

    async def decr_ref(self, key: str) -> int:
        count = self.hub.refs.pop(key, 0) - 1
        if count > 0:
            self.hub.refs[key] = count
        return max(count, 0)

    # -- change feed: in-process fan-out to every subscriber of the hub --
    async def _publish_raw(self, text: str) -> None:
        self.hub.feed.deliver(text)

    def _new_subscription(self) -> QueueSubscription:
        return self.hub.feed.subscribe()

    # -- stream events --
    async def append_event(self, stream_id: str, message: str | None) -> str:
        hub, now = self.hub, time.monotonic()
        event_id = next(hub.event_ids)
        # forget streams idle past the TTL: this one now, all of them now and then
        for name in list(hub.streams) if event_id % 256 == 0 else [stream_id]:
            if name in hub.streams and hub.streams[name].last_write + self.event_ttl_s <= now:
                self._drop(name)
        stream = hub.streams.setdefault(stream_id, _Stream(deque(), now))
        stream.events.append((event_id, message))
        stream.last_write = now
        hub.event_streams[event_id] = stream_id
        while len(stream.events) > self.events_per_stream:
            hub.event_streams.pop(stream.events.popleft()[0], None)
        return str(event_id)

    async def events_after(self, event_id: str) -> tuple[str, list[tuple[str, str | None]]] | None:
        if not event_id.isdigit() or (stream_id := self.hub.event_streams.get(int(event_id))) is None:
            return None
        stream = self.hub.streams[stream_id]
        if stream.last_write + self.event_ttl_s <= time.monotonic():
            return None
        return stream_id, [(str(n), m) for n, m in stream.events if n > int(event_id)]

    def _drop(self, name: str) -> None:
        for n, _ in self.hub.streams[name].events:
            self.hub.event_streams.pop(n, None)
        del self.hub.streams[name]

    async def check(self) -> None:
        """Memory is always usable."""
