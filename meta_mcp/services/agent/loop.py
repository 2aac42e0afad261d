"""The `agent_chat` loop: model step → tool calls (concurrently) → model step …, resumable.

A run is a small state machine saved in the conversation record (`pending`) whenever it pauses:
- `phase: "model"` — the next thing is a model step; with the `sampling` provider that step is an
  `input_required` result carrying `sampling/createMessage`, and the retry resumes here;
- `phase: "tools"` — the last assistant message asked for tools; each call is `pending`, `done`, or
  `waiting` for input it asked for (an elicitation form, e.g. `add_server` missing config).
Waiting calls are passed up as our own `input_required` (keys `<call id>|<key>`) when the client can
answer them — handshake-era clients get real requests through the surface's input bridge, so the run
carries on in the same call — otherwise a form becomes an *interrupt* result; `provided_config`
answers it and the run resumes exactly there. `requestState` is `{"conversation", "nonce"}`; a stale
one is refused. A new `message` while a run is paused abandons the waiting calls (their results say
so) so the history stays well formed.

Ends: `complete` (the model answered), `limit` (steps / time / tokens; with what was done so far),
`interrupted`, `needs_secrets` (add_server named missing secrets: never asked for in chat), `error`
(a model request failed for good). Every text that leaves is redacted of the provider's key.
"""

from __future__ import annotations

import json
import secrets as _random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from meta_mcp.services.agent.budget import Budget
from meta_mcp.services.agent.conversation import new_id, truncate, valid_id
from meta_mcp.services.agent.models import (
    ModelUnavailable,
    ModelError,
    ModelReply,
    OpenAIChat,
    ProviderChoice,
    redact,
    resolve,
    sampling_reply,
    sampling_request,
)
from meta_mcp.services.agent.toolset import ToolSet, result_text
from meta_mcp.services.catalog.plan import NeedsSecrets
from meta_mcp.settings import Settings

SYSTEM = (
    "You are an agent working through MCP tools provided by meta-mcp. Use the tools to do the task, then "
    "answer briefly in plain text. If no tool fits, search the catalog with find_servers and equip yourself "
    "with add_server (remove_server when done). Tools can be called in parallel. Never ask for secrets or "
    "API keys: if a server needs one, say which variable the user must set."
)
_SAMPLING_MAX_TOKENS = 2048



@dataclass(frozen=True)
class ToolReply:
    """What one tool call gave the loop: the wire result, and what the loop must react to."""

    result: dict[str, Any]
    """The `CallToolResult` (or `input_required`) wire dict."""
    needs_secrets: NeedsSecrets | None = None
    """The call cannot succeed until the user sets these secrets: the run ends (`needs_secrets`)."""
    form_server: str | None = None
    """The server an `input_required` config form is for (shown in an interrupt)."""


CallFn = Callable[[str, dict[str, Any], dict[str, Any] | None, str | None], Awaitable[ToolReply]]
ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]


@dataclass
class AgentRequest:
    """One `agent_chat` call, as the meta tool received it."""

    message: str | None = None
    conversation_id: str | None = None
    provider: str | None = None
    model: str | None = None
    servers: list[str] | None = None
    max_steps: int | None = None
    timeout_s: float | None = None
    max_tokens: int | None = None
    provided_config: dict[str, Any] | None = None
    input_responses: dict[str, Any] | None = None
    request_state: str | None = None


@dataclass
class AgentHost:
    """What the loop needs from its caller: tools, the one call path, the client, the store."""

    settings: Settings
    store: Any
    workspace: str
    tools: Callable[[list[str] | None], list[tuple[str, dict[str, Any]]]]
    call: CallFn
    progress: ProgressFn | None = None
    can_elicit: bool = False
    can_sample: bool = False


