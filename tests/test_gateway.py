"""The Docker MCP Gateway as a backend (issue 10): meta-mcp with `--gateway URL` or `--gateway docker`.

No Docker engine runs here, so the gateway is the stand-in tests/fake_gateway.py (v0.43.3 behaviour,
its servers the test upstreams run as local processes) and `docker` is tests/fake_docker.py. meta-mcp
runs as a real process, stdio and streamable HTTP, with clients of both eras. Its own catalog (written
per test) knows `localecho` (a local command: runs locally) and `echo` (only a Docker image: runs in
the gateway); the gateway's catalog has `echo`, `rich` (a secret and a config item) and `dockeronly`.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from fake_docker import fake_docker_calls, install_fake_docker
from fake_gateway import write_example_catalog
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequestParams, ElicitResult

from support import (
    COMBOS,
    COVERING_COMBOS,
    MODES,
    PYTHON,
    ListChangedWatcher,
    combo_ids,
    free_port,
    list_servers,
    make_client,
    meta_mcp_argv,
    meta_mcp_http,
    meta_mcp_stdio,
    poll_until,
    text_of,
    tool_names,
    upstream_argv,
)
from test_dynamic_surface import tools_changed

pytestmark = pytest.mark.anyio

TESTS = Path(__file__).resolve().parent
TOKEN = "gateway-token-for-tests"
GITHUB_PAT = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"  # a shape the gateway's secret scanner refuses
FAST = {
    "META_MCP_GATEWAY_PING_INTERVAL_S": "0.3", "META_MCP_RESTART_BACKOFF_INITIAL": "0.1",
    "META_MCP_RESTART_BACKOFF_MAX": "0.5", "META_MCP_BUILTIN_CATALOG": "0",
    "META_MCP_DOCKER_CATALOG_DIR": "/nonexistent",
}


# ---- the gateway stand-in, meta-mcp, clients ---------------------------------------------------------

class Gateway:
    """A running stand-in gateway; `restart()` stops it and starts it again on the same port (fresh state)."""

    def __init__(self, tmp_path: Path, args: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.args = args
        self.log = tmp_path / f"gateway-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        argv = [PYTHON, str(TESTS / "fake_gateway.py"), "--transport", "streaming", "--port", str(self.port), *self.args]
        env = {k: v for k, v in os.environ.items() if k != "MCP_GATEWAY_AUTH_TOKEN"}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        with anyio.fail_after(30):
            async with httpx2.AsyncClient(timeout=2) as http:
                while True:
                    assert self.process.poll() is None, self.log.read_text()
                    with contextlib.suppress(httpx2.HTTPError):
                        if (await http.get(f"http://127.0.0.1:{self.port}/health")).status_code == 200:
                            return
                    await anyio.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    async def restart(self) -> None:
        self.stop()
        await self.start()

    def client(self) -> Client:
        """A direct client of the gateway (to see its global state)."""
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=httpx2.Timeout(30, read=None))
        return Client(streamable_http_client(self.url, http_client=http), mode="legacy", cache=None)


@contextlib.asynccontextmanager
async def gateway(tmp_path: Path, *args: str, secrets: dict[str, str] | None = None) -> AsyncIterator[Gateway]:
    """The stand-in over streamable HTTP with the example catalog, our token, and a secrets file."""
    secrets_file = tmp_path / "gateway-secrets.env"
    secrets_file.write_text("".join(f"{k}={v}\n" for k, v in (secrets or {}).items()))
    running = Gateway(tmp_path, ["--catalog", str(write_example_catalog(tmp_path)), "--secrets", str(secrets_file),
                                 "--token", TOKEN, *args])
    await running.start()
    try:
        yield running
    finally:
        running.stop()


def our_catalog(tmp_path: Path) -> Path:
    """meta-mcp's catalog: `localecho` runs here (a command), `echo` only as a Docker image (the gateway's)."""
    argv = upstream_argv("echo")
    path = tmp_path / "ours.json"
    path.write_text(json.dumps({"registry": {
        "localecho": {"title": "Local echo", "description": "Says back the text it is given, on this machine.",
                      "type": "server", "run": {"command": argv[0], "args": argv[1:]}},
        "echo": {"title": "Echo", "description": "Says back the text it is given.", "type": "server",
                 "image": "mcp/echo-not-pulled-here"},
    }}))
    return path


def meta_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """meta-mcp's environment: our token, fast reconnects, and `docker` (the stand-in) on PATH, whose
    `docker mcp secret ls` reads the gateway's secrets file (so meta-mcp can tell which are set)."""
    bin_dir = install_fake_docker(tmp_path, mcp_secrets=tmp_path / "gateway-secrets.env")
    return {**FAST, "MCP_GATEWAY_AUTH_TOKEN": TOKEN, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **extra}


