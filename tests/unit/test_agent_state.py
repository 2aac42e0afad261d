"""The agent run's state machine, in process: typed state round trips, version refusal, transitions.

The loop (`run_agent`) runs against a fake host — a Python object with the `AgentHost` fields whose
`call` plays the tools (an echo, an `add_server` that asks for a config form, one that needs secrets) —
a `MemoryStore`, and the scripted OpenAI-compatible stub (`tests/openai_stub.py`, real HTTP, the real
`openai` SDK). No meta-mcp process.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from meta_mcp.services.agent import AgentHost, AgentRequest, ToolReply, run_agent
from meta_mcp.services.agent.budget import Budget
from meta_mcp.services.agent.run_state import (
    STATE_VERSION,
    PendingCall,
    PendingRun,
    RequestState,
    ResumeRefused,
    SecretsStop,
    StateError,
    TraceCall,
    resume,
)
from meta_mcp.services.catalog.plan import NeedsSecrets, SecretNeed
from meta_mcp.services.state import MemoryStore
from meta_mcp.settings import Settings
from openai_stub import OpenAIStub, text, tool_calls

pytestmark = pytest.mark.anyio

KEY = "sk-unit-KEY-31d4-never-shown"
FORM = {"method": "elicitation/create", "params": {
    "message": "Server 'greeter' needs configuration.",
    "requestedSchema": {"type": "object", "properties": {"greeting": {"type": "string", "description": "How to greet"}},
                        "required": ["greeting"]}}}
TOOLS = [(name, {"description": name, "inputSchema": {"type": "object"}})
         for name in ("echo__echo", "add_server")]


@pytest.fixture(scope="module")
def stub() -> Any:
    server = OpenAIStub().start()
    yield server
    server.stop()


class FakeHost:
    """Plays the workspace: its tools and their replies, the client's capabilities, the store."""

    def __init__(self, stub: OpenAIStub | None, *, can_elicit: bool = False, can_sample: bool = False) -> None:
        url = {"agent_base_url": stub.url, "agent_model": "stub-model"} if stub else {"agent_base_url": ""}
        self.settings = Settings(_env_file=None, agent_api_key=KEY, agent_retry_backoff_s=0.05,
                                 openai_api_key="", openrouter_api_key="", agent_provider="auto", **url)
        self.store = MemoryStore()
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any] | None, str | None]] = []
        self.can_elicit, self.can_sample = can_elicit, can_sample

    def host(self, progress: list[str] | None = None) -> AgentHost:
        async def on_progress(p: float, total: float | None, message: str | None) -> None:
            if progress is not None:
                progress.append(message or "")

        return AgentHost(settings=self.settings, store=self.store, workspace="ws", tools=lambda servers: TOOLS,
                         call=self.call, progress=on_progress, can_elicit=self.can_elicit,
                         can_sample=self.can_sample)

    async def call(self, exposed: str, arguments: dict[str, Any], responses: dict[str, Any] | None,
                   state: str | None) -> ToolReply:
        self.calls.append((exposed, arguments, responses, state))
        if exposed == "echo__echo":
            return ToolReply({"content": [{"type": "text", "text": arguments.get("text", "")}]})
        if arguments.get("name") == "locked":
            needs = NeedsSecrets("locked", (SecretNeed("LOCKED_TOKEN", "locked.token", "The token"),))
            return ToolReply({"content": [{"type": "text", "text": needs.message}], "isError": True},
                             needs_secrets=needs)
        answer = (responses or {}).get("form")
        if answer is None:
            return ToolReply({"resultType": "input_required", "inputRequests": {"form": FORM},
                              "requestState": "inner-1"}, form_server="greeter")
        greeting = answer["content"]["greeting"]
        return ToolReply({"content": [{"type": "text", "text": f"Added 'greeter' ({greeting})"}]})

    async def chat(self, progress: list[str] | None = None, **request: Any) -> dict[str, Any]:
        return await run_agent(self.host(progress), AgentRequest(**request))

    async def record(self, cid: str) -> dict[str, Any]:
        found = await self.store.get_conversation("ws", cid)
        assert found is not None
        return found


