"""Load and soak: many clients of both eras, over HTTP and stdio, with mixed tools, while servers come and go.

    uv run python bench/load.py                         # 50 clients x 200 calls, one round
    uv run python bench/load.py --duration 600          # soak: rounds for 10 minutes, RSS and fds sampled
    uv run python bench/load.py --clients 10 --calls 50 --json /tmp/load.json

What runs (all on loopback; every loop bounded; the processes are ours and stopped at the end):
* the upstream `bench/load_upstream.py` (tools fast, slow, fail, big) over streamable HTTP;
* one meta-mcp over streamable HTTP in front of it (`load__*`), with ad-hoc specs allowed over HTTP for
  the churn below; HTTP clients share it (its default workspace);
* for each stdio client, a meta-mcp over stdio of its own, in front of a stdio `load_upstream.py`;
* the clients: `--clients` split between HTTP and stdio (`--stdio` of them over stdio), each half of
  each transport in the handshake era (2025-11-25) and half in the 2026-07-28 era. Each makes `--calls`
  calls one after another (so `--clients` calls are in flight), the mix fixed by index: 60 % `fast`,
  15 % `slow` (50 ms), 15 % `fail` (a tool error: expected, and checked), 10 % `big` (1 MiB, checked);
* churn: all the while, a separate handshake-era client of the HTTP meta-mcp adds an ad-hoc server
  (`add_server` with the upstream's URL) and removes it again, in a loop (every change tells every
  connected client: list_changed to handshake sessions, subscriptions to modern listeners).

An error is anything but the expected answer: an exception, a wrong text, `isError` where none is due or
missing where it is. The run fails (exit 1) on any error. Reported: calls and errors per kind and era,
latency p50/p99 per kind, churn cycles, and the HTTP meta-mcp's RSS and open file descriptors sampled
every second (with the stdio meta-mcps' summed), before, during and after; after each round, once the
clients are gone and idle keep-alive connections have closed (`SETTLE_S`, then one call: the upstream
pool drops the connections the upstream closed only when a request comes), the fds must be back where
they were (a leak otherwise). `--duration` repeats rounds
until that many seconds have passed (a soak) and prints the samples per minute: flat, or growing.
`run()` is the same as a function; tests/test_load.py runs a small version for correctness.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from proxy import child_pids, cmdline  # bench/ is on the path: this file and proxy.py run from there

REPO = Path(__file__).resolve().parent.parent
UPSTREAM = Path(__file__).resolve().parent / "load_upstream.py"
READY_S = 60.0
CALL_TIMEOUT_S = 60.0
KINDS = ("fast", "slow", "fail", "big")
BIG_KB = 1024
SETTLE_S = 6.0
"""After a round: longer than meta-mcp's upstream keep-alive (4 s) and uvicorn's (5 s), so only what is held
for good is still open when the descriptors are counted."""


@dataclass
class Options:
    clients: int = 50
    calls: int = 200
    stdio: int | None = None
    """How many of the clients use stdio (default: a fifth)."""
    duration: float = 0.0
    churn: bool = True
    sample_s: float = 1.0
    python: str = sys.executable
    meta_mcp: str = str(Path(sys.executable).parent / "meta-mcp")
    state: str = "memory://"
    log_dir: Path | None = None
    quiet: bool = False


@dataclass
class Sample:
    t: float
    rss_mb: float
    fds: int
    stdio_rss_mb: float
    stdio_fds: int
    calls: int


@dataclass
class Report:
    calls: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    churn_cycles: int = 0
    churn_errors: int = 0
    rounds: int = 0
    samples: list[Sample] = field(default_factory=list)
    fds_before: int = 0
    fds_after_rounds: list[int] = field(default_factory=list)
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    elapsed_s: float = 0.0

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values()) + self.churn_errors

    def leaked_fds(self, slack: int = 2) -> int:
        """Descriptors the HTTP meta-mcp holds after the last round beyond those before the first (`slack` for
        what the loop and pools keep open at their own discretion)."""
        if not self.fds_after_rounds:
            return 0
        return max(0, self.fds_after_rounds[-1] - self.fds_before - slack)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_status(pid: int) -> tuple[float, int]:
    """(RSS in MiB, open file descriptors) of one process; (0, 0) when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        return rss / 1024, len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0.0, 0


