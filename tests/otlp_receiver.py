"""A local OTLP/HTTP receiver: what a collector (or Langfuse's OTLP endpoint) would get, decoded.

Accepts `POST …/v1/traces` and `POST …/v1/metrics` on any path prefix (so the same receiver stands in
for a collector at `/v1/traces` and for Langfuse at `/api/public/otel/v1/traces`), protobuf bodies
(`application/x-protobuf`, gzip or not), decoded with `opentelemetry-proto`'s generated messages
(`ExportTraceServiceRequest`, `ExportMetricsServiceRequest`), and answers an empty export response.

    with OtlpReceiver() as otlp:    # or the module-scoped fixture `otlp`: from otlp_receiver import otlp
        otlp.url                       # "http://127.0.0.1:PORT": use as OTEL_EXPORTER_OTLP_ENDPOINT
        otlp.spans(path="/v1/traces")  # [Span(name, trace_id, span_id, parent_id, kind, attributes, …)]
        otlp.metric_points("meta_mcp.tool.calls")
        otlp.requests                  # (path, headers) of every export request
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def _attributes(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    kind: str
    attributes: dict[str, Any]
    status_code: int
    status_message: str
    events: list[dict[str, Any]]
    scope: str
    resource: dict[str, Any]
    path: str
    start_ns: int
    end_ns: int

    @property
    def error(self) -> bool:
        return self.status_code == 2

    def text(self) -> str:
        """Everything this span carries, as one string (for leak checks)."""
        return repr((self.name, self.attributes, self.status_message, self.events, self.resource))


@dataclass
class OtlpReceiver:
    traces: list[Span] = field(default_factory=list)
    metrics: list[tuple[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                path = self.path.split("?", 1)[0]
                with receiver._lock:
                    receiver.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
                if path.endswith("/v1/traces"):
                    receiver._traces(path, body)
                    answer = ExportTraceServiceResponse().SerializeToString()
                elif path.endswith("/v1/metrics"):
                    request = ExportMetricsServiceRequest()
                    request.ParseFromString(body)
                    with receiver._lock:
                        receiver.metrics.append((path, request))
                    answer = ExportMetricsServiceResponse().SerializeToString()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True

    def _traces(self, path: str, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    spans.append(Span(
                        name=s.name, trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                        parent_id=s.parent_span_id.hex() or None, kind=KINDS.get(s.kind, str(s.kind)),
                        attributes=_attributes(s.attributes), status_code=s.status.code,
                        status_message=s.status.message,
                        events=[{"name": e.name, "attributes": _attributes(e.attributes)} for e in s.events],
                        scope=scope_spans.scope.name, resource=resource, path=path,
                        start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano))
        with self._lock:
            self.traces.extend(spans)

    # -- queries ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def spans(self, path: str | None = None) -> list[Span]:
        with self._lock:
            return [s for s in self.traces if path is None or s.path == path]

    def wait_for(self, predicate: Any, timeout: float = 15.0, path: str | None = None) -> list[Span]:
        """Poll until `predicate(spans)` is true; returns the spans. (Exports arrive in batches on the
        exporter's own schedule: there is no event to wait on.)"""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans(path)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({s.name for s in spans})
                raise AssertionError(f"spans never matched within {timeout}s; got {len(spans)}: {names}")
            time.sleep(0.05)

    def metric_points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, data point) of every exported point of metric `name`."""
        points = []
        with self._lock:
            requests = [r for _, r in self.metrics]
        for request in requests:
            for resource_metrics in request.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        if metric.name != name:
                            continue
                        data = getattr(metric, metric.WhichOneof("data"))
                        points += [(_attributes(p.attributes), p) for p in data.data_points]
        return points

    def clear(self) -> None:
        with self._lock:
            self.traces.clear()
            self.metrics.clear()
            self.requests.clear()

    def start(self) -> OtlpReceiver:
        threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def children(spans: list[Span], parent: Span) -> list[Span]:
    return [s for s in spans if s.parent_id == parent.span_id]


def one(spans: list[Span], name: str) -> Span:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{len(found)} spans named {name!r}: {sorted(s.name for s in spans)}"
    return found[0]


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    """A receiver for the tests of one module."""
    with OtlpReceiver() as receiver:
        yield receiver
