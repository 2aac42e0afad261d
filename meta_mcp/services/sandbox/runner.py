"""Running one piece of code in a fresh, locked-down Deno process, under hard limits.

`Sandbox.run(code, table, call_tool, limits)` promises:

- the code never runs if it does not parse or if it imports or re-exports a module (see `source.check`);
- a fresh process per run, in a fresh temporary directory deleted afterwards, with its own
  `DENO_DIR` inside it (a copy of one warmed up once with our own snippet): nothing persists
  between runs — not even localStorage or the Cache API, which Deno writes into `DENO_DIR` despite
  `--deny-write`. The process may have been started ahead (`pool_size`, see `pool.py`): it waited
  on stdin having seen nothing of any run, is given this run's code and tools when taken, and is
  killed when the run ends, like one started for the run (`process.py`, `session.py`);
- Deno runs with every permission denied (`--deny-net --deny-read --deny-write --deny-env
  --deny-run --deny-ffi --deny-sys --deny-import --no-remote --no-npm --no-prompt`) but reading its
  own module's two possible paths (`user.ts`, `user.js`: see `process.py`), no config or lock file,
  code generation from strings disabled (no eval / Function), and a minimal environment;
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
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio

from meta_mcp.services.sandbox import process as deno_process
from meta_mcp.services.sandbox.names import ToolBinding, ToolTable
from meta_mcp.services.sandbox.pool import Key, Pool
from meta_mcp.services.sandbox.process import (  # noqa: F401  (re-exported: bench and tests use them from here)
    BLOCKED_IMPORTS,
    DENO_PERMISSIONS,
    NODE_BUILTINS,
    PRELUDE,
    DenoProcess,
)
from meta_mcp.services.sandbox.session import LimitName, RunResult, SandboxLimits, Session, ToolCaller
from meta_mcp.services.sandbox.source import check
from meta_mcp.services.sandbox.workdirs import default_tmpdir, sweep

__all__ = ["LimitName", "RunResult", "Sandbox", "SandboxLimits", "ToolCaller", "default_tmpdir", "find_deno"]

BUILTINS_TS = 'import { builtinModules } from "node:module";\nconsole.log(JSON.stringify(builtinModules));\n'
_CLEANER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-cleanup")
"""Deletes finished runs' directories off the request path."""


def find_deno() -> str:
    """The Deno binary shipped by the PyPI `deno` package."""
    import deno  # the PyPI package: a wheel with the binary inside, nothing downloaded at run time

    return str(deno.find_deno_bin())


class Sandbox:
    """Runs code in Deno processes (see the module docstring); one per meta-mcp process. `pool_size`:
    processes started ahead of their runs (see `pool.py`; 0: every run starts its own)."""

    def __init__(self, deno: str | None = None, max_concurrent: int = 4, tmpdir: Path | None = None,
                 pool_size: int = 0) -> None:
        self.deno = deno or find_deno()
        self.tmpdir = str(tmpdir or default_tmpdir())
        self._slots = anyio.Semaphore(max_concurrent)
        self._template: Path | None | bool = None
        self._template_lock = anyio.Lock()
        self._builtins: tuple[str, ...] | None = None
        self.pool = Pool(pool_size, self._start_process)

    def close(self) -> None:
        """Empty the pool (kill what waits); runs in progress are not touched."""
        self.pool.close()

    async def _warm_deno_dir(self) -> Path | None:
        """A `DENO_DIR` with the prelude compiled and Deno's caches created, made once by running a
        trivial snippet; each run starts from its own copy of it (about 5 ms less CPU than an empty
        one). None if it could not be made: runs then start from an empty directory."""
        async with self._template_lock:
            if self._template is None:
                sweep(Path(self.tmpdir))
                template = Path(tempfile.mkdtemp(prefix=f"meta-mcp-deno-dir-{os.getpid()}-", dir=self.tmpdir))
                atexit.register(shutil.rmtree, template, True)
                probe = Path(tempfile.mkdtemp(prefix=f"meta-mcp-run-{os.getpid()}-", dir=self.tmpdir))
                try:
                    self._builtins = await self._node_builtins(probe)
                finally:
                    shutil.rmtree(probe, ignore_errors=True)
                limits = SandboxLimits()
                warm = deno_process.start(self.deno, self.tmpdir, template, self._builtins, limits.heap_mb,
                                          limits.data_mb)
                try:
                    ok = (await Session(warm, "export default 0;", ToolTable(), _no_calls, limits).execute()).ok
                finally:
                    _CLEANER.submit(shutil.rmtree, warm.workdir, True)
                self._template = template if ok else False
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

    def _start_process(self, key: Key) -> DenoProcess:
        """A fresh process for one run with these (heap, data) limits, from a copy of the warm `DENO_DIR`."""
        template = self._template if isinstance(self._template, Path) else None
        try:
            return deno_process.start(self.deno, self.tmpdir, None, self._builtins or NODE_BUILTINS, *key,
                                      template=template)
        except OSError:
            if template is None or template.is_dir():
                raise
            self._template = None  # the template is gone (a tmp cleaner?): this run starts cold, the next remakes it
            return deno_process.start(self.deno, self.tmpdir, None, self._builtins or NODE_BUILTINS, *key)

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
        key = (limits.heap_mb, limits.data_mb)
        try:
            await self._warm_deno_dir()
            pooled = self.pool.take(key)
            if pooled is not None:
                self.pool.fill(key)  # its replacement starts now, in the background
            result = await self._run_in(pooled, code, table, call_tool, limits, javascript)
        finally:
            self._slots.release()
        if result.error_kind != "sandbox":  # a Deno that cannot start is not started ahead either
            self.pool.fill(key)  # after the first run (and runs that found the pool empty): in the background
        result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return result

    async def _run_in(self, pooled: DenoProcess | None, code: str, table: ToolTable, call_tool: ToolCaller,
                      limits: SandboxLimits, javascript: bool) -> RunResult:
        """The run in a pooled process, or in one started now. A pooled process that turns out to have
        died before it could answer (nothing came back and no call was made, so the code had no effect
        outside it) is replaced by a fresh one, within the same time limit."""
        started = time.monotonic()
        process = pooled
        try:
            if process is None:
                process = self._start_process((limits.heap_mb, limits.data_mb))
            session = Session(process, code, table, call_tool, limits, javascript)
            result = await session.execute()
        except OSError as exc:  # Deno missing or not executable, the directory not writable …
            return RunResult(False, error=f"the sandbox could not start: {exc}", error_kind="sandbox")
        finally:
            if process is not None:
                _CLEANER.submit(shutil.rmtree, process.workdir, True)
        left = limits.timeout_s - (time.monotonic() - started)
        if pooled is not None and result.error_kind == "sandbox" and session.silent and left > 0:
            self.pool.stats.discarded += 1
            return await self._run_in(None, code, table, call_tool, replace(limits, timeout_s=left), javascript)
        return result


async def _no_calls(binding: ToolBinding, args: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("no tool calls here")
