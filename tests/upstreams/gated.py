"""Upstream whose tool streams progress and finishes only when the test says so (no timing involved).

Tools:
- ``gated(gate, steps=2)``: reports progress ``1/steps`` ("step 1"), waits until the file ``gate`` exists,
  reports the remaining steps, then returns text ``"gated done"``.
- ``ticks(count, every_ms)``: reports progress ``i/count`` every ``every_ms`` milliseconds, then returns text
  ``"ticked <count>"`` (a long job that keeps saying it is alive; timing only in how long it runs).

Run: ``python tests/upstreams/gated.py [--transport stdio|http|sse] [--port N]``
"""

from __future__ import annotations

import os
from typing import Any

import anyio
import mcp_types as types
from _common import ChangeNotifyingServer, make_parser, run
from mcp.server import ServerRequestContext

TOOLS = [
    types.Tool(
        name="gated",
        description="Progress 1, wait for a file, the remaining progress, then a result.",
        input_schema={"type": "object", "properties": {"gate": {"type": "string"}, "steps": {"type": "integer"}},
                      "required": ["gate"]},
    ),
    types.Tool(
        name="ticks",
        description="Report progress count times, every_ms apart, then return.",
        input_schema={"type": "object", "properties": {"count": {"type": "integer"}, "every_ms": {"type": "integer"}},
                      "required": ["count", "every_ms"]},
    ),
]


def build() -> ChangeNotifyingServer:
    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        args = params.arguments or {}
        if params.name == "ticks":
            count = int(args["count"])
            for i in range(1, count + 1):
                await anyio.sleep(int(args["every_ms"]) / 1000)
                await ctx.session.report_progress(i, count, f"tick {i}")
            return types.CallToolResult(content=[types.TextContent(type="text", text=f"ticked {count}")])
        steps = int(args.get("steps", 2))
        await ctx.session.report_progress(1, steps, "step 1")
        while not os.path.exists(args["gate"]):
            await anyio.sleep(0.02)  # a file to wait for: there is no event to await across processes
        for i in range(2, steps + 1):
            await ctx.session.report_progress(i, steps, f"step {i}")
        return types.CallToolResult(content=[types.TextContent(type="text", text="gated done")])

    return ChangeNotifyingServer("gated", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool)


def main(argv: list[str] | None = None) -> None:
    args = make_parser(__doc__ or "").parse_args(argv)
    run(build(), args)


if __name__ == "__main__":
    main()
