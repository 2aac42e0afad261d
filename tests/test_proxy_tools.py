"""meta-mcp as a real subprocess proxying real upstreams: tools, results, resources, prompts, meta tools.

Upstreams: ``tests/upstreams/rich.py`` (every tool/content shape), PyPI ``mcp-server-time``, npm
``@modelcontextprotocol/server-everything``. Every test runs for both client eras ("auto" = 2026-07-28,
"legacy" = 2025-11-25 handshake) over both meta-mcp transports (stdio, http). One meta-mcp process is
shared per (transport, mode) across this module; the reference answers come from the same upstreams
spawned directly.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from support import (
    COMBOS,
    MODES,
    combo_ids,
    dump,
    everything_entry,
    everything_params,
    list_servers,
    ServerUrl,
    make_client,
    meta_client_for,
    meta_mcp_http,
    result_essence,
    text_of,
    time_entry,
    time_params,
    upstream_entry,
    upstream_params,
    wait_for_status,
    wait_for_tools,
)

pytestmark = pytest.mark.anyio

SERVERS = {
    "rich": upstream_entry("rich"),
    "time": time_entry(),
    "everything": everything_entry(),
}
META_TOOLS = {"list_servers", "find_tools", "call_tool"}
PASSTHROUGH_FIELDS = ("inputSchema", "outputSchema", "annotations", "title", "icons", "_meta")


async def _not_asked(context: Any, params: Any) -> Any:
    raise AssertionError("the direct reference client is never asked for sampling or elicitation here")


# meta-mcp's upstream client declares sampling and elicitation (it forwards those requests to its own
# clients), and servers such as server-everything list more tools for such a client: the direct
# reference client declares the same, so both see the same server.
_LIKE_META = {"sampling_callback": _not_asked, "elicitation_callback": _not_asked}


@pytest.fixture(scope="module")
async def direct() -> AsyncIterator[dict[str, dict[str, Any]]]:
    """Direct clients to the same upstreams, per mode: ``direct[mode][server]``."""
    async with contextlib.AsyncExitStack() as stack:
        out: dict[str, dict[str, Any]] = {}
        for mode in MODES:
            out[mode] = {
                "rich": await stack.enter_async_context(make_client(upstream_params("rich"), mode, **_LIKE_META)),
                "time": await stack.enter_async_context(make_client(time_params(), mode, **_LIKE_META)),
                "everything": await stack.enter_async_context(
                    make_client(everything_params(), mode, **_LIKE_META)
                ),
            }
        yield out


@pytest.fixture(scope="module")
async def meta_http() -> AsyncIterator[ServerUrl]:
    """One meta-mcp over http for the module; it serves the "auto" and the "legacy" client alike."""
    async with meta_mcp_http(SERVERS) as url:
        yield url


@pytest.fixture(scope="module", params=COMBOS, ids=combo_ids(COMBOS))
async def meta(
    request: pytest.FixtureRequest, direct: dict[str, dict[str, Any]], meta_http: ServerUrl
) -> AsyncIterator[Any]:
    # Depends on `direct` so that `direct` is entered first: anyio runs async fixtures in one task, so
    # their cancel scopes must nest, and `meta` is torn down (per param) while `direct` lives on.
    transport, mode = request.param
    async with meta_client_for(transport, mode, SERVERS, http_url=meta_http) as client:
        try:
            await wait_for_tools(client, list(SERVERS), timeout=40)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- meta-mcp stderr ---\n{client.stderr()}") from None
        yield client


def _ref(direct: dict[str, dict[str, Any]], meta: Any, server: str) -> Any:
    return direct[meta.mode][server]


async def _all_tools(client: Any) -> dict[str, Any]:
    tools: dict[str, Any] = {}
    cursor = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools.update({t.name: t for t in page.tools})
        cursor = page.next_cursor
        if not cursor:
            return tools


# --------------------------------------------------------------------------- tools/list


async def test_namespaced_tools_and_meta_tools_are_listed(meta: Any, direct: dict[str, dict[str, Any]]) -> None:
    listed = await _all_tools(meta)
    assert META_TOOLS <= set(listed), f"meta tools missing: {META_TOOLS - set(listed)}"
    for server in SERVERS:
        upstream = await _all_tools(_ref(direct, meta, server))
        expected = {f"{server}__{name}" for name in upstream}
        proxied = {n for n in listed if n.startswith(f"{server}__")}
        assert proxied == expected, f"{server}: missing {expected - proxied}, unexpected {proxied - expected}"


@pytest.mark.parametrize("server", list(SERVERS))
async def test_tool_definitions_pass_through_exactly(meta: Any, direct: dict[str, dict[str, Any]], server: str) -> None:
    listed = await _all_tools(meta)
    upstream = await _all_tools(_ref(direct, meta, server))
    assert upstream, f"{server} lists no tools directly"
    for name, tool in upstream.items():
        proxied = listed.get(f"{server}__{name}")
        assert proxied is not None, f"{server}__{name} not listed"
        want, got = dump(tool), dump(proxied)
        for field in PASSTHROUGH_FIELDS:
            assert got.get(field) == want.get(field), (
                f"{server}__{name}.{field} differs:\n proxied: {json.dumps(got.get(field), sort_keys=True)}\n"
                f" upstream: {json.dumps(want.get(field), sort_keys=True)}"
            )


async def test_rich_tool_metadata_survives(meta: Any) -> None:
    """Spot-check the unusual fields explicitly, so a passthrough that drops everything can't pass vacuously."""
    tool = (await _all_tools(meta))["rich__get_weather"]
    d = dump(tool)
    assert d["title"] == "Weather Lookup"
    assert d["annotations"]["readOnlyHint"] is True and d["annotations"]["idempotentHint"] is True
    assert [i["theme"] for i in d["icons"]] == ["light", "dark"]
    assert d["_meta"]["example.com/cost"] == {"credits": 1, "tier": "free"}
    assert d["outputSchema"]["required"] == ["city", "temperature", "units", "conditions"]
    zoo = dump((await _all_tools(meta))["rich__schema_zoo"])
    assert zoo["inputSchema"]["$defs"]["point"]["required"] == ["x", "y"]
    assert "unicode_ключ" in zoo["inputSchema"]["properties"]


