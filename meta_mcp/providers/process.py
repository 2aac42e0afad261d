"""stdio upstreams as child processes: spawning (possibly ahead of time), their stderr, and the pipe transport.

Why not the SDK's `stdio_client`: meta-mcp's cold start is its own import time plus the upstream's.
To overlap the two, the CLI spawns configured stdio servers before it imports anything heavy
(`Prespawned.start`, stdlib only) and the provider later adopts the running process
(`Prespawned.launch`). That needs a transport over an existing process, which the SDK does not
offer; `pipe_transport` is that transport (newline-delimited JSON-RPC over the child's stdin/stdout),
used for every stdio upstream so there is one code path. Shutdown follows the spec: close stdin,
wait, then SIGTERM and SIGKILL the child's process group.

A child's stderr is read by a thread of its own (`StderrTail`): every line goes on to meta-mcp's
stderr as before, and the last lines are kept, so when the server exits the error can say how
(`Child.ended`: exit code or signal, and the tail of its stderr).

Every line the server writes is bounded by a `MessageLimit` (`max_upstream_message_bytes`): a line
over it, in size or in JSON elements, ends the connection with that reason (the supervisor restarts
the server), before anything is parsed.

The environment a child inherits (`child_env`) is a safe subset of the one the CLI passes in
(`Prespawned(environ)`); nothing here reads `os.environ`.

Example:
    launcher = Prespawned(os.environ)                      # in the CLI
    child = launcher.launch("uvx", ["mcp-server-time"], env={}, cwd=None)
    async with pipe_transport(child, limit, on_end=print) as (read, write):
        ...
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any

from meta_mcp.pipes import MessageLimit, MessageTooLarge, id_problem, pipe_streams, read_line
from meta_mcp.providers.isolation import isolate

if TYPE_CHECKING:
    from meta_mcp.providers.era import ClientEra
    from meta_mcp.settings import Settings

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
_ENDED_WAIT = 1.0
"""How long `Child.ended` waits for the process to exit and its stderr to close after stdout ended."""


def child_env(env: Mapping[str, str] | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a stdio upstream: the safe part of `environ` (meta-mcp's), then its own `env`."""
    base = {
        k: v for k, v in environ.items()
        if (k in INHERITED_ENV or k.startswith(INHERITED_PREFIXES)) and not v.startswith("()")
    }
    return base | dict(env or {})


class StderrTail:
    """A child's stderr, forwarded line by line to ours by a thread, with its last lines kept.

    Lines are cut at `LINE_BYTES` (a longer one continues as the next line); the ring buffer holds
    `LINES` of them, so what an exiting server printed last is there for the error message.
    """

    LINES = 20
    LINE_BYTES = 2000

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe
        self._lines: collections.deque[str] = collections.deque(maxlen=self.LINES)
        self._lock = threading.Lock()
        self.closed = threading.Event()
        """Set when the child's stderr reached EOF (the child and everything it started are gone)."""
        threading.Thread(target=self._pump, name="upstream-stderr", daemon=True).start()

    def _pump(self) -> None:
        try:
            while chunk := self._pipe.readline(self.LINE_BYTES):
                _write_stderr(chunk)
                text = chunk.decode("utf-8", "replace").rstrip()
                if text:
                    with self._lock:
                        self._lines.append(text)
        except (OSError, ValueError):
            pass  # the pipe was closed under us
        finally:
            with suppress(OSError):
                self._pipe.close()
            self.closed.set()

    def lines(self) -> list[str]:
        """The last lines the child wrote to stderr, oldest first."""
        with self._lock:
            return list(self._lines)


def _write_stderr(data: bytes) -> None:
    with suppress(OSError):
        while data:
            data = data[os.write(2, data):]


