"""The builtin meta tools: `list_servers`, `find_tools`, `call_tool`.

They are exposed unprefixed and their names are reserved. They act on the registry they are given
(through the small `RegistryView` protocol, so this module does not import the registry), and
`call_tool` goes through the registry's one call path like any client call.

Example:
    call_tool(name="time__get_current_time", arguments={"timezone": "Asia/Tokyo"})
    → exactly what `tools/call time__get_current_time` returns.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.providers.base import NO_CONTEXT, CallContext, Listing, Provider
from meta_mcp.services.search import BM25Index


class RegistryView(Protocol):
    """What the meta tools need from the registry."""

    @property
    def servers(self) -> dict[str, Provider]: ...

    @property
    def surface(self) -> Any: ...

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]: ...


def _result(data: dict[str, Any]) -> dict[str, Any]:
    """A structured tool result with the same JSON as text, for clients that ignore structuredContent."""
    return {"content": [{"type": "text", "text": json.dumps(data, indent=1)}], "structuredContent": data}


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

TOOLS: tuple[dict[str, Any], ...] = (
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
    {
        "name": "find_tools",
        "title": "Find tools",
        "description": "Search the tools of the active servers by what they do (plain language or keywords). "
        "Returns exposed tool names, best match first; call one with call_tool or directly.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What you want to do, e.g. 'current time in Tokyo'"},
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
    {
        "name": "call_tool",
        "title": "Call a tool",
        "description": "Call any tool of the active servers by its exposed name (as listed by tools/list or "
        "find_tools), for clients that do not refresh their tool list. Returns that tool's own result.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "Exposed tool name, e.g. 'time__get_current_time'"},
                "arguments": {"type": "object", "description": "The tool's arguments", "default": {}},
            },
            "required": ["name"],
        },
    },
)


class BuiltinProvider(Provider):
    """The meta tools, acting on one registry."""

    name = "meta-mcp"
    prefix = ""

    def __init__(self, registry: RegistryView) -> None:
        super().__init__()
        self._registry = registry
        self.listing = Listing(tools=TOOLS)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]:
        args = arguments or {}
        if name == "list_servers":
            return _result({"servers": self._servers()})
        if name == "find_tools":
            query = args.get("query")
            if not isinstance(query, str) or not query.strip():
                raise MCPError(INVALID_PARAMS, "find_tools needs a non-empty 'query' string")
            limit = args.get("limit", 10)
            if not isinstance(limit, int) or not 1 <= limit <= 100:
                raise MCPError(INVALID_PARAMS, "find_tools 'limit' must be an integer from 1 to 100")
            return _result({"tools": self._find(query, limit)})
        if name == "call_tool":
            target = args.get("name")
            if not isinstance(target, str) or not target:
                raise MCPError(INVALID_PARAMS, "call_tool needs the exposed tool 'name' (a string)")
            inner = args.get("arguments") or {}
            if not isinstance(inner, dict):
                raise MCPError(INVALID_PARAMS, "call_tool 'arguments' must be an object")
            if target == "call_tool":
                raise MCPError(INVALID_PARAMS, "call_tool cannot call itself")
            return await self._registry.call_tool(target, inner, call)
        raise MCPError(INVALID_PARAMS, f"Unknown tool: {name!r}")

    def _servers(self) -> list[dict[str, Any]]:
        return [
            {
                "name": p.name,
                "status": p.status,
                "transport": p.transport,
                "prefix": p.prefix,
                "tools": len(p.listing.tools),
                "resources": len(p.listing.resources) + len(p.listing.resource_templates),
                "prompts": len(p.listing.prompts),
                "restarts": getattr(p, "restarts", 0),
                "last_error": p.last_error,
            }
            for p in self._registry.servers.values()
        ]

    def _find(self, query: str, limit: int) -> list[dict[str, Any]]:
        routes = self._registry.surface.tool_routes
        tools = [t for t in self._registry.surface.tools if routes[t["name"]][0] is not self]
        documents = [
            # The name counts twice: a tool's name is its most telling field.
            f"{t['name']} {t['name']} {t.get('title') or ''} {t.get('description') or ''}" for t in tools
        ]
        ranked = BM25Index(documents).rank(query, limit=limit)
        return [
            {
                "name": tools[i]["name"],
                "server": routes[tools[i]["name"]][0].name,
                "description": tools[i].get("description") or "",
                "score": round(score, 4),
            }
            for i, score in ranked
        ]