def tool_results(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]


# -- typed state ------------------------------------------------------------------------------------


def _sample_run() -> PendingRun:
    run = PendingRun(provider="openai-compatible", model="m", servers=["echo"], budget=Budget(5, 60, 1000),
                     phase="tools", waiting="config", nonce="abc", events=7, answer="so far",
                     trace=[TraceCall(1, "echo__echo", True, 12)])
    run.begin_tools([{"id": f"c{i}", "function": {"name": "add_server", "arguments": "{}"}} for i in range(3)])
    run.calls[1].wait({"form": FORM}, "inner-1", "greeter")
    run.calls[2].finish("ERROR: locked", False)
    run.calls[2].secrets_stop = SecretsStop("set LOCKED_TOKEN", "locked",
                                            [{"env": "LOCKED_TOKEN", "name": "locked.token", "description": ""}])
    run.budget.steps, run.budget.prompt_tokens = 1, 40
    return run


def test_round_trip_through_json() -> None:
    run = _sample_run()
    state = json.loads(json.dumps(run.to_state()))
    assert state["version"] == STATE_VERSION == 1
    back = PendingRun.from_state(state)
    assert back.to_state() | {"budget": None} == state | {"budget": None}
    assert (back.budget.steps, back.budget.prompt_tokens, back.budget.max_steps) == (1, 40, 5)
    assert [c.status for c in back.calls] == ["pending", "waiting", "done"]
    assert back.calls[1] == run.calls[1] and back.calls[1].form == "form" and back.calls[1].server == "greeter"
    assert back.calls[2].secrets_stop == run.calls[2].secrets_stop and back.secrets_stop() is not None
    assert back.trace == [TraceCall(1, "echo__echo", True, 12)]
    call = PendingCall("c9", "echo__echo", '{"text": "x"}')
    assert PendingCall.from_state(json.loads(json.dumps(call.to_state()))) == call


@pytest.mark.parametrize("version", [None, 0, 2, "1"])
def test_unknown_versions_are_refused(version: Any) -> None:
    state = _sample_run().to_state()
    if version is None:
        del state["version"]
    else:
        state["version"] = version
    with pytest.raises(StateError, match=f"state version {version!r}.*reads version 1 only"):
        PendingRun.from_state(state)


def test_malformed_states_are_refused() -> None:
    state = _sample_run().to_state()
    for broken in ([], {**state, "phase": "dreaming"}, {**state, "calls": [{**state["calls"][0], "status": "x"}]},
                   {k: v for k, v in state.items() if k != "budget"}):
        with pytest.raises(StateError):
            PendingRun.from_state(broken)


def test_request_state_and_resume_rules() -> None:
    assert RequestState.parse(RequestState("conv-1", "n1").dump()) == RequestState("conv-1", "n1")
    for junk in ("not json", "[1]", json.dumps({"conversation": 5, "nonce": 7})):
        assert RequestState.parse(junk).nonce == "invalid"
    run = _sample_run()
    assert resume(run, RequestState("c", "abc"), "c") is run
    assert resume(run, None, "c") is run  # provided_config: waiting for config
    with pytest.raises(ResumeRefused, match="nothing to resume"):
        resume(run, RequestState("c", "old"), "c")
    with pytest.raises(ResumeRefused, match="nothing to resume"):
        resume(None, None, "c")
    run.waiting = "input"
    with pytest.raises(ResumeRefused, match="not waiting for configuration"):
        resume(run, None, "c")


