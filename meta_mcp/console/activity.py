"""What the console shows live: each workspace's recent calls and server state changes, and when to redraw.

- `Monitor.intercept` is a call interceptor (see `registry.interceptors`): every tool call of every
  workspace — a client's, the console's, `run_code`'s, the agent's — passes through it and is recorded
  with its duration, `isError` and error text, in an in-memory ring of the last `RING` events per
  workspace (nothing is persisted; a restart starts empty).
- `Monitor.run()` watches the servers of every workspace. It wakes on the same change notifications
  clients get (each workspace's subscription bus), on every status change of a server (it listens to
  the providers, as their registries do: a crash is `restarting` with its tools still listed, which
  changes no list), and at least once a second (a workspace or server it has not seen yet). It compares
  each server's status, error and tool count with what it saw last and records the differences.
- `Monitor.wait(workspace, seen)` returns the workspace's `Versions` once they differ from `seen`: the
  console's server-sent events redraw a view when its counter moved.

Example:
    monitor = Monitor(workspaces, services); workspaces.interceptors.insert(0, monitor.intercept)
    task_group.start_soon(monitor.run)
    events = monitor.events("default")      # newest first
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio

from meta_mcp.operations import servers as server_ops
from meta_mcp.operations.workspace import Workspace
from meta_mcp.registry.interceptors import Proceed, ToolCall
from meta_mcp.registry.workspaces import Workspaces
from meta_mcp.services import Services

logger = logging.getLogger(__name__)

RING = 200
"""Events kept per workspace."""
MAX_WORKSPACES = 256
"""Rings kept at most (least recently changed dropped first)."""
TICK_S = 1.0
"""The longest the monitor sleeps without a notification."""
_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Event:
    """One call or state change. `kind` is "call" or "state"; `subject` the exposed tool or the server."""

    at: float
    kind: str
    subject: str
    detail: str = ""
    ms: float | None = None
    error: str | None = None
    origin: str | None = None

    @property
    def clock(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.at))

    @property
    def iso(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.at))


@dataclass(slots=True)
class Versions:
    """Counters of one workspace: `servers` moves when a server changed, `activity` when an event was added."""

    servers: int = 0
    activity: int = 0

    def copy(self) -> Versions:
        return Versions(self.servers, self.activity)


@dataclass(slots=True)
class _Seen:
    versions: Versions = field(default_factory=Versions)
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=RING))
    servers: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)


def _error_text(result: dict[str, Any]) -> str:
    texts = [c.get("text", "") for c in result.get("content") or [] if isinstance(c, dict) and c.get("type") == "text"]
    return (" ".join(texts).strip() or "isError")[:_ERROR_CHARS]


class _ProviderListener:
    """Hears every status or listing change of the providers it is attached to (see `providers.base`)."""

    def __init__(self, wake: Any) -> None:
        self._wake = wake

    async def provider_changed(self, provider: Any) -> None:
        self._wake()

    async def resource_updated(self, provider: Any, uri: str) -> None:
        return None

    async def provider_log(self, provider: Any, level: str, data: Any, logger_name: str | None) -> None:
        return None


class Monitor:
    """Recent activity and change signals of every workspace (see the module docstring)."""

    def __init__(self, workspaces: Workspaces, services: Services) -> None:
        self.workspaces = workspaces
        self.services = services
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        self._changed = anyio.Event()
        self._poke = anyio.Event()
        self._listener = _ProviderListener(self.wake)
        self._buses: weakref.WeakSet[Any] = weakref.WeakSet()

    # -- what the pages read ----------------------------------------------------------------------

    def events(self, workspace: str) -> list[Event]:
        """The workspace's recorded events, newest first."""
        seen = self._seen.get(workspace)
        return list(reversed(seen.events)) if seen is not None else []

    def versions(self, workspace: str) -> Versions:
        seen = self._seen.get(workspace)
        return seen.versions.copy() if seen is not None else Versions()

    async def wait(self, workspace: str, seen: Versions) -> Versions:
        """The workspace's versions as soon as they differ from `seen`."""
        while True:
            changed = self._changed
            now = self.versions(workspace)
            if (now.servers, now.activity) != (seen.servers, seen.activity):
                return now
            await changed.wait()

    # -- recording ---------------------------------------------------------------------------------

    def _ring(self, workspace: str) -> _Seen:
        seen = self._seen.get(workspace)
        if seen is None:
            seen = self._seen[workspace] = _Seen()
            while len(self._seen) > MAX_WORKSPACES:
                self._seen.popitem(last=False)
        self._seen.move_to_end(workspace)
        return seen

    def record(self, workspace: str, event: Event, *, servers: bool = False) -> None:
        seen = self._ring(workspace)
        seen.events.append(event)
        seen.versions.activity += 1
        if servers:
            seen.versions.servers += 1
        self._signal()

    def _signal(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def intercept(self, call: ToolCall, proceed: Proceed) -> dict[str, Any]:
        """The call interceptor: time the call and record how it ended."""
        started = time.monotonic()
        at = time.time()

        def ms() -> float:
            return round((time.monotonic() - started) * 1000, 1)

        try:
            result = await proceed()
        except anyio.get_cancelled_exc_class():
            self.record(call.workspace, Event(at, "call", call.name, call.server, ms(), "cancelled", call.call.origin))
            raise
        except Exception as exc:
            self.record(call.workspace, Event(at, "call", call.name, call.server, ms(),
                                              (str(exc) or type(exc).__name__)[:_ERROR_CHARS], call.call.origin))
            raise
        error = _error_text(result) if isinstance(result, dict) and result.get("isError") else None
        self.record(call.workspace, Event(at, "call", call.name, call.server, ms(), error, call.call.origin))
        return result

    # -- watching the servers ------------------------------------------------------------------------

    def wake(self, *_: Any) -> None:
        """Something may have changed: look now (safe to call from synchronous callbacks on the loop)."""
        self._poke.set()

    async def run(self) -> None:
        """Watch every workspace's servers until cancelled."""
        while True:
            poke = self._poke = anyio.Event()
            try:
                self.scan()
            except Exception:  # the console must never take the server down
                logger.exception("console: watching the workspaces failed")
            with anyio.move_on_after(TICK_S):
                await poke.wait()

    def _registries(self) -> Iterator[Any]:
        return iter(list(self.workspaces))

    def scan(self) -> None:
        """Compare every workspace's servers with what was seen last; record and signal the differences."""
        for registry in self._registries():
            if registry.notifier.bus not in self._buses:
                self._buses.add(registry.notifier.bus)
                registry.notifier.bus.subscribe(self.wake)
            for provider in registry.servers.values():
                if self._listener not in provider.listeners:
                    provider.listeners.append(self._listener)
            now = {s.name: (s.status, s.last_error, s.tools)
                   for s in server_ops.list_servers(Workspace(registry, self.services))}
            seen = self._seen.get(registry.workspace)
            before = seen.servers if seen is not None else {}
            if now == before:
                continue
            seen = self._ring(registry.workspace)
            at = time.time()
            for name, (status, error, tools) in now.items():
                old = before.get(name)
                if old is None:
                    seen.events.append(Event(at, "state", name, f"added: {label(status)}", error=error))
                elif old[0] != status:
                    seen.events.append(Event(at, "state", name, f"{label(old[0])} → {label(status)}", error=error))
            for name in before.keys() - now.keys():
                seen.events.append(Event(at, "state", name, "removed"))
            seen.servers = now
            seen.versions.servers += 1
            seen.versions.activity += 1
            self._signal()


STATUS_LABELS = {"ready": "running"}


def label(status: str) -> str:
    """A provider status as people read it: "running" for ready; the others as they are."""
    return STATUS_LABELS.get(status, status)
