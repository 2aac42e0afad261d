"""Per-identity rate limits: calls per minute (a token bucket) and calls in progress at once.

A key (an identity's subject and a workspace) has a bucket of `burst` calls (default: the per-minute
number) that refills at `calls_per_minute / 60` per second. `acquire` takes one call from it, and —
for calls a client makes itself (`concurrent=True`; not the inner calls of run_code or agent_chat,
which run inside one) — a slot of `concurrent_calls`. A refusal says why and when to retry; nothing
waits.

Example:
    limiter = Limiter()
    ticket = limiter.acquire(("alice", "team-a"), RateLimit(calls_per_minute=60, concurrent_calls=2))
    if isinstance(ticket, Refusal): ...   # ticket.message, ticket.retry_after
    else: try: ... finally: ticket.release()
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from meta_mcp.auth.policy import RateLimit


@dataclass(frozen=True, slots=True)
class Refusal:
    message: str
    retry_after: float
    """Seconds until a call would be accepted (at least a little)."""

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


@dataclass(slots=True)
class _State:
    tokens: float
    stamp: float
    in_flight: int = 0


@dataclass(slots=True)
class Ticket:
    """One admitted call; `release()` when it is over (idempotent)."""

    _state: _State | None = None
    _counted: bool = False
    _done: bool = field(default=False)

    def release(self) -> None:
        if not self._done and self._counted and self._state is not None:
            self._state.in_flight -= 1
        self._done = True


class Limiter:
    """Token buckets and in-flight counts by key (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._states: dict[Hashable, _State] = {}

    def acquire(self, key: Hashable, limit: RateLimit, *, concurrent: bool = True) -> Ticket | Refusal:
        if limit.unlimited:
            return Ticket()
        now = self._clock()
        capacity = float(limit.burst or max(1, math.floor(limit.calls_per_minute or 1)))
        state = self._states.get(key)
        if state is None:
            if len(self._states) > 100_000:
                self._forget_idle(now)
            state = self._states[key] = _State(tokens=capacity, stamp=now)
        if limit.calls_per_minute is not None:
            rate = limit.calls_per_minute / 60.0
            state.tokens = min(capacity, state.tokens + (now - state.stamp) * rate)
        state.stamp = now
        if concurrent and limit.concurrent_calls is not None and state.in_flight >= limit.concurrent_calls:
            return Refusal(f"rate limit: {state.in_flight} calls already in progress (at most "
                           f"{limit.concurrent_calls} at once); retry when one has finished", 1.0)
        if limit.calls_per_minute is not None:
            if state.tokens < 1.0:
                wait = (1.0 - state.tokens) / (limit.calls_per_minute / 60.0)
                return Refusal(f"rate limit: at most {limit.calls_per_minute:g} calls per minute (burst "
                               f"{int(capacity)}); retry in {wait:.1f} s", wait)
            state.tokens -= 1.0
        if concurrent:
            state.in_flight += 1
        return Ticket(state, concurrent)

    def _forget_idle(self, now: float) -> None:
        for key, state in list(self._states.items()):
            if state.in_flight == 0 and now - state.stamp > 300:
                del self._states[key]
