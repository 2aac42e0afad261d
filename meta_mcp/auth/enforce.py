"""The policy on the registry's one call path: a call interceptor every tool call passes.

For each call — a client's `tools/call`, the `call_tool` meta tool, `run_code`'s bridge, `agent_chat`'s
loop — it finds who is calling (`context.identity_of`), refuses a tool the policy does not make
available to that identity in that workspace (run_code / agent_chat switched off, `tools.allow` /
`tools.deny`) and a call over its rate limit, each with a tool error that says why, and otherwise
runs the call as that caller (so `add_server` and other operations see the identity). Calls of
stdio's trusted user are not limited. Every denial and every change of a workspace's servers
(`add_server`, `remove_server`, `configure_server`) is written to the audit log, with the outcome.

Example:
    workspaces.interceptors.append(policy_interceptor(policy_store, Limiter()))
"""

from __future__ import annotations

from typing import Any

from meta_mcp.auth.audit import audit
from meta_mcp.auth.context import Caller, acting_as, identity_of
from meta_mcp.auth.limits import Limiter, Refusal
from meta_mcp.auth.policy import PolicyStore
from meta_mcp.identity import LOCAL
from meta_mcp.providers.base import tool_error
from meta_mcp.registry.interceptors import Interceptor, Proceed, ToolCall

META_SERVER = "meta-mcp"
"""The meta tools' provider (`operations.tools.META_SERVER`)."""
CHANGES = frozenset({"add_server", "remove_server", "configure_server"})
INNER_ORIGINS = frozenset({"agent", "sandbox"})
"""Calls made inside another call (run_code's code, agent_chat's model): not counted as concurrent calls."""


def _outcome(result: dict[str, Any]) -> str:
    if result.get("resultType") == "input_required":
        return "input_required"
    structured = result.get("structuredContent")
    if isinstance(structured, dict) and isinstance(structured.get("outcome"), str):
        return structured["outcome"]
    return "error" if result.get("isError") else "ok"


def _target(call: ToolCall) -> str:
    """What a change acts on: the server name argument (never other argument values)."""
    name = (call.arguments or {}).get("name")
    return f"{call.name} {name}" if isinstance(name, str) else call.name


def policy_interceptor(policy: PolicyStore, limiter: Limiter) -> Interceptor:
    async def enforce(call: ToolCall, proceed: Proceed) -> dict[str, Any]:
        identity = identity_of(call.call)
        origin = call.call.origin
        rules = policy.rules(identity, call.workspace) if identity is not LOCAL else None
        ticket = None
        if rules is not None:
            why = rules.tool_refusal(call.name)
            if why is not None:
                audit("denied", identity, call.workspace, f"tools/call {call.name}", "denied", origin=origin, reason=why)
                return tool_error(f"Refused: {why} (for {identity.subject}, role {identity.role}, in workspace "
                                  f"{call.workspace}).")
            got = limiter.acquire((identity.subject, call.workspace), rules.rate, concurrent=origin not in INNER_ORIGINS)
            if isinstance(got, Refusal):
                audit("denied", identity, call.workspace, f"tools/call {call.name}", "rate_limited", origin=origin,
                      reason=got.message)
                return tool_error(f"Refused: {got.message} (for {identity.subject} in workspace {call.workspace}).")
            ticket = got
        try:
            with acting_as(Caller(identity, policy)):
                result = await proceed()
        finally:
            if ticket is not None:
                ticket.release()
        if call.server == META_SERVER and call.tool in CHANGES:
            outcome = _outcome(result)
            audit("denied" if outcome == "refused" else "change", identity, call.workspace, _target(call), outcome,
                  origin=origin)
        return result

    return enforce
