"""stdio transport with answers for malformed input.

The SDK's stdio transport hands a line it cannot parse to the dispatcher as an exception, which
drops it silently; a client that sent garbage then waits forever. This wrapper answers instead, as
JSON-RPC 2.0 says: `-32700 Parse error` (id null) for a line that is not JSON, `-32600 Invalid
Request` (with the request's id when one can be read) for JSON that is not a JSON-RPC message. The
line is then skipped; the server keeps serving.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

logger = logging.getLogger(__name__)


def error_for(exc: Exception) -> JSONRPCError:
    """The JSON-RPC error answering an unparseable inbound line."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if errors and errors[0]["type"] == "json_invalid":
            return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error"))
        request_id = None
        for err in errors:
            candidate = err.get("input")
            if isinstance(candidate, dict) and isinstance(candidate.get("id"), str | int):
                request_id = candidate["id"]
                break
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:3])
        return JSONRPCError(
            jsonrpc="2.0", id=request_id,
            error=ErrorData(code=INVALID_REQUEST, message=f"Invalid Request: not a JSON-RPC 2.0 message ({detail})"),
        )
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error"))
    return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message="Invalid Request"))


class _AnsweringReadStream:
    """Passes messages through; answers and skips the exceptions the transport yields for bad lines."""

    def __init__(self, inner: Any, write: Any) -> None:
        self._inner = inner
        self._write = write

    async def _answer(self, exc: Exception) -> None:
        logger.warning("malformed input on stdin: %s", type(exc).__name__)
        await self._write.send(SessionMessage(error_for(exc)))

    async def receive(self) -> Any:
        while isinstance(item := await self._inner.receive(), Exception):
            await self._answer(item)
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _AnsweringReadStream:
        return self

    async def __anext__(self) -> Any:
        while isinstance(item := await self._inner.__anext__(), Exception):
            await self._answer(item)
        return item

    async def __aenter__(self) -> _AnsweringReadStream:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@asynccontextmanager
async def answering_stdio_server() -> AsyncIterator[tuple[Any, Any]]:
    """`mcp.server.stdio.stdio_server`, with malformed lines answered instead of dropped."""
    async with stdio_server() as (read, write):
        yield _AnsweringReadStream(read, write), write
