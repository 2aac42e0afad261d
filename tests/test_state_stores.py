"""The state stores: one contract suite over MemoryStore, SqliteStore (a file in tmp_path) and RedisStore
(a real redis-server, `tests/redis_support.py`), then each backend's failures: Redis down at start and
restarted mid-run, SQLite unwritable / locked / corrupt, and a SIGKILL while writing.

"Replicas" are two store handles on the same data: two MemoryStores on one MemoryHub, two SqliteStores
on one file, two RedisStores with one prefix.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis.asyncio as aioredis
import redis_support
from mcp.server.streamable_http import EventMessage
from mcp.types import JSONRPCNotification, JSONRPCRequest
from redis_support import RedisServer, free_port

from meta_mcp.services.state import (
    RESYNC,
    MemoryHub,
    MemoryStore,
    RecordVersionError,
    RedisStore,
    ServerRecord,
    SqliteStore,
    StateError,
    StoreEventStore,
    StoreUnavailable,
    default_sqlite_path,
    open_store,
)
from meta_mcp.services.state.base import StoreBase

pytestmark = pytest.mark.anyio
redis_server = redis_support.redis_server  # the session's redis-server (a fixture)

REPO = Path(__file__).resolve().parent.parent


class Backend:
    """Opens store handles on one backend's data, and writes raw records behind a store's back."""

    def __init__(self, kind: str, tmp_path: Path, redis: RedisServer | None) -> None:
        self.kind = kind
        self.hub = MemoryHub()
        self.path = tmp_path / "state" / "state.db"
        self.redis = redis
        self.prefix = f"test-{uuid.uuid4().hex[:8]}"
        self.stores: list[StoreBase] = []

    async def open(self, **options: Any) -> StoreBase:
        store: StoreBase
        if self.kind == "memory":
            store = MemoryStore(hub=self.hub, **options)
        elif self.kind == "sqlite":
            store = SqliteStore(self.path, **options)
        else:
            assert self.redis is not None
            store = RedisStore(self.redis.url, prefix=self.prefix, connect_timeout_s=5, **options)
        await store.open()
        self.stores.append(store)
        return store

    async def write_raw(self, kind: str, workspace: str, key: str, text: str) -> None:
        """Put `text` where the store keeps a record of `kind` (servers, config, conversations, interrupts)."""
        if self.kind == "memory":
            if kind == "interrupts":
                self.hub.interrupts[key] = (time.monotonic() + 60, text)
            else:
                getattr(self.hub, kind).setdefault(workspace, {})[key] = text
        elif self.kind == "sqlite":
            with sqlite3.connect(self.path) as c:
                if kind == "interrupts":
                    c.execute("INSERT INTO interrupts VALUES (?, ?, ?)", (key, text, time.time() + 60))
                elif kind == "conversations":
                    c.execute("INSERT INTO conversations VALUES (?, ?, ?, 1)", (workspace, key, text))
                else:
                    c.execute(f"INSERT INTO {kind} VALUES (?, ?, ?)", (workspace, key, text))
        else:
            client = self.raw_redis()
            if kind == "interrupts":
                await client.set(f"{self.prefix}:interrupt_state:{key}", text, ex=60)
            else:
                await client.hset(f"{self.prefix}:{kind}:{workspace}", key, text)
            await client.aclose()

    def raw_redis(self) -> aioredis.Redis:
        assert self.redis is not None
        return aioredis.Redis.from_url(self.redis.url, decode_responses=True)

    async def aclose(self) -> None:
        for store in self.stores:
            await store.aclose()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path):
    redis = request.getfixturevalue("redis_server") if request.param == "redis" else None
    b = Backend(request.param, tmp_path, redis)
    yield b
    await b.aclose()


# --------------------------------------------------------------------------- the contract


async def test_servers_and_config_round_trip(backend: Backend) -> None:
    store = await backend.open()
    time_record = ServerRecord(name="time", source="catalog", config={"tz": "UTC"})
    spec_record = ServerRecord(name="echo", source="spec", spec={"command": "uvx", "args": ["echo"]})
    gateway_record = ServerRecord(name="brave", source="gateway", catalog_name="brave-search")
    await store.put_server("w1", time_record)
    await store.put_server("w1", spec_record)
    await store.put_server("w2", gateway_record)
    assert await store.servers("w1") == {"time": time_record, "echo": spec_record}
    assert await store.servers("w2") == {"brave": gateway_record}
    assert await store.servers("nobody") == {}
    assert await store.workspaces() == ["w1", "w2"]

    await store.put_server("w1", time_record.model_copy(update={"config": {"tz": "Asia/Tokyo"}}))
    assert (await store.servers("w1"))["time"].config == {"tz": "Asia/Tokyo"}
    await store.delete_server("w1", "time")
    await store.delete_server("w1", "never-added")
    assert list(await store.servers("w1")) == ["echo"]
    await store.delete_server("w2", "brave")
    assert await store.workspaces() == ["w1"]

    assert await store.get_config("w1", "time") == {}
    await store.set_config("w1", "time", {"tz": "UTC", "n": 3})
    assert await store.get_config("w1", "time") == {"tz": "UTC", "n": 3}
    assert await store.get_config("w2", "time") == {}

    # another handle (a restart, or a replica) reads the same
    again = await backend.open()
    assert await again.servers("w1") == {"echo": spec_record}
    assert await again.get_config("w1", "time") == {"tz": "UTC", "n": 3}


@pytest.mark.parametrize("kind", ["servers", "config", "conversations", "interrupts"])
async def test_unknown_record_version_is_refused(backend: Backend, kind: str) -> None:
    store = await backend.open()
    await backend.write_raw(kind, "w", "x", json.dumps({"v": 7, "name": "x", "source": "spec"}))
    read = {
        "servers": lambda: store.servers("w"),
        "config": lambda: store.get_config("w", "x"),
        "conversations": lambda: store.get_conversation("w", "x"),
        "interrupts": lambda: store.get_interrupt("x"),
    }[kind]
    with pytest.raises(RecordVersionError) as refused:
        await read()
    assert "'x'" in str(refused.value) and "version 7" in str(refused.value) and "version 1" in str(refused.value)


async def test_records_carry_version_1_and_seed_interrupts_read(backend: Backend) -> None:
    store = await backend.open()
    await backend.write_raw("interrupts", "", "seed", json.dumps({"mode": "dynamic", "current_iteration": 2}))
    assert await store.get_interrupt("seed") == {"mode": "dynamic", "current_iteration": 2}
    await backend.write_raw("servers", "w", "old", json.dumps({"name": "old", "source": "spec"}))
    with pytest.raises(RecordVersionError, match="version None"):
        await store.servers("w")
    await backend.write_raw("config", "w", "bad", "{not json")
    with pytest.raises(StateError, match=r"'bad'.*not valid JSON"):
        await store.get_config("w", "bad")


async def test_conversations_capped_least_recently_written_evicted(backend: Backend) -> None:
    store = await backend.open(max_conversations=3)
    for n in range(3):
        await store.put_conversation("w", f"c{n}", {"messages": [{"role": "user", "content": f"hi {n}"}]})
    await store.put_conversation("other", "c0", {"messages": []})
    await store.put_conversation("w", "c0", {"messages": [], "pending": None})  # c0 is now the newest
    await store.put_conversation("w", "c3", {"messages": []})                  # evicts c1
    assert await store.get_conversation("w", "c1") is None
    assert await store.get_conversation("w", "c0") == {"messages": [], "pending": None}
    assert await store.get_conversation("w", "c2") == {"messages": [{"role": "user", "content": "hi 2"}]}
    assert await store.get_conversation("w", "c3") == {"messages": []}
    assert await store.get_conversation("other", "c0") == {"messages": []}
    await store.put_conversation("w", "c4", {})
    assert await store.get_conversation("w", "c2") is None


async def test_interrupts_expire(backend: Backend) -> None:
    store = await backend.open()
    data = {"messages": [{"role": "user", "content": "add brave"}], "server": "brave", "mode": "dynamic"}
    await store.put_interrupt("short", data, ttl_s=1)
    await store.put_interrupt("long", data)
    assert await store.get_interrupt("short") == data
    await anyio.sleep(1.3)
    assert await store.get_interrupt("short") is None
    assert await store.get_interrupt("long") == data
    await store.delete_interrupt("long")
    assert await store.get_interrupt("long") is None
    with pytest.raises(ValueError, match='"v"'):
        await store.put_interrupt("bad", {"v": 2})


async def test_refcounts_survive_a_restart(backend: Backend) -> None:
    store = await backend.open()
    assert [await store.incr_ref("gw:brave") for _ in range(3)] == [1, 2, 3]
    assert await store.decr_ref("gw:brave") == 2
    restarted = await backend.open()
    assert await restarted.decr_ref("gw:brave") == 1
    assert await restarted.decr_ref("gw:brave") == 0
    assert await restarted.decr_ref("gw:brave") == 0  # never below zero
    assert await restarted.incr_ref("gw:brave") == 1
    assert await restarted.decr_ref("never") == 0


async def test_change_feed(backend: Backend) -> None:
    a, b = await backend.open(), await backend.open()
    async with a.subscribe() as a_events, b.subscribe() as b_events:
        await a.publish({"workspace": "w", "kind": "servers"})
        with anyio.fail_after(5):
            assert await anext(a_events) == {"workspace": "w", "kind": "servers", "origin": a.origin}
        if backend.kind == "sqlite":  # single process: no feed between handles, said in its docstring
            with anyio.move_on_after(0.2) as waited:
                await anext(b_events)
            assert waited.cancelled_caught
        else:
            with anyio.fail_after(5):
                assert await anext(b_events) == {"workspace": "w", "kind": "servers", "origin": a.origin}
            await b.publish({"workspace": "w", "kind": "config", "origin": "elsewhere"})
            with anyio.fail_after(5):
                assert (await anext(a_events))["origin"] == "elsewhere"
    assert a.origin != b.origin

    # a subscription ends when its store closes
    subscription = a.subscribe()
    await subscription.start()
    await a.aclose()
    with anyio.fail_after(5):
        assert [e async for e in subscription] == []


def _request(n: int) -> JSONRPCRequest:
    return JSONRPCRequest(jsonrpc="2.0", id=n, method="tools/call", params={"name": "t", "arguments": {"n": n}})


async def test_event_store_replays_after_an_event(backend: Backend) -> None:
    events = StoreEventStore(await backend.open(events_per_stream=5))
    priming = await events.store_event("1", None)
    ids = [await events.store_event("1", _request(n)) for n in range(3)]
    other = await events.store_event("2", JSONRPCNotification(jsonrpc="2.0", method="notifications/progress"))
    assert len({priming, *ids, other}) == 5

    async def replay(after: str, store_events: StoreEventStore = events) -> tuple[str | None, list[EventMessage]]:
        sent: list[EventMessage] = []

        async def send(message: EventMessage) -> None:
            sent.append(message)

        return await store_events.replay_events_after(after, send), sent

    stream, sent = await replay(priming)
    assert stream == "1" and [m.event_id for m in sent] == ids
    assert [m.message.params["arguments"]["n"] for m in sent] == [0, 1, 2]  # type: ignore[union-attr]
    stream, sent = await replay(ids[1])
    assert stream == "1" and [m.event_id for m in sent] == ids[2:]
    assert await replay(other) == ("2", [])
    assert (await replay("no-such-event"))[0] is None
    assert (await replay("123456789"))[0] is None

    # another handle (a replica behind a load balancer) replays the same
    stream, sent = await replay(ids[0], StoreEventStore(await backend.open()))
    assert stream == "1" and [m.event_id for m in sent] == ids[1:]

    # bounded per stream: the oldest fall out, and resuming from one of those replays nothing
    more = [await events.store_event("1", _request(n)) for n in range(3, 8)]
    assert (await replay(ids[2]))[0] is None
    stream, sent = await replay(more[0])
    assert [m.event_id for m in sent] == more[1:]


async def test_event_store_forgets_idle_streams(backend: Backend) -> None:
    store = await backend.open(event_ttl_s=0.5)
    first = await store.append_event("s", None)
    second = await store.append_event("s", '{"jsonrpc":"2.0","method":"x"}')
    assert await store.events_after(first) == ("s", [(second, '{"jsonrpc":"2.0","method":"x"}')])
    await anyio.sleep(0.8)
    assert await store.events_after(first) is None


async def test_check_passes_on_a_usable_store(backend: Backend) -> None:
    await (await backend.open()).check()


# --------------------------------------------------------------------------- open_store


async def test_open_store_picks_the_backend(tmp_path: Path, redis_server: RedisServer) -> None:
    memory = await open_store("memory://")
    assert isinstance(memory, MemoryStore)
    sqlite_store = await open_store(f"sqlite://{tmp_path}/a/state.db")
    assert isinstance(sqlite_store, SqliteStore) and sqlite_store.path == tmp_path / "a" / "state.db"
    assert (tmp_path / "a" / "state.db").stat().st_mode & 0o777 == 0o600
    default = await open_store(None, environ={"XDG_STATE_HOME": str(tmp_path / "xdg")})
    assert isinstance(default, SqliteStore) and default.path == tmp_path / "xdg" / "meta-mcp" / "state.db"
    assert default_sqlite_path({"HOME": "/home/u"}) == Path("/home/u/.local/state/meta-mcp/state.db")
    from_env = await open_store(None, redis_url=redis_server.url, prefix="test-open")
    assert isinstance(from_env, RedisStore) and from_env.prefix == "test-open"
    for store in (memory, sqlite_store, default, from_env):
        await store.aclose()
    with pytest.raises(StateError, match=r"unknown state store URL scheme 'postgres'.*sqlite:///"):
        await open_store("postgres://u:pw@db/x")
    with pytest.raises(StateError, match=r"\*\*\*") as refused:
        await open_store("mysql://u:hunter2@db/x")
    assert "hunter2" not in str(refused.value)


async def test_redis_over_a_unix_socket_with_a_password(tmp_path: Path) -> None:
    server = RedisServer(unixsocket=tmp_path / "redis.sock", password="s3cret").start()
    try:
        store = await open_store(server.url, prefix="test-unix")
        assert store.url == f"unix://:***@{tmp_path}/redis.sock"  # type: ignore[attr-defined]
        await store.put_server("w", ServerRecord(name="time", source="catalog"))
        assert list(await store.servers("w")) == ["time"]
        await store.aclose()
        with pytest.raises(StoreUnavailable, match="refused the credentials") as refused:
            await open_store(f"unix://:wrong@{tmp_path}/redis.sock", connect_timeout_s=5)
        assert "wrong" not in str(refused.value)
    finally:
        server.stop()


async def test_redis_interrupts_are_the_seeds_setex(tmp_path: Path, redis_server: RedisServer) -> None:
    backend = Backend("redis", tmp_path, redis_server)
    store = await backend.open()
    interrupt_id = str(uuid.uuid4())
    await store.put_interrupt(interrupt_id, {"mode": "code", "max_iterations": 10})
    client = backend.raw_redis()
    key = f"{backend.prefix}:interrupt_state:{interrupt_id}"
    assert 3590 <= await client.ttl(key) <= 3600
    assert json.loads(await client.get(key)) == {"v": 1, "mode": "code", "max_iterations": 10}
    await client.aclose()
    await backend.aclose()


# --------------------------------------------------------------------------- failures: Redis


async def test_redis_down_at_start_fails_clearly_within_the_retry_time() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as refused:
        await open_store(url, connect_timeout_s=1.0)
    took = time.monotonic() - started
    message = str(refused.value)
    assert f"redis://:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in message and "unreachable" in message
    assert "hunter2" not in message
    assert 0.8 <= took < 4, took


async def test_redis_restarted_mid_run(tmp_path: Path) -> None:
    server = RedisServer().start()
    try:
        store = RedisStore(server.url, prefix="test-restart", connect_timeout_s=5)
        await store.open()
        replica = RedisStore(server.url, prefix="test-restart", connect_timeout_s=5)
        await replica.open()
        subscription = replica.subscribe()
        await subscription.start()
        await store.put_server("w", ServerRecord(name="time", source="catalog"))

        server.stop()
        with anyio.fail_after(5):
            with pytest.raises(StoreUnavailable, match=f"Redis at {server.url} is unreachable"):
                await store.servers("w")
            with pytest.raises(StoreUnavailable):
                await store.publish({"workspace": "w", "kind": "servers"})
            with pytest.raises(StoreUnavailable):
                await store.check()

        server.start()  # same port, empty (no persistence)
        with anyio.fail_after(10):
            while True:
                try:
                    await store.put_server("w", ServerRecord(name="echo", source="spec", spec={"command": "x"}))
                    break
                except StoreUnavailable:
                    await anyio.sleep(0.1)
        assert list(await store.servers("w")) == ["echo"]
        await store.check()

        # the subscription noticed, resubscribed and says so; then events flow again
        with anyio.fail_after(15):
            assert await anext(subscription) == RESYNC
            await store.publish({"workspace": "w", "kind": "servers"})
            assert (await anext(subscription))["origin"] == store.origin
        await store.aclose()
        await replica.aclose()
    finally:
        server.stop()


# --------------------------------------------------------------------------- failures: SQLite


async def test_sqlite_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailable, match=f"cannot create the directory of the state store {blocker}/state.db"):
        await open_store(f"sqlite://{blocker}/state.db")

    if os.geteuid() == 0:  # root writes anywhere permissions allow nothing: use a directory no one can write
        locked_dir = Path("/proc/self")
    else:
        locked_dir = tmp_path / "read-only"
        locked_dir.mkdir(mode=0o500)
    with pytest.raises(StoreUnavailable, match=f"{locked_dir}/state.db is .*cannot be opened or created"):
        await open_store(f"sqlite://{locked_dir}/state.db")


async def test_sqlite_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    with pytest.raises(StoreUnavailable, match=f"{path} is not a SQLite database or corrupt"):
        await open_store(f"sqlite://{path}")


async def test_sqlite_locked_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    await (await open_store(f"sqlite://{path}")).aclose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = SqliteStore(path, busy_timeout_s=0.2)
        with pytest.raises(StoreUnavailable, match=f"{path} is locked by another process"):
            await store.open()
        holder.execute("COMMIT")
        await store.check()  # works once the lock is gone
        await store.aclose()
    finally:
        holder.close()


_WRITER = textwrap.dedent("""
    import asyncio, sys
    from meta_mcp.services.state import ServerRecord, SqliteStore

    async def main():
        store = SqliteStore(sys.argv[1])
        await store.open()
        n = 0
        while True:
            await store.put_server("w", ServerRecord(name=f"s{n}", source="spec", spec={"command": "x", "n": n}))
            await store.incr_ref("ref")
            await store.put_conversation("w", f"c{n}", {"n": n})
            print(n, flush=True)
            n += 1

    asyncio.run(main())
