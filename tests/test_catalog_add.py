"""add_server / configure_server for catalog entries: secrets, config, elicitation, both eras.

A test catalog (written per test, with this interpreter's path) holds `greeter`: it runs
tests/upstreams/rich.py, reads its config value `greeting` through a templated environment variable,
and requires the secret GREETER_TOKEN. meta-mcp runs as a real stdio process with `--catalog`.
"""

from __future__ import annotations

import hashlib

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp_types import ElicitRequestParams, ElicitResult

from support import MODES, REPO, make_client, meta_mcp_stdio, text_of, tool_names

pytestmark = pytest.mark.anyio

SECRET = "s3cret-value-never-shown"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    path = tmp_path / "test-catalog.yaml"
    path.write_text(yaml.safe_dump({"registry": {"greeter": {
        "title": "Greeter (test)",
        "description": "A test upstream that needs a greeting and a token.",
        "type": "server",
        "run": {"command": sys.executable, "args": [str(REPO / "tests/upstreams/rich.py")],
                "env": {"GREETING": "{{greeter.greeting}}"}},
        "secrets": [{"name": "greeter.token", "env": "GREETER_TOKEN", "description": "The test token"}],
        "config": [{"name": "greeter", "type": "object",
                    "properties": {"greeting": {"type": "string", "description": "How to greet"}},
                    "required": ["greeting"]}],
    }}}))
    return path


def meta(catalog: Path, mode: str, *, secret: bool = True, **kwargs: Any) -> Any:
    env = {"GREETER_TOKEN": SECRET} if secret else {}
    return make_client(meta_mcp_stdio(None, "--catalog", str(catalog), env=env), mode, **kwargs)


async def greeting_of(client: Any) -> str | None:
    env = (await client.call_tool("greeter__environment", {"names": ["GREETING", "GREETER_TOKEN"]}))
    values = env.structured_content["env"]
    # The secret reached the server's environment (its digest) … and its value never comes back to a client.
    assert env.structured_content["sha256"]["GREETER_TOKEN"] == hashlib.sha256(SECRET.encode()).hexdigest()
    assert values["GREETER_TOKEN"] == "***"
    return values["GREETING"]


@pytest.mark.parametrize("mode", MODES)
async def test_missing_secret_is_named_with_instructions_and_never_asked_for(catalog: Path, mode: str) -> None:
    asked: list[Any] = []

    async def elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"greeting": "hi"})

    async with meta(catalog, mode, secret=False, elicitation_callback=elicit) as client:
        result = await client.call_tool("add_server", {"name": "greeter", "config": {"greeting": "hi"}})
        assert result.is_error
        text = text_of(result)
        assert "GREETER_TOKEN" in text and "environment" in text and "The test token" in text
        assert asked == []  # secrets are never elicited
        assert "greeter__environment" not in await tool_names(client)


@pytest.mark.parametrize("mode", MODES)
async def test_missing_config_without_elicitation_lists_the_fields(catalog: Path, mode: str) -> None:
    async with meta(catalog, mode) as client:
        result = await client.call_tool("add_server", {"name": "greeter"})
        assert result.is_error
        assert "greeting" in text_of(result) and "How to greet" in text_of(result)
        assert "config=" in text_of(result)


@pytest.mark.parametrize("mode", MODES)
async def test_missing_config_is_elicited_then_the_server_starts(catalog: Path, mode: str) -> None:
    asked: list[ElicitRequestParams] = []

    async def elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"greeting": "hello from the form"})

    async with meta(catalog, mode, elicitation_callback=elicit) as client:
        result = await client.call_tool("add_server", {"name": "greeter"})
        assert not result.is_error, text_of(result)
        assert len(asked) == 1
        assert list(asked[0].requested_schema["properties"]) == ["greeting"]
        assert "greeter__environment" in result.structured_content["tools"]
        assert await greeting_of(client) == "hello from the form"
        # … but never to the client: not in add_server's result, not in list_servers.
        listing = await client.call_tool("list_servers", {})
        assert SECRET not in text_of(result) and SECRET not in text_of(listing)


@pytest.mark.parametrize("mode", MODES)
async def test_declined_elicitation_adds_nothing(catalog: Path, mode: str) -> None:
    async def decline(context: Any, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="decline")

    async with meta(catalog, mode, elicitation_callback=decline) as client:
        result = await client.call_tool("add_server", {"name": "greeter"})
        assert result.is_error and "declined" in text_of(result)
        assert (await client.call_tool("list_servers", {})).structured_content["servers"] == []


async def test_configure_server_validates_stores_and_restarts(catalog: Path) -> None:
    async with meta(catalog, "legacy") as client:
        bad = await client.call_tool("configure_server", {"name": "greeter", "config": {"greeting": 5}})
        assert bad.is_error and "greeting" in text_of(bad)

        stored = await client.call_tool("configure_server", {"name": "greeter", "config": {"greeting": "first"}})
        assert not stored.is_error and stored.structured_content["restarted"] is False
        added = await client.call_tool("add_server", {"name": "greeter"})  # uses the stored config
        assert not added.is_error, text_of(added)
        assert await greeting_of(client) == "first"

        changed = await client.call_tool("configure_server", {"name": "greeter", "config": {"greeting": "second"}})
        assert not changed.is_error, text_of(changed)
        assert changed.structured_content["restarted"] is True
        assert await greeting_of(client) == "second"


async def test_unknown_catalog_name_suggests_close_matches(catalog: Path) -> None:
    async with meta(catalog, "legacy") as client:
        result = await client.call_tool("add_server", {"name": "greetr"})
        assert result.is_error
        assert "greeter" in text_of(result) and "find_servers" in text_of(result)
