"""What a meta tool is: a wire definition plus an async handler, given a `MetaContext`.

Arguments are validated against the tool's `inputSchema` before the handler runs, so every meta tool
rejects bad input the same way: a JSON-RPC `INVALID_PARAMS` error naming the argument.

Example:
    async def hello(ctx: MetaContext, args: dict) -> dict:
        return structured({"greeting": f"hello {args['name']}"})

    HELLO = MetaTool({"name": "hello", "description": "…", "inputSchema": {…}}, hello)
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.providers.base import NO_CONTEXT, CallContext, Provider

if TYPE_CHECKING:
    from meta_mcp.services.catalog import Catalog


class RegistryView(Protocol):
    """What the meta tools need from the registry (this package does not import the registry)."""

    @property
    def servers(self) -> dict[str, Provider]: ...

    @property
    def snapshot(self) -> Any: ...

    workspace: str
    services: Any
    """`meta_mcp.services.Services`: catalog, secrets, state."""

    @property
    def catalog(self) -> Catalog:
        """The merged server catalog (`meta_mcp.services.catalog.Catalog`) for find_servers and add_server."""
        ...

    def prefix_of(self, name: str) -> str: ...

    def exposed_tools_of(self, name: str) -> list[str]: ...

    async def add_server(self, spec: Any) -> Provider: ...

    async def remove_server(self, name: str) -> None: ...

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class MetaContext:
    """One meta-tool call: the registry it acts on and what the caller brought."""

    registry: RegistryView
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


def failure(text: str) -> dict[str, Any]:
    """A tool result reporting a failure the model can act on (`isError: true`)."""
    return {"content": [{"type": "text", "text": text}], "isError": True}