async def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            stream = await anyio.connect_tcp("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {port}") from None
            await anyio.sleep(0.05)
            continue
        await stream.aclose()
        return


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class _Tally:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.latency: dict[str, list[float]] = {k: [] for k in KINDS}
        self.done = 0

    def call(self, key: str, kind: str, ms: float | None, error: str | None) -> None:
        r = self.report
        r.calls[key] = r.calls.get(key, 0) + 1
        self.done += 1
        if error is not None:
            r.errors[key] = r.errors.get(key, 0) + 1
            if len(r.first_errors) < 10:
                r.first_errors.append(f"{key} {kind}: {error}"[:400])
        elif ms is not None:
            self.latency[kind].append(ms)


def _check(kind: str, text: str, result: Any) -> str | None:
    content = result.content[0].text if result.content and hasattr(result.content[0], "text") else None
    if kind == "fail":
        if not result.is_error or content != f"failed: {text}":
            return f"expected a tool error, got is_error={result.is_error} {content!r:.100}"
        return None
    if result.is_error:
        return f"unexpected tool error: {content!r:.200}"
    if kind == "big":
        return None if content is not None and len(content) == BIG_KB * 1024 and content.startswith(text) else (
            f"big result of {len(content or '')} chars")
    return None if content == text else f"wrong text {content!r:.100} for {text!r}"


def _kind(i: int) -> str:
    slot = i % 20
    return "fast" if slot < 12 else "slow" if slot < 15 else "fail" if slot < 18 else "big"


async def _client_calls(client: Client, key: str, tool_prefix: str, calls: int, tally: _Tally, who: int) -> None:
    for i in range(calls):
        kind = _kind(i + who)
        text = f"{key}-{who}-{i}"
        args: dict[str, Any] = {"text": text}
        if kind == "slow":
            args["ms"] = 50
        if kind == "big":
            args["kb"] = BIG_KB
        started = time.perf_counter()
        try:
            with anyio.fail_after(CALL_TIMEOUT_S):
                result = await client.call_tool(f"{tool_prefix}{kind}", args)
            error = _check(kind, text, result)
        except Exception as exc:  # noqa: BLE001 - counted
            error = f"{type(exc).__name__}: {exc}"
        tally.call(key, kind, (time.perf_counter() - started) * 1000, error)


async def _wait_tool(client: Client, tool: str) -> None:
    with anyio.fail_after(READY_S):
        while True:
            if any(t.name == tool for t in (await client.list_tools()).tools):
                return
            await anyio.sleep(0.05)


@contextlib.asynccontextmanager
async def _http_setup(o: Options, logs: Path) -> AsyncIterator[tuple[str, str, subprocess.Popen[bytes]]]:
    up_port, meta_port = _free_port(), _free_port()
    upstream = subprocess.Popen([o.python, str(UPSTREAM), "--transport", "http", "--port", str(up_port)], cwd=REPO,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=open(logs / "upstream-http.log", "w"), start_new_session=True)  # noqa: SIM115
    upstream_url = f"http://127.0.0.1:{up_port}/mcp"
    cfg = logs / "http-config.json"
    cfg.write_text(json.dumps({"mcpServers": {"load": {"url": upstream_url}}}))
    meta = subprocess.Popen(
        [o.meta_mcp, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(meta_port), "--config",
         str(cfg), "--state", o.state], cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(logs / "meta-mcp-http.log", "w"), start_new_session=True,  # noqa: SIM115
        env={**os.environ, "META_MCP_ALLOW_ADHOC_HTTP": "1", "META_MCP_LOG_LEVEL": "WARNING"})
    try:
        await _wait_port(up_port, upstream)
        await _wait_port(meta_port, meta)
        yield f"http://127.0.0.1:{meta_port}/mcp", upstream_url, meta
    finally:
        _stop(meta)
        _stop(upstream)


def _stdio_params(o: Options, logs: Path) -> StdioServerParameters:
    cfg = logs / "stdio-config.json"
    cfg.write_text(json.dumps({"mcpServers": {"load": {"command": o.python, "args": [str(UPSTREAM)]}}}))
    return StdioServerParameters(command=o.meta_mcp, args=["serve", "--config", str(cfg), "--state", "memory://",
                                                           "--log-level", "WARNING"], cwd=str(REPO))


