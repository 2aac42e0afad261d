"""A streamable-HTTP upstream written by hand (standard library only), so its answers can misbehave.

Stateful (handshake era): ``initialize`` answers with an ``Mcp-Session-Id``; notifications get 202; a
POST without the session id after it gets 400. Tools (``tools/call``), each answered as a JSON body
unless said otherwise:

- ``ok(text)``: a normal result ``text`` — with an extra ``"x-raw"`` key in the result, passed on as sent.
- ``bad_result()``: ``{"result": "not-an-object"}`` — not a JSON-RPC response.
- ``string_id(text)``: the result, with the request's id echoed as a numeric string.
- ``not_json()``: ``application/json`` whose body is not JSON.
- ``error()``: a JSON-RPC error object (code -32050).
- ``sse(text)``: an event stream: a progress notification for the request's token, then the result.
- ``die()``: the process exits without answering.

Run: ``python tests/upstreams/raw_http.py --port P`` (endpoint ``http://127.0.0.1:P/mcp``).
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOOLS = [{"name": name, "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}
         for name in ("ok", "bad_result", "string_id", "not_json", "error", "sse", "die")]
SESSION = uuid.uuid4().hex


def _text(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "x-raw": "kept"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, message: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(200, json.dumps(message).encode(), headers=headers)

    def do_DELETE(self) -> None:
        self._send(200, b"")

    def do_GET(self) -> None:
        self._send(405, b"")

    def do_POST(self) -> None:
        message = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        method, rid = message.get("method"), message.get("id")
        if method == "initialize":
            result = {"protocolVersion": message["params"]["protocolVersion"], "capabilities": {"tools": {}},
                      "serverInfo": {"name": "raw-http", "version": "1"}}
            return self._answer({"jsonrpc": "2.0", "id": rid, "result": result}, {"Mcp-Session-Id": SESSION})
        if self.headers.get("Mcp-Session-Id") != SESSION:
            return self._send(400, b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"no session"}}')
        if rid is None:
            return self._send(202, b"")
        if method == "server/discover":
            return self._answer({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}})
        if method == "ping":
            return self._answer({"jsonrpc": "2.0", "id": rid, "result": {}})
        if method == "tools/list":
            return self._answer({"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
        if method != "tools/call":
            return self._answer({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": method}})
        self._call(rid, message["params"])

    def _call(self, rid: Any, params: dict[str, Any]) -> None:
        name, text = params["name"], (params.get("arguments") or {}).get("text", "")
        if name == "ok":
            self._answer({"jsonrpc": "2.0", "id": rid, "result": _text(text)})
        elif name == "bad_result":
            self._answer({"jsonrpc": "2.0", "id": rid, "result": "not-an-object"})
        elif name == "string_id":
            self._answer({"jsonrpc": "2.0", "id": str(rid), "result": _text(text)})
        elif name == "not_json":
            self._send(200, b"{this is not json")
        elif name == "error":
            self._answer({"jsonrpc": "2.0", "id": rid, "error": {"code": -32050, "message": "raw says no"}})
        elif name == "sse":
            token = (params.get("_meta") or {}).get("progressToken")
            events = []
            if token is not None:
                note = {"jsonrpc": "2.0", "method": "notifications/progress",
                        "params": {"progressToken": token, "progress": 1, "total": 2}}
                events.append(f"event: message\ndata: {json.dumps(note)}\n\n")
            events.append(f"event: message\ndata: {json.dumps({'jsonrpc': '2.0', 'id': rid, 'result': _text(text)})}\n\n")
            self._send(200, "".join(events).encode(), "text/event-stream")
        elif name == "die":
            os._exit(3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["http"], default="http")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
