"""Issue 15, progressive exposure: `expose=auto` lists everything up to `expose_auto_max` tools and only
the meta tools (and pinned tools) above; `find_tools` finds the rest by description with full schemas,
`call_tool` calls anything callable, `pin_tools` / `unpin_tools` change the listing (kept per workspace,
clients told in both eras), and `find_tools`' description says what stands behind it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import MODES, make_client, meta_mcp_stdio, text_of, tool_names, upstream_entry
from unit.fakes import tool
from unit.harness import META_TOOL_NAMES, Env, hearing, open_env

pytestmark = pytest.mark.anyio

TOPICS = {"crm": "customer account", "ledger": "invoice payment", "fleet": "vehicle route"}


def _tools(server: str) -> list[dict[str, Any]]:
    topic = TOPICS[server]
    out = [tool(f"op_{i:02d}", description=f"Operation {i} on the {topic} records.",
                inputSchema={"type": "object", "properties": {"id": {"type": "string"}}}) for i in range(29)]
    if server == "ledger":
        out.append(tool("refund", description="Give a customer their money back for a cancelled order.",
                        inputSchema={"type": "object", "properties": {"order_id": {"type": "string"}},
                                     "required": ["order_id"]}))
    else:
        out.append(tool("op_29", description=f"Operation 29 on the {topic} records."))
    return out


async def _three_by_thirty(env: Env, workspace: str = "default") -> None:
    for server in TOPICS:
        env.upstreams.define(server, tools=_tools(server))
        await env.add(server, workspace=workspace)


def find_tools_description(names_and_defs: list[Any]) -> str:
    return next(t.description for t in names_and_defs if t.name == "find_tools")


@pytest.mark.parametrize("mode", MODES)
async def test_auto_over_the_threshold_lists_only_meta_tools_then_find_call_and_pin(tmp_path: Path, mode: str) -> None:
    async with open_env(tmp_path) as env:
        await _three_by_thirty(env)
        async with hearing(env, mode) as (client, heard):
            listed = await client.list_tools()
            assert [t.name for t in listed.tools] == list(META_TOOL_NAMES)  # 90 tools > 40: only the meta tools
            description = find_tools_description(listed.tools)
            assert description.startswith("Search 90 tools of crm, fleet, ledger") and "NOT in your tool list" in description

            found = await client.call_tool("find_tools", {"query": "give a customer money back", "limit": 3})
            top = found.structured_content["tools"][0]
            assert top["name"] == "ledger__refund" and top["listed"] is False
            assert top["inputSchema"]["required"] == ["order_id"]  # the full schema, ready to call

            called = await client.call_tool("call_tool", {"name": "ledger__refund", "arguments": {"order_id": "7"}})
            assert called.structured_content == {"server": "ledger", "tool": "refund", "arguments": {"order_id": "7"}}
            direct = await client.call_tool("ledger__refund", {"order_id": "8"})  # callable even though not listed
            assert not direct.is_error

            pinned = await client.call_tool("pin_tools", {"names": ["ledger__refund", "crm__op_03"]})
            assert pinned.structured_content["pinned"] == ["crm__op_03", "ledger__refund"], text_of(pinned)
            await heard.wait_for("tools")
            assert await tool_names(client) == [*META_TOOL_NAMES, "crm__op_03", "ledger__refund"]

            unpinned = await client.call_tool("unpin_tools", {"names": ["crm__op_03"]})
            assert unpinned.structured_content["pinned"] == ["ledger__refund"]
            await heard.wait_for("tools", 2)
            assert await tool_names(client) == [*META_TOOL_NAMES, "ledger__refund"]

            unknown = await client.call_tool("pin_tools", {"names": ["nope__nothing"]})
            assert unknown.is_error and unknown.structured_content["unknown"] == ["nope__nothing"]
        # pins are kept per workspace, in the state store
        assert await env.services.state.get_config("default", ":pins") == {"pins": [["ledger", "refund"]]}


async def test_pins_survive_a_restart_and_belong_to_their_workspace(tmp_path: Path) -> None:
    from meta_mcp.services.state import MemoryHub, MemoryStore

    hub = MemoryHub()  # one store across two meta-mcp "processes"
    for start in range(2):
        async with open_env(tmp_path / str(start)) as env:
            env.services.state = MemoryStore(hub=hub)
            await _three_by_thirty(env)
            await _three_by_thirty(env, workspace="other")
            if start == 0:
                async with env.client() as client:
                    await client.call_tool("pin_tools", {"names": ["fleet__op_01"]})
            await env.registry().wait_preloaded()
            assert [t["name"] for t in env.registry().snapshot.tools][-1] == "fleet__op_01"
            assert [t["name"] for t in env.registry("other").snapshot.tools] == list(META_TOOL_NAMES)


async def test_auto_lists_everything_up_to_the_threshold_and_the_description_follows(tmp_path: Path) -> None:
    async with open_env(tmp_path, expose_auto_max=40) as env:
        env.upstreams.define("crm", tools=_tools("crm"))
        async with hearing(env, "auto") as (client, heard):
            first = find_tools_description((await client.list_tools()).tools)
            assert "No server is active yet" in first
            await env.add("crm")
            await heard.wait_for("tools")
            listed = await client.list_tools()
            assert len(listed.tools) == len(META_TOOL_NAMES) + 30  # 30 <= 40: everything
            assert find_tools_description(listed.tools).startswith("Search 30 tools of crm")
            env.upstreams.define("fleet", tools=_tools("fleet"))
            await env.add("fleet")  # 60 > 40: only the meta tools now, and find_tools says so
            await heard.wait_for("tools", 2)
            listed = await client.list_tools()
            assert [t.name for t in listed.tools] == list(META_TOOL_NAMES)
            assert "Search 60 tools of crm, fleet" in find_tools_description(listed.tools)


@pytest.mark.parametrize(("expose", "count"), [("all", 90), ("search", 0)])
async def test_all_and_search(tmp_path: Path, expose: str, count: int) -> None:
    async with open_env(tmp_path, expose=expose) as env:
        await _three_by_thirty(env)
        assert len(env.registry().snapshot.tools) == len(META_TOOL_NAMES) + count
        assert len(env.registry().snapshot.all_tools) == len(META_TOOL_NAMES) + 90


async def test_search_mode_over_a_real_meta_mcp(tmp_path: Path) -> None:
    """--expose search on the command line: one small upstream, still only the meta tools listed."""
    params = meta_mcp_stdio({"dyn": upstream_entry("dynamic", "--initial", "lookup_weather")}, "--expose", "search")
    async with make_client(params, "legacy") as client:
        assert await tool_names(client) == list(META_TOOL_NAMES)
        found = await client.call_tool("find_tools", {"query": "lookup weather"})
        assert found.structured_content["tools"][0]["name"] == "dyn__lookup_weather"
        result = await client.call_tool("dyn__lookup_weather", {"text": "Oslo"})
        assert text_of(result) == "lookup_weather:Oslo"
