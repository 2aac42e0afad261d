"""`EventLog`: the events of this process's resumable streamable-HTTP sessions, in memory and bounded.

It has the event half of the `StateStore` protocol (`append_event`, `events_after`), so an
`events.ScopedEventStore` sits on it exactly as on a state store, plus `forget(scope)` for a session that
ended. A stream's name starts with its session's scope (`"<scope>/<stream>"`, see `ScopedEventStore`),
and the limits hold per scope and for the whole log:

- per scope (one session): at most `scope_events` events (1,000) and `scope_chars` characters of
  messages and stream names (4 Mi), beyond its newest event;
- the whole log: at most `max_events` (20,000) and `max_chars` (64 Mi), beyond the newest event;
- no event older than `ttl_s` (900 s) is replayed, and expired events are dropped as new ones arrive;
- `forget(scope)` drops a session's events at once (the session ended: they can never be asked for), and
  `discard(id)` one event whose id no client was given (a POST answered with a plain JSON body).

Eviction is oldest first, in the order events arrived — per scope and for the whole log alike — so a
stream never has a gap: if the event a client resumes from is still kept, so is every later one.

Example:
    log = EventLog()
    first = await log.append_event("a1b2c3d4e5f60718/7", None)           # a priming event
    await log.append_event("a1b2c3d4e5f60718/7", '{"jsonrpc":"2.0",…}')
    await log.events_after(first)   # → ("a1b2c3d4e5f60718/7", [("2", '{"jsonrpc":"2.0",…}')])
    log.forget("a1b2c3d4e5f60718")
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_SCOPE_EVENTS = 1_000
DEFAULT_SCOPE_CHARS = 4 << 20
DEFAULT_MAX_EVENTS = 20_000
DEFAULT_MAX_CHARS = 64 << 20
DEFAULT_TTL_S = 900.0
_MAX_SEQ_DIGITS = 19
"""An event id is a positive integer of at most this many digits (anything longer is not one of ours)."""


@dataclass(eq=False, slots=True)
class _Event:
    seq: int
    stream: str
    message: str | None
    size: int
    at: float
    alive: bool = True


@dataclass(eq=False, slots=True)
class _Scope:
    events: deque[_Event] = field(default_factory=deque)
    """Its live events, oldest first."""
    size: int = 0


def scope_of(stream: str) -> str:
    """The scope a stream name belongs to (what precedes its first `/`)."""
    return stream.partition("/")[0]


class EventLog:
    """In-memory, bounded event storage shared by the sessions of one process (see the module docstring)."""

    def __init__(self, *, scope_events: int = DEFAULT_SCOPE_EVENTS, scope_chars: int = DEFAULT_SCOPE_CHARS,
                 max_events: int = DEFAULT_MAX_EVENTS, max_chars: int = DEFAULT_MAX_CHARS, ttl_s: float = DEFAULT_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if min(scope_events, scope_chars, max_events, max_chars) < 1 or ttl_s <= 0:
            raise ValueError("event log limits must be positive")
        self.scope_events, self.scope_chars = scope_events, scope_chars
        self.max_events, self.max_chars, self.ttl_s = max_events, max_chars, ttl_s
        self._clock = clock
        self._seq = itertools.count(1)
        self._order: deque[_Event] = deque()
        """Every event in arrival order, dead ones included until they reach the front (or a compaction)."""
        self._by_seq: dict[int, _Event] = {}
        self._scopes: dict[str, _Scope] = {}
        self._size = 0

    def __len__(self) -> int:
        """Events kept."""
        return len(self._by_seq)

    @property
    def chars(self) -> int:
        """Characters kept (messages and stream names)."""
        return self._size

    async def append_event(self, stream_id: str, message: str | None) -> str:
        """Keep one event of `stream_id` (a message as JSON, or None for a priming event); returns its id."""
        now = self._clock()
        event = _Event(next(self._seq), stream_id, message, len(stream_id) + len(message or ""), now)
        scope = self._scopes.setdefault(scope_of(stream_id), _Scope())
        scope.events.append(event)
        scope.size += event.size
        self._order.append(event)
        self._by_seq[event.seq] = event
        self._size += event.size
        self._trim(scope, event, now)
        return str(event.seq)

    async def events_after(self, event_id: str) -> tuple[str, list[tuple[str, str | None]]] | None:
        """(stream, [(id, message)…] of that stream after `event_id`), or None if `event_id` is not an event
        kept (never was, evicted, expired, or its session ended). Never raises on a malformed id."""
        if not (0 < len(event_id) <= _MAX_SEQ_DIGITS and event_id.isascii() and event_id.isdigit()):
            return None
        event = self._by_seq.get(int(event_id))
        oldest = self._clock() - self.ttl_s
        if event is None or event.at <= oldest:
            return None
        scope = self._scopes[scope_of(event.stream)]
        later = [(str(e.seq), e.message) for e in scope.events
                 if e.seq > event.seq and e.stream == event.stream and e.at > oldest]
        return event.stream, later

    def discard(self, event_id: str, scope: str) -> None:
        """Drop one event of `scope` now: its id was never given to a client (the message went out in a plain
        JSON body, see `surface.plain_answers`), so it can never be asked for. Unknown or malformed ids, and
        another scope's events, are left alone."""
        if not (0 < len(event_id) <= _MAX_SEQ_DIGITS and event_id.isascii() and event_id.isdigit()):
            return
        event = self._by_seq.get(int(event_id))
        if event is None or scope_of(event.stream) != scope:
            return
        kept = self._scopes[scope]
        kept.events.remove(event)  # by identity (eq=False); a plain answer's events are among the newest
        kept.size -= event.size
        self._kill(event)
        if not kept.events:
            self._scopes.pop(scope, None)
        self._compact()

    def forget(self, scope: str) -> None:
        """Drop every event of `scope` (its session ended). Idempotent."""
        gone = self._scopes.pop(scope, None)
        if gone is None:
            return
        for event in gone.events:
            self._kill(event)
        self._compact()

    def _trim(self, scope: _Scope, newest: _Event, now: float) -> None:
        """Evict oldest first: the scope's beyond its limits, then the log's beyond its own or the TTL."""
        while len(scope.events) > 1 and (len(scope.events) > self.scope_events or scope.size > self.scope_chars):
            self._evict(scope)
        oldest = now - self.ttl_s
        while self._order:
            head = self._order[0]
            if not head.alive:
                self._order.popleft()
                continue
            over = len(self._by_seq) > self.max_events or self._size > self.max_chars
            if head is newest or not (over or head.at <= oldest):
                break
            self._evict(self._scopes[scope_of(head.stream)])
        self._compact()

    def _evict(self, scope: _Scope) -> None:
        """Evict the scope's oldest event (the log's oldest live one is always its scope's oldest)."""
        event = scope.events.popleft()
        scope.size -= event.size
        self._kill(event)
        if not scope.events:
            self._scopes.pop(scope_of(event.stream), None)

    def _kill(self, event: _Event) -> None:
        event.alive = False
        self._by_seq.pop(event.seq, None)
        self._size -= event.size

    def _compact(self) -> None:
        """Keep the arrival queue within twice the live events (dead ones pile up behind a long-lived head)."""
        if len(self._order) > 2 * len(self._by_seq) + 64:
            self._order = deque(e for e in self._order if e.alive)
