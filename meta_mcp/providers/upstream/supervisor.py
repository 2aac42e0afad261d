"""Supervision of one upstream connection: start, connect, restart with exponential backoff, stop.

The supervisor keeps one `mcp.Client` to the server alive in a task of its own and owns the
provider's `status` and `last_error`. Its promises:

- `start()` returns once the first attempt has finished, either way: `ready` (connected, session state
  replayed, every listing fetched) or `failed` with `last_error` set.
- Nothing one upstream does escapes: any exception of a connection becomes `last_error` (one line, see
  `describe`) and a log warning, never an error in the task group shared with other servers. When the
  transport knows why the connection ended (`end_reason`: a stdio server's exit code and the last
  lines of its stderr, a message over `max_upstream_message_bytes`), that is the `last_error`.
- A connection that was serving and then ended (a crashed process, a dropped connection) is
  `restarting`: its tools stay listed and calls wait for the reconnect (`live_client`, bounded). An
  attempt that never got ready is `failed` and the listing is emptied. Attempts are spaced
  `restart_backoff_initial * 2 ** (failures - 1)` seconds, capped at `restart_backoff_max`; after
  `max_restarts` failures in a row the supervisor gives up and the server stays `failed`.
- An attempt must be ready within `connect_timeout`, or it fails with a `TimeoutError`.
- `stop()` wins over everything: it cancels the connection, waits for it at most 10 s, and leaves the
  server `stopped` with an empty listing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc
from mcp import Client, MCPError

from meta_mcp.config import ServerSpec
from meta_mcp.providers.base import Listing, Provider, ToolError
from meta_mcp.providers.connect import open_transport
from meta_mcp.pipes import MessageLimit
from meta_mcp.providers.listing import KINDS, fetch_listing
from meta_mcp.providers.process import Prespawned
from meta_mcp.settings import Settings

logger = logging.getLogger(__name__)


class Supervisor:
    """Connects, watches and reconnects one upstream on behalf of `provider` (see the module docstring).

    `client_options` are passed to every `Client` (its notification and back-channel callbacks);
    `restore(client)` re-applies session state once connected, before the listings are fetched;
    `watch(client, task_group)` starts the change watchers that live as long as the connection.
    """

    def __init__(self, provider: Provider, spec: ServerSpec, settings: Settings, task_group: anyio.abc.TaskGroup,
                 prespawned: Prespawned | None, *, client_options: Mapping[str, Any],
                 restore: Callable[[Client], Awaitable[None]],
                 watch: Callable[[Client, anyio.abc.TaskGroup], None]) -> None:
        self._provider = provider
        self._spec = spec
        self._settings = settings
        self._tg = task_group
        self._launcher = prespawned if prespawned is not None else Prespawned({})
        self._limit = MessageLimit(settings.max_upstream_message_bytes, "max_upstream_message_bytes")
        self._client_options = dict(client_options)
        self._restore = restore
        self._watch = watch
        self.client: Client | None = None
        """The connected client, None between connections (it may have just been lost: see `live_client`)."""
        self.protocol_version: str | None = None
        self._follow_handshake = True
        """Whether `follow` may still choose the handshake: not after a start in it failed."""
        self._following_handshake = False
        """Whether the current attempt speaks the handshake because `follow` chose it."""
        self.restarts = 0
        self.end_reason: str | None = None
        """Why the current (or last) connection ended, when its transport knew: "exited with code 3; …"."""
        self._ready = anyio.Event()
        self._first_attempt = anyio.Event()
        self._started = False
        self._lost = anyio.Event()
        self._stopping = False
        self._stopped = anyio.Event()
        self._life = anyio.CancelScope()
        self._became_ready = False

    async def start(self) -> None:
        """Start the supervisor (once; later calls only wait) and wait for its first attempt."""
        if not self._started:
            self._started = True
            self._tg.start_soon(self._supervise, name=f"upstream:{self._provider.name}")
        await self._first_attempt.wait()

    async def stop(self) -> None:
        self._stopping = True
        self._life.cancel()
        with anyio.move_on_after(10):
            await self._stopped.wait()
        self._provider.status = "stopped"
        self._provider.listing = Listing()

    def mark_lost(self) -> None:
        """The connection is gone (a call saw it close): calls from now on wait for the restart."""
        self._lost.set()

    async def live_client(self, what: str, wait: float) -> Client:
        """The live client; while the server (re)starts, wait for it, at most `wait` (and `connect_timeout`).

        Raises `ToolError` naming the server, its status and last error when none comes in time.
        """
        provider = self._provider
        if self.client is not None and not self._lost.is_set():
            return self.client
        deadline = anyio.current_time() + min(wait, self._settings.connect_timeout)
        while provider.status in ("starting", "restarting") or (self._lost.is_set() and provider.status == "ready"):
            ready = self._ready
            with anyio.move_on_at(deadline):
                await ready.wait()
            if self.client is not None and not self._lost.is_set():
                return self.client
            if anyio.current_time() >= deadline:
                break
            if ready is self._ready:
                await anyio.sleep(0.01)  # the supervisor has not replaced the event yet
        reason = f": {provider.last_error}" if provider.last_error else ""
        raise ToolError(f"Server {provider.name!r} is not available ({provider.status}){reason}; cannot {what}.")

    async def _supervise(self) -> None:
        provider = self._provider
        failures = 0
        try:
            with self._life:
                while not self._stopping:
                    self._became_ready = False
                    try:
                        await self._run_connection()
                    except Exception as exc:  # any failure of one upstream stays inside this provider
                        provider.last_error = self.end_reason or describe(exc)
                        logger.warning("server %r: %s", provider.name, provider.last_error)
                    # A connection that got ready and then failed (a transport error, not just EOF) is
                    # restarted like one that ended: its tools stay listed meanwhile.
                    was_ready = self._became_ready
                    self.client = None
                    self._ready = anyio.Event()
                    failures = 0 if was_ready else failures + 1
                    if not was_ready and self._following_handshake:
                        self._follow_handshake = False  # a 2026-only server, say: `auto` from now on
                    if was_ready and provider.last_error is None:
                        provider.last_error = self.end_reason or "the connection to the server ended"
                    # "restarting": it was serving and dropped — its tools stay listed and calls wait for
                    # the restart; "failed": the last attempt to start failed — nothing is listed.
                    provider.status = "restarting" if was_ready else "failed"
                    if provider.status == "failed":
                        provider.listing = Listing()
                    self._first_attempt.set()
                    await provider.changed()
                    if provider.status == "failed" and failures > self._settings.max_restarts:
                        return
                    delay = self._settings.restart_backoff_initial * 2 ** max(failures - 1, 0)
                    await anyio.sleep(min(delay, self._settings.restart_backoff_max))
                    self.restarts += 1
        finally:
            self._first_attempt.set()
            self._stopped.set()

    async def _handshake(self) -> bool:
        """Whether to speak the 2025-11-25 handshake to this server: its entry's `protocol`, else for a stdio
        server the `stdio_upstream_protocol` setting (`follow`: the era of meta-mcp's stdio client, see
        `providers.era`), else the newest era both sides support."""
        protocol = self._spec.protocol or (
            self._settings.stdio_upstream_protocol if self._spec.transport == "stdio" else "auto")
        if protocol == "follow":
            era = self._launcher.client_era
            self._following_handshake = (self._follow_handshake and era is not None
                                         and await era.wait(FOLLOW_WAIT_S) == "handshake")
            return self._following_handshake
        return protocol == "handshake"

    async def _run_connection(self) -> None:
        """Connect, serve until the connection is lost or stop is asked; `_became_ready` says if it got ready."""
        provider = self._provider
        lost = self._lost = anyio.Event()
        self.end_reason = None

        def on_end(reason: str | None) -> None:
            if reason is not None and lost is self._lost and self.end_reason is None:
                self.end_reason = reason
            lost.set()

        connect_timeout = self._settings.connect_timeout
        with anyio.CancelScope(deadline=anyio.current_time() + connect_timeout) as scope:
            async with AsyncExitStack() as stack:
                transport = open_transport(self._spec, on_end=on_end, launcher=self._launcher, limit=self._limit,
                                           connect_timeout=connect_timeout)
                client = Client(transport, mode="legacy" if await self._handshake() else "auto", cache=None,
                                **self._client_options)
                await stack.enter_async_context(client)
                self.protocol_version = client.protocol_version
                await self._restore(client)
                provider.listing = await fetch_listing(client, KINDS, provider.listing)
                tg = await stack.enter_async_context(anyio.create_task_group())
                self._watch(client, tg)
                scope.deadline = math.inf
                self.client = client
                provider.status = "ready"
                provider.last_error = None
                self._became_ready = True
                self._ready.set()
                self._first_attempt.set()
                await provider.changed()
                await self._lost.wait()
                tg.cancel_scope.cancel()
        if scope.cancelled_caught and not self._stopping and not self._became_ready:
            raise TimeoutError(f"did not start within {connect_timeout:g} s")


FOLLOW_WAIT_S = 5.0
"""How long a stdio server on `follow` waits for meta-mcp's client to say its era before it is spoken to in
auto (the client's first message normally arrives long before a server process is up)."""


def describe(exc: BaseException) -> str:
    """A one-line reason for a failure; exception groups are unwrapped to their first cause."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        return f"{exc.error.message} (code {exc.error.code})"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
