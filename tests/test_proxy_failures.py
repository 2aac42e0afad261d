"""Upstream failures through a real meta-mcp: crash + restart, hang + timeout, servers that never start.

Contract under test: upstream failures are tool results with ``isError: true`` naming the server (not
JSON-RPC errors); a crashed stdio upstream is restarted in the background with backoff and a later call
succeeds (on a new process); a call to a hanging upstream times out after that server's ``timeout``
with a result mentioning "timed out" and the server name, while other servers keep answering; a server
that fails to start is listed as ``failed`` with a reason and does not stop the others.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from support import (
    COVERING_COMBOS,
    combo_ids,
    dump,
    list_servers,
    open_meta_client,
    poll_until,
    text_of,
    tool_names,
    upstream_entry,
    wait_for_status,
    wait_for_tools,
)

pytestmark = pytest.mark.anyio

MISSING_COMMAND = "/nonexistent/definitely-not-a-binary-xyz"
SERVERS = {
    "crashy": upstream_entry("crashy", timeout=5),
    "hang": upstream_entry("hang", timeout=1),
    "rich": upstream_entry("rich"),
    "broken": upstream_entry("crashy", "--fail-start"),
    "missing": {"command": MISSING_COMMAND, "args": []},
}
HEALTHY = ["crashy", "hang", "rich"]
# Failure handling lives upstream of the client surface: COVERING_COMBOS cover both eras and both transports.


@pytest.fixture(scope="module", params=COVERING_COMBOS, ids=combo_ids(COVERING_COMBOS))
async def meta(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    transport, mode = request.param
    async with open_meta_client(transport, mode, SERVERS) as client:
        try:
            await wait_for_tools(client, HEALTHY, timeout=30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- meta-mcp stderr ---\n{client.stderr()}") from None
        yield client


async def _ok_pid(client: Any) -> int:
    r = await client.call_tool("crashy__ok", {})
    assert not r.is_error, f"crashy__ok failed: {text_of(r)}"
    assert r.structured_content["marker"] == "crashy-ok"
    return int(r.structured_content["pid"])


# --------------------------------------------------------------------------- never started


async def test_server_that_exits_at_start_is_listed_as_failed_with_a_reason(meta: Any) -> None:
    entry = await wait_for_status(meta, "broken", "failed", timeout=20)
    assert isinstance(entry.get("last_error"), str) and entry["last_error"].strip(), entry
    assert entry["tools"] == 0, entry
    assert entry["transport"] == "stdio"


async def test_server_whose_command_is_missing_is_listed_as_failed_with_a_reason(meta: Any) -> None:
    entry = await wait_for_status(meta, "missing", "failed", timeout=20)
    reason = entry.get("last_error") or ""
    assert (
        "definitely-not-a-binary-xyz" in reason or "no such file" in reason.lower() or "not found" in reason.lower()
    ), f"reason does not explain the missing command: {reason!r}"


async def test_failed_servers_do_not_stop_the_others(meta: Any) -> None:
    names = await tool_names(meta)
    assert not [n for n in names if n.startswith(("broken__", "missing__"))], names
    servers = await list_servers(meta)
    for name in HEALTHY:
        assert servers[name]["status"] == "ready", servers[name]
    r = await meta.call_tool("rich__echo", {"value": "alive"})
    assert r.structured_content == {"value": "alive"}, dump(r)


# --------------------------------------------------------------------------- crash


async def test_crash_gives_a_clear_error_then_the_server_is_restarted(meta: Any) -> None:
    pid_before = await _ok_pid(meta)

    with anyio.fail_after(15):
        r = await meta.call_tool("crashy__crash", {})
    assert r.is_error, f"crash call did not report an error: {dump(r)}"
    assert "crashy" in text_of(r), f"error does not name the server: {text_of(r)!r}"

    # Other servers are unaffected, right away.
    r = await meta.call_tool("rich__echo", {"value": 1})
    assert r.structured_content == {"value": 1}

    started = time.monotonic()

    async def restarted() -> int | None:
        pid = await _try_ok_pid(meta)
        return pid if pid is not None and pid != pid_before else None

    pid_after = await poll_until(restarted, timeout=20, interval=0.1, what="crashy to answer from a new process")
    elapsed = time.monotonic() - started
    assert pid_after != pid_before
    # Generous: includes the new Python process's start-up on a loaded machine. It catches a first
    # retry that waits seconds instead of "well under 1 s".
    assert elapsed < 10, f"restart took {elapsed:.1f}s; the first retry should come well under 1 s"

    entry = await wait_for_status(meta, "crashy", "ready", timeout=5)
    assert entry["tools"] == 2, entry
    assert {"crashy__ok", "crashy__crash"} <= set(await tool_names(meta))


async def test_tools_stay_listed_while_restarting_and_the_next_call_waits_for_it(meta: Any) -> None:
    """Regression: a crash used to unlist the server's tools until the restart, so the very next
    call failed with "Unknown tool". The surface now stays put and the call waits for the restart."""
    pid_before = await poll_until(lambda: _try_ok_pid(meta), timeout=15, what="crashy to be up")
    r = await meta.call_tool("crashy__crash", {})
    assert r.is_error and "crashy" in text_of(r), dump(r)
    assert {"crashy__ok", "crashy__crash"} <= set(await tool_names(meta))
    with anyio.fail_after(15):
        again = await meta.call_tool("crashy__ok", {})
    assert not again.is_error, dump(again)
    assert again.structured_content["pid"] != pid_before


async def test_repeated_crashes_keep_being_recovered(meta: Any) -> None:
    for _ in range(2):
        pid_before = await poll_until(
            lambda: _try_ok_pid(meta), timeout=15, what="crashy to be up before crashing it"
        )
        r = await meta.call_tool("crashy__crash", {})
        assert r.is_error and "crashy" in text_of(r), dump(r)

        async def new_pid(before: int = pid_before) -> int | None:
            pid = await _try_ok_pid(meta)
            return pid if pid and pid != before else None

        await poll_until(new_pid, timeout=15, what="crashy restarted after a repeated crash")


async def _try_ok_pid(client: Any) -> int | None:
    """crashy's pid, or None while it is down (an error result, or its tools being unlisted meanwhile)."""
    try:
        r = await client.call_tool("crashy__ok", {})
    except MCPError as exc:
        assert "crashy__ok" in str(exc), f"unexpected protocol error: {exc}"
        return None
    return None if r.is_error else int(r.structured_content["pid"])


