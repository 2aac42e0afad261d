"""A stdio upstream written by hand (standard library only), so its answers can misbehave.

Handshake era, one JSON-RPC message per line. Tools (``tools/call``):

- ``ok(text)``: a normal result ``text``, with an extra ``"x-raw"`` key in the result, passed on as sent.
- ``bad_result()``: ``{"result": "not-an-object"}``, which is not a JSON-RPC response.
- ``string_id(text)``: the result, with the request's id echoed as a numeric string.
- ``error()``: a JSON-RPC error object (code -32050).
- ``noisy(text)``: a progress notification for the request's token, a log message, then the result,
  all in one write: the three reach meta-mcp in one read, and the result must not overtake the other two.
- ``die()``: the process exits without answering.

Run: ``python tests/upstreams/raw_stdio.py``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

TOOLS = [{"name": name, "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}
         for name in ("ok", "bad_result", "string_id", "error", "noisy", "die")]


def _text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "x-raw": "kept"}


def _call(rid: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    name, text = params["name"], (params.get("arguments") or {}).get("text", "")
    if name == "ok":
        return [{"jsonrpc": "2.0", "id": rid, "result": _text(text)}]
    if name == "bad_result":
        return [{"jsonrpc": "2.0", "id": rid, "result": "not-an-object"}]
    if name == "string_id":
        return [{"jsonrpc": "2.0", "id": str(rid), "result": _text(text)}]
    if name == "error":
        return [{"jsonrpc": "2.0", "id": rid, "error": {"code": -32050, "message": "raw says no"}}]
    if name == "noisy":
        out: list[dict[str, Any]] = []
        token = (params.get("_meta") or {}).get("progressToken")
        if token is not None:
            out.append({"jsonrpc": "2.0", "method": "notifications/progress",
                        "params": {"progressToken": token, "progress": 1, "total": 2}})
        out.append({"jsonrpc": "2.0", "method": "notifications/message",
                    "params": {"level": "warning", "logger": "raw", "data": f"about {text}"}})
        out.append({"jsonrpc": "2.0", "id": rid, "result": _text(text)})
        return out
    if name == "die":
        os._exit(3)
    return [{"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": f"unknown tool {name}"}}]


def _answer(message: dict[str, Any]) -> list[dict[str, Any]]:
    method, rid = message.get("method"), message.get("id")
    if rid is None:
        return []  # notifications
    if method == "initialize":
        result = {"protocolVersion": message["params"]["protocolVersion"],
                  "capabilities": {"tools": {}, "logging": {}}, "serverInfo": {"name": "raw-stdio", "version": "1"}}
        return [{"jsonrpc": "2.0", "id": rid, "result": result}]
    if method in ("ping", "logging/setLevel"):
        return [{"jsonrpc": "2.0", "id": rid, "result": {}}]
    if method == "tools/list":
        return [{"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}}]
    if method == "tools/call":
        return _call(rid, message["params"])
    return [{"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}]


def main() -> None:
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        out = _answer(json.loads(line))
        if out:
            sys.stdout.buffer.write(b"".join(json.dumps(m).encode() + b"\n" for m in out))
            sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