@contextlib.asynccontextmanager
async def meta(transport: str, mode: str, target: str, tmp_path: Path, env: dict[str, str] | None = None,
               **client_kwargs: Any) -> AsyncIterator[Any]:
    """A client of a fresh meta-mcp started with `--gateway target` and our catalog (stdio or HTTP)."""
    args = ("--gateway", target, "--catalog", str(our_catalog(tmp_path)))
    env = env if env is not None else meta_env(tmp_path)
    if transport == "stdio":
        async with make_client(meta_mcp_stdio(None, *args, env=env), mode, **client_kwargs) as client:
            yield client
    else:
        async with meta_mcp_http(None, *args, env=env) as url, make_client(str(url), mode, **client_kwargs) as client:
            yield client


def workspace_client(url: str, workspace: str, mode: str, **kwargs: Any) -> Client:
    http = httpx2.AsyncClient(headers={"X-MCP-Workspace": workspace}, timeout=httpx2.Timeout(30, read=None))
    return make_client(streamable_http_client(url, http_client=http), mode, **kwargs)


def form_answer(content: dict[str, Any]) -> tuple[list[ElicitRequestParams], Any]:
    """An elicitation callback that accepts every form with `content`, and the list of forms it was shown."""
    asked: list[ElicitRequestParams] = []

    async def elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content=content)

    return asked, elicit


async def gateway_entry(client: Any) -> dict[str, Any]:
    return (await list_servers(client))["docker"]


async def wait_gateway_ready(client: Any) -> None:
    async def ready() -> bool:  # (a workspace made by this very request gets its gateway view a moment later)
        return (await list_servers(client)).get("docker", {}).get("status") == "ready"

    await poll_until(ready, timeout=30, what="the gateway connection ready")


# ---- find, add, call, remove: every transport and era ---------------------------------------------

