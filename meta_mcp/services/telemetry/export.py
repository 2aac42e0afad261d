"""Where spans and metrics go: the OpenTelemetry SDK pipeline, built only when something is configured.

- Traces: one `TracerProvider` (service.name from `OTEL_SERVICE_NAME`) whose one processor is a
  `RedactingSpanProcessor` in front of the exporting ones: a batch processor with the OTLP/HTTP exporter
  (`{OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`), and Langfuse's own span processor (the v5 SDK's
  `LangfuseSpanProcessor`: OTLP/HTTP to `{LANGFUSE_BASE_URL}/api/public/otel/v1/traces` with the project
  keys) that exports only the agent's observations (spans with a `langfuse.observation.type`).
- Metrics: one `MeterProvider` with a periodic OTLP/HTTP reader (`…/v1/metrics`) and/or a Prometheus
  reader (rendered at `/metrics` by `http.MetricsEndpoint`).
Both become the OpenTelemetry API's global providers, so the MCP SDK's spans and ours share traces.

Every finished span reaches the exporters as a redacted copy (`RedactingSpanProcessor`): name,
attribute values, event names and attributes and the status text go through `Redactor.redact`,
whoever set them (our code, the MCP SDK, an upstream's exception message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.trace import Status

from meta_mcp import __version__
from meta_mcp.services.telemetry import semconv as sc

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    from meta_mcp.redaction import Redactor
    from meta_mcp.settings import Settings


class RedactingSpanProcessor(SpanProcessor):
    """Hands every span to `processors`, and each finished one redacted (see the module docstring).

    A span whose texts need no change is handed on as it is; one that does, as a redacted copy. Texts
    repeat from span to span (tool, server, method names), so what redaction made of each short one is
    remembered — until the redactor learns another secret."""

    _CACHED_CHARS = 256
    _CACHE_ENTRIES = 4096

    def __init__(self, redactor: Redactor, processors: Sequence[SpanProcessor]) -> None:
        self.redactor = redactor
        self.processors = list(processors)
        self._cache: dict[str, str] = {}
        self._cache_for: object = None

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        for processor in self.processors:
            processor.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Any) -> None:
        for processor in self.processors:
            processor._on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        clean = self.redacted(span)
        for processor in self.processors:
            processor.on_end(clean)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all([processor.force_flush(timeout_millis) for processor in self.processors])

    def _redact(self, text: str) -> str:
        if len(text) > self._CACHED_CHARS:
            return self.redactor.redact(text)
        clean = self._cache.get(text)
        if clean is None:
            if len(self._cache) >= self._CACHE_ENTRIES:
                self._cache.clear()
            clean = self._cache[text] = self.redactor.redact(text)
        return clean

    def _attributes(self, attributes: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """`attributes` redacted: the same mapping when nothing changed."""
        changed: dict[str, Any] | None = None
        for key, value in (attributes or {}).items():
            if isinstance(value, str):
                clean: Any = self._redact(value)
            elif isinstance(value, (tuple, list)) and any(isinstance(v, str) for v in value):
                clean = tuple(self._redact(v) if isinstance(v, str) else v for v in value)
                clean = value if list(clean) == list(value) else clean
            else:
                continue
            if clean != value:
                if changed is None:
                    changed = dict(attributes)  # type: ignore[arg-type]
                changed[key] = clean
        return attributes if changed is None else changed

    def redacted(self, span: ReadableSpan) -> ReadableSpan:
        """`span`, or a copy of it with its texts redacted."""
        pattern = getattr(self.redactor, "_pattern", None)
        if pattern is not self._cache_for:  # a new secret: what was clean may not be any more
            self._cache, self._cache_for = {}, pattern
        name = self._redact(span.name)
        original = span.attributes  # (a fresh read-only view at each read)
        attributes = self._attributes(original)
        events = [(e, e.attributes) for e in span.events]
        events = [(e, self._redact(e.name), self._attributes(a), a) for e, a in events]
        status = span.status
        description = self._redact(status.description) if status.description else status.description
        if (name == span.name and attributes is original and description == status.description
                and all(n == e.name and clean is a for e, n, clean, a in events)):
            return span
        return ReadableSpan(
            name=name, context=span.context, parent=span.parent, resource=span.resource, attributes=attributes,
            events=[Event(n, a, e.timestamp) for e, n, a, _ in events], links=span.links, kind=span.kind,
            status=Status(status.status_code, description), start_time=span.start_time, end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )


def otlp_headers(settings: Settings) -> dict[str, str]:
    """`OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, values percent-decoded) as a dict."""
    from urllib.parse import unquote

    raw = settings.otel_exporter_otlp_headers.get_secret_value() if settings.otel_exporter_otlp_headers else ""
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {k.strip(): unquote(v.strip()) for k, v in pairs}


def _resource(settings: Settings) -> Any:
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": settings.otel_service_name, "service.version": __version__})


def is_agent_observation(span: ReadableSpan) -> bool:
    """What Langfuse gets: the agent's run, its generations and its tool calls."""
    return bool(span.attributes) and sc.LANGFUSE_TYPE in span.attributes  # type: ignore[operator]


def tracer_provider(settings: Settings, redactor: Redactor) -> TracerProvider:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    processors: list[SpanProcessor] = []
    delay_ms = settings.otel_bsp_schedule_delay_ms
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces",
                                    headers=otlp_headers(settings))
        processors.append(BatchSpanProcessor(exporter, schedule_delay_millis=delay_ms))
    if settings.langfuse_public_key and settings.langfuse_secret_key:
        from langfuse._client.span_processor import LangfuseSpanProcessor

        processors.append(LangfuseSpanProcessor(
            public_key=settings.langfuse_public_key, secret_key=settings.langfuse_secret_key.get_secret_value(),
            base_url=settings.langfuse_base_url.rstrip("/"), flush_interval=delay_ms / 1000,
            should_export_span=is_agent_observation))
    provider = TracerProvider(resource=_resource(settings))
    provider.add_span_processor(RedactingSpanProcessor(redactor, processors))
    return provider


def meter_provider(settings: Settings) -> MeterProvider:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader

    readers: list[MetricReader] = []
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        exporter = OTLPMetricExporter(endpoint=settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/metrics",
                                      headers=otlp_headers(settings))
        readers.append(PeriodicExportingMetricReader(
            exporter, export_interval_millis=settings.otel_metric_export_interval_ms))
    if settings.metrics:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader

        readers.append(PrometheusMetricReader())
    return MeterProvider(metric_readers=readers, resource=_resource(settings))
