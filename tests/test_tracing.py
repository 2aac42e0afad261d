"""Tracing and metrics of a real meta-mcp, received by a local OTLP/HTTP receiver (`tests/otlp_receiver.py`).

One meta-mcp process (HTTP) exports spans and metrics to the receiver (`OTEL_EXPORTER_OTLP_ENDPOINT`)
and the agent's observations to the same receiver standing in for Langfuse (`LANGFUSE_BASE_URL`, so
they arrive at `/langfuse/api/public/otel/v1/traces`); its model is the scripted OpenAI stub. Asserted:
the span tree of a proxied call (continuing the caller's trace from the HTTP header or from `_meta`,
in both protocol eras), that `traceparent` reaches an HTTP upstream, a tool error, a `run_code` run with
two bridged calls, an `agent_chat` with one tool call (OpenTelemetry and Langfuse), a chat API turn,
add/remove with the upstream start, the metrics (OTLP and Prometheus `/metrics`) — and that with
nothing configured none of it is installed.
"""

from __future__ import annotations

import base64
import secrets
import sys
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.streamable_http import streamable_http_client

from openai_stub import OpenAIStub, text, tool_calls
from otlp_receiver import OtlpReceiver, Span, children, one, otlp  # noqa: F401 - a fixture
from support import MODES, make_client, meta_mcp_http, upstream_entry, upstream_http
from test_agent_loop import agent_env, stub  # noqa: F401 - a fixture

pytestmark = pytest.mark.anyio

LANGFUSE_PATH = "/langfuse/api/public/otel/v1/traces"
COLLECTOR_PATH = "/v1/traces"
PUBLIC_KEY = "pk-lf-test-public"
SECRET_KEY = "sk-lf-test-SECRET-4b7a"


def tracing_env(otlp: OtlpReceiver, stub: OpenAIStub, **extra: str) -> dict[str, str]:
    return {**agent_env(stub), "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "300", "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY, "LANGFUSE_SECRET_KEY": SECRET_KEY,
            "LANGFUSE_BASE_URL": f"{otlp.url}/langfuse", "META_MCP_METRICS": "1", **extra}


@pytest.fixture(scope="module")
async def rich_url() -> Any:
    async with upstream_http("rich") as url:
        yield url


@pytest.fixture(scope="module")
async def meta(otlp: OtlpReceiver, stub: OpenAIStub, rich_url: str) -> Any:
    servers = {"rich": {"url": str(rich_url)}, "echo": upstream_entry("echo")}
    async with meta_mcp_http(servers, env=tracing_env(otlp, stub)) as url:
        yield url


