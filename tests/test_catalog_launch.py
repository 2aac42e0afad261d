"""From a catalog entry to a running server: config schema, local commands, remotes and `docker run`.

There is no Docker engine here, so Docker entries are tested with a stand-in `docker` executable on
PATH (tests/fake_docker.py) that records its argv and the values it received for each `-e NAME`, and
answers `docker info` with exit 0 or 1 as the test wants. The `docker run …` that `launch()` builds is
really executed, and (last test) meta-mcp itself adds a Docker catalog entry through the stand-in,
which then execs a real MCP upstream.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_docker import configure_fake_docker, fake_docker_calls, install_fake_docker

from meta_mcp.services.catalog import CatalogError, docker_available, load_catalog
from meta_mcp.services.catalog.docker import forget
from meta_mcp.services.catalog.loader import parse_entry

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO.parent / "shared" / "fixtures" / "docker-mcp-catalog.yaml"
needs_fixture = pytest.mark.skipif(not FIXTURE.is_file(), reason=f"Docker catalog fixture not found at {FIXTURE}")
SECRET = "s3cret-value-123"


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in `docker` first on PATH (engine reachable); yields the directory it lives in."""
    bin_dir = install_fake_docker(tmp_path, info_exit=0)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    forget()
    yield tmp_path
    forget()


def entry(name: str, **raw: object):
    return parse_entry(name, raw, "test.yaml")


# -- config -----------------------------------------------------------------------------------------


def test_config_schema_and_missing_config_from_docker_config_list() -> None:
    e = entry("db", image="x/db", config=[
        {"name": "db", "description": "Connection", "type": "object",
         "properties": {"host": {"type": "string", "description": "Host name"}, "port": {"type": "integer"}},
         "required": ["host", "port"]},
        {"name": "tls", "type": "object", "properties": {"ca": {"type": "string"}}, "required": ["ca"]},
    ])
    schema = e.config_schema()
    assert schema["type"] == "object" and schema["description"] == "Connection"
    assert set(schema["properties"]) == {"host", "port", "tls"}
    assert schema["properties"]["tls"]["properties"] == {"ca": {"type": "string"}}
    assert schema["required"] == ["host", "port", "tls"]
    assert e.missing_config({"port": 5432, "host": ""}) == [
        {"name": "host", "type": "string", "description": "Host name"},
        {"name": "tls", "type": "object", "description": ""},
    ]
    assert e.missing_config({"host": "h", "port": 1, "tls": {"ca": "/ca.pem"}}) == []
    assert entry("plain", image="x").config_schema() is None


# -- local commands and remotes -----------------------------------------------------------------------


def test_local_command_with_config_templates_and_secrets_in_env_only() -> None:
    catalog = load_catalog(builtin=True)
    fs = catalog.get("filesystem").launch({"paths": ["/a", "/b c"]}, {}, docker_available=False)
    assert (fs.name, fs.command, fs.transport) == ("filesystem", "npx", "stdio")
    assert fs.args == ("-y", "@modelcontextprotocol/server-filesystem", "/a", "/b c")
    git = catalog.get("git")
    assert git.launch({}, {}, docker_available=False).args == ("mcp-server-git",)  # optional flag dropped
    assert git.launch({"repository": "/src"}, {}, docker_available=False).args == ("mcp-server-git", "--repository=/src")
    slack = catalog.get("slack").launch({"team_id": "T1"}, {"SLACK_BOT_TOKEN": SECRET}, docker_available=False)
    assert slack.env == {"SLACK_TEAM_ID": "T1", "SLACK_BOT_TOKEN": SECRET}
    assert all(SECRET not in arg for arg in (slack.command, *slack.args))
    with pytest.raises(CatalogError, match="required config missing: paths"):
        catalog.get("filesystem").launch({}, {}, docker_available=False)
    with pytest.raises(CatalogError, match="SLACK_BOT_TOKEN"):
        catalog.get("slack").launch({"team_id": "T1"}, {}, docker_available=False)
    qdrant = catalog.get("qdrant").launch({"url": "http://q:6333", "collection_name": "c"}, {}, docker_available=False)
    assert "QDRANT_API_KEY" not in qdrant.env  # optional secret, not set


