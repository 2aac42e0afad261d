"""Call interceptors apply on every call path: a client's tools/call, the call_tool meta tool and
run_code's bridge all pass through them, in order, with the routed call and the caller's context."""

from __future__ import annotations

from typing import Any

import pytest
from support import text_of

from meta_mcp.providers.base import tool_error
from meta_mcp.registry.interceptors import Proceed, ToolCall

from .harness import Env

pytestmark = pytest.mark.anyio


async def test_an_interceptor_sees_every_path_and_can_refuse(env: Env) -> None:
    seen: list[tuple[str, str, str, str]] = []

    async def audit(call: ToolCall, proceed: Proceed) -> dict[str, Any]:
        seen.append((call.name, call.server, call.tool, call.call.origin))
        return await proceed()

    async def deny_add(call: ToolCall, proceed: Proceed) -> dict[str, Any]:
        if call.tool == "add":
            return tool_error(f"{call.name} is denied by policy")
        return await proceed()

    env.workspaces.interceptors.extend([audit, deny_add])  # added after the workspace exists: still applies
    env.upstreams.define("alpha", tools=["echo", "add"])
    await env.add("alpha")
    async with env.client("auto") as client:
        direct = await client.call_tool("alpha__add", {})
        via_meta = await client.call_tool("call_tool", {"name": "alpha__add", "arguments": {}})
        allowed = await client.call_tool("alpha__echo", {"text": "hi"})
    assert direct.is_error and "denied by policy" in text_of(direct)
    assert via_meta.is_error and "denied by policy" in text_of(via_meta)
    assert not allowed.is_error
    assert env.upstreams.last("alpha").calls == [("tool", "echo", {"text": "hi"})]  # the denied never reached it
    assert ("alpha__add", "alpha", "add", "stdio") in seen
    assert ("call_tool", "meta-mcp", "call_tool", "stdio") in seen  # the meta tool itself passes too
