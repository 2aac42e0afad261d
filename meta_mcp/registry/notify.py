"""Change notification to every connected client, in both protocol eras.

Handshake-era clients (2025-11-25 and older) are told on their own connection; the registry learns of
each such connection when its `notifications/initialized` arrives and forgets it when the connection
closes. Modern clients (2026-07-28) have no session: they hear of changes only on their
`subscriptions/listen` streams, fed by `bus`. Every change goes out both ways.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
)

logger = logging.getLogger(__name__)


class ChangeNotifier:
    """Fans `list_changed` out to handshake connections and to modern listen streams."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self._connections: set[Any] = set()

    @property
    def connection_count(self) -> int:
        return len(self._connections)

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
