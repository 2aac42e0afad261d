"""An upstream that speaks JSON-RPC over stdio by hand (standard library only), so it can misbehave.

It answers ``server/discover`` with Method not found (so clients fall back to the handshake),
``initialize``, ``ping`` and ``tools/list``; tools (``tools/call``):

- ``ok()``: a normal result, text ``"raw-ok pid=<pid>"``.
- ``bad_result()``: answers ``{"result": "not-an-object"}`` — not a JSON-RPC response.
- ``bad_error()``: answers ``{"error": "boom"}`` — an error that is not an error object.
- ``bad_request(id='"raw-ask"', params="5")``: first sends meta-mcp a server→client request with that id
  and params (JSON texts; by default params that are not an object), waits for the answer, and returns
  that answer as JSON text (so a test can see it was answered).
- ``shape(count, element="{}", pad=0)``: a result whose structuredContent is
  ``{"items": [element, element, …], "pad": "x" * pad}``: the decoding-cost attack when the
  element is a container (``[{},{},…]``), or just a big message.
- ``exit(code)``: writes two lines to stderr and exits with ``code`` without answering.

``--exit-at-start CODE`` writes two lines to stderr and exits with CODE before reading anything.

Run: ``python tests/upstreams/raw.py [--exit-at-start CODE]``
"""

from __future__ import annotations

import json
import os
import sys

TOOLS = [
    {"name": name, "description": description, "inputSchema": {"type": "object", "properties": properties}}
    for name, description, properties in [
        ("ok", "A normal result.", {}),
        ("bad_result", "Answers with a result that is not an object.", {}),
        ("bad_error", "Answers with an error that is not an error object.", {}),
        ("bad_request", "Sends an invalid request first, returns the answer it got.",
         {"id": {"type": "string"}, "params": {"type": "string"}}),
        ("shape", "A result of `count` copies of `element` plus `pad` bytes.",
         {"count": {"type": "integer"}, "element": {"type": "string"}, "pad": {"type": "integer"}}),
        ("exit", "Exits with `code` without answering.", {"code": {"type": "integer"}}),
    ]
]

_out = sys.stdout.buffer


def send_raw(data: bytes) -> None:
    _out.write(data + b"\n")
    _out.flush()


def send(message: dict) -> None:
    send_raw(json.dumps(message, separators=(",", ":")).encode())


def result(request_id: object, value: object) -> None:
    send({"jsonrpc": "2.0", "id": request_id, "result": value})


def text(value: str) -> dict:
    return {"content": [{"type": "text", "text": value}]}


def die(code: int, why: str) -> None:
    sys.stderr.write(f"raw: {why}\nraw: exiting with code {code}\n")
    sys.stderr.flush()
    os._exit(code)


def call_tool(request_id: object, name: str, args: dict) -> None:
    if name == "ok":
        result(request_id, text(f"raw-ok pid={os.getpid()}"))
    elif name == "bad_result":
        result(request_id, "not-an-object")
    elif name == "bad_error":
        send({"jsonrpc": "2.0", "id": request_id, "error": "boom"})
    elif name == "bad_request":
        ask_id, params = args.get("id", '"raw-ask"'), args.get("params", "5")
        send_raw(b'{"jsonrpc":"2.0","id":%s,"method":"sampling/createMessage","params":%s}' % (
            ask_id.encode(), params.encode()))
        for line in sys.stdin.buffer:
            answer = json.loads(line)
            if "method" not in answer:  # the answer to it
                result(request_id, text(json.dumps(answer)))
                return
    elif name == "shape":
        element = args.get("element", "{}").encode()
        items = b",".join([element] * int(args.get("count", 0)))
        pad = b"x" * int(args.get("pad", 0))
        head = b'{"jsonrpc":"2.0","id":' + json.dumps(request_id).encode()
        send_raw(head + b',"result":{"content":[{"type":"text","text":"shape"}],"structuredContent":{"items":['
                 + items + b'],"pad":"' + pad + b'"}}}')
    elif name == "exit":
        die(int(args.get("code", 0)), "asked to exit")
    else:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": f"Unknown tool: {name}"}})


def main() -> None:
    if "--exit-at-start" in sys.argv:
        die(int(sys.argv[sys.argv.index("--exit-at-start") + 1]), "refusing to start (--exit-at-start)")
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        if method is None or request_id is None:
            continue  # a notification or an answer nobody waits for
        if method == "initialize":
            result(request_id, {"protocolVersion": message["params"]["protocolVersion"],
                                "capabilities": {"tools": {}}, "serverInfo": {"name": "raw", "version": "1.0.0"}})
        elif method == "ping":
            result(request_id, {})
        elif method == "tools/list":
            result(request_id, {"tools": TOOLS})
        elif method == "tools/call":
            call_tool(request_id, message["params"]["name"], message["params"].get("arguments") or {})
        else:
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": "Method not found"}})


if __name__ == "__main__":
    main()