class Child:
    """A running stdio server: its process and the tail of its stderr."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        assert proc.stderr is not None
        self.stderr = StderrTail(proc.stderr)

    async def ended(self, wait: float = _ENDED_WAIT) -> str:
        """How the child ended, once its stdout has: "exited with code 3; its stderr ended with: …".

        Waits up to `wait` seconds for the process to exit and its stderr to close (so the last lines
        are in), and says what it found.
        """
        import anyio

        with anyio.move_on_after(wait):
            while self.proc.poll() is None or not self.stderr.closed.is_set():
                await anyio.sleep(0.02)  # Popen offers no awaitable exit; polling is bounded
        code = self.proc.poll()
        if code is None:
            how = "closed its stdout"
        elif code < 0:
            how = f"was killed by signal {_signal_name(-code)}"
        else:
            how = f"exited with code {code}"
        tail = " | ".join(self.stderr.lines()[-5:])
        return f"{how}; its stderr ended with: {tail[-1000:]}" if tail else f"{how} (nothing on its stderr)"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def spawn(argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None, environ: Mapping[str, str],
          settings: Settings | None = None) -> Child:
    """Start a stdio upstream in its own process group (under bubblewrap when `settings.isolate_stdio`);
    its stderr goes to ours through a `StderrTail`."""
    proc = subprocess.Popen(
        isolate(argv, cwd, settings), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=child_env(env, environ), cwd=cwd or None, start_new_session=True, bufsize=0,
    )
    return Child(proc)


class Prespawned:
    """Starts stdio servers with the environment it was given: ahead of time (`start`, before the event
    loop, from the CLI) or when a provider needs one (`launch`, which adopts a matching early one)."""

    def __init__(self, environ: Mapping[str, str], settings: Settings | None = None) -> None:
        self.environ = environ
        """meta-mcp's environment, of which children inherit the safe part (`child_env`)."""
        self.settings = settings
        """Set by the CLI once Settings exist: `launch` then isolates servers when `isolate_stdio` is on (the
        CLI starts no early process in that case)."""
        self.client_era: ClientEra | None = None
        """Set by `surface.run.serve_stdio`: the era of the one client this process serves over stdio, which
        stdio servers on `follow` (`stdio_upstream_protocol`) are spoken to in."""
        self._children: dict[tuple[Any, ...], Child] = {}

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

    def launch(self, command: str, args: Sequence[str], env: Mapping[str, str] | None, cwd: str | None) -> Child:
        """The still-running early process for this launch (handed over once), else a new one."""
        child = self._children.pop(self.key(command, args, env, cwd), None)
        if child is not None and child.proc.poll() is None:
            return child
        return spawn([command, *args], env, cwd, self.environ, self.settings)

    def kill_unclaimed(self) -> None:
        for child in self._children.values():
            _signal_group(child.proc, signal.SIGKILL)
        self._children.clear()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@asynccontextmanager
async def pipe_transport(child: Child, limit: MessageLimit, on_end: Callable[[str], None], *, direct: bool = False
                         ) -> AsyncIterator[tuple[Any, ...]]:
    """Client transport streams over a child's stdin/stdout; stops the child on exit.

    When the child's stdout ends, or it writes a line over `limit`, `on_end` gets the reason (see
    `Child.ended`) before the read stream closes, and so before any call in flight learns of it.
    With `direct`, a third item: the poster of a `LeanChannel` (its requests are written from the
    caller's task, and plain successes and progress for them skip the message model; see `_Pipe`).
    """
    import anyio

    proc = child.proc
    assert proc.stdin is not None and proc.stdout is not None
    reader, writer, _ = await pipe_streams(proc.stdout, proc.stdin, limit.max_bytes)
    pipe = _Pipe(child, limit, on_end, reader, writer)
    async with anyio.create_task_group() as tg:
        tg.start_soon(pipe.read_lines)
        tg.start_soon(pipe.write_lines)
        try:
            yield (pipe.read_recv, pipe.write_send, pipe) if direct else (pipe.read_recv, pipe.write_send)
        finally:
            pipe.closing = True
            with anyio.CancelScope(shield=True):
                await pipe.write_send.aclose()
                writer.close()
                await _stop(proc)
            tg.cancel_scope.cancel()
            writer.transport.close()


