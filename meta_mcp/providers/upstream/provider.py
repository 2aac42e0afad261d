"""`UpstreamProvider`: one upstream server as a provider, composed of four collaborators.

The provider holds the public state the registry reads (`status`, `last_error`, `listing`,
`listeners`) and wires the parts that keep it true; each part's module states its own promises:

- `Supervisor` (supervisor.py) connects, restarts with backoff, stops, and owns `status`/`last_error`;
- `Watcher` (watcher.py) keeps `listing` current from list_changed notifications or the listen stream;
- `BackChannel` (backchannel.py) routes upstream log messages and sampling/elicitation requests;
- `Calls` (calls.py) serves calls with timeouts and the `ToolError` mapping; `SessionState` keeps the
  log level and subscriptions a reconnect replays.
"""

from __future__ import annotations

from typing import Any

import anyio.abc

from meta_mcp.config import ServerSpec
from meta_mcp.providers.base import NO_CONTEXT, CallContext, Provider
from meta_mcp.providers.process import Prespawned
from meta_mcp.providers.upstream.backchannel import BackChannel
from meta_mcp.providers.upstream.calls import Calls, SessionState
from meta_mcp.providers.upstream.supervisor import Supervisor
from meta_mcp.providers.upstream.watcher import Watcher
from meta_mcp.settings import Settings


class UpstreamProvider(Provider):
    """A supervised client connection to one upstream MCP server (see the package docstring)."""

    def __init__(self, spec: ServerSpec, settings: Settings, task_group: anyio.abc.TaskGroup,
                 prespawned: Prespawned | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.name = spec.name
        self.prefix = spec.effective_prefix
        self.transport = spec.transport
        self.status = "starting"
        timeout = spec.timeout or settings.call_timeout
        session = SessionState()
        backchannel = BackChannel(self)
        watcher = Watcher(self, timeout, session.subscriptions)
        self._supervisor = Supervisor(
            self, spec, settings, task_group, prespawned,
            client_options={"message_handler": watcher.on_message, **backchannel.client_options()},
            restore=session.restore, watch=watcher.watch,
        )
        self._calls = Calls(self, self._supervisor, backchannel, session, watcher.resubscribe, timeout,
                            settings.call_max_timeout)

    @property
    def protocol_version(self) -> str | None:
        """The protocol version of the current (or last) connection; None before the first."""
        return self._supervisor.protocol_version

    @property
    def restarts(self) -> int:
        """How many times the supervisor has tried to connect again."""
        return self._supervisor.restarts

    async def start(self) -> None:
        """Start the supervisor (once; later calls only wait) and wait for its first attempt."""
        await self._supervisor.start()

    async def stop(self) -> None:
        await self._supervisor.stop()

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]:
        return await self._calls.call_tool(name, arguments, call)

    async def read_resource(self, uri: str, call: CallContext = NO_CONTEXT) -> dict[str, Any]:
        return await self._calls.read_resource(uri, call)

    async def get_prompt(self, name: str, arguments: dict[str, str] | None, call: CallContext = NO_CONTEXT
                         ) -> dict[str, Any]:
        return await self._calls.get_prompt(name, arguments, call)

    async def complete(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._calls.complete(params)

    async def set_log_level(self, level: str) -> None:
        await self._calls.set_log_level(level)

    async def subscribe(self, uri: str) -> None:
        await self._calls.change_subscription(uri, add=True)

    async def unsubscribe(self, uri: str) -> None:
        await self._calls.change_subscription(uri, add=False)
