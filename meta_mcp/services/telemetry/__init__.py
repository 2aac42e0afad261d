"""Telemetry: OpenTelemetry traces and metrics, Langfuse observations — off unless configured, and then
never a secret in them.

What turns it on (all read through `Settings`):
- `OTEL_EXPORTER_OTLP_ENDPOINT`: spans and metrics over OTLP/HTTP (protobuf) to that collector;
- `LANGFUSE_PUBLIC_KEY` + `LANGFUSE_SECRET_KEY` (+ `LANGFUSE_BASE_URL`): the agent's runs as Langfuse
  traces — one per `agent_chat` call or chat API turn, its generations and tool calls as observations;
- `META_MCP_METRICS=1`: a Prometheus `/metrics` endpoint on the HTTP server.
`META_MCP_TRACE_CONTENT=1` adds tool arguments and results and model messages to spans.

What is traced when on (one trace per incoming request, the MCP SDK's spans included):
- every incoming MCP message: the SDK's server span (`tools/call <name>`, …), continuing the caller's
  trace from `_meta.traceparent` or the HTTP `traceparent` header (`http.HeaderTraceContext`);
- every routed tool call, on every path: `execute_tool <name>` with server, tool, duration and error,
  and the calls/errors/latency metrics (`calls.CallTelemetry`, a registry call interceptor);
- every upstream request: the SDK's client span `MCP send …`, whose context travels upstream in
  `_meta.traceparent` — and, to HTTP upstreams, in the `traceparent` header (`providers.connect`);
- add/remove/configure (`spans.traced`), each `run_code` run with its bridged calls as children
  (`spans.span`), each upstream (re)start (`providers.connect`), the agent's runs and model requests
  (`agent`).
With nothing configured no SDK is imported, no interceptor is installed and the MCP SDK's own tracing
middleware is left out: the call path is exactly as without telemetry.

Example:
    telemetry = Telemetry.from_settings(settings, redactor)
    telemetry.start()        # installs the providers (global: the SDK's spans join ours)
    workspaces = Workspaces(settings, pool, interceptors=telemetry.interceptors())
    ...
    telemetry.shutdown()     # flushes what is still batched
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from meta_mcp.redaction import Redactor
from meta_mcp.services.telemetry.spans import enabled, span, traced

if TYPE_CHECKING:
    from meta_mcp.registry.interceptors import Interceptor
    from meta_mcp.settings import Settings

__all__ = ["Telemetry", "enabled", "server_middleware", "span", "traced"]

logger = logging.getLogger(__name__)


@dataclass
class Telemetry:
    """What is configured, and the providers once started (see the module docstring)."""

    settings: Settings | None = None
    redactor: Redactor = field(default_factory=Redactor)
    _providers: list[Any] = field(default_factory=list, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, redactor: Redactor) -> Telemetry:
        if settings.otel_exporter_otlp_headers is not None:  # collector credentials
            from meta_mcp.services.telemetry.export import otlp_headers

            redactor.add(*otlp_headers(settings).values())
        return cls(settings, redactor)

    @property
    def tracing(self) -> bool:
        s = self.settings
        return s is not None and bool(s.otel_exporter_otlp_endpoint or (s.langfuse_public_key and s.langfuse_secret_key))

    @property
    def metering(self) -> bool:
        s = self.settings
        return s is not None and bool(s.otel_exporter_otlp_endpoint or s.metrics)

    def start(self) -> None:
        """Install the tracer and meter providers as the process's global ones (once)."""
        if self._providers or self.settings is None:
            return
        if self.tracing or self.metering:
            s = self.settings
            where = [f"OTLP/HTTP at {self.redactor.redact(s.otel_exporter_otlp_endpoint)}"] if s.otel_exporter_otlp_endpoint \
                else []
            if s.langfuse_public_key and s.langfuse_secret_key:
                where.append(f"the agent's runs to Langfuse at {self.redactor.redact(s.langfuse_base_url)}")
            if s.metrics:
                where.append("Prometheus metrics at /metrics (HTTP)")
            logger.info("telemetry: %s%s", "; ".join(where),
                        " (tool arguments and results recorded)" if s.trace_content else "")
        if self.tracing:
            from opentelemetry import trace

            from meta_mcp.services.telemetry.export import tracer_provider

            provider = tracer_provider(self.settings, self.redactor)
            trace.set_tracer_provider(provider)
            self._providers.append(provider)
        if self.metering:
            from opentelemetry import metrics

            from meta_mcp.services.telemetry.export import meter_provider

            meters = meter_provider(self.settings)
            metrics.set_meter_provider(meters)
            self._providers.append(meters)

    def shutdown(self) -> None:
        """Export what is still batched and stop the exporters."""
        for provider in self._providers:
            provider.shutdown()
        self._providers.clear()

    def interceptors(self) -> list[Interceptor]:
        """The call interceptor for spans and metrics, or none when both are off."""
        if not (self.tracing or self.metering) or self.settings is None:
            return []
        from meta_mcp.services.telemetry.calls import CallTelemetry

        return [CallTelemetry(tracing=self.tracing, metrics=self.metering,
                              record_content=self.settings.trace_content)]

    def http_app(self, app: Any | None) -> Any | None:
        """`app` with Prometheus' `/metrics` in front when `metrics` is on."""
        if self.settings is None or not self.settings.metrics:
            return app
        from meta_mcp.services.telemetry.http import MetricsEndpoint

        return MetricsEndpoint(app)


def server_middleware() -> list[Any]:
    """The MCP server's middleware: the trace context of HTTP headers, then the SDK's own span per message;
    none when tracing is off (call after `Telemetry.start`)."""
    if not enabled():
        return []
    from mcp.server._otel import OpenTelemetryMiddleware

    from meta_mcp.services.telemetry.http import HeaderTraceContext

    return [HeaderTraceContext(), OpenTelemetryMiddleware()]