# --------------------------------------------------------------------------- tools/call


CALLS = [
    ("rich", "get_weather", {"city": "Paris"}),
    ("rich", "get_weather", {"city": "Oslo", "units": "imperial"}),
    ("rich", "fail", {"message": "boom"}),
    ("rich", "all_content", {}),
    ("rich", "echo", {"value": {"nested": [1, 2.5, None, True, "ü"], "empty": {}}}),
    ("rich", "schema_zoo", {"points": [{"x": 1, "y": 2}], "mode": "exact", "tags": {"k": "v"}}),
    ("time", "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}),
    ("everything", "echo", {"message": "hello through the proxy"}),
    ("everything", "get-sum", {"a": 2, "b": 40}),
    ("everything", "get-tiny-image", {}),
    ("everything", "get-structured-content", {"location": "Chicago"}),
    ("everything", "get-annotated-message", {"messageType": "error", "includeImage": True}),
    ("everything", "get-resource-links", {"count": 3}),
]


@pytest.mark.parametrize(
    ("server", "tool", "args"), CALLS, ids=[f"{s}__{t}-{i}" for i, (s, t, _) in enumerate(CALLS)]
)
async def test_call_result_equals_direct_result(
    meta: Any, direct: dict[str, dict[str, Any]], server: str, tool: str, args: dict[str, Any]
) -> None:
    want = await _ref(direct, meta, server).call_tool(tool, args)
    got = await meta.call_tool(f"{server}__{tool}", args)
    assert result_essence(got) == result_essence(want), (
        f"{server}__{tool}:\n proxied: {json.dumps(dump(got), sort_keys=True)[:2000]}\n"
        f" upstream: {json.dumps(dump(want), sort_keys=True)[:2000]}"
    )


async def test_is_error_result_is_a_result_not_a_protocol_error(meta: Any) -> None:
    r = await meta.call_tool("rich__fail", {"message": "expected failure"})
    assert r.is_error is True
    assert text_of(r) == "rich failure: expected failure"
    assert (r.meta or {}).get("example.com/error") == {"code": "E_RICH", "retryable": False}


async def test_unknown_tool_mentions_the_name(meta: Any) -> None:
    name = "rich__no_such_tool_xyz"
    try:
        r = await meta.call_tool(name, {})
    except MCPError as exc:
        assert name in str(exc) or "no_such_tool_xyz" in str(exc), f"error does not name the tool: {exc}"
    else:
        assert r.is_error, f"unknown tool call succeeded: {dump(r)}"
        assert "no_such_tool_xyz" in text_of(r), f"error result does not name the tool: {text_of(r)!r}"


async def test_concurrent_calls_to_different_servers(meta: Any, direct: dict[str, dict[str, Any]]) -> None:
    results: dict[str, Any] = {}

    async def call(key: str, name: str, args: dict[str, Any]) -> None:
        results[key] = await meta.call_tool(name, args)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(call, f"echo{i}", "rich__echo", {"value": i})
                tg.start_soon(call, f"sum{i}", "everything__get-sum", {"a": i, "b": 1})
    for i in range(5):
        assert results[f"echo{i}"].structured_content == {"value": i}
        assert f"{i + 1}" in text_of(results[f"sum{i}"])


# --------------------------------------------------------------------------- progress


async def test_progress_from_upstream_reaches_caller(meta: Any) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    with anyio.fail_after(20):
        r = await meta.call_tool("rich__progress", {"steps": 4}, progress_callback=on_progress)
    assert not r.is_error, text_of(r)
    assert text_of(r) == "done 4"
    assert seen == [(1, 4, "step 1"), (2, 4, "step 2"), (3, 4, "step 3"), (4, 4, "step 4")]


async def test_progress_from_everything_reaches_caller(meta: Any) -> None:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    with anyio.fail_after(20):
        r = await meta.call_tool(
            "everything__trigger-long-running-operation", {"duration": 0.6, "steps": 3}, progress_callback=on_progress
        )
    assert not r.is_error, text_of(r)
    assert seen == [(1, 3), (2, 3), (3, 3)]


# --------------------------------------------------------------------------- resources


async def test_resources_are_listed_with_rewritten_uris(meta: Any, direct: dict[str, dict[str, Any]]) -> None:
    listed = {r.uri: r for r in (await meta.list_resources()).resources}
    for server in ("rich", "everything"):
        upstream = (await _ref(direct, meta, server).list_resources()).resources
        assert upstream
        for res in upstream:
            exposed = f"meta://{server}/{res.uri}"
            assert exposed in listed, f"{exposed} not listed; have {sorted(listed)[:20]}"
            want = dump(res)
            got = dump(listed[exposed])
            want.pop("uri")
            got.pop("uri")
            assert got == want, f"{exposed} metadata differs: {got} != {want}"


async def test_resource_templates_are_listed_with_rewritten_uris(meta: Any) -> None:
    templates = {t.uri_template: t for t in (await meta.list_resource_templates()).resource_templates}
    assert "meta://rich/rich://items/{id}" in templates, sorted(templates)
    t = dump(templates["meta://rich/rich://items/{id}"])
    assert t["name"] == "item" and t["mimeType"] == "application/json" and t["title"] == "Item by id"
    assert "meta://everything/demo://resource/dynamic/text/{resourceId}" in templates, sorted(templates)


def _contents(result: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in dump(c).items() if k != "uri"} for c in result.contents]


