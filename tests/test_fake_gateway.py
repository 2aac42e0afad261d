"""The stand-in Docker MCP Gateway (tests/fake_gateway.py) and `docker mcp` (tests/fake_docker.py) behave as specified.

No Docker engine runs here, so issue 10's integration tests talk to a stand-in written from the
gateway's source (v0.43.3). These tests pin what that stand-in does, with the MCP SDK client over a
real socket (streamable HTTP with a bearer token, and stdio through `docker mcp gateway run`) and raw
HTTP for the gateway's own 401/403/307/health answers. The catalog's servers are the test upstreams
in tests/upstreams/ (echo.py, rich.py), started as local processes from our `run:` block.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from fake_docker import install_fake_docker
from fake_gateway import write_example_catalog as write_catalog
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

pytestmark = pytest.mark.anyio

TESTS = Path(__file__).resolve().parent
FAKE_GATEWAY = TESTS / "fake_gateway.py"
TOKEN = "t0ken-for-tests"
DYNAMIC_TOOLS = {"mcp-find", "mcp-add", "mcp-remove", "mcp-config-set", "mcp-exec", "code-mode"}
GITHUB_PAT = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"  # the shape the gateway's scanner knows (36 characters)


# ---- fixtures and helpers -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gateway:
    def __init__(self, url: str, base: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.base, self.process, self.log = url, base, process, log

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


def _spawn(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with open(log, "wb") as errors:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=errors, stderr=errors, env=env)


@contextlib.asynccontextmanager
async def running_gateway(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> AsyncIterator[Gateway]:
    """Start tests/fake_gateway.py over streamable HTTP and wait for its /health."""
    port = free_port()
    log = tmp_path / f"gateway-{port}.log"
    argv = [sys.executable, str(FAKE_GATEWAY), "--transport", "streaming", "--port", str(port), *args]
    child_env = dict(os.environ)
    child_env.pop("MCP_GATEWAY_AUTH_TOKEN", None)
    child_env.update(env or {})
    process = _spawn(argv, log, child_env)
    base = f"http://127.0.0.1:{port}"
    try:
        with anyio.fail_after(30):
            async with httpx2.AsyncClient(timeout=2) as http:
                while True:
                    assert process.poll() is None, f"the stand-in exited:\n{log.read_text()}"
                    with contextlib.suppress(httpx2.HTTPError):
                        if (await http.get(base + "/health")).status_code == 200:
                            break
                    await anyio.sleep(0.1)
        yield Gateway(base + "/mcp", base, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def http_client(url: str, token: str | None = TOKEN, **kwargs: Any) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60, read=None))
    return Client(streamable_http_client(url, http_client=http), mode="legacy", cache=None, **kwargs)


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def tool_names(client: Client) -> set[str]:
    return {t.name for t in (await client.list_tools()).tools}


class Watcher:
    """A message_handler counting notifications/tools/list_changed."""

    def __init__(self) -> None:
        self.count = 0
        self._event = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            self.count += 1
            self._event.set()
            self._event = anyio.Event()

    async def wait_for(self, n: int, timeout: float = 15) -> None:
        with anyio.fail_after(timeout):
            while self.count < n:
                await self._event.wait()


async def call_error(client: Client, name: str, arguments: dict[str, Any]) -> MCPError:
    with pytest.raises(MCPError) as info:
        await client.call_tool(name, arguments)
    return info.value


def set_secret_with_docker(tmp_path: Path, secrets: Path, name: str, value: str) -> None:
    """`docker mcp secret set NAME` with the value on stdin, through the `docker` stand-in."""
    bin_dir = install_fake_docker(tmp_path / "docker-home")
    done = subprocess.run([str(bin_dir / "docker"), "mcp", "secret", "set", name], check=False, input=value + "\n", text=True,
                          capture_output=True, env={**os.environ, "FAKE_DOCKER_SECRETS": str(secrets)}, timeout=30)
    assert done.returncode == 0, done.stderr


# ---- the HTTP surface -----------------------------------------------------------------------------

async def test_http_surface_auth_origin_health_redirect(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    async with running_gateway(tmp_path, "--catalog", str(catalog), "--token", TOKEN) as gw:
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
        accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx2.AsyncClient(timeout=30, follow_redirects=False) as http:
            health = await http.get(gw.base + "/health")
            assert health.status_code == 200

            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic " + TOKEN}):
                denied = await http.post(gw.url, json=init, headers={**accept, **headers})
                assert denied.status_code == 401
                assert denied.headers["www-authenticate"] == 'Bearer realm="MCP Gateway"'
                assert denied.text == "Unauthorized\n"
            assert (await http.get(gw.base + "/")).status_code == 401  # only /health is open

            redirect = await http.get(gw.base + "/", headers=auth)
            assert redirect.status_code == 307 and redirect.headers["location"] == "/mcp"
            assert (await http.get(gw.base + "/anything", headers=auth)).headers["location"] == "/mcp"

            evil = await http.post(gw.url, json=init, headers={**accept, **auth, "Origin": "http://evil.example"})
            assert evil.status_code == 403
            assert evil.text == "Forbidden: Origin, if set, must be localhost, 127.0.0.1, or ::1, got: http://evil.example\n"
            # A localhost Origin passes the gateway's check; go-sdk then wants it to match Host.
            other_port = await http.post(gw.url, json=init, headers={**accept, **auth, "Origin": "http://localhost:1"})
            assert other_port.status_code == 403
            assert other_port.text == ("cross-origin request detected, and/or browser is out of date: "
                                       "Sec-Fetch-Site is missing, and Origin does not match Host\n")

            stale = await http.post(gw.url, json=init, headers={**accept, **auth, "Mcp-Session-Id": "no-such-session"})
            assert (stale.status_code, stale.text) == (404, "session not found\n")
            wrong_type = await http.post(gw.url, content=json.dumps(init),
                                         headers={**auth, "Accept": accept["Accept"], "Content-Type": "text/plain"})
            assert wrong_type.status_code == 415
            modern = await http.post(gw.url, json=init, headers={**accept, **auth, "MCP-Protocol-Version": "2026-07-28"})
            assert modern.status_code == 400 and "Unsupported protocol version" in modern.text

            same_origin = await http.post(gw.url, json=init, headers={**accept, **auth, "Origin": gw.base})
            assert same_origin.status_code == 200, same_origin.text
            assert same_origin.headers["content-type"].startswith("text/event-stream")  # SSE-framed reply
            assert same_origin.headers.get("mcp-session-id")
            data = next(line[len("data: "):] for line in same_origin.text.splitlines() if line.startswith("data: "))
            server_info = json.loads(data)["result"]["serverInfo"]
            assert server_info == {"name": "Docker AI MCP Gateway", "version": "2.0.1"}


async def test_generated_token_is_printed_and_env_token_is_used(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    async with running_gateway(tmp_path, "--catalog", str(catalog), env={"MCP_GATEWAY_AUTH_TOKEN": "from-env"}) as gw:
        async with http_client(gw.url, "from-env") as client:
            assert DYNAMIC_TOOLS <= await tool_names(client)
        assert "MCP_GATEWAY_AUTH_TOKEN" in gw.stderr()
    async with running_gateway(tmp_path, "--catalog", str(catalog)) as gw:
        line = next(x for x in gw.stderr().splitlines() if "Authorization: Bearer " in x)
        token = line.rsplit(" ", 1)[1]
        assert len(token) == 50 and token.isalnum() and token.lower() == token
        async with http_client(gw.url, token) as client:
            assert DYNAMIC_TOOLS <= await tool_names(client)


# ---- the dynamic tools, over HTTP with two sessions -----------------------------------------------

async def test_find_add_exec_remove_and_list_changed_across_sessions(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    secrets = tmp_path / "secrets.env"
    secrets.write_text("unrelated=1\n")
    async with running_gateway(tmp_path, "--catalog", str(catalog), "--secrets", str(secrets), "--token", TOKEN) as gw:
        watcher = Watcher()
        async with http_client(gw.url) as a, http_client(gw.url, message_handler=watcher) as b:
            assert await tool_names(a) == DYNAMIC_TOOLS == await tool_names(b)
            schemas = {t.name: t.input_schema for t in (await a.list_tools()).tools}
            assert schemas["mcp-find"]["required"] == ["query"]
            assert set(schemas["mcp-find"]["properties"]) == {"query", "limit"}
            assert schemas["mcp-add"]["properties"]["activate"]["default"] is True
            assert schemas["mcp-config-set"]["required"] == ["server", "config"]
            assert schemas["mcp-exec"]["required"] == ["name"]
            assert schemas["code-mode"]["required"] == ["servers", "name"]

            # mcp-find: one text item of compact JSON with sorted keys, best match first.
            found = await a.call_tool("mcp-find", {"query": "echo"})
            assert not found.is_error and len(found.content) == 1
            body = json.loads(text_of(found))
            assert text_of(found) == json.dumps(body, sort_keys=True, separators=(",", ":"))
            assert body["prompt"] == "echo" and body["total_matches"] == len(body["servers"]) == 2
            assert [s["name"] for s in body["servers"]] == ["echo", "rich"]
            assert body["servers"][0] == {"description": "Says back the text it is given.", "long_lived": False, "name": "echo"}
            rich = body["servers"][1]
            assert rich["required_secrets"] == ["rich.api_key"] and rich["long_lived"] is True
            assert rich["config_schema"][0]["name"] == "rich"
            weather = json.loads(text_of(await a.call_tool("mcp-find", {"query": "weather reports", "limit": 1})))
            assert [s["name"] for s in weather["servers"]] == ["rich"] and weather["total_matches"] == 1
            assert json.loads(text_of(await a.call_tool("mcp-find", {"query": "zzzz"}))) == {
                "prompt": "zzzz", "servers": [], "total_matches": 0}

            # mcp-add: always text, never isError.
            missing = await a.call_tool("mcp-add", {"name": "nope"})
            assert not missing.is_error
            assert text_of(missing) == "Error: Server 'nope' not found in catalog. Use mcp-find to search for available servers."
            pull = await a.call_tool("mcp-add", {"name": "dockeronly"})
            assert not pull.is_error
            assert text_of(pull).startswith("Error: Failed to pull image 'mcp/dockeronly' for server 'dockeronly'.\n\nDetails: ")
            assert text_of(pull).endswith("\n\nThe server was not added. Please check the image name and your network connection.")

            before = watcher.count
            added = await a.call_tool("mcp-add", {"name": "echo"})
            assert not added.is_error
            text = text_of(added)
            head = ("Successfully added 1 tools in server 'echo'. Assume that it is fully configured and ready to use."
                    "\n\nNewly added tools:\n```json\n")
            assert text.startswith(head) and text.endswith("\n```")
            block = json.loads(text[len(head):-len("\n```")])
            assert block == {"tools": [{"description": "Return the given text unchanged.", "name": "echo",
                                        "inputSchema": {"type": "object", "required": ["text"], "properties": {
                                            "text": {"type": "string", "description": "Text to echo back."}}}}]}
            assert text[len(head):-len("\n```")] == json.dumps(block, sort_keys=True, indent=2)
            await watcher.wait_for(before + 1)  # the other session is told
            assert "echo" in await tool_names(b)  # exposed under its own name, no prefix
            assert text_of(await b.call_tool("echo", {"text": "hello"})) == "hello"
            clash = json.loads(text_of(await a.call_tool("mcp-find", {"query": "rich"})))["servers"][0]
            assert clash["tool_name_warnings"] == ['tool "echo" would be exposed as "echo", which conflicts with server "echo"']
            exec_result = await a.call_tool("mcp-exec", {"name": "echo", "arguments": {"text": "via exec"}})
            assert text_of(exec_result) == "via exec"
            assert text_of(await a.call_tool("mcp-exec", {"name": "echo", "arguments": '{"text": "as a string"}'})) == "as a string"
            unknown_exec = await a.call_tool("mcp-exec", {"name": "ghost"})
            assert not unknown_exec.is_error
            assert text_of(unknown_exec) == ("Error: Tool 'ghost' not found in current session. "
                                             "Make sure the server providing this tool is added to the session.")

            # Secrets in arguments are refused before the tool runs: a JSON-RPC error with code 0.
            blocked = await call_error(a, "echo", {"text": f"my token is {GITHUB_PAT}"})
            assert blocked.code == 0 and blocked.message == "a secret is being passed to tool echo"
            blocked_exec = await call_error(a, "mcp-exec", {"name": "echo", "arguments": {"text": GITHUB_PAT}})
            assert blocked_exec.message == "a secret is being passed to tool mcp-exec"

            # Missing secrets and config, then mcp-config-set (isError on validation, no list_changed).
            refused = await a.call_tool("mcp-add", {"name": "rich"})
            assert not refused.is_error
            assert text_of(refused) == (
                "Error: Cannot add server 'rich'. Missing required secrets (rich.api_key) and config (rich (missing))."
                "\n\nThe server was not added. Please configure these first:\nRequired secrets:\n"
                "  docker mcp secret set rich.api_key=<value>\n\nRequired configuration: rich (missing)\n"
                "Use the mcp-config-set tool to configure these values.")
            quiet_from = watcher.count
            invalid = await a.call_tool("mcp-config-set", {"server": "rich", "config": {"units": "kelvin"}})
            assert invalid.is_error
            assert text_of(invalid).startswith(
                "Config validation failed for server 'rich':\n\n  - rich: validating root: validating /properties/units: "
                "enum: kelvin does not equal any of: [metric imperial]\n\nServer config schema:\n\nrich:\n  {\n    ")
            first = await a.call_tool("mcp-config-set", {"server": "rich", "config": {"units": "imperial"}})
            assert not first.is_error
            assert text_of(first) == "Successfully set config for server 'rich':\n\n{\n  \"units\": \"imperial\"\n}"
            second = await a.call_tool("mcp-config-set", {"server": "rich", "config": {"units": "metric"}})
            assert text_of(second) == ("Successfully updated config for server 'rich':\n\nOld config:\n{\n  \"units\": \"imperial\"\n}"
                                       "\n\nNew config:\n{\n  \"units\": \"metric\"\n}")
            unknown_server = await a.call_tool("mcp-config-set", {"server": "nope", "config": {}})
            assert text_of(unknown_server) == "Error: Server 'nope' not found in catalog. Use mcp-find to search for available servers."
            only_secret = await a.call_tool("mcp-add", {"name": "rich"})
            assert text_of(only_secret).startswith("Error: Cannot add server 'rich'. Missing required secrets (rich.api_key).\n\n")
            assert "Required configuration" not in text_of(only_secret)

            set_secret_with_docker(tmp_path, secrets, "rich.api_key", "rich-secret-value")
            # rich also has a tool called echo: the gateway refuses the collision.
            collision = await a.call_tool("mcp-add", {"name": "rich"})
            assert not collision.is_error
            assert text_of(collision) == (
                "Error: Cannot add server 'rich'. tool name collision: server \"rich\" would shadow server \"echo\" "
                "for tool name \"echo\"; enable tool-name-prefix or set a unique catalog prefix")
            await anyio.sleep(0.3)
            assert watcher.count == quiet_from  # config-set and refused adds change nothing

            before = watcher.count
            removed = await a.call_tool("mcp-remove", {"name": "echo"})
            assert text_of(removed) == "Successfully removed server 'echo'."
            await watcher.wait_for(before + 1)
            assert "echo" not in await tool_names(b)
            gone = await call_error(b, "echo", {"text": "x"})
            assert gone.code == -32602 and gone.message == 'unknown tool "echo"'

            before = watcher.count
            added_rich = await a.call_tool("mcp-add", {"name": "rich"})
            assert text_of(added_rich).startswith("Successfully added 8 tools in server 'rich'.")
            await watcher.wait_for(before + 1)
            assert {"get_weather", "environment", "echo"} <= await tool_names(b)
            env = await b.call_tool("environment", {"names": ["RICH_API_KEY", "RICH_UNITS"]})
            assert env.structured_content["env"] == {"RICH_API_KEY": "rich-secret-value", "RICH_UNITS": "metric"}
            weather = await b.call_tool("get_weather", {"city": "Oslo"})  # structured results pass through
            assert weather.structured_content["city"] == "Oslo"
            failing = await b.call_tool("fail", {"message": "boom"})
            assert failing.is_error and "boom" in text_of(failing)
            prompts = {p.name for p in (await b.list_prompts()).prompts}
            assert {"mcp-discover", "greet", "plain"} <= prompts
            greeting = await b.get_prompt("greet", {"name": "Ada"})
            assert "Ada" in json.dumps(greeting.model_dump(mode="json"))
            assert "rich://static/hello.txt" in {str(r.uri) for r in (await b.list_resources()).resources}
            assert (await b.read_resource("rich://static/hello.txt")).contents
            item = await b.read_resource("rich://items/42")  # through the server's resource template
            assert "42" in json.dumps(item.model_dump(mode="json"))

            # Handler errors are JSON-RPC errors with code 0.
            no_name = await call_error(a, "mcp-add", {})
            assert no_name.code == 0 and no_name.message == "name parameter is required"
            not_configured = await call_error(a, "mcp-remove", {"name": "ghost"})
            assert not_configured.code == 0
            assert not_configured.message == "failed to remove server configuration: server ghost not found in configuration"
            no_query = await call_error(a, "mcp-find", {"query": ""})
            assert no_query.code == 0 and no_query.message == "query parameter is required"


async def test_progress_of_an_upstream_call_is_forwarded(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    secrets = tmp_path / "secrets.env"
    secrets.write_text("rich.api_key=k\n")
    async with running_gateway(tmp_path, "--catalog", str(catalog), "--secrets", str(secrets), "--token", TOKEN) as gw, \
            http_client(gw.url) as client:
        await client.call_tool("mcp-config-set", {"server": "rich", "config": {"units": "metric"}})
        assert text_of(await client.call_tool("mcp-add", {"name": "rich"})).startswith("Successfully added")
        seen: list[tuple[float, float | None, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total, message))

        done = await client.call_tool("progress", {"steps": 3}, progress_callback=on_progress)
        assert text_of(done) == "done 3"
        assert [s[0] for s in seen] == [1, 2, 3]


# ---- the <= v0.31 mcp-config-set, and --allow-unauthenticated -------------------------------------

async def test_old_config_set_schema(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    async with running_gateway(tmp_path, "--catalog", str(catalog), "--allow-unauthenticated",
                               "--config-set-schema", "old") as gw, http_client(gw.url, token=None) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        schema = tools["mcp-config-set"].input_schema
        assert schema["required"] == ["server", "key", "value"]
        assert set(schema["properties"]) == {"server", "key", "value"}
        first = await client.call_tool("mcp-config-set", {"server": "rich", "key": "units", "value": "metric"})
        assert text_of(first) == "Successfully set config for server 'rich': units = \"metric\""
        again = await client.call_tool("mcp-config-set", {"server": "rich", "key": "units", "value": "imperial"})
        assert text_of(again) == "Successfully updated config for server 'rich': units = \"imperial\" (was: \"metric\")"
        listed = await client.call_tool("mcp-config-set", {"server": "elsewhere", "key": "paths", "value": '["/a", "/b"]'})
        assert text_of(listed) == ("Successfully set config for server 'elsewhere': paths = [\"/a\",\"/b\"] "
                                   "(Note: server 'elsewhere' is not in the current catalog)")
        # The stored value satisfies rich's config schema; only its secret is missing now.
        refused = await client.call_tool("mcp-add", {"name": "rich"})
        assert text_of(refused).startswith("Error: Cannot add server 'rich'. Missing required secrets (rich.api_key).")
        no_key = await call_error(client, "mcp-config-set", {"server": "rich", "value": 1})
        assert no_key.code == 0 and no_key.message == "key parameter is required"


# ---- stdio through `docker mcp gateway run`, and code-mode ----------------------------------------

async def test_stdio_via_docker_mcp_gateway_run_with_code_mode(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path)
    secrets = tmp_path / "secrets.env"
    bin_dir = install_fake_docker(tmp_path / "docker-home")
    params = StdioServerParameters(command=str(bin_dir / "docker"), args=["mcp", "gateway", "run"],
                                   env={"FAKE_DOCKER_MCP_CATALOG": str(catalog), "FAKE_DOCKER_SECRETS": str(secrets)})
    watcher = Watcher()
    with open(tmp_path / "stdio-gateway.log", "w") as errlog:  # noqa: ASYNC230 - the child's stderr
        async with Client(stdio_client(params, errlog=errlog), mode="legacy", cache=None, message_handler=watcher) as client:
            assert client.server_info.name == "Docker AI MCP Gateway"
            assert await tool_names(client) == DYNAMIC_TOOLS
            # activate=false: registered for mcp-exec, not listed, nobody told.
            inactive = await client.call_tool("mcp-add", {"name": "echo", "activate": False})
            assert text_of(inactive).startswith("Successfully added 1 tools in server 'echo'.")
            assert "echo" not in await tool_names(client)
            assert text_of(await client.call_tool("mcp-exec", {"name": "echo", "arguments": {"text": "hidden"}})) == "hidden"
            assert watcher.count == 0
            before = watcher.count
            assert text_of(await client.call_tool("mcp-add", {"name": "echo"})).startswith("Successfully added 1 tools")
            await watcher.wait_for(before + 1)
            assert "echo" in await tool_names(client)

            before = watcher.count
            created = await client.call_tool("code-mode", {"servers": ["echo"], "name": "shout"})
            assert not created.is_error
            assert text_of(created).startswith("Successfully created code-mode tool 'code-mode-shout'\n\n## Tool Details\n")
            assert "This tool has access to tools from: echo" in text_of(created)
            await watcher.wait_for(before + 1)
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert tools["code-mode-shout"].input_schema["required"] == ["script"]
            assert "echo(args: ArgsObject): string" in (tools["code-mode-shout"].description or "")

            async def run(script: str) -> str:
                result = await client.call_tool("code-mode-shout", {"script": script})
                assert not result.is_error
                return text_of(result)

            # Tool functions are synchronous, as in the gateway's goja runtime.
            assert await run("const a = echo({text: 'a'}); return a + '-' + echo({text: 'b'}).toUpperCase();") == "a-B"
            # The return value is printed like Go's %v of goja's export.
            assert await run("return {n: 6 * 7, f: 1234567.5, b: [1, 'x', null], a: true}") == (
                "map[a:true b:[1 x <nil>] f:1.2345675e+06 n:42]")
            assert await run("echo({text: 'ignored'})") == "<no output>"
            assert await run("return missing()") == "Error running script: ReferenceError: missing is not defined"
            assert (await run("return echo({})")).startswith("'text' must be a string")  # the tool's own error text
            via_exec = await client.call_tool("mcp-exec", {"name": "code-mode-shout", "arguments": {"script": "return 'ok'"}})
            assert text_of(via_exec) == "ok"
            # A result that looks like a secret is blocked on the way back.
            leaked = await call_error(client, "code-mode-shout", {"script": "return 'gh' + 'p_' + '" + GITHUB_PAT[4:] + "'"})
            assert leaked.code == 0 and leaked.message == "a secret is being returned by the code-mode-shout tool"

            unknown = await client.call_tool("code-mode", {"servers": ["nope"], "name": "x"})
            assert text_of(unknown) == ("Error: Server 'nope' not found in configuration. "
                                        "Use mcp-find to search for available servers.")
            twice = await client.call_tool("code-mode", {"servers": ["echo"], "name": "shout"})
            assert text_of(twice).startswith("Error: Cannot create code-mode tool 'code-mode-shout'. tool name collision:")


# ---- the `docker` CLI stand-in ---------------------------------------------------------------------

def docker(bin_dir: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "docker"), *args], check=False, input=stdin, text=True, capture_output=True,
                          env={**os.environ, **(env or {})}, timeout=30)


def test_docker_mcp_secret_commands(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.env"
    env = {"FAKE_DOCKER_SECRETS": str(secrets)}
    bin_dir = install_fake_docker(tmp_path)

    assert docker(bin_dir, "mcp", "version", env=env).stdout == "v0.43.3\n"
    assert docker(bin_dir, "mcp", "--help", env=env).stdout.startswith("Docker MCP Toolkit's CLI")
    assert docker(bin_dir, "mcp", "secret", "ls", "--json", env=env).stdout == "[]\n"

    stdin_set = docker(bin_dir, "mcp", "secret", "set", "github.personal_access_token", stdin="value from stdin\n", env=env)
    assert stdin_set.returncode == 0, stdin_set.stderr
    assert docker(bin_dir, "mcp", "secret", "set", "brave.api_key=a=b", env=env).returncode == 0
    assert secrets.read_text() == "github.personal_access_token=value from stdin\nbrave.api_key=a=b\n"

    listed = docker(bin_dir, "mcp", "secret", "ls", "--json", env=env)
    assert json.loads(listed.stdout) == [{"name": "brave.api_key", "provider": "docker-pass"},
                                         {"name": "github.personal_access_token", "provider": "docker-pass"}]
    assert listed.stdout.startswith("[\n  {\n    \"name\"")
    table = docker(bin_dir, "mcp", "secret", "ls", env=env).stdout
    assert table == ("docker/mcp/brave.api_key                | docker-pass\n"
                     "docker/mcp/github.personal_access_token | docker-pass\n")

    assert docker(bin_dir, "mcp", "secret", "rm", "brave.api_key", env=env).returncode == 0
    assert [s["name"] for s in json.loads(docker(bin_dir, "mcp", "secret", "ls", "--json", env=env).stdout)] == [
        "github.personal_access_token"]
    no_name = docker(bin_dir, "mcp", "secret", "rm", env=env)
    assert no_name.returncode == 1 and "either provide a secret name or use --all" in no_name.stderr
    assert docker(bin_dir, "mcp", "secret", "rm", "--all", env=env).returncode == 0
    assert docker(bin_dir, "mcp", "secret", "ls", "--json", env=env).stdout == "[]\n"


def test_docker_without_the_mcp_plugin_answers_like_the_real_cli(tmp_path: Path) -> None:
    bin_dir = install_fake_docker(tmp_path)
    env = {"FAKE_DOCKER_MCP_MISSING": "1"}
    unknown = "docker: unknown command: docker mcp\n\nRun 'docker --help' for more information\n"
    for args in (("mcp",), ("mcp", "version"), ("mcp", "secret", "ls")):
        done = docker(bin_dir, *args, env=env)
        assert (done.returncode, done.stdout, done.stderr) == (1, "", unknown)
    flag = docker(bin_dir, "mcp", "secret", "ls", "--json", env=env)
    assert (flag.returncode, flag.stderr) == (
        125, "unknown flag: --json\n\nUsage:  docker [OPTIONS] COMMAND [ARG...]\n\nRun 'docker --help' for more information\n")
    helped = docker(bin_dir, "mcp", "--help", env=env)
    assert helped.returncode == 0 and helped.stdout.startswith("Usage:  docker [OPTIONS] COMMAND\n")
    # The switch also lives in the stand-in's config.
    install_fake_docker(tmp_path, mcp_missing=True)
    assert docker(bin_dir, "mcp", "version").stderr == unknown
