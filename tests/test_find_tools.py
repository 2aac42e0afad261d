"""find_tools' ranker (issue 18, item 2): find_servers' ranker (`services/ranking.py`) over tools.

- The ranker (`operations.tools.tool_index`) ranks by description words, by parameter names (and enum
  values), expands queries with the catalog's intent table and the tool vocabulary, and an exact name
  wins — in the ranker (the squashed name in the query) and in `find_tools` (a query that is a tool's
  name, exposed or `<server>__<tool>`).
- `find_tools` keeps one index per workspace snapshot and filters it per caller by the policy: a
  denied tool is never among the matches, not even when named exactly.
- The benchmark's data (`bench/data`) is what `bench/find_quality.py --tools` says it is.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from unit.fakes import tool
from unit.harness import Env, open_env

from meta_mcp.auth.context import Caller, acting_as
from meta_mcp.auth.policy import Rules
from meta_mcp.identity import Identity
from meta_mcp.operations.tools import VisibleTool, find_tools, tool_document, tool_index
from meta_mcp.services.catalog.intents import expansions
from meta_mcp.services.ranking import RankedIndex

pytestmark = pytest.mark.anyio

DATA = Path(__file__).resolve().parent.parent / "bench" / "data"


def visible(server: str, name: str, description: str = "", **schema: Any) -> VisibleTool:
    definition = {"name": name, "description": description,
                  "inputSchema": {"type": "object", "properties": schema}}
    return VisibleTool(server, name, f"{server}__{name}", definition)


def top(tools: list[VisibleTool], query: str, k: int = 1) -> list[str]:
    return [tools[i].exposed for i, _ in tool_index(tools).rank(query, limit=k)]


# -- the ranker ------------------------------------------------------------------------------------------


def test_ranks_by_description_words() -> None:
    tools = [visible("billing", "op_01", "Send an invoice to a customer by email"),
             visible("billing", "op_02", "Archive invoices older than a year"),
             visible("crm", "op_03", "Merge two duplicate customer records")]
    assert top(tools, "email the customer their invoice") == ["billing__op_01"]
    assert top(tools, "merge duplicate records") == ["crm__op_03"]
    assert top(tools, "archive last year's invoices") == ["billing__op_02"]


def test_ranks_by_parameter_names_and_enum_values() -> None:
    tools = [visible("jobs", "run_job", "Runs a job", cron_expression={"type": "string"}),
             visible("jobs", "start_job", "Runs a job", docker_image={"type": "string"}),
             visible("jobs", "stop_job", "Runs a job", signal={"type": "string", "enum": ["SIGTERM", "SIGKILL"]})]
    assert top(tools, "a job on a cron expression") == ["jobs__run_job"]
    assert top(tools, "a job from a docker image") == ["jobs__start_job"]
    assert top(tools, "send sigkill to the job") == ["jobs__stop_job"]
    # Nested parameters count too (an array of objects), to a bounded depth.
    edit = visible("fs", "edit", "Change a file", edits={"type": "array", "items": {
        "type": "object", "properties": {"oldText": {"type": "string"}, "newText": {"type": "string"}}}})
    assert {"edit", "old", "text"} <= set(tool_document(edit).fields["params"])  # "new" is a stop word
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(5000):  # an upstream's schema can nest without end: no RecursionError
        deep = {"type": "object", "properties": {"inner": deep}}
    assert tool_document(visible("x", "deep", "Deep", inner=deep)).fields["params"] == ["inner"] * 3


def test_uses_the_intent_table_and_the_tool_vocabulary() -> None:
    tools = [visible("weather", "forecast", "Forecast for a city", city={"type": "string"}),
             visible("clock", "now", "Current time in a timezone", timezone={"type": "string"})]
    # "rain" is in no tool's text: the catalog's intent table expands it to weather, forecast.
    assert top(tools, "will it rain tomorrow in Oslo") == ["weather__forecast"]
    plain = RankedIndex([tool_document(t) for t in tools], {"description": (1.0, 0.75)})
    assert plain.rank("will it rain tomorrow in Oslo") == []
    assert "forecast" in expansions("will it rain tomorrow", {"rain", "tomorrow"})

    branches = [visible("git", "git_create_branch", "Creates a new branch"),
                visible("git", "git_delete_branch", "Deletes a branch"),
                visible("git", "git_log", "Shows the commit logs")]
    # The tool vocabulary: "get rid of" is a delete, "history" is the log.
    assert top(branches, "get rid of the old branch") == ["git__git_delete_branch"]
    assert top(branches, "show the history") == ["git__git_log"]
    # "GitHub" is split by the tokenizer (git, hub) and also searched as written.
    hosts = [visible("github", "list_issues", "List issues"), visible("gitlab", "list_issues", "List issues")]
    assert top(hosts, "list the issues on GitHub") == ["github__list_issues"]


def test_an_exact_name_wins() -> None:
    tools = [visible("fs", "read_file", "Read a file"),
             visible("fs", "read_multiple_files", "Read several files: read a file, read a file, read a file"),
             visible("fs", "read_text_file", "Read the complete contents of a file from the file system as text")]
    assert top(tools, "read_multiple_files") == ["fs__read_multiple_files"]
    assert top(tools, "read_file") == ["fs__read_file"]
    assert top(tools, "use read_text_file on README.md") == ["fs__read_text_file"]


def test_the_servers_own_words_are_not_part_of_a_tools_name() -> None:
    doc = tool_document(visible("slack", "slack_post_message", "Post a message to a Slack channel"))
    assert doc.fields["name"] == ["post", "messag"] and doc.fields["server"] == ["slack"]
    assert tool_document(visible("fetch", "fetch", "Fetch a URL")).fields["name"] == ["fetch"]


# -- find_tools over a workspace --------------------------------------------------------------------------


class _Policy:
    """A policy store that gives every non-local caller the same rules."""

    def __init__(self, rules: Rules) -> None:
        self._rules = rules

    def rules(self, identity: Identity, workspace: str) -> Rules:
        return self._rules


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with open_env(tmp_path) as built:
        yield built


async def _weather_and_clock(env: Env) -> None:
    env.upstreams.define("weather", tools=[
        tool("forecast", description="Weather forecast for a city",
             inputSchema={"type": "object", "properties": {"city": {"type": "string"}}}),
        tool("alerts", description="Severe weather alerts for a region")])
    env.upstreams.define("clock", tools=[tool("now", description="Current time in a timezone")])
    await env.add("weather")
    await env.add("clock")


async def test_find_tools_ranks_and_names_exactly(env: Env) -> None:
    await _weather_and_clock(env)
    found = await find_tools(env.ws(), "will it rain in Oslo tomorrow", limit=3)
    assert found[0].name == "weather__forecast" and found[0].input_schema["properties"] == {"city": {"type": "string"}}
    assert (await find_tools(env.ws(), "clock__now"))[0].name == "clock__now"
    assert all(m.server != "meta-mcp" for m in await find_tools(env.ws(), "find tools servers", limit=50))


async def test_find_tools_filters_the_shared_index_per_caller(env: Env) -> None:
    await _weather_and_clock(env)
    ws = env.ws()
    everyone = [m.name for m in await find_tools(ws, "weather", limit=10)]
    assert set(everyone[:2]) == {"weather__alerts", "weather__forecast"}
    index = env.services.tool_index.get(ws.name, ws.registry.snapshot, lambda: pytest.fail("rebuilt"))
    alice = Caller(Identity("alice", role="viewer"), _Policy(Rules(deny=("weather__forecast",))))  # type: ignore[arg-type]
    with acting_as(alice):
        found = [m.name for m in await find_tools(ws, "weather forecast for a city", limit=10)]
        assert "weather__forecast" not in found and found[0] == "weather__alerts"
        assert "weather__forecast" not in [m.name for m in await find_tools(ws, "weather__forecast")]
    # The same index served both callers (it is the workspace's, built once per snapshot).
    assert env.services.tool_index.get(ws.name, ws.registry.snapshot, lambda: pytest.fail("rebuilt")) is index
    assert "weather__forecast" in [m.name for m in await find_tools(ws, "weather forecast", limit=10)]


# -- the benchmark's data ---------------------------------------------------------------------------------


def test_the_benchmark_data_is_what_find_quality_says() -> None:
    listings = json.loads((DATA / "tool_listings.json").read_text())
    queries = json.loads((DATA / "tool_queries.json").read_text())
    servers = listings["servers"]
    assert len(servers) >= 6 and set(listings["sources"]) == set(servers)
    for name, source in listings["sources"].items():
        assert source["package"] and source["version"] and source["tools"] == len(servers[name])
    names = {f"{server}__{t['name']}" for server, tools in servers.items() for t in tools}
    assert all(t.get("description") and "inputSchema" in t for tools in servers.values() for t in tools)
    dev, held_out = queries["dev"], queries["held_out"]
    assert len(dev) + len(held_out) >= 60 and abs(len(dev) - len(held_out)) <= 1
    texts = [q["query"] for q in dev + held_out]
    assert len(set(texts)) == len(texts)
    assert all(q["expected"] and set(q["expected"]) <= names for q in dev + held_out)
    fresh = queries["fresh"]  # a third set, evaluated only: none of its queries is one of the halves'
    assert len(fresh) >= 45 and all(q["expected"] and set(q["expected"]) <= names for q in fresh)
    assert len({q["query"].lower() for q in fresh} | {t.lower() for t in texts}) == len(fresh) + len(texts)
