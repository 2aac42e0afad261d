"""The JSON protocol between the sandboxed Deno process and meta-mcp, and what a tool call returns.

Channels (one process per run, so one conversation per process):

- meta-mcp → Deno, on the process's stdin: one JSON object per line. The first line is the run's
  `init` (`{"nonce": …, "tools": {server_id: [tool_id, …]}, "javascript": false}`), read by the
  prelude before any user code exists (it then imports `user.js` if `javascript`, else `user.ts`);
  every later line answers one call: `{"id": n, "ok": true, "value": …}` or
  `{"id": n, "ok": false, "error": "message"}`.
- Deno → meta-mcp, on stdout: each message is one line `"\\n" + NONCE + " " + JSON + "\\n"` where
  NONCE is the run's 128-bit secret. Messages: `{"t": "out", "text": …}` (console output),
  `{"t": "call", "id": n, "server": …, "tool": …, "args": {…}}`, and once
  `{"t": "done", "ok": true, "value": …}` or `{"t": "done", "ok": false, "error": {"name", "message", "stack"}}`.

Why forged output cannot pass for the bridge: the nonce lives only in a closure of the prelude, is
written only through intrinsics captured before user code runs (no `Symbol.species`, no patchable
prototype ever sees it), and user code cannot reach the real stdout anyway (the prelude replaces
`Deno.stdout`). A line
without the nonce is plain output. And meta-mcp trusts nothing in a message it could not check:
every call is resolved through the run's `ToolTable`, counted and limited here, whatever the code
or a forged message asked for — so a message that did get through could do no more than
`tools.x.y()` can.

What meta-mcp reads is bounded before it is decoded (`Framing`): a line's size as it arrives, then
its count of JSON values (`count_values`), and its nesting; `json.loads` would otherwise turn a few
megabytes of `[{},{},…]` into gigabytes of Python objects.
"""

from __future__ import annotations

import json
import re
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
    """Splits the process's stdout into bridge messages (lines carrying the nonce) and plain output.

    Every line is bounded before it is decoded: at most `max_bytes` bytes (refused as soon as more
    than that has arrived without a newline) and, for a message, at most `max_values` JSON values
    (see `count_values`) and Python's nesting depth. `json.loads` costs up to ~25 times the size of
    its input in Python objects (`[{},{},…]`: ~75 bytes per 3 input bytes), so without the value
    bound a few megabytes from the sandbox become gigabytes in meta-mcp.

    Items come out one at a time (`next`), so a reader that stops asking stops decoding: what it has
    not read stays in the pipe, and the process blocks on its next write.
    """

    def __init__(self, nonce: str, max_bytes: int, max_values: int) -> None:
        self.prefix = (nonce + " ").encode()
        self.max_bytes = max_bytes
        self.max_values = max_values
        self._buffer = bytearray()
        self._start = 0  # where the next line begins
        self._scanned = 0  # no newline in _buffer[_start:_scanned]

    def feed(self, chunk: bytes) -> None:
        """Add bytes read from the process."""
        if self._start:
            del self._buffer[: self._start]
            self._scanned -= self._start
            self._start = 0
        self._buffer += chunk

    def next(self) -> Message | bytes | None:
        """The next message (or line of plain output, as bytes); None until more is fed.

        Raises `MessageTooLarge` (a limit) or `ProtocolError` (a message that is not one)."""
        while True:
            end = self._buffer.find(b"\n", max(self._scanned, self._start))
            if end < 0:
                self._scanned = len(self._buffer)
                if self._scanned - self._start > self.max_bytes + len(self.prefix):
                    raise MessageTooLarge(f"one message is more than {self.max_bytes} bytes", "max_message_bytes")
                return None
            line = bytes(self._buffer[self._start:end])
            self._start = self._scanned = end + 1
            if len(line) > self.max_bytes + len(self.prefix):
                raise MessageTooLarge(f"one message is {len(line)} bytes, more than {self.max_bytes}",
                                      "max_message_bytes")
            if line.startswith(self.prefix):
                return parse_message(line[len(self.prefix):], self.max_values)
            if line:
                return line + b"\n"

    def rest(self) -> bytes:
        """Unterminated output left when the stream ended."""
        rest = bytes(self._buffer[self._start:])
        self._buffer, self._start, self._scanned = bytearray(), 0, 0
        return rest


class MessageTooLarge(Exception):
    """A message from the sandbox is over a limit; `setting` names it (a `SandboxLimits` field)."""

    def __init__(self, message: str, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def count_values(data: bytes, limit: int) -> int:
    """An upper bound on the number of JSON values (objects, arrays and their elements) in `data`,
    exact enough to compare with `limit`: the `{`, `[` and `,` outside strings. The first pass is a
    count in C (`bytes.count`); strings are cut out (one regular expression) only when that raw count
    is over `limit`, so commas inside text do not count against it."""
    raw = data.count(b"{") + data.count(b"[") + data.count(b",")
    if raw <= limit:
        return raw
    bare = _JSON_STRING.sub(b"", data)
    return bare.count(b"{") + bare.count(b"[") + bare.count(b",")


def parse_message(data: bytes, max_values: int | None = None) -> Message:
    """Decode one nonce-carrying line; raise `ProtocolError` if it is not a well-formed message and
    `MessageTooLarge` if decoding it would cost more than `max_values` allows or nests too deeply."""
    if max_values is not None and (values := count_values(data, max_values)) > max_values:
        raise MessageTooLarge(f"one message has {values} JSON values (counted as its '{{', '[' and ',' outside "
                              f"strings), more than {max_values}", "max_message_values")
    try:
        msg = json.loads(data)
    except RecursionError:
        raise MessageTooLarge("one message is nested too deeply to decode", "max_message_values") from None
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


def init_line(nonce: str, manifest: dict[str, list[str]], *, javascript: bool = False) -> bytes:
    """The first line meta-mcp writes to the process's stdin (`javascript`: the module is `user.js`)."""
    return _line({"nonce": nonce, "tools": manifest, "javascript": javascript})


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
