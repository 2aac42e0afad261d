"""`GatewayView`: what one workspace sees of the shared gateway connection, as a provider.

The gateway's state is global; meta-mcp's visibility is per workspace. A workspace holds views, which
the registry treats like any server (prefix, naming, the one call path, change notification):
- the root view, named and prefixed `gateway_prefix` ("docker"): the gateway's own tools (its
  statically enabled servers', `code-mode-*`, `mcp-exec`), never its dynamic tools, never the tools of
  servers meta-mcp added. Every workspace gets it when a gateway is configured; `list_servers` shows
  the gateway connection through it (transport "gateway", status, restarts, last_error);
- a server view per server added through the gateway: just that server's tools under their own names,
  so they are exposed as `<server>__<tool>` only in the workspaces that hold the view.

A view is created by the upstream pool's factory from its spec (`ROOT_URL` / `SERVER_URL` + server,
see `GatewayConnection.root_spec` / `server_spec`), so identical views are shared between workspaces
like identical upstreams. It lists what the connection says it may (`GatewayConnection.state_of`) and
tells its listeners only when that changed. Starting a server view whose server the connection does
not have (a restored workspace) adds it on the gateway; stopping one never removes it there (the
operations decide that, by reference count).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meta_mcp.config import ServerSpec
from meta_mcp.providers.base import NO_CONTEXT, CallContext, Listing, Provider

if TYPE_CHECKING:
    from meta_mcp.providers.gateway.connection import GatewayConnection

ROOT_URL = "meta-mcp:gateway"
"""The marker URL of the root view's spec (never connected to: the pool's factory makes a view)."""
SERVER_URL = "meta-mcp:gateway/"
"""The marker URL of a server view's spec, followed by the server's name."""


class GatewayView(Provider):
    """One workspace-visible part of the gateway (see the module docstring)."""

    transport = "gateway"

    def __init__(self, connection: GatewayConnection, spec: ServerSpec, server: str | None) -> None:
        super().__init__()
        self.connection = connection
        self.spec = spec
        self.server = server
        """The gateway server this view shows, None for the root view."""
        self.name = spec.name
        self.prefix = spec.effective_prefix
        self.status = "starting"
        self._started = False

    @property
    def restarts(self) -> int:  # type: ignore[override]
        return self.connection.restarts

    async def start(self) -> None:
        """Wait for the connection's first attempt; a server view then makes sure its server is added."""
        await self.connection.wait_started()
        if self.server is not None and not self._started:
            self._started = True
            if self.connection.ready and not self.connection.holds(self.server):
                from meta_mcp.providers.gateway.connection import GatewayError

                try:
                    await self.connection.add(self.server, reapply_config=True)
                except GatewayError:
                    pass  # the view shows why (the connection's last_error, or the server's)
        await self.sync()

    async def stop(self) -> None:
        self.connection.forget(self)
        self.status = "stopped"
        self.listing = Listing()

    async def sync(self) -> None:
        """Take the connection's current state; tell the listeners if it changed."""
        if self.status == "stopped":
            return
        listing, status, error = self.connection.state_of(self.server)
        if (listing, status, error) == (self.listing, self.status, self.last_error):
            return
        if self.server is None and self.connection.adding and status == self.status:
            return  # tools appearing while a server is added are that server's: decided when mcp-add answers
        self.listing, self.status, self.last_error = listing, status, error
        await self.changed()

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]:
        return await self.connection.call(self.connection.gateway_name(self.server, name), arguments, call)