def test_a_config_value_equal_to_a_secret_is_refused_on_the_command_line() -> None:
    e = entry("leaky", run={"command": sys.executable, "args": ["--name={{leaky.name}}"]},
              secrets=[{"name": "leaky.token", "env": "LEAKY_TOKEN"}],
              config=[{"name": "leaky", "type": "object", "properties": {"name": {"type": "string"}}}])
    with pytest.raises(CatalogError, match="LEAKY_TOKEN would appear on the command line"):
        e.launch({"name": SECRET}, {"LEAKY_TOKEN": SECRET}, docker_available=False)


def test_command_not_on_path_cannot_run() -> None:
    e = entry("ghost", run={"command": "definitely-not-a-command-xyz"})
    assert e.runs_here(True) == (False, "needs `definitely-not-a-command-xyz` on PATH, not found")
    with pytest.raises(CatalogError, match="cannot run here"):
        e.launch({}, {}, docker_available=True)


def test_remote_entry_fills_headers_from_secrets() -> None:
    e = entry("hosted", type="remote", remote={"transport_type": "sse", "url": "https://h.example/sse",
                                               "headers": {"Authorization": "Bearer ${HOSTED_KEY}"}},
              secrets=[{"name": "hosted.key", "env": "HOSTED_KEY"}])
    spec = e.launch({}, {"HOSTED_KEY": SECRET}, docker_available=False)
    assert (spec.url, spec.transport, spec.headers) == ("https://h.example/sse", "sse", {"Authorization": f"Bearer {SECRET}"})
    plain = entry("open", type="remote", remote={"url": "https://o.example/mcp"})
    assert plain.launch({}, {}, docker_available=False).transport == "http"


# -- Docker, through the stand-in ------------------------------------------------------------------------


def test_docker_available_asks_docker_info_and_caches(fake_docker: Path) -> None:
    assert docker_available() is True
    configure_fake_docker(fake_docker, info_exit=1)
    assert docker_available() is True  # cached answer
    assert docker_available(refresh=True) is False
    assert [c["argv"] for c in fake_docker_calls(fake_docker)] == [["info"], ["info"]]


def test_no_docker_on_path_means_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    forget()
    assert docker_available() is False