@pytest.mark.parametrize("transport,mode", COMBOS, ids=combo_ids(COMBOS))
async def test_find_add_call_remove_through_the_gateway(tmp_path: Path, transport: str, mode: str) -> None:
    watcher = ListChangedWatcher()
    async with gateway(tmp_path) as gw, meta(transport, mode, gw.url, tmp_path,
                                             message_handler=watcher) as client:
        await wait_gateway_ready(client)
        entry = await gateway_entry(client)
        assert entry["transport"] == "gateway" and entry["prefix"] == "docker" and entry["last_error"] is None
        names = set(await tool_names(client))
        assert {"docker__mcp-exec", "docker__code-mode"} <= names  # the gateway's own tools, prefixed
        assert not {n for n in names if n.split("__")[-1] in {"mcp-find", "mcp-add", "mcp-remove", "mcp-config-set"}}

        # One ranked list from both catalogs, one entry per name, each saying where it would run.
        found = (await client.call_tool("find_servers", {"query": "echo"})).structured_content["servers"]
        by_name = {s["name"]: s for s in found}
        assert len(found) == len(by_name) and {"echo", "localecho", "rich"} <= set(by_name)
        assert by_name["echo"]["sources"] == ["catalog", "gateway"]
        assert by_name["echo"]["runs"]["kind"] == "docker-gateway" and by_name["echo"]["runs_here"] is True
        assert by_name["localecho"]["runs"]["kind"] == "command" and by_name["localecho"]["sources"] == ["catalog"]
        rich = by_name["rich"]
        assert rich["sources"] == ["gateway"] and rich["runs"]["kind"] == "docker-gateway"
        assert rich["secrets"] == [{"name": "rich.api_key", "env": None, "required": True, "set": False, "source": None}]
        assert rich["config"] == [{"name": "units", "type": "string", "description": "", "required": True, "set": False}]

        async with tools_changed(client, mode, watcher):
            added = await client.call_tool("add_server", {"name": "echo"})
        assert not added.is_error, text_of(added)
        assert added.structured_content["outcome"] == "added" and added.structured_content["tools"] == ["echo__echo"]
        assert text_of(await client.call_tool("echo__echo", {"text": "hello"})) == "hello"
        servers = await list_servers(client)
        assert servers["echo"]["transport"] == "gateway" and servers["echo"]["status"] == "ready"
        assert "echo" not in {n.split("__", 1)[1] for n in await tool_names(client) if n.startswith("docker__")}

        # The gateway's refusals are tool errors that name it.
        blocked = await client.call_tool("echo__echo", {"text": f"my token is {GITHUB_PAT}"})
        assert blocked.is_error and "Docker MCP Gateway" in text_of(blocked)
        assert "a secret is being passed to tool echo" in text_of(blocked)
        code0 = await client.call_tool("docker__mcp-exec", {})
        assert code0.is_error and "Docker MCP Gateway" in text_of(code0) and "name parameter is required" in text_of(code0)
        assert text_of(await client.call_tool("docker__mcp-exec", {"name": "echo", "arguments": {"text": "x"}})) == "x"

        async with tools_changed(client, mode, watcher):
            removed = await client.call_tool("remove_server", {"name": "echo"})
        assert not removed.is_error, text_of(removed)
        assert "echo__echo" not in await tool_names(client)
        with pytest.raises(MCPError, match="echo__echo"):
            await client.call_tool("echo__echo", {"text": "gone"})
        async with gw.client() as direct:  # the last workspace let it go: mcp-remove reached the gateway
            assert "echo" not in {t.name for t in (await direct.list_tools()).tools}


# ---- secrets and config ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
async def test_missing_secret_is_the_typed_outcome_with_the_docker_command(tmp_path: Path, mode: str) -> None:
    asked, elicit = form_answer({"units": "metric"})
    async with gateway(tmp_path) as gw, meta("stdio", mode, gw.url, tmp_path,
                                             elicitation_callback=elicit) as client:
        await wait_gateway_ready(client)
        result = await client.call_tool("add_server", {"name": "rich", "config": {"units": "metric"}})
        assert result.is_error
        data = result.structured_content
        assert data["outcome"] == "needs_secrets" and data["server"] == "rich"
        assert [s["name"] for s in data["secrets"]] == ["rich.api_key"]
        assert data["commands"] == ["docker mcp secret set rich.api_key"]
        assert "docker mcp secret set rich.api_key" in text_of(result)
        assert asked == []  # secrets are never asked for
        assert not any(n.startswith("rich__") for n in await tool_names(client))


@pytest.mark.parametrize("mode", MODES)
async def test_where_a_server_runs_and_via(tmp_path: Path, mode: str) -> None:
    async with gateway(tmp_path) as gw, meta("stdio", mode, gw.url, tmp_path) as client:
        await wait_gateway_ready(client)
        local = await client.call_tool("add_server", {"name": "localecho"})  # our catalog runs it here
        assert not local.is_error, text_of(local)
        assert (await list_servers(client))["localecho"]["transport"] == "stdio"
        again = await client.call_tool("add_server", {"name": "localecho", "via": "gateway"})
        assert again.structured_content["outcome"] == "already_active"
        forced = await client.call_tool("add_server", {"name": "echo", "via": "local"})  # only an image: not local
        assert forced.is_error and forced.structured_content["outcome"] != "added"
        assert "echo__echo" not in await tool_names(client)
        unknown = await client.call_tool("add_server", {"name": "nosuchserver"})  # the gateway does not know it
        assert unknown.is_error and unknown.structured_content["outcome"] == "unknown_server"
        assert not (await client.call_tool("remove_server", {"name": "localecho"})).is_error
        gateway_copy = await client.call_tool("add_server", {"name": "localecho", "via": "gateway"})
        assert gateway_copy.structured_content["outcome"] == "unknown_server"  # not in the gateway's catalog


