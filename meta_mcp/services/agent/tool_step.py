"""One tool-calling step of an agent run, and what becomes of the calls that ask for input.

`ToolStep.run` runs, concurrently and within the time left, every `pending` call and every `waiting`
call the client's input answers (input responses keyed `<call id>|<key>`, or `provided_config` for the
first waiting call with a form). A call ends `done` (its result text, redacted and capped, and a trace
entry) or `waiting` again when its tool answers `input_required`. Failures of any kind — unknown tool,
arguments that are not a JSON object, a tool error, an exception — are results for the model.

The waiting calls left afterwards are the loop's to settle: `passed_up` gives the requests a client can
answer itself (the loop's own `input_required`), else `interrupt` turns the first form into the fields
of an interrupt result, answered later by `provided_config`.

Example:
    step = ToolStep(host, ToolSet(host.tools(None)), step=1, secrets=[], progress=say, trace=[], max_chars=20_000)
    finished = await step.run(run.calls, responses={}, config=None, seconds=30)   # False: time ran out
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from meta_mcp.services.agent.host import AgentHost, ToolReply
from meta_mcp.services.agent.models import redact
from meta_mcp.services.agent.run_state import CANCELLED, NO_INPUT, PendingCall, SecretsStop, TraceCall
from meta_mcp.services.agent.toolset import ToolSet, result_text


@dataclass
class ToolStep:
    """Runs the calls of one model step through the host's one call path."""

    host: AgentHost
    toolset: ToolSet
    step: int
    secrets: list[str]
    progress: Callable[[str], Awaitable[None]]
    trace: list[TraceCall]
    """The run's trace: every call that ends `done` here is appended."""
    max_chars: int
    """Cap of a result's text for the model."""
    emit: Callable[[dict[str, Any]], Awaitable[None]]
    """The run's event sink (`tool_call`, `tool_result`, `tool_error`)."""

    async def run(self, calls: list[PendingCall], responses: dict[str, Any], config: dict[str, Any] | None,
                  seconds: float) -> bool:
        """Run what can run; False when the time ran out (every unfinished call is then done, cancelled)."""
        todo = _runnable(calls, responses, config)
        with anyio.move_on_after(seconds):
            async with anyio.create_task_group() as tg:
                for call, answers in todo:
                    tg.start_soon(self.call, call, answers)
            return True
        for call in calls:
            if call.status != "done":
                call.finish(CANCELLED, False)
        return False

    async def call(self, call: PendingCall, answers: dict[str, Any] | None) -> None:
        """One call (`answers` and its saved `requestState` when it was waiting)."""
        inner_state = call.inner_state if answers is not None else None
        exposed = call.exposed or self.toolset.exposed(call.name)
        started = time.monotonic()
        try:
            args = self._arguments(call, exposed)
            call.exposed = exposed
            await self.progress(f"step {self.step}: calling tool {exposed}")
            await self.emit({"type": "tool_call", "id": call.id, "name": exposed, "arguments": args})
            reply = await self.host.call(exposed, args, answers, inner_state)
        except Exception as exc:  # noqa: BLE001 - any failure is the model's to read, never a crash
            reply = ToolReply({"content": [{"type": "text", "text": str(exc) or type(exc).__name__}], "isError": True})
        result = reply.result
        ms = round((time.monotonic() - started) * 1000)
        if result.get("resultType") == "input_required":
            call.wait(result.get("inputRequests") or {}, result.get("requestState"), reply.form_server)
            await self.progress(f"step {self.step}: tool {exposed} needs input")
            return
        ok = not result.get("isError")
        call.finish(redact(result_text(result, self.max_chars), self.secrets), ok)
        needs = reply.needs_secrets
        if needs is not None:
            call.secrets_stop = SecretsStop(redact(needs.message, self.secrets), needs.server,
                                            [s.as_dict() for s in needs.secrets])
        name = exposed or call.name
        self.trace.append(TraceCall(self.step, name, ok, ms))
        await self.emit({"type": "tool_result" if ok else "tool_error", "id": call.id, "name": name,
                         "content": call.result, "ms": ms})
        await self.progress(f"step {self.step}: tool {name} {'done' if ok else 'failed'} ({ms} ms)")

    def _arguments(self, call: PendingCall, exposed: str | None) -> dict[str, Any]:
        if exposed is None:
            raise ValueError(f"Unknown tool {call.name!r}. Available tools: {', '.join(self.toolset.names()[:40])}")
        try:
            args = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"Arguments of {call.name!r} are not valid JSON ({exc}); send a JSON object.") from None
        if not isinstance(args, dict):
            raise ValueError(f"Arguments of {call.name!r} must be a JSON object, not {type(args).__name__}.")
        return args


def _runnable(calls: list[PendingCall], responses: dict[str, Any],
              config: dict[str, Any] | None) -> list[tuple[PendingCall, dict[str, Any] | None]]:
    """The calls to run now: pending ones, and waiting ones with answers (config goes to the first form)."""
    todo: list[tuple[PendingCall, dict[str, Any] | None]] = []
    for call in calls:
        if call.status == "pending":
            todo.append((call, None))
        elif call.status == "waiting":
            answers = call.answers(responses)
            if not answers and config is not None and call.form:
                answers, config = {call.form: {"action": "accept", "content": config}}, None
            if answers:
                todo.append((call, answers))
    return todo


def passed_up(waiting: list[PendingCall], *, can_elicit: bool, can_sample: bool) -> dict[str, Any]:
    """The waiting calls' requests the client can answer, keyed `<call id>|<key>` (empty: none)."""
    can = {"elicitation/create": can_elicit, "sampling/createMessage": can_sample}
    up: dict[str, Any] = {}
    for call in waiting:
        if all(can.get(r.get("method"), False) for r in call.requests.values()):
            up.update({f"{call.id}|{k}": r for k, r in call.requests.items()})
    return up


def give_up(waiting: list[PendingCall]) -> None:
    """No client input and no form: the waiting calls are done, as errors."""
    for call in waiting:
        call.finish(NO_INPUT, False)


def interrupt(form_call: PendingCall, conversation: str) -> tuple[str, dict[str, Any]]:
    """The text and `interrupt` data asking the user for a waiting call's form, via `provided_config`."""
    assert form_call.form is not None
    params = form_call.requests[form_call.form].get("params") or {}
    schema = params.get("requestedSchema") or {}
    required = set(schema.get("required") or [])
    fields = [{"name": n, "type": p.get("type", "string"), "description": p.get("description") or "",
               "required": n in required} for n, p in (schema.get("properties") or {}).items()]
    example = json.dumps({f["name"]: f"<{f['type']}>" for f in fields})
    message = (f"{params.get('message') or 'A tool needs input.'} Provide it with agent_chat("
               f"conversation_id={conversation!r}, provided_config={example}) to continue where the run stopped.")
    return message, {"conversation_id": conversation, "tool": form_call.exposed, "server": form_call.server,
                     "fields": fields, "message": message}
