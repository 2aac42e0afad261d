"""`open_store(url, …)`: the state store a URL names, opened (connected, file created) and ready.

| URL | store |
|---|---|
| `sqlite:///abs/path.db`, `sqlite://~/x.db`, `sqlite://rel/x.db`, `sqlite://` (the default file) | `SqliteStore` |
| `redis://…`, `rediss://…`, `unix:///path/redis.sock` | `RedisStore` |
| `memory://` | `MemoryStore` (lost on exit) |
| None | Redis at `redis_url` (the seed's `REDIS_URL`) if given, else SQLite at the default file |

The default file is `$XDG_STATE_HOME/meta-mcp/state.db`, i.e. `~/.local/state/meta-mcp/state.db`.

Example:
    store = await open_store(settings.state_url, redis_url=settings.redis_url, prefix=settings.state_prefix,
                             max_conversations=settings.agent_max_conversations,
                             interrupt_ttl_s=settings.interrupt_ttl_s,
                             connect_timeout_s=settings.state_connect_timeout_s, environ=os.environ)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from meta_mcp.services.state.base import (
    DEFAULT_INTERRUPT_TTL_S,
    DEFAULT_MAX_CONVERSATIONS,
    StateError,
    StateStore,
    scrub_url,
)
from meta_mcp.services.state.memory import MemoryStore


def default_sqlite_path(environ: Mapping[str, str]) -> Path:
    """`$XDG_STATE_HOME/meta-mcp/state.db`; XDG_STATE_HOME unset or relative means `~/.local/state`."""
    state_home = environ.get("XDG_STATE_HOME", "")
    if not Path(state_home).is_absolute():
        state_home = str(Path(environ.get("HOME") or Path.home()) / ".local" / "state")
    return Path(state_home) / "meta-mcp" / "state.db"


async def open_store(url: str | None, *, redis_url: str | None = None, prefix: str = "meta-mcp",
                     max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
                     interrupt_ttl_s: float = DEFAULT_INTERRUPT_TTL_S, connect_timeout_s: float = 30.0,
                     environ: Mapping[str, str] | None = None) -> StateStore:
    """Build and open the store `url` names (see the module docstring). `environ` (the CLI passes
    `os.environ`) is read only for the default SQLite file. Raises `StoreUnavailable` if the backend
    cannot be used, `StateError` for a URL it does not know."""
    url = url or redis_url or "sqlite://"
    scheme, sep, rest = url.partition("://")
    common = {"max_conversations": max_conversations, "interrupt_ttl_s": interrupt_ttl_s}
    store: StateStore
    if not sep:
        raise StateError(f"state store URL {scrub_url(url)!r} has no scheme: {_FORMS}")
    if scheme == "memory":
        return MemoryStore(**common)
    if scheme == "sqlite":
        from meta_mcp.services.state.sqlite import SqliteStore

        path = Path(rest).expanduser() if rest else default_sqlite_path(environ if environ is not None else {})
        store = SqliteStore(path, **common)
    elif scheme in ("redis", "rediss", "unix"):
        from meta_mcp.services.state.redis import RedisStore

        store = RedisStore(url, prefix=prefix, connect_timeout_s=connect_timeout_s, **common)
    else:
        raise StateError(f"unknown state store URL scheme {scheme!r} in {scrub_url(url)!r}: {_FORMS}")
    try:
        await store.open()
    except BaseException:
        await store.aclose()
        raise
    return store


_FORMS = "use sqlite:///path/state.db, redis://host:6379/0, rediss://…, unix:///path/redis.sock or memory://"