# --------------------------------------------------------------------------- hang


async def test_hanging_call_times_out_while_other_servers_keep_working(meta: Any) -> None:
    hang_result: dict[str, Any] = {}
    hang_done = anyio.Event()
    others_done_while_hanging: list[bool] = []

    async def hang() -> None:
        started = time.monotonic()
        hang_result["result"] = await meta.call_tool("hang__hang", {})
        hang_result["elapsed"] = time.monotonic() - started
        hang_done.set()

    async def others() -> None:
        for i in range(3):
            r = await meta.call_tool("rich__echo", {"value": i})
            assert r.structured_content == {"value": i}
        others_done_while_hanging.append(not hang_done.is_set())

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(hang)
            tg.start_soon(others)

    r = hang_result["result"]
    assert r.is_error, f"hang call did not fail: {dump(r)}"
    text = text_of(r)
    assert "timed out" in text.lower(), f"no 'timed out' in {text!r}"
    assert "hang" in text, f"error does not name the server: {text!r}"
    assert 0.8 <= hang_result["elapsed"] < 10, f"timeout=1 but the call took {hang_result['elapsed']:.2f}s"
    assert others_done_while_hanging == [True], "other servers' calls waited for the hanging call"

    # The hung server itself is usable again (same process or a restarted one).
    async def hang_ok() -> bool:
        try:
            r = await meta.call_tool("hang__ok", {})
        except MCPError as exc:  # unlisted while being restarted
            assert "hang__ok" in str(exc), f"unexpected protocol error: {exc}"
            return False
        return not r.is_error and r.structured_content == {"marker": "hang-ok"}

    await poll_until(hang_ok, timeout=10, what="hang__ok to answer after a timeout")


# --------------------------------------------------------------------------- invalid answers, exits (issue 9)
# tests/upstreams/raw.py writes JSON-RPC by hand, so it can answer what the SDK never would.

RAW_SERVERS = {
    "raw": upstream_entry("raw", timeout=30),
    "rawdead": upstream_entry("raw", "--exit-at-start", "3"),
}


@pytest.fixture(scope="module")
async def raw_meta() -> AsyncIterator[Any]:
    async with open_meta_client("stdio", "legacy", RAW_SERVERS) as client:
        await wait_for_tools(client, ["raw"], timeout=30)
        yield client


