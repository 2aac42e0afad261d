"""The per-session event stores of resumable HTTP sessions, in process (issue 11):

- `ScopedEventStore` over every backend (this process's `EventLog`, and the memory, SQLite and Redis state
  stores shared by several scopes): a session replays its own events; an id of another session — copied,
  or forged with its own scope — replays nothing; malformed, oversized and odd-digit ids replay nothing
  and raise nothing;
- `EventLog`'s bounds: per scope, for the whole log, by age; eviction oldest first, so no stream has gaps;
  `forget` at a session's end; its arrival queue does not grow without bound;
- `make_resumable` on the SDK's real session manager: each admitted session its own scope, its events
  forgotten when the session is discarded;
- `check_last_event_id`: what the HTTP guard refuses.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis_support
from mcp import MCPDeprecationWarning
from mcp.server import Server
from mcp.server.streamable_http import EventMessage
from mcp.types import JSONRPCNotification

from meta_mcp.services.state import MemoryStore, RedisStore, SqliteStore
from meta_mcp.services.state.event_log import EventLog
from meta_mcp.services.state.events import MAX_EVENT_ID_LENGTH, EventBackend, ScopedEventStore
from meta_mcp.surface.resumable import check_last_event_id, make_resumable, session_manager_of

pytestmark = pytest.mark.anyio
redis_server = redis_support.redis_server  # the session's redis-server (a fixture)


def note(n: int) -> JSONRPCNotification:
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params={"data": n})


async def replay(store: ScopedEventStore, after: str) -> tuple[str | None, list[tuple[str | None, int]]]:
    sent: list[EventMessage] = []

    async def send(message: EventMessage) -> None:
        sent.append(message)

    stream = await store.replay_events_after(after, send)
    return stream, [(m.event_id, m.message.params["data"]) for m in sent]  # type: ignore[union-attr]


@pytest.fixture(params=["log", "memory", "sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventBackend]:
    if request.param == "log":
        yield EventLog()
        return
    if request.param == "memory":
        store = MemoryStore()
    elif request.param == "sqlite":
        store = SqliteStore(tmp_path / "state.db")
    else:
        server = request.getfixturevalue("redis_server")
        store = RedisStore(server.url, prefix=f"test-{uuid.uuid4().hex[:8]}", connect_timeout_s=5)
    await store.open()
    yield store
    await store.aclose()


async def test_a_session_replays_its_own_events_and_nothing_of_another(backend: EventBackend) -> None:
    a, b = ScopedEventStore(backend), ScopedEventStore(backend)
    assert a.scope != b.scope
    a_priming = await a.store_event("1", None)  # both sessions' first request has id 1: the same SDK stream id
    b_priming = await b.store_event("1", None)
    a_ids = [await a.store_event("1", note(n)) for n in (1, 2)]
    await b.store_event("1", note(100))
    assert all(i.startswith(a.scope + ".") for i in [a_priming, *a_ids])

    assert await replay(a, a_priming) == ("1", [(a_ids[0], 1), (a_ids[1], 2)])
    assert await replay(a, a_ids[0]) == ("1", [(a_ids[1], 2)])
    stream, sent = await replay(b, b_priming)
    assert stream == "1" and [n for _, n in sent] == [100]

    a_number = a_priming.split(".", 1)[1]
    for stolen in (a_priming, a_ids[0], f"{b.scope}.{a_number}"):  # copied, or forged with B's own scope
        assert await replay(b, stolen) == (None, []), stolen


async def test_malformed_ids_replay_nothing_and_raise_nothing(backend: EventBackend) -> None:
    store = ScopedEventStore(backend)
    await store.store_event("1", note(1))
    for bad in ("", "1", "x" * 100_000, f"{store.scope}.", f"{store.scope}.{'9' * 5000}", f"{store.scope}.\u0661",
                f"{store.scope}.1\n", f"{store.scope.upper()}.1", f"{store.scope}.-1", f"{store.scope}.1-xyz",
                f"{store.scope}.99999999"):
        assert await replay(store, bad) == (None, []), bad[:40]


async def test_forget_drops_a_sessions_events_from_the_log() -> None:
    log = EventLog()
    a, b = ScopedEventStore(log), ScopedEventStore(log)
    first = await a.store_event("1", None)
    await a.store_event("1", note(1))
    kept = await b.store_event("GET", note(2))
    assert len(log) == 3
    a.forget()
    a.forget()  # idempotent (the SDK may discard a session twice)
    assert len(log) == 1 and await replay(a, first) == (None, [])
    assert (await replay(b, kept))[0] == "GET"


async def test_event_log_bounds_per_scope_for_the_whole_log_and_by_age() -> None:
    now = [0.0]
    log = EventLog(scope_events=3, scope_chars=10_000, max_events=5, max_chars=10_000, ttl_s=60,
                   clock=lambda: now[0])
    a, b = ScopedEventStore(log), ScopedEventStore(log)
    ids = [await a.store_event("s", note(n)) for n in range(5)]
    assert len(log) == 3  # per scope: the oldest two evicted
    assert await replay(a, ids[1]) == (None, [])  # evicted: nothing (no partial stream)
    assert [n for _, n in (await replay(a, ids[2]))[1]] == [3, 4]
    b_ids = [await b.store_event("s", note(n)) for n in range(3)]
    assert len(log) == 5  # the whole log's cap: a's oldest went
    assert await replay(a, ids[2]) == (None, []) and [n for _, n in (await replay(a, ids[3]))[1]] == [4]
    now[0] = 61.0  # everything ages out
    assert await replay(b, b_ids[-1]) == (None, [])
    await b.store_event("t", note(9))
    assert len(log) == 1


async def test_event_log_bounds_characters_and_keeps_the_newest_event() -> None:
    log = EventLog(scope_chars=2_000, max_chars=3_000)
    a, b = ScopedEventStore(log), ScopedEventStore(log)
    big = JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params={"data": "x" * 5_000})
    for _ in range(3):
        await a.store_event("s", note(1))
    newest = await a.store_event("s", big)
    assert len(log) == 1 and log.chars > 2_000  # over the budget alone: kept, the rest evicted
    await b.store_event("s", note(2))
    assert len(log) == 1 and await replay(a, newest) == (None, [])  # the log's budget: a's old one went
    assert log.chars < 3_000


async def test_event_log_arrival_queue_stays_bounded() -> None:
    log = EventLog(scope_events=2, max_events=10_000)
    quiet, busy = ScopedEventStore(log), ScopedEventStore(log)
    await quiet.store_event("s", note(0))  # a long-lived head of the arrival queue
    for n in range(5_000):
        await busy.store_event("s", note(n))
    assert len(log) == 3
    assert len(log._order) <= 2 * len(log) + 64 + 1  # noqa: SLF001 (dead entries are compacted away)


async def test_make_resumable_gives_each_session_its_own_scope_and_forgets_it() -> None:
    app = Server("t").streamable_http_app()
    manager = session_manager_of(app)
    assert manager is not None and manager.event_store is None
    log = make_resumable(manager)
    assert make_resumable(manager) is log  # idempotent
    one, two = manager._admit_session(None), manager._admit_session(None)  # noqa: SLF001
    s1, s2 = one._event_store, two._event_store  # noqa: SLF001
    assert isinstance(s1, ScopedEventStore) and isinstance(s2, ScopedEventStore) and s1.scope != s2.scope
    first = await s1.store_event("1", note(1))
    await s2.store_event("1", note(2))
    await manager._discard_session(one.mcp_session_id, one)  # noqa: SLF001
    assert len(log) == 1 and await replay(s1, first) == (None, [])
    await manager._discard_session(two.mcp_session_id, two)  # noqa: SLF001
    assert len(log) == 0


def test_check_last_event_id() -> None:
    assert check_last_event_id(b"0123456789abcdef.12") is None
    assert check_last_event_id(b"0123456789abcdef.12-0123456789abcdef") is None
    long = check_last_event_id(b"0" * (MAX_EVENT_ID_LENGTH + 1))
    assert long is not None and "over 64 characters" in long
    for bad in (b"12", b"../x", b"0123456789abcdef.\xd9\xa1", b"0123456789abcdef.1 ", b"0123456789ABCDEF.1"):
        assert check_last_event_id(bad) is not None, bad


# -- plain answers leave nothing behind -------------------------------------------------------------------


async def test_discard_drops_only_that_sessions_events_and_leaves_no_gap() -> None:
    log = EventLog()
    a, b = ScopedEventStore(log), ScopedEventStore(log)
    first = await a.store_event("1", None)
    await a.store_event("1", note(1))
    plain = [await a.store_event("2", None), await a.store_event("2", note(2))]
    theirs = await b.store_event("1", note(3))
    a.discard([theirs, f"{a.scope}.{theirs.partition('.')[2]}", "junk", f"{a.scope}.x" * 50])  # not a's: kept
    assert len(log) == 5
    a.discard(plain)
    a.discard(plain)  # idempotent
    assert len(log) == 3 and log.chars == sum(len(f"{s.scope}/1") for s in (a, a, b)) + len(
        note(1).model_dump_json(by_alias=True, exclude_unset=True)) + len(
        note(3).model_dump_json(by_alias=True, exclude_unset=True))
    assert await replay(a, first) == ("1", [(f"{a.scope}.2", 1)])
    assert await replay(a, plain[0]) == (None, [])
    assert (await replay(b, theirs))[0] == "1"


async def test_a_post_answered_plainly_leaves_no_events_and_a_streamed_one_keeps_them() -> None:
    import httpx
    import mcp_types as types
    from mcp.server import ServerRequestContext

    from meta_mcp.surface.plain_answers import answer_plainly

    async def list_tools(ctx: ServerRequestContext, params: object) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(name=n, input_schema={"type": "object"})
                                            for n in ("plain", "chatty")])

    async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name == "chatty":  # something before the response: the answer is an SSE stream
            with warnings.catch_warnings():  # logging is the handshake era's, which this client speaks
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                await ctx.session.send_log_message("info", "working", related_request_id=ctx.request_id)
        return types.CallToolResult(content=[types.TextContent(text=params.name)])

    answer_plainly()
    app = Server("t", on_list_tools=list_tools, on_call_tool=call_tool).streamable_http_app()
    manager = session_manager_of(app)
    assert manager is not None
    log = make_resumable(manager)
    headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}

    def call(n: int, name: str) -> dict:
        return {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": name, "arguments": {}}}

    async with manager.run(), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                base_url="http://127.0.0.1:8000") as http:
        init = await http.post("/mcp", headers=headers, json={
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        headers["mcp-session-id"] = init.headers["mcp-session-id"]
        await http.post("/mcp", headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        for n in range(1, 6):
            answer = await http.post("/mcp", headers=headers, json=call(n, "plain"))
            assert answer.headers["content-type"] == "application/json" and answer.json()["id"] == n
        assert len(log) == 0  # the initialize answer's and five calls' events: none kept
        streamed = await http.post("/mcp", headers=headers, json=call(6, "chatty"))
        assert streamed.headers["content-type"].startswith("text/event-stream") and '"id":6' in streamed.text
        assert len(log) == 3  # its priming event, the log message and the response: resumable, kept
        answer = await http.post("/mcp", headers=headers, json=call(7, "plain"))
        assert answer.json()["result"]["content"][0]["text"] == "plain" and len(log) == 3
