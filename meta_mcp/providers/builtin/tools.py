"""Meta tools over the aggregated tools: `find_tools` (ranked search) and `call_tool` (call by name).

`call_tool` goes through the registry's one call path, exactly like a client's `tools/call`.

Example:
    call_tool(name="time__get_current_time", arguments={"timezone": "Asia/Tokyo"})
    → exactly what `tools/call time__get_current_time` returns.
"""

from __future__ import annotations

from typing import Any

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.providers.builtin.base import MetaContext, MetaTool, structured
from meta_mcp.services.bm25 import BM25Index

_index_cache: dict[int, tuple[Any, list[dict[str, Any]], BM25Index]] = {}


def _index(surface: Any) -> tuple[list[dict[str, Any]], BM25Index]:
    """The search index of a surface's proxied tools, built once per surface snapshot."""
    cached = _index_cache.get(id(surface))
    if cached is not None and cached[0] is surface:
        return cached[1], cached[2]
    routes = surface.tool_routes
    tools = [t for t in surface.tools if routes[t["name"]][0].name != "meta-mcp"]
    # The name counts twice: a tool's name is its most telling field.
    documents = [f"{t['name']} {t['name']} {t.get('title') or ''} {t.get('description') or ''}" for t in tools]
    index = BM25Index(documents)
    _index_cache.clear()
    _index_cache[id(surface)] = (surface, tools, index)
    return tools, index


async def find_tools(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    surface = ctx.registry.snapshot
    tools, index = _index(surface)
    found = [
        {
            "name": tools[i]["name"],
            "server": surface.tool_routes[tools[i]["name"]][0].name,
            "description": tools[i].get("description") or "",
            "score": round(score, 4),
        }
        for i, score in index.rank(args["query"], limit=args.get("limit", 10))
    ]
    return structured({"tools": found})


async def call_tool(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    if args["name"] == "call_tool":
        raise MCPError(INVALID_PARAMS, "call_tool cannot call itself")
    return await ctx.registry.call_tool(args["name"], args.get("arguments") or {}, ctx.call)


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
