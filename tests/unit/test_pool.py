"""The upstream pool: workspaces holding the identical launch spec share one provider, which is stopped
only when its last holder releases it; the prefix is not part of the identity, the rest of the spec is.
"""

from __future__ import annotations

import anyio
import pytest

from meta_mcp.config import ServerSpec
from meta_mcp.operations import servers as ops
from meta_mcp.operations.outcomes import Added, Removed
from meta_mcp.providers.upstream import UpstreamProvider
from meta_mcp.registry.pool import UpstreamPool

from .harness import Env

pytestmark = pytest.mark.anyio


async def test_two_workspaces_share_one_provider_for_the_identical_spec(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    a = await env.add("alpha")
    b = await env.add("alpha", workspace="team-b")
    assert a is b and env.upstreams.made("alpha") == [a] and len(env.workspaces.pool) == 1
    assert set(a.listeners) == {env.registry(), env.registry("team-b")}


async def test_the_prefix_is_not_part_of_the_identity_but_the_launch_is(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    a = await env.add("alpha")
    renamed = await env.add("alpha", workspace="team-b", prefix="other")
    different = await env.add("alpha", workspace="team-c", env={"MODE": "other"})
    assert renamed is a and different is not a
    assert len(env.upstreams.made("alpha")) == 2 and len(env.workspaces.pool) == 2
    assert "other__echo" in env.registry("team-b").snapshot.tool_routes


async def test_the_shared_provider_stops_only_when_the_last_holder_releases_it(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    shared = await env.add("alpha")
    await env.add("alpha", workspace="team-b")
    await env.registry().remove_server("alpha")
    assert shared.stops == 0 and shared.status == "ready"
    assert "alpha__echo" in env.registry("team-b").snapshot.tool_routes
    assert "alpha__echo" not in env.registry().snapshot.tool_routes
    assert shared.listeners == [env.registry("team-b")]
    await env.registry("team-b").remove_server("alpha")
    assert shared.stops == 1 and shared.status == "stopped" and len(env.workspaces.pool) == 0


async def test_a_released_spec_is_started_afresh_next_time(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    first = await env.add("alpha")
    await env.registry().remove_server("alpha")
    second = await env.add("alpha")
    assert second is not first and first.stops == 1 and second.status == "ready"


async def test_operations_in_one_workspace_leave_the_other_working(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    for workspace in ("default", "team-b"):
        added = await ops.add_server(env.ws(workspace), "alpha", spec={"command": "fake-upstream"}, origin="stdio")
        assert isinstance(added, Added)
    assert await ops.remove_server(env.ws(), "alpha") == Removed("alpha", ("alpha__echo",))
    result = await env.registry("team-b").call_tool("alpha__echo", {"n": 1})
    assert result["structuredContent"] == {"server": "alpha", "tool": "echo", "arguments": {"n": 1}}
    assert env.upstreams.last("alpha").stops == 0


async def test_closing_the_workspaces_stops_every_provider_once(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    env.upstreams.define("beta", tools=["echo"])
    alpha = await env.add("alpha")
    await env.add("alpha", workspace="team-b")
    beta = await env.add("beta", workspace="team-b")
    await env.workspaces.aclose()
    assert (alpha.stops, beta.stops) == (1, 1) and len(env.workspaces.pool) == 0


async def test_releasing_a_provider_the_pool_does_not_hold_stops_nothing(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    held = await env.add("alpha")
    stranger = env.upstreams(held.spec, env.settings, env.workspaces.pool.task_group)
    await env.workspaces.pool.release(stranger)
    assert held.stops == 0 and stranger.stops == 0 and len(env.workspaces.pool) == 1


async def test_by_default_the_pool_makes_real_upstream_providers(env: Env) -> None:
    async with anyio.create_task_group() as tg:
        pool = UpstreamPool(env.settings, tg)
        spec = ServerSpec(name="missing", command="/nonexistent/never-run")
        provider = pool.hold(spec)
        assert isinstance(provider, UpstreamProvider) and provider.status == "starting"
        assert pool.hold(spec.model_copy(update={"prefix": "p"})) is provider
        await pool.ready(provider)  # a real attempt to start a command that does not exist
        assert provider.status == "failed" and "never-run" in (provider.last_error or "")
        await pool.release(provider)
        assert len(pool) == 1 and provider.status == "failed"  # one hold is left
        await pool.release(provider)
        assert len(pool) == 0 and provider.status == "stopped"
