"""The MCP server hosts talk to: the SDK's low-level `Server`, with every handler routed to a registry.

Handlers are plain async functions passed by keyword; each asks the registry and returns wire dicts
untouched. Both protocol eras are served by the SDK's runner; change notifications reach handshake
clients on their connection (tracked from `notifications/initialized`) and modern clients through
`subscriptions/listen`. `listChanged: true` is advertised for tools, resources and prompts on every
transport — and meant: see `registry.notify`.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import ListenHandler

from meta_mcp import __version__
from meta_mcp.providers.base import ProgressFn
from meta_mcp.registry.registry import Registry

_ALL_CHANGES = NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)
_RESERVED_META_PREFIX = "io.modelcontextprotocol/"
_NO_CACHE = {"ttlMs": 0, "cacheScope": "private"}
"""Lists change at run time: 2026-era clients must not cache them (handshake-era results drop these keys)."""

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


def _caller_meta(ctx: ServerRequestContext[Any]) -> tuple[dict[str, Any] | None, bool]:
    """The caller's `_meta` to forward upstream (protocol keys removed), and whether it asked for progress."""
    meta = ctx.meta
    if not meta:
        return None, False
    wants_progress = "progress_token" in meta or "progressToken" in meta
    forward = {
        k: v for k, v in meta.items()
        if k not in ("progress_token", "progressToken") and not k.startswith(_RESERVED_META_PREFIX)
    }
    return forward or None, wants_progress


def _complete(result: dict[str, Any]) -> dict[str, Any]:
    """Mark a passed-through result complete: 2026-era results need `resultType`; older upstreams omit it."""
    result.setdefault("resultType", "complete")
    return result


def build_server(registry: Registry) -> Server[Any]:
    """The MCP server for `registry`'s workspace."""
    notifier = registry.notifier

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> dict:
        await registry.wait_preloaded()
        return {"tools": registry.surface.tools, "resultType": "complete", **_NO_CACHE}

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> dict:
        meta, wants_progress = _caller_meta(ctx)
        progress: ProgressFn | None = ctx.session.report_progress if wants_progress else None
        return _complete(await registry.call_tool(params.name, params.arguments, progress=progress, meta=meta))

    async def list_resources(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> dict:
        await registry.wait_preloaded()
        return {"resources": registry.surface.resources, "resultType": "complete", **_NO_CACHE}

    async def list_templates(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> dict:
        await registry.wait_preloaded()
        return {"resourceTemplates": registry.surface.resource_templates, "resultType": "complete", **_NO_CACHE}

    async def read_resource(ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams) -> dict:
        return _complete(await registry.read_resource(str(params.uri)))

    async def list_prompts(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> dict:
        await registry.wait_preloaded()
        return {"prompts": registry.surface.prompts, "resultType": "complete", **_NO_CACHE}

    async def get_prompt(ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams) -> dict:
        return _complete(await registry.get_prompt(params.name, params.arguments))

    async def initialized(ctx: ServerRequestContext[Any], params: types.NotificationParams) -> None:
        # The SDK exposes the connection only privately on the per-request session; it is the one
        # handle that outlives the request and can notify the client later.
        notifier.track(ctx.session._connection)  # noqa: SLF001

    server = _MetaServer(
        "meta-mcp",
        version=__version__,
        title="meta-mcp",
        description="An MCP server that aggregates MCP servers",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_subscriptions_listen=ListenHandler(notifier.bus),
    )
    server.add_notification_handler("notifications/initialized", types.NotificationParams, initialized)
    return server
