"""Call interceptors: what every tool call passes through, on every path.

The registry's one call path (`Registry.call_tool`) — used by clients' `tools/call`, the `call_tool`
meta tool, `run_code`'s bridge and `agent_chat`'s loop — runs each call through the process's
interceptors in order (the first is outermost), then calls the provider. An interceptor sees the
routed call (`ToolCall`: workspace, exposed name, server, the tool's own name, arguments, the caller's
`CallContext` with its identity and origin) and either returns a result itself (a policy refusal, a
rate limit) or awaits `proceed()` (and may time, trace or audit it). With no interceptors the call
path is untouched.

Example:
    async def deny_shell(call: ToolCall, proceed: Proceed) -> dict:
        if call.tool == "shell":
            return tool_error(f"{call.name} is not allowed")
        return await proceed()

    Workspaces(settings, pool, interceptors=[deny_shell])
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from meta_mcp.providers.base import CallContext


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One routed tool call."""

    workspace: str
    name: str
    """The exposed name the caller used."""
    server: str
    tool: str
    """The tool's own name at its server."""
    arguments: dict[str, Any] | None
    call: CallContext


Proceed = Callable[[], Awaitable[dict[str, Any]]]
Interceptor = Callable[[ToolCall, Proceed], Awaitable[dict[str, Any]]]


async def run_chain(interceptors: Sequence[Interceptor], call: ToolCall, last: Proceed) -> dict[str, Any]:
    """Run `call` through `interceptors`, then `last`."""

    async def step(index: int) -> dict[str, Any]:
        if index == len(interceptors):
            return await last()
        return await interceptors[index](call, lambda: step(index + 1))

    return await step(0)
