"""The meta tools' provider: serves them for one workspace, exposed unprefixed with reserved names.

It also wires the workspace's registry to the state store (pins, pinned definitions, curation: see
`operations.tools.bind_records`) when it is made, and hears what stands behind the meta tools
(`surface_changed`) to keep `find_tools`' description current."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp import MCPError
from mcp_types import INVALID_PARAMS

from meta_mcp.operations.tools import META_SERVER, bind_records
from meta_mcp.operations.workspace import Workspace
from meta_mcp.providers.base import NO_CONTEXT, CallContext, Listing, Provider
from meta_mcp.registry.exposure import SurfaceSummary
from meta_mcp.surface.meta_tools.base import MetaContext, MetaTool
from meta_mcp.surface.meta_tools.tools import find_tools_description


class MetaToolsProvider(Provider):
    """The meta tools acting on one workspace; each call validates arguments, then runs the handler."""

    name = META_SERVER
    prefix = ""

    def __init__(self, workspace: Workspace, tools: Iterable[MetaTool]) -> None:
        super().__init__()
        self._workspace = workspace
        self._tools = {tool.name: tool for tool in tools}
        self.listing = Listing(tools=tuple(tool.definition for tool in self._tools.values()))
        bind_records(workspace)

    def surface_changed(self, summary: SurfaceSummary) -> None:
        """Describe what stands behind find_tools (the registry calls this before each rebuild)."""
        description = find_tools_description(summary)
        self.listing = Listing(tools=tuple(
            {**t, "description": description} if t["name"] == "find_tools" and t.get("description") != description
            else t for t in self.listing.tools))

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, call: CallContext = NO_CONTEXT
                        ) -> dict[str, Any]:
        tool = self._tools.get(name)
        if tool is None:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {name!r}")
        args = arguments or {}
        tool.check(args)
        return await tool.handler(MetaContext(self._workspace, call), args)
