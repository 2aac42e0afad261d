"""Meta tools over the aggregated tools: `find_tools` (ranked search) and `call_tool` (call by name).

Adapters over `meta_mcp.operations.tools`. `call_tool` goes through the registry's one call path,
exactly like a client's `tools/call`.

Example:
    call_tool(name="time__get_current_time", arguments={"timezone": "Asia/Tokyo"})
    → exactly what `tools/call time__get_current_time` returns.
"""

from __future__ import annotations

from typing import Any

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.operations import tools
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool, structured


async def find_tools(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    found = await tools.find_tools(ctx.workspace, args["query"], limit=args.get("limit", 10))
    return structured({"tools": [t.as_dict() for t in found]})


async def call_tool(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    if args["name"] == "call_tool":
        raise MCPError(INVALID_PARAMS, "call_tool cannot call itself")
    return await tools.call_tool(ctx.workspace, args["name"], args.get("arguments"), ctx.call)


FIND_TOOLS = MetaTool(
    {
        "name": "find_tools",
        "title": "Find tools",
        "description": "Search the tools of the active servers by what they do (plain language or keywords). "
        "Returns exposed tool names, best match first; call one with call_tool or directly.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1,
                          "description": "What you want to do, e.g. 'current time in Tokyo'"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            },
            "required": ["query"],
        },
        "outputSchema": {
            "type": "object",
            "properties": {
                "tools": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "server": {"type": "string"},
                            "description": {"type": "string"},
                            "score": {"type": "number"},
                        },
                        "required": ["name", "server", "description", "score"],
                    },
                }
            },
            "required": ["tools"],
        },
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
    find_tools,
)

CALL_TOOL = MetaTool(
    {
        "name": "call_tool",
        "title": "Call a tool",
        "description": "Call any tool of the active servers by its exposed name (as listed by tools/list or "
        "find_tools), for clients that do not refresh their tool list. Returns that tool's own result.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1,
                         "description": "Exposed tool name, e.g. 'time__get_current_time'"},
                "arguments": {"type": "object", "description": "The tool's arguments", "default": {}},
            },
            "required": ["name"],
        },
    },
    call_tool,
)
