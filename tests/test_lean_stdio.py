"""Calls to a stdio upstream on the lean path (`process._Pipe`: written from the caller's task, a plain
success taken as sent) answer exactly as through the SDK's dispatcher.

A hand-written stdio upstream (`tests/upstreams/raw_stdio.py`) answers well and badly; a real meta-mcp
over stdio calls it with the lean path on and off (`META_MCP_LEAN_CALLS`), and every case must come out
the same: a result as sent, an id echoed as a numeric string, a result that is not an object, a JSON-RPC
error (passed through as the upstream's), progress and a log message written in the same read as the
result (both reach the caller, before its result), and an upstream that dies mid-call (the call fails
naming the server, promptly; meta-mcp serves on).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import MCPError

from support import StdioTarget, make_client, meta_mcp_stdio, stderr_log, text_of, upstream_entry, wait_for_tools

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["lean", "sdk"])
async def meta(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, list[Any]]]:
    env = {"META_MCP_LEAN_CALLS": "1" if request.param == "lean" else "0"}
    logs: list[Any] = []

    async def on_log(params: Any) -> None:
        logs.append(params)

    servers = {"raw": upstream_entry("raw_stdio", timeout=20), "echo": upstream_entry("echo")}
    with stderr_log("meta-mcp-lean-stdio-") as log:
        target = StdioTarget(meta_mcp_stdio(servers, env=env), log)
        async with make_client(target.transport(), "legacy", logging_callback=on_log) as client:
            await wait_for_tools(client, ["raw", "echo"], timeout=30)
            yield client, logs


async def test_answers_come_out_as_through_the_sdk(meta: tuple[Any, list[Any]]) -> None:
    client, _ = meta
    ok = await client.call_tool("raw__ok", {"text": "plain"})
    assert not ok.is_error and text_of(ok) == "plain"
    by_string = await client.call_tool("raw__string_id", {"text": "string id"})
    assert not by_string.is_error and text_of(by_string) == "string id"
    bad = await client.call_tool("raw__bad_result", {})
    assert bad.is_error and "'raw'" in text_of(bad), text_of(bad)
    with pytest.raises(MCPError, match="raw says no") as refused:  # the upstream's error, passed through
        await client.call_tool("raw__error", {})
    assert refused.value.error.code == -32050
    again = await client.call_tool("raw__ok", {"text": "still here"})
    assert text_of(again) == "still here"


async def test_progress_and_a_log_in_the_same_read_come_before_the_result(meta: tuple[Any, list[Any]]) -> None:
    client, logs = meta
    seen: list[float] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        seen.append(value)

    for round_ in range(5):
        result = await client.call_tool("raw__noisy", {"text": f"round {round_}"}, progress_callback=progress)
        assert not result.is_error and text_of(result) == f"round {round_}"
        assert seen == [1.0] * (round_ + 1)
        assert [entry.data for entry in logs][-1:] == [f"about round {round_}"], logs


async def test_an_upstream_that_dies_mid_call_fails_that_call_only(meta: tuple[Any, list[Any]]) -> None:
    client, _ = meta
    with anyio.fail_after(15):  # promptly: not the server's 20 s timeout
        dead = await client.call_tool("raw__die", {})
    assert dead.is_error and "'raw'" in text_of(dead), text_of(dead)
    alive = await client.call_tool("echo__echo", {"text": "unaffected"})
    assert text_of(alive) == "unaffected"
