"""agent_chat without a configured model: the host's model through MCP sampling, or a precise error.

meta-mcp runs as a real HTTP process with no provider settings; the client's sampling callback
plays the host's model (first a JSON tool call, then the answer). Also: history truncation never
splits a tool call from its result (unit test of `conversation.truncate`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp_types import CreateMessageRequestParams, CreateMessageResult, TextContent

from meta_mcp.services.agent.conversation import truncate
from support import MODES, make_client, meta_mcp_http, upstream_entry

pytestmark = pytest.mark.anyio

NO_MODEL = {"OPENAI_API_KEY": "", "OPENROUTER_API_KEY": "", "META_MCP_AGENT_BASE_URL": "",
            "META_MCP_AGENT_PROVIDER": "auto"}


@pytest.fixture(scope="module")
async def meta() -> Any:
    async with meta_mcp_http({"echo": upstream_entry("echo")}, env=NO_MODEL) as url:
        yield url


@pytest.mark.parametrize("mode", MODES)
async def test_sampling_runs_the_loop_on_the_hosts_model(meta: Any, mode: str) -> None:
    asked: list[CreateMessageRequestParams] = []

    async def sample(context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
        asked.append(params)
        if len(asked) == 1:
            reply = json.dumps({"tool_calls": [{"name": "echo__echo", "arguments": {"text": "sampled"}}]})
        else:
            reply = "The echo said sampled."
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text=reply), model="host")

    progress: list[str] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with make_client(str(meta), mode, sampling_callback=sample) as client:
        result = await client.call_tool("agent_chat", {"message": "Echo 'sampled'"}, progress_callback=on_progress)
    d = result.structured_content
    assert d is not None and d["status"] == "complete", result
    assert d["answer"] == "The echo said sampled." and d["trace"]["provider"] == "sampling"
    assert [c["name"] for c in d["trace"]["tool_calls"]] == ["echo__echo"]
    assert len(asked) == 2
    assert "echo__echo" in (asked[0].system_prompt or "")  # tools described in the prompt
    last = asked[1].messages[-1].content
    assert "sampled" in getattr(last, "text", str(last))  # the tool result went back to the model


async def test_no_model_and_no_sampling_names_what_to_set(meta: Any) -> None:
    async with make_client(str(meta)) as client:
        result = await client.call_tool("agent_chat", {"message": "hi"})
    assert result.is_error
    message = result.content[0].text
    for name in ("OPENAI_API_KEY", "OPENROUTER_API_KEY", "META_MCP_AGENT_BASE_URL", "sampling"):
        assert name in message
    async with make_client(str(meta)) as client:
        result = await client.call_tool("agent_chat", {"message": "hi", "provider": "openrouter"})
    assert result.is_error and "OPENROUTER_API_KEY" in result.content[0].text


def _call(cid: str) -> dict[str, Any]:
    return {"role": "assistant", "content": "", "tool_calls": [
        {"id": cid, "type": "function", "function": {"name": "t", "arguments": "{}"}}]}


def test_truncation_never_splits_a_tool_call_from_its_result() -> None:
    history = [{"role": "user", "content": "a"}, _call("c1"), {"role": "tool", "tool_call_id": "c1", "content": "r"},
               {"role": "tool", "tool_call_id": "c1", "content": "r2"}, {"role": "assistant", "content": "done"},
               {"role": "user", "content": "b"}]
    assert truncate(history, max_messages=10, max_chars=10**6) == history
    assert truncate(history, max_messages=3, max_chars=10**6) == history[4:]  # index 3 would orphan results
    assert truncate(history, max_messages=5, max_chars=10**6) == history[1:]  # the call and both results
    assert truncate(history, max_messages=1, max_chars=10**6) == history[5:]
    for n in range(1, 7):
        kept = truncate(history, max_messages=n, max_chars=10**6)
        assert kept and kept[0]["role"] != "tool"
    only = [_call("c9"), {"role": "tool", "tool_call_id": "c9", "content": "x" * 5000}]
    assert truncate(only, max_messages=1, max_chars=100) == only  # the newest turn survives whole
