"""Calls to a streamable-HTTP upstream on the lean path (`providers.lean_http`: POSTed from the caller's
task, a clean JSON answer taken as sent) answer exactly as through the SDK's transport.

A hand-written HTTP upstream (`tests/upstreams/raw_http.py`) answers well and badly; a real meta-mcp over
stdio calls it with the lean path on and off (`META_MCP_LEAN_CALLS`), and every case must come out the same:
a result as sent, an id echoed as a numeric string, a result that is not an object, a body that is not
JSON, a JSON-RPC error (passed through as the upstream's), an event stream with progress, and an upstream that dies mid-call (the call
fails naming the server, promptly; meta-mcp serves on).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import MCPError

from support import (StdioTarget, make_client, meta_mcp_stdio, stderr_log, text_of, upstream_entry, upstream_http,
                     wait_for_tools)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["lean", "sdk"])
async def meta(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    env = {"META_MCP_LEAN_CALLS": "1" if request.param == "lean" else "0"}
    async with upstream_http("raw_http") as url:
        servers = {"raw": {"url": str(url), "timeout": 20}, "echo": upstream_entry("echo")}
        with stderr_log("meta-mcp-lean-http-") as log:
            target = StdioTarget(meta_mcp_stdio(servers, env=env), log)
            async with make_client(target.transport(), "legacy") as client:
                await wait_for_tools(client, ["raw", "echo"], timeout=30)
                yield client


async def test_answers_come_out_as_through_the_sdk(meta: Any) -> None:
    ok = await meta.call_tool("raw__ok", {"text": "plain"})
    assert not ok.is_error and text_of(ok) == "plain"
    by_string = await meta.call_tool("raw__string_id", {"text": "string id"})
    assert not by_string.is_error and text_of(by_string) == "string id"
    for tool in ("raw__bad_result", "raw__not_json"):
        bad = await meta.call_tool(tool, {})
        assert bad.is_error and "'raw'" in text_of(bad), (tool, text_of(bad))
    with pytest.raises(MCPError, match="raw says no") as refused:  # the upstream's error, passed through
        await meta.call_tool("raw__error", {})
    assert refused.value.error.code == -32050
    again = await meta.call_tool("raw__ok", {"text": "still here"})
    assert text_of(again) == "still here"


async def test_an_event_stream_answer_carries_progress(meta: Any) -> None:
    seen: list[float] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        seen.append(value)

    result = await meta.call_tool("raw__sse", {"text": "streamed"}, progress_callback=progress)
    assert not result.is_error and text_of(result) == "streamed"
    assert seen == [1.0]


async def test_an_upstream_that_dies_mid_call_fails_that_call_only(meta: Any) -> None:
    with anyio.fail_after(15):  # promptly: not the server's 20 s timeout
        dead = await meta.call_tool("raw__die", {})
    assert dead.is_error and "'raw'" in text_of(dead), text_of(dead)
    alive = await meta.call_tool("echo__echo", {"text": "unaffected"})
    assert text_of(alive) == "unaffected"
