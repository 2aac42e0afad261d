"""State that survives restarts and is shared by replicas, with real processes and a real redis-server.

- Restart: a server added over stdio (SQLite state) is back after meta-mcp restarts, and answers; an
  agent conversation continues after a restart.
- Replicas: two HTTP meta-mcp processes on one Redis. A change through A reaches B's clients in both
  eras (list_changed), B lists and calls the new tools; a removal through B is applied by A; a chat
  interrupt raised on A is resumed on B.
- Chaos: a replica SIGKILLed mid-call comes back with its state; Redis stopped mid-run — calls to
  running servers keep working, state changes fail with a clear error and change nothing, and once
  Redis is back meta-mcp works again by itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import MCPError
from mcp.shared.subscriptions import ToolsListChanged

from openai_stub import OpenAIStub, text, tool_calls
from redis_support import RedisServer, redis_server  # noqa: F401 - the fixture
from support import (
    ListChangedWatcher,
    list_servers,
    make_client,
    meta_mcp_http,
    meta_mcp_stdio,
    poll_until,
    text_of,
    tool_names,
)
from test_agent_loop import _catalog, agent_env
from test_dynamic_surface import spec_of

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def stub() -> Any:
    server = OpenAIStub().start()
    yield server
    server.stop()


async def test_a_server_and_a_conversation_survive_a_restart(tmp_path: Path, stub: OpenAIStub) -> None:
    env = agent_env(stub, META_MCP_STATE_URL=f"sqlite:///{tmp_path / 'state.db'}")
    params = meta_mcp_stdio(None, env=env)
    stub.script(text("Nice to meet you, Ada."))
    async with make_client(params) as client:
        added = await client.call_tool("add_server", {"name": "crashy", "spec": spec_of("crashy")})
        assert not added.is_error, text_of(added)
        first = await client.call_tool("agent_chat", {"message": "My name is Ada."})
        conversation = first.structured_content["conversation_id"]
    async with make_client(meta_mcp_stdio(None, env=env)) as client:
        assert "crashy__ok" in await tool_names(client)  # restored before the first list answers
        assert (await list_servers(client))["crashy"]["status"] == "ready"
        assert not (await client.call_tool("crashy__ok", {})).is_error
        stub.script(text("Your name is Ada."))
        second = await client.call_tool("agent_chat", {"message": "What is my name?",
                                                       "conversation_id": conversation})
        assert second.structured_content["answer"] == "Your name is Ada."
        sent = [m["content"] for m in stub.requests[0]["body"]["messages"] if m["role"] == "user"]
        assert sent == ["My name is Ada.", "What is my name?"]
        # Removed for good: a later start does not bring it back.
        assert not (await client.call_tool("remove_server", {"name": "crashy"})).is_error
    async with make_client(meta_mcp_stdio(None, env=env)) as client:
        assert not any(n.startswith("crashy__") for n in await tool_names(client))


async def _is(probe: Any, wanted: Any) -> bool:
    return await probe() == wanted


@contextlib.asynccontextmanager
async def replica(redis: RedisServer, prefix: str, extra: dict[str, str], *args: str) -> AsyncIterator[str]:
    env = {"META_MCP_STATE_URL": redis.url, "META_MCP_STATE_PREFIX": prefix, **extra}
    async with meta_mcp_http(None, *args, env=env) as url:
        yield url


async def test_two_replicas_share_one_redis(redis_server: RedisServer, stub: OpenAIStub,  # noqa: F811
                                            tmp_path: Path) -> None:
    prefix = f"replicas-{uuid.uuid4().hex[:8]}"
    catalog = _catalog(tmp_path / "catalog.yaml")
    extra = agent_env(stub)
    async with replica(redis_server, prefix, extra, "--catalog", str(catalog)) as a, \
            replica(redis_server, prefix, extra, "--catalog", str(catalog)) as b:
        watcher = ListChangedWatcher()
        async with make_client(a) as on_a, make_client(b, "legacy", message_handler=watcher) as old_on_b, \
                make_client(b) as new_on_b:
            before = watcher.count
            async with new_on_b.listen(tools_list_changed=True) as events:
                added = await on_a.call_tool("add_server", {"name": "crashy", "spec": spec_of("crashy")})
                assert not added.is_error, text_of(added)
                with anyio.fail_after(15):
                    async for event in events:
                        if isinstance(event, ToolsListChanged):
                            break
            await watcher.wait_for(before + 1, timeout=15)
            assert "crashy__ok" in await tool_names(new_on_b) and "crashy__ok" in await tool_names(old_on_b)
            assert not (await new_on_b.call_tool("crashy__ok", {})).is_error

            removed = await old_on_b.call_tool("remove_server", {"name": "crashy"})
            assert not removed.is_error, text_of(removed)

            async def gone_on_a() -> bool:
                return not any(n.startswith("crashy__") for n in await tool_names(on_a))

            await poll_until(gone_on_a, timeout=15, what="crashy to be removed on replica A")

            # Configured through A: B restarts its instance with the new config.
            added = await on_a.call_tool("add_server", {"name": "greeter", "config": {"greeting": "hej"}})
            assert not added.is_error, text_of(added)

            async def greeting_on_b() -> str | None:
                if "greeter__environment" not in await tool_names(new_on_b):
                    return None
                try:
                    result = await new_on_b.call_tool("greeter__environment", {"names": ["GREETING"]})
                except MCPError as exc:  # listed a moment ago, gone while B restarts it with the new config
                    if "Unknown tool" in str(exc):
                        return None
                    raise
                return None if result.is_error else result.structured_content["env"]["GREETING"]

            await poll_until(lambda: _is(greeting_on_b, "hej"), timeout=15, what="greeter on replica B")
            configured = await on_a.call_tool("configure_server", {"name": "greeter", "config": {"greeting": "hallo"}})
            assert not configured.is_error, text_of(configured)
            await poll_until(lambda: _is(greeting_on_b, "hallo"), timeout=15, what="the new greeting on replica B")

            # Curated through A (what the workspace exposes of a server's tools): B hides the tool too.
            curated = await on_a.call_tool("configure_server", {"name": "greeter", "tools": {"deny": ["environment"]}})
            assert not curated.is_error, text_of(curated)

            async def hidden_on_b() -> bool:
                names = await tool_names(new_on_b)
                return "greeter__environment" not in names and any(n.startswith("greeter__") for n in names)

            await poll_until(hidden_on_b, timeout=15, what="the curation on replica B")
            with pytest.raises(MCPError, match="hidden by the server's curation"):
                await old_on_b.call_tool("greeter__environment", {"names": ["GREETING"]})

        # A chat interrupt raised on A is resumed on B.
        user = {"X-User-Id": "replica-user"}
        stub.script(tool_calls(("add_server", {"name": "greeter"})))
        async with httpx.AsyncClient(timeout=30) as http:
            first = (await http.post(a.removesuffix("/mcp") + "/chat", headers=user,
                                     json={"messages": [{"role": "user", "content": "greet"}]})).json()
            assert first["interrupt_type"] == "config_required", first
            stub.script(text("greeted"))
            resumed = await http.post(b.removesuffix("/mcp") + "/chat/resume", headers=user,
                                      json={"interrupt_id": first["interrupt_id"],
                                            "provided_configs": {"greeting": "hej"}})
            assert resumed.status_code == 200 and resumed.json()["content"] == "greeted", resumed.text


async def test_a_killed_replica_comes_back_with_its_state(redis_server: RedisServer) -> None:  # noqa: F811
    prefix = f"chaos-{uuid.uuid4().hex[:8]}"
    async with replica(redis_server, prefix, {}) as a:
        async with make_client(a) as client:
            for name in ("hang", "crashy"):
                added = await client.call_tool("add_server", {"name": name, "spec": spec_of(name)})
                assert not added.is_error, text_of(added)
        with contextlib.suppress(Exception):  # the client's connection dies with the process
            async with make_client(a) as client, anyio.create_task_group() as tg:
                tg.start_soon(_call_ignoring_errors, client, "hang__hang")
                await anyio.sleep(0.5)
                os.killpg(a.proc.pid, signal.SIGKILL)  # mid-call
                a.proc.wait(5)
                tg.cancel_scope.cancel()
        assert a.proc.returncode == -signal.SIGKILL
    async with replica(redis_server, prefix, {}) as again, make_client(again) as client:
        names = await tool_names(client)
        assert "hang__ok" in names and "crashy__ok" in names
        assert not (await client.call_tool("crashy__ok", {})).is_error


async def _call_ignoring_errors(client: Any, name: str) -> None:
    with contextlib.suppress(Exception):
        await client.call_tool(name, {})


async def test_redis_lost_mid_run(tmp_path: Path) -> None:
    redis = RedisServer().start()
    try:
        async with replica(redis, "lost", {"META_MCP_STATE_CONNECT_TIMEOUT_S": "2"}) as url, \
                make_client(url) as client:
            assert not (await client.call_tool("add_server", {"name": "crashy", "spec": spec_of("crashy")})).is_error
            redis.stop()
            # Calls to running servers keep working; state changes fail clearly and change nothing.
            assert not (await client.call_tool("crashy__ok", {})).is_error
            refused = await client.call_tool("add_server", {"name": "hang", "spec": spec_of("hang")})
            assert refused.is_error and refused.structured_content["outcome"] == "not_saved", text_of(refused)
            assert "state store" in text_of(refused)
            assert not any(n.startswith("hang__") for n in await tool_names(client))
            redis.start()

            async def works_again() -> bool:
                result = await client.call_tool("add_server", {"name": "hang", "spec": spec_of("hang")})
                return not result.is_error

            await poll_until(works_again, timeout=20, interval=0.5, what="state changes to work again")
            assert "hang__ok" in await tool_names(client)
    finally:
        redis.stop()


def test_unreachable_redis_at_start_names_the_url_without_the_password() -> None:
    env = {**os.environ, "META_MCP_STATE_URL": "redis://:hunter2@127.0.0.1:9/0",
           "META_MCP_STATE_CONNECT_TIMEOUT_S": "1"}
    done = subprocess.run([sys.executable, "-m", "meta_mcp", "serve", "--transport", "http", "--port", "1"],
                          env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    assert "127.0.0.1:9" in done.stderr and "hunter2" not in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]

