"""The state store contract (`StateStore`), its records and errors, and `StoreBase`, which backends build on.

A backend stores strings; `StoreBase` turns typed values into versioned JSON records (`"v": 1` in each)
and back, and refuses a record of any other version with a message naming the record. What is kept:

- per workspace, the servers added at run time (`ServerRecord`: launch description and config values,
  never secret values) and each server's config;
- agent conversations (JSON dicts, capped per workspace: the least recently written is evicted);
- interrupts of the chat API, each with a TTL (the seed's `interrupt_state:<uuid4>` records);
- reference counts of shared upstreams, which survive a restart;
- a change feed between replicas (`publish` / `subscribe`), events like
  `{"workspace": "w", "kind": "servers" | "surface", "origin": "<the publishing store's origin>"}` (the
  subscriber's side and the in-process fan-out are in `feed.py`; their names are imported from here too);
- the events of streamable-HTTP streams (`append_event` / `events_after`, bounded per stream): each
  backend can hold them (`events.StoreEventStore`, `events.ScopedEventStore`), though meta-mcp keeps a
  session's events in the process serving it (`event_log.EventLog`, see docs/state.md).
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from abc import ABC, abstractmethod
from typing import Any, Literal, Protocol, TypedDict
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, Field, ValidationError

from meta_mcp.services.state.feed import RESYNC as RESYNC
from meta_mcp.services.state.feed import Fanout as Fanout
from meta_mcp.services.state.feed import QueueSubscription as QueueSubscription
from meta_mcp.services.state.feed import Subscription, event_text

RECORD_VERSION = 1
"""Version of the JSON records this code reads and writes."""
DEFAULT_INTERRUPT_TTL_S = 3600
DEFAULT_MAX_CONVERSATIONS = 1000
DEFAULT_EVENTS_PER_STREAM = 1000
DEFAULT_EVENT_TTL_S = 3600.0


class StateError(Exception):
    """A state store cannot do what was asked (bad record, bad URL, backend unusable)."""


class StoreUnavailable(StateError):
    """The backend cannot be used right now: unreachable, locked, unwritable or corrupt. The message says
    which (the file's path or the scrubbed URL)."""


class RecordVersionError(StateError):
    """A stored record has a version this meta-mcp does not read."""


class ServerRecord(BaseModel):
    """One server added to a workspace: from the catalog, an ad-hoc spec, the config file or the gateway."""

    name: str
    source: Literal["catalog", "spec", "config", "gateway"]
    spec: dict[str, Any] | None = None
    """The launch spec entry (source "spec" / "config")."""
    catalog_name: str | None = None
    """The catalog entry it came from, when that is not `name`."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Config values (never secret values: those are looked up each time the server starts)."""


class StateStore(Protocol):
    """What meta-mcp keeps beyond one request. Every method may raise `StoreUnavailable` (backend down,
    unwritable…) or `StateError` / `RecordVersionError` (a stored record it cannot read)."""

    origin: str
    """Identifies this store handle (host, pid, random) in the events it publishes."""

    # -- servers added at run time, per workspace --
    async def servers(self, workspace: str) -> dict[str, ServerRecord]: ...

    async def put_server(self, workspace: str, record: ServerRecord) -> None: ...

    async def delete_server(self, workspace: str, name: str) -> None: ...

    async def workspaces(self) -> list[str]:
        """Workspaces that have servers (what to restore at start)."""
        ...

    async def get_config(self, workspace: str, name: str) -> dict[str, Any]: ...

    async def set_config(self, workspace: str, name: str, config: dict[str, Any]) -> None: ...

    # -- agent conversations: JSON-able dicts, opaque to the store; capped per workspace --
    async def get_conversation(self, workspace: str, conversation_id: str) -> dict[str, Any] | None: ...

    async def put_conversation(self, workspace: str, conversation_id: str, data: dict[str, Any]) -> None: ...

    # -- interrupts of the chat API, with a TTL --
    async def put_interrupt(self, interrupt_id: str, data: dict[str, Any], ttl_s: float | None = None) -> None: ...

    async def get_interrupt(self, interrupt_id: str) -> dict[str, Any] | None: ...

    async def delete_interrupt(self, interrupt_id: str) -> None: ...

    # -- reference counts (shared upstreams); survive restarts --
    async def incr_ref(self, key: str) -> int: ...

    async def decr_ref(self, key: str) -> int:
        """The count after decrementing; never below 0 (a key at 0 is removed)."""
        ...

    # -- change feed between replicas --
    async def publish(self, event: dict[str, Any]) -> None:
        """Send `event` (a small JSON-able dict; `origin` is set to this store's unless given) to every
        subscriber of the store, this handle's own included."""
        ...

    def subscribe(self) -> Subscription: ...

    # -- events of streamable-HTTP streams (resumability) --
    async def append_event(self, stream_id: str, message: str | None) -> str:
        """Keep one event (a JSON-RPC message as JSON, or None for a priming event); returns its id."""
        ...

    async def events_after(self, event_id: str) -> tuple[str, list[tuple[str, str | None]]] | None:
        """(stream id, [(event id, message)…] after `event_id` in its stream), or None if that event is
        unknown or no longer kept."""
        ...

    # -- lifetime --
    async def open(self) -> None:
        """Connect / create the file; raises `StoreUnavailable` saying why not."""
        ...

    async def check(self) -> None:
        """Readiness: raises `StoreUnavailable` if the backend cannot be written now."""
        ...

    async def aclose(self) -> None: ...


def scrub_url(url: str) -> str:
    """`url` with any password (in the user part or a `password=` query parameter) replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        url = url.replace(parts.netloc, f"{user.partition(':')[0]}:***@{host}", 1)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url)


def password_of(url: str) -> str | None:
    parts = urlsplit(url)
    return parts.password or (parse_qs(parts.query).get("password") or [None])[0]


def new_origin() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- records


def encode(body: dict[str, Any]) -> str:
    return json.dumps({"v": RECORD_VERSION, **body}, separators=(",", ":"), ensure_ascii=False)


def decode(text: str | bytes, what: str, *, unversioned_ok: bool = False) -> dict[str, Any]:
    """The record's fields without `v`; refuses an unknown version (a newer meta-mcp wrote it)."""
    try:
        record = json.loads(text)
    except ValueError as e:
        raise StateError(f"state record {what} is not valid JSON ({e}); remove it or restore a backup") from e
    if not isinstance(record, dict):
        raise StateError(f"state record {what} is not a JSON object")
    version = record.pop("v", None)
    if version is None and unversioned_ok:
        return record
    if version != RECORD_VERSION:
        raise RecordVersionError(
            f"state record {what} has version {version!r}; this meta-mcp reads version {RECORD_VERSION} only "
            "(was it written by a newer meta-mcp? upgrade, or remove the record)"
        )
    return record


def _server_from_json(text: str, workspace: str, name: str) -> ServerRecord:
    what = f"server {name!r} of workspace {workspace!r}"
    try:
        return ServerRecord.model_validate(decode(text, what))
    except ValidationError as e:
        raise StateError(f"state record {what} is malformed: {e}") from e


# --------------------------------------------------------------------------- the shared half of every backend


class Limits(TypedDict, total=False):
    """What every backend's constructor takes besides its own options."""

    max_conversations: int
    """Conversations kept per workspace (default 1,000)."""
    interrupt_ttl_s: float
    """Default TTL of an interrupt (3,600 s)."""
    events_per_stream: int
    """Events kept per streamable-HTTP stream (1,000)."""
    event_ttl_s: float
    """A stream's events are forgotten this long after its last one (3,600 s)."""


class StoreBase(ABC):
    """Implements `StateStore` over a backend's string storage (the `_…_raw` methods)."""

    def __init__(self, *, max_conversations: int = DEFAULT_MAX_CONVERSATIONS,
                 interrupt_ttl_s: float = DEFAULT_INTERRUPT_TTL_S, events_per_stream: int = DEFAULT_EVENTS_PER_STREAM,
                 event_ttl_s: float = DEFAULT_EVENT_TTL_S) -> None:
        self.origin = new_origin()
        self.max_conversations = max_conversations
        """Per workspace; putting one more evicts the least recently written."""
        self.interrupt_ttl_s = interrupt_ttl_s
        self.events_per_stream = events_per_stream
        self.event_ttl_s = event_ttl_s
        self._subscriptions: set[Subscription] = set()

    # -- servers and config --
    async def servers(self, workspace: str) -> dict[str, ServerRecord]:
        raw = await self._servers_raw(workspace)
        return {name: _server_from_json(text, workspace, name) for name, text in raw.items()}

    async def put_server(self, workspace: str, record: ServerRecord) -> None:
        await self._put_server_raw(workspace, record.name, encode(record.model_dump(exclude_none=True)))

    async def get_config(self, workspace: str, name: str) -> dict[str, Any]:
        text = await self._get_config_raw(workspace, name)
        if text is None:
            return {}
        return dict(decode(text, f"config of server {name!r} in workspace {workspace!r}").get("config") or {})

    async def set_config(self, workspace: str, name: str, config: dict[str, Any]) -> None:
        await self._set_config_raw(workspace, name, encode({"config": dict(config)}))

    # -- conversations --
    async def get_conversation(self, workspace: str, conversation_id: str) -> dict[str, Any] | None:
        text = await self._get_conversation_raw(workspace, conversation_id)
        if text is None:
            return None
        return decode(text, f"conversation {conversation_id!r} of workspace {workspace!r}").get("data")

    async def put_conversation(self, workspace: str, conversation_id: str, data: dict[str, Any]) -> None:
        await self._put_conversation_raw(workspace, conversation_id, encode({"data": data}))

    # -- interrupts: the seed's JSON object, with "v" added (a seed record without it reads as version 1) --
    async def put_interrupt(self, interrupt_id: str, data: dict[str, Any], ttl_s: float | None = None) -> None:
        if "v" in data:
            raise ValueError('interrupt data may not use the key "v" (the record version)')
        ttl = self.interrupt_ttl_s if ttl_s is None else ttl_s
        if ttl <= 0:
            raise ValueError(f"interrupt TTL must be positive, not {ttl}")
        await self._put_interrupt_raw(interrupt_id, encode(data), ttl)

    async def get_interrupt(self, interrupt_id: str) -> dict[str, Any] | None:
        text = await self._get_interrupt_raw(interrupt_id)
        return None if text is None else decode(text, f"interrupt {interrupt_id!r}", unversioned_ok=True)

    # -- change feed --
    async def publish(self, event: dict[str, Any]) -> None:
        await self._publish_raw(event_text(event, self.origin))

    def subscribe(self) -> Subscription:
        return self._new_subscription().held_in(self._subscriptions)

    # -- lifetime --
    async def open(self) -> None:
        """Nothing to do by default."""

    async def aclose(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.aclose()
        self._subscriptions.clear()
        await self._close()

    async def _close(self) -> None:
        """Release the backend."""

    # -- what a backend provides: strings in, strings out --
    @abstractmethod
    async def _servers_raw(self, workspace: str) -> dict[str, str]: ...

    @abstractmethod
    async def _put_server_raw(self, workspace: str, name: str, text: str) -> None: ...

    @abstractmethod
    async def delete_server(self, workspace: str, name: str) -> None: ...

    @abstractmethod
    async def workspaces(self) -> list[str]: ...

    @abstractmethod
    async def _get_config_raw(self, workspace: str, name: str) -> str | None: ...

    @abstractmethod
    async def _set_config_raw(self, workspace: str, name: str, text: str) -> None: ...

    @abstractmethod
    async def _get_conversation_raw(self, workspace: str, conversation_id: str) -> str | None: ...

    @abstractmethod
    async def _put_conversation_raw(self, workspace: str, conversation_id: str, text: str) -> None:
        """Store it as the most recently written, then evict beyond `max_conversations`."""

    @abstractmethod
    async def _put_interrupt_raw(self, interrupt_id: str, text: str, ttl_s: float) -> None: ...

    @abstractmethod
    async def _get_interrupt_raw(self, interrupt_id: str) -> str | None: ...

    @abstractmethod
    async def delete_interrupt(self, interrupt_id: str) -> None: ...

    @abstractmethod
    async def incr_ref(self, key: str) -> int: ...

    @abstractmethod
    async def decr_ref(self, key: str) -> int: ...

    @abstractmethod
    async def _publish_raw(self, text: str) -> None: ...

    @abstractmethod
    def _new_subscription(self) -> Subscription: ...

    @abstractmethod
    async def append_event(self, stream_id: str, message: str | None) -> str: ...

    @abstractmethod
    async def events_after(self, event_id: str) -> tuple[str, list[tuple[str, str | None]]] | None: ...

    @abstractmethod
    async def check(self) -> None: ...
