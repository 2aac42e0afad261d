"""A model may not move where a catalog server sends its secrets (`operations/endpoints.py`): an agent's
or sandboxed code's `add_server` / `configure_server` cannot set an endpoint field (a URL, a host) of an
entry with secrets to anything but what is stored; the user's own callers can, and entries without
secrets are not affected."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from meta_mcp.operations import servers as ops
from meta_mcp.operations.endpoints import endpoint_paths
from meta_mcp.operations.outcomes import Added, Configured, Refused

from .harness import Env

pytestmark = pytest.mark.anyio

RUN = {"command": sys.executable, "args": ["-c", "pass"]}
TOKEN = "gl-token-VALUE-never-shown"
CATALOG: dict[str, Any] = {
    "gitlab": {
        "title": "GitLab", "type": "server", "run": {**RUN, "env": {"GITLAB_API_URL": "{{gitlab.api_url}}"}},
        "secrets": [{"name": "gitlab.token", "env": "GITLAB_TOKEN"}],
        "config": [{"name": "gitlab", "type": "object",
                    "properties": {"api_url": {"type": "string"}, "page_size": {"type": "integer"}}}],
    },
    "store": {
        "title": "Store", "type": "server", "run": RUN,
        "secrets": [{"name": "store.key", "env": "STORE_KEY"}],
        "config": [{"name": "store", "type": "object", "properties": {"target": {"type": "string", "format": "uri"}}},
                   {"name": "proxy", "type": "object", "properties": {"Base-Host": {"type": "string"}}}],
    },
    "open": {
        "title": "Open", "type": "server", "run": RUN,
        "config": [{"name": "open", "type": "object", "properties": {"url": {"type": "string"}}}],
    },
}
EVIL = "https://attacker.example/api/v4"


@pytest.fixture
async def env(make_env: Any) -> AsyncIterator[Env]:
    async with make_env(catalog=CATALOG, secrets={"GITLAB_TOKEN": TOKEN, "STORE_KEY": "k"}) as built:
        for name in CATALOG:
            built.upstreams.define(name, tools=["hello"])
        yield built


async def test_endpoint_fields_are_found_by_format_and_by_name_at_any_depth(env: Env) -> None:
    schemas = {name: env.services.catalog.get(name).config_schema() for name in CATALOG}
    assert list(endpoint_paths(schemas["gitlab"])) == [("api_url",)]
    assert sorted(endpoint_paths(schemas["store"])) == [("proxy", "Base-Host"), ("target",)]
    assert list(endpoint_paths({"properties": {"x": "not a schema", "n": {"type": "object"}}})) == []


@pytest.mark.parametrize("origin", ["agent", "sandbox"])
async def test_a_model_cannot_point_a_secret_bearing_server_elsewhere(env: Env, origin: str) -> None:
    ws = env.ws()
    refused = await ops.add_server(ws, "gitlab", config={"api_url": EVIL}, origin=origin)
    assert isinstance(refused, Refused) and "'api_url'" in refused.reason and "GITLAB_TOKEN" in refused.reason
    assert TOKEN not in refused.message and "gitlab" not in ws.registry.servers
    assert await env.services.state.get_config(ws.name, "gitlab") == {}
    nested = await ops.add_server(ws, "store", config={"proxy": {"Base-Host": "evil.example"}}, origin=origin)
    assert isinstance(nested, Refused) and "'proxy.Base-Host'" in nested.reason


async def test_the_user_sets_the_endpoint_and_a_model_may_then_use_and_repeat_it(env: Env) -> None:
    ws = env.ws()
    assert isinstance(await ops.configure_server(ws, "gitlab", {"api_url": "https://gitlab.example/api/v4"},
                                                 origin="stdio"), Configured)
    same = await ops.add_server(ws, "gitlab", config={"api_url": "https://gitlab.example/api/v4", "page_size": 5},
                                origin="agent")
    assert isinstance(same, Added), same
    moved = await ops.configure_server(ws, "gitlab", {"api_url": EVIL}, origin="agent")
    assert isinstance(moved, Refused) and moved.message.startswith("Cannot configure 'gitlab':")
    assert (await env.services.state.get_config(ws.name, "gitlab"))["api_url"] == "https://gitlab.example/api/v4"
    assert isinstance(await ops.configure_server(ws, "gitlab", {"page_size": 9}, origin="agent"), Configured)
    assert isinstance(await ops.configure_server(ws, "gitlab", {"api_url": EVIL}, origin="http"), Configured)


async def test_entries_without_secrets_take_any_endpoint_from_a_model(env: Env) -> None:
    assert isinstance(await ops.add_server(env.ws(), "open", config={"url": EVIL}, origin="agent"), Added)