""")


@pytest.mark.parametrize("after", [1, 40, 150])
def test_sqlite_sigkill_loses_no_acknowledged_write(tmp_path: Path, after: int) -> None:
    path = tmp_path / "state.db"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, cwd=REPO)
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked + 1 >= after:
            break
    proc.send_signal(signal.SIGKILL)  # mid-write of the next record
    proc.wait()
    for line in proc.stdout.read().split():  # acknowledged before the kill landed
        acked = int(line)
    assert acked + 1 >= after

    async def reopen() -> None:
        store = SqliteStore(path)
        servers = await store.servers("w")
        assert all(f"s{n}" in servers for n in range(acked + 1)), (acked, len(servers))
        assert [await store.get_conversation("w", f"c{n}") for n in range(acked + 1)] == [
            {"n": n} for n in range(acked + 1)]
        assert await store.incr_ref("ref") >= acked + 2
        await store.aclose()

    anyio.run(reopen)


async def test_memory_store_is_compatible_with_services() -> None:
    store = MemoryStore(2)  # Services builds MemoryStore(settings.agent_max_conversations)
    assert store.max_conversations == 2
    await store.put_server("default", ServerRecord(name="time", source="catalog"))
    assert MemoryStore().hub is not store.hub and await MemoryStore().servers("default") == {}
