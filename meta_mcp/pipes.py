"""asyncio streams over pipes, and the bounds on one inbound JSON-RPC message, shared by both stdio ends.

Both the stdio server (a client's lines) and the stdio upstream transport (a server's lines) read
newline-delimited JSON-RPC through `pipe_streams` and `read_line`, and check every line with a
`MessageLimit` before it is parsed. Stdlib only, and `asyncio` is imported when first used: the CLI
imports the process module (which uses this one) before anything heavy.

Why a structural bound as well as a size bound: decoding JSON into Python objects costs far more
than its size when the text is mostly containers. One JSON-RPC message validated by pydantic
(`jsonrpc_message_adapter.validate_json`, what the SDK and we use) costs up to ~450 bytes of memory
per `{`, `[`, `,` or `:` outside strings (`[{"a":{"b":[]}}, …]`), ~120× its size; a 30 MB line of
that shape would take meta-mcp to gigabytes. So a message may have at most `max_bytes //
BYTES_PER_ELEMENT` such characters outside strings; counting them costs a few milliseconds per
megabyte and happens before any parsing.

Example:
    limit = MessageLimit(16 << 20, "max_message_bytes")
    reader, writer, read_transport = await pipe_streams(proc.stdout, proc.stdin, limit.max_bytes)
    line = await read_line(reader, limit)        # raises MessageTooLarge for a line over the limit
    limit.check(line)                            # raises MessageTooLarge for too many elements
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

BYTES_PER_ELEMENT = 64
"""A message of `max_bytes` may hold `max_bytes // BYTES_PER_ELEMENT` containers and elements."""

_STRUCTURAL = (b"{", b"[", b",", b":")
"""Every JSON value but the outermost follows `[`, `,` or `:`, and every object starts with `{`."""

_CHUNK = 1 << 16


class MessageTooLarge(Exception):
    """A message over a `MessageLimit`; its text names the limit (the setting) and by how much."""


@dataclass(frozen=True)
class MessageLimit:
    """The bound on one inbound JSON-RPC message: `max_bytes`, and the setting that sets it (for errors)."""

    max_bytes: int
    setting: str

    @property
    def max_elements(self) -> int:
        """How many containers and elements (`{`, `[`, `,`, `:` outside strings) one message may hold."""
        return max(self.max_bytes // BYTES_PER_ELEMENT, 1024)

    def too_long(self) -> MessageTooLarge:
        return MessageTooLarge(f"a message longer than {self.setting} ({self.max_bytes:,} bytes)")

    def check(self, data: bytes) -> None:
        """Raise `MessageTooLarge` unless `data` is within both bounds; cheap, and before any parsing."""
        if len(data) > self.max_bytes:
            raise MessageTooLarge(f"a message of {len(data):,} bytes, over {self.setting} ({self.max_bytes:,} bytes)")
        bound = self.max_elements
        if len(data) <= bound or _count(data) <= bound:
            return  # the fast paths: no more bytes than the bound, or even counting inside strings, small enough
        elements = _count_outside_strings(data)
        if elements > bound:
            raise MessageTooLarge(
                f"a message with {elements:,} JSON containers and elements, over the {bound:,} that "
                f"{self.setting} ({self.max_bytes:,} bytes) allows (one per {BYTES_PER_ELEMENT} bytes)"
            )


def _count(data: bytes) -> int:
    return sum(data.count(c) for c in _STRUCTURAL)


def _count_outside_strings(data: bytes) -> int:
    """`_count` of the JSON text outside string literals, in bounded memory.

    Escaped backslashes and then escaped quotes are removed first, so every `"` left opens or closes
    a string. For text that is not valid JSON the count may be off, but the parser stops at the
    first error, and up to there the text is a valid JSON prefix, counted right.
    """
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    total, inside = 0, False
    for start in range(0, len(data), _CHUNK):
        parts = data[start:start + _CHUNK].split(b'"')
        total += _count(b"".join(parts[1 if inside else 0::2]))
        inside ^= bool((len(parts) - 1) & 1)
    return total


_ID_RANGE = range(-(2**63), 2**63)


def valid_id(value: Any) -> bool:
    """Whether `value` is a request id meta-mcp accepts: a string or a signed 64-bit integer (not a bool)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool) and value in _ID_RANGE)


def bad_id(value: Any) -> str:
    """What is wrong with an id that is not `valid_id`."""
    return f"id must be a string or a 64-bit integer, not {value!r:.40}"


