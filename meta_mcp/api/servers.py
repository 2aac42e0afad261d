"""The chat API's server routes (the seed's shapes), over the same operations as the meta tools.

- `POST /mcp/find {query, limit?}` → `{status, query, servers: [{name, title, description, score, runs,
  runs_here, active, secrets, config}]}` — structured, never the raw tool text;
- `POST /mcp/add {name, config?, activate?}` → `{status, server, tools, message}`; a `secrets` field is
  refused (400 saying where secrets go); what the operation could not do is its status (404 unknown,
  400 needs config/secrets or invalid, 403 refused, 409 cannot run here, 502 did not start);
- `POST /mcp/remove {name}` → `{status, server, tools, message}` (404 when not active);
- `GET /mcp/servers` → `{workspace, user_id, active_servers, available_tools, tool_count, server_count,
  server_tools_info}` (each server's info lists its `changed_tools`: definitions changed since first seen);
- `POST /mcp/approve {name}` → `{status, name, server, tool, approved, message}`: accepts the changed
  definition of a tool (exposed name, `<server>__<tool>`, or a quarantined tool's name); 404 when no tool
  has that name, 409 when it has no change to approve.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from meta_mcp.api.errors import ApiError, raise_for, responses
from meta_mcp.api.identity import USER_HEADER
from meta_mcp.operations import servers as ops
from meta_mcp.operations import tools as tool_ops
from meta_mcp.operations.outcomes import CatalogUnavailable
from meta_mcp.operations.workspace import Workspace
from meta_mcp.validation import NAME_PATTERN


class FindRequest(BaseModel):
    query: str = Field(min_length=1, max_length=1000)
    limit: int = Field(default=10, ge=1, le=50)


class AddRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(pattern=NAME_PATTERN)
    config: dict[str, Any] | None = None
    activate: bool = True
    """Accepted for the seed's clients; a server is always activated when added."""
    secrets: Any = None
    """Never accepted: secrets come from meta-mcp's environment and secret stores."""


class RemoveRequest(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)


class ApproveRequest(BaseModel):
    name: str = Field(min_length=1, max_length=300, description="The tool's name (exposed or <server>__<tool>)")


class ServersResponse(BaseModel):
    workspace: str
    user_id: str | None
    active_servers: list[str]
    available_tools: list[str]
    tool_count: int
    server_count: int
    server_tools_info: dict[str, dict[str, Any]]


def router(workspace: Any) -> APIRouter:
    """The routes, with `workspace` the dependency that yields the request's `Workspace`."""
    api = APIRouter(tags=["servers"])

    @api.post("/mcp/find", responses=responses(400, 503))
    async def find(body: FindRequest, ws: Workspace = Depends(workspace)) -> dict[str, Any]:
        found = await ops.find_servers(ws, body.query, body.limit)
        if isinstance(found, CatalogUnavailable):
            raise_for(found)
        return {"status": "success", "query": body.query, "servers": list(found.servers)}

    @api.post("/mcp/add", responses=responses(400, 403, 404, 409, 502, 503))
    async def add(body: AddRequest, ws: Workspace = Depends(workspace)) -> dict[str, Any]:
        if body.secrets is not None:
            raise ApiError(400, "secrets_not_accepted", "Secrets are never accepted in a request: set them in "
                           "meta-mcp's environment (or its .env file / secret store) and add the server again.")
        outcome = await ops.add_server(ws, body.name, config=body.config, origin="http")
        raise_for(outcome)
        return {"status": "success", "server": outcome.server, "tools": list(outcome.tools),
                "added": outcome.flags["added"], "message": outcome.message}

    @api.post("/mcp/remove", responses=responses(400, 404))
    async def remove(body: RemoveRequest, ws: Workspace = Depends(workspace)) -> dict[str, Any]:
        outcome = await ops.remove_server(ws, body.name)
        raise_for(outcome)
        return {"status": "success", "server": outcome.server, "tools": list(outcome.tools), "message": outcome.message}

    @api.get("/mcp/servers", response_model=ServersResponse, responses=responses(400))
    async def servers(request: Request, ws: Workspace = Depends(workspace)) -> ServersResponse:
        await ws.registry.wait_preloaded()
        tools = tool_ops.visible_tools(ws, lambda server, _: server != tool_ops.META_SERVER)
        info = {s.name: {"status": s.status, "transport": s.transport, "tool_count": s.tools,
                         "tools": [t.exposed for t in tools if t.server == s.name], "last_error": s.last_error,
                         "changed_tools": list(s.changed_tools)}
                for s in ops.list_servers(ws)}
        return ServersResponse(workspace=ws.name, user_id=request.headers.get(USER_HEADER), active_servers=list(info),
                               available_tools=[t.exposed for t in tools], tool_count=len(tools),
                               server_count=len(info), server_tools_info=info)

    @api.post("/mcp/approve", responses=responses(400, 404, 409))
    async def approve(body: ApproveRequest, ws: Workspace = Depends(workspace)) -> dict[str, Any]:
        approval = await tool_ops.approve_tool_change(ws, body.name)
        if not approval.ok:
            if approval.server is None:
                raise ApiError(404, "unknown_tool", approval.reason or f"No tool {body.name!r}.")
            raise ApiError(409, "nothing_to_approve", approval.reason or "Nothing to approve.")
        return {"status": "success", **approval.data()}

    return api
