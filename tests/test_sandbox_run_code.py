"""`run_code` and `get_code_api` through a real meta-mcp process, calling real upstream servers.

Upstreams: `tests/upstreams/rich.py` (structured results, errors), `tests/upstreams/echo.py` (plain
text results) under the name `my-echo` (so its identifier is `my_echo`), and echo again with
`"prefix": ""` (tools exposed unprefixed, still `tools.<server>.<tool>` in code). One meta-mcp over
HTTP serves the module; both client eras are exercised on the basic call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import ServerUrl, dump, make_client, meta_mcp_http, open_meta_client, text_of, upstream_entry

pytestmark = pytest.mark.anyio

SERVERS = {
    "rich": upstream_entry("rich"),
    "my-echo": upstream_entry("echo"),
    "bare": upstream_entry("echo", prefix=""),
}


@pytest.fixture(scope="module")
async def meta_url() -> AsyncIterator[ServerUrl]:
    async with meta_mcp_http(SERVERS) as url:
        yield url


@pytest.fixture(params=["legacy", "auto"])
async def client(request: pytest.FixtureRequest, meta_url: ServerUrl) -> AsyncIterator[Any]:
    async with make_client(str(meta_url), request.param) as c:
        yield c


async def run(client: Any, code: str, **args: Any) -> tuple[Any, dict[str, Any]]:
    result = await client.call_tool("run_code", {"code": code, **args})
    structured = result.structured_content
    assert isinstance(structured, dict), dump(result)
    return result, structured


async def test_result_console_and_structured_content(client: Any) -> None:
    result, s = await run(client, """
        const w = await tools.rich.get_weather({ city: "Oslo" });
        console.log("got", w.city, { units: w.units });
        console.error("a warning");
        export default { city: w.city, temperature: w.temperature, conditions: w.conditions };
    """)
    assert not result.is_error, text_of(result)
    direct = await client.call_tool("rich__get_weather", {"city": "Oslo"})
    expected = {k: direct.structured_content[k] for k in ("city", "temperature", "conditions")}
    assert s["ok"] is True and s["result"] == expected and s["toolCalls"] == 1
    assert s["console"] == "got Oslo { units: \"metric\" }\na warning\n"
    assert json.loads(result.content[0].text) == expected
    assert result.content[1].text == "console:\n" + s["console"]


async def test_text_results_json_parsing_and_identifiers(client: Any) -> None:
    result, s = await run(client, """
        const text = await tools.my_echo.echo({ text: "hello" });
        const parsed = await tools.my_echo.echo({ text: '{"n": [1, 2]}' });
        const bare = await tools.bare.echo({ text: "unprefixed" });
        const structured = await tools.rich.echo({ value: { deep: [true, null] } });
        export default { text, parsed, bare, structured };
    """)
    assert s["result"] == {"text": "hello", "parsed": {"n": [1, 2]}, "bare": "unprefixed",
                           "structured": {"value": {"deep": [True, None]}}}, text_of(result)
    # A string result is returned as the text itself.
    result, s = await run(client, 'export default await tools.my_echo.echo({ text: "just text" })')
    assert result.content[0].text == "just text" and s["result"] == "just text"


async def test_tool_errors_are_thrown_with_the_server_message(client: Any) -> None:
    result, s = await run(client, """
        let out;
        try {
          await tools.rich.fail({ message: "no luck" });
          out = "not thrown";
        } catch (e) {
          out = [e instanceof ToolError, e.name, e.message, e.server, e.tool];
        }
        export default out;
    """)
    assert s["result"] == [True, "ToolError", "rich failure: no luck", "rich", "fail"], text_of(result)

    result, s = await run(client, 'await tools.rich.fail({ message: "uncaught" }); export default 1')
    assert result.is_error and s["ok"] is False and s["error"]["kind"] == "code"
    assert "ToolError: rich failure: uncaught" in s["error"]["message"] and "user.ts:1" in s["error"]["message"]

    # A call the upstream rejects as a protocol error (missing argument) is thrown too.
    result, s = await run(client, 'export default await tools.my_echo.echo({})')
    assert result.is_error and "'text' must be a string" in s["error"]["message"], text_of(result)


async def test_code_errors_are_reported_without_sandbox_internals(client: Any) -> None:
    result, s = await run(client, "const a = 1;\nexport default (a + ;")
    assert result.is_error and s["error"]["kind"] == "code" and "SyntaxError" in s["error"]["message"]
    assert "prelude" not in s["error"]["message"] and "/tmp" not in s["error"]["message"]
    result, s = await run(client, "export default 10n")
    assert result.is_error and "not JSON-serializable" in s["error"]["message"]
    result, s = await run(client, "throw 'a string'")
    assert result.is_error and "a string" in s["error"]["message"]


async def test_javascript_and_timeout_argument(client: Any) -> None:
    result, s = await run(client, "const n = [1, 2, 3].map((x) => x * 2); export default n", language="javascript")
    assert s["result"] == [2, 4, 6], text_of(result)
    result, s = await run(client, "await new Promise(() => {}); export default 1", timeout_s=0.5)
    assert result.is_error and s["error"]["limit"] == "time" and "timeout_s=0.5" in s["error"]["message"]


async def test_get_code_api_and_servers_filter(client: Any) -> None:
    api = text_of(await client.call_tool("get_code_api", {}))
    assert "declare const tools: {" in api and "get_weather(args: RichGetWeatherInput)" in api
    assert "my_echo: {" in api and "bare: {" in api and "find_tools(args: MetaMcpFindToolsInput)" in api
    assert "run_code(" not in api and "call_tool(" not in api and "add_server(" not in api

    only = text_of(await client.call_tool("get_code_api", {"servers": ["my-echo"]}))
    assert "my_echo: {" in only and "rich" not in only.split("declare const tools")[1]

    result, s = await run(client, "export default Object.keys(tools)", servers=["rich"])
    assert s["result"] == ["rich"]
    result, s = await run(client, 'export default await tools.my_echo.echo({ text: "x" })', servers=["rich"])
    assert result.is_error and "tools.my_echo is not available to this run (servers: rich)" in s["error"]["message"]

    result = await client.call_tool("run_code", {"code": "export default 1", "servers": ["nope"]})
    assert result.is_error and "unknown server(s): nope" in text_of(result)


async def test_only_read_only_meta_tools_are_callable(client: Any) -> None:
    result, s = await run(client, """
        const found = await tools.meta_mcp.find_tools({ query: "weather" });
        const servers = await tools.meta_mcp.list_servers({});
        export default { found: found.tools[0].name, servers: servers.servers.map((x: any) => x.name).sort(),
                         meta: Object.keys(tools.meta_mcp).sort() };
    """)
    assert s["result"]["found"] == "rich__get_weather", text_of(result)
    assert s["result"]["servers"] == ["bare", "my-echo", "rich"]
    assert "run_code" not in s["result"]["meta"] and "call_tool" not in s["result"]["meta"]
    for tool in ("run_code", "call_tool", "add_server", "remove_server"):
        result, s = await run(client, f'export default await tools.meta_mcp.{tool}({{ code: "1", name: "x" }})')
        assert result.is_error and f"tools.meta_mcp.{tool} is not a tool of this run" in s["error"]["message"]


async def test_allowed_servers_setting() -> None:
    """`META_MCP_SANDBOX_ALLOWED_SERVERS` limits what code can reach, whatever a call asks for."""
    env_servers = {"rich": upstream_entry("rich"), "echo": upstream_entry("echo")}
    allowed = {"META_MCP_SANDBOX_ALLOWED_SERVERS": '["echo"]'}
    async with meta_mcp_http(env_servers, env=allowed) as url, make_client(str(url), "legacy") as client:
        result, s = await run(client, "export default Object.keys(tools)")
        assert s["result"] == ["echo"], text_of(result)
        result, s = await run(client, 'export default await tools.rich.get_weather({ city: "x" })')
        assert result.is_error and "tools.rich is not available" in s["error"]["message"]
        result = await client.call_tool("run_code", {"code": "export default 1", "servers": ["rich"]})
        assert result.is_error and "not allowed for run_code: rich (sandbox_allowed_servers)" in text_of(result)
        # Outside the sandbox the tool is still there: the limit is run_code's, not the workspace's.
        assert not (await client.call_tool("rich__get_weather", {"city": "x"})).is_error


async def test_calls_from_code_take_the_registry_call_path() -> None:
    """Per-server policy (here the call timeout) applies to calls from code exactly as to client calls."""
    servers = {"hang": upstream_entry("hang", timeout=0.5)}
    async with open_meta_client("stdio", "legacy", servers) as client:
        result, s = await run(client, """
            let err = "";
            try { await tools.hang.hang({}); } catch (e) { err = (e as Error).message; }
            export default [err, await tools.hang.ok({})];
        """)
        direct = await client.call_tool("hang__hang", {})
        assert direct.is_error
        assert s["result"] == [text_of(direct), {"marker": "hang-ok"}], text_of(result)
        assert "timed out" in text_of(direct)


async def test_run_code_over_stdio() -> None:
    async with open_meta_client("stdio", "legacy", {"echo": upstream_entry("echo")}) as client:
        result, s = await run(client, 'export default await tools.echo.echo({ text: "stdio" })')
        assert s["result"] == "stdio", text_of(result)
