"""run_code benchmark: cold runs of a trivial snippet, and what a bridged tool call costs, side by side.

One run, interleaved, loopback only. meta-mcp is started over stdio in front of the echo upstream
(`tests/upstreams/echo.py`); the client is the SDK's `mcp.Client` (cache off, 2025-11-25 handshake).

A run of `export default 1 + 1` (every run is a fresh Deno process, used once), five ways, rotated
per rep:
  * deno alone      : `deno run` with the sandbox's flags on a trivial file, warm cache, same base
                      directory as the runs — the floor Deno itself costs;
  * service cold    : `Sandbox.run` in this process with no pool (temp dir, Deno started for the
                      run, prelude, bridge; no MCP);
  * service warm    : the same with `pool_size=2`: the run takes a process started ahead;
  * run_code cold   : a `tools/call run_code` from the client through a meta-mcp with
                      `META_MCP_SANDBOX_POOL_SIZE=0` — what a host saw before the pool;
  * run_code warm   : the same through a second meta-mcp with the default pool (2) — what a host
                      sees now.
Both meta-mcp processes run side by side for the whole benchmark. Each step is followed by a pause
(`--gap-ms`, 100): the replacement a warm run starts in the background then does not overlap the
next step's timing (a cold run right after a warm one would pay for it), and the pool has refilled
by the next warm run, as between a model's turns. Then **back to back**:
blocks of consecutive warm run_code calls with nothing in between (each takes a process while the
replacement for the previous one is still starting), against the same blocks cold.
Targets: run_code warm p50 <= 40 ms; cold p50 <= 60 ms.

A tool call made from code vs. the same call made by the client, both through the same meta-mcp
(the warm one):
  * direct      : sequential `tools/call echo__echo` from the client; per-call mean and p50;
  * bridged     : one run_code whose code awaits `tools.echo.echo(...)` N times in a row, minus the
                  same run with N = 0, divided by N (medians over blocks) — per-call cost inside a run;
  * bridged, concurrent: N calls at once with Promise.all, same subtraction — amortized per call.
Blocks alternate direct / bridged / bridged-concurrent. Every echoed text is checked (in the code for
bridged calls: the run fails if one differs), a mismatch aborts the run.

    cd /work/main && uv run python bench/sandbox.py --quick    # ~30 s
    cd /work/main && uv run python bench/sandbox.py            # ~2 minutes
    cd /work/main && uv run python bench/sandbox.py --json /tmp/sandbox.json
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parent.parent
ECHO = REPO / "tests" / "upstreams" / "echo.py"
sys.path.insert(0, str(REPO))

from meta_mcp.services.sandbox import Sandbox, SandboxLimits, ToolTable, find_deno
from meta_mcp.services.sandbox.runner import DENO_PERMISSIONS, default_tmpdir

TARGET_COLD_P50_MS = 60.0
TARGET_WARM_P50_MS = 40.0
TRIVIAL = "export default 1 + 1;"
BRIDGED_SEQ = """
const n = {n};
let ok = 0;
for (let i = 0; i < n; i++) {
  const text = "b" + i;
  if ((await tools.echo.echo({ text })) !== text) throw new Error("echo mismatch at " + i);
  ok++;
}
export default ok;
"""
BRIDGED_PAR = """
const n = {n};
const texts = Array.from({ length: n }, (_, i) => "p" + i);
const got = await Promise.all(texts.map((text) => tools.echo.echo({ text })));
got.forEach((g, i) => { if (g !== texts[i]) throw new Error("echo mismatch at " + i); });
export default got.length;
"""


RUN_WAYS = ("deno alone", "service cold", "service warm", "run_code cold", "run_code warm")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": pct(values, 0.5), "p90": pct(values, 0.9), "min": min(values),
            "mean": statistics.fmean(values)}


class Bench:
    def __init__(self, client: Client, workdir: Path, cold_client: Client) -> None:
        self.client = client
        self.cold_client = cold_client
        self.workdir = workdir
        self.sandbox = Sandbox()
        self.warm_sandbox = Sandbox(pool_size=2)
        self.deno = find_deno()
        (workdir / "trivial.ts").write_text("console.log(1 + 1);\n")

    async def deno_alone(self) -> float:
        env = {"DENO_DIR": str(self.workdir / ".deno"), "NO_COLOR": "1", "DENO_NO_UPDATE_CHECK": "1",
               "PATH": os.defpath, "HOME": str(self.workdir)}
        t0 = time.perf_counter()
        proc = await anyio.run_process([self.deno, "run", *DENO_PERMISSIONS, "trivial.ts"], cwd=self.workdir,
                                       env=env, check=False)
        elapsed = (time.perf_counter() - t0) * 1000
        if proc.returncode != 0 or proc.stdout.strip() != b"2":
            raise RuntimeError(f"deno alone failed: {proc.stderr.decode()[:500]}")
        return elapsed

    async def service(self, warm: bool = False) -> float:
        async def no_tools(binding: Any, args: dict[str, Any]) -> dict[str, Any]:
            raise AssertionError("no tool calls expected")

        sandbox = self.warm_sandbox if warm else self.sandbox
        t0 = time.perf_counter()
        result = await sandbox.run(TRIVIAL, ToolTable(), no_tools, SandboxLimits())
        elapsed = (time.perf_counter() - t0) * 1000
        if not (result.ok and result.value == 2):
            raise RuntimeError(f"service run failed: {result}")
        return elapsed

    async def run_code(self, code: str, expect: Any, timeout_s: float = 60, cold: bool = False) -> tuple[float, float]:
        """(client wall ms, the run's own durationMs)."""
        client = self.cold_client if cold else self.client
        t0 = time.perf_counter()
        result = await client.call_tool("run_code", {"code": code, "timeout_s": timeout_s})
        elapsed = (time.perf_counter() - t0) * 1000
        s = result.structured_content or {}
        if result.is_error or s.get("result") != expect:
            raise RuntimeError(f"run_code failed: {result.content[0].text[:500] if result.content else result}")
        return elapsed, float(s["durationMs"])

    async def direct_calls(self, n: int) -> list[float]:
        out = []
        for i in range(n):
            text = f"d{i}"
            t0 = time.perf_counter()
            result = await self.client.call_tool("echo__echo", {"text": text})
            out.append((time.perf_counter() - t0) * 1000)
            if result.is_error or result.content[0].text != text:
                raise RuntimeError(f"direct echo mismatch: {result}")
        return out


async def measure(a: argparse.Namespace) -> dict[str, Any]:
    # Same base directory as the sandbox's runs, so "deno alone" is a fair floor.
    config = Path(tempfile.mkdtemp(prefix="bench-sandbox-", dir=default_tmpdir())) / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"echo": {"command": sys.executable, "args": [str(ECHO)]}}}))
    meta = [str(Path(sys.executable).parent / "meta-mcp"), "serve", "--log-level", "WARNING", "--config", str(config)]
    env = {"META_MCP_SANDBOX_MAX_TOOL_CALLS": str(a.calls + 10)}  # the default (100) is below a full block
    params = StdioServerParameters(command=meta[0], args=meta[1:], cwd=str(REPO), env=env)
    cold_params = StdioServerParameters(command=meta[0], args=meta[1:], cwd=str(REPO),
                                        env={**env, "META_MCP_SANDBOX_POOL_SIZE": "0"})
    with open(config.parent / "meta-mcp.stderr", "w") as errlog:  # noqa: ASYNC230  (once, before timing)
        async with Client(stdio_client(params, errlog=errlog), mode="legacy", cache=None) as client, \
                Client(stdio_client(cold_params, errlog=errlog), mode="legacy", cache=None) as cold_client:
            bench = Bench(client, config.parent, cold_client)
            with anyio.fail_after(900):
                # Warm-up: meta-mcp's first calls, the page cache for Deno's binary and the prelude.
                for _ in range(a.warmup):
                    await bench.run_code(TRIVIAL, 2)
                    await bench.run_code(TRIVIAL, 2, cold=True)
                    await bench.service()
                    await bench.service(warm=True)
                    await bench.deno_alone()
                await bench.direct_calls(50)

                cold: dict[str, list[float]] = {name: [] for name in RUN_WAYS}
                inside: dict[str, list[float]] = {"run_code cold": [], "run_code warm": []}

                async def run_code_cold() -> float:
                    wall, own = await bench.run_code(TRIVIAL, 2, cold=True)
                    inside["run_code cold"].append(own)
                    return wall

                async def run_code_warm() -> float:
                    wall, own = await bench.run_code(TRIVIAL, 2)
                    inside["run_code warm"].append(own)
                    return wall

                async def service_warm() -> float:
                    return await bench.service(warm=True)

                steps = [bench.deno_alone, bench.service, service_warm, run_code_cold, run_code_warm]
                for rep in range(a.cold_reps):
                    for k in range(len(steps)):
                        i = (rep + k) % len(steps)
                        cold[RUN_WAYS[i]].append(await steps[i]())
                        await anyio.sleep(a.gap_ms / 1000)

                back: dict[str, list[float]] = {"cold": [], "warm": []}
                for rep in range(a.back_blocks):
                    for kind in (("cold", "warm") if rep % 2 == 0 else ("warm", "cold")):
                        for _ in range(10):
                            back[kind].append((await bench.run_code(TRIVIAL, 2, cold=kind == "cold"))[0])
                bench.warm_sandbox.close()

                n = a.calls
                direct: list[float] = []
                seq_n: list[float] = []
                seq_0: list[float] = []
                par_n: list[float] = []
                for _ in range(a.blocks):
                    direct += await bench.direct_calls(n)
                    seq_0.append((await bench.run_code(BRIDGED_SEQ.replace("{n}", "0"), 0))[0])
                    seq_n.append((await bench.run_code(BRIDGED_SEQ.replace("{n}", str(n)), n))[0])
                    par_n.append((await bench.run_code(BRIDGED_PAR.replace("{n}", str(n)), n))[0])
                    direct += await bench.direct_calls(n)
    shutil.rmtree(config.parent, ignore_errors=True)
    bridged_seq = (statistics.median(seq_n) - statistics.median(seq_0)) / n
    bridged_par = (statistics.median(par_n) - statistics.median(seq_0)) / n
    return {
        "cold": {k: summary(v) for k, v in cold.items()},
        "cold_inside_ms": {k: summary(v) for k, v in inside.items()},
        "back_to_back": {k: summary(v) for k, v in back.items()},
        "calls": n,
        "direct": summary(direct),
        "bridged_seq_per_call_ms": bridged_seq,
        "bridged_par_per_call_ms": bridged_par,
        "run_ms": {"n=0": statistics.median(seq_0), f"seq n={n}": statistics.median(seq_n),
                   f"concurrent n={n}": statistics.median(par_n)},
    }


