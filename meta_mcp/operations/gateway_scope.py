"""The Docker MCP Gateway's own reach-anything tools, held to the caller's workspace and policy.

The gateway's state is global: every server added there by any workspace is one `mcp-exec` away, and
`code-mode` writes a tool whose script calls any server's tools inside the gateway. Proxied as they
are (`docker__mcp-exec`, `docker__code-mode`), they would let one workspace call another's servers
(with that workspace's config and secrets) and walk around the policy's `tools.deny`. So on the one
call path (a call interceptor), for the root view's tools:

- `mcp-exec {name}` goes through only when `name` is a gateway tool this workspace can call itself
  under an exposed name that the policy lets the caller use (a tool of a gateway server this
  workspace added, or one of the root view's own); otherwise a tool error naming the rule;
- `code-mode {servers}` goes through only for gateway servers this workspace added, and not when a
  policy limits the caller's tools or turns run_code off (the script's calls happen inside the
  gateway, where the policy cannot see them: `run_code` is the way, it applies the policy to every call);
- a `code-mode-*` tool made through meta-mcp is the workspace's that made it: others are refused
  (`mcp-exec` of one is held to the same rule).

Example:
    workspaces.interceptors.append(gateway_scope(workspaces, services))
    # team-b calling docker__mcp-exec {"name": "search_repositories"} of team-a's github → tool error
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meta_mcp.auth.context import current_caller
from meta_mcp.operations.tools import visible_tools
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import tool_error
from meta_mcp.providers.gateway import GatewayView
from meta_mcp.registry.interceptors import Interceptor, Proceed, ToolCall

if TYPE_CHECKING:
    from meta_mcp.registry.workspaces import Workspaces
    from meta_mcp.services import Services

EXEC, CODE_MODE, MADE_PREFIX = "mcp-exec", "code-mode", "code-mode-"


def _gateway_names(ws: Workspace) -> dict[str, str]:
    """Gateway tool name → the exposed name this workspace's caller may call it by (policy applied)."""
    out: dict[str, str] = {}
    for tool in visible_tools(ws, lambda server, original: isinstance(ws.registry.servers.get(server), GatewayView)):
        view = ws.registry.servers[tool.server]
        assert isinstance(view, GatewayView)
        out[view.connection.gateway_name(view.server, tool.original)] = tool.exposed
    return out


def _held_servers(ws: Workspace) -> set[str]:
    return {p.server for p in ws.registry.servers.values() if isinstance(p, GatewayView) and p.server is not None}


def gateway_scope(workspaces: Workspaces, services: Services) -> Interceptor:
    """The interceptor (see the module docstring); calls of anything but the root view pass untouched."""
    made: dict[str, str] = {}
    """`code-mode-<name>` → the workspace that made it through meta-mcp."""

    def refusal(ws: Workspace, tool: str, arguments: dict[str, Any]) -> str | None:
        if tool == EXEC:
            target = arguments.get("name")
            if not isinstance(target, str):
                return None  # the gateway answers a missing or invalid name itself
            if target.startswith(MADE_PREFIX) and made.get(target, ws.name) != ws.name:
                return f"{target!r} was made by another workspace"
            if target not in _gateway_names(ws):
                return (f"{target!r} is not a gateway tool this workspace can call: mcp-exec reaches the tools of "
                        "gateway servers added in this workspace (and the gateway's own), as the policy allows")
        elif tool == CODE_MODE:
            servers = arguments.get("servers")
            foreign = sorted({s for s in servers if isinstance(s, str)} - _held_servers(ws)) if isinstance(
                servers, list) else []
            if foreign:
                return (f"code-mode may use only gateway servers added in this workspace (not {', '.join(foreign)}); "
                        "add them with add_server first")
            rules = current_caller().rules(ws.name)
            if rules is not None and (rules.allow is not None or rules.deny or not rules.run_code):
                return ("code-mode runs its calls inside the gateway, where the policy on tools cannot apply; use "
                        "run_code, which applies it to every call")
        elif tool.startswith(MADE_PREFIX) and made.get(tool, ws.name) != ws.name:
            return f"{tool!r} was made by another workspace"
        return None

    async def scope(call: ToolCall, proceed: Proceed) -> dict[str, Any]:
        if call.tool not in (EXEC, CODE_MODE) and not call.tool.startswith(MADE_PREFIX):
            return await proceed()
        registry = workspaces.get(call.workspace)
        view = registry.servers.get(call.server)
        if not isinstance(view, GatewayView) or view.server is not None:
            return await proceed()
        ws = Workspace(registry, services)
        arguments = call.arguments if isinstance(call.arguments, dict) else {}
        if (why := refusal(ws, call.tool, arguments)) is not None:
            return tool_error(f"Refused: {call.name}: {why}.")
        result = await proceed()
        if call.tool == CODE_MODE and not result.get("isError") and isinstance(name := arguments.get("name"), str):
            made.setdefault(MADE_PREFIX + name, ws.name)
        return result

    return scope