@pytest.mark.parametrize("schema", ["new", "old"])
@pytest.mark.parametrize("mode", MODES)
async def test_config_is_elicited_then_set_on_the_gateway(tmp_path: Path, mode: str, schema: str) -> None:
    asked, elicit = form_answer({"units": "imperial"})
    async with gateway(tmp_path, "--config-set-schema", schema, secrets={"rich.api_key": "k-123"}) as gw, \
            meta("stdio", mode, gw.url, tmp_path, elicitation_callback=elicit) as client:
        await wait_gateway_ready(client)
        added = await client.call_tool("add_server", {"name": "rich"})
        assert not added.is_error, text_of(added)
        assert len(asked) == 1 and list(asked[0].requested_schema["properties"]) == ["units"]
        assert "rich__get_weather" in added.structured_content["tools"]
        env = await client.call_tool("rich__environment", {"names": ["RICH_UNITS", "RICH_API_KEY"]})
        assert env.structured_content["env"] == {"RICH_UNITS": "imperial", "RICH_API_KEY": "k-123"}

        bad = await client.call_tool("configure_server", {"name": "rich", "config": {"units": "kelvin"}})
        assert bad.is_error and bad.structured_content["outcome"] == "invalid_config"
        assert bad.structured_content["problems"][0].startswith("units: ")
        good = await client.call_tool("configure_server", {"name": "rich", "config": {"units": "metric"}})
        assert not good.is_error and good.structured_content["stored"] == ["units"]


# ---- workspaces: per-workspace visibility, one mcp-remove after the last ---------------------------

async def test_mcp_exec_and_code_mode_reach_only_the_callers_workspace_as_the_policy_allows(tmp_path: Path) -> None:
    """The gateway's state is global; its mcp-exec and code-mode are not: another workspace's servers, a tool
    the policy denies, and a code-mode tool another workspace made are refused, with a reason."""
    config = tmp_path / "policy.yaml"
    config.write_text(json.dumps({"mcpServers": {}, "policy": {"workspaces": {"team-p": {
        "tools": {"deny": ["echo__*"]}}}}}))
    async with gateway(tmp_path) as gw, meta_mcp_http(config, "--gateway", gw.url, "--catalog",
                                                      str(our_catalog(tmp_path)), env=meta_env(tmp_path)) as url:
        async with workspace_client(url, "team-a", "legacy") as a, workspace_client(url, "team-b", "legacy") as b, \
                workspace_client(url, "team-p", "legacy") as p:
            for client in (a, b, p):
                await wait_gateway_ready(client)
            assert not (await a.call_tool("add_server", {"name": "echo"})).is_error
            assert text_of(await a.call_tool("docker__mcp-exec", {"name": "echo", "arguments": {"text": "a"}})) == "a"
            foreign = await b.call_tool("docker__mcp-exec", {"name": "echo", "arguments": {"text": "b"}})
            assert foreign.is_error and "'echo' is not a gateway tool this workspace can call" in text_of(foreign)
            borrowed = await b.call_tool("docker__code-mode", {"servers": ["echo"], "name": "b-shout"})
            assert borrowed.is_error and "only gateway servers added in this workspace (not echo)" in text_of(borrowed)

            made = await a.call_tool("docker__code-mode", {"servers": ["echo"], "name": "a-shout"})
            assert not made.is_error, text_of(made)

            async def listed() -> bool:
                return "docker__code-mode-a-shout" in await tool_names(b)

            await poll_until(listed, what="the code-mode tool in the root view")
            script = {"script": "return 'from a'"}
            assert not (await a.call_tool("docker__code-mode-a-shout", script)).is_error
            for name, args in (("docker__code-mode-a-shout", script),
                               ("docker__mcp-exec", {"name": "code-mode-a-shout", "arguments": script})):
                stolen = await b.call_tool(name, args)
                assert stolen.is_error and "'code-mode-a-shout' was made by another workspace" in text_of(stolen)

            assert not (await p.call_tool("add_server", {"name": "echo"})).is_error
            denied = await p.call_tool("docker__mcp-exec", {"name": "echo", "arguments": {"text": "p"}})
            assert denied.is_error and "is not a gateway tool this workspace can call" in text_of(denied)
            walled = await p.call_tool("docker__code-mode", {"servers": ["echo"], "name": "p-shout"})
            assert walled.is_error and "use run_code" in text_of(walled)


