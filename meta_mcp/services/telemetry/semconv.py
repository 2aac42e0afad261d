"""Attribute and metric names: the OpenTelemetry semantic conventions for MCP and GenAI where they exist
(`mcp.*`, `gen_ai.*`, `error.type`, `jsonrpc.request.id`), Langfuse's OpenTelemetry attributes for what
only Langfuse reads, and `meta_mcp.*` for what no convention covers (the routed server, the workspace,
who called).

Kept as plain strings here (the same values as `opentelemetry.semconv._incubating`, which is not a
stable import path) so that the hot path imports nothing.
"""

from __future__ import annotations

TRACER = "meta_mcp"
"""Instrumentation scope of meta-mcp's own spans and metrics."""

# -- OpenTelemetry semantic conventions --
ERROR_TYPE = "error.type"
MCP_METHOD_NAME = "mcp.method.name"
JSONRPC_REQUEST_ID = "jsonrpc.request.id"
NETWORK_TRANSPORT = "network.transport"
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
MCP_SERVER_OPERATION_DURATION = "mcp.server.operation.duration"
"""Histogram (s) of every routed tools/call, by server, tool and error.type."""

# -- Langfuse (read by Langfuse's OTLP ingestion; see langfuse._client.attributes) --
LANGFUSE_TYPE = "langfuse.observation.type"
LANGFUSE_TRACE_NAME = "langfuse.trace.name"
LANGFUSE_INPUT = "langfuse.observation.input"
LANGFUSE_OUTPUT = "langfuse.observation.output"
LANGFUSE_MODEL = "langfuse.observation.model.name"
LANGFUSE_USAGE = "langfuse.observation.usage_details"
LANGFUSE_LEVEL = "langfuse.observation.level"
LANGFUSE_STATUS = "langfuse.observation.status_message"
SESSION_ID = "session.id"
USER_ID = "user.id"

# -- meta-mcp's own --
SERVER = "meta_mcp.server"
"""The server a call was routed to (its name in the workspace)."""
TOOL = "meta_mcp.tool"
"""The tool's own name at its server (gen_ai.tool.name is the exposed name)."""
WORKSPACE = "meta_mcp.workspace"
ORIGIN = "meta_mcp.origin"
"""Who called: stdio, http, agent, sandbox, internal."""
OPERATION = "meta_mcp.operation"
OUTCOME = "meta_mcp.outcome"
TRANSPORT = "meta_mcp.transport"
CALLS = "meta_mcp.tool.calls"
"""Counter of routed tool calls, by server and tool."""
ERRORS = "meta_mcp.tool.errors"
"""Counter of routed tool calls that failed (isError results and protocol errors), by server and tool."""
