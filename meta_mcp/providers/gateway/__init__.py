"""The Docker MCP Gateway as a backend: one shared connection, seen by each workspace through views.

- `connection.py`: `GatewayConnection` — the supervised client connection (`--gateway URL` over
  streamable HTTP with `Authorization: Bearer $MCP_GATEWAY_AUTH_TOKEN`, or `--gateway docker`:
  `docker mcp gateway run` over stdio), its dynamic tools (`find`, `add`, `remove`, `set_config`),
  reconnection and re-adding;
- `added.py`: `AddedServers` — the servers meta-mcp added on the gateway, and so which of the
  gateway's tools each view lists (a server's under their own names, the root view the rest);
- `views.py`: `GatewayView` — the provider a workspace holds: the root view (`docker__*`) or one
  server's view (`<server>__*`), created by the upstream pool's factory from a marker spec;
- `texts.py`: the gateway's answers parsed into typed values;
- `launch.py`: the gateway as an upstream spec, the docker CLI check, the 401 probe.

Example (what `surface/run.py` does):
    gateway = GatewayConnection(settings, tg, prespawned)
    pool = UpstreamPool(settings, tg, prespawned, provider_factory=gateway.provider_factory)
    tg.start_soon(gateway.start)
    await registry.add_server(gateway.root_spec())          # docker__mcp-exec, …
"""

from meta_mcp.providers.gateway.connection import GatewayConnection, GatewayError
from meta_mcp.providers.gateway.views import GatewayView

__all__ = ["GatewayConnection", "GatewayError", "GatewayView"]
