"""Upstream (the SDK's server) whose results have a size and shape the caller picks.

Tools:
- ``shape(count, element="{}", pad=0)``: structuredContent ``{"items": [element × count], "pad": "x" × pad}``
  (``element`` is JSON text), text content ``"shape <count>"``. Containers in bulk are what makes JSON
  expensive to decode; ``pad`` makes a message big without them.
- ``ok()``: text ``"shapes-ok"``.

Run: ``python tests/upstreams/shapes.py [--transport stdio|http|sse] [--port N]``
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
from _common import ChangeNotifyingServer, make_parser, run
from mcp.server import ServerRequestContext

TOOLS = [
    types.Tool(
        name="shape",
        description="A result of `count` copies of the JSON `element`, plus `pad` bytes of string.",
        input_schema={"type": "object", "properties": {
            "count": {"type": "integer"}, "element": {"type": "string"}, "pad": {"type": "integer"}}},
    ),
    types.Tool(name="ok", description="A normal result.", input_schema={"type": "object", "properties": {}}),
]


def build() -> ChangeNotifyingServer:
    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        args = params.arguments or {}
        if params.name == "shape":
            count = int(args.get("count", 0))
            items = json.loads("[" + ",".join([args.get("element", "{}")] * count) + "]")
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"shape {count}")],
                structured_content={"items": items, "pad": "x" * int(args.get("pad", 0))},
            )
        if params.name == "ok":
            return types.CallToolResult(content=[types.TextContent(type="text", text="shapes-ok")])
        unknown = types.TextContent(type="text", text=f"Unknown tool: {params.name}")
        return types.CallToolResult(content=[unknown], is_error=True)

    return ChangeNotifyingServer("shapes", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool)


def main(argv: list[str] | None = None) -> None:
    run(build(), make_parser(__doc__ or "").parse_args(argv))


if __name__ == "__main__":
    main()
