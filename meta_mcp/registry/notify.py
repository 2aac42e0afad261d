"""Change notification to every connected client, in both protocol eras.

Handshake-era clients (2025-11-25 and older) are told on their own connection; the registry learns of
each such connection when its `notifications/initialized` arrives and forgets it when the connection
closes. Modern clients (2026-07-28) have no session: they hear of changes only on their
`subscriptions/listen` streams, fed by `bus`. Every change goes out both ways.

Resource updates go to the handshake connections that subscribed to the URI and onto the bus (each
listen stream filters by its own subscriptions). Upstream log messages that belong to no call in
flight go to handshake connections only: 2026-era logging is per request.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ToolsListChanged,
)

logger = logging.getLogger(__name__)


class ChangeNotifier:
    """Fans `list_changed` out to handshake connections and to modern listen streams."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self._listen = ListenHandler(self.bus)
        self._connections: set[Any] = set()
        self._streams = 0

    async def listen(self, ctx: Any, params: Any) -> Any:
        """Serve one `subscriptions/listen` stream of this workspace (for as long as it is open)."""
        self._streams += 1
        try:
            return await self._listen(ctx, params)
        finally:
            self._streams -= 1

    @property
    def has_clients(self) -> bool:
        """Whether a handshake-era connection or a listen stream is open."""
        return bool(self._connections) or self._streams > 0

    def subscribe(self, connection: Any, uri: str, *, add: bool = True) -> None:
        """Record a handshake connection's `resources/subscribe` (or unsubscribe) of `uri`."""
        self.track(connection)
        subscriptions = connection.state.setdefault("meta_mcp.subscriptions", set())
        (subscriptions.add if add else subscriptions.discard)(uri)

    async def resource_updated(self, uri: str) -> None:
        """Tell subscribers that resource `uri` (as exposed) changed."""
        await self.bus.publish(ResourceUpdated(uri=uri))
        for connection in list(self._connections):
            if uri in connection.state.get("meta_mcp.subscriptions", ()):
                await connection.send_resource_updated(uri)

    async def log(self, level: str, data: Any, logger_name: str | None) -> None:
        """Pass an upstream log message to every handshake-era client."""
        for connection in list(self._connections):
            await connection.log(level, data, logger_name)

    def track(self, connection: Any) -> None:
        """Remember a handshake-era connection until it closes."""
        if connection in self._connections:
            return
        self._connections.add(connection)
        connection.exit_stack.callback(self._connections.discard, connection)

    async def changed(self, *, tools: bool = False, resources: bool = False, prompts: bool = False) -> None:
        """Announce which lists changed to every client that can hear it."""
        events = ([ToolsListChanged()] if tools else []) + ([ResourcesListChanged()] if resources else [])
        events += [PromptsListChanged()] if prompts else []
        for event in events:
            await self.bus.publish(event)
        for connection in list(self._connections):
            # `Connection` sends are best-effort and never raise; a closed one is dropped silently.
            if tools:
                await connection.send_tool_list_changed()
            if resources:
                await connection.send_resource_list_changed()
            if prompts:
                await connection.send_prompt_list_changed()
