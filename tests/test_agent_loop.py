"""agent_chat against a scripted OpenAI-compatible server over real HTTP (the real `openai` SDK).

meta-mcp runs as a real HTTP process with the echo and rich upstreams and a test catalog; the stub
(`tests/openai_stub.py`) replays model replies and records what the SDK sent. Covered: tool calls,
parallel calls, streaming and non-streaming replies, HTTP errors and retries, malformed arguments and
unknown tools, budgets, conversations, servers filter, progress notifications, configuration
interrupt + resume, elicitation in the same call, missing secrets, and keys never leaking.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp_types import ElicitRequestParams, ElicitResult

from openai_stub import OpenAIStub, error, text, tool_calls
from support import MODES, REPO, make_client, meta_mcp_http, upstream_entry

pytestmark = pytest.mark.anyio

KEY = "sk-test-KEY-8c1f2e9d77aa-never-shown"


@pytest.fixture(scope="module")
def stub() -> Any:
    server = OpenAIStub().start()
    yield server
    server.stop()


def _catalog(path: Path) -> Path:
    rich = {"command": sys.executable, "args": [str(REPO / "tests/upstreams/rich.py")]}
    greeters = {  # config is stored per workspace once given: one entry per test that asks for it
        name: {"title": "Greeter (test)", "description": "A test upstream that needs a greeting.",
               "type": "server", "run": {**rich, "env": {"GREETING": "{{" + name + ".greeting}}"}},
               "config": [{"name": name, "type": "object",
                           "properties": {"greeting": {"type": "string", "description": "How to greet"}},
                           "required": ["greeting"]}]}
        for name in ("greeter", "greeter-auto", "greeter-legacy")
    }
    path.write_text(yaml.safe_dump({"registry": {
        **greeters,
        "locked": {"title": "Locked (test)", "description": "Needs a secret nobody set.", "type": "server",
                   "run": rich, "secrets": [{"name": "locked.token", "env": "LOCKED_TOKEN_UNSET",
                                             "description": "The locked token"}]},
    }}))
    return path


def agent_env(stub: OpenAIStub, **extra: str) -> dict[str, str]:
    return {"META_MCP_AGENT_BASE_URL": stub.url, "META_MCP_AGENT_MODEL": "stub-model", "META_MCP_AGENT_API_KEY": KEY,
            "META_MCP_AGENT_RETRY_BACKOFF_S": "0.05", "OPENAI_API_KEY": "", "OPENROUTER_API_KEY": "", **extra}


@pytest.fixture(scope="module")
async def meta(stub: OpenAIStub, tmp_path_factory: pytest.TempPathFactory) -> Any:
    catalog = _catalog(tmp_path_factory.mktemp("agent") / "catalog.yaml")
    servers = {"echo": upstream_entry("echo"), "rich": upstream_entry("rich")}
    async with meta_mcp_http(servers, "--catalog", str(catalog), env=agent_env(stub), log_level="DEBUG") as url:
        yield url


class Progress:
    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.events.append((progress, message or ""))

    @property
    def messages(self) -> list[str]:
        return [m for _, m in self.events]


async def chat(url: str, mode: str = "auto", progress: Progress | None = None, client_kwargs: dict | None = None,
               **args: Any) -> Any:
    async with make_client(str(url), mode, **(client_kwargs or {})) as client:
        return await client.call_tool("agent_chat", args, progress_callback=progress)


def data(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return result.structured_content


def no_key(*texts: Any) -> None:
    for t in texts:
        assert KEY not in str(t)


@pytest.mark.parametrize("mode", MODES)
async def test_tool_call_then_answer_streaming(meta: Any, stub: OpenAIStub, mode: str) -> None:
    stub.script(tool_calls(("echo__echo", {"text": "hi there"})), text("The echo said: hi there"))
    progress = Progress()
    result = await chat(meta, mode, progress, message="Echo 'hi there'")
    d = data(result)
    assert d["status"] == "complete" and d["answer"] == "The echo said: hi there"
    assert result.content[0].text.startswith("The echo said: hi there")
    assert d["trace"]["steps"] == 2
    assert [(c["name"], c["ok"]) for c in d["trace"]["tool_calls"]] == [("echo__echo", True)]
    assert d["trace"]["usage"] == {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}
    first, second = stub.requests
    assert first["body"]["stream"] is True and first["body"]["model"] == "stub-model"
    assert first["headers"]["authorization"] == f"Bearer {KEY}"
    names = {t["function"]["name"] for t in first["body"]["tools"]}
    assert {"echo__echo", "rich__get_weather", "find_servers", "add_server", "remove_server", "run_code"} <= names
    assert not names & {"agent_chat", "call_tool", "configure_server"}
    tool_msg = [m for m in second["body"]["messages"] if m["role"] == "tool"]
    assert tool_msg and tool_msg[0]["content"] == "hi there"
    assert progress.events and [p for p, _ in progress.events] == sorted(p for p, _ in progress.events)
    assert any("calling tool echo__echo" in m for m in progress.messages), progress.messages
    no_key(result, progress.messages)


async def test_parallel_tool_calls_run_concurrently(meta: Any, stub: OpenAIStub) -> None:
    stub.script(tool_calls(("rich__get_weather", {"city": "Oslo"}), ("rich__get_weather", {"city": "Lima"})),
                text("Oslo and Lima"))
    progress = Progress()
    d = data(await chat(meta, progress=progress, message="Weather in Oslo and Lima?"))
    assert d["status"] == "complete" and len(d["trace"]["tool_calls"]) == 2
    msgs = progress.messages
    calling = [i for i, m in enumerate(msgs) if "calling tool rich__get_weather" in m]
    done = [i for i, m in enumerate(msgs) if "tool rich__get_weather done" in m]
    assert len(calling) == 2 and len(done) == 2 and max(calling) < min(done), msgs
    results = [m for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"]
    assert len(results) == 2 and "Oslo" in results[0]["content"] and "Lima" in results[1]["content"]


async def test_rate_limit_and_server_errors_are_retried(meta: Any, stub: OpenAIStub) -> None:
    stub.script(error(429, "slow down", headers={"retry-after": "0"}), error(503, "overloaded"), text("made it"))
    progress = Progress()
    d = data(await chat(meta, progress=progress, message="hello"))
    assert d["status"] == "complete" and d["answer"] == "made it" and len(stub.requests) == 3
    assert any("HTTP 429" in m and "retry 1" in m for m in progress.messages), progress.messages
    assert any("HTTP 503" in m and "retry 2" in m for m in progress.messages), progress.messages


async def test_http_error_ends_the_run_without_leaking_the_key(meta: Any, stub: OpenAIStub) -> None:
    stub.script(error(401, f"Incorrect API key provided: {KEY}"))
    progress = Progress()
    result = await chat(meta, progress=progress, message="hello")
    assert result.is_error and data(result)["status"] == "error"
    assert "HTTP 401" in result.content[0].text and "***" in result.content[0].text
    no_key(result, progress.messages, meta.stderr_text())
    assert len(stub.requests) == 1  # not retried


async def test_malformed_arguments_and_unknown_tools_go_back_to_the_model(meta: Any, stub: OpenAIStub) -> None:
    stub.script(tool_calls(("echo__echo", "{not json"), ("no_such_tool", {}), ("agent_chat", {"message": "x"})),
                text("recovered"))
    d = data(await chat(meta, message="try"))
    assert d["status"] == "complete" and d["answer"] == "recovered"
    results = [m["content"] for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"]
    assert "not valid JSON" in results[0]
    assert "Unknown tool 'no_such_tool'" in results[1]
    assert "Unknown tool 'agent_chat'" in results[2]  # no recursion


async def test_step_budget(meta: Any, stub: OpenAIStub) -> None:
    stub.script(*[tool_calls(("echo__echo", {"text": f"{i}"}), content=f"working {i}") for i in range(3)])
    result = await chat(meta, message="loop", max_steps=2)
    d = data(result)
    assert d["status"] == "limit" and d["limit"] == "steps" and d["trace"]["steps"] == 2
    assert d["answer"] == "working 1" and "steps limit" in result.content[0].text
    assert len(d["trace"]["tool_calls"]) == 2


async def test_token_budget(meta: Any, stub: OpenAIStub) -> None:
    stub.script(tool_calls(("echo__echo", {"text": "a"}), usage=(15, 10)), text("never"))
    d = data(await chat(meta, message="tokens", max_tokens=20))
    assert d["status"] == "limit" and d["limit"] == "tokens" and d["trace"]["usage"]["total_tokens"] == 25
    assert len(stub.requests) == 1


async def test_time_budget(meta: Any, stub: OpenAIStub) -> None:
    stub.script(text("too late", delay=5))
    d = data(await chat(meta, message="slow", timeout_s=0.5))
    assert d["status"] == "limit" and d["limit"] == "time" and d["trace"]["elapsed_s"] < 3


async def test_conversation_continues_and_servers_filter(meta: Any, stub: OpenAIStub) -> None:
    stub.script(text("Nice to meet you, Ada."))
    first = data(await chat(meta, message="My name is Ada.", servers=["echo"]))
    tools = {t["function"]["name"] for t in stub.requests[0]["body"]["tools"]}
    assert "echo__echo" in tools and not any(t.startswith("rich__") for t in tools) and "add_server" in tools
    stub.script(text("Your name is Ada."))
    second = data(await chat(meta, message="What is my name?", conversation_id=first["conversation_id"]))
    assert second["conversation_id"] == first["conversation_id"]
    sent = [(m["role"], m["content"]) for m in stub.requests[0]["body"]["messages"] if m["role"] != "system"]
    assert sent == [("user", "My name is Ada."), ("assistant", "Nice to meet you, Ada."),
                    ("user", "What is my name?")]


async def test_configuration_interrupt_and_resume(meta: Any, stub: OpenAIStub) -> None:
    stub.script(tool_calls(("add_server", {"name": "greeter"})))
    progress = Progress()
    result = await chat(meta, "legacy", progress, message="Set up the greeter")
    d = data(result)
    assert d["status"] == "interrupted" and not result.is_error
    interrupt = d["interrupt"]
    assert interrupt["server"] == "greeter" and interrupt["tool"] == "add_server"
    assert interrupt["fields"] == [{"name": "greeting", "type": "string", "description": "How to greet",
                                    "required": True}]
    assert interrupt["conversation_id"] == d["conversation_id"] and "provided_config" in result.content[0].text
    stub.script(tool_calls(("greeter__environment", {"names": ["GREETING"]})), text("Greeting is hej"))
    resumed = data(await chat(meta, conversation_id=d["conversation_id"], provided_config={"greeting": "hej"}))
    assert resumed["status"] == "complete" and resumed["answer"] == "Greeting is hej"
    messages = stub.requests[0]["body"]["messages"]
    assert "Added 'greeter'" in [m for m in messages if m["role"] == "tool"][0]["content"]
    assert "hej" in [m for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"][-1]["content"]
    # the run resumed where it stopped: the same conversation, one add_server call, no new user message
    assert [m["role"] for m in messages if m["role"] == "user"] == ["user"]
    again = await chat(meta, conversation_id=d["conversation_id"], provided_config={"greeting": "x"})
    assert again.is_error and "nothing to resume" in again.content[0].text
    async with make_client(str(meta)) as client:
        await client.call_tool("remove_server", {"name": "greeter"})


@pytest.mark.parametrize("mode", MODES)
async def test_missing_config_is_elicited_in_the_same_call(meta: Any, stub: OpenAIStub, mode: str) -> None:
    asked: list[Any] = []

    async def elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"greeting": "hola"})

    name = f"greeter-{mode}"
    stub.script(tool_calls(("add_server", {"name": name})),
                tool_calls((f"{name}__environment", {"names": ["GREETING"]})), text("Greeting is hola"))
    result = await chat(meta, mode, client_kwargs={"elicitation_callback": elicit}, message="Set up the greeter")
    d = data(result)
    assert d["status"] == "complete" and d["answer"] == "Greeting is hola", result
    assert len(asked) == 1
    assert "hola" in [m for m in stub.requests[2]["body"]["messages"] if m["role"] == "tool"][-1]["content"]
    async with make_client(str(meta)) as client:
        await client.call_tool("remove_server", {"name": name})


async def test_missing_secret_stops_with_instructions_and_is_never_asked(meta: Any, stub: OpenAIStub) -> None:
    asked: list[Any] = []

    async def elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="decline")

    stub.script(tool_calls(("add_server", {"name": "locked"})), text("should not be reached"))
    result = await chat(meta, client_kwargs={"elicitation_callback": elicit}, message="Use the locked server")
    d = data(result)
    assert d["status"] == "needs_secrets" and "LOCKED_TOKEN_UNSET" in d["answer"] and asked == []
    assert len(stub.requests) == 1


async def test_non_streaming_replies(stub: OpenAIStub) -> None:
    env = agent_env(stub, META_MCP_AGENT_STREAM="false")
    async with meta_mcp_http({"echo": upstream_entry("echo")}, env=env) as url:
        stub.script(tool_calls(("echo__echo", {"text": "plain"})), text("done plain"))
        d = data(await chat(url, message="echo plain"))
        assert d["status"] == "complete" and d["answer"] == "done plain"
        assert "stream" not in stub.requests[0]["body"] or stub.requests[0]["body"]["stream"] is False
        assert [m["content"] for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"] == ["plain"]
