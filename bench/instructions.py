"""Instructions per proxied call: meta-mcp under valgrind's callgrind, a steadier measure than time.

On a shared machine, wall time and even CPU time per call move by 10-20 % between runs (other jobs,
caches, frequency); the number of instructions meta-mcp executes per call does not (within ~1-2 %).
This runs meta-mcp (stdio, or HTTP in front of an HTTP echo) under `valgrind --tool=callgrind` with
instrumentation off, warms it up, switches instrumentation on (`callgrind_control -i on`) for a fixed
number of `tools/call`s of the echo upstream, off again, and reports instructions (Ir) per call:
sequential calls, then calls with `--concurrency` callers in flight. Each variant runs in turn (the
counts are deterministic enough not to need interleaving); the first is the reference.

    uv run python bench/instructions.py                                   # this tree, stdio and HTTP
    uv run python bench/instructions.py --variant lean-off:META_MCP_LEAN_CALLS=false
    uv run python bench/instructions.py --baseline HEAD~3 --transport stdio   # another revision first
    uv run python bench/instructions.py --mode auto                          # 2026-07-28 client

Only meta-mcp runs under valgrind (~50x slower); the echo and the client run natively. Its figures
are Ir of the meta-mcp process alone (all threads), divided by the calls made while instrumenting.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy import ECHO, REPO, free_port, stop_process, wait_port  # noqa: E402

READY = 600.0  # seconds: meta-mcp starts ~50x slower under valgrind


def callgrind_argv(out: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-systime=no",
            f"--callgrind-out-file={out}"]


async def control(client: Client, pid: int, flag: str) -> None:
    """`callgrind_control FLAG PID`. Valgrind reads the command only while meta-mcp runs code, so the client
    pings it (a cheap request) until the command is answered."""
    done = anyio.Event()

    async def run() -> None:
        await anyio.to_thread.run_sync(lambda: subprocess.run(["callgrind_control", flag, str(pid)], check=True,
                                                              capture_output=True, timeout=300))
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        while not done.is_set():
            if client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS:
                await client.send_ping()
            else:  # no ping in the 2026-07-28 era
                await client.list_prompts()
            with anyio.move_on_after(0.05):
                await done.wait()


def total_ir(out: Path) -> int:
    """Ir of every dump of one run (callgrind_control -d writes parts: out.1, out.2, …)."""
    total = 0
    for part in sorted(out.parent.glob(out.name + ".*")):
        for line in part.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):  # ("summary:" stays 0 in a dump requested with callgrind_control)
                total += int(line.split()[1])
                break
    return total


async def calls(client: Client, tool: str, n: int, concurrency: int) -> None:
    it = iter(range(n))

    async def worker() -> None:
        for i in it:
            r = await client.call_tool(tool, {"text": f"t{i}"})
            if r.is_error or r.content[0].text != f"t{i}":  # type: ignore[union-attr]
                raise RuntimeError(f"bad echo: {r!r}")

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)


async def measure(client: Client, pid: int, out: Path, a: argparse.Namespace) -> dict[str, float]:
    tool = "echo__echo"
    with anyio.fail_after(READY):
        while True:
            listed = await client.list_tools()
            if any(t.name == tool for t in listed.tools):
                break
            await anyio.sleep(0.2)
    await calls(client, tool, a.warmup, 1)
    await calls(client, tool, a.warmup, a.concurrency)
    result = {}
    for label, conc in (("sequential", 1), (f"c={a.concurrency}", a.concurrency)):
        for part in out.parent.glob(out.name + ".*"):
            part.unlink()
        await control(client, pid, "--zero")
        await control(client, pid, "--instr=on")
        await calls(client, tool, a.calls, conc)
        await control(client, pid, "--instr=off")
        await control(client, pid, "--dump")
        result[label] = total_ir(out) / a.calls
    return result


def meta_argv(a: argparse.Namespace, revision_tree: Path | None) -> tuple[list[str], dict[str, str]]:
    env = {"META_MCP_SCRUB_ENV": "0"}  # no re-exec: valgrind would not follow it
    if revision_tree is None:
        return [a.python, "-m", "meta_mcp"], env
    env["PYTHONPATH"] = str(revision_tree)
    return [a.python, "-P", "-m", "meta_mcp"], env  # -P: the checkout (the cwd) must not come first on sys.path


async def run_variant(name: str, extra_env: dict[str, str], tree: Path | None, a: argparse.Namespace,
                      work: Path) -> dict[str, Any]:
    out = work / f"callgrind.{name}.{a.transport}.out"
    argv, env = meta_argv(a, tree)
    env.update(extra_env)
    state = ["--state", "memory://"] if tree is None or '"--state"' in (tree / "meta_mcp" / "cli.py").read_text() else []
    log = open(work / f"{name}-{a.transport}.log", "w")  # noqa: SIM115
    if a.transport == "stdio":
        cfg = work / f"cfg-{name}.json"
        cfg.write_text(json.dumps({"mcpServers": {"echo": {"command": a.python, "args": [str(ECHO)]}}}))
        vg = callgrind_argv(out)
        params = StdioServerParameters(command=vg[0], args=[*vg[1:], *argv, "serve", "--config", str(cfg), *state],
                                       cwd=str(REPO), env=env)
        async with Client(stdio_client(params, errlog=log), mode=a.mode, cache=None) as client:
            pid = _valgrind_child(os.getpid())
            result = await measure(client, pid, out, a)
    else:
        echo_port = free_port()
        echo = subprocess.Popen([a.python, str(ECHO), "--transport", "http", "--port", str(echo_port)], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        cfg = work / f"cfg-http-{name}.json"
        cfg.write_text(json.dumps({"mcpServers": {"echo": {"url": f"http://127.0.0.1:{echo_port}/mcp"}}}))
        port = free_port()
        proc = subprocess.Popen([*callgrind_argv(out), *argv, "serve", "--transport", "http", "--port", str(port),
                                 "--config", str(cfg), *state], cwd=REPO, env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        try:
            await wait_port(echo_port, echo, time.perf_counter() + 60)
            await wait_port(port, proc, time.perf_counter() + READY)
            async with Client(f"http://127.0.0.1:{port}/mcp", mode=a.mode, cache=None) as client:
                result = await measure(client, proc.pid, out, a)
        finally:
            stop_process(proc)
            stop_process(echo)
    log.close()
    return result


def _valgrind_child(pid: int) -> int:
    from proxy import child_pids, cmdline

    for child in child_pids(pid):
        if "valgrind" in cmdline(child) or "callgrind" in cmdline(child) or "meta_mcp" in cmdline(child):
            return child
    raise RuntimeError("meta-mcp under valgrind not found")


def extract(rev: str, work: Path) -> Path:
    tree = work / f"rev-{re.sub(r'[^A-Za-z0-9]', '-', rev)}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", rev, "meta_mcp", "catalog"], cwd=REPO, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


async def amain(a: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="meta-mcp-instr-"))
    variants: list[tuple[str, dict[str, str], Path | None]] = []
    for rev in a.baseline:
        variants.append((f"rev:{rev}", {}, extract(rev, work)))
    variants.append(("this tree", {}, None))
    for spec in a.variant:
        name, _, envs = spec.partition(":")
        variants.append((name, dict(e.split("=", 1) for e in envs.split(",") if e), None))
    transports = ["stdio", "http"] if a.transport == "both" else [a.transport]
    rows = []
    print(f"# callgrind Ir per tools/call of the echo, meta-mcp only; {a.calls} calls per figure, mode {a.mode}; "
          f"work dir {work}", file=sys.stderr)
    for transport in transports:
        a.transport = transport
        ref = None
        for name, env, tree in variants:
            safe = re.sub(r"[^A-Za-z0-9]", "-", name)
            res = await run_variant(safe, env, tree, a, work)
            ref = ref or res
            rows.append((transport, name, res, ref))
            print(f"  {transport:5} {name:24} " + "  ".join(f"{k} {v:,.0f} Ir ({v / ref[k]:.3f}x)"
                                                            for k, v in res.items()), file=sys.stderr)
    print()
    print(f"{'transport':9}  {'variant':24}  {'sequential Ir/call':>18}  {'ratio':>6}  "
          f"{'c=' + str(a.concurrency) + ' Ir/call':>14}  {'ratio':>6}")
    for transport, name, res, ref in rows:
        conc = f"c={a.concurrency}"
        print(f"{transport:9}  {name:24}  {res['sequential']:>18,.0f}  {res['sequential'] / ref['sequential']:>5.3f}x"
              f"  {res[conc]:>14,.0f}  {res[conc] / ref[conc]:>5.3f}x")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--transport", choices=["stdio", "http", "both"], default="both")
    p.add_argument("--mode", choices=["legacy", "auto"], default="legacy")
    p.add_argument("--calls", type=int, default=200, help="calls per figure (default 200)")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--baseline", metavar="REV", action="append", default=[],
                   help="first measure meta-mcp as of git revision REV (repeatable)")
    p.add_argument("--variant", metavar="NAME:K=V[,K=V]", action="append", default=[],
                   help="also measure this tree with this environment (repeatable)")
    p.add_argument("--python", default=sys.executable)
    return anyio.run(amain, p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
