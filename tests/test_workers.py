"""`serve --transport http --workers 2`: one port, two worker processes, one Redis (issue 16, item 3).

- handshake-era sessions are opened on both workers (a session id names its worker) and every later
  request of a session is answered, whichever worker accepts its connection (each request here is a
  new connection, so many reach the other worker and are forwarded to the session's own);
- 2026-era requests are answered by any worker;
- a server added through one worker is listed and called through every session (the Redis feed);
- a worker that dies is restarted by the parent, and the port keeps answering;
- `--workers 2` without a shared state store is refused with a clear message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from redis_support import RedisServer, redis_server  # noqa: F401 - the fixture
from support import meta_mcp_http, poll_until, serve_argv, upstream_argv

pytestmark = pytest.mark.anyio

LEGACY = "2025-11-25"
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _message(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC answer of a POST, sent as a JSON body or as one server-sent event."""
    assert response.status_code == 200, (response.status_code, response.text)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        return json.loads(next(d for d in data if d))
    return response.json()


async def _post(url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:  # a new connection each time: any worker accepts it
        return await http.post(url, json=body, headers={**ACCEPT, **headers})


async def _open_session(url: str) -> str:
    response = await _post(url, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "workers-test", "version": "1"}}})
    _message(response)
    session = response.headers["mcp-session-id"]
    done = await _post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, **_in(session))
    assert done.status_code == 202, done.text
    return session


def _in(session: str) -> dict[str, str]:
    return {"Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}


def _worker_of(session: str) -> int:
    return int(session[:8], 16) % 2


async def _call(url: str, session: str, name: str, arguments: dict[str, Any], request_id: int = 2) -> dict[str, Any]:
    answer = _message(await _post(url, {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                                        "params": {"name": name, "arguments": arguments}}, **_in(session)))
    assert "result" in answer, answer
    return answer["result"]


async def _tools(url: str, session: str) -> set[str]:
    answer = _message(await _post(url, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, **_in(session)))
    return {t["name"] for t in answer["result"]["tools"]}


def _workers(parent: int) -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()}
    except OSError:
        return set()


async def test_two_workers_share_one_port_sessions_and_changes(redis_server: RedisServer) -> None:  # noqa: F811
    env = {"META_MCP_STATE_URL": redis_server.url, "META_MCP_STATE_PREFIX": f"workers-{uuid.uuid4().hex[:8]}"}
    async with meta_mcp_http(None, "--workers", "2", env=env) as url:
        parent = url.proc.pid

        async def two_workers() -> bool:
            return len(_workers(parent)) == 2

        await poll_until(two_workers, timeout=30, what="two workers")
        sessions: list[str] = []
        for _ in range(24):  # until both workers hold a session (each id names the worker that opened it)
            sessions.append(await _open_session(str(url)))
            if {_worker_of(s) for s in sessions} == {0, 1}:
                break
        assert {_worker_of(s) for s in sessions} == {0, 1}, sessions

        argv = upstream_argv("echo")
        added = await _call(str(url), sessions[0], "add_server",
                            {"name": "echo", "spec": {"command": argv[0], "args": argv[1:]}})
        assert not added.get("isError"), added

        for session in sessions:  # the other worker applied the change from the feed
            async def listed(session: str = session) -> bool:
                return "echo__echo" in await _tools(str(url), session)

            await poll_until(listed, timeout=20, what=f"echo__echo in session {session[:8]}")
            for i in range(4):  # new connections: the other worker forwards them to the session's own
                result = await _call(str(url), session, "echo__echo", {"text": f"{session[:8]}-{i}"}, request_id=10 + i)
                assert result["content"][0]["text"] == f"{session[:8]}-{i}", result

        modern = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "echo__echo", "arguments": {"text": "any worker"},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientInfo": {"name": "workers-test", "version": "1"},
                      "io.modelcontextprotocol/clientCapabilities": {}}}}
        for _ in range(6):
            answer = _message(await _post(str(url), modern, **{"MCP-Protocol-Version": "2026-07-28",
                                                                "Mcp-Method": "tools/call", "Mcp-Name": "echo__echo"}))
            assert answer["result"]["content"][0]["text"] == "any worker", answer

        # A worker that dies is replaced; the port keeps answering.
        before = _workers(parent)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> bool:
            now = _workers(parent)
            return len(now) == 2 and victim not in now

        await poll_until(replaced, timeout=30, what="the dead worker's replacement")
        fresh = await _open_session(str(url))

        async def listed_fresh() -> bool:
            return "echo__echo" in await _tools(str(url), fresh)

        await poll_until(listed_fresh, timeout=20, what="echo__echo in a session opened after the restart")
        assert (await _call(str(url), fresh, "echo__echo", {"text": "after"}))["content"][0]["text"] == "after"


def test_workers_without_a_shared_state_store_are_refused() -> None:
    argv = serve_argv(None, "--transport", "http", "--port", "0", "--workers", "2")
    done = subprocess.run(argv, env={**os.environ, "META_MCP_STATE_URL": "memory://"}, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "--workers 2 needs a state store the workers share" in done.stderr, (
        done.returncode, done.stderr[-2000:])
    assert "not memory://" in done.stderr and done.stdout == ""
