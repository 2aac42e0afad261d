"""The chat API's chat routes, in the seed's shapes (see `turns` for what a turn answers).

- `POST /chat {messages: [{role, content}], model?, provider?, mode?: dynamic|code|default,
  initial_servers? (alias: the seed's inital_servers), max_iterations?}`;
- `POST /chat/resume {interrupt_id, provided_configs: {key: value}, model?, provider?}` — 404 for an
  unknown or expired interrupt (or one of another workspace), 400 naming missing and unexpected keys;
  the conversation continues exactly where it stopped (same messages, same iteration count);
- `POST /sse/chat`, `POST /sse/chat/resume`: the same bodies, answered as `text/event-stream` whose
  events carry JSON with a `type` among status, iteration, content (text deltas), tool_call,
  tool_result, tool_error, config_required, secrets_required, done, error (an interrupt event is
  followed by `done` carrying the same body: a stream always ends with `done` or `error`); with `id:`
  and `event:` lines, and a `Last-Event-ID` header resuming a stream that is still kept (see `streams`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.abc
from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from meta_mcp.api.errors import ApiError, raise_for, responses
from meta_mcp.api.streams import Emit, StreamHub
from meta_mcp.api.turns import Turn, check_keys, equip, run_agent_turn
from meta_mcp.operations import servers as server_ops
from meta_mcp.operations.workspace import Workspace
from meta_mcp.services.agent import AgentRequest
from meta_mcp.validation import NAME_PATTERN

_MAX_MESSAGES = 500
_MAX_TEXT = 100_000


class ChatMessage(BaseModel):
    role: Literal["user", "assistant", "system", "tool"]
    content: str = Field(max_length=_MAX_TEXT)


class ChatRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    messages: list[ChatMessage] = Field(min_length=1, max_length=_MAX_MESSAGES)
    model: str | None = Field(default=None, max_length=200)
    provider: str | None = Field(default=None, max_length=50)
    mode: Literal["dynamic", "code", "default"] = "dynamic"
    initial_servers: list[Annotated[str, Field(pattern=NAME_PATTERN)]] = Field(default_factory=list, max_length=20,
                                       validation_alias=AliasChoices("initial_servers", "inital_servers"))
    max_iterations: int | None = Field(default=None, ge=1, le=100)


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    interrupt_id: str = Field(min_length=1, max_length=100)
    provided_configs: dict[str, Any] = Field(default_factory=dict)
    model: str | None = Field(default=None, max_length=200)
    provider: str | None = Field(default=None, max_length=50)


async def chat_turn(ws: Workspace, body: ChatRequest, events: Emit | None) -> Turn:
    if body.messages[-1].role != "user":
        raise ApiError(400, "invalid_messages", "The last message must be the user's (role 'user').")
    record = {"mode": body.mode, "model": body.model, "provider": body.provider}
    early = await equip(ws, body.initial_servers, body.model_dump())
    if early is not None:
        return early
    request = AgentRequest(message=body.messages[-1].content, history=[m.model_dump() for m in body.messages[:-1]],
                           provider=body.provider, model=body.model, max_steps=body.max_iterations)
    return await run_agent_turn(ws, request, body.mode, events, record)


async def resume_turn(ws: Workspace, body: ResumeRequest, events: Emit | None) -> Turn:
    state = ws.services.state
    record = await state.get_interrupt(body.interrupt_id)
    if record is None or record.get("workspace") != ws.name:
        raise ApiError(404, "unknown_interrupt", f"No interrupt {body.interrupt_id!r} in this workspace: it expired, "
                       "was already resumed, or never existed.")
    check_keys(record.get("fields") or [], body.provided_configs)
    await state.delete_interrupt(body.interrupt_id)  # one resume per interrupt, even when two race
    if record.get("kind") == "server":
        outcome = await server_ops.add_server(ws, record["server"], config=body.provided_configs, origin="http")
        raise_for(outcome)
        return await chat_turn(ws, ChatRequest.model_validate(record["request"]), events)
    request = AgentRequest(conversation_id=record["conversation_id"], provided_config=body.provided_configs)
    return await run_agent_turn(ws, request, record.get("mode", "dynamic"), events, record)


def router(workspace: Any, task_group: anyio.abc.TaskGroup, hub: StreamHub) -> APIRouter:
    """The chat routes; streamed runs live in `task_group`, so a client may reconnect to them."""
    api = APIRouter(tags=["chat"])

    errors = responses(400, 403, 404, 409, 502, 503, 504)

    @api.post("/chat", responses=errors)
    async def chat(body: ChatRequest, ws: Workspace = Depends(workspace)) -> JSONResponse:
        turn = await chat_turn(ws, body, None)
        return JSONResponse(turn.body, status_code=turn.status)

    @api.post("/chat/resume", responses=errors)
    async def chat_resume(body: ResumeRequest, ws: Workspace = Depends(workspace)) -> JSONResponse:
        turn = await resume_turn(ws, body, None)
        return JSONResponse(turn.body, status_code=turn.status)

    def stream(run: Any, last_event_id: str | None) -> StreamingResponse:
        if last_event_id and (found := hub.resume(last_event_id)) is not None:
            live, after = found
            return StreamingResponse(live.follow(after), media_type="text/event-stream")
        live = hub.open()

        async def produce(emit: Emit) -> None:
            await emit({"type": "status", "message": "started"})
            try:
                turn = await run(emit)
            except ApiError as exc:
                detail = dict(exc.body["error"])
                await emit({"type": "error", "status": exc.status, "error_type": detail.pop("type"),
                            "error": detail.pop("message"), **detail})
                return
            if (interrupt := turn.body.get("interrupt_type")) is not None:
                await emit({"type": interrupt, **turn.body})
            await emit({"type": "done", **turn.body})

        task_group.start_soon(live.run, produce)
        return StreamingResponse(live.follow(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @api.post("/sse/chat", responses=responses(400), response_class=StreamingResponse)
    async def sse_chat(body: ChatRequest, ws: Workspace = Depends(workspace),
                       last_event_id: str | None = Header(default=None)) -> StreamingResponse:
        return stream(lambda emit: chat_turn(ws, body, emit), last_event_id)

    @api.post("/sse/chat/resume", responses=responses(400), response_class=StreamingResponse)
    async def sse_chat_resume(body: ResumeRequest, ws: Workspace = Depends(workspace),
                              last_event_id: str | None = Header(default=None)) -> StreamingResponse:
        return stream(lambda emit: resume_turn(ws, body, emit), last_event_id)

    return api
