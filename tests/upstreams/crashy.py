"""Upstream that can be told to die.

Tools:
- ``crash()``: kills this process immediately (``os._exit(17)``) without answering.
- ``ok()``: returns text ``"crashy-ok pid=<pid>"`` and structuredContent ``{"marker": "crashy-ok", "pid": <pid>}``
  (the pid lets a test see that the process was restarted).

``--fail-start`` makes the process print a reason to stderr and exit 3 before speaking MCP (a server that
fails to start).

Run: ``python tests/upstreams/crashy.py [--transport stdio|http|sse] [--port N] [--fail-start]``
"""

from __future__ import annotations

import os
import sys
from typing import Any

import mcp_types as types
from _common import ChangeNotifyingServer, make_parser, run
from mcp.server import ServerRequestContext

MARKER = "crashy-ok"
FAIL_START_REASON = "crashy: refusing to start (--fail-start)"

TOOLS = [
    types.Tool(
        name="crash",
        description="Kill the server process immediately (no response is sent).",
        input_schema={"type": "object", "properties": {}},
    ),
    types.Tool(
        name="ok",
        description="Return a marker and the server's pid.",
        input_schema={"type": "object", "properties": {}},
        output_schema={
            "type": "object",
            "properties": {"marker": {"type": "string"}, "pid": {"type": "integer"}},
            "required": ["marker", "pid"],
        },
    ),
]


def build() -> ChangeNotifyingServer:
    async def list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name == "crash":
            sys.stderr.write("crashy: crashing on request\n")
            sys.stderr.flush()
            os._exit(17)
        if params.name == "ok":
            pid = os.getpid()
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"{MARKER} pid={pid}")],
                structured_content={"marker": MARKER, "pid": pid},
            )
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"Unknown tool: {params.name}")], is_error=True)

    return ChangeNotifyingServer("crashy", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__ or "")
    parser.add_argument("--fail-start", action="store_true", help="exit 3 at once with a reason on stderr")
    args = parser.parse_args(argv)
    if args.fail_start:
        sys.stderr.write(FAIL_START_REASON + "\n")
        sys.stderr.flush()
        sys.exit(3)
    run(build(), args)


if __name__ == "__main__":
    main()
