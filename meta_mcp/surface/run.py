"""Running meta-mcp: the registry's lifetime wrapped around a stdio or streamable-HTTP server.

In stdio mode stdout carries protocol only; all logging goes to stderr (uvicorn's included in HTTP
mode, whose access log is off).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from meta_mcp.config import ServerSpec
from meta_mcp.providers.builtin import META_TOOLS, BuiltinProvider
from meta_mcp.registry.registry import Registry
from meta_mcp.settings import Settings
from meta_mcp.surface.server import build_server

logger = logging.getLogger(__name__)


@asynccontextmanager
async def running_registry(settings: Settings, preload: list[ServerSpec]) -> AsyncIterator[Registry]:
    """A registry with the meta tools and `preload` starting in the background; stopped on exit."""
    async with anyio.create_task_group() as tg:
        registry = Registry(settings, tg)
        registry.add_builtin(BuiltinProvider(registry, META_TOOLS))
        registry.preload(preload)
        try:
            yield registry
        finally:
            with anyio.CancelScope(shield=True):
                await registry.aclose()
            tg.cancel_scope.cancel()


async def serve_stdio(settings: Settings, preload: list[ServerSpec]) -> None:
    """Serve one client on stdin/stdout until stdin closes."""
    from meta_mcp.surface.stdio import answering_stdio_server

    async with running_registry(settings, preload) as registry:
        server = build_server(registry)
        async with answering_stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())


async def serve_http(settings: Settings, preload: list[ServerSpec]) -> None:
    """Serve streamable HTTP at `http://HOST:PORT/mcp` until interrupted."""
    import uvicorn

    async with running_registry(settings, preload) as registry:
        server = build_server(registry)
        app = server.streamable_http_app(host=settings.host)
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port, log_config=None, access_log=False,
            log_level=settings.log_level.lower(), lifespan="on",
        )
        logger.info("serving streamable HTTP at http://%s:%d/mcp", settings.host, settings.port)
        await uvicorn.Server(config).serve()
