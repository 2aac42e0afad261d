"""stdio transport: the SDK's, fed by event-loop pipes, with answers for malformed input.

Two changes to `mcp.server.stdio.stdio_server`:
- Pipes instead of threads. Given no streams, the SDK reads stdin and writes stdout through
  `anyio.wrap_file`, one worker-thread hand-off per line read, write and flush — profiled at ~18 %
  of meta-mcp's CPU per proxied call. When stdin and stdout are pipes, sockets or terminals (always,
  under a host), we give it asyncio pipe streams instead. Like the SDK's own claim, the real fds are
  kept privately and fd 0 / fd 1 are pointed at /dev/null and stderr while serving, so stray output
  of anything in the process cannot corrupt the protocol; they are restored on exit.
- Answers for malformed input. The SDK hands a line it cannot parse to the dispatcher as an
  exception, which drops it silently; a client that sent garbage then waits forever. We answer as
  JSON-RPC 2.0 says: `-32700 Parse error` (id null) for a line that is not JSON, `-32600 Invalid
  Request` (with the request's id when one can be read) for JSON that is not a JSON-RPC message.
  The line is then skipped; the server keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

from meta_mcp.pipes import LINE_LIMIT, pipe_streams

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


_OVERSIZED = "<line too long>\n"
"""Stands in for a dropped over-long line: not JSON, so the client gets a Parse error for it."""


class _PipeLines:
    """Lines of text from an asyncio pipe: what the SDK's stdio server iterates for input."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __aiter__(self) -> _PipeLines:
        return self

    async def __anext__(self) -> str:
        try:
            line = await self._reader.readline()
        except ValueError as exc:  # a line over LINE_LIMIT: drop all of it, answer, don't die
            # asyncio drops what it has read; if the newline had not arrived yet, the line's tail
            # is still to come ("Separator is not found" in the message) and is skipped as well.
            while "not found" in str(exc):
                try:
                    await self._reader.readline()
                    break
                except ValueError as more:
                    exc = more
            logger.warning("dropped an input line longer than %d bytes", LINE_LIMIT)
            return _OVERSIZED
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", "replace")


class _PipeWriter:
    """Text to an asyncio pipe: what the SDK's stdio server writes and flushes."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self._writer.write(text.encode())

    async def flush(self) -> None:
        await self._writer.drain()


def _is_stream(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


@asynccontextmanager
async def _event_loop_pipes() -> AsyncIterator[tuple[Any, Any] | None]:
    """(stdin lines, stdout writer) over private copies of fd 0 and 1, or None if they are not pipes."""
    try:
        if not (_is_stream(0) and _is_stream(1)):
            yield None
            return
    except OSError:
        yield None
        return
    wire_in, wire_out = os.dup(0), os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # stray prints land on stderr, never in the protocol
    os.close(null)
    reader, writer, read_transport = await pipe_streams(
        os.fdopen(wire_in, "rb", buffering=0), os.fdopen(wire_out, "wb", buffering=0)
    )
    try:
        yield _PipeLines(reader), _PipeWriter(writer)
    finally:
        with suppress(Exception):
            await writer.drain()
        read_transport.close()
        writer.transport.close()
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)


@asynccontextmanager
async def answering_stdio_server() -> AsyncIterator[tuple[Any, Any]]:
    """`mcp.server.stdio.stdio_server` on event-loop pipes, with malformed lines answered."""
    async with _event_loop_pipes() as pipes:
        streams = {"stdin": pipes[0], "stdout": pipes[1]} if pipes is not None else {}
        async with stdio_server(**streams) as (read, write):
            yield _AnsweringReadStream(read, write), write
