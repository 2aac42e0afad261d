"""Upstream with a tool that never returns.

Tools:
- ``hang()``: sleeps forever (until cancelled).
- ``ok()``: returns text ``"hang-ok"`` and structuredContent ``{"marker": "hang-ok"}``.
- ``cancelled()``: how many ``hang`` calls were cancelled so far (structuredContent ``{"count": n}``),
  so a test can see that a caller's cancellation reached this server.

Run: ``python tests/upstreams/hang.py [--transport stdio|http|sse] [--port N]``
"""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
from _common import ChangeNotifyingServer, make_parser, run
from mcp.server import ServerRequestContext

MARKER = "hang-ok"

TOOLS = [
    types.Tool(
        name="hang",
        description="Never returns.",
        input_schema={"type": "object", "properties": {}},
    ),
    types.Tool(
        name="cancelled",
        description="How many hang calls were cancelled.",
        input_schema={"type": "object", "properties": {}},
        output_schema={"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]},
    ),
    types.Tool(
        name="ok",
        description="Return a marker.",
        input_schema={"type": "object", "properties": {}},
        output_schema={"type": "object", "properties": {"marker": {"type": "string"}}, "required": ["marker"]},
    ),
]


def build() -> ChangeNotifyingServer:
    cancelled = 0
    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        nonlocal cancelled
        if params.name == "hang":
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                cancelled += 1
                raise
        if params.name == "cancelled":
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=str(cancelled))], structured_content={"count": cancelled}
            )
        if params.name == "ok":
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=MARKER)], structured_content={"marker": MARKER}
            )
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"Unknown tool: {params.name}")], is_error=True)

    return ChangeNotifyingServer("hang", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool)


def main(argv: list[str] | None = None) -> None:
    args = make_parser(__doc__ or "").parse_args(argv)
    run(build(), args)


if __name__ == "__main__":
    main()
