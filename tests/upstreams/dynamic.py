"""Upstream whose tool list changes at run time.

Tools:
- ``add_tool(name, description="")``: registers tool ``name`` and notifies tools/list_changed.
  The new tool takes ``{"text": string}`` and returns text ``"<name>:<text>"`` with
  structuredContent ``{"tool": name, "text": text}``.
- ``remove_tool(name)``: unregisters tool ``name`` (a dynamic one) and notifies.
- ``list_dynamic()``: the names of the dynamic tools currently registered.

``--initial NAME`` (repeatable) pre-registers dynamic tools.

Notifications reach handshake-era clients on their own session (every connection that ever
made a request) and 2026-07-28 clients through ``subscriptions/listen``.

Run: ``python tests/upstreams/dynamic.py [--transport stdio|http|sse] [--port N]``
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from _common import Broadcaster, ChangeNotifyingServer, make_parser, run
from mcp.server import ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler

DYNAMIC_INPUT = {
    "type": "object",
    "properties": {"text": {"type": "string", "description": "Text to echo back"}},
    "required": ["text"],
}
DYNAMIC_OUTPUT = {
    "type": "object",
    "properties": {"tool": {"type": "string"}, "text": {"type": "string"}},
    "required": ["tool", "text"],
}

FIXED_TOOLS = [
    types.Tool(
        name="add_tool",
        description="Register a new echo tool with the given name and notify tools/list_changed.",
        input_schema={
            "type": "object",
            "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
            "required": ["name"],
        },
    ),
    types.Tool(
        name="remove_tool",
        description="Unregister a dynamic tool by name and notify tools/list_changed.",
        input_schema={"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
    ),
    types.Tool(
        name="list_dynamic",
        description="Names of the dynamic tools currently registered.",
        input_schema={"type": "object", "properties": {}},
    ),
]
FIXED_NAMES = {t.name for t in FIXED_TOOLS}


def build(initial: list[str]) -> ChangeNotifyingServer:
    dynamic: dict[str, types.Tool] = {}
    bus = InMemorySubscriptionBus()
    broadcaster = Broadcaster(bus)

    def make_tool(name: str, description: str = "") -> types.Tool:
        return types.Tool(
            name=name,
            description=description or f"Dynamically added echo tool {name}",
            input_schema=DYNAMIC_INPUT,
            output_schema=DYNAMIC_OUTPUT,
        )

    for name in initial:
        dynamic[name] = make_tool(name)

    def text(msg: str, *, error: bool = False, structured: Any = None) -> types.CallToolResult:
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=msg)], is_error=error, structured_content=structured
        )

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        broadcaster.remember(ctx)
        return types.ListToolsResult(tools=[*FIXED_TOOLS, *dynamic.values()])

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        broadcaster.remember(ctx)
        args = params.arguments or {}
        name = params.name
        if name == "add_tool":
            new = str(args.get("name", ""))
            if not new or new in FIXED_NAMES:
                return text(f"invalid tool name {new!r}", error=True)
            dynamic[new] = make_tool(new, str(args.get("description", "")))
            await broadcaster.tools_changed()
            return text(f"added {new}", structured={"names": sorted(dynamic)})
        if name == "remove_tool":
            old = str(args.get("name", ""))
            if old not in dynamic:
                return text(f"no dynamic tool {old!r}", error=True)
            del dynamic[old]
            await broadcaster.tools_changed()
            return text(f"removed {old}", structured={"names": sorted(dynamic)})
        if name == "list_dynamic":
            return text(", ".join(sorted(dynamic)), structured={"names": sorted(dynamic)})
        if name in dynamic:
            value = str(args.get("text", ""))
            return text(f"{name}:{value}", structured={"tool": name, "text": value})
        return text(f"Unknown tool: {name}", error=True)

    return ChangeNotifyingServer(
        "dynamic",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_subscriptions_listen=ListenHandler(bus),
    )


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__ or "")
    parser.add_argument("--initial", action="append", default=[], help="pre-register a dynamic tool")
    args = parser.parse_args(argv)
    run(build(args.initial), args)


if __name__ == "__main__":
    main()
