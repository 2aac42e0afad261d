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
