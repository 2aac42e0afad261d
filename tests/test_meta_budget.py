"""The meta tools' token budget (issue 18, item 1), and that a model still gets its work done with them.

- **Budget**: what `tools/list` returns for the meta tools, as compact JSON, costs fewer than `BUDGET`
  o200k_base tokens (GPT-4o, GPT-4.1, GPT-5). The tokenizer is tiktoken's o200k_base loaded offline by
  `bench/surface.py`'s loader (rebuilt from the vocabulary `toktok-rs` ships, SHA-256 checked; every
  count cross-checked with toktok). It is counted twice: from the definitions, with `find_tools`'
  description generated for six real servers behind it (the longest form: tools/list narrowed to the
  meta tools), and from the listing a real meta-mcp returns over HTTP with five servers behind it. A
  failure prints the count of every tool.
- **Flows**: `agent_chat` against the scripted OpenAI-compatible model (`tests/openai_stub.py`, real HTTP)
  and a real meta-mcp over HTTP: find_servers → add_server → the added tool, and a run_code that calls
  two servers' tools; the inner model is offered the lean definitions, exactly as listed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from meta_mcp.registry.exposure import SurfaceSummary
from meta_mcp.surface.meta_tools import META_TOOLS
from meta_mcp.surface.meta_tools.tools import find_tools_description
from openai_stub import OpenAIStub, text, tool_calls
from support import MODES, REPO, make_client, meta_mcp_http, text_of, time_entry, upstream_entry
from test_agent_loop import agent_env, stub  # noqa: F401 - stub: the module-scoped scripted model (a fixture)

pytestmark = pytest.mark.anyio

BUDGET = 2000
"""o200k_base tokens for the meta tools' tools/list entries, together (issue 18: under 2,000)."""

DEFINITIONS = {t.name: t.definition for t in META_TOOLS}

REAL_SERVERS = SurfaceSummary(
    64, (("everything", 26), ("filesystem", 14), ("git", 12), ("memory", 9), ("time", 2), ("sequentialthinking", 1)),
    listed_all=False, mode="auto")
"""What stands behind find_tools with the six servers of issue 18's measurement (64 tools), more than
`expose_auto_max` allows to list: its description is then the longest it gets."""


def _load_counter() -> Any:
    """bench/surface.py's o200k_base counter (imported from the file, not copied)."""
    spec = importlib.util.spec_from_file_location("bench_surface", REPO / "bench" / "surface.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Counter()


@pytest.fixture(scope="module")
def count() -> Any:
    try:
        counter = _load_counter()
        counter("probe")  # every count is cross-checked with toktok: it must load too
        return counter
    except (Exception, SystemExit) as exc:  # the loader refuses with SystemExit when the vocabulary differs
        pytest.fail("cannot count tokens: tiktoken's o200k_base did not load offline through bench/surface.py's "
                    "loader (it needs the tiktoken and toktok-rs packages, or the encoding file in "
                    f"TIKTOKEN_CACHE_DIR): {type(exc).__name__}: {exc}", pytrace=False)


def _check_budget(count: Any, tools: list[dict[str, Any]], what: str) -> None:
    total = count(tools)
    per_tool = "\n".join(f"  {t['name']:<20} {count(t):>5}" for t in tools)
    assert total < BUDGET, f"{what}: {total} o200k_base tokens, budget {BUDGET}; per tool:\n{per_tool}"


def test_the_meta_tool_definitions_fit_the_budget(count: Any) -> None:
    description = find_tools_description(REAL_SERVERS)
    assert description.startswith("Search 64 tools of everything, filesystem")
    assert "NOT in your tool list" in description
    tools = [{**d, "description": description} if name == "find_tools" else d for name, d in DEFINITIONS.items()]
    assert len(tools) == 13
    _check_budget(count, tools, "the meta tools' definitions (find_tools with six servers behind it)")


def test_the_tokenizer_is_o200k_base(count: Any) -> None:
    """A guard against counting with some other encoding: known o200k_base counts."""
    assert count("hello world") == 2
    assert count({"name": "find_tools"}) == len(count.encoding.encode('{"name":"find_tools"}'))
    assert count.encoding.name == "o200k_base"


# --------------------------------------------------------------------------- a real meta-mcp over HTTP

def _catalog(path: Path) -> Path:
    rich = {"command": sys.executable, "args": [str(REPO / "tests/upstreams/rich.py")]}
    path.write_text(yaml.safe_dump({"registry": {
        "weather": {"title": "Weather (test)", "description": "Current weather for any city, in metric or imperial "
                    "units.", "type": "server", "run": rich, "metadata": {"tags": ["weather", "forecast"]}},
        "notes": {"title": "Notes (test)", "description": "Keep short notes and find them again.", "type": "server",
                  "run": {"command": sys.executable, "args": [str(REPO / "tests/upstreams/echo.py")]}},
    }}))
    return path


@pytest.fixture(scope="module")
async def meta(stub: OpenAIStub, tmp_path_factory: pytest.TempPathFactory) -> Any:  # noqa: F811
    """meta-mcp over HTTP with five servers (20 tools: more than the 5 it lists in full), a catalog and the
    scripted model."""
    catalog = _catalog(tmp_path_factory.mktemp("budget") / "catalog.yaml")
    servers = {"echo": upstream_entry("echo"), "shapes": upstream_entry("shapes"), "dynamic": upstream_entry("dynamic"),
               "time": time_entry(), "many": upstream_entry("many", "--tools", "12", "--size", "80")}
    env = agent_env(stub, META_MCP_EXPOSE="auto", META_MCP_EXPOSE_AUTO_MAX="5")
    async with meta_mcp_http(servers, "--catalog", str(catalog), env=env) as url:
        yield url


@pytest.mark.parametrize("mode", MODES)
async def test_the_listed_meta_tools_fit_the_budget(meta: Any, count: Any, mode: str) -> None:
    async with make_client(str(meta), mode) as client:
        tools = (await client.list_tools()).tools
    listed = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]
    assert [t["name"] for t in listed] == list(DEFINITIONS)  # narrowed: only the meta tools
    find_tools = next(t for t in listed if t["name"] == "find_tools")
    assert find_tools["description"].startswith("Search 20 tools of many, dynamic, shapes, time, echo"), find_tools
    for tool in listed:  # the listing is the definitions (find_tools' description aside)
        want = DEFINITIONS[tool["name"]]
        assert {k: v for k, v in tool.items() if k != "description"} == {k: v for k, v in want.items()
                                                                         if k != "description"}
    _check_budget(count, listed, f"tools/list of a real meta-mcp ({mode} client), five servers behind it")


