"""One run's conversation with its Deno process: give it the run, serve its tool calls, enforce the limits.

`Session(process, code, …).execute()` writes the user's module into the process's run directory,
sends the `init` line (the process has seen nothing of the run before this), serves the bridge
(console output, tool calls) until the result arrives, a limit is hit or the process ends, then
kills the process group and reports a `RunResult`. The process is never used again.
"""

from __future__ import annotations

import json
import re
import secrets
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
from anyio.abc import TaskGroup

from meta_mcp.services.sandbox import bridge
from meta_mcp.services.sandbox.names import ToolBinding, ToolTable
from meta_mcp.services.sandbox.process import PRELUDE, DenoProcess, receive, send_all

STDERR_KEEP = 64 * 1024
_MEMORY_ERRORS = re.compile(
    r"Array buffer allocation failed|Invalid array buffer length|Unable to grow instance memory|out of memory",
    re.IGNORECASE,
)
_OWN_FRAMES = re.compile(r"^\s+at .*\b(?:prelude|main)\.ts:\d+:\d+\)?$\n?", re.MULTILINE)

ToolCaller = Callable[[ToolBinding, dict[str, Any]], Awaitable[dict[str, Any]]]
"""Makes one tool call for the sandbox: returns the `CallToolResult` wire dict or raises."""

LimitName = Literal["time", "memory", "output", "tool_calls", "message", "received"]


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """The limits of one run (defaults are the settings' defaults)."""

    timeout_s: float = 30.0
    heap_mb: int = 128
    data_mb: int = 1024
    max_output_bytes: int = 100_000
    max_tool_calls: int = 100
    max_message_bytes: int = 4 << 20
    """One message from the process (a tool call's arguments, console output, the result)."""
    max_message_values: int = 100_000
    """JSON values (objects, arrays, their elements) in one message: what decoding it costs."""
    max_received_bytes: int = 64 << 20
    """Everything meta-mcp reads from the process's stdout in one run."""
    max_calls_in_flight: int = 8
    """Tool calls of one run being served at once; more wait (meta-mcp stops reading meanwhile)."""


@dataclass
class RunResult:
    """How a run ended. `ok`: `value` is the default export; otherwise `error` says why (and `limit` which)."""

    ok: bool
    value: Any = None
    console: str = ""
    tool_calls: int = 0
    duration_ms: float = 0.0
    error: str | None = None
    error_kind: Literal["code", "limit", "denied", "sandbox"] | None = None
    limit: LimitName | None = None


