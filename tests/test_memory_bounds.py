"""meta-mcp's memory under the JSON decoding-cost attack, measured on a real process (issue 9).

Decoding `[{},{},…]` costs far more memory than its size (pydantic's `validate_json`, which the SDK
and meta-mcp use: up to ~450 bytes per `{`, `[`, `,` or `:`). Unbounded, a 30 MB upstream result
took meta-mcp to 3.5 GB and a 60 MB client line to 4.4 GB. Each message is now bounded in size
(`max_message_bytes`, `max_upstream_message_bytes`, 16 MiB by default) and in containers and
elements (one per 64 bytes of the limit), checked before parsing. This drives meta-mcp over stdio
with an upstream (`tests/upstreams/raw.py`) that answers with the attack shape, sends such lines
itself, and reads meta-mcp's peak RSS (`VmHWM`): it must stay under the bound the README documents,
every attack gets a clear error, and a normal call works afterwards.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from support import upstream_entry
from test_proxy_stdio_wire import RawStdio, raw_meta

pytestmark = pytest.mark.anyio

PEAK_RSS_BOUND = 500 * 1024 * 1024
"""The README's bound on meta-mcp's peak RSS under any single message of this kind (default limits)."""
MIB = 1024 * 1024
LIMIT = 16 * MIB  # the default max_message_bytes and max_upstream_message_bytes


class Calls:
    """tools/call over a `RawStdio`, with fresh ids."""

    def __init__(self, raw: RawStdio) -> None:
        self.raw = raw
        self._id = 1000

    async def __call__(self, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        self._id += 1
        resp = await self.raw.request(self._id, "tools/call", {"name": tool, "arguments": arguments or {}}, timeout=60)
        assert "result" in resp, resp
        return resp["result"]

    async def ok(self) -> None:
        """A normal call to the upstream works (waiting for it to be restarted if it was)."""
        with anyio.fail_after(30):
            while (result := await self("raw__ok")).get("isError"):
                await anyio.sleep(0.2)
        assert _text(result).startswith("raw-ok"), result


def _text(result: dict[str, Any]) -> str:
    return "\n".join(c.get("text", "") for c in result.get("content", []))


def attack_line(size: int) -> bytes:
    """A tools/call whose arguments are `[{},{},…]`, about `size` bytes in all."""
    head = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"raw__ok","arguments":{"a":['
    tail = b"]}}}\n"
    return head + b",".join([b"{}"] * ((size - len(head) - len(tail)) // 3)) + tail


async def test_peak_rss_stays_bounded_under_decoding_cost_attacks() -> None:
    async with raw_meta({"raw": upstream_entry("raw", timeout=60)}) as raw:
        await raw.initialize()
        call = Calls(raw)
        await call.ok()
        peaks = {"start": raw.peak_rss()}

        # An upstream result of 30 MB `[{},…]` (10 M objects): over the size limit.
        result = await call("raw__shape", {"count": 10_000_000})
        assert result.get("isError") and "'raw'" in _text(result), result
        assert "max_upstream_message_bytes" in _text(result), _text(result)
        await call.ok()
        peaks["upstream 30 MB"] = raw.peak_rss()

        # 15 MB: under the size limit, over the element bound (5 M objects; 262,144 allowed).
        result = await call("raw__shape", {"count": 5_000_000})
        assert result.get("isError") and "max_upstream_message_bytes" in _text(result), _text(result)
        assert "containers and elements" in _text(result), _text(result)
        await call.ok()
        peaks["upstream 15 MB"] = raw.peak_rss()

        # One 60 MB client line of that shape: over max_message_bytes; answered, and the server lives on.
        await raw.send_raw(attack_line(60 * MIB))
        resp = await raw.next_response(30, what="a 60 MB line")
        assert resp["error"]["code"] == -32700 and "max_message_bytes" in resp["error"]["message"], resp
        await call.ok()
        peaks["client 60 MB"] = raw.peak_rss()

        # 15 MB: under the size limit, over the element bound.
        await raw.send_raw(attack_line(15 * MIB))
        resp = await raw.next_response(30, what="a 15 MB line")
        assert resp["error"]["code"] == -32700 and "containers and elements" in resp["error"]["message"], resp
        await call.ok()
        peaks["client 15 MB"] = raw.peak_rss()

        # The most a message may cost and still be accepted: the costliest shape up to the element bound,
        # padded with a string to just under the size limit; meta-mcp decodes it and passes it on.
        count = (LIMIT // 64) // 6 - 100  # `{"a":{"b":[]}}` and its comma: six structural characters
        result = await call("raw__shape", {"count": count, "element": '{"a":{"b":[]}}', "pad": LIMIT - 1_000_000})
        assert not result.get("isError"), _text(result)[:500]
        assert len(result["structuredContent"]["items"]) == count
        peaks["accepted at the limits"] = raw.peak_rss()
        await call.ok()

        report = ", ".join(f"{what}: {rss / MIB:.0f} MiB" for what, rss in peaks.items())
        print(f"\nmeta-mcp peak RSS (VmHWM) after each step: {report}")
        assert raw.peak_rss() < PEAK_RSS_BOUND, f"{report}\n{raw.stderr_text()[-3000:]}"
        assert raw.proc.returncode is None
