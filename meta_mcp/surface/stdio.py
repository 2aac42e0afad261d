"""stdio transport for the server side: event-loop pipes, bounded messages, and answers for bad input.

Why not the SDK's `mcp.server.stdio.stdio_server`:
- Pipes instead of threads. Given no streams, the SDK reads stdin and writes stdout through
  `anyio.wrap_file`, one worker-thread hand-off per line read, write and flush — profiled at ~18 %
  of meta-mcp's CPU per proxied call. When stdin and stdout are pipes or sockets (always,
  under a host), we read and write them with asyncio pipe streams instead (a worker thread only when
  they are regular files, /dev/null or a terminal). Like the SDK, the real fds are kept privately and fd 0 / fd 1 are pointed
  at /dev/null and stderr while serving, so stray output of anything in the process cannot corrupt
  the protocol; they are restored on exit.
- Bounded input. Every line is checked against `max_message_bytes` — its size and its number of JSON
  containers and elements (see `meta_mcp.pipes`) — before it is parsed, so no single client message
  can make meta-mcp decode gigabytes of objects.
- Answers for malformed input. The SDK hands a line it cannot parse to the dispatcher as an
  exception, which drops it silently, and it reads a request whose `id` is not a string or an integer
  as a notification, which is never answered; a client then waits forever. We answer as JSON-RPC 2.0
  says (`error_for`): `-32700 Parse error` (id null) for a line that is not JSON, `-32600 Invalid
  Request` for JSON that is not a JSON-RPC 2.0 message (with the request's id when it is a valid one,
  else id null: a batch, a bad `jsonrpc`, `method` or `id`), `-32602 Invalid params` when only the
  params are wrong, and `-32700` naming the limit (id null) for a line refused before parsing. The
  line is then skipped; the server keeps serving.

Example:
    async with answering_stdio_server(MessageLimit(settings.max_message_bytes, "max_message_bytes")) as (r, w):
        await server.run(r, w, server.create_initialization_options())
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage
from mcp_types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

from meta_mcp.pipes import MessageLimit, MessageTooLarge, id_problem, pipe_streams, read_line, rejection
from meta_mcp.providers.era import ClientEra

logger = logging.getLogger(__name__)


def _invalid(request_id: str | int | None, message: str, code: int = INVALID_REQUEST) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


def error_for(exc: ValidationError) -> JSONRPCError:
    """The JSON-RPC error answering an inbound line that is not a valid JSON-RPC message."""
    rejected = rejection(exc.errors())
    return _invalid(rejected.id, rejected.message, rejected.code)


def _refused(exc: MessageTooLarge) -> JSONRPCError:
    """The answer to a line refused before parsing: a Parse error (the line was not read as JSON) naming the limit."""
    return _invalid(None, f"Parse error: meta-mcp refused {exc}", PARSE_ERROR)


def decode(line: bytes, limit: MessageLimit, *, checked: bool = False) -> SessionMessage | JSONRPCError:
    """One inbound line as a message, or the error that answers it (see the module docstring); `checked`: the
    line is known to be within `limit`."""
    try:
        if not checked:
            limit.check(line)
        message = jsonrpc_message_adapter.validate_json(line, by_name=False)
    except MessageTooLarge as exc:
        return _refused(exc)
    except ValidationError as exc:
        return error_for(exc)
    if (problem := id_problem(message, line)) is not None:
        return _invalid(None, f"Invalid Request: {problem}")
    return SessionMessage(message)


class _PipeWire:
    """Lines in and out over asyncio pipe streams."""

    def __init__(self, reader: Any, writer: Any, limit: MessageLimit) -> None:
        self._reader, self._writer, self._limit = reader, writer, limit

    async def read(self) -> bytes:
        return await read_line(self._reader, self._limit)

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()


class _FileWire:
    """Lines in and out over regular files or character devices (a terminal, /dev/null): a worker thread per line."""

    def __init__(self, read_file: Any, write_file: Any, limit: MessageLimit) -> None:
        self._in, self._out, self._limit = read_file, write_file, limit

    def _read_blocking(self) -> bytes:
        line = self._in.readline(self._limit.max_bytes + 1)
        if len(line) <= self._limit.max_bytes or line.endswith(b"\n"):
            return line
        while (rest := self._in.readline(1 << 20)) and not rest.endswith(b"\n"):
            pass  # skip the rest of the over-long line
        raise self._limit.too_long()

    async def read(self) -> bytes:
        return await anyio.to_thread.run_sync(self._read_blocking)

    def _write_blocking(self, data: bytes) -> None:
        self._out.write(data)
        self._out.flush()

    async def write(self, data: bytes) -> None:
        await anyio.to_thread.run_sync(self._write_blocking, data)


def _is_stream(fd: int) -> bool:
    """A pipe or a socket. Not a character device: /dev/null cannot be polled at all (uvloop's libuv aborts the
    process on it), and a terminal is a person typing, where a worker thread per line costs nothing."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@asynccontextmanager
