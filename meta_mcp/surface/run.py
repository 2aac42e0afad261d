"""Running meta-mcp: the registry's lifetime wrapped around a stdio or streamable-HTTP server.

In stdio mode stdout carries protocol only; all logging goes to stderr (uvicorn's included in HTTP
mode, whose access log is off).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from meta_mcp.auth.setup import Auth
from meta_mcp.config import ServerSpec
from meta_mcp.operations.persistence import follow, restore
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.process import Prespawned
from meta_mcp.registry.pool import UpstreamPool
from meta_mcp.registry.registry import Registry
from meta_mcp.redaction import redacting_interceptor
from meta_mcp.registry.workspaces import DEFAULT, Workspaces
from meta_mcp.services import Services
from meta_mcp.services.state import open_store
from meta_mcp.surface.meta_tools import META_TOOLS, MetaToolsProvider
from meta_mcp.surface.server import LeanCalls, build_server

if TYPE_CHECKING:
    from meta_mcp.providers.gateway import GatewayConnection
    from meta_mcp.surface.http import Worker

logger = logging.getLogger(__name__)


@asynccontextmanager
async def running_workspaces(services: Services, preload: list[ServerSpec], prespawned: Prespawned | None = None
                             ) -> AsyncIterator[Workspaces]:
    """Workspaces with the meta tools; `preload` starts in the background in "default"; all stopped on exit."""

    def meta_tools(registry: Registry) -> MetaToolsProvider:
        return MetaToolsProvider(Workspace(registry, services), META_TOOLS)

    owned_by_config = {spec.name for spec in preload}

    def created(registry: Registry) -> None:
        """A workspace is first used: bring back the servers it added at run time (see persistence)."""
        ws = Workspace(registry, services)
        if gateway is not None:  # every workspace sees the gateway's own tools (docker__*)
            registry.preload([gateway.root_spec()])
        registry.preload(lambda: restore(ws, owned_by_config if registry.workspace == DEFAULT else ()))

    def record_managed(workspace: str, name: str) -> bool:
        root = gateway is not None and name == gateway.root_spec().name
        return not (workspace == DEFAULT and name in owned_by_config) and not root

    settings = services.settings
    services.telemetry.start()  # before anything makes spans: off unless configured
    services.state = await open_store(
        settings.state_url, redis_url=settings.redis_url, prefix=settings.state_prefix,
        max_conversations=settings.agent_max_conversations, interrupt_ttl_s=settings.interrupt_ttl_s,
        connect_timeout_s=settings.state_connect_timeout_s,
        environ={"XDG_STATE_HOME": str(settings.xdg_state_home or "")})
    async with anyio.create_task_group() as tg:
        gateway = _gateway(services, tg, prespawned)
        pool = UpstreamPool(services.settings, tg, prespawned,
                            **({"provider_factory": gateway.provider_factory} if gateway is not None else {}))
        if gateway is not None:
            tg.start_soon(gateway.start, name="gateway")
        # Every tool call, on every path: traced and metered (when configured), its result scrubbed of secrets
        # (prompts and resources too: `scrub`).
        interceptors = [*services.telemetry.interceptors(), redacting_interceptor(services.redactor)]
        workspaces = Workspaces(services.settings, pool, builtin=meta_tools, on_create=created,
                                interceptors=interceptors, scrub=services.redactor.scrub)
        if gateway is not None:  # the gateway's mcp-exec / code-mode held to the caller's workspace and policy
            from meta_mcp.operations.gateway_scope import gateway_scope

            workspaces.interceptors.append(gateway_scope(workspaces, services))
        workspaces.get(DEFAULT).preload(preload)
        tg.start_soon(follow, lambda: [Workspace(r, services) for r in workspaces], services.state, record_managed,
                      name="replicas")
        try:
            yield workspaces
        finally:
            with anyio.CancelScope(shield=True):
                await workspaces.aclose()
                if gateway is not None:
                    await gateway.stop()
                await services.state.aclose()
                services.telemetry.shutdown()  # exports what is still batched
                services.close()  # the sandbox's pre-started Deno processes and their directories
            tg.cancel_scope.cancel()


def _gateway(services: Services, tg: anyio.abc.TaskGroup, prespawned: Prespawned | None) -> GatewayConnection | None:
    """The Docker MCP Gateway connection when one is configured (`--gateway`; Docker's secret store is then in
    the secrets chain, see `services.docker_secrets.from_settings`)."""
    if not services.settings.gateway:
        return None
    from meta_mcp.providers.gateway import GatewayConnection

    if services.settings.gateway_token is not None:
        services.redactor.add(services.settings.gateway_token.get_secret_value())
    return GatewayConnection(services.settings, tg, prespawned)


def _start_up_done() -> None:
    """Called once, right before serving, by every transport (and so in each `--workers` worker, a process
    spawned afresh that builds its own server)."""
    # Moves start-up's long-lived objects (modules, SDK models and schemas, the catalog) out of the collector's
    # generations: full collections under load took 59-70 ms walking them, 5-10 ms after (docs/benchmarks.md).
    # The CLI ran start-up with the collector off (`cli_serve.serve`): it collects from here on.
    gc.freeze()
    gc.enable()


async def serve_stdio(services: Services, preload: list[ServerSpec], prespawned: Prespawned) -> None:
    """Serve one client on stdin/stdout until stdin closes.

    `prespawned` starts the stdio servers with the environment the caller gives it (the CLI: its own).
    """
    from meta_mcp.pipes import MessageLimit
    from meta_mcp.providers.era import ClientEra
    from meta_mcp.surface.stdio import answering_stdio_server

    era = prespawned.client_era = ClientEra()  # before the servers start: those on `follow` wait for it
    async with running_workspaces(services, preload, prespawned) as workspaces:
        lean = LeanCalls() if services.settings.lean_calls else None  # calls and list pages past the dispatcher
        server = build_server(workspaces, lean=lean)
        limit = MessageLimit(services.settings.max_message_bytes, "max_message_bytes")
        _start_up_done()
        async with answering_stdio_server(limit, lean, era) as (read, write):
            await server.run(read, write, server.create_initialization_options())


async def serve_http(services: Services, preload: list[ServerSpec], prespawned: Prespawned,
                     auth: Auth | None = None, worker: Worker | None = None) -> None:
    """Serve streamable HTTP at `http://HOST:PORT/mcp` until interrupted, every route behind authentication,
    the policy on every call path (`meta_mcp.auth`; `auth` as checked by `prepare`, else checked here).
    As one of several `worker`s: on the socket the parent bound, other workers' sessions forwarded to them."""
    import uvicorn

    from meta_mcp.auth import setup
    from meta_mcp.console import mount_console
    from meta_mcp.surface.http import Dispatch, HttpGuard, SessionRouter, answer_plainly, uvicorn_limits

    settings = services.settings
    auth = auth if auth is not None else setup.prepare(settings)
    async with running_workspaces(services, preload, prespawned) as workspaces, anyio.create_task_group() as tg:
        setup.install(auth, workspaces)
        tg.start_soon(setup.watch_policy, auth, workspaces, name="policy")
        server = build_server(workspaces, auth.policy)
        api = None
        if settings.api:  # built on its first request (FastAPI's import alone is ~0.2 s of start-up)
            from meta_mcp.redaction import RedactingASGI
            from meta_mcp.surface.deferred import Deferred

            def chat_api() -> Any:
                from meta_mcp.api.app import build_api

                return build_api(workspaces, services, workspaces.pool.task_group)

            api = RedactingASGI(Deferred(chat_api), services.redactor)
        api = services.telemetry.http_app(api)  # + Prometheus' /metrics when META_MCP_METRICS=1
        if settings.http_json_responses:  # one JSON body per POST unless it streams (progress, logs, client requests)
            answer_plainly()
        mcp_app = server.streamable_http_app(host=settings.host, max_sessions=settings.http_max_sessions,
                                             session_idle_timeout=settings.http_session_idle_timeout)
        other = mount_console(api, workspaces, services)  # the web console at /ui in front of the API
        app = setup.guarded(auth, HttpGuard(Dispatch(mcp_app, other), settings), server)
        if worker is not None:
            worker.mint_session_ids()
            app = SessionRouter(app, worker)
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port, log_config=None, access_log=False,
            log_level=settings.log_level.lower(), lifespan="on", ws="none",  # no WebSocket route: not imported
            **uvicorn_limits(settings),
        )
        logger.info("serving streamable HTTP at http://%s:%d/mcp%s", settings.host, settings.port,
                    " and the chat API (/chat, /mcp/find, …; docs at /docs)" if api is not None else "")
        if not auth.authenticator.enabled and not setup.is_loopback(settings.host):
            logger.warning("listening on %s with --insecure-no-auth: no authentication and no DNS-rebinding "
                           "protection; only a proxy that authenticates every request may stand in front", settings.host)
        _start_up_done()
        await uvicorn.Server(config).serve(sockets=worker.sockets() if worker is not None else None)
        tg.cancel_scope.cancel()