def test_step_transitions() -> None:
    run = _sample_run()
    assert run.abandon() == [
        {"role": "tool", "tool_call_id": "c0", "content": "Not run: the conversation moved on."},
        {"role": "tool", "tool_call_id": "c1", "content": "Not run: the conversation moved on."},
        {"role": "tool", "tool_call_id": "c2", "content": "ERROR: locked"}]
    assert run.calls[1].answers({"c1|form": 1, "c10|form": 2, "c0|form": 3}) == {"form": 1}
    for call in run.calls:
        call.finish("ok", True)
    assert [m["content"] for m in run.end_tools()] == ["ok"] * 3
    assert run.phase == "model" and run.calls == []


# -- the loop, driven ------------------------------------------------------------------------------


async def test_pending_to_done_and_answer(stub: OpenAIStub) -> None:
    fake = FakeHost(stub)
    stub.script(tool_calls(("echo__echo", {"text": "hi"})), text("said hi"))
    progress: list[str] = []
    result = await fake.chat(progress, message="echo hi")
    d = result["structuredContent"]
    assert d["status"] == "complete" and d["answer"] == "said hi"
    assert d["trace"]["tool_calls"][0] | {"ms": 0} == {"step": 1, "name": "echo__echo", "ok": True, "ms": 0}
    assert tool_results(stub.requests[1]) == ["hi"]
    assert (await fake.record(d["conversation_id"]))["pending"] is None
    assert progress[-1] == "finished: complete" and KEY not in json.dumps(result)


async def test_interrupt_then_provided_config_resumes_the_waiting_call(stub: OpenAIStub) -> None:
    fake = FakeHost(stub)
    stub.script(tool_calls(("echo__echo", {"text": "first"}), ("add_server", {"name": "greeter"})))
    d = (await fake.chat(message="set up the greeter"))["structuredContent"]
    assert d["status"] == "interrupted" and d["interrupt"]["server"] == "greeter"
    assert d["interrupt"]["fields"] == [{"name": "greeting", "type": "string", "description": "How to greet",
                                         "required": True}]
    cid = d["conversation_id"]
    pending = (await fake.record(cid))["pending"]
    assert pending["version"] == 1 and pending["phase"] == "tools" and pending["waiting"] == "config"
    assert [c["status"] for c in pending["calls"]] == ["done", "waiting"]
    stub.script(text("greeter ready"))
    d = (await fake.chat(conversation_id=cid, provided_config={"greeting": "hej"}))["structuredContent"]
    assert d["status"] == "complete" and d["answer"] == "greeter ready"
    # only the waiting call ran again, with the form's answer and its own requestState
    assert [c[0] for c in fake.calls] == ["echo__echo", "add_server", "add_server"]
    assert fake.calls[-1][2:] == ({"form": {"action": "accept", "content": {"greeting": "hej"}}}, "inner-1")
    assert tool_results(stub.requests[0]) == ["first", "Added 'greeter' (hej)"]
    assert (await fake.record(cid))["pending"] is None
    again = await fake.chat(conversation_id=cid, provided_config={"greeting": "x"})
    assert again["isError"] and "nothing to resume" in again["content"][0]["text"]


async def test_input_passed_up_then_resumed_and_stale_nonce_refused(stub: OpenAIStub) -> None:
    fake = FakeHost(stub, can_elicit=True)
    stub.script(tool_calls(("add_server", {"name": "greeter"})))
    paused = await fake.chat(message="set up the greeter")
    assert paused["resultType"] == "input_required"
    (key,) = paused["inputRequests"]
    assert key.endswith("|form") and paused["inputRequests"][key] == FORM
    state = json.loads(paused["requestState"])
    pending = (await fake.record(state["conversation"]))["pending"]
    assert pending["waiting"] == "input" and pending["nonce"] == state["nonce"]
    stale = RequestState(state["conversation"], "0" * 16).dump()
    refused = await fake.chat(request_state=stale, input_responses={key: {"action": "accept"}})
    assert refused["isError"] and "nothing to resume" in refused["content"][0]["text"]
    by_config = await fake.chat(conversation_id=state["conversation"], provided_config={"greeting": "x"})
    assert by_config["isError"] and "not waiting for configuration" in by_config["content"][0]["text"]
    stub.script(text("done"))
    answer = {"action": "accept", "content": {"greeting": "hola"}}
    d = (await fake.chat(request_state=paused["requestState"], input_responses={key: answer}))["structuredContent"]
    assert d["status"] == "complete" and tool_results(stub.requests[0]) == ["Added 'greeter' (hola)"]
    replay = await fake.chat(request_state=paused["requestState"], input_responses={key: answer})
    assert replay["isError"] and "nothing to resume" in replay["content"][0]["text"]


