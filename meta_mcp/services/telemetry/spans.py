"""Spans: whether tracing is on, meta-mcp's tracer, operation spans, and redaction before export.

Tracing is on when `Telemetry.start` installed a tracer provider (the OpenTelemetry API's global, the
one the MCP SDK's own spans use too). Everything here checks `enabled()` first and does nothing else
when it is off, so code may call these helpers on any path.

What leaves through an exporter is redacted first (`export.RedactingSpanProcessor`).

Example:
    with span("run_code", {WORKSPACE: ws.name}) as s:
        ...
        s.set_attribute(OUTCOME, "ok")
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import trace

from meta_mcp.services.telemetry import semconv as sc

MAX_CONTENT_CHARS = 32_000
"""Content recorded in a span attribute (arguments, results, messages) is cut to this many characters."""

T = TypeVar("T")


def enabled() -> bool:
    """Whether spans are recorded (a tracer provider is installed)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def tracer() -> trace.Tracer:
    return trace.get_tracer(sc.TRACER)


def content(value: Any) -> str:
    """`value` as JSON text for a content attribute, cut to `MAX_CONTENT_CHARS`."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= MAX_CONTENT_CHARS else text[:MAX_CONTENT_CHARS] + "…"


@contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[trace.Span]:
    """A current span named `name` (a non-recording one when tracing is off)."""
    if not enabled():
        yield trace.INVALID_SPAN
        return
    with tracer().start_as_current_span(name, attributes=dict(attributes or {})) as current:
        yield current


def traced(operation: str) -> Callable[[Callable[..., Awaitable[T]]], Callable[..., Awaitable[T]]]:
    """Decorate an operation `fn(ws, name, …)` (add/remove/configure a server) with a span
    `<operation> <name>` carrying the workspace, the server and the outcome's type."""

    def wrap(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        @functools.wraps(fn)
        async def run(ws: Any, name: str, *args: Any, **kwargs: Any) -> T:
            if not enabled():
                return await fn(ws, name, *args, **kwargs)
            attributes = {sc.OPERATION: operation, sc.SERVER: name, sc.WORKSPACE: ws.name}
            with tracer().start_as_current_span(f"{operation} {name}", attributes=attributes) as current:
                outcome = await fn(ws, name, *args, **kwargs)
                current.set_attribute(sc.OUTCOME, type(outcome).__name__)
                if getattr(outcome, "ok", True) is False:
                    current.set_attribute(sc.ERROR_TYPE, type(outcome).__name__)
                return outcome

        return run

    return wrap
