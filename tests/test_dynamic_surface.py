"""add_server / remove_server at run time: tools appear and disappear for every client, in both eras.

meta-mcp runs as a real process (stdio and streamable HTTP); servers are added from ad-hoc specs
that launch the test upstreams in tests/upstreams/. Handshake-era clients must get
notifications/tools/list_changed; modern clients a ToolsListChanged event on subscriptions/listen.
A removed tool can no longer be listed or called. Over HTTP, workspaces (the X-MCP-Workspace
header) see different active sets and share one upstream process for the identical server.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ToolsListChanged

from support import (
    COMBOS,
    MODES,
    ListChangedWatcher,
    make_client,
    meta_client_for,
    meta_mcp_http,
    text_of,
    tool_names,
    upstream_argv,
)

pytestmark = pytest.mark.anyio


def spec_of(name: str) -> dict[str, Any]:
    argv = upstream_argv(name)
    return {"command": argv[0], "args": argv[1:]}


@contextlib.asynccontextmanager
async def tools_changed(client: Any, mode: str, watcher: ListChangedWatcher, timeout: float = 10.0
                        ) -> AsyncIterator[None]:
    """Run the body, then require the era's tools/list_changed signal."""
    if mode == "legacy":
        before = watcher.count
        yield
        await watcher.wait_for(before + 1, timeout=timeout)
        return
    async with client.listen(tools_list_changed=True) as sub:
        yield
        with anyio.fail_after(timeout):
            async for event in sub:
                if isinstance(event, ToolsListChanged):
                    return


@pytest.mark.parametrize("transport,mode", COMBOS)
async def test_add_and_remove_at_run_time(transport: str, mode: str) -> None:
    watcher = ListChangedWatcher()
    async with meta_client_for(transport, mode, None, message_handler=watcher) as client:
        assert "crashy__ok" not in await tool_names(client)

        async with tools_changed(client, mode, watcher):
            added = await client.call_tool("add_server", {"name": "crashy", "spec": spec_of("crashy")})
        assert not added.is_error, text_of(added)
        assert added.structured_content["added"] is True
        assert set(added.structured_content["tools"]) == {"crashy__ok", "crashy__crash"}
        assert {"crashy__ok", "crashy__crash"} <= set(await tool_names(client))
        ok = await client.call_tool("crashy__ok", {})
        assert ok.structured_content["marker"] == "crashy-ok"

        again = await client.call_tool("add_server", {"name": "crashy", "spec": spec_of("crashy")})
        assert not again.is_error and again.structured_content["added"] is False
        assert "already active" in again.structured_content["message"]
        servers = (await client.call_tool("list_servers", {})).structured_content["servers"]
        assert [s["name"] for s in servers] == ["crashy"]

        async with tools_changed(client, mode, watcher):
            removed = await client.call_tool("remove_server", {"name": "crashy"})
        assert not removed.is_error, text_of(removed)
        names = await tool_names(client)
        assert not any(n.startswith("crashy__") for n in names)
        with pytest.raises(MCPError, match="crashy__ok"):
            await client.call_tool("crashy__ok", {})
        with pytest.raises(MCPError, match="crashy__ok"):
            await client.call_tool("call_tool", {"name": "crashy__ok"})
        assert (await client.call_tool("list_servers", {})).structured_content["servers"] == []


async def test_bad_specs_are_clear_errors_and_add_nothing() -> None:
    async with meta_client_for("stdio", "legacy", None) as client:
        missing = await client.call_tool("add_server", {"name": "x", "spec": {"args": ["a"]}})
        assert missing.is_error and "command" in text_of(missing)

        failing = await client.call_tool("add_server", {"name": "ghost", "spec": {"command": "/nonexistent/bin"}})
        assert failing.is_error
        assert "did not start" in text_of(failing) and "/nonexistent/bin" in text_of(failing)
        assert (await client.call_tool("list_servers", {})).structured_content["servers"] == []

        with pytest.raises(MCPError, match="name"):
            await client.call_tool("add_server", {"name": "bad name!"})
        not_active = await client.call_tool("remove_server", {"name": "nothing"})
        assert not_active.is_error and "not active" in text_of(not_active)


