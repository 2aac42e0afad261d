"""The protocol era meta-mcp speaks to an upstream (`protocol` in a config entry; for stdio servers without
one, `META_MCP_STDIO_UPSTREAM_PROTOCOL`):

- by default the newest both sides support: the echo upstream (the SDK's server, both eras) is spoken to in
  2026-07-28;
- `"handshake"` (per server, or the setting for stdio servers that do not say) connects with the 2025-11-25
  initialize handshake, and calls work the same — through a whole meta-mcp too, stdio client to stdio
  upstream, with the entry read from a config file; the setting leaves HTTP servers on auto (there the
  2026 era is the cheaper one), while an HTTP server's own entry can still ask for the handshake;
- a value that is not an era is refused with the field named.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from support import open_meta_client, text_of, upstream_entry, upstream_http, wait_for_tools

from meta_mcp.config import ServerSpec, load_config
from meta_mcp.registry.pool import UpstreamPool
from meta_mcp.settings import Settings

pytestmark = pytest.mark.anyio


def echo_spec(**extra: Any) -> ServerSpec:
    entry = upstream_entry("echo")
    return ServerSpec(name="echo", command=entry["command"], args=entry["args"], **extra)


@pytest.mark.parametrize(("given", "setting", "handshake"), [
    ({}, "auto", False),
    ({"protocol": "handshake"}, "auto", True),
    ({}, "handshake", True),
    ({"protocol": "auto"}, "handshake", False),  # the entry wins over the setting
])
async def test_the_era_spoken_to_an_upstream(given: dict[str, Any], setting: str, handshake: bool) -> None:
    settings = Settings(_env_file=None, stdio_upstream_protocol=setting)  # type: ignore[call-arg]
    async with anyio.create_task_group() as tg:
        pool = UpstreamPool(settings, tg, environ={"PATH": os.environ["PATH"]})
        provider = pool.hold(echo_spec(**given))
        await pool.ready(provider)
        assert provider.status == "ready", provider.last_error
        version = provider.protocol_version
        assert (version == "2025-11-25") if handshake else (version in MODERN_PROTOCOL_VERSIONS), version
        result = await provider.call_tool("echo", {"text": f"in {version}"})
        assert result["content"] == [{"type": "text", "text": f"in {version}"}], result
        await pool.aclose()
        tg.cancel_scope.cancel()


@pytest.mark.parametrize(("given", "handshake"), [({}, False), ({"protocol": "handshake"}, True)])
async def test_the_stdio_setting_leaves_http_servers_alone(given: dict[str, Any], handshake: bool) -> None:
    settings = Settings(_env_file=None, stdio_upstream_protocol="handshake")  # type: ignore[call-arg]
    async with upstream_http("echo") as url, anyio.create_task_group() as tg:
        pool = UpstreamPool(settings, tg, environ={"PATH": os.environ["PATH"]})
        provider = pool.hold(ServerSpec(name="echo", url=str(url), **given))
        await pool.ready(provider)
        assert provider.status == "ready", provider.last_error
        version = provider.protocol_version
        assert (version == "2025-11-25") if handshake else (version in MODERN_PROTOCOL_VERSIONS), version
        result = await provider.call_tool("echo", {"text": "over http"})
        assert result["content"] == [{"type": "text", "text": "over http"}], result
        await pool.aclose()
        tg.cancel_scope.cancel()


async def test_a_config_entry_with_protocol_handshake_through_meta_mcp(tmp_path: Path) -> None:
    servers = {"echo": upstream_entry("echo", protocol="handshake")}
    async with open_meta_client("stdio", "legacy", servers) as client:
        await wait_for_tools(client, ["echo"], timeout=30)
        result = await client.call_tool("echo__echo", {"text": "plain"})
        assert not result.is_error and text_of(result) == "plain"


def test_a_protocol_that_is_not_an_era_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text('{"mcpServers": {"echo": {"command": "x", "protocol": "modern"}}}')
    with pytest.raises(Exception) as refused:
        load_config(config)
    assert "protocol" in str(refused.value) and "handshake" in str(refused.value), refused.value
