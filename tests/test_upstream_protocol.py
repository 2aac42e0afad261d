"""The protocol era meta-mcp speaks to an upstream (`protocol` in a config entry; for stdio servers without
one, `META_MCP_STDIO_UPSTREAM_PROTOCOL`):

- by default (`follow`) a stdio server is spoken to in the era of meta-mcp's own stdio client, which its
  first message says (`providers.era`): the echo upstream (the SDK's server, both eras) in 2025-11-25 for a
  handshake-era client, in 2026-07-28 for a 2026-era one; with no stdio client (HTTP, a bare pool), and
  with `auto`, the newest both sides support;
- `"handshake"` (per server, or the setting for stdio servers that do not say) connects with the 2025-11-25
  initialize handshake, and calls work the same; the setting leaves HTTP servers on auto (there the 2026
  era is the cheaper one), while an HTTP server's own entry can still ask for the handshake;
- under `follow`, a server that refuses the handshake (2026 era only) is started again in auto;
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
from meta_mcp.providers.era import ClientEra
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
    ({}, "follow", False),  # follow with no stdio client (this pool serves none): auto
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


@pytest.mark.parametrize(("protocol", "mode", "modern"), [
    (None, "legacy", False),  # follow (the default): a handshake-era client's servers in the handshake era
    (None, "auto", True),  # ... and a 2026-era client's in the 2026 era
    ("auto", "legacy", True),  # the entry wins
    ("handshake", "auto", False),
])
async def test_through_meta_mcp_over_stdio(protocol: str | None, mode: str, modern: bool) -> None:
    """The echo's era seen from outside: a 2026-era server stamps its results with its `serverInfo`, and the
    stamp passes through to the client (meta-mcp stamps its own only where the result has none)."""
    entry = upstream_entry("echo", **({"protocol": protocol} if protocol else {}))
    async with open_meta_client("stdio", mode, {"echo": entry}) as client:
        await wait_for_tools(client, ["echo"], timeout=30)
        result = await client.call_tool("echo__echo", {"text": "plain"})
        assert not result.is_error and text_of(result) == "plain"
        stamp = (result.meta or {}).get("io.modelcontextprotocol/serverInfo") or {}
        assert (stamp.get("name") == "echo") == modern, result.meta


async def test_follow_falls_back_to_auto_for_a_server_without_the_handshake() -> None:
    """A 2026-only server answers `initialize` "Method not found": the start in the handshake era that
    `follow` chose for a handshake-era client fails once, and the next start speaks 2026-07-28."""
    async with open_meta_client("stdio", "legacy", {"echo": upstream_entry("echo", "--no-handshake")}) as client:
        await wait_for_tools(client, ["echo"], timeout=30)
        result = await client.call_tool("echo__echo", {"text": "still served"})
        assert not result.is_error and text_of(result) == "still served"
        stamp = (result.meta or {}).get("io.modelcontextprotocol/serverInfo") or {}
        assert stamp.get("name") == "echo", result.meta


async def test_the_client_era_is_its_first_message() -> None:
    era = ClientEra()
    for line in (b"not json", b"[1, 2]", b'{"jsonrpc": "2.0", "id": 1, "result": {}}', b'{"method": 7}'):
        era.note_line(line)  # passed over: not a message with a method
    assert era.era is None and await era.wait(0.01) is None
    era.note_line(b'{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}')
    era.note_line(b'{"jsonrpc": "2.0", "id": 1, "method": "server/discover"}')  # later ones change nothing
    assert await era.wait(0) == "handshake"
    modern = ClientEra()
    modern.note_line(b'{"jsonrpc": "2.0", "id": 0, "method": "server/discover"}')
    assert await modern.wait(1) == "modern"


def test_a_protocol_that_is_not_an_era_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text('{"mcpServers": {"echo": {"command": "x", "protocol": "modern"}}}')
    with pytest.raises(Exception) as refused:
        load_config(config)
    assert "protocol" in str(refused.value) and "handshake" in str(refused.value), refused.value