@pytest.mark.parametrize(
    ("server", "uri"),
    [
        ("rich", "rich://static/hello.txt"),
        ("rich", "rich://static/data.bin"),
        ("rich", "rich://items/42"),
        ("everything", "demo://resource/static/document/architecture.md"),
        ("everything", "demo://resource/static/document/features.md"),
    ],
)
async def test_resource_read_routes_back(meta: Any, direct: dict[str, dict[str, Any]], server: str, uri: str) -> None:
    want = await _ref(direct, meta, server).read_resource(uri)
    got = await meta.read_resource(f"meta://{server}/{uri}")
    assert _contents(got) == _contents(want)
    for c in got.contents:
        assert c.uri in (uri, f"meta://{server}/{uri}"), f"unexpected uri in contents: {c.uri}"


async def test_templated_resource_of_everything_routes_back(meta: Any) -> None:
    """everything's dynamic text embeds a timestamp, so compare its stable part only."""
    got = await meta.read_resource("meta://everything/demo://resource/dynamic/text/2")
    assert len(got.contents) == 1, dump(got)
    assert got.contents[0].text.startswith("Resource 2: This is a plaintext resource"), dump(got)


async def test_unknown_resource_is_an_error(meta: Any) -> None:
    with pytest.raises(MCPError):
        await meta.read_resource("meta://rich/rich://static/missing.txt")


