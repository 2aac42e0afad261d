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
        return ("Search the active servers' tools by what they do. No server is active yet: find_servers, then "
                "add_server, then search here.")
    names = [name for name, count in summary.servers if count]
    shown = ", ".join(names[:_SHOWN_SERVERS]) + (f" and {len(names) - _SHOWN_SERVERS} more servers"
                                                  if len(names) > _SHOWN_SERVERS else "")
    text = (f"Search {summary.tools} tools of {shown} by what they do (or by name); best first, each with its "
            "inputSchema.")
    if summary.listed_all:
        return text + " Call one directly or with call_tool."
    return text + " Most are NOT in your tool list: call one with call_tool, or pin_tools it."


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
                "query": {"type": "string", "minLength": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            },
            "required": ["query"],
        },
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
    find_tools,
)

CALL_TOOL = MetaTool(
    {
        "name": "call_tool",
        "title": "Call a tool",
        "description": "Call any active tool by name (as find_tools gives it), listed or not; returns its own result.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "arguments": {"type": "object", "default": {}},
            },
            "required": ["name"],
        },
    },
    call_tool,
)

_NAMES = {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string", "minLength": 1}}


def _pins_tool(name: str, title: str, description: str, handler: Any) -> MetaTool:
    return MetaTool(
        {
            "name": name,
            "title": title,
            "description": description,
            "inputSchema": {"type": "object", "properties": {"names": _NAMES}, "required": ["names"]},
            "annotations": {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True,
                            "openWorldHint": False},
        },
        handler,
    )


PIN_TOOLS = _pins_tool(
    "pin_tools", "Pin tools",
    "Add tools to your tool list (kept for this workspace) when it shows only the meta tools.", pin_tools)
UNPIN_TOOLS = _pins_tool(
    "unpin_tools", "Unpin tools", "Remove pinned tools from your tool list (call_tool still calls them).",
    unpin_tools)

APPROVE_TOOL_CHANGE = MetaTool(
    {
        "name": "approve_tool_change",
        "title": "Approve a changed tool",
        "description": "Accept a tool's changed definition (list_servers shows the diff); a quarantined tool "
        "becomes callable again.",
        "inputSchema": {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}},
                        "required": ["name"]},
        "annotations": {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": True,
                        "openWorldHint": False},
    },
    approve_tool_change,
)
