"""`find_servers` through a real meta-mcp process (stdio and streamable HTTP, both protocol eras)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError
from support import COVERING_COMBOS, make_client, meta_mcp_http, meta_mcp_stdio, text_of, upstream_argv

pytestmark = pytest.mark.anyio

SECRET = "find-servers-secret-987"


def team_catalog(tmp_path: Path) -> Path:
    argv = upstream_argv("echo")
    path = tmp_path / "team.yaml"
    path.write_text(json.dumps({"registry": {
        "team-echo": {
            "title": "Team echo",
            "description": "Repeats back whatever text it is given, for checking a team setup.",
            "type": "server",
            "run": {"command": argv[0], "args": argv[1:]},
            "tools": [{"name": "echo"}],
            "secrets": [{"name": "team-echo.token", "env": "TEAM_ECHO_TOKEN", "description": "a token",
                         "example": "tok-example"}],
            "config": [{"name": "team-echo", "type": "object",
                        "properties": {"greeting": {"type": "string", "description": "Said first"}},
                        "required": ["greeting"]}],
            "metadata": {"tags": ["echo", "testing"]},
        },
        "container-only": {"title": "Container only", "description": "Repeats text, but only as an image.",
                           "image": "example/echo:1"},
    }}))
    return path


@contextlib.asynccontextmanager
async def meta_client(transport: str, mode: str, *args: str) -> AsyncIterator[Any]:
    # An empty PATH dir first and no `docker` anywhere would be ideal; what matters is the engine:
    # there is none on these machines, so image-only entries cannot run here.
    env = {"TEAM_ECHO_TOKEN": SECRET, "PATH": os.environ["PATH"]}
    if transport == "stdio":
        async with make_client(meta_mcp_stdio(None, *args, env=env), mode) as client:
            yield client
    else:
        async with meta_mcp_http(None, *args, env=env) as url, make_client(str(url), mode) as client:
            yield client


@pytest.mark.parametrize("transport,mode", COVERING_COMBOS)
async def test_find_servers_reports_how_each_hit_runs(transport: str, mode: str, tmp_path: Path) -> None:
    catalog = team_catalog(tmp_path)
    async with meta_client(transport, mode, "--catalog", str(catalog)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "find_servers" in tools and tools["find_servers"].output_schema is not None

        result = await client.call_tool("find_servers", {"query": "repeat back some text", "limit": 5})
        assert not result.is_error, text_of(result)
        servers = {s["name"]: s for s in result.structured_content["servers"]}
        echo = servers["team-echo"]
        assert result.structured_content["servers"][0]["name"] in ("team-echo", "container-only")
        assert echo["runs"]["kind"] == "command" and upstream_argv("echo")[1] in echo["runs"]["command"]
        assert echo["runs_here"] is True and echo["why_not"] is None and echo["active"] is False
        # Named, and said whether set and where (meta-mcp's environment here) — never its value.
        assert echo["secrets"] == [{"name": "team-echo.token", "env": "TEAM_ECHO_TOKEN", "required": True,
                                    "set": True, "source": "environment"}], echo["secrets"]
        assert SECRET not in json.dumps(result.structured_content) and SECRET not in text_of(result)
        assert echo["config"] == [{"name": "greeting", "type": "string", "description": "Said first", "required": True}]
        boxed = servers["container-only"]
        assert boxed["runs"] == {"kind": "docker", "image": "example/echo:1"}
        if boxed["runs_here"] is False:  # no Docker engine on these machines
            assert boxed["why_not"] == "needs a Docker engine, none reachable"
        text = text_of(result)
        assert "team-echo — Team echo" in text and "TEAM_ECHO_TOKEN" in text and "greeting (string)" in text
        assert SECRET not in text and "tok-example" not in json.dumps(result.structured_content)

        added = await client.call_tool("add_server", {"name": "team-echo", "config": {"greeting": "hi"}})
        assert not added.is_error, text_of(added)
        again = await client.call_tool("find_servers", {"query": "team echo"})
        first = again.structured_content["servers"][0]
        assert first["name"] == "team-echo" and first["active"] is True
        assert "[ACTIVE]" in text_of(again)


async def test_plain_language_requests_over_the_builtin_catalog() -> None:
    async with meta_client("stdio", "legacy") as client:
        for query, expected in [("what time is it in Tokyo", "time"), ("post a message to my team chat", "slack"),
                                ("remember things about me between chats", "memory"),
                                ("read the files in my home folder", "filesystem")]:
            result = await client.call_tool("find_servers", {"query": query, "limit": 3})
            names = [s["name"] for s in result.structured_content["servers"]]
            assert names and names[0] == expected, (query, names)
        nothing = await client.call_tool("find_servers", {"query": "qqqzzzxxx"})
        assert not nothing.is_error and nothing.structured_content["servers"] == []
        assert "No server in the catalog" in text_of(nothing)
        with pytest.raises(MCPError, match="limit"):
            await client.call_tool("find_servers", {"query": "x", "limit": 0})


async def test_a_broken_catalog_is_a_tool_error_naming_file_entry_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("registry:\n  oops:\n    title: Oops\n    run: {args: [x]}\n")
    async with meta_client("stdio", "legacy", "--catalog", str(broken)) as client:
        result = await client.call_tool("find_servers", {"query": "anything"})
        assert result.is_error
        assert str(broken) in text_of(result) and "'oops'" in text_of(result) and "run.command" in text_of(result)
        # The rest of meta-mcp keeps working.
        assert not (await client.call_tool("list_servers", {})).is_error