def _offered(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tools one model request offered, by name."""
    return {t["function"]["name"]: t["function"] for t in request["body"]["tools"]}


def _tool_messages(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]


def _lean_definitions_offered(offered: dict[str, dict[str, Any]], names: tuple[str, ...]) -> None:
    for name in names:
        assert offered[name]["description"].endswith(DEFINITIONS[name]["description"]), name  # after the title
        assert offered[name]["parameters"] == DEFINITIONS[name]["inputSchema"], name


async def test_find_add_call_through_agent_chat(meta: Any, stub: OpenAIStub) -> None:  # noqa: F811
    stub.script(
        tool_calls(("find_servers", {"query": "what is the weather in a city", "limit": 3})),
        tool_calls(("add_server", {"name": "weather"})),  # the top hit, as a model reads it off the result
        tool_calls(("weather__get_weather", {"city": "Oslo"})),
        text("It is 22 degrees in Oslo."),
    )
    try:
        async with make_client(str(meta), "auto") as client:
            result = await client.call_tool("agent_chat", {"message": "What is the weather in Oslo?"})
    finally:
        async with make_client(str(meta), "auto") as client:
            await client.call_tool("remove_server", {"name": "weather"})
    d = result.structured_content
    assert d and d["status"] == "complete" and d["answer"] == "It is 22 degrees in Oslo.", text_of(result)
    assert [(c["name"], c["ok"]) for c in d["trace"]["tool_calls"]] == [
        ("find_servers", True), ("add_server", True), ("weather__get_weather", True)]

    first, after_find, after_add, after_call = stub.requests
    offered = _offered(first)
    _lean_definitions_offered(offered, ("find_servers", "add_server", "remove_server", "run_code"))
    assert "weather__get_weather" not in offered and "weather__get_weather" in _offered(after_add)
    found = _tool_messages(after_find)[-1]
    assert "1. weather — Weather (test) [can run here]" in found, found
    assert "weather__get_weather" in _tool_messages(after_add)[-1]
    called = _tool_messages(after_call)[-1]
    assert "Oslo" in called, called


async def test_run_code_through_agent_chat(meta: Any, stub: OpenAIStub) -> None:  # noqa: F811
    code = """
        const words = ["alpha", "beta", "gamma"];
        const echoed: string[] = [];
        for (const word of words) echoed.push(await tools.echo.echo({ text: word }));
        const now = await tools.time.get_current_time({ timezone: "UTC" });
        console.log(`${echoed.length + 1} tool calls`);
        export default { echoed: echoed.join(" "), timezone: now.timezone };
    """
    stub.script(tool_calls(("run_code", {"code": code})), text("alpha beta gamma, in UTC"))
    async with make_client(str(meta), "auto") as client:
        result = await client.call_tool("agent_chat", {"message": "Echo three words, then tell me the time zone."})
    d = result.structured_content
    assert d and d["status"] == "complete" and d["answer"] == "alpha beta gamma, in UTC", text_of(result)
    assert [(c["name"], c["ok"]) for c in d["trace"]["tool_calls"]] == [("run_code", True)]

    first, after_run = stub.requests
    offered = _offered(first)
    _lean_definitions_offered(offered, ("run_code",))
    assert "await tools.<server>.<tool>(args)" in offered["run_code"]["description"]
    assert "export default" in offered["run_code"]["description"]
    ran = _tool_messages(after_run)[-1]
    assert json.loads(ran.split("\nconsole:")[0].strip()) == {"echoed": "alpha beta gamma", "timezone": "UTC"}, ran
    assert "4 tool calls" in ran, ran


async def test_what_run_code_leaves_out_get_code_api_says(meta: Any) -> None:
    """The details run_code's description no longer carries head get_code_api's declarations."""
    async with make_client(str(meta), "auto") as client:
        api = text_of(await client.call_tool("get_code_api", {"servers": ["echo"]}))
    head = api.split("declare ", 1)[0]
    assert head.startswith("// meta-mcp run_code API (TypeScript).") and "ToolError" in head, head
    assert "// Limits per run: 30 s wall time (run_code's timeout_s, at most 300 s)" in head, head
    assert "100 tool calls" in head and "'meta-mcp': the\n// read-only meta tools" in head, head
    assert "error?: {kind: code|limit|denied|" in head, head
    assert "echo(args: EchoEchoInput)" in api