class _Stop(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result


def _text_result(text: str, data: dict[str, Any], *, error: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "structuredContent": data}
    if error:
        result["isError"] = True
    return result


def _error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": f"agent_chat: {text}"}], "isError": True}


class AgentRun:
    """One `agent_chat` call: loads or starts the run, drives it until it ends or pauses."""

    def __init__(self, host: AgentHost, request: AgentRequest) -> None:
        self.host = host
        self.req = request
        self.settings = host.settings
        self.secrets: list[str] = []

    # -- entry ------------------------------------------------------------------------------------

    async def execute(self) -> dict[str, Any]:
        try:
            await self._load()
            return await self._drive()
        except _Stop as stop:
            return stop.result

    async def _load(self) -> None:
        req, s = self.req, self.settings
        state = _parse_state(req.request_state) if req.request_state else None
        cid = (state or {}).get("conversation") or req.conversation_id
        if cid is not None and not valid_id(cid):
            raise _Stop(_error(f"invalid conversation_id {cid!r}"))
        record = await self.host.store.get_conversation(self.host.workspace, cid) if cid else None
        pending = (record or {}).get("pending")
        self.cid = cid or new_id()
        self.messages: list[dict[str, Any]] = list((record or {}).get("messages") or [])
        if state is not None or req.provided_config is not None:
            if pending is None or (state is not None and state.get("nonce") != pending.get("nonce")):
                raise _Stop(_error(f"nothing to resume in conversation {self.cid!r} (stale or unknown "
                                   "requestState / conversation_id); start a new message instead"))
            if state is None and pending.get("waiting") != "config":
                raise _Stop(_error(f"conversation {self.cid!r} is not waiting for configuration"))
            self.run = pending
        else:
            if not req.message:
                raise _Stop(_error("message is required (or conversation_id with provided_config to resume)"))
            if pending is not None:
                self._abandon(pending)
            self.messages.append({"role": "user", "content": req.message})
            steps = min(req.max_steps or s.agent_max_steps, s.agent_max_steps_limit)
            budget = Budget(steps, min(req.timeout_s or s.agent_timeout_s, s.agent_timeout_s),
                            min(req.max_tokens or s.agent_max_tokens, s.agent_max_tokens))
            self.run = {"nonce": "", "provider": req.provider, "model": req.model, "servers": req.servers,
                        "budget": budget.to_state(), "phase": "model", "calls": [], "waiting": None,
                        "events": 0, "trace": [], "answer": None}
        self.budget = Budget.from_state(self.run["budget"])
        try:
            self.choice: ProviderChoice = resolve(s, self.run["provider"], self.run["model"], self.host.can_sample)
        except ModelUnavailable as exc:
            raise _Stop(_error(str(exc))) from None
        self.secrets = self.choice.secrets()
        self.run["provider"], self.run["model"] = self.choice.name, self.choice.model

    def _abandon(self, pending: dict[str, Any]) -> None:
        """Close a paused run so the history stays well formed (every tool call gets a result)."""
        for call in pending.get("calls") or []:
            text = call.get("result") if call["status"] == "done" else "Not run: the conversation moved on."
            self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": text})

    # -- the loop ---------------------------------------------------------------------------------

    async def _drive(self) -> dict[str, Any]:
        chat = OpenAIChat(self.choice, self.settings) if self.choice.name != "sampling" else None
        try:
            while True:
                if self.run["phase"] == "tools":
                    await self._tools()
                    self.run["phase"] = "model"
                limit = self.budget.exceeded()
                if limit is not None:
                    return await self._finish("limit", limit=limit)
                reply = None
                with anyio.move_on_after(self.budget.remaining_seconds()):
                    reply = await self._model(chat)
                if reply is None:
                    return await self._finish("limit", limit="time")
                self.budget.steps += 1
                self.budget.add_usage(reply.prompt_tokens, reply.completion_tokens)
                self.messages.append(reply.message())
                step = self.budget.steps
                names = [c["function"]["name"] for c in reply.tool_calls]
                self.run["trace"].append({"step": step, "tool_calls": []})
                if reply.content:
                    self.run["answer"] = reply.content
                if not reply.tool_calls:
                    await self._progress(f"step {step}: answer ready")
                    return await self._finish("complete")
                await self._progress(f"step {step}: model asks for {len(names)} tool call(s): {', '.join(names)}")
                self.run["calls"] = [{"id": c["id"], "name": c["function"]["name"],
                                      "arguments": c["function"]["arguments"], "status": "pending"}
                                     for c in reply.tool_calls]
                self.run["phase"] = "tools"
        except ModelError as exc:
            return await self._finish("error", error=str(exc))
        finally:
            if chat is not None:
                await chat.__aexit__(None, None, None)

    async def _model(self, chat: OpenAIChat | None) -> ModelReply:
        step = self.budget.steps + 1
        toolset = ToolSet(self.host.tools(self.run["servers"]))
        messages = [{"role": "system", "content": SYSTEM}, *self.messages]
        if chat is None:  # sampling: the host's model answers through an input round
            answer = (self.req.input_responses or {}).get("sample")
            if self.run.get("waiting") == "sampling" and isinstance(answer, dict):
                self.run["waiting"] = None
                self.req.input_responses = None
                return sampling_reply(answer, step)
            await self._progress(f"step {step}: asking the client's model (sampling)")
            request = sampling_request(messages, toolset.openai(), self.choice.model, _SAMPLING_MAX_TOKENS)
            raise _Stop(await self._pause("sampling", {"sample": request}))
        await self._progress(f"step {step}: calling {self.choice.name} model {self.choice.model}")

        async def on_retry(attempt: int, delay: float, reason: str) -> None:
            await self._progress(f"step {step}: {reason}; retry {attempt} in {delay:.1f}s")

        first = self.settings.agent_tool_choice if self.budget.steps == 0 else None
        return await chat.complete(messages, toolset.openai(), remaining=self.budget.remaining_seconds(),
                                   on_retry=on_retry, tool_choice=first)

    # -- tools ------------------------------------------------------------------------------------

    async def _tools(self) -> None:
        calls: list[dict[str, Any]] = self.run["calls"]
        toolset = ToolSet(self.host.tools(self.run["servers"]))
        responses = self.req.input_responses or {}
        config = self.req.provided_config
        self.req.input_responses, self.req.provided_config = None, None
        todo = []
        for call in calls:
            if call["status"] == "pending":
                todo.append((call, None, None))
            elif call["status"] == "waiting":
                mine = {k.split("|", 1)[1]: v for k, v in responses.items() if k.startswith(call["id"] + "|")}
                if not mine and config is not None and call.get("form"):
                    mine, config = {call["form"]: {"action": "accept", "content": config}}, None
                if mine:
                    todo.append((call, mine, call["inner_state"]))
        timed_out = True
        with anyio.move_on_after(self.budget.remaining_seconds()):
            async with anyio.create_task_group() as tg:
                for call, mine, inner in todo:
                    tg.start_soon(self._call, toolset, call, mine, inner)
            timed_out = False
        if timed_out:
            for call in calls:
                if call["status"] != "done":
                    call.update(status="done", ok=False, result="Cancelled: the run's time limit was hit.")
        waiting = [c for c in calls if c["status"] == "waiting"]
        if waiting and (asked := await self._ask(waiting)) is not None:
            raise _Stop(asked)
        for call in calls:
            self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": call["result"]})
        self.run["calls"] = []
        if timed_out:
            raise _Stop(await self._finish("limit", limit="time"))
        needs = next((c["secrets_stop"] for c in calls if c.get("secrets_stop")), None)
        if needs is not None:
            raise _Stop(await self._finish("needs_secrets", answer=needs))

    async def _call(self, toolset: ToolSet, call: dict[str, Any], responses: dict[str, Any] | None,
                    inner_state: str | None) -> None:
        step = self.budget.steps
        exposed = call.get("exposed") or toolset.exposed(call["name"])
        started = time.monotonic()
        try:
            if exposed is None:
                raise ValueError(f"Unknown tool {call['name']!r}. Available tools: {', '.join(toolset.names()[:40])}")
            try:
                args = json.loads(call["arguments"] or "{}")
            except json.JSONDecodeError as exc:
                raise ValueError(f"Arguments of {call['name']!r} are not valid JSON ({exc}); send a JSON object.")
            if not isinstance(args, dict):
                raise ValueError(f"Arguments of {call['name']!r} must be a JSON object, not {type(args).__name__}.")
            call["exposed"], call["args"] = exposed, args
            await self._progress(f"step {step}: calling tool {exposed}")
            reply = await self.host.call(exposed, args, responses, inner_state)
        except Exception as exc:  # noqa: BLE001 - any failure is the model's to read, never a crash
            reply = ToolReply({"content": [{"type": "text", "text": str(exc) or type(exc).__name__}], "isError": True})
        result = reply.result
        ms = round((time.monotonic() - started) * 1000)
        if result.get("resultType") == "input_required":
            requests = result.get("inputRequests") or {}
            form = next((k for k, r in requests.items() if r.get("method") == "elicitation/create"), None)
            call.update(status="waiting", requests=requests, inner_state=result.get("requestState"), form=form,
                        server=reply.form_server)
            await self._progress(f"step {step}: tool {exposed} needs input")
            return
        ok = not result.get("isError")
        text = redact(result_text(result, self.settings.agent_tool_result_max_chars), self.secrets)
        call.update(status="done", ok=ok, result=text)
        if reply.needs_secrets is not None:
            call["secrets_stop"] = redact(reply.needs_secrets.message, self.secrets)
        self.run["trace"][-1]["tool_calls"].append({"name": exposed or call["name"], "ok": ok, "ms": ms})
        await self._progress(f"step {step}: tool {exposed or call['name']} {'done' if ok else 'failed'} ({ms} ms)")

    async def _ask(self, waiting: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Pass waiting calls' requests up, or interrupt for a form the client cannot show.

        Returns None when no call can be answered at all: those calls are then done, as errors.
        """
        can = {"elicitation/create": self.host.can_elicit, "sampling/createMessage": self.host.can_sample}
        up: dict[str, Any] = {}
        for call in waiting:
            if all(can.get(r.get("method"), False) for r in call["requests"].values()):
                up.update({f"{call['id']}|{k}": r for k, r in call["requests"].items()})
        if up:
            return await self._pause("input", up)
        form_call = next((c for c in waiting if c.get("form")), None)
        if form_call is None:
            for call in waiting:
                call.update(status="done", ok=False, result="ERROR: the tool needs input this client cannot give.")
            return None
        params = form_call["requests"][form_call["form"]].get("params") or {}
        schema = params.get("requestedSchema") or {}
        required = set(schema.get("required") or [])
        fields = [{"name": n, "type": p.get("type", "string"), "description": p.get("description") or "",
                   "required": n in required} for n, p in (schema.get("properties") or {}).items()]
        server = form_call.get("server")
        example = json.dumps({f["name"]: f"<{f['type']}>" for f in fields})
        message = (f"{params.get('message') or 'A tool needs input.'} Provide it with agent_chat("
                   f"conversation_id={self.cid!r}, provided_config={example}) to continue where the run stopped.")
        interrupt = {"conversation_id": self.cid, "tool": form_call.get("exposed"), "server": server,
                     "fields": fields, "message": message}
        await self._save(waiting="config")
        await self._progress(f"interrupted: {form_call.get('exposed')} needs configuration")
        data = self._data("interrupted", interrupt=interrupt)
        return _text_result(redact(message, self.secrets), data)

    # -- pausing, finishing -----------------------------------------------------------------------

    async def _pause(self, waiting: str, requests: dict[str, Any]) -> dict[str, Any]:
        nonce = await self._save(waiting=waiting)
        return {"resultType": "input_required", "inputRequests": requests,
                "requestState": json.dumps({"conversation": self.cid, "nonce": nonce})}

    async def _save(self, *, waiting: str | None) -> str:
        self.run.update(waiting=waiting, nonce=_random.token_hex(8), budget=self.budget.to_state())
        await self.host.store.put_conversation(self.host.workspace, self.cid,
                                               {"messages": self.messages, "pending": self.run})
        return self.run["nonce"]

    def _data(self, status: str, **extra: Any) -> dict[str, Any]:
        calls = [{"step": s["step"], **c} for s in self.run["trace"] for c in s["tool_calls"]]
        trace = {"steps": self.budget.steps, "tool_calls": calls, "usage": self.budget.usage(),
                 "elapsed_s": round(self.budget.elapsed(), 3), "provider": self.choice.name, "model": self.choice.model}
        return {"conversation_id": self.cid, "status": status, **extra, "trace": trace}

    async def _finish(self, status: str, *, limit: str | None = None, error: str | None = None,
                      answer: str | None = None) -> dict[str, Any]:
        answer = answer if answer is not None else self.run.get("answer")
        history = truncate(self.messages, max_messages=self.settings.agent_history_max_messages,
                           max_chars=self.settings.agent_history_max_chars)
        await self.host.store.put_conversation(self.host.workspace, self.cid, {"messages": history, "pending": None})
        extra: dict[str, Any] = {"answer": answer}
        if limit is not None:
            extra["limit"] = limit
            text = f"Stopped: the {limit} limit was hit after {self.budget.steps} step(s)."
            text += f" Last answer so far:\n{answer}" if answer else ""
        elif error is not None:
            extra["error"] = error
            text = f"agent_chat: the model request failed: {error}"
        else:
            text = answer or ""
        tools = [c["name"] for s in self.run["trace"] for c in s["tool_calls"]]
        text += (f"\n\n[agent_chat {status}: {self.budget.steps} step(s), tools: {', '.join(tools) or 'none'}, "
                 f"{self.budget.total_tokens} tokens; conversation_id={self.cid}]")
        await self._progress(f"finished: {status}" + (f" ({limit} limit)" if limit else ""))
        return _text_result(redact(text, self.secrets), json.loads(redact(json.dumps(self._data(status, **extra)),
                                                                           self.secrets)), error=error is not None)

    async def _progress(self, message: str) -> None:
        if self.host.progress is None:
            return
        self.run["events"] = self.run.get("events", 0) + 1
        try:
            await self.host.progress(float(self.run["events"]), None, redact(message, self.secrets))
        except Exception:  # noqa: BLE001 - a client gone deaf must not end the run
            pass


def _parse_state(raw: str) -> dict[str, Any] | None:
    try:
        state = json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        return {"conversation": None, "nonce": "invalid"}
    return state if isinstance(state, dict) else {"conversation": None, "nonce": "invalid"}


async def run_agent(host: AgentHost, request: AgentRequest) -> dict[str, Any]:
    """Run (or resume) one `agent_chat` call and return its tool result (or `input_required`)."""
    return await AgentRun(host, request).execute()
