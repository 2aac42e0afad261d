"""A long upstream job that keeps reporting progress is not cut off at the call timeout (`providers/deadline.py`).

Through a real meta-mcp over stdio, in front of `tests/upstreams/gated.py` (server timeout 2 s), on the lean
call path and on the SDK's (`META_MCP_LEAN_CALLS=false`):
- `ticks` reports progress every 0.25 s for 4 s: with a progress callback the call succeeds and every
  report reaches the client, in order;
- the same call without a progress callback (so none is asked of the server) times out after 2 s, saying so;
- with `META_MCP_CALL_MAX_TIMEOUT=3` the same call with progress times out at the maximum, saying that it
  was the limit in all; meta-mcp and the server keep answering afterwards.
The margins are wide (a report every 0.25 s against a 2 s wait), so a busy machine does not flip them.
"""

from __future__ import annotations

from typing import Any

import pytest
from support import make_client, meta_mcp_stdio, stderr_log, text_of, upstream_entry, wait_for_tools
from support.clients import StdioTarget

pytestmark = pytest.mark.anyio

TICKS = {"count": 16, "every_ms": 250}  # 4 s of work, a report every 0.25 s
CONFIG = {"gated": upstream_entry("gated", timeout=2)}


async def _call(env: dict[str, str], progress: bool) -> tuple[Any, list[float], Any]:
    """Call gated__ticks through a fresh meta-mcp; (result, progress seen, the result of a call after it)."""
    seen: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        seen.append(value)

    with stderr_log("meta-mcp-deadline-") as log:
        target = StdioTarget(meta_mcp_stdio(CONFIG, env=env), log)
        async with make_client(target.transport(), "legacy") as client:
            await wait_for_tools(client, ["gated"], timeout=30)
            result = await client.call_tool("gated__ticks", TICKS, progress_callback=on_progress if progress else None)
            after = await client.call_tool("gated__ticks", {"count": 1, "every_ms": 1})
    return result, seen, after


@pytest.mark.parametrize("lean", ["true", "false"], ids=["lean", "sdk"])
async def test_progress_keeps_a_long_call_alive(lean: str) -> None:
    result, seen, _ = await _call({"META_MCP_LEAN_CALLS": lean}, progress=True)
    assert not result.is_error, text_of(result)
    assert text_of(result) == "ticked 16"
    assert seen == [float(i) for i in range(1, 17)]


@pytest.mark.parametrize("lean", ["true", "false"], ids=["lean", "sdk"])
async def test_without_progress_the_call_timeout_holds(lean: str) -> None:
    result, _, after = await _call({"META_MCP_LEAN_CALLS": lean}, progress=False)
    assert result.is_error
    assert "'gated' timed out: no answer to tools/call 'ticks' within 2 s;" in text_of(result)
    assert text_of(after) == "ticked 1"


@pytest.mark.parametrize("lean", ["true", "false"], ids=["lean", "sdk"])
async def test_progress_extends_the_wait_only_up_to_the_maximum(lean: str) -> None:
    result, seen, after = await _call({"META_MCP_LEAN_CALLS": lean, "META_MCP_CALL_MAX_TIMEOUT": "3"}, progress=True)
    assert result.is_error
    assert "no answer to tools/call 'ticks' within 3 s in all (each report of progress" in text_of(result)
    assert 4 <= len(seen) < 16  # progress kept it past the 2 s wait, not to the end
    assert text_of(after) == "ticked 1"
