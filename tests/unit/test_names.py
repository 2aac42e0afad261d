"""Exposed names through the registry and tools/list: prefixes, invalid characters, collisions,
over-long names, and stability (a name once given is kept while its tool exists).

The hashed fallback is `<head>-<8 hex of sha1(server NUL name)>`; the digests here are computed
independently of `registry.naming`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from support import MODES, tool_names

from .harness import META_TOOL_NAMES, Env

pytestmark = pytest.mark.anyio

VALID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def digest(server: str, name: str) -> str:
    return hashlib.sha1(f"{server}\0{name}".encode()).hexdigest()[:8]


def exposed(env: Env, workspace: str = "default") -> list[str]:
    return [t["name"] for t in env.registry(workspace).snapshot.tools]


def route(env: Env, name: str) -> tuple[str, str]:
    provider, original = env.registry().snapshot.tool_routes[name]
    return provider.name, original


@pytest.mark.parametrize("mode", MODES)
async def test_tools_are_listed_as_server__tool_after_the_meta_tools(env: Env, mode: str) -> None:
    env.upstreams.define("alpha", tools=["echo", "add"])
    await env.add("alpha")
    async with env.client(mode) as client:
        listed = await tool_names(client)
    assert listed == [*META_TOOL_NAMES, "alpha__echo", "alpha__add"]
    assert listed == exposed(env)


async def test_a_custom_prefix_and_the_empty_prefix(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    env.upstreams.define("beta", tools=["ping"])
    await env.add("alpha", prefix="a1")
    await env.add("beta", prefix="")
    names = exposed(env)
    assert names[-2:] == ["a1__echo", "ping"]
    assert not [n for n in names if n.startswith(("alpha__", "beta__"))]
    assert route(env, "a1__echo") == ("alpha", "echo") and route(env, "ping") == ("beta", "ping")
    assert env.registry().prefix_of("alpha") == "a1" and env.registry().prefix_of("beta") == ""


async def test_invalid_characters_become_underscores(env: Env) -> None:
    env.upstreams.define("alpha", tools=["get weather!", "ünïcode", "a/b:c", "dots.and-dashes"])
    await env.add("alpha")
    # The default charset (`llm`) has no dots: models' APIs refuse them (name_charset="mcp" keeps them).
    assert exposed(env)[-4:] == ["alpha__get_weather_", "alpha___n_code", "alpha__a_b_c", "alpha__dots_and-dashes"]
    assert route(env, "alpha__get_weather_") == ("alpha", "get weather!")
    assert route(env, "alpha__dots_and-dashes") == ("alpha", "dots.and-dashes")


async def test_names_that_clash_after_replacing_characters_get_the_hashed_form(env: Env) -> None:
    env.upstreams.define("alpha", tools=["a b", "a_b"])
    await env.add("alpha")
    second = f"alpha__a_b-{digest('alpha', 'a_b')}"
    assert exposed(env)[-2:] == ["alpha__a_b", second]
    assert route(env, "alpha__a_b") == ("alpha", "a b") and route(env, second) == ("alpha", "a_b")


async def test_unprefixed_servers_clash_and_the_first_added_keeps_the_name(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    env.upstreams.define("beta", tools=["echo"])
    await env.add("alpha", prefix="")
    await env.add("beta", prefix="")
    assert exposed(env)[-2:] == ["echo", f"echo-{digest('beta', 'echo')}"]
    assert route(env, "echo") == ("alpha", "echo")
    assert route(env, f"echo-{digest('beta', 'echo')}") == ("beta", "echo")


async def test_a_prefix_that_spells_another_servers_name_does_not_steal_it(env: Env) -> None:
    env.upstreams.define("a", tools=["b__c"])
    env.upstreams.define("a__b", tools=["c"])
    await env.add("a")
    await env.add("a__b")
    assert exposed(env)[-2:] == ["a__b__c", f"a__b__c-{digest('a__b', 'c')}"]
    assert route(env, "a__b__c") == ("a", "b__c")


@pytest.mark.parametrize("mode", MODES)
async def test_meta_tool_names_are_reserved(env: Env, mode: str) -> None:
    env.upstreams.define("sneaky", tools=["list_servers", "call_tool"])
    await env.add("sneaky", prefix="")
    renamed = [f"list_servers-{digest('sneaky', 'list_servers')}", f"call_tool-{digest('sneaky', 'call_tool')}"]
    async with env.client(mode) as client:
        assert (await tool_names(client))[-2:] == renamed
        meta = await client.call_tool("list_servers", {})
        assert [s["name"] for s in meta.structured_content["servers"]] == ["sneaky"]
        proxied = await client.call_tool(renamed[0], {})
        assert proxied.structured_content == {"server": "sneaky", "tool": "list_servers", "arguments": {}}


@pytest.mark.parametrize("budget", [48, 128])
async def test_an_over_long_name_is_cut_to_the_budget_with_a_digest(make_env: Any, budget: int) -> None:
    async with make_env(name_max_length=budget) as env:  # 48: the default; 128: the MCP spec's limit
        fits, too_long = "f" * (budget - len("alpha__")), "t" * 200
        env.upstreams.define("alpha", tools=[fits, fits + "x", too_long])
        await env.add("alpha")
        names = exposed(env)[-3:]
        assert names[0] == "alpha__" + fits  # exactly the budget: kept as it is
        assert names[1] == ("alpha__" + fits)[:budget - 9] + "-" + digest("alpha", fits + "x")
        assert names[2] == ("alpha__" + too_long)[:budget - 9] + "-" + digest("alpha", too_long)
        assert [len(n) for n in names] == [budget] * 3 and all(VALID.match(n) for n in names)
        assert route(env, names[2]) == ("alpha", too_long)


async def test_a_hashed_name_is_kept_after_the_holder_of_the_plain_name_leaves(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo"])
    env.upstreams.define("beta", tools=["echo"])
    await env.add("alpha", prefix="")
    await env.add("beta", prefix="")
    hashed = f"echo-{digest('beta', 'echo')}"
    await env.registry().remove_server("alpha")
    assert exposed(env)[-1:] == [hashed] and "echo" not in exposed(env)
    await env.add("alpha", prefix="")  # comes back: the plain name is free again, beta keeps its own
    assert exposed(env)[-2:] == [hashed, "echo"]
    assert route(env, "echo") == ("alpha", "echo")


async def test_the_first_assignment_wins_not_the_order_servers_were_added(env: Env) -> None:
    env.upstreams.define("early", tools=[])
    env.upstreams.define("late", tools=["echo"])
    early = await env.add("early", prefix="")
    await env.add("late", prefix="")
    assert "echo" in exposed(env)
    await early.update(tools=["echo", "other"])  # early lists it only now: late already has the name
    assert route(env, "echo") == ("late", "echo")
    assert route(env, f"echo-{digest('early', 'echo')}") == ("early", "echo")


async def test_a_listing_change_does_not_rename_existing_tools(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo", "add"])
    alpha = await env.add("alpha")
    before = exposed(env)
    await alpha.update(tools=["zeta", "echo", "add"])
    after = exposed(env)
    assert set(before) <= set(after) and set(after) - set(before) == {"alpha__zeta"}


async def test_names_are_deterministic_across_workspaces(env: Env) -> None:
    for workspace in ("default", "other"):
        env.upstreams.define("alpha", tools=["echo", "x" * 150])
        env.upstreams.define("beta", tools=["echo"])
        await env.add("alpha", prefix="", workspace=workspace)
        await env.add("beta", prefix="", workspace=workspace)
    assert exposed(env, "default") == exposed(env, "other")
    assert len(set(exposed(env))) == len(exposed(env))


async def test_prompts_and_resources_are_namespaced_too(env: Env) -> None:
    env.upstreams.define("alpha", prompts=["greet"], resources=["fake://a.txt"], templates=["fake://items/{id}"])
    env.upstreams.define("beta", prompts=["greet"], resources=["fake://a.txt", "fake://b.txt"])
    env.upstreams.define("gamma", resources=["fake://a.txt"])
    await env.add("alpha")
    await env.add("beta", prefix="")
    await env.add("gamma", prefix="")
    snapshot = env.registry().snapshot
    assert [p["name"] for p in snapshot.prompts] == ["alpha__greet", "greet"]
    assert [r["uri"] for r in snapshot.resources] == [
        "meta://alpha/fake://a.txt", "fake://a.txt", "fake://b.txt", "meta://gamma/fake://a.txt"]
    assert [t["uriTemplate"] for t in snapshot.resource_templates] == ["meta://alpha/fake://items/{id}"]
