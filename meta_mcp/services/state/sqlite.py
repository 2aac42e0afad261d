"""`SqliteStore`: the state in one SQLite file (stdlib `sqlite3`, WAL mode) — the default backend.

Default file: `$XDG_STATE_HOME/meta-mcp/state.db` (`~/.local/state/meta-mcp/state.db`), created with
mode 0600 in a 0700 directory. Every call runs on one worker thread that owns the connection, off the
event loop, and every write is committed (`synchronous=FULL`) before the call returns: a SIGKILL at
any moment loses no acknowledged change, and a power loss none either.

Single process: there is no change feed between processes sharing a file — `publish` delivers only to
this handle's own subscribers, which is what a single meta-mcp needs; replicas need Redis. Several
processes may still open one file (WAL; writers wait up to `busy_timeout_s` for each other).
Problems name the file: an unwritable directory or file, a file locked by another process past the
busy timeout, or a file that is not a SQLite database (corrupt) raise `StoreUnavailable`.

Example:
    store = SqliteStore("/var/lib/meta-mcp/state.db")
    await store.open()        # creates it; StoreUnavailable("cannot open the state store …: …") if not
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from meta_mcp.services.state.base import (
    Fanout,
    Limits,
    QueueSubscription,
    StoreBase,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

T = TypeVar("T")
SCHEMA_VERSION = 1
"""`PRAGMA user_version` of the files this code writes; a newer file is refused."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS servers (ws TEXT NOT NULL, name TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (ws, name));
CREATE TABLE IF NOT EXISTS config (ws TEXT NOT NULL, name TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (ws, name));
CREATE TABLE IF NOT EXISTS conversations (ws TEXT NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL,
    seq INTEGER NOT NULL, PRIMARY KEY (ws, id));
