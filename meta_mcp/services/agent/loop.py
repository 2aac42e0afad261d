"""The `agent_chat` loop: model step → tool calls (concurrently) → model step …, resumable.

`AgentRun` loads or starts a run (`run_state.PendingRun`, whose docstring states the state machine:
phases, call statuses, pauses and what a resume may do), drives it, and saves it whenever it pauses:
a `sampling` model step (an `input_required` carrying `sampling/createMessage`), tool calls waiting for
input the client can answer (passed up as our own `input_required`, keys `<call id>|<key>` —
handshake-era clients get real requests through the surface's input bridge, so the run carries on in
the same call), or an *interrupt* for a form the client cannot show, answered by `provided_config`.
The tool-calling step itself is `tool_step.ToolStep`.

Ends: `complete` (the model answered), `limit` (steps / time / tokens; with what was done so far),
`interrupted`, `needs_secrets` (add_server named missing secrets: never asked for in chat; the data
names the `server` and its `secrets`), `error` (a model request failed for good). Every text that
leaves is redacted of the provider's key.

With tracing on, each call is one trace (`services.telemetry.agent`): the run's span, its model
requests (`OpenAIChat.complete`) and its tool calls (the call path's interceptor) as children, with the
conversation as the session.
"""

from __future__ import annotations

import json
import secrets as _random
from typing import Any

import anyio

from meta_mcp.services.agent.budget import Budget
from meta_mcp.services.agent.conversation import new_id, plain_history, truncate, valid_id
from meta_mcp.services.agent.host import AgentHost, AgentRequest, ToolReply
from meta_mcp.services.agent.models import (
    ModelError,
    ModelReply,
    ModelUnavailable,
    OpenAIChat,
    ProviderChoice,
    redact,
    resolve,
    sampling_reply,
    sampling_request,
)
from meta_mcp.services.agent.run_state import (
    PendingCall,
    PendingRun,
    RequestState,
    ResumeRefused,
    StateError,
    Waiting,
    resume,
)
from meta_mcp.services.agent.tool_step import ToolStep, give_up, interrupt, passed_up
from meta_mcp.services.agent.toolset import ToolSet
from meta_mcp.services.telemetry.agent import agent_run

__all__ = ["SYSTEM", "AgentHost", "AgentRequest", "AgentRun", "ToolReply", "run_agent"]

SYSTEM = (
    "You are an agent working through MCP tools provided by meta-mcp. Use the tools to do the task, then "
    "answer briefly in plain text. If no tool fits, search the catalog with find_servers and equip yourself "
    "with add_server (remove_server when done). Tools can be called in parallel. Never ask for secrets or "
    "API keys: if a server needs one, say which variable the user must set."
)
_SAMPLING_MAX_TOKENS = 2048