# --------------------------------------------------------------------------- prompts


async def test_prompts_are_listed_namespaced(meta: Any, direct: dict[str, dict[str, Any]]) -> None:
    listed = {p.name: p for p in (await meta.list_prompts()).prompts}
    for server in ("rich", "everything"):
        for p in (await _ref(direct, meta, server).list_prompts()).prompts:
            name = f"{server}__{p.name}"
            assert name in listed, f"{name} not listed; have {sorted(listed)}"
            want, got = dump(p), dump(listed[name])
            want.pop("name")
            got.pop("name")
            assert got.get("arguments") == want.get("arguments"), name
            assert got.get("title") == want.get("title"), name


@pytest.mark.parametrize(
    ("server", "prompt", "args"),
    [
        ("rich", "greet", {"name": "Ann", "style": "formal"}),
        ("rich", "greet", {"name": "Bo"}),
        ("rich", "plain", None),
        ("everything", "args-prompt", {"city": "Paris", "state": "IDF"}),
    ],
)
async def test_get_prompt_routes_back(
    meta: Any, direct: dict[str, dict[str, Any]], server: str, prompt: str, args: dict[str, str] | None
) -> None:
    want = await _ref(direct, meta, server).get_prompt(prompt, args)
    got = await meta.get_prompt(f"{server}__{prompt}", args)
    assert dump(got)["messages"] == dump(want)["messages"]
    assert got.description == want.description


# --------------------------------------------------------------------------- meta tools


async def test_list_servers_reports_every_server(meta: Any, direct: dict[str, dict[str, Any]]) -> None:
    servers = await list_servers(meta)
    assert set(SERVERS) <= set(servers), servers
    for name in SERVERS:
        entry = await wait_for_status(meta, name, "ready")
        upstream = _ref(direct, meta, name)
        assert entry["transport"] == "stdio"
        assert entry["prefix"] == name
        assert entry["tools"] == len(await _all_tools(upstream)), entry
        assert not entry.get("last_error"), entry
    assert servers["rich"]["resources"] >= 2 and servers["rich"]["prompts"] == 2, servers["rich"]
    assert servers["time"]["prompts"] == 0 and servers["time"]["tools"] == 2, servers["time"]


async def test_find_tools_ranks_the_obvious_match_first(meta: Any) -> None:
    r = await meta.call_tool("find_tools", {"query": "weather city", "limit": 5})
    assert not r.is_error, text_of(r)
    found = r.structured_content["tools"]
    assert 1 <= len(found) <= 5
    assert found[0]["name"] == "rich__get_weather", found
    assert found[0]["server"] == "rich"
    assert found[0]["description"]
    scores = [t["score"] for t in found]
    assert scores == sorted(scores, reverse=True), scores

    r = await meta.call_tool("find_tools", {"query": "convert time between timezones"})
    found = r.structured_content["tools"]
    assert found and found[0]["name"] == "time__convert_time", found
    assert len(found) <= 10


async def test_call_tool_meta_tool_returns_the_proxied_result(meta: Any, direct: dict[str, dict[str, Any]]) -> None:
    want = await _ref(direct, meta, "rich").call_tool("get_weather", {"city": "Lima"})
    got = await meta.call_tool("call_tool", {"name": "rich__get_weather", "arguments": {"city": "Lima"}})
    assert result_essence(got) == result_essence(want), dump(got)

    err = await meta.call_tool("call_tool", {"name": "rich__fail", "arguments": {"message": "via call_tool"}})
    assert err.is_error and text_of(err) == "rich failure: via call_tool"


async def test_call_tool_meta_tool_unknown_name(meta: Any) -> None:
    try:
        r = await meta.call_tool("call_tool", {"name": "nowhere__nothing", "arguments": {}})
    except MCPError as exc:
        assert "nowhere__nothing" in str(exc)
    else:
        assert r.is_error and "nowhere__nothing" in text_of(r), dump(r)
