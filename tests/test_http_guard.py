"""What every HTTP request must pass before the SDK sees it, against a real meta-mcp over HTTP:
the streamable-HTTP Accept header (406), a body that trickles in (408, connection dropped), a body
over the limit (413) — and the server keeps serving well-behaved clients throughout. Also the cap on
live workspaces: idle ones are dropped, busy ones never.
"""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlparse

import anyio
import httpx2
import pytest

from meta_mcp.registry.pool import UpstreamPool
from meta_mcp.registry.workspaces import TooManyWorkspaces, Workspaces
from meta_mcp.settings import Settings
from support import make_client, meta_mcp_http

pytestmark = pytest.mark.anyio

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
BOTH = "application/json, text/event-stream"


async def test_accept_header_is_required() -> None:
    async with meta_mcp_http(None) as url:
        async with httpx2.AsyncClient(timeout=10) as http:
            for accept in ("application/json", "text/html", "text/event-stream"):
                headers = {"content-type": "application/json", "accept": accept}
                response = await http.post(str(url), content=json.dumps(INIT), headers=headers)
                assert response.status_code == 406, (accept, response.status_code, response.text)
                assert response.json()["error"]["code"] == -32600
            ok = await http.post(str(url), content=json.dumps(INIT), headers={"content-type": "application/json",
                                                                              "accept": BOTH})
            assert ok.status_code == 200
            sse = await http.get(str(url), headers={"accept": "application/json"})
            assert sse.status_code == 406
        # No Accept header at all (an HTTP client library would add `*/*`): sent by hand.
        body = json.dumps(INIT).encode()
        head = (f"POST /mcp HTTP/1.1\r\nHost: {urlparse(str(url)).netloc}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        bare = await anyio.to_thread.run_sync(_raw, str(url), head, [body], 0)
        assert bare.startswith(b"HTTP/1.1 406"), bare[:200]


def _raw(url: str, head: str, body_parts: list[bytes], pause: float) -> bytes:
    """Send a request by hand (headers, then body parts with pauses); return what the server answered."""
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            for part in body_parts:
                sock.sendall(part)
                time.sleep(pause)
        except OSError:
            pass  # the server may close on us mid-body
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


async def test_slow_and_oversized_bodies_are_refused_and_the_server_lives_on() -> None:
    async with meta_mcp_http(None, env={"META_MCP_HTTP_IDLE_TIMEOUT": "0.5", "META_MCP_HTTP_BODY_TIMEOUT": "2",
                                        "META_MCP_HTTP_MAX_BODY_BYTES": "20000"}) as url:
        host = urlparse(str(url)).netloc
        body = json.dumps(INIT).encode()
        head = (f"POST /mcp HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: {BOTH}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        # A pause longer than the idle timeout mid-body: 408, connection closed.
        slow = await anyio.to_thread.run_sync(_raw, str(url), head, [body[:10], body[10:]], 1.5)
        assert slow.startswith(b"HTTP/1.1 408"), slow[:200]
        # Trickling under the idle timeout but past the total deadline: 408 too.
        trickle = await anyio.to_thread.run_sync(_raw, str(url), head, [body[i:i + 8] for i in range(0, 200, 8)], 0.3)
        assert trickle.startswith(b"HTTP/1.1 408"), trickle[:200]
        big = b"[" + b"{}," * 20_000 + b"{}]"
        big_head = head.replace(f"Content-Length: {len(body)}", f"Content-Length: {len(big)}")
        large = await anyio.to_thread.run_sync(_raw, str(url), big_head, [big], 0)
        assert large.startswith(b"HTTP/1.1 413") and b"META_MCP_HTTP_MAX_BODY_BYTES" in large, large[:300]
        async with make_client(str(url)) as client:
            assert "list_servers" in {t.name for t in (await client.list_tools()).tools}


async def test_idle_workspaces_are_dropped_past_the_cap_and_busy_ones_never() -> None:
    settings = Settings(max_workspaces=3)
    async with anyio.create_task_group() as tg:
        workspaces = Workspaces(settings, UpstreamPool(settings, tg))
        first = workspaces.get("a")
        workspaces.get("b")
        workspaces.get("c")
        workspaces.get("d")  # "a" was the least recently used idle one
        assert {r.workspace for r in workspaces} == {"b", "c", "d"}
        assert workspaces.get("a") is not first  # made anew on its next use, nothing lost
        # Workspaces with a connected client are never dropped: with all of them busy, a new one is refused.
        for registry in workspaces:
            registry.notifier._streams = 1  # noqa: SLF001 - as if a listen stream were open
        with pytest.raises(TooManyWorkspaces, match="META_MCP_MAX_WORKSPACES"):
            workspaces.get("e")
        tg.cancel_scope.cancel()