@pytest.mark.parametrize("mode", MODES)
async def test_two_workspaces_share_a_gateway_server_until_the_last_removes_it(tmp_path: Path, mode: str) -> None:
    async with gateway(tmp_path) as gw, \
            meta_mcp_http(None, "--gateway", gw.url, "--catalog", str(our_catalog(tmp_path)), env=meta_env(tmp_path)) as url:
        watcher_c = ListChangedWatcher()
        async with workspace_client(url, "team-a", mode) as a, workspace_client(url, "team-b", mode) as b, \
                workspace_client(url, "team-c", mode, message_handler=watcher_c) as c, gw.client() as direct:
            for client in (a, b, c):
                await wait_gateway_ready(client)
            c_tools, c_told = set(await tool_names(c)), watcher_c.count
            for client in (a, b):
                added = await client.call_tool("add_server", {"name": "echo"})
                assert not added.is_error, text_of(added)
            assert "echo__echo" in await tool_names(a) and "echo__echo" in await tool_names(b)
            await anyio.sleep(0.5)  # the gateway's list_changed reached meta-mcp: c sees nothing new
            assert set(await tool_names(c)) == c_tools and "echo__echo" not in c_tools

            assert not (await a.call_tool("remove_server", {"name": "echo"})).is_error
            assert "echo__echo" not in await tool_names(a)
            assert text_of(await b.call_tool("echo__echo", {"text": "still here"})) == "still here"
            assert "echo" in {t.name for t in (await direct.list_tools()).tools}  # no mcp-remove yet

            assert not (await b.call_tool("remove_server", {"name": "echo"})).is_error

            async def removed_on_gateway() -> bool:
                return "echo" not in {t.name for t in (await direct.list_tools()).tools}

            await poll_until(removed_on_gateway, what="mcp-remove on the gateway")
            if mode == "legacy":
                assert watcher_c.count == c_told  # nothing c can see changed: c was never told


# ---- a gateway that goes away and comes back ---------------------------------------------------------

@pytest.mark.parametrize("transport,mode", COVERING_COMBOS, ids=combo_ids(COVERING_COMBOS))
async def test_gateway_restarted_mid_session_reconnects_and_tools_come_back(tmp_path: Path, transport: str,
                                                                            mode: str) -> None:
    watcher = ListChangedWatcher()
    async with gateway(tmp_path) as gw, meta(transport, mode, gw.url, tmp_path,
                                             message_handler=watcher) as client:
        await wait_gateway_ready(client)
        assert not (await client.call_tool("add_server", {"name": "echo"})).is_error
        async with tools_changed(client, mode, watcher):
            gw.stop()

        async def gone() -> bool:  # the change clients were told of may come before the drop is noticed
            entry = await gateway_entry(client)
            return entry["status"] in ("restarting", "failed") and "echo__echo" not in await tool_names(client)

        await poll_until(gone, timeout=15, what="the stopped gateway seen as down, its tools gone")
        async with tools_changed(client, mode, watcher, timeout=30):
            await gw.start()  # a fresh gateway: it has forgotten echo; meta-mcp adds it again

        async def back() -> bool:
            return "echo__echo" in await tool_names(client)

        await poll_until(back, timeout=30, what="echo__echo back after the gateway restarted")
        assert text_of(await client.call_tool("echo__echo", {"text": "again"})) == "again"
        assert (await gateway_entry(client))["restarts"] >= 1


# ---- what goes wrong: a token, the docker CLI, its plugin --------------------------------------------

