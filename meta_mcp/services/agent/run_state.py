"""The typed state of one `agent_chat` run, and the JSON the conversation store keeps of it.

A conversation record is `{"messages": [...], "pending": PendingRun.to_state() | None}`; `pending` is
set only while a run is paused between two `agent_chat` calls. The state machine:

    ┌─► phase "model": a limit hit (steps / time / tokens) ─► end `limit`
    │     model step ─► no tool calls ─► end `complete`
    │                └► tool calls ─► phase "tools", every call `pending`
    │   phase "tools": the runnable calls run concurrently; each ends `done` or `waiting` for input
    │     (waiting calls left: the run pauses, below)
    └── every call `done`: their results join the history, unless the time ran out (end `limit`) or a
        call's tool said its server needs secrets (end `needs_secrets`)

A call is `pending` (not run yet), `waiting` (its tool answered `input_required`: it keeps the
tool's `inputRequests`, `requestState`, which request is the elicitation form, and the server that
form is for) or `done` (its result text for the model, and whether it went well). Transitions:
`pending → done`, `pending → waiting`, `waiting → done` (answered, or cancelled by the time limit,
or the client can give no input), `waiting → waiting` (the tool asked again).

A run pauses (is saved, with a fresh `nonce`) in one of three ways, named by `waiting`:
- `"sampling"` — phase "model", the `sampling` provider's step is a `sampling/createMessage` request;
- `"input"` — phase "tools", the waiting calls' requests went up to the client (keys `<call id>|<key>`);
- `"config"` — phase "tools", an interrupt: a form the client cannot show was turned into fields.
Other ends (`complete`, `limit`, `error`, `needs_secrets`) save the history with `pending: None`.

What a resume may do:
- a `requestState` (`{"conversation", "nonce"}`) resumes only when its nonce is the saved one — any
  pause; its input responses go to the sampling step or to the waiting calls they are keyed for;
- `provided_config` (with `conversation_id`) resumes only a run waiting for `"config"`; it answers
  the first waiting call that has a form and no other answer;
- a new `message` abandons a paused run: every call of the step gets a result (its own when done,
  "Not run: the conversation moved on." otherwise), so the history stays well formed.
A stale or unknown nonce, or config for a run not waiting for it, is refused (`ResumeRefused`).

The saved state has `"version": STATE_VERSION`; `from_state` refuses any other (`StateError`).

Example:
    run = PendingRun(provider="openai", model=None, servers=None, budget=Budget(10, 300, 200_000))
    run.begin_tools([{"id": "c1", "function": {"name": "echo__echo", "arguments": "{}"}}])
    saved = run.to_state()                   # {"version": 1, "phase": "tools", "calls": [{…"pending"}], …}
    PendingRun.from_state(saved).calls[0].status     # → "pending"
    resume(PendingRun.from_state(saved), RequestState("conv-1", "stale"), "conv-1")  # → ResumeRefused
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from meta_mcp.services.agent.budget import Budget

STATE_VERSION = 1
"""Version of the saved `pending` state this code reads and writes."""

Phase = Literal["model", "tools"]
Waiting = Literal["sampling", "input", "config"]
CallStatus = Literal["pending", "waiting", "done"]

ABANDONED = "Not run: the conversation moved on."
CANCELLED = "Cancelled: the run's time limit was hit."
NO_INPUT = "ERROR: the tool needs input this client cannot give."


class StateError(ValueError):
    """A saved run this code cannot read (unknown version, or not a run at all)."""


class ResumeRefused(Exception):
    """A resume that does not match the saved run; the message says what to do instead."""


@dataclass
class SecretsStop:
    """A call's tool said the server needs secrets the user must set: the run ends `needs_secrets`."""

    message: str
    server: str
    secrets: list[dict[str, str]] = field(default_factory=list)
    """`[{"env", "name", "description"}]`."""

    def to_state(self) -> dict[str, Any]:
        return {"message": self.message, "server": self.server, "secrets": [dict(s) for s in self.secrets]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SecretsStop:
        return cls(state["message"], state["server"], [dict(s) for s in state.get("secrets") or []])


@dataclass
class PendingCall:
    """One tool call of the current step, as the model asked for it, and how far it got."""

    id: str
    name: str
    """The function name the model used (mapped back to an exposed tool name when the call runs)."""
    arguments: str
    """The model's raw JSON arguments."""
    status: CallStatus = "pending"
    exposed: str | None = None
    """The exposed tool name, once known."""
    requests: dict[str, Any] = field(default_factory=dict)
    """`waiting`: the tool's `inputRequests`."""
    inner_state: str | None = None
    """`waiting`: the tool's `requestState`, sent back with the answers."""
    form: str | None = None
    """`waiting`: the key of the elicitation request among `requests`, if any."""
    server: str | None = None
    """`waiting`: the server the form is for (shown in an interrupt)."""
    result: str | None = None
    """`done`: what the model reads."""
    ok: bool | None = None
    secrets_stop: SecretsStop | None = None

    @classmethod
    def from_model(cls, tool_call: dict[str, Any]) -> PendingCall:
        """From an OpenAI `tool_calls` item of the assistant message."""
        return cls(id=tool_call["id"], name=tool_call["function"]["name"],
                   arguments=tool_call["function"]["arguments"])

    def wait(self, requests: dict[str, Any], inner_state: str | None, server: str | None) -> None:
        """The tool asked for input: keep what is needed to answer it."""
        self.status, self.requests, self.inner_state, self.server = "waiting", requests, inner_state, server
        self.form = next((k for k, r in requests.items() if r.get("method") == "elicitation/create"), None)

    def finish(self, result: str, ok: bool) -> None:
        self.status, self.result, self.ok = "done", result, ok

    def answers(self, responses: dict[str, Any]) -> dict[str, Any]:
        """This call's share of the client's input responses (keys `<call id>|<key>`, prefix removed)."""
        prefix = self.id + "|"
        return {k[len(prefix):]: v for k, v in responses.items() if k.startswith(prefix)}

    def tool_message(self) -> dict[str, Any]:
        """The `tool` message closing this call in the history (abandoned when not done)."""
        text = self.result if self.status == "done" else ABANDONED
        return {"role": "tool", "tool_call_id": self.id, "content": text}

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments,
                                 "status": self.status, "exposed": self.exposed}
        if self.status == "waiting":
            state.update(requests=self.requests, inner_state=self.inner_state, form=self.form, server=self.server)
        if self.status == "done":
            state.update(result=self.result, ok=self.ok)
        if self.secrets_stop is not None:
            state["secrets_stop"] = self.secrets_stop.to_state()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PendingCall:
        if state.get("status") not in ("pending", "waiting", "done"):
            raise StateError(f"tool call {state.get('id')!r} has an unknown status {state.get('status')!r}")
        stop = state.get("secrets_stop")
        return cls(id=state["id"], name=state["name"], arguments=state["arguments"], status=state["status"],
                   exposed=state.get("exposed"), requests=dict(state.get("requests") or {}),
                   inner_state=state.get("inner_state"), form=state.get("form"), server=state.get("server"),
                   result=state.get("result"), ok=state.get("ok"),
                   secrets_stop=SecretsStop.from_state(stop) if stop else None)