@pytest.mark.parametrize(("tool", "detail"), [("bad_result", "result"), ("bad_error", "error")])
async def test_an_invalid_response_is_a_tool_error_at_once_not_a_timeout(raw_meta: Any, tool: str, detail: str) -> None:
    """Regression: a result that is not an object was dropped by the transport, so the call waited for
    the server's whole timeout (30 s here) and then said "timed out"."""
    started = time.monotonic()
    with anyio.fail_after(10):
        r = await raw_meta.call_tool(f"raw__{tool}", {})
    assert r.is_error, dump(r)
    text = text_of(r)
    assert "'raw'" in text and "invalid response" in text and detail in text, text
    assert "timed out" not in text, text
    assert time.monotonic() - started < 5
    r = await raw_meta.call_tool("raw__ok", {})  # the connection is fine
    assert not r.is_error and text_of(r).startswith("raw-ok"), dump(r)


@pytest.mark.parametrize(("ask_id", "params", "answer_id"), [
    ('"raw-ask"', "5", "raw-ask"),  # params not an object
    ('{"x": 1}', "{}", None),  # an id that is not a string or an integer: the SDK read it as a notification
])
async def test_an_invalid_request_from_an_upstream_is_answered(raw_meta: Any, ask_id: str, params: str,
                                                               answer_id: Any) -> None:
    """The upstream gets a JSON-RPC error back instead of waiting forever for an answer."""
    with anyio.fail_after(10):
        r = await raw_meta.call_tool("raw__bad_request", {"id": ask_id, "params": params})
    assert not r.is_error, dump(r)
    answer = json.loads(text_of(r))
    assert answer["id"] == answer_id and answer["error"]["code"] in (-32600, -32602), answer


async def test_an_upstream_that_exits_at_start_is_failed_with_its_exit_code_and_stderr(raw_meta: Any) -> None:
    """Regression: the reason was only "Connection closed (code -32000)"."""
    entry = await wait_for_status(raw_meta, "rawdead", "failed", timeout=20)
    reason = entry["last_error"] or ""
    assert "exited with code 3" in reason and "refusing to start (--exit-at-start)" in reason, reason


async def test_an_upstream_that_exits_during_a_call_says_so_with_its_exit_code_and_stderr(raw_meta: Any) -> None:
    pid_before = int(text_of(await raw_meta.call_tool("raw__ok", {})).split("pid=")[1])
    with anyio.fail_after(15):
        r = await raw_meta.call_tool("raw__exit", {"code": 5})
    assert r.is_error, dump(r)
    text = text_of(r)
    assert "'raw'" in text and "exited with code 5" in text and "raw: asked to exit" in text, text
    entry = (await list_servers(raw_meta))["raw"]
    assert entry["status"] != "ready" or entry["last_error"] is None, entry  # restarting, or already back

    async def restarted() -> bool:
        r = await raw_meta.call_tool("raw__ok", {})
        return not r.is_error and int(text_of(r).split("pid=")[1]) != pid_before

    await poll_until(restarted, timeout=20, what="raw to be restarted")


# --------------------------------------------------------------------------- the environment of stdio servers


async def test_stdio_servers_inherit_from_the_environment_passed_in_never_os_environ(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (issue 9): `child_env` read `os.environ` deep below the CLI. The environment is now a
    parameter (the CLI passes `os.environ` to `Prespawned`; a pool without one gets `environ`)."""
    from meta_mcp.config import ServerSpec
    from meta_mcp.registry.pool import UpstreamPool
    from meta_mcp.settings import Settings

    monkeypatch.setenv("UV_FROM_OS_ENVIRON", "leaked")
    environ = {"PATH": os.environ["PATH"], "UV_FROM_CALLER": "given", "OPENAI_API_KEY": "sk-not-inherited"}
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    async with anyio.create_task_group() as tg:
        pool = UpstreamPool(settings, tg, environ=environ)
        entry = upstream_entry("rich")
        provider = pool.hold(ServerSpec(name="rich", command=entry["command"], args=entry["args"]))
        await pool.ready(provider)
        assert provider.status == "ready", provider.last_error
        names = ["UV_FROM_CALLER", "UV_FROM_OS_ENVIRON", "OPENAI_API_KEY"]
        result = await provider.call_tool("environment", {"names": names})
        assert result["structuredContent"]["env"] == {
            "UV_FROM_CALLER": "given", "UV_FROM_OS_ENVIRON": None, "OPENAI_API_KEY": None}, result
        await pool.aclose()
        tg.cancel_scope.cancel()
