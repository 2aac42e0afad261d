"""Routing through the in-process server: calls reach the right provider under the provider's own
name or URI; unknown names are INVALID_PARAMS errors with a "Did you mean" hint; a provider's own
failure (`ToolError`) is an isError result naming the server, and nobody else is disturbed.
"""

from __future__ import annotations

import pytest
from mcp import MCPError
from mcp_types import INVALID_PARAMS
from support import MODES, text_of

from .harness import Env

pytestmark = pytest.mark.anyio


async def two_servers(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo", "add"], prompts=["greet"], resources=["fake://a.txt"],
                         templates=["fake://items/{id}"], errors={"add": "crashed mid-call", "greet": "no words"})
    env.upstreams.define("beta", tools=["echo"], prompts=["greet"], resources=["fake://b.txt"],
                         templates=["beta://rows/{n}"])
    await env.add("alpha")
    await env.add("beta", prefix="")


@pytest.mark.parametrize("mode", MODES)
async def test_tool_calls_reach_the_owner_by_its_own_name(env: Env, mode: str) -> None:
    await two_servers(env)
    async with env.client(mode) as client:
        a = await client.call_tool("alpha__echo", {"text": "to alpha"})
        b = await client.call_tool("echo", {"text": "to beta"})
    assert a.structured_content == {"server": "alpha", "tool": "echo", "arguments": {"text": "to alpha"}}
    assert b.structured_content == {"server": "beta", "tool": "echo", "arguments": {"text": "to beta"}}
    assert env.upstreams.last("alpha").calls == [("tool", "echo", {"text": "to alpha"})]
    assert env.upstreams.last("beta").calls == [("tool", "echo", {"text": "to beta"})]


@pytest.mark.parametrize("mode", MODES)
async def test_prompts_route_by_the_providers_own_name(env: Env, mode: str) -> None:
    await two_servers(env)
    async with env.client(mode) as client:
        beta = await client.get_prompt("greet", {"who": "Ida"})
        with pytest.raises(MCPError) as info:
            await client.get_prompt("alpha__greet", {"who": "Zed"})
    assert beta.messages[0].content.text == 'beta:greet:{"who": "Ida"}'
    # alpha's prompt raises ToolError: a prompt has no isError form, so it is an INVALID_PARAMS error.
    assert info.value.error.code == INVALID_PARAMS and "'alpha'" in str(info.value) and "no words" in str(info.value)
    assert env.upstreams.last("alpha").calls == [("prompt", "greet", {"who": "Zed"})]


@pytest.mark.parametrize("mode", MODES)
async def test_resources_route_by_exposed_uri_to_the_providers_own_uri(env: Env, mode: str) -> None:
    await two_servers(env)
    async with env.client(mode) as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        prefixed = await client.read_resource("meta://alpha/fake://a.txt")
        expanded = await client.read_resource("meta://alpha/fake://items/7")
        plain = await client.read_resource("fake://b.txt")
        plain_expanded = await client.read_resource("beta://rows/3")
    assert listed == {"meta://alpha/fake://a.txt", "fake://b.txt"}
    assert prefixed.contents[0].text == "alpha:fake://a.txt"
    assert expanded.contents[0].text == "alpha:fake://items/7"
    assert plain.contents[0].text == "beta:fake://b.txt"
    assert plain_expanded.contents[0].text == "beta:beta://rows/3"
    assert [c[1] for c in env.upstreams.last("alpha").calls] == ["fake://a.txt", "fake://items/7"]


@pytest.mark.parametrize("mode", MODES)
async def test_an_unknown_tool_is_invalid_params_with_a_hint(env: Env, mode: str) -> None:
    await two_servers(env)
    async with env.client(mode) as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("alpha__ecko", {})
    assert info.value.error.code == INVALID_PARAMS
    assert "'alpha__ecko'" in str(info.value) and "Did you mean 'alpha__echo'" in str(info.value)
    assert env.upstreams.last("alpha").calls == []


async def test_an_unknown_prompt_is_invalid_params_with_a_hint(env: Env) -> None:
    await two_servers(env)
    async with env.client() as client:
        with pytest.raises(MCPError) as info:
            await client.get_prompt("alpha__greeet", {})
    assert info.value.error.code == INVALID_PARAMS
    assert "Unknown prompt" in str(info.value) and "Did you mean 'alpha__greet'" in str(info.value)


