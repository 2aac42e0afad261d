"""The provider contract: something that lists components and serves calls for them.

A provider knows nothing of namespacing, clients or other providers. It lists its components under
their own names, as wire-format dicts (exactly what its source sent, so the registry can pass them
through untouched), and serves calls by those names. When its listing changes it calls the
`on_change` callback it was given; the registry then rebuilds the exposed surface.

Errors degrade like this:
- a failure of the source itself (crash, timeout, not running) is a `ToolError`: the surface turns it
  into a tool result with `isError: true` whose text names the server;
- a protocol error the source answered with (unknown tool, invalid params) is an `mcp.MCPError` and
  reaches the caller as the same JSON-RPC error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from meta_mcp.identity import LOCAL, Identity

ProviderStatus = Literal["starting", "ready", "failed", "restarting", "stopped"]
Origin = Literal["stdio", "http", "agent", "sandbox", "internal"]

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
"""Receives an upstream's progress (progress, total, message) for the call being served."""

LogFn = Callable[[str, Any, str | None], Awaitable[None]]
"""Receives an upstream's log message (level, data, logger) emitted while the call is served."""

AskFn = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
"""Sends a server→client request (method, params) to the caller's client; returns its result."""

class ProviderListener(Protocol):
    """Who hears from a provider (a registry; several when workspaces share one upstream)."""

    async def provider_changed(self, provider: Provider) -> None:
        """`listing` or `status` changed."""

    async def resource_updated(self, provider: Provider, uri: str) -> None:
        """A subscribed resource (the provider's own URI) was updated."""

    async def provider_log(self, provider: Provider, level: str, data: Any, logger_name: str | None) -> None:
        """A log message that belongs to no call in flight."""


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a caller brings to one call besides the arguments.

    `meta` is forwarded upstream as the request's `_meta`; `progress` and `log` receive the
    upstream's progress and log messages for this call; `input_responses` and `request_state`
    continue a call that answered `input_required` (2026-07-28 multi-round-trip requests).
    """

    meta: dict[str, Any] | None = None
    progress: ProgressFn | None = None
    log: LogFn | None = None
    input_responses: dict[str, Any] | None = None
    request_state: str | None = None
    can_elicit: bool = False
    ask: AskFn | None = None
    """Forwards an upstream's own sampling / elicitation request to the caller's client mid-call;
    None when the client cannot be asked mid-call (2026-era clients have no back-channel)."""
    can_sample: bool = False
    """The client declared the sampling capability (it can answer `sampling/createMessage`)."""
    origin: Origin = "internal"
    """Who is calling: a client over `stdio` (the desktop's one trusted user) or `http`, the `agent`'s
    inner model, `sandbox` code, or meta-mcp itself (`internal`). Policies (what may be added, …) key on it."""
    identity: Identity = LOCAL
    """The authenticated caller (inner calls of run_code and agent_chat carry their caller's)."""


NO_CONTEXT = CallContext()


class ToolError(Exception):
    """The provider could not serve a call (not a protocol error): becomes an `isError` tool result."""


def tool_error(text: str) -> dict[str, Any]:
    """A `CallToolResult` wire dict reporting a failure the model can act on (`isError: true`)."""
    return {"content": [{"type": "text", "text": text}], "isError": True}


@dataclass(frozen=True, slots=True)
class Listing:
    """One provider's components as wire dicts, under the provider's own names and URIs."""

    tools: tuple[dict[str, Any], ...] = ()
    resources: tuple[dict[str, Any], ...] = ()
    resource_templates: tuple[dict[str, Any], ...] = ()
    prompts: tuple[dict[str, Any], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class Provider(ABC):
    """A source of tools, resources and prompts.

    `name` is unique in a registry; `prefix` is the name prefix its components are exposed under
    (`""` for none). `listing` is the current snapshot and is replaced, never mutated.
    """

    name: str
    prefix: str
    transport: str = "builtin"
    status: ProviderStatus = "ready"
    last_error: str | None = None
    restarts: int = 0

    def __init__(self) -> None:
        self.listing = Listing()
        self.listeners: list[ProviderListener] = []

    async def changed(self) -> None:
        """Tell every listener that `listing` or `status` changed."""
        for listener in list(self.listeners):
            await listener.provider_changed(self)

    async def start(self) -> None:
        """Begin serving; returns once the first attempt to become ready has finished either way."""

    async def stop(self) -> None:
        """Stop serving and release what the provider holds (processes, connections)."""

    @abstractmethod
    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]:
        """Call tool `name` and return the `CallToolResult` as a wire dict."""

    async def read_resource(self, uri: str, call: CallContext = NO_CONTEXT) -> dict[str, Any]:
        """Read resource `uri` and return the `ReadResourceResult` as a wire dict."""
        raise ToolError(f"server {self.name!r} has no resources")

    async def get_prompt(self, name: str, arguments: dict[str, str] | None, call: CallContext = NO_CONTEXT
                         ) -> dict[str, Any]:
        """Render prompt `name` and return the `GetPromptResult` as a wire dict."""
        raise ToolError(f"server {self.name!r} has no prompts")

    async def complete(self, params: dict[str, Any]) -> dict[str, Any]:
        """Answer `completion/complete` (params in wire form, names already the provider's own)."""
        return {"completion": {"values": []}}

    async def set_log_level(self, level: str) -> None:
        """Ask the source to send log messages at `level` and above (handshake-era logging)."""

    async def subscribe(self, uri: str) -> None:
        """Start sending `resource_updated` for `uri` (through the change callback's resource hook)."""
        raise ToolError(f"server {self.name!r} does not support resource subscriptions")

    async def unsubscribe(self, uri: str) -> None:
        """Stop sending `resource_updated` for `uri`."""