async def _claimed_stdio(limit: MessageLimit) -> AsyncIterator[_PipeWire | _FileWire]:
    """The wire over private copies of fd 0 and 1; meanwhile fd 0 reads /dev/null and fd 1 writes to stderr."""
    wire_in, wire_out = os.dup(0), os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # stray prints land on stderr, never in the protocol
    os.close(null)
    streams = _is_stream(wire_in) and _is_stream(wire_out)
    buffering = 0 if streams else -1  # a regular file is read a line at a time: buffered, not byte by byte
    read_file, write_file = os.fdopen(wire_in, "rb", buffering), os.fdopen(wire_out, "wb", buffering)
    read_transport = writer = None
    try:
        if streams:
            reader, writer, read_transport = await pipe_streams(read_file, write_file, limit.max_bytes)
            yield _PipeWire(reader, writer, limit)
        else:
            yield _FileWire(read_file, write_file, limit)
    finally:
        if writer is not None:
            with suppress(Exception):
                await writer.drain()
            writer.transport.close()
        if read_transport is not None:
            read_transport.close()
        for file in (read_file, write_file):
            with suppress(OSError):
                file.close()
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)


class Lean(Protocol):
    """The lean path (`surface.lean.LeanCalls`): lines it takes never reach the SDK's dispatcher."""

    def attach(self, task_group: anyio.abc.TaskGroup, write: Callable[[bytes], Awaitable[None]]) -> None: ...

    def offer(self, line: bytes) -> bool: ...

    def cancel_all(self) -> None: ...


async def _read_lines(wire: _PipeWire | _FileWire, limit: MessageLimit, offer: Callable[[bytes], bool] | None,
                      deliver: MemoryObjectSendStream[SessionMessage],
                      answer: MemoryObjectSendStream[SessionMessage], era: ClientEra | None = None) -> None:
    """Read stdin until EOF: each line to `offer` (the lean path) if it takes it, else decoded to `deliver`, or
    its error to `answer` when it is malformed or over the limit; lines within the limits tell `era` the
    client's era until it knows it."""
    async with deliver, answer:
        while True:
            try:
                line = await wire.read()
                if not line:
                    return  # EOF: the client is gone
                if not line.strip():
                    continue
                limit.check(line)
            except MessageTooLarge as exc:
                item: SessionMessage | JSONRPCError = _refused(exc)
            else:
                if era is not None and era.era is None:
                    era.note_line(line)
                if offer is not None and offer(line):
                    continue
                item = decode(line, limit, checked=True)
            try:
                if isinstance(item, JSONRPCError):
                    logger.warning("malformed input on stdin: %s", item.error.message[:200])
                    await answer.send(SessionMessage(item))
                else:
                    await deliver.send(item)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return  # the server stopped reading or writing


async def _write_lines(wire: _PipeWire | _FileWire, outgoing: MemoryObjectReceiveStream[SessionMessage]) -> None:
    """Write each outgoing message to stdout as one line until the stream ends or stdout is closed."""
    async with outgoing:
        async for message in outgoing:
            data = message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
            try:
                await wire.write(data)
            except OSError as exc:  # the client closed stdout: nothing more can reach it
                logger.debug("stdout closed: %s", exc)
                return


@asynccontextmanager
async def answering_stdio_server(limit: MessageLimit, lean: Lean | None = None, era: ClientEra | None = None
                                 ) -> AsyncIterator[tuple[Any, Any]]:
    """(read, write) streams for `Server.run` over stdin/stdout; malformed and over-limit lines are answered,
    and the client's first message tells `era` its protocol era (`providers.era`).

    With `lean`, each line within the limits is offered to it first (pipes only: over a regular file the
    writes go through worker threads, where a response written directly could overtake queued ones)."""
    async with _claimed_stdio(limit) as wire:
        deliver, read_stream = anyio.create_memory_object_stream[SessionMessage](0)
        write_stream, outgoing = anyio.create_memory_object_stream[SessionMessage](0)
        answer = write_stream.clone()
        offer = lean.offer if lean is not None and isinstance(wire, _PipeWire) else None
        async with anyio.create_task_group() as tg:
            reading = anyio.CancelScope()

            async def read_until_done() -> None:
                with reading:
                    await _read_lines(wire, limit, offer, deliver, answer, era)

            if offer is not None:
                assert lean is not None
                lean.attach(tg, wire.write)
            tg.start_soon(read_until_done)
            tg.start_soon(_write_lines, wire, outgoing)
            try:
                yield read_stream, write_stream
            finally:
                reading.cancel()
                if lean is not None:
                    lean.cancel_all()  # like the dispatcher at the end of its stream: requests in flight end
                await write_stream.aclose()  # the writer ends once it has written what it was given