@needs_fixture
def test_docker_run_is_built_with_env_names_only_and_really_runs(fake_docker: Path) -> None:
    catalog = load_catalog([FIXTURE], builtin=False)
    assert docker_available()
    github = catalog.get("github-official")
    spec = github.launch({}, {"GITHUB_PERSONAL_ACCESS_TOKEN": SECRET}, docker_available=True)
    assert spec.command == "docker"
    assert spec.args == ("run", "-i", "--rm", "--init", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", github.image)
    assert spec.env == {"GITHUB_PERSONAL_ACCESS_TOKEN": SECRET}
    # Run exactly what a stdio upstream would run: the stand-in sees the value in its environment only.
    subprocess.run([spec.command, *spec.args], env={**os.environ, **spec.env}, check=True, timeout=30)
    call = fake_docker_calls(fake_docker)[-1]
    assert call["argv"] == list(spec.args)
    assert call["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": SECRET}
    assert SECRET not in " ".join(call["argv"])


@needs_fixture
def test_docker_templates_volumes_env_and_command(fake_docker: Path) -> None:
    catalog = load_catalog([FIXTURE], builtin=False)
    fs_entry = catalog.get("filesystem")
    fs = fs_entry.launch({"paths": ["/data", "/home/me"]}, {}, docker_available=True)
    network = ("--network", "none") if fs_entry.disable_network else ()
    assert fs.args == ("run", "-i", "--rm", "--init", *network, "-v", "/data:/data", "-v", "/home/me:/home/me",
                       fs_entry.image, "/data", "/home/me")
    slack = catalog.get("slack")
    spec = slack.launch({"team_id": "T42"}, {"SLACK_BOT_TOKEN": SECRET}, docker_available=True)
    assert spec.args == ("run", "-i", "--rm", "--init", "-e", "SLACK_BOT_TOKEN", "-e", "SLACK_TEAM_ID", slack.image)
    assert spec.env == {"SLACK_BOT_TOKEN": SECRET, "SLACK_TEAM_ID": "T42"}  # empty channel_ids left out
    hub = catalog.get("dockerhub").launch({"username": "ann"}, {"HUB_PAT_TOKEN": SECRET}, docker_available=True)
    assert hub.args[-2:] == ("--transport=stdio", "--username=ann")
    astgrep = catalog.get("ast-grep").launch({"path": "/src"}, {}, docker_available=True)
    assert ("--network", "none") == astgrep.args[4:6] and "/src:/src" in astgrep.args


@needs_fixture
def test_entries_that_put_secrets_on_the_command_line_are_refused(fake_docker: Path) -> None:
    catalog = load_catalog([FIXTURE], builtin=False)
    postgres = catalog.get("postgres")
    ok, why = postgres.runs_here(True)
    assert not ok and "POSTGRES_URL" in why
    with pytest.raises(CatalogError, match="POSTGRES_URL"):
        postgres.launch({}, {"POSTGRES_URL": "postgresql://u:pw@h/db"}, docker_available=True)


@needs_fixture
def test_image_entry_without_engine_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = install_fake_docker(tmp_path, info_exit=1)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    forget()
    catalog = load_catalog([FIXTURE], builtin=False)
    assert docker_available() is False
    assert catalog.get("fetch").runs_here(docker_available()) == (False, "needs a Docker engine, none reachable")
    with pytest.raises(CatalogError, match="needs a Docker engine"):
        catalog.get("fetch").launch({}, {}, docker_available=False)
    forget()


@pytest.mark.anyio
async def test_meta_mcp_adds_a_docker_entry_through_docker_run(tmp_path: Path) -> None:
    """add_server(name) of an image entry: meta-mcp runs `docker run -i --rm -e NAME … IMAGE`; the
    stand-in then execs a real MCP upstream, whose tools appear; the secret never hits argv."""
    from support import make_client, meta_mcp_stdio, text_of, tool_names, upstream_argv

    bin_dir = install_fake_docker(tmp_path, info_exit=0, run_exec=upstream_argv("echo"))
    catalog = tmp_path / "docker-entries.yaml"
    catalog.write_text("""
registry:
  boxed-echo:
    title: Echo in a container
    description: An echo server shipped as a container image.
    type: server
    image: example/echo:1
    secrets: [{name: boxed-echo.token, env: BOXED_ECHO_TOKEN}]
    env: [{name: ECHO_MODE, value: "{{boxed-echo.mode}}"}]
    config: [{name: boxed-echo, type: object, properties: {mode: {type: string}}}]
""")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "BOXED_ECHO_TOKEN": SECRET}
    async with make_client(meta_mcp_stdio(None, "--catalog", str(catalog), env=env), "legacy") as client:
        found = await client.call_tool("find_servers", {"query": "echo in a container"})
        hit = found.structured_content["servers"][0]
        assert (hit["name"], hit["runs"]["kind"], hit["runs_here"]) == ("boxed-echo", "docker", True)
        added = await client.call_tool("add_server", {"name": "boxed-echo", "config": {"mode": "loud"}})
        assert not added.is_error, text_of(added)
        assert "boxed-echo__echo" in await tool_names(client)
    runs = [c for c in fake_docker_calls(tmp_path) if c["argv"][:1] == ["run"]]
    assert runs, fake_docker_calls(tmp_path)
    assert runs[0]["argv"] == ["run", "-i", "--rm", "--init", "-e", "BOXED_ECHO_TOKEN", "-e", "ECHO_MODE",
                               "example/echo:1"]
    assert runs[0]["env"] == {"BOXED_ECHO_TOKEN": SECRET, "ECHO_MODE": "loud"}


# -- client config is data: it never names a secret, never chooses where one goes -------------------------


def _remote_entry(name: str, address: str, headers: dict[str, str], *, required: bool = True, **fields: str):
    return entry(name, type="remote", remote={"url": address, "headers": headers},
                 secrets=[{"name": f"{name}.key", "env": "X_KEY", "required": required}],
                 config=[{"name": name, "type": "object",
                          "properties": {f: {"type": "string"} for f in fields or {"tenant": ""}}}])


