"""The MCP SDK's streamable-HTTP `EventStore` (resumability, `Last-Event-ID`) over our event storage.

- `ScopedEventStore`: the event store of ONE handshake-era session. The SDK's session manager hands one
  event store to every session and names a stream by the request id (or `_GET_stream`), so a store
  shared as is would let session B send a `Last-Event-ID` of session A's and have A's events replayed
  to B. A `ScopedEventStore` gets a random scope (64 bits, `secrets`), stores its streams as
  `"<scope>/<stream>"`, hands out event ids `"<scope>.<backend id>"`, and replays only an id that
  carries its own scope AND names an event of one of its own streams: an id of another session —
  copied, guessed or forged — replays nothing. A malformed or oversized id (over
  `MAX_EVENT_ID_LENGTH`) replays nothing either, before any parsing beyond one bounded regex.
- `StoreEventStore`: the unscoped adapter of a `StateStore` (every session sharing every stream) —
  kept for embedders serving one client; meta-mcp's HTTP server uses `ScopedEventStore`.

A backend is anything with the event half of `StateStore` (`append_event`, `events_after`): a state
store, or `event_log.EventLog` (what meta-mcp uses: this process's memory, bounded, see
`surface/resumable.py` for why not the state store), which also has `forget(scope)`, called by
`ScopedEventStore.forget()` when the session ends.

Example:
    store = ScopedEventStore(EventLog())
    event_id = await store.store_event("7", message)           # "3f9c…a1.12"
    await store.replay_events_after(event_id, send)             # → "7", after sending what followed
    store.forget()                                               # the session ended
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Protocol

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.types import JSONRPCMessage, jsonrpc_message_adapter

from meta_mcp.services.state.base import StateStore

MAX_EVENT_ID_LENGTH = 64
"""Longest `Last-Event-ID` worth looking at: ours are at most 16 + 1 + 19 + 1 + 16 characters."""
EVENT_ID = re.compile(r"([0-9a-f]{16})\.([0-9]{1,19}(?:-[0-9a-f]{16})?)")
"""An event id this server hands out: the session's scope, a dot, the backend's id (the memory, SQLite and
event-log backends' are digits; Redis adds `-<stream hash>`)."""


class EventBackend(Protocol):
    """The event half of `StateStore`."""

    async def append_event(self, stream_id: str, message: str | None) -> str: ...

    async def events_after(self, event_id: str) -> tuple[str, list[tuple[str, str | None]]] | None: ...


def parse_event_id(value: str) -> tuple[str, str] | None:
    """(scope, backend id) of an event id in our format, or None (never raises; bounded work)."""
    if len(value) > MAX_EVENT_ID_LENGTH or (match := EVENT_ID.fullmatch(value)) is None:
        return None
    return match[1], match[2]


def _json(message: JSONRPCMessage | None) -> str | None:
    return None if message is None else message.model_dump_json(by_alias=True, exclude_unset=True)


class ScopedEventStore(EventStore):
    """One session's view of `backend` (see the module docstring): its own streams only, ids that name it."""

    def __init__(self, backend: EventBackend, scope: str | None = None) -> None:
        self.backend = backend
        self.scope = scope if scope is not None else secrets.token_hex(8)
        if not re.fullmatch(r"[0-9a-f]{16}", self.scope):
            raise ValueError("a scope is 16 lower-case hex digits")
        self._prefix = self.scope + "/"

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        return f"{self.scope}.{await self.backend.append_event(self._prefix + stream_id, _json(message))}"

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        """Send this session's events after `last_event_id` in its stream — then those that arrived meanwhile,
        until none did — and return the stream's id; None (nothing sent) for an id that is not one of this
        session's events kept."""
        parsed = parse_event_id(last_event_id)
        if parsed is None or not hmac.compare_digest(parsed[0], self.scope):
            return None
        found = await self.backend.events_after(parsed[1])
        if found is None or not found[0].startswith(self._prefix):
            return None
        stream, events = found
        while events:
            for event_id, text in events:
                if text is not None:  # priming events carry no message
                    message = jsonrpc_message_adapter.validate_json(text, by_name=False)
                    await send_callback(EventMessage(message, f"{self.scope}.{event_id}"))
            again = await self.backend.events_after(events[-1][0])
            events = again[1] if again is not None and again[0] == stream else []
        return stream[len(self._prefix):]

    def discard(self, event_ids: list[str]) -> None:
        """Drop these events of this session now if the backend can (`EventLog`): no client was given their
        ids (they went out in a plain JSON body), so they can never be asked for. Others' ids are ignored."""
        discard = getattr(self.backend, "discard", None)
        if not callable(discard):
            return
        for event_id in event_ids:
            parsed = parse_event_id(event_id)
            if parsed is not None and hmac.compare_digest(parsed[0], self.scope):
                discard(parsed[1], self.scope)

    def forget(self) -> None:
        """The session ended: drop its events now if the backend can (`EventLog`); a state store's expire."""
        forget = getattr(self.backend, "forget", None)
        if callable(forget):
            forget(self.scope)


class StoreEventStore(EventStore):
    """A `StateStore` as one unscoped event store: every session shares every stream (one client only)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        return await self.store.append_event(stream_id, _json(message))

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        found = await self.store.events_after(last_event_id)
        if found is None:
            return None
        stream_id, events = found
        for event_id, text in events:
            if text is not None:  # priming events carry no message
                await send_callback(EventMessage(jsonrpc_message_adapter.validate_json(text, by_name=False), event_id))
        return stream_id