async def test_new_message_abandons_a_paused_run(stub: OpenAIStub) -> None:
    fake = FakeHost(stub)
    stub.script(tool_calls(("echo__echo", {"text": "kept"}), ("add_server", {"name": "greeter"})))
    cid = (await fake.chat(message="set up the greeter"))["structuredContent"]["conversation_id"]
    stub.script(text("ok, something else"))
    d = (await fake.chat(conversation_id=cid, message="never mind"))["structuredContent"]
    assert d["status"] == "complete"
    roles = [(m["role"], m.get("content")) for m in stub.requests[0]["body"]["messages"] if m["role"] != "system"]
    assert roles[0] == ("user", "set up the greeter") and roles[1][0] == "assistant"
    assert roles[2:] == [("tool", "kept"), ("tool", "Not run: the conversation moved on."), ("user", "never mind")]
    assert [c[0] for c in fake.calls] == ["echo__echo", "add_server"]


async def test_needs_secrets_ends_the_run_with_structured_secrets(stub: OpenAIStub) -> None:
    fake = FakeHost(stub)
    stub.script(tool_calls(("add_server", {"name": "locked"})), text("never"))
    result = await fake.chat(message="use locked")
    d = result["structuredContent"]
    assert d["status"] == "needs_secrets" and "LOCKED_TOKEN" in d["answer"] and "isError" not in result
    assert d["server"] == "locked"
    assert d["secrets"] == [{"env": "LOCKED_TOKEN", "name": "locked.token", "description": "The token"}]
    assert len(stub.requests) == 1 and (await fake.record(d["conversation_id"]))["pending"] is None


async def test_unknown_saved_version_is_refused_clearly(stub: OpenAIStub) -> None:
    fake = FakeHost(stub)
    state = _sample_run().to_state() | {"version": 99}
    await fake.store.put_conversation("ws", "conv-old", {"messages": [], "pending": state})
    result = await fake.chat(conversation_id="conv-old", message="hello")
    assert result["isError"]
    assert "state version 99" in result["content"][0]["text"] and "conv-old" in result["content"][0]["text"]


async def test_sampling_pauses_in_the_model_phase_and_resumes() -> None:
    fake = FakeHost(None, can_sample=True)
    paused = await fake.chat(message="echo sampled")
    assert paused["resultType"] == "input_required" and list(paused["inputRequests"]) == ["sample"]
    state = json.loads(paused["requestState"])
    pending = (await fake.record(state["conversation"]))["pending"]
    assert (pending["phase"], pending["waiting"], pending["calls"]) == ("model", "sampling", [])
    call = json.dumps({"tool_calls": [{"name": "echo__echo", "arguments": {"text": "sampled"}}]})
    second = await fake.chat(request_state=paused["requestState"],
                             input_responses={"sample": {"role": "assistant", "model": "host",
                                                         "content": {"type": "text", "text": call}}})
    assert second["resultType"] == "input_required" and fake.calls[0][:2] == ("echo__echo", {"text": "sampled"})
    final = await fake.chat(request_state=second["requestState"],
                            input_responses={"sample": {"role": "assistant", "model": "host",
                                                        "content": {"type": "text", "text": "It said sampled."}}})
    d = final["structuredContent"]
    assert d["status"] == "complete" and d["answer"] == "It said sampled." and d["trace"]["provider"] == "sampling"