def test_a_config_value_in_a_remote_url_or_header_is_data_never_expanded() -> None:
    """Secrets are expanded in the catalog's own text only: a client value `${X_KEY}` stays literal
    (and, in a URL, percent-encoded so it cannot add a path, query, fragment or userinfo)."""
    e = _remote_entry("tenanted", "https://api.example/{{tenanted.tenant}}/mcp?key=${X_KEY}",
                      {"Authorization": "Bearer ${X_KEY}", "X-Tenant": "{{tenanted.tenant}}"})
    spec = e.launch({"tenant": "${X_KEY}"}, {"X_KEY": SECRET}, docker_available=False)
    assert spec.url == f"https://api.example/%24%7BX_KEY%7D/mcp?key={SECRET}"
    assert spec.headers == {"Authorization": f"Bearer {SECRET}", "X-Tenant": "${X_KEY}"}
    spec = e.launch({"tenant": "a/../../x?k=1#@evil.example"}, {"X_KEY": SECRET}, docker_available=False)
    assert spec.url == f"https://api.example/a%2F..%2F..%2Fx%3Fk%3D1%23%40evil.example/mcp?key={SECRET}"


def test_config_cannot_choose_the_host_or_port_that_secrets_are_sent_to() -> None:
    e = _remote_entry("hosted", "http://{{hosted.host}}:{{hosted.port}}/mcp", {"Authorization": "Bearer ${X_KEY}"},
                      required=False, host="", port="")
    with pytest.raises(CatalogError, match="host or port of its URL comes from config"):
        e.launch({"host": "127.0.0.1", "port": "8080"}, {"X_KEY": SECRET}, docker_available=False)
    # Without the secret set (it is optional) there is nothing to steal: config may choose the host.
    spec = e.launch({"host": "127.0.0.1", "port": "8080"}, {}, docker_available=False)
    assert (spec.url, spec.headers) == ("http://127.0.0.1:8080/mcp", {})
    whole = _remote_entry("whole", "{{whole.url}}", {"Authorization": "Bearer ${X_KEY}"}, required=False, url="")
    with pytest.raises(CatalogError, match="host or port of its URL comes from config"):
        whole.launch({"url": "http://127.0.0.1:1/mcp"}, {"X_KEY": SECRET}, docker_available=False)
    assert whole.launch({"url": "http://127.0.0.1:1/m?k=${X_KEY}"}, {}, docker_available=False).url == (
        "http://127.0.0.1:1/m?k=${X_KEY}")  # a URL of the client's own, with nothing of ours in it
    in_url = _remote_entry("in-url", "https://{{in-url.tenant}}.api.example/mcp?key=${X_KEY}", {})
    with pytest.raises(CatalogError, match="host or port of its URL comes from config"):
        in_url.launch({"tenant": "evil.example/?"}, {"X_KEY": SECRET}, docker_available=False)


def test_catalog_text_around_templates_keeps_its_braces() -> None:
    from meta_mcp.services.catalog.templates import evaluate, fill

    assert evaluate('{"mode": "{{x.mode}}"}', {"x": {"mode": "loud"}}) == '{"mode": "loud"}'
    assert fill('{"auth": "Bearer ${T}", "mode": "{{x.mode}}"}', {"x": {"mode": "$T"}}, {"T": "tok"}) == (
        '{"auth": "Bearer tok", "mode": "$T"}')
    # A term right after `$` (or inside `${…}`) cannot choose which variable is expanded.
    assert fill("$" + "{{x.name}}", {"x": {"name": "T"}}, {"T": "tok"}) == "$T"
    assert "tok" not in fill("${{{x.name}}}", {"x": {"name": "T"}}, {"T": "tok"})


