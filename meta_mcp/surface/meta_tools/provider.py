"""The meta tools' provider: serves them for one workspace, exposed unprefixed with reserved names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.operations.tools import META_SERVER
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import NO_CONTEXT, CallContext, Listing, Provider
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool


class MetaToolsProvider(Provider):
    """The meta tools acting on one workspace; each call validates arguments, then runs the handler."""

    name = META_SERVER
    prefix = ""

    def __init__(self, workspace: Workspace, tools: Iterable[MetaTool]) -> None:
        super().__init__()
        self._workspace = workspace
        self._tools = {tool.name: tool for tool in tools}
        self.listing = Listing(tools=tuple(tool.definition for tool in self._tools.values()))

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]:
        tool = self._tools.get(name)
        if tool is None:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {name!r}")
        args = arguments or {}
        tool.check(args)
        return await tool.handler(MetaContext(self._workspace, call), args)
