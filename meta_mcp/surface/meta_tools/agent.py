"""Meta tool `agent_chat`: hand a task to an inner LLM loop over the workspace's tools.

An adapter over `meta_mcp.operations.agent` (which tools the loop sees, how its calls go through
the one call path). Inner calls may ask for input (`add_server` missing config): the loop passes
such requests up as this tool's own `input_required`, or returns an interrupt that
`agent_chat(conversation_id=…, provided_config={…})` resumes. Progress notifications (when the
client sent a progress token) report each step and tool call.

Example:
    agent_chat(message="What time is it in Tokyo?")
    → text "It is 21:04 in Tokyo. [agent_chat complete: 2 step(s), tools: time__get_current_time, …]"
      structuredContent {"conversation_id": "conv-…", "status": "complete", "answer": "…",
                         "trace": {"steps": 2, "tool_calls": [...], "usage": {...}, …}}
"""

from __future__ import annotations

from typing import Any

from meta_mcp.services.agent.models import PROVIDERS
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool


async def agent_chat(ctx: MetaContext, args: dict[str, Any]) -> dict[str, Any]:
    # Imported on first call: the agent loop and its operations are not needed to serve the first request.
    from meta_mcp.operations import agent
    from meta_mcp.services.agent import AgentRequest

    request = AgentRequest(
        message=args.get("message"), conversation_id=args.get("conversation_id"), provider=args.get("provider"),
        model=args.get("model"), servers=args.get("servers"), max_steps=args.get("max_steps"),
        timeout_s=args.get("timeout_s"), max_tokens=args.get("max_tokens"),
        provided_config=args.get("provided_config"), input_responses=ctx.call.input_responses,
        request_state=ctx.call.request_state,
    )
    return await agent.agent_chat(ctx.workspace, request, ctx.call)


AGENT_CHAT = MetaTool(
    {
        "name": "agent_chat",
        "title": "Agent chat",
        "description": "Hand a task to an LLM agent that uses this workspace's tools (and can add servers); returns "
        "its answer and a trace. Continue, or answer a config interrupt, with conversation_id (+ provided_config).",
        "inputSchema": {
            "type": "object",
            "properties": {
                "message": {"type": "string", "minLength": 1},
                "conversation_id": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"},
                "provider": {"type": "string", "enum": list(PROVIDERS)},
                "model": {"type": "string", "minLength": 1},
                "servers": {"type": "array", "items": {"type": "string"}, "description": "Only these servers' tools"},
                "max_steps": {"type": "integer", "minimum": 1},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0},
                "max_tokens": {"type": "integer", "minimum": 1},
                "provided_config": {"type": "object"},
            },
        },
        "annotations": {"readOnlyHint": False, "destructiveHint": True, "openWorldHint": True},
    },
    agent_chat,
)
