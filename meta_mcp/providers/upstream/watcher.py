"""Change watching for one upstream connection: which listings went stale, and refetching them.

Two eras announce changes two ways; both end in the same place:
- a handshake-era upstream sends `notifications/*/list_changed` (and `resources/updated`) to the
  client's message handler (`on_message`);
- a modern (2026-07-28) upstream announces them only on a `subscriptions/listen` stream, which the
  watcher keeps open for the kinds the server says can change and for the subscribed resource URIs.

A change notification only marks its kind dirty; one refresher task refetches the dirty kinds in a
batch, so a burst of notifications costs one refetch, then tells the provider's listeners. Its
promises on failure: a refetch that fails or takes longer than the call timeout is logged and the old
listing stays (the next notification tries again); a listen stream that drops marks every kind dirty
(a stream has no replay) and is reopened a second later; a stream reopened because the subscribed
URIs changed refetches nothing. Both tasks live as long as the connection (`watch`).
"""

from __future__ import annotations

import logging
from collections.abc import Set
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp import Client
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from meta_mcp.providers.base import Provider
from meta_mcp.providers.listing import KINDS, fetch_listing
from meta_mcp.providers.upstream.supervisor import describe

logger = logging.getLogger(__name__)


class Watcher:
    """Keeps `provider.listing` current for one upstream (see the module docstring).

    `subscriptions` is the live set of subscribed resource URIs (owned by the session state); call
    `resubscribe()` after changing it so a modern upstream's listen stream is reopened to match.
    """

    def __init__(self, provider: Provider, timeout: float, subscriptions: Set[str]) -> None:
        self._provider = provider
        self._timeout = timeout
        self._subscriptions = subscriptions
        self._dirty: set[str] = set()
        self._dirty_event = anyio.Event()
        self._resubscribe = anyio.Event()

    def watch(self, client: Client, task_group: anyio.abc.TaskGroup) -> None:
        """Start watching `client` in `task_group` (cancelled when the connection ends)."""
        task_group.start_soon(self._refresher, client)
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            task_group.start_soon(self._listen, client)

    def resubscribe(self) -> None:
        """The subscribed URIs changed: reopen the listen stream with the new set."""
        self._resubscribe.set()

    def mark_dirty(self, kind: str) -> None:
        self._dirty.add(kind)
        self._dirty_event.set()

    async def on_message(self, message: Any) -> None:
        """The client's message handler: a handshake-era upstream's notifications."""
        if isinstance(message, types.ToolListChangedNotification):
            self.mark_dirty("tools")
        elif isinstance(message, types.ResourceListChangedNotification):
            self.mark_dirty("resources")
        elif isinstance(message, types.PromptListChangedNotification):
            self.mark_dirty("prompts")
        elif isinstance(message, types.ResourceUpdatedNotification):
            await self._resource_updated(str(message.params.uri))
        elif isinstance(message, Exception):
            logger.debug("server %r: stream error: %s", self._provider.name, message)

    async def _resource_updated(self, uri: str) -> None:
        for listener in list(self._provider.listeners):
            await listener.resource_updated(self._provider, uri)

    async def _refresher(self, client: Client) -> None:
        """Refetch what changed, one batch at a time, so a burst of notifications costs one refetch."""
        provider = self._provider
        while True:
            await self._dirty_event.wait()
            self._dirty_event = anyio.Event()
            kinds, self._dirty = tuple(self._dirty), set()
            try:
                with anyio.fail_after(self._timeout):
                    provider.listing = await fetch_listing(client, kinds, provider.listing)
            except Exception as exc:
                logger.warning("server %r: refreshing %s failed: %s", provider.name, ", ".join(kinds), describe(exc))
                continue
            await provider.changed()

    async def _listen(self, client: Client) -> None:
        """Modern upstreams announce changes only on a `subscriptions/listen` stream.

        The stream is reopened whenever the set of subscribed resources changes; a dropped stream has
        no replay, so everything is refetched after it.
        """
        caps = client.server_capabilities
        wanted = {
            "tools_list_changed": bool(caps.tools and caps.tools.list_changed),
            "prompts_list_changed": bool(caps.prompts and caps.prompts.list_changed),
            "resources_list_changed": bool(caps.resources and caps.resources.list_changed),
        }
        while True:
            self._resubscribe = anyio.Event()
            uris = tuple(sorted(self._subscriptions))
            if not (any(wanted.values()) or uris):
                await self._resubscribe.wait()
                continue
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._reopen_on_resubscribe, tg.cancel_scope)
                await self._listen_once(client, wanted, uris)
                if not self._resubscribe.is_set():
                    for kind in KINDS:
                        self.mark_dirty(kind)
                    await anyio.sleep(1)
                tg.cancel_scope.cancel()

    async def _reopen_on_resubscribe(self, scope: anyio.CancelScope) -> None:
        await self._resubscribe.wait()
        scope.cancel()

    async def _listen_once(self, client: Client, wanted: dict[str, bool], uris: tuple[str, ...]) -> None:
        """One `subscriptions/listen` stream, until it ends, fails, or is cancelled to be reopened."""
        from mcp.shared.subscriptions import (
            PromptsListChanged,
            ResourcesListChanged,
            ResourceUpdated,
            ToolsListChanged,
        )

        kinds = {ToolsListChanged: "tools", PromptsListChanged: "prompts", ResourcesListChanged: "resources"}
        try:
            async with client.listen(**wanted, resource_subscriptions=uris) as sub:
                async for event in sub:
                    if isinstance(event, ResourceUpdated):
                        await self._resource_updated(event.uri)
                    elif (kind := kinds.get(type(event))) is not None:
                        self.mark_dirty(kind)
        except Exception as exc:
            logger.debug("server %r: listen stream ended: %s", self._provider.name, exc)
