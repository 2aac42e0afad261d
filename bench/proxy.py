"""Proxy overhead benchmark: the echo upstream measured direct and through meta-mcp, side by side.

One run, interleaved (A/B then B/A), over stdio and over streamable HTTP, loopback only:

* cold start: spawn the server the client talks to -> connected -> tools/list lists the echo tool;
* tools/call latency p50/p90/p99, sequential, after warm-up (alternating blocks direct/proxied);
* throughput (calls/s) with N concurrent callers on one client connection, and p99 under that load.

    cd /work/main && uv run python bench/proxy.py --quick          # < 1 minute
    cd /work/main && uv run python bench/proxy.py                  # full, a few minutes
    cd /work/main && uv run python bench/proxy.py --mode auto --transport http --json out.json
    cd /work/main && uv run python bench/proxy.py --quick --tracing   # + meta-mcp with tracing on, side by side

Topologies:
    stdio direct : client ==stdio==> echo.py
    stdio proxied: client ==stdio==> meta-mcp serve --config CFG ==stdio==> echo.py
    http  direct : client ==HTTP==>  echo.py --transport http
    http  proxied: client ==HTTP==>  meta-mcp serve --transport http ==HTTP==> echo.py --transport http
(for HTTP both measure against the same long-lived echo upstream; the HTTP cold start spawns a fresh
echo for "direct" and a fresh meta-mcp in front of the already-running echo for "proxied").

`--tracing` adds a third side, "meta-mcp+tracing": the same meta-mcp with OpenTelemetry on
(OTEL_EXPORTER_OTLP_ENDPOINT pointing at a local OTLP sink process that accepts and discards every
export), measured in the same interleaved rounds; the report then compares it with meta-mcp untraced
(the cost of tracing per call: latency and CPU, including the sink's).

Every call's result is checked (echoed text must match); a mismatch aborts the run.
See bench/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parent.parent
ECHO = REPO / "tests" / "upstreams" / "echo.py"

# Targets (proxied relative to direct).
TARGET_P50 = 1.5  # p50 latency <= 1.5x direct
TARGET_THROUGHPUT = 0.70  # throughput >= 70% of direct (issue 16; was 60 %)
TARGET_P99_LOAD = 2.0  # p99 under load <= 2x direct (issue 16)
TARGET_COLD = 1.3  # cold start <= 1.3x direct
CONTEXTFORGE = "250-400 MCP requests/s per 16-24-worker pod, i.e. ~10-25 per worker"

PHASE_TIMEOUT = 600.0  # hard bound for any one phase (seconds)
READY_TIMEOUT = 60.0  # bound for a server to come up / list its tool
META = "meta-mcp"
TRACED = "meta-mcp+tracing"
BASE = "baseline"

# An OTLP/HTTP sink: answers every export with an empty (valid) protobuf response and keeps nothing.
SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


# --------------------------------------------------------------------------------------------------
# helpers


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_port(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server process exited with {proc.returncode} before listening on {port}")
        try:
            stream = await anyio.connect_tcp("127.0.0.1", port)
        except OSError:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"nothing listening on 127.0.0.1:{port}") from None
            await anyio.sleep(0.005)
            continue
        await stream.aclose()
        return


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate one process we started (by its pid), escalating to SIGKILL after 5 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def child_pids(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(p) for p in f.read().split()]
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def find_descendant(pid: int, needle: str) -> int | None:
    todo = child_pids(pid)
    while todo:
        p = todo.pop(0)
        if needle in cmdline(p):
            return p
        todo += child_pids(p)
    return None


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | list[int] | None) -> float | None:
    """user+system CPU time of one process (not its children), from /proc/PID/stat; of several, summed."""
    if pid is None:
        return None
    if isinstance(pid, list):
        times = [cpu_seconds(p) for p in pid]
        return sum(t for t in times if t is not None) if any(t is not None for t in times) else None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def cpu_snapshot(side: Side) -> dict[str, float | None]:
    snap = {role: cpu_seconds(pid) for role, pid in side.server_pids().items()}
    snap["client"] = time.process_time()
    return snap


def check_echo(result: Any, text: str) -> None:
    if result.is_error or not result.content or getattr(result.content[0], "text", None) != text:
        raise RuntimeError(f"bad echo result for {text!r}: {result!r}")


# --------------------------------------------------------------------------------------------------
# the two sides


@dataclass
class Side:
    """How to reach one side ("direct" or "meta-mcp") over one transport."""

    label: str
    transport: str
    tool: str
    open_client: Callable[[], Client]
    # cold start: spawn a fresh server, return (client factory, cleanup)
    spawn_cold: Callable[[], Awaitable[tuple[Client, Callable[[], None]]]]
    pid: Callable[[], int | None] = lambda: None  # the meta-mcp process (for py-spy)
    server_pids: Callable[[], dict[str, int | None]] = dict  # role -> pid, for CPU accounting
    protocol_version: str | None = None
    url: str = ""  # HTTP: the long-lived server's endpoint
    echo_url: str = ""  # HTTP: the upstream's endpoint
    spawn_fresh: Callable[[str], Awaitable[tuple[str, subprocess.Popen[bytes]]]] | None = None  # HTTP meta-mcp


@dataclass
class Ctx:
    args: argparse.Namespace
    logdir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[TextIO] = field(default_factory=list)
    sink: subprocess.Popen[bytes] | None = None
    sink_url: str = ""
    redis_url: str | None = None
    stores: int = 0
    baseline_argv: list[str] = field(default_factory=list)
    baseline_has_state: bool = True

    def log(self, name: str) -> TextIO:
        f = open(self.logdir / name, "a")  # noqa: SIM115 - closed in close()
        self.logs.append(f)
        return f

    def popen(self, argv: list[str], logname: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log(logname),
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
        self.procs.append(proc)
        return proc

    def tracing_env(self) -> dict[str, str]:
        """The environment that turns tracing on, exporting to the OTLP sink (started on first use)."""
        if self.sink is None:
            port = free_port()
            self.sink = self.popen([self.args.python, "-c", SINK, str(port)], "otlp-sink.log")
            self.sink_url = f"http://127.0.0.1:{port}"
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": self.sink_url}

    def state_url(self, label: str) -> str:
        """The `--state` URL a meta-mcp process of side `label` gets: a fresh store of the chosen backend,
        never the user's own (restored servers would start and be measured too)."""
        backend = self.backend(label)
        if backend == "memory":
            return "memory://"
        if backend == "sqlite":
            safe = "".join(c if c.isalnum() else "-" for c in label)
            self.stores += 1
            return f"sqlite:///{self.logdir}/state-{safe}-{self.stores}.db"
        if self.redis_url is None:  # one redis-server for the run; each process its own key prefix below
            port = free_port()
            proc = self.popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], "redis.log")
            self.redis_url = f"redis://127.0.0.1:{port}/0"
            deadline = time.monotonic() + READY_TIMEOUT
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start (see redis.log)")
                time.sleep(0.01)
        return self.redis_url

    def backend(self, label: str) -> str:
        """The state backend of side `label`: `--state`, but Redis for the HTTP meta-mcp with `--workers` > 1 (its
        workers share it)."""
        return "redis" if self.args.workers > 1 and label == META else self.args.state

    def state_args(self, label: str) -> list[str]:
        if label == BASE and not self.baseline_has_state:
            return []
        return ["--state", self.state_url(label)]

    def meta_command(self, label: str) -> list[str]:
        """The command that runs meta-mcp for side `label` (the baseline: the tree of `--baseline REV`)."""
        return self.baseline_argv if label == BASE and self.baseline_argv else [self.args.meta_mcp]

    def side_env(self, label: str) -> dict[str, str]:
        """Extra environment of side `label` (the baseline: `--baseline-env`)."""
        if label != BASE:
            return {}
        return dict(item.split("=", 1) for item in self.args.baseline_env)

    def prepare_baseline(self) -> None:
        """Extract `--baseline REV`'s meta_mcp package (and catalog) into the log dir; it runs with this venv's
        interpreter and libraries, its own code first on PYTHONPATH (a PYTHON* variable survives the re-exec)."""
        rev = self.args.baseline
        tree = self.logdir / f"baseline-{rev}"
        tree.mkdir()
        archive = subprocess.run(["git", "archive", rev, "meta_mcp", "catalog"], cwd=REPO, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        # compiled like this tree's (scripts/setup): where PYTHONDONTWRITEBYTECODE is set, the baseline would
        # otherwise compile every module at each start and lose the cold start for it
        subprocess.run([self.args.python, "-m", "compileall", "-q", str(tree / "meta_mcp")], check=True,
                       stdout=subprocess.DEVNULL)
        self.baseline_has_state = '"--state"' in (tree / "meta_mcp" / "cli.py").read_text()
        wrapper = self.logdir / "baseline-meta-mcp"
        # -P: no current directory first on sys.path (-m would put the checkout's meta_mcp before PYTHONPATH's)
        wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={tree} exec {self.args.python} -P -m meta_mcp "$@"\n')
        wrapper.chmod(0o755)
        self.baseline_argv = [str(wrapper)]

    def state_env(self, label: str) -> dict[str, str]:
        """A key prefix of its own for each meta-mcp process on the shared Redis (no replicas of each other)."""
        if self.backend(label) != "redis":
            return {}
        safe = "".join(c if c.isalnum() else "-" for c in label)
        self.stores += 1
        return {"META_MCP_STATE_PREFIX": f"bench-{safe}-{self.stores}"}

    def sink_pids(self, env: dict[str, str]) -> dict[str, int | None]:
        """The sink as a process of a traced side (its CPU is part of what tracing costs)."""
        return {"otlp-sink": self.sink.pid} if env and self.sink is not None else {}

    def close(self) -> None:
        for p in self.procs:
            stop_process(p)
        for f in self.logs:
            f.close()


def meta_config(ctx: Ctx, name: str, entry: dict[str, Any], *, baseline: bool = False) -> Path:
    if ctx.args.prefix is not None:
        entry = {**entry, "prefix": ctx.args.prefix}
    if "command" in entry and ctx.args.stdio_upstream_protocol != "default" and not baseline:
        entry = {**entry, "protocol": ctx.args.stdio_upstream_protocol}
    path = ctx.logdir / name
    path.write_text(json.dumps({"mcpServers": {"echo": entry}}, indent=2))
    return path


def proxied_tool(args: argparse.Namespace) -> str:
    prefix = "echo" if args.prefix is None else args.prefix
    return f"{prefix}__echo" if prefix else "echo"


def make_stdio_sides(ctx: Ctx) -> list[Side]:
    a = ctx.args
    mode = a.mode
    direct_params = StdioServerParameters(command=a.python, args=[str(ECHO)], cwd=str(REPO))

    def direct_client() -> Client:
        return Client(stdio_client(direct_params, errlog=ctx.log("stdio-direct.log")), mode=mode, cache=None)

    async def direct_cold() -> tuple[Client, Callable[[], None]]:
        return direct_client(), lambda: None

    sides = [Side("direct", "stdio", "echo", direct_client, direct_cold)]
    sides[0].server_pids = lambda: {  # the echo that is our own child (meta-mcp's echo is its grandchild)
        "echo": next((p for p in child_pids(os.getpid()) if "echo.py" in cmdline(p)), None)
    }
    if a.direct_only:
        return sides

    cfg = meta_config(ctx, "stdio-config.json", {"command": a.python, "args": [str(ECHO)]})
    sides.append(stdio_meta_side(ctx, META, cfg, {}))
    if a.tracing:
        traced_cfg = meta_config(ctx, "stdio-config-traced.json", {"command": a.python, "args": [str(ECHO)]})
        sides.append(stdio_meta_side(ctx, TRACED, traced_cfg, ctx.tracing_env()))
    if a.baseline or a.baseline_env:
        base_cfg = meta_config(ctx, "stdio-config-baseline.json", {"command": a.python, "args": [str(ECHO)]},
                               baseline=True)
        sides.append(stdio_meta_side(ctx, BASE, base_cfg, ctx.side_env(BASE)))
    return sides


def stdio_meta_side(ctx: Ctx, label: str, cfg: Path, env: dict[str, str]) -> Side:
    """meta-mcp over stdio with config `cfg` (its file name finds the process) and extra environment `env`."""
    a = ctx.args
    mode = a.mode
    logname = f"stdio-{label}.log"

    def proxy_client() -> Client:
        command, *pre = ctx.meta_command(label)
        params = StdioServerParameters(command=command, args=[*pre, "serve", "--config", str(cfg), *ctx.state_args(label)],
                                       cwd=str(REPO), env={**env, **ctx.state_env(label)} or None)  # merged over the
        # SDK's default environment
        return Client(stdio_client(params, errlog=ctx.log(logname)), mode=mode, cache=None)

    async def proxy_cold() -> tuple[Client, Callable[[], None]]:
        return proxy_client(), lambda: None

    side = Side(label, "stdio", proxied_tool(a), proxy_client, proxy_cold)
    side.pid = lambda: find_descendant(os.getpid(), cfg.name)

    def proxy_pids() -> dict[str, int | None]:
        meta = side.pid()
        return {"meta-mcp": meta, "echo": find_descendant(meta, "echo.py") if meta else None, **ctx.sink_pids(env)}

    side.server_pids = proxy_pids
    return side


async def make_http_sides(ctx: Ctx) -> list[Side]:
    a = ctx.args
    mode = a.mode

    async def spawn_echo(logname: str) -> tuple[int, subprocess.Popen[bytes]]:
        port = free_port()
        proc = ctx.popen([a.python, str(ECHO), "--transport", "http", "--port", str(port)], logname)
        return port, proc

    # long-lived upstream shared by the direct measurements and meta-mcp
    echo_port, echo_proc = await spawn_echo("http-echo.log")
    await wait_port(echo_port, echo_proc, time.perf_counter() + READY_TIMEOUT)
    echo_url = f"http://127.0.0.1:{echo_port}/mcp"

    def direct_client() -> Client:
        return Client(echo_url, mode=mode, cache=None)

    async def direct_cold() -> tuple[Client, Callable[[], None]]:
        port, proc = await spawn_echo("http-echo-cold.log")
        await wait_port(port, proc, time.perf_counter() + READY_TIMEOUT)
        return Client(f"http://127.0.0.1:{port}/mcp", mode=mode, cache=None), lambda: stop_process(proc)

    sides = [Side("direct", "http", "echo", direct_client, direct_cold)]
    sides[0].server_pids = lambda: {"echo": echo_proc.pid}
    if a.direct_only:
        return sides

    cfg = meta_config(ctx, "http-config.json", {"url": echo_url})
    labels = [(META, {})] + ([(TRACED, ctx.tracing_env())] if a.tracing else []) + ([(BASE, ctx.side_env(BASE))] if a.baseline or a.baseline_env else [])
    for label, env in labels:
        sides.append(await http_meta_side(ctx, label, cfg, env, echo_proc))
    return sides


async def http_meta_side(ctx: Ctx, label: str, cfg: Path, env: dict[str, str],
                         echo_proc: subprocess.Popen[bytes]) -> Side:
    """meta-mcp over streamable HTTP in front of the shared echo, with extra environment `env`."""
    a = ctx.args
    mode = a.mode

    def spawn_meta(logname: str) -> tuple[int, subprocess.Popen[bytes]]:
        port = free_port()
        argv = [*ctx.meta_command(label), "serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(port),
                *ctx.state_args(label), *(["--workers", str(a.workers)] if label == META and a.workers > 1 else [])]
        proc = ctx.popen([*argv, "--config", str(cfg)], logname,
                         {**env, **ctx.state_env(label), "META_MCP_ALLOW_ADHOC_HTTP": "1"})  # add_server timing
        return port, proc

    meta_port, meta_proc = spawn_meta(f"http-{label}.log")
    await wait_port(meta_port, meta_proc, time.perf_counter() + READY_TIMEOUT)
    meta_url = f"http://127.0.0.1:{meta_port}/mcp"

    def proxy_client() -> Client:
        return Client(meta_url, mode=mode, cache=None)

    async def proxy_cold() -> tuple[Client, Callable[[], None]]:
        port, proc = spawn_meta(f"http-{label}-cold.log")
        await wait_port(port, proc, time.perf_counter() + READY_TIMEOUT)
        return Client(f"http://127.0.0.1:{port}/mcp", mode=mode, cache=None), lambda: stop_process(proc)

    async def fresh(logname: str) -> tuple[str, subprocess.Popen[bytes]]:
        port, proc = spawn_meta(logname)
        await wait_port(port, proc, time.perf_counter() + READY_TIMEOUT)
        return f"http://127.0.0.1:{port}/mcp", proc

    side = Side(label, "http", proxied_tool(a), proxy_client, proxy_cold)
    side.url, side.spawn_fresh = meta_url, fresh
    side.echo_url = cfg_echo_url(cfg)
    side.pid = lambda: meta_proc.pid
    side.server_pids = lambda: {"meta-mcp": [meta_proc.pid, *child_pids(meta_proc.pid)],  # + its workers
                                "echo": echo_proc.pid, **ctx.sink_pids(env)}
    return side


def cfg_echo_url(cfg: Path) -> str:
    return json.loads(cfg.read_text())["mcpServers"]["echo"]["url"]


# --------------------------------------------------------------------------------------------------
# measurements


async def list_until_tool(client: Client, tool: str, deadline: float) -> int:
    """tools/list until `tool` is listed (an aggregator may connect upstreams lazily). Returns #lists."""
    n = 0
    while True:
        n += 1
        result = await client.list_tools()
        if any(t.name == tool for t in result.tools):
            return n
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{tool!r} not listed; got {[t.name for t in result.tools]}")
        await anyio.sleep(0.005)


async def cold_start_once(side: Side) -> tuple[float, int]:
    t0 = time.perf_counter()
    client, cleanup = await side.spawn_cold()
    try:
        async with client:
            lists = await list_until_tool(client, side.tool, t0 + READY_TIMEOUT)
            elapsed = time.perf_counter() - t0
            # one call so a broken proxy cannot look fast
            r = await client.call_tool(side.tool, {"text": "cold"})
            check_echo(r, "cold")
    finally:
        cleanup()
    return elapsed, lists


def rss_mib(pid: int) -> float:
    """Resident memory of one process and its children (workers), MiB."""
    total = 0
    for p in [pid, *child_pids(pid)]:
        with contextlib.suppress(OSError), open(f"/proc/{p}/status") as f:
            total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
    return total / 1024


async def measure_rss(side: Side, workspaces: int, sessions: int) -> dict[str, Any]:
    """A fresh HTTP meta-mcp (the side's settings): RSS idle, with `workspaces` idle workspaces (each made by one
    2026-era tools/list naming it), then with `sessions` idle handshake-era sessions (initialize +
    notifications/initialized, nothing else)."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    assert side.spawn_fresh is not None
    url, proc = await side.spawn_fresh(f"http-{side.label}-rss.log")
    try:
        async with Client(url, mode="legacy", cache=None) as c:
            await list_until_tool(c, side.tool, time.perf_counter() + READY_TIMEOUT)
        await anyio.sleep(2)
        out: dict[str, Any] = {"idle_mib": rss_mib(proc.pid)}
        for i in range(workspaces):
            http = httpx2.AsyncClient(headers={"X-MCP-Workspace": f"bench-ws-{i}"})
            async with http, Client(streamable_http_client(url, http_client=http), mode="auto", cache=None) as c:
                await c.list_tools()
        await anyio.sleep(2)
        out["workspaces"] = workspaces
        out["workspaces_mib"] = rss_mib(proc.pid)
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
        opened = 0
        async with httpx2.AsyncClient(timeout=30) as http:
            for _ in range(sessions):
                r = await http.post(url, json=init, headers=headers)
                sid = r.headers.get("mcp-session-id")
                if r.status_code != 200 or not sid:
                    out["sessions_error"] = f"HTTP {r.status_code}: {r.text[:200]}"
                    break
                await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                                headers={**headers, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"})
                opened += 1
        await anyio.sleep(2)
        out["sessions"] = opened
        out["sessions_mib"] = rss_mib(proc.pid)
        out["per_workspace_kib"] = 1024 * (out["workspaces_mib"] - out["idle_mib"]) / max(workspaces, 1)
        out["per_session_kib"] = 1024 * (out["sessions_mib"] - out["workspaces_mib"]) / max(opened, 1)
        return out
    finally:
        stop_process(proc)


async def measure_add_server(side: Side, client: Client, reps: int) -> dict[str, Any]:
    """`add_server` of an ad-hoc server (the echo's URL: a connect, the records saved to the state store) and its
    `remove_server`, `reps` times, ms."""
    adds: list[float] = []
    removes: list[float] = []
    for i in range(reps):
        name = f"bench-added-{i}"
        t0 = time.perf_counter()
        r = await client.call_tool("add_server", {"name": name, "spec": {"url": side.echo_url}})
        adds.append((time.perf_counter() - t0) * 1000)
        if r.is_error or (r.structured_content or {}).get("outcome") != "added":
            raise RuntimeError(f"add_server failed: {r.content[0].text if r.content else r!r}")
        t0 = time.perf_counter()
        r = await client.call_tool("remove_server", {"name": name})
        removes.append((time.perf_counter() - t0) * 1000)
        if r.is_error:
            raise RuntimeError(f"remove_server failed: {r.content[0].text if r.content else r!r}")
    return {"reps": reps, "add_p50": statistics.median(adds), "add_max": max(adds),
            "remove_p50": statistics.median(removes)}


def ab_order(sides: list[Side], i: int) -> list[Side]:
    return sides if i % 2 == 0 else list(reversed(sides))


async def measure_cold(sides: list[Side], reps: int) -> dict[str, dict[str, Any]]:
    res: dict[str, dict[str, Any]] = {s.label: {"samples_ms": [], "lists": []} for s in sides}
    for i in range(reps):
        for side in ab_order(sides, i):
            elapsed, lists = await cold_start_once(side)
            res[side.label]["samples_ms"].append(elapsed * 1000)
            res[side.label]["lists"].append(lists)
    for r in res.values():
        r["median_ms"] = statistics.median(r["samples_ms"])
        r["min_ms"] = min(r["samples_ms"])
    return res


class Errors:
    """Failed calls (an exception, or a result that is not the echo). They are not timed; any error
    marks that side's figures invalid, and too many abort the phase."""

    def __init__(self) -> None:
        self.count = 0
        self.first: str | None = None

    def add(self, exc: BaseException) -> None:
        self.count += 1
        if self.first is None:
            self.first = f"{type(exc).__name__}: {exc}"[:300]
            print(f"  call error: {self.first}", file=sys.stderr)
        if self.count > MAX_ERRORS:
            raise RuntimeError(f"more than {MAX_ERRORS} failed calls; first: {self.first}")


MAX_ERRORS = 100


async def one_call(client: Client, tool: str, text: str, errors: Errors) -> float | None:
    t0 = time.perf_counter_ns()
    try:
        r = await client.call_tool(tool, {"text": text})
        dt = time.perf_counter_ns() - t0
        check_echo(r, text)
    except Exception as exc:  # noqa: BLE001 - any failed call is counted, not fatal
        errors.add(exc)
        return None
    return dt / 1e6


async def seq_calls(client: Client, tool: str, n: int, tag: str, out: list[float] | None, errors: Errors) -> None:
    for i in range(n):
        ms = await one_call(client, tool, f"{tag}-{i}", errors)
        if out is not None and ms is not None:
            out.append(ms)


async def load_calls(
    client: Client, tool: str, conc: int, total: int, tag: str, errors: Errors
) -> tuple[float, list[float]]:
    lat: list[float] = []
    it = iter(range(total))

    async def worker() -> None:
        for i in it:  # shared iterator: each call index is taken exactly once
            ms = await one_call(client, tool, f"{tag}-{i}", errors)
            if ms is not None:
                lat.append(ms)

    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(conc):
            tg.start_soon(worker)
    return time.perf_counter() - t0, lat


@contextlib.asynccontextmanager
async def open_all(sides: list[Side]) -> AsyncIterator[dict[str, Client]]:
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, Client] = {}
        for side in sides:
            c = await stack.enter_async_context(side.open_client())
            await list_until_tool(c, side.tool, time.perf_counter() + READY_TIMEOUT)
            side.protocol_version = c.protocol_version
            clients[side.label] = c
        yield clients


async def measure_latency(sides: list[Side], clients: dict[str, Client], a: argparse.Namespace) -> dict[str, Any]:
    res: dict[str, Any] = {s.label: {"samples_ms": []} for s in sides}
    errors = {s.label: Errors() for s in sides}
    for s in sides:
        await seq_calls(clients[s.label], s.tool, a.warmup, "warm", None, errors[s.label])
    block = max(1, a.latency_block)
    blocks = max(1, a.latency_calls // block)
    for b in range(blocks):
        for s in ab_order(sides, b):
            await seq_calls(clients[s.label], s.tool, block, f"lat{b}", res[s.label]["samples_ms"], errors[s.label])
    for label, r in res.items():
        r["errors"] = errors[label].count
        xs = r["samples_ms"]
        r.update(
            n=len(xs), p50=percentile(xs, 50), p90=percentile(xs, 90), p99=percentile(xs, 99), mean=statistics.fmean(xs)
        )
        del r["samples_ms"]
    return res


async def measure_load(
    sides: list[Side], clients: dict[str, Client], a: argparse.Namespace, conc: int, profiler: Profiler | None
) -> dict[str, Any]:
    res: dict[str, Any] = {s.label: {"elapsed": 0.0, "calls": 0, "lat": [], "rounds_cps": [], "cpu": {}} for s in sides}
    errors = {s.label: Errors() for s in sides}
    for s in sides:  # warm the connection pool at this concurrency
        await load_calls(clients[s.label], s.tool, conc, conc * 4, f"lw{conc}", errors[s.label])
    for rnd in range(a.load_rounds):
        for s in ab_order(sides, rnd):
            # Warm again right before each round: while the other sides ran, idle keep-alive connections (the
            # client's, meta-mcp's to its upstream) expired, and reopening them all at once is not the steady
            # state under load this measures (it put dozens of slow calls into each round's p99).
            await load_calls(clients[s.label], s.tool, conc, conc * 2, f"lr{conc}-{rnd}", errors[s.label])
            prof = profiler.start(s, conc) if profiler and rnd == 0 and s.label == "meta-mcp" else None
            before = cpu_snapshot(s)
            try:
                elapsed, lat = await load_calls(
                    clients[s.label], s.tool, conc, a.load_calls, f"l{conc}-{rnd}", errors[s.label]
                )
            finally:
                if prof is not None:
                    prof.stop()
            after = cpu_snapshot(s)
            r = res[s.label]
            for role, v in after.items():
                if v is not None and before.get(role) is not None:
                    r["cpu"][role] = r["cpu"].get(role, 0.0) + v - before[role]  # type: ignore[operator]
            r["elapsed"] += elapsed
            r["calls"] += len(lat)
            r["lat"] += lat
            r["rounds_cps"].append(len(lat) / elapsed)
    out: dict[str, Any] = {}
    for label, r in res.items():
        out[label] = {
            "calls": r["calls"],
            "cps": r["calls"] / r["elapsed"],
            "rounds_cps": [round(x, 1) for x in r["rounds_cps"]],
            "p50": percentile(r["lat"], 50),
            "p99": percentile(r["lat"], 99),
            "errors": errors[label].count,
            # CPU milliseconds per call, per process (client = this benchmark process)
            "cpu_ms_per_call": {role: 1000 * v / max(1, r["calls"]) for role, v in r["cpu"].items()},
        }
    return out


# --------------------------------------------------------------------------------------------------
# optional profiling of the meta-mcp process under load (py-spy, sampled from outside)


class Profiler:
    def __init__(self, outdir: Path, rate: int, extra: list[str]) -> None:
        self.outdir = outdir
        self.rate = rate
        self.extra = extra
        outdir.mkdir(parents=True, exist_ok=True)

    def start(self, side: Side, conc: int) -> _Recording | None:
        pid = side.pid()
        if pid is None:
            print(f"  [py-spy] no meta-mcp pid found for {side.transport}", file=sys.stderr)
            return None
        base = self.outdir / f"meta-mcp-{side.transport}-c{conc}"
        spy = Path(sys.executable).parent / "py-spy"
        argv = [
            str(spy) if spy.exists() else "py-spy",
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(self.rate),
            "--nonblocking",
        ]
        procs = [
            subprocess.Popen(
                [*argv, *self.extra, "--format", "raw", "--output", f"{base}.folded"],
                stdout=subprocess.DEVNULL,
                stderr=open(f"{base}.py-spy.log", "w"),  # noqa: SIM115
            )
        ]
        time.sleep(0.3)  # let py-spy attach
        return _Recording(procs)


class _Recording:
    def __init__(self, procs: list[subprocess.Popen[bytes]]) -> None:
        self.procs = procs

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def summarize_folded(path: str, top: int = 25) -> None:
    """Print self time by package and by function, and inclusive time, from py-spy raw (folded) output."""
    import collections
    import re

    frame_re = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")

    def where(frame: str) -> tuple[str, str]:
        m = frame_re.match(frame)
        if not m:
            return frame, frame
        fn, file = m.group(1), m.group(2)
        file = file.split("site-packages/")[-1]
        file = re.sub(r"^.*/lib/python3\.\d+/", "", file)
        file = re.sub(r"^.*/(meta_mcp|tests|bench)/", r"\1/", file)
        pkg = file.split("/")[0].removesuffix(".py")
        return f"{fn} ({file})", pkg

    self_fn: collections.Counter[str] = collections.Counter()
    self_pkg: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            frames = [where(x) for x in stack.split(";") if not x.startswith(("thread ", "process "))]
            if not frames:
                continue
            total += n
            self_fn[frames[-1][0]] += n
            self_pkg[frames[-1][1]] += n
            for name in {fr[0] for fr in frames}:
                incl[name] += n
    if not total:
        print(f"{path}: no samples")
        return
    for title, counter, k in (
        ("self time by package", self_pkg, top),
        ("self time by function", self_fn, top),
        ("inclusive time by function", incl, top * 2),
    ):
        print(f"== {title} ({total} samples, {path})")
        for name, v in counter.most_common(k):
            print(f"{100 * v / total:5.1f}%  {name}")


# --------------------------------------------------------------------------------------------------
# report


@dataclass
class Row:
    transport: str
    metric: str
    direct: float | None
    proxied: float | None
    kind: str  # "ratio" (proxied/direct) or "pct" (proxied as % of direct)
    unit: str
    target: str = ""
    ok: Callable[[float], bool] | None = None
    errors: int = 0  # failed calls behind these figures (either side)


def fmt_num(x: float | None, unit: str) -> str:
    if x is None:
        return "n/a"
    if unit == "calls/s":
        return f"{x:,.0f}"
    return f"{x:,.2f}" if x < 100 else f"{x:,.0f}"


def render(rows: list[Row]) -> str:
    header = ["transport", "metric", "direct", "via meta-mcp", "proxied/direct", "target", ""]
    table = [header]
    for r in rows:
        rel = ok = ""
        if r.direct and r.proxied is not None:
            v = r.proxied / r.direct
            rel = f"{v * 100:.1f}%" if r.kind == "pct" else f"{v:.2f}x"
            if r.ok is not None:
                ok = "ok" if r.ok(v) else "MISS"
        if r.errors:
            ok = f"{ok} ({r.errors} failed calls)".strip()
        table.append(
            [
                r.transport,
                f"{r.metric} ({r.unit})",
                fmt_num(r.direct, r.unit),
                fmt_num(r.proxied, r.unit),
                rel,
                r.target,
                ok,
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for n, row in enumerate(table):
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths if w).rstrip())
    return "\n".join(lines)


def rows_for(transport: str, res: dict[str, Any], concs: list[int]) -> list[Row]:
    def g(*path: str) -> float | None:
        cur: Any = res
        for p in path:
            if not isinstance(cur, dict) or p not in cur:
                return None
            cur = cur[p]
        return cur

    def errs(*path: str, sides: tuple[str, str] = ("direct", META)) -> int:
        return int(sum(g(*path, side, "errors") or 0 for side in sides))

    rows = [
        Row(
            transport,
            "cold start, median",
            g("cold", "direct", "median_ms"),
            g("cold", "meta-mcp", "median_ms"),
            "ratio",
            "ms",
            f"<= {TARGET_COLD}x",
            lambda v: v <= TARGET_COLD,
        ),
        Row(
            transport, "cold start, min", g("cold", "direct", "min_ms"), g("cold", "meta-mcp", "min_ms"), "ratio", "ms"
        ),
        Row(
            transport,
            "call p50",
            g("latency", "direct", "p50"),
            g("latency", "meta-mcp", "p50"),
            "ratio",
            "ms",
            f"<= {TARGET_P50}x",
            lambda v: v <= TARGET_P50,
            errs("latency"),
        ),
        Row(transport, "call p90", g("latency", "direct", "p90"), g("latency", "meta-mcp", "p90"), "ratio", "ms"),
        Row(transport, "call p99", g("latency", "direct", "p99"), g("latency", "meta-mcp", "p99"), "ratio", "ms"),
    ]
    for c in concs:
        k = f"c{c}"
        rows.append(
            Row(
                transport,
                f"throughput c={c}",
                g("load", k, "direct", "cps"),
                g("load", k, "meta-mcp", "cps"),
                "pct",
                "calls/s",
                f">= {TARGET_THROUGHPUT:.0%}",
                lambda v: v >= TARGET_THROUGHPUT,
                errs("load", k),
            )
        )
        rows.append(
            Row(
                transport,
                f"p99 under load c={c}",
                g("load", k, "direct", "p99"),
                g("load", k, "meta-mcp", "p99"),
                "ratio",
                "ms",
                f"<= {TARGET_P99_LOAD}x",
                lambda v: v <= TARGET_P99_LOAD,
                errs("load", k),
            )
        )
    if g("latency", TRACED) is not None:  # --tracing: meta-mcp traced against meta-mcp untraced
        both = (META, TRACED)
        rows += [
            Row(transport, "tracing: cold start, median", g("cold", META, "median_ms"), g("cold", TRACED, "median_ms"),
                "ratio", "ms"),
            *(Row(transport, f"tracing: call {q}", g("latency", META, q), g("latency", TRACED, q), "ratio", "ms",
                  errors=errs("latency", sides=both)) for q in ("p50", "p90", "p99")),
            *(Row(transport, f"tracing: throughput c={c}", g("load", f"c{c}", META, "cps"),
                  g("load", f"c{c}", TRACED, "cps"), "pct", "calls/s", errors=errs("load", f"c{c}", sides=both))
              for c in concs),
        ]
    if g("latency", BASE) is not None:  # --baseline REV: meta-mcp of REV against this tree's
        both = (BASE, META)
        rows += [
            Row(transport, "vs baseline: cold start, median", g("cold", BASE, "median_ms"), g("cold", META, "median_ms"),
                "ratio", "ms"),
            *(Row(transport, f"vs baseline: call {q}", g("latency", BASE, q), g("latency", META, q), "ratio", "ms",
                  errors=errs("latency", sides=both)) for q in ("p50", "p90", "p99")),
            *(Row(transport, f"vs baseline: throughput c={c}", g("load", f"c{c}", BASE, "cps"),
                  g("load", f"c{c}", META, "cps"), "pct", "calls/s", errors=errs("load", f"c{c}", sides=both))
              for c in concs),
            *(Row(transport, f"vs baseline: p99 under load c={c}", g("load", f"c{c}", BASE, "p99"),
                  g("load", f"c{c}", META, "p99"), "ratio", "ms", errors=errs("load", f"c{c}", sides=both))
              for c in concs),
            *(Row(transport, f"vs baseline: meta-mcp CPU/call c={c}",
                  g("load", f"c{c}", BASE, "cpu_ms_per_call", "meta-mcp"),
                  g("load", f"c{c}", META, "cpu_ms_per_call", "meta-mcp"), "ratio", "ms") for c in concs),
        ]
    return rows


def tracing_cost(transport: str, res: dict[str, Any], concs: list[int]) -> list[str]:
    """What tracing adds per call: sequential latency (p50, mean) and CPU under load (meta-mcp and the sink)."""
    lat = res.get("latency", {})
    lines = []
    if META in lat and TRACED in lat:
        off, on = lat[META], lat[TRACED]
        lines.append(f"  {transport:5} sequential: p50 +{on['p50'] - off['p50']:.3f} ms ({off['p50']:.3f} -> "
                     f"{on['p50']:.3f}), mean +{on['mean'] - off['mean']:.3f} ms")
    for c in concs:
        load = res.get("load", {}).get(f"c{c}", {})
        if META in load and TRACED in load:
            off = load[META]["cpu_ms_per_call"]
            on = load[TRACED]["cpu_ms_per_call"]
            meta_delta = on.get("meta-mcp", 0.0) - off.get("meta-mcp", 0.0)
            sink = on.get("otlp-sink", 0.0)
            lines.append(f"  {transport:5} c={c:<3} CPU per call: meta-mcp +{meta_delta:.3f} ms, OTLP sink {sink:.3f} ms; "
                         f"throughput {100 * load[TRACED]['cps'] / load[META]['cps']:.1f}% of untraced")
    return lines


# --------------------------------------------------------------------------------------------------
# main


async def run_transport(ctx: Ctx, transport: str, profiler: Profiler | None) -> dict[str, Any]:
    a = ctx.args
    sides = make_stdio_sides(ctx) if transport == "stdio" else await make_http_sides(ctx)
    res: dict[str, Any] = {}
    t = time.perf_counter()
    with anyio.fail_after(PHASE_TIMEOUT):
        res["cold"] = await measure_cold(sides, a.cold_reps)
    print(f"  [{transport}] cold start x{a.cold_reps} done in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    async with open_all(sides) as clients:
        res["protocol"] = {s.label: s.protocol_version for s in sides}
        t = time.perf_counter()
        with anyio.fail_after(PHASE_TIMEOUT):
            res["latency"] = await measure_latency(sides, clients, a)
        print(f"  [{transport}] latency done in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        res["load"] = {}
        for conc in a.concurrency:
            t = time.perf_counter()
            with anyio.fail_after(PHASE_TIMEOUT):
                res["load"][f"c{conc}"] = await measure_load(sides, clients, a, conc, profiler)
            print(f"  [{transport}] load c={conc} done in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        meta = next((s for s in sides if s.label == META), None)
        if transport == "http" and meta is not None and a.add_server:
            with anyio.fail_after(PHASE_TIMEOUT):
                res["add_server"] = await measure_add_server(meta, clients[META], a.add_server)
            print(f"  [{transport}] add_server x{a.add_server}: p50 {res['add_server']['add_p50']:.1f} ms",
                  file=sys.stderr)
    if transport == "http" and a.rss and meta is not None:
        with anyio.fail_after(PHASE_TIMEOUT):
            res["rss"] = await measure_rss(meta, a.rss_workspaces, a.rss_sessions)
        print(f"  [{transport}] rss: {res['rss']}", file=sys.stderr)
    return res


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def describe_machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        from importlib.metadata import version

        mcp_version = version("mcp")
    except Exception:  # noqa: BLE001 - informational only
        mcp_version = "?"
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], check=False, cwd=REPO, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    return {
        "loadavg": loadavg(),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "mcp": mcp_version,
        "commit": commit,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="echo upstream direct vs. through meta-mcp (stdio and streamable HTTP)")
    p.add_argument(
        "--mode",
        choices=["legacy", "auto"],
        default="legacy",
        help="client protocol: legacy = 2025-11-25 initialize handshake (default), auto = modern discover",
    )
    p.add_argument("--transport", choices=["stdio", "http", "both"], default="both")
    p.add_argument("--quick", action="store_true", help="small iteration counts (finishes in under a minute)")
    p.add_argument("--cold-reps", type=int, help="cold starts per side (default 10, quick 3)")
    p.add_argument("--warmup", type=int, help="sequential warm-up calls per side (default 200, quick 30)")
    p.add_argument("--latency-calls", type=int, help="measured sequential calls per side (default 2000, quick 200)")
    p.add_argument("--latency-block", type=int, default=100, help="calls per alternating A/B block")
    p.add_argument("--load-calls", type=int, help="calls per side per round per concurrency (default 2000, quick 300)")
    p.add_argument("--load-rounds", type=int, help="alternating rounds per concurrency (default 3, quick 1)")
    p.add_argument("--concurrency", default="8,50", help="comma-separated concurrent callers (default 8,50)")
    p.add_argument(
        "--prefix",
        default=None,
        help='tool prefix for the echo server in meta-mcp (default: server name -> "echo__echo"; "" -> "echo")',
    )
    p.add_argument("--stdio-upstream-protocol", choices=["default", "auto", "handshake"], default="default",
                   help="the era meta-mcp speaks to the stdio echo: its config entry's `protocol`, not the "
                        "baseline's (default: none, so meta-mcp's own setting decides — `follow`, the client's "
                        "era; auto: 2026-07-28 even to a legacy-mode client, whose echo then does more per call "
                        "behind meta-mcp than direct)"),
    p.add_argument("--python", default=sys.executable, help="interpreter for the echo upstream")
    p.add_argument("--meta-mcp", default=str(Path(sys.executable).parent / "meta-mcp"), help="meta-mcp executable")
    p.add_argument("--direct-only", action="store_true", help="measure only the direct side (no meta-mcp)")
    p.add_argument("--tracing", action="store_true",
                   help="also measure meta-mcp with OpenTelemetry tracing on (exporting to a local OTLP sink)")
    p.add_argument("--state", choices=["memory", "sqlite", "redis"], default="sqlite",
                   help="meta-mcp's state store: a fresh one per process (sqlite, the default, in the log dir; "
                        "redis: one redis-server for the run, a key prefix per process; memory)")
    p.add_argument("--baseline", metavar="REV",
                   help="also measure meta-mcp as of git revision REV (its meta_mcp package, this venv), side by side; "
                        "'vs baseline:' rows compare it (in the 'direct' column) with this tree")
    p.add_argument("--baseline-env", metavar="K=V", action="append", default=[],
                   help="environment of the baseline side (repeatable); alone, the baseline is this tree with it "
                        "(e.g. --baseline-env META_MCP_EVENT_LOOP=asyncio: what uvloop buys)")
    p.add_argument("--workers", type=int, default=1,
                   help="HTTP: meta-mcp with this many worker processes (> 1: its state store is Redis); compare "
                        "with --baseline-env META_MCP_WORKERS=1 --state redis, best with --mode auto (2026-era "
                        "requests are served by any worker; a handshake session by the worker that opened it)")
    p.add_argument("--add-server", type=int, metavar="N", default=None,
                   help="HTTP: time N add_server/remove_server pairs of an ad-hoc server (the echo's URL) on meta-mcp "
                        "after the load rounds (default 10, quick 3; 0: off) — what the state backend costs")
    p.add_argument("--rss", action="store_true",
                   help="HTTP: a fresh meta-mcp's RSS idle, with --rss-workspaces idle workspaces and then with "
                        "--rss-sessions idle handshake-era sessions")
    p.add_argument("--rss-workspaces", type=int, default=100)
    p.add_argument("--rss-sessions", type=int, default=1000)
    p.add_argument("--json", metavar="FILE", help="also write all results as JSON")
    p.add_argument("--summarize", metavar="FOLDED", help="(alone) summarise py-spy folded files and exit")
    p.add_argument(
        "--py-spy",
        metavar="DIR",
        help="record meta-mcp with py-spy (raw folded stacks) during the first proxied load round",
    )
    p.add_argument("--py-spy-rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument(
        "--py-spy-args",
        default="--threads",
        help='extra py-spy record arguments (default "--threads"; add "--gil" for CPU-only samples)',
    )
    a = p.parse_args(argv)
    quick = a.quick
    defaults = {
        "cold_reps": (10, 3),
        "warmup": (200, 30),
        "latency_calls": (2000, 200),
        "load_calls": (2000, 300),
        "load_rounds": (3, 1),
    }
    defaults["add_server"] = (10, 3)
    for k, (full, q) in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, q if quick else full)
    a.concurrency = [int(x) for x in str(a.concurrency).split(",") if x.strip()]
    if not a.direct_only and not Path(a.meta_mcp).exists():
        p.error(f"meta-mcp executable not found at {a.meta_mcp} (use --direct-only or --meta-mcp)")
    return a


async def amain(a: argparse.Namespace) -> int:
    logdir = Path(tempfile.mkdtemp(prefix="meta-mcp-bench-"))
    ctx = Ctx(a, logdir)
    if a.baseline:
        ctx.prepare_baseline()
    machine = describe_machine()
    transports = ["stdio", "http"] if a.transport == "both" else [a.transport]
    profiler = Profiler(Path(a.py_spy), a.py_spy_rate, a.py_spy_args.split()) if a.py_spy else None
    print(f"meta-mcp proxy benchmark  mode={a.mode}  transports={','.join(transports)}  logs={logdir}", file=sys.stderr)
    results: dict[str, Any] = {}
    failed = False
    t_start = time.perf_counter()
    try:
        for tr in transports:
            try:
                results[tr] = await run_transport(ctx, tr, profiler)
            except Exception as e:  # noqa: BLE001 - report what we have; keep the other transport's figures
                failed = True
                leaf: BaseException = e
                while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
                    leaf = leaf.exceptions[0]
                print(f"  [{tr}] FAILED: {type(leaf).__name__}: {leaf}", file=sys.stderr)
                traceback.print_exception(leaf, limit=-4, file=sys.stderr)
                for f in sorted(logdir.glob("*.log")):
                    tail = f.read_text(errors="replace")[-1500:]
                    if tail.strip():
                        print(f"  --- {f.name} (tail) ---\n{tail}", file=sys.stderr)
                results.setdefault(tr, {})
    finally:
        ctx.close()
    total = time.perf_counter() - t_start

    rows: list[Row] = []
    for tr in transports:
        rows += rows_for(tr, results.get(tr, {}), a.concurrency)
    print()
    print(f"# meta-mcp proxy overhead — {machine['date']}")
    print(
        f"# machine: {machine['cpus']} CPU ({machine['cpu']}), Linux {machine['kernel']}, Python {machine['python']}, "
        f"mcp {machine['mcp']}, commit {machine['commit'] or '?'}"
    )
    protos = {tr: results.get(tr, {}).get("protocol") for tr in transports}
    print(f"# client mode: {a.mode}; negotiated protocol: {json.dumps(protos)}; meta-mcp to the stdio echo: "
          f"{a.stdio_upstream_protocol}")
    print(
        f"# counts: cold x{a.cold_reps}, warm-up {a.warmup}, latency {a.latency_calls} (blocks of {a.latency_block}), "
        f"load {a.load_rounds} round(s) x {a.load_calls} calls at c={','.join(map(str, a.concurrency))}; "
        f"total {total:.0f}s"
    )
    print(f"# load average at start: {machine['loadavg']}, at end: {loadavg()} (1/5/15 min)")
    print()
    print(render(rows))
    misses = [
        f"{r.transport} {r.metric}"
        for r in rows
        if r.ok and r.direct and r.proxied is not None and not r.ok(r.proxied / r.direct)
    ]
    if any(r.errors for r in rows):
        print("WARNING: some calls failed; figures marked '(N failed calls)' are not comparable")
    print()
    cpu_lines = []
    for tr in transports:
        for c in a.concurrency:
            load = results.get(tr, {}).get("load", {}).get(f"c{c}", {})
            parts = []
            for label in ("direct", META, TRACED, BASE):
                cpu = load.get(label, {}).get("cpu_ms_per_call")
                if cpu:
                    roles = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
                    parts.append(f"{label}: {roles} = {sum(cpu.values()):.2f}")
            if parts:
                cpu_lines.append(f"  {tr:5} c={c:<3} " + " | ".join(parts))
    if cpu_lines:
        print("CPU ms per call under load, by process (client = this benchmark process):")
        print("\n".join(cpu_lines))
    per_core = []
    for tr in transports:
        for c in a.concurrency:
            cpu = results.get(tr, {}).get("load", {}).get(f"c{c}", {}).get(META, {}).get("cpu_ms_per_call", {})
            if cpu.get("meta-mcp"):
                per_core.append(f"{tr} c={c}: {1000 / cpu['meta-mcp']:,.0f}")
    if per_core:
        print("meta-mcp calls/s per core (1000 / its CPU ms per call): " + "; ".join(per_core)
              + f"  [ContextForge publishes {CONTEXTFORGE}]")
    for tr in transports:
        added = results.get(tr, {}).get("add_server")
        if added:
            print(f"{tr} add_server (ad-hoc, the echo's URL; state {a.state if a.workers <= 1 else 'redis'}), "
                  f"{added['reps']}x: p50 {added['add_p50']:.1f} ms, max {added['add_max']:.1f} ms; "
                  f"remove_server p50 {added['remove_p50']:.1f} ms")
        rss = results.get(tr, {}).get("rss")
        if rss:
            print(f"{tr} RSS of a fresh meta-mcp: idle {rss['idle_mib']:.1f} MiB; with {rss['workspaces']} idle workspaces "
                  f"{rss['workspaces_mib']:.1f} MiB ({rss['per_workspace_kib']:.0f} KiB each); with {rss['sessions']} "
                  f"idle handshake sessions more {rss['sessions_mib']:.1f} MiB ({rss['per_session_kib']:.1f} KiB each)"
                  + (f" [{rss['sessions_error']}]" if rss.get("sessions_error") else ""))
    cost = [line for tr in transports for line in tracing_cost(tr, results.get(tr, {}), a.concurrency)]
    if cost:
        print()
        print("tracing cost per call (meta-mcp traced vs untraced, same run; 'tracing:' rows above compare the same "
              "two, untraced in the 'direct' column):")
        print("\n".join(cost))
    print()
    checked = [r for r in rows if r.ok and r.direct and r.proxied is not None]
    if not checked:
        print("targets: not evaluated (no proxied figures)")
    else:
        print(
            f"targets: {len(checked) - len(misses)}/{len(checked)} met"
            + ("" if not misses else "; MISSED: " + "; ".join(misses))
        )
    for tr in transports:
        pv = protos.get(tr) or {}
        if len(set(pv.values())) > 1:
            print(f"WARNING: {tr}: direct and proxied negotiated different protocol versions: {pv}")
    if a.json:
        Path(a.json).write_text(
            json.dumps({"machine": machine, "args": vars(a), "results": results}, indent=2, default=str)
        )
    if failed:
        print(f"one or more phases FAILED (child logs in {logdir})")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--summarize"]:
        for path in argv[1:]:
            summarize_folded(path)
        return 0
    a = parse_args(argv)
    return anyio.run(amain, a)


if __name__ == "__main__":
    sys.exit(main())
