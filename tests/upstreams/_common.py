"""Shared plumbing for the test upstream servers in this folder.

``run(server)`` parses ``--transport stdio|http|sse --host H --port N`` and serves the given
low-level ``mcp.server.Server`` (stdio by default; streamable HTTP at ``/mcp``; legacy SSE at
``/sse`` + ``/messages/``). Servers built here advertise ``listChanged: true`` for tools,
resources and prompts in the handshake era (``ChangeNotifyingServer``), and serve
``subscriptions/listen`` for the modern era when given a ``ListenHandler``.

``Broadcaster`` sends a tools/list_changed to every client in both eras: handshake-era
connections on their own session (collected from the requests they made), modern clients
through the subscription bus.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import anyio
from mcp.server import NotificationOptions, Server, ServerRequestContext
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

log = logging.getLogger("upstream")


class ChangeNotifyingServer(Server):
    """A low-level Server that advertises list_changed for tools/resources/prompts on every transport.

    The streamable-HTTP session manager and the SSE transport call ``create_initialization_options()``
    with no arguments, so the default has to be right here.
    """

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        if notification_options is None:
            notification_options = NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True)
        return super().create_initialization_options(notification_options, experimental_capabilities, extensions)


class Broadcaster:
    """Fan list_changed notifications out to every client, in both protocol eras."""

    def __init__(self, bus: InMemorySubscriptionBus) -> None:
        self.bus = bus
        # Handshake-era connections, keyed by connection identity. Each request builds a fresh
        # ServerSession; any of them reaches the connection's standalone channel.
        self._sessions: dict[int, Any] = {}

    def remember(self, ctx: ServerRequestContext[Any, Any]) -> None:
        """Record the caller's connection if it is a handshake-era one."""
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        conn = getattr(ctx.session, "_connection", None)
        self._sessions[id(conn) if conn is not None else id(ctx.session)] = ctx.session

    async def _legacy(self, method: str) -> None:
        for key, session in list(self._sessions.items()):
            try:
                await getattr(session, method)()
            except Exception:  # a dropped connection: forget it
                log.debug("dropping session %s", key, exc_info=True)
                self._sessions.pop(key, None)

    async def tools_changed(self) -> None:
        await self._legacy("send_tool_list_changed")
        await self.bus.publish(ToolsListChanged())

    async def resources_changed(self) -> None:
        await self._legacy("send_resource_list_changed")
        await self.bus.publish(ResourcesListChanged())

    async def prompts_changed(self) -> None:
        await self._legacy("send_prompt_list_changed")
        await self.bus.publish(PromptsListChanged())


def make_parser(description: str = "") -> argparse.ArgumentParser:
    """The common ``--transport/--host/--port/--log-level`` options; servers may add their own."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", choices=["stdio", "http", "sse"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="WARNING")
    return parser


def parse_args(argv: list[str] | None = None, description: str = "") -> argparse.Namespace:
    return make_parser(description).parse_args(argv)


def run(server: Server, args: argparse.Namespace) -> None:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    if args.transport == "stdio":
        anyio.run(_run_stdio, server)
    elif args.transport == "http":
        _run_uvicorn(server.streamable_http_app(host=args.host), args)
    else:
        _run_uvicorn(_sse_app(server, args.host), args)


async def _run_stdio(server: Server) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def _sse_app(server: Server, host: str) -> Any:
    from mcp.server.sse import SseServerTransport
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )
    sse = SseServerTransport("/messages/", security_settings=security)

    async def handle_sse(request: Request) -> Response:
        async with sse.connect_sse(request.scope, request.receive, request._send) as (read, write):  # noqa: SLF001
            await server.run(read, write, server.create_initialization_options())
        return Response()

    return Starlette(routes=[Route("/sse", endpoint=handle_sse, methods=["GET"]), Mount("/messages/", app=sse.handle_post_message)])


def _run_uvicorn(app: Any, args: argparse.Namespace) -> None:
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower())
