"""The upstream of `bench/load.py`: four tools with the shapes a proxy has to carry under load.

* ``fast(text)``: returns ``text`` (like the echo);
* ``slow(ms, text)``: waits ``ms`` milliseconds, then returns ``text``;
* ``fail(text)``: a tool error (``isError: true``) whose text is ``failed: <text>``;
* ``big(kb, text)``: ``kb`` KiB of text starting with ``text`` (1 MiB by default).

Written with the SDK's low-level ``Server`` (as ``tests/upstreams/echo.py``), stdio or streamable HTTP.

    python bench/load_upstream.py                                 # stdio
    python bench/load_upstream.py --transport http --port 8766    # streamable HTTP at /mcp
"""

from __future__ import annotations

import argparse
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext


def _tool(name: str, description: str, **extra: Any) -> types.Tool:
    properties = {"text": {"type": "string"}, **extra}
    return types.Tool(name=name, description=description,
                      input_schema={"type": "object", "properties": properties, "required": ["text"]})


_TOOLS = types.ListToolsResult(tools=[
    _tool("fast", "Return text."),
    _tool("slow", "Wait ms milliseconds, then return text.", ms={"type": "integer"}),
    _tool("fail", "A tool error naming text."),
    _tool("big", "kb KiB of text starting with text.", kb={"type": "integer"}),
])


async def _list_tools(ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None) -> Any:
    return _TOOLS


def _text(text: str, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=error)


async def _call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
    args = params.arguments or {}
    text = str(args.get("text", ""))
    if params.name == "fast":
        return _text(text)
    if params.name == "slow":
        await anyio.sleep(int(args.get("ms", 50)) / 1000)
        return _text(text)
    if params.name == "fail":
        return _text(f"failed: {text}", error=True)
    if params.name == "big":
        size = int(args.get("kb", 1024)) * 1024
        return _text((text + "x" * size)[:size])
    return _text(f"unknown tool: {params.name}", error=True)


def build_server() -> Server[Any]:
    return Server("load", version="1.0.0", on_list_tools=_list_tools, on_call_tool=_call_tool)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args(argv)
    server = build_server()
    if args.transport == "stdio":
        from mcp.server.stdio import stdio_server

        async def run() -> None:
            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())

        anyio.run(run)
    else:
        import uvicorn

        uvicorn.run(server.streamable_http_app(host=args.host), host=args.host, port=args.port, log_level="warning",
                    access_log=False)


if __name__ == "__main__":
    main()
