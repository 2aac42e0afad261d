"""meta-mcp's stdio wire, driven byte by byte.

- Malformed input (not JSON, invalid UTF-8, JSON that is not a valid request) gets JSON-RPC error
  responses (-32700 parse error with ``id: null``; -32600 / -32602 with the request's id when it can be
  read; -32601 for unknown methods) and the server keeps serving.
- stdout carries only protocol: every line meta-mcp writes is a JSON-RPC 2.0 message, even at DEBUG log
  level while upstreams write to their own stderr and crash. Logs go to stderr.
- EOF on stdin shuts meta-mcp down (exit code 0).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from support import REPO, serve_argv, temp_config, upstream_entry

pytestmark = pytest.mark.anyio

SERVERS = {"rich": upstream_entry("rich"), "crashy": upstream_entry("crashy", timeout=5)}
HANDSHAKE = "2025-11-25"


class RawStdio:
    """meta-mcp over stdio with direct access to the bytes."""

    def __init__(self, proc: Process, stderr_path: str) -> None:
        self.proc = proc
        self.stderr_path = stderr_path
        assert proc.stdout is not None and proc.stdin is not None
        self._out = BufferedByteReceiveStream(proc.stdout)
        self.lines: list[bytes] = []  # every line meta-mcp wrote to stdout, raw
        self.pending: list[dict[str, Any]] = []  # parsed messages not consumed yet

    def stderr_text(self) -> str:
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    async def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        await self.proc.stdin.send(data)

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(message).encode() + b"\n")

    def peak_rss(self) -> int:
        """meta-mcp's peak resident set size so far (VmHWM), in bytes."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

    async def _read_line(self) -> dict[str, Any]:
        line = await self._out.receive_until(b"\n", 64 * 1024 * 1024)
        self.lines.append(line)
        try:
            msg = json.loads(line)
        except ValueError:
            raise AssertionError(f"meta-mcp wrote a non-JSON line to stdout: {line[:300]!r}") from None
        return msg

    async def next_response(self, timeout: float = 10.0, *, what: str = "a response") -> dict[str, Any]:
        """The next message that is a response (has result or error), skipping notifications/requests."""
        try:
            with anyio.fail_after(timeout):
                while True:
                    msg = await self._read_line()
                    if isinstance(msg, dict) and ("result" in msg or "error" in msg):
                        return msg
                    if isinstance(msg, list):  # a batch response
                        return {"batch": msg}
                    self.pending.append(msg)
        except TimeoutError:
            raise AssertionError(
                f"no JSON-RPC response within {timeout}s for {what}; process alive={self.proc.returncode is None}\n"
                f"--- stderr tail ---\n{self.stderr_text()[-3000:]}"
            ) from None

    async def request(self, id_: int, method: str, params: dict[str, Any] | None = None, timeout: float = 20.0) -> dict[str, Any]:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            msg["params"] = params
        await self.send(msg)
        while True:
            resp = await self.next_response(timeout, what=f"{method} (id {id_})")
            if resp.get("id") == id_:
                return resp

    async def initialize(self) -> dict[str, Any]:
        resp = await self.request(
            1,
            "initialize",
            {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "raw-test", "version": "0"}},
        )
        assert "result" in resp, resp
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return resp

    async def drain_to_eof(self, timeout: float = 15.0) -> None:
        with anyio.fail_after(timeout):
            while True:
                try:
                    await self._read_line()
                except (anyio.EndOfStream, anyio.IncompleteRead, anyio.ClosedResourceError):
                    return


