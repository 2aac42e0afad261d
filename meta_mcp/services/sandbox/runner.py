"""Running one piece of code in a fresh, locked-down Deno process, under hard limits.

`Sandbox.run(code, table, call_tool, limits)` promises:

- the code never runs if it does not parse or if it imports or re-exports a module (see `source.check`);
- a fresh process per run, in a fresh temporary directory deleted afterwards, with its own
  `DENO_DIR` inside it (a copy of one warmed up once with our own snippet): nothing persists
  between runs — not even localStorage or the Cache API, which Deno writes into `DENO_DIR` despite
  `--deny-write`;
- Deno runs with every permission denied (`--deny-net --deny-read --deny-write --deny-env
  --deny-run --deny-ffi --deny-sys --deny-import --no-remote --no-npm --no-prompt`), no config or
  lock file, code generation from strings disabled (no eval / Function), and a minimal environment;
- module loading is impossible at run time too (the second layer, should code get past the static
  check): an import map sends every `file:` URL and every `node:` builtin (the list Deno itself
  reports, plus ours) to a path that does not exist — only `main.ts` may load the prelude and the
  user's module (an import-map scope) — and `--no-remote` / `--no-npm` stop `http(s):`, `jsr:` and
  `npm:`; `blob:` URLs cannot be made (the prelude removes `URL.createObjectURL`); `data:` URLs
  load, but are only more code under the same rules;
- limits, each named in the error when hit: wall time (`timeout_s`, the process group is killed),
  memory (V8's `--max-old-space-size` for the heap and `RLIMIT_DATA` for everything else,
  ArrayBuffers included; core dumps off), output (console output and the result are each capped at
  `max_output_bytes`), tool calls (`max_tool_calls`, counted here, not in the sandbox);
- every byte meta-mcp accepts from the process is bounded in size and in decoding cost: one message
  at most `max_message_bytes` and `max_message_values` JSON values (checked before `json.loads`,
  whose objects cost up to ~25 times their JSON), at most `max_received_bytes` in a run, and at most
  `max_calls_in_flight` tool calls at once (further calls wait: meta-mcp stops reading until one
  finishes, so the process blocks on its next write);
- every tool call is resolved through the run's `ToolTable` and made with `call_tool` — the
  caller's function, which must go through the registry's one call path; nothing else is reachable;
- at most `max_concurrent` runs at once per `Sandbox`; a run waits (at most its timeout) for a slot.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
from anyio.abc import ByteReceiveStream, Process, TaskGroup

from meta_mcp.services.sandbox import bridge
from meta_mcp.services.sandbox.names import ToolBinding, ToolTable
from meta_mcp.services.sandbox.source import check
from meta_mcp.services.sandbox.workdirs import default_tmpdir, sweep

PRELUDE = Path(__file__).with_name("prelude.ts")
BLOCKED_IMPORTS = "file:///meta-mcp-sandbox/imports-are-not-allowed/"
NODE_BUILTINS = (
    "_http_agent", "_http_common", "_http_outgoing", "_http_server", "_stream_duplex", "_stream_passthrough",
    "_stream_readable", "_stream_transform", "_stream_writable", "_tls_common", "_tls_wrap", "assert",
    "assert/strict", "async_hooks", "buffer", "child_process", "cluster", "console", "constants", "crypto", "dgram",
    "diagnostics_channel", "dns", "dns/promises", "domain", "events", "fs", "fs/promises", "http", "http2", "https",
    "inspector", "inspector/promises", "module", "net", "os", "path", "path/posix", "path/win32", "perf_hooks",
    "process", "punycode", "querystring", "readline", "readline/promises", "repl", "sea", "sqlite", "stream",
    "stream/consumers", "stream/promises", "stream/web", "string_decoder", "sys", "test", "test/reporters", "timers",
    "timers/promises", "tls", "trace_events", "tty", "url", "util", "util/types", "v8", "vm", "wasi",
    "worker_threads", "zlib",
)
"""`node:` modules of Deno 2.9 (its `node:module` builtinModules); each run's import map blocks these
and whatever the Deno binary in use reports (see `Sandbox._node_builtins`)."""
BUILTINS_TS = 'import { builtinModules } from "node:module";\nconsole.log(JSON.stringify(builtinModules));\n'

STDERR_KEEP = 64 * 1024
_CLEANER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-cleanup")
"""Deletes finished runs' directories off the request path."""
DENO_PERMISSIONS = (
    "--no-prompt", "--no-remote", "--no-npm", "--no-config", "--no-lock", "--no-code-cache", "--quiet",
    "--deny-net", "--deny-read", "--deny-write", "--deny-env", "--deny-run", "--deny-ffi", "--deny-sys",
    "--deny-import",
)
MAIN_TS = """\
import { start } from "{prelude}";
start(() => import("./{user}"));
"""
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


def find_deno() -> str:
    """The Deno binary shipped by the PyPI `deno` package."""
    import deno  # the PyPI package: a wheel with the binary inside, nothing downloaded at run time

    return str(deno.find_deno_bin())