@pytest.mark.parametrize("token", ["wrong-token", None])
async def test_a_refused_token_says_what_to_set(tmp_path: Path, token: str | None) -> None:
    env = {**FAST, **({"MCP_GATEWAY_AUTH_TOKEN": token} if token else {})}
    async with gateway(tmp_path) as gw, meta("stdio", "legacy", gw.url, tmp_path, env=env) as client:
        async def refused() -> dict[str, Any] | None:
            entry = await gateway_entry(client)
            return entry if "401" in (entry["last_error"] or "") else None

        entry = await poll_until(refused, timeout=20, what="the 401 diagnosis")
        assert entry["status"] != "ready"
        assert "MCP_GATEWAY_AUTH_TOKEN" in entry["last_error"]
        assert ("wrong" if token else "not set") in entry["last_error"]
        assert TOKEN not in entry["last_error"] and (token is None or token not in entry["last_error"])
        result = await client.call_tool("add_server", {"name": "echo"})
        assert result.is_error and "401" in text_of(result)


async def test_gateway_docker_runs_docker_mcp_gateway_run_over_stdio(tmp_path: Path) -> None:
    secrets = tmp_path / "docker-secrets.env"
    secrets.write_text("")
    bin_dir = install_fake_docker(tmp_path, mcp_catalog=write_example_catalog(tmp_path), mcp_secrets=secrets)
    env = {**FAST, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    async with meta("stdio", "legacy", "docker", tmp_path, env=env) as client:
        await wait_gateway_ready(client)
        added = await client.call_tool("add_server", {"name": "echo"})
        assert not added.is_error, text_of(added)
        assert text_of(await client.call_tool("echo__echo", {"text": "over stdio"})) == "over stdio"
    assert ["mcp", "version"] in [c["argv"] for c in fake_docker_calls(tmp_path)]
    assert ["mcp", "gateway", "run"] in [c["argv"] for c in fake_docker_calls(tmp_path)]


@pytest.mark.parametrize("missing", ["plugin", "docker"])
async def test_gateway_docker_says_what_is_missing(tmp_path: Path, missing: str) -> None:
    bin_dir = install_fake_docker(tmp_path, mcp_missing=True)
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}" if missing == "plugin" else str(Path(PYTHON).parent)
    async with meta("stdio", "legacy", "docker", tmp_path, env={**FAST, "PATH": path}) as client:
        async def failed() -> dict[str, Any] | None:
            entry = await gateway_entry(client)
            return entry if entry["status"] == "failed" else None

        entry = await poll_until(failed, timeout=20, what="the gateway connection failed")
        if missing == "plugin":
            assert "MCP Toolkit" in entry["last_error"] and "plugin" in entry["last_error"]
            assert "docker: unknown command: docker mcp" in entry["last_error"]
        else:
            assert "`docker` command" in entry["last_error"] and "not installed" in entry["last_error"]
        local = await client.call_tool("add_server", {"name": "localecho"})  # everything else still works
        assert not local.is_error, text_of(local)


# ---- meta-mcp secrets push ---------------------------------------------------------------------------

