"""run_code's pool of pre-started Deno processes (`services/sandbox/pool.py`): the same runs, faster.

- a pooled run gives the same results and errors as a cold one (the same code through both);
- limits and the security properties hold in pooled runs: representative cases of
  test_sandbox_security.py (and of test_sandbox_service.py) are reused, not copied, through a
  meta-mcp with the pool off and on;
- a process serves one run: pids never repeat, the process is gone when its run ends; a waiting
  process has nothing of any run (no user module, no nonce) until it is taken;
- a pooled process that died while it waited is discarded, and the run starts its own;
- the pool is bounded, filled only after the first run, and emptied at exit (and when meta-mcp is
  killed, its waiting processes exit on their own).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import test_sandbox_security as security
import test_sandbox_service as service
from support import ServerUrl, meta_mcp_http, poll_until, text_of, upstream_entry

from meta_mcp.services.sandbox import Sandbox, SandboxLimits, ToolTable
from meta_mcp.services.sandbox.pool import Pool

pytestmark = pytest.mark.anyio

ECHO = service.ECHO
_echo = service._echo


async def _failing(binding: Any, args: dict[str, Any]) -> dict[str, Any]:
    return {"isError": True, "content": [{"type": "text", "text": f"no {args.get('what')}"}]}


async def warm_pool(sandbox: Sandbox, wanted: int | None = None) -> None:
    """Until `wanted` (default: the pool's size) processes wait in the pool."""
    wanted = sandbox.pool.size if wanted is None else wanted

    async def ready() -> bool:
        return len(sandbox.pool) >= wanted

    await poll_until(ready, timeout=20, interval=0.01, what=f"{wanted} pooled processes")


async def first_run(sandbox: Sandbox) -> None:
    result = await sandbox.run("export default 0", ToolTable(), _echo, SandboxLimits())
    assert result.ok, result


@contextlib.asynccontextmanager
async def pooled(size: int) -> AsyncIterator[Sandbox]:
    """A sandbox whose pool is full (after its first run); closed afterwards."""
    sandbox = Sandbox(pool_size=size)
    try:
        await first_run(sandbox)
        await warm_pool(sandbox)
        yield sandbox
    finally:
        sandbox.close()


def is_gone(pid: int) -> bool:
    """Exited and ready to be reaped. A killed Deno's main thread shows "Z" while its other threads are
    still being torn down, and until they are gone `waitpid` does not report it: so a "Z" counts only
    once no other thread is left (the pool's own `alive()` check would still see it running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return True
    return state in ("Z", "X") and len(threads) <= 1


# -- the same results and errors ------------------------------------------------------------------

SAME = {
    "value": ("const r = await tools.echo.echo({ a: [1, 2] }); console.log('got', r); export default r", False),
    "no default": ("console.log('nothing exported')", False),
    "thrown": ('function f() { throw new RangeError("bad " + 1); }\nf();\nexport default 1', False),
    "tool error": ("try { await tools.echo.echo({ what: 'x' }); } catch (e) { console.log(e.name, e.message, "
                   "e.server, e.tool); throw e; }", False),
    "early error": ("let a = 1;\nlet a = 2;\nexport default a", False),
    "callbacks": ('setTimeout(() => { throw new Error("in a timer"); }, 1); await new Promise((r) => setTimeout(r, 20));'
                  ' Promise.reject(new Error("nobody")); await new Promise((r) => setTimeout(r, 10));'
                  ' export default "survived"', False),
    "not json": ("export default () => 1", False),
    # TypeScript reads `1 < 2 > (3)` as a call with a type argument; JavaScript as two comparisons.
    "typescript": ("export default 1 < 2 > (3)", False),
    "javascript": ("export default 1 < 2 > (3)", True),
    "unknown tool": ("export default await tools.echo.nope()", False),
    "import.meta": ("export default import.meta.url.split('/').pop()", False),
}


def essence(result: Any) -> tuple[Any, ...]:
    return result.ok, result.value, result.console, result.error, result.error_kind, result.limit, result.tool_calls


async def test_a_pooled_run_gives_the_same_results_and_errors_as_a_cold_one() -> None:
    cold = Sandbox(pool_size=0)
    results = {}
    async with pooled(1) as warm:
        for name, (code, javascript) in SAME.items():
            caller = _failing if name == "tool error" else _echo
            await warm_pool(warm)
            taken = warm.pool.stats.taken
            a = await cold.run(code, ECHO, caller, SandboxLimits(), javascript=javascript)
            results[name] = b = await warm.run(code, ECHO, caller, SandboxLimits(), javascript=javascript)
            assert warm.pool.stats.taken == taken + 1, name  # really served by a pre-started process
            assert essence(a) == essence(b), name
    assert cold.pool.stats.started == 0 and len(cold.pool) == 0
    # and what they give
    assert results["value"].value == {"a": [1, 2]} and results["value"].console == "got { a: [ 1, 2 ] }\n"
    assert results["no default"].ok and results["no default"].value is None
    assert results["thrown"].error_kind == "code" and "RangeError: bad 1" in results["thrown"].error
    assert "user.ts:1:" in results["thrown"].error and "/meta-mcp-run-" not in results["thrown"].error
    assert "ToolError no x echo echo" in results["tool error"].console
    assert "has already been declared" in results["early error"].error
    assert results["callbacks"].value == "survived" and "Uncaught Error: in a timer" in results["callbacks"].console
    assert "not JSON-serializable" in results["not json"].error
    assert results["typescript"].error_kind == "code" and results["javascript"].value is False
    assert "tools.echo.nope is not a tool of this run" in results["unknown tool"].error
    assert results["import.meta"].value == "user.ts"


# -- limits and security, pool off and on, through meta-mcp -----------------------------------------

ATTACKS = ["file-read", "net-fetch", "subprocess", "environment", "eval", "node-vm", "persist-localstorage",
           "read-stdin", "bridge-internals", "data-import-of-node-vm", "infinite-loop", "heap-bomb",
           "arraybuffer-bomb", "output-flood", "result-flood", "tool-call-flood", "outside-allowed-servers"]
"""Representative cases of test_sandbox_security.ATTACKS: permissions, eval, the prelude's removals,
imports, and every limit (time, heap, memory outside the heap, output, result, tool calls)."""


@pytest.fixture(scope="module", params=[0, 2], ids=["pool-off", "pool-on"])
async def meta_url(request: pytest.FixtureRequest) -> AsyncIterator[ServerUrl]:
    env = {**security.LIMITS, "META_MCP_SANDBOX_POOL_SIZE": str(request.param)}
    async with meta_mcp_http({"echo": upstream_entry("echo"), "rich": upstream_entry("rich")}, env=env) as url:
        url.pool_size = request.param  # type: ignore[attr-defined]
        yield url


client = security.client  # the same client fixture, on this module's meta_url


async def served_by_the_pool(client: Any, url: ServerUrl) -> None:
    """With the pool on, the next run is served by a process that was waiting before it was asked for."""
    if not url.pool_size:  # type: ignore[attr-defined]
        assert security.deno_children(url.proc.pid, waiting=True) == []
        return

    async def waiting() -> list[int]:
        return security.deno_children(url.proc.pid, waiting=True)

    if not await waiting():  # the pool fills after the first run
        await client.call_tool("run_code", {"code": "export default 0"})
    before = await poll_until(waiting, timeout=20, interval=0.02, what="a waiting pooled process")
    assert len(before) <= url.pool_size  # type: ignore[attr-defined]
    run = await client.call_tool("run_code", {"code": "export default Deno.pid"})
    assert run.structured_content["result"] in before, (run.structured_content, before)


@pytest.mark.parametrize("name", ATTACKS)
async def test_attacks_and_limits_hold_in_pooled_runs(name: str, client: Any, meta_url: ServerUrl) -> None:
    await served_by_the_pool(client, meta_url)
    await security.test_attack_is_denied_or_killed(name, client, meta_url)


async def test_forgery_and_tampering_do_not_reach_a_pooled_bridge(client: Any, meta_url: ServerUrl) -> None:
    for case in (security.test_species_cannot_reach_the_bridge,
                 security.test_tampering_with_every_intrinsic_does_not_reach_the_bridge,
                 security.test_forged_bridge_messages_are_plain_output):
        await served_by_the_pool(client, meta_url)
        await case(client, meta_url)


async def test_concurrent_attacks_and_honest_runs_with_the_pool(meta_url: ServerUrl) -> None:
    await security.test_attacks_do_not_disturb_concurrent_runs_and_calls(meta_url)


async def test_a_cancelled_pooled_run_is_killed(client: Any, meta_url: ServerUrl) -> None:
    await served_by_the_pool(client, meta_url)
    await security.test_a_cancelled_run_is_killed(client, meta_url)


async def test_each_run_code_is_a_new_process(client: Any, meta_url: ServerUrl) -> None:
    pids = []
    for _ in range(6):
        run = await client.call_tool("run_code", {"code": "(globalThis as any).kept ??= Deno.pid;"
                                                           " export default [Deno.pid, (globalThis as any).kept]"})
        pid, kept = run.structured_content["result"]
        assert pid == kept, text_of(run)
        pids.append(pid)
    assert len(set(pids)) == len(pids), pids
    assert all(is_gone(pid) for pid in pids)
    assert len(security.deno_children(meta_url.proc.pid, waiting=True)) <= meta_url.pool_size  # type: ignore[attr-defined]


# -- the same, service by service: reused from test_sandbox_service.py -----------------------------

SERVICE_CASES = ["test_each_run_is_a_fresh_process", "test_import_map_blocks_files_even_without_the_source_check",
                 "test_nothing_loads_even_without_the_source_check",
                 "test_runs_beyond_the_concurrency_limit_wait_for_a_slot",
                 "test_messages_over_a_limit_end_the_run_with_a_limit_error",
                 "test_calls_in_flight_are_bounded_and_the_rest_wait",
                 "test_the_table_not_the_sandbox_decides_what_is_called"]
"""Cold, these run in test_sandbox_service.py itself."""


class WarmSandbox(Sandbox):
    """A sandbox whose every run is served by a pooled process: before each, one is waiting."""

    made: list[WarmSandbox] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "pool_size": 2})
        self.warmed = False
        WarmSandbox.made.append(self)

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        if not self.warmed:
            self.warmed = True
            await super().run("export default 0", ToolTable(), _echo, SandboxLimits())  # the pool fills after a run
        await warm_pool(self, 1)
        return await super().run(*args, **kwargs)


@pytest.mark.parametrize("name", SERVICE_CASES)
async def test_service_cases_in_pooled_processes(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(service, "Sandbox", WarmSandbox)
    WarmSandbox.made = []
    case = getattr(service, name)
    kwargs = {k: v for k, v in {"monkeypatch": monkeypatch, "tmp_path": tmp_path}.items()
              if k in case.__code__.co_varnames[: case.__code__.co_argcount]}
    try:
        await case(**kwargs)
        assert WarmSandbox.made and all(s.pool.stats.taken > 0 for s in WarmSandbox.made)
    finally:
        for sandbox in WarmSandbox.made:
            sandbox.close()


# -- one run per process; nothing of a run before it is taken ---------------------------------------

async def test_a_pooled_process_is_never_reused_and_has_seen_nothing_before_its_run() -> None:
    async with pooled(2) as sandbox:
        for pid in sandbox.pool.pids():
            workdir = Path(os.readlink(f"/proc/{pid}/cwd"))
            assert sorted(p.name for p in workdir.iterdir()) == [".deno", "import_map.json", "main.ts"]
            assert "export default" not in Path(f"/proc/{pid}/cmdline").read_text()
        pids = []
        for i in range(5):
            waiting = sandbox.pool.pids()
            result = await sandbox.run(f"export default [Deno.pid, {i}]", ECHO, _echo, SandboxLimits())
            assert result.ok and result.value[1] == i, result
            pids.append(result.value[0])
            assert result.value[0] in waiting or not waiting, (result.value, waiting)
            assert result.value[0] not in sandbox.pool.pids() and is_gone(result.value[0])
            await warm_pool(sandbox)
        assert len(set(pids)) == 5 and sandbox.pool.stats.taken >= 4


async def test_a_pooled_process_with_other_limits_is_not_used() -> None:
    async with pooled(1) as sandbox:
        (waiting,) = sandbox.pool.pids()
        heap = await sandbox.run("export default Deno.pid", ECHO, _echo, SandboxLimits(heap_mb=64))
        assert heap.ok and heap.value != waiting and sandbox.pool.stats.taken == 0
        assert is_gone(waiting)  # dropped: the pool now starts processes for the new limits
        await warm_pool(sandbox)
        (fresh,) = sandbox.pool.pids()
        again = await sandbox.run("export default Deno.pid", ECHO, _echo, SandboxLimits(heap_mb=64))
        assert again.value == fresh and sandbox.pool.stats.taken == 1


# -- dead pooled processes --------------------------------------------------------------------------

async def test_a_pooled_process_that_died_is_discarded_and_the_run_starts_its_own() -> None:
    async with pooled(1) as sandbox:
        (victim,) = sandbox.pool.pids()
        os.kill(victim, signal.SIGKILL)
        await poll_until(lambda: _async(is_gone(victim)), timeout=10, interval=0.01, what="the kill")
        result = await sandbox.run("export default Deno.pid", ECHO, _echo, SandboxLimits())
        assert result.ok and result.value != victim, result
        assert sandbox.pool.stats.discarded == 1 and sandbox.pool.stats.taken == 0


async def test_a_pooled_process_that_dies_as_it_is_taken_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Alive when taken, dead before it reads its run: nothing came back, no call was made, so the run
    goes to a fresh process (within the same time limit) instead of failing."""
    victims: list[int] = []
    take = Pool.take

    def take_and_kill(self: Pool, key: Any) -> Any:
        process = take(self, key)
        if process is not None:
            victims.append(process.pid)
            process.kill()
            time.sleep(0.05)  # noqa: ASYNC251  (dead before the run is sent, not yet reaped)
        return process

    async with pooled(1) as sandbox:
        monkeypatch.setattr(Pool, "take", take_and_kill)
        result = await sandbox.run("export default [Deno.pid, await tools.echo.echo({ n: 1 })]", ECHO, _echo,
                                   SandboxLimits())
        assert victims and result.ok and result.value == [result.value[0], {"n": 1}], result
        assert result.value[0] not in victims and result.tool_calls == 1


async def _async(value: Any) -> Any:
    return value


# -- bounded, lazy, emptied at exit -----------------------------------------------------------------

def my_deno_children() -> list[int]:
    return [*security.deno_children(os.getpid()), *security.deno_children(os.getpid(), waiting=True)]


async def test_the_pool_is_bounded_lazy_and_emptied_by_close() -> None:
    assert my_deno_children() == []
    sandbox = Sandbox(pool_size=2, max_concurrent=4)
    await anyio.sleep(0.2)
    assert len(sandbox.pool) == 0 and my_deno_children() == []  # nothing before the first run
    try:
        await first_run(sandbox)
        await warm_pool(sandbox)
        results: list[Any] = []

        async def one(i: int) -> None:
            results.append(await sandbox.run(f"await new Promise((r) => setTimeout(r, 50)); export default {i}",
                                             ECHO, _echo, SandboxLimits()))

        for _ in range(3):
            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(one, i)
            assert len(sandbox.pool) <= 2 and len(my_deno_children()) <= 2
        assert sorted(r.value for r in results) == sorted(list(range(6)) * 3)
        await warm_pool(sandbox)
        await anyio.sleep(0.3)  # no more are started than the size
        assert len(sandbox.pool) == 2 and len(my_deno_children()) == 2
        workdirs = [Path(os.readlink(f"/proc/{pid}/cwd")) for pid in sandbox.pool.pids()]
    finally:
        sandbox.close()
    assert len(sandbox.pool) == 0 and my_deno_children() == []
    assert not any(w.exists() for w in workdirs)
    sandbox.pool.fill((128, 1024))  # closed: starts nothing
    await anyio.sleep(0.2)
    assert my_deno_children() == []


async def test_a_pool_of_zero_starts_nothing() -> None:
    sandbox = Sandbox(pool_size=0)
    for _ in range(2):
        await first_run(sandbox)
    await anyio.sleep(0.2)
    assert len(sandbox.pool) == 0 and sandbox.pool.stats.started == 0 and my_deno_children() == []


EXITING = r"""
import json, os, sys, time, anyio
from meta_mcp.services.sandbox import Sandbox, SandboxLimits, ToolTable

async def none(binding, args):
    return {}

async def main():
    sandbox = Sandbox(pool_size=2, tmpdir=sys.argv[1])
    assert (await sandbox.run("export default 1", ToolTable(), none, SandboxLimits())).ok
    for _ in range(400):
        if len(sandbox.pool) == 2:
            break
        await anyio.sleep(0.025)
    pids = sandbox.pool.pids()
    print(json.dumps({"pids": pids, "dirs": [os.readlink(f"/proc/{p}/cwd") for p in pids]}), flush=True)
    if sys.argv[2] == "wait":
        await anyio.sleep(60)  # killed meanwhile

anyio.run(main)
"""


@pytest.mark.parametrize("how", ["exit", "killed"])
async def test_the_pool_is_emptied_when_meta_mcp_exits_or_is_killed(how: str, tmp_path: Path) -> None:
    """A normal exit kills the waiting processes and deletes their directories (atexit). A killed
    process cannot: its waiting processes see their stdin close and exit, and the next sandbox to
    run code in that directory deletes what is left (`sweep`)."""
    proc = subprocess.Popen([sys.executable, "-c", EXITING, str(tmp_path), "wait" if how == "killed" else "exit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        with anyio.fail_after(60):
            line = await anyio.to_thread.run_sync(proc.stdout.readline)
        state = json.loads(line)
        assert len(state["pids"]) == 2, (state, proc.stderr.read() if proc.poll() is not None else "")
        if how == "killed":
            proc.send_signal(signal.SIGKILL)
        with anyio.fail_after(30):
            await anyio.to_thread.run_sync(proc.wait)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == (-signal.SIGKILL if how == "killed" else 0), proc.stderr.read()  # type: ignore[union-attr]
    await poll_until(lambda: _async(all(is_gone(p) for p in state["pids"])), timeout=10, interval=0.05,
                     what="the waiting processes to end")
    if how == "exit":
        assert not any(Path(d).exists() for d in state["dirs"]), os.listdir(tmp_path)
        assert [p.name for p in tmp_path.iterdir()] == []  # the template too
    else:
        sandbox = Sandbox(tmpdir=tmp_path)
        assert (await sandbox.run("export default 1", ECHO, _echo, SandboxLimits())).ok
        assert not any(Path(d).exists() for d in state["dirs"])