class _Stop(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result


def _text_result(text: str, data: dict[str, Any], *, error: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "structuredContent": data}
    if error:
        result["isError"] = True
    return result


def _error(text: str, kind: str = "invalid") -> dict[str, Any]:
    """A run refused before it started: `kind` is "invalid" (the request) or "model_unavailable"."""
    return {"content": [{"type": "text", "text": f"agent_chat: {text}"}], "isError": True,
            "structuredContent": {"status": "refused", "error_kind": kind, "error": text}}


class AgentRun:
    """One `agent_chat` call: loads or starts the run, drives it until it ends or pauses."""

    def __init__(self, host: AgentHost, request: AgentRequest) -> None:
        self.host = host
        self.req = request
        self.settings = host.settings
        self.secrets: list[str] = []
        self.cid = ""
        self.messages: list[dict[str, Any]] = []
        self.run: PendingRun
        self.budget: Budget
        self.choice: ProviderChoice

    # -- entry ------------------------------------------------------------------------------------

    async def execute(self) -> dict[str, Any]:
        with agent_run(self.host.workspace, record_content=self.settings.trace_content,
                       message=self.req.message) as trace:
            try:
                await self._load()
                trace.conversation(self.cid, self.choice.name, self.choice.model)
                result = await self._drive()
            except _Stop as stop:
                result = stop.result
            trace.finished(result)
            return result

    async def _load(self) -> None:
        req = self.req
        state = RequestState.parse(req.request_state) if req.request_state else None
        cid = (state.conversation if state else None) or req.conversation_id
        if cid is not None and not valid_id(cid):
            raise _Stop(_error(f"invalid conversation_id {cid!r}"))
        record = await self.host.store.get_conversation(self.host.workspace, cid) if cid else None
        self.cid = cid or new_id()
        self.messages = list((record or {}).get("messages") or [])
        try:
            saved = (record or {}).get("pending")
            pending = PendingRun.from_state(saved) if saved is not None else None
            if state is not None or req.provided_config is not None:
                self.run = resume(pending, state, self.cid)
            else:
                self.run = self._start(pending)
        except ResumeRefused as exc:
            raise _Stop(_error(str(exc))) from None
        except StateError as exc:
            raise _Stop(_error(f"conversation {self.cid!r} cannot be continued: {exc}")) from None
        self.budget = self.run.budget
        try:
            self.choice = resolve(self.settings, self.run.provider, self.run.model, self.host.can_sample)
        except ModelUnavailable as exc:
            raise _Stop(_error(str(exc), "model_unavailable")) from None
        self.secrets = self.choice.secrets()
        self.run.provider, self.run.model = self.choice.name, self.choice.model

    def _start(self, pending: PendingRun | None) -> PendingRun:
        """A new message: abandon a paused run (closing its step), then a fresh run."""
        req, s = self.req, self.settings
        if not req.message:
            raise _Stop(_error("message is required (or conversation_id with provided_config to resume)"))
        if pending is not None:
            self.messages.extend(pending.abandon())
        if req.history and not self.messages:
            self.messages.extend(plain_history(req.history))
        self.messages.append({"role": "user", "content": req.message})
        steps = min(req.max_steps or s.agent_max_steps, s.agent_max_steps_limit)
        budget = Budget(steps, min(req.timeout_s or s.agent_timeout_s, s.agent_timeout_s),
                        min(req.max_tokens or s.agent_max_tokens, s.agent_max_tokens))
        return PendingRun(provider=req.provider, model=req.model, servers=req.servers, budget=budget)

    # -- the loop ---------------------------------------------------------------------------------

    async def _drive(self) -> dict[str, Any]:
        chat = OpenAIChat(self.choice, self.settings) if self.choice.name != "sampling" else None
        try:
            while True:
                if self.run.phase == "tools":
                    await self._tools()
                limit = self.budget.exceeded()
                if limit is not None:
                    return await self._finish("limit", limit=limit)
                reply = None
                with anyio.move_on_after(self.budget.remaining_seconds()):
                    reply = await self._model(chat)
                if reply is None:
                    return await self._finish("limit", limit="time")
                if not await self._took(reply):
                    return await self._finish("complete")
        except ModelError as exc:
            return await self._finish("error", error=str(exc), error_kind="timeout" if exc.timeout else "model")
        finally:
            if chat is not None:
                await chat.__aexit__(None, None, None)

    async def _took(self, reply: ModelReply) -> bool:
        """Account for a model reply; True when it asked for tools (phase "tools")."""
        self.budget.steps += 1
        self.budget.add_usage(reply.prompt_tokens, reply.completion_tokens)
        self.messages.append(reply.message())
        step = self.budget.steps
        if reply.content:
            self.run.answer = reply.content
        if not reply.tool_calls:
            await self._progress(f"step {step}: answer ready")
            return False
        names = [c["function"]["name"] for c in reply.tool_calls]
        await self._progress(f"step {step}: model asks for {len(names)} tool call(s): {', '.join(names)}")
        self.run.begin_tools(reply.tool_calls)
        return True

    async def _model(self, chat: OpenAIChat | None) -> ModelReply:
        step = self.budget.steps + 1
        toolset = ToolSet(self.host.tools(self.run.servers))
        messages = [{"role": "system", "content": SYSTEM}, *self.messages]
        if chat is None:  # sampling: the host's model answers through an input round
            answer = (self.req.input_responses or {}).get("sample")
            if self.run.waiting == "sampling" and isinstance(answer, dict):
                self.run.waiting = None
                self.req.input_responses = None
                return sampling_reply(answer, step)
            await self._progress(f"step {step}: asking the client's model (sampling)")
            request = sampling_request(messages, toolset.openai(), self.choice.model, _SAMPLING_MAX_TOKENS)
            raise _Stop(await self._pause("sampling", {"sample": request}))
        await self._progress(f"step {step}: calling {self.choice.name} model {self.choice.model}")
        await self.emit({"type": "iteration", "iteration": step})

        async def on_retry(attempt: int, delay: float, reason: str) -> None:
            await self._progress(f"step {step}: {reason}; retry {attempt} in {delay:.1f}s")

        async def on_delta(text: str) -> None:
            await self.emit({"type": "content", "delta": text})

        first = self.settings.agent_tool_choice if self.budget.steps == 0 else None
        return await chat.complete(messages, toolset.openai(), remaining=self.budget.remaining_seconds(),
                                   on_retry=on_retry, tool_choice=first,
                                   on_delta=on_delta if self.host.events is not None else None)

    # -- tools ------------------------------------------------------------------------------------

    async def _tools(self) -> None:
        """Run the step's calls; settle waiting ones (pause, interrupt or give up); close the step."""
        responses, config = self.req.input_responses or {}, self.req.provided_config
        self.req.input_responses, self.req.provided_config = None, None
        step = ToolStep(self.host, ToolSet(self.host.tools(self.run.servers)), self.budget.steps, self.secrets,
                        self._progress, self.run.trace, self.settings.agent_tool_result_max_chars, self.emit)
        finished = await step.run(self.run.calls, responses, config, self.budget.remaining_seconds())
        waiting = [c for c in self.run.calls if c.status == "waiting"]
        if waiting and (asked := await self._ask(waiting)) is not None:
            raise _Stop(asked)
        stop = self.run.secrets_stop()
        self.messages.extend(self.run.end_tools())
        if not finished:
            raise _Stop(await self._finish("limit", limit="time"))
        if stop is not None:
            raise _Stop(await self._finish("needs_secrets", answer=stop.message,
                                           server=stop.server, secrets=stop.secrets))

    async def _ask(self, waiting: list[PendingCall]) -> dict[str, Any] | None:
        """Pass waiting calls' requests up, or interrupt for a form the client cannot show.

        Returns None when no call can be answered at all: those calls are then done, as errors.
        """
        up = passed_up(waiting, can_elicit=self.host.can_elicit, can_sample=self.host.can_sample)
        if up:
            return await self._pause("input", up)
        form_call = next((c for c in waiting if c.form), None)
        if form_call is None:
            give_up(waiting)
            return None
        message, data = interrupt(form_call, self.cid)
        await self._save(waiting="config")
        await self._progress(f"interrupted: {form_call.exposed} needs configuration")
        return _text_result(redact(message, self.secrets), self._data("interrupted", interrupt=data))

    # -- pausing, finishing -----------------------------------------------------------------------

    async def _pause(self, waiting: Waiting, requests: dict[str, Any]) -> dict[str, Any]:
        nonce = await self._save(waiting=waiting)
        return {"resultType": "input_required", "inputRequests": requests,
                "requestState": RequestState(self.cid, nonce).dump()}

    async def _save(self, *, waiting: Waiting | None) -> str:
        self.run.waiting, self.run.nonce = waiting, _random.token_hex(8)
        await self.host.store.put_conversation(self.host.workspace, self.cid,
                                               {"messages": self.messages, "pending": self.run.to_state()})
        return self.run.nonce

    def _data(self, status: str, **extra: Any) -> dict[str, Any]:
        calls = [c.to_state() for c in self.run.trace]
        trace = {"steps": self.budget.steps, "tool_calls": calls, "usage": self.budget.usage(),
                 "elapsed_s": round(self.budget.elapsed(), 3), "provider": self.choice.name,
                 "model": self.choice.model}
        return {"conversation_id": self.cid, "status": status, **extra, "trace": trace}

    async def _finish(self, status: str, *, limit: str | None = None, error: str | None = None,
                      answer: str | None = None, **more: Any) -> dict[str, Any]:
        answer = answer if answer is not None else self.run.answer
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
        tools = [c.name for c in self.run.trace]
        text += (f"\n\n[agent_chat {status}: {self.budget.steps} step(s), tools: {', '.join(tools) or 'none'}, "
                 f"{self.budget.total_tokens} tokens; conversation_id={self.cid}]")
        await self._progress(f"finished: {status}" + (f" ({limit} limit)" if limit else ""))
        data = json.loads(redact(json.dumps(self._data(status, **extra, **more)), self.secrets))
        return _text_result(redact(text, self.secrets), data, error=error is not None)

    async def emit(self, event: dict[str, Any]) -> None:
        """Pass one step of the run to the host's event sink (redacted); a deaf sink never ends the run."""
        if self.host.events is None:
            return
        try:
            await self.host.events(json.loads(redact(json.dumps(event), self.secrets)))
        except Exception:  # noqa: BLE001
            pass

    async def _progress(self, message: str) -> None:
        await self.emit({"type": "status", "message": message})
        if self.host.progress is None:
            return
        self.run.events += 1
        try:
            await self.host.progress(float(self.run.events), None, redact(message, self.secrets))
        except Exception:  # noqa: BLE001 - a client gone deaf must not end the run
            pass


async def run_agent(host: AgentHost, request: AgentRequest) -> dict[str, Any]:
    """Run (or resume) one `agent_chat` call and return its tool result (or `input_required`)."""
    return await AgentRun(host, request).execute()