def test_secrets_push_puts_the_value_on_stdin_only(tmp_path: Path) -> None:
    value = "s3cret-value-pushed-on-stdin"
    store = tmp_path / "docker-secrets.env"
    bin_dir = install_fake_docker(tmp_path, mcp_secrets=store)
    catalog = write_example_catalog(tmp_path)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "RICH_API_KEY": value, **FAST}
    done = subprocess.run(meta_mcp_argv("secrets", "push", "RICH_API_KEY", "--catalog", str(catalog)), env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert store.read_text() == f"rich.api_key={value}\n"  # stored under Docker's name
    assert "rich.api_key" in done.stdout and value not in done.stdout + done.stderr
    sets = [c for c in fake_docker_calls(tmp_path) if c["argv"][:3] == ["mcp", "secret", "set"]]
    assert [c["argv"] for c in sets] == [["mcp", "secret", "set", "rich.api_key"]]
    assert value not in json.dumps(fake_docker_calls(tmp_path))

    unknown = subprocess.run(meta_mcp_argv("secrets", "push", "NOT_SET_ANYWHERE"), env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60, check=False)
    assert unknown.returncode == 1 and "NOT_SET_ANYWHERE" in unknown.stderr


# ---- restore: a gateway server comes back after meta-mcp restarts ------------------------------------

async def test_a_gateway_server_is_restored_after_meta_mcp_restarts(tmp_path: Path) -> None:
    env = meta_env(tmp_path, META_MCP_STATE_URL=f"sqlite:///{tmp_path / 'state.db'}")
    async with gateway(tmp_path) as gw:
        async with meta("stdio", "legacy", gw.url, tmp_path, env=env) as client:
            await wait_gateway_ready(client)
            assert not (await client.call_tool("add_server", {"name": "echo"})).is_error
        await gw.restart()  # the gateway forgot it too
        async with meta("stdio", "legacy", gw.url, tmp_path, env=env) as client:
            async def restored() -> bool:
                return "echo__echo" in await tool_names(client)

            await poll_until(restored, timeout=30, what="echo restored through the gateway")
            assert text_of(await client.call_tool("echo__echo", {"text": "restored"})) == "restored"
            assert (await list_servers(client))["echo"]["transport"] == "gateway"



# ---- the gateway's texts, as v0.43.3 writes them ---------------------------------------------------

def test_the_gateway_answers_are_read_into_typed_values() -> None:
    from meta_mcp.providers.gateway.texts import (
        AddedTools,
        AddRefused,
        Missing,
        NotInCatalog,
        parse_add,
        parse_config_set,
        parse_find,
    )

    tools = {"tools": [{"description": "Echo", "inputSchema": {"type": "object"}, "name": "echo__echo"}]}
    ok = parse_add("echo", "Successfully added 1 tools in server 'echo'. Assume that it is fully configured and ready "
                   "to use.\n\nNewly added tools:\n```json\n" + json.dumps(tools, indent=2, sort_keys=True) + "\n```")
    assert ok == AddedTools("echo", tuple(tools["tools"]), "")
    assert parse_add("x", "Successfully added 0 tools in server 'x'. Assume that it is fully configured and ready to "
                     "use.") == AddedTools("x", (), "")
    missing = parse_add("rich", "Error: Cannot add server 'rich'. Missing required secrets (a.b, c.d) and config (rich "
                        "(missing), other (validating root: required: missing properties: [\"x\"])).\n\nThe server was "
                        "not added. Please configure these first:\nRequired secrets:\n  docker mcp secret set a.b=<value>")
    assert missing == Missing("rich", ("a.b", "c.d"), (("rich", "missing"),
                                                       ("other", 'validating root: required: missing properties: ["x"]')))
    assert parse_add("rich", "Error: Cannot add server 'rich'. Missing required config (rich (missing)).\n\n…") == \
        Missing("rich", (), (("rich", "missing"),))
    assert parse_add("nope", "Error: Server 'nope' not found in catalog. Use mcp-find to search for available "
                     "servers.") == NotInCatalog("nope")
    clash = parse_add("rich", "Error: Cannot add server 'rich'. tool name collision: server \"rich\" would shadow …")
    assert isinstance(clash, AddRefused) and clash.reason.startswith("Cannot add server 'rich'. tool name collision")

    failed = parse_config_set({"isError": True, "content": [{"type": "text", "text": (
        "Config validation failed for server 'rich':\n\n  - rich: validating root: enum: kelvin\n  - other: bad\n"
        "\nServer config schema:\n\nrich:\n  {}\n")}]})
    assert failed.problems == ("rich: validating root: enum: kelvin", "other: bad") and not failed.ok
    assert parse_config_set({"content": [{"type": "text", "text": "Successfully set config for server 'rich': …"}]}).ok
    assert parse_config_set({"content": [{"type": "text", "text": "Error: Server 'x' not found in catalog. …"}]}).not_found
    assert [s["name"] for s in parse_find('{"prompt":"e","servers":[{"long_lived":false,"name":"echo"}],'
                                          '"total_matches":1}')] == ["echo"]
    assert parse_find("not json") == []
