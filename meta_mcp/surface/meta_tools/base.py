"""What a meta tool is: a wire definition plus an async handler, given a `MetaContext`.

Meta tools are the MCP front door to the operations (`meta_mcp.operations`): a handler turns
arguments into an operation call and the operation's typed outcome into a tool result. Arguments are
validated against the tool's `inputSchema` before the handler runs, so every meta tool rejects bad
input the same way: a JSON-RPC `INVALID_PARAMS` error naming the argument.

Every turn of a host's model pays for the definitions (`tests/test_meta_budget.py` holds them under
2,000 o200k tokens): a description says what the tool is for and what a model must know to call it;
the input schema keeps every type and constraint (validation relies on it) but describes only what a
name does not say; output schemas are declared only where a client relies on them. The rest lives
in `get_code_api`'s output, outcome messages and the docs (`docs/architecture.md`, "The meta tools").

Example:
    async def hello(ctx: MetaContext, args: dict) -> dict:
        return structured({"greeting": f"hello {args['name']}"})

    HELLO = MetaTool({"name": "hello", "description": "…", "inputSchema": {…}}, hello)
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import CallContext, tool_error


@dataclass(frozen=True, slots=True)
class MetaContext:
    """One meta-tool call: the workspace it acts on and what the caller brought."""

    workspace: Workspace
    call: CallContext


Handler = Callable[[MetaContext, dict[str, Any]], Awaitable[dict[str, Any]]]


class MetaTool:
    """A meta tool: its wire definition (name, schemas, annotations) and its handler."""

    def __init__(self, definition: dict[str, Any], handler: Handler) -> None:
        self.definition = definition
        self.name: str = definition["name"]
        self.handler = handler
        self._validator: Any = None  # built on first use: jsonschema stays off the start-up path

    def check(self, arguments: dict[str, Any]) -> None:
        """Raise `INVALID_PARAMS` naming the first problem with `arguments`."""
        if self._validator is None:
            from jsonschema import Draft202012Validator

            self._validator = Draft202012Validator(self.definition["inputSchema"])
        error = next(iter(sorted(self._validator.iter_errors(arguments), key=lambda e: list(e.path))), None)
        if error is not None:
            where = ".".join(str(p) for p in error.path) or "arguments"
            raise MCPError(INVALID_PARAMS, f"{self.name}: invalid {where}: {error.message}")


def structured(data: dict[str, Any]) -> dict[str, Any]:
    """A structured tool result with the same JSON as text, for clients that ignore structuredContent."""
    return {"content": [{"type": "text", "text": json.dumps(data, indent=1)}], "structuredContent": data}


def rendered(outcome: Any) -> dict[str, Any]:
    """An operation's typed outcome as a tool result: its `data()` as structuredContent, its message as
    text; `isError` when it did not do what was asked."""
    from meta_mcp.operations import outcomes  # already loaded: whatever made `outcome` imported it

    if outcome.ok:
        return structured(outcomes.data(outcome))
    return {**tool_error(outcome.message), "structuredContent": outcomes.data(outcome)}
