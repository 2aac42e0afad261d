"""A scripted OpenAI-compatible chat-completions server, over real HTTP, for the agent_chat tests.

Written from OpenAI's documented Chat Completions API: `POST /v1/chat/completions` answers with a
`chat.completion` object, or — when the request has `"stream": true` — with server-sent events of
`chat.completion.chunk` objects (content and tool-call arguments split across chunks, a usage chunk
when `stream_options.include_usage`, then `data: [DONE]`). Errors are OpenAI-shaped JSON bodies.

The stub replays a script, one entry per request, and records every request (body and headers):

    stub = OpenAIStub().start()
    stub.script(tool_calls(("echo__echo", {"text": "hi"})), text("done"))
    ...  # point the client at stub.url ("http://127.0.0.1:PORT/v1")
    stub.requests[0]["body"]["tools"]   # what the client sent
    stub.stop()

A request after the script ran out is answered `500 script exhausted`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from support import free_port


def text(content: str, *, usage: tuple[int, int] = (10, 5), delay: float = 0.0) -> dict[str, Any]:
    """A final assistant answer."""
    return {"kind": "message", "content": content, "tool_calls": [], "usage": usage, "delay": delay}


def tool_calls(*calls: tuple[str, Any], content: str | None = None, usage: tuple[int, int] = (10, 5),
               delay: float = 0.0) -> dict[str, Any]:
    """An assistant message calling tools: each call is (name, arguments dict — or a raw string)."""
    return {"kind": "message", "content": content, "usage": usage, "delay": delay,
            "tool_calls": [(name, args if isinstance(args, str) else json.dumps(args)) for name, args in calls]}


def error(status: int, message: str, *, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An HTTP error with an OpenAI-shaped body."""
    return {"kind": "error", "status": status, "message": message, "headers": headers or {}}


class OpenAIStub:
    """The server (uvicorn in a thread of its own); `script`, `requests` and `reset` are thread-safe enough."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.requests: list[dict[str, Any]] = []
        self._script: deque[dict[str, Any]] = deque()
        self._ids = 0
        app = Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> OpenAIStub:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("openai stub did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def script(self, *entries: dict[str, Any]) -> None:
        self.reset()
        self._script.extend(entries)

    def reset(self) -> None:
        self._script.clear()
        self.requests.clear()

    @property
    def remaining(self) -> int:
        return len(self._script)

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"body": body, "headers": dict(request.headers)})
        if not self._script:
            return JSONResponse({"error": {"message": "script exhausted", "type": "server_error"}}, status_code=500)
        entry = self._script.popleft()
        if entry.get("delay"):
            import anyio

            await anyio.sleep(entry["delay"])
        if entry["kind"] == "error":
            return JSONResponse({"error": {"message": entry["message"], "type": "stub_error", "code": None}},
                                status_code=entry["status"], headers=entry["headers"])
        self._ids += 1
        cid = f"chatcmpl-{self._ids}"
        calls = [{"id": f"call_{self._ids}_{i}", "type": "function", "function": {"name": n, "arguments": a}}
                 for i, (n, a) in enumerate(entry["tool_calls"])]
        finish = "tool_calls" if calls else "stop"
        prompt, completion = entry["usage"]
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        model = body.get("model", "stub")
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": entry["content"]}
            if calls:
                message["tool_calls"] = calls
            return JSONResponse({"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
                                 "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                                 "usage": usage})
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(self._chunks(cid, model, entry["content"], calls, finish, usage, include_usage),
                                 media_type="text/event-stream")

    @staticmethod
    async def _chunks(cid: str, model: str, content: str | None, calls: list[dict[str, Any]], finish: str,
                      usage: dict[str, int], include_usage: bool) -> Any:
        def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> str:
            data = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **extra}
            return f"data: {json.dumps(data)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        if content:
            half = len(content) // 2
            yield chunk({"content": content[:half]})
            yield chunk({"content": content[half:]})
        for i, call in enumerate(calls):
            args = call["function"]["arguments"]
            half = len(args) // 2
            yield chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                         "function": {"name": call["function"]["name"], "arguments": args[:half]}}]})
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]})
        yield chunk({}, finish)
        if include_usage:
            data = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                    "choices": [], "usage": usage}
            yield f"data: {json.dumps(data)}\n\n"
        yield "data: [DONE]\n\n"