async def test_an_unknown_resource_is_invalid_params_with_a_hint(env: Env) -> None:
    await two_servers(env)
    env.upstreams.define("gamma", resources=["fake://c.txt"])
    await env.add("gamma", prefix="")  # two unprefixed servers: a URI that fits no template is unknown
    async with env.client() as client:
        with pytest.raises(MCPError) as info:
            await client.read_resource("fake://b.tx")
    assert info.value.error.code == INVALID_PARAMS
    assert "Unknown resource" in str(info.value) and "Did you mean 'fake://b.txt'" in str(info.value)


async def test_an_unknown_name_without_anything_close_has_no_hint(env: Env) -> None:
    await two_servers(env)
    async with env.client() as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("qqqqqqqqqqqq", {})
    assert "'qqqqqqqqqqqq'" in str(info.value) and "Did you mean" not in str(info.value)


@pytest.mark.parametrize("mode", MODES)
async def test_a_provider_failure_is_an_error_result_naming_the_server(env: Env, mode: str) -> None:
    await two_servers(env)
    async with env.client(mode) as client:
        failed = await client.call_tool("alpha__add", {"a": 1})
        fine = await client.call_tool("echo", {})
    assert failed.is_error and text_of(failed) == "Server 'alpha' failed: crashed mid-call"
    assert not fine.is_error and fine.structured_content["server"] == "beta"


async def test_a_providers_protocol_error_passes_through(env: Env) -> None:
    refusal = MCPError(INVALID_PARAMS, "strict: 'n' is required")
    env.upstreams.define("alpha", tools=["strict"], errors={"strict": refusal})
    await env.add("alpha")
    async with env.client() as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("alpha__strict", {})
    assert info.value.error.code == INVALID_PARAMS and str(info.value) == "strict: 'n' is required"


@pytest.mark.parametrize("mode", MODES)
async def test_call_tool_meta_tool_takes_the_same_path(env: Env, mode: str) -> None:
    await two_servers(env)
    async with env.client(mode) as client:
        direct = await client.call_tool("alpha__echo", {"n": 1})
        via = await client.call_tool("call_tool", {"name": "alpha__echo", "arguments": {"n": 1}})
        failed = await client.call_tool("call_tool", {"name": "alpha__add"})
        with pytest.raises(MCPError, match="Did you mean 'alpha__echo'"):
            await client.call_tool("call_tool", {"name": "alpha__ecco"})
        with pytest.raises(MCPError, match="cannot call itself"):
            await client.call_tool("call_tool", {"name": "call_tool"})
    assert via.structured_content == direct.structured_content
    assert failed.is_error and "'alpha'" in text_of(failed)


async def test_a_removed_servers_tools_are_unknown(env: Env) -> None:
    await two_servers(env)
    await env.registry().remove_server("alpha")
    async with env.client() as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("alpha__echo", {})
        assert info.value.error.code == INVALID_PARAMS
        assert (await client.call_tool("echo", {})).structured_content["server"] == "beta"
    with pytest.raises(MCPError, match="Unknown server: 'alpha'"):
        await env.registry().remove_server("alpha")


async def test_list_servers_reports_each_servers_state(env: Env) -> None:
    await two_servers(env)
    async with env.client() as client:
        listed = (await client.call_tool("list_servers", {})).structured_content["servers"]
    assert [(s["name"], s["prefix"], s["status"], s["tools"], s["resources"], s["prompts"]) for s in listed] == [
        ("alpha", "alpha", "ready", 2, 2, 1), ("beta", "", "ready", 1, 2, 1)]


async def test_find_tools_ranks_proxied_tools_only(env: Env) -> None:
    env.upstreams.define("weather", tools=[{"name": "forecast", "description": "Weather forecast for a city",
                                            "inputSchema": {"type": "object"}}])
    env.upstreams.define("clock", tools=[{"name": "now", "description": "Current time in a timezone",
                                          "inputSchema": {"type": "object"}}])
    await env.add("weather")
    await env.add("clock")
    async with env.client() as client:
        found = (await client.call_tool("find_tools", {"query": "weather forecast"})).structured_content["tools"]
    assert found[0]["name"] == "weather__forecast" and found[0]["server"] == "weather"
    assert all(t["server"] != "meta-mcp" for t in found)
