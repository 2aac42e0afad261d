"""Meta tool `agent_chat`: hand a task to an inner LLM loop over the workspace's tools.

The loop (`meta_mcp.services.agent`) sees the workspace's active tools — or only those of `servers`
— plus `find_servers`, `add_server`, `remove_server` (so it can equip itself) and `run_code`. It never
sees `agent_chat` (no recursion) nor `call_tool` (a way around that). Every tool call it makes goes
through `ctx.registry.call_tool`, the one call path. Inner calls may ask for input (`add_server`
missing config): the loop passes such requests up as this tool's own `input_required`, or returns an
interrupt that `agent_chat(conversation_id=…, provided_config={…})` resumes.

Progress notifications (when the client sent a progress token) report each step and tool call.

Example:
    agent_chat(message="What time is it in Tokyo?")
    → text "It is 21:04 in Tokyo. [agent_chat complete: 2 step(s), tools: time__get_current_time, …]"
      structuredContent {"conversation_id": "conv-…", "status": "complete", "answer": "…",
                         "trace": {"steps": 2, "tool_calls": [...], "usage": {...}, …}}
"""

from __future__ import annotations

from typing import Any

from meta_mcp.providers.base import CallContext
from meta_mcp.providers.builtin.base import MetaContext, MetaTool
from meta_mcp.services.agent import AgentHost, AgentRequest, run_agent
from meta_mcp.services.agent.models import PROVIDERS
from meta_mcp.services.state import MemoryStore
from meta_mcp.settings import Settings

BUILTIN_SERVER = "meta-mcp"
AGENT_META_TOOLS = frozenset({"find_servers", "add_server", "remove_server", "run_code"})
"""The meta tools the inner model may call."""

_fallback_store = MemoryStore()


def _settings(ctx: MetaContext) -> Settings:
    services = getattr(ctx.registry, "services", None)
    settings = getattr(services, "settings", None) or getattr(ctx.registry, "settings", None)
    return settings if isinstance(settings, Settings) else Settings()


def agent_tools(ctx: MetaContext, servers: list[str] | None) -> list[tuple[str, dict[str, Any]]]:
    """(exposed name, definition) of every tool the inner model may call, in surface order."""
    surface = ctx.registry.snapshot
    out = []
    for tool in surface.tools:
        provider, original = surface.tool_routes[tool["name"]]
        if provider.name == BUILTIN_SERVER:
            if original in AGENT_META_TOOLS:
                out.append((tool["name"], tool))
        elif servers is None or provider.name in servers:
            out.append((tool["name"], tool))
    return out


async def agent_chat(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    settings = _settings(ctx)
    wait_preloaded = getattr(ctx.registry, "wait_preloaded", None)
    if wait_preloaded is not None:
        await wait_preloaded()
    services = getattr(ctx.registry, "services", None)
    store = getattr(services, "state", None) or _fallback_store
    if isinstance(store, MemoryStore):
        store.max_conversations = settings.agent_max_conversations

    async def call(exposed: str, arguments: dict[str, Any], responses: dict[str, Any] | None,
                   state: str | None) -> dict[str, Any]:
        # The loop can always take a form (from the client, or as an interrupt): can_elicit=True.
        inner = CallContext(meta=ctx.call.meta, log=ctx.call.log, input_responses=responses, request_state=state,
                            can_elicit=True, can_sample=ctx.call.can_sample)
        return await ctx.registry.call_tool(exposed, arguments, inner)

    host = AgentHost(settings=settings, store=store, workspace=getattr(ctx.registry, "workspace", "default"),
                     tools=lambda servers: agent_tools(ctx, servers), call=call, progress=ctx.call.progress,
                     can_elicit=ctx.call.can_elicit, can_sample=ctx.call.can_sample)
    request = AgentRequest(
        message=args.get("message"), conversation_id=args.get("conversation_id"), provider=args.get("provider"),
        model=args.get("model"), servers=args.get("servers"), max_steps=args.get("max_steps"),
        timeout_s=args.get("timeout_s"), max_tokens=args.get("max_tokens"),
        provided_config=args.get("provided_config"), input_responses=ctx.call.input_responses,
        request_state=ctx.call.request_state,
    )
    return await run_agent(host, request)


AGENT_CHAT = MetaTool(
    {
        "name": "agent_chat",
        "title": "Delegate a task to an agent",
        "description": "Hand a task to an inner LLM agent that calls this workspace's tools (and can find and add "
        "servers) until it can answer. Returns the answer and a compact trace (steps, tools called, tokens). "
        "Continue a conversation with conversation_id. If a server needs configuration the result is an "
        "interrupt listing the fields: call again with conversation_id and provided_config to resume.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "message": {"type": "string", "minLength": 1, "description": "The task or the next message"},
                "conversation_id": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$",
                                    "description": "Continue this conversation (returned by an earlier call)"},
                "provider": {"type": "string", "enum": list(PROVIDERS),
                             "description": "Model provider (default from settings)"},
                "model": {"type": "string", "minLength": 1, "description": "Model name (default from settings)"},
                "servers": {"type": "array", "items": {"type": "string"},
                            "description": "Only these servers' tools (the meta tools are always there)"},
                "max_steps": {"type": "integer", "minimum": 1, "description": "Model steps (default 10)"},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0, "description": "Wall time (s)"},
                "max_tokens": {"type": "integer", "minimum": 1, "description": "Tokens for the run"},
                "provided_config": {"type": "object",
                                    "description": "Config values answering an interrupt (with conversation_id)"},
            },
        },
        "annotations": {"readOnlyHint": False, "destructiveHint": True, "openWorldHint": True},
    },
    agent_chat,
)
