"""Resumable handshake-era HTTP sessions: a client whose SSE stream was cut reconnects with `Last-Event-ID`
and receives the events it missed — its own session's, never another's.

`make_resumable(manager)` gives every session the SDK's session manager admits its own
`ScopedEventStore` over one `EventLog` of this process, and forgets the session's events when the
session ends (DELETE, idle timeout, crash, shutdown). The SDK then sends each POST's SSE stream with a
priming event and an id on every event, and answers a GET carrying `Last-Event-ID` with the events
after it in that stream, then the stream's live tail. `check_last_event_id` is what the HTTP guard
refuses before the SDK sees it (a malformed or oversized id: 400).

Why this process's memory and not the state store (SQLite, Redis): a handshake-era session lives in the
process that opened it and ends with it (replicas need affinity on `Mcp-Session-Id`; `--workers`
forwards a session's requests to its worker), so its events can only ever be asked for from this
process; writing them to the state store would add a committed write per message to every call
(~0.7 ms per call with SQLite here) and keep tool results at rest, for no reader.

The 2026-07-28 era has no resumption: it is stateless, and the SDK serves its requests without an event
store (a request's stream ends with its response; a client whose stream is cut sends the request again,
or listens again with `subscriptions/listen`).

Example:
    app = server.streamable_http_app(host="127.0.0.1")
    make_resumable(server.session_manager)      # or: session_manager_of(app)
"""

from __future__ import annotations

import logging
from typing import Any

from meta_mcp.services.state.event_log import EventLog
from meta_mcp.services.state.events import MAX_EVENT_ID_LENGTH, ScopedEventStore, parse_event_id

logger = logging.getLogger(__name__)
_HOOKED = "_meta_mcp_event_log"
EVENT_STORE_KEY = "meta_mcp.event_store"
"""Where a request's ASGI scope holds its session's `ScopedEventStore` (set as the transport handles it)."""


def make_resumable(manager: Any, log: EventLog | None = None) -> EventLog:
    """Make every session `manager` (an SDK `StreamableHTTPSessionManager`) admits from now on resumable,
    each with its own `ScopedEventStore` over `log` (a new `EventLog` by default), which each of its requests
    carries in its ASGI scope (`EVENT_STORE_KEY`, for `plain_answers`); returns the log.
    Idempotent (a second call returns the first log). Fails loudly if the SDK no longer admits and
    discards sessions the way this relies on."""
    hooked = getattr(manager, _HOOKED, None)
    if hooked is not None:
        return hooked
    admit, discard = getattr(manager, "_admit_session", None), getattr(manager, "_discard_session", None)
    if not callable(admit) or not callable(discard) or getattr(manager, "stateless", False):
        raise RuntimeError("mcp's StreamableHTTPSessionManager no longer has _admit_session/_discard_session "
                           "(or is stateless): cannot give its sessions their own event stores")
    events = log if log is not None else EventLog()

    def admit_scoped(requestor: Any) -> Any:
        transport = admit(requestor)
        if transport is not None:
            if not hasattr(transport, "_event_store"):
                raise RuntimeError("mcp's StreamableHTTPServerTransport no longer has _event_store")
            store = transport._event_store = ScopedEventStore(events)  # noqa: SLF001
            handle = transport.handle_request

            async def handle_in_session(scope: Any, receive: Any, send: Any) -> None:
                scope[EVENT_STORE_KEY] = store  # for `plain_answers.PostResponse`, which the transport calls
                await handle(scope, receive, send)

            transport.handle_request = handle_in_session
        return transport

    async def discard_scoped(session_id: str, transport: Any) -> None:
        try:
            await discard(session_id, transport)
        finally:
            store = getattr(transport, "_event_store", None)
            if isinstance(store, ScopedEventStore):
                store.forget()

    manager._admit_session = admit_scoped  # noqa: SLF001
    manager._discard_session = discard_scoped  # noqa: SLF001
    setattr(manager, _HOOKED, events)
    return events


def session_manager_of(app: Any) -> Any | None:
    """The SDK session manager serving `app` (what `Server.streamable_http_app()` returns), or None."""
    for route in getattr(app, "routes", ()):
        endpoint = getattr(route, "endpoint", None)
        for candidate in (endpoint, getattr(endpoint, "app", None)):  # the SDK's auth wraps it in `.app`
            manager = getattr(candidate, "session_manager", None)
            if manager is not None and hasattr(manager, "_admit_session"):
                return manager
    return None


def check_last_event_id(value: bytes) -> str | None:
    """Why a `Last-Event-ID` header cannot be one of ours (a message for a 400), or None if it may be.
    Bounded work: the length is checked before anything else."""
    if len(value) > MAX_EVENT_ID_LENGTH:
        return f"Bad Request: Last-Event-ID is over {MAX_EVENT_ID_LENGTH} characters: not an event id of this server"
    if parse_event_id(value.decode("latin-1")) is None:
        return "Bad Request: Last-Event-ID is not an event id of this server"
    return None