class Sandbox:
    """Runs code in Deno processes (see the module docstring); one per meta-mcp process."""

    def __init__(self, deno: str | None = None, max_concurrent: int = 4, tmpdir: Path | None = None) -> None:
        self.deno = deno or find_deno()
        self.tmpdir = str(tmpdir or default_tmpdir())
        self._slots = anyio.Semaphore(max_concurrent)
        self._template: Path | None | bool = None
        self._template_lock = anyio.Lock()
        self._builtins: tuple[str, ...] | None = None

    async def _warm_deno_dir(self) -> Path | None:
        """A `DENO_DIR` with the prelude compiled and Deno's caches created, made once by running a
        trivial snippet; each run starts from its own copy of it (about 5 ms less CPU than an empty
        one). None if it could not be made: runs then start from an empty directory."""
        async with self._template_lock:
            if self._template is None:
                sweep(Path(self.tmpdir))
                template = Path(tempfile.mkdtemp(prefix=f"meta-mcp-deno-dir-{os.getpid()}-", dir=self.tmpdir))
                atexit.register(shutil.rmtree, template, True)
                workdir = Path(tempfile.mkdtemp(prefix=f"meta-mcp-run-{os.getpid()}-", dir=self.tmpdir))
                try:
                    self._builtins = await self._node_builtins(workdir)
                    warm = _Run(self.deno, workdir, workdir / "user.ts", "export default 0;", ToolTable(), _no_calls,
                                SandboxLimits(), deno_dir=template, node_builtins=self._builtins)
                    self._template = template if (await warm.execute()).ok else False
                finally:
                    shutil.rmtree(workdir, ignore_errors=True)
        return self._template or None  # type: ignore[return-value]

    async def _node_builtins(self, workdir: Path) -> tuple[str, ...]:
        """The `node:` modules to block: ours, and those this Deno binary reports (our own snippet, run
        once with every permission denied), so a newer Deno's new modules are blocked too."""
        found: set[str] = set(NODE_BUILTINS)
        probe = workdir / "builtins.ts"
        probe.write_text(BUILTINS_TS)
        try:
            with anyio.fail_after(30):
                done = await anyio.run_process(
                    [self.deno, "run", *DENO_PERMISSIONS, probe.name], cwd=workdir, check=False,
                    env={"DENO_DIR": str(workdir / ".deno-probe"), "HOME": str(workdir), "PATH": os.defpath,
                         "NO_COLOR": "1", "DENO_NO_UPDATE_CHECK": "1"})
            listed = json.loads(done.stdout) if done.returncode == 0 else []
            found.update(str(name).removeprefix("node:") for name in listed if isinstance(name, str))
        except (OSError, ValueError, TimeoutError):
            pass  # Deno cannot run: the run that follows reports it
        return tuple(sorted(found))

    async def run(self, code: str, table: ToolTable, call_tool: ToolCaller, limits: SandboxLimits, *,
                  javascript: bool = False) -> RunResult:
        """Run `code` (a TypeScript module, or JavaScript) and report how it ended; never raises for the code's faults."""
        started = time.perf_counter()
        problem = check(code, javascript=javascript)
        if problem is not None and problem.kind == "import":
            return RunResult(False, error=f"imports are not available in run_code ({problem.message}). Tools are the "
                             "global `tools`; everything else must be in the code itself.", error_kind="denied")
        if problem is not None:
            return RunResult(False, error=f"{problem.message}. run_code parses code before it runs it and runs only "
                             "what it can read.", error_kind="code")
        with anyio.move_on_after(limits.timeout_s) as waiting:
            await self._slots.acquire()
        if waiting.cancelled_caught:
            return RunResult(False, error=f"time limit exceeded: no sandbox slot became free within timeout_s="
                             f"{limits.timeout_s:g} s (sandbox_max_concurrent runs at once)",
                             error_kind="limit", limit="time")
        workdir = Path(tempfile.mkdtemp(prefix=f"meta-mcp-run-{os.getpid()}-", dir=self.tmpdir))
        try:
            warm = await self._warm_deno_dir()
            if warm is not None:
                try:
                    shutil.copytree(warm, workdir / ".deno")
                except OSError:  # the template is gone (a tmp cleaner?): this run starts cold, the next remakes it
                    self._template = None
            user = workdir / ("user.js" if javascript else "user.ts")
            result = await _Run(self.deno, workdir, user, code, table, call_tool, limits, deno_dir=workdir / ".deno",
                                node_builtins=self._builtins or NODE_BUILTINS).execute()
        except OSError as exc:  # Deno missing or not executable, the directory not writable …
            result = RunResult(False, error=f"the sandbox could not start: {exc}", error_kind="sandbox")
        finally:
            self._slots.release()
            _CLEANER.submit(shutil.rmtree, workdir, True)
        result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return result


