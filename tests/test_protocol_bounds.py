"""Bounds on one inbound JSON-RPC message, through a real meta-mcp over stdio (issue 9).

With `META_MCP_MAX_MESSAGE_BYTES` and `META_MCP_MAX_UPSTREAM_MESSAGE_BYTES` at 1,000,000 (so at most
15,625 JSON containers and elements outside strings per message):
- a client line over the size or over the element count gets -32700 naming `max_message_bytes` (it is
  refused unparsed), and meta-mcp keeps serving;
- an upstream answer over either, from a stdio server, a streamable-HTTP server or a legacy SSE
  server, fails the call with a tool error naming the server and `max_upstream_message_bytes`, and
  the server is usable again afterwards;
- a message full of `{`, `[`, `,` and `:` inside strings (escaped quotes included) is not what the
  element bound counts: it passes both ways.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from support import upstream_entry, upstream_http
from test_proxy_stdio_wire import RawStdio, raw_meta

pytestmark = pytest.mark.anyio

LIMIT = 1_000_000
ENV = {"META_MCP_MAX_MESSAGE_BYTES": str(LIMIT), "META_MCP_MAX_UPSTREAM_MESSAGE_BYTES": str(LIMIT)}
STRUCTURED_TEXT = 'a,b:"{c}[d]\\' * 20_000
"""240 KB of string, a third of it `{`, `[`, `,` and `:`, with quotes and backslashes to escape."""


@pytest.fixture(scope="module")
async def meta() -> AsyncIterator[RawStdio]:
    async with upstream_http("shapes") as http_url, upstream_http("shapes", transport="sse") as sse_url:
        servers = {"rich": upstream_entry("rich"), "raw": upstream_entry("raw", timeout=30),
                   "shttp": {"url": str(http_url)}, "ssse": {"url": str(sse_url), "transport": "sse"}}
        async with raw_meta(servers, env=ENV) as raw:
            await raw.initialize()
            call = Call(raw)
            with anyio.fail_after(30):
                while not {"rich__echo", "raw__ok", "shttp__ok", "ssse__ok"} <= await call.tool_names():
                    await anyio.sleep(0.1)
            yield raw


class Call:
    def __init__(self, raw: RawStdio) -> None:
        self.raw = raw

    def _next_id(self) -> int:
        self.raw.last_id = getattr(self.raw, "last_id", 1000) + 1
        return self.raw.last_id

    async def tool_names(self) -> set[str]:
        return {t["name"] for t in (await self.raw.request(self._next_id(), "tools/list", {}))["result"]["tools"]}

    async def __call__(self, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = await self.raw.request(self._next_id(), "tools/call", {"name": tool, "arguments": arguments or {}},
                                      timeout=40)
        assert "result" in resp, resp
        return resp["result"]

    async def until_ok(self, tool: str) -> dict[str, Any]:
        """`tool`'s result once it is not an error (its server may be restarting)."""
        with anyio.fail_after(30):
            while (result := await self(tool)).get("isError"):
                await anyio.sleep(0.2)
        return result


def _text(result: dict[str, Any]) -> str:
    return "\n".join(c.get("text", "") for c in result.get("content", []))


async def test_a_client_message_over_the_limits_is_answered_and_meta_mcp_serves_on(meta: RawStdio) -> None:
    call = Call(meta)
    big = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "rich__echo", "arguments": {"value": "x" * (LIMIT + 10)}}})
    await meta.send_raw(big.encode() + b"\n")
    resp = await meta.next_response(what="a line over max_message_bytes")
    err = resp["error"]
    assert err["code"] == -32700 and resp["id"] is None, resp
    assert "max_message_bytes" in err["message"] and "1,000,000 bytes" in err["message"], err

    many = b'{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"rich__echo","arguments":{"value":[' \
        + b",".join([b"{}"] * 20_000) + b"]}}}\n"
    await meta.send_raw(many)
    resp = await meta.next_response(what="a line over the element bound")
    err = resp["error"]
    assert err["code"] == -32700 and resp["id"] is None, resp
    assert "containers and elements" in err["message"] and "15,625" in err["message"], err
    assert "max_message_bytes" in err["message"], err

    result = await call("rich__echo", {"value": STRUCTURED_TEXT})  # structure inside strings does not count
    assert result["structuredContent"] == {"value": STRUCTURED_TEXT}, _text(result)[:300]
    assert meta.proc.returncode is None


@pytest.mark.parametrize("server", ["raw", "shttp", "ssse"])
async def test_an_upstream_answer_over_the_limits_is_a_tool_error_naming_server_and_limit(
        meta: RawStdio, server: str) -> None:
    call = Call(meta)
    for arguments, why in [({"pad": 2 * LIMIT}, "bytes"), ({"count": 20_000}, "containers and elements")]:
        with anyio.fail_after(20):  # at once, not after the call timeout
            result = await call(f"{server}__shape", arguments)
        text = _text(result)
        assert result.get("isError"), text[:300]
        assert f"'{server}'" in text and "max_upstream_message_bytes" in text and why in text, text
        await call.until_ok(f"{server}__ok")

    result = await call(f"{server}__shape", {"count": 1000})  # within the limits
    assert not result.get("isError") and len(result["structuredContent"]["items"]) == 1000, _text(result)[:300]


async def test_structure_inside_strings_passes_from_an_upstream(meta: RawStdio) -> None:
    result = await Call(meta)("rich__echo", {"value": STRUCTURED_TEXT})
    assert not result.get("isError"), _text(result)[:300]
    assert json.loads(_text(result)) == STRUCTURED_TEXT
