"""Starting one locked-down Deno process that waits for its run, and talking to it without blocking.

`start` makes a fresh run directory (`main.ts`, the import map, a copy of the warm `DENO_DIR`) and
starts `deno run main.ts` in it under every limit of the run (permissions, heap, `RLIMIT_DATA`). The
process loads the prelude and then waits on stdin: it has seen nothing of the run it will serve.
The run is given to it later, in this order: the user's module is written to `user.ts` (or
`user.js`), then the `init` line (nonce, tool table, language) is sent; only then does the prelude
import the module. So the same process serves a cold run (started, then given its run at once) and
a pooled one (started ahead, given its run when taken): flags, limits and files are identical.

Why the module is read at run time, and what that grants: `main.ts` imports it with a specifier
Deno cannot resolve ahead (`import(js ? "./user.js" : "./user.ts")`), so Deno does not load it at
start-up (a plain literal would be loaded into the module graph at start, before the file exists).
A module Deno loads at run time needs read permission, so the process gets `--allow-read` for
exactly its own two module paths (besides `--deny-read` for everything else); neither exists until
the run is given, and only one is ever written. The code cannot use the grant to load anything: the
import map sends every `file:` URL to a path that does not exist except from `main.ts` (a scope that
lists only the prelude and these two files), and the static check refuses imports before the file is
written. All it allows the code beyond that is reading its own source (`Deno.readTextFile`), and not
even that under `/dev/shm` (Deno asks for all permissions for files under `/dev`).

Processes are `subprocess.Popen` objects, not tied to an event loop: a pooled process can be started
in a worker thread and wait any time. Its pipes are non-blocking and read and written with
`anyio.wait_readable` / `wait_writable`; its exit is awaited with a pidfd.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

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
DENO_PERMISSIONS = (
    "--no-prompt", "--no-remote", "--no-npm", "--no-config", "--no-lock", "--no-code-cache", "--quiet",
    "--deny-net", "--deny-read", "--deny-write", "--deny-env", "--deny-run", "--deny-ffi", "--deny-sys",
    "--deny-import",
)
USER_TS, USER_JS = "user.ts", "user.js"
MAIN_TS = """\
import { start } from "{prelude}";
start((javascript: boolean) => import(javascript ? "./{js}" : "./{ts}"));
"""
RUN_PREFIX = "meta-mcp-run-"
"""Run directories are `meta-mcp-run-<pid>-…` (see `workdirs.sweep`)."""


@dataclass(eq=False)
class DenoProcess:
    """A started Deno process in its run directory, waiting on stdin for its run (see the module docstring)."""

    popen: subprocess.Popen[bytes]
    workdir: Path
    heap_mb: int
    data_mb: int
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def user_file(self, javascript: bool) -> Path:
        return self.workdir / (USER_JS if javascript else USER_TS)

    def alive(self) -> bool:
        """Still running (reaps it if not)."""
        return self.popen.poll() is None

    def fds(self) -> tuple[int, int, int]:
        """stdin, stdout, stderr (non-blocking)."""
        assert self.popen.stdin and self.popen.stdout and self.popen.stderr
        return self.popen.stdin.fileno(), self.popen.stdout.fileno(), self.popen.stderr.fileno()

    def kill(self) -> None:
        """SIGKILL to the whole process group (the process and anything it started)."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    async def wait(self) -> int:
        """Until the process has exited (not reaped by anyone else meanwhile); its status."""
        if self.popen.poll() is not None:
            return self.popen.returncode
        try:
            pidfd = os.pidfd_open(self.popen.pid)
        except (OSError, AttributeError):  # no pidfd (old kernel): poll
            while self.popen.poll() is None:
                await anyio.sleep(0.005)
            return self.popen.returncode
        try:
            await anyio.wait_readable(pidfd)
        finally:
            os.close(pidfd)
        return self.popen.wait()

    def close(self) -> None:
        """Kill, reap and close the pipes (blocking only until the killed process is reaped)."""
        self.kill()
        self.popen.wait()
        for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


