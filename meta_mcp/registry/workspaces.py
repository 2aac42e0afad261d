"""Workspaces: one registry (active servers, names, clients to notify) per workspace.

Over stdio there is one workspace, "default". Over HTTP each request names its workspace in a header
(`X-MCP-Workspace` by default, see settings); clients in different workspaces see different active
sets and are notified only of their own workspace's changes. Upstreams are shared through the
`UpstreamPool` when two workspaces add the identical server.

Example:
    workspaces = Workspaces(settings, pool, services, META_TOOLS)
    registry = workspaces.get("team-a")
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from meta_mcp.providers.builtin import BuiltinProvider, MetaTool
from meta_mcp.registry.pool import UpstreamPool
from meta_mcp.registry.registry import Registry
from meta_mcp.settings import Settings

WORKSPACE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DEFAULT = "default"


class Workspaces:
    """Registries by workspace name, created on first use, each with the meta tools."""

    def __init__(self, settings: Settings, pool: UpstreamPool, services: Any, meta_tools: Sequence[MetaTool]) -> None:
        self.settings = settings
        self.pool = pool
        self.services = services
        self._meta_tools = tuple(meta_tools)
        self._registries: dict[str, Registry] = {}

    def __iter__(self):  # noqa: ANN204
        return iter(self._registries.values())

    def get(self, name: str = DEFAULT) -> Registry:
        """The registry of workspace `name` (which must match `WORKSPACE_RE`)."""
        registry = self._registries.get(name)
        if registry is None:
            if not WORKSPACE_RE.match(name):
                raise ValueError(f"invalid workspace name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
            registry = Registry(self.settings, self.pool, workspace=name, services=self.services)
            registry.add_builtin(BuiltinProvider(registry, self._meta_tools))
            self._registries[name] = registry
        return registry

    async def aclose(self) -> None:
        for registry in self._registries.values():
            await registry.aclose()
        await self.pool.aclose()
