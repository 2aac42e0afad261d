"""The MCP server hosts talk to: the SDK's low-level `Server`, with every handler routed to a registry.

Handlers are plain async functions passed by keyword (`surface.handlers`, one group per MCP feature);
each asks the registry of its request's workspace and returns wire dicts untouched. Both protocol eras
are served by the SDK's runner; change notifications reach handshake clients on their connection
(tracked from `notifications/initialized`) and modern clients through `subscriptions/listen`.
`listChanged: true` is advertised for tools, resources and prompts on every transport — and meant: see
`registry.notify`. A handshake-era stdio connection's calls and list pages may take the lean path
(`surface.lean.LeanCalls`, re-exported here), which answers exactly as the SDK would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server import Server
from mcp.server.caching import CacheHint
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp_types.methods import CACHEABLE_METHODS

from meta_mcp import __version__
from meta_mcp.registry.workspaces import Workspaces
from meta_mcp.services.telemetry import server_middleware
from meta_mcp.surface.handlers import (
    connection_handlers,
    prompt_handlers,
    resource_handlers,
    subscription_handlers,
    tool_handlers,
    tool_input_schema,
    workspace_picker,
)
from meta_mcp.surface.lean import LeanCalls

if TYPE_CHECKING:
    from meta_mcp.auth.policy import PolicyStore

__all__ = ["INSTRUCTIONS", "LeanCalls", "build_server"]

_ALL_CHANGES = NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)
_NO_CACHE = {method: CacheHint(ttl_ms=0, scope="private") for method in CACHEABLE_METHODS}
"""Everything behind us can change at any time: 2026-era clients must not cache it. The runner fills
these hints into results that lack them (an upstream's own hints win; handshake-era results drop them)."""

INSTRUCTIONS = (
    "meta-mcp aggregates MCP servers. Tools of each server appear as <server>__<tool>. "
    "Use list_servers to see the servers and their status, find_tools to search tools by what they do, "
    "and call_tool to call a tool by name if your tool list is out of date."
)


class _MetaServer(Server[Any]):
    """A low-level `Server` whose default initialization options advertise `listChanged: true`.

    The streamable-HTTP session manager calls `create_initialization_options()` without arguments, so
    the default is what HTTP clients see.
    """

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or _ALL_CHANGES, experimental_capabilities, extensions
        )


def build_server(workspaces: Workspaces, policy: PolicyStore | None = None, lean: LeanCalls | None = None
                 ) -> Server[Any]:
    """The MCP server in front of `workspaces`: each request is served by its workspace's registry.

    Over HTTP the workspace header only chooses among the identity's workspaces (default: its own);
    with a `policy`, `tools/list` shows each identity only the tools the policy makes available to it
    (calls are refused on the call path, see `meta_mcp.auth.enforce`). With `lean`, a handshake-era
    stdio connection's calls and list pages are served by it once the connection is initialized."""
    pick = workspace_picker(workspaces)
    server = _MetaServer(
        "meta-mcp",
        version=__version__,
        title="meta-mcp",
        description="An MCP server that aggregates MCP servers",
        instructions=INSTRUCTIONS,
        cache_hints=_NO_CACHE,
        **tool_handlers(pick, policy),
        **resource_handlers(pick),
        **prompt_handlers(pick),
        **subscription_handlers(pick),
    )
    initialized, set_level = connection_handlers(pick, lean)
    server.add_notification_handler("notifications/initialized", types.NotificationParams, initialized)
    # Handshake-era logging; added by method so the constructor's deprecation warning stays quiet.
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    # The SDK's OpenTelemetry middleware opens a span per message even with no exporter: 2-4 % of a proxied
    # call, for nothing. With tracing on it is kept, behind the one that takes the trace context from HTTP
    # headers, so its server span starts each request's trace (or continues the caller's); off, none.
    server.middleware = server_middleware()
    server.get_tool_input_schema = tool_input_schema(workspaces, policy)
    if lean is not None:
        lean.server = server
    return server
