"""Upstream with many tools, listed in pages of its own (for pagination tests).

Tools ``t0000`` … (``--tools N``, default 1200), each with a ``--size``-character description (default
1000); calling ``tNNNN`` returns text ``"called tNNNN"``.

Run: ``python tests/upstreams/many.py [--tools N] [--size B] [--transport stdio|http|sse] [--port N]``
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from _common import ChangeNotifyingServer, make_parser, run
from mcp.server import ServerRequestContext

PAGE = 200


def build(count: int, size: int) -> ChangeNotifyingServer:
    tools = [
        types.Tool(name=f"t{i:04d}", description=(f"Tool number {i}. " + "x" * size)[:size],
                   input_schema={"type": "object", "properties": {}})
        for i in range(count)
    ]

    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
                         ) -> types.ListToolsResult:
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = start + PAGE
        return types.ListToolsResult(tools=tools[start:end], next_cursor=str(end) if end < len(tools) else None)

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"called {params.name}")])

    return ChangeNotifyingServer("many", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__ or "")
    parser.add_argument("--tools", type=int, default=1200)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args(argv)
    run(build(args.tools, args.size), args)


if __name__ == "__main__":
    main()
