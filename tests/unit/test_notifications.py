"""Change notification in both eras: a handshake client (notifications/*/list_changed on its session)
and a 2026 client (events on its subscriptions/listen stream) hear every visible change of their own
workspace — a provider's listing, a server added or removed — and nothing of another workspace's.

To show that something was not heard, a marker change (a prompt appearing) follows it: notifications
arrive in order, so once the marker is heard anything sent before it would have been heard too.
"""

from __future__ import annotations

import pytest
from support import MODES

from .fakes import FakeProvider
from .harness import Env, hearing

pytestmark = pytest.mark.anyio


async def marker(env: Env, workspace: str = "default") -> FakeProvider:
    """A server with no components yet (adding it changes no list); `mark(it)` makes a prompts change."""
    env.upstreams.define("marker", prompts=[])
    provider = await env.add("marker", workspace=workspace)
    assert isinstance(provider, FakeProvider)
    return provider


async def mark(provider: FakeProvider) -> None:
    await provider.update(prompts=[f"mark{len(provider.listing.prompts)}"])


@pytest.mark.parametrize("mode", MODES)
async def test_a_providers_new_listing_is_heard(env: Env, mode: str) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    alpha = await env.add("alpha")
    async with hearing(env, mode) as (client, heard):
        await alpha.update(tools=["echo", "added"])
        await heard.wait_for("tools")
        assert "alpha__added" in [t.name for t in (await client.list_tools()).tools]
    assert heard.kinds == ["tools"]


@pytest.mark.parametrize("mode", MODES)
async def test_adding_and_removing_a_server_is_heard(env: Env, mode: str) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    async with hearing(env, mode) as (client, heard):
        await env.add("alpha")
        await heard.wait_for("tools", 1)
        await env.registry().remove_server("alpha")
        await heard.wait_for("tools", 2)
        assert "alpha__echo" not in [t.name for t in (await client.list_tools()).tools]


@pytest.mark.parametrize("mode", MODES)
async def test_add_server_called_by_the_client_is_heard_by_it(env: Env, mode: str) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    async with hearing(env, mode) as (client, heard):
        added = await client.call_tool("add_server", {"name": "alpha", "spec": {"command": "fake-upstream"}})
        assert added.structured_content["tools"] == ["alpha__echo"]
        await heard.wait_for("tools")
        await client.call_tool("remove_server", {"name": "alpha"})
        await heard.wait_for("tools", 2)


@pytest.mark.parametrize("mode", MODES)
async def test_each_list_is_announced_by_its_own_kind(env: Env, mode: str) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    alpha = await env.add("alpha")
    async with hearing(env, mode) as (_, heard):
        await alpha.update(resources=["fake://new.txt"])
        await heard.wait_for("resources")
        await alpha.update(prompts=["greet"])
        await heard.wait_for("prompts")
    assert heard.kinds == ["resources", "prompts"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_change_nobody_can_see_is_not_announced(env: Env, mode: str) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    alpha = await env.add("alpha")
    mark_server = await marker(env)
    async with hearing(env, mode) as (_, heard):
        await alpha.update(tools=["echo"])  # the same listing again
        await alpha.changed()  # a status change, say
        await mark(mark_server)
        await heard.wait_for("prompts")
    assert heard.kinds == ["prompts"]


@pytest.mark.parametrize("mode", MODES)
async def test_another_workspaces_changes_are_not_heard(env: Env, mode: str) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    mark_b = await marker(env, "team-b")
    async with hearing(env, mode) as (_, heard_default), hearing(env, mode, workspace="team-b") as (b, heard_b):
        await env.add("alpha")  # in "default"
        await heard_default.wait_for("tools")
        await mark(mark_b)
        await heard_b.wait_for("prompts")
        assert "alpha__echo" not in [t.name for t in (await b.list_tools()).tools]
        await env.add("alpha", workspace="team-b")
        await heard_b.wait_for("tools")
    assert heard_b.kinds == ["prompts", "tools"]
    assert heard_default.kinds == ["tools"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_shared_providers_change_is_heard_in_every_workspace_holding_it(env: Env, mode: str) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    shared = await env.add("alpha")
    assert await env.add("alpha", workspace="team-b", prefix="a") is shared
    async with hearing(env, mode) as (a, heard_a), hearing(env, mode, workspace="team-b") as (b, heard_b):
        await shared.update(tools=["echo", "more"])
        await heard_a.wait_for("tools")
        await heard_b.wait_for("tools")
        assert "alpha__more" in [t.name for t in (await a.list_tools()).tools]
        assert "a__more" in [t.name for t in (await b.list_tools()).tools]


@pytest.mark.parametrize("mode", MODES)
async def test_a_removed_servers_later_changes_are_not_heard(env: Env, mode: str) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    alpha = await env.add("alpha")
    mark_server = await marker(env)
    await env.registry().remove_server("alpha")
    async with hearing(env, mode) as (_, heard):
        await alpha.update(tools=["echo", "zombie"])
        await mark(mark_server)
        await heard.wait_for("prompts")
    assert heard.kinds == ["prompts"]
    assert alpha.listeners == []
