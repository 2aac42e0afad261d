"""Live tool lists: an upstream's tools change and every meta-mcp client hears about it, in both eras.

Handshake-era ("legacy") clients must receive ``notifications/tools/list_changed`` on their session;
2026-07-28 ("auto") clients must receive ``ToolsListChanged`` on a ``subscriptions/listen`` stream.
After the notification the new tool is listed and callable through meta-mcp; a removed tool is
neither. Upstream ``tests/upstreams/dynamic.py`` runs three ways: spawned by meta-mcp over stdio,
and as a separate process that meta-mcp reaches over streamable HTTP and over legacy SSE (for those
two, the change is also made by a second client talking to the upstream directly).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp.client.subscriptions import Subscription
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ToolsListChanged

from support import (
    COMBOS,
    ListChangedWatcher,
    combo_ids,
    dump,
    ServerUrl,
    make_client,
    meta_client_for,
    meta_mcp_http,
    text_of,
    tool_names,
    upstream_entry,
    upstream_http,
    wait_for_tools,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
async def remote_upstreams() -> AsyncIterator[dict[str, str]]:
    """dynamic.py served over streamable HTTP and over SSE, as separate processes."""
    async with upstream_http("dynamic") as http_url, upstream_http("dynamic", transport="sse") as sse_url:
        yield {"dynhttp": str(http_url), "dynsse": str(sse_url)}


class MetaSession:
    """A meta-mcp client plus the era-appropriate way to await tools/list_changed."""

    def __init__(self, client: Any, mode: str, watcher: ListChangedWatcher) -> None:
        self.client = client
        self.mode = mode
        self.watcher = watcher

    @contextlib.asynccontextmanager
    async def expect_tools_changed(self, timeout: float = 10.0) -> AsyncIterator[None]:
        """Arm a listener, run the body (which causes a change), then wait for the notification."""
        if self.mode == "legacy":
            before = self.watcher.count
            yield
            await self.watcher.wait_for(before + 1, timeout=timeout)
        else:
            async with self.client.listen(tools_list_changed=True) as sub:
                assert sub.honored.tools_list_changed, f"listen did not honor tools_list_changed: {sub.honored}"
                yield
                await _next_tools_event(sub, timeout)


async def _next_tools_event(sub: Subscription, timeout: float) -> None:
    try:
        with anyio.fail_after(timeout):
            while True:
                event = await sub.__anext__()
                if isinstance(event, ToolsListChanged):
                    return
    except TimeoutError:
        raise AssertionError(f"no ToolsListChanged on subscriptions/listen within {timeout}s") from None


def _servers(remote_upstreams: dict[str, str]) -> dict[str, Any]:
    return {
        "dynamic": upstream_entry("dynamic", "--initial", "seed"),
        "dynhttp": {"url": remote_upstreams["dynhttp"]},
        "dynsse": {"url": remote_upstreams["dynsse"], "transport": "sse"},
    }


@pytest.fixture(scope="module")
async def meta_http(remote_upstreams: dict[str, str]) -> AsyncIterator[ServerUrl]:
    """One meta-mcp over http for the module; it serves the "auto" and the "legacy" client alike."""
    async with meta_mcp_http(_servers(remote_upstreams)) as url:
        yield url


@pytest.fixture(scope="module", params=COMBOS, ids=combo_ids(COMBOS))
async def meta(
    request: pytest.FixtureRequest, remote_upstreams: dict[str, str], meta_http: ServerUrl
) -> AsyncIterator[MetaSession]:
    transport, mode = request.param
    servers = _servers(remote_upstreams)
    watcher = ListChangedWatcher()
    async with meta_client_for(transport, mode, servers, http_url=meta_http, message_handler=watcher) as client:
        try:
            await wait_for_tools(client, list(servers), timeout=30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- meta-mcp stderr ---\n{client.stderr()}") from None
        yield MetaSession(client, mode, watcher)


def _fresh(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def _assert_gone(client: Any, exposed: str) -> None:
    assert exposed not in await tool_names(client), f"{exposed} still listed after removal"
    try:
        r = await client.call_tool(exposed, {"text": "x"})
    except MCPError as exc:
        assert exposed in str(exc) or exposed.split("__", 1)[1] in str(exc), f"error does not name the tool: {exc}"
    else:
        assert r.is_error, f"call to removed tool {exposed} succeeded: {dump(r)}"
        assert exposed.split("__", 1)[1] in text_of(r), f"error does not name the tool: {text_of(r)!r}"


async def test_initial_dynamic_tool_is_listed(meta: MetaSession) -> None:
    names = await tool_names(meta.client)
    for server in ("dynamic", "dynhttp", "dynsse"):
        assert f"{server}__add_tool" in names, names
    assert "dynamic__seed" in names, names
    r = await meta.client.call_tool("dynamic__seed", {"text": "hello"})
    assert r.structured_content == {"tool": "seed", "text": "hello"}, dump(r)


async def test_tool_added_through_proxy_is_announced_listed_and_callable(meta: MetaSession) -> None:
    name = _fresh()
    exposed = f"dynamic__{name}"
    async with meta.expect_tools_changed():
        r = await meta.client.call_tool("dynamic__add_tool", {"name": name})
        assert not r.is_error, text_of(r)
    assert exposed in await tool_names(meta.client), "new tool not listed after list_changed"
    r = await meta.client.call_tool(exposed, {"text": "hi"})
    assert not r.is_error, text_of(r)
    assert r.structured_content == {"tool": name, "text": "hi"}
    assert text_of(r) == f"{name}:hi"

    async with meta.expect_tools_changed():
        r = await meta.client.call_tool("dynamic__remove_tool", {"name": name})
        assert not r.is_error, text_of(r)
    await _assert_gone(meta.client, exposed)


@pytest.mark.parametrize("server", ["dynhttp", "dynsse"])
async def test_change_made_directly_on_remote_upstream_is_announced(
    meta: MetaSession, remote_upstreams: dict[str, str], server: str
) -> None:
    """Someone else changes the upstream (a second client talking to it directly)."""
    from support import sse_transport

    url = remote_upstreams[server]
    target: Any = url if server == "dynhttp" else sse_transport(url)
    name = _fresh("ext")
    exposed = f"{server}__{name}"
    async with make_client(target, "legacy") as upstream:
        async with meta.expect_tools_changed():
            r = await upstream.call_tool("add_tool", {"name": name})
            assert not r.is_error, text_of(r)
        assert exposed in await tool_names(meta.client)
        r = await meta.client.call_tool(exposed, {"text": "remote"})
        assert r.structured_content == {"tool": name, "text": "remote"}, dump(r)

        async with meta.expect_tools_changed():
            r = await upstream.call_tool("remove_tool", {"name": name})
            assert not r.is_error, text_of(r)
        await _assert_gone(meta.client, exposed)


async def test_several_changes_in_a_row_end_in_the_right_list(meta: MetaSession) -> None:
    names = [_fresh("burst") for _ in range(4)]
    for n in names:
        async with meta.expect_tools_changed():
            await meta.client.call_tool("dynamic__add_tool", {"name": n})
    listed = set(await tool_names(meta.client))
    assert {f"dynamic__{n}" for n in names} <= listed
    for n in names[:2]:
        async with meta.expect_tools_changed():
            await meta.client.call_tool("dynamic__remove_tool", {"name": n})
    listed = set(await tool_names(meta.client))
    assert not {f"dynamic__{n}" for n in names[:2]} & listed
    assert {f"dynamic__{n}" for n in names[2:]} <= listed
    for n in names[2:]:
        r = await meta.client.call_tool(f"dynamic__{n}", {"text": "still here"})
        assert r.structured_content == {"tool": n, "text": "still here"}
    for n in names[2:]:
        async with meta.expect_tools_changed():
            await meta.client.call_tool("dynamic__remove_tool", {"name": n})


async def test_other_clients_also_hear_about_changes(meta: MetaSession) -> None:
    """Over HTTP several clients share one meta-mcp: a change made by one reaches the others, in both eras."""
    url = meta.client.url
    if url is None:
        pytest.skip("only meaningful when meta-mcp serves several clients (http)")
    watcher = ListChangedWatcher()
    name = _fresh("shared")
    async with make_client(url, "legacy", message_handler=watcher) as legacy_peer, make_client(url, "auto") as modern_peer:
        assert "dynamic__add_tool" in await tool_names(legacy_peer)
        async with modern_peer.listen(tools_list_changed=True) as sub:
            before = watcher.count
            r = await meta.client.call_tool("dynamic__add_tool", {"name": name})
            assert not r.is_error, text_of(r)
            await watcher.wait_for(before + 1)
            await _next_tools_event(sub, 10)
        assert f"dynamic__{name}" in await tool_names(legacy_peer)
        assert f"dynamic__{name}" in await tool_names(modern_peer)
    await meta.client.call_tool("dynamic__remove_tool", {"name": name})

