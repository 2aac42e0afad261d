"""Which of the gateway's tools are whose: the servers meta-mcp added on the gateway, and the root view's rest.

The gateway lists the tools of every server it runs in one registry. `AddedServers` keeps, for each
server meta-mcp added (`mcp-add`), its tools under their own names (a `<server>__` prefix the gateway
put there is taken off; `gateway_name` maps a call back) and whether the current connection has it
(after a reconnect, not until it is added again); why a server could not be added; and the gateway
names of the tools of servers just removed, kept out of the root view until the gateway stops listing
them (they were never the root view's).

`listing(server, live)` is what a view shows of the gateway's live `tools/list` (None: the root view —
the gateway's tools minus its dynamic tools and minus every added or leaving server's tools). The
connection (`connection.GatewayConnection`) owns one and tells it what happened.

Example:
    added = AddedServers()
    added.added("echo", [{"name": "echo__say", …}])
    added.listing("echo", live)          # → (Listing(tools=({…, "name": "say"},)), "ready", None)
    added.gateway_name("echo", "say")    # → "echo__say"
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from meta_mcp.providers.base import Listing, ProviderStatus
from meta_mcp.providers.gateway.texts import DYNAMIC_TOOLS


@dataclass
class _Added:
    """A server meta-mcp added on the gateway: its tools by their own names, and whether the current
    connection has it (False after a reconnect until it is added again)."""

    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    confirmed: bool = True


def own_name(server: str, gateway_name: str) -> str:
    """A tool's own name: the gateway's name without a `<server>__` prefix the gateway put there."""
    head = f"{server}__"
    return gateway_name[len(head):] if gateway_name.startswith(head) and len(gateway_name) > len(head) else gateway_name


class AddedServers:
    """The servers meta-mcp added on the gateway and whose tools are whose (see the module docstring)."""

    def __init__(self) -> None:
        self._servers: dict[str, _Added] = {}
        self._errors: dict[str, str] = {}
        """Why a server could not be added (again), shown as its view's last_error."""
        self._leaving: set[str] = set()
        """Gateway names of the tools of servers just removed, kept out of the root view until the gateway
        stops listing them."""

    def added(self, server: str, tools: Iterable[dict[str, Any]]) -> None:
        """`mcp-add` added `server` with `tools` (the gateway's definitions, under the gateway's names)."""
        self._servers[server] = _Added({own_name(server, t["name"]): t for t in tools})
        self._errors.pop(server, None)

    def failed(self, server: str, why: str) -> None:
        """`server` could not be added (again): its view says `why`."""
        self._errors[server] = why

    def error(self, server: str) -> str | None:
        """Why `server` could not be added, if it could not."""
        return self._errors.get(server)

    def removed(self, server: str) -> None:
        """`server` is being removed: forget it; its tools stay out of the root view while the gateway lists them."""
        added = self._servers.pop(server, None)
        self._leaving |= {t["name"] for t in added.tools.values()} if added is not None else set()
        self._errors.pop(server, None)

    def lost(self) -> None:
        """The connection is lost: what the gateway has is unknown until each server is added again."""
        for added in self._servers.values():
            added.confirmed = False

    def still_listed(self, names: set[str]) -> None:
        """The gateway lists `names` now: a leaving tool it no longer lists is gone for good."""
        self._leaving &= names

    def holds(self, server: str) -> bool:
        """Whether `server` is added on the gateway in the current connection."""
        added = self._servers.get(server)
        return added is not None and added.confirmed

    def gateway_name(self, server: str | None, tool: str) -> str:
        """The gateway's name of view `server`'s tool `tool`."""
        added = self._servers.get(server) if server is not None else None
        if added is not None and tool in added.tools:
            return str(added.tools[tool]["name"])
        return tool

    def listing(self, server: str | None, live: Mapping[str, dict[str, Any]]
                ) -> tuple[Listing, ProviderStatus, str | None]:
        """What the view of `server` (None: the root view) lists of the gateway's `live` tools (by gateway
        name; the connection is ready), its status and last error."""
        if server is None:
            owned = {t["name"] for added in self._servers.values() for t in added.tools.values()} | self._leaving
            tools = tuple(t for name, t in live.items() if name not in DYNAMIC_TOOLS and name not in owned)
            return Listing(tools=tools), "ready", None
        added = self._servers.get(server)
        if added is None or not added.confirmed:
            error = self._errors.get(server)
            return Listing(), "failed" if error else "starting", error
        tools = tuple({**live.get(t["name"], t), "name": own} for own, t in added.tools.items())
        return Listing(tools=tools), "ready", None
