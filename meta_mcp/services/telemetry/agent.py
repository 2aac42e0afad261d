"""The agent loop's hooks: one trace per `agent_chat` run (or chat API turn), its model generations and
its tool calls as children — for OpenTelemetry and, as observations, for Langfuse.

`agent_run(workspace, …)` opens the run's span `invoke_agent agent_chat` (Langfuse type `agent`, trace
name `agent_chat`, `user.id` the workspace — the chat API's `X-User-Id` selects it — and, once the loop
knows it, `session.id` the conversation id) and makes it current, with a `RunScope` in the context:
every tool call made inside (the call interceptor, `calls.CallTelemetry`) becomes a Langfuse `tool`
observation of the same trace and session. `generation(…)` wraps one model request: span `chat
<model>` (GenAI conventions: provider, model, token usage, finish reasons; Langfuse type `generation`
with model and usage details), whose duration is the request's latency. Messages and answers are
recorded only with `META_MCP_TRACE_CONTENT=1`.

With tracing off both yield inert handles and do nothing else.

Example:
    with agent_run(host.workspace, record_content=False) as run:
        run.conversation(cid, "openai", "gpt-5-mini")
        with generation("openai", "gpt-5-mini", messages, stream=True, record_content=False) as gen:
            reply = await request()
            gen.done(reply.prompt_tokens, reply.completion_tokens, reply.finish_reason, reply.message())
        run.finished(result)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind

from meta_mcp.services.telemetry import semconv as sc
from meta_mcp.services.telemetry.spans import content, enabled, tracer

_RUN = context.create_key("meta_mcp.agent_run")


@dataclass
class RunScope:
    """The agent run in progress, as every span inside it needs it."""

    workspace: str
    session_id: str | None = None

    def observation(self, kind: str) -> dict[str, Any]:
        """Attributes that make a span a Langfuse observation of this run's trace."""
        attributes: dict[str, Any] = {sc.LANGFUSE_TYPE: kind, sc.USER_ID: self.workspace}
        if self.session_id is not None:
            attributes[sc.SESSION_ID] = self.session_id
        return attributes


def current_run() -> RunScope | None:
    """The agent run the current code runs in, if any."""
    value = context.get_value(_RUN)
    return value if isinstance(value, RunScope) else None


class RunTrace:
    """The loop's handle on its run's span (inert when tracing is off)."""

    def __init__(self, span: trace.Span, scope: RunScope | None, record_content: bool) -> None:
        self.span = span
        self.scope = scope
        self.record_content = record_content

    def conversation(self, conversation_id: str, provider: str | None, model: str | None) -> None:
        if self.scope is None:
            return
        self.scope.session_id = conversation_id
        self.span.set_attributes({sc.SESSION_ID: conversation_id, sc.GEN_AI_CONVERSATION_ID: conversation_id,
                                  sc.GEN_AI_PROVIDER_NAME: provider or "", sc.GEN_AI_REQUEST_MODEL: model or ""})

    def finished(self, result: dict[str, Any]) -> None:
        if self.scope is None:
            return
        data = result.get("structuredContent") or {}
        status = str(data.get("status") or "")
        self.span.set_attribute(sc.OUTCOME, status)
        if result.get("isError"):
            self.span.set_attribute(sc.ERROR_TYPE, data.get("error_kind") or status or "error")
            self.span.set_status(trace.StatusCode.ERROR, str(data.get("error") or ""))
            self.span.set_attribute(sc.LANGFUSE_LEVEL, "ERROR")
        if self.record_content:
            self.span.set_attribute(sc.LANGFUSE_OUTPUT, content(data.get("answer") or ""))


class GenerationTrace:
    """The loop's handle on one model request's span (inert when tracing is off)."""

    def __init__(self, span: trace.Span, record_content: bool) -> None:
        self.span = span
        self.record_content = record_content

    def done(self, input_tokens: int, output_tokens: int, finish_reason: str | None, message: Any) -> None:
        if not self.span.is_recording():
            return
        self.span.set_attributes({
            sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens, sc.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: (finish_reason or "",),
            sc.LANGFUSE_USAGE: json.dumps({"input": input_tokens, "output": output_tokens,
                                           "total": input_tokens + output_tokens}),
        })
        if self.record_content:
            text = content([message])
            self.span.set_attributes({sc.GEN_AI_OUTPUT_MESSAGES: text, sc.LANGFUSE_OUTPUT: text})


@contextmanager
def agent_run(workspace: str, *, record_content: bool, message: str | None = None) -> Iterator[RunTrace]:
    """The run's span, current for the run (see the module docstring)."""
    if not enabled():
        yield RunTrace(trace.INVALID_SPAN, None, False)
        return
    scope = RunScope(workspace)
    attributes = {sc.GEN_AI_OPERATION_NAME: "invoke_agent", sc.GEN_AI_AGENT_NAME: "agent_chat",
                  sc.LANGFUSE_TRACE_NAME: "agent_chat", sc.WORKSPACE: workspace, **scope.observation("agent")}
    if record_content and message:
        attributes[sc.LANGFUSE_INPUT] = content(message)
    with tracer().start_as_current_span("invoke_agent agent_chat", kind=SpanKind.INTERNAL,
                                        attributes=attributes) as span:
        token = context.attach(context.set_value(_RUN, scope))
        try:
            yield RunTrace(span, scope, record_content)
        finally:
            context.detach(token)


@contextmanager
def generation(provider: str, model: str, messages: list[dict[str, Any]], *, stream: bool,
               record_content: bool) -> Iterator[GenerationTrace]:
    """One model request's span (see the module docstring)."""
    if not enabled():
        yield GenerationTrace(trace.INVALID_SPAN, False)
        return
    run = current_run()
    attributes: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: provider, sc.GEN_AI_REQUEST_MODEL: model,
        sc.GEN_AI_REQUEST_STREAM: stream, sc.LANGFUSE_MODEL: model,
        **(run.observation("generation") if run is not None else {sc.LANGFUSE_TYPE: "generation"}),
    }
    if record_content:
        attributes[sc.GEN_AI_INPUT_MESSAGES] = attributes[sc.LANGFUSE_INPUT] = content(messages)
    with tracer().start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        yield GenerationTrace(span, record_content)