@dataclass
class Session:
    process: DenoProcess
    code: str
    table: ToolTable
    call_tool: ToolCaller
    limits: SandboxLimits
    javascript: bool = False
    nonce: str = field(default_factory=lambda: secrets.token_hex(bridge.NONCE_BYTES))
    console: list[str] = field(default_factory=list)
    output_bytes: int = 0
    received_bytes: int = 0
    calls: int = 0
    stderr: bytearray = field(default_factory=bytearray)
    outcome: RunResult | None = None
    _tg: TaskGroup = field(init=False)
    _send_lock: anyio.Lock = field(default_factory=anyio.Lock, init=False)
    _in_flight: anyio.Semaphore = field(init=False)
    _stderr_read: anyio.Event = field(default_factory=anyio.Event, init=False)

    @property
    def user(self) -> Path:
        return self.process.user_file(self.javascript)

    @property
    def silent(self) -> bool:
        """Nothing came back from the process and no call was made: the code had no effect outside it."""
        return self.received_bytes == 0 and self.calls == 0 and not self.stderr

    async def execute(self) -> RunResult:
        process = self.process
        try:
            with open(self.user, "x", encoding="utf-8") as f:  # never existed before: the process had not seen it
                f.write(self.code)
            stdin, stdout, stderr = process.fds()
            with anyio.move_on_after(self.limits.timeout_s) as deadline:
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    tg.start_soon(self._read_stderr, stderr)
                    await self._send(bridge.init_line(self.nonce, self.table.manifest(), javascript=self.javascript))
                    await self._read_stdout(stdout)
                    if self.outcome is None:  # stdout ended without a result: let the process finish, and
                        with anyio.move_on_after(2):  # read what it said on stderr (why it ended) to the end
                            await process.wait()
                            await self._stderr_read.wait()
                    tg.cancel_scope.cancel()
            if deadline.cancelled_caught and self.outcome is None:
                self._stop("time", f"time limit exceeded: the code was still running after timeout_s="
                           f"{self.limits.timeout_s:g} s")
        finally:
            with anyio.CancelScope(shield=True):
                process.kill()
                await process.wait()
                process.close()
        return self.outcome or self._exit_outcome(process.returncode)

    # -- reading the process ------------------------------------------------------------------------

    async def _read_stdout(self, fd: int) -> None:
        limits = self.limits
        framing = bridge.Framing(self.nonce, max_bytes=limits.max_message_bytes, max_values=limits.max_message_values)
        self._in_flight = anyio.Semaphore(max(1, limits.max_calls_in_flight))
        while self.outcome is None:
            try:
                chunk = await receive(fd)
            except OSError:
                chunk = b""
            if not chunk:
                rest = framing.rest()
                if rest:
                    self._output(rest.decode(errors="replace"))
                return
            self.received_bytes += len(chunk)
            if self.received_bytes > limits.max_received_bytes:
                self._stop("received", f"received limit exceeded: the code sent meta-mcp more than "
                           f"{limits.max_received_bytes} bytes in all (sandbox_max_received_bytes="
                           f"{limits.max_received_bytes}: tool calls with their arguments, console output, the result)")
                return
            framing.feed(chunk)
            while self.outcome is None:
                try:
                    item = framing.next()
                except bridge.MessageTooLarge as exc:
                    setting = f"sandbox_{exc.setting}={getattr(limits, exc.setting)}"
                    self._stop("message", f"message limit exceeded: {exc} ({setting}; a message is one tool call "
                               "with its arguments, one piece of console output, or the result)")
                    return
                except bridge.ProtocolError as exc:
                    self.outcome = RunResult(False, console=self._console(), tool_calls=self.calls,
                                             error=f"sandbox protocol error: {exc}", error_kind="sandbox")
                    return
                if item is None:
                    break
                if isinstance(item, bytes):
                    self._output(item.decode(errors="replace"))
                elif isinstance(item, bridge.Output):
                    self._output(item.text)
                elif isinstance(item, bridge.Call):
                    await self._call(item)
                else:
                    self._done(item)

    async def _read_stderr(self, fd: int) -> None:
        try:
            while True:
                try:
                    chunk = await receive(fd)
                except OSError:
                    return
                if not chunk:
                    return
                if len(self.stderr) < STDERR_KEEP:
                    self.stderr += chunk[: STDERR_KEEP - len(self.stderr)]
        finally:
            self._stderr_read.set()

    def _output(self, text: str) -> None:
        size = len(text.encode())
        room = self.limits.max_output_bytes - self.output_bytes
        if size > room:
            self.console.append(text.encode()[: max(room, 0)].decode(errors="ignore"))
            self._stop("output", f"output limit exceeded: more than {self.limits.max_output_bytes} bytes of console "
                       "output (sandbox_max_output_bytes)")
            return
        self.output_bytes += size
        self.console.append(text)

    # -- tool calls ---------------------------------------------------------------------------------

    async def _call(self, call: bridge.Call) -> None:
        self.calls += 1
        if self.calls > self.limits.max_tool_calls:
            self._stop("tool_calls", f"tool call limit exceeded: the code made more than {self.limits.max_tool_calls}"
                       " tool calls (sandbox_max_tool_calls)")
            return
        binding = self.table.lookup(call.server, call.tool)
        if binding is None:
            self._tg.start_soon(self._send, bridge.reply_line(
                call.id, error=f"tools.{call.server}.{call.tool} is not available to this run"))
            return
        # At most max_calls_in_flight at once: until one finishes, nothing more is read (or decoded)
        # from the process, which blocks on its next write.
        await self._in_flight.acquire()
        self._tg.start_soon(self._serve_call, call, binding)

    async def _serve_call(self, call: bridge.Call, binding: ToolBinding) -> None:
        try:
            try:
                value = bridge.tool_value(await self.call_tool(binding, call.args))
                line = bridge.reply_line(call.id, value=value)
            except bridge.ToolCallFailed as exc:
                line = bridge.reply_line(call.id, error=str(exc))
            except Exception as exc:  # noqa: BLE001  (whatever the call path raised is the code's error to handle)
                line = bridge.reply_line(call.id, error=str(exc) or type(exc).__name__)
        finally:
            # Freed before the answer is written: the process may be blocked writing to us (and so not
            # reading its stdin) until the reader, waiting for this slot, reads again.
            self._in_flight.release()
        del call  # its arguments need not live while the answer waits for the pipe
        await self._send(line)

    async def _send(self, line: bytes) -> None:
        try:
            async with self._send_lock:
                await send_all(self.process.fds()[0], line)
        except OSError:
            pass  # the process is gone; its exit is reported by the reader

    # -- outcomes -----------------------------------------------------------------------------------

    def _stop(self, limit: LimitName, message: str) -> None:
        self.outcome = RunResult(False, console=self._console(), tool_calls=self.calls, error=message,
                                 error_kind="limit", limit=limit)
        self._tg.cancel_scope.cancel()

    def _done(self, done: bridge.Done) -> None:
        console = self._console()
        if done.ok:
            size = len(json.dumps(done.value, ensure_ascii=False).encode())
            if size > self.limits.max_output_bytes:
                self._stop("output", f"output limit exceeded: the result is {size} bytes, more than "
                           f"sandbox_max_output_bytes={self.limits.max_output_bytes}")
                return
            self.outcome = RunResult(True, value=done.value, console=console, tool_calls=self.calls)
            return
        error = done.error or {}
        text = self._clean(error.get("stack") or "") or f"{error.get('name')}: {error.get('message')}"
        if _MEMORY_ERRORS.search(error.get("message") or ""):
            self.outcome = RunResult(False, console=console, tool_calls=self.calls, error_kind="limit", limit="memory",
                                     error=f"memory limit exceeded: {error.get('message')} (sandbox_data_mb="
                                     f"{self.limits.data_mb} MB for ArrayBuffers and other memory outside the heap)")
            return
        self.outcome = RunResult(False, console=console, tool_calls=self.calls, error=text, error_kind="code")

    def _exit_outcome(self, returncode: int | None) -> RunResult:
        """Why the process ended without sending a result: memory, an uncaught error, or the sandbox itself."""
        console = self._console()
        stderr = self._clean(self.stderr.decode(errors="replace")).strip()
        signals = {-signal.SIGTRAP, -signal.SIGABRT}  # V8's heap OOM; a failed allocation in Rust
        if _MEMORY_ERRORS.search(stderr) or "memory allocation of" in stderr or returncode in signals:
            return RunResult(False, console=console, tool_calls=self.calls, error_kind="limit", limit="memory",
                             error=f"memory limit exceeded: the process ran out of memory (sandbox_heap_mb="
                             f"{self.limits.heap_mb} MB of JavaScript heap, sandbox_data_mb={self.limits.data_mb} MB"
                             " in all) and was stopped")
        if "Uncaught" in stderr:  # an error the prelude could not catch: still the code's
            return RunResult(False, console=console, tool_calls=self.calls, error=stderr[:4000], error_kind="code")
        detail = f": {stderr[:4000]}" if stderr else ""
        return RunResult(False, console=console, tool_calls=self.calls, error_kind="sandbox",
                         error=f"the sandbox process exited (status {returncode}) before the code finished{detail}")

    def _console(self) -> str:
        return self._paths("".join(self.console))

    def _paths(self, text: str) -> str:
        """`text` with the run's temporary paths shortened to the file names the code knows."""
        workdir = self.process.workdir
        for path, name in ((self.user, self.user.name), (workdir / "main.ts", "main.ts"), (PRELUDE, "prelude.ts")):
            text = text.replace(path.as_uri(), name).replace(str(path), name)
        return text.replace(str(workdir), ".")

    def _clean(self, text: str) -> str:
        """Error text without the run's temporary paths and without the sandbox's own stack frames."""
        return _OWN_FRAMES.sub("", self._paths(text))
