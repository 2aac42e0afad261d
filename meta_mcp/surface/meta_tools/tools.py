"""Meta tools over the aggregated tools: `find_tools` (ranked search, full schemas), `call_tool` (call by
name), `pin_tools` / `unpin_tools` (what tools/list shows) and `approve_tool_change`.

Adapters over `meta_mcp.operations.tools`. `call_tool` goes through the registry's one call path,
exactly like a client's `tools/call`. `find_tools`' description is generated from what stands behind
it (`find_tools_description`: "Search 312 tools of github, slack, …"), so a model whose listing shows
only the meta tools knows to search; it changes when servers come and go (clients are told).

Example:
    call_tool(name="time__get_current_time", arguments={"timezone": "Asia/Tokyo"})
    → exactly what `tools/call time__get_current_time` returns.
"""

from __future__ import annotations

from typing import Any

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.operations import tools
from meta_mcp.providers.base import tool_error
from meta_mcp.registry.exposure import SurfaceSummary
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool, structured

_SHOWN_SERVERS = 6


def find_tools_description(summary: SurfaceSummary) -> str:
    """find_tools' description for what stands behind it now."""
    if summary.tools == 0:
        return ("Search the tools of the active servers by what they do. No server is active yet: find one with "
                "find_servers and add it with add_server, then search its tools here.")
    names = [name for name, count in summary.servers if count]
    shown = ", ".join(names[:_SHOWN_SERVERS]) + (f" and {len(names) - _SHOWN_SERVERS} more servers"
                                                  if len(names) > _SHOWN_SERVERS else "")
    text = (f"Search {summary.tools} tools of {shown} by what they do (plain language or keywords, or a tool's "
            "name); best match first, each with its full definition (inputSchema).")
    if summary.listed_all:
        return text + " Call one directly or with call_tool."
    return (text + " Most of these tools are NOT in your tool list: search here first, then call one with "
            "call_tool(name, arguments), or pin_tools it to list it.")


async def find_tools(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    found = await tools.find_tools(ctx.workspace, args["query"], limit=args.get("limit", 10))
    return structured({"tools": [t.as_dict() for t in found]})


async def call_tool(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    if args["name"] == "call_tool":
        raise MCPError(INVALID_PARAMS, "call_tool cannot call itself")
    return await tools.call_tool(ctx.workspace, args["name"], args.get("arguments"), ctx.call)


def _pins_result(outcome: tools.PinOutcome, verb: str) -> dict[str, Any]:
    result = structured(outcome.data())
    if outcome.unknown or not outcome.saved:
        problem = (f"unknown tools: {', '.join(outcome.unknown)} (find_tools finds names)" if outcome.saved
                   else outcome.data()["error"])
        return {**tool_error(f"{verb}: {problem}"), "structuredContent": outcome.data()}
    return result


async def pin_tools(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    return _pins_result(await tools.pin_tools(ctx.workspace, args["names"]), "pin_tools")


async def unpin_tools(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    return _pins_result(await tools.pin_tools(ctx.workspace, args["names"], pin=False), "unpin_tools")


async def approve_tool_change(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    approval = await tools.approve_tool_change(ctx.workspace, args["name"])
    if not approval.ok:
        return {**tool_error(approval.reason or "nothing approved"), "structuredContent": approval.data()}
    return structured(approval.data())


FIND_TOOLS = MetaTool(
    {
        "name": "find_tools",
        "title": "Find tools",
        "description": find_tools_description(SurfaceSummary(0, (), True, "auto")),
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
                            "title": {"type": "string"},
                            "description": {"type": "string"},
                            "score": {"type": "number"},
                            "inputSchema": {"type": "object"},
                            "outputSchema": {"type": "object"},
                            "listed": {"type": "boolean",
                                       "description": "In your tool list; else call it with call_tool"},
                        },
                        "required": ["name", "server", "description", "score", "inputSchema"],
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
        "description": "Call any tool of the active servers by its name (as find_tools or tools/list give it, "
        "or <server>__<tool>), including tools not in your tool list. Returns that tool's own result.",
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

_NAMES = {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string", "minLength": 1},
          "description": "Tool names as find_tools gives them (or <server>__<tool>)"}
_PINS_OUTPUT = {
    "type": "object",
    "properties": {
        "changed": {"type": "array", "items": {"type": "string"}},
        "unknown": {"type": "array", "items": {"type": "string"}},
        "pinned": {"type": "array", "items": {"type": "string"}, "description": "Every pinned tool now"},
        "listing_is_narrowed": {"type": "boolean",
                                "description": "tools/list shows only the meta tools and pinned tools"},
    },
    "required": ["changed", "unknown", "pinned", "listing_is_narrowed"],
}



def _pins_tool(name: str, title: str, description: str, handler: Any) -> MetaTool:
    return MetaTool(
        {
            "name": name,
            "title": title,
            "description": description,
            "inputSchema": {"type": "object", "properties": {"names": _NAMES}, "required": ["names"]},
            "outputSchema": _PINS_OUTPUT,
            "annotations": {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True,
                            "openWorldHint": False},
        },
        handler,
    )


PIN_TOOLS = _pins_tool(
    "pin_tools", "Pin tools to the tool list",
    "Add tools to your tool list (kept for this workspace) when it shows only the meta tools because many "
    "tools are active. Clients are notified that the list changed.", pin_tools)
UNPIN_TOOLS = _pins_tool(
    "unpin_tools", "Unpin tools", "Remove pinned tools from your tool list (they stay callable with call_tool).",
    unpin_tools)

APPROVE_TOOL_CHANGE = MetaTool(
    {
        "name": "approve_tool_change",
        "title": "Approve a changed tool",
        "description": "Accept the new definition of a tool whose description or schema changed since it was "
        "first seen (list_servers shows changed tools with a diff); a quarantined tool becomes callable again.",
        "inputSchema": {"type": "object", "properties": {"name": {"type": "string", "minLength": 1,
                                                                   "description": "The tool's name"}},
                        "required": ["name"]},
        "annotations": {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True,
                        "openWorldHint": False},
    },
    approve_tool_change,
)