@dataclass
class _Run:
    deno: str
    workdir: Path
    user: Path
    code: str
    table: ToolTable
    call_tool: ToolCaller
    limits: SandboxLimits
    deno_dir: Path
    node_builtins: tuple[str, ...] = NODE_BUILTINS
    nonce: str = field(default_factory=lambda: secrets.token_hex(bridge.NONCE_BYTES))
    console: list[str] = field(default_factory=list)
    output_bytes: int = 0
    received_bytes: int = 0
    calls: int = 0
    stderr: bytearray = field(default_factory=bytearray)
    outcome: RunResult | None = None
    _process: Process = field(init=False)
    _tg: TaskGroup = field(init=False)
    _send_lock: anyio.Lock = field(default_factory=anyio.Lock, init=False)
    _in_flight: anyio.Semaphore = field(init=False)

    def _argv(self) -> list[str]:
        self.user.write_text(self.code)
        main = MAIN_TS.replace("{prelude}", PRELUDE.as_uri()).replace("{user}", self.user.name)
        (self.workdir / "main.ts").write_text(main)
        (self.workdir / "import_map.json").write_text(json.dumps(self._import_map()))
        v8 = f"--v8-flags=--max-old-space-size={self.limits.heap_mb},--disallow-code-generation-from-strings"
        deno = [self.deno, "run", *DENO_PERMISSIONS, f"--import-map={self.workdir / 'import_map.json'}", v8, "main.ts"]
        # RLIMIT_DATA caps what V8's heap flag does not (ArrayBuffers, wasm memory); never RLIMIT_AS.
        limit = 'ulimit -d "$1" && ulimit -c 0 && shift && exec "$@"'
        return ["/bin/sh", "-c", limit, "meta-mcp-sandbox", str(self.limits.data_mb * 1024), *deno]

    def _import_map(self) -> dict[str, Any]:
        """Nothing loads but the run's own modules: every `file:` URL and every `node:` builtin (with its
        subpaths) goes to a path that does not exist; `http(s):` too (besides `--no-remote`). Only
        `main.ts` (an import-map scope) may load the prelude and the user's module, so code cannot
        reach the prelude's exports. Import maps do not apply to `data:` and `blob:` URLs."""
        main = (self.workdir / "main.ts").as_uri()
        imports = {"file:///": BLOCKED_IMPORTS, "http://": BLOCKED_IMPORTS + "http/",
                   "https://": BLOCKED_IMPORTS + "https/", main: main}
        for name in self.node_builtins:
            imports[f"node:{name}"] = f"{BLOCKED_IMPORTS}node/{name}"
            imports[f"node:{name}/"] = f"{BLOCKED_IMPORTS}node/{name}/"
        own = {url: url for url in (PRELUDE.as_uri(), self.user.as_uri())}
        return {"imports": imports, "scopes": {main: own}}

    def _env(self) -> dict[str, str]:
        return {"DENO_DIR": str(self.deno_dir), "HOME": str(self.workdir), "PATH": os.defpath,
                "DENO_NO_UPDATE_CHECK": "1", "DENO_NO_PROMPT": "1", "NO_COLOR": "1"}

    async def execute(self) -> RunResult:
        process = await anyio.open_process(self._argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, cwd=self.workdir, env=self._env(),
                                           start_new_session=True)
        self._process = process
        try:
            with anyio.move_on_after(self.limits.timeout_s) as deadline:
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    tg.start_soon(self._read_stderr, process.stderr)
                    await self._send(bridge.init_line(self.nonce, self.table.manifest()))
                    await self._read_stdout(process.stdout)
                    if self.outcome is None:  # stdout ended without a result: let the process finish
                        with anyio.move_on_after(2):
                            await process.wait()
                    tg.cancel_scope.cancel()
            if deadline.cancelled_caught and self.outcome is None:
                self._stop("time", f"time limit exceeded: the code was still running after timeout_s="
                           f"{self.limits.timeout_s:g} s")
        finally:
            with anyio.CancelScope(shield=True):
                _kill_group(process)
                await process.wait()
                await process.aclose()
        return self.outcome or self._exit_outcome(process.returncode)

    # -- reading the process ------------------------------------------------------------------------

    async def _read_stdout(self, stream: ByteReceiveStream | None) -> None:
        assert stream is not None
        limits = self.limits
        framing = bridge.Framing(self.nonce, max_bytes=limits.max_message_bytes, max_values=limits.max_message_values)
        self._in_flight = anyio.Semaphore(max(1, limits.max_calls_in_flight))
        while self.outcome is None:
            try:
                chunk = await stream.receive(65536)
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
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

    async def _read_stderr(self, stream: ByteReceiveStream | None) -> None:
        assert stream is not None
        try:
            async for chunk in stream:
                if len(self.stderr) < STDERR_KEEP:
                    self.stderr += chunk[: STDERR_KEEP - len(self.stderr)]
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

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
        stdin = self._process.stdin
        assert stdin is not None
        try:
            async with self._send_lock:
                await stdin.send(line)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
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
        for path, name in ((self.user, self.user.name), (self.workdir / "main.ts", "main.ts"),
                           (PRELUDE, "prelude.ts")):
            text = text.replace(path.as_uri(), name).replace(str(path), name)
        return text.replace(str(self.workdir), ".")

    def _clean(self, text: str) -> str:
        """Error text without the run's temporary paths and without the sandbox's own stack frames."""
        return _OWN_FRAMES.sub("", self._paths(text))


async def _no_calls(binding: ToolBinding, args: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("no tool calls here")


def _kill_group(process: Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
