"""The agent operation: hand a task to the inner LLM loop over the workspace's tools.

The loop (`services.agent`) sees the workspace's active tools — or only those of `servers` — plus
`find_servers`, `add_server`, `remove_server` (so it can equip itself) and `run_code`. It never sees
`agent_chat` (no recursion) nor `call_tool` (a way around `servers`). Every tool call it makes goes
through the registry's one call path; what the loop must react to — a server that needs secrets, a
config form and the server it is for — reaches it as typed fields of a `ToolReply`, parsed here from
the meta tools' structured outcomes, never from their text.

Example:
    result = await agent_chat(ws, AgentRequest(message="What time is it in Tokyo?"), call)
"""

from __future__ import annotations

from typing import Any, Literal

from meta_mcp.operations import outcomes
from meta_mcp.operations.servers import form_server
from meta_mcp.operations.tools import META_SERVER, visible_tools
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import CallContext
from meta_mcp.services.agent import AgentHost, AgentRequest, ToolReply, run_agent
from meta_mcp.services.agent.host import EventFn

AGENT_META_TOOLS = frozenset({"find_servers", "add_server", "remove_server", "run_code"})
"""The meta tools the inner model of `agent_chat` may call."""

Mode = Literal["agent_chat", "dynamic", "code", "default"]
MODES: dict[str, tuple[frozenset[str], bool]] = {
    "agent_chat": (AGENT_META_TOOLS, True),
    "dynamic": (frozenset({"find_servers", "add_server", "remove_server"}), True),
    "code": (frozenset({"find_servers", "add_server", "run_code"}), False),
    "default": (frozenset(), True),
}
"""What the model sees in each mode: (the meta tools, whether the active servers' tools too). The chat
API's modes are the seed's: `dynamic` equips itself, `code` works through run_code, `default` uses
only the active tools."""


def agent_tools(ws: Workspace, servers: list[str] | None, mode: Mode = "agent_chat"
                ) -> list[tuple[str, dict[str, Any]]]:
    """(exposed name, definition) of every tool the inner model may call, in listing order."""
    meta, proxied = MODES[mode]

    def keep(server: str, original: str) -> bool:
        if server == META_SERVER:
            return original in meta
        return proxied and (servers is None or server in servers)

    return [(t.exposed, t.definition) for t in visible_tools(ws, keep)]


def reply_of(ws: Workspace, exposed: str, result: dict[str, Any]) -> ToolReply:
    """A tool's result with what the loop must react to, read from a meta tool's typed outcome."""
    route = ws.registry.snapshot.tool_routes.get(exposed)
    if route is None or route[0].name != META_SERVER:
        return ToolReply(result)
    if result.get("resultType") == "input_required":
        return ToolReply(result, form_server=form_server(result.get("requestState")))
    outcome = outcomes.parse(result.get("structuredContent"))
    return ToolReply(result, needs_secrets=outcome if isinstance(outcome, outcomes.NeedsSecrets) else None)


async def agent_chat(ws: Workspace, request: AgentRequest, call: CallContext, *, mode: Mode = "agent_chat",
                     events: EventFn | None = None) -> dict[str, Any]:
    """Run (or resume) one agent turn; returns the tool result (or `input_required`) of `agent_chat`.
    `events` receives each step as it happens (the chat API streams them)."""
    await ws.registry.wait_preloaded()

    async def call_one(exposed: str, arguments: dict[str, Any], responses: dict[str, Any] | None,
                       state: str | None) -> ToolReply:
        # The loop can always take a form (from the client, or as an interrupt): can_elicit=True.
        inner = CallContext(meta=call.meta, log=call.log, input_responses=responses, request_state=state,
                            can_elicit=True, can_sample=call.can_sample, origin="agent",
                            identity=call.identity)
        return reply_of(ws, exposed, await ws.registry.call_tool(exposed, arguments, inner))

    host = AgentHost(settings=ws.settings, store=ws.services.state, workspace=ws.name,
                     tools=lambda servers: agent_tools(ws, servers, mode), call=call_one, progress=call.progress,
                     events=events, can_elicit=call.can_elicit, can_sample=call.can_sample)
    return await run_agent(host, request)
