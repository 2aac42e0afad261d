"""`providers.lean.LeanChannel` against a write stream and answers made here: it takes exactly the
answers and progress of its own requests, and hostile ids from an upstream neither match nor raise."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import CONNECTION_CLOSED, JSONRPCNotification, JSONRPCResponse

from meta_mcp.providers.deadline import Deadline
from meta_mcp.providers.lean import LeanChannel

pytestmark = pytest.mark.anyio


def _answer(request_id: Any, result: dict[str, Any]) -> SessionMessage:
    return SessionMessage(JSONRPCResponse.model_construct(jsonrpc="2.0", id=request_id, result=result))


async def _request_and_answer(answer_id: Any) -> tuple[LeanChannel, list[Any], list[bool]]:
    """One lean request in flight; the upstream answers it with `answer_id` (the channel's verdicts)."""
    send, receive = anyio.create_memory_object_stream[Any](10)
    taken: list[bool] = []
    results: list[Any] = []
    async with anyio.create_task_group() as tg:
        channel = LeanChannel(send)

        async def call() -> None:
            try:
                results.append(await channel.request("tools/call", {"name": "echo"}, deadline=Deadline(5)))
            except MCPError as exc:
                results.append(exc)

        tg.start_soon(call)
        written = await receive.receive()
        sent_id = written.message.id
        taken.append(channel.take(_answer(answer_id if answer_id is not None else sent_id, {"ok": 1})))
        if not taken[-1]:
            taken.append(channel.take(_answer(str(sent_id), {"ok": "as a numeric string"})))
    return channel, results, taken


async def test_its_own_answer_is_taken_and_returned_as_sent() -> None:
    _, results, taken = await _request_and_answer(None)
    assert taken == [True] and results == [{"ok": 1}]


async def test_an_id_echoed_as_a_numeric_string_still_matches() -> None:
    _, results, taken = await _request_and_answer("7")  # not ours: then ours as a string
    assert taken == [False, True] and results == [{"ok": "as a numeric string"}]


async def test_a_huge_digit_string_id_is_not_converted_and_does_not_raise() -> None:
    """Regression: `int()` of over 4,300 digits raises ValueError, which broke the upstream's read loop."""
    _, results, taken = await _request_and_answer("1" * 5000)
    assert taken == [False, True] and results == [{"ok": "as a numeric string"}]


async def test_progress_for_another_token_and_a_closed_channel() -> None:
    send, receive = anyio.create_memory_object_stream[Any](10)
    async with anyio.create_task_group() as tg:
        channel = LeanChannel(send)
        failures: list[MCPError] = []

        async def call() -> None:
            with pytest.raises(MCPError) as caught:
                await channel.request("tools/call", {"name": "slow"}, deadline=Deadline(5), progress=lambda *a: None)
            failures.append(caught.value)

        tg.start_soon(call)
        await receive.receive()
        stray = JSONRPCNotification(jsonrpc="2.0", method="notifications/progress",
                                    params={"progressToken": "9" * 5000, "progress": 1})
        assert channel.take(SessionMessage(stray)) is False
        channel.close()
    assert [f.error.code for f in failures] == [CONNECTION_CLOSED]


async def test_progress_that_came_first_is_reported_before_the_result_is_returned() -> None:
    """Progress and the answer handed over in one go (one read of a pipe): the caller reports every update, in
    order, before it returns the result; a callback that raises is logged and the call goes on."""
    send, receive = anyio.create_memory_object_stream[Any](10)
    events: list[Any] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        await anyio.sleep(0.01)  # a slow client: the answer is in long before this returns
        if value == 2:
            raise RuntimeError("the caller went away")
        events.append(("progress", value, total, message))

    async def call(channel: LeanChannel) -> None:
        events.append(("result", await channel.request("tools/call", {"name": "noisy"}, deadline=Deadline(5),
                                                       progress=progress)))

    async with anyio.create_task_group() as tg:
        channel = LeanChannel(send)
        tg.start_soon(call, channel)
        written = await receive.receive()
        token = written.message.params["_meta"]["progressToken"]
        lines = [{"jsonrpc": "2.0", "method": "notifications/progress",
                  "params": {"progressToken": token, "progress": step, "total": 3, "message": f"step {step}"}}
                 for step in (1, 2, 3)]
        lines.append({"jsonrpc": "2.0", "id": written.message.id, "result": {"content": []}})
        assert [channel.deliver_line(json.dumps(line).encode()) for line in lines] == [True] * 4
        late = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": 4}}
        assert channel.deliver_line(json.dumps(late).encode()) is False  # after the answer: not this call's
    assert events == [("progress", 1.0, 3, "step 1"), ("progress", 3.0, 3, "step 3"), ("result", {"content": []})]


async def test_deliver_line_takes_only_a_plain_success_for_a_waiting_request() -> None:
    send, receive = anyio.create_memory_object_stream[Any](10)
    results: list[Any] = []
    async with anyio.create_task_group() as tg:
        channel = LeanChannel(send)

        async def call() -> None:
            results.append(await channel.request("tools/call", {"name": "echo"}, deadline=Deadline(5)))

        tg.start_soon(call)
        rid = (await receive.receive()).message.id
        refused = [
            b"{not json",
            json.dumps({"jsonrpc": "2.0", "id": rid, "result": "not-an-object"}).encode(),
            json.dumps({"jsonrpc": "2.0", "id": str(rid), "result": {}}).encode(),  # the SDK's way: it converts
            json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": 1, "message": "no"}}).encode(),
            json.dumps({"jsonrpc": "2.0", "id": rid + 1, "result": {}}).encode(),
            json.dumps({"jsonrpc": "1.0", "id": rid, "result": {}}).encode(),
            json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call", "result": {}}).encode(),
            b"[" * 100_000,  # too deep for json.loads: refused, not raised
        ]
        assert [channel.deliver_line(line) for line in refused] == [False] * len(refused)
        assert channel.deliver_line(json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"ok": 1}}).encode())
    assert results == [{"ok": 1}]
