"""stdio upstreams as child processes: spawning (possibly ahead of time) and the pipe transport.

Why not the SDK's `stdio_client`: meta-mcp's cold start is its own import time plus the upstream's.
To overlap the two, the CLI spawns configured stdio servers before it imports anything heavy
(`Prespawned.start`, stdlib only) and the provider later adopts the running process
(`Prespawned.launch`). That needs a transport over an existing process, which the SDK does not
offer; `pipe_transport` is that transport (newline-delimited JSON-RPC over the child's stdin/stdout,
stderr inherited), used for every stdio upstream so there is one code path. Shutdown follows the
spec: close stdin, wait, then SIGTERM and SIGKILL the child's process group.

Every line the server writes is bounded by a `MessageLimit` (`max_upstream_message_bytes`): a line
over it, in size or in JSON elements, ends the connection with that reason (the supervisor restarts
the server), before anything is parsed.

The environment a child inherits (`child_env`) is a safe subset of the one the CLI passes in
(`Prespawned(environ)`); nothing here reads `os.environ`.

Example:
    launcher = Prespawned(os.environ)                      # in the CLI
    proc = launcher.launch("uvx", ["mcp-server-time"], env={}, cwd=None)
    async with pipe_transport(proc, limit, on_end=print) as (read, write):
        ...
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

from meta_mcp.pipes import MessageLimit, MessageTooLarge, id_problem, pipe_streams, read_line

INHERITED_ENV = (
    "HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "TMPDIR",
    # How this machine reaches the network: CA bundles and proxies. `uvx` / `npx` servers download
    # their packages at start and fail with a TLS error without them.
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    # Which Docker engine the `docker` client of image entries talks to.
    "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY",
)
INHERITED_PREFIXES = ("UV_", "PIP_", "NPM_CONFIG_", "npm_config_", "XDG_")
"""Variables a child inherits from meta-mcp's environment; everything else comes from its spec's `env`.

The SDK's safe set (`get_default_environment`) plus locale, network trust/proxy settings and the
package managers' own configuration (uv, pip, npm), which `uvx` / `npx` launches need. Anything else
in meta-mcp's environment — API keys above all — does not leak into every server it starts; a server
gets its secrets only through its own `env` (catalog entries: the secrets they declare)."""

logger = logging.getLogger(__name__)

_EXIT_GRACE = 2.0


def child_env(env: Mapping[str, str] | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a stdio upstream: the safe part of `environ` (meta-mcp's), then its own `env`."""
    base = {
        k: v for k, v in environ.items()
        if (k in INHERITED_ENV or k.startswith(INHERITED_PREFIXES)) and not v.startswith("()")
    }
    return base | dict(env or {})


def spawn(argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None, environ: Mapping[str, str]
          ) -> subprocess.Popen[bytes]:
    """Start a stdio upstream in its own process group, stderr going to ours (never to stdout)."""
    return subprocess.Popen(
        list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr.fileno(),
        env=child_env(env, environ), cwd=cwd or None, start_new_session=True, bufsize=0,
    )


class Prespawned:
    """Starts stdio servers with the environment it was given: ahead of time (`start`, before the event
    loop, from the CLI) or when a provider needs one (`launch`, which adopts a matching early one)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        """meta-mcp's environment, of which children inherit the safe part (`child_env`)."""
        self._children: dict[tuple[Any, ...], subprocess.Popen[bytes]] = {}

    @staticmethod
    def key(command: str, args: Sequence[str], env: Mapping[str, str] | None, cwd: str | None) -> tuple[Any, ...]:
        return (command, tuple(args), tuple(sorted((env or {}).items())), cwd or None)

    def start(self, command: str, args: Sequence[str], env: Mapping[str, str] | None, cwd: str | None) -> None:
        key = self.key(command, args, env, cwd)
        if key in self._children:
            return
        try:
            self._children[key] = spawn([command, *args], env, cwd, self.environ)
        except OSError:
            pass  # the provider spawns again and reports the error with the server's name

    def launch(self, command: str, args: Sequence[str], env: Mapping[str, str] | None, cwd: str | None
               ) -> subprocess.Popen[bytes]:
        """The still-running early process for this launch (handed over once), else a new one."""
        proc = self._children.pop(self.key(command, args, env, cwd), None)
        if proc is not None and proc.poll() is None:
            return proc
        return spawn([command, *args], env, cwd, self.environ)

    def kill_unclaimed(self) -> None:
        for proc in self._children.values():
            _signal_group(proc, signal.SIGKILL)
        self._children.clear()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@asynccontextmanager
async def pipe_transport(proc: subprocess.Popen[bytes], limit: MessageLimit, on_end: Callable[[str], None]
                         ) -> AsyncIterator[tuple[Any, Any]]:
    """Client transport streams over a child's stdin/stdout; stops the child on exit.

    When the child writes a line over `limit`, `on_end` gets the reason before the read stream closes,
    and so before any call in flight learns of it.
    """
    import anyio
    import mcp_types as types
    from mcp.shared.message import SessionMessage

    assert proc.stdin is not None and proc.stdout is not None
    reader, writer, _ = await pipe_streams(proc.stdout, proc.stdin, limit.max_bytes)

    read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)

    async def read_lines() -> None:
        async with read_send:
            while True:
                try:
                    line = await read_line(reader, limit)
                    if not line:
                        return  # EOF: the process exited or closed stdout
                    if not line.strip():
                        continue
                    limit.check(line)
                except MessageTooLarge as exc:
                    on_end(f"sent {exc}")
                    return
                answer = None  # for the server itself: its request had an id meta-mcp cannot answer to
                try:
                    message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                    item: SessionMessage | Exception = SessionMessage(message)
                except ValueError as exc:
                    item = exc
                else:
                    if (problem := id_problem(message, line)) is not None:  # answered here: it needs the line
                        logger.warning("stdio server %s (pid %d) sent a request with a bad id: %s",
                                       proc.args[0] if isinstance(proc.args, list) else proc.args, proc.pid, problem)
                        error = types.ErrorData(code=types.INVALID_REQUEST, message=f"Invalid Request: {problem}")
                        answer = SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=None, error=error))
                try:
                    await (write_send.send(answer) if answer is not None else read_send.send(item))
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    return

    async def write_lines() -> None:
        async with write_recv:
            async for message in write_recv:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
                try:
                    writer.write(data)
                    await writer.drain()
                except (ConnectionError, OSError):
                    await read_send.aclose()
                    return

    async with anyio.create_task_group() as tg:
        tg.start_soon(read_lines)
        tg.start_soon(write_lines)
        try:
            yield read_recv, write_send
        finally:
            with anyio.CancelScope(shield=True):
                await write_send.aclose()
                writer.close()
                await _stop(proc)
            tg.cancel_scope.cancel()
            writer.transport.close()


async def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Close stdin, give the child a moment, then SIGTERM and SIGKILL its process group."""
    import anyio

    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            _signal_group(proc, sig)
        with anyio.move_on_after(_EXIT_GRACE):
            while proc.poll() is None:
                await anyio.sleep(0.02)  # Popen offers no awaitable exit; polling is bounded
        if proc.poll() is not None:
            break
    _signal_group(proc, signal.SIGKILL)  # children the server left behind in its group
