"""What the agent loop gets from its caller (`AgentHost`, `AgentRequest`) and what a tool call gives it back.

The service knows no transport: the operation builds an `AgentHost` with the tool list, the one call
path, the client's capabilities and the state store, and hands it the `agent_chat` arguments as an
`AgentRequest`. Each tool call returns a `ToolReply`: the wire result plus what the loop must react to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from meta_mcp.services.catalog.plan import NeedsSecrets
from meta_mcp.settings import Settings


@dataclass(frozen=True)
class ToolReply:
    """What one tool call gave the loop: the wire result, and what the loop must react to."""

    result: dict[str, Any]
    """The `CallToolResult` (or `input_required`) wire dict."""
    needs_secrets: NeedsSecrets | None = None
    """The call cannot succeed until the user sets these secrets: the run ends (`needs_secrets`)."""
    form_server: str | None = None
    """The server an `input_required` config form is for (shown in an interrupt)."""


CallFn = Callable[[str, dict[str, Any], dict[str, Any] | None, str | None], Awaitable[ToolReply]]
"""`call(exposed, arguments, input responses, requestState)`."""
ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
EventFn = Callable[[dict[str, Any]], Awaitable[None]]
"""Receives the run's steps as they happen (redacted): `{"type": "status" | "iteration" | "content" |
"tool_call" | "tool_result" | "tool_error", …}` — what the chat API streams."""


@dataclass
class AgentRequest:
    """One `agent_chat` call, as the meta tool received it."""

    message: str | None = None
    conversation_id: str | None = None
    provider: str | None = None
    model: str | None = None
    servers: list[str] | None = None
    max_steps: int | None = None
    timeout_s: float | None = None
    max_tokens: int | None = None
    provided_config: dict[str, Any] | None = None
    input_responses: dict[str, Any] | None = None
    request_state: str | None = None
    history: list[dict[str, Any]] | None = None
    """Earlier messages (`{role, content}`) of a conversation the caller keeps itself (the chat API's
    clients send the whole list); they start a new conversation before `message`."""


@dataclass
class AgentHost:
    """What the loop needs from its caller: tools, the one call path, the client, the store."""

    settings: Settings
    store: Any
    workspace: str
    tools: Callable[[list[str] | None], list[tuple[str, dict[str, Any]]]]
    call: CallFn
    progress: ProgressFn | None = None
    events: EventFn | None = None
    can_elicit: bool = False
    can_sample: bool = False
