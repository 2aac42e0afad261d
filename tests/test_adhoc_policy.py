"""Who may add a server from an ad-hoc spec (a command that runs as meta-mcp's user).

The desktop's own user over stdio may; over HTTP it is refused unless META_MCP_ALLOW_ADHOC_HTTP is
set; agent_chat's inner model is refused unless META_MCP_ALLOW_ADHOC_AGENT is set; run_code cannot
reach add_server at all. Catalog servers stay addable by name everywhere.
"""

from __future__ import annotations

import pytest

from meta_mcp.operations.servers import adhoc_refusal
from meta_mcp.settings import Settings
from support import make_client, meta_mcp_http, text_of, upstream_argv

pytestmark = pytest.mark.anyio


def _spec() -> dict[str, object]:
    argv = upstream_argv("crashy")
    return {"command": argv[0], "args": argv[1:]}


async def test_http_refuses_adhoc_specs_by_default() -> None:
    async with meta_mcp_http(None, env={"META_MCP_ALLOW_ADHOC_HTTP": "0"}) as url:
        async with make_client(str(url)) as client:
            refused = await client.call_tool("add_server", {"name": "crashy", "spec": _spec()})
            assert refused.is_error
            assert refused.structured_content["outcome"] == "refused"
            assert "META_MCP_ALLOW_ADHOC_HTTP" in text_of(refused)
            servers = await client.call_tool("list_servers", {})
            assert servers.structured_content["servers"] == []


async def test_http_allows_adhoc_specs_when_the_operator_says_so() -> None:
    async with meta_mcp_http(None, env={"META_MCP_ALLOW_ADHOC_HTTP": "1"}) as url:
        async with make_client(str(url)) as client:
            added = await client.call_tool("add_server", {"name": "crashy", "spec": _spec()})
            assert not added.is_error, text_of(added)


def test_policy_by_origin() -> None:
    closed = Settings(allow_adhoc_http=False, allow_adhoc_agent=False)
    open_ = Settings(allow_adhoc_http=True, allow_adhoc_agent=True)
    assert adhoc_refusal(closed, "stdio") is None
    assert "META_MCP_ALLOW_ADHOC_HTTP" in (adhoc_refusal(closed, "http") or "")
    assert "prompt injection" in (adhoc_refusal(closed, "agent") or "")
    assert adhoc_refusal(open_, "http") is None and adhoc_refusal(open_, "agent") is None
    # Code in the sandbox and calls of unknown origin are never allowed, whatever the settings say.
    assert adhoc_refusal(open_, "sandbox") is not None and adhoc_refusal(open_, "internal") is not None
