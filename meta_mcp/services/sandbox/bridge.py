"""The JSON protocol between the sandboxed Deno process and meta-mcp, and what a tool call returns.

Channels (one process per run, so one conversation per process):

- meta-mcp → Deno, on the process's stdin: one JSON object per line. The first line is the run's
  `init` (`{"nonce": …, "tools": {server_id: [tool_id, …]}}`), read by the prelude before any user
  code exists; every later line answers one call: `{"id": n, "ok": true, "value": …}` or
  `{"id": n, "ok": false, "error": "message"}`.
- Deno → meta-mcp, on stdout: each message is one line `"\\n" + NONCE + " " + JSON + "\\n"` where
  NONCE is the run's 128-bit secret. Messages: `{"t": "out", "text": …}` (console output),
  `{"t": "call", "id": n, "server": …, "tool": …, "args": {…}}`, and once
  `{"t": "done", "ok": true, "value": …}` or `{"t": "done", "ok": false, "error": {"name", "message", "stack"}}`.

Why forged output cannot pass for the bridge: the nonce lives only in a closure of the prelude, is
written only through functions captured before user code runs (so patched prototypes never see
it), and user code cannot reach the real stdout anyway (the prelude replaces `Deno.stdout`). A line
without the nonce is plain output. And meta-mcp trusts nothing in a message it could not check:
every call is resolved through the run's `ToolTable`, counted and limited here, whatever the code
or a forged message asked for — so a message that did get through could do no more than
`tools.x.y()` can.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

NONCE_BYTES = 16


class ProtocolError(Exception):
    """A bridge message that cannot be understood (a broken prelude or a tampered process)."""


@dataclass(frozen=True, slots=True)
class Call:
    """A tool call the code made: `tools.<server>.<tool>(args)`."""

    id: int
    server: str
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Output:
    """Console output (already formatted, newline included)."""

    text: str


@dataclass(frozen=True, slots=True)
class Done:
    """The run finished: the default export's value, or the error the code threw."""

    ok: bool
    value: Any = None
    error: dict[str, str] | None = None


Message = Call | Output | Done


class Framing:
    """Splits the process's stdout into bridge messages (lines carrying the nonce) and plain output."""

    def __init__(self, nonce: str, max_line: int) -> None:
        self.prefix = (nonce + " ").encode()
        self.max_line = max_line
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[Message | bytes]:
        """Messages, and plain output as bytes, found in the stream so far. Raises `LineTooLong`."""
        self._buffer += chunk
        found: list[Message | bytes] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if line.startswith(self.prefix):
                found.append(parse_message(line[len(self.prefix):]))
            elif line:
                found.append(line + b"\n")
        if len(self._buffer) > self.max_line:
            raise LineTooLong(len(self._buffer))
        return found

    def rest(self) -> bytes:
        """Unterminated output left when the stream ended."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return rest


class LineTooLong(Exception):
    """One message (or line of plain output) is larger than the bridge accepts."""


def parse_message(data: bytes) -> Message:
    """Decode one nonce-carrying line; raise `ProtocolError` if it is not a well-formed message."""
    try:
        msg = json.loads(data)
    except ValueError as exc:
        raise ProtocolError(f"bridge message is not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bridge message is not an object")
    kind = msg.get("t")
    if kind == "out" and isinstance(msg.get("text"), str):
        return Output(msg["text"])
    if kind == "call":
        args = msg.get("args")
        if (type(msg.get("id")) is int and isinstance(msg.get("server"), str) and isinstance(msg.get("tool"), str)
                and isinstance(args, dict)):
            return Call(msg["id"], msg["server"], msg["tool"], args)
    if kind == "done" and isinstance(msg.get("ok"), bool):
        if msg["ok"]:
            return Done(True, value=msg.get("value"))
        error = msg.get("error") if isinstance(msg.get("error"), dict) else {}
        return Done(False, error={k: str(error.get(k) or "") for k in ("name", "message", "stack")})
    raise ProtocolError(f"unknown bridge message: {data[:200]!s}")


def init_line(nonce: str, manifest: dict[str, list[str]]) -> bytes:
    """The first line meta-mcp writes to the process's stdin."""
    return _line({"nonce": nonce, "tools": manifest})


def reply_line(call_id: int, *, value: Any = None, error: str | None = None) -> bytes:
    """The answer to call `call_id`: its value, or an error the code receives as a thrown ToolError."""
    if error is not None:
        return _line({"id": call_id, "ok": False, "error": error})
    return _line({"id": call_id, "ok": True, "value": value})


def _line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode()


class ToolCallFailed(Exception):
    """A tool call ended in an error the code should see (its message is the server's)."""


def tool_value(result: dict[str, Any]) -> Any:
    """What `await tools.x.y()` returns for a `CallToolResult` wire dict; raises `ToolCallFailed`.

    - `isError: true` → `ToolCallFailed` with the result's text (the server's message);
    - an `input_required` result (the tool wants the user's input) → `ToolCallFailed`: code cannot answer;
    - `structuredContent` present → that value;
    - otherwise the text blocks joined with newlines, parsed as JSON when the text is JSON;
    - no text at all → the content blocks themselves (images, resources …) as a list.
    """
    if result.get("resultType") == "input_required":
        raise ToolCallFailed("the tool asked for input from the user (input_required), which code cannot give")
    content = result.get("content") if isinstance(result.get("content"), list) else []
    texts = [c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text"]
    if result.get("isError"):
        raise ToolCallFailed("\n".join(texts) or "the tool reported an error without a message")
    if "structuredContent" in result:
        return result["structuredContent"]
    if not texts:
        return content
    text = "\n".join(texts)
    try:
        return json.loads(text, parse_constant=_not_json)
    except ValueError:
        return text


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
