"""Meta tool `list_servers`: the workspace's servers, their status and counts, and for a catalog server the
secrets it needs: whether each is set and in which source (never a value)."""

from __future__ import annotations

from typing import Any

from meta_mcp.operations.servers import list_servers as list_op
from meta_mcp.operations.servers import active_secrets
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool, structured

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
        "changed_tools": {
            "type": "array",
            "description": "Tools whose definition changed since first seen: warned (still callable) or "
            "quarantined (hidden until approve_tool_change), with a diff",
            "items": {
                "type": "object",
                "properties": {"tool": {"type": "string"}, "status": {"enum": ["warned", "quarantined"]},
                               "diff": {"type": "string"}},
                "required": ["tool", "status", "diff"],
            },
        },
        "secrets": {
            "type": "array",
            "description": "A catalog server's secrets: whether each is set, and in which source",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "env": {"type": "string"}, "required": {"type": "boolean"},
                               "set": {"type": "boolean"}, "source": {"type": ["string", "null"]}},
                "required": ["name", "env", "set", "source"],
            },
        },
    },
    "required": ["name", "status", "transport", "prefix", "tools", "resources", "prompts", "last_error"],
}


async def list_servers(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    secrets = await active_secrets(ctx.workspace)
    servers = [s.as_dict() | ({"secrets": secrets[s.name]} if s.name in secrets else {}) for s in list_op(ctx.workspace)]
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