def test_docker_env_and_command_expand_catalog_text_only(fake_docker: Path) -> None:
    e = entry("boxed", image="x/boxed:1", secrets=[{"name": "boxed.token", "env": "BOXED_TOKEN"}],
              env=[{"name": "HEADERS", "value": '{"Authorization": "Bearer $BOXED_TOKEN", "X-Mode": "{{boxed.mode}}"}'},
                   {"name": "MODE", "value": "{{boxed.mode}}"}],
              command=["--mode={{boxed.mode}}", "--home=$HOME_DIR", "{{boxed.extra}}"],
              config=[{"name": "boxed", "type": "object",
                       "properties": {"mode": {"type": "string"}, "extra": {"type": "string"}}}])
    spec = e.launch({"mode": "$BOXED_TOKEN", "extra": "$MODE"}, {"BOXED_TOKEN": SECRET}, docker_available=True)
    env = dict(spec.env)
    assert env["HEADERS"] == '{"Authorization": "Bearer ' + SECRET + '", "X-Mode": "$BOXED_TOKEN"}'
    assert env["MODE"] == "$BOXED_TOKEN"
    assert spec.args[-3:] == ("--mode=$BOXED_TOKEN", "--home=", "$MODE")
    assert all(SECRET not in arg for arg in spec.args)


class _Recorder:
    """A local HTTP listener that records every request (method, path, headers) and answers 404."""

    def __init__(self) -> None:
        import http.server
        import threading

        requests: list[dict[str, object]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                 "body": body})
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_DELETE = _record

            def log_message(self, *args: object) -> None:
                pass

        self.requests = requests
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.anyio
async def test_add_server_config_cannot_send_a_secret_to_a_url_of_the_clients_choosing(tmp_path: Path) -> None:
    """Finding 5 (issue 9): `config={"port": "PORT/leak/${SECRET}"}` sent the secret in the path to the
    client's listener. Now a URL whose port comes from config never carries secrets, and a config value
    in the path is data: the listener sees neither the expanded secret in a path nor a request it was not
    meant to get."""
    import yaml
    from support import make_client, meta_mcp_stdio, text_of

    listener = _Recorder()
    try:
        catalog = tmp_path / "remotes.yaml"
        catalog.write_text(yaml.safe_dump({"registry": {
            "leaky": {"title": "Leaky remote", "description": "port from config", "type": "remote",
                      "remote": {"url": "http://127.0.0.1:{{leaky.port}}/mcp",
                                 "headers": {"Authorization": "Bearer ${X_SECRET}"}},
                      "secrets": [{"name": "leaky.key", "env": "X_SECRET"}],
                      "config": [{"name": "leaky", "type": "object", "properties": {"port": {"type": "string"}}}]},
            "pathy": {"title": "Path remote", "description": "path from config", "type": "remote",
                      "remote": {"url": f"http://127.0.0.1:{listener.port}/{{{{pathy.tenant}}}}/mcp",
                                 "headers": {"Authorization": "Bearer ${X_SECRET}"}},
                      "secrets": [{"name": "pathy.key", "env": "X_SECRET"}],
                      "config": [{"name": "pathy", "type": "object", "properties": {"tenant": {"type": "string"}}}]},
        }}))
        env = {"X_SECRET": SECRET, "META_MCP_CONNECT_TIMEOUT": "5"}
        async with make_client(meta_mcp_stdio(None, "--catalog", str(catalog), env=env), "legacy") as client:
            leak = await client.call_tool("add_server", {"name": "leaky", "config": {
                "port": f"{listener.port}/leak/${{X_SECRET}}"}})
            assert leak.is_error and "host or port of its URL comes from config" in text_of(leak), text_of(leak)
            assert listener.requests == []
            legit_port = await client.call_tool("add_server", {"name": "leaky", "config": {"port": str(listener.port)}})
            assert legit_port.is_error and listener.requests == []  # the header would go to a port the client chose
            data = await client.call_tool("add_server", {"name": "pathy", "config": {"tenant": "t/../leak?k=${X_SECRET}"}})
            assert data.is_error  # the listener is no MCP server
            assert SECRET not in text_of(leak) + text_of(legit_port) + text_of(data)
        assert listener.requests, "pathy's catalog origin should have been contacted"
        for request in listener.requests:
            assert request["path"] == "/t%2F..%2Fleak%3Fk%3D%24%7BX_SECRET%7D/mcp", request
            assert SECRET not in str(request["path"]) + str(request["body"])
            assert request["headers"].get("Authorization") == f"Bearer {SECRET}"  # the catalog's own origin
    finally:
        listener.close()
