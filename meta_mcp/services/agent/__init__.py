"""The agent service behind `agent_chat`: an LLM tool-calling loop over the registry's tools.

- `loop`: the resumable loop (`run_agent(host, request)`), pauses, interrupts, results;
- `models`: OpenAI / OpenRouter / OpenAI-compatible through the `openai` SDK, and MCP sampling;
- `conversation`: ids, history capping and truncation; `budget`: steps, wall time, tokens;
- `toolset`: function names and result text for the model.
The service knows no transport: the meta tool hands it the tool list, the call path and the client's
capabilities as an `AgentHost`.
"""

from meta_mcp.services.agent.loop import AgentHost, AgentRequest, ToolReply, run_agent

__all__ = ["AgentHost", "AgentRequest", "ToolReply", "run_agent"]
