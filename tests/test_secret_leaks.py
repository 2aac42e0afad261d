"""No secret leaves meta-mcp: a canary from each source, pushed through every path, appears in none.

A real meta-mcp (HTTP, `--log-level DEBUG`, content tracing on, spans to a local OTLP receiver that
also stands in for Langfuse, the scripted model) reads three canaries from its three sources: the
environment (`LEAK_ENV_TOKEN`, with a quote and a backslash in it), its `.env` file
(`LEAK_DOTENV_TOKEN`) and the stand-in Infisical (`leaky.infisical`, Docker's dotted name). A catalog
server `leaky` (the rich upstream) needs all three and gets them. Then each canary is pushed through
every path — the upstream hands them back in tool results and in an error; the caller sends them in
arguments and in code; the model answers with them — and must not appear, in any encoding, in: tool
results and errors, `list_servers` / `find_servers`, `call_tool`, `run_code` output, `agent_chat`, the
chat API's REST and SSE bodies, the spans (OpenTelemetry and Langfuse), or meta-mcp's DEBUG log.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from httpx_sse import aconnect_sse

from fake_infisical import FakeInfisical
from openai_stub import OpenAIStub, text, tool_calls
from otlp_receiver import OtlpReceiver, otlp  # noqa: F401 - a fixture
from support import REPO, _http_process, free_port, make_client, serve_argv
from test_agent_loop import agent_env, stub  # noqa: F401 - a fixture

pytestmark = pytest.mark.anyio

ENV_CANARY = f'canary-env"\\{secrets.token_hex(8)}'
DOTENV_CANARY = f"canary+dotenv/{secrets.token_hex(8)}"
INFISICAL_CANARY = f"canary infisical {secrets.token_hex(8)}"
CANARIES = (ENV_CANARY, DOTENV_CANARY, INFISICAL_CANARY)
NAMES = ["LEAK_ENV_TOKEN", "LEAK_DOTENV_TOKEN", "LEAK_INFISICAL_TOKEN"]


def forms(value: str) -> set[str]:
    """Every way the canary could be written out: raw, in a JSON string, percent-encoded, in a repr."""
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], quote(value, safe=""),
            repr(value)[1:-1]}


def assert_clean(where: str, blob: Any) -> None:
    text_ = blob if isinstance(blob, str) else blob.decode("utf-8", "replace") if isinstance(blob, bytes) else \
        json.dumps(blob, default=str) if not hasattr(blob, "model_dump_json") else blob.model_dump_json()
    for canary in CANARIES:
        for form in forms(canary):
            assert form not in text_, f"{where}: a canary ({form!r}) leaked:\n{text_[:2000]}"


@pytest.fixture(scope="module")
def infisical() -> Any:
    with FakeInfisical({"leaky.infisical": INFISICAL_CANARY}) as fake:
        yield fake


@pytest.fixture(scope="module")
async def meta(otlp: OtlpReceiver, stub: OpenAIStub, infisical: FakeInfisical,
               tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("leaks")
    (home / ".env").write_text(f"LEAK_DOTENV_TOKEN={DOTENV_CANARY}\n")
    rich = {"command": sys.executable, "args": [str(REPO / "tests/upstreams/rich.py")]}
    (home / "catalog.yaml").write_text(yaml.safe_dump({"registry": {"leaky": {
        "title": "Leaky (test)", "description": "A test server that needs a secret from every source.",
        "type": "server", "run": rich,
        "secrets": [{"name": "leaky.env", "env": "LEAK_ENV_TOKEN"}, {"name": "leaky.dotenv", "env": "LEAK_DOTENV_TOKEN"},
                    {"name": "leaky.infisical", "env": "LEAK_INFISICAL_TOKEN"}]}}}))
    env = {**agent_env(stub), **infisical.env(), "LEAK_ENV_TOKEN": ENV_CANARY,
           "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "OTEL_BSP_SCHEDULE_DELAY": "100",
           "LANGFUSE_PUBLIC_KEY": "pk-lf-leaks", "LANGFUSE_SECRET_KEY": "sk-lf-leaks-SECRET",
           "LANGFUSE_BASE_URL": f"{otlp.url}/langfuse", "META_MCP_TRACE_CONTENT": "1"}
    port = free_port()
    argv = serve_argv(None, "--transport", "http", "--host", "127.0.0.1", "--port", str(port),
                      "--catalog", str(home / "catalog.yaml"), log_level="DEBUG")
    async with _http_process(argv, port, f"http://127.0.0.1:{port}/mcp", "meta-mcp leaks", env=env, cwd=home) as url:
        yield url


def data(result: Any) -> Any:
    return result.structured_content


async def test_no_canary_anywhere(meta: Any, stub: OpenAIStub, otlp: OtlpReceiver) -> None:
    async with make_client(str(meta), "auto") as client:
        found = await client.call_tool("find_servers", {"query": "leaky test server secret", "limit": 3})
        [leaky] = [s for s in data(found)["servers"] if s["name"] == "leaky"]
        assert [(s["env"], s["source"]) for s in leaky["secrets"]] == [
            ("LEAK_ENV_TOKEN", "environment"), ("LEAK_DOTENV_TOKEN", "dotenv"), ("LEAK_INFISICAL_TOKEN", "infisical")]
        added = await client.call_tool("add_server", {"name": "leaky"})
        assert data(added)["outcome"] == "added", added
        listed = await client.call_tool("list_servers", {})

        # Tool results: the upstream holds the secrets and hands them back.
        env = await client.call_tool("leaky__environment", {"names": NAMES})
        assert data(env)["env"] == dict.fromkeys(NAMES, "***")  # they arrived, and came back masked
        via_call_tool = await client.call_tool("call_tool", {"name": "leaky__environment",
                                                             "arguments": {"names": NAMES}})
        # Errors: an upstream's error text carrying them.
        failed = await client.call_tool("leaky__fail", {"message": "failed with " + " / ".join(CANARIES)})
        assert failed.is_error and "failed with *** / *** / ***" in failed.content[0].text
        # run_code: bridged results, console output, and values the code itself carries.
        code = (f"const e = await tools.leaky.environment({{names: {json.dumps(NAMES)}}});\n"
                f"console.log(JSON.stringify(e), {json.dumps(ENV_CANARY)});\n"
                f"export default {{e, carried: {json.dumps(list(CANARIES))}}}")
        ran = await client.call_tool("run_code", {"code": code})
        assert not ran.is_error, ran
        # agent_chat: the model sees the masked tool result, and what it answers is masked too.
        stub.reset()
        stub.script(tool_calls(("leaky__environment", {"names": NAMES})), text("The tokens: " + ", ".join(CANARIES)))
        chat = await client.call_tool("agent_chat", {"message": "What are the tokens?"})
        assert "The tokens: ***, ***, ***" in chat.content[0].text
        tool_message = [m for m in stub.requests[1]["body"]["messages"] if m["role"] == "tool"][0]
        assert_clean("what the model was shown", tool_message)
        # Prompts and resources: the upstream hands back what it was given (a prompt's argument, a URI).
        prompt = await client.get_prompt("leaky__greet", {"name": " / ".join(CANARIES)})
        assert "Hey *** / *** / ***!" in str(prompt.model_dump())
        resources = [str(t.uri_template) for t in (await client.list_resource_templates()).resource_templates]
        read = await client.read_resource(resources[0].replace("{id}", quote(DOTENV_CANARY, safe="")))
        assert '"id": "***"' in read.contents[0].text, read
        for where, result in (("find_servers", found), ("add_server", added), ("list_servers", listed),
                              ("a tool result", env), ("call_tool", via_call_tool), ("a tool error", failed),
                              ("run_code", ran), ("agent_chat", chat), ("a prompt", prompt),
                              ("a resource", read)):
            assert_clean(where, result)

    # The chat API: REST and SSE bodies.
    base = str(meta).removesuffix("/mcp")
    async with httpx.AsyncClient(base_url=base, timeout=60) as api:
        stub.reset()
        stub.script(tool_calls(("leaky__environment", {"names": NAMES})), text("Tokens: " + " ".join(CANARIES)))
        rest = await api.post("/chat", json={"messages": [{"role": "user", "content": "tokens?"}], "mode": "default"})
        assert rest.status_code == 200 and "Tokens: *** *** ***" in rest.json()["content"], rest.text
        stub.reset()
        stub.script(tool_calls(("leaky__environment", {"names": NAMES})), text("Tokens: " + " ".join(CANARIES)))
        events = []
        async with aconnect_sse(api, "POST", "/sse/chat",
                                json={"messages": [{"role": "user", "content": "tokens?"}], "mode": "default"}) as sse:
            async for event in sse.aiter_sse():
                events.append(event.data)
        assert any('"type": "tool_result"' in e or '"type":"tool_result"' in e for e in events), events
        assert events and json.loads(events[-1])["type"] == "done"
        servers = await api.get("/mcp/servers")
        find = await api.post("/mcp/find", json={"query": "leaky"})
        for where, body in (("REST /chat", rest.content), ("SSE /sse/chat", "\n".join(events)),
                            ("REST /mcp/servers", servers.content), ("REST /mcp/find", find.content)):
            assert_clean(where, body)

    # Spans, with content tracing on: present (arguments, results, messages), and clean.
    spans = otlp.wait_for(lambda s: any("gen_ai.tool.call.result" in x.attributes and x.name == "execute_tool run_code"
                                        for x in s)
                          and any("gen_ai.input.messages" in x.attributes for x in s))
    recorded = [s for s in spans if "gen_ai.tool.call.result" in s.attributes]
    assert any("***" in s.attributes["gen_ai.tool.call.result"] for s in recorded)
    observations = otlp.wait_for(lambda s: any(x.attributes.get("langfuse.observation.type") == "tool" for x in s),
                                 path="/langfuse/api/public/otel/v1/traces")
    assert any("langfuse.observation.output" in s.attributes for s in observations)
    for span in otlp.spans():
        assert_clean(f"span {span.name!r} ({span.path})", span.text())

    # meta-mcp's own log, at DEBUG.
    assert_clean("meta-mcp's DEBUG log", meta.stderr_text())
    assert "DEBUG" in meta.stderr_text()


# -- the redaction pieces on their own ---------------------------------------------------------------

async def test_interceptor_scrubs_results_and_protocol_errors() -> None:
    from mcp import MCPError

    from meta_mcp.redaction import Redactor, redacting_interceptor

    redactor = Redactor([ENV_CANARY])
    intercept = redacting_interceptor(redactor)
    untouched = {"content": [{"type": "text", "text": "nothing secret"}], "structuredContent": {"n": [1, 2]}}

    async def clean() -> dict[str, Any]:
        return untouched

    assert await intercept(None, clean) is untouched  # no copy when nothing changes

    async def leaky() -> dict[str, Any]:
        return {"content": [{"type": "text", "text": f"value {ENV_CANARY}"}], "structuredContent": {"v": [ENV_CANARY]}}

    assert await intercept(None, leaky) == {"content": [{"type": "text", "text": "value ***"}],
                                            "structuredContent": {"v": ["***"]}}

    async def refusing() -> dict[str, Any]:
        raise MCPError(-32602, f"bad value {ENV_CANARY}", {"echo": ENV_CANARY})

    with pytest.raises(MCPError) as raised:
        await intercept(None, refusing)
    assert raised.value.error.code == -32602 and raised.value.message == "bad value ***"
    assert raised.value.data == {"echo": "***"}


async def test_asgi_bodies_are_scrubbed_and_lengths_fixed() -> None:
    from meta_mcp.redaction import RedactingASGI, Redactor

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/json":
            body = json.dumps({"secret": DOTENV_CANARY}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
            for chunk in (b"data: hello\n\n", f"data: {json.dumps(DOTENV_CANARY)}\n\n".encode()):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=RedactingASGI(app, Redactor([DOTENV_CANARY])))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        plain = await http.get("/json")
        stream = await http.get("/sse")
    assert plain.json() == {"secret": "***"} and plain.headers["content-length"] == str(len(plain.content))
    assert stream.text == 'data: hello\n\ndata: "***"\n\n'


def test_span_processor_redacts_what_exporters_get() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import StatusCode

    from meta_mcp.redaction import Redactor
    from meta_mcp.services.telemetry.export import RedactingSpanProcessor

    redactor = Redactor()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    processor = RedactingSpanProcessor(redactor, [SimpleSpanProcessor(exporter)])
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")

    def emit() -> Any:
        with tracer.start_as_current_span(f"call {INFISICAL_CANARY}", attributes={"plain": "echo__echo",
                                          "secret": f"x {INFISICAL_CANARY}", "many": ("a", INFISICAL_CANARY)}) as span:
            span.add_event("failed", {"message": f"boom {INFISICAL_CANARY}"})
            span.set_status(StatusCode.ERROR, f"bad {INFISICAL_CANARY} and Bearer abcdef123456")
        return exporter.get_finished_spans()[-1]

    before = emit()  # not a known secret yet: only the bearer token is masked
    assert before.attributes["secret"] == f"x {INFISICAL_CANARY}" and before.status.description.endswith("Bearer ***")
    redactor.add(INFISICAL_CANARY)
    after = emit()  # learned since: masked everywhere, though the same texts were seen (and cached) before
    assert after.name == "call ***" and dict(after.attributes) == {"plain": "echo__echo", "secret": "x ***",
                                                                   "many": ("a", "***")}
    assert after.events[0].attributes["message"] == "boom ***" and after.status.description.startswith("bad ***")
    with tracer.start_as_current_span("clean", attributes={"plain": "echo__echo"}):
        pass
    clean = exporter.get_finished_spans()[-1]
    assert processor.redacted(clean) is clean and processor.redacted(after) is after  # nothing to do: no copy
    provider.shutdown()
