"""Answering an upstream's `input_required` result for clients of the handshake era.

A 2026-07-28 upstream that needs sampling, elicitation or roots returns an `input_required` result
instead of the tool result, and expects the request again with `inputResponses` and the echoed
`requestState`. A modern client does that itself, so the result passes through untouched. A
handshake-era client cannot: for it, meta-mcp sends each embedded request to the client as an
ordinary server-to-client request (related to the call being served), then retries the upstream
call with the answers, up to `MAX_ROUNDS` times.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
from mcp import MCPError
from mcp.server.context import ServerRequestContext
from mcp.shared.message import ServerMessageMetadata
from mcp_types import INTERNAL_ERROR
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, TypeAdapter

MAX_ROUNDS = 10

_REQUEST = TypeAdapter(types.InputRequest)
_RESULT_TYPES: dict[str, type[BaseModel]] = {
    "sampling/createMessage": types.CreateMessageResult,
    "elicitation/create": types.ElicitResult,
    "roots/list": types.ListRootsResult,
}

Retry = Callable[[dict[str, Any] | None, str | None], Awaitable[dict[str, Any]]]


def is_input_required(result: dict[str, Any]) -> bool:
    return result.get("resultType") == "input_required"


async def resolve(ctx: ServerRequestContext[Any], first: dict[str, Any], retry: Retry) -> dict[str, Any]:
    """Return `first`, or for a handshake-era caller, the terminal result after answering its requests."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS or not is_input_required(first):
        return first
    result = first
    for _ in range(MAX_ROUNDS):
        requests: dict[str, Any] = result.get("inputRequests") or {}
        responses = {key: await ask(ctx, request) for key, request in requests.items()}
        result = await retry(responses or None, result.get("requestState"))
        if not is_input_required(result):
            return result
    raise MCPError(INTERNAL_ERROR, f"the server kept asking for input after {MAX_ROUNDS} rounds")


async def ask(ctx: ServerRequestContext[Any], request: dict[str, Any]) -> dict[str, Any]:
    """Send one embedded request ({"method", "params"}) to the caller's client; its result as a wire dict."""
    model = _REQUEST.validate_python(request)
    result_type = _RESULT_TYPES[model.method]
    answer = await ctx.session.send_request(
        model, result_type, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
    )
    return answer.model_dump(by_alias=True, mode="json", exclude_none=True)
