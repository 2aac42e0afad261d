"""The chat API: the seed's REST and SSE endpoints, served beside `/mcp` in one ASGI app.

A second thin front door over `meta_mcp.operations` (the meta tools are the first): it parses JSON
bodies with pydantic, picks the workspace from the identity headers (`identity`) among the workspaces of
the request's authenticated identity (put in the ASGI scope by `meta_mcp.auth.guard`), calls the same
operations and renders their typed outcomes as JSON with a status code (`errors`). OpenAPI is at
`/openapi.json`, interactive docs at `/docs`.

Example:
    app = build_api(workspaces, services)      # then served by uvicorn next to the MCP app
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.abc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from meta_mcp import __version__
from meta_mcp.api import chat, servers
from meta_mcp.api.streams import StreamHub
from meta_mcp.api.errors import ApiError
from meta_mcp.api.identity import workspace_name
from meta_mcp.auth.guard import identity_in
from meta_mcp.identity import LOCAL
from meta_mcp.operations.workspace import Workspace
from meta_mcp.registry.workspaces import Workspaces
from meta_mcp.services import Services

logger = logging.getLogger(__name__)


def build_api(workspaces: Workspaces, services: Services, task_group: anyio.abc.TaskGroup) -> FastAPI:
    """The FastAPI app of the chat API over `workspaces`; streamed chats run in `task_group`."""
    app = FastAPI(title="meta-mcp chat API", version=__version__,
                  description="Chat with an agent that equips itself with MCP servers, and manage the servers "
                  "of a workspace. The MCP endpoint itself is at /mcp.")
    header = services.settings.workspace_header

    async def workspace(request: Request) -> Workspace:  # async: FastAPI would run a sync one in a thread
        identity = identity_in(request.scope, LOCAL)
        name = workspace_name(request.headers, header, default=identity.default_workspace)
        if not identity.may_use(name):  # the guard answered this already; kept for apps built without it
            raise ApiError(403, "forbidden_workspace", f"{identity.subject} may not use workspace {name!r}")
        try:
            return Workspace(workspaces.get(name), services)
        except ValueError as exc:
            raise ApiError(400, "invalid_workspace", f"{header} / X-User-Id: {exc}") from None

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("chat API: %s %s failed", request.method, request.url.path)
        return JSONResponse({"error": {"type": "internal", "message": "internal error (see meta-mcp's log)"}},
                            status_code=500)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        return {"status": "healthy", "service": "meta-mcp", "version": __version__}

    @app.get("/ready", tags=["health"], responses={503: {"description": "a dependency is unavailable"}})
    async def ready() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await services.state.check()
            checks["state"] = "ok"
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure of its dependency
            checks["state"] = f"unavailable: {exc}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)

    app.include_router(servers.router(workspace))
    app.include_router(chat.router(workspace, task_group, StreamHub(services.settings.chat_disconnect_grace_s)))
    return app
