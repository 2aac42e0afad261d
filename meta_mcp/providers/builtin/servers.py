"""Meta tools about servers: `list_servers`."""

from __future__ import annotations

from typing import Any

from meta_mcp.providers.builtin.base import MetaContext, MetaTool, structured

_SERVER_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "status": {"type": "string", "enum": ["starting", "ready", "failed", "restarting", "stopped"]},
        "transport": {"type": "string"},
        "prefix": {"type": "string"},
        "tools": {"type": "integer"},
        "resources": {"type": "integer"},
        "prompts": {"type": "integer"},
        "restarts": {"type": "integer"},
        "last_error": {"type": ["string", "null"]},
    },
    "required": ["name", "status", "transport", "prefix", "tools", "resources", "prompts", "last_error"],
}


async def list_servers(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    servers = [
        {
            "name": p.name,
            "status": p.status,
            "transport": p.transport,
            "prefix": ctx.registry.prefix_of(p.name),
            "tools": len(p.listing.tools),
            "resources": len(p.listing.resources) + len(p.listing.resource_templates),
            "prompts": len(p.listing.prompts),
            "restarts": getattr(p, "restarts", 0),
            "last_error": p.last_error,
        }
        for p in ctx.registry.servers.values()
    ]
    return structured({"servers": servers})


LIST_SERVERS = MetaTool(
    {
        "name": "list_servers",
        "title": "List servers",
        "description": "List the MCP servers behind this gateway: status (starting, ready, failed, restarting, "
        "stopped), transport, tool/resource/prompt counts and the last error of each.",
        "inputSchema": {"type": "object", "properties": {}},
        "outputSchema": {
            "type": "object",
            "properties": {"servers": {"type": "array", "items": _SERVER_SCHEMA}},
            "required": ["servers"],
        },
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
    list_servers,
)
