"""Limits below the ASGI app: uvicorn's HTTP/1.1 protocol with a deadline and a size bound for each request's head.

uvicorn itself has no deadline for a request head (its keep-alive timeout starts only after a first
response), so a client that opens a connection and trickles its headers (slowloris) would hold it
forever: `header_timeout_protocol` closes such a connection after `http_header_timeout` seconds.
`uvicorn_limits(settings)` gives every `uvicorn.Config` keyword for these transport limits.

Example:
    uvicorn.Config(app, host=settings.host, port=settings.port, **uvicorn_limits(settings))
"""

from __future__ import annotations

import logging
from typing import Any

from meta_mcp.settings import Settings

logger = logging.getLogger(__name__)


def header_timeout_protocol(seconds: float, max_head_bytes: int | None = None) -> type:
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request head has not fully arrived within `seconds`
    of its first byte (or of the connection, for its first request); see the module docstring.

    The parser is httptools (C) when it is installed — about 9 % of meta-mcp's instructions per proxied call
    less than h11 —
    with the head bounded here to `max_head_bytes` (answered 400, like uvicorn's h11 limit), else h11 (its
    limit is uvicorn's `h11_max_incomplete_event_size`)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base
        max_head_bytes = None  # h11 enforces it

    class HeaderTimeoutProtocol(Base):  # type: ignore[valid-type, misc]
        _head_timer: Any = None
        _head_bytes = 0

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            if self._head_timer is None and (before is None or before.response_complete):
                self._arm()  # the first bytes of the next request's head
            super().data_received(data)
            if self.cycle is not before:  # a head arrived whole: a request cycle started
                self._disarm()
            elif self._head_timer is not None and max_head_bytes is not None:
                self._head_bytes += len(data)  # all of it was head: the head is still incomplete
                if self._head_bytes > max_head_bytes and not self.transport.is_closing():
                    self.send_400_response(f"Request head over {max_head_bytes} bytes (META_MCP_HTTP_MAX_HEADER_BYTES)")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _expired(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                logger.info("HTTP: closing a connection from %s: its request head did not arrive within %gs "
                            "(META_MCP_HTTP_HEADER_TIMEOUT)", self.client[0] if self.client else "?", seconds)
                self.transport.close()

    return HeaderTimeoutProtocol


def uvicorn_limits(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config keywords for the transport limits: the head's deadline and size, keep-alive, connections."""
    return {"http": header_timeout_protocol(settings.http_header_timeout, settings.http_max_header_bytes),
            "h11_max_incomplete_event_size": settings.http_max_header_bytes,
            "timeout_keep_alive": settings.http_keep_alive_s, "limit_concurrency": settings.http_max_connections}