def traceparent() -> tuple[str, str, str]:
    """A fresh W3C traceparent of a caller: (header value, trace id, span id)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def header_client(url: str, mode: str, headers: dict[str, str]) -> Any:
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=None))
    return make_client(streamable_http_client(url, http_client=http), mode)


def in_trace(otlp: OtlpReceiver, trace_id: str, *names: str, path: str = COLLECTOR_PATH) -> list[Span]:
    """The spans of trace `trace_id` once every one of `names` has arrived."""
    return otlp.wait_for(lambda spans: all(any(s.name == n and s.trace_id == trace_id for s in spans) for n in names),
                         path=path)


def only(spans: list[Span], trace_id: str) -> list[Span]:
    return [s for s in spans if s.trace_id == trace_id]


@pytest.mark.parametrize("mode", MODES)
async def test_proxied_call_continues_the_callers_trace_to_the_http_upstream(meta: str, otlp: OtlpReceiver,
                                                                              mode: str) -> None:
    header, trace_id, caller_span = traceparent()
    async with header_client(meta, mode, {"traceparent": header}) as client:
        result = await client.call_tool("rich__request_headers", {"names": ["traceparent"]})
    seen = result.structured_content["headers"]["traceparent"]
    spans = only(in_trace(otlp, trace_id, "tools/call rich__request_headers", "execute_tool rich__request_headers",
                          "MCP send tools/call request_headers"), trace_id)
    server = one(spans, "tools/call rich__request_headers")
    routed = one(spans, "execute_tool rich__request_headers")
    sent = one(spans, "MCP send tools/call request_headers")
    assert (server.kind, server.parent_id, server.scope) == ("SERVER", caller_span, "mcp-python-sdk")
    assert (routed.kind, routed.parent_id, routed.scope) == ("INTERNAL", server.span_id, "meta_mcp")
    assert (sent.kind, sent.parent_id) == ("CLIENT", routed.span_id)
    assert routed.attributes == {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "rich__request_headers",
        "mcp.method.name": "tools/call", "meta_mcp.server": "rich", "meta_mcp.tool": "request_headers",
        "meta_mcp.workspace": "default", "meta_mcp.origin": "http"}
    assert not routed.error and routed.end_ns >= routed.start_ns
    # The upstream got the trace as the HTTP header, with the client span of this very call as parent.
    assert seen == f"00-{trace_id}-{sent.span_id}-01"
    assert server.resource["service.name"] == "meta-mcp"


async def test_trace_context_from_meta(meta: str, otlp: OtlpReceiver) -> None:
    header, trace_id, caller_span = traceparent()
    async with make_client(str(meta), "legacy") as client:
        await client.call_tool("echo__echo", {"text": "traced"}, meta={"traceparent": header})
    spans = only(in_trace(otlp, trace_id, "tools/call echo__echo", "execute_tool echo__echo"), trace_id)
    server = one(spans, "tools/call echo__echo")
    assert server.parent_id == caller_span
    assert one(spans, "execute_tool echo__echo").parent_id == server.span_id
    # To a stdio upstream the context travels in _meta: the SDK's client span is there all the same.
    assert one(spans, "MCP send tools/call echo").parent_id == one(spans, "execute_tool echo__echo").span_id


async def test_tool_error_span(meta: str, otlp: OtlpReceiver) -> None:
    header, trace_id, _ = traceparent()
    async with make_client(str(meta), "auto") as client:
        result = await client.call_tool("rich__fail", {"message": "it broke"}, meta={"traceparent": header})
    assert result.is_error
    routed = one(only(in_trace(otlp, trace_id, "execute_tool rich__fail"), trace_id), "execute_tool rich__fail")
    assert routed.error and routed.attributes["error.type"] == "tool_error"
    assert "it broke" in routed.status_message


async def test_run_code_with_two_bridged_calls(meta: str, otlp: OtlpReceiver) -> None:
    header, trace_id, _ = traceparent()
    code = 'const a = await tools.echo.echo({text: "one"}); const b = await tools.rich.echo({text: "two"});\n' \
           "export default [a, b]"
    async with make_client(str(meta), "auto") as client:
        result = await client.call_tool("run_code", {"code": code}, meta={"traceparent": header})
    assert not result.is_error, result
    spans = only(in_trace(otlp, trace_id, "run_code", "execute_tool echo__echo", "execute_tool rich__echo",
                          "MCP send tools/call echo"), trace_id)
    outer = one(spans, "execute_tool run_code")
    run = one(spans, "run_code")
    assert run.parent_id == outer.span_id
    assert run.attributes["meta_mcp.sandbox.tool_calls"] == 2 and run.attributes["meta_mcp.outcome"] == "ok"
    bridged = sorted(children(spans, run), key=lambda s: s.name)
    assert [s.name for s in bridged] == ["execute_tool echo__echo", "execute_tool rich__echo"]
    assert all(s.attributes["meta_mcp.origin"] == "sandbox" for s in bridged)
    for call in bridged:
        [sent] = children(spans, call)
        assert sent.name.startswith("MCP send tools/call") and sent.kind == "CLIENT"


def _agent_spans(otlp: OtlpReceiver, trace_id: str) -> list[Span]:
    return only(otlp.wait_for(lambda spans: sum(s.trace_id == trace_id and s.name == "chat stub-model"
                                                for s in spans) == 2
                              and any(s.trace_id == trace_id and s.name == "invoke_agent agent_chat" for s in spans),
                              path=COLLECTOR_PATH), trace_id)


async def test_agent_chat_with_one_tool_call(meta: str, otlp: OtlpReceiver, stub: OpenAIStub) -> None:
    stub.reset()
    stub.script(tool_calls(("echo__echo", {"text": "hi there"}), usage=(20, 7)), text("The echo said: hi there"))
    header, trace_id, _ = traceparent()
    async with make_client(str(meta), "auto") as client:
        result = await client.call_tool("agent_chat", {"message": "Echo 'hi there'"}, meta={"traceparent": header})
    cid = result.structured_content["conversation_id"]
    spans = _agent_spans(otlp, trace_id)
    outer = one(spans, "execute_tool agent_chat")
    agent = one(spans, "invoke_agent agent_chat")
    assert agent.parent_id == outer.span_id
    first, second = sorted((s for s in spans if s.name == "chat stub-model"), key=lambda s: s.start_ns)
    tool = one(spans, "execute_tool echo__echo")
    assert {first.parent_id, second.parent_id, tool.parent_id} == {agent.span_id}
    assert first.end_ns <= tool.start_ns and tool.end_ns <= second.start_ns
    assert first.kind == "CLIENT" and first.attributes["gen_ai.operation.name"] == "chat"
    assert first.attributes["gen_ai.request.model"] == "stub-model"
    assert first.attributes["gen_ai.provider.name"] == "openai-compatible"
    assert (first.attributes["gen_ai.usage.input_tokens"], first.attributes["gen_ai.usage.output_tokens"]) == (20, 7)
    assert first.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert tool.attributes["meta_mcp.origin"] == "agent"
    assert agent.attributes["gen_ai.conversation.id"] == cid and agent.attributes["session.id"] == cid
    assert "gen_ai.input.messages" not in first.attributes  # content is off by default
    assert "gen_ai.tool.call.arguments" not in tool.attributes

    # Langfuse got the same run: the agent, its two generations, its tool call — and nothing else.
    observed = only(otlp.wait_for(lambda s: len(only(s, trace_id)) >= 4, path=LANGFUSE_PATH), trace_id)
    by_type = sorted((s.attributes["langfuse.observation.type"], s.name) for s in observed)
    assert by_type == [("agent", "invoke_agent agent_chat"), ("generation", "chat stub-model"),
                       ("generation", "chat stub-model"), ("tool", "execute_tool echo__echo")]
    assert {s.span_id for s in observed} <= {s.span_id for s in spans}
    for s in observed:
        assert s.attributes["session.id"] == cid and s.attributes["user.id"] == "default"
    root = one(observed, "invoke_agent agent_chat")
    assert root.attributes["langfuse.trace.name"] == "agent_chat"
    usage = [s.attributes["langfuse.observation.usage_details"] for s in observed if s.name == "chat stub-model"]
    assert '{"input": 20, "output": 7, "total": 27}' in usage
    auth = next(h for p, h in otlp.requests if p == LANGFUSE_PATH)["authorization"]
    assert auth == "Basic " + base64.b64encode(f"{PUBLIC_KEY}:{SECRET_KEY}".encode()).decode()


async def test_chat_api_turn_is_one_trace(meta: str, otlp: OtlpReceiver, stub: OpenAIStub) -> None:
    stub.reset()
    stub.script(tool_calls(("find_servers", {"query": "time"})), text("done"))
    async with httpx.AsyncClient(base_url=str(meta).removesuffix("/mcp"), timeout=30) as api:
        answer = (await api.post("/chat", json={"messages": [{"role": "user", "content": "Find a clock"}]},
                                 headers={"X-User-Id": "alice"})).json()
    cid = answer["conversation_id"]
    observed = otlp.wait_for(lambda spans: sum(s.attributes.get("session.id") == cid for s in spans) >= 4,
                             path=LANGFUSE_PATH)
    mine = [s for s in observed if s.attributes.get("session.id") == cid]
    assert sorted(s.attributes["langfuse.observation.type"] for s in mine) == ["agent", "generation", "generation",
                                                                               "tool"]
    [trace_id] = {s.trace_id for s in mine}
    root = one(mine, "invoke_agent agent_chat")
    assert root.attributes["user.id"] == "alice" and root.attributes["langfuse.internal.is_app_root"] is True
    # In OpenTelemetry the run sits in the request's trace (FastAPI's own server span is its root).
    request = one(only(in_trace(otlp, trace_id, "POST /chat"), trace_id), "POST /chat")
    assert request.parent_id is None and request.attributes["http.response.status_code"] == 200


async def test_add_and_remove_with_the_upstream_start(meta: str, otlp: OtlpReceiver) -> None:
    header, trace_id, _ = traceparent()
    spec = {"command": sys.executable, "args": upstream_entry("echo")["args"]}
    async with make_client(str(meta), "auto") as client:
        added = await client.call_tool("add_server", {"name": "echo2", "spec": spec}, meta={"traceparent": header})
        assert not added.is_error, added
        await client.call_tool("remove_server", {"name": "echo2"}, meta={"traceparent": header})
    spans = only(in_trace(otlp, trace_id, "add_server echo2", "connect echo2", "remove_server echo2"), trace_id)
    add = one(spans, "add_server echo2")
    assert add.parent_id == one(spans, "execute_tool add_server").span_id
    assert add.attributes["meta_mcp.outcome"] == "Added" and add.attributes["meta_mcp.workspace"] == "default"
    connect = one(spans, "connect echo2")
    assert connect.parent_id == add.span_id and connect.attributes["meta_mcp.transport"] == "stdio"
    handshake = {s.name for s in children(spans, connect)}
    assert "MCP send tools/list" in handshake, handshake
    assert one(spans, "remove_server echo2").attributes["meta_mcp.outcome"] == "Removed"


async def test_metrics_per_server_and_tool(meta: str, otlp: OtlpReceiver) -> None:
    async with make_client(str(meta), "auto") as client:
        for _ in range(3):
            await client.call_tool("echo__echo", {"text": "m"})
        await client.call_tool("rich__fail", {"message": "m"})
    async with httpx.AsyncClient(base_url=str(meta).removesuffix("/mcp"), timeout=30) as http:
        page = (await http.get("/metrics")).text
    calls = [line for line in page.splitlines() if line.startswith("meta_mcp_tool_calls_total{")]
    assert any('meta_mcp_server="echo"' in line and 'meta_mcp_tool="echo"' in line for line in calls), calls
    errors = [line for line in page.splitlines() if line.startswith("meta_mcp_tool_errors_total{")]
    assert any('meta_mcp_server="rich"' in line and 'error_type="tool_error"' in line for line in errors), errors
    assert "mcp_server_operation_duration_seconds_bucket{" in page
    points = otlp.wait_for(lambda _: any(a.get("meta_mcp.server") == "echo" and (p.as_int or p.as_double) >= 3
                                         for a, p in otlp.metric_points("meta_mcp.tool.calls")))
    assert points is not None


async def test_nothing_installed_when_tracing_is_off(rich_url: str) -> None:
    from meta_mcp.redaction import Redactor
    from meta_mcp.services.telemetry import Telemetry, enabled, server_middleware
    from meta_mcp.settings import Settings

    telemetry = Telemetry.from_settings(Settings(_env_file=None), Redactor())  # type: ignore[call-arg]
    assert not telemetry.tracing and not telemetry.metering
    assert telemetry.interceptors() == [] and server_middleware() == [] and not enabled()
    async with meta_mcp_http({"rich": {"url": str(rich_url)}}) as url:
        async with make_client(str(url), "auto") as client:
            seen = await client.call_tool("rich__request_headers", {"names": ["traceparent"]})
        async with httpx.AsyncClient(base_url=str(url).removesuffix("/mcp"), timeout=30) as http:
            assert (await http.get("/metrics")).status_code == 404
    assert seen.structured_content["headers"] == {"traceparent": None}
