"""`StoreEventStore`: the MCP SDK's streamable-HTTP `EventStore` (resumability) over a `StateStore`.

Each stream keeps its last `events_per_stream` events (1,000 by default), forgotten `event_ttl_s` after
the stream's last event; a client resuming from an event no longer kept gets nothing replayed.
With Redis, replicas share the events, so a client may resume on another replica.

Caveat (the SDK's, 2.3.0): the session manager hands one event store to every session and names a
stream by the request id (or `_GET_stream`), so two sessions' requests with the same id share a
stream, and a replay can include the other session's events after the given one.

Example:
    manager = StreamableHTTPSessionManager(app, event_store=StoreEventStore(store))
"""

from __future__ import annotations

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.types import JSONRPCMessage, jsonrpc_message_adapter

from meta_mcp.services.state.base import StateStore


class StoreEventStore(EventStore):
    """Stores each event as the JSON the SDK would send, and replays the rest of its stream."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        text = None if message is None else message.model_dump_json(by_alias=True, exclude_unset=True)
        return await self.store.append_event(stream_id, text)

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        found = await self.store.events_after(last_event_id)
        if found is None:
            return None
        stream_id, events = found
        for event_id, text in events:
            if text is not None:  # priming events carry no message
                await send_callback(EventMessage(jsonrpc_message_adapter.validate_json(text, by_name=False), event_id))
        return stream_id
