"""Waiting for meta-mcp: polling what is only observable by asking, and counting change notifications.

- ``poll_until(probe)``: await a probe until it returns something truthy, bounded by a timeout;
- ``tool_names`` / ``all_tools`` / ``list_servers``: what a client sees now (the probes);
- ``wait_for_tools`` / ``wait_for_status``: poll those until servers' tools or status appear;
- ``ListChangedWatcher``: a ``message_handler`` counting handshake-era list_changed notifications.
"""

from __future__ import annotations

from typing import Any

import anyio
from mcp import Client

from .results import dump, text_of


async def poll_until(probe: Any, *, timeout: float = 20.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Call ``await probe()`` until it returns a truthy value; return it. Bounded by ``timeout``.

    For states that are only observable by asking (server status, a restarted process):
    the probe is the assertion, the interval only spaces the questions.
    """
    last: Any = None
    try:
        with anyio.fail_after(timeout):
            while True:
                last = await probe()
                if last:
                    return last
                await anyio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last probe result: {last!r}") from None


async def all_tools(client: Client) -> list[Any]:
    """All tools (following pagination)."""
    tools: list[Any] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if not cursor:
            return tools


async def tool_names(client: Client) -> list[str]:
    """All tool names (following pagination)."""
    return [tool.name for tool in await all_tools(client)]


async def wait_for_tools(client: Client, prefixes: list[str], timeout: float = 30.0) -> list[str]:
    """Wait until meta-mcp lists at least one ``<prefix>__*`` tool for every prefix."""

    async def probe() -> list[str] | None:
        names = await tool_names(client)
        return names if all(any(n.startswith(p + "__") for n in names) for p in prefixes) else None

    return await poll_until(probe, timeout=timeout, what=f"tools of {prefixes}")


async def list_servers(client: Client) -> dict[str, dict[str, Any]]:
    """meta-mcp's ``list_servers`` as ``{name: entry}``."""
    r = await client.call_tool("list_servers", {})
    assert not r.is_error, f"list_servers failed: {text_of(r)}"
    assert isinstance(r.structured_content, dict), f"list_servers has no structuredContent: {dump(r)}"
    return {s["name"]: s for s in r.structured_content["servers"]}


async def wait_for_status(client: Client, name: str, statuses: set[str] | str, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until ``list_servers`` shows server ``name`` in one of ``statuses``; return its entry."""
    wanted = {statuses} if isinstance(statuses, str) else set(statuses)

    async def probe() -> dict[str, Any] | None:
        entry = (await list_servers(client)).get(name)
        return entry if entry is not None and entry.get("status") in wanted else None

    return await poll_until(probe, timeout=timeout, what=f"server {name!r} status in {sorted(wanted)}")


class ListChangedWatcher:
    """A ``message_handler`` that counts ``notifications/tools/list_changed`` (handshake era).

    ``await watcher.wait_for(n)`` returns once at least ``n`` have arrived in total.
    """

    def __init__(self, method: str = "notifications/tools/list_changed") -> None:
        self.method = method
        self.count = 0
        self.messages: list[Any] = []
        self._event = anyio.Event()

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        if getattr(message, "method", None) == self.method:
            self.count += 1
            self._event.set()
            self._event = anyio.Event()

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        try:
            with anyio.fail_after(timeout):
                while self.count < n:
                    await self._event.wait()
        except TimeoutError:
            raise AssertionError(
                f"expected {n} {self.method} notification(s) within {timeout}s, got {self.count}; "
                f"messages seen: {[getattr(m, 'method', type(m).__name__) for m in self.messages]}"
            ) from None