def render(r: dict[str, Any]) -> str:
    lines = ["", "A run of `export default 1 + 1` (a fresh Deno process each, used once), ms:",
             f"  {'':16s} {'p50':>8s} {'p90':>8s} {'min':>8s}   n"]
    for name, s in r["cold"].items():
        lines.append(f"  {name:16s} {s['p50']:8.1f} {s['p90']:8.1f} {s['min']:8.1f}   {s['n']}")
    c, b = r["cold"], r["back_to_back"]
    cold_p50, warm_p50 = c["run_code cold"]["p50"], c["run_code warm"]["p50"]
    met_cold = "MET" if cold_p50 <= TARGET_COLD_P50_MS else "MISSED"
    met_warm = "MET" if warm_p50 <= TARGET_WARM_P50_MS else "MISSED"
    seq, par, direct = r["bridged_seq_per_call_ms"], r["bridged_par_per_call_ms"], r["direct"]
    lines += [
        "  run_code's own durationMs p50: " + ", ".join(f"{k} {v['p50']:.1f}" for k, v in r["cold_inside_ms"].items()),
        (f"  warm / cold (p50): run_code {warm_p50 / cold_p50:.2f}x, service "
         f"{c['service warm']['p50'] / c['service cold']['p50']:.2f}x;"
         f"  run_code cold / deno alone: {cold_p50 / c['deno alone']['p50']:.2f}x,"
         f" warm / deno alone: {warm_p50 / c['deno alone']['p50']:.2f}x"),
        (f"  back to back (blocks of 10): cold p50 {b['cold']['p50']:.1f} p90 {b['cold']['p90']:.1f}, warm p50 "
         f"{b['warm']['p50']:.1f} p90 {b['warm']['p90']:.1f} ({b['warm']['p50'] / b['cold']['p50']:.2f}x)"),
        f"  target run_code warm p50 <= {TARGET_WARM_P50_MS:.0f} ms: {met_warm} ({warm_p50:.1f} ms);"
        f" cold p50 <= {TARGET_COLD_P50_MS:.0f} ms: {met_cold} ({cold_p50:.1f} ms)",
        "",
        f"Tool call cost, echo upstream through the same meta-mcp (N = {r['calls']} per block), ms per call:",
        f"  direct (client tools/call)     mean {direct['mean']:7.3f}   p50 {direct['p50']:7.3f}",
        f"  bridged, sequential in code    mean {seq:7.3f}   ({seq / direct['mean']:.2f}x direct mean)",
        f"  bridged, concurrent in code    mean {par:7.3f}   ({par / direct['mean']:.2f}x direct mean)",
        "  run_code wall (median): " + ", ".join(f"{k} {v:.1f}" for k, v in r["run_ms"].items()),
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    p.add_argument("--cold-reps", type=int, help="runs per way (default 60; quick 15)")
    p.add_argument("--back-blocks", type=int, help="back-to-back blocks of 10 runs per kind (default 6; quick 2)")
    p.add_argument("--calls", type=int, help="tool calls per block (default 200; quick 50)")
    p.add_argument("--blocks", type=int, help="alternating blocks (default 5; quick 2)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--gap-ms", type=float, default=100.0, help="pause after each step of the rotation (default 100)")
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    a = p.parse_args(argv)
    a.cold_reps = a.cold_reps or (15 if a.quick else 60)
    a.back_blocks = a.back_blocks or (2 if a.quick else 6)
    a.calls = a.calls or (50 if a.quick else 200)
    a.blocks = a.blocks or (2 if a.quick else 5)
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    started = _dt.datetime.now().isoformat(timespec="seconds")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                            check=False).stdout
    machine = f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    print(f"bench/sandbox.py  {started}  commit {commit.strip()}  {machine}")
    print(f"deno {find_deno()}; cold reps {a.cold_reps}, calls {a.calls} x {a.blocks} blocks")
    result = anyio.run(measure, a)
    print(render(result))
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    if a.json:
        a.json.write_text(json.dumps({"started": started, "commit": commit.strip(), "machine": machine, **result},
                                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
