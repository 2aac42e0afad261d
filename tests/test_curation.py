"""Issue 15, curation: per server entry (`tools: {allow, deny}`, `rename`, `descriptions`), per workspace
(the `curation` setting), and at run time (add_server / configure_server options). A hidden tool is not
listed and is refused by every call path — a client's tools/call, `call_tool`, `run_code`, `agent_chat`
and the chat API — and curation is re-applied in the same step whenever the upstream's list changes.

In process over fake upstreams for the rules; over a real meta-mcp (HTTP, with the scripted OpenAI
stand-in) for every call path end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import MCPError
from openai_stub import OpenAIStub, text, tool_calls
from support import MODES, make_client, meta_mcp_http, text_of, tool_names, upstream_entry
from test_agent_loop import agent_env, stub  # noqa: F401 - stub: the module's scripted model (a fixture)
from unit.harness import Env, hearing, open_env

from meta_mcp.operations.tools import find_tools, visible_tools

pytestmark = pytest.mark.anyio


@pytest.fixture
async def env(tmp_path: Path) -> Any:
    async with open_env(tmp_path) as built:
        yield built


def names(env: Env) -> list[str]:
    return [t["name"] for t in env.registry().snapshot.tools]


def calls_of(env: Env, server: str) -> list[str]:
    return [name for kind, name, _ in env.upstreams.last(server).calls if kind == "tool"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_server_entrys_curation_hides_renames_and_redescribes(env: Env, mode: str) -> None:
    env.upstreams.define("gh", tools=["delete_repo", "delete_issue", "search_code", "list_issues"])
    await env.add("gh", tools={"deny": ["delete_*"]}, rename={"search_code": "code_search"},
                  descriptions={"list_issues": "Issues of one repository, newest first."})
    assert names(env)[-2:] == ["gh__code_search", "gh__list_issues"]
    listed = {t["name"]: t for t in env.registry().snapshot.tools}
    assert listed["gh__list_issues"]["description"] == "Issues of one repository, newest first."
    async with env.client(mode) as client:
        for name in ("gh__delete_repo", "delete_repo"):
            with pytest.raises(MCPError, match="hidden by the server's curation \\(tools.deny 'delete_\\*'\\)"):
                await client.call_tool(name if "__" in name else f"gh__{name}", {})
        with pytest.raises(MCPError, match="not available here"):
            await client.call_tool("call_tool", {"name": "gh__delete_issue", "arguments": {}})
        renamed = await client.call_tool("gh__code_search", {"q": "x"})
        assert renamed.structured_content == {"server": "gh", "tool": "search_code", "arguments": {"q": "x"}}
        by_original = await client.call_tool("gh__search_code", {})  # the original form still answers
        assert by_original.structured_content["tool"] == "search_code"
    assert calls_of(env, "gh") == ["search_code", "search_code"]
    found = [m.name for m in await find_tools(env.ws(), "delete repository issue", limit=10)]
    assert found and not any("delete" in n for n in found)


async def test_allow_keeps_only_matching_tools(env: Env) -> None:
    env.upstreams.define("fs", tools=["read_file", "read_dir", "write_file", "move_file"])
    await env.add("fs", tools={"allow": ["read_*"]})
    assert names(env)[-2:] == ["fs__read_file", "fs__read_dir"]
    with pytest.raises(MCPError, match="not in tools.allow"):
        await env.registry().call_tool("fs__write_file", {})


async def test_the_workspace_wide_setting_applies_to_every_server(tmp_path: Path) -> None:
    curation = {"tools": {"deny": ["*__drop_*"]}, "rename": {"db__query": "sql"},
                "descriptions": {"kv__get": "Read one key."}}
    async with open_env(tmp_path, curation=curation) as env:
        env.upstreams.define("db", tools=["query", "drop_table"])
        env.upstreams.define("kv", tools=["get", "drop_all"])
        await env.add("db")
        await env.add("kv")
        assert names(env)[-2:] == ["db__sql", "kv__get"]
        assert env.registry().snapshot.tools[-1]["description"] == "Read one key."
        with pytest.raises(MCPError, match="hidden by the workspace's curation \\(tools.deny '\\*__drop_\\*'\\)"):
            await env.registry().call_tool("kv__drop_all", {})


@pytest.mark.parametrize("mode", MODES)
async def test_curation_is_reapplied_when_the_upstream_list_changes(env: Env, mode: str) -> None:
    env.upstreams.define("gh", tools=["search_code"])
    gh = await env.add("gh", tools={"deny": ["delete_*"]})
    async with hearing(env, mode) as (client, heard):
        await gh.update(tools=["search_code", "delete_everything", "list_issues"])  # what an upstream's list_changed does
        await heard.wait_for("tools")
        listed = await tool_names(client)
        assert "gh__list_issues" in listed and not [n for n in listed if "delete" in n]
        with pytest.raises(MCPError, match="hidden"):
            await client.call_tool("gh__delete_everything", {})
    assert "delete_everything" not in calls_of(env, "gh")
    assert not [t for t in visible_tools(env.ws(), lambda s, _: True) if "delete" in t.original]


@pytest.mark.parametrize("mode", MODES)
async def test_configure_server_curates_at_run_time_and_it_is_kept(env: Env, mode: str) -> None:
    env.upstreams.define("gh", tools=["search_code", "delete_repo"])
    await env.add("gh")
    async with hearing(env, mode) as (client, heard):
        result = await client.call_tool("configure_server", {"name": "gh", "tools": {"deny": ["delete_*"]},
                                                             "rename": {"search_code": "grep"}})
        assert not result.is_error, text_of(result)
        assert result.structured_content["tools"] == ["gh__grep"]
        assert result.structured_content["hidden"] == ["delete_repo"]
        await heard.wait_for("tools")
        assert [n for n in await tool_names(client) if n.startswith("gh__")] == ["gh__grep"]
        with pytest.raises(MCPError, match="rename"):
            await client.call_tool("configure_server", {"name": "gh", "rename": {"x": ""}})
    stored = await env.services.state.get_config("default", "gh:curation")
    assert stored == {"tools": {"deny": ["delete_*"]}, "rename": {"search_code": "grep"}}
    # Removed and added again (as a restart restores it): the stored curation applies again.
    await env.registry().remove_server("gh")
    await env.add("gh")
    assert [n for n in names(env) if n.startswith("gh__")] == ["gh__grep"]


async def test_add_server_takes_curation_options(env: Env) -> None:
    env.upstreams.define("alpha", tools=["echo", "rm"])
    async with env.client() as client:
        added = await client.call_tool("add_server", {"name": "alpha", "spec": {"command": "fake-upstream"},
                                                      "tools": {"deny": ["rm"]}})
        assert not added.is_error, text_of(added)
        assert added.structured_content["tools"] == ["alpha__echo"]


async def test_run_code_and_the_agent_cannot_reach_a_hidden_tool(tmp_path: Path) -> None:
    stub = OpenAIStub().start()
    try:
        settings = {"agent_base_url": stub.url, "agent_model": "stub", "agent_api_key": "sk-test",
                    "agent_retry_backoff_s": 0.05}
        async with open_env(tmp_path, **settings) as env:
            env.upstreams.define("gh", tools=["search_code", "delete_repo"])
            await env.add("gh", tools={"deny": ["delete_*"]})
            async with env.client() as client:
                run = await client.call_tool("run_code", {"code": "export default await tools.gh.delete_repo({})"})
                assert run.structured_content["ok"] is False, run.structured_content
                ok = await client.call_tool("run_code", {"code": "export default await tools.gh.search_code({})"})
                assert ok.structured_content["ok"] is True, ok.structured_content
                stub.script(tool_calls(("gh__delete_repo", {})), text("could not"))
                answer = await client.call_tool("agent_chat", {"message": "delete the repo"})
                assert answer.structured_content["status"] == "complete", answer.structured_content
            offered = {t["function"]["name"] for t in stub.requests[0]["body"]["tools"]}
            assert "gh__search_code" in offered and not [n for n in offered if "delete" in n]
            told = [m["content"] for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"]
            assert "Unknown tool 'gh__delete_repo'" in told[0]
            assert calls_of(env, "gh") == ["search_code"]
    finally:
        stub.stop()


# --------------------------------------------------------------------------- every path, a real meta-mcp


@pytest.fixture(scope="module")
async def meta(stub: OpenAIStub) -> Any:
    servers = {"ops": upstream_entry("dynamic", "--initial", "delete_everything", "--initial", "safe_echo",
                                     tools={"deny": ["delete_*", "remove_tool"]})}
    async with meta_mcp_http(servers, env=agent_env(stub)) as url:
        yield url


@pytest.mark.parametrize("mode", MODES)
async def test_a_denied_tool_is_refused_on_every_path(meta: str, stub: OpenAIStub, mode: str) -> None:
    async with make_client(str(meta), mode) as client:
        listed = await tool_names(client)
        assert "ops__safe_echo" in listed and "ops__delete_everything" not in listed
        assert "ops__remove_tool" not in listed
        # the client's own tools/call, and the call_tool meta tool
        for call in (lambda: client.call_tool("ops__delete_everything", {"text": "x"}),
                     lambda: client.call_tool("call_tool", {"name": "ops__delete_everything",
                                                            "arguments": {"text": "x"}})):
            with pytest.raises(MCPError, match="hidden by the server's curation"):
                await call()
        # run_code
        run = await client.call_tool("run_code", {"code": "export default await tools.ops.delete_everything({text: 'x'})"})
        assert run.structured_content["ok"] is False
        fine = await client.call_tool("run_code", {"code": "export default await tools.ops.safe_echo({text: 'x'})"})
        assert fine.structured_content["ok"] is True, fine.structured_content
        # agent_chat
        stub.script(tool_calls(("ops__delete_everything", {"text": "x"})), text("refused"))
        answer = await client.call_tool("agent_chat", {"message": "delete everything"})
        assert answer.structured_content["answer"] == "refused"
        offered = {t["function"]["name"] for t in stub.requests[0]["body"]["tools"]}
        assert "ops__delete_everything" not in offered
        told = [m["content"] for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"]
        assert "Unknown tool 'ops__delete_everything'" in told[0]
        # nothing reached the upstream: it still has the tool, untouched
        listing = await client.call_tool("ops__list_dynamic", {})
        assert "delete_everything" in text_of(listing)


async def test_a_denied_tool_is_refused_by_the_chat_api(meta: str, stub: OpenAIStub) -> None:
    async with httpx.AsyncClient(base_url=meta.removesuffix("/mcp"), timeout=30) as api:
        servers = (await api.get("/mcp/servers")).json()
        assert "ops__safe_echo" in servers["available_tools"]
        assert not [n for n in servers["available_tools"] if "delete" in n]
        stub.script(tool_calls(("ops__delete_everything", {"text": "x"})), text("it is not available"))
        chat = await api.post("/chat", json={"messages": [{"role": "user", "content": "delete everything"}],
                                             "mode": "default"})
        assert chat.status_code == 200 and chat.json()["content"] == "it is not available", chat.text
        assert "ops__delete_everything" not in chat.json()["available_tools"]
        told = [m["content"] for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"]
        assert "Unknown tool 'ops__delete_everything'" in told[0]
