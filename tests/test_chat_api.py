"""The chat API (the seed's REST and SSE endpoints) beside /mcp, against a real meta-mcp over HTTP.

The model is the scripted OpenAI-compatible stub (`tests/openai_stub.py`) over real HTTP; SSE is read
with a real client library (httpx-sse). Covered: the seed's request bodies on every endpoint and the
response shapes field by field, the three modes, a tool call, a config interrupt answered through
/chat/resume and /sse/chat/resume, a secrets stop, streaming deltas in order, Last-Event-ID
reconnection, a disconnect that cancels the run and its in-flight tool call, a failing model (502)
and a hanging one (504), and error statuses (400, 404, 422).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from httpx_sse import aconnect_sse

from openai_stub import OpenAIStub, error, text, tool_calls
from support import make_client, meta_mcp_http, poll_until, upstream_entry
from test_agent_loop import KEY, _catalog, agent_env

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def stub() -> Any:
    server = OpenAIStub().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def meta(stub: OpenAIStub, tmp_path_factory: pytest.TempPathFactory) -> Any:
    catalog = _catalog(tmp_path_factory.mktemp("chat") / "catalog.yaml")
    servers = {"echo": upstream_entry("echo"), "hang": upstream_entry("hang")}
    env = agent_env(stub, META_MCP_CHAT_DISCONNECT_GRACE_S="0.5", META_MCP_STATE_URL="memory://")
    async with meta_mcp_http(servers, "--catalog", str(catalog), env=env) as url:
        yield str(url)


@pytest.fixture
async def api(meta: str) -> Any:
    async with httpx.AsyncClient(base_url=meta.removesuffix("/mcp"), timeout=30) as http:
        yield http


def sent_tools(stub: OpenAIStub, request: int = 0) -> set[str]:
    return {t["function"]["name"] for t in stub.requests[request]["body"].get("tools", [])}


async def test_health_servers_and_the_seeds_server_routes(api: httpx.AsyncClient) -> None:
    health = await api.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    ready = await api.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["state"] == "ok"

    servers = (await api.get("/mcp/servers", headers={"X-User-Id": "seed-user"})).json()
    assert set(servers) >= {"active_servers", "available_tools", "tool_count", "server_count", "server_tools_info"}
    assert servers["active_servers"] == [] and servers["user_id"] == "seed-user"  # a fresh workspace per user
    default = (await api.get("/mcp/servers")).json()
    assert default["active_servers"] == ["echo", "hang"] and "echo__echo" in default["available_tools"]
    assert default["tool_count"] == len(default["available_tools"]) and default["server_count"] == 2
    assert default["server_tools_info"]["echo"]["tools"] == ["echo__echo"]

    found = await api.post("/mcp/find", json={"query": "greeting"})
    body = found.json()
    assert found.status_code == 200 and body["status"] == "success" and body["query"] == "greeting"
    top = body["servers"][0]
    assert top["name"].startswith("greeter") and {"title", "description", "score", "runs", "secrets", "config"} <= set(top)

    user = {"X-User-Id": "seed-user"}
    assert (await api.post("/mcp/add", json={"name": "locked", "activate": True, "secrets": {"x": "y"}},
                           headers=user)).status_code == 400
    needs = await api.post("/mcp/add", json={"name": "locked", "activate": True}, headers=user)
    assert needs.status_code == 400 and needs.json()["error"]["type"] == "needs_secrets"
    assert needs.json()["error"]["secrets"][0]["env"] == "LOCKED_TOKEN_UNSET"
    assert (await api.post("/mcp/add", json={"name": "nope"}, headers=user)).status_code == 404
    added = await api.post("/mcp/add", json={"name": "greeter", "activate": True, "config": {"greeting": "hi"}},
                           headers=user)
    assert added.status_code == 200 and added.json()["status"] == "success", added.text
    assert "greeter__environment" in added.json()["tools"]
    assert (await api.get("/mcp/servers", headers=user)).json()["active_servers"] == ["greeter"]
    removed = await api.post("/mcp/remove", json={"name": "greeter"}, headers=user)
    assert removed.status_code == 200 and removed.json()["status"] == "success"
    assert (await api.post("/mcp/remove", json={"name": "greeter"}, headers=user)).status_code == 404
    assert (await api.post("/mcp/add", json={"name": "bad name!"})).status_code == 422


async def test_chat_with_a_tool_call_in_each_mode(api: httpx.AsyncClient, stub: OpenAIStub) -> None:
    stub.script(tool_calls(("echo__echo", {"text": "hi there"})), text("The echo said: hi there"))
    response = await api.post("/chat", json={"messages": [{"role": "user", "content": "Echo 'hi there'"}]})
    body = response.json()
    assert response.status_code == 200, body
    assert body["content"] == "The echo said: hi there" and body["finish_reason"] == "stop"
    assert "echo" in body["active_servers"] and "echo__echo" in body["available_tools"]
    assert {"find_servers", "add_server", "remove_server", "echo__echo"} <= sent_tools(stub)  # dynamic
    assert "run_code" not in sent_tools(stub) and "agent_chat" not in sent_tools(stub)

    stub.script(text("code"))
    await api.post("/chat", json={"messages": [{"role": "user", "content": "x"}], "mode": "code"})
    assert sent_tools(stub) == {"find_servers", "add_server", "run_code"}

    stub.script(text("plain"))
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "reply"},
               {"role": "user", "content": "now"}]
    await api.post("/chat", json={"messages": history, "mode": "default", "max_iterations": 3})
    assert "echo__echo" in sent_tools(stub) and not {"find_servers", "add_server"} & sent_tools(stub)
    sent = [(m["role"], m["content"]) for m in stub.requests[0]["body"]["messages"] if m["role"] != "system"]
    assert sent == [("user", "earlier"), ("assistant", "reply"), ("user", "now")]


async def test_config_interrupt_and_resume_and_errors(api: httpx.AsyncClient, stub: OpenAIStub) -> None:
    user = {"X-User-Id": "resumer"}
    stub.script(tool_calls(("add_server", {"name": "greeter"})))
    first = (await api.post("/chat", json={"messages": [{"role": "user", "content": "Set up the greeter"}]},
                            headers=user)).json()
    assert first["interrupt_type"] == "config_required" and first["server"] == "greeter", first
    assert first["required_configs"] == [{"key": "greeting", "type": "string", "description": "How to greet"}]
    assert first["interrupt_id"] and "chat/resume" in first["instructions"]
    assert set(first) >= {"active_servers", "available_tools"}

    wrong = await api.post("/chat/resume", json={"interrupt_id": first["interrupt_id"],
                                                 "provided_configs": {"greting": "hej"}}, headers=user)
    assert wrong.status_code == 400
    assert wrong.json()["error"]["missing"] == ["greeting"] and wrong.json()["error"]["unexpected"] == ["greting"]
    other = await api.post("/chat/resume", json={"interrupt_id": first["interrupt_id"],
                                                 "provided_configs": {"greeting": "hej"}})
    assert other.status_code == 404  # another workspace cannot resume it

    stub.script(tool_calls(("greeter__environment", {"names": ["GREETING"]})), text("Greeting is hej"))
    resumed = await api.post("/chat/resume", json={"interrupt_id": first["interrupt_id"],
                                                   "provided_configs": {"greeting": "hej"}}, headers=user)
    assert resumed.status_code == 200 and resumed.json()["content"] == "Greeting is hej", resumed.text
    assert "greeter" in resumed.json()["active_servers"]
    # the run resumed where it stopped: one user message, the add_server result, then the tool's
    messages = stub.requests[0]["body"]["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["Set up the greeter"]
    again = await api.post("/chat/resume", json={"interrupt_id": first["interrupt_id"],
                                                 "provided_configs": {"greeting": "x"}}, headers=user)
    assert again.status_code == 404
    assert (await api.post("/chat", json={"messages": []})).status_code == 422
    assert (await api.post("/chat", json={"messages": [{"role": "assistant", "content": "x"}]})).status_code == 400


async def test_initial_servers_with_the_seeds_misspelling(api: httpx.AsyncClient, stub: OpenAIStub) -> None:
    user = {"X-User-Id": "initial"}
    body = {"messages": [{"role": "user", "content": "greet"}], "inital_servers": ["greeter"]}
    first = (await api.post("/chat", json=body, headers=user)).json()
    assert first["interrupt_type"] == "config_required" and first["server"] == "greeter", first
    stub.script(text("ready"))
    resumed = await api.post("/chat/resume", json={"interrupt_id": first["interrupt_id"],
                                                   "provided_configs": {"greeting": "moin"}}, headers=user)
    assert resumed.status_code == 200 and resumed.json()["content"] == "ready", resumed.text
    assert "greeter__environment" in sent_tools(stub)


async def test_secrets_stop_is_terminal_and_names_the_variable(api: httpx.AsyncClient, stub: OpenAIStub) -> None:
    stub.script(tool_calls(("add_server", {"name": "locked"})), text("unreachable"))
    body = (await api.post("/chat", json={"messages": [{"role": "user", "content": "use locked"}]})).json()
    assert body["interrupt_type"] == "secrets_required" and body["server"] == "locked", body
    assert body["required_secrets"] == [{"name": "locked.token", "env": "LOCKED_TOKEN_UNSET",
                                         "description": "The locked token"}]
    assert "never accepted" in body["instructions"] and len(stub.requests) == 1


async def _events(response: Any) -> list[Any]:
    return [event async for event in response.aiter_sse()]


async def test_sse_streams_deltas_in_order_with_ids_and_reconnects(api: httpx.AsyncClient, stub: OpenAIStub) -> None:
    stub.script(tool_calls(("echo__echo", {"text": "x"})), text("Hello streaming world"))
    async with aconnect_sse(api, "POST", "/sse/chat",
                            json={"messages": [{"role": "user", "content": "stream"}]}) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = await _events(source)
    kinds = [e.event for e in events]
    assert kinds[-1] == "done" and "iteration" in kinds and "tool_call" in kinds and "tool_result" in kinds
    assert all(e.id and e.id.count(":") == 1 for e in events)
    assert all(json.loads(e.data)["type"] == e.event for e in events)
    deltas = "".join(json.loads(e.data)["delta"] for e in events if e.event == "content")
    assert deltas == "Hello streaming world"
    assert kinds.index("tool_call") < kinds.index("tool_result") < kinds.index("done")
    assert json.loads(events[-1].data)["content"] == "Hello streaming world"
    # Reconnection: Last-Event-ID replays what came after it.
    middle = events[len(events) // 2]
    async with aconnect_sse(api, "POST", "/sse/chat", json={"messages": [{"role": "user", "content": "x"}]},
                            headers={"Last-Event-ID": middle.id}) as source:
        replayed = await _events(source)
    assert [e.id for e in replayed] == [e.id for e in events[len(events) // 2 + 1:]]


async def test_sse_resume_of_a_config_interrupt(api: httpx.AsyncClient, stub: OpenAIStub) -> None:
    user = {"X-User-Id": "sse-resumer"}
    stub.script(tool_calls(("add_server", {"name": "greeter"})))
    async with aconnect_sse(api, "POST", "/sse/chat", headers=user,
                            json={"messages": [{"role": "user", "content": "Set up the greeter"}]}) as source:
        events = await _events(source)
    interrupt = json.loads(events[-2].data)
    assert events[-2].event == "config_required" and interrupt["server"] == "greeter", interrupt
    assert events[-1].event == "done" and json.loads(events[-1].data)["interrupt_id"] == interrupt["interrupt_id"]
    stub.script(text("all set"))
    async with aconnect_sse(api, "POST", "/sse/chat/resume", headers=user,
                            json={"interrupt_id": interrupt["interrupt_id"],
                                  "provided_configs": {"greeting": "ciao"}}) as source:
        resumed = await _events(source)
    assert resumed[-1].event == "done" and json.loads(resumed[-1].data)["content"] == "all set"
    stub.script(tool_calls(("add_server", {"name": "locked"})))
    async with aconnect_sse(api, "POST", "/sse/chat", headers=user,
                            json={"messages": [{"role": "user", "content": "locked"}]}) as source:
        stop = await _events(source)
    assert [e.event for e in stop[-2:]] == ["secrets_required", "done"]


async def test_a_disconnect_cancels_the_run_and_its_tool_call(api: httpx.AsyncClient, stub: OpenAIStub,
                                                               meta: str) -> None:
    stub.script(tool_calls(("hang__hang", {})), text("never"))
    async with aconnect_sse(api, "POST", "/sse/chat",
                            json={"messages": [{"role": "user", "content": "hang"}]}) as source:
        async for event in source.aiter_sse():
            if event.event == "tool_call":
                break  # the client goes away mid-call

    async with make_client(meta) as client:
        async def cancelled() -> bool:
            result = await client.call_tool("hang__cancelled", {})
            return result.structured_content["count"] >= 1

        await poll_until(cancelled, timeout=15, what="the hang call to be cancelled upstream")
    assert len(stub.requests) == 1  # the model was never asked again


async def test_model_failures_are_502_and_never_leak_the_key(api: httpx.AsyncClient, stub: OpenAIStub) -> None:
    stub.script(error(401, f"bad key {KEY}"))
    response = await api.post("/chat", json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 502 and KEY not in response.text
    stub.script(error(401, f"bad key {KEY}"))
    async with aconnect_sse(api, "POST", "/sse/chat", json={"messages": [{"role": "user", "content": "hi"}]}) as s:
        events = await _events(s)
    assert events[-1].event == "error" and json.loads(events[-1].data)["status"] == 502
    assert KEY not in json.dumps([e.data for e in events])


async def test_a_hanging_model_is_504(stub: OpenAIStub) -> None:
    env = agent_env(stub, META_MCP_AGENT_REQUEST_TIMEOUT_S="0.5", META_MCP_AGENT_RETRIES="0",
                    META_MCP_STATE_URL="memory://")
    async with meta_mcp_http({}, env=env) as url:
        stub.script(text("too late", delay=3))
        async with httpx.AsyncClient(base_url=str(url).removesuffix("/mcp"), timeout=30) as http:
            response = await http.post("/chat", json={"messages": [{"role": "user", "content": "hi"}]})
        assert response.status_code == 504, response.text
        assert response.json()["error"]["type"] == "model_timeout"
    await anyio.sleep(0)