def _workspace_client(url: str, workspace: str, mode: str, **kwargs: Any) -> Any:
    http = httpx2.AsyncClient(headers={"X-MCP-Workspace": workspace}, timeout=httpx2.Timeout(30, read=None))
    return make_client(streamable_http_client(url, http_client=http), mode, **kwargs)


@pytest.mark.parametrize("mode", MODES)
async def test_workspaces_see_their_own_servers_and_share_processes(mode: str) -> None:
    async with meta_mcp_http(None) as url:
        watcher_b = ListChangedWatcher()
        async with _workspace_client(url, "team-a", mode) as a, \
                _workspace_client(url, "team-b", mode, message_handler=watcher_b) as b:
            added = await a.call_tool("add_server", {"name": "crashy", "spec": spec_of("crashy")})
            assert not added.is_error, text_of(added)
            assert "crashy__ok" in await tool_names(a)
            assert "crashy__ok" not in await tool_names(b)
            with pytest.raises(MCPError):
                await b.call_tool("crashy__ok", {})
            assert watcher_b.count == 0  # team-b was not told about team-a's change

            # The identical server in another workspace shares the upstream process.
            added_b = await b.call_tool("add_server", {"name": "crashy", "spec": {**spec_of("crashy"), "prefix": "c"}})
            assert not added_b.is_error, text_of(added_b)
            pid_a = (await a.call_tool("crashy__ok", {})).structured_content["pid"]
            pid_b = (await b.call_tool("c__ok", {})).structured_content["pid"]
            assert pid_a == pid_b

            # Removing it from one workspace leaves the other's working.
            await a.call_tool("remove_server", {"name": "crashy"})
            assert "crashy__ok" not in await tool_names(a)
            assert (await b.call_tool("c__ok", {})).structured_content["pid"] == pid_b

            # The last holder removing it stops the process.
            await b.call_tool("remove_server", {"name": "crashy"})
            with anyio.fail_after(10):
                while _alive(pid_b):
                    await anyio.sleep(0.05)  # the pool stops it asynchronously: close stdin, then signals


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().split()[2]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("transport,mode", COMBOS)
async def test_a_cancelled_call_is_cancelled_upstream(transport: str, mode: str) -> None:
    """The caller gives up (its read timeout sends notifications/cancelled, or closes the request's
    stream on 2026-era HTTP); meta-mcp's handler is cancelled and cancels the upstream request."""
    async with meta_client_for(transport, mode, None) as client:
        added = await client.call_tool("add_server", {"name": "hang", "spec": spec_of("hang")})
        assert not added.is_error, text_of(added)
        with pytest.raises(MCPError):
            await client.call_tool("hang__hang", {}, read_timeout_seconds=0.5)

        async def count() -> int:
            return (await client.call_tool("hang__cancelled", {})).structured_content["count"]

        with anyio.fail_after(10):
            while await count() < 1:
                await anyio.sleep(0.05)  # the cancellation travels asynchronously; poll the upstream's counter


async def test_stdio_servers_inherit_network_settings_but_not_other_secrets() -> None:
    """A stdio server gets the machine's CA bundle / proxy / package-manager settings (uvx and npx
    servers download packages at start) but not the rest of meta-mcp's environment, e.g. API keys."""
    from support import meta_mcp_stdio

    env = {"SSL_CERT_FILE": "/etc/ssl/certs/test-bundle.pem", "UV_INDEX_URL": "https://pypi.example/simple",
           "SOME_API_KEY": "sk-test-not-for-servers"}
    async with make_client(meta_mcp_stdio(None, env=env), "legacy") as client:
        added = await client.call_tool("add_server", {"name": "rich", "spec": spec_of("rich")})
        assert not added.is_error, text_of(added)
        seen = await client.call_tool("rich__environment", {"names": list(env)})
        values = seen.structured_content["env"]
        assert values["SSL_CERT_FILE"] == env["SSL_CERT_FILE"]
        assert values["UV_INDEX_URL"] == env["UV_INDEX_URL"]
        assert values["SOME_API_KEY"] is None
