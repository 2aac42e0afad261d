"""The agent service behind `agent_chat`: an LLM tool-calling loop over the registry's tools.

- `loop`: the resumable loop (`run_agent(host, request)`), pauses, interrupts, results;
- `run_state`: the typed state of a run (`PendingRun`, `PendingCall`) and its saved JSON — the state
  machine; `tool_step`: one step's tool calls and the interrupt of a form; `host`: `AgentHost`,
  `AgentRequest`, `ToolReply`;
- `models`: OpenAI / OpenRouter / OpenAI-compatible through the `openai` SDK, and MCP sampling;
- `conversation`: ids, history capping and truncation; `budget`: steps, wall time, tokens;
- `toolset`: function names and result text for the model.
The service knows no transport: the meta tool hands it the tool list, the call path and the client's
capabilities as an `AgentHost`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meta_mcp.services.agent.host import AgentHost, AgentRequest, ToolReply
    from meta_mcp.services.agent.loop import run_agent

__all__ = ["AgentHost", "AgentRequest", "ToolReply", "run_agent"]
_LAZY = {"AgentHost": "host", "AgentRequest": "host", "ToolReply": "host", "run_agent": "loop"}


def __getattr__(name: str) -> Any:
    """The loop and its host are imported when first asked for: the `agent_chat` meta tool's definition needs
    only `models.PROVIDERS` at start-up."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