@dataclass(frozen=True)
class TraceCall:
    """One finished tool call, for the result's trace."""

    step: int
    name: str
    ok: bool
    ms: int

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TraceCall:
        return cls(**state)


@dataclass
class PendingRun:
    """A run in progress: saved in the conversation record whenever it pauses."""

    provider: str | None
    model: str | None
    servers: list[str] | None
    budget: Budget
    phase: Phase = "model"
    calls: list[PendingCall] = field(default_factory=list)
    """The current step's tool calls (phase "tools" only)."""
    waiting: Waiting | None = None
    """Why the run is paused, if it is."""
    nonce: str = ""
    """Changes at every pause; a resume must bring the current one."""
    events: int = 0
    """Progress notifications sent so far (progress increases across the rounds of a run)."""
    trace: list[TraceCall] = field(default_factory=list)
    answer: str | None = None
    """The model's latest text."""

    # -- transitions ------------------------------------------------------------------------------

    def begin_tools(self, tool_calls: list[dict[str, Any]]) -> None:
        """The model asked for tools: phase "tools", every call `pending`."""
        self.calls = [PendingCall.from_model(c) for c in tool_calls]
        self.phase = "tools"

    def end_tools(self) -> list[dict[str, Any]]:
        """Every call is done: their `tool` messages, and back to phase "model"."""
        messages = [c.tool_message() for c in self.calls]
        self.calls, self.phase = [], "model"
        return messages

    def abandon(self) -> list[dict[str, Any]]:
        """A new message arrived while paused: the `tool` messages that close the step."""
        return [c.tool_message() for c in self.calls]

    def secrets_stop(self) -> SecretsStop | None:
        return next((c.secrets_stop for c in self.calls if c.secrets_stop is not None), None)

    # -- saved form -------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "nonce": self.nonce, "provider": self.provider, "model": self.model,
                "servers": self.servers, "budget": self.budget.to_state(), "phase": self.phase,
                "calls": [c.to_state() for c in self.calls], "waiting": self.waiting, "events": self.events,
                "trace": [t.to_state() for t in self.trace], "answer": self.answer}

    @classmethod
    def from_state(cls, state: Any) -> PendingRun:
        if not isinstance(state, dict):
            raise StateError(f"a saved agent run must be a JSON object, not {type(state).__name__}")
        version = state.get("version")
        if version != STATE_VERSION:
            raise StateError(f"the saved agent run has state version {version!r}; this meta-mcp reads version "
                             f"{STATE_VERSION} only")
        if state.get("phase") not in ("model", "tools") or state.get("waiting") not in (None, "sampling", "input",
                                                                                         "config"):
            raise StateError(f"the saved agent run has an unknown phase {state.get('phase')!r} or waiting "
                             f"{state.get('waiting')!r}")
        try:
            return cls(provider=state["provider"], model=state["model"], servers=state["servers"],
                       budget=Budget.from_state(state["budget"]), phase=state["phase"],
                       calls=[PendingCall.from_state(c) for c in state["calls"]], waiting=state["waiting"],
                       nonce=state["nonce"], events=state["events"],
                       trace=[TraceCall.from_state(t) for t in state["trace"]], answer=state["answer"])
        except (KeyError, TypeError) as exc:
            raise StateError(f"the saved agent run is incomplete ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class RequestState:
    """Our `requestState`: which conversation's pause a retry answers."""

    conversation: str | None
    nonce: str

    def dump(self) -> str:
        return json.dumps({"conversation": self.conversation, "nonce": self.nonce})

    @classmethod
    def parse(cls, raw: str) -> RequestState:
        """Never fails: anything unreadable becomes a state no saved run matches."""
        try:
            state = json.loads(raw)
        except (json.JSONDecodeError, TypeError):
            state = None
        if not isinstance(state, dict):
            return cls(None, "invalid")
        conversation, nonce = state.get("conversation"), state.get("nonce")
        return cls(conversation if isinstance(conversation, str) else None,
                   nonce if isinstance(nonce, str) else "invalid")


def resume(pending: PendingRun | None, state: RequestState | None, conversation: str) -> PendingRun:
    """The saved run a resume continues: by a `requestState` (its nonce must be the saved one), or, without
    one, by `provided_config` (the run must be waiting for configuration). Else `ResumeRefused`."""
    if pending is None or (state is not None and state.nonce != pending.nonce):
        raise ResumeRefused(f"nothing to resume in conversation {conversation!r} (stale or unknown requestState / "
                            "conversation_id); start a new message instead")
    if state is None and pending.waiting != "config":
        raise ResumeRefused(f"conversation {conversation!r} is not waiting for configuration")
    return pending