@functools.cache
def _jsonrpc_types() -> tuple[type, type]:
    from mcp_types import JSONRPCNotification, JSONRPCRequest  # not at import: the CLI imports this module early

    return JSONRPCRequest, JSONRPCNotification


def id_problem(message: Any, line: bytes) -> str | None:
    """What is wrong with the id of `message`, validated from `line`; None when nothing is.

    The SDK's message union reads a request whose id is neither a string nor an integer as a
    notification (the id is dropped), which nobody answers; and it takes integers of any size.
    """
    JSONRPCRequest, JSONRPCNotification = _jsonrpc_types()
    if isinstance(message, JSONRPCRequest) and not valid_id(message.id):
        return bad_id(message.id)
    if isinstance(message, JSONRPCNotification) and b'"id"' in line:
        import pydantic_core

        raw = pydantic_core.from_json(line)
        if "id" in raw:
            return bad_id(raw["id"])
    return None


@dataclass(frozen=True)
class Rejection:
    """Why a JSON text is not a valid JSON-RPC message, and the JSON-RPC error that answers it.

    `id` is the message's id when it has a valid one (else the answer carries id null); `detail`
    says what is wrong with the kind of message it looks like (`response`: it has `result` or
    `error` and no `method`, so it answers one of our requests).
    """

    code: int
    message: str
    detail: str
    id: str | int | None = None
    response: bool = False


def rejection(errors: list[dict[str, Any]]) -> Rejection:
    """The `Rejection` for `ValidationError.errors()` of `jsonrpc_message_adapter.validate_json`."""
    from mcp_types import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR

    if errors and errors[0]["type"] == "json_invalid":
        return Rejection(PARSE_ERROR, f"Parse error: {errors[0]['msg']}", errors[0]["msg"])
    if errors and len(errors[0]["loc"]) == 1:  # the JSON value is not an object at all
        detail = ("a batch (JSON array); batches are not supported" if isinstance(errors[0]["input"], list)
                  else "a JSON-RPC message is a JSON object")
        return Rejection(INVALID_REQUEST, f"Invalid Request: {detail}", detail)
    # A field missing from one of the union's message types reports the whole message as its input.
    found = next((e["input"] for e in errors if len(e["loc"]) == 2 and e["type"] == "missing"), None)
    message: dict[str, Any] = found if isinstance(found, dict) else {}
    request_id = message.get("id") if valid_id(message.get("id")) else None
    response = "method" not in message and ("result" in message or "error" in message)
    if "id" in message and request_id is None:
        detail = bad_id(message["id"])
        return Rejection(INVALID_REQUEST, f"Invalid Request: {detail}", detail, None, response)
    kind = ("JSONRPCResponse" if "result" in message else "JSONRPCError") if response else \
        ("JSONRPCRequest" if "id" in message else "JSONRPCNotification")
    mine = [e for e in errors if e["loc"][:1] == (kind,)] or errors
    detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:] or e['loc']))}: {e['msg']}" for e in mine[:3])
    if request_id is not None and not response and all(e["loc"][1:2] == ("params",) for e in mine):
        return Rejection(INVALID_PARAMS, f"Invalid params: {detail}", detail, request_id)
    return Rejection(INVALID_REQUEST, f"Invalid Request: not a JSON-RPC 2.0 message ({detail})", detail,
                     request_id, response)


async def pipe_streams(read_file: Any, write_file: Any, limit: int) -> tuple[Any, Any, Any]:
    """asyncio (reader, writer, read transport) over two pipe files: no worker thread per line.

    `limit` bounds one line (the reader's buffer), normally a `MessageLimit.max_bytes`.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), read_file)
    write_transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, write_file)
    return reader, asyncio.StreamWriter(write_transport, protocol, None, loop), read_transport


async def read_line(reader: Any, limit: MessageLimit) -> bytes:
    """The next line from an asyncio `reader` made with `limit.max_bytes`; b"" at EOF.

    A line over the limit is skipped to its end (asyncio drops what it buffered) and raises
    `MessageTooLarge`; the next call reads the line after it.
    """
    try:
        return await reader.readline()
    except ValueError as exc:
        # If the newline had not arrived yet ("Separator is not found"), the line's tail is still to
        # come: skip it as well.
        while "not found" in str(exc):
            try:
                await reader.readline()
                break
            except ValueError as more:
                exc = more
        raise limit.too_long() from None