CREATE INDEX IF NOT EXISTS conversations_by_age ON conversations (ws, seq);
CREATE TABLE IF NOT EXISTS interrupts (id TEXT PRIMARY KEY, record TEXT NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS interrupts_by_expiry ON interrupts (expires);
CREATE TABLE IF NOT EXISTS refs (key TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL,
    message TEXT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_stream ON events (stream, seq);
"""


class SqliteStore(StoreBase):
    """`StateStore` in a SQLite file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 5.0,
                 **limits: Unpack[Limits]) -> None:
        super().__init__(**limits)
        self.path = Path(path).expanduser()
        self.busy_timeout_s = busy_timeout_s
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="meta-mcp-state")
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._appends = 0
        self._feed = Fanout()

    # -- the worker thread --
    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        """Run `fn(conn)` in one transaction on the worker thread; committed before this returns."""
        if self._closed:
            raise StoreUnavailable(f"the state store {self.path} is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._transaction, fn, write)

    def _transaction(self, fn: Callable[[sqlite3.Connection], T], write: bool) -> T:
        try:
            conn = self._conn or self._connect()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result
        except sqlite3.Error as e:
            raise self._unavailable(e) from e

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise StoreUnavailable(
                f"cannot create the directory of the state store {self.path}: {e.strerror or e}") from e
        created = not self.path.exists()
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            if created:
                os.chmod(self.path, 0o600)  # its -wal and -shm files get the same mode
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreUnavailable(
                    f"the state store {self.path} has schema version {version}; this meta-mcp reads version "
                    f"{SCHEMA_VERSION} (written by a newer meta-mcp? upgrade, or use another file)")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _unavailable(self, e: sqlite3.Error) -> StoreUnavailable:
        text = str(e)
        if "locked" in text or "busy" in text:
            why = f"locked by another process (waited {self.busy_timeout_s:g} s)"
        elif "readonly" in text or "read-only" in text:
            why = "read-only (check the permissions of the file and its directory)"
        elif "unable to open" in text:
            why = "cannot be opened or created (check that its directory is writable)"
        elif "not a database" in text or "malformed" in text:
            why = "not a SQLite database or corrupt (move it away to start afresh)"
        else:
            why = "unusable"
        return StoreUnavailable(f"the state store {self.path} is {why}: {text}")

    # -- lifetime --
    async def open(self) -> None:
        await self.check()

    async def check(self) -> None:
        """A real write (the time of the check), so an unwritable file fails here."""
        await self._run(lambda c: c.execute(
            "INSERT INTO meta (key, value) VALUES ('checked', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(time.time()),)))

    async def _close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=False)

    # -- servers and config --
    async def _servers_raw(self, workspace: str) -> dict[str, str]:
        rows = await self._run(lambda c: c.execute(
            "SELECT name, record FROM servers WHERE ws = ? ORDER BY name", (workspace,)).fetchall(), write=False)
        return dict(rows)

    async def _put_server_raw(self, workspace: str, name: str, text: str) -> None:
        await self._put("servers", workspace, name, text)

    async def delete_server(self, workspace: str, name: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM servers WHERE ws = ? AND name = ?", (workspace, name)))

    async def workspaces(self) -> list[str]:
        rows = await self._run(lambda c: c.execute("SELECT DISTINCT ws FROM servers ORDER BY ws").fetchall(),
                               write=False)
        return [ws for (ws,) in rows]

    async def _get_config_raw(self, workspace: str, name: str) -> str | None:
        return await self._get("SELECT record FROM config WHERE ws = ? AND name = ?", (workspace, name))

    async def _set_config_raw(self, workspace: str, name: str, text: str) -> None:
        await self._put("config", workspace, name, text)

    async def _put(self, table: str, workspace: str, name: str, text: str) -> None:
        await self._run(lambda c: c.execute(
            f"INSERT INTO {table} (ws, name, record) VALUES (?, ?, ?) "
            "ON CONFLICT (ws, name) DO UPDATE SET record = excluded.record", (workspace, name, text)))

    async def _get(self, sql: str, args: tuple[Any, ...]) -> Any:
        row = await self._run(lambda c: c.execute(sql, args).fetchone(), write=False)
        return None if row is None else row[0]

    # -- conversations --
    async def _get_conversation_raw(self, workspace: str, conversation_id: str) -> str | None:
        return await self._get("SELECT record FROM conversations WHERE ws = ? AND id = ?", (workspace, conversation_id))

    async def _put_conversation_raw(self, workspace: str, conversation_id: str, text: str) -> None:
        def put(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO conversations (ws, id, record, seq) VALUES (?1, ?2, ?3, "
                "(SELECT COALESCE(MAX(seq), 0) + 1 FROM conversations WHERE ws = ?1)) "
                "ON CONFLICT (ws, id) DO UPDATE SET record = excluded.record, seq = excluded.seq",
                (workspace, conversation_id, text))
            c.execute(
                "DELETE FROM conversations WHERE ws = ?1 AND seq <= "
                "(SELECT seq FROM conversations WHERE ws = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                (workspace, self.max_conversations))

        await self._run(put)

    # -- interrupts (wall-clock expiry: they outlive a restart) --
    async def _put_interrupt_raw(self, interrupt_id: str, text: str, ttl_s: float) -> None:
        def put(c: sqlite3.Connection) -> None:
            now = time.time()
            c.execute("DELETE FROM interrupts WHERE expires <= ?", (now,))
            c.execute("INSERT INTO interrupts (id, record, expires) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE "
                      "SET record = excluded.record, expires = excluded.expires", (interrupt_id, text, now + ttl_s))

        await self._run(put)

    async def _get_interrupt_raw(self, interrupt_id: str) -> str | None:
        return await self._get("SELECT record FROM interrupts WHERE id = ? AND expires > ?",
                               (interrupt_id, time.time()))

    async def delete_interrupt(self, interrupt_id: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM interrupts WHERE id = ?", (interrupt_id,)))

    # -- refcounts --
    async def incr_ref(self, key: str) -> int:
        return await self._run(lambda c: c.execute(
            "INSERT INTO refs (key, n) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET n = n + 1 RETURNING n",
            (key,)).fetchone()[0])

    async def decr_ref(self, key: str) -> int:
        def decr(c: sqlite3.Connection) -> int:
            row = c.execute("UPDATE refs SET n = n - 1 WHERE key = ? RETURNING n", (key,)).fetchone()
            if row is None or row[0] <= 0:
                c.execute("DELETE FROM refs WHERE key = ?", (key,))
                return 0
            return row[0]

        return await self._run(decr)

    # -- change feed: this handle's own subscribers only (single process) --
    async def _publish_raw(self, text: str) -> None:
        self._feed.deliver(text)

    def _new_subscription(self) -> QueueSubscription:
        return self._feed.subscribe()

    # -- stream events --
    async def append_event(self, stream_id: str, message: str | None) -> str:
        self._appends += 1
        sweep = self._appends % 256 == 0

        def append(c: sqlite3.Connection) -> int:
            now = time.time()
            if sweep:  # now and then, forget streams idle past the TTL
                c.execute("DELETE FROM events WHERE stream IN "
                          "(SELECT stream FROM events GROUP BY stream HAVING MAX(at) <= ?)", (now - self.event_ttl_s,))
            if self._stream_idle(c, stream_id, now):
                c.execute("DELETE FROM events WHERE stream = ?", (stream_id,))
            seq = c.execute("INSERT INTO events (stream, message, at) VALUES (?, ?, ?) RETURNING seq",
                            (stream_id, message, now)).fetchone()[0]
            c.execute("DELETE FROM events WHERE stream = ?1 AND seq <= "
                      "(SELECT seq FROM events WHERE stream = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                      (stream_id, self.events_per_stream))
            return seq

        return str(await self._run(append))

    async def events_after(self, event_id: str) -> tuple[str, list[tuple[str, str | None]]] | None:
        if not event_id.isdigit():
            return None

        def after(c: sqlite3.Connection) -> tuple[str, list[tuple[str, str | None]]] | None:
            row = c.execute("SELECT stream FROM events WHERE seq = ?", (int(event_id),)).fetchone()
            if row is None or self._stream_idle(c, row[0], time.time()):
                return None
            rows = c.execute("SELECT seq, message FROM events WHERE stream = ? AND seq > ? ORDER BY seq",
                             (row[0], int(event_id))).fetchall()
            return row[0], [(str(seq), message) for seq, message in rows]

        return await self._run(after, write=False)

    def _stream_idle(self, c: sqlite3.Connection, stream_id: str, now: float) -> bool:
        last = c.execute("SELECT MAX(at) FROM events WHERE stream = ?", (stream_id,)).fetchone()[0]
        return last is not None and last <= now - self.event_ttl_s
