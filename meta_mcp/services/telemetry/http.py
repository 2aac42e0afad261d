"""Tracing and metrics at the front doors: incoming trace context, and Prometheus' `/metrics`.

- `HeaderTraceContext`: an MCP server middleware. The MCP SDK's own `OpenTelemetryMiddleware` (after it)
  opens a server span per message, parented on the W3C `traceparent` in the request's `_meta` (as the
  MCP spec suggests); when `_meta` has none, this middleware makes the context of the HTTP request's
  `traceparent` / `tracestate` headers current, so the SDK's span continues the caller's trace either way.
- `MetricsEndpoint`: ASGI; `GET /metrics` answers the Prometheus text exposition of meta-mcp's metrics,
  every other path goes to the wrapped app (404 when there is none).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context, propagate


def _headers(ctx: Any) -> Any:
    """The HTTP headers of the request carrying `ctx` (handshake era: the Starlette request; 2026 era: the
    transport's metadata), or None over stdio."""
    headers = getattr(ctx.request, "headers", None) if ctx.request is not None else None
    if headers is None:
        transport = getattr(getattr(ctx.session, "_request_outbound", None), "transport", None)
        headers = getattr(transport, "headers", None)
    return headers


class HeaderTraceContext:
    """See the module docstring."""

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        meta = ctx.meta
        if meta and "traceparent" in meta:
            return await call_next(ctx)
        headers = _headers(ctx)
        if not headers or "traceparent" not in headers:
            return await call_next(ctx)
        token = context.attach(propagate.extract({k.lower(): v for k, v in headers.items()}))
        try:
            return await call_next(ctx)
        finally:
            context.detach(token)


class MetricsEndpoint:
    """See the module docstring."""

    def __init__(self, app: Any | None, path: str = "/metrics") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") == self.path:
            await self._metrics(scope, send)
        elif self.app is not None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await self._plain(send, 404, b"Not Found\n", b"text/plain")

    async def _metrics(self, scope: dict[str, Any], send: Any) -> None:
        if scope.get("method") not in ("GET", "HEAD"):
            await self._plain(send, 405, b"Method Not Allowed\n", b"text/plain")
            return
        import anyio
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

        body = await anyio.to_thread.run_sync(generate_latest, REGISTRY)
        await self._plain(send, 200, body, CONTENT_TYPE_LATEST.encode())

    @staticmethod
    async def _plain(send: Any, status: int, body: bytes, content_type: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
