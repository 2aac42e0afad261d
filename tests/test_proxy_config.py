"""Config-file options through a real meta-mcp: prefix (custom and ""), env, cwd, remote url + headers, YAML.

- ``prefix: "rh"`` exposes ``rh__<tool>`` / ``rh__<prompt>``; resources still use the *server name*:
  ``meta://remote/<uri>``.
- ``prefix: ""`` exposes tools and prompts unprefixed and resource URIs unchanged.
- ``env`` and ``cwd`` reach the launched stdio process; ``headers`` reach a streamable-HTTP upstream.
- A YAML config file loads like the JSON one.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from support import (
    COVERING_COMBOS,
    combo_ids,
    dump,
    list_servers,
    open_meta_client,
    text_of,
    time_entry,
    tool_names,
    upstream_entry,
    upstream_http,
    wait_for_tools,
)

pytestmark = pytest.mark.anyio

WORKDIR = Path(tempfile.mkdtemp(prefix="meta-mcp-cwd-")).resolve()


@pytest.fixture(scope="module")
async def remote_rich() -> AsyncIterator[str]:
    async with upstream_http("rich") as url:
        yield str(url)


@pytest.fixture(scope="module", params=COVERING_COMBOS, ids=combo_ids(COVERING_COMBOS))
async def meta(request: pytest.FixtureRequest, remote_rich: str) -> AsyncIterator[Any]:
    transport, mode = request.param
    servers = {
        "remote": {"url": remote_rich, "headers": {"X-Meta-Test": "header-value-1"}, "prefix": "rh"},
        "plain": upstream_entry("rich", prefix="", env={"META_TEST_VAR": "env-value-1"}, cwd=str(WORKDIR)),
        "time": time_entry(prefix="clock"),
    }
    async with open_meta_client(transport, mode, servers) as client:
        try:
            await wait_for_tools(client, ["rh", "clock"], timeout=30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- meta-mcp stderr ---\n{client.stderr()}") from None
        yield client


async def test_prefixes_shape_tool_names(meta: Any) -> None:
    names = set(await tool_names(meta))
    assert {"rh__get_weather", "rh__echo", "clock__convert_time", "clock__get_current_time"} <= names, sorted(names)
    assert {"get_weather", "echo", "all_content"} <= names, f"unprefixed tools missing: {sorted(names)}"
    assert not [n for n in names if n.startswith(("remote__", "time__", "plain__"))], sorted(names)
    assert {"list_servers", "find_tools", "call_tool"} <= names


async def test_list_servers_reports_prefix_and_transport(meta: Any) -> None:
    servers = await list_servers(meta)
    assert servers["remote"]["prefix"] == "rh" and servers["remote"]["transport"] == "http", servers["remote"]
    assert servers["plain"]["prefix"] == "" and servers["plain"]["transport"] == "stdio", servers["plain"]
    assert servers["time"]["prefix"] == "clock", servers["time"]
    for name in ("remote", "plain", "time"):
        assert servers[name]["status"] == "ready", servers[name]


async def test_calls_route_by_prefix(meta: Any) -> None:
    a = await meta.call_tool("rh__echo", {"value": "remote"})
    b = await meta.call_tool("echo", {"value": "plain"})
    assert a.structured_content == {"value": "remote"}, dump(a)
    assert b.structured_content == {"value": "plain"}, dump(b)
    c = await meta.call_tool("clock__convert_time", {"source_timezone": "UTC", "time": "08:00", "target_timezone": "UTC"})
    assert not c.is_error and c.structured_content["time_difference"] == "+0.0h", dump(c)


async def test_env_and_cwd_reach_the_stdio_upstream(meta: Any) -> None:
    r = await meta.call_tool("environment", {"names": ["META_TEST_VAR"]})
    assert not r.is_error, text_of(r)
    assert r.structured_content["env"] == {"META_TEST_VAR": "env-value-1"}, r.structured_content
    assert Path(r.structured_content["cwd"]).resolve() == WORKDIR, r.structured_content


async def test_headers_reach_the_http_upstream(meta: Any) -> None:
    r = await meta.call_tool("rh__request_headers", {"names": ["X-Meta-Test"]})
    assert not r.is_error, text_of(r)
    assert r.structured_content == {"headers": {"x-meta-test": "header-value-1"}}, r.structured_content


async def test_resource_uris_use_server_name_or_stay_unchanged(meta: Any) -> None:
    uris = {r.uri for r in (await meta.list_resources()).resources}
    assert "meta://remote/rich://static/hello.txt" in uris, sorted(uris)
    assert "rich://static/hello.txt" in uris, f"prefix '' must leave URIs unchanged: {sorted(uris)}"
    templates = {t.uri_template for t in (await meta.list_resource_templates()).resource_templates}
    assert {"meta://remote/rich://items/{id}", "rich://items/{id}"} <= templates, sorted(templates)

    remote = await meta.read_resource("meta://remote/rich://static/hello.txt")
    plain = await meta.read_resource("rich://static/hello.txt")
    assert remote.contents[0].text == plain.contents[0].text == "Hello from rich!"
    item = await meta.read_resource("rich://items/7")
    assert item.contents[0].text == '{"id": "7", "kind": "item"}'
    item = await meta.read_resource("meta://remote/rich://items/8")
    assert item.contents[0].text == '{"id": "8", "kind": "item"}'


async def test_prompts_follow_the_prefix(meta: Any) -> None:
    names = {p.name for p in (await meta.list_prompts()).prompts}
    assert {"rh__greet", "greet", "rh__plain", "plain"} <= names, sorted(names)
    r = await meta.get_prompt("rh__greet", {"name": "Zed"})
    assert r.messages[1].content.text == "Hey Zed!"
    r = await meta.get_prompt("greet", {"name": "Ida", "style": "formal"})
    assert r.messages[1].content.text == "Good day, Ida."


async def test_unknown_prompt_is_an_error_naming_it(meta: Any) -> None:
    with pytest.raises(MCPError) as info:
        await meta.get_prompt("rh__no_such_prompt", {})
    assert "no_such_prompt" in str(info.value)


async def test_yaml_config_file_loads(tmp_path: Path) -> None:
    from support import PYTHON, upstream_script

    config = tmp_path / "servers.yaml"
    config.write_text(
        "mcpServers:\n"
        "  hang:\n"
        f"    command: {PYTHON}\n"
        f"    args: [{upstream_script('hang')}]\n"
        "    timeout: 5\n"
    )
    async with open_meta_client("stdio", "auto", config) as client:
        await wait_for_tools(client, ["hang"], timeout=30)
        r = await client.call_tool("hang__ok", {})
        assert r.structured_content == {"marker": "hang-ok"}, dump(r)
