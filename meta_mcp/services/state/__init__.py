"""State stores: what meta-mcp keeps beyond one request, behind one `StateStore` protocol.

Backends (chosen by `open_store(url, …)`; see `factory.py`):
- `MemoryStore` (`memory://`): this process's memory, lost on exit — tests and throwaway runs;
- `SqliteStore` (`sqlite:///path`, the default file `$XDG_STATE_HOME/meta-mcp/state.db`): one file,
  every acknowledged write committed; single process (no change feed between processes);
- `RedisStore` (`redis://`, `rediss://`, `unix://`): shared by replicas, with a pub/sub change feed.
The record format, the protocol and the errors are in `base.py`. Resumable HTTP streams
(`Last-Event-ID`) keep their events in the serving process's `event_log.EventLog`, each session behind
its own `events.ScopedEventStore` (see docs/state.md, "Resuming a cut stream"); `events.StoreEventStore`
adapts a store's `append_event` / `events_after` to the SDK's `EventStore` for the same purpose.

Example:
    store = await open_store("sqlite:///tmp/state.db", prefix="meta-mcp")
    await store.put_server("default", ServerRecord(name="time", source="catalog"))
    await store.servers("default")   # → {"time": ServerRecord(name="time", source="catalog", …)}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meta_mcp.services.state.base import (
    RESYNC,
    RecordVersionError,
    ServerRecord,
    StateError,
    StateStore,
    StoreUnavailable,
    Subscription,
    scrub_url,
)
from meta_mcp.services.state.factory import default_sqlite_path, open_store
from meta_mcp.services.state.memory import MemoryHub, MemoryStore

if TYPE_CHECKING:
    from meta_mcp.services.state.events import StoreEventStore
    from meta_mcp.services.state.redis import RedisStore
    from meta_mcp.services.state.sqlite import SqliteStore

__all__ = [
    "RESYNC", "MemoryHub", "MemoryStore", "RecordVersionError", "RedisStore", "ServerRecord", "SqliteStore",
    "StateError", "StateStore", "StoreEventStore", "StoreUnavailable", "Subscription", "default_sqlite_path",
    "open_store", "scrub_url",
]
_LAZY = {"RedisStore": "redis", "SqliteStore": "sqlite", "StoreEventStore": "events"}


def __getattr__(name: str) -> Any:
    """The Redis client, sqlite3 and the MCP SDK are imported when first asked for, off the start-up path."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
