"""One chat turn of the chat API: equip the initial servers, run the agent, answer in the seed's shapes.

`chat_turn(ws, body, …)` and `resume_turn(ws, body, …)` return a `Turn`: the JSON body and its status.
Outcomes, in the seed's shapes:
- `{content, active_servers, available_tools, finish_reason, conversation_id}` (200);
- `{interrupt_type: "config_required", server, required_configs: [{key, type, description}],
  interrupt_id, instructions, active_servers, available_tools}` (200) — kept in the state store under
  `interrupt_state:<uuid>` for `chat_interrupt_ttl_s`, so a resume works after a restart and on any
  replica sharing the store;
- `{interrupt_type: "secrets_required", server, required_secrets: [{name, env, description}], message,
  instructions, …}` (200, terminal: secrets are never accepted in a request);
- a model that failed → 502, one that did not answer in time → 504, no usable model → 503
  (`ApiError`, JSON body).
The agent runs through `operations.agent` like `agent_chat` does; nothing here re-implements it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from meta_mcp.api.errors import ApiError, raise_for
from meta_mcp.operations import agent as agent_ops
from meta_mcp.operations import outcomes
from meta_mcp.operations import servers as server_ops
from meta_mcp.operations import tools as tool_ops
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import CallContext
from meta_mcp.services.agent import AgentRequest
from meta_mcp.services.agent.host import EventFn

FINISH = {None: "stop", "steps": "max_iterations", "time": "timeout", "tokens": "length"}
_API_CALL = CallContext(origin="http")


@dataclass(frozen=True, slots=True)
class Turn:
    body: dict[str, Any]
    status: int = 200


def _surface(ws: Workspace) -> dict[str, Any]:
    tools = tool_ops.visible_tools(ws, lambda server, _: server != tool_ops.META_SERVER)
    return {"active_servers": list(ws.registry.servers), "available_tools": [t.exposed for t in tools]}


async def _interrupt(ws: Workspace, record: dict[str, Any]) -> str:
    interrupt_id = str(uuid.uuid4())
    await ws.services.state.put_interrupt(interrupt_id, {"workspace": ws.name, **record},
                                          ws.settings.interrupt_ttl_s)
    return interrupt_id


async def _config_required(ws: Workspace, server: str | None, fields: list[dict[str, Any]], record: dict[str, Any]
                           ) -> Turn:
    interrupt_id = await _interrupt(ws, {**record, "server": server, "fields": fields})
    keys = ", ".join(f["name"] for f in fields)
    return Turn({"interrupt_type": "config_required", "server": server,
                 "required_configs": [{"key": f["name"], "type": f.get("type", "string"),
                                       "description": f.get("description") or ""} for f in fields],
                 "interrupt_id": interrupt_id,
                 "instructions": f"Provide {keys} with POST /chat/resume {{\"interrupt_id\": \"{interrupt_id}\", "
                 "\"provided_configs\": {…}} to continue where the chat stopped.", **_surface(ws)})


def _secrets_required(ws: Workspace, server: str | None, secrets: list[dict[str, Any]], message: str) -> Turn:
    return Turn({"interrupt_type": "secrets_required", "server": server,
                 "required_secrets": [{"name": s.get("name"), "env": s.get("env"),
                                       "description": s.get("description") or ""} for s in secrets],
                 "message": message,
                 "instructions": "Set each secret in meta-mcp's environment, its .env file or its secret store, "
                 "restart meta-mcp, then send the chat again. Secrets are never accepted in a request.",
                 **_surface(ws)})


async def equip(ws: Workspace, names: list[str], body: dict[str, Any]) -> Turn | None:
    """Add the chat's initial servers; a turn to answer at once when one needs config or secrets."""
    for name in names:
        outcome = await server_ops.add_server(ws, name, origin="http")
        if isinstance(outcome, outcomes.NeedsConfig):
            fields = [f.as_dict() for f in outcome.fields]
            return await _config_required(ws, name, fields, {"kind": "server", "request": body})
        if isinstance(outcome, outcomes.NeedsSecrets):
            return _secrets_required(ws, name, [s.as_dict() for s in outcome.secrets], outcome.message)
        raise_for(outcome)
    return None


async def run_agent_turn(ws: Workspace, request: AgentRequest, mode: str, events: EventFn | None,
                         record: dict[str, Any]) -> Turn:
    """Run the agent once and answer in the seed's shapes."""
    result = await agent_ops.agent_chat(ws, request, _API_CALL, mode=mode, events=events)  # type: ignore[arg-type]
    data = result.get("structuredContent") or {}
    status = data.get("status")
    if status == "refused":  # before it ran: no usable model (503), or a bad request (400)
        unavailable = data.get("error_kind") == "model_unavailable"
        raise ApiError(503 if unavailable else 400, data.get("error_kind", "invalid"), str(data.get("error")))
    if status == "interrupted":
        interrupt = data["interrupt"]
        return await _config_required(ws, interrupt.get("server"), interrupt.get("fields") or [],
                                      {**record, "kind": "agent", "conversation_id": data["conversation_id"]})
    if status == "needs_secrets":
        return _secrets_required(ws, data.get("server"), data.get("secrets") or [], data.get("answer") or "")
    if status == "error":
        timeout = data.get("error_kind") == "timeout"
        raise ApiError(504 if timeout else 502, "model_timeout" if timeout else "model_error",
                       f"The model request failed: {data.get('error')}")
    if status == "limit" and data.get("limit") == "time" and not data.get("answer"):
        raise ApiError(504, "model_timeout", "The chat hit its time limit before the model answered.")
    return Turn({"content": data.get("answer") or "", "finish_reason": FINISH.get(data.get("limit"), "stop"),
                 "conversation_id": data["conversation_id"], **_surface(ws)})


def check_keys(fields: list[dict[str, Any]], provided: dict[str, Any]) -> None:
    """400 naming the missing and unexpected keys when `provided` does not answer `fields`."""
    known = {f["name"] for f in fields}
    required = {f["name"] for f in fields if f.get("required", True)}
    missing, unexpected = sorted(required - set(provided)), sorted(set(provided) - known)
    if missing or unexpected:
        raise ApiError(400, "config_mismatch", f"provided_configs does not match the interrupt: missing "
                       f"{missing or 'none'}, unexpected {unexpected or 'none'}.", missing=missing,
                       unexpected=unexpected)
