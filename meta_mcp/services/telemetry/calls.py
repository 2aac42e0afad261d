"""A span and metrics for every routed tool call: the call interceptor tracing installs.

On the registry's one call path every tool call — a client's `tools/call`, `call_tool`, `run_code`'s
bridged calls, `agent_chat`'s — passes `CallTelemetry`:
- a span `execute_tool <exposed name>` (GenAI conventions: `gen_ai.operation.name=execute_tool`,
  `gen_ai.tool.name`; and `meta_mcp.server`, `meta_mcp.tool`, `meta_mcp.workspace`, `meta_mcp.origin`),
  child of whatever is current (the MCP SDK's `tools/call` server span, the `run_code` span, the agent's
  run), parent of the SDK's `MCP send tools/call` client span to the upstream. An `isError` result sets
  `error.type=tool_error` and the ERROR status; a protocol error its JSON-RPC code. With
  `META_MCP_TRACE_CONTENT=1` the arguments and the result are recorded (`gen_ai.tool.call.arguments`,
  `gen_ai.tool.call.result`), redacted like every attribute. Inside an agent run the span is also a
  Langfuse `tool` observation of that run's trace.
- metrics by server and tool: `meta_mcp.tool.calls`, `meta_mcp.tool.errors` (counters) and
  `mcp.server.operation.duration` (histogram, seconds).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from meta_mcp.services.telemetry import semconv as sc
from meta_mcp.services.telemetry.agent import current_run
from meta_mcp.services.telemetry.spans import content

if TYPE_CHECKING:
    from meta_mcp.registry.interceptors import Proceed, ToolCall


def _error_text(result: dict[str, Any]) -> str:
    texts = [c.get("text", "") for c in result.get("content") or () if isinstance(c, dict) and c.get("type") == "text"]
    return " ".join(texts)[:500]


class CallTelemetry:
    """The interceptor (see the module docstring): `await telemetry(call, proceed)`."""

    def __init__(self, *, tracing: bool, metrics: bool, record_content: bool) -> None:
        self.tracer = trace.get_tracer(sc.TRACER) if tracing else trace.NoOpTracer()
        self.record_content = record_content and tracing
        self.calls = self.errors = self.duration = None
        if metrics:
            from opentelemetry import metrics as otel_metrics

            meter = otel_metrics.get_meter(sc.TRACER)
            self.calls = meter.create_counter(sc.CALLS, unit="{call}", description="Tool calls routed, by server and tool")
            self.errors = meter.create_counter(sc.ERRORS, unit="{call}",
                                               description="Tool calls that failed (isError or a protocol error)")
            self.duration = meter.create_histogram(sc.MCP_SERVER_OPERATION_DURATION, unit="s",
                                                   description="Duration of routed tools/call, by server and tool")

    async def __call__(self, call: ToolCall, proceed: Proceed) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: "execute_tool", sc.GEN_AI_TOOL_NAME: call.name, sc.MCP_METHOD_NAME: "tools/call",
            sc.SERVER: call.server, sc.TOOL: call.tool, sc.WORKSPACE: call.workspace, sc.ORIGIN: call.call.origin,
        }
        run = current_run()
        if run is not None:
            attributes.update(run.observation("tool"))
        if self.record_content:
            attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = content(call.arguments or {})
        error: str | None = None
        start = time.perf_counter()
        with self.tracer.start_as_current_span(f"execute_tool {call.name}", kind=SpanKind.INTERNAL,
                                               attributes=attributes, record_exception=False,
                                               set_status_on_exception=False) as span:
            try:
                result = await proceed()
            except BaseException as exc:
                code = getattr(getattr(exc, "error", None), "code", None)
                error = str(code) if code is not None else type(exc).__qualname__
                span.set_attribute(sc.ERROR_TYPE, error)
                span.set_status(StatusCode.ERROR, str(exc)[:500])
                raise
            else:
                if result.get("isError") is True:
                    error = "tool_error"
                    span.set_attribute(sc.ERROR_TYPE, error)
                    span.set_status(StatusCode.ERROR, _error_text(result))
                if self.record_content:
                    span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, content(result))
                    if run is not None:
                        span.set_attributes({sc.LANGFUSE_INPUT: attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS],
                                             sc.LANGFUSE_OUTPUT: content(result)})
                return result
            finally:
                if self.calls is not None:
                    labels = {sc.SERVER: call.server, sc.TOOL: call.tool}
                    self.calls.add(1, labels)
                    if error is not None:
                        labels = {**labels, sc.ERROR_TYPE: error}
                        self.errors.add(1, labels)  # type: ignore[union-attr]
                    self.duration.record(time.perf_counter() - start, labels)  # type: ignore[union-attr]
