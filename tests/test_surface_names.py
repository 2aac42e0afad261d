"""Issue 15, names: every exposed tool name fits the configured budget (length and charset), is stable
across restarts, never collides, answers — and the original `<server>__<tool>` form works too.

In process (tests/unit's harness, fake upstreams) for the rules in both eras, and over a real
meta-mcp process (stdio, both eras) for stability across a restart: an upstream with a 70-character
tool name, a dotted name, and two servers whose names clash after shortening.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support import MODES, make_client, meta_mcp_stdio, text_of, tool_names, upstream_entry
from unit.harness import META_TOOL_NAMES, Env, open_env

pytestmark = pytest.mark.anyio

LONG = "generate_quarterly_revenue_report_for_every_region_and_product_line_xy"  # 70 characters
DOTTED = "s3.list_buckets"
EU = "analytics-warehouse-production-eu"
US = "analytics-warehouse-production-us"
SHARED = "run_query_against_the_primary_replica"
assert len(LONG) == 70



@pytest.fixture
async def env(tmp_path: Path) -> Any:
    async with open_env(tmp_path) as built:
        yield built


BUDGETS = [(48, "llm", r"^[A-Za-z0-9_-]{1,48}$"), (64, "mcp", r"^[A-Za-z0-9_.-]{1,64}$")]


async def _setup(env: Env) -> None:
    env.upstreams.define("dyn", tools=[LONG, DOTTED, "short"])
    env.upstreams.define(EU, tools=[SHARED])
    env.upstreams.define(US, tools=[SHARED])
    await env.add("dyn")
    await env.add(EU)
    await env.add(US)


def _proxied(names: list[str]) -> list[str]:
    return [n for n in names if n not in META_TOOL_NAMES]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("length", "charset", "pattern"), BUDGETS, ids=["llm-48", "mcp-64"])
async def test_every_name_fits_the_budget_is_distinct_stable_and_answers(
        tmp_path: Path, mode: str, length: int, charset: str, pattern: str) -> None:
    seen: list[list[str]] = []
    for start in range(2):  # the same servers in a fresh meta-mcp: the same names
        async with open_env(tmp_path / str(start), name_max_length=length, name_charset=charset) as env:
            await _setup(env)
            async with env.client(mode) as client:
                names = _proxied(await tool_names(client))
                assert len(names) == 5 and len(set(names)) == 5, names
                for name in names:
                    assert re.match(pattern, name), (name, pattern)
                    result = await client.call_tool(name, {"n": 1})
                    assert not result.is_error, text_of(result)
                    served = result.structured_content
                    provider, original = env.registry().snapshot.tool_routes[name]
                    assert served == {"server": provider.name, "tool": original, "arguments": {"n": 1}}
                seen.append(names)
    assert seen[0] == seen[1]
    eu, us = (n for n in seen[0] if n.startswith("analytics"))
    assert eu != us and eu[:-9] == us[:-9]  # one readable head, two hashes
    if charset == "llm":
        assert "dyn__s3_list_buckets" in seen[0]
    else:
        assert "dyn__s3.list_buckets" in seen[0]


@pytest.mark.parametrize("mode", MODES)
async def test_the_original_server__tool_form_is_accepted_by_call_tool_and_find_tools(env: Env, mode: str) -> None:
    await _setup(env)
    exposed = {(p.name, original): name for name, (p, original) in env.registry().snapshot.tool_routes.items()}
    long_name = exposed[("dyn", LONG)]
    assert long_name != f"dyn__{LONG}" and len(long_name) == 48
    async with env.client(mode) as client:
        for original in (f"dyn__{LONG}", f"dyn__{DOTTED}", f"{EU}__{SHARED}"):
            direct = await client.call_tool(original, {})
            assert not direct.is_error, text_of(direct)
            via_meta = await client.call_tool("call_tool", {"name": original, "arguments": {"k": "v"}})
            assert via_meta.structured_content["arguments"] == {"k": "v"}
            assert via_meta.structured_content["tool"] == original.split("__", 1)[1]
        found = await client.call_tool("find_tools", {"query": f"dyn__{LONG}", "limit": 3})
        first = found.structured_content["tools"][0]
        assert first["name"] == long_name and first["inputSchema"] == {"type": "object"}


async def test_default_budget_leaves_room_for_a_host_prefix(env: Env) -> None:
    """Claude Code calls a tool `mcp__<server>__<tool>`: with meta-mcp registered as "meta" every name fits
    the model APIs' `^[A-Za-z0-9_-]{1,64}$`."""
    await _setup(env)
    for tool in env.registry().snapshot.tools:
        assert re.match(r"^[A-Za-z0-9_-]{1,64}$", f"mcp__meta__{tool['name']}"), tool["name"]


# --------------------------------------------------------------------------- a real process, restarted


def _config(tmp_path: Path) -> Path:
    servers = {
        "dyn": upstream_entry("dynamic", "--initial", LONG, "--initial", DOTTED),
        EU: upstream_entry("dynamic", "--initial", SHARED),
        US: upstream_entry("dynamic", "--initial", SHARED),
    }
    path = tmp_path / "servers.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


@pytest.mark.parametrize("mode", MODES)
async def test_names_over_a_real_meta_mcp_fit_answer_and_survive_a_restart(tmp_path: Path, mode: str) -> None:
    config = _config(tmp_path)
    seen: list[list[str]] = []
    for _ in range(2):
        async with make_client(meta_mcp_stdio(config), mode) as client:
            names = _proxied(await tool_names(client))
            assert len(names) == 3 * 3 + 4, names  # add_tool, remove_tool, list_dynamic per server + 4 initial
            assert len(set(names)) == len(names)
            for name in names:
                assert re.match(r"^[A-Za-z0-9_-]{1,48}$", name), name
            dynamic = [n for n in names if not n.endswith(("add_tool", "remove_tool", "list_dynamic"))]
            assert len(dynamic) == 4, dynamic
            for name in dynamic:
                result = await client.call_tool(name, {"text": "hi"})
                assert not result.is_error, text_of(result)
                assert text_of(result).endswith(":hi")
            assert text_of(await client.call_tool(f"dyn__{DOTTED}", {"text": "x"})) == f"{DOTTED}:x"
            seen.append(names)
    assert seen[0] == seen[1]