@asynccontextmanager
async def raw_meta(servers: dict[str, Any], log_level: str = "INFO", env: dict[str, str] | None = None
                   ) -> AsyncIterator[RawStdio]:
    """meta-mcp over stdio with `servers`; `env` adds to its environment (META_MCP_* settings)."""
    config = temp_config(servers)
    stderr = tempfile.NamedTemporaryFile(prefix="meta-mcp-raw-", suffix=".stderr", delete=False)
    proc = await anyio.open_process(
        serve_argv(config, log_level=log_level),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=REPO,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    raw = RawStdio(proc, stderr.name)
    try:
        yield raw
    finally:
        if proc.returncode is None:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            with anyio.move_on_after(3):
                await proc.wait()
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with anyio.move_on_after(3):
            await proc.wait()
        stderr.close()
        with suppress(OSError):
            os.unlink(stderr.name)


def _error(resp: dict[str, Any]) -> dict[str, Any]:
    assert "error" in resp, f"expected a JSON-RPC error, got {resp}"
    assert resp.get("jsonrpc") == "2.0", resp
    err = resp["error"]
    assert isinstance(err.get("code"), int) and isinstance(err.get("message"), str), resp
    return err


async def _assert_still_serving(raw: RawStdio, id_: int) -> None:
    resp = await raw.request(id_, "tools/list", {})
    assert "result" in resp, resp
    names = {t["name"] for t in resp["result"]["tools"]}
    assert "rich__echo" in names, sorted(names)
    resp = await raw.request(id_ + 1, "tools/call", {"name": "rich__echo", "arguments": {"value": "still alive"}})
    assert resp["result"]["structuredContent"] == {"value": "still alive"}, resp
    assert raw.proc.returncode is None


async def _wait_rich_ready(raw: RawStdio, first_id: int) -> int:
    """Poll tools/list until rich's tools are there; return the next free id."""
    id_ = first_id
    with anyio.fail_after(30):
        while True:
            resp = await raw.request(id_, "tools/list", {})
            id_ += 1
            if any(t["name"] == "rich__echo" for t in resp.get("result", {}).get("tools", [])):
                return id_
            await anyio.sleep(0.1)


async def test_malformed_input_after_initialize_gets_jsonrpc_errors() -> None:
    async with raw_meta(SERVERS) as raw:
        await raw.initialize()
        next_id = await _wait_rich_ready(raw, 100)

        await raw.send_raw(b"this is not json\n")
        err = _error(resp := await raw.next_response(what="garbage line"))
        assert err["code"] == -32700 and resp.get("id") is None, resp

        await raw.send_raw(b'{"jsonrpc": "2.0", "id": 5, "method": "tools/list"\n')  # truncated JSON
        err = _error(resp := await raw.next_response(what="truncated JSON"))
        assert err["code"] == -32700 and resp.get("id") is None, resp

        await raw.send_raw(b"\xff\xfe\xfd not utf-8 \x80\n")
        err = _error(resp := await raw.next_response(what="invalid UTF-8"))
        assert err["code"] == -32700, resp

        await raw.send_raw(b'{"jsonrpc": "2.0", "id": 7, "method": 42}\n')
        err = _error(resp := await raw.next_response(what="method is not a string"))
        assert err["code"] == -32600 and resp.get("id") == 7, resp

        await raw.send_raw(b'{"id": 8, "method": "tools/list"}\n')
        err = _error(resp := await raw.next_response(what="missing jsonrpc member"))
        assert err["code"] == -32600 and resp.get("id") == 8, resp

        await raw.send_raw(b'"just a string"\n')
        err = _error(resp := await raw.next_response(what="a JSON string"))
        assert err["code"] == -32600 and resp.get("id") is None, resp

        resp = await raw.request(9, "tools/call", {"name": "rich__echo", "arguments": "not an object"})
        err = _error(resp)
        assert err["code"] in (-32602, -32600), resp

        resp = await raw.request(10, "no/such/method", {})
        assert _error(resp)["code"] == -32601, resp

        await _assert_still_serving(raw, next_id)


async def test_malformed_input_before_initialize_does_not_break_the_handshake() -> None:
    async with raw_meta(SERVERS) as raw:
        await raw.send_raw(b"{{{{ definitely not json\n")
        err = _error(resp := await raw.next_response(what="garbage before initialize"))
        assert err["code"] == -32700 and resp.get("id") is None, resp
        await raw.send_raw(b'{"jsonrpc": "2.0", "id": "x", "method": null}\n')
        err = _error(resp := await raw.next_response(what="null method before initialize"))
        assert err["code"] == -32600 and resp.get("id") == "x", resp

        init = await raw.initialize()
        assert init["result"]["protocolVersion"] == HANDSHAKE
        assert init["result"]["capabilities"]["tools"]["listChanged"] is True, init
        next_id = await _wait_rich_ready(raw, 100)
        await _assert_still_serving(raw, next_id)


async def test_stdout_carries_only_jsonrpc_even_at_debug_level() -> None:
    async with raw_meta(SERVERS, log_level="DEBUG") as raw:
        await raw.initialize()
        id_ = await _wait_rich_ready(raw, 100)
        # Exercise a bit of everything: progress notifications, resources, prompts, an upstream crash
        # (the upstream writes to its stderr as it dies), and an error result.
        resp = await raw.request(
            id_, "tools/call", {"name": "rich__progress", "arguments": {"steps": 3}, "_meta": {"progressToken": "p1"}}
        )
        assert resp["result"]["content"][0]["text"] == "done 3", resp
        progress = [m for m in raw.pending if m.get("method") == "notifications/progress"]
        assert [p["params"]["progress"] for p in progress] == [1, 2, 3], raw.pending
        assert all(p["params"]["progressToken"] == "p1" for p in progress), progress
        assert "result" in await raw.request(id_ + 1, "resources/list", {})
        assert "result" in await raw.request(id_ + 2, "prompts/list", {})
        resp = await raw.request(id_ + 3, "tools/call", {"name": "crashy__crash", "arguments": {}})
        assert resp["result"]["isError"] is True, resp
        resp = await raw.request(id_ + 4, "tools/call", {"name": "rich__fail", "arguments": {"message": "x"}})
        assert resp["result"]["isError"] is True, resp

        assert raw.proc.stdin is not None
        await raw.proc.stdin.aclose()  # EOF: meta-mcp should shut down, closing stdout
        await raw.drain_to_eof()

        assert raw.lines, "nothing on stdout"
        for line in raw.lines:
            msg = json.loads(line)
            assert isinstance(msg, dict) and msg.get("jsonrpc") == "2.0", f"not a JSON-RPC message: {line[:300]!r}"
            assert ("method" in msg) or ("id" in msg and ("result" in msg or "error" in msg)), line[:300]
        assert raw.stderr_text().strip(), "DEBUG logging produced nothing on stderr"

        # EOF on stdin is a clean shutdown.
        with anyio.fail_after(15):
            code = await raw.proc.wait()
        assert code == 0, f"exit code {code} after EOF on stdin\n{raw.stderr_text()[-2000:]}"


async def test_requests_with_invalid_ids_batches_and_bad_members_are_answered() -> None:
    """Regression (issue 9): a request whose id is not a string or an integer was read as a notification
    and never answered — the client waited forever. JSON-RPC: -32600 with id null."""
    async with raw_meta(SERVERS) as raw:
        await raw.initialize()
        next_id = await _wait_rich_ready(raw, 100)
        for bad_id in ('{"x": 1}', "true", "1.5", "[1]", "null", "123456789012345678901234567890"):
            await raw.send_raw(b'{"jsonrpc": "2.0", "id": %s, "method": "ping"}\n' % bad_id.encode())
            err = _error(resp := await raw.next_response(what=f"id {bad_id}"))
            assert err["code"] == -32600 and resp["id"] is None and "id must be" in err["message"], resp

        await raw.send_raw(b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]\n')
        err = _error(resp := await raw.next_response(what="a batch"))
        assert err["code"] == -32600 and resp["id"] is None and "batch" in err["message"], resp

        await raw.send_raw(b'{"jsonrpc": "1.0", "id": 11, "method": "ping"}\n')
        err = _error(resp := await raw.next_response(what='jsonrpc "1.0"'))
        assert err["code"] == -32600 and resp["id"] == 11 and "jsonrpc" in err["message"], resp

        for params in ("3", '"text"', "[1, 2]"):
            await raw.send_raw(b'{"jsonrpc": "2.0", "id": 12, "method": "ping", "params": %s}\n' % params.encode())
            err = _error(resp := await raw.next_response(what=f"params {params}"))
            assert err["code"] == -32602 and resp["id"] == 12 and "params" in err["message"], resp

        resp = await raw.request(2**63 - 1, "ping")  # the largest id accepted is answered as usual
        assert resp["result"] == {}, resp
        await _assert_still_serving(raw, next_id)