def start(deno: str, tmpdir: str, deno_dir: Path | None, node_builtins: tuple[str, ...], heap_mb: int,
          data_mb: int, *, template: Path | None = None) -> DenoProcess:
    """A fresh run directory and a Deno process started in it, waiting for its run. `template`: a warm
    `DENO_DIR` copied into the directory; `deno_dir`: use this one instead (to make the template).
    Raises OSError when the directory cannot be made; the directory is deleted then."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-", dir=tmpdir))
    try:
        if deno_dir is None:
            deno_dir = workdir / ".deno"
            if template is not None:
                shutil.copytree(template, deno_dir)
        main = MAIN_TS.replace("{prelude}", PRELUDE.as_uri()).replace("{ts}", USER_TS).replace("{js}", USER_JS)
        (workdir / "main.ts").write_text(main)
        (workdir / "import_map.json").write_text(json.dumps(import_map(workdir, node_builtins)))
        popen = subprocess.Popen(  # noqa: S603  (our own argv)
            argv(deno, workdir, heap_mb, data_mb), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=workdir, env=env(workdir, deno_dir), start_new_session=True)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    for pipe in (popen.stdin, popen.stdout, popen.stderr):
        assert pipe is not None
        os.set_blocking(pipe.fileno(), False)
    return DenoProcess(popen, workdir, heap_mb, data_mb)


def argv(deno: str, workdir: Path, heap_mb: int, data_mb: int) -> list[str]:
    if "," in str(workdir):
        raise OSError(f"the run directory {workdir} contains a comma, which Deno's --allow-read cannot take "
                      "(choose another sandbox_tmpdir)")
    own = ",".join(str(workdir / name) for name in (USER_TS, USER_JS))
    v8 = f"--v8-flags=--max-old-space-size={heap_mb},--disallow-code-generation-from-strings"
    deno_argv = [deno, "run", *DENO_PERMISSIONS, f"--allow-read={own}",
                 f"--import-map={workdir / 'import_map.json'}", v8, "main.ts"]
    # RLIMIT_DATA caps what V8's heap flag does not (ArrayBuffers, wasm memory); never RLIMIT_AS.
    limit = 'ulimit -d "$1" && ulimit -c 0 && shift && exec "$@"'
    return ["/bin/sh", "-c", limit, "meta-mcp-sandbox", str(data_mb * 1024), *deno_argv]


def import_map(workdir: Path, node_builtins: tuple[str, ...]) -> dict[str, Any]:
    """Nothing loads but the run's own modules: every `file:` URL and every `node:` builtin (with its
    subpaths) goes to a path that does not exist; `http(s):` too (besides `--no-remote`). Only
    `main.ts` (an import-map scope) may load the prelude and the user's module, so code cannot
    reach the prelude's exports. Import maps do not apply to `data:` and `blob:` URLs."""
    main = (workdir / "main.ts").as_uri()
    imports = {"file:///": BLOCKED_IMPORTS, "http://": BLOCKED_IMPORTS + "http/",
               "https://": BLOCKED_IMPORTS + "https/", main: main}
    for name in node_builtins:
        imports[f"node:{name}"] = f"{BLOCKED_IMPORTS}node/{name}"
        imports[f"node:{name}/"] = f"{BLOCKED_IMPORTS}node/{name}/"
    own = {url: url for url in (PRELUDE.as_uri(), *((workdir / n).as_uri() for n in (USER_TS, USER_JS)))}
    return {"imports": imports, "scopes": {main: own}}


def env(workdir: Path, deno_dir: Path) -> dict[str, str]:
    return {"DENO_DIR": str(deno_dir), "HOME": str(workdir), "PATH": os.defpath,
            "DENO_NO_UPDATE_CHECK": "1", "DENO_NO_PROMPT": "1", "NO_COLOR": "1"}


async def receive(fd: int, max_bytes: int = 65536) -> bytes:
    """Bytes from a non-blocking pipe; b"" at its end."""
    while True:
        try:
            return os.read(fd, max_bytes)
        except BlockingIOError:
            await anyio.wait_readable(fd)


async def send_all(fd: int, data: bytes) -> None:
    """Write all of `data` to a non-blocking pipe (waiting while it is full); OSError if the reader is gone."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            await anyio.wait_writable(fd)