class _Pipe:
    """The two pumps of a `pipe_transport`: the child's stdout, line by line, to the read stream (`read_recv`),
    and the write stream (`write_send`) to its stdin.

    Attached to a `LeanChannel` (`attach`), it is also the channel's poster: a lean request is written to
    stdin by its caller (`post`), whole, after whatever the write pump has already written, and a line that
    is a plain success or progress for a lean request waiting for it goes to the channel as sent
    (`deliver_line`), never through the message model and the read stream; every other line goes the usual
    way, and its receiver runs before the next line is read (so an answer never overtakes it).
    """

    def __init__(self, child: Child, limit: MessageLimit, on_end: Callable[[str], None], reader: Any,
                 writer: Any) -> None:
        import anyio
        from mcp.shared.message import SessionMessage

        self.child = child
        self.limit = limit
        self.on_end = on_end
        self.reader = reader
        self.writer = writer
        self.read_send, self.read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        self.write_send, self.write_recv = anyio.create_memory_object_stream[SessionMessage](0)
        self.closing = False
        """Set once we stop the child: its exit is ours, not news."""
        self.lean: Any = None

    def attach(self, lean: Any) -> None:
        """Hand plain successes for `lean`'s requests straight to it."""
        self.lean = lean

    async def post(self, message: Any) -> None:
        """Write `message` (a `SessionMessage`) to the child's stdin now; a broken pipe ends the connection."""
        await self._write(message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n")

    async def _write(self, data: bytes) -> bool:
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            await self.read_send.aclose()
            return False
        return True

    async def read_lines(self) -> None:
        """Pass each message the child writes on (a bad-id request is answered to the child instead)."""
        import anyio
        import anyio.lowlevel

        async with self.read_send:
            while (line := await self._next_line()) is not None:
                if self.lean is not None and self.lean.deliver_line(line):
                    continue
                item, answer = self._parse(line)
                try:
                    await (self.write_send.send(answer) if answer is not None else self.read_send.send(item))
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    return
                if self.lean is not None:  # its receiver runs first: a lean answer read next cannot overtake it
                    await anyio.lowlevel.cancel_shielded_checkpoint()

    async def _next_line(self) -> bytes | None:
        """The child's next non-blank line within the limit; None once the connection ended (`on_end` was
        told why, unless we are closing it)."""
        while True:
            try:
                line = await read_line(self.reader, self.limit)
                if not line:  # EOF: the process exited or closed stdout
                    reason = await self.child.ended()
                    if not self.closing:
                        self.on_end(reason)
                    return None
                if not line.strip():
                    continue
                self.limit.check(line)
                return line
            except MessageTooLarge as exc:
                self.on_end(f"sent {exc}")
                return None

    def _parse(self, line: bytes) -> tuple[Any, Any]:
        """(what the read stream gets: a `SessionMessage` or the parse error, and an answer for the server
        itself, or None): a request whose id meta-mcp cannot answer to is answered here (it needs the line)."""
        import mcp_types as types
        from mcp.shared.message import SessionMessage

        try:
            message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            item: SessionMessage | Exception = SessionMessage(message)
        except ValueError as exc:
            return exc, None  # the connection's read stream answers or reports it (providers/connect.py)
        if (problem := id_problem(message, line)) is None:
            return item, None
        proc = self.child.proc
        logger.warning("stdio server %s (pid %d) sent a request with a bad id: %s",
                       proc.args[0] if isinstance(proc.args, list) else proc.args, proc.pid, problem)
        error = types.ErrorData(code=types.INVALID_REQUEST, message=f"Invalid Request: {problem}")
        return item, SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=None, error=error))

    async def write_lines(self) -> None:
        """Write each message to the child's stdin, one line each; a broken pipe closes the read stream."""
        async with self.write_recv:
            async for message in self.write_recv:
                if not await self._write(message.message.model_dump_json(by_alias=True, exclude_unset=True).encode()
                                         + b"\n"):
                    return


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