async def _churn(url: str, upstream_url: str, report: Report, stop: anyio.Event) -> None:
    async with Client(url, mode="legacy", cache=None) as client:
        n = 0
        while not stop.is_set():
            n += 1
            name = f"churn{n % 3}"
            try:
                with anyio.fail_after(CALL_TIMEOUT_S):
                    added = await client.call_tool("add_server", {"name": name, "spec": {"url": upstream_url}})
                    outcome = (added.structured_content or {}).get("outcome")
                    if added.is_error or outcome != "added":
                        raise RuntimeError(f"add_server: {outcome!r} {added.content[0].text if added.content else ''!r:.200}")
                    await anyio.sleep(0.2)
                    removed = await client.call_tool("remove_server", {"name": name})
                    if removed.is_error:
                        raise RuntimeError(f"remove_server: {removed.content[0].text!r:.200}")
                report.churn_cycles += 1
            except Exception as exc:  # noqa: BLE001 - counted
                report.churn_errors += 1
                if len(report.first_errors) < 10:
                    report.first_errors.append(f"churn: {type(exc).__name__}: {exc}"[:400])
            await anyio.sleep(0.2)


async def _sampler(meta_pid: int, stdio_parent: int, report: Report, tally: _Tally, started: float,
                   every: float, stop: anyio.Event) -> None:
    while not stop.is_set():
        rss, fds = _proc_status(meta_pid)
        stdio = [p for p in child_pids(stdio_parent)
                 if p != meta_pid and ("meta-mcp" in cmdline(p) or "meta_mcp" in cmdline(p))]
        stats = [_proc_status(p) for p in stdio]
        report.samples.append(Sample(round(time.monotonic() - started, 1), round(rss, 1), fds,
                                     round(sum(s[0] for s in stats), 1), sum(s[1] for s in stats), tally.done))
        with anyio.move_on_after(every):
            await stop.wait()


async def _settled_fds(url: str, meta_pid: int, wait: float) -> int:
    """The HTTP meta-mcp's open descriptors once idle connections are gone: after `wait` (keep-alive timeouts),
    one call through it (its upstream HTTP pool drops the connections the upstream closed meanwhile only when
    a request comes: they sit in CLOSE-WAIT until then) on a connection of its own, closed again."""
    await anyio.sleep(wait)
    async with Client(url, mode="legacy", cache=None) as probe:
        await probe.call_tool("load__fast", {"text": "settle"})
    await anyio.sleep(0.5)
    return _proc_status(meta_pid)[1]


