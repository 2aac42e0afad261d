"""Minimal echo upstream: one tool, ``echo(text) -> text``.

Used by ``bench/proxy.py`` (direct vs. through meta-mcp) and usable by tests as a tiny real upstream.

Written with the SDK's low-level ``mcp.server.Server`` rather than ``MCPServer``: the handlers return
prebuilt result objects, so there is no per-call signature introspection, argument model validation
or result conversion. The upstream's own overhead is then as small as the SDK allows, and the
direct/proxied ratio in the benchmark measures meta-mcp, not the upstream framework.

    python tests/upstreams/echo.py                                 # stdio
    python tests/upstreams/echo.py --no-handshake                  # stdio, 2026 era only
    python tests/upstreams/echo.py --transport http --port 8765    # streamable HTTP at /mcp
    python tests/upstreams/echo.py --transport http --tls CERT KEY  # the same over HTTPS
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext

ECHO_TOOL = types.Tool(
    name="echo",
    description="Return the given text unchanged.",
    input_schema={
        "type": "object",
        "properties": {"text": {"type": "string", "description": "Text to echo back."}},
        "required": ["text"],
    },
)
_TOOLS = types.ListToolsResult(tools=[ECHO_TOOL])


async def _list_tools(
    ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return _TOOLS


async def _call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
    if params.name != "echo":
        return types.CallToolResult(content=[types.TextContent(text=f"unknown tool: {params.name}")], is_error=True)
    text = (params.arguments or {}).get("text")
    if not isinstance(text, str):
        return types.CallToolResult(content=[types.TextContent(text="'text' must be a string")], is_error=True)
    return types.CallToolResult(content=[types.TextContent(text=text)])


def build_server() -> Server[Any]:
    return Server("echo", version="1.0.0", on_list_tools=_list_tools, on_call_tool=_call_tool)


async def _run_stdio(server: Server[Any], *, no_handshake: bool = False) -> None:
    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage

    async with stdio_server() as (read_stream, write_stream):
        if not no_handshake:
            await server.run(read_stream, write_stream, server.create_initialization_options())
            return
        # A 2026-only server: `initialize` is answered "Method not found", everything else is served.
        inner_send, inner_recv = anyio.create_memory_object_stream[Any](0)

        async def without_initialize() -> None:
            async with inner_send:
                async for item in read_stream:
                    message = getattr(item, "message", None)
                    if isinstance(message, types.JSONRPCRequest) and message.method == "initialize":
                        error = types.ErrorData(code=types.METHOD_NOT_FOUND, message="Method not found")
                        await write_stream.send(SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=message.id,
                                                                                  error=error)))
                    else:
                        await inner_send.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(without_initialize)
            await server.run(inner_recv, write_stream, server.create_initialization_options())
            tg.cancel_scope.cancel()


def _run_http(server: Server[Any], host: str, port: int, tls: tuple[str, str] | None = None) -> None:
    import uvicorn

    app = server.streamable_http_app(host=host)
    certfile, keyfile = tls if tls is not None else (None, None)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, ssl_certfile=certfile,
                ssl_keyfile=keyfile)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS with this certificate and key")
    parser.add_argument("--no-handshake", action="store_true",
                        help="stdio: answer `initialize` with Method not found (a server of the 2026 era only)")
    args = parser.parse_args(argv)
    server = build_server()
    if args.transport == "stdio":
        anyio.run(functools.partial(_run_stdio, server, no_handshake=args.no_handshake))
    else:
        _run_http(server, args.host, args.port, args.tls)


if __name__ == "__main__":
    main()