async def _round(o: Options, url: str, logs: Path, tally: _Tally) -> None:
    stdio_count = o.stdio if o.stdio is not None else max(o.clients // 5, 1 if o.clients > 1 else 0)
    http_count = o.clients - stdio_count
    plan = ([("http", "legacy" if i % 2 == 0 else "auto") for i in range(http_count)]
            + [("stdio", "legacy" if i % 2 == 0 else "auto") for i in range(stdio_count)])
    params = _stdio_params(o, logs)

    async def one(who: int, transport: str, mode: str) -> None:
        key = f"{transport}/{mode}"
        try:
            target: Any = url if transport == "http" else stdio_client(
                params, errlog=open(logs / f"stdio-client-{who}.log", "a"))  # noqa: SIM115
            async with Client(target, mode=mode, cache=None) as client:
                await _wait_tool(client, "load__fast")
                await _client_calls(client, key, "load__", o.calls, tally, who)
        except Exception as exc:  # noqa: BLE001 - a client that fails outside a call (connect, list, close)
            tally.call(key, "fast", None, f"client: {type(exc).__name__}: {exc}")

    async with anyio.create_task_group() as tg:
        for who, (transport, mode) in enumerate(plan):
            tg.start_soon(one, who, transport, mode)


async def run(o: Options) -> Report:
    """One load run (or a soak with `o.duration`) as the module docstring describes."""
    logs = o.log_dir or Path(tempfile.mkdtemp(prefix="meta-mcp-load-"))
    report = Report()
    tally = _Tally(report)
    started = time.monotonic()
    async with _http_setup(o, logs) as (url, upstream_url, meta):
        async with Client(url, mode="legacy", cache=None) as probe:  # up and listing before anything is counted
            await _wait_tool(probe, "load__fast")
        report.fds_before = await _settled_fds(url, meta.pid, 0.5)
        report.rss_before_mb = _proc_status(meta.pid)[0]
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_sampler, meta.pid, os.getpid(), report, tally, started, o.sample_s, stop)
            if o.churn:
                tg.start_soon(_churn, url, upstream_url, report, stop)
            while True:
                await _round(o, url, logs, tally)
                report.rounds += 1
                report.fds_after_rounds.append(await _settled_fds(url, meta.pid, SETTLE_S))
                if not o.quiet:
                    print(f"  round {report.rounds}: {tally.done} calls, {report.total_errors} errors, "
                          f"fds {report.fds_after_rounds[-1]} (before: {report.fds_before}), "
                          f"{time.monotonic() - started:.0f}s", file=sys.stderr)
                if time.monotonic() - started >= o.duration:
                    break
            stop.set()
        report.fds_after_rounds.append(await _settled_fds(url, meta.pid, SETTLE_S))
        report.rss_after_mb = _proc_status(meta.pid)[0]
    for kind, values in tally.latency.items():
        if values:
            report.latency_ms[kind] = {"n": len(values), "p50": round(statistics.median(values), 2),
                                       "p99": round(_percentile(values, 99), 2)}
    report.elapsed_s = round(time.monotonic() - started, 1)
    return report


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def render(report: Report, o: Options) -> str:
    lines = [f"load: {o.clients} clients x {o.calls} calls per round, {report.rounds} round(s) in {report.elapsed_s}s; "
             f"churn {report.churn_cycles} add/remove cycles ({report.churn_errors} failed)"]
    lines.append("calls and errors by transport/era: " + ", ".join(
        f"{k} {v} ({report.errors.get(k, 0)} errors)" for k, v in sorted(report.calls.items())))
    lines.append("latency by tool (ms): " + ", ".join(
        f"{k} p50 {v['p50']} p99 {v['p99']} (n={v['n']})" for k, v in report.latency_ms.items()))
    lines.append(f"HTTP meta-mcp: RSS {report.rss_before_mb:.1f} MiB before, {report.rss_after_mb:.1f} MiB after; "
                 f"fds {report.fds_before} before, after each round {report.fds_after_rounds}")
    if report.samples:
        lines.append("samples (s, HTTP meta-mcp RSS MiB / fds, stdio meta-mcps RSS MiB / fds, calls done):")
        step = max(1, len(report.samples) // 12) if o.duration < 120 else max(1, int(60 / o.sample_s))
        picked = report.samples[::step] + ([report.samples[-1]] if (len(report.samples) - 1) % step else [])
        for s in picked:
            lines.append(f"  {s.t:7.1f}  {s.rss_mb:7.1f} / {s.fds:4d}   {s.stdio_rss_mb:7.1f} / {s.stdio_fds:4d}   "
                         f"{s.calls}")
    for e in report.first_errors:
        lines.append(f"  error: {e}")
    lines.append(f"errors: {report.total_errors}; leaked fds: {report.leaked_fds()}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--stdio", type=int, help="how many clients use stdio (default: a fifth)")
    p.add_argument("--duration", type=float, default=0.0, help="soak: repeat rounds for this many seconds")
    p.add_argument("--no-churn", dest="churn", action="store_false")
    p.add_argument("--state", default="memory://", help="the HTTP meta-mcp's --state (default memory://)")
    p.add_argument("--json", type=Path, help="also write the report as JSON")
    a = p.parse_args(argv)
    o = Options(clients=a.clients, calls=a.calls, stdio=a.stdio, duration=a.duration, churn=a.churn, state=a.state)
    report = anyio.run(run, o)
    print(render(report, o))
    if a.json:
        a.json.write_text(json.dumps(asdict(report), indent=2))
    return 1 if report.total_errors or report.leaked_fds() else 0


if __name__ == "__main__":
    sys.exit(main())
